"""Where a run's two-object errors come from: for each attribute a two-object caption names, is the image's object right,
does it carry the *other* object's value (a binding error), or something else? Prints a table; writes JSON with --json.

    python bench/binding_errors.py runs/cpu2o [--n 500] [--json out.json]
"""
import argparse
import json
from collections import Counter

from t2i_course.core import get_device
from t2i_course.data import ATTRIBUTES
from t2i_course.evaluate import caption_sets, generate_images, load_or_train_judge, read_images, reading_slots
from t2i_course.pipeline import TextToImage

KINDS = ("right", "the other object's", "another value")


def binding_errors(readings, slots, scenes) -> dict:
    "Per attribute: shares of named slots read right, read as the other object's value (where that differs), read as anything else."
    counts, relation = Counter(), 0
    for r, s, sc in zip(readings, slots, scenes):
        got = reading_slots(r, s)
        relation += got["relation"] == s["relation"]
        objs = [sc.objects[i] for i in s["indices"]]
        for k in range(2):
            for a, v in s["objects"][k].items():
                g, other = got["objects"][k][a], getattr(objs[1 - k], a)
                counts[a, "right" if g == v else "the other object's" if g == other else "another value"] += 1
    out = {}
    for a in ATTRIBUTES:
        if a == "position": continue                                     # two-object captions name a relation, not positions
        n = sum(counts[a, k] for k in KINDS)
        if n: out[a] = {"n": n, **{k: counts[a, k] / n for k in KINDS}}
    out["relation"] = relation / len(slots)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run"); ap.add_argument("--n", type=int, default=500); ap.add_argument("--json")
    a = ap.parse_args()
    t2i = TextToImage.load(a.run, device=str(get_device()))
    cs = caption_sets(a.n, size=t2i.image_size)["two_objects"]
    images = generate_images(lambda texts: t2i.generate(texts), cs.captions)
    readings = read_images(images, cs.slots, load_or_train_judge(t2i.image_size, 1), load_or_train_judge(t2i.image_size, 2))
    res = binding_errors(readings, cs.slots, cs.scenes)
    print(f"{a.run}: {a.n} two-object captions; shares of the named attributes, as the judge reads the generated images")
    print(f"| attribute | n | {' | '.join(KINDS)} |\n|---|---|{'---|' * len(KINDS)}")
    for k, v in res.items():
        if k != "relation": print(f"| {k} | {v['n']} | " + " | ".join(f"{100 * v[x]:.1f} %" for x in KINDS) + " |")
    print(f"relation right: {100 * res['relation']:.1f} %")
    if a.json:
        with open(a.json, "w") as f: json.dump({"run": a.run, "n": a.n, **res}, f, indent=1)


if __name__ == "__main__":
    main()
