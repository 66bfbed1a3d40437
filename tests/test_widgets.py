"""The latent explorer (t2i_course.widgets) driven without a browser: sliders, reset, captions, bad input, interpolation, the map, the judge's reading."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from t2i_course.core import InputError, set_seed
from t2i_course.data import ATTRIBUTES, COLORS, SHAPES, make_dataset
from t2i_course.discriminator import Discriminator, DiscriminatorConfig
from t2i_course.evaluate import fit_images, load_or_train_judge
from t2i_course.pipeline import TextToImage, save_run
from t2i_course.text import Vocab, tokenize
from t2i_course.text_cnn import TextCNN, TextCNNConfig
from t2i_course.vae import ConditionalVAE, VAEConfig
from t2i_course.vaegan import VAEGAN
from t2i_course.widgets import (LatentExplorer, decode, grid_png, judge_table, latent_map, named_slots, pca, prior_view)

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py

SIZE, A, B = 16, "一个红色的球体", "a blue cube"


def tiny_run(folder):
    "An untrained VAEGAN with a vocabulary of the world's captions, saved as a run folder: builds and runs in milliseconds."
    vocab = Vocab.build([tokenize(c) for c in make_dataset(300, seed=0).captions])
    set_seed(0)
    tcfg = TextCNNConfig(vocab_size=len(vocab), embed_dim=8, widths=(1, 2), channels=8, out_dim=16)
    vcfg = VAEConfig(image_size=SIZE, hidden=(8, 16), z_dim=4, text_dim=16)
    dcfg = DiscriminatorConfig(image_size=SIZE, hidden=(8, 16), text_dim=16, feature_dim=16)
    return save_run(folder, VAEGAN(ConditionalVAE(vcfg, TextCNN(tcfg)), Discriminator(dcfg), TextCNN(tcfg)), vocab)


class ImageJudge:
    "A stand-in judge whose reading depends on every pixel: a different picture almost always reads differently."
    def read(self, images):
        out = []
        for x in np.asarray(images):
            h = int(x.astype(np.int64).sum() * 2654435761 % 2**31)
            out.append({a: vals[h % len(vals)] for a, vals in ATTRIBUTES.items()})
        return out


@pytest.fixture(scope="module")
def t2i(tmp_path_factory):
    return TextToImage.load(tiny_run(tmp_path_factory.mktemp("runs") / "tiny"), device="cpu")


@pytest.fixture(scope="module")
def lmap(t2i):
    return latent_map(t2i, n=40, seed=0)


@pytest.fixture
def app(t2i, lmap):
    return LatentExplorer(t2i, A, B, lmap=lmap, judge=ImageJudge())


def png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# ---- the pieces -------------------------------------------------------------------------

def test_pca_matches_the_covariance_eigenvectors():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4000, 3, generator=g) @ torch.tensor([[2.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.3, 0.2]])
    mean, dirs, std = pca(x, 3)
    evals, evecs = torch.linalg.eigh(torch.cov(x.T))
    assert torch.allclose(std, evals.flip(0).sqrt(), rtol=1e-4)
    assert torch.allclose(dirs.abs(), evecs.flip(1).T.abs(), atol=1e-4)
    assert (dirs.gather(1, dirs.abs().argmax(1, keepdim=True)) > 0).all()      # the sign convention
    with pytest.raises(InputError, match="k must be"): pca(x, 4)
    with pytest.raises(InputError, match="N >= 2"): pca(x[:1], 1)


def test_prior_view_zero_offsets_are_generate(t2i):
    view = prior_view(t2i, A, n=6, k=3, seed=2)
    assert view.directions.shape == (3, 4) and view.scales.shape == (3,) and view.eps.shape == (6, 4)
    assert np.array_equal(decode(t2i, view.latents(), view.t), t2i.generate(A, n=6, seed=2))
    moved = view.latents([1.0, 0.0, 0.0]) - view.latents()
    assert torch.allclose(moved, (view.scales[0] * view.directions[0]).expand(6, -1), atol=1e-5)
    with pytest.raises(InputError, match="3 numbers"): view.latents([1.0])
    for bad in ("", "  ", "?!"):
        with pytest.raises(InputError, match="caption"): prior_view(t2i, bad)


def test_grid_png_round_trip():
    x = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    px = png_pixels(grid_png(x, ncols=3, scale=2, numbers=False, pad=1))
    assert px.shape == (2 * 17 + 1, 3 * 17 + 1, 3)
    assert np.array_equal(px[1:17, 18:34], x[1].repeat(2, 0).repeat(2, 1))      # tile 2 (row 0, column 1), enlarged
    with pytest.raises(InputError, match="uint8"): grid_png(x.astype(np.float32))


def test_named_slots_agree_with_the_dataset():
    for split in ("train", "paraphrase", "heldout"):
        ds = make_dataset(600, split=split, n_objects=(1, 2), seed=5)
        for c, s in zip(ds.captions, ds.slots):
            assert named_slots(c) == (s["objects"][0] if len(s["objects"]) == 1 else None), (c, s)


def test_judge_table_marks_right_and_wrong():
    readings = [{"color": "red", "shape": "sphere", "size": "large", "material": "metal", "position": "top"},
                {"color": "blue", "shape": "sphere", "size": "small", "material": "rubber", "position": "left"}]
    html = judge_table(readings, {"color": "red", "shape": "sphere"})
    assert "1 / 2" in html and html.count("#d4f4d4") == 3 and html.count("#f8d0d0") == 1   # red+sphere, sphere right; blue wrong
    assert "红色" in html and "不打分" in judge_table(readings, None)
    counted = judge_table(readings, {"color": "red", "shape": "sphere"}, counts=[2, 1], want_count=1)
    assert "0 / 2" in counted and "个数" in counted           # the first image is red and a sphere but holds two objects: not right
    assert counted.count("#d4f4d4") == 4 and counted.count("#f8d0d0") == 2


# ---- the app ----------------------------------------------------------------------------

def test_slider_changes_the_picture_and_reset_restores_it(app, t2i):
    first, grid = app.image.value, app.images.copy()
    assert np.array_equal(grid, t2i.generate(A, n=8, seed=0))
    moved = app.set_slider(0, 2.0)
    assert moved != first and not np.array_equal(app.images, grid)
    assert np.array_equal(app.images, decode(t2i, app.view.latents([2.0] + [0.0] * (app.k - 1)), app.view.t))
    app.sliders[1].value = -1.0                                      # through the widget, as a browser does
    assert app.sliders[1].value == -1.0 and app.image.value not in (first, moved)
    assert app.reset() == first and [s.value for s in app.sliders] == [0.0] * app.k
    assert len(app.timings) >= 4 and all(t > 0 for t in app.timings)
    with pytest.raises(InputError, match="slider index"): app.set_slider(app.k, 1.0)


def test_new_caption_new_picture_and_reading(app):
    first, reading = app.image.value, app.reading.value
    app.set_slider(0, 1.0)
    assert app.set_caption("a small blue cube at the top left")
    assert app.image.value != first and app.reading.value != reading
    assert [s.value for s in app.sliders] == [0.0] * app.k           # new directions: sliders back at 0
    assert "（大小、颜色、形状、位置、个数）" in app.reading.value and "个数" in app.reading.value
    app.caption.value = A                                            # typing into the box
    assert app.image.value == first and app.message.value == "<div class='t2i-message'></div>"


@pytest.mark.parametrize("bad", ["", "   ", "!?。"])
def test_bad_caption_gives_a_message_not_an_exception(app, bad):
    shown = app.image.value
    assert app.set_caption(bad) is False
    assert "caption" in app.message.value and "a blue cube" in app.message.value   # what was wrong, what to type
    assert app.image.value == shown and app.view.caption == A
    app.caption.value = bad + " "                                      # the widget path never raises either
    assert "caption" in app.message.value
    assert app.set_caption(A) and app.message.value == "<div class='t2i-message'></div>"


def test_unknown_words_are_listed(app):
    assert app.set_caption("一个粉色的球体 with stripes")
    for w in ("粉色", "with", "stripes", "unknown words"): assert w in app.message.value
    assert "red" in app.message.value and "球体" in app.message.value     # what the run does know
    assert app.images.shape == (8, SIZE, SIZE, 3)


def test_callback_errors_go_to_the_message_line(app, monkeypatch):
    import t2i_course.widgets as widgets
    def broken(*args, **kwargs): raise RuntimeError("decoder exploded")
    monkeypatch.setattr(widgets, "decode", broken)
    app.sliders[0].value = 1.5                                       # must not raise
    assert "decoder exploded" in app.message.value and "internal error" in app.message.value


def test_interpolation_ends_are_the_two_captions(app, t2i):
    assert np.array_equal(app.interpolate(0.0), t2i.generate(A, n=8, seed=0))
    assert np.array_equal(app.interpolate(1.0), t2i.generate(B, n=8, seed=0))
    mid = app.interpolate(0.5)
    assert not np.array_equal(mid, t2i.generate(A, n=8, seed=0)) and app.mix.value == 0.5
    app.mix.value = 0.0
    assert np.array_equal(app.mix_images, t2i.generate(A, n=8, seed=0))
    assert app.set_caption_b("a small yellow sphere") and app.mix.value == 0.0
    assert np.array_equal(app.interpolate(1.0), t2i.generate("a small yellow sphere", n=8, seed=0))
    assert app.set_caption_b("") is False and "empty" in app.message.value
    with pytest.raises(InputError, match=r"\[0, 1\]"): app.interpolate(1.5)


def test_pick_shows_the_image_and_its_reconstruction(app, lmap, t2i):
    ring = app.map_image.value
    pair = app.pick(5)
    assert np.array_equal(pair[0], lmap.images[5])
    assert np.array_equal(pair[1], decode(t2i, lmap.mu[5:6], lmap.t[5:6])[0])
    assert np.array_equal(png_pixels(app.pick_image.value), png_pixels(grid_png(pair, ncols=2, numbers=False)))
    assert lmap.captions[5] in app.pick_info.value and app.map_image.value != ring and app.point.value == 5
    app.point.value = 6                                              # the point slider picks too
    assert lmap.captions[6] in app.pick_info.value
    coloured = app.map_image.value
    app.attribute.value = "color"
    assert app.map_image.value != coloured
    with pytest.raises(InputError, match="point must be"): app.pick(len(lmap.captions))
    with pytest.raises(InputError, match="unknown attribute"): app.color_by("weight")


def test_pick_reading_is_the_real_judges(t2i, lmap):
    "With the shipped judge: each row shows what it reads in the real image and in the reconstruction, green exactly where that is the truth."
    judge = load_or_train_judge(32)
    app = LatentExplorer(t2i, A, B, lmap=lmap, judge=judge)
    pair = app.pick(3)
    rows = app.pick_info.value.split("<tr>")[2:]                     # after the header: one row per attribute, columns real, reconstruction
    readings = judge.read(fit_images(pair))
    for row, a in zip(rows, ATTRIBUTES):
        cells = row.split("<td")[1:]
        assert len(cells) == 2
        for cell, reading in zip(cells, readings):
            assert f"<small>{reading[a]}</small>" in cell
            assert ("#d4f4d4" in cell) == (reading[a] == lmap.truth[3][a]), (a, cell)


def test_map_is_pca_of_posterior_means(lmap):
    centred = lmap.mu - lmap.mu.mean(0)
    _, dirs, _ = pca(lmap.mu, 2)
    assert np.allclose(lmap.xy, (centred @ dirs.T).numpy(), atol=1e-4)
    assert lmap.images.shape == (40, SIZE, SIZE, 3) and len(lmap.truth) == 40 and 0 < lmap.explained.sum() <= 1
    assert lmap.truth[0]["color"] in COLORS and lmap.truth[0]["shape"] in SHAPES


def test_bad_arguments_raise_input_error(app, t2i, lmap):
    with pytest.raises(InputError, match="TextToImage"): LatentExplorer("runs/cpu")
    with pytest.raises(InputError, match="n must be"): LatentExplorer(t2i, lmap=lmap, judge=ImageJudge(), n=0)
    with pytest.raises(InputError, match="a caption must be a str"): app.set_caption(None)
    with pytest.raises(InputError, match="slider value"): app.set_slider(0, "big")
