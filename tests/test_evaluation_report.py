"""Chapter 10's report: shipped evaluation models, back-translation, discriminator accuracy, evaluate_generator,
write_report and evaluate_run on a run folder — sanity checks with known answers and bad input."""
import json
from dataclasses import replace

import numpy as np
import pytest

from t2i_course.core import InputError
from t2i_course.data import ATTRIBUTES, COLORS, caption_from_slots, render
from t2i_course.evaluate import (CAPTION_SETS, CaptionSet, back_translation, caption_sets, discriminator_accuracy, evaluate_generator,
                                 evaluate_run, fit_images, judge_accuracy, judge_data, load_or_train_dual, load_or_train_judge,
                                 r_precision, reading_slots, shipped_models_dir, write_report)

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py
NAMES = list(COLORS)


@pytest.fixture(scope="module")
def models():
    "The shipped judges and dual encoder (no training: they load from t2i_course/assets/eval)."
    return {"judge": load_or_train_judge(32, 1), "judge2": load_or_train_judge(32, 2), "counter": load_or_train_judge(32, 0),
            "dual": load_or_train_dual(32)}


@pytest.fixture(scope="module")
def sets():
    return caption_sets(n=150, seed=3)


def scene_generator(sets, recolour=False, size=32):
    by_text = {c: s for cs in sets.values() for c, s in zip(cs.captions, cs.scenes)}
    def shift(s): return type(s)(tuple(replace(o, color=NAMES[(NAMES.index(o.color) + 1) % 8]) for o in s.objects))
    return lambda texts: render([shift(by_text[t]) if recolour else by_text[t] for t in texts], size)


def noise_generator(texts, size=32):
    return np.random.default_rng(len(texts)).integers(0, 256, size=(len(texts), size, size, 3), dtype=np.uint8)


def test_shipped_models_are_found_and_accurate(models):
    folders = sorted(p.name for p in shipped_models_dir().iterdir() if p.is_dir())
    assert [f.split("-")[0] for f in folders] == ["dual", "judge", "judge", "judge"], folders
    for key, n_obj in (("judge", 1), ("judge2", 2), ("counter", 0)):
        acc = judge_accuracy(models[key], *judge_data(1000, n_objects=n_obj, seed=80_000))
        assert min(acc.values()) >= 0.99, acc
    dual, vocab = models["dual"]
    ind = sets_ = caption_sets(n=300, seed=4)["in_distribution"]
    assert r_precision(dual, vocab, render(ind.scenes, 32), ind.captions, scenes=ind.scenes, slots=ind.slots) >= 0.9


def test_fit_images():
    x = render([s for s in judge_data(4, seed=1)[1]], 64)
    y = fit_images(x, 32)
    assert y.shape == (4, 32, 32, 3) and y.dtype == np.uint8
    assert fit_images(y, 32) is y
    assert fit_images(render(judge_data(2, seed=1)[1], 48), 32).shape == (2, 32, 32, 3)


def test_judge_reads_downsampled_64px_renders(models):
    imgs, scenes = judge_data(1000, image_size=64, seed=81_000)
    acc = judge_accuracy(models["judge"], fit_images(imgs), scenes)
    assert min(acc.values()) >= 0.98, acc


def test_reading_slots_orders_objects_like_the_caption(sets, models):
    two = sets["two_objects"]
    for s in two.slots[:40]:
        fake_reading = {"objects": [{k: ATTRIBUTES[k][0] for k in ATTRIBUTES}, {k: ATTRIBUTES[k][1] for k in ATTRIBUTES}], "relation": "left of"}
        got = reading_slots(fake_reading, s)
        assert [set(o) for o in got["objects"]] == [set(o) for o in s["objects"]]
        assert got["relation"] == ("left of" if s["relation"] in ("left of", "above") else "right of")


