"Object slots in the decoder (chapter 08b, `t2i_course.slots`): each named object's look from t, drawn at a centre learnt from the scenes' true layout."
import csv
import json

import pytest
import torch

from t2i_course.core import InputError
from t2i_course.data import make_dataset, object_layout, to_float, to_tensors
from t2i_course.discriminator import mismatched_indices
from t2i_course.text_cnn import encode_captions
from t2i_course.text import Vocab, tokenize
from t2i_course.text_cnn import caption_targets
from t2i_course.train import Trainer, load_training_data, preset
from t2i_course.vaegan_family import build_model
from t2i_course.slots import LAYOUT_WEIGHT, SlotDecoder, layout_loss, layout_reconstruct, place_slots, slot_cvae_loss
from t2i_course.speed import capturable
from t2i_course.vae import ConditionalVAE, ConvDecoder, VAEConfig
from t2i_course.vaegan import vaegan_step, vaegan_update

pytestmark = pytest.mark.usefixtures("one_thread")
QUIET = dict(show_progress=False, log=lambda s: None)


def test_object_layout_gives_the_named_objects_centres_in_the_caption_order():
    ds = make_dataset(300, size=16, n_objects=2, seed=5)
    xy, mask = object_layout(ds.scenes, ds.slots)
    assert xy.shape == (300, 2, 2) and mask.tolist() == [[1.0, 1.0]] * 300
    for (a, b), s, sc in zip(xy.tolist(), ds.slots, ds.scenes):
        first, second = (sc.objects[j] for j in s["indices"])
        assert a == pytest.approx([first.x, first.y]) and b == pytest.approx([second.x, second.y])
        assert sc.relation(*s["indices"]) == s["relation"]                       # slot 0 is the object the caption names first
    one = make_dataset(4, size=16, seed=0)
    xy1, mask1 = object_layout(one.scenes, one.slots, n_objects=2)
    assert mask1.tolist() == [[1.0, 0.0]] * 4 and xy1[:, 1].abs().sum() == 0
    with pytest.raises(InputError, match="4 scenes but 3 slot records"): object_layout(one.scenes, one.slots[:3])
    with pytest.raises(InputError, match="n_objects must be a positive integer"): object_layout(one.scenes, one.slots, 0)


def test_place_slots_puts_each_look_at_its_centre_and_passes_gradients_to_the_centres():
    look = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])                              # slot 0 draws channel 0, slot 1 channel 1
    xy = torch.tensor([[[0.1, 0.9], [0.9, 0.1]]], requires_grad=True)            # bottom left, top right
    m = place_slots(look, xy)
    assert m.shape == (1, 2, 4, 4)
    assert divmod(int(m[0, 0].argmax()), 4) == (3, 0) and divmod(int(m[0, 1].argmax()), 4) == (0, 3)
    m[0, 0, 0, 0].backward()                                                     # pulling slot 0's blob up moves its centre up
    assert xy.grad[0, 0, 1] < 0 and xy.grad[0, 1].abs().sum() == 0


