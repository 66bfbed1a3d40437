"""Flow matching (t2i_course.flow): FlowConfig round trips and its one-line errors, shapes, the samplers' order of
accuracy, classifier-free guidance and the null caption, decode/encode_image as inverses, seeded sampling, and a short
training run.

Run against the installed package: `pytest tests/test_flow.py -q`.
"""
import math

import pytest
import torch

from t2i_course.core import InputError
from t2i_course.flow import (SAMPLERS, FlowConfig, FlowModel, FlowNet, ResBlock, euler, flow_matching_loss, flow_path,
                             guided_velocity, heun, time_embedding)
from t2i_course.text_cnn import TextCNN, TextCNNConfig

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py

VOCAB = 30
SMALL = dict(image_size=16, channels=(8, 16), text_dim=16, time_dim=16)


def text_encoder(out_dim=16):
    return TextCNN(TextCNNConfig(vocab_size=VOCAB, embed_dim=8, channels=8, out_dim=out_dim))


def ids(b=3, t=6, seed=0):
    return torch.randint(2, VOCAB, (b, t), generator=torch.Generator().manual_seed(seed))


def images(b, size=16, seed=0):
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def awake(model):
    "Non-zero second convolutions in every ResBlock (they start at zero): tau and t reach the output as after training."
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, ResBlock): m.conv2.weight.data = 0.05 * torch.randn(m.conv2.weight.shape, generator=g)
    return model


def small_model(**kw):
    torch.manual_seed(0)
    return awake(FlowModel(FlowConfig(**{**SMALL, **kw}), text_encoder()))


# ---------------------------------------------------------------- FlowConfig

def test_config_round_trips_and_overrides():
    cfg = FlowConfig()
    assert FlowConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict()["channels"] == [32, 64, 64]
    assert FlowConfig.from_dict({"channels": [16, 32]}).channels == (16, 32)
    changed = cfg.with_overrides(["guidance=3.5", "sampler=euler", "channels=[16, 32]"])
    assert (changed.guidance, changed.sampler, changed.channels) == (3.5, "euler", (16, 32))
    assert FlowConfig(channels=[16, 32]).channels == (16, 32)


@pytest.mark.parametrize("bad, words", [
    (dict(image_size=30), "image_size must be a multiple of 4"),
    (dict(image_size=0, channels=(8,)), "image_size"),
    (dict(channels=()), "channels must be a non-empty list"),
    (dict(channels=(32, 0)), "channels"),
    (dict(channels="32"), "channels"),
    (dict(text_dim=0), "text_dim must be a positive integer"),
    (dict(time_dim=63), "time_dim must be even"),
    (dict(p_uncond=1.5), "p_uncond must be a number in [0, 1]"),
    (dict(p_uncond=True), "p_uncond"),
    (dict(guidance=-1.0), "guidance must be a finite number >= 0"),
    (dict(guidance=float("nan")), "guidance"),
    (dict(sample_steps=0), "steps must be a positive integer"),
    (dict(sample_steps=2.5), "steps"),
    (dict(sampler="rk4"), "sampler must be one of euler, heun"),
])
def test_config_rejects_bad_values_in_one_line(bad, words):
    with pytest.raises(InputError) as e: FlowConfig(**bad)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_config_from_dict_names_the_bad_key():
    with pytest.raises(InputError, match="unknown key 'steps'"): FlowConfig.from_dict({"steps": 3})
    with pytest.raises(InputError, match=r"FlowConfig.image_size must be int"):
        FlowConfig.from_dict({"image_size": "32"})
    with pytest.raises(InputError, match="has no field"): FlowConfig().with_overrides(["nope=1"])


# ---------------------------------------------------------------- shapes

