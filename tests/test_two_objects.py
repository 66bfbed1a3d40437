"Training on two-object scenes: the 11 targets (object A = the left or upper one, B, their relation), the heads that read them, the trainer's two_objects share."
import json

import pytest
import torch
import torch.nn.functional as F

from t2i_course.core import InputError
from t2i_course.data import Scene, SceneObject, caption_slots, make_dataset
from t2i_course.evaluate import canonical_order, head_names
from t2i_course.text_cnn import SLOT_CLASSES, SLOT_NAMES, AttributeHead, attribute_loss, caption_targets, slot_classes
from t2i_course.train import TWO_OBJECT_PROMPTS, Trainer, load_training_data, preset
from t2i_course.speed import StaticAuxClassifier
from t2i_course.vaegan import AuxClassifier, VAEGANConfig

pytestmark = pytest.mark.usefixtures("one_thread")
QUIET = dict(show_progress=False, log=lambda s: None)


def _named(row, part):
    heads = slot_classes(2)
    return {n: heads[f"{part}.{n}"][row[5 * "ab".index(part) + j]] for j, n in enumerate(SLOT_NAMES) if row[5 * "ab".index(part) + j]}


def test_two_object_targets_in_caption_order_and_in_reading_order():
    ds = make_dataset(120, size=16, n_objects=2, seed=3)
    heads = slot_classes(2)
    said_y, read_y = caption_targets(ds.slots, n_objects=2), caption_targets(ds.slots, n_objects=2, order="reading")
    assert said_y.shape == read_y.shape == (120, 11) and list(heads) == list(head_names(2))   # the judge's heads, in its order
    relations = set()
    for said, read, scene, s in zip(said_y.tolist(), read_y.tolist(), ds.scenes, ds.slots):
        assert [_named(said, "a"), _named(said, "b")] == s["objects"] and heads["relation"][said[10]] == s["relation"]   # as the caption says
        order = canonical_order(scene)                                             # the left (or upper) object first, as the judge reads
        named = dict(zip(s["indices"], s["objects"]))                              # scene index -> the slots the caption names
        assert [_named(read, "a"), _named(read, "b")] == [named[k] for k in order]
        assert heads["relation"][read[10]] == scene.relation(order[0], order[1]) in ("left of", "above")
        relations.add(s["relation"])
    assert relations == {"left of", "right of", "above", "below"}                  # every caption relation was checked


def test_one_object_rows_are_the_five_slots_then_zeros():
    ds = make_dataset(30, size=16, seed=1)
    for order in ("caption", "reading"):
        assert torch.equal(caption_targets(ds.slots, n_objects=2, order=order), F.pad(caption_targets(ds.slots), (0, 6)))


def test_caption_targets_two_object_errors():
    two = Scene([SceneObject("red", "sphere", "large", "metal", 0.2, 0.2), SceneObject("blue", "cube", "small", "rubber", 0.8, 0.8)])
    s = caption_slots(two, "en")[1]
    with pytest.raises(InputError, match="n_objects=2"): caption_targets([s])
    with pytest.raises(InputError, match="relation"): caption_targets([{**s, "relation": None}], n_objects=2)
    with pytest.raises(InputError, match="relation"): caption_targets([{**s, "relation": "inside"}], n_objects=2)
    with pytest.raises(InputError, match="names 3 objects"): caption_targets([{"objects": [{"color": "red"}] * 3, "relation": "above"}], n_objects=2)
    with pytest.raises(InputError, match="1 or 2"): caption_targets([s], n_objects=3)
    with pytest.raises(InputError, match="'caption' or 'reading'"): caption_targets([s], n_objects=2, order="left first")
    with pytest.raises(InputError, match="unknown"): caption_targets([{"objects": [{"color": "red"}, {"colour": "blue"}], "relation": "above"}], n_objects=2)


def test_attribute_head_for_two_objects():
    head = AttributeHead(12, n_objects=2)
    out = head(torch.randn(4, 12))
    assert list(out) == list(slot_classes(2)) and [v.shape for v in out.values()] == [(4, len(c)) for c in slot_classes(2).values()]
    y = caption_targets(make_dataset(4, size=16, n_objects=2, seed=0).slots, n_objects=2)
    perfect = {k: F.one_hot(y[:, j], len(c)).float() * 30 for j, (k, c) in enumerate(slot_classes(2).items())}
    assert attribute_loss(perfect, y).item() < 1e-6
    assert list(AttributeHead(12)(torch.randn(1, 12))) == list(SLOT_CLASSES)      # the one-object head is unchanged


