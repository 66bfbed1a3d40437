"""The offline HTML book: `python tools/build_book.py` builds _docs/, and every page opens in headless Chromium with every
request that leaves 127.0.0.1 blocked: no request fails, every image loads, the math is typeset (no raw `$$` left), and the
navigation links reach pages of the site. Skipped like tests/test_browser.py when Chromium or Playwright is missing.
"""
import functools
import http.server
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from test_browser import chromium_page, free_port, require_browser

ROOT = Path(__file__).resolve().parents[1]
PROSE = """() => Array.from(document.querySelectorAll('.jp-MarkdownOutput')).map(e => {
    const c = e.cloneNode(true); c.querySelectorAll('code, pre, script, .MathJax, .MathJax_Display, .MathJax_Preview').forEach(x => x.remove());
    return c.textContent; }).join('\\n')"""


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    "Build the book into a copy of the site folder and serve it on 127.0.0.1; yields (base url, folder)."
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    site = ROOT / "_docs"
    port = free_port()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try: yield f"http://127.0.0.1:{port}", site
    finally: server.shutdown()


def test_the_book_has_a_page_per_notebook_and_nothing_that_loads_from_outside(book):
    base, site = book
    pages = sorted(p.stem for p in site.glob("*.html"))
    assert pages == sorted(p.stem for p in (ROOT / "nbs").glob("*.ipynb"))
    for p in site.glob("*.html"):
        text = p.read_text(encoding="utf-8")
        assert not re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//', text), p.name   # no script, style or image from a server
        assert "static/mathjax/MathJax.js" in text and 'href="index.html"' in text


def test_every_page_in_a_browser_offline(book):
    require_browser(("playwright",))
    base, site = book
    names = ["index"] + sorted(p.stem for p in site.glob("*.html") if p.stem != "index")
    failed, outside, n_math = [], [], 0
    with chromium_page() as page:
        def route(r):
            if r.request.url.startswith(base) or r.request.url.startswith("data:"): r.continue_()
            else: outside.append(r.request.url); r.abort()
        page.route("**/*", route)
        def on_failed(r):
            if r.url.startswith(("about:", "data:")): return
            path = site / r.url[len(base):].split("?")[0].lstrip("/")
            if r.failure == "net::ERR_ABORTED" and r.url.startswith(base) and path.is_file(): return   # cut short by leaving the page
            failed.append(f"{r.url} {r.failure}")
        page.on("requestfailed", on_failed)
        page.on("response", lambda r: failed.append(f"{r.url} {r.status}") if r.status >= 400 else None)
        for name in names:
            page.goto(f"{base}/{name}.html", wait_until="load", timeout=60_000)
            page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0",
                                   timeout=60_000)
            page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=30_000)
            page.evaluate("() => document.fonts.ready.then(() => true)")
            page.wait_for_load_state("networkidle")
            broken = page.evaluate("() => Array.from(document.images).filter(i => !(i.naturalWidth > 0)).map(i => i.src.slice(0, 80))")
            assert broken == [], (name, broken)
            prose = page.evaluate(PROSE)                                   # the text a reader sees, code left out
            raw = re.findall(r"\$\$|\$[^$\n]+\$", prose)
            assert raw == [], (name, raw[:3])                              # every $...$ and $$...$$ became typeset math
            typeset = page.locator(".MathJax, .MathJax_Display").count()
            tex = page.evaluate("() => document.querySelectorAll('script[type^=\"math/tex\"]').length")
            assert typeset >= tex, (name, typeset, tex)
            n_math += tex
            links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")
            local = {h.split("#")[0] for h in links if h.endswith(".html") or ".html#" in h}
            missing = [h for h in local if not h.startswith("http") and not (site / h).is_file()]
            assert missing == [], (name, missing)
            nav = page.locator("nav.t2i.top a").all_inner_texts()
            assert nav and any("→" in t for t in nav) or name == names[-1], (name, nav)
        page.goto(f"{base}/05_vae.html"); page.locator("nav.t2i.top a", has_text="→").first.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("06_discriminator.html")                     # "next" goes to the next chapter
    assert failed == [] and outside == [], (sorted(set(failed))[:12], outside[:5])
    assert n_math > 100                                                     # the course has a lot of math, and it was typeset


def test_the_bundled_font_draws_every_chinese_character_the_course_writes():
    "No tofu: the figures, the diagrams and the book draw 中文 with t2i_course/assets/t2i-cjk.otf (tools/make_font.py)."
    from matplotlib import ft2font
    have = set(ft2font.FT2Font(str(ROOT / "t2i_course" / "assets" / "t2i-cjk.otf")).get_charmap())
    files = [*ROOT.glob("nbs/*.ipynb"), *ROOT.glob("tools/diagrams/*.py"), ROOT / "README.md", ROOT / "data" / "README.md"]
    used = {ch for f in files for ch in f.read_text(encoding="utf-8") if 0x4E00 <= ord(ch) <= 0x9FFF or 0x3000 <= ord(ch) <= 0x303F}
    assert sorted(ch for ch in used if ord(ch) not in have) == []
