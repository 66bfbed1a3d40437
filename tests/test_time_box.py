"""The cpu preset's plan: the speed path chosen from what this CPU does fast (never a blanket bf16), and the time box that fits
the schedule to this machine before the first step, without changing what the steps compute."""
import json

import pytest
import torch
from safetensors.torch import load_file

import t2i_course.train as train_module
from t2i_course.core import InputError
from t2i_course.train import Trainer, TrainConfig, choose_speed_path, fit_time_box, preset, train

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py


def test_fit_time_box_fills_the_box_and_keeps_the_ratio():
    c = preset("cpu")
    sec = {"text": 0.004, "cvae": 0.05, "gan": 0.12}
    f = fit_time_box(c, sec)
    used = f.text_steps * sec["text"] + f.cvae_steps * sec["cvae"] + f.gan_steps * sec["gan"]
    assert f.text_steps == c.text_steps and used <= 60 * c.time_box and used > 60 * c.time_box - 10 * (sec["cvae"] + sec["gan"])
    assert abs(f.gan_steps / f.cvae_steps - c.gan_steps / c.cvae_steps) < 0.02
    assert f.cvae_steps % 10 == 0 and f.gan_steps % 10 == 0
    slow = fit_time_box(c, {k: 3 * v for k, v in sec.items()})              # a machine three times slower: about a third of the steps
    assert abs(slow.gan_steps / f.gan_steps - 1 / 3) < 0.05
    cut = fit_time_box(c, {"text": 1.0, "cvae": 0.05, "gan": 0.1})          # a slow text phase is cut to a third of the box
    assert cut.text_steps == 180 and cut.text_steps * 1.0 <= 60 * c.time_box / 3 and cut.cvae_steps > 10
    with pytest.raises(InputError, match="leaves no time"): fit_time_box(c, {"text": 100.0, "cvae": 0.05, "gan": 0.1})   # 10 steps > box


def test_minutes_fit_every_phase_of_a_time_boxed_run(tmp_path, monkeypatch):
    "--minutes shorter than the preset's time box: the run is planned to end inside them, every phase shortened (not cut off)."
    monkeypatch.setattr(train_module, "bf16_speedup", lambda device: 0.5)
    big = preset("tiny", time_box=10.0, cvae_steps=6000, gan_steps=6000)
    t = Trainer(big, tmp_path / "run", minutes=0.05, show_progress=False, log=lambda m: None)
    c, sec = t.config, t.config.plan["seconds_per_step"]
    planned = c.text_steps * sec["text"] + c.cvae_steps * sec["cvae"] + c.gan_steps * sec["gan"]
    assert c.time_box == 0.05 and c.plan["time_box_from_minutes"] == 0.05 and c.cvae_steps >= 10 and c.gan_steps >= 10
    assert planned <= 3 + 60 * 0.05 and c.cvae_steps < 6000                       # planned to fit (the 10-step floor aside)
    long = Trainer(big, tmp_path / "long", minutes=60, show_progress=False, log=lambda m: None)
    assert long.config.time_box == 10.0 and "time_box_from_minutes" not in long.config.plan   # a longer --minutes is only a stop


def test_config_checks_the_new_fields():
    assert TrainConfig(bf16="auto", channels_last="auto", time_box=2.5).time_box == 2.5
    for bad, msg in ((dict(bf16="yes"), "bf16 must be"), (dict(fast="auto"), "fast must be"), (dict(time_box=-1), "time_box must be"),
                     (dict(time_box=True), "time_box must be"), (dict(plan=[1]), "plan must be")):
        with pytest.raises(InputError, match=msg): TrainConfig(**bad)
    assert preset("cpu").with_steps(500).time_box == 0.0                       # steps given by the user: no time box
    assert preset("cpu").bf16 == "auto" and preset("gpu").bf16 is False and preset("tiny").time_box == 0


@pytest.mark.parametrize("speedup, on", [(0.01, False), (1.2, False), (2.0, True)])
def test_bf16_only_where_it_was_measured_to_pay_off(monkeypatch, speedup, on):
    monkeypatch.setattr(train_module, "bf16_speedup", lambda device: speedup)
    chosen, found = choose_speed_path(preset("cpu"), torch.device("cpu"))
    assert chosen == {"bf16": on, "channels_last": on}
    assert found["bf16_matmul_speedup"] == speedup and found["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert choose_speed_path(preset("tiny"), torch.device("cpu")) == ({}, {})   # explicit settings are left alone
    assert choose_speed_path(preset("cpu", fast=False), torch.device("cpu")) == ({"bf16": False, "channels_last": False}, {})   # --eager


def test_the_probe_changes_nothing_the_run_computes(tmp_path, monkeypatch):
    "A time-boxed run trains exactly what the same config with its fitted step counts trains without probing."
    monkeypatch.setattr(train_module, "bf16_speedup", lambda device: 0.5)      # fp32 on every machine: the comparison is exact
    boxed = preset("tiny", time_box=0.05, bf16="auto", channels_last="auto")
    logs = []
    Trainer(boxed, tmp_path / "boxed", show_progress=False, log=logs.append).run()
    saved = json.loads((tmp_path / "boxed" / "config.json").read_text())["train"]
    assert saved["time_box"] == 0.05 and saved["bf16"] is False and saved["channels_last"] is False
    assert set(saved["plan"]["seconds_per_step"]) == {"text", "cvae", "gan"} and saved["plan"]["steps_before_fit"] == [4, 6, 6]
    assert saved["plan"]["bf16_matmul_speedup"] == 0.5 and saved["text_steps"] == 4 and saved["cvae_steps"] >= 10
    assert any(l.startswith("time box 0.05 min") for l in logs) and any(l.startswith("speed path: bf16 off") for l in logs)
    fixed = preset("tiny", cvae_steps=saved["cvae_steps"], gan_steps=saved["gan_steps"])
    train(fixed, tmp_path / "fixed", show_progress=False)
    a, b = load_file(tmp_path / "boxed" / "model.safetensors"), load_file(tmp_path / "fixed" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # resume reads the fitted steps from config.json and measures nothing again
    logs.clear()
    again = Trainer(None, tmp_path / "boxed", resume=True, show_progress=False, log=logs.append)
    assert (again.config.cvae_steps, again.config.gan_steps) == (saved["cvae_steps"], saved["gan_steps"])
    assert not any("time box" in l or "speed path" in l for l in logs)
