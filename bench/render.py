"""Sampling + rendering throughput of the world (images/s), on this machine's CPU (and a GPU if one exists).

    python bench/render.py [--n 20000] [--repeats 3]

Prints one line per configuration and writes bench/results/render.json. Not a test: nothing is asserted.
"""
import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from t2i_course.data import caption, render, sample_scenes


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "render.json"))
    a = ap.parse_args()
    rows = []
    print(f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}")
    for n_objects in (1, 2):
        for size in (64, 32):
            n = a.n if n_objects == 1 else a.n // 4
            best, med = best_of(lambda: render(sample_scenes(n, n_objects=n_objects, seed=1), size), a.repeats)
            t_s, _ = best_of(lambda: sample_scenes(n, n_objects=n_objects, seed=1), 1)
            rows.append(dict(what="sample+render", n_objects=n_objects, size=size, n=n, best_s=best, median_s=med,
                             img_per_s=n / best, img_per_s_median=n / med, sample_only_s=t_s))
            print(f"sample+render  objects={n_objects}  {size}x{size}  n={n:6d}  {n / best:9,.0f} img/s (best of {a.repeats}; median {n / med:,.0f})")
    scenes = sample_scenes(a.n // 2, seed=2)
    for lang in ("zh", "en"):
        best, _ = best_of(lambda: [caption(s, lang, seed=i) for i, s in enumerate(scenes)], a.repeats)
        rows.append(dict(what="caption", lang=lang, n=len(scenes), best_s=best, captions_per_s=len(scenes) / best))
        print(f"caption        lang={lang}  n={len(scenes)}  {len(scenes) / best:9,.0f} captions/s")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"machine": platform.platform(), "cores": os.cpu_count(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
