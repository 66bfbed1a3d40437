"""The world dataset and the loaders (t2i_course.data): sampling, rendering, captions, files on disk, real formats.

Run against the installed package: `pytest tests/test_data.py -q`. Every fixture file (CLEVR, COCO,
COCO-Stuff, folder) is written by the tests into tmp_path in the exact format of the real data.
"""
import json
import re
from collections import Counter, deque
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from t2i_course import data
from t2i_course.core import InputError
from t2i_course.data import (COLORS, HALF_EXTENT, HELDOUT_PAIRS, MATERIALS, MAX_OBJECTS, POSITIONS, RELATIONS, SHAPES,
                             SIZES, TEMPLATES, ZH, ImageCaptionFolder, Scene, SceneObject, caption, caption_slots,
                             iterate_batches, load_clevr, load_coco_captions, load_dataset, make_dataset, render,
                             sample_scenes, save_dataset, to_tensors)

CJK = re.compile(r"[\u4e00-\u9fff]")
HELDOUT_TIDS = {tid for group in TEMPLATES.values() for tid, _, held in group if held}
TRAIN_TIDS = {tid for group in TEMPLATES.values() for tid, _, held in group if not held}
SLOT_VALUES = {"color": tuple(COLORS), "shape": SHAPES, "size": SIZES, "material": MATERIALS}


def obj(color="red", shape="sphere", size="large", material="rubber", x=0.5, y=0.5):
    return SceneObject(color, shape, size, material, x, y)


def one(**kw) -> Scene:
    return Scene((obj(**kw),))


# ---------------------------------------------------------------- helpers for pictures

def floor_of(size: int) -> np.ndarray:
    "The empty floor (int (S, S, 3)): the pixel-wise median of three pictures whose objects do not overlap."
    scenes = [one(size="small", x=x, y=y) for x, y in [(0.2, 0.2), (0.8, 0.2), (0.5, 0.8)]]
    return np.median(render(scenes, size).astype(int), axis=0)


def nearest_color(rgb) -> str:
    "The COLORS name whose direction in RGB space is closest to `rgb` (shading scales brightness, not hue)."
    names, table = list(COLORS), np.array(list(COLORS.values()), float)
    p = np.asarray(rgb, float)
    cos = table @ p / (np.linalg.norm(table, axis=1) * np.linalg.norm(p) + 1e-9)
    return names[int(np.argmax(cos))]


def interior(shape: str, size: int, h: float, cx: float, cy: float) -> np.ndarray:
    "A mask well inside the silhouette of `shape` (half-extent h pixels, centre cx, cy)."
    yy, xx = np.mgrid[:size, :size] + 0.5
    u, v = (xx - cx) / h, (yy - cy) / h
    if shape == "sphere": return u * u + v * v < 0.85 ** 2
    if shape == "cube": return (abs(u) < 0.85) & (abs(v) < 0.85) & (abs(u + v) < 1.3)
    return (abs(u) < 0.5) & (v > -0.6) & (v < 0.65)


def components(mask: np.ndarray, min_size: int) -> list[int]:
    "Sizes of the 4-connected components of `mask` with at least `min_size` pixels."
    seen, sizes = np.zeros_like(mask, bool), []
    H, W = mask.shape
    for r0, c0 in zip(*np.nonzero(mask)):
        if seen[r0, c0]: continue
        seen[r0, c0], q, k = True, deque([(r0, c0)]), 0
        while q:
            r, c = q.popleft(); k += 1
            for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if 0 <= rr < H and 0 <= cc < W and mask[rr, cc] and not seen[rr, cc]:
                    seen[rr, cc] = True; q.append((rr, cc))
        if k >= min_size: sizes.append(k)
    return sizes


# ---------------------------------------------------------------- public contract

def test_public_names_import():
    from t2i_course.data import (COLORS, SHAPES, SIZES, MATERIALS, ZH, SceneObject, Scene, sample_scenes, render,  # noqa: F401
                                 caption, load_clevr, load_coco_captions, ImageCaptionFolder)
    import t2i_course
    assert t2i_course.render is render and t2i_course.COLORS is COLORS


def test_colors_are_clevr_exactly():
    assert COLORS == {"gray": (87, 87, 87), "red": (173, 35, 35), "blue": (42, 75, 215), "green": (29, 105, 20),
                      "brown": (129, 74, 25), "purple": (129, 38, 192), "cyan": (41, 208, 208),
                      "yellow": (255, 238, 51)}
    assert set(SHAPES) == {"cube", "sphere", "cylinder"}
    assert set(SIZES) == {"large", "small"} and set(MATERIALS) == {"rubber", "metal"}


def test_zh_covers_every_value_position_and_relation():
    values = [*COLORS, *SHAPES, *SIZES, *MATERIALS, *POSITIONS, *RELATIONS]
    assert len(POSITIONS) == 9 and set(RELATIONS) == {"left of", "right of", "above", "below"}
    for v in values:
        assert v in ZH, v
        assert CJK.search(ZH[v]) and ZH[v] == ZH[v].strip(), (v, ZH[v])
    for group in (COLORS, SHAPES, MATERIALS, POSITIONS):  # words inside a group are told apart
        assert len({ZH[v] for v in group}) == len(group)


def test_scene_object_validates_and_knows_its_region():
    with pytest.raises(InputError, match="pink.*allowed: gray, red"): obj(color="pink")
    with pytest.raises(InputError, match="shape"): obj(shape="cone")
    with pytest.raises(InputError, match=r"outside \[0, 1\]"): obj(x=1.2)
    with pytest.raises(InputError): Scene(())
    assert obj(x=0.1, y=0.1).position == "top left" and obj(x=0.9, y=0.5).position == "right"
    assert obj(x=0.5, y=0.5).position == "center" and obj(x=0.5, y=0.95).position == "bottom"
    assert obj(x=1.0, y=1.0).position == "bottom right"
    s = Scene((obj(x=0.2, y=0.5), obj(color="blue", x=0.8, y=0.55), obj(color="green", x=0.25, y=0.9)))
    assert s.relation(0, 1) == "left of" and s.relation(1, 0) == "right of"
    assert s.relation(0, 2) == "above" and s.relation(2, 0) == "below"
    assert Scene.from_dict(s.to_dict()) == s


# ---------------------------------------------------------------- sample_scenes

