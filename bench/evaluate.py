"""Wall time of the evaluation on this machine's CPU (one thread): loading the shipped judges, `evaluate_generator`
on the six caption sets, and `evaluate_run` on a run folder (report and pictures included).

    python bench/evaluate.py [--n 500]

Prints one line per step and writes bench/results/evaluate.json. Not a test: nothing is asserted.
"""
import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="captions per caption set")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "evaluate.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    res = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__, "threads": 1, "n_per_set": args.n}

    t = time.perf_counter()
    from t2i_course.data import make_dataset, render
    from t2i_course.discriminator import Discriminator, DiscriminatorConfig
    from t2i_course.evaluate import caption_sets, evaluate_generator, evaluate_run, load_or_train_dual, load_or_train_judge
    from t2i_course.pipeline import save_run
    from t2i_course.text import Vocab
    from t2i_course.text_cnn import TextCNN, TextCNNConfig
    from t2i_course.vae import ConditionalVAE, VAEConfig
    from t2i_course.vaegan import VAEGAN
    res["import_s"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    models = dict(judge=load_or_train_judge(32, 1, show_progress=False), judge2=load_or_train_judge(32, 2, show_progress=False),
                  dual=load_or_train_dual(32, show_progress=False))
    res["load_shipped_models_s"] = round(time.perf_counter() - t, 2)

    for size in (32, 64):
        sets = caption_sets(args.n, seed=0, size=size)
        scene_of = {c: s for cs in sets.values() for c, s in zip(cs.captions, cs.scenes)}
        t = time.perf_counter()
        evaluate_generator(lambda texts: render([scene_of[x] for x in texts], size), size, sets=sets, show_progress=False, **models)
        res[f"evaluate_generator_renders_{size}px_s"] = round(time.perf_counter() - t, 2)

    torch.manual_seed(0)
    vocab = Vocab.build(make_dataset(2000, seed=0).captions)
    tcfg = TextCNNConfig(vocab_size=len(vocab), embed_dim=32, out_dim=64)
    model = VAEGAN(ConditionalVAE(VAEConfig(image_size=32, z_dim=16, text_dim=64), TextCNN(tcfg)),
                   Discriminator(DiscriminatorConfig(image_size=32, text_dim=64)), TextCNN(tcfg)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        run = save_run(Path(tmp) / "run", model, vocab)
        t = time.perf_counter()
        evaluate_run(run, Path(tmp) / "eval", n=args.n, show_progress=False)
        res["evaluate_run_32px_untrained_s"] = round(time.perf_counter() - t, 2)
    for k, v in res.items(): print(f"{k:36s} {v}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
