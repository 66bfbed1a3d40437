"""The helpers every chapter uses (t2i_course.core): seeds, devices, image conversion and grids, traces, safe writes.

Run against the installed package: `pytest tests/test_core.py -q`.
"""
import json
import os
import random
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from t2i_course import core
from t2i_course.core import (InputError, atomic_dir, atomic_write_bytes, atomic_write_json, atomic_write_text, cache_dir,
                             get_device, progress, set_seed, show_images, to_uint8, trace_shapes)


# ---------------------------------------------------------------- set_seed

def _draws():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_set_seed_reproduces_python_numpy_and_torch():
    g1 = set_seed(123); a = _draws(); r1 = g1.random(4)
    g2 = set_seed(123); b = _draws(); r2 = g2.random(4)
    assert a == b and np.array_equal(r1, r2)
    assert isinstance(g1, np.random.Generator)
    assert np.array_equal(r1, np.random.default_rng(123).random(4))
    set_seed(124)
    c = _draws()
    assert all(x != y for x, y in zip(a, c))
    set_seed(np.int64(5)); d = _draws(); set_seed(5)
    assert d == _draws()


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(InputError, match="non-negative integer"): set_seed(bad)


# ---------------------------------------------------------------- get_device

def test_get_device():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device().type in ("cpu", "cuda", "mps") and get_device("auto") == get_device()
    with pytest.raises(InputError, match="banana.*allowed: auto, cpu, cuda"): get_device("banana")
    with pytest.raises(InputError, match="unsupported device 'meta'"): get_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_get_device_cuda_without_cuda():
    for dev in ("cuda", "cuda:1"):
        with pytest.raises(InputError, match="CUDA is not available.*--device cpu"): get_device(dev)
    assert get_device(None) == torch.device("cpu") or get_device(None).type == "mps"


# ---------------------------------------------------------------- to_uint8

def test_to_uint8_conversions():
    x = np.stack([np.full((3, 4, 5), v, np.float32) for v in (-1.0, 0.0, 1.0, 3.0, -7.0)])   # (N, C, H, W)
    out = to_uint8(x)
    assert out.shape == (5, 4, 5, 3) and out.dtype == np.uint8
    assert [int(o[0, 0, 0]) for o in out] == [0, 128, 255, 255, 0]
    t = torch.from_numpy(x).requires_grad_(False)
    assert np.array_equal(to_uint8(t), out)
    nhwc = np.full((2, 6, 7, 3), 0.5, np.float64)
    assert np.array_equal(to_uint8(nhwc, value_range=(0.0, 1.0)), np.full((2, 6, 7, 3), 128, np.uint8))
    u8 = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    assert np.array_equal(to_uint8(u8), u8)
    single = to_uint8(u8[0])                                   # (H, W, 3) -> (1, H, W, 3)
    assert single.shape == (1, 8, 8, 3) and np.array_equal(single[0], u8[0])
    gray = to_uint8(np.zeros((2, 1, 4, 4), np.float32))       # one channel -> three equal channels
    assert gray.shape == (2, 4, 4, 3) and (gray == 128).all()
    chw = to_uint8(torch.ones(3, 5, 6))                        # a single CHW tensor
    assert chw.shape == (1, 5, 6, 3) and (chw == 255).all()
    with pytest.raises(InputError, match="3 or 4 dimensions"): to_uint8(np.zeros((4, 4)))


# ---------------------------------------------------------------- show_images

ZH_CAPTIONS = ["一个大的红色金属球体在左上方", "画面的右下方有一个小的青色橡胶圆柱体", "一个红色的球体在一个蓝色立方体的左边",
               "图中有一个黄色的物体", "a small gray rubber cube", "这是一只猫在草地上晒太阳"]


def _grid(tmp_path, name, captions, **kw):
    imgs = np.random.default_rng(0).integers(0, 256, (len(captions), 16, 16, 3), dtype=np.uint8)
    path = tmp_path / name
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fig = show_images(imgs, captions, path=path, show=False, **kw)
    glyph = [str(w.message) for w in rec if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert not glyph, glyph
    return path, fig


@pytest.mark.parametrize("font", ["system", "bundled"])
def test_show_images_writes_a_png_with_chinese_captions(tmp_path, monkeypatch, font):
    monkeypatch.setattr(core, "_CJK_FONT", None)
    if font == "bundled": monkeypatch.setattr(core, "_CJK_FAMILIES", ())  # force the font shipped in the package
    path, fig = _grid(tmp_path, "sub/grid.png", ZH_CAPTIONS, title="世界的样子", ncols=3)
    assert fig is not None and path.is_file() and path.stat().st_size > 0
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode in ("RGB", "RGBA") and im.size[0] > 0 and im.size[1] > 0
    if font == "bundled": assert core.cjk_font().get_file().endswith("t2i-cjk.otf")
    # the characters are drawn (a missing glyph draws the same box for every character)
    a, _ = _grid(tmp_path, "a.png", ["一个红色的球体"])
    b, _ = _grid(tmp_path, "b.png", ["两个蓝色立方体"])
    with Image.open(a) as ia, Image.open(b) as ib:
        assert ia.size == ib.size and not np.array_equal(np.asarray(ia), np.asarray(ib))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_show_images_checks_captions_and_accepts_tensors(tmp_path):
    with pytest.raises(InputError, match="3 images but 2 captions"):
        show_images(np.zeros((3, 8, 8, 3), np.uint8), ["a", "b"], show=False)
    path = tmp_path / "t.png"
    show_images(torch.zeros(5, 3, 8, 8), path=path, show=False)  # no captions, float NCHW in [-1, 1]
    with Image.open(path) as im: assert im.size[0] > im.size[1] > 0


# ---------------------------------------------------------------- trace_shapes

def test_trace_shapes_rows(capsys):
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Tanh()), torch.nn.Linear(6, 2))
    rows = trace_shapes(model, torch.zeros(3, 4))
    assert rows == [("0", "Linear", (3, 8)), ("1", "ReLU", (3, 8)), ("2", "Sequential", (3, 6)),
                    ("3", "Linear", (3, 2)), ("(output)", "Sequential", (3, 2))]
    printed = capsys.readouterr().out
    assert "Linear" in printed and "(3, 8)" in printed and "(output)" in printed
    deep = trace_shapes(model, torch.zeros(3, 4), depth=2, verbose=False)
    assert ("2.0", "Linear", (3, 6)) in deep and ("2.1", "Tanh", (3, 6)) in deep
    assert capsys.readouterr().out == ""
    assert all(not m._forward_hooks for m in model.modules())  # hooks are removed