def test_back_translation_sanity(sets, models):
    for name in ("in_distribution", "paraphrase", "two_objects"):
        cs = sets[name]
        bt = back_translation(scene_generator(sets), cs.captions, cs.slots, models["judge"], models["judge2"])
        assert bt["bleu"] > 97 and bt["slot_match"] > 0.95, (name, bt["bleu"], bt["slot_match"])
    ind = sets["in_distribution"]
    wrong = back_translation(scene_generator(sets, recolour=True), ind.captions, ind.slots, models["judge"])
    noise = back_translation(noise_generator, ind.captions, ind.slots, models["judge"])
    assert wrong["slot_match"] < 0.15 and 20 < wrong["bleu"] < 90
    assert noise["slot_match"] < 0.05 and noise["bleu"] < wrong["bleu"]
    assert set(wrong["bleu_by_lang"]) == {"zh", "en"}
    ex = wrong["examples"][0]
    assert ex["reference"] == caption_from_slots(ind.slots[0])


def test_discriminator_accuracy_with_a_judge_built_scorer(sets, models):
    ind = sets["in_distribution"]
    slots_of = dict(zip(ind.captions, ind.slots))
    def score(images, texts):
        reads = models["judge"].read(images)
        return np.array([1.0 if all(r[k] == v for k, v in slots_of[t]["objects"][0].items()) else -1.0 for r, t in zip(reads, texts)])
    real = render(ind.scenes, 32)
    good = discriminator_accuracy(score, scene_generator(sets), ind.captions, ind.slots, real)
    bad = discriminator_accuracy(score, noise_generator, ind.captions, ind.slots, real)
    assert good["real_right"] > 0.99 and good["real_wrong"] > 0.99 and good["fake_right"] < 0.01
    assert bad["fake_right"] > 0.9
    with pytest.raises(InputError, match="NaN"): discriminator_accuracy(lambda x, t: np.full(len(t), np.nan), noise_generator, ind.captions, ind.slots, real)
    with pytest.raises(InputError, match="one per caption"): discriminator_accuracy(score, noise_generator, ind.captions, ind.slots, real[:3])


def kw(models, sets): return dict(sets=sets, judge=models["judge"], judge2=models["judge2"], counter=models["counter"], dual=models["dual"],
                                  show_progress=False)


def test_evaluate_generator_perfect_vs_noise_and_report(sets, models, tmp_path):
    good, pics = evaluate_generator(scene_generator(sets), 32, **kw(models, sets))
    bad, _ = evaluate_generator(noise_generator, 32, **kw(models, sets))
    for k in ("in_distribution", "heldout_pairs", "paraphrase", "zh", "en"):
        assert min(good["attribute_accuracy"][k][a] for a in ATTRIBUTES) >= 0.99, (k, good["attribute_accuracy"][k])
    assert good["attribute_accuracy"]["two_objects"]["all_named"] >= 0.95
    assert good["r_precision"] >= 0.9 and bad["r_precision"] <= 0.05
    assert good["slot_match"] > 0.99 and bad["slot_match"] < 0.05
    assert bad["fid_judge"] > 100 * good["fid_judge"]
    assert good["discriminator_accuracy"] is None
    assert min(good["judge_real_accuracy"].values()) >= 0.99
    assert set(good["count_accuracy"]) == set(CAPTION_SETS) and min(good["count_accuracy"].values()) >= 0.98, good["count_accuracy"]
    hc = good["heldout_color_shape"]
    assert hc["both_right"] >= 0.98 and hc["in_distribution_product"] >= 0.98
    assert bad["heldout_color_shape"]["both_right"] < 0.2
    out = write_report(tmp_path / "eval", good, pics)
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(saved["judge_real_accuracy"]) == set(ATTRIBUTES)
    assert set(saved["attribute_accuracy"]) == set(CAPTION_SETS) and "all_named" in saved["attribute_accuracy"]["two_objects"]
    for k in ("r_precision", "bleu", "slot_match", "fid_judge", "diversity", "discriminator_accuracy", "count_accuracy", "heldout_color_shape"):
        assert k in saved
    report = (out / "report.md").read_text(encoding="utf-8")
    for png in ["confusion.png", "real_vs_generated.png"] + [f"samples_{k}.png" for k in CAPTION_SETS]:
        assert (out / png).stat().st_size > 1000 and f"({png})" in report


