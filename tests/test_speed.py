"The fast training path (chapter 08a) on a CPU: the same numbers as the eager path, graph-ready optimisers, lazy loss reads, FLOP counts."
import csv

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from t2i_course.data import make_dataset, to_float, to_tensors
from t2i_course.discriminator import mismatched_indices
from t2i_course.speed import CapturedStep, StaticAuxClassifier, capturable, count_flops, graph_ready, matmul_ceiling, set_lr, time_calls
from t2i_course.text_cnn import caption_targets
from t2i_course.train import Trainer, TrainingStopped, checkpoints, preset
from t2i_course.vaegan_family import build_model
from t2i_course.text import Vocab, tokenize
from t2i_course.text_cnn import encode_captions
from t2i_course.vaegan import vaegan_step, vaegan_update

QUIET = dict(show_progress=False, log=lambda s: None)


def small_batch(aux=True, seed=0):
    ds = make_dataset(48, size=16, seed=seed)
    cfg = preset("tiny")
    vocab = Vocab.build([tokenize(c) for c in ds.captions])
    torch.manual_seed(seed)
    model = build_model(cfg, vocab, aux=aux)
    ids = encode_captions([tokenize(c) for c in ds.captions], vocab, model.cvae.text_encoder)
    x = to_float(to_tensors(ds, show_progress=False)[0])
    wrong = mismatched_indices(ds.slots, generator=seed)
    return model, x, ids, ids[wrong], caption_targets(ds.slots)


def test_static_aux_loss_equals_the_dynamic_one_even_when_a_slot_is_never_named():
    model, x, ids, wrong, targets = small_batch()
    h = model.disc.body(x)
    targets = targets.clone(); targets[:, 3] = 0                     # nobody names this slot in the batch
    dyn, sta = model.aux.loss(h, targets), StaticAuxClassifier.loss(model.aux, h, targets)
    assert torch.isclose(dyn, sta, rtol=1e-6, atol=1e-7), (dyn, sta)
    targets[:, :] = 0
    assert StaticAuxClassifier.loss(model.aux, h, targets).item() == 0.0


def test_static_update_takes_the_same_step_as_the_eager_one():
    a, x, ids, wrong, targets = small_batch()
    b = small_batch()[0]
    b.load_state_dict(a.state_dict())
    torch.manual_seed(1)                                               # the same dropout masks on both sides
    la = vaegan_step(a, x, ids, wrong, generator=torch.Generator().manual_seed(1), targets=targets)
    torch.manual_seed(1)
    assert capturable(b) is b and type(b.aux) is StaticAuxClassifier and type(a.aux) is not StaticAuxClassifier
    assert b.state_dict().keys() == a.state_dict().keys()                # the same parameters, another loss method
    lb = vaegan_update(b, x, ids, wrong, generator=torch.Generator().manual_seed(1), targets=targets)
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 and not v.requires_grad for v in lb.values())
    for k in la: assert la[k] == pytest.approx(float(lb[k]), rel=1e-5, abs=1e-6), k
    for (n, p), q in zip(a.named_parameters(), b.parameters()): assert torch.allclose(p, q, atol=1e-6), n
    assert all(p.requires_grad for p in b.disc.parameters())          # the discriminator is unfrozen again


def test_graph_ready_adam_matches_plain_adam_and_takes_new_learning_rates():
    torch.manual_seed(0)
    m1, m2 = nn.Linear(4, 3), nn.Linear(4, 3)
    m2.load_state_dict(m1.state_dict())
    o1 = torch.optim.Adam(m1.parameters(), lr=1e-2)
    o2 = graph_ready(torch.optim.Adam(m2.parameters(), lr=1e-2), "cpu")
    lr = o2.param_groups[0]["lr"]
    assert isinstance(lr, torch.Tensor) and o2.param_groups[0]["capturable"] and o2.param_groups[0]["fused"]
    x = torch.randn(8, 4)
    for k in range(6):
        for m, o in ((m1, o1), (m2, o2)):
            o.zero_grad(); m(x).pow(2).mean().backward(); o.step()
        set_lr(o1, 1e-2 / (k + 2)); set_lr(o2, 1e-2 / (k + 2))
    assert o2.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(1e-2 / 7)   # filled in place: a graph keeps seeing it
    for p, q in zip(m1.parameters(), m2.parameters()): assert torch.allclose(p, q, atol=1e-6)
    o3 = torch.optim.Adam(m1.parameters(), lr=1.0)                    # a checkpoint from the graph-ready side, loaded the plain way
    o3.load_state_dict(o2.state_dict()); graph_ready(o3, "cpu", on=False)
    g = o3.param_groups[0]
    assert isinstance(g["lr"], float) and not g["capturable"] and g["lr"] == pytest.approx(1e-2 / 7)
    o3.step()


