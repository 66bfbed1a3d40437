"""Flow matching's sampling choices on the chapter-10 judges, and the sampling latency of any run folders.

    python bench/flow_sampling.py guidance runs/flow-cpu [--values 0,1,1.5,2,3,4,6] [--n 200] [--json out.json] [--png docs/flow_guidance.png]
    python bench/flow_sampling.py steps runs/flow-cpu [--values 1,2,4,8,16,32] [--n 200] [--json ..] [--png docs/flow_steps.png]
    python bench/flow_sampling.py latency runs/cpu runs/flow-cpu [--threads 2] [--repeats 10]

`guidance` sweeps the classifier-free guidance scale (caption faithfulness against diversity); `steps` sweeps the ODE steps of both
samplers (Euler, and Heun with a plain Euler last step: 2N-1 net calls) on the in-distribution captions (all named, FID); `latency` times drawing 8 images of one caption
(median of --repeats after 2 warm-up calls), on the CPU with --threads threads.
"""
import argparse
import json
import statistics
import time
import warnings

import torch

from t2i_course.evaluate import evaluate_generator
from t2i_course.pipeline import TextToImage

KEYS = ("all_named", "count", "heldout_both", "two_all_named", "relation", "r_precision")


def row(m: dict) -> dict:
    a, c = m["attribute_accuracy"], m["count_accuracy"]
    return {"all_named": a["in_distribution"]["all_named"], "count": c["in_distribution"], "heldout_both": m["heldout_color_shape"]["both_right"],
            "two_all_named": a["two_objects"]["all_named"], "relation": a["two_objects"]["relation"], "r_precision": m["r_precision"],
            "fid_judge": m["fid_judge"], "diversity": m["diversity"]}


def evaluate(t2i, n: int, **sampling) -> dict:
    saved = dict(t2i.sampling)
    t2i.sampling.update(sampling)                                           # what t2i(texts) samples with
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m, _ = evaluate_generator(t2i, t2i.image_size, n=n, show_progress=False)
    finally: t2i.sampling = saved
    return row(m)


def header(first: str):
    print(f"| {first} | all named | count right | held-out both right | two objects all named | relation | R-precision | FID (judge) | diversity | s |")
    print("|---|---|---|---|---|---|---|---|---|---|")


def line(label, r, sec):
    print(f"| {label} | " + " | ".join(f"{100 * r[k]:.1f} %" for k in KEYS) + f" | {r['fid_judge']:.1f} | {r['diversity']:.2f} | {sec:.0f} |", flush=True)


def sweep_guidance(run, values, n):
    t2i = TextToImage.load(run, device="cpu")
    print(f"{run}: {n} captions per set; sampler {t2i.model.config.sampler}, {t2i.model.config.sample_steps} steps")
    header("guidance")
    rows = {}
    for g in values:
        t0 = time.time(); r = rows[g] = evaluate(t2i, n, guidance=g); line(f"{g:g}", r, time.time() - t0)
    return rows


def in_distribution(t2i, n: int, **sampling) -> dict:
    "All named (the judges) and FID in judge features on the in-distribution caption set only: the two numbers the steps curve needs."
    from t2i_course.evaluate import EVAL_SIZE, accuracy_from_readings, caption_sets, fid_judge, fit_images, load_or_train_judge, read_images
    from t2i_course.data import render
    judge, judge2 = load_or_train_judge(EVAL_SIZE, 1, show_progress=False), load_or_train_judge(EVAL_SIZE, 2, show_progress=False)
    cs = caption_sets(n, 0, size=t2i.image_size)["in_distribution"]
    saved = dict(t2i.sampling); t2i.sampling.update(sampling)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seen = fit_images(t2i.generate(cs.captions, n=1, seed=0))
    finally: t2i.sampling = saved
    acc = accuracy_from_readings(read_images(seen, cs.slots, judge, judge2), cs.slots)
    return {"all_named": acc["all_named"], "fid_judge": fid_judge(fit_images(render(cs.scenes, t2i.image_size)), seen, judge)}