def test_sample_scenes_is_deterministic_by_seed():
    a = sample_scenes(64, n_objects=(1, 4), seed=3)
    assert a == sample_scenes(64, n_objects=(1, 4), seed=3)
    assert a != sample_scenes(64, n_objects=(1, 4), seed=4)
    assert sample_scenes(64, seed=0) != sample_scenes(64, seed=1)
    assert all(isinstance(s, Scene) for s in a) and len(a) == 64


@pytest.mark.parametrize("n_objects", [1, 2, 3, 4, (1, 4)])
def test_objects_lie_inside_the_frame(n_objects):
    for s in sample_scenes(400, n_objects=n_objects, seed=11):
        for o in s.objects:
            h = HALF_EXTENT[o.size]
            assert 0.0 <= o.x - h and o.x + h <= 1.0, o
            assert 0.0 <= o.y - h and o.y + h <= 1.0, o


@pytest.mark.parametrize("k", range(2, MAX_OBJECTS + 1))
def test_objects_never_overlap(k):
    scenes = sample_scenes(300, n_objects=k, seed=k)
    assert all(len(s.objects) == k for s in scenes)
    for s in scenes:
        for i, a in enumerate(s.objects):
            for b in s.objects[i + 1:]:
                # each object fits in a square of half-side HALF_EXTENT around its centre
                assert max(abs(a.x - b.x), abs(a.y - b.y)) >= HALF_EXTENT[a.size] + HALF_EXTENT[b.size], (a, b)


@pytest.mark.parametrize("k", [2, 3])
def test_relations_are_unambiguous_up_to_three_objects(k):
    for s in sample_scenes(300, n_objects=k, seed=5):
        for i, a in enumerate(s.objects):
            for b in s.objects[i + 1:]:
                dx, dy = abs(a.x - b.x), abs(a.y - b.y)
                assert max(dx, dy) >= 1.4 * min(dx, dy), (a, b)


def test_exclude_and_only_are_honoured():
    for s in sample_scenes(500, n_objects=(1, 3), seed=2, exclude=HELDOUT_PAIRS):
        for o in s.objects: assert (o.color, o.shape) not in HELDOUT_PAIRS
    only = [("red", "cube"), ("cyan", "cylinder")]
    seen = set()
    for s in sample_scenes(300, n_objects=(1, 3), seed=2, only=only):
        for o in s.objects: seen.add((o.color, o.shape))
    assert seen == set(only)
    got = {(o.color, o.shape) for s in sample_scenes(300, seed=2, only=only, exclude=[("red", "cube")]) for o in s.objects}
    assert got == {("cyan", "cylinder")}
    with pytest.raises(InputError, match="pink"): sample_scenes(4, exclude=[("pink", "cube")])
    with pytest.raises(InputError, match="cone"): sample_scenes(4, only=[("red", "cone")])
    with pytest.raises(InputError, match="no .*pair"): sample_scenes(4, only=[("red", "cube")], exclude=[("red", "cube")])


def test_n_objects_ranges():
    counts = Counter(len(s.objects) for s in sample_scenes(600, n_objects=(2, 4), seed=0))
    assert set(counts) == {2, 3, 4} and min(counts.values()) > 100
    assert {len(s.objects) for s in sample_scenes(50, n_objects=3, seed=0)} == {3}
    for bad in (0, MAX_OBJECTS + 1, (3, 2), (0, 2), (1, MAX_OBJECTS + 1)):
        with pytest.raises(InputError, match="n_objects"): sample_scenes(4, n_objects=bad)
    for bad in (0, -3, 2.5):
        with pytest.raises(InputError, match="n must be a positive integer"): sample_scenes(bad)


def test_positions_are_uniform_over_the_nine_regions():
    scenes = sample_scenes(9000, seed=7)
    counts = Counter(s.objects[0].position for s in scenes)
    assert set(counts) == set(POSITIONS)
    expected = 9000 / 9
    chi2 = sum((counts[p] - expected) ** 2 / expected for p in POSITIONS)
    assert chi2 < 40, counts  # 8 degrees of freedom: p(chi2 > 40) < 1e-5
    for size in SIZES:  # both sizes reach every region
        assert {s.objects[0].position for s in scenes if s.objects[0].size == size} == set(POSITIONS)


@pytest.mark.parametrize("n_objects", [1, (2, 3)])
def test_centres_keep_a_margin_from_region_borders(n_objects):
    borders = np.array([1 / 3, 2 / 3])
    xs = np.array([o.x for s in sample_scenes(3000, n_objects=n_objects, seed=9) for o in s.objects])
    ys = np.array([o.y for s in sample_scenes(3000, n_objects=n_objects, seed=9) for o in s.objects])
    assert np.abs(xs[:, None] - borders).min() >= 0.025
    assert np.abs(ys[:, None] - borders).min() >= 0.025


# ---------------------------------------------------------------- render

@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_render_shape_and_dtype(size):
    imgs = render(sample_scenes(5, n_objects=(1, 3), seed=1), size=size)
    assert imgs.shape == (5, size, size, 3) and imgs.dtype == np.uint8
    assert imgs.std() > 0


def test_render_is_deterministic_and_batch_independent():
    scenes = sample_scenes(12, n_objects=(1, 4), seed=4)
    a = render(scenes, 48)
    assert np.array_equal(a, render(scenes, 48))
    alone = np.stack([render([s], 48)[0] for s in scenes])
    assert np.array_equal(a, alone)
    assert np.array_equal(render(scenes[0], 48)[0], a[0])  # one Scene is accepted too
    assert np.array_equal(render(scenes, 48, chunk=5), a)


def test_render_rejects_bad_input():
    with pytest.raises(InputError, match="16"): render(sample_scenes(2), size=8)
    with pytest.raises(InputError): render(sample_scenes(2), size=32.0)
    with pytest.raises(InputError): render([], size=32)


@pytest.mark.parametrize("shape", SHAPES)
def test_large_objects_cover_about_four_times_the_small_ones(shape):
    F = floor_of(128)
    area = {}
    for size in SIZES:
        im = render([one(shape=shape, size=size)], 128)[0].astype(int)
        area[size] = int((np.abs(im - F).max(-1) > 8).sum())
    assert area["small"] > 100
    assert 3.0 <= area["large"] / area["small"] <= 5.0, area


