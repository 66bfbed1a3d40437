"""The latent explorer in a real browser: Voilà serves chapter 11, headless Chromium (driven by Playwright) types a caption
and moves a slider, and the page must show a changed image and no error output; a JupyterLab smoke test runs the whole
chapter and moves a slider too. Every server runs on 127.0.0.1 with its own port and token and is stopped with its kernels.

Needs Debian's chromium at /usr/bin/chromium (`apt-get install -y chromium`) and the `voila` and `playwright` packages
(the dev extra); Playwright's own browser download (`playwright install`) is never used. Without them the test is skipped,
unless T2I_REQUIRE_BROWSER=1 (as in .ci/run), where it fails instead.

The same code takes the screenshot in docs/:  python tests/test_browser.py --run runs/cpu --out docs/latent_explorer.png
"""
import argparse
import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "nbs" / "11_latent_explorer.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SAMPLES = "img.t2i-samples"
ERRORS = ('[data-mime-type="application/vnd.jupyter.stderr"]', '[data-mime-type="application/vnd.jupyter.error"]',
          ".jp-OutputArea-output.jp-mod-error")


def missing(modules=("voila", "playwright")) -> list[str]:
    "What this machine lacks for the browser tests."
    why = [f"{CHROMIUM} (apt-get install -y chromium)"] if not Path(CHROMIUM).exists() else []
    return why + [f"{m} (pip install {m})" for m in modules if importlib.util.find_spec(m) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> dict[int, str]:
    "The processes below `pid` (its kernels), with their command lines."
    procs = {}
    for p in Path("/proc").glob("[0-9]*"):
        try: procs[int(p.name)] = (int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]), (p / "cmdline").read_bytes())
        except (OSError, ValueError, IndexError): continue
    out, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, cmd) in procs.items():
            if ppid == parent and child not in out: out[child] = cmd; todo.append(child)
    return out


def _stop(pids: dict[int, bytes], grace: float = 5.0):
    "Wait up to `grace` seconds for these processes to exit, then kill those still running the same command."
    deadline = time.time() + grace
    for pid, cmd in pids.items():
        while True:
            try: alive = Path(f"/proc/{pid}/cmdline").read_bytes() == cmd
            except OSError: alive = False
            if not alive: break
            if time.time() > deadline:
                try: os.kill(pid, 9)
                except ProcessLookupError: pass
                break
            time.sleep(0.1)


