"""VAE-GAN: the three-update step, its losses, the sharpness metric, and bad input."""
import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

from t2i_course.core import InputError, set_seed
from t2i_course.discriminator import Discriminator, DiscriminatorConfig
from t2i_course.text_cnn import TextCNN, TextCNNConfig
from t2i_course.vae import ConditionalVAE, VAEConfig
from t2i_course.vaegan import (VAEGAN, VAEGANConfig, feature_reconstruction_loss, sharpness, train_vaegan,
                               vaegan_step)

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py




def make_model(size=32, seed=0, **kw):
    set_seed(seed)
    tcfg = TextCNNConfig(vocab_size=30, embed_dim=8, channels=8, out_dim=16)
    vcfg = VAEConfig(image_size=size, hidden=(8, 16), z_dim=4, text_dim=16)
    dcfg = DiscriminatorConfig(image_size=size, hidden=(8, 16), text_dim=16, feature_dim=16)
    return VAEGAN(ConditionalVAE(vcfg, TextCNN(tcfg)), Discriminator(dcfg), TextCNN(tcfg), VAEGANConfig(**kw))


def batch(b=6, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    ids = torch.randint(2, 30, (b, 5), generator=g)
    return x, ids, ids.flip(0)


def params(m): return {n: p.detach().clone() for n, p in m.named_parameters()}


def test_step_updates_each_group_from_its_own_loss():
    m = make_model(); x, ids, wrong = batch()
    before = params(m)
    out = vaegan_step(m, x, ids, wrong)
    after = params(m)
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    for prefix in ("cvae.encoder.", "cvae.prior.", "cvae.decoder.", "cvae.text_encoder.", "disc.", "disc_text."):
        assert any(n.startswith(prefix) for n in changed), prefix
    assert set(out) >= {"dis", "kl", "llike", "pixel", "gan", "d_real_right", "d_real_wrong", "d_fake_right"}
    assert all(np.isfinite(v) for v in out.values())
    assert all(p.requires_grad for p in m.disc.parameters())          # the discriminator is unfrozen again


def test_decoder_does_not_receive_encoder_loss_gradients():
    # With adversarial=0, gamma=0 and pixel=0 the decoder's loss is zero: the decoder must not move,
    # although the encoder's loss (KL + feature reconstruction) depends on the decoder's output.
    m = make_model(adversarial=0.0, gamma=0.0, pixel=0.0)
    x, ids, wrong = batch()
    dec_before = {n: p.detach().clone() for n, p in m.cvae.decoder.named_parameters()}
    enc_before = {n: p.detach().clone() for n, p in m.cvae.encoder.named_parameters()}
    vaegan_step(m, x, ids, wrong)
    assert all(torch.equal(dec_before[n], p) for n, p in m.cvae.decoder.named_parameters())
    assert any(not torch.equal(enc_before[n], p) for n, p in m.cvae.encoder.named_parameters())


def test_training_is_deterministic_with_a_seed():
    x, ids, _ = batch(16)
    images = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    captions = [f"caption {i}" for i in range(16)]
    runs = []
    for _ in range(2):
        m = make_model()
        h = train_vaegan(m, images, ids, captions, steps=3, batch_size=8, seed=3, show_progress=False)
        runs.append((h, params(m)))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(runs[0][1][n], runs[1][1][n]) for n in runs[0][1])
    assert not m.training                                              # left in eval mode


def test_sample_shapes_at_several_sizes():
    for size in (32, 64):
        m = make_model(size=size).eval()
        out = m.sample(torch.randint(2, 30, (2, 4)), n=3, generator=torch.Generator().manual_seed(0))
        assert out.shape == (6, 3, size, size) and out.min() >= -1 and out.max() <= 1


def test_feature_reconstruction_loss():
    f = torch.randn(4, 10)
    assert torch.allclose(feature_reconstruction_loss(f, f), torch.zeros(4))
    d = feature_reconstruction_loss(f + 0.5, f)
    assert torch.allclose(d, torch.full((4,), 0.5 * 0.25))


def test_sharpness_orders_sharp_and_blurred_images():
    rng = np.random.default_rng(0)
    sharp = np.zeros((4, 32, 32, 3), np.uint8); sharp[:, :, 16:] = 255     # a hard edge
    ramp = np.linspace(0, 255, 32)[None, None, :, None].repeat(32, 1).repeat(3, 3).repeat(4, 0).astype(np.uint8)
    assert sharpness(sharp) > 10 * sharpness(ramp)
    assert sharpness(np.zeros((2, 16, 16, 3), np.uint8)) == 0.0
    x = torch.from_numpy(sharp).permute(0, 3, 1, 2).float() / 127.5 - 1     # the same images as floats in [-1, 1]
    assert abs(sharpness(x) - sharpness(sharp)) < 1e-6
    with pytest.raises(InputError, match="expected images"):
        sharpness(torch.zeros(2, 1, 8, 8))


def test_bad_input():
    m = make_model()
    with pytest.raises(InputError, match="differ in length"):
        train_vaegan(m, torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(3, 5, dtype=torch.long), ["a"] * 4, steps=1)
    with pytest.raises(InputError, match="positive"):
        train_vaegan(m, torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.zeros(4, 5, dtype=torch.long), ["a", "b", "c", "d"], steps=0)
    tcfg = TextCNNConfig(vocab_size=30, embed_dim=8, channels=8, out_dim=16)
    with pytest.raises(InputError, match="px"):
        VAEGAN(ConditionalVAE(VAEConfig(image_size=32, hidden=(8,), z_dim=4, text_dim=16), TextCNN(tcfg)),
               Discriminator(DiscriminatorConfig(image_size=64, hidden=(8,), text_dim=16)), TextCNN(tcfg))


def test_import_does_not_pull_gensim_jieba_or_widgets():
    code = "import sys, t2i_course.vaegan, t2i_course.vae; print(sorted(m for m in ('gensim', 'jieba', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