def test_aux_classifier_for_two_objects_masks_what_no_caption_names():
    torch.manual_seed(0)
    aux = AuxClassifier(32, n_objects=2)
    h = torch.randn(10, 8, 2, 2)
    mixed = torch.cat([caption_targets(make_dataset(5, size=16, seed=0).slots, 2, "reading"),
                       caption_targets(make_dataset(5, size=16, n_objects=2, seed=0).slots, 2, "reading")])
    assert torch.isclose(aux.loss(h, mixed), StaticAuxClassifier.loss(aux, h, mixed), rtol=1e-6)
    one = mixed[:5]                                                                  # one-object captions: B and the relation unnamed
    logits = aux(h[:5])
    expect = sum(F.cross_entropy(logits[j][one[:, j] > 0], one[one[:, j] > 0, j]) for j in range(5) if (one[:, j] > 0).any()) / 5
    assert not (one[:, 5:] > 0).any()
    assert torch.isclose(aux.loss(h[:5], one), expect) and torch.isclose(StaticAuxClassifier.loss(aux, h[:5], one), expect, rtol=1e-6)
    five = AuxClassifier(32)                                                         # one object's loss weighs as much as in a 5-head classifier
    five.linear.weight.data, five.linear.bias.data = aux.linear.weight.data[:sum(five.sizes)], aux.linear.bias.data[:sum(five.sizes)]
    assert torch.isclose(five.loss(h[:5], one[:, :5]), expect)
    assert StaticAuxClassifier.loss(aux, h, torch.zeros_like(mixed)).item() == 0.0


def test_a_model_config_from_before_two_objects_reads_one_object():
    old = {k: v for k, v in VAEGANConfig(aux=True).to_dict().items() if k != "aux_objects"}
    assert VAEGANConfig.from_dict(old, "vaegan").aux_objects == 1


def test_training_data_mixes_the_share_of_two_object_scenes():
    d = load_training_data(preset("tiny", two_objects=0.25))
    counts = [len(s["objects"]) for s in d.slots]
    assert len(d) == len(d.images) == 256 and counts.count(2) == 64 and counts.count(1) == 192
    assert all(s["relation"] in ("left of", "right of", "above", "below") for s in d.slots if len(s["objects"]) == 2)
    with pytest.raises(InputError, match=r"two_objects must be a number in \[0, 1\]"): preset("tiny", two_objects=-0.1)
    with pytest.raises(InputError, match="world only"): preset("tiny", two_objects=0.5, data="some/folder")


def test_trainer_with_two_objects_trains_saves_and_resumes(tmp_path, monkeypatch):
    from t2i_course.pipeline import TextToImage
    cfg = preset("tiny", two_objects=0.5, threads=1)
    t = Trainer(cfg, tmp_path / "run", **QUIET)
    assert t.family.targets.shape == t.family.aux_targets.shape == (256, 11) and len(t.family.model.aux.sizes) == 11 and len(t.family.attr_head.classes) == 11
    two = [i for i, s in enumerate(t.data.slots) if len(s["objects"]) == 2 and s["relation"] in ("right of", "below")]
    assert two and all(t.family.targets[i, 10] != t.family.aux_targets[i, 10] for i in two)         # the text head reads the caption, the aux classifier the image
    t.run()
    m = json.loads((tmp_path / "run" / "config.json").read_text())["model"]["vaegan"]
    assert m["aux"] and m["aux_objects"] == 2
    t2i = TextToImage.load(tmp_path / "run")
    img = t2i.generate(["一个红色的球体在一个蓝色的立方体的左边", "a red sphere"], n=2, seed=0)
    assert img.shape == (4, 16, 16, 3)
    r = Trainer(None, tmp_path / "run", resume=True, **QUIET)                       # the run's own config: the same 11 heads come back
    assert r.step == cfg.total_steps and len(r.family.model.aux.sizes) == 11
    import t2i_course.train as train_module
    shown = []
    monkeypatch.setattr(train_module, "show_images", lambda images, captions, **kw: shown.append((len(images), captions)))
    r.save_samples()                                                                 # the sample grid asks for two objects too
    assert shown[0][0] == 2 * 10 and TWO_OBJECT_PROMPTS[0] in shown[0][1]