def test_time_embedding():
    e = time_embedding(torch.tensor([0.0, 0.5, 1.0]), 8)
    assert e.shape == (3, 8)
    torch.testing.assert_close(e[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    torch.testing.assert_close(e.pow(2)[:, :4] + e.pow(2)[:, 4:], torch.ones(3, 4))


@pytest.mark.parametrize("size, channels", [(16, (8, 16)), (32, (8, 16, 16)), (8, (8,)), (64, (8, 8, 16, 16))])
def test_flownet_keeps_the_image_shape(size, channels):
    cfg = FlowConfig(image_size=size, channels=channels, text_dim=16, time_dim=16)
    out = FlowNet(cfg)(images(2, size), torch.rand(2), torch.randn(2, 16))
    assert out.shape == (2, 3, size, size)


def test_default_flownet_shape_and_size():
    net = FlowNet(FlowConfig())
    assert net(images(2, 32), torch.rand(2), torch.randn(2, 64)).shape == (2, 3, 32, 32)
    assert 300_000 < sum(p.numel() for p in net.parameters()) < 600_000


def test_flowmodel_shapes():
    m = small_model()
    t = m.text_vector(ids())
    assert t.shape == (3, 16) and m.null_text.shape == (16,) and m.latent_shape == (3, 16, 16) and m.image_size == 16
    mean, std = m.latent_prior(t)
    assert mean.shape == std.shape == (3, 3, 16, 16) and mean.abs().max() == 0 and (std == 1).all()
    out = m.loss(images(3), t)
    assert {"total", "fm"} <= set(out) and out["total"].shape == () and out["total"].requires_grad
    assert m.velocity(images(3), 0.5, t, guidance=3.0).shape == (3, 3, 16, 16)
    z = torch.randn(3, 3, 16, 16)
    x = m.decode(z, t, steps=2)
    assert x.shape == (3, 3, 16, 16) and x.abs().max() <= 1
    assert m.encode_image(x, t, steps=2).shape == (3, 3, 16, 16)
    assert m.sample(ids(), n=2).shape == (6, 3, 16, 16)


def test_flowmodel_rejects_a_text_encoder_of_the_wrong_size_and_bad_arguments():
    with pytest.raises(InputError, match="text_dim is 16"): FlowModel(FlowConfig(**SMALL), text_encoder(out_dim=32))
    with pytest.raises(InputError, match="must be a FlowConfig"): FlowModel({"image_size": 16}, text_encoder())
    m = small_model()
    t, z = m.text_vector(ids()), torch.randn(3, 3, 16, 16)
    with pytest.raises(InputError, match="sampler must be one of euler, heun"): m.decode(z, t, sampler="rk4")
    with pytest.raises(InputError, match="steps must be a positive integer"): m.encode_image(z, t, steps=0)
    with pytest.raises(InputError, match="guidance"): m.decode(z, t, guidance=-2.0)
    with pytest.raises(InputError, match="n .images per caption. must be a positive integer"): m.sample(ids(), n=0)
    assert SAMPLERS == ("euler", "heun")


# ---------------------------------------------------------------- samplers

def test_euler_is_exact_on_a_constant_field():
    x = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    c = torch.tensor([[0.3, -1.2]])
    for steps in (1, 3, 10):
        torch.testing.assert_close(euler(lambda x_, tau: c.expand_as(x_), x, steps=steps), x + c)
        torch.testing.assert_close(euler(lambda x_, tau: c.expand_as(x_), x, t0=1.0, t1=0.0, steps=steps), x - c)


def test_the_samplers_pass_tau_as_a_batch_of_times():
    seen = []
    heun(lambda x, tau: seen.append(tau) or torch.zeros_like(x), torch.zeros(4, 2), steps=2)
    assert [tuple(t.shape) for t in seen] == [(4,)] * 4
    torch.testing.assert_close(torch.stack([t[0] for t in seen]), torch.tensor([0.0, 0.5, 0.5, 1.0]))


def errors(solver, steps, **kw):
    "Error at tau = 1 on dx/dtau = x from x(0) = 1 (exact: e), for each number of steps."
    x0 = torch.ones(1, 1, dtype=torch.float64)
    return [(solver(lambda x, tau: x, x0, steps=n, **kw) - math.e).abs().item() for n in steps]


def test_heun_is_second_order_and_euler_first_order():
    e_euler, e_heun = errors(euler, (16, 32, 64)), errors(heun, (16, 32, 64))
    for a, b in zip(e_euler, e_euler[1:]): assert 1.8 < a / b < 2.2
    for a, b in zip(e_heun, e_heun[1:]): assert 3.6 < a / b < 4.4
    e_last = errors(heun, (16, 32, 64), last_correction=False)    # an Euler last step keeps the second order
    for a, b in zip(e_last, e_last[1:]): assert 3.5 < a / b < 4.5


def test_heun_without_the_last_correction_never_calls_at_t1():
    taus = []
    heun(lambda x, tau: taus.append(float(tau[0])) or x, torch.ones(1, 1), steps=4, last_correction=False)
    assert len(taus) == 7 and max(taus) < 1.0
    x = torch.ones(1, 1)
    v = lambda x_, tau: x_
    torch.testing.assert_close(heun(v, x, steps=1, last_correction=False), euler(v, x, steps=1))


def test_samplers_run_backwards():
    x = torch.randn(5, 3)
    v = lambda x_, tau: torch.sin(x_) * (1 + tau[:, None])
    for f in (euler, heun):
        there = f(v, x, steps=400)
        torch.testing.assert_close(f(v, there, t0=1.0, t1=0.0, steps=400), x, atol=5e-3 if f is euler else 1e-5, rtol=0)


def test_flow_path_ends_and_target():
    x0, x1 = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    xt, u = flow_path(x0, x1, torch.tensor([0.0, 1.0, 0.5, 0.25]))
    torch.testing.assert_close(xt[0], x0[0]); torch.testing.assert_close(xt[1], x1[1])
    torch.testing.assert_close(xt[2], (x0[2] + x1[2]) / 2); torch.testing.assert_close(u, x1 - x0)


# ---------------------------------------------------------------- guidance and the null caption

def test_guidance_one_is_the_conditional_velocity_and_zero_the_unconditional():
    m = small_model()
    x, tau = images(3), torch.rand(3)
    with torch.no_grad():
        t = m.text_vector(ids())
        torch.testing.assert_close(m.velocity(x, tau, t, guidance=1.0), m.net(x, tau, t), rtol=0, atol=0)
        v_null = m.net(x, tau, m.null_text.expand(3, -1))
        v_t = m.net(x, tau, t)
        torch.testing.assert_close(m.velocity(x, tau, t, guidance=0.0), v_null, atol=1e-5, rtol=0)
        torch.testing.assert_close(m.velocity(x, tau, t, guidance=2.5), v_null + 2.5 * (v_t - v_null),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(m.velocity(x, 0.3, t), m.net(x, torch.full((3,), 0.3), t))   # a float tau, broadcast


def test_guided_velocity_makes_one_batched_call():
    calls = []
    def net(x, tau, t):
        calls.append(x.shape[0])
        return x * 0 + t.sum(1)[:, None, None, None] + tau[:, None, None, None]
    x, tau, t, null = torch.zeros(2, 3, 4, 4), torch.tensor([0.1, 0.2]), torch.ones(2, 5), torch.zeros(5)
    out = guided_velocity(net, x, tau, t, null, guidance=3.0)
    assert calls == [4]                                          # conditional and unconditional halves in one batch
    torch.testing.assert_close(out[:, 0, 0, 0], (tau + 0) + 3.0 * (tau + 5 - (tau + 0)))
    calls.clear()
    torch.testing.assert_close(guided_velocity(net, x, tau, t, null), net(x, tau, t))
    assert calls == [2, 2]                                            # guidance 1: the conditional half only


def test_flow_matching_loss_of_a_perfect_velocity_is_zero():
    class Oracle(torch.nn.Module):                               # knows x1, so it finds x0 from x_tau: exact velocity
        def __init__(self, x1): super().__init__(); self.x1 = x1
        def forward(self, x, tau, t):
            tau = tau[:, None, None, None]
            return (self.x1 - x) / (1 - tau)                          # x1 - x0, since x = (1 - tau) x0 + tau x1
    x1 = images(4)
    out = flow_matching_loss(Oracle(x1), x1, torch.zeros(4, 2), torch.zeros(2), p_uncond=0.5)
    assert set(out) == {"total", "fm"} and out["total"].item() < 1e-6


def test_dropped_captions_use_the_null_vector():
    m, x1 = small_model(p_uncond=1.0), images(4)
    with torch.no_grad(): m.null_text.normal_()
    losses = []
    for seed in (1, 2):
        torch.manual_seed(0)
        losses.append(m.loss(x1, torch.randn(4, 16, generator=torch.Generator().manual_seed(seed)))["fm"].item())
    assert losses[0] == losses[1]                                    # every row sees null_text: t does not matter
    torch.manual_seed(0)                                         # the same draws by hand: x0, tau, then the mask
    x0, tau = torch.randn_like(x1), torch.rand(4)
    x_tau, target = flow_path(x0, x1, tau)
    want = (m.net(x_tau, tau, m.null_text.expand(4, -1)) - target).pow(2).mean().item()
    assert abs(losses[0] - want) < 1e-6


def test_kept_captions_matter():
    m, x1 = small_model(p_uncond=0.0), images(4)
    losses = []
    for seed in (1, 2):
        torch.manual_seed(0)
        losses.append(m.loss(x1, torch.randn(4, 16, generator=torch.Generator().manual_seed(seed)))["fm"].item())
    assert losses[0] != losses[1]


# ---------------------------------------------------------------- decode, encode_image, sample

def test_encode_image_inverts_decode_for_a_random_net():
    m = small_model()
    with torch.no_grad():
        m.net.head[-1].weight.mul_(0.2)                          # a gentler random field: decode(z) stays in (-1, 1)
        t = m.text_vector(ids())
    z = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.15
    x = heun(lambda x_, tau: m.velocity(x_, tau, t), z, steps=100, last_correction=False)   # decode, but no clamp
    assert x.abs().max() < 1, "pick a smaller z: decode's clamp would lose information"
    back = m.encode_image(m.decode(z, t, steps=100, guidance=1.0), t, steps=100)
    torch.testing.assert_close(back, z, atol=2e-3, rtol=0)
    start = images(3) * 0.9                                           # and the other way round
    again = m.decode(m.encode_image(start, t, steps=100), t, steps=100, guidance=1.0)
    torch.testing.assert_close(again, start, atol=2e-3, rtol=0)


def test_decode_uses_the_config_defaults():
    m = small_model(sample_steps=3, sampler="euler", guidance=1.5)
    with torch.no_grad(): t = m.text_vector(ids())
    z = torch.randn(3, 3, 16, 16)
    calls = []
    hook = m.net.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    try: out = m.decode(z, t)
    finally: hook.remove()
    assert calls == [6, 6, 6]                                    # 3 Euler steps, each one batched call for the guidance
    torch.testing.assert_close(out, m.decode(z, t, steps=3, sampler="euler", guidance=1.5))


def test_sample_is_deterministic_with_a_generator():
    m = small_model()
    a = m.sample(ids(), n=2, generator=torch.Generator().manual_seed(7))
    b = m.sample(ids(), n=2, generator=torch.Generator().manual_seed(7))
    c = m.sample(ids(), n=2, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert m.training                                                 # sample restores the mode


def test_sample_puts_each_captions_images_next_to_each_other():
    m = small_model()
    i = ids(2)
    both = m.sample(i, n=2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    z = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        m.eval()
        t = m.text_vector(i)
        want = m.decode(z, t.repeat_interleave(2, dim=0))
    torch.testing.assert_close(both, want)


# ---------------------------------------------------------------- training

def test_a_few_hundred_steps_lower_the_loss():
    torch.manual_seed(0)
    m = FlowModel(FlowConfig(image_size=8, channels=(8, 16), text_dim=16, time_dim=16, p_uncond=0.0), text_encoder())
    x1 = images(8, 8, seed=3).sign() * 0.8                            # a tiny fixed batch of two-valued images
    i = ids(8)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    eval_noise = [(torch.randn(8, 3, 8, 8, generator=g), torch.rand(8, generator=g)) for _ in range(8)]

    def held_out_loss():
        with torch.no_grad():
            t = m.text_vector(i)
            errors = [(m.net(flow_path(x0, x1, tau)[0], tau, t) - (x1 - x0)).pow(2).mean() for x0, tau in eval_noise]
            return torch.stack(errors).mean().item()

    before = held_out_loss()
    for _ in range(300):
        loss = m.loss(x1, m.text_vector(i))["total"]
        opt.zero_grad(); loss.backward(); opt.step()
    after = held_out_loss()
    assert after < 0.7 * before, (before, after)
