"""Train the evaluation models that ship inside the package (t2i_course/assets/eval/).

    python tools/train_eval_models.py            # the one- and two-object judges, the counting judge and the dual encoder, about 10 minutes on one CPU thread
    python tools/train_eval_models.py --check    # load each shipped model and measure it on fresh renders

Each model is trained by chapter 10's code with its fixed recipe and seed (`RECIPES`, `DUAL_RECIPE`) and saved as
safetensors + JSON under a folder named by the hash of its config and recipe, which is where `load_or_train_judge`
and `load_or_train_dual` look first.
"""
import argparse
import shutil
import sys
import time

import torch

from t2i_course.evaluate import (EVAL_SIZE, judge_accuracy, judge_data, load_or_train_dual, load_or_train_judge, r_precision,
                                 shipped_models_dir)
from t2i_course.data import make_dataset


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only load the shipped models and measure them")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = shipped_models_dir()
    if not args.check:
        out.mkdir(parents=True, exist_ok=True)
        for n_obj in (1, 2, 0):
            t = time.time()
            load_or_train_judge(EVAL_SIZE, n_obj, cache=out)
            print(f"judge, {n_obj or 'counting'} object(s): {time.time() - t:.0f} s", flush=True)
        t = time.time()
        load_or_train_dual(EVAL_SIZE, cache=out)
        print(f"dual encoder: {time.time() - t:.0f} s", flush=True)
        for p in out.iterdir():                      # leftovers of an interrupted write
            if p.name.startswith("."): shutil.rmtree(p, ignore_errors=True)
    for n_obj in (1, 2, 0):
        j = load_or_train_judge(EVAL_SIZE, n_obj)
        acc = judge_accuracy(j, *judge_data(4000, image_size=EVAL_SIZE, n_objects=n_obj, seed=70_000))
        print(f"shipped judge, {n_obj or '1-3 (counting)'} object(s), 4000 fresh renders: " + ", ".join(f"{k} {v:.4f}" for k, v in acc.items()))
    dual, vocab = load_or_train_dual(EVAL_SIZE)
    ds = make_dataset(1000, size=EVAL_SIZE, split="test", seed=70_000)
    print(f"shipped dual encoder, R-precision on 1000 real test renders: {r_precision(dual, vocab, ds.images, ds.captions, scenes=ds.scenes, slots=ds.slots):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