@contextmanager
def _server(args: list[str], run_dir, home: Path, port: int, cwd: Path, timeout: float = 60.0):
    "Run `python -m args` with per-user folders in `home` and the run in T2I_EXPLORER_RUN until it listens on `port`; stop it and its kernels at the end."
    dirs = {v: home / v.lower() for v in ("IPYTHONDIR", "MPLCONFIGDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR")}
    for d in dirs.values(): d.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, "T2I_EXPLORER_RUN": str(Path(run_dir).resolve()),
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONUTF8": "1"}
    log_path = home / f"{args[0]}.log"
    log = open(log_path, "w", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None: raise RuntimeError(f"{args[0]} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline: raise RuntimeError(f"{args[0]} did not listen on port {port} within {timeout:.0f} s")
                time.sleep(0.2)
        yield
    finally:
        kernels = _descendants(proc.pid)                             # the server shuts its kernels down on SIGTERM; any left are killed
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill(); proc.wait(5)
        _stop(kernels)
        log.close()


@contextmanager
def voila_server(run_dir, home: Path, timeout: float = 60.0):
    "Serve chapter 11 with Voilà on 127.0.0.1 (own port and token); yields the page's URL; stops every process it started."
    port, token = free_port(), secrets.token_hex(16)
    args = ["voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", f"--token={token}",
            "--Voila.tornado_settings=disable_check_xsrf=True", "--show_tracebacks=True", str(CHAPTER)]   # show stderr and errors, not hide them
    with _server(args, run_dir, home, port, ROOT, timeout):
        yield f"http://127.0.0.1:{port}/?token={token}"


@contextmanager
def lab_server(run_dir, home: Path, timeout: float = 60.0):
    "Serve a copy of chapter 11 with JupyterLab on 127.0.0.1 (own port and token; the copy, so nothing is saved into nbs/); yields its URL."
    root = home / "lab"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CHAPTER, root / CHAPTER.name)
    port, token = free_port(), secrets.token_hex(16)
    args = ["jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=True"]
    with _server(args, run_dir, home, port, root, timeout):
        yield f"http://127.0.0.1:{port}/lab/tree/{CHAPTER.name}?token={token}"


@contextmanager
def chromium_page(width: int = 1280, height: int = 1000):
    "A page in headless Debian Chromium; left on about:blank (so Voilà shuts its kernel down) and closed at the end."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.page_errors = []
            page.on("pageerror", lambda e: page.page_errors.append(str(e)))
            try: yield page
            finally:
                try: page.goto("about:blank", timeout=10_000)
                except Exception: pass
        finally:
            browser.close()


def wait_for_new_image(page, old_src: str, what: str, timeout: float = 15_000) -> str:
    "Wait until the samples image shows a picture other than `old_src` and stops changing; returns its src."
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        page.wait_for_function("""s => { const i = document.querySelector('img.t2i-samples');
                                         return i && i.src !== s && i.complete && i.naturalWidth > 0; }""", arg=old_src, timeout=timeout)
    except PlaywrightTimeout:
        pytest.fail(f"{what} sent no new picture within {timeout / 1000:.0f} s; page errors: {error_outputs(page)}")
    src = None
    while src != (now := page.get_attribute(SAMPLES, "src")):           # settled: the same src twice, 300 ms apart
        src = now
        page.wait_for_timeout(300)
    page.wait_for_function("() => { const i = document.querySelector('img.t2i-samples'); return i.complete && i.naturalWidth > 0; }")
    return src


def slider_round_trips(page, handle, presses: int, pause_ms: int = 100) -> list[float]:
    "Milliseconds from a key press on a slider handle to the new picture loaded in the page (performance.now), presses `pause_ms` apart."
    page.evaluate("""() => {
        const h = document.querySelector('.t2i-sliders .widget-slider .noUi-handle'), img = document.querySelector('img.t2i-samples');
        window.__t2i = {t0: null, ms: []};
        h.addEventListener('keydown', () => { window.__t2i.t0 = performance.now(); }, true);
        img.addEventListener('load', () => { const s = window.__t2i; if (s.t0 !== null) { s.ms.push(performance.now() - s.t0); s.t0 = null; } });
    }""")
    for k in range(presses):
        handle.press("ArrowRight")
        page.wait_for_function("k => window.__t2i.ms.length > k", arg=k, timeout=10_000)
        page.wait_for_timeout(pause_ms)
    return page.evaluate("() => window.__t2i.ms")


def open_explorer(page, url: str, timeout: float = 90_000):
    "Open the chapter and wait until the kernel has run it and the app's widgets are on the page."
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    page.locator(".t2i-sliders .widget-slider").first.wait_for(state="visible", timeout=timeout)
    page.wait_for_function("() => { const i = document.querySelector('img.t2i-samples'); return i && i.complete && i.naturalWidth > 0; }",
                           timeout=timeout)


def error_outputs(page) -> list[str]:
    "Texts of error and stderr outputs on the page, and of Voilà's own error messages."
    found = [page.locator(sel).nth(i).text_content() or sel for sel in ERRORS for i in range(page.locator(sel).count())]
    body = page.locator("body").inner_text()
    return found + [w for w in ("Traceback", "There was an error when executing cell") if w in body]


# ---- the test ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    "An untrained tiny run: the test must not depend on runs/cpu, and it renders in milliseconds."
    from test_widgets import tiny_run as make
    return make(tmp_path_factory.mktemp("runs") / "tiny")


def require_browser(modules=("voila", "playwright")):
    "Skip (or, with T2I_REQUIRE_BROWSER=1 as in .ci/run, fail) when Chromium or one of `modules` is missing."
    lacking = missing(modules)
    if lacking:
        msg = "the browser test needs " + ", ".join(lacking)
        if os.environ.get("T2I_REQUIRE_BROWSER") == "1": pytest.fail(msg + " (T2I_REQUIRE_BROWSER=1)")
        pytest.skip(msg)


def move_slider(page, src: str, presses: int = 5) -> str:
    "Press ArrowRight `presses` times on the first slider (steps of 0.1) and wait for the new picture; returns its src."
    handle = page.locator(".t2i-sliders .widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(presses): handle.press("ArrowRight")
    page.locator(".t2i-sliders .widget-readout").first.filter(has_text=f"{presses / 10:.2f}").wait_for(timeout=10_000)
    return wait_for_new_image(page, src, "moving a slider")


def upload_recording(page, wav, said: str) -> str:
    "Speak `said` (chapter 13's synthesiser) into the file `wav`, upload it with the app's audio button, wait until the caption heard fills box A."
    import soundfile as sf
    from t2i_course.speech import SAMPLE_RATE, synthesize
    sf.write(wav, synthesize(said, variant="f5")[0], SAMPLE_RATE)
    src = page.get_attribute(SAMPLES, "src")
    with page.expect_file_chooser() as chooser: page.locator(".t2i-explorer .t2i-upload").click()   # its <input type=file> exists only on click
    chooser.value.set_files(str(wav))
    page.locator(".t2i-explorer .t2i-heard", has_text=said).wait_for(timeout=30_000)
    assert page.locator(".t2i-explorer audio").count() == 1, "no player for the recording"
    return wait_for_new_image(page, src, "uploading a recording")


def test_explorer_in_a_real_browser(tiny_run, tmp_path):
    require_browser()
    t0 = time.time()
    with voila_server(tiny_run, tmp_path / "home") as url, chromium_page() as page:
        open_explorer(page, url)
        samples = page.locator(SAMPLES)
        src, shots = page.get_attribute(SAMPLES, "src"), [samples.screenshot()]

        box = page.locator(".t2i-caption input")
        box.fill("a small blue cube at the top left")
        box.press("Enter")
        src = wait_for_new_image(page, src, "typing a caption")
        shots.append(samples.screenshot())
        assert shots[1] != shots[0], "typing a caption did not change the image"
        assert "（大小、颜色、形状、位置、个数）" in page.locator(".t2i-explorer .t2i-reading").first.inner_text()

        src = move_slider(page, src)
        shots.append(samples.screenshot())
        assert shots[2] != shots[1], "moving a slider did not change the image"
        round_trips = slider_round_trips(page, page.locator(".t2i-sliders .widget-slider .noUi-handle").first, 8)

        src = upload_recording(page, tmp_path / "spoken.wav", "a yellow cube on the left")   # speech: the caption heard fills box A
        assert box.input_value() == "a yellow cube on the left"

        box.fill("一个粉色的球体")                                     # bad input shows up in the message line, not as an error
        box.press("Enter")
        page.locator(".t2i-explorer .t2i-message", has_text="粉色").wait_for(timeout=10_000)

        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=False)
        assert error_outputs(page) == [], error_outputs(page)
        assert page.page_errors == [], page.page_errors
    print(f"browser test: {time.time() - t0:.1f} s; slider key press to new picture: median {sorted(round_trips)[len(round_trips) // 2]:.0f} ms, "
          f"max {max(round_trips):.0f} ms; screenshot {tmp_path / 'explorer.png'}")


def test_explorer_in_jupyterlab(tiny_run, tmp_path):
    "Smoke test: JupyterLab runs the whole chapter without an error, and a slider move changes the app's picture."
    require_browser(("jupyterlab", "playwright"))
    t0 = time.time()
    with lab_server(tiny_run, tmp_path / "home") as url, chromium_page() as page:
        page.goto(url, wait_until="domcontentloaded", timeout=60_000)
        page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.sessionContext", timeout=60_000)
        page.evaluate("""async () => {                                  // waiting for the idle indicator alone races
            const nb = window.jupyterapp.shell.currentWidget;
            await nb.context.ready; await nb.sessionContext.ready; await nb.sessionContext.session.kernel.info;
        }""")
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        done = """() => { const nb = window.jupyterapp.shell.currentWidget;
                          const code = nb.content.widgets.filter(c => c.model.type === 'code');
                          return nb.sessionContext.session.kernel.status === 'idle' && code.every(c => c.model.executionCount !== null); }"""
        try: page.wait_for_function(done, timeout=90_000, polling=250)
        except Exception: pytest.fail(f"JupyterLab did not run every cell of the chapter; error outputs: {error_outputs(page)}")
        assert error_outputs(page) == [], error_outputs(page)
        page.locator(SAMPLES).scroll_into_view_if_needed()
        page.wait_for_function("() => { const i = document.querySelector('img.t2i-samples'); return i && i.complete && i.naturalWidth > 0; }")
        before = page.locator(SAMPLES).screenshot()
        move_slider(page, page.get_attribute(SAMPLES, "src"))
        assert page.locator(SAMPLES).screenshot() != before, "moving a slider did not change the image"
        assert error_outputs(page) == [] and page.page_errors == [], (error_outputs(page), page.page_errors)
    print(f"JupyterLab test: {time.time() - t0:.1f} s")


# ---- the screenshot in docs/ ---------------------------------------------------------------

def screenshot(run_dir, out, caption: str = "一个大的红色金属球体", slider: int = 3, said: str | None = None):
    """Open the app on `run_dir` in Voilà, type `caption` (or, with `said`, upload a recording of it), move slider 1 by `slider` steps,
    and save the app as a small PNG."""
    from PIL import Image
    with tempfile.TemporaryDirectory() as home, voila_server(run_dir, Path(home)) as url, chromium_page(1100, 1000) as page:
        open_explorer(page, url)
        src = page.get_attribute(SAMPLES, "src")
        box = page.locator(".t2i-caption input")
        if said: src = upload_recording(page, Path(home) / "said.wav", said)
        else:
            box.fill(caption); box.press("Enter")
            src = wait_for_new_image(page, src, "typing a caption")
        move_slider(page, src, slider)
        app = page.locator(".t2i-explorer")
        app.scroll_into_view_if_needed()
        png = Path(out)
        app.screenshot(path=str(png))
        Image.open(png).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)
        print(f"{png}: {png.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="Take the latent explorer's screenshot from a real Voilà page.")
    ap.add_argument("--run", default=str(ROOT / "runs" / "cpu"), help="run folder to explore")
    ap.add_argument("--out", default=str(ROOT / "docs" / "latent_explorer.png"))
    ap.add_argument("--said", help="upload a recording of this caption (chapter 13's synthesiser) instead of typing one")
    a = ap.parse_args()
    screenshot(a.run, a.out, said=a.said)