@pytest.mark.parametrize("material", MATERIALS)
@pytest.mark.parametrize("shape", SHAPES)
def test_object_pixels_have_the_objects_color(shape, material):
    S = 64
    h = HALF_EXTENT["large"] * S
    yy, xx = np.mgrid[:S, :S] + 0.5
    core = (xx - S / 2) ** 2 + (yy - S / 2) ** 2 < (0.45 * h) ** 2
    for color in COLORS:
        im = render([one(color=color, shape=shape, material=material)], S)[0].astype(float)
        dominant = np.median(im[core], axis=0)
        assert nearest_color(dominant) == color, (color, dominant)


@pytest.mark.parametrize("shape", SHAPES)
def test_metal_shows_a_brighter_highlight_than_rubber(shape):
    S = 128
    m = interior(shape, S, HALF_EXTENT["large"] * S, S / 2, S / 2)
    for color in COLORS:
        peak = {mat: int(render([one(color=color, shape=shape, material=mat)], S)[0][m].astype(int).sum(-1).max())
                for mat in MATERIALS}
        assert peak["metal"] > peak["rubber"], (shape, color, peak)


def test_object_centres_differ_from_the_floor():
    S = 64
    F = floor_of(S)
    scenes = sample_scenes(60, n_objects=(1, 4), seed=13)
    imgs = render(scenes, S).astype(int)
    for im, s in zip(imgs, scenes):
        for o in s.objects:
            r, c = min(int(o.y * S), S - 1), min(int(o.x * S), S - 1)
            assert np.abs(im[r, c] - F[r, c]).max() > 20, (o, im[r, c], F[r, c])


def test_two_object_scenes_show_two_blobs():
    S = 64
    F = floor_of(S).sum(-1)
    colorful = [(c, s) for c in COLORS if c != "gray" for s in SHAPES]
    scenes = sample_scenes(40, n_objects=2, seed=21, only=colorful)
    scenes.append(Scene((obj(x=0.25, y=0.5), obj(color="blue", shape="cube", x=0.75, y=0.5))))
    for im, s in zip(render(scenes, S).astype(int), scenes):
        # objects are colourful or brighter than the floor; the floor and the shadows are neutral gray
        mask = ((im.max(-1) - im.min(-1)) > 15) | (im.sum(-1) > F + 30)
        blobs = components(mask, min_size=20)
        assert len(blobs) == 2, (s, blobs)


# ---------------------------------------------------------------- captions

def test_canonical_captions():
    s = one(color="red", shape="sphere", size="large", material="metal", x=0.1, y=0.1)
    assert caption(s, "zh") == "一个大的红色金属球体在左上方"
    assert caption(s, "en") == "a large red metal sphere at the top left"
    assert caption(one(color="cyan", shape="cylinder", size="small", material="rubber", x=0.5, y=0.5), "en") == \
        "a small cyan rubber cylinder in the center"
    assert caption(one(color="gray", shape="cube", size="large", material="rubber", x=0.9, y=0.9), "zh") == \
        "一个大的灰色橡胶立方体在右下方"
    pair = Scene((obj(color="red", shape="sphere", x=0.2, y=0.5), obj(color="blue", shape="cube", size="small", x=0.8, y=0.5)))
    assert caption(pair, "zh", omit=["size", "material"]) == "一个红色的球体在一个蓝色立方体的左边"
    assert caption(pair, "en", omit=["size", "material"]) == "a red sphere to the left of a blue cube"


def test_seed_none_is_canonical_and_names_everything():
    for s in sample_scenes(30, seed=5):
        text, slots = caption_slots(s, "zh")
        assert text == caption(s, "zh", None) == caption(s, "zh", seed=None, templates="train")
        assert slots["template"] == "zh.p0"
        assert slots["objects"][0] == {k: getattr(s.objects[0], k) for k in ("color", "shape", "size", "material", "position")}
        assert caption_slots(s, "en")[1]["template"] == "en.p0"
    pair = sample_scenes(1, n_objects=2, seed=5)[0]
    assert caption_slots(pair, "zh")[1]["template"] == "zh.r0" and caption_slots(pair, "zh")[1]["indices"] == [0, 1]


def _mentions_zh(text: str, values) -> Counter:
    return Counter({v: text.count(ZH[v]) for v in values if text.count(ZH[v])})


def _check_caption(scene: Scene, text: str, slots: dict, lang: str):
    "The caption's named slots are the truth, and the text names those values and nothing else."
    assert slots["lang"] == lang
    objs = [scene.objects[i] for i in slots["indices"]]
    assert len(slots["objects"]) == len(objs) == (1 if len(scene.objects) == 1 else 2)
    for named, o in zip(slots["objects"], objs):
        assert "color" in named or "shape" in named
        for k, v in named.items(): assert getattr(o, k) == v, (k, named, o)
    named_values = {k: Counter(n[k] for n in slots["objects"] if k in n) for k in SLOT_VALUES}
    if lang == "en":
        words = Counter(re.findall(r"[a-z]+", text))
        assert not CJK.search(text)
        for k, values in SLOT_VALUES.items():
            assert Counter({v: words[v] for v in values if words[v]}) == named_values[k], (k, text, slots)
    else:
        assert CJK.search(text)
        for k in ("color", "shape", "material"):
            assert _mentions_zh(text, SLOT_VALUES[k]) == named_values[k], (k, text, slots)
        sizes = Counter({v: text.count(ZH[v] + "的") for v in SIZES if text.count(ZH[v] + "的")})
        assert sizes == named_values["size"], (text, slots)
    if slots["relation"] is None:
        pos = slots["objects"][0].get("position")
        if lang == "zh":
            hits = [p for p in POSITIONS if ZH[p] in text]
            assert (pos is None and not hits) or (pos is not None and pos in hits), (text, slots)
        else:
            hits = {w for w in ("top", "bottom", "left", "right", "center") if re.search(rf"\b{w}\b", text)}
            assert hits == (set(pos.split()) if pos else set()), (text, slots)
    else:
        i, j = slots["indices"]
        assert slots["relation"] == scene.relation(i, j)
        a, b = scene.objects[i], scene.objects[j]
        assert {"left of": a.x < b.x, "right of": a.x > b.x, "above": a.y < b.y, "below": a.y > b.y}[slots["relation"]]
        assert (ZH[slots["relation"]] if lang == "zh" else slots["relation"].split()[0]) in text
        assert all("position" not in n for n in slots["objects"])


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("n_objects", [1, (2, 3)])
def test_captions_never_name_what_the_scene_lacks(lang, n_objects):
    rng = np.random.default_rng(0)
    for k, s in enumerate(sample_scenes(400, n_objects=n_objects, seed=17)):
        templates = ("train", "heldout", "all")[k % 3]
        text, slots = caption_slots(s, lang, rng, templates=templates)
        _check_caption(s, text, slots, lang)
        text, slots = caption_slots(s, lang, k, omit=0.5)
        _check_caption(s, text, slots, lang)
        assert caption(s, lang, k) == caption(s, lang, k)  # an int seed is reproducible


