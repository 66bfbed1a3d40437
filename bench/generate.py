"""Generation latency on this machine's CPU: 8 images from one caption with a loaded run (`TextToImage.generate`).

    python bench/generate.py [--run runs/cpu] [--repeats 50] [--threads 1]

Without a run folder it times an untrained model of the cpu preset's size (same architecture, same cost).
Prints the median and best latency and writes bench/results/generate.json. Not a test: nothing is asserted.
"""
import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/cpu", help="run folder (default runs/cpu)")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "generate.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from t2i_course.pipeline import TextToImage, save_run
    run, tmp = Path(args.run), None
    if not (run / "model.safetensors").is_file():
        from t2i_course.data import make_dataset
        from t2i_course.text import Vocab
        from t2i_course.train import build_model, preset
        tmp = tempfile.TemporaryDirectory()
        vocab = Vocab.build(make_dataset(2000, seed=0).captions)
        run = save_run(Path(tmp.name) / "untrained-cpu", build_model(preset("cpu"), vocab, aux=True).eval(), vocab)
        print(f"no run at {args.run}: timing an untrained model of the cpu preset's size")
    t = time.perf_counter()
    t2i = TextToImage.load(run, device="cpu")
    load_s = time.perf_counter() - t
    caption = "一个大的红色金属球体在左上方"
    for _ in range(5): t2i.generate([caption], n=8, seed=0)                 # warm-up
    times = []
    for k in range(args.repeats):
        t = time.perf_counter(); x = t2i.generate([caption], n=8, seed=k); times.append(time.perf_counter() - t)
    res = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__, "threads": args.threads, "run": str(args.run if tmp is None else "untrained cpu-size model"),
           "image_size": t2i.image_size, "images": int(x.shape[0]), "load_s": round(load_s, 3),
           "median_ms": round(1000 * statistics.median(times), 2), "best_ms": round(1000 * min(times), 2)}
    for k, v in res.items(): print(f"{k:11s} {v}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    if tmp is not None: tmp.cleanup()


if __name__ == "__main__":
    main()
