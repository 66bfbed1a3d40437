"""Latency of the latent explorer's slider path on the CPU: decode the grid, let the judge read it, encode the PNG.

    OMP_NUM_THREADS=1 python bench/explorer_latency.py [--run runs/cpu] [--moves 300]

Prints the median and 95th percentile of a whole slider update (`LatentExplorer.set_slider`, what a browser's slider
move runs in the kernel) and of its three parts, with one torch thread, and writes bench/results/explorer_latency.json.
The bar is 50 ms per update. Not a test: nothing is asserted.
"""
import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from t2i_course.evaluate import fit_images
from t2i_course.pipeline import TextToImage
from t2i_course.widgets import LatentExplorer, decode, grid_png


def stats(ms) -> str:
    ms = np.asarray(ms)
    return f"median {np.median(ms):6.2f} ms   p95 {np.percentile(ms, 95):6.2f} ms   max {ms.max():6.2f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=str(Path(__file__).resolve().parents[1] / "runs" / "cpu"))
    ap.add_argument("--moves", type=int, default=300)
    ap.add_argument("--caption", default="一个红色的球体")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "explorer_latency.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    t2i = TextToImage.load(a.run, device="cpu")
    t0 = time.perf_counter()
    app = LatentExplorer(t2i, a.caption)
    print(f"{t2i}; app built in {time.perf_counter() - t0:.2f} s; {app.n} samples per grid, {app.k} sliders")
    print(f"torch {torch.__version__}, 1 thread, {platform.processor() or platform.machine()}")
    values = np.random.default_rng(0).uniform(-3, 3, a.moves)
    for k, v in enumerate(values[:20]): app.set_slider(k % app.k, float(v))   # warm-up
    wall = []
    for k, v in enumerate(values):
        t = time.perf_counter()
        app.set_slider(k % app.k, float(v))
        wall.append(1000 * (time.perf_counter() - t))
    parts = {"decode": [], "judge": [], "png": []}
    z, tv = app.view.latents(), app.view.t
    for _ in range(a.moves):
        t = time.perf_counter(); imgs = decode(t2i, z, tv); parts["decode"].append(1000 * (time.perf_counter() - t))
        t = time.perf_counter(); app.judge.read(fit_images(imgs)); parts["judge"].append(1000 * (time.perf_counter() - t))
        t = time.perf_counter(); grid_png(imgs); parts["png"].append(1000 * (time.perf_counter() - t))
    print(f"slider update ({a.moves} moves, set_slider): {stats(wall)}")
    for name, ms in parts.items(): print(f"  {name:6s}                               {stats(ms)}")
    pct = lambda ms, q: round(float(np.percentile(ms, q)), 2)
    result = {"run": str(a.run), "caption": a.caption, "moves": a.moves, "threads": 1, "torch": torch.__version__,
              "machine": platform.machine(), "slider_update_ms": {"median": pct(wall, 50), "p95": pct(wall, 95)},
              **{f"{k}_ms": {"median": pct(v, 50), "p95": pct(v, 95)} for k, v in parts.items()}}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