def test_evaluate_generator_64px_and_bad_input(sets, models):
    sets64 = caption_sets(n=120, seed=5, size=64)
    m, _ = evaluate_generator(scene_generator(sets64, size=64), 64, **kw(models, sets64))
    assert m["image_size"] == 64 and m["attribute_accuracy"]["in_distribution"]["color"] >= 0.98
    with pytest.raises(InputError, match="expected 32x32"): evaluate_generator(scene_generator(sets64, size=64), 32, **kw(models, sets64))
    with pytest.raises(InputError, match="uint8"):
        evaluate_generator(lambda t: np.zeros((len(t), 32, 32, 3), np.float32), 32, **kw(models, sets))
    with pytest.raises(InputError, match="one image per caption"):
        evaluate_generator(lambda t: np.zeros((1, 32, 32, 3), np.uint8), 32, **kw(models, sets))
    with pytest.raises(InputError, match="empty"):
        evaluate_generator(scene_generator(sets), 32, **kw(models, {**sets, "en": CaptionSet("en", [], [], [])}))
    with pytest.raises(InputError, match="caption sets missing"):
        evaluate_generator(scene_generator(sets), 32, **kw(models, {"zh": sets["zh"]}))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    "An untrained 32px VAEGAN saved as a run folder (chapter 09's format)."
    import torch
    from t2i_course.data import make_dataset
    from t2i_course.discriminator import Discriminator, DiscriminatorConfig
    from t2i_course.pipeline import save_run
    from t2i_course.text import Vocab
    from t2i_course.text_cnn import TextCNN, TextCNNConfig
    from t2i_course.vae import ConditionalVAE, VAEConfig
    from t2i_course.vaegan import VAEGAN
    torch.manual_seed(0)
    vocab = Vocab.build(make_dataset(300, seed=0).captions)
    tcfg = TextCNNConfig(vocab_size=len(vocab), embed_dim=8, channels=8, out_dim=16)
    model = VAEGAN(ConditionalVAE(VAEConfig(image_size=32, hidden=(8, 16), z_dim=4, text_dim=16), TextCNN(tcfg)),
                   Discriminator(DiscriminatorConfig(image_size=32, hidden=(8, 16), text_dim=16, feature_dim=16)), TextCNN(tcfg))
    return save_run(tmp_path_factory.mktemp("run") / "tiny", model.eval(), vocab)


def test_evaluate_run_writes_metrics_and_report(tiny_run, models, tmp_path):
    out = tmp_path / "eval"
    m = evaluate_run(tiny_run, out, n=120, show_progress=False)
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["run"] == str(tiny_run) and saved["image_size"] == 32
    assert set(saved["discriminator_accuracy"]) == {"real_right", "real_wrong", "fake_right"}
    assert saved["attribute_accuracy"]["in_distribution"]["color"] < 0.5            # an untrained model draws no colours on purpose
    assert (out / "report.md").is_file() and (out / "confusion.png").is_file()
    assert m["fid_judge"] == saved["fid_judge"]
    assert (tiny_run / "model.safetensors").is_file()                               # the run folder itself is untouched


def test_evaluate_run_bad_folders(tiny_run, tmp_path):
    with pytest.raises(InputError, match="run folder not found"): evaluate_run(tmp_path / "nothing", show_progress=False)
    import shutil
    old = tmp_path / "old"
    shutil.copytree(tiny_run, old)
    cfg = json.loads((old / "config.json").read_text())
    (old / "config.json").write_text(json.dumps({**cfg, "version": 99}))
    with pytest.raises(InputError, match="format version 99"): evaluate_run(old, show_progress=False)
    (old / "config.json").unlink()
    with pytest.raises(InputError, match="config.json"): evaluate_run(old, show_progress=False)
