"""The README's tables from several runs of the same command with different seeds: each figure as mean ± standard deviation.

    python tools/seed_table.py runs/cpu runs/cpu-s1 runs/cpu-s2      # reads RUN/eval/metrics.json and RUN/config.json of each
    python tools/seed_table.py --eval eval-t1 runs/cpu ...            # another report folder of each run (e.g. `eval --temperature 1`)

The standard deviation is the sample one (n - 1); with three seeds it is a rough spread, not a confidence interval.
"""
import json
import statistics
from pathlib import Path

ROWS = (("in_distribution", "in-distribution"), ("zh", "中文 (zh)"), ("en", "English (en)"),
        ("paraphrase", "paraphrase templates never seen in training"), ("heldout_pairs", "held-out colour×shape pairs"))
ATTRS = ("color", "shape", "size", "material", "position", "all_named")


def spread(values, scale=100.0, digits=1, unit=" %") -> str:
    v = [scale * x for x in values if x is not None]
    if not v: return ""
    if len(v) == 1: return f"{v[0]:.{digits}f}{unit}"
    return f"{statistics.mean(v):.{digits}f} ± {statistics.stdev(v):.{digits}f}{unit}"


def main(runs, eval_dir: str = "eval"):
    ms = [json.loads((Path(r) / eval_dir / "metrics.json").read_text(encoding="utf-8")) for r in runs]
    cs = [json.loads((Path(r) / "config.json").read_text(encoding="utf-8")) for r in runs]
    seeds = [c["train"]["seed"] for c in cs]
    temps = sorted({m.get("temperature") for m in ms}, key=str)
    print(f"{len(runs)} runs ({eval_dir}, sampling temperature {', '.join(map(str, temps))}), seeds {seeds}; training " + ", ".join(f"{c['seconds'] / 60:.1f} min ({c['steps_done']:,} steps)" for c in cs))
    print()
    print("| caption set (500 each) | colour | shape | size | material | position | all named | count right |")
    print("|---|---|---|---|---|---|---|---|")
    for key, name in ROWS:
        cells = [spread([m["attribute_accuracy"][key][a] for m in ms]) for a in ATTRS]
        print(f"| {name} | " + " | ".join(cells) + f" | {spread([m['count_accuracy'][key] for m in ms])} |")
    two = [m["attribute_accuracy"]["two_objects"] for m in ms]
    print("| two objects (all named / relation) | " + " | ".join(spread([t[a] for t in two]) for a in ATTRS[:4]) + " |  | "
          + f"{spread([t['all_named'] for t in two])} / {spread([t['relation'] for t in two])} | {spread([m['count_accuracy']['two_objects'] for m in ms])} |")
    print()
    print("| R-precision (vs 99 contradicting captions) | held-out pairs: colour and shape both right (in-distribution colour × shape) | "
          "back-translation BLEU | exact slot match | FID (judge features) | diversity | discriminator real/right, real/wrong, fake/right |")
    print("|---|---|---|---|---|---|---|")
    d = [m["discriminator_accuracy"] for m in ms if m.get("discriminator_accuracy")]
    print(f"| {spread([m['r_precision'] for m in ms])} (real renders: {spread([m['r_precision_real'] for m in ms])}) | "
          f"{spread([m['heldout_color_shape']['both_right'] for m in ms])} ({spread([m['heldout_color_shape']['in_distribution_product'] for m in ms])}) | "
          f"{spread([m['bleu'] for m in ms], scale=1, unit='')} | {spread([m['slot_match'] for m in ms])} | {spread([m['fid_judge'] for m in ms], scale=1, unit='')} | "
          f"{spread([m['diversity'] for m in ms], scale=1, digits=2, unit='')} | "
          + ", ".join(spread([x[k] for x in d]) for k in ("real_right", "real_wrong", "fake_right")) + " |")


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", default=["runs/cpu"])
    ap.add_argument("--eval", default="eval", help="the report folder inside each run (default eval)")
    a = ap.parse_args()
    main(a.runs, a.eval)
