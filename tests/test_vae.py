"""VAE pieces (t2i_course.vae): our KL against torch.distributions, losses, reparameterisation, shapes at 32/64/128,
determinism with a seed, the documented errors, and a light import.

Run against the installed package: `pytest tests/test_vae.py -q`.
"""
import math
import subprocess
import sys

import pytest
import torch
from torch.distributions import Independent, Normal
from torch.distributions import kl_divergence as torch_kl

from t2i_course.core import InputError, set_seed
from t2i_course.text_cnn import TextCNN, TextCNNConfig
from t2i_course.vae import (ConditionalPrior, ConditionalVAE, ConvDecoder, ConvEncoder, CVAEOutput, SeedVAE, VAEConfig,
                            VAEOutput, kl_divergence, reconstruction_loss, reparameterize, train_vae)

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py

VOCAB = 30




def text_encoder(out_dim=64):
    return TextCNN(TextCNNConfig(vocab_size=VOCAB, embed_dim=8, channels=8, out_dim=out_dim))


def ids(b=2, t=6, seed=0):
    return torch.randint(2, VOCAB, (b, t), generator=torch.Generator().manual_seed(seed))


def images(b, size, seed=0):
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def diag_normal(mu, logvar):
    return Independent(Normal(mu, (0.5 * logvar).exp()), 1)


# ---------------------------------------------------------------- KL divergence

def test_kl_matches_torch_standard_prior():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 8, generator=g) * 2, torch.randn(16, 8, generator=g)
    ref = torch_kl(diag_normal(mu, logvar), diag_normal(torch.zeros(16, 8), torch.zeros(16, 8)))
    torch.testing.assert_close(kl_divergence(mu, logvar), ref, rtol=1e-5, atol=1e-5)


def test_kl_matches_torch_general_prior():
    g = torch.Generator().manual_seed(1)
    mu, logvar, mu_p, logvar_p = (torch.randn(16, 8, generator=g) for _ in range(4))
    ref = torch_kl(diag_normal(mu, logvar), diag_normal(mu_p, logvar_p))
    torch.testing.assert_close(kl_divergence(mu, logvar, mu_p, logvar_p), ref, rtol=1e-5, atol=1e-5)
    # only one of the prior's parameters given: the other takes its N(0, I) value
    torch.testing.assert_close(kl_divergence(mu, logvar, mu_p), torch_kl(diag_normal(mu, logvar), diag_normal(mu_p, torch.zeros(16, 8))))
    torch.testing.assert_close(kl_divergence(mu, logvar, None, logvar_p),
                               torch_kl(diag_normal(mu, logvar), diag_normal(torch.zeros(16, 8), logvar_p)))


def test_kl_non_negative_and_zero_at_prior():
    g = torch.Generator().manual_seed(2)
    for _ in range(5):
        mu, logvar, mu_p, logvar_p = (torch.randn(32, 4, generator=g) * 3 for _ in range(4))
        assert (kl_divergence(mu, logvar, mu_p, logvar_p) >= 0).all()
        assert (kl_divergence(mu, logvar) >= 0).all()
        torch.testing.assert_close(kl_divergence(mu_p, logvar_p, mu_p, logvar_p), torch.zeros(32), atol=1e-5, rtol=0)
    torch.testing.assert_close(kl_divergence(torch.zeros(3, 5), torch.zeros(3, 5)), torch.zeros(3))


def test_kl_known_value_and_shape():
    # KL(N(1, 1) || N(0, 4)) = 1/2 (log 4 + 2/4 - 1) in one dimension
    kl = kl_divergence(torch.tensor([[1.0]]), torch.tensor([[0.0]]), torch.tensor([[0.0]]), torch.tensor([[math.log(4.0)]]))
    assert kl.shape == (1,)
    assert abs(kl.item() - 0.5 * (math.log(4.0) + 0.5 - 1)) < 1e-6
    assert kl_divergence(torch.zeros(7, 16), torch.zeros(7, 16)).shape == (7,)


def test_kl_errors():
    with pytest.raises(InputError, match="differ in shape"): kl_divergence(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(InputError, match="must match"): kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4))


# ---------------------------------------------------------------- reconstruction loss