def test_omit_drops_the_named_slots():
    s = one(color="green", shape="cube", size="small", material="metal", x=0.9, y=0.1)
    text, slots = caption_slots(s, "en", 0, omit=["size", "material", "position"])
    assert slots["objects"][0] == {"color": "green", "shape": "cube"}
    assert "small" not in text and "metal" not in text and "top" not in text
    assert caption_slots(s, "zh", 0, omit=["color", "shape"])[1]["objects"][0].keys() & {"color", "shape"}  # never both
    assert set(caption_slots(s, "zh", 0, omit=0.0)[1]["objects"][0]) == {"color", "shape", "size", "material", "position"}


def test_heldout_templates_only_with_templates_heldout():
    scenes = sample_scenes(300, n_objects=(1, 2), seed=3)
    used = {t: set() for t in ("train", "heldout", "all")}
    for k, s in enumerate(scenes):
        for lang in ("zh", "en"):
            for t in used:
                used[t].add(caption_slots(s, lang, k, templates=t)[1]["template"])
            assert caption_slots(s, lang, None, templates="canonical")[1]["template"] in TRAIN_TIDS
    assert used["train"] and used["train"] <= TRAIN_TIDS
    assert used["heldout"] == HELDOUT_TIDS  # every held-out template is used, and only those
    assert used["all"] & HELDOUT_TIDS and used["all"] & TRAIN_TIDS
    for k, s in enumerate(scenes[:100]):  # the held-out phrasings never show up in training captions
        text = caption(s, "en", k)
        assert "can be seen" not in text and "an image showing" not in text


def test_heldout_templates_without_a_seed_are_still_heldout():
    s = one(x=0.1, y=0.1)
    for lang in ("zh", "en"):
        tid = caption_slots(s, lang, None, templates="heldout")[1]["template"]
        assert tid in HELDOUT_TIDS, f"caption_slots(seed=None, templates='heldout') used the training template {tid}"


def test_caption_errors_name_the_allowed_values():
    s = one()
    with pytest.raises(InputError, match="'fr'.*zh, en"): caption(s, "fr")
    with pytest.raises(InputError, match="'fancy'.*train, heldout, canonical, all"): caption(s, "zh", templates="fancy")
    with pytest.raises(InputError, match="colour.*color, shape, size, material, position"): caption(s, "zh", omit=["colour"])


# ---------------------------------------------------------------- make_dataset

def test_make_dataset_splits_are_disjoint():
    train = make_dataset(200, size=16, split="train", lang="en", seed=0)
    val = make_dataset(200, size=16, split="val", lang="en", seed=0)
    assert not set(train.scenes) & set(val.scenes)
    assert train.captions != val.captions and not np.array_equal(train.images, val.images)
    assert make_dataset(200, size=16, split="train", lang="en", seed=0).captions == train.captions  # reproducible
    again = make_dataset(200, size=16, split="train", lang="en", seed=1)
    assert not set(again.scenes) & set(train.scenes)


def test_heldout_split_holds_only_heldout_pairs():
    held = make_dataset(150, size=16, split="heldout", n_objects=(1, 3), seed=0)
    pairs = {(o.color, o.shape) for s in held.scenes for o in s.objects}
    assert pairs == set(HELDOUT_PAIRS)
    for split in ("train", "val", "test", "paraphrase"):
        ds = make_dataset(300, size=16, split=split, n_objects=(1, 3), seed=0)
        assert not {(o.color, o.shape) for s in ds.scenes for o in s.objects} & set(HELDOUT_PAIRS), split
        tids = {sl["template"] for sl in ds.slots}
        assert tids <= (HELDOUT_TIDS if split == "paraphrase" else TRAIN_TIDS), (split, tids)


@pytest.mark.parametrize("lang", ["zh", "en", "both"])
def test_make_dataset_language(lang):
    ds = make_dataset(60, size=16, lang=lang, n_objects=(1, 2), seed=2)
    has_cjk = [bool(CJK.search(c)) for c in ds.captions]
    assert [s["lang"] == "zh" for s in ds.slots] == has_cjk
    if lang == "zh": assert all(has_cjk)
    elif lang == "en": assert not any(has_cjk)
    else: assert 10 < sum(has_cjk) < 50
    assert ds.meta["lang"] == lang


def test_make_dataset_items_and_attributes():
    ds = make_dataset(20, size=24, n_objects=(1, 3), lang="both", seed=4, split="test")
    assert len(ds) == 20 and ds.images.shape == (20, 24, 24, 3) and ds.images.dtype == np.uint8
    assert np.array_equal(ds.images, render(ds.scenes, 24))
    for i in range(len(ds)):
        im, cap, attrs = ds.image(i), ds.caption(i), ds.attributes(i)
        assert im.shape == (24, 24, 3) and im.dtype == np.uint8 and isinstance(cap, str) and cap
        assert set(attrs) == {"objects", "named"}
        assert len(attrs["objects"]) == len(ds.scenes[i].objects)
        for d, o in zip(attrs["objects"], ds.scenes[i].objects):
            assert d == {"color": o.color, "shape": o.shape, "size": o.size, "material": o.material,
                         "x": o.x, "y": o.y, "position": o.position}
        assert set(attrs["named"]) == {"objects", "relation", "indices", "template", "lang"}
        _check_caption(ds.scenes[i], cap, attrs["named"], attrs["named"]["lang"])
    assert ds.meta["split"] == "test" and ds.meta["size"] == 24 and ds.meta["n"] == 20


def test_make_dataset_full_captions_with_omit_zero():
    ds = make_dataset(30, size=16, lang="zh", omit=0.0, seed=1)
    for sl in ds.slots: assert set(sl["objects"][0]) == {"color", "shape", "size", "material", "position"}


def test_make_dataset_rejects_bad_arguments():
    with pytest.raises(InputError, match=r"n must be an integer in 1\.\.10,000,000"): make_dataset(0)
    with pytest.raises(InputError, match=r"n must be an integer in 1\.\.10,000,000"): make_dataset(-5)
    with pytest.raises(InputError, match=r"in 16\.\.1024"): make_dataset(4, size=8)
    with pytest.raises(InputError, match="'fr'.*zh, en, both"): make_dataset(4, lang="fr")
    with pytest.raises(InputError, match="'dev'.*train, val, test, heldout, paraphrase"): make_dataset(4, split="dev")
    with pytest.raises(InputError, match="n_objects"): make_dataset(4, n_objects=MAX_OBJECTS + 1)


