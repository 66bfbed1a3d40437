"""Store the course's notebooks executed: run each top to bottom in a fresh kernel, keep the outputs, clean the rest.

    python tools/run_notebooks.py                 # every notebook in nbs/, two at a time (about 10-15 min on 2 cores)
    python tools/run_notebooks.py 05_vae 07       # some of them (a name, or the start of one)
    python tools/run_notebooks.py --slow 07       # also run the `#| slow` cells and store their output with when and where they ran
    python tools/run_notebooks.py --clean         # only clean (what nbdev_clean does)
    python tools/run_notebooks.py --check         # CI: every notebook executed top to bottom, clean, <= 1 MB; prints sizes and figure counts

Each kernel is single-threaded (OMP_NUM_THREADS=1) and starts in nbs/ with a fresh data cache, so a run is repeatable.
`#| eval: false` cells never run. `#| slow` cells run only with --slow; otherwise they keep the output of their last real run
(a line at its top says when and on what machine it ran), or, if they never had one, a line saying how to run them.
nbdev_clean (which CI checks changes nothing) sets every execution count to None, so the order a cell ran in is kept
in its metadata instead, `t2i_run` (settings.ini lets it through nbdev_clean); the book shows it as "In [n]".
Stored PNG outputs are re-encoded with an adaptive 256-colour palette when that is smaller (about 4x for these figures), so a
notebook stays under 1 MB; a live kernel shows the full-colour figure.
"""
import argparse, copy, json, os, platform, re, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
MAX_BYTES = 1_000_000
RUN = "t2i_run"                 # cell metadata: the execution count a cell had when this tool ran the notebook
SLOW_STAMP = "last real run of this slow cell:"
NOT_RUN = "slow cell: no stored output yet; `python tools/run_notebooks.py --slow {name}` runs it and stores it here"


def flags(cell) -> set[str]:
    "The nbdev directives of a code cell that matter here: 'slow', 'skip' (eval: false)."
    out = set()
    for line in "".join(cell["source"]).splitlines():
        m = re.match(r"#\|\s*(.*)", line)
        if not m: break
        d = m.group(1).strip()
        if d == "slow": out.add("slow")
        if re.fullmatch(r"eval:\s*false", d): out.add("skip")
    return out


def notebooks(names) -> list[Path]:
    every = sorted(NBS.glob("*.ipynb"))
    if not names: return every
    picked = [p for p in every if any(p.stem == n or p.stem.startswith(n) for n in names)]
    missing = [n for n in names if not any(p.stem == n or p.stem.startswith(n) for p in every)]
    if missing: sys.exit(f"no notebook in nbs/ matches {missing[0]!r}; names are like 05_vae or 05")
    return picked


def clean(nb: dict) -> dict:
    "nbdev_clean's cleaning with this repo's settings (execution counts become None; `t2i_run` metadata stays)."
    from nbdev.clean import clean_nb
    from nbdev.config import get_config
    cfg = get_config(path=NBS)
    clean_nb(nb, cfg.clear_all, cfg.get("allowed_metadata_keys").split(), cfg.get("allowed_cell_metadata_keys").split(), cfg.clean_ids)
    return nb


def dumps(nb: dict) -> str: return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"): cpu = line.split(":", 1)[1].strip(); break
    except OSError: pass
    import torch
    return f"{cpu}, {os.cpu_count()} cores, OMP_NUM_THREADS=1, torch {torch.__version__}, Python {platform.python_version()}"


def stream(text: str) -> dict: return {"name": "stdout", "output_type": "stream", "text": [text + "\n"]}


def small_png(b64: str) -> str:
    "A PNG (base64) re-encoded with an adaptive 256-colour palette, if that is smaller; otherwise unchanged."
    import base64, io
    from PIL import Image
    raw = base64.b64decode(b64)
    with Image.open(io.BytesIO(raw)) as im:
        if im.mode == "P": return b64
        q = im.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buf = io.BytesIO(); q.save(buf, "PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode() + "\n" if len(buf.getvalue()) < len(raw) else b64


def kernel_env(cache: str):
    "The environment every notebook kernel starts in: one thread, a fixed hash seed, a fresh data cache, inline figures."
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", T2I_COURSE_CACHE=cache,
                      MPLBACKEND="module://matplotlib_inline.backend_inline", TQDM_DISABLE="0")