def sweep_steps(run, values, n):
    "Sampler steps against quality on the in-distribution captions (all named, FID): every other metric needs a whole evaluation."
    t2i = TextToImage.load(run, device="cpu")
    print(f"{run}: {n} in-distribution captions; guidance {t2i.model.config.guidance:g}")
    print("| sampler, steps | net calls | all named | FID (judge) | s |"); print("|---|---|---|---|---|")
    rows = {}
    for sampler in ("euler", "heun"):
        for s in values:
            calls = s if sampler == "euler" else 2 * s - 1
            t0 = time.time(); r = rows[f"{sampler}-{s}"] = {**in_distribution(t2i, n, sampler=sampler, steps=s), "calls": calls}
            print(f"| {sampler} {s} | {calls} | {100 * r['all_named']:.1f} % | {r['fid_judge']:.1f} | {time.time() - t0:.0f} |", flush=True)
    return rows


def latency(runs, threads, repeats):
    torch.set_num_threads(threads)
    print(f"8 images of one caption, median of {repeats} (after 2 warm-up calls), CPU, {threads} thread(s)")
    print("| run | family | sampling | ms for 8 images |")
    print("|---|---|---|---|")
    out = {}
    for run in runs:
        t2i = TextToImage.load(run, device="cpu")
        call = lambda: t2i.generate(["一个红色的球体"], n=8, seed=0)
        for _ in range(2): call()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter(); call(); times.append(time.perf_counter() - t0)
        ms = 1000 * statistics.median(times)
        fam = getattr(t2i.model, "family", "?")
        how = ", ".join(f"{k} {v}" for k, v in {**({"guidance": t2i.model.config.guidance, "steps": t2i.model.config.sample_steps,
                                                        "sampler": t2i.model.config.sampler} if fam == "flow" else {}), **t2i.sampling}.items()) or "one decoder pass"
        out[run] = {"family": fam, "ms": ms}
        print(f"| {run} | {fam} | {how} | {ms:.1f} |", flush=True)
    return out


def plot(kind, rows, png):
    from matplotlib.figure import Figure
    from t2i_course.plumbing import figure_png
    fig = Figure(figsize=(9, 3.4), dpi=100)
    if kind == "guidance":
        ax, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        gs = list(rows)
        for k, name in (("all_named", "all named (in-distribution)"), ("heldout_both", "held-out pairs: both right"), ("two_all_named", "two objects: all named")):
            ax.plot(gs, [100 * rows[g][k] for g in gs], "o-", label=name)
        ax.set_xlabel("guidance scale g"); ax.set_ylabel("% right (judges)"); ax.legend(fontsize=7); ax.set_title("faithfulness")
        ax2.plot([rows[g]["diversity"] for g in gs], [100 * rows[g]["all_named"] for g in gs], "o-")
        for g in gs: ax2.annotate(f"g={g:g}", (rows[g]["diversity"], 100 * rows[g]["all_named"]), fontsize=7)
        ax2.set_xlabel("diversity (judge features)"); ax2.set_ylabel("all named, %"); ax2.set_title("faithfulness vs diversity")
    else:
        ax, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        for sampler in ("euler", "heun"):
            ks = [k for k in rows if k.startswith(sampler)]
            calls = [rows[k]["calls"] for k in ks]
            ax.plot(calls, [100 * rows[k]["all_named"] for k in ks], "o-", label=sampler)
            ax2.plot(calls, [rows[k]["fid_judge"] for k in ks], "o-", label=sampler)
        for a in (ax, ax2): a.set_xscale("log", base=2); a.set_xlabel("net calls per image (log)"); a.legend(fontsize=7)
        ax.set_ylabel("all named, %"); ax.set_title("faithfulness"); ax2.set_ylabel("FID in judge features"); ax2.set_title("realism (lower is better)")
    fig.tight_layout()
    with open(png, "wb") as f: f.write(figure_png(fig))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("guidance", "steps", "latency"))
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--values")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--json"); ap.add_argument("--png")
    a = ap.parse_args(argv)
    if a.what == "latency": rows = latency(a.runs, a.threads, a.repeats)
    else:
        torch.set_num_threads(a.threads)
        if a.what == "guidance": rows = sweep_guidance(a.runs[0], [float(x) for x in (a.values or "0,1,1.5,2,3,4,6").split(",")], a.n)
        else: rows = sweep_steps(a.runs[0], [int(x) for x in (a.values or "1,2,4,8,16,32").split(",")], a.n)
        if a.png: plot(a.what, rows, a.png)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f: json.dump({"what": a.what, "runs": a.runs, "n": a.n, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