# ---------------------------------------------------------------- save_dataset / load_dataset

@pytest.fixture
def small_ds():
    return make_dataset(12, size=16, n_objects=(1, 2), lang="both", seed=3)


def _same(a, b):
    assert np.array_equal(np.asarray(a.images), np.asarray(b.images)) and np.asarray(b.images).dtype == np.uint8
    assert a.captions == b.captions and a.scenes == b.scenes and a.slots == b.slots
    for k, v in a.meta.items(): assert b.meta[k] == (list(v) if isinstance(v, tuple) else v), k


def test_save_load_round_trip(tmp_path, small_ds):
    folder = save_dataset(small_ds, tmp_path / "ds")
    assert {p.name for p in folder.iterdir()} == {"images.npy", "captions.jsonl", "manifest.json"}
    _same(small_ds, load_dataset(folder))
    _same(small_ds, load_dataset(folder, mmap=True))
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert m["counts"]["images"] == 12 and m["counts"]["zh"] + m["counts"]["en"] == 12
    # writing again replaces the folder's content and leaves nothing else beside it
    other = make_dataset(5, size=16, seed=9)
    save_dataset(other, folder)
    _same(other, load_dataset(folder))
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


@pytest.mark.parametrize("target", ["np.save", "json.dumps"])
def test_save_is_atomic(tmp_path, monkeypatch, small_ds, target):
    folder = save_dataset(small_ds, tmp_path / "ds")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    seen_tmp = []

    def boom(*a, **k):
        seen_tmp.extend(p for p in tmp_path.iterdir() if p.name != "ds")  # the temporary folder exists by now
        raise OSError(28, "No space left on device")
    mod, name = target.split(".")
    monkeypatch.setattr(getattr(data, mod), name, boom)
    with pytest.raises(OSError):
        save_dataset(make_dataset(5, size=16, seed=9), folder)
    monkeypatch.undo()
    assert seen_tmp, "the failure should happen after the temporary folder was made"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    _same(small_ds, load_dataset(folder))
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no temporary folders left


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch, small_ds):
    def boom(*a, **k): raise OSError("disk full")
    monkeypatch.setattr(data.np, "save", boom)
    with pytest.raises(OSError): save_dataset(small_ds, tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def saved(tmp_path, small_ds):
    return save_dataset(small_ds, tmp_path / "ds")


def test_load_missing_folder_and_manifest(tmp_path, saved):
    with pytest.raises(InputError, match="not found.*nope"): load_dataset(tmp_path / "nope")
    (saved / "manifest.json").unlink()
    with pytest.raises(InputError, match="manifest.*not found"): load_dataset(saved)


def test_load_truncated_manifest_names_the_file(saved):
    p = saved / "manifest.json"
    p.write_text(p.read_text(encoding="utf-8")[:40], encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(p))): load_dataset(saved)


def test_load_wrong_format_or_version(saved):
    p = saved / "manifest.json"
    m = json.loads(p.read_text(encoding="utf-8"))
    p.write_text(json.dumps({**m, "format": "something-else"}), encoding="utf-8")
    with pytest.raises(InputError, match="not a t2i-course dataset"): load_dataset(saved)
    p.write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(InputError, match="not a t2i-course dataset"): load_dataset(saved)
    p.write_text(json.dumps({**m, "version": 99}), encoding="utf-8")
    with pytest.raises(InputError, match="version 99"): load_dataset(saved)


def test_load_checksum_mismatch_after_truncation(saved):
    p = saved / "images.npy"
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="images.npy.*checksum"): load_dataset(saved)
    with pytest.raises(InputError, match="images.npy"): load_dataset(saved, verify=False)


def test_load_missing_data_file(saved):
    (saved / "captions.jsonl").unlink()
    with pytest.raises(InputError, match="captions.jsonl"): load_dataset(saved)


def test_load_broken_captions_line_names_the_line(saved):
    p = saved / "captions.jsonl"
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = '{"caption": "一个红色的球体", "lang": "zh"\n'
    p.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match="checksum"): load_dataset(saved)
    with pytest.raises(InputError, match="captions.jsonl line 3"): load_dataset(saved, verify=False)
    lines[2] = '{"caption": "x"}\n'  # valid JSON, missing fields
    p.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError, match="line 3"): load_dataset(saved, verify=False)


def test_load_never_unpickles(saved, tmp_path):
    import pathlib
    marker = tmp_path / "unpickled"

    class Trap:
        def __reduce__(self): return (pathlib.Path.touch, (marker,))
    arr = np.empty(12, dtype=object)
    arr[:] = [Trap() for _ in range(12)]
    np.save(saved / "images.npy", arr, allow_pickle=True)
    with pytest.raises(InputError, match="images.npy"): load_dataset(saved, verify=False)
    with pytest.raises(InputError): load_dataset(saved, verify=False, mmap=True)
    assert not marker.exists()


# ---------------------------------------------------------------- to_tensors / iterate_batches

def test_to_tensors_shapes(small_ds):
    x, caps = to_tensors(small_ds, show_progress=False)
    assert x.shape == (12, 3, 16, 16) and x.dtype == torch.uint8 and caps == small_ds.captions
    assert torch.equal(x.permute(0, 2, 3, 1), torch.from_numpy(small_ds.images))
    x2, caps2 = to_tensors(small_ds, [3, 0, 5], show_progress=False)
    assert x2.shape == (3, 3, 16, 16) and torch.equal(x2[1], x[0]) and caps2 == [small_ds.captions[i] for i in (3, 0, 5)]
    f = data.to_float(x)
    assert f.dtype == torch.float32 and f.min() >= -1 and f.max() <= 1


