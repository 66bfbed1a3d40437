"""`t2i-course generate` and `t2i-course eval` on a run folder written by `t2i-course train` (the tiny preset), in subprocesses:
the files they write, and one-line errors (never a traceback) for a user's mistakes."""
import json

import pytest
from PIL import Image


@pytest.fixture(scope="module")
def run(run_cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-run") / "tiny"
    r = run_cli("train", "--preset", "tiny", "--out", out, "--threads", "1", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "finished at step 16 of 16" in r.stdout
    return out


def test_generate_writes_a_captioned_grid(run_cli, run, tmp_path):
    out = tmp_path / "grid.png"
    r = run_cli("generate", "--run", run, "--n", "3", "--out", out, "一个红色的球体", "a blue cube")
    assert r.returncode == 0, r.stderr
    assert "wrote 6 images (16x16) for 2 caption(s)" in r.stdout
    w, h = Image.open(out).size
    assert w > 3 * 16 and h > 2 * 16


def test_generate_reports_unknown_words_in_one_line(run_cli, run, tmp_path):
    r = run_cli("generate", "--run", run, "--n", "1", "--out", tmp_path / "g.png", "a pink teapot")
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if "warning" in l]
    assert len(warn) == 1 and "pink" in warn[0] and "teapot" in warn[0] and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--out", "{tmp}/g.png", "   "], "caption 0 is empty"),
    (["--out", "{tmp}/g.txt", "a cube"], "must be a .png file"),
    (["--out", "{tmp}/g.png", "--n", "0", "a cube"], "--n: expected an integer in 1..1,000"),
])
def test_generate_bad_input(run_cli, run, tmp_path, args, message):
    r = run_cli("generate", "--run", run, *[a.format(tmp=tmp_path) for a in args])
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_generate_and_eval_on_a_missing_or_foreign_run(run_cli, run, tmp_path):
    r = run_cli("generate", "--run", tmp_path / "nope", "--out", tmp_path / "g.png", "a cube")
    assert r.returncode == 2 and "run folder not found" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("eval", "--run", tmp_path / "nope")
    assert r.returncode == 2 and "run folder not found" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "old").mkdir()
    for f in ("vocab.json", "model.safetensors"): (tmp_path / "old" / f).write_bytes((run / f).read_bytes())
    cfg = json.loads((run / "config.json").read_text())
    (tmp_path / "old" / "config.json").write_text(json.dumps({**cfg, "version": 99}))
    r = run_cli("eval", "--run", tmp_path / "old")
    assert r.returncode == 2 and "format version 99" in r.stderr and "Traceback" not in r.stderr


def test_eval_writes_the_report(run_cli, run, tmp_path):
    out = tmp_path / "eval"
    r = run_cli("eval", "--run", run, "--out", out, "--n", "120", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| in_distribution | 120 |" in r.stdout and "R-precision" in r.stdout
    assert "Warning: at 16x16 the judge reads" in r.stdout                  # the 32 px judges cannot vouch for 16 px images
    m = json.loads((out / "metrics.json").read_text())
    assert m["image_size"] == 16 and set(m["discriminator_accuracy"]) == {"real_right", "real_wrong", "fake_right"}
    assert (out / "report.md").is_file() and (out / "confusion.png").is_file()