def run(path: Path, slow: bool, cache: str, timeout: int) -> tuple[str, float, str]:
    "Execute one notebook and write it back; returns (name, seconds, error or '')."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    t0 = time.time()
    nb = nbformat.read(path, as_version=4)
    kernel_env(cache)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NBS)}})
    where = machine() if slow else ""
    try:
        with client.setup_kernel():
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code": continue
                f = flags(cell)
                if "skip" in f or ("slow" in f and not slow):
                    cell.metadata.pop(RUN, None)                                     # not run this time
                    if "slow" in f and not cell.get("outputs"): cell.outputs = [nbformat.from_dict(stream(NOT_RUN.format(name=path.stem)))]
                    continue
                c0 = time.time()
                client.execute_cell(cell, i)
                cell.metadata[RUN] = cell.execution_count                            # kept through nbdev_clean
                if "slow" in f:
                    stamp = f"{SLOW_STAMP} {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {time.time() - c0:.0f} s, {where}"
                    cell.outputs.insert(0, nbformat.from_dict(stream(stamp)))
    except CellExecutionError as e:
        return path.stem, time.time() - t0, str(e).strip().splitlines()[-1][:300]
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if "image/png" in o.get("data", {}): o.data["image/png"] = small_png(o.data["image/png"])
    text = dumps(clean(json.loads(nbformat.writes(nb))))
    path.write_text(text, encoding="utf-8")
    return path.stem, time.time() - t0, ""


def problems(path: Path) -> list[str]:
    "Why this stored notebook is not 'executed top to bottom, clean, <= 1 MB' (an empty list when it is)."
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    out, expect = [], 1
    if len(text.encode()) > MAX_BYTES: out.append(f"{len(text.encode()):,} bytes, over the {MAX_BYTES:,} limit")
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code": continue
        f, n = flags(c), c.get("metadata", {}).get(RUN)
        if "skip" in f or ("slow" in f and n is None): continue              # a slow cell not run this time keeps its last run
        if n is None: out.append(f"code cell {i} has no execution count (not executed)"); break
        if n != expect: out.append(f"code cell {i} has execution count {n}, expected {expect} (not executed top to bottom)"); break
        expect += 1
    if dumps(clean(copy.deepcopy(nb))) != text: out.append("not clean")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebooks to run (a name or its start, e.g. 05_vae or 05); default all")
    ap.add_argument("--slow", action="store_true", help="also run the #| slow cells and stamp their output")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks run at once (one thread each)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds a cell may run")
    ap.add_argument("--clean", action="store_true", help="only clean, as nbdev_clean does (outputs and the run order kept)")
    ap.add_argument("--check", action="store_true", help="only check: executed top to bottom, clean, each <= 1 MB")
    a = ap.parse_args()
    paths = notebooks(a.names)
    if a.check:
        bad, total = 0, 0
        for p in paths:
            size = p.stat().st_size; total += size
            why = problems(p); bad += bool(why)
            figures = sum("image/png" in o.get("data", {}) for c in json.loads(p.read_text(encoding="utf-8"))["cells"] for o in c.get("outputs", []))
            print(f"{p.name:34s} {size / 1e3:8.1f} kB  {figures:3d} figures  {'; '.join(why) if why else 'ok'}")
        print(f"{len(paths)} notebooks, {total / 1e6:.2f} MB in all")
        if bad: sys.exit(f"{bad} notebook(s) are not stored executed and clean: run python tools/run_notebooks.py NAME and commit")
        return
    if a.clean:
        for p in paths:
            text = p.read_text(encoding="utf-8")
            new = dumps(clean(json.loads(text)))
            if new != text: p.write_text(new, encoding="utf-8"); print("cleaned", p.name)
        return
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="t2i-nbs-") as cache, ProcessPoolExecutor(max_workers=a.jobs) as pool:
        futs = [pool.submit(run, p, a.slow, cache, a.timeout) for p in sorted(paths, key=lambda p: -p.stat().st_size)]
        failed = []
        for f in futs:
            name, sec, err = f.result()
            print(f"{name:30s} {sec:6.0f} s  {'FAILED: ' + err if err else 'stored'}", flush=True)
            if err: failed.append(name)
    print(f"{len(paths)} notebooks in {time.time() - t0:.0f} s")
    if failed: sys.exit(f"failed: {', '.join(failed)} (not written)")


if __name__ == "__main__": main()
