"""The helpers every chapter uses (t2i_course.core): seeds, devices, image conversion and grids, traces (safe writes: test_files.py).

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
from t2i_course.core import InputError, cache_dir, get_device, progress, set_seed, show_images, to_uint8, trace_shapes


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


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None, 2**32, 2**70])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(InputError, match=r"seed must be an integer in 0\.\.4294967295"): set_seed(bad)


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
    if font == "bundled":
        from matplotlib import font_manager
        assert font_manager.findfont(core.cjk_font()).endswith("t2i-cjk.otf")
        _grid(tmp_path, "sigma.png", ["方向 1: +2σ"])                      # a glyph the subset lacks comes from DejaVu Sans, no warning
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


# ---------------------------------------------------------------- cache_dir

def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("T2I_COURSE_CACHE", str(tmp_path / "cache"))
    p = cache_dir("models", "w2v")
    assert p == tmp_path / "cache" / "models" / "w2v" and p.is_dir() and os.access(p, os.W_OK)
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("T2I_COURSE_CACHE")
    from t2i_course import plumbing
    if plumbing.course_data_dir() is not None:                         # an editable install in the course checkout: its data/cache
        assert cache_dir() == plumbing.course_data_dir() / "cache"
    monkeypatch.setattr(plumbing, "course_data_dir", lambda: None)    # a library installed from a wheel
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("x") == tmp_path / "xdg" / "t2i-course" / "x"