def test_trace_shapes_tuple_outputs_and_hooks_removed_on_error():
    class Two(torch.nn.Module):
        def __init__(self): super().__init__(); self.lin = torch.nn.Linear(2, 3)
        def forward(self, x): y = self.lin(x); return y, {"a": y.sum(1)}
    rows = trace_shapes(Two(), torch.zeros(4, 2), verbose=False)
    assert rows[-1] == ("(output)", "Two", ((4, 3), ((4,),)))
    model = torch.nn.Sequential(torch.nn.Linear(4, 8))
    with pytest.raises(RuntimeError): trace_shapes(model, torch.zeros(3, 5), verbose=False)
    assert not model[0]._forward_hooks


# ---------------------------------------------------------------- progress

def test_progress_iterates_everything():
    assert list(progress(range(5), disable=True)) == [0, 1, 2, 3, 4]
    bar = progress(total=3, desc="x")
    bar.update(2); bar.set_postfix(loss=0.5); bar.update(1); bar.close()
    assert bar.n == 3 and bar.total == 3


# ---------------------------------------------------------------- atomic writes

def test_atomic_write_round_trips(tmp_path):
    p = tmp_path / "f.bin"
    assert atomic_write_bytes(p, b"\x00\x01abc") == p and p.read_bytes() == b"\x00\x01abc"
    atomic_write_text(tmp_path / "t.txt", "中文 text")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "中文 text"
    atomic_write_json(tmp_path / "j.json", {"词": [1, 2], "x": None})
    assert json.loads((tmp_path / "j.json").read_text(encoding="utf-8")) == {"词": [1, 2], "x": None}
    assert "词" in (tmp_path / "j.json").read_text(encoding="utf-8")  # readable UTF-8, not \\u escapes
    assert sorted(q.name for q in tmp_path.iterdir()) == ["f.bin", "j.json", "t.txt"]


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    p = tmp_path / "model.bin"
    p.write_bytes(b"old content")

    def boom(*a, **k): raise OSError(28, "No space left on device")
    monkeypatch.setattr(core.os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(p, b"new content that never lands")
    monkeypatch.undo()
    assert p.read_bytes() == b"old content"
    assert [q.name for q in tmp_path.iterdir()] == ["model.bin"]  # no temporary file left


def test_atomic_dir_swaps_in_a_complete_folder(tmp_path):
    target = tmp_path / "run"
    with atomic_dir(target) as tmp:
        assert tmp.is_dir() and tmp.parent == tmp_path and tmp != target and not target.exists()
        (tmp / "a.txt").write_text("1")
    assert [p.name for p in target.iterdir()] == ["a.txt"]
    with atomic_dir(target) as tmp:                            # replaces the old folder entirely
        (tmp / "b.txt").write_text("2")
        assert (target / "a.txt").read_text() == "1"           # the old folder is intact until the end
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_atomic_dir_keeps_the_old_folder_on_error(tmp_path):
    target = tmp_path / "run"
    target.mkdir(); (target / "keep.txt").write_text("keep")
    with pytest.raises(KeyError):
        with atomic_dir(target) as tmp:
            (tmp / "half.txt").write_text("half")
            raise KeyError("boom")
    assert [p.name for p in target.iterdir()] == ["keep.txt"] and (target / "keep.txt").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    with pytest.raises(ValueError):
        with atomic_dir(tmp_path / "new" / "deep"): raise ValueError
    assert not (tmp_path / "new" / "deep").exists() and list((tmp_path / "new").iterdir()) == []


# ---------------------------------------------------------------- cache_dir

def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("T2I_COURSE_CACHE", str(tmp_path / "cache"))
    p = cache_dir("models", "w2v")
    assert p == tmp_path / "cache" / "models" / "w2v" and p.is_dir() and os.access(p, os.W_OK)
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("T2I_COURSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("x") == tmp_path / "xdg" / "t2i-course" / "x"
