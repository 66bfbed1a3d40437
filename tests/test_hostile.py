"""A careless user and a hostile dataset against the CLI and the library: nothing a user owns is lost or read by accident.

Every case is a real reproduction: real files and folders, real subprocesses where the process matters (argv bytes, two
trainers on one folder, SIGTERM, SIGKILL, a memory limit), the CLI's own `main` in this process elsewhere (the same code
the console script runs). Each case asserts the exit code, the one line on stderr (never a traceback) and that nothing
outside the run or dataset was touched (`untouched`). The groups follow the issue: folders (critical), dataset roots,
verified checkpoints, one writer per run, no tracebacks, and the smaller defects.
"""
import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from t2i_course.core import InputError

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = ["--preset", "tiny", "--threads", "1"]


# ---------------------------------------------------------------- helpers

@dataclass
class Result:
    code: object          # the exit code, or "traceback" when an exception escaped `main`
    out: str
    err: str


def main(*args, cwd=None) -> Result:
    "Run `t2i-course *args` through cli.main in this process (cwd: run it from that folder)."
    from t2i_course import cli
    out, err, old = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        if cwd is not None: os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try: code = cli.main([str(a) for a in args])
            except SystemExit as e: code = e.code
            except BaseException:
                code = "traceback"
                err.write(traceback.format_exc())
    finally:
        os.chdir(old)
    return Result(code, out.getvalue(), err.getvalue())


def sub(*args, cwd=None, timeout=300, **kw) -> Result:
    "Run the `t2i-course` console script in a subprocess (args may be bytes)."
    from conftest import cli_command
    env = {**os.environ, "PYTHONUTF8": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([*cli_command(), *[a if isinstance(a, bytes) else str(a) for a in args]], cwd=cwd, env=env, timeout=timeout,
                       capture_output=True, **kw)
    return Result(r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))


def refused(r: Result, code: int, *needles: str):
    "The exit code, no traceback, and the last line of stderr is the command's one-line message holding every needle."
    lines = [l for l in r.err.strip().splitlines() if l.strip()]
    last = lines[-1] if lines else ""
    ok = r.code == code and "Traceback" not in r.err and last.startswith("t2i-course ") and all(n in last for n in needles)
    assert ok, f"exit {r.code}; stderr ends: {r.err.strip()[-400:]!r}"


def fine(r: Result):
    assert r.code == 0 and "Traceback" not in r.err, f"exit {r.code}; stderr ends: {r.err.strip()[-400:]!r}"


def tree(root: Path) -> dict:
    "Every file and folder under `root`: relative path -> SHA-256 of the content (folders: '<dir>')."
    out = {}
    for p in sorted(Path(root).rglob("*")):
        out[str(p.relative_to(root))] = "<dir>" if p.is_dir() and not p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def home(tmp_path):
    "A user's folder beside everything a case writes: mydocs/thesis.txt and mydocs/photos/cat.png; checked untouched at the end."
    docs = tmp_path / "mydocs"
    (docs / "photos").mkdir(parents=True)
    (docs / "thesis.txt").write_text("precious", encoding="utf-8")
    Image.new("RGB", (8, 8), "orange").save(docs / "photos" / "cat.png")
    before = tree(docs)
    yield tmp_path
    assert tree(docs) == before, "the user's folder mydocs/ was changed"


def untouched(path: Path):
    "A context manager: assert that nothing under `path` changed."
    @contextlib.contextmanager
    def check():
        before = tree(path) if path.is_dir() else path.read_bytes()
        yield
        assert (tree(path) if path.is_dir() else path.read_bytes()) == before, f"{path} was changed"
    return check()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    "A finished tiny run (16 steps, checkpoints step-0000014 and step-0000016), trained once for the module."
    from t2i_course.train import train
    out = tmp_path_factory.mktemp("hostile") / "tiny"
    train("tiny", out, threads=1, show_progress=False)
    return out


@pytest.fixture
def run(tiny_run, tmp_path):
    "A fresh copy of the tiny run that a case may damage."
    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst


