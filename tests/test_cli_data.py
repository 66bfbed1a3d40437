"""`t2i-course data` in a subprocess: the files it writes, and one-line errors (never a traceback) for bad values.

Run against the installed package: `pytest tests/test_cli_data.py -q`. Uses the `run_cli` fixture of conftest.py.
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from t2i_course.data import load_dataset

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    "Cache and matplotlib folders of the subprocess, in a temporary folder."
    base = tmp_path_factory.mktemp("cli-env")
    env = {"T2I_COURSE_CACHE": str(base / "cache"), "MPLCONFIGDIR": str(base / "mpl"), "MPLBACKEND": "Agg"}
    for v in ("cache", "mpl"): (base / v).mkdir()
    return env


@pytest.fixture(scope="module")
def made(run_cli, cli_env, tmp_path_factory):
    "One dataset written by the command: 10 images of 16 px, Chinese captions, 1-2 objects, the val split."
    out = tmp_path_factory.mktemp("cli") / "ds"
    r = run_cli("data", "--n", "10", "--size", "16", "--lang", "zh", "--objects", "1-2", "--split", "val",
                "--seed", "3", "--out", out, env=cli_env, timeout=120)
    return out, r


def test_data_writes_the_files(made):
    out, r = made
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert {p.name for p in out.iterdir()} == {"images.npy", "captions.jsonl", "manifest.json", "preview.png"}
    assert "wrote 10 images" in r.stdout
    with Image.open(out / "preview.png") as im:
        assert im.format == "PNG" and im.mode in ("RGB", "RGBA") and im.size[0] > 0


def test_data_loads_with_the_requested_values(made):
    out, r = made
    assert r.returncode == 0, r.stderr
    ds = load_dataset(out)
    assert len(ds) == 10 and ds.images.shape == (10, 16, 16, 3) and ds.images.dtype == np.uint8
    assert all(CJK.search(c) for c in ds.captions)
    assert {len(s.objects) for s in ds.scenes} <= {1, 2}
    assert ds.meta["lang"] == "zh" and ds.meta["split"] == "val" and ds.meta["seed"] == 3 and ds.meta["size"] == 16


def test_data_overwrites_with_full_english_captions(run_cli, cli_env, made, tmp_path):
    src, first = made
    assert first.returncode == 0, first.stderr
    out = tmp_path / "ds"
    shutil.copytree(src, out)  # an existing dataset folder, replaced by the new one
    r = run_cli("data", "--n", "6", "--size", "20", "--lang", "en", "--full-captions", "--out", out, env=cli_env, timeout=120)
    assert r.returncode == 0, r.stderr
    ds = load_dataset(out)
    assert len(ds) == 6 and ds.images.shape[1:] == (20, 20, 3)
    assert not any(CJK.search(c) for c in ds.captions)
    for sl in ds.slots: assert set(sl["objects"][0]) == {"color", "shape", "size", "material", "position"}
    assert [p.name for p in out.parent.iterdir()] == ["ds"]  # no temporary folder left beside it


BAD = [
    (["--n", "0"], "0"),
    (["--n", "abc"], "abc"),
    (["--size", "8"], "8"),
    (["--objects", "9"], "9"),
    (["--objects", "3-1"], "3-1"),
    (["--lang", "fr"], "fr"),
]


@pytest.mark.parametrize("args,value", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_values_give_one_error_line(run_cli, cli_env, tmp_path, args, value):
    out = tmp_path / "ds"
    r = run_cli("data", "--out", out, *args, env=cli_env, timeout=60)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1, r.stderr
    assert errors[0] == r.stderr.strip().splitlines()[-1] and value in errors[0], r.stderr
    assert not out.exists()


def test_out_pointing_at_a_file(run_cli, cli_env, tmp_path):
    f = tmp_path / "taken.txt"
    f.write_text("keep me")
    r = run_cli("data", "--n", "2", "--size", "16", "--out", f, env=cli_env, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and str(f) in lines[0], r.stderr
    assert f.read_text() == "keep me"


def test_help(run_cli, cli_env):
    top = run_cli("--help", env=cli_env, timeout=60)
    assert top.returncode == 0 and "usage:" in top.stdout and "data" in top.stdout and not top.stderr.strip()
    sub = run_cli("data", "--help", env=cli_env, timeout=60)
    assert sub.returncode == 0 and "usage:" in sub.stdout
    for opt in ("--n", "--size", "--out", "--lang", "--objects", "--seed", "--full-captions"): assert opt in sub.stdout
    bare = run_cli(env=cli_env, timeout=60)  # no sub-command: the help, and a non-zero exit
    assert bare.returncode != 0 and "usage:" in bare.stdout and "Traceback" not in bare.stderr


def test_module_entry_point(cli_env):
    "`python -m t2i_course.cli` works like the console script."
    env = {**os.environ, **cli_env, "PYTHONUTF8": "1"}
    r = subprocess.run([sys.executable, "-m", "t2i_course.cli", "data", "--help"], env=env, capture_output=True,
                       text=True, encoding="utf-8", timeout=60)
    assert r.returncode == 0 and "--objects" in r.stdout
    r = subprocess.run([sys.executable, "-m", "t2i_course.cli", "data", "--out", "x", "--n", "-4"], env=env,
                       capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "error:" in r.stderr.strip().splitlines()[-1]