def test_reconstruction_loss_shapes_and_values():
    a, b = torch.zeros(4, 3, 8, 8), torch.full((4, 3, 8, 8), 0.5)
    mse, l1 = reconstruction_loss(a, b), reconstruction_loss(a, b, kind="l1")
    assert mse.shape == l1.shape == (4,)
    torch.testing.assert_close(mse, torch.full((4,), 0.25 * 192))
    torch.testing.assert_close(l1, torch.full((4,), 0.5 * 192))
    assert reconstruction_loss(b, b).abs().max() == 0


def test_reconstruction_loss_errors():
    with pytest.raises(InputError, match="differ in shape"): reconstruction_loss(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 4, 4))
    with pytest.raises(InputError, match="allowed: mse, l1"): reconstruction_loss(torch.zeros(2, 3), torch.zeros(2, 3), kind="bce")


# ---------------------------------------------------------------- reparameterisation

def test_reparameterize_statistics():
    mu = torch.tensor([2.0, -1.0, 0.0]).expand(50_000, 3)
    logvar = torch.log(torch.tensor([1.0, 0.25, 4.0])).expand(50_000, 3)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), torch.tensor([2.0, -1.0, 0.0]), atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.5, 2.0]), atol=0.03, rtol=0)


def test_reparameterize_gradients_flow():
    mu, logvar = torch.zeros(4, 3, requires_grad=True), torch.zeros(4, 3, requires_grad=True)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    z.pow(2).sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    assert mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0
    torch.testing.assert_close(mu.grad, 2 * z.detach())                 # dz/dmu = 1


