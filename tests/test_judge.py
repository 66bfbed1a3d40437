"""The judge of chapter 10: shapes, reading both image formats, seeded training, the safetensors cache, bad input."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from t2i_course.core import InputError, set_seed
from t2i_course.data import RELATIONS, Scene, SceneObject, render, sample_scenes, to_float
from t2i_course.evaluate import (Judge, JudgeConfig, canonical_order, confusion_matrix, judge_accuracy, judge_data,
                                 load_judge, load_or_train_judge, save_judge, scene_labels, train_judge)
import t2i_course.evaluate as ev
import t2i_course.judges as judges_module   # where load_or_train_judge looks up train_judge

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py

TINY = JudgeConfig(channels=(4, 8), feature_dim=16)


def test_shapes():
    set_seed(0)
    out = Judge(TINY)(torch.zeros(3, 3, 32, 32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"color": (3, 8), "shape": (3, 3), "size": (3, 2),
                                                            "material": (3, 2), "position": (3, 9)}
    j2 = Judge(JudgeConfig(n_objects=2, channels=(4, 8), feature_dim=16))
    out2 = j2(torch.zeros(2, 3, 32, 32))
    assert len(out2) == 11 and out2["relation"].shape == (2, 4) and out2["b.position"].shape == (2, 9)
    assert Judge(TINY).features(torch.zeros(2, 3, 32, 32)).shape == (2, 16)
    assert Judge(JudgeConfig(image_size=64, channels=(4, 8), feature_dim=16))(torch.zeros(1, 3, 64, 64))["color"].shape == (1, 8)


def test_config_roundtrip_and_errors():
    c = JudgeConfig(image_size=64, n_objects=2, channels=(8, 16), feature_dim=32)
    assert JudgeConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    for bad in (dict(image_size=30), dict(n_objects=3), dict(channels=()), dict(feature_dim=0)):
        with pytest.raises(InputError): JudgeConfig(**bad)
    with pytest.raises(InputError, match="JudgeConfig: unknown key .size."): JudgeConfig.from_dict({"size": 32})


def test_read_both_input_kinds():
    set_seed(0)
    judge = Judge(TINY)
    images, _ = judge_data(5, seed=3)
    r_uint8 = judge.read(images)
    r_float = judge.read(to_float(torch.from_numpy(images).permute(0, 3, 1, 2)))
    assert r_uint8 == r_float and len(r_uint8) == 5
    assert set(r_uint8[0]) == {"color", "shape", "size", "material", "position"}
    assert judge.read(images[0])[0] == r_uint8[0]                                 # one image without N
    j2 = Judge(JudgeConfig(n_objects=2, channels=(4, 8), feature_dim=16))
    r2 = j2.read(judge_data(2, n_objects=2, seed=1)[0])
    assert set(r2[0]) == {"objects", "relation"} and len(r2[0]["objects"]) == 2 and r2[0]["relation"] in RELATIONS


@pytest.mark.parametrize("bad, msg", [(np.zeros((2, 16, 16, 3), np.uint8), "32x32"), (np.zeros((2, 32, 32, 3), np.int32), "uint8 or floating"),
                                      (np.zeros((2, 32, 32, 4), np.uint8), "(N, H, W, 3)"), (torch.zeros(2, 32, 32, 3), "(N, 3, H, W)"),
                                      (np.zeros((0, 32, 32, 3), np.uint8), "N > 0"), ([1, 2], "numpy array")])
def test_read_bad_input(bad, msg):
    with pytest.raises(InputError, match=msg.replace("(", r"\(").replace(")", r"\)")): Judge(TINY).read(bad)


def test_labels_and_canonical_order():
    a = SceneObject("red", "cube", "small", "metal", 0.8, 0.5)
    b = SceneObject("blue", "sphere", "large", "rubber", 0.3, 0.55)
    sc = Scene((a, b))
    assert canonical_order(sc) == [1, 0]                                          # the left one is A
    y = scene_labels([sc], 2)
    assert int(y["a.color"][0]) == 2 and int(y["b.color"][0]) == 1 and RELATIONS[int(y["relation"][0])] == "left of"
    up = Scene((SceneObject("red", "cube", "small", "metal", 0.52, 0.8), SceneObject("blue", "sphere", "small", "rubber", 0.5, 0.2)))
    assert canonical_order(up) == [1, 0] and up.relation(1, 0) == "above"          # vertical pair: the upper one is A
    with pytest.raises(InputError, match="1 object"): scene_labels([sc], 1)
    with pytest.raises(InputError, match="images but"): judge_accuracy(Judge(TINY), np.zeros((2, 32, 32, 3), np.uint8), [sc])


def test_training_is_deterministic():
    kw = dict(n=256, steps=4, batch_size=32, eval_n=64, show_progress=False)
    j1, r1 = train_judge(TINY, seed=3, **kw)
    j2, r2 = train_judge(TINY, seed=3, **kw)
    for (k, v), (k2, v2) in zip(j1.state_dict().items(), j2.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    assert r1["accuracy"] == r2["accuracy"]
    j3, _ = train_judge(TINY, seed=4, **kw)
    assert not torch.equal(j1.heads["color"].weight, j3.heads["color"].weight)
    with pytest.raises(InputError, match="steps"): train_judge(TINY, steps=0, show_progress=False)


def test_short_training_beats_chance_on_colour():
    judge, report = train_judge(JudgeConfig(), n=3000, steps=120, seed=0, eval_n=500, show_progress=False)
    acc = report["accuracy"]
    assert set(acc) == {"color", "shape", "size", "material", "position"}
    assert acc["color"] > 0.5, acc                                                # chance is 0.125
    held = sample_scenes(300, seed=7, only=[("red", "cube"), ("blue", "sphere")])
    cm = confusion_matrix(judge, render(held, 32), held, "color")
    assert cm.shape == (8, 8) and cm.sum() == 300


def test_save_load_roundtrip(tmp_path):
    set_seed(0)
    judge = Judge(TINY).eval()
    save_judge(judge, tmp_path / "j", {"accuracy": {"color": 0.5}})
    assert sorted(p.name for p in (tmp_path / "j").iterdir()) == ["judge.json", "model.safetensors"]
    back = load_judge(tmp_path / "j")
    assert back.config == TINY and back.report == {"accuracy": {"color": 0.5}}
    x = torch.randn(3, 3, 32, 32)
    assert torch.equal(judge(x)["color"], back(x)["color"])


def test_cache_second_call_loads(monkeypatch, tmp_path):
    monkeypatch.setenv("T2I_COURSE_CACHE", str(tmp_path))
    monkeypatch.setitem(ev.RECIPES, 1, dict(n=256, steps=3, batch_size=32, eval_n=64))
    j1 = load_or_train_judge(32, show_progress=False)
    folders = list((tmp_path / "judges").iterdir())
    assert len(folders) == 1 and (folders[0] / "model.safetensors").is_file()
    def no_training(*a, **k): raise AssertionError("trained again instead of loading the cache")
    monkeypatch.setattr(judges_module, "train_judge", no_training)
    j2 = load_or_train_judge(32, show_progress=False)
    assert j2.report["steps"] == 3
    x = torch.randn(2, 3, 32, 32)
    assert all(torch.equal(a, b) for a, b in zip(j1.predict(x).values(), j2.predict(x).values()))
    with pytest.raises(AssertionError, match="trained again"):                   # another recipe is another cache entry
        load_or_train_judge(32, steps=5, show_progress=False)


@pytest.mark.parametrize("damage", ["weights", "json", "missing"])
def test_corrupt_cache_warns_and_retrains(monkeypatch, tmp_path, damage):
    monkeypatch.setitem(ev.RECIPES, 1, dict(n=256, steps=3, batch_size=32, eval_n=64))
    load_or_train_judge(32, cache=tmp_path, show_progress=False)
    (folder,) = tmp_path.iterdir()
    if damage == "weights": (folder / "model.safetensors").write_bytes(b"\x00garbage")
    elif damage == "json": (folder / "judge.json").write_text("{not json", encoding="utf-8")
    else: (folder / "model.safetensors").unlink()
    with pytest.raises(InputError): load_judge(folder)
    with pytest.warns(UserWarning, match="training it again"):
        j = load_or_train_judge(32, cache=tmp_path, show_progress=False)
    assert isinstance(j, Judge)
    load_judge(folder)                                                            # repaired


def test_load_judge_errors(tmp_path):
    with pytest.raises(InputError, match="missing"): load_judge(tmp_path)
    save_judge(Judge(TINY), tmp_path / "j")
    meta = json.loads((tmp_path / "j" / "judge.json").read_text())
    (tmp_path / "j" / "judge.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(InputError, match="version"): load_judge(tmp_path / "j")
    (tmp_path / "j" / "judge.json").write_text(json.dumps({**meta, "config": {**meta["config"], "feature_dim": 8}}))
    with pytest.raises(InputError, match="do not fit"): load_judge(tmp_path / "j")


def test_import_is_light():
    code = "import sys, t2i_course.evaluate; bad = [m for m in ('gensim', 'jieba', 'ipywidgets') if m in sys.modules]; assert not bad, bad"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_counting_judge_config_labels_and_reading():
    "JudgeConfig(n_objects=0) counts 1 to 3 objects: one 'count' head, labels from the scene's object count, read as ints."
    c = JudgeConfig(n_objects=0, channels=(4, 8), feature_dim=16)
    assert JudgeConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    images, scenes = judge_data(30, n_objects=0, seed=2)
    counts = [len(s.objects) for s in scenes]
    assert set(counts) == {1, 2, 3}
    assert scene_labels(scenes, 0)["count"].tolist() == [k - 1 for k in counts]
    set_seed(0)
    read = Judge(c).read(images)
    assert all(set(r) == {"count"} and r["count"] in (1, 2, 3) for r in read)
    four = sample_scenes(2, n_objects=4, seed=0)
    with pytest.raises(InputError, match="1 to 3 objects"): scene_labels(four, 0)
    assert ev.judge_cache_key(JudgeConfig(n_objects=0), ev.RECIPES[0]).startswith("judge-32px-count-")


def test_shipped_counting_judge_counts_real_renders():
    "The shipped counting judge: >= 99 % right on fresh renders of 1, 2 and 3 objects, each count on its own."
    counter = load_or_train_judge(32, 0)
    images, scenes = judge_data(1500, n_objects=0, seed=90_000)
    read = np.array([r["count"] for r in counter.read(images)])
    truth = np.array([len(s.objects) for s in scenes])
    for k in (1, 2, 3): assert np.mean(read[truth == k] == k) >= 0.99, k
