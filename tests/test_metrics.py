"""Judge-based metrics of chapter 10: caption sets, attribute accuracy, fid_judge, diversity — sanity checks with known answers."""
from dataclasses import replace

import numpy as np
import pytest

from t2i_course.core import InputError
from t2i_course.data import ATTRIBUTES, COLORS, HELDOUT_PAIRS, Scene, render, sample_scenes
from t2i_course.evaluate import (CAPTION_SETS, accuracy_from_readings, attribute_accuracy, caption_sets, count_accuracy, diversity,
                                 fid_judge, frechet_distance, generate_images, judge_data, load_or_train_judge, pair_accuracy,
                                 read_images, score_readings)

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py

NAMES = list(COLORS)


@pytest.fixture(scope="module")
def judge(tmp_home):
    "The judge that ships with the package (its training is tested in test_judge.py): loaded, not trained again here."
    return load_or_train_judge(32, show_progress=False)


@pytest.fixture(scope="module")
def sets():
    return caption_sets(n=200, seed=0)


def scene_generator(cset, recolour=False):
    by_text = dict(zip(cset.captions, cset.scenes))
    def shift(s): return Scene(tuple(replace(o, color=NAMES[(NAMES.index(o.color) + 1) % 8]) for o in s.objects))
    return lambda texts: render([shift(by_text[t]) if recolour else by_text[t] for t in texts], 32)


def noise_generator(texts, rng=np.random.default_rng(0)):
    return rng.integers(0, 256, size=(len(texts), 32, 32, 3), dtype=np.uint8)


def sampling_generator(cset, seed=0):
    "A perfect generator that samples: a random pooled scene with every slot the caption names (unnamed ones vary)."
    pool = sample_scenes(20_000, seed=seed)
    table = {k: np.array([getattr(s.objects[0], k) for s in pool]) for k in ATTRIBUTES}
    named = dict(zip(cset.captions, (s["objects"][0] for s in cset.slots)))
    rng = np.random.default_rng(seed)
    def generate(texts):
        picks = []
        for t in texts:
            ok = np.ones(len(pool), bool)
            for k, v in named[t].items(): ok &= table[k] == v
            picks.append(pool[int(rng.choice(np.flatnonzero(ok)))])
        return render(picks, 32)
    return generate


def test_caption_sets(sets):
    assert list(sets) == list(CAPTION_SETS)
    ind = sets["in_distribution"]
    assert len(ind) == 200 and len(sets["zh"]) + len(sets["en"]) == 200
    assert all(s["lang"] == "zh" for s in sets["zh"].slots) and all(s["lang"] == "en" for s in sets["en"].slots)
    held = set(HELDOUT_PAIRS)
    assert all((s.objects[0].color, s.objects[0].shape) in held for s in sets["heldout_pairs"].scenes)
    assert not any((s.objects[0].color, s.objects[0].shape) in held for s in ind.scenes)
    assert all(len(s["objects"]) == 2 and s["relation"] for s in sets["two_objects"].slots)
    assert set(sets["paraphrase"].captions).isdisjoint(ind.captions)
    with pytest.raises(InputError, match="positive integer"): caption_sets(n=0)


def test_attribute_accuracy_known_answers(judge, sets):
    ind = sets["in_distribution"]
    perfect = attribute_accuracy(scene_generator(ind), ind.captions, ind.slots, judge)
    wrong = attribute_accuracy(scene_generator(ind, recolour=True), ind.captions, ind.slots, judge)
    noise = attribute_accuracy(noise_generator, ind.captions, ind.slots, judge)
    print("\nperfect", perfect, "\nwrong colour", wrong, "\nnoise", noise)
    assert set(perfect) == set(ATTRIBUTES) | {"all_named"}
    assert min(perfect.values()) >= 0.99
    assert wrong["color"] <= 0.2 and wrong["shape"] >= 0.95 and wrong["position"] >= 0.95
    chance = {k: 1 / len(v) for k, v in ATTRIBUTES.items()}
    for k in ATTRIBUTES: assert abs(noise[k] - chance[k]) < 0.25, k
    assert noise["all_named"] < 0.05
    held = sets["heldout_pairs"]
    assert attribute_accuracy(scene_generator(held), held.captions, held.slots, judge)["all_named"] >= 0.97


def test_only_named_attributes_count(judge, sets):
    ind = sets["in_distribution"]
    # a caption that names only the colour: a wrong shape/size/... must not cost anything
    slots = [{"objects": [{"color": s["objects"][0].get("color", ind.scenes[i].objects[0].color)}], "relation": None}
             for i, s in enumerate(ind.slots[:40])]
    by_text = dict(zip(ind.captions, ind.scenes))
    other = lambda texts: render([Scene((replace(by_text[t].objects[0], shape="cube" if by_text[t].objects[0].shape != "cube" else "sphere"),))
                                  for t in texts], 32)
    res = attribute_accuracy(other, ind.captions[:40], slots, judge)
    assert res["color"] >= 0.97 and res["shape"] is None and res["all_named"] >= 0.97


def test_two_object_matching_rule():
    a = {"color": "red", "shape": "cube", "size": "large", "material": "metal", "position": "left"}
    b = {"color": "blue", "shape": "sphere", "size": "small", "material": "rubber", "position": "right"}
    reading = {"objects": [a, b], "relation": "left of"}                     # judge: A (red cube) left of B (blue sphere)
    ok = lambda slots: score_readings([reading], [slots])[0]
    flat = lambda d: all(x for v in d.values() for x in v)
    assert flat(ok({"objects": [{"color": "red"}, {"shape": "sphere"}], "relation": "left of"}))
    assert flat(ok({"objects": [{"shape": "sphere"}, {"color": "red"}], "relation": "right of"}))   # same scene, said the other way
    swapped = ok({"objects": [{"shape": "sphere"}, {"color": "red"}], "relation": "left of"})        # drawn the wrong way round
    assert swapped["relation"] == [True] and not flat(swapped)
    assert ok({"objects": [{"color": "red"}, {"shape": "sphere"}], "relation": "above"})["relation"] == [False]   # wrong axis