def test_layout_loss_counts_only_the_named_slots():
    xy = torch.tensor([[[0.5, 0.5], [0.0, 0.0]], [[0.2, 0.2], [0.9, 0.9]]])
    target = torch.tensor([[[0.5, 0.8], [1.0, 1.0]], [[0.2, 0.2], [0.9, 0.5]]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert layout_loss(xy, target, mask).item() == pytest.approx((0.09 + 0.0 + 0.16) / 3)
    assert layout_loss(xy, target, torch.zeros(2, 2)).item() == 0.0


def test_a_decoder_without_object_slots_is_the_one_it_was():
    torch.manual_seed(0); plain = ConvDecoder(VAEConfig(), cond_dim=64)
    torch.manual_seed(0); slotless = SlotDecoder(VAEConfig(), cond_dim=64)
    assert slotless.objects == 0 and slotless.state_dict().keys() == plain.state_dict().keys()
    z, t = torch.randn(2, 16), torch.randn(2, 64)
    x, xy = slotless(z, t, return_layout=True)
    assert torch.equal(x, plain(z, t)) and xy is None
    assert SlotDecoder(VAEConfig(objects=2)).objects == 0                        # no condition, nothing to draw slots from
    with pytest.raises(InputError, match="pass the sentence vector t"): SlotDecoder(VAEConfig(objects=2), cond_dim=64)(z)
    for bad in (3, -1, 1.5, "2", True):
        with pytest.raises(InputError, match="objects .* must be 0, 1 or 2"): VAEConfig(objects=bad)


def test_the_cvae_builds_the_slot_decoder_only_when_asked_and_the_same_weights_as_before():
    from t2i_course.text_cnn import TextCNN, TextCNNConfig
    te = lambda: TextCNN(TextCNNConfig(vocab_size=20, out_dim=64))
    assert type(ConditionalVAE(VAEConfig(), te()).decoder) is ConvDecoder
    with pytest.raises(InputError, match="objects=2 asks for a decoder with object slots: pass decoder_class"): ConditionalVAE(VAEConfig(objects=2), te())
    torch.manual_seed(0); cvae = ConditionalVAE(VAEConfig(objects=2), te(), decoder_class=SlotDecoder)
    assert type(cvae.decoder) is SlotDecoder and cvae.decoder.objects == 2
    keys = set(cvae.decoder.state_dict())
    assert {"slot_where.0.weight", "slot_where.2.weight", "slot_looks.0.weight", "slot_looks.1.weight"} <= keys   # run folders keep loading


def _world(n=256, size=16, seed=0):
    one, two = make_dataset(n // 2, size=size, seed=seed), make_dataset(n // 2, size=size, n_objects=2, seed=seed)
    captions, slots = one.captions + two.captions, one.slots + two.slots
    x = torch.cat([to_tensors(d, show_progress=False)[0] for d in (one, two)])
    xy, mask = (torch.cat(v) for v in zip(object_layout(one.scenes, one.slots), object_layout(two.scenes, two.slots)))
    return x, captions, slots, xy, mask


def test_the_layout_loss_teaches_the_slots_where_the_objects_are():
    x, captions, slots, xy, mask = _world()
    cfg = preset("tiny").with_overrides({"vae.objects": 2})
    vocab = Vocab.build([tokenize(c) for c in captions])
    torch.manual_seed(0)
    cvae = build_model(cfg, vocab, aux=False).cvae
    ids = encode_captions([tokenize(c) for c in captions], vocab, cvae.text_encoder)
    opt = torch.optim.Adam(cvae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    first = last = None
    for step in range(150):
        b = torch.randint(len(x), (64,), generator=g)
        l = slot_cvae_loss(cvae, to_float(x[b]), ids[b], (xy[b], mask[b]), beta=2.0)
        assert l["total"].item() == pytest.approx(l["recon"].item() + 2.0 * l["kl"].item() + 1000.0 * l["layout"].item(), rel=1e-4)
        opt.zero_grad(); l["total"].backward(); opt.step()
        first = first if first is not None else l["layout"].item()
        last = l["layout"].item()
    assert last < 0.25 * first, (first, last)                                    # the centres moved onto the objects
    assert "layout" not in cvae.training_loss(to_float(x[:4]), ids[:4])         # the plain loss has no layout term
    assert LAYOUT_WEIGHT == 1000.0


def test_vaegan_update_with_a_layout_static_equals_eager():
    x, captions, slots, xy, mask = _world(96)
    cfg = preset("tiny").with_overrides({"vae.objects": 2})
    vocab = Vocab.build([tokenize(c) for c in captions])
    models = []
    for _ in range(2):
        torch.manual_seed(0); models.append(build_model(cfg, vocab, aux=True, aux_objects=2))
    ids = encode_captions([tokenize(c) for c in captions], vocab, models[0].cvae.text_encoder)
    wrong, targets = ids[mismatched_indices(slots, generator=0)], caption_targets(slots, 2, order="reading")
    xf = to_float(x)
    torch.manual_seed(1)
    la = vaegan_step(models[0], xf, ids, wrong, generator=torch.Generator().manual_seed(1), targets=targets, reconstruct=layout_reconstruct((xy, mask)))
    torch.manual_seed(1)
    lb = vaegan_update(capturable(models[1]), xf, ids, wrong, generator=torch.Generator().manual_seed(1), targets=targets,
                       reconstruct=layout_reconstruct((xy, mask)))
    assert la["layout"] > 0 and set(la) == set(lb)
    for k in la: assert la[k] == pytest.approx(float(lb[k]), rel=1e-5, abs=1e-6), k
    assert "layout" not in vaegan_step(models[0], xf, ids, wrong, targets=targets)


def test_trainer_with_decoder_objects_learns_the_layout_saves_and_generates(tmp_path):
    from t2i_course.pipeline import TextToImage
    cfg = preset("tiny", two_objects=0.5, threads=1).with_overrides({"vae.objects": 2})
    assert load_training_data(cfg).layout[1].sum().item() == 256 + 128         # every caption names slot 0; the two-object half slot 1
    t = Trainer(cfg, tmp_path / "run", **QUIET)
    assert t.family.layout[0].shape == (256, 2, 2)
    t.run()
    rows = list(csv.DictReader(open(tmp_path / "run" / "logs" / "train.csv")))
    assert all(float(r["layout"]) >= 0 for r in rows if r["phase"] in ("cvae", "gan")) and all(r["layout"] == "" for r in rows if r["phase"] == "text")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["vae"]["objects"] == 2
    t2i = TextToImage.load(tmp_path / "run")
    assert t2i.model.cvae.decoder.objects == 2
    assert t2i.generate(["一个红色的球体在一个蓝色的立方体的左边", "a red sphere"], n=2, seed=0).shape == (4, 16, 16, 3)
    assert Trainer(None, tmp_path / "run", resume=True, **QUIET).family.model.cvae.decoder.objects == 2
    with pytest.raises(InputError, match=r"vae: objects \(object slots in the decoder\) must be 0, 1 or 2"): preset("tiny").with_overrides({"vae.objects": 3})
    with pytest.raises(InputError, match=r"must be 0, 1 or 2"): preset("tiny").with_overrides(["vae.objects=-1"])
    assert preset("gpu").vae.objects == 2 and preset("cpu").vae.objects == 2     # both presets draw each named object in its slot
    vocab = Vocab.build([["a"]])
    assert [build_model(preset(n), vocab, aux=False).config.layout_weight for n in ("cpu", "gpu")] == [1000.0, 4000.0]   # 32 px, 64 px


def test_decoder_objects_without_a_layout_still_train(tmp_path):
    data = load_training_data(preset("tiny"))
    data.layout = None                                                           # a folder or COCO: no layout is known
    said = []
    t = Trainer(preset("tiny", threads=1).with_overrides({"vae.objects": 1}), tmp_path / "run", show_progress=False, log=said.append, data=data)
    assert t.family.layout is None and any("no object layout is known" in s for s in said)
    assert t.run()["status"] == "finished"


def test_the_slot_losses_say_so_when_the_decoder_has_no_slots():
    x, captions, slots, xy, mask = _world(16)
    vocab = Vocab.build([tokenize(c) for c in captions])
    cvae = build_model(preset("tiny"), vocab, aux=False).cvae
    ids = encode_captions([tokenize(c) for c in captions], vocab, cvae.text_encoder)
    with pytest.raises(InputError, match="object slots"): slot_cvae_loss(cvae, to_float(x), ids, (xy, mask))
    with pytest.raises(InputError, match="object slots"): layout_reconstruct((xy, mask))(cvae.decoder, torch.zeros(16, cvae.config.z_dim), cvae.text_encoder(ids))
