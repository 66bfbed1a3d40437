"""Chapter 08's trainer: exact resume after a real SIGKILL (also in the middle of a checkpoint write), NaN losses,
a full disk, damaged checkpoints, runs from another version, the time box, and the CLI's one-line errors."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from t2i_course.core import InputError
from t2i_course.train import Trainer, TrainingStopped, checkpoints, preset, train

pytestmark = pytest.mark.usefixtures("one_thread")
FLAGS = ["--preset", "tiny", "--steps", "60", "--threads", "1"]


def cli(*args):
    from conftest import cli_command
    return [*cli_command(), *map(str, args)]


def same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return sorted(x) == sorted(y) and all(torch.equal(x[k], y[k]) for k in x)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    "An uninterrupted run of the flags every kill test uses."
    out = tmp_path_factory.mktemp("ref") / "run"
    r = subprocess.run(cli("train", *FLAGS, "--out", out), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return out


def kill_when(proc, out: Path, during_write: bool, timeout: float = 120) -> str:
    "SIGKILL `proc` as soon as a checkpoint write is under way (during_write) or right after the second checkpoint exists."
    ck, t0 = out / "checkpoint", time.time()
    while proc.poll() is None and time.time() - t0 < timeout:
        names = [e.name for e in os.scandir(ck)] if ck.is_dir() else []
        done = [n for n in names if n.startswith("step-")]
        if (during_write and done and any(n.startswith(".step-") for n in names)) or (not during_write and len(done) >= 2):
            proc.send_signal(signal.SIGKILL); proc.wait()
            left = [e.name for e in os.scandir(ck) if e.name.startswith(".step-")]
            return "during a write" if left else "between writes"
        time.sleep(0.0005)
    proc.wait()
    return "finished before the kill"


def test_sigkill_and_resume_is_bit_identical(reference, tmp_path):
    out = tmp_path / "run"
    where = []
    for i in range(4):                                           # four kills, then a resume to the end
        args = ["train", *FLAGS, "--out", out] + (["--resume"] if i else [])
        p = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        where.append(kill_when(p, out, during_write=i % 2 == 0))
    r = subprocess.run(cli("train", *FLAGS, "--out", out, "--resume"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "continuing from step-" in r.stdout + r.stderr
    print("kills:", where)
    assert any(w == "during a write" for w in where), where     # at least one kill landed inside a checkpoint write
    assert same_weights(reference, out)
    assert not any(p.name.startswith(".") for p in (out / "checkpoint").iterdir())   # leftovers of killed writes are cleaned up


def test_time_box_then_resume_is_bit_identical(reference, tmp_path):
    out = tmp_path / "run"
    r = subprocess.run(cli("train", *FLAGS, "--out", out, "--minutes", "0.0001"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 3, r.stderr[-2000:]                                   # stopped by the time box: its own exit code
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["status"] == "stopped" and cfg["steps_done"] < 60 and (out / "model.safetensors").is_file()
    r = subprocess.run(cli("train", *FLAGS, "--out", out, "--resume"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((out / "config.json").read_text())["status"] == "finished"
    assert same_weights(reference, out)


def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tmp_path):
    t = Trainer(preset("tiny"), tmp_path / "run", show_progress=False, log=lambda s: None)
    real = t._train_step
    def poisoned(phase, b):
        out = real(phase, b)
        return {**out, "loss": float("nan")} if t.step == 6 else out
    t._train_step = poisoned
    with pytest.raises(TrainingStopped, match=r"step 7 \(cvae phase\): the loss term 'loss' is nan.*step-0000006"):
        t.run()
    assert [p.name for p in checkpoints(tmp_path / "run")] == ["step-0000006", "step-0000004"]
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_disk_full_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    t = Trainer(preset("tiny"), tmp_path / "run", show_progress=False, log=lambda s: None)
    real_write = Path.write_bytes
    def full_disk(self, data):
        if self.name == "weights.safetensors" and t.step >= 8: raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write(self, data)
    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(TrainingStopped, match=r"could not write checkpoint step-0000008: No space left on device; the previous checkpoint \(step-0000006\) is intact"):
        t.run()
    monkeypatch.undo()
    assert [p.name for p in checkpoints(tmp_path / "run")] == ["step-0000006", "step-0000004"]
    t2 = Trainer(None, tmp_path / "run", resume=True, show_progress=False, log=lambda s: None)
    assert t2.step == 6


def test_damaged_checkpoints_resume_from_the_last_good_one_or_from_scratch(tmp_path):
    train("tiny", tmp_path / "run", show_progress=False)
    newest, older = checkpoints(tmp_path / "run")
    data = (newest / "weights.safetensors").read_bytes()
    (newest / "weights.safetensors").write_bytes(data[: len(data) // 2])          # truncated
    logs = []
    t = Trainer(None, tmp_path / "run", resume=True, show_progress=False, log=logs.append)
    assert t.step == int(older.name[5:])
    assert any("skipping checkpoint step-0000016" in s and "weights.safetensors does not match its checksum" in s for s in logs), logs
    (older / "state.json").write_text("{not json")
    logs.clear()
    t = Trainer(None, tmp_path / "run", resume=True, show_progress=False, log=logs.append)
    assert t.step == 0 and any("starting from scratch" in s for s in logs), logs


def test_run_from_another_version(tmp_path):
    train("tiny", tmp_path / "run", show_progress=False)
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    (tmp_path / "run" / "config.json").write_text(json.dumps({**cfg, "version": 7}))
    with pytest.raises(InputError, match="format version 7"):
        Trainer(None, tmp_path / "run", resume=True, show_progress=False, log=lambda s: None)
    (tmp_path / "run" / "config.json").write_text(json.dumps({**cfg, "train": {**cfg["train"], "warp_drive": 1}}))
    with pytest.raises(InputError, match="warp_drive"):
        Trainer(None, tmp_path / "run", resume=True, show_progress=False, log=lambda s: None)


def test_run_folder_contents(tmp_path):
    s = train("tiny", tmp_path / "run", show_progress=False)
    run = tmp_path / "run"
    assert s["status"] == "finished" and s["step"] == 16
    for f in ("config.json", "vocab.json", "model.safetensors", "loss.png", "logs/train.csv"):
        assert (run / f).is_file(), f
    assert list((run / "logs").glob("events.out.tfevents.*")), "no TensorBoard event file"
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["step-0000008.png", "step-0000016.png"]
    rows = (run / "logs" / "train.csv").read_text().splitlines()
    assert rows[0].startswith("step,phase,seconds") and len(rows) == 17
    for p in run.rglob("*"):                                     # no pickles anywhere: safetensors, JSON, CSV, PNG, event files
        if p.is_file(): assert p.read_bytes()[:2] != b"\x80\x04", p


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps: expected an integer in 1..10,000,000"),
    (["--minutes", "-1"], "--minutes: expected minutes as a number > 0"),
    (["--size", "48"], "power of two"),
    (["--data", "no/such/folder"], "no such folder"),
    (["--preset", "huge"], "invalid choice"),
    (["--two-objects", "2"], "two_objects must be a number in [0, 1]"),
    (["--two-objects", "many"], "--two-objects: invalid float value"),
])
def test_cli_train_bad_input(run_cli, tmp_path, args, message):
    r = run_cli("train", "--preset", "tiny", "--out", tmp_path / "run", *args) if "--preset" not in args else run_cli("train", *args, "--out", tmp_path / "run")
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "run" / "config.json").exists()


def test_cli_train_empty_data_folder_and_resume_nothing(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_cli("train", "--preset", "tiny", "--data", tmp_path / "empty", "--out", tmp_path / "run")
    assert r.returncode == 2 and "is empty" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("train", "--preset", "tiny", "--out", tmp_path / "nothing", "--resume")
    assert r.returncode == 2 and "nothing to resume" in r.stderr


def test_train_on_a_folder_of_images(tmp_path, run_cli):
    from PIL import Image
    from t2i_course.data import make_dataset
    ds = make_dataset(40, size=16, seed=1)
    (tmp_path / "data" / "images").mkdir(parents=True)
    with open(tmp_path / "data" / "captions.jsonl", "w", encoding="utf-8") as f:
        for i, (img, cap) in enumerate(zip(ds.images, ds.captions)):
            Image.fromarray(img).save(tmp_path / "data" / "images" / f"{i:03d}.png")
            f.write(json.dumps({"file": f"images/{i:03d}.png", "caption": cap}, ensure_ascii=False) + "\n")
    r = run_cli("train", "--preset", "tiny", "--data", tmp_path / "data", "--out", tmp_path / "run", "--threads", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "skipping the text phase" in r.stdout
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["train"]["text_steps"] == 0 and cfg["model"]["vaegan"]["aux"] is False


def test_gpu_preset_builds_and_steps_on_cpu(tmp_path):
    "The gpu preset's 64x64 model fits together (a few steps on 64 images; the real run needs a GPU)."
    cfg = preset("gpu", n_train=64, batch_size=8, sample_every=1000, checkpoint_every=1000, word2vec=False).with_steps(6)
    s = Trainer(cfg, tmp_path / "gpu", show_progress=False, log=lambda m: None).run()
    assert s["status"] == "finished" and s["step"] == 6
    from t2i_course.pipeline import TextToImage
    t2i = TextToImage.load(tmp_path / "gpu", device="cpu")
    assert t2i.generate([t2i.vocab.itos[-1]], n=2).shape == (2, 64, 64, 3)            # a word of its own vocabulary


def _phase_means(run: Path) -> dict:
    import csv
    rows = list(csv.DictReader(open(run / "logs" / "train.csv", encoding="utf-8")))
    out = {}
    for ph, key in (("text", "loss"), ("cvae", "recon"), ("gan", "pixel"), ("cvae", "layout"), ("gan", "layout")):
        vals = [float(r[key]) for r in rows if r["phase"] == ph and r.get(key)]
        if vals or key != "layout": out[f"{ph} {key}"] = sum(vals) / len(vals)      # layout: runs with object slots
    return out


def test_ddp_two_cpu_ranks_match_one_process(tmp_path):
    """torchrun with 2 gloo ranks, each half of the same global batch, against one process with that batch: the same loss curve within noise.
    With what the gpu preset trains: two-object scenes, and object slots that learn the layout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["train", "--preset", "tiny", "--steps", "40", "--batch-size", "16", "--threads", "1", "--two-objects", "0.5", "--decoder-objects", "2"]
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "t2i_course.cli",
                        *args, "--out", str(tmp_path / "ddp")], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("finished at step 40 of 40") == 1              # rank 0 alone reports
    s = subprocess.run(cli(*args, "--out", tmp_path / "one"), capture_output=True, text=True, timeout=300, env=env)
    assert s.returncode == 0, s.stderr[-2000:]
    ddp, one = _phase_means(tmp_path / "ddp"), _phase_means(tmp_path / "one")
    print("phase means, ddp vs one process:", ddp, one)
    assert set(ddp) == set(one) == {"text loss", "cvae recon", "gan pixel", "cvae layout", "gan layout"}
    for ph in ddp:                                    # the layout error is a small number (about 0.1): its batch noise is relatively larger
        assert abs(ddp[ph] - one[ph]) <= (0.05 if "layout" in ph else 0.02) * abs(one[ph]), (ph, ddp[ph], one[ph])
    cfg = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert cfg["processes"] == 2 and cfg["status"] == "finished" and cfg["model"]["vae"]["objects"] == 2
    ck = checkpoints(tmp_path / "ddp")[0]
    assert {"torch.0", "torch.1"} <= set(json.dumps(json.loads((ck / "state.json").read_text())["state"]).replace('"', ' ').split())


def test_ddp_resume(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "t2i_course.cli", "train",
            "--preset", "tiny", "--steps", "40", "--threads", "1", "--out", str(tmp_path / "ddp")]
    r = subprocess.run(base + ["--minutes", "0.0001"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]                   # under torchrun a clean stop exits 0: any other code reads as a crash
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["status"] == "stopped"
    r = subprocess.run(base + ["--resume"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "continuing from step-" in r.stdout and json.loads((tmp_path / "ddp" / "config.json").read_text())["status"] == "finished"