def test_iterate_batches():
    n = 10
    images = torch.arange(n).view(n, 1, 1, 1).expand(n, 3, 2, 2)
    caps = [str(i) for i in range(n)]
    batches = list(iterate_batches(images, caps, 3, seed=0))
    assert len(batches) == 3 and all(b[0].shape == (3, 3, 2, 2) for b in batches)
    assert len(list(iterate_batches(images, caps, 3, drop_last=False))) == 4
    for imgs, cs in batches: assert [str(int(v)) for v in imgs[:, 0, 0, 0]] == cs  # images and captions stay paired
    order = [c for _, cs in iterate_batches(images, caps, 2, seed=0) for c in cs]
    assert sorted(order, key=int) == caps and order != caps
    assert order == [c for _, cs in iterate_batches(images, caps, 2, seed=0) for c in cs]
    assert order != [c for _, cs in iterate_batches(images, caps, 2, seed=1) for c in cs]
    assert [c for _, cs in iterate_batches(images, caps, 5, shuffle=False) for c in cs] == caps
    with pytest.raises(InputError, match="batch_size"): list(iterate_batches(images, caps, 0))


# ---------------------------------------------------------------- real formats: CLEVR v1.0

DIRECTIONS = {"right": [0.6563112735748291, 0.7544902563095093, -0.0], "front": [0.7544902563095093, -0.6563112735748291, 0.0],
              "below": [-0.0, -0.0, -1.0], "above": [0.0, 0.0, 1.0], "left": [-0.6563112735748291, -0.7544902563095093, 0.0],
              "behind": [-0.7544902563095093, 0.6563112735748291, -0.0]}


def _clevr_object(color, shape, size, material, px, py):
    return {"color": color, "size": size, "rotation": 178.92387258999463, "shape": shape,
            "3d_coords": [-1.4937210083007812, -1.9936031103134155, 0.699999988079071],
            "material": material, "pixel_coords": [px, py, 10.699270248413086]}


def write_clevr(root: Path, scenes_objects, split="val", images=True) -> tuple[Path, Path]:
    "A CLEVR v1.0 scenes file and 480x320 RGBA PNGs, as in CLEVR_v1.0/scenes/CLEVR_val_scenes.json."
    img_dir = root / "images" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    scenes = []
    for i, objs in enumerate(scenes_objects):
        name = f"CLEVR_{split}_{i:06d}.png"
        n = len(objs)
        scenes.append({"image_index": i, "objects": [_clevr_object(*o) for o in objs],
                       "relationships": {"right": [[k for k in range(n) if objs[k][4] > objs[j][4]] for j in range(n)],
                                         "behind": [[] for _ in range(n)], "front": [[] for _ in range(n)],
                                         "left": [[k for k in range(n) if objs[k][4] < objs[j][4]] for j in range(n)]},
                       "image_filename": name, "split": split, "directions": DIRECTIONS})
        if images:
            im = np.full((320, 480, 4), 128, np.uint8); im[..., 3] = 255
            for (c, *_rest, px, py) in objs: im[max(py - 20, 0):py + 20, max(px - 20, 0):px + 20, :3] = COLORS[c]
            Image.fromarray(im, "RGBA").save(img_dir / name)
    path = root / "scenes" / f"CLEVR_{split}_scenes.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"info": {"split": split, "license": "Creative Commons Attribution (CC BY 4.0)",
                                         "version": "1.0", "date": "2/14/2017"}, "scenes": scenes}), encoding="utf-8")
    return path, img_dir


CLEVR_SCENES = [
    [("brown", "cylinder", "large", "rubber", 119, 131), ("gray", "cube", "small", "metal", 380, 220)],
    [("red", "sphere", "small", "metal", 60, 40)],
    [("cyan", "cube", "large", "rubber", 240, 160), ("yellow", "sphere", "small", "rubber", 420, 80),
     ("purple", "cylinder", "small", "metal", 50, 290)],
]


def test_load_clevr(tmp_path):
    js, img_dir = write_clevr(tmp_path, CLEVR_SCENES)
    ds = load_clevr(js, img_dir, size=32)
    assert len(ds) == 3
    for i, objs in enumerate(CLEVR_SCENES):
        im = ds.image(i)
        assert im.shape == (32, 32, 3) and im.dtype == np.uint8
        cap = ds.caption(i)
        assert CJK.search(cap)
        attrs = ds.attributes(i)
        assert [(o["color"], o["shape"], o["size"], o["material"]) for o in attrs["objects"]] == [o[:4] for o in objs]
        for o, (*_, px, py) in zip(attrs["objects"], objs):
            assert o["x"] == pytest.approx(px / 480) and o["y"] == pytest.approx(py / 320)
        _check_caption(ds.scenes[i], cap, attrs["named"], "zh")
    assert ds.attributes(1)["objects"][0]["position"] == "top left"
    # the image is the file, squashed to square: the red patch of scene 1 sits at the top left
    full = load_clevr(js, img_dir, size=None)
    assert full.image(1).shape == (320, 480, 3)
    assert tuple(full.image(1)[40, 60]) == COLORS["red"]
    assert nearest_color(ds.image(1)[3, 4].astype(float)) == "red"
    assert len(load_clevr(js, img_dir, limit=2)) == 2


def test_load_clevr_languages(tmp_path):
    js, img_dir = write_clevr(tmp_path, CLEVR_SCENES * 4)
    en = load_clevr(js, img_dir, lang="en", size=16)
    assert not any(CJK.search(en.caption(i)) for i in range(len(en)))
    both = load_clevr(js, img_dir, lang="both", size=16, seed=None)
    assert [bool(CJK.search(both.caption(i))) for i in range(len(both))] == [True, False] * 6
    assert both.caption(1) == caption(both.scenes[1], "en")  # seed=None: canonical
    again = load_clevr(js, img_dir, lang="both", size=16, seed=0)
    assert again.captions == load_clevr(js, img_dir, lang="both", size=16, seed=0).captions
    held = load_clevr(js, img_dir, size=16, seed=1, templates="heldout")
    assert {held.attributes(i)["named"]["template"] for i in range(len(held))} <= HELDOUT_TIDS


