"""Can the text CNN read two-object captions? Chapter 04's figure: the 11 targets of `caption_targets(..., n_objects=2)` learnt in
caption order (A = the object named first) and in reading order (A = the left or upper one), on the world's training captions.

    python bench/two_object_text.py [--n 20000] [--share 0.3] [--steps 1500]

Prints, per order, the share of unseen captions with every one of the 11 slots right, and the colour of A and B."""
import argparse
import time

import torch

from t2i_course.data import make_dataset
from t2i_course.text import Vocab, tokenize_batch
from t2i_course.text_cnn import AttributeHead, CaptionAttributeModel, TextCNN, TextCNNConfig, attribute_accuracy, caption_targets, train_attribute_model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="training captions")
    ap.add_argument("--share", type=float, default=0.3, help="share of two-object scenes")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    two = round(a.n * a.share)
    train = [make_dataset(a.n - two, size=16, seed=0), make_dataset(two, size=16, n_objects=2, seed=0)]
    val = {"one object": make_dataset(500, size=16, split="val", seed=0), "two objects": make_dataset(1000, size=16, split="val", n_objects=2, seed=0)}
    captions, slots = [c for d in train for c in d.captions], [s for d in train for s in d.slots]
    vocab = Vocab.build(tokenize_batch(captions))
    ids = vocab.encode_batch(captions)[0]
    print(f"{a.n} captions ({two} of two objects), {a.steps} steps at batch 64; accuracy on unseen captions:\n")
    print("| order | captions | all 11 slots | A colour | B colour | relation | train s |")
    print("|---|---|---|---|---|---|---|")
    for order in ("caption", "reading"):
        torch.manual_seed(0)
        model = CaptionAttributeModel(TextCNN(TextCNNConfig(len(vocab), 32, channels=64, out_dim=64)))
        model.head = AttributeHead(64, n_objects=2)
        t0 = time.perf_counter()
        train_attribute_model(model, ids, caption_targets(slots, 2, order), steps=a.steps, batch_size=64, lr=3e-3, show_progress=False)
        sec = time.perf_counter() - t0
        for name, d in val.items():
            acc = attribute_accuracy(model, vocab.encode_batch(d.captions)[0], caption_targets(d.slots, 2, order))
            print(f"| {order} | {name} | {100 * acc['all']:.1f} % | {100 * acc['a.color']:.1f} % | {100 * acc['b.color']:.1f} % "
                  f"| {100 * acc['relation']:.1f} % | {sec:.1f} |")


if __name__ == "__main__":
    main()
