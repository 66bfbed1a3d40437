"""The model families side by side on the cpu preset: each figure as mean ± standard deviation over seeds.

    python tools/family_table.py --flow runs/flow-cpu runs/flow-cpu-s1 runs/flow-cpu-s2 [--vaegan RUN ...] [--json docs/flow_comparison.json]

Reads RUN/eval/metrics.json (`t2i-course eval --run RUN`) and RUN/config.json of each run. Without --vaegan runs, the VAE-GAN
columns come from docs/vaegan_cpu_3seeds.json (the README's 3-seed table of the same command, `t2i-course train --preset cpu`,
seeds 0, 1, 2, on this project's machine) and docs/vaegan_cpu_3seeds_t1.json (the same runs sampled at temperature 1, chapter 08b),
copied figure by figure; their keys are the rows below (a row they lack shows as —).
"""
import argparse
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = (   # key, label, getter(metrics, config), (scale, digits, unit)
    ("minutes", "training (min)", lambda m, c: c["seconds"] / 60, (1, 1, " min")),
    ("steps", "steps (text + image phases)", lambda m, c: c["steps_done"], (1, 0, "")),
    ("color", "in-distribution: colour", lambda m, c: m["attribute_accuracy"]["in_distribution"]["color"], (100, 1, " %")),
    ("shape", "in-distribution: shape", lambda m, c: m["attribute_accuracy"]["in_distribution"]["shape"], (100, 1, " %")),
    ("size", "in-distribution: size", lambda m, c: m["attribute_accuracy"]["in_distribution"]["size"], (100, 1, " %")),
    ("material", "in-distribution: material", lambda m, c: m["attribute_accuracy"]["in_distribution"]["material"], (100, 1, " %")),
    ("position", "in-distribution: position", lambda m, c: m["attribute_accuracy"]["in_distribution"]["position"], (100, 1, " %")),
    ("all_named", "in-distribution: all named", lambda m, c: m["attribute_accuracy"]["in_distribution"]["all_named"], (100, 1, " %")),
    ("paraphrase", "paraphrase templates: all named", lambda m, c: m["attribute_accuracy"]["paraphrase"]["all_named"], (100, 1, " %")),
    ("heldout_all_named", "held-out colour×shape pairs: all named", lambda m, c: m["attribute_accuracy"]["heldout_pairs"]["all_named"], (100, 1, " %")),
    ("heldout_both", "held-out pairs: colour and shape both right", lambda m, c: m["heldout_color_shape"]["both_right"], (100, 1, " %")),
    ("two_all_named", "two objects: all named", lambda m, c: m["attribute_accuracy"]["two_objects"]["all_named"], (100, 1, " %")),
    ("relation", "two objects: relation right", lambda m, c: m["attribute_accuracy"]["two_objects"]["relation"], (100, 1, " %")),
    ("count", "count right (one object named)", lambda m, c: m["count_accuracy"]["in_distribution"], (100, 1, " %")),
    ("count_two", "count right (two objects named)", lambda m, c: m["count_accuracy"]["two_objects"], (100, 1, " %")),
    ("r_precision", "R-precision (vs 99 contradicting captions)", lambda m, c: m["r_precision"], (100, 1, " %")),
    ("bleu", "back-translation BLEU", lambda m, c: m["bleu"], (1, 1, "")),
    ("fid_judge", "FID in judge features (lower is better)", lambda m, c: m["fid_judge"], (1, 1, "")),
    ("diversity", "diversity (judge features)", lambda m, c: m["diversity"], (1, 2, "")),
)


def summarise(runs) -> dict:
    rows = [(json.loads((Path(r) / "eval" / "metrics.json").read_text(encoding="utf-8")), json.loads((Path(r) / "config.json").read_text(encoding="utf-8")))
            for r in runs]
    out = {"source": f"runs {', '.join(map(str, runs))}", "seeds": [c["train"]["seed"] for _, c in rows]}
    for key, _, get, _ in ROWS:
        v = [get(m, c) for m, c in rows]
        out[key] = {"mean": statistics.mean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v)}
    return out


def cell(s: dict | None, fmt) -> str:
    if not s: return "—"
    scale, digits, unit = fmt
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f}{unit}" if s["n"] > 1 else f"{scale * s['mean']:.{digits}f}{unit}"


def table(families: dict) -> str:
    lines = ["| | " + " | ".join(families) + " |", "|---|" + "---|" * len(families)]
    for key, label, _, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(f.get(key), fmt) for f in families.values()) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vaegan", nargs="*", default=[])
    ap.add_argument("--flow", nargs="*", default=[])
    ap.add_argument("--json")
    a = ap.parse_args()
    fams = {"VAE-GAN (temperature 0.3, the preset's)": summarise(a.vaegan) if a.vaegan else json.loads((ROOT / "docs" / "vaegan_cpu_3seeds.json").read_text(encoding="utf-8"))}
    if not a.vaegan: fams["VAE-GAN at temperature 1"] = json.loads((ROOT / "docs" / "vaegan_cpu_3seeds_t1.json").read_text(encoding="utf-8"))
    fams["flow matching (guidance 2, Heun 20 steps)"] = summarise(a.flow)
    for name, f in fams.items(): print(f"{name}: {f['source']}, seeds {f['seeds']}")
    print(); print(table(fams))
    if a.json: Path(a.json).write_text(json.dumps(fams, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