def test_load_clevr_errors(tmp_path):
    js, img_dir = write_clevr(tmp_path, CLEVR_SCENES)
    good = js.read_text(encoding="utf-8")
    js.write_text(good[: len(good) // 2], encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(js))): load_clevr(js, img_dir)
    js.write_text(json.dumps({"info": {}, "questions": []}), encoding="utf-8")
    with pytest.raises(InputError, match="scenes"): load_clevr(js, img_dir)
    bad = json.loads(good)
    bad["scenes"][1]["objects"][0]["color"] = "pink"
    js.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(InputError) as e: load_clevr(js, img_dir)
    msg = str(e.value)
    for part in ("scene 1", "CLEVR_val_000001.png", "'pink'", "gray, red, blue, green, brown, purple, cyan, yellow"):
        assert part in msg, (part, msg)
    bad = json.loads(good)
    del bad["scenes"][2]["objects"][1]["pixel_coords"]
    js.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(InputError, match="scene 2.*CLEVR_val_000002.png"): load_clevr(js, img_dir)
    js.write_text(good, encoding="utf-8")
    (img_dir / "CLEVR_val_000002.png").unlink()
    with pytest.raises(InputError, match=re.escape(str(img_dir / "CLEVR_val_000002.png"))): load_clevr(js, img_dir)
    with pytest.raises(InputError, match="not found"): load_clevr(tmp_path / "missing.json", img_dir)


def test_load_clevr_argument_errors(tmp_path):
    js, img_dir = write_clevr(tmp_path, CLEVR_SCENES[:2])
    with pytest.raises(InputError, match="'fr'.*zh, en, both"): load_clevr(js, img_dir, lang="fr")
    with pytest.raises(InputError, match=r"in 16\.\.1024"): load_clevr(js, img_dir, size=8)
    with pytest.raises(InputError, match="no scenes"): load_clevr(js, img_dir, limit=0)


# ---------------------------------------------------------------- real formats: COCO captions and COCO-Stuff

COCO_IMAGES = [(397133, "000000397133.jpg", 64, 48), (37777, "000000037777.jpg", 40, 80), (252219, "000000252219.jpg", 50, 50)]
COCO_ANNS = [(397133, 370, "A man is in a kitchen making pizzas."), (397133, 3, "Man in apron standing on front of oven with pans and bakeware "),
             (37777, 4, "The dining table near the kitchen has a bowl of fruit on it."),
             (252219, 5, "a person with a shopping cart on a city street \n")]


def write_coco(root: Path) -> tuple[Path, Path]:
    "captions_val2017.json and val2017/*.jpg, of different sizes: left third red, middle green, right third blue."
    img_dir = root / "val2017"
    img_dir.mkdir(parents=True)
    images = []
    for iid, name, w, h in COCO_IMAGES:
        im = np.zeros((h, w, 3), np.uint8)
        im[:, : w // 3] = (220, 20, 20); im[:, w // 3: w - w // 3] = (20, 200, 20); im[:, w - w // 3:] = (20, 20, 220)
        Image.fromarray(im).save(img_dir / name, quality=95)
        images.append({"license": 4, "file_name": name, "coco_url": f"http://images.cocodataset.org/val2017/{name}",
                       "height": h, "width": w, "date_captured": "2013-11-14 17:02:52",
                       "flickr_url": "http://farm7.staticflickr.com/6116/6255196340_da26cf2c9e_z.jpg", "id": iid})
    anns = [{"image_id": iid, "id": aid, "caption": cap} for iid, aid, cap in COCO_ANNS]
    path = root / "annotations" / "captions_val2017.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"info": {"description": "COCO 2017 Dataset", "url": "http://cocodataset.org", "version": "1.0",
                                         "year": 2017, "contributor": "COCO Consortium", "date_created": "2017/09/01"},
                                "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 4,
                                              "name": "Attribution-NonCommercial-ShareAlike License"}],
                                "images": images, "annotations": anns}), encoding="utf-8")
    return path, img_dir


def write_stuff(root: Path) -> Path:
    "A COCO-Stuff-like stuff_val2017.json (segmentation as RLE, as in the real file)."
    cats = [{"supercategory": "textile", "id": 92, "name": "banner"}, {"supercategory": "wall", "id": 171, "name": "wall-concrete"},
            {"supercategory": "floor", "id": 114, "name": "floor-wood"}]
    anns = [{"segmentation": {"counts": "0Q1", "size": [48, 64]}, "area": 100.0, "iscrowd": 0, "image_id": iid,
             "bbox": [0.0, 0.0, 10.0, 10.0], "category_id": cid, "id": 10000000 + k}
            for k, (iid, cid) in enumerate([(397133, 171), (397133, 92), (397133, 171), (37777, 114)])]
    path = root / "stuff_val2017.json"
    path.write_text(json.dumps({"info": {}, "images": [], "annotations": anns, "categories": cats}), encoding="utf-8")
    return path


def test_load_coco_captions(tmp_path):
    js, img_dir = write_coco(tmp_path)
    ds = load_coco_captions(js, img_dir, size=32)
    assert len(ds) == 4
    assert [ds.caption(i) for i in range(4)] == [c.strip() for _, _, c in COCO_ANNS]
    assert [ds.attributes(i) for i in range(4)] == [{"image_id": iid} for iid, _, _ in COCO_ANNS]
    for i in range(4):
        im = ds.image(i)
        assert im.shape == (32, 32, 3) and im.dtype == np.uint8
    wide = ds.image(0).astype(int)  # 64x48 centre-cropped to 48x48: the middle (green) band fills most of it
    assert wide[16, 16, 1] > 150 and wide[16, 16, 0] < 80
    tall = ds.image(2).astype(int)  # 40x80: crop keeps the full width, all three bands
    assert tall[16, 2, 0] > 150 and tall[16, 16, 1] > 150 and tall[16, 29, 2] > 150
    x, caps = to_tensors(ds, show_progress=False)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.uint8
    native = load_coco_captions(js, img_dir, size=None)
    assert native.image(2).shape == (80, 40, 3) and native.image(0).shape == (48, 64, 3)
    assert len(load_coco_captions(js, img_dir, limit=2)) == 2


def test_load_coco_with_stuff(tmp_path):
    js, img_dir = write_coco(tmp_path)
    ds = load_coco_captions(js, img_dir, size=16, stuff_json=write_stuff(tmp_path))
    assert ds.attributes(0) == {"image_id": 397133, "stuff": ["banner", "wall-concrete"]}
    assert ds.attributes(2) == {"image_id": 37777, "stuff": ["floor-wood"]}
    assert ds.attributes(3) == {"image_id": 252219, "stuff": []}