def test_reparameterize_generator_and_errors():
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    a = reparameterize(mu, logvar, torch.Generator().manual_seed(5))
    b = reparameterize(mu, logvar, torch.Generator().manual_seed(5))
    c = reparameterize(mu, logvar, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.testing.assert_close(reparameterize(mu, torch.full((2, 3), -1e4)), mu)  # sigma -> 0 gives the mean
    with pytest.raises(InputError, match="differ in shape"): reparameterize(mu, torch.zeros(2, 4))


# ---------------------------------------------------------------- config

def test_config_to_dict_and_back():
    c = VAEConfig(image_size=64, hidden=[16, 32], z_dim=8, text_dim=32)
    d = c.to_dict()
    assert d == {"image_size": 64, "channels": 3, "hidden": [16, 32], "z_dim": 8, "text_dim": 32, "refine": 0, "objects": 0}
    assert VAEConfig.from_dict(d) == c and isinstance(c.hidden, tuple)
    assert VAEConfig.from_dict({k: v for k, v in d.items() if k != "objects"}) == c   # a config saved before object slots existed
    with pytest.raises(InputError, match="VAEConfig: unknown key 'depth'"): VAEConfig.from_dict({**d, "depth": 3})


def test_config_stages_reach_4x4():
    assert VAEConfig().stages == (32, 64, 128)
    assert VAEConfig(image_size=16).stages == (32, 64)
    assert VAEConfig(image_size=64).stages == (32, 64, 128, 128)
    assert VAEConfig(image_size=128, hidden=(8,)).stages == (8,) * 5


def test_config_accepts_numpy_integers_and_stores_plain_ints():
    import json
    import numpy as np
    c = VAEConfig(image_size=np.int64(64), hidden=np.array([8, 16]), z_dim=np.int32(4))
    assert json.loads(json.dumps(c.to_dict())) == {"image_size": 64, "channels": 3, "hidden": [8, 16], "z_dim": 4, "text_dim": 64, "refine": 0, "objects": 0}
    assert type(c.image_size) is int and all(type(h) is int for h in c.hidden)


@pytest.mark.parametrize("size", [0, 8, 24, 33, 48, 100, -32, 32.0, "32", True, None])
def test_config_rejects_bad_image_size(size):
    with pytest.raises(InputError, match="power of two >= 16"): VAEConfig(image_size=size)


@pytest.mark.parametrize("kw, msg", [({"z_dim": 0}, "z_dim"), ({"text_dim": -1}, "text_dim"), ({"channels": 0}, "channels"),
                                     ({"z_dim": 2.5}, "z_dim"), ({"hidden": ()}, "hidden"), ({"hidden": (32, 0)}, "hidden"),
                                     ({"hidden": "abc"}, "hidden"), ({"hidden": None}, "hidden"),
                                     ({"hidden": (16.5, 32)}, "hidden"), ({"hidden": 32}, "hidden")])
def test_config_rejects_bad_values(kw, msg):
    with pytest.raises(InputError, match=msg): VAEConfig(**kw)


# ---------------------------------------------------------------- shapes at 32, 64, 128

@pytest.mark.parametrize("size", [32, 64, 128])
def test_encoder_decoder_shapes(size):
    c = VAEConfig(image_size=size, hidden=(8, 16, 32), z_dim=6, text_dim=10)
    x, t = images(3, size), torch.randn(3, 10)
    for enc, args in ((ConvEncoder(c), (x,)), (ConvEncoder(c, cond_dim=10), (x, t))):
        mu, logvar = enc(*args)
        assert mu.shape == logvar.shape == (3, 6)
    for dec, args in ((ConvDecoder(c), (torch.randn(3, 6),)), (ConvDecoder(c, cond_dim=10), (torch.randn(3, 6), t))):
        out = dec(*args)
        assert out.shape == (3, 3, size, size) and out.abs().max() <= 1


@pytest.mark.parametrize("size", [32, 64, 128])
def test_seed_vae_shapes(size):
    c = VAEConfig(image_size=size, hidden=(8, 16, 32), z_dim=6)
    m = SeedVAE(c, text_encoder()).eval()
    out = m(ids(2))
    assert isinstance(out, VAEOutput)
    assert out.x_hat.shape == (2, 3, size, size) and out.mu.shape == out.logvar.shape == (2, 6)
    losses = m.loss(out, images(2, size), beta=0.5)
    assert set(losses) == {"total", "recon", "kl"} and all(v.dim() == 0 for v in losses.values())
    torch.testing.assert_close(losses["total"], losses["recon"] + 0.5 * losses["kl"])
    assert m.sample(ids(2), n=3).shape == (6, 3, size, size)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_conditional_vae_shapes(size):
    c = VAEConfig(image_size=size, hidden=(8, 16, 32), z_dim=6)
    m = ConditionalVAE(c, text_encoder()).eval()
    assert isinstance(m.encoder, ConvEncoder) and isinstance(m.decoder, ConvDecoder)
    assert isinstance(m.prior, ConditionalPrior) and isinstance(m.text_encoder, TextCNN)
    x = images(2, size)
    out = m(x, ids(2))
    assert isinstance(out, CVAEOutput)
    assert out.x_hat.shape == (2, 3, size, size)
    assert all(v.shape == (2, 6) for v in (out.mu, out.logvar, out.mu_p, out.logvar_p))
    losses = m.loss(out, x, beta=2.0)
    torch.testing.assert_close(losses["total"], losses["recon"] + 2.0 * losses["kl"])
    torch.testing.assert_close(losses["kl"], kl_divergence(out.mu, out.logvar, out.mu_p, out.logvar_p).mean())
    assert m.sample(ids(2), n=3).shape == (6, 3, size, size)


def test_default_config_shapes_at_32():
    m = ConditionalVAE(VAEConfig(), text_encoder()).eval()
    out = m(images(4, 32), ids(4))
    assert out.x_hat.shape == (4, 3, 32, 32) and out.mu.shape == (4, 16)


def test_sample_keeps_each_captions_samples_together():
    m = ConditionalVAE(VAEConfig(hidden=(8, 16, 32), z_dim=4), text_encoder()).eval()
    i = ids(2)
    a = m.sample(i, n=3, generator=torch.Generator().manual_seed(0))
    b = m.sample(i.repeat_interleave(3, dim=0), n=1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a[0], a[1])                                   # the prior's noise makes samples differ


# ---------------------------------------------------------------- determinism

def build_and_sample(seed):
    set_seed(seed)
    m = ConditionalVAE(VAEConfig(hidden=(8, 16, 32), z_dim=4), text_encoder()).eval()
    return m, m.sample(ids(2), n=2, generator=torch.Generator().manual_seed(0))


def test_same_seed_same_model_and_samples():
    (m1, s1), (m2, s2), (_, s3) = build_and_sample(0), build_and_sample(0), build_and_sample(1)
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)


def test_train_vae_is_deterministic_and_learns():
    x = ((torch.rand(32, 3, 32, 32, generator=torch.Generator().manual_seed(0)) > 0.5) * 255).to(torch.uint8)
    i = ids(32)
    runs = []
    for _ in range(2):
        set_seed(0)
        m = SeedVAE(VAEConfig(hidden=(8, 16, 32), z_dim=4), text_encoder())
        runs.append((m, train_vae(m, x, i, steps=15, batch_size=8, seed=3, show_progress=False)))
    (m1, h1), (m2, h2) = runs
    assert h1 == h2 and len(h1) == 15 and set(h1[0]) == {"total", "recon", "kl"}
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert not m1.training                                               # left in eval mode
    assert h1[-1]["total"] < h1[0]["total"]