def test_captured_step_on_a_cpu_just_calls_the_function():
    calls = []
    step = CapturedStep(lambda: calls.append(1) or {"loss": torch.ones(())}, "cpu")
    for _ in range(5): out = step()
    assert len(calls) == 5 and not step.captured and out["loss"].item() == 1.0


def test_flop_counter_counts_a_linear_layer_forward_and_backward():
    lin, x = nn.Linear(64, 32), torch.randn(16, 64)
    assert count_flops(lambda: lin(x)) == 2 * 16 * 64 * 32
    assert count_flops(lambda: lin(x).sum().backward()) == 2 * 2 * 16 * 64 * 32   # backward: the weight's gradient (x needs none)
    x.requires_grad_(True)
    assert count_flops(lambda: lin(x).sum().backward()) == 3 * 2 * 16 * 64 * 32   # and now the input's too
    assert matmul_ceiling("cpu", torch.float32, n=128, reps=2) > 1e6
    assert time_calls(lambda: lin(x), 3, "cpu", warmup=1) > 0


def test_fast_flag_changes_nothing_on_a_cpu(tmp_path):
    for name, fast in (("a", True), ("b", False)):
        Trainer(preset("tiny", fast=fast), tmp_path / name, **QUIET).run()
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_lazy_loss_reads_train_the_same_weights_and_log_the_same_rows(tmp_path):
    cfg = preset("tiny", log_every=3, checkpoint_every=4, sample_every=8)
    Trainer(cfg, tmp_path / "eager", **QUIET).run()
    t = Trainer(cfg, tmp_path / "lazy", **QUIET)
    t.lazy = True                                                       # what a GPU does: read the losses only at log/save steps
    t.run()
    a, b = load_file(tmp_path / "eager" / "model.safetensors"), load_file(tmp_path / "lazy" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [[{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(p / "logs" / "train.csv"))]
            for p in (tmp_path / "eager", tmp_path / "lazy")]
    assert rows[0] == rows[1] and [int(r["step"]) for r in rows[0]] == [3, 6, 9, 12, 15, 16]


def test_lazy_reads_catch_a_nan_at_the_next_read_before_any_checkpoint_is_written(tmp_path):
    t = Trainer(preset("tiny", log_every=5, checkpoint_every=4, sample_every=16), tmp_path / "run", **QUIET)
    t.lazy = True
    real = t._train_step
    def poisoned(phase, b):
        out = real(phase, b)
        return {**out, "loss": torch.tensor(float("nan"))} if t.step >= 5 else out   # from step 6 on, as NaN weights would
    t._train_step = poisoned
    with pytest.raises(TrainingStopped, match=r"between steps 6 and 8 \(cvae phase\): the loss term 'loss' is nan.*step-0000004"):
        t.run()
    assert [p.name for p in checkpoints(tmp_path / "run")] == ["step-0000004"]


def test_learning_rates_fall_linearly_over_the_cvae_and_gan_phases(tmp_path):
    cfg = preset("tiny", cvae_lr_end=0.1, gan_lr_end=0.5, sample_every=100, checkpoint_every=100)
    t = Trainer(cfg, tmp_path / "run", **QUIET)
    real, seen = t._train_step, []
    def record(phase, b):
        opt = t.family.opt_cvae if phase == "cvae" else t.family.model.opt_dec if phase == "gan" else t.family.opt_text
        seen.append((phase, float(opt.param_groups[0]["lr"])))
        return real(phase, b)
    t._train_step = record
    t.run()
    c = cfg
    cvae = [lr for ph, lr in seen if ph == "cvae"]
    gan = [lr for ph, lr in seen if ph == "gan"]
    assert [lr for ph, lr in seen if ph == "text"] == [c.lr_text] * c.text_steps
    assert cvae == pytest.approx([c.lr_cvae * (1 - 0.9 * k / c.cvae_steps) for k in range(c.cvae_steps)])
    assert gan == pytest.approx([c.gan.lr * (1 - 0.5 * k / c.gan_steps) for k in range(c.gan_steps)])
    with pytest.raises(Exception, match=r"cvae_lr_end must be a number in \[0, 1\]"): preset("tiny", cvae_lr_end=1.5)


def test_bf16_and_channels_last_train_to_finite_losses_on_a_cpu(tmp_path):
    t = Trainer(preset("tiny", bf16=True, channels_last=True), tmp_path / "run", **QUIET)
    assert t.bf16 and t.channels_last
    summary = t.run()
    assert summary["status"] == "finished"
    rows = list(csv.DictReader(open(tmp_path / "run" / "logs" / "train.csv")))
    assert all(float(v) == float(v) for r in rows for k, v in r.items() if k not in ("phase",) and v not in ("", None))


def test_bad_speed_flags_are_one_line_errors():
    from t2i_course.core import InputError
    for k in ("fast", "bf16", "channels_last"):
        with pytest.raises(InputError, match=f"{k} must be true or false"): preset("tiny", **{k: "yes"})


@pytest.mark.gpu
def test_captured_step_replays_the_same_updates_as_eager_steps():
    dev = torch.device("cuda")
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1)).to(dev)
    b = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1)).to(dev)
    b.load_state_dict(a.state_dict())
    x, y = torch.randn(64, 16, device=dev), torch.randn(64, 1, device=dev)
    opts = [graph_ready(torch.optim.Adam(m.parameters(), lr=1e-2), dev) for m in (a, b)]
    def step(m, o):
        o.zero_grad(set_to_none=True)
        loss = (m(x) - y).pow(2).mean(); loss.backward(); o.step()
        return {"loss": loss.detach()}
    graph = CapturedStep(lambda: step(b, opts[1]), dev, log=lambda s: None)
    for k in range(10):
        la, lb = step(a, opts[0])["loss"].item(), graph()["loss"].item()
        assert la == pytest.approx(lb, rel=1e-5), k
        if k == 5: set_lr(opts[0], 5e-3); set_lr(opts[1], 5e-3)       # a new learning rate reaches the graph
    assert graph.captured
    for p, q in zip(a.parameters(), b.parameters()): assert torch.allclose(p, q, atol=1e-5)