def test_load_coco_errors(tmp_path):
    js, img_dir = write_coco(tmp_path)
    good = json.loads(js.read_text(encoding="utf-8"))
    js.write_text(json.dumps(good)[:300], encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(js))): load_coco_captions(js, img_dir)
    bad = {**good, "annotations": good["annotations"] + [{"image_id": 999, "id": 77, "caption": "a cat"}]}
    js.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(InputError, match="annotation 4.*image_id 999"): load_coco_captions(js, img_dir)
    js.write_text(json.dumps({k: v for k, v in good.items() if k != "annotations"}), encoding="utf-8")
    with pytest.raises(InputError, match="annotations"): load_coco_captions(js, img_dir)
    js.write_text(json.dumps(good), encoding="utf-8")
    (img_dir / "000000037777.jpg").unlink()
    with pytest.raises(InputError, match=re.escape(str(img_dir / "000000037777.jpg"))): load_coco_captions(js, img_dir)
    stuff = tmp_path / "stuff.json"
    stuff.write_text('{"annotations": [', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(str(stuff))): load_coco_captions(js, img_dir, stuff_json=stuff, limit=1)
    stuff.write_text(json.dumps({"annotations": []}), encoding="utf-8")
    with pytest.raises(InputError, match="categories"): load_coco_captions(js, img_dir, stuff_json=stuff, limit=1)
    with pytest.raises(InputError, match=r"in 16\.\.1024"): load_coco_captions(js, img_dir, size=8, limit=1)


# ---------------------------------------------------------------- real formats: a folder with captions.jsonl

def write_folder(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    Image.fromarray(np.full((30, 40, 3), (200, 30, 30), np.uint8)).save(root / "images" / "0001.png")
    Image.fromarray(np.full((64, 48, 3), (30, 30, 200), np.uint8)).save(root / "images" / "0002.jpg", quality=95)
    rgba = np.zeros((20, 20, 4), np.uint8); rgba[..., 1] = 180; rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(root / "images" / "0003.png")
    lines = [{"file": "images/0001.png", "caption": "一个红色的物体"},
             {"file": "images/0002.jpg", "caption": "  a blue picture ", "attributes": {"color": "blue"}},
             {"file": "images/0003.png", "caption": "绿色"}]
    (root / "captions.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n\n", encoding="utf-8")
    return root


def test_image_caption_folder(tmp_path):
    root = write_folder(tmp_path / "mine")
    ds = ImageCaptionFolder(root, size=24)
    assert len(ds) == 3
    assert [ds.caption(i) for i in range(3)] == ["一个红色的物体", "a blue picture", "绿色"]
    assert ds.attributes(0) is None and ds.attributes(1) == {"color": "blue"}
    for i, rgb in enumerate([(200, 30, 30), (30, 30, 200), (0, 180, 0)]):
        im = ds.image(i)
        assert im.shape == (24, 24, 3) and im.dtype == np.uint8
        assert np.abs(im[12, 12].astype(int) - rgb).max() < 12
    x, caps = to_tensors(ds, show_progress=False)  # native sizes differ; size= makes them one shape
    assert x.shape == (3, 3, 24, 24) and x.dtype == torch.uint8 and caps == [ds.caption(i) for i in range(3)]
    native = ImageCaptionFolder(root, size=None)
    assert native.image(1).shape == (64, 48, 3)
    with pytest.raises(InputError, match="size="): to_tensors(native, show_progress=False)


def test_image_caption_folder_errors(tmp_path):
    with pytest.raises(InputError, match="not found"): ImageCaptionFolder(tmp_path / "nothing")
    empty = tmp_path / "empty"; empty.mkdir()
    with pytest.raises(InputError, match="is empty.*captions.jsonl"): ImageCaptionFolder(empty)
    nojl = tmp_path / "nojl"; (nojl / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(nojl / "images" / "a.png")
    with pytest.raises(InputError, match="has no captions.jsonl"): ImageCaptionFolder(nojl)
    root = write_folder(tmp_path / "mine")
    jl = root / "captions.jsonl"
    good = jl.read_text(encoding="utf-8")
    lines = good.splitlines()
    jl.write_text("\n".join([lines[0], '{"file": "images/0002.jpg", "caption": ', lines[2]]), encoding="utf-8")
    with pytest.raises(InputError, match="captions.jsonl line 2"): ImageCaptionFolder(root)
    jl.write_text("\n".join([lines[0], lines[1], '{"file": "images/0003.png"}']), encoding="utf-8")
    with pytest.raises(InputError, match="line 3"): ImageCaptionFolder(root)
    jl.write_text("\n".join([lines[0], '{"file": "images/0002.jpg", "caption": "   "}']), encoding="utf-8")
    with pytest.raises(InputError, match="line 2: empty caption"): ImageCaptionFolder(root)
    jl.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no captions"): ImageCaptionFolder(root)
    jl.write_text(good, encoding="utf-8")
    (root / "images" / "0002.jpg").unlink()
    with pytest.raises(InputError, match=re.escape(str(root / "images" / "0002.jpg"))): ImageCaptionFolder(root)
    jl.write_text(lines[0] + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"in 16\.\.1024"): ImageCaptionFolder(root, size=8)


def test_unreadable_image_names_the_file(tmp_path):
    root = write_folder(tmp_path / "mine")
    (root / "images" / "0001.png").write_bytes(b"not a png at all")
    ds = ImageCaptionFolder(root, size=16)
    with pytest.raises(InputError, match=re.escape(str(root / "images" / "0001.png"))): ds.image(0)


# ---------------------------------------------------------------- data/example: the committed folder-format example
EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "example"


def test_the_committed_example_folder_loads_and_its_attributes_match_its_captions():
    ds = ImageCaptionFolder(EXAMPLE, size=64)
    assert len(ds) == 12 and ds.image(0).shape == (64, 64, 3) and ds.image(0).dtype == np.uint8
    langs = Counter(ds.attributes(i)["lang"] for i in range(len(ds)))
    assert langs["zh"] > 0 and langs["en"] > 0
    assert {len(ds.attributes(i)["objects"]) for i in range(len(ds))} == {1, 2}
    for i in range(len(ds)):                                          # every attribute a record names is said in its caption
        zh = ds.attributes(i)["lang"] == "zh"
        for obj in ds.attributes(i)["objects"]:
            for slot, value in obj.items(): assert (ZH[value] if zh else value) in ds.caption(i), (ds.caption(i), slot, value)


def test_the_example_folder_is_what_its_tool_makes(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_example_data", EXAMPLE.parent.parent / "tools" / "make_example_data.py")
    tool = importlib.util.module_from_spec(spec); spec.loader.exec_module(tool)
    tool.main(tmp_path)
    assert (tmp_path / "captions.jsonl").read_text(encoding="utf-8") == (EXAMPLE / "captions.jsonl").read_text(encoding="utf-8")
    for f in sorted((EXAMPLE / "images").iterdir()):
        assert np.array_equal(np.asarray(Image.open(f)), np.asarray(Image.open(tmp_path / "images" / f.name))), f.name
