"""How much the figures each chapter prints move when the seed changes: re-run notebooks with every `set_seed(s)` turned
into `set_seed(s + k)` and compare their printed numbers with the stored run (k = 0).

    python tools/seed_spread.py                  # every notebook, shifts 1 and 2 (about 12 min on 2 cores)
    python tools/seed_spread.py 04 05 --shifts 1 2 3
    python tools/seed_spread.py --out docs/seed_spread.md
    python tools/seed_spread.py 00_core --update  # run some chapters again and replace only their sections in the report

Only `set_seed` moves (model initialisation, dropout, the reparameterisation noise, the order of the training batches
where a trainer draws it from the seeded global RNG); data made with an explicit `seed=` argument and the sampling
generators a chapter passes by hand stay the same, so the spread is that of training, not of the data. The stored
notebooks are the k = 0 run, so run `python tools/run_notebooks.py` first if they are not current. `#| slow` and
`#| eval: false` cells are not run. A line is compared when the three runs print it with the same words and only the
numbers differ; lines with times (s, ms, µs, it/s), speeds (GFLOP/s, GB/s, speed-ups) and file sizes are left out: they
measure the machine, not the seed. A check cell
that fails with another seed is reported too: it checks something seed 0 happens to give.
"""
import argparse, json, re, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebooks import NBS, ROOT, RUN, flags, kernel_env, notebooks  # noqa: E402

PATCH = """\
import sys as _sys, t2i_course.core as _core
_orig_set_seed = _core.set_seed
def _shifted_set_seed(seed, _o=_orig_set_seed): return _o((int(seed) + {shift}) % (_core.MAX_SEED + 1))
for _m in list(_sys.modules.values()):
    if getattr(_m, "__name__", "").startswith("t2i_course") and getattr(_m, "set_seed", None) is _orig_set_seed: _m.set_seed = _shifted_set_seed
_core.set_seed = _shifted_set_seed
"""
NUM = re.compile(r"[-+−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
TIME = re.compile(r"\d\s*(?:s|ms|µs|us|min|秒|分钟)\b|it/s|s/it|\d+:\d\d|FLOP|GB/s|bytes|tfevents|\d\.\d+x \|")   # the machine, not the seed


def texts(cell) -> list[str]:
    "The printed lines of a code cell: stdout, results and markdown tables (not stderr: progress bars live there)."
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stdout": t = o["text"]
        elif o.get("output_type") in ("execute_result", "display_data"):
            d = o.get("data", {}); t = d.get("text/markdown") or ("" if "image/png" in d else d.get("text/plain", ""))
        else: continue
        out += ("".join(t) if isinstance(t, list) else t).replace("\r", "\n").splitlines()
    return [l for l in out if l.strip()]


def run_shifted(path: Path, shift: int, cache: str, timeout: int) -> tuple[str, int, dict, list[str], float]:
    "Execute one notebook with the seed shifted; returns its printed lines per code cell (by index) and the errors."
    import nbformat
    from nbclient import NotebookClient
    t0 = time.time()
    nb = nbformat.read(path, as_version=4)
    kernel_env(cache)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(NBS)}})
    lines, errors = {}, []
    with client.setup_kernel():
        client.execute_cell(nbformat.v4.new_code_cell(PATCH.format(shift=shift)), 0)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or flags(cell) & {"skip", "slow"}: continue
            client.execute_cell(cell, i)
            lines[i] = texts(cell)
            errs = [o for o in cell.outputs if o.get("output_type") == "error"]
            if errs: errors.append(f"cell {i} (In [{cell.metadata.get(RUN, '?')}]): {errs[0]['ename']}: {errs[0]['evalue'][:200]}")
    return path.stem, shift, lines, errors, time.time() - t0