# ---------------------------------------------------------------- documented errors

def test_module_errors():
    c = VAEConfig(hidden=(8, 16, 32), z_dim=4, text_dim=10)
    with pytest.raises(InputError, match=r"expected images \(B, 3, 32, 32\)"): ConvEncoder(c)(images(2, 64))
    with pytest.raises(InputError, match="cond_dim=0 but got a condition"): ConvEncoder(c)(images(2, 32), torch.zeros(2, 10))
    with pytest.raises(InputError, match="pass the sentence vector"): ConvEncoder(c, cond_dim=10)(images(2, 32))
    with pytest.raises(InputError, match=r"t must be \(2, 10\)"): ConvEncoder(c, cond_dim=10)(images(2, 32), torch.zeros(2, 9))
    with pytest.raises(InputError, match=r"expected z \(B, 4\)"): ConvDecoder(c)(torch.zeros(2, 5))
    with pytest.raises(InputError, match="pass the sentence vector"): ConvDecoder(c, cond_dim=10)(torch.zeros(2, 4))
    with pytest.raises(InputError, match="text_dim is 10"): ConditionalVAE(c, text_encoder(out_dim=64))
    with pytest.raises(InputError, match="text_dim is 10"): SeedVAE(c, text_encoder(out_dim=64))
    with pytest.raises(InputError, match="cond_dim must be an integer >= 0"): ConvEncoder(c, cond_dim=-1)
    with pytest.raises(InputError, match="cond_dim must be an integer >= 0"): ConvDecoder(c, cond_dim=2.0)
    m = ConditionalVAE(c, text_encoder(out_dim=10)).eval()
    for n in (0, -2, 1.5):
        with pytest.raises(InputError, match="samples per caption"): m.sample(ids(2), n=n)


def test_train_vae_errors():
    m = SeedVAE(VAEConfig(hidden=(8, 16, 32), z_dim=4), text_encoder())
    x = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(InputError, match="4 images but 3 captions"): train_vae(m, x, ids(3), steps=1, show_progress=False)
    with pytest.raises(InputError, match="must be positive"): train_vae(m, x, ids(4), steps=0, show_progress=False)


def test_any_text_encoder_module_works():
    "text_encoder is any nn.Module mapping ids (B, T) -> (B, text_dim), not only a TextCNN."
    class BagOfWords(torch.nn.Module):
        def __init__(self): super().__init__(); self.emb = torch.nn.EmbeddingBag(VOCAB, 12)
        def forward(self, ids): return self.emb(ids)
    m = ConditionalVAE(VAEConfig(hidden=(8, 16, 32), z_dim=4, text_dim=12), BagOfWords()).eval()
    assert m.sample(ids(2), n=2).shape == (4, 3, 32, 32)


@pytest.mark.gpu
def test_cuda_model_with_cpu_generator():
    m = ConditionalVAE(VAEConfig(hidden=(8, 16, 32), z_dim=4), text_encoder()).cuda().eval()
    a = m.sample(ids(2).cuda(), n=2, generator=torch.Generator().manual_seed(0))
    b = m.sample(ids(2).cuda(), n=2, generator=torch.Generator().manual_seed(0))
    assert a.is_cuda and torch.equal(a, b)


# ---------------------------------------------------------------- light import

def test_import_does_not_pull_heavy_optional_modules():
    code = ("import sys, t2i_course.vae\n"
            "heavy = {'gensim', 'jieba', 'ipywidgets'} & set(sys.modules)\n"
            "assert not heavy, heavy\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("refine", [1, 2])
def test_decoder_refine_keeps_shapes(refine):
    c = VAEConfig(image_size=32, hidden=(8, 16), z_dim=4, text_dim=8, refine=refine)
    d = ConvDecoder(c, cond_dim=8)
    x = d(torch.zeros(3, 4), torch.zeros(3, 8))
    assert x.shape == (3, 3, 32, 32) and x.abs().max() <= 1
    n_conv = sum(isinstance(m, torch.nn.Conv2d) for m in d.modules())
    assert n_conv == refine * len(c.stages) + 1                            # refinements + the final to-RGB convolution
    with pytest.raises(InputError, match="refine"): VAEConfig(refine=-1)
