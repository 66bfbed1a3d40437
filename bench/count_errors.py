"""How often a run draws the wrong number of objects, read by chapter 10's counting judge: per caption of a grid (the images
`t2i-course generate --n N` draws, same seed), and over in-distribution captions split by whether the caption names the position.

    python bench/count_errors.py runs/cpu [--n 8] [--captions 1000] [CAPTION ...]   # default captions: the README grid's six
"""
import argparse

import numpy as np

from t2i_course.evaluate import EVAL_SIZE, caption_sets, fit_images, load_or_train_judge
from t2i_course.pipeline import TextToImage

README_GRID = ("一个红色的球体", "a blue cube", "一个红色的立方体", "a blue sphere", "一个红色的球体在一个蓝色的立方体的左边",
               "a green cylinder above a yellow cube")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("text", nargs="*", help="grid captions (default: the README grid's six)")
    ap.add_argument("--n", type=int, default=8, help="images per grid caption, as `generate --n` (default 8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--captions", type=int, default=1000, help="in-distribution captions for the position split (default 1000)")
    args = ap.parse_args(argv)
    t2i, counter = TextToImage.load(args.run, device="cpu"), load_or_train_judge(EVAL_SIZE, 0, show_progress=False)
    count = lambda images: [r["count"] for r in counter.read(fit_images(images))]
    texts = args.text or list(README_GRID)
    read = count(t2i.generate(texts, n=args.n, seed=args.seed))
    print(f"{args.run} (temperature {t2i.temperature:g}), {args.n} images per caption, seed {args.seed}: objects the counting judge reads")
    for i, text in enumerate(texts): print(f"  {text}: {read[i * args.n:(i + 1) * args.n]}")
    ind = caption_sets(args.captions, args.seed, size=t2i.image_size)["in_distribution"]
    right = np.array(count(t2i.generate(ind.captions, seed=args.seed))) == 1
    named = np.array(["position" in s["objects"][0] for s in ind.slots])
    for label, m in (("position named", named), ("position open", ~named)):
        print(f"{len(ind)} in-distribution captions, {label}: {m.sum()} captions, count right {right[m].mean():.1%}")


if __name__ == "__main__":
    main()