def compare(stored: dict, runs: list[dict], label: dict) -> list[str]:
    "Lines whose numbers differ between runs, each number written 'seed-0 value [min–max]'."
    out = []
    for i, base in stored.items():
        others = [r.get(i, []) for r in runs]
        for j, line in enumerate(base):
            if TIME.search(line): continue
            alts = [o[j] for o in others if j < len(o)]
            skel = NUM.sub("#", line)
            if len(alts) != len(runs) or any(NUM.sub("#", a) != skel for a in alts): continue
            cols = [[m.group() for m in NUM.finditer(l)] for l in [line] + alts]
            if all(c == cols[0] for c in cols): continue
            parts, k = [], 0
            for m in NUM.finditer(line):
                vals = [c[k] for c in cols]; k += 1
                if len(set(vals)) == 1: continue
                try: fl = [float(v.replace(",", "").replace("−", "-")) for v in vals]
                except ValueError: continue
                parts.append((m.start(), m.end(), f"{vals[0]} [{min(fl):g}–{max(fl):g}]"))
            if not parts: continue
            s = line
            for a, b, rep in reversed(parts): s = s[:a] + "**" + rep + "**" + s[b:]
            out.append(f"- {label[i]}: {s.strip()[:400]}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebooks (a name or its start); default all")
    ap.add_argument("--shifts", type=int, nargs="+", default=[1, 2], help="seed shifts to run besides the stored run (0)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "seed_spread.md")
    ap.add_argument("--update", action="store_true", help="keep the report's other chapters; replace only the sections of the ones run now")
    a = ap.parse_args()
    paths = notebooks(a.names)
    t0 = time.time()
    results: dict[str, dict[int, tuple]] = {}
    with tempfile.TemporaryDirectory(prefix="t2i-seeds-") as cache, ProcessPoolExecutor(max_workers=a.jobs) as pool:
        futs = [pool.submit(run_shifted, p, k, cache, a.timeout) for p in sorted(paths, key=lambda p: -p.stat().st_size) for k in a.shifts]
        for f in futs:
            name, k, lines, errors, sec = f.result()
            results.setdefault(name, {})[k] = (lines, errors)
            print(f"{name:30s} shift {k}  {sec:5.0f} s  {len(errors)} failed cell(s)", flush=True)
    sections = {}
    doc = [f"# How the printed figures move with the seed\n",
           f"Written by `python tools/seed_spread.py` ({time.strftime('%Y-%m-%d')}, {time.time() - t0:.0f} s): every chapter run with "
           f"`set_seed(s)` shifted by {', '.join(map(str, a.shifts))} and compared with the stored run (shift 0). "
           f"Each varying number is shown as `stored value [min–max over the {len(a.shifts) + 1} runs]`; "
           "data with an explicit seed and hand-made sampling generators stay fixed (see the script's docstring).\n"]
    for p in paths:
        nb = json.loads(p.read_text(encoding="utf-8"))
        stored = {i: texts(c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and not flags(c) & {"skip", "slow"}}
        runs = [results[p.stem][k][0] for k in a.shifts]
        errors = [f"shift {k}: {e}" for k in a.shifts for e in results[p.stem][k][1]]
        label = {i: f"In [{c.get('metadata', {}).get(RUN, '?')}]" for i, c in enumerate(nb["cells"])}
        diffs = compare(stored, runs, label)
        part = [f"\n## {p.stem}\n", *(diffs or ["- no printed figure changed with the seed"])]
        if errors: part += ["", "Cells that failed with a shifted seed:", *[f"- {e}" for e in errors]]
        sections[p.stem] = "\n".join(part)
        doc += part
    if a.update and a.out.is_file():                                   # the other chapters' sections stay as they were
        old = a.out.read_text(encoding="utf-8")
        head, *parts = re.split(r"(?m)^## ", old)
        kept = {x.split(None, 1)[0]: "\n## " + x.rstrip("\n") for x in parts}
        kept.update(sections)
        stamp = f"Sections updated by `python tools/seed_spread.py {' '.join(p.stem for p in paths)} --update` on {time.strftime('%Y-%m-%d')}."
        doc = [head.rstrip("\n") + "\n\n" + stamp + "\n", *[kept[k] for k in sorted(kept)]]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(doc) + "\n", encoding="utf-8")
    print(f"wrote {a.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__": main()