def test_bad_generator_and_input(judge, sets):
    ind, two = sets["in_distribution"], sets["two_objects"]
    caps, slots = ind.captions[:10], ind.slots[:10]
    with pytest.raises(InputError, match="uint8"):
        attribute_accuracy(lambda t: np.zeros((len(t), 32, 32, 3), np.float32), caps, slots, judge)
    with pytest.raises(InputError, match="one image per caption"):
        attribute_accuracy(lambda t: np.zeros((len(t), 3, 32, 32), np.uint8), caps, slots, judge)
    with pytest.raises(InputError, match="numpy array"):
        attribute_accuracy(lambda t: [0] * len(t), caps, slots, judge)
    with pytest.raises(InputError, match="32x32"):
        attribute_accuracy(lambda t: np.zeros((len(t), 16, 16, 3), np.uint8), caps, slots, judge)
    with pytest.raises(InputError, match="empty caption set"):
        attribute_accuracy(noise_generator, [], [], judge)
    with pytest.raises(InputError, match="n_objects=2"):
        attribute_accuracy(scene_generator(two), two.captions[:5], two.slots[:5], judge)
    with pytest.raises(InputError, match="captions but"):
        attribute_accuracy(noise_generator, caps, slots[:3], judge)


def test_fid_judge(judge):
    real_a, _ = judge_data(400, seed=40_000)
    real_b, _ = judge_data(400, seed=41_000)
    noise = np.random.default_rng(1).integers(0, 256, size=(400, 32, 32, 3), dtype=np.uint8)
    rr, rn = fid_judge(real_a, real_b, judge), fid_judge(real_a, noise, judge)
    print(f"\nfid_judge real/real {rr:.3f} real/noise {rn:.3f}")
    assert 0 <= rr < 0.1 * rn
    mu, sig = np.zeros(3), np.diag([1.0, 2.0, 3.0])
    assert abs(frechet_distance(mu, sig, mu, sig)) < 1e-9
    assert abs(frechet_distance(mu, np.eye(3), mu + 1, 4 * np.eye(3)) - 6) < 1e-9
    with pytest.raises(InputError, match="at least 2"): fid_judge(real_a[:1], real_b, judge)


def test_diversity(judge, sets):
    ind = sets["in_distribution"]
    fixed = render(ind.scenes[:1], 32)[0]
    d0 = diversity(lambda t: np.repeat(fixed[None], len(t), 0), ind.captions[:30], ind.slots[:30], judge)
    d1 = diversity(sampling_generator(ind), ind.captions[:30], ind.slots[:30], judge)
    print(f"\ndiversity fixed {d0:.3f} sampling perfect {d1:.3f}")
    assert d0 == 0.0 and d1 > 0.5
    with pytest.raises(InputError, match="n must be"): diversity(noise_generator, ind.captions, ind.slots, judge, n=1)
    full = [{"objects": [{k: v[0] for k, v in ATTRIBUTES.items()}], "relation": None}]
    with pytest.raises(InputError, match="leave at least one"): diversity(noise_generator, ["c"], full, judge)


def test_count_accuracy_sees_a_duplicate_the_attribute_judge_misses(judge, sets):
    "An image with the caption's object drawn twice: every attribute reads right, the count does not."
    counter = load_or_train_judge(32, 0, show_progress=False)
    ind = sets["in_distribution"]
    by_text = dict(zip(ind.captions, ind.scenes))
    twice = lambda texts: render([Scene((by_text[t].objects[0], replace(by_text[t].objects[0], x=0.2 if by_text[t].objects[0].x > 0.5 else 0.8)))
                                  for t in texts], 32)
    perfect, dup = generate_images(scene_generator(ind), ind.captions), generate_images(twice, ind.captions)
    assert count_accuracy(perfect, ind.slots, counter) >= 0.98
    assert count_accuracy(dup, ind.slots, counter) <= 0.05
    assert accuracy_from_readings(read_images(dup, ind.slots, judge), ind.slots)["color"] >= 0.9
    two = sets["two_objects"]
    assert count_accuracy(generate_images(scene_generator(two), two.captions), two.slots, counter) >= 0.98
    with pytest.raises(InputError, match="counting judge"): count_accuracy(perfect, ind.slots, judge)
    with pytest.raises(InputError, match="images but"): count_accuracy(perfect[:3], ind.slots, counter)


def test_pair_accuracy_counts_both_right(judge, sets):
    held = sets["heldout_pairs"]
    readings = read_images(generate_images(scene_generator(held), held.captions), held.slots, judge)
    assert pair_accuracy(readings, held.slots) >= 0.97
    wrong = read_images(generate_images(scene_generator(held, recolour=True), held.captions), held.slots, judge)
    assert pair_accuracy(wrong, held.slots) <= 0.05                    # the shape is right, the colour is not: not both
    r = [{"color": "red", "shape": "cube"}, {"color": "red", "shape": "sphere"}, {"color": "blue", "shape": "cube"}]
    s = [{"objects": [{"color": "red", "shape": "cube"}]}, {"objects": [{"color": "red", "shape": "cube"}]}, {"objects": [{"color": "blue"}]}]
    assert pair_accuracy(r, s) == 0.5                                 # the third caption does not name the shape: not counted
    assert pair_accuracy(r[2:], s[2:]) is None
