"""Sanity figures of the evaluation (chapter 10) with the shipped judges and dual encoder: known answers for a perfect
generator, a wrong-colour generator, uniform noise, FID real vs real / noise / recoloured, diversity, R-precision.

    python bench/eval_sanity.py

Prints the figures; the same checks run as assertions in nbs/10_evaluation.ipynb and tests/. Not a test: nothing is asserted.
"""
import time, numpy as np, torch
from dataclasses import replace
torch.set_num_threads(1)
from t2i_course.data import COLORS, Scene, render, sample_scenes, ATTRIBUTES
from t2i_course.evaluate import *
names = list(COLORS)
t0 = time.time()
J1, J2, (D, V) = load_or_train_judge(32, 1), load_or_train_judge(32, 2), load_or_train_dual(32)
print("load shipped models", round(time.time() - t0, 2), "s")
sets = caption_sets(n=500, seed=0)
ind, two = sets["in_distribution"], sets["two_objects"]
scene_of = {c: s for cs in sets.values() for c, s in zip(cs.captions, cs.scenes)}
perfect = lambda t: render([scene_of[x] for x in t], 32)
def shift(s): return Scene(tuple(replace(o, color=names[(names.index(o.color) + 1) % 8]) for o in s.objects))
recol = lambda t: render([shift(scene_of[x]) for x in t], 32)
noise = lambda t: np.random.default_rng(0).integers(0, 256, (len(t), 32, 32, 3), dtype=np.uint8)
for name, g in (("perfect", perfect), ("wrong colour", recol), ("noise", noise)):
    a = attribute_accuracy(g, ind.captions, ind.slots, J1)
    b = attribute_accuracy(g, two.captions, two.slots, J1, J2)
    bt = back_translation(g, ind.captions, ind.slots, J1)
    print(f"{name:13s} one-object", {k: round(v, 3) for k, v in a.items()}, "| two-object all_named", round(b["all_named"], 3), "relation", round(b["relation"], 3),
          f"| BLEU {bt['bleu']:.1f} slot {bt['slot_match']:.3f}")
for k in CAPTION_SETS:
    cs = sets[k]; a = attribute_accuracy(perfect, cs.captions, cs.slots, J1, J2)
    print("perfect on", k, {kk: round(v, 3) for kk, v in a.items() if v is not None})
ra, rs = judge_data(2000, seed=40_000); rb, _ = judge_data(2000, seed=41_000)
print("FID real vs real", round(fid_judge(ra, rb, J1), 2), " real vs noise", round(fid_judge(ra, noise(list(range(2000))), J1), 1),
      " real vs wrong colour", round(fid_judge(ra, render([shift(s) for s in rs], 32), J1), 1))
fixed = render(ind.scenes[:1], 32)[0]
print("diversity fixed image", diversity(lambda t: np.repeat(fixed[None], len(t), 0), ind.captions, ind.slots, J1))
pool = sample_scenes(20000, seed=0); table = {k: np.array([getattr(s.objects[0], k) for s in pool]) for k in ATTRIBUTES}
named = dict(zip(ind.captions, (s["objects"][0] for s in ind.slots))); rng = np.random.default_rng(0)
def sampler(texts):
    out = []
    for t in texts:
        ok = np.ones(len(pool), bool)
        for k, v in named[t].items(): ok &= table[k] == v
        out.append(pool[int(rng.choice(np.flatnonzero(ok)))])
    return render(out, 32)
print("diversity sampling perfect generator", round(diversity(sampler, ind.captions, ind.slots, J1), 3))
from t2i_course.data import make_dataset
rp = make_dataset(1000, size=32, split="test", seed=70_000)
perm = np.random.default_rng(0).permutation(1000)
print("R-precision real (contradicting)", r_precision(D, V, rp.images, rp.captions, scenes=rp.scenes, slots=rp.slots),
      "real (different text)", r_precision(D, V, rp.images, rp.captions),
      "shuffled", r_precision(D, V, rp.images, [rp.captions[j] for j in perm]),
      "noise", r_precision(D, V, noise(list(range(1000))), rp.captions))
