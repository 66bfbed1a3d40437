"""The run that ships with the package: made by the README's own cpu-preset command (tools/make_shipped_run.py), generator only,
and usable seconds after `pip install` (`t2i-course generate` without --run)."""
import json

import numpy as np
import pytest

from t2i_course.core import InputError
from t2i_course.files import CONFIG_FILE, WEIGHTS_FILE
from t2i_course.pipeline import TextToImage, shipped_run
from t2i_course.train import TrainConfig, preset
from t2i_course.vaegan_family import VAEGANTrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py

FITTED = {"cvae_steps", "gan_steps", "plan", "bf16", "channels_last"}   # what the time box and the speed probe decide on the machine


@pytest.fixture(scope="module")
def shipped():
    return TextToImage.load(shipped_run(), device="cpu")


def test_the_shipped_run_is_the_cpu_preset(shipped):
    cfg = json.loads((shipped_run() / CONFIG_FILE).read_text(encoding="utf-8"))
    train = (VAEGANTrainConfig.from_v1(cfg["train"], cfg["model"]) if cfg["version"] == 1   # written before model families
             else TrainConfig.from_dict(cfg["train"]))
    want = preset("cpu").with_overrides({})
    got, want_d = train.to_dict(), want.to_dict()
    got["text"]["vocab_size"] = want_d["text"]["vocab_size"]                    # set by the run's vocabulary
    differ = [k for k in want_d if k not in FITTED and got[k] != want_d[k]]
    assert not differ, f"the shipped run was trained with other settings than preset('cpu'): {differ}; rerun tools/make_shipped_run.py"
    assert cfg["status"] == "finished" and cfg["steps_done"] == train.total_steps and train.cvae_steps > 0 and train.gan_steps > 0
    assert cfg["parts"] == ["cvae"] and shipped.generator_only and shipped.temperature == want.temperature
    assert (shipped_run() / WEIGHTS_FILE).stat().st_size < 4e6                  # a few MB: the generator only


def test_the_shipped_run_draws_what_it_is_asked(shipped):
    "Read by chapter 10's judges (trained on real renders, shipped too): the right colour and one object, in most of 16 samples."
    from t2i_course.evaluate import fit_images, load_or_train_judge
    images = fit_images(shipped.generate(["一个红色的球体", "a blue cube"], n=8, seed=0))
    judge, counter = load_or_train_judge(32, 1, show_progress=False), load_or_train_judge(32, 0, show_progress=False)
    colors, counts = [r["color"] for r in judge.read(images)], [r["count"] for r in counter.read(images)]
    assert sum(c == "red" for c in colors[:8]) >= 7 and sum(c == "blue" for c in colors[8:]) >= 7, colors
    assert sum(c == 1 for c in counts) >= 14, counts
    with pytest.raises(InputError, match="generator only"): shipped.score(images[:1], ["一个红色的球体"])


def test_generate_without_a_run_uses_the_shipped_one(run_cli, tmp_path):
    out = tmp_path / "red.png"
    r = run_cli("generate", "一个红色的球体", "--n", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr[-1000:]
    assert "using the run that ships with t2i-course" in r.stdout and out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
