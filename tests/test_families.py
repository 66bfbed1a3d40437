"""One trainer, two model families (chapter 08's generic loop; the VAE-GAN of 08c, flow matching of 14): both train, save, resume
bit for bit, run under torchrun, and load for generate, eval and the explorer; one config layer (`--set`), whose mistakes are one line;
run folders from before model families still load and resume."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from t2i_course.core import InputError
from t2i_course.files import CONFIG_FILE, model_family
from t2i_course.pipeline import TextToImage
from t2i_course.train import Trainer, preset, train

pytestmark = pytest.mark.usefixtures("one_thread")
QUIET = dict(show_progress=False, log=lambda s: None)


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return sorted(x) == sorted(y) and all(torch.equal(x[k], y[k]) for k in x)


class Crash(Exception): pass


@pytest.mark.parametrize("family", ["vaegan", "flow"])
def test_a_crash_then_resume_is_bit_identical_to_one_run(tmp_path, family):
    train("tiny", tmp_path / "straight", model=family, show_progress=False)
    train("tiny", tmp_path / "again", model=family, show_progress=False)
    assert same_weights(tmp_path / "straight", tmp_path / "again")                # the same config: the same weights
    t = Trainer(preset("tiny", model=family), tmp_path / "crashed", **QUIET)
    real = t._train_step
    def step(phase, b):
        if t.step == 9: raise Crash("power cut")
        return real(phase, b)
    t._train_step = step
    with pytest.raises(Crash): t.run()
    summary = train("tiny", tmp_path / "crashed", model=family, resume=True, show_progress=False)
    assert summary["status"] == "finished"
    assert same_weights(tmp_path / "straight", tmp_path / "crashed")
    cfg = json.loads((tmp_path / "crashed" / CONFIG_FILE).read_text())
    assert cfg["family"] == family and cfg["version"] == 2 and cfg["train"]["model"] == family


def test_the_trainer_knows_no_family_and_each_family_its_own_steps(tmp_path):
    for family, phases in (("vaegan", ("text", "cvae", "gan")), ("flow", ("text", "flow"))):
        c = preset("tiny", model=family)
        assert c.PHASES == phases and type(c) is model_family(family).config_class
        t = Trainer(c, tmp_path / family, **QUIET)
        assert set(t.optimizers) == ({"text", "cvae", "enc", "dec", "dis"} if family == "vaegan" else {"text", "flow"})
    with pytest.raises(InputError, match="unknown model family 'gan2'; known: vaegan, flow"): preset("tiny", model="gan2")


def test_set_reaches_config_json_and_the_model(run_cli, tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", "--preset", "tiny", "--steps", "8", "--threads", "1", "--out", out, "--set", "vae.z_dim=6", "--set", "text.out_dim=8",
                "--set", "gan.adversarial=1.5")
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((out / CONFIG_FILE).read_text())
    assert cfg["train"]["vae"]["z_dim"] == 6 and cfg["model"]["vae"]["z_dim"] == 6
    assert cfg["train"]["vae"]["text_dim"] == 8 == cfg["model"]["discriminator"]["text_dim"] == cfg["model"]["text_encoder"]["out_dim"]
    assert cfg["model"]["vaegan"]["adversarial"] == 1.5
    assert TextToImage.load(out).model.latent_shape == (6,)


@pytest.mark.parametrize("args, message", [
    (["--set", "vae.text_dim=8"], "--set vae.text_dim: it always equals text.out_dim; set text.out_dim instead"),
    (["--set", "vae.zdim=8"], "--set vae.zdim: vae has no field 'zdim'; allowed: image_size, channels, hidden, z_dim"),
    (["--set", "vae.z_dim=big"], "vae.z_dim must be int, got 'big'"),
    (["--set", "vae=3"], "--set vae: vae is a group of settings"),
    (["--set", "z_dim"], "--set 'z_dim': expected PATH=VALUE"),
    (["--set", "text.vocab_size=9"], "--set text.vocab_size: it is set when the run starts"),
    (["--model", "flow", "--set", "vae.z_dim=3"], "--set vae.z_dim: the config has no field 'vae'"),
])
def test_set_mistakes_are_one_line(run_cli, tmp_path, args, message):
    r = run_cli("train", "--preset", "tiny", "--out", tmp_path / "run", *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr, r.stderr
    assert not (tmp_path / "run").exists()                               # nothing written


def test_flow_from_the_command_line_to_generate_and_eval(run_cli, tmp_path):
    out = tmp_path / "flow"
    r = run_cli("train", "--model", "flow", "--preset", "tiny", "--threads", "1", "--out", out)
    assert r.returncode == 0 and "finished at step 16 of 16" in r.stdout, r.stderr[-2000:]
    r = run_cli("generate", "--run", out, "--n", "2", "--guidance", "3", "--sample-steps", "3", "--out", tmp_path / "g.png", "一个红色的球体")
    assert r.returncode == 0 and (tmp_path / "g.png").is_file(), r.stderr[-2000:]
    r = run_cli("generate", "--run", out, "--guidance", "-1", "--out", tmp_path / "h.png", "a red sphere")
    assert r.returncode == 2 and "guidance must be a finite number >= 0" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("eval", "--run", out, "--n", "12", "--out", tmp_path / "eval")
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert m["family"] == "flow" and m["discriminator_accuracy"] in (None, {}) and 0 <= m["r_precision"] <= 1
    r = run_cli("generate", "--run", out, "--guidance", "2", "--out", tmp_path / "v.png", "a red sphere")   # fine for flow ...
    vae = tmp_path / "vae"
    assert run_cli("train", "--preset", "tiny", "--threads", "1", "--out", vae).returncode == 0
    r = run_cli("generate", "--run", vae, "--guidance", "2", "--out", tmp_path / "w.png", "a red sphere")   # ... not for the VAE-GAN
    assert r.returncode == 2 and "'guidance' is not a sampling option of this run's model" in r.stderr


def test_ddp_two_cpu_ranks_match_one_process_for_flow(tmp_path):
    "torchrun with 2 gloo ranks, each half of the same global batch, against one process with that batch: the flow loss within noise."
    import csv
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["train", "--model", "flow", "--preset", "tiny", "--steps", "40", "--batch-size", "16", "--threads", "1"]
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "t2i_course.cli",
                        *args, "--out", str(tmp_path / "ddp")], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("finished at step 40 of 40") == 1
    from conftest import cli_command
    s = subprocess.run([*cli_command(), *args, "--out", str(tmp_path / "one")], capture_output=True, text=True, timeout=300, env=env)
    assert s.returncode == 0, s.stderr[-2000:]
    def mean_fm(run):
        rows = list(csv.DictReader(open(run / "logs" / "train.csv", encoding="utf-8")))
        return sum(float(r["fm"]) for r in rows if r["phase"] == "flow") / sum(r["phase"] == "flow" for r in rows)
    ddp, one = mean_fm(tmp_path / "ddp"), mean_fm(tmp_path / "one")
    assert abs(ddp - one) <= 0.03 * one, (ddp, one)
    assert json.loads((tmp_path / "ddp" / CONFIG_FILE).read_text())["processes"] == 2


def _as_version_1(run: Path):
    "Rewrite a VAE-GAN run folder's config.json as t2i-course wrote it before model families: version 1, a flat training config."
    c = json.loads((run / CONFIG_FILE).read_text())
    t = c["train"]
    flat = {k: v for k, v in t.items() if k not in ("model", "text", "vae", "disc", "gan")}
    flat.update(embed_dim=t["text"]["embed_dim"], text_dim=t["text"]["out_dim"], text_channels=t["text"]["channels"], z_dim=t["vae"]["z_dim"],
                vae_hidden=t["vae"]["hidden"], vae_refine=t["vae"]["refine"], decoder_objects=t["vae"]["objects"], disc_hidden=t["disc"]["hidden"],
                lr_gan=t["gan"]["lr"], beta=t["gan"]["beta"], adversarial=t["gan"]["adversarial"], aux_gen_weight=t["gan"]["aux_gen_weight"])
    old = {k: v for k, v in c.items() if k not in ("family", "sampling")}
    (run / CONFIG_FILE).write_text(json.dumps({**old, "version": 1, "train": flat}), encoding="utf-8")


def test_a_run_folder_from_before_model_families_loads_and_resumes_exactly(tmp_path):
    train("tiny", tmp_path / "straight", show_progress=False)
    assert Trainer(preset("tiny"), tmp_path / "old", minutes=1e-6, **QUIET).run()["status"] == "stopped"   # stops after its first step
    _as_version_1(tmp_path / "old")
    t2i = TextToImage.load(tmp_path / "old")
    assert t2i.config["family"] == "vaegan" and t2i.temperature == 1.0
    assert train("tiny", tmp_path / "old", resume=True, show_progress=False)["status"] == "finished"
    assert same_weights(tmp_path / "straight", tmp_path / "old")
    assert json.loads((tmp_path / "old" / CONFIG_FILE).read_text())["version"] == 2              # written again in today's format
    bad = json.loads((tmp_path / "old" / CONFIG_FILE).read_text()); bad["family"] = "diffusion"
    (tmp_path / "old" / CONFIG_FILE).write_text(json.dumps(bad))
    with pytest.raises(InputError, match="model family 'diffusion' is unknown to this library"): TextToImage.load(tmp_path / "old")


def test_the_explorer_moves_a_flow_run_s_starting_noise(tmp_path):
    from test_widgets import ImageJudge
    from t2i_course.widgets import LatentExplorer, latent_map
    train("tiny", tmp_path / "flow", model="flow", show_progress=False)
    t2i = TextToImage.load(tmp_path / "flow", device="cpu")
    lmap = latent_map(t2i, n=12, seed=0)                                   # real images placed in noise space by the reverse ODE
    assert lmap.mu.shape == (12, 3 * 16 * 16)
    app = LatentExplorer(t2i, "一个红色的球体", "a blue cube", n=4, lmap=lmap, judge=ImageJudge())
    first, grid = app.image.value, app.images.copy()
    assert np.array_equal(grid, t2i.generate("一个红色的球体", n=4, seed=0))      # the sliders at 0: what generate draws
    assert app.set_slider(0, 2.0) != first and not np.array_equal(app.images, grid)   # the slider moved the noise: another picture
    assert app.reset() == first                                            # and back
    pair = app.pick(0)                                                     # a real image and its round trip through noise space
    assert pair.shape == (2, 16, 16, 3)
