"""Faithfulness against variety over the sampling temperature: every chapter-10 metric of a run, sampled at several temperatures
(z = mu + temperature * sigma * eps). Prints a markdown table; --json writes the rows.

    python bench/temperature.py runs/cpu [--temperatures 1,0.7,0.5,0.3,0.2,0] [--n 500] [--json out.json]
"""
import argparse
import json
import time
import warnings

from t2i_course.evaluate import evaluate_generator
from t2i_course.pipeline import TextToImage
from t2i_course.vae import check_temperature


def row(m: dict) -> dict:
    a, c = m["attribute_accuracy"], m["count_accuracy"]
    return {"all_named": a["in_distribution"]["all_named"], "count": c["in_distribution"], "heldout_both": m["heldout_color_shape"]["both_right"],
            "two_all_named": a["two_objects"]["all_named"], "relation": a["two_objects"]["relation"], "count_two": c["two_objects"],
            "r_precision": m["r_precision"], "fid_judge": m["fid_judge"], "diversity": m["diversity"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--temperatures", default="1,0.7,0.5,0.3,0.2,0")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    t2i = TextToImage.load(args.run, device="cpu")
    rows = {}
    print(f"{args.run}: its own temperature {t2i.temperature:g}; {args.n} captions per set")
    temperatures = [check_temperature(float(x)) for x in args.temperatures.split(",")]
    print("| temperature | all named | count right | held-out both right | two objects all named | relation | two objects count | R-precision | FID | diversity |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for T in temperatures:
        t0 = time.time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t2i.temperature = T                                                # what t2i(texts) samples with
            m, _ = evaluate_generator(t2i, t2i.image_size, n=args.n, show_progress=False)
        r = rows[T] = row(m)
        print(f"| {T:g} | " + " | ".join(f"{100 * r[k]:.1f} %" for k in ("all_named", "count", "heldout_both", "two_all_named", "relation",
                                                                            "count_two", "r_precision"))
              + f" | {r['fid_judge']:.1f} | {r['diversity']:.2f} |  ({time.time() - t0:.0f} s)", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f: json.dump({"run": args.run, "n": args.n, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