def sha(path: Path) -> str: return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def image_folder(root: Path, records: list[dict], images=("a.png",)) -> Path:
    "A folder dataset: images/ with small pictures and captions.jsonl with `records`."
    (root / "images").mkdir(parents=True, exist_ok=True)
    for name in images: Image.new("RGB", (16, 16), "red").save(root / "images" / name)
    (root / "captions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return root


# ================================================================ critical: folders the commands write

def test_data_out_a_users_folder_is_refused_and_kept(home):
    r = sub("data", "--n", "20", "--out", "mydocs", cwd=home)           # the issue's reproduction, as a real process
    refused(r, 2, "--out mydocs is not empty", "thesis.txt")


def test_data_out_a_run_folder_is_refused_and_the_model_kept(home, run):
    with untouched(run):
        refused(main("data", "--n", "20", "--out", run), 2, "holds a training run (config.json)")


def test_data_out_dot_in_a_users_folder_is_refused(home):
    refused(main("data", "--n", "20", "--out", ".", cwd=home / "mydocs"), 2, "--out . is not empty")


def test_data_out_dot_in_an_empty_folder_writes_there(home):
    from t2i_course.data import load_dataset
    (home / "new").mkdir()
    fine(main("data", "--n", "20", "--out", ".", cwd=home / "new"))
    assert len(load_dataset(home / "new")) == 20
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []     # no temporary folder beside it


def test_data_out_dotdot_is_refused(home):
    (home / "mydocs" / "sub").mkdir()
    try: refused(main("data", "--n", "20", "--out", "..", cwd=home / "mydocs" / "sub"), 2, "--out .. is not empty")
    finally: (home / "mydocs" / "sub").rmdir()


def test_data_out_a_relative_path_under_a_missing_folder(home):
    fine(main("data", "--n", "20", "--out", "sets/one", cwd=home))
    assert (home / "sets" / "one" / "manifest.json").is_file()


def test_data_replaces_a_dataset_it_wrote(home):
    from t2i_course.data import load_dataset
    fine(main("data", "--n", "20", "--out", home / "ds"))
    fine(main("data", "--n", "30", "--out", home / "ds"))
    assert len(load_dataset(home / "ds")) == 30 and sorted(p.name for p in home.iterdir()) == ["ds", "mydocs"]


def test_data_never_replaces_a_dataset_holding_a_users_file(home):
    fine(main("data", "--n", "20", "--out", home / "ds"))
    (home / "ds" / "notes.txt").write_text("mine")
    with untouched(home / "ds"):
        refused(main("data", "--n", "20", "--out", home / "ds"), 2, "also notes.txt, which writing a dataset there would delete")


def test_data_out_a_file_is_refused(home):
    with untouched(home / "mydocs" / "thesis.txt"):
        refused(main("data", "--n", "20", "--out", home / "mydocs" / "thesis.txt"), 2, "is a file, not a folder")


def test_data_out_under_a_file_is_refused(home):
    refused(main("data", "--n", "20", "--out", home / "mydocs" / "thesis.txt" / "ds"), 2, "thesis.txt is a file, not a folder")


def test_a_failed_swap_keeps_the_old_dataset_and_leaves_no_temporary_folder(home, monkeypatch):
    from t2i_course import files
    from t2i_course.data import load_dataset, make_dataset, save_dataset
    save_dataset(make_dataset(8, size=16), home / "ds")
    real = os.replace

    def swap_fails(a, b):                                                    # the new folder cannot be put in place
        if str(a).endswith(".tmp") and Path(b) == (home / "ds").resolve(): raise OSError(28, "No space left on device", str(b))
        return real(a, b)
    monkeypatch.setattr(files.os, "replace", swap_fails)
    with pytest.raises(OSError): save_dataset(make_dataset(12, size=16), home / "ds")
    monkeypatch.undo()
    assert len(load_dataset(home / "ds")) == 8
    assert sorted(p.name for p in home.iterdir()) == ["ds", "mydocs"]


def test_save_dataset_in_a_notebook_refuses_a_users_folder(home):
    from t2i_course.data import make_dataset, save_dataset
    with pytest.raises(InputError, match="is not empty"): save_dataset(make_dataset(8, size=16), home / "mydocs")


def test_train_out_a_folder_with_the_users_loss_png_is_refused_before_any_work(home):
    mine = home / "analysis"
    (mine / "logs").mkdir(parents=True)
    (mine / "loss.png").write_bytes(b"my own plot"); (mine / "logs" / "train.csv").write_text("my,own,log\n")
    with untouched(mine):
        refused(main("train", *TINY, "--out", mine), 2, "is not empty", "loss.png")


def test_train_out_a_dataset_folder_is_refused(home):
    fine(main("data", "--n", "20", "--out", home / "ds"))
    with untouched(home / "ds"):
        refused(main("train", *TINY, "--out", home / "ds"), 2, "holds a dataset (manifest.json)")


def test_train_out_dot_in_a_users_folder_is_refused(home):
    refused(main("train", *TINY, "--out", ".", cwd=home / "mydocs"), 2, "--out . is not empty")


def test_save_run_in_a_notebook_refuses_a_users_folder(home, tiny_run):
    from t2i_course.pipeline import TextToImage, save_run
    t2i = TextToImage.load(tiny_run)
    with pytest.raises(InputError, match="is not empty"): save_run(home / "mydocs", t2i.model, t2i.vocab)


def test_eval_out_a_users_folder_is_refused(home, tiny_run):
    refused(main("eval", "--run", tiny_run, "--out", home / "mydocs", "--n", "20"), 2, "is not empty")


def test_eval_out_another_run_is_refused(home, tiny_run, run):
    with untouched(run):
        refused(main("eval", "--run", tiny_run, "--out", run, "--n", "20"), 2, "holds a training run")


def test_eval_writes_over_its_own_report_and_keeps_a_users_note(home, tiny_run):
    out = home / "report"
    fine(main("eval", "--run", tiny_run, "--out", out, "--n", "20"))
    (out / "my-notes.txt").write_text("keep me")
    fine(main("eval", "--run", tiny_run, "--out", out, "--n", "20", "--seed", "1"))
    assert json.loads((out / "metrics.json").read_text())["seed"] == 1 and (out / "my-notes.txt").read_text() == "keep me"


def test_generate_never_overwrites_a_users_picture(home, tiny_run):
    with untouched(home / "mydocs" / "photos" / "cat.png"):
        refused(main("generate", "--run", tiny_run, "--out", home / "mydocs" / "photos" / "cat.png", "a red cube"), 2,
                "was not written by t2i-course")


def test_generate_overwrites_its_own_grid_and_makes_missing_folders(home, tiny_run):
    out = home / "grids" / "today" / "grid.png"
    fine(main("generate", "--run", tiny_run, "--n", "2", "--out", out, "a red cube"))
    fine(main("generate", "--run", tiny_run, "--n", "3", "--out", out, "a red cube"))
    assert Image.open(out).info.get("Software") == "t2i-course"


def test_generate_out_a_folder_is_refused(home, tiny_run):
    (home / "x.png").mkdir()
    refused(main("generate", "--run", tiny_run, "--out", home / "x.png", "a red cube"), 2, "is a folder")


# ================================================================ high: loaders stay inside the dataset's folder

@pytest.fixture
def outside(home):
    "A private picture beside the dataset folder: private/secret.png."
    (home / "private").mkdir()
    Image.new("RGB", (16, 16), "blue").save(home / "private" / "secret.png")
    return home / "private" / "secret.png"


@pytest.mark.parametrize("name", ["../private/secret.png", "ABSOLUTE", "images/../../private/secret.png"])
def test_a_folder_dataset_cannot_reach_outside_its_root(home, outside, name):
    name = str(outside) if name == "ABSOLUTE" else name
    root = image_folder(home / "data", [{"file": "images/a.png", "caption": "a red cube"}, {"file": name, "caption": "a blue cube"}])
    refused(main("train", *TINY, "--data", root, "--out", home / "out"), 2, "captions.jsonl line 2", "leaves the folder")
    assert not (home / "out").exists() or not any((home / "out").iterdir())


def test_a_symlink_out_of_a_folder_dataset_is_refused(home, outside):
    root = image_folder(home / "data", [{"file": "images/link.png", "caption": "a red cube"}])
    os.symlink(outside, root / "images" / "link.png")
    refused(main("train", *TINY, "--data", root, "--out", home / "out"), 2, "line 1", "leaves the folder")


def test_the_error_does_not_tell_whether_an_outside_file_exists(home):
    root = image_folder(home / "data", [{"file": "images/a.png", "caption": "a red cube"}])
    said = []
    for name in ("../../../../../../etc/passwd", "../../../../../../etc/no-such-file-here"):
        (root / "captions.jsonl").write_text(json.dumps({"file": name, "caption": "a red cube"}) + "\n")
        r = main("train", *TINY, "--data", root, "--out", home / "out")
        refused(r, 2, "leaves the folder")
        said.append(r.err.strip().splitlines()[-1].replace(name, "NAME"))
    assert said[0] == said[1]


def test_symlinks_inside_the_root_and_an_explicit_opt_in_still_work(home, outside):
    from t2i_course.data import ImageCaptionFolder
    root = image_folder(home / "data", [{"file": "images/link.png", "caption": "a red cube"}])
    os.symlink(root / "images" / "a.png", root / "images" / "link.png")
    assert ImageCaptionFolder(root, size=16).image(0)[0, 0].tolist() == [255, 0, 0]
    (root / "captions.jsonl").write_text(json.dumps({"file": "../private/secret.png", "caption": "a blue cube"}) + "\n")
    assert ImageCaptionFolder(root, size=16, allow_outside=True).image(0)[0, 0].tolist() == [0, 0, 255]


def _clevr(home, filename):
    (home / "clevr" / "images").mkdir(parents=True)
    Image.new("RGB", (48, 32), "gray").save(home / "clevr" / "images" / "a.png")
    obj = {"color": "red", "shape": "cube", "size": "large", "material": "rubber", "pixel_coords": [10, 10, 5]}
    scenes = {"scenes": [{"image_filename": "a.png", "objects": [obj]}, {"image_filename": filename, "objects": [obj]}]}
    (home / "clevr" / "scenes.json").write_text(json.dumps(scenes))
    return home / "clevr"


@pytest.mark.parametrize("name", ["../../private/secret.png", "ABSOLUTE"])
def test_clevr_image_filenames_stay_inside_the_images_folder(home, outside, name):
    c = _clevr(home, str(outside) if name == "ABSOLUTE" else name)
    refused(main("train", *TINY, "--data", f"clevr:{c / 'scenes.json'}:{c / 'images'}", "--out", home / "out"), 2, "scene 1", "leaves the folder")


def _coco(home, file_name, image_id=2):
    (home / "coco" / "images").mkdir(parents=True)
    Image.new("RGB", (20, 16), "green").save(home / "coco" / "images" / "a.jpg")
    data = {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": image_id, "file_name": file_name}],
            "annotations": [{"image_id": 1, "caption": "a green field"}, {"image_id": image_id, "caption": "a secret"}]}
    (home / "coco" / "captions.json").write_text(json.dumps(data))
    return home / "coco"


@pytest.mark.parametrize("name", ["../../private/secret.png", "SYMLINK"])
def test_coco_file_names_stay_inside_the_images_folder(home, outside, name):
    c = _coco(home, "link.png" if name == "SYMLINK" else name)
    if name == "SYMLINK": os.symlink(outside, c / "images" / "link.png")
    refused(main("train", *TINY, "--data", f"coco:{c / 'captions.json'}:{c / 'images'}", "--out", home / "out"), 2, "images[1]", "leaves the folder")


# ================================================================ high: checkpoints and weights are verified

@pytest.fixture(scope="module")
def trainer(tiny_run, tmp_path_factory):
    "A Trainer resumed from a copy of the tiny run: its modules and optimisers receive the checkpoints under test."
    from t2i_course.train import Trainer
    dst = tmp_path_factory.mktemp("trainer") / "run"
    shutil.copytree(tiny_run, dst)
    return Trainer(None, dst, resume=True, show_progress=False, log=lambda *a: None)


def _meta_key(state: dict, *path) -> str:
    "The tensor key in state.safetensors of state['state'] at `path` (dict keys and list indices)."
    node = state["state"]
    for p in path:
        node = dict(node["__dict__"])[p] if isinstance(node, dict) and "__dict__" in node else node[p]
    return node["__tensor__"]


def _rewrite_state_tensor(ck: Path, key: str, value: torch.Tensor):
    "Replace one tensor of state.safetensors and fix the checksum, so that only the content is wrong."
    from hashlib import sha256
    from safetensors.torch import load_file, save_file
    sha256_file = lambda p: sha256(Path(p).read_bytes()).hexdigest()
    t = load_file(ck / "state.safetensors"); t[key] = value
    save_file(t, str(ck / "state.safetensors"))
    state = json.loads((ck / "state.json").read_text())
    if "sha256" in state: state["sha256"]["state.safetensors"] = sha256_file(ck / "state.safetensors")
    (ck / "state.json").write_text(json.dumps(state))


def _edit_state(ck: Path, **changes):
    state = json.loads((ck / "state.json").read_text()); state.update(changes)
    (ck / "state.json").write_text(json.dumps(state))


def _flip_tensor_bytes(path: Path):
    "Damage the tensor bytes at the end of a safetensors file; its header stays intact and readable."
    raw = bytearray(path.read_bytes())
    for i in range(len(raw) - 64, len(raw)): raw[i] = 0xFF
    path.write_bytes(bytes(raw))


def _damage(ck: Path, how: str):
    state = json.loads((ck / "state.json").read_text())
    if how == "tensor bytes": _flip_tensor_bytes(ck / "weights.safetensors")
    elif how == "step 'abc'": _edit_state(ck, step="abc")
    elif how == "step -5": _edit_state(ck, step=-5)
    elif how == "step 2.5": _edit_state(ck, step=2.5)
    elif how == "step 1e6": _edit_state(ck, step=10**6)
    elif how == "unknown entry": _edit_state(ck, surprise={"x": 1})
    elif how == "wrong-size RNG state": _rewrite_state_tensor(ck, _meta_key(state, "rng", "torch"), torch.zeros(7, dtype=torch.uint8))
    elif how == "wrong-shape moment": _rewrite_state_tensor(ck, _meta_key(state, "optimizers", "cvae", "state", 0, "exp_avg"), torch.zeros(3))
    elif how == "non-finite moment":
        key = _meta_key(state, "optimizers", "cvae", "state", 0, "exp_avg_sq")
        from safetensors.torch import load_file
        _rewrite_state_tensor(ck, key, torch.full_like(load_file(ck / "state.safetensors")[key], float("nan")))
    elif how == "seconds NaN": (ck / "state.json").write_text(json.dumps({**state, "seconds": float("nan")}))
    elif how == "no checksums": _edit_state(ck, sha256="none")
    elif how == "state.json truncated": (ck / "state.json").write_text((ck / "state.json").read_text()[:40])


DAMAGE = {"tensor bytes": "weights.safetensors does not match its checksum", "step 'abc'": "has step 'abc'", "step -5": "has step -5",
          "step 2.5": "has step 2.5", "step 1e6": "has step 1000000", "unknown entry": "unknown entries (surprise)",
          "wrong-size RNG state": "RNG state 'torch' has the wrong size", "wrong-shape moment": "exp_avg of parameter 0 has shape (3,)",
          "non-finite moment": "non-finite", "seconds NaN": "has seconds nan", "no checksums": "checksums entry is damaged",
          "state.json truncated": "state.json is unreadable"}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_checkpoint_is_refused_before_anything_is_loaded(trainer, tiny_run, tmp_path, how):
    from t2i_course.train import read_checkpoint
    ck = tmp_path / "step-0000016"
    shutil.copytree(tiny_run / "checkpoint" / "step-0000016", ck)
    _damage(ck, how)
    before = {k: v.clone() for k, v in trainer.family.model.state_dict().items()}
    moments = {k: {i: {n: t.clone() for n, t in s.items() if torch.is_tensor(t)} for i, s in o.state_dict()["state"].items()}
               for k, o in trainer.optimizers.items()}
    with pytest.raises(InputError, match=DAMAGE[how].replace("(", r"\(").replace(")", r"\)")):
        read_checkpoint(ck, trainer.modules, trainer.optimizers, max_step=16)
    assert all(torch.equal(before[k], v) for k, v in trainer.family.model.state_dict().items())
    for k, o in trainer.optimizers.items():
        for i, s in o.state_dict()["state"].items():
            assert all(torch.equal(moments[k][i][n], t) for n, t in s.items() if torch.is_tensor(t))


@pytest.mark.parametrize("how", ["tensor bytes", "step 'abc'", "wrong-shape moment", "state.json truncated"])
def test_resume_skips_a_damaged_checkpoint_and_ends_bit_identical(run, tiny_run, how):
    _damage(run / "checkpoint" / "step-0000016", how)
    r = main("train", "--out", run, "--resume", "--threads", "1")
    fine(r)
    assert "skipping checkpoint step-0000016" in r.out and "continuing from step-0000014" in r.out
    assert sha(run / "model.safetensors") == sha(tiny_run / "model.safetensors")    # steps 15-16 trained again, exactly


def test_resuming_a_finished_run_rewrites_nothing(run):
    stamps = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file() and p.name != ".t2i-course.lock"}
    before = tree(run)
    r = main("train", "--out", run, "--resume", "--threads", "1")
    fine(r)
    assert "has already finished (16 of 16 steps): nothing to train" in r.out
    assert tree(run) == before and {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_a_damaged_final_model_is_refused_by_generate_and_eval(run, home):
    _flip_tensor_bytes(run / "model.safetensors")
    refused(main("generate", "--run", run, "--out", home / "g.png", "a red cube"), 2, "model.safetensors does not match its checksum")
    refused(main("eval", "--run", run, "--out", home / "e", "--n", "20"), 2, "model.safetensors does not match its checksum")
    assert not (home / "g.png").exists()


def test_resume_writes_a_damaged_final_model_again_from_the_verified_checkpoint(run, tiny_run):
    _flip_tensor_bytes(run / "model.safetensors")
    r = main("train", "--out", run, "--resume", "--threads", "1")
    fine(r)
    assert "was missing or damaged: written again from the verified checkpoint step-0000016" in r.out
    assert sha(run / "model.safetensors") == sha(tiny_run / "model.safetensors")


def test_nan_weights_with_a_matching_checksum_are_refused(run, home):
    from safetensors.torch import load_file, save_file
    from t2i_course.files import file_digests
    t = load_file(run / "model.safetensors")
    key = next(k for k in t if k.startswith("cvae.decoder") and t[k].is_floating_point())
    t[key] = torch.full_like(t[key], float("nan"))
    save_file(t, str(run / "model.safetensors"), metadata={"format": "pt"})
    cfg = json.loads((run / "config.json").read_text()); cfg["sha256"] = file_digests(run, ["model.safetensors", "vocab.json"])
    (run / "config.json").write_text(json.dumps(cfg))
    refused(main("generate", "--run", run, "--out", home / "g.png", "a red cube"), 2, key, "non-finite")


def test_generate_refuses_to_write_non_finite_pixels(tiny_run, home):
    from t2i_course.pipeline import TextToImage
    t2i = TextToImage.load(tiny_run)
    with torch.no_grad():
        for p in t2i.model.cvae.decoder.parameters(): p.mul_(1e30)            # finite weights, overflowing activations
    with pytest.raises(InputError, match="non-finite pixels"): t2i.generate(["a red cube"], n=2)


# ================================================================ high: one writer per run

def _start(out: Path, *extra) -> subprocess.Popen:
    from conftest import cli_command
    env = {**os.environ, "PYTHONUTF8": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*cli_command(), "train", *TINY, "--steps", "20000", "--out", str(out), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(pred, proc, timeout=120):
    t0 = time.time()
    while not pred():
        assert proc.poll() is None, f"the trainer ended early: {proc.stderr.read()[-500:]}"
        assert time.time() - t0 < timeout, "timed out"
        time.sleep(0.05)


def test_a_second_trainer_on_the_same_run_is_refused_and_sigterm_saves(home):
    from t2i_course.train import checkpoints
    out = home / "run"
    a = _start(out)
    try:
        _wait_for(lambda: len(checkpoints(out)) >= 1, a)
        refused(sub("train", "--out", out, "--resume", "--threads", "1"), 2, f"is being written by another process (PID {a.pid} on")
        refused(sub("train", *TINY, "--out", out), 2, "already holds a run")
        a.send_signal(signal.SIGTERM)                                        # what `timeout`, Slurm and `docker stop` send
        out_a, err_a = a.communicate(timeout=120)
    finally:
        if a.poll() is None: a.kill()
    assert a.returncode == 143 and "Traceback" not in err_a, err_a[-500:]
    assert "terminated (SIGTERM)" in out_a and f"continue with: t2i-course train --out {out} --resume" in out_a
    step = int(out_a.split("stopped at step ")[1].split()[0])
    assert checkpoints(out)[0].name == f"step-{step:07d}"                    # saved at the step it stopped
    fine(main("generate", "--run", out, "--n", "1", "--out", home / "g.png", "a red cube"))


def test_the_lock_of_a_killed_trainer_is_taken_over(home):
    from t2i_course.train import checkpoints
    out = home / "run"
    a = _start(out)
    try: _wait_for(lambda: len(checkpoints(out)) >= 1, a)
    finally:
        a.kill(); a.wait()
    r = main("train", "--out", out, "--resume", "--threads", "1", "--minutes", "0.001")
    assert r.code == 3 and "Traceback" not in r.err, r.err[-500:]
    assert f"took over the lock of {out} from PID {a.pid} on" in r.out and "that process is no longer running" in r.out


# ================================================================ medium: never a traceback

def test_captions_jsonl_that_is_not_utf8(home):
    root = image_folder(home / "data", [{"file": "images/a.png", "caption": "a red cube"}])
    (root / "captions.jsonl").write_bytes(b'{"file": "images/a.png", "caption": "a red cube"}\n{"file": "images/a.png", "caption": "\xff\xfe"}\n')
    refused(main("train", *TINY, "--data", root, "--out", home / "out"), 2, "line 2 is not UTF-8 text")


def test_captions_jsonl_in_utf16(home):
    root = image_folder(home / "data", [])
    (root / "captions.jsonl").write_text(json.dumps({"file": "images/a.png", "caption": "a red cube"}) + "\n", encoding="utf-16")
    refused(main("train", *TINY, "--data", root, "--out", home / "out"), 2, "is UTF-16 text; save it as UTF-8")


def test_captions_jsonl_with_a_utf8_bom_is_read(home):
    from t2i_course.data import ImageCaptionFolder
    root = image_folder(home / "data", [])
    (root / "captions.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps({"file": "images/a.png", "caption": "一个红色的立方体"}).encode() + b"\n")
    assert ImageCaptionFolder(root, size=16).caption(0) == "一个红色的立方体"


def test_a_caption_of_invalid_utf8_on_the_command_line(tiny_run, home):
    r = sub("generate", "--run", tiny_run, "--out", home / "g.png", b"a red \xff\xfe cube")
    refused(r, 2, "caption 0 is not valid UTF-8 text")


def test_a_png_that_declares_20000_by_20000_pixels(home):
    import struct
    import zlib

    def chunk(kind, data): return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    root = image_folder(home / "data", [{"file": "images/a.png", "caption": "a red cube"}, {"file": "images/bomb.png", "caption": "a bomb"}])
    (root / "images" / "bomb.png").write_bytes(bomb)
    refused(main("train", *TINY, "--data", root, "--out", home / "out"), 2, "bomb.png", "400000000 pixels")


@pytest.mark.parametrize("entry, message", [({"id": 2, "file_name": 7}, "must be a non-empty string"),
                                            ({"id": [2], "file_name": "a.jpg"}, "an id is an integer or a string")])
def test_coco_entries_of_the_wrong_type(home, entry, message):
    c = _coco(home, "a.jpg")
    data = json.loads((c / "captions.json").read_text()); data["images"][1] = entry
    (c / "captions.json").write_text(json.dumps(data))
    refused(main("train", *TINY, "--data", f"coco:{c / 'captions.json'}:{c / 'images'}", "--out", home / "out"), 2, message)


@pytest.mark.parametrize("args, message", [
    (["train", *TINY, "--seed", str(2**70)], "--seed: expected an integer in 0..4,294,967,295"),
    (["data", "--n", "4", "--seed", "-1"], "--seed: expected an integer in 0..4,294,967,295"),
    (["generate", "--run", "RUN", "--out", "g.png", "--seed", str(2**70), "a cube"], "--seed: expected an integer in 0..4,294,967,295"),
    (["data", "--size", "100000"], "--size: image size must be in 16..1024"),
    (["data", "--n", str(10**12)], "--n: expected an integer in 1..10,000,000"),
    (["train", *TINY, "--batch-size", str(10**9)], "--batch-size: expected an integer in 2..65,536"),
    (["train", *TINY, "--steps", str(10**12)], "--steps: expected an integer in 1..10,000,000"),
    (["generate", "--run", "RUN", "--out", "g.png", "--n", str(10**9), "a cube"], "--n: expected an integer in 1..1,000"),
])
def test_numbers_out_of_bounds_are_one_line(home, tiny_run, args, message):
    args = [str(tiny_run) if a == "RUN" else a for a in args]
    if args[0] == "data": args += ["--out", str(home / "ds")]
    refused(main(*args, cwd=home), 2, message)
    assert not (home / "ds").exists() and not (home / "g.png").exists()


def test_a_data_size_that_would_not_fit_in_memory(home):
    refused(main("data", "--n", "10000000", "--size", "1024", "--out", home / "ds"), 2, "would need about", "of memory")


@pytest.mark.parametrize("manifest, message", [("drop", "no checksums"), ("string", "no checksums"), ("wrong", "does not match its checksum")])
def test_a_dataset_manifest_without_good_checksums(home, manifest, message):
    fine(main("data", "--n", "20", "--out", home / "ds"))
    m = json.loads((home / "ds" / "manifest.json").read_text())
    if manifest == "drop": del m["sha256"]
    elif manifest == "string": m["sha256"] = "abc"
    else: m["sha256"]["images.npy"] = "0" * 64
    (home / "ds" / "manifest.json").write_text(json.dumps(m))
    refused(main("train", *TINY, "--data", home / "ds", "--out", home / "out"), 2, message)


def test_a_run_config_with_a_huge_n_train_is_refused_on_resume(run):
    cfg = json.loads((run / "config.json").read_text()); cfg["train"]["n_train"] = 10**12
    (run / "config.json").write_text(json.dumps(cfg))
    refused(main("train", "--out", run, "--resume", "--threads", "1"), 2, "config.json", "n_train must be an integer >= 2 and <= 10,000,000")


def test_a_run_config_with_huge_widths_is_refused_before_allocating(run, home):
    cfg = json.loads((run / "config.json").read_text()); cfg["model"]["vae"]["hidden"] = [100_000, 100_000]
    (run / "config.json").write_text(json.dumps(cfg))
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))   # a 640 GB model must fail by counting, not by trying
    r = sub("generate", "--run", run, "--out", home / "g.png", "a cube", preexec_fn=limit)
    refused(r, 2, "describes a model with", "parameters")


def test_an_unexpected_error_is_one_line_with_a_log_file(home, monkeypatch):
    from t2i_course import cli
    monkeypatch.setattr(cli, "cmd_data", lambda args: 1 / 0)             # a bug of ours, standing in for any
    r = main("data", "--n", "4", "--out", home / "ds")
    refused(r, 70, "internal error", "ZeroDivisionError", "a bug in t2i-course, not your input", "the details are in")
    log = Path(r.err.strip().split("the details are in ")[1])
    assert "ZeroDivisionError" in log.read_text() and "Traceback" in log.read_text()


def test_an_os_error_keeps_its_closing_parenthesis(home, monkeypatch):
    from t2i_course import cli

    def denied(args): raise PermissionError(13, "Permission denied", "/srv/shared/ds")
    monkeypatch.setattr(cli, "cmd_data", denied)
    r = main("data", "--n", "4", "--out", home / "ds")
    refused(r, 1, "Permission denied (/srv/shared/ds)")
    assert r.err.strip().endswith("(/srv/shared/ds)")


def test_running_out_of_memory_is_one_line(home, monkeypatch):
    from t2i_course import cli

    def oom(args): raise MemoryError()
    monkeypatch.setattr(cli, "cmd_data", oom)
    refused(main("data", "--n", "4", "--out", home / "ds"), 1, "out of memory")


# ================================================================ medium and low

def test_a_550_kb_caption_in_a_dataset_is_refused_at_load(home):
    root = image_folder(home / "data", [{"file": "images/a.png", "caption": "a red cube"}, {"file": "images/a.png", "caption": "x" * 550_000}])
    refused(main("train", *TINY, "--data", root, "--out", home / "out"), 2, "line 2: the caption is 550,000 characters long")


def test_a_100_kb_caption_for_generate_is_refused(tiny_run, home):
    refused(main("generate", "--run", tiny_run, "--out", home / "g.png", "red " * 25_000), 2, "caption 0 is 100,000 characters long")


def test_long_captions_are_cut_in_pictures():
    from t2i_course.core import show_images
    fig = show_images(np.zeros((2, 16, 16, 3), np.uint8), ["很长的说明" * 20_000, "a" * 100_000], show=False)
    assert fig.get_size_inches()[1] < 10


def test_the_time_box_stops_with_its_own_exit_code_and_says_how_to_resume(home):
    r = main("train", *TINY, "--steps", "400", "--out", home / "run", "--minutes", "0.0001")
    assert r.code == 3 and "Traceback" not in r.err, r.err[-500:]
    assert "time box is up" in r.out and f"continue with: t2i-course train --out {home / 'run'} --resume" in r.out


def test_resume_with_steps_honours_the_same_number_and_explains_another(run):
    refused(main("train", "--out", run, "--resume", "--steps", "40", "--threads", "1"), 2,
            "--steps 40: this run was started with 16 steps", "start a new run with --steps 40")
    fine(main("train", "--out", run, "--resume", "--steps", "16", "--threads", "1"))


def test_a_16_bit_png_is_read_with_its_grey_levels(home):
    from t2i_course.data import ImageCaptionFolder
    grey = np.full((16, 16), 32768, np.uint16)                             # mid grey in 16 bits
    root = image_folder(home / "data", [{"file": "images/g16.png", "caption": "a grey cube"}], images=())
    Image.fromarray(grey).save(root / "images" / "g16.png")
    assert Image.open(root / "images" / "g16.png").mode.startswith("I")
    assert ImageCaptionFolder(root, size=None).image(0)[0, 0].tolist() == [128, 128, 128]


def test_a_caption_with_no_words_is_refused_for_training(home):
    root = image_folder(home / "data", [{"file": "images/a.png", "caption": "a red cube"}, {"file": "images/a.png", "caption": "!!! ???"}])
    refused(main("train", *TINY, "--data", root, "--out", home / "out"), 2, "caption 1 of", "has no words")


def test_train_reads_a_folder_that_t2i_course_data_wrote(home):
    fine(main("data", "--n", "64", "--size", "16", "--out", home / "ds"))
    r = main("train", *TINY, "--data", home / "ds", "--out", home / "run")
    fine(r)
    assert "skipping the text phase" not in r.out                          # its captions' slots are known: the text phase runs
    assert json.loads((home / "run" / "config.json").read_text())["data"] == str(home / "ds")


def test_an_edited_model_config_is_named_on_resume(run):
    cfg = json.loads((run / "config.json").read_text()); cfg["model"]["vae"]["z_dim"] = 5
    (run / "config.json").write_text(json.dumps(cfg))
    shutil.rmtree(run / "checkpoint" / "step-0000016")                     # two steps are left to train
    refused(main("train", "--out", run, "--resume", "--threads", "1"), 2, "model.vae.z_dim is 5 in the file, 4 here")


def test_a_nan_loss_message_does_not_blame_a_checkpoint(tmp_path):
    from t2i_course.train import Trainer, TrainingStopped, preset
    tr = Trainer(preset("tiny", lr_cvae=1e12, threads=1), tmp_path / "run", show_progress=False, log=lambda *a: None)
    with pytest.raises(TrainingStopped, match="Newest checkpoint: step-.*diverged: try a smaller learning rate") as e: tr.run()
    assert "Last good" not in str(e.value)