@pytest.mark.gpu
def test_the_trainer_captures_each_phase_on_a_gpu_and_trains_to_finite_losses(tmp_path):
    t = Trainer(preset("tiny", log_every=4, sample_every=16, checkpoint_every=8), tmp_path / "run", device="cuda", **QUIET)
    assert t.graphed and t.lazy
    assert t.run()["status"] == "finished"
    assert t._graph is not None and t._graph.captured                  # the VAE-GAN phase ran as graph replays
    rows = list(csv.DictReader(open(tmp_path / "run" / "logs" / "train.csv")))
    assert [int(r["step"]) for r in rows] == [4, 8, 12, 16]
    assert all(float(v) == float(v) and abs(float(v)) != float("inf") for r in rows for k, v in r.items() if k not in ("phase",) and v)
    resumed = Trainer(None, tmp_path / "run", resume=True, device="cuda", **QUIET)   # a checkpoint of graph-ready optimisers loads back
    assert resumed.step == 16


def test_threads_follow_the_cores_other_programs_leave_free(monkeypatch):
    "choose_threads: all cores (at most the limit) on an idle machine, fewer when other programs keep cores busy, never below one."
    import os
    import t2i_course.speed as speed
    cores = os.cpu_count()
    def fake(total_busy):                                               # two /proc/stat readings 1000 jiffies apart, `total_busy` cores busy
        idle = round(1000 * (1 - total_busy / cores))
        return iter([(10_000, 5_000, cores), (11_000, 5_000 + idle, cores)])
    monkeypatch.setattr(speed.time, "sleep", lambda s: None)
    for busy, want in ((0.0, min(cores, 8)), (1.0, max(1, min(cores, 8) - 1)), (cores, 1)):
        samples = fake(busy)
        monkeypatch.setattr(speed, "_cpu_times", lambda: next(samples))
        n, seen = speed.choose_threads()
        assert n == want and abs(seen - busy) < 0.01, (busy, n, seen)
    monkeypatch.setattr(speed, "_cpu_times", lambda: (1, 1, cores + 1))   # /proc/stat counts other CPUs than ours (a container): unknown
    assert speed.busy_cores() is None and speed.choose_threads() == (min(cores, 8), None)
    def missing(): raise OSError("no /proc/stat")
    monkeypatch.setattr(speed, "_cpu_times", missing)
    assert speed.choose_threads() == (min(cores, 8), None)
