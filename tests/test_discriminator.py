"""Discriminators (t2i_course.discriminator): shapes, logits, losses against hand-computed BCE, wrong texts, a tiny training run.

Run against the installed package: `pytest tests/test_discriminator.py -q`.
"""
import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from t2i_course.core import InputError, set_seed
from t2i_course.data import ATTRIBUTES, caption, make_dataset, to_float, to_tensors
from t2i_course.discriminator import (Discriminator, DiscriminatorConfig, SeedDiscriminator, discriminator_loss,
                                      evaluate_pairs, fake_images, generator_loss, mismatched_indices, pair_accuracy,
                                      score_pairs, train_discriminator, wrong_caption)


def _sig(v): return 1 / (1 + math.exp(-v)) if v > -700 else 0.0


# ---------------------------------------------------------------- import

def test_import_does_not_pull_heavy_optional_modules():
    code = ("import sys, t2i_course.discriminator; "
            "bad = [m for m in ('gensim', 'jieba', 'ipywidgets') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- models

@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("projection", [True, False])
def test_discriminator_shapes(size, projection):
    d = Discriminator(DiscriminatorConfig(image_size=size, projection=projection))
    x, t = torch.randn(2, 3, size, size), torch.randn(2, 64)
    assert d(x, t).shape == (2,)
    assert d.features(x).shape == (2, 128 * (size // 8) ** 2)
    assert d.body(x).shape == (2, 128, size // 8, size // 8)


def test_features_block_and_spectral_norm():
    d = Discriminator(DiscriminatorConfig(feature_block=0, spectral_norm=True))
    assert d.features(torch.randn(3, 3, 32, 32)).shape == (3, 32 * 16 * 16)
    assert d(torch.randn(3, 3, 32, 32), torch.randn(3, 64)).shape == (3,)


@pytest.mark.parametrize("projection", [True, False])
def test_logits_are_unbounded(projection):
    set_seed(0)
    d = Discriminator(DiscriminatorConfig(projection=projection))
    last = d.psi if projection else d.joint[-1]
    with torch.no_grad():
        last.bias.fill_(37.0)
        high = d(torch.randn(4, 3, 32, 32), torch.randn(4, 64))
        last.bias.fill_(-37.0)
        low = d(torch.randn(4, 3, 32, 32), torch.randn(4, 64))
    assert (high > 1).all() and (low < 0).all()                       # no sigmoid inside


def test_projection_term_depends_on_text():
    set_seed(0)
    d = Discriminator(DiscriminatorConfig())
    x = torch.randn(1, 3, 32, 32).expand(2, -1, -1, -1)
    with torch.no_grad(): s = d(x, torch.randn(2, 64))
    assert s[0] != s[1]


def test_config_round_trip_and_errors():
    c = DiscriminatorConfig(image_size=64, hidden=[16, 32], projection=False)
    assert c.hidden == (16, 32) and c.final_size == 16
    assert DiscriminatorConfig(**c.to_dict()) == c
    assert c.to_dict()["hidden"] == [16, 32]
    for bad in (dict(image_size=48), dict(image_size=8), dict(hidden=()), dict(image_size=16, hidden=(4,) * 5),
                dict(text_dim=0), dict(feature_block=3)):
        with pytest.raises(InputError): DiscriminatorConfig(**bad)


def test_discriminator_input_errors():
    d = Discriminator(DiscriminatorConfig())
    with pytest.raises(InputError, match="images must be"): d(torch.randn(2, 3, 64, 64), torch.randn(2, 64))
    with pytest.raises(InputError, match="sentence vectors"): d(torch.randn(2, 3, 32, 32), torch.randn(2, 32))
    with pytest.raises(InputError, match="sentence vectors"): d(torch.randn(2, 3, 32, 32), torch.randn(3, 64))


def test_seed_discriminator_outputs_probabilities():
    d = SeedDiscriminator(3 * 32 * 32 + 64, hidden=32)
    x, t = torch.randn(5, 3, 32, 32), torch.randn(5, 64)
    p = d(x, t)
    assert p.shape == (5,) and ((p > 0) & (p < 1)).all()
    torch.testing.assert_close(torch.sigmoid(d.logits(x, t)), p)
    with pytest.raises(InputError, match="in_dim"): d(x)


# ---------------------------------------------------------------- losses

def test_losses_equal_hand_computed_bce():
    rr, rw, fr = [2.0, -1.0, 0.3], [0.5, -3.0, 1.0], [-2.0, 4.0, 0.0]
    mean = lambda v: sum(v) / len(v)
    real = mean([-math.log(_sig(s)) for s in rr])
    wrong = mean([-math.log(1 - _sig(s)) for s in rw])
    fake = mean([-math.log(1 - _sig(s)) for s in fr])
    T = torch.tensor
    assert discriminator_loss(T(rr), T(rw), T(fr)).item() == pytest.approx(real + 0.5 * (wrong + fake), rel=1e-5)
    assert discriminator_loss(T(rr), None, T(fr)).item() == pytest.approx(real + fake, rel=1e-5)
    assert generator_loss(T(fr)).item() == pytest.approx(mean([-math.log(_sig(s)) for s in fr]), rel=1e-5)


@pytest.mark.parametrize("value", [-1e4, -120.0, -40.0, 40.0, 120.0, 1e4])
def test_losses_finite_with_right_gradient_at_extreme_logits(value):
    s = torch.full((4,), value, requires_grad=True)                    # float32
    loss = generator_loss(s)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(max(-value, 0.0), abs=1e-3)
    expected = (_sig(value) - 1) / 4                                    # d softplus(-s) / ds, averaged over 4
    torch.testing.assert_close(s.grad, torch.full((4,), expected), atol=1e-6, rtol=1e-4)
    a, b, c = (torch.full((4,), value, requires_grad=True) for _ in range(3))
    loss = discriminator_loss(a, b, c)
    loss.backward()
    assert torch.isfinite(loss)
    for g in (a.grad, b.grad, c.grad): assert torch.isfinite(g).all()
    assert (a.grad.abs() + b.grad.abs()).min() > 0.05                   # some term always pushes


def test_pair_accuracy_on_hand_made_logits():
    acc = pair_accuracy(torch.tensor([3.0, -1.0, 2.0, 0.5]), torch.tensor([-2.0, 1.0]), torch.tensor([-5.0, -0.1, 0.2]))
    assert acc["real_right"] == 0.75 and acc["real_wrong"] == 0.5
    assert acc["fake_right"] == pytest.approx(2 / 3)
    assert acc["mean"] == pytest.approx((0.75 + 0.5 + 2 / 3) / 3)
    zero = pair_accuracy(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([0.0]))   # logit 0 is not "real" nor "fake"
    assert zero == {"real_right": 0.0, "real_wrong": 0.0, "fake_right": 0.0, "mean": 0.0}
    with pytest.raises(InputError): pair_accuracy(torch.tensor([]), torch.tensor([1.0]), torch.tensor([1.0]))


# ---------------------------------------------------------------- wrong texts

def test_mismatched_indices_never_identical_and_contradicts_truth():
    ds = make_dataset(300, size=16, seed=5)
    w = mismatched_indices(ds.slots, generator=torch.Generator().manual_seed(0))
    assert w.dtype == torch.long and w.shape == (300,)
    for i, j in enumerate(w.tolist()):
        assert i != j and ds.captions[i] != ds.captions[j]
        o = ds.scenes[i].objects[0]
        assert any(getattr(o, k) != v for k, v in ds.slots[j]["objects"][0].items())


def test_mismatched_indices_deterministic_with_a_generator():
    ds = make_dataset(200, size=16, seed=2)
    a = mismatched_indices(ds.slots, generator=torch.Generator().manual_seed(3))
    b = mismatched_indices(ds.slots, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.equal(mismatched_indices(ds.slots, generator=3), a)           # an int seed works the same
    assert not torch.equal(a, mismatched_indices(ds.slots, generator=4))


def test_mismatched_indices_on_strings_and_two_objects():
    caps = ["a red cube"] * 5 + ["a blue cube"] * 2
    w = mismatched_indices(caps, generator=0)
    assert all(caps[i] != caps[j] for i, j in enumerate(w.tolist()))
    two = make_dataset(150, size=16, n_objects=2, seed=1)
    w2 = mismatched_indices(two.slots, generator=0)
    assert all(two.captions[i] != two.captions[j] for i, j in enumerate(w2.tolist()))


def test_two_object_paraphrase_is_not_a_wrong_text():
    a = {"objects": [{"color": "red", "shape": "cube"}, {"color": "blue", "shape": "sphere"}], "relation": "left of"}
    same = {"objects": [{"color": "blue", "shape": "sphere"}, {"color": "red", "shape": "cube"}], "relation": "right of"}
    swapped = {"objects": [{"color": "red", "shape": "cube"}, {"color": "blue", "shape": "sphere"}], "relation": "right of"}
    with pytest.raises(InputError, match="no other caption"): mismatched_indices([a, same], generator=0)
    assert mismatched_indices([a, same, swapped], generator=0)[0].item() == 2


def test_mismatched_indices_errors():
    with pytest.raises(InputError): mismatched_indices(["only one"])
    with pytest.raises(InputError, match="no other caption"): mismatched_indices(["a cube", "a cube"], generator=0)
    with pytest.raises(InputError): mismatched_indices([{"no": "objects"}, {"no": "objects"}])


def test_wrong_caption_changes_exactly_one_attribute():
    ds = make_dataset(20, size=16, seed=0)
    for sc in ds.scenes:
        right = caption(sc, "en")
        for attr in ATTRIBUTES:
            wrong = wrong_caption(sc, attr, "en", rng=1)
            assert wrong != right and wrong == wrong_caption(sc, attr, "en", rng=1)
    with pytest.raises(InputError): wrong_caption(ds.scenes[0], "texture")
    with pytest.raises(InputError, match="one-object"): wrong_caption(make_dataset(2, size=16, n_objects=2).scenes[0], "color")


def test_fake_images():
    x = to_float(to_tensors(make_dataset(4, size=32, seed=0), show_progress=False)[0])
    blur = fake_images(x)
    assert blur.shape == x.shape
    grad = lambda im: (im[..., 1:] - im[..., :-1]).abs().mean()
    assert grad(blur) < 0.7 * grad(x)                                   # detail is gone
    n1 = fake_images(x, "noise", generator=torch.Generator().manual_seed(0))
    n2 = fake_images(x, "noise", generator=torch.Generator().manual_seed(0))
    assert torch.equal(n1, n2) and n1.abs().max() <= 1
    with pytest.raises(InputError): fake_images(x, "recolour")


# ---------------------------------------------------------------- training



def test_tiny_training_run_beats_chance_on_real_wrong(one_thread):
    from t2i_course.text import Vocab
    from t2i_course.text_cnn import TextCNN, TextCNNConfig
    set_seed(0)
    train, val = make_dataset(800, size=32, seed=0), make_dataset(300, size=32, split="val", seed=0)
    vocab = Vocab.build(train.captions)
    x_tr, _ = to_tensors(train, show_progress=False); x_va, _ = to_tensors(val, show_progress=False)
    ids_tr, _ = vocab.encode_batch(train.captions, min_len=4); ids_va, _ = vocab.encode_batch(val.captions, min_len=4)
    enc = TextCNN(TextCNNConfig(len(vocab), embed_dim=16, channels=32, out_dim=32))
    disc = Discriminator(DiscriminatorConfig(hidden=(8, 16, 32), text_dim=32, feature_dim=64))
    hist = train_discriminator(disc, enc, x_tr, ids_tr, train.slots, epochs=7, batch_size=50, seed=0, show_progress=False)
    assert len(hist) == 7 and set(hist[0]) == {"epoch", "loss", "real_right", "real_wrong", "fake_right"}
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert disc.training and enc.training
    wrong = mismatched_indices(val.slots, generator=0)
    right, wrong_s = score_pairs(disc, enc, x_va, ids_va), score_pairs(disc, enc, x_va, ids_va[wrong])
    assert disc.training and enc.training                               # score_pairs restores the modes
    assert (right > wrong_s).float().mean() > 0.65                      # ranks its own caption above a wrong one
    acc = evaluate_pairs(disc, enc, x_va, ids_va, wrong, fake_images(to_float(x_va)))
    assert acc["real_wrong"] > 0.5 and (acc["real_wrong"] + acc["real_right"]) / 2 > 0.6 and acc["fake_right"] > 0.8, acc


def test_train_discriminator_rejects_misaligned_inputs():
    d, enc = Discriminator(DiscriminatorConfig()), torch.nn.Linear(4, 64)
    with pytest.raises(InputError): train_discriminator(d, enc, torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(3, 4), ["a"] * 4)
    with pytest.raises(InputError, match="batch_size"):
        train_discriminator(d, enc, torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(4, 4), ["a", "b"] * 2, batch_size=8)
