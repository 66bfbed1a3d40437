"""The run folder and `TextToImage`: save/load round trip, determinism, shapes, bad captions, damaged run folders."""
import json
import shutil
import struct

import numpy as np
import pytest
import torch

from t2i_course import __version__
from t2i_course.core import InputError, set_seed, to_uint8
from t2i_course.discriminator import Discriminator, DiscriminatorConfig
from t2i_course.files import CONFIG_FILE, RUN_FILES, RUN_FORMAT, RUN_FORMAT_VERSION, VOCAB_FILE, WEIGHTS_FILE
from t2i_course.pipeline import TextToImage, export_generator, save_run
from t2i_course.text import Vocab, tokenize
from t2i_course.text_cnn import TextCNN, TextCNNConfig
from t2i_course.vae import ConditionalVAE, VAEConfig
from t2i_course.vaegan import VAEGAN, system_config
from t2i_course.vaegan_family import build_vaegan

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py

CAPTIONS = ["一个红色的立方体", "a blue sphere on the left", "一个大的绿色金属圆柱体在中间", "a small yellow cube at the top right"]
SIZE = 16


def tiny_model(vocab_size: int, seed: int = 0) -> VAEGAN:
    "An untrained VAEGAN small enough to build and run in milliseconds."
    set_seed(seed)
    tcfg = TextCNNConfig(vocab_size=vocab_size, embed_dim=8, widths=(1, 2), channels=8, out_dim=16)
    vcfg = VAEConfig(image_size=SIZE, hidden=(8, 16), z_dim=4, text_dim=16)
    dcfg = DiscriminatorConfig(image_size=SIZE, hidden=(8, 16), text_dim=16, feature_dim=16, spectral_norm=True)
    return VAEGAN(ConditionalVAE(vcfg, TextCNN(tcfg)), Discriminator(dcfg), TextCNN(tcfg))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    "(run folder, the model saved in it, its vocab); the model has spectral norm, so buffers are saved too."
    vocab = Vocab.build([tokenize(c) for c in CAPTIONS])
    model = tiny_model(len(vocab)).eval()
    folder = save_run(tmp_path_factory.mktemp("runs") / "tiny", model, vocab, train_config={"steps": 0}, extra={"note": "test"})
    return folder, model, vocab


@pytest.fixture(scope="module")
def t2i(run):
    return TextToImage.load(run[0], device="cpu")


def broken(run, tmp_path, fix):
    "A copy of the run folder with `fix(folder)` applied."
    d = tmp_path / "run"
    shutil.copytree(run[0], d)
    fix(d)
    return d


def without_checksums(d):
    "Drop config.json's checksums, as in a run saved before they existed."
    c = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8"))
    del c["sha256"]
    (d / CONFIG_FILE).write_text(json.dumps(c), encoding="utf-8")


def edit_config(d, **kw):
    c = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8"))
    c.update(kw)
    (d / CONFIG_FILE).write_text(json.dumps(c), encoding="utf-8")


# --- the run folder ---------------------------------------------------------------------------------

def test_run_folder_files_and_config(run):
    folder, model, _ = run
    assert sorted(p.name for p in folder.iterdir()) == sorted(RUN_FILES)   # no temporary files left behind
    cfg = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    assert (cfg["format"], cfg["version"], cfg["library_version"]) == (RUN_FORMAT, RUN_FORMAT_VERSION, __version__)
    assert cfg["image_size"] == SIZE and cfg["train"] == {"steps": 0} and cfg["note"] == "test"
    assert cfg["model"] == system_config(model)


def test_no_pickles_in_run_folder(run):
    folder = run[0]
    for name in (CONFIG_FILE, VOCAB_FILE): json.loads((folder / name).read_text(encoding="utf-8"))
    data = (folder / WEIGHTS_FILE).read_bytes()
    assert not data.startswith(b"\x80")                                  # the pickle protocol 2+ opcode
    (n,) = struct.unpack("<Q", data[:8])                                 # safetensors: u64 header length, JSON header, raw bytes
    header = json.loads(data[8:8 + n])
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    assert tensors and all(set(v) == {"dtype", "shape", "data_offsets"} for v in tensors.values())
    assert max(v["data_offsets"][1] for v in tensors.values()) == len(data) - 8 - n


def test_round_trip_weights_bit_identical(run, t2i):
    _, model, vocab = run
    want, got = model.state_dict(), t2i.model.state_dict()
    assert set(want) == set(got)
    assert any("parametrizations" in k for k in want)                    # spectral norm's tensors travel too
    for k in want: assert torch.equal(want[k], got[k]), k
    assert t2i.vocab == vocab and not t2i.model.training and t2i.device.type == "cpu"
    assert t2i.image_size == SIZE and t2i.run_dir == run[0] and "16x16" in repr(t2i)


def test_generate_same_before_and_after_save_load(run, t2i):
    _, model, vocab = run
    before = TextToImage(model, vocab).generate(CAPTIONS, n=2, seed=3)
    np.testing.assert_array_equal(before, t2i.generate(CAPTIONS, n=2, seed=3))


def test_build_vaegan_round_trip(run):
    model = run[1]
    rebuilt = build_vaegan(json.loads(json.dumps(system_config(model))))
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_save_run_bad_input(run, tmp_path):
    _, model, vocab = run
    with pytest.raises(InputError, match="reserved"): save_run(tmp_path / "a", model, vocab, extra={"version": 2})
    with pytest.raises(InputError, match="JSON"): save_run(tmp_path / "b", model, vocab, train_config={"x": object()})
    with pytest.raises(InputError, match="vocab has"): save_run(tmp_path / "c", model, Vocab.build(["a b"]))
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"): save_run(tmp_path / "file", model, vocab)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()   # nothing written on bad input


# --- generate -------------------------------------------------------------------------------------------

def test_generate_deterministic_and_seeded(t2i):
    a = t2i.generate(CAPTIONS, seed=0)
    np.testing.assert_array_equal(a, t2i.generate(CAPTIONS, seed=0))
    np.testing.assert_array_equal(a, t2i(CAPTIONS))                    # __call__ is generate(texts, n=1, seed=0)
    assert not np.array_equal(a, t2i.generate(CAPTIONS, seed=1))


@pytest.mark.parametrize("n", [1, 3])
def test_generate_shapes(t2i, n):
    out = t2i.generate(CAPTIONS, n=n)
    assert out.shape == (len(CAPTIONS) * n, SIZE, SIZE, 3) and out.dtype == np.uint8


def test_generate_order_matches_sample(run, t2i):
    "Caption i's n images are rows i*n .. i*n+n-1, exactly as ConditionalVAE.sample lays them out."
    ids, _ = run[2].encode_batch(CAPTIONS, min_len=2)
    x = t2i.model.sample(ids, n=3, generator=torch.Generator().manual_seed(7))           # (4*3, 3, H, W)
    np.testing.assert_array_equal(t2i.generate(CAPTIONS, n=3, seed=7), to_uint8(x))


def test_generate_batches_do_not_change_images(run):
    _, model, vocab = run
    small = TextToImage(model, vocab)
    small.batch_size = 3                                                 # instance attribute: 1 caption per batch at n=3
    np.testing.assert_array_equal(small.generate(CAPTIONS, n=3, seed=5), TextToImage(model, vocab).generate(CAPTIONS, n=3, seed=5))


def test_one_str_is_one_caption(t2i):
    out = t2i.generate(CAPTIONS[0], n=2, seed=4)
    assert out.shape == (2, SIZE, SIZE, 3)
    np.testing.assert_array_equal(out, t2i.generate([CAPTIONS[0]], n=2, seed=4))


def test_unknown_words_warn_once(t2i):
    with pytest.warns(UserWarning, match="粉色") as rec:
        out = t2i.generate(["一个粉色的球体", "a pink sphere", "粉色"])
    assert out.shape == (3, SIZE, SIZE, 3)
    ours = [str(w.message) for w in rec if "vocabulary" in str(w.message)]
    assert len(ours) == 1 and "pink" in ours[0]


@pytest.mark.parametrize("texts, match", [(["a red cube", ""], "caption 1 is empty"), (["   "], "caption 0 is empty"),
                                          ("\n\t", "caption 0 is empty"), (["!!!"], "no words"), ([], "empty")])
def test_empty_captions_raise(t2i, texts, match):
    with pytest.raises(ValueError, match=match): t2i.generate(texts)


@pytest.mark.parametrize("texts", [42, None, b"a red cube", ["a red cube", 3], [None], {"a": 1}])
def test_non_str_captions_raise(t2i, texts):
    with pytest.raises(InputError): t2i.generate(texts)


@pytest.mark.parametrize("kw", [{"n": 0}, {"n": -1}, {"n": 1.5}, {"n": True}, {"seed": -1}, {"seed": "0"}])
def test_bad_n_or_seed_raise(t2i, kw):
    with pytest.raises(InputError): t2i.generate(CAPTIONS, **kw)


# --- score ----------------------------------------------------------------------------------------------

def test_score(t2i):
    images = t2i.generate(CAPTIONS)
    s = t2i.score(images, CAPTIONS)
    assert s.shape == (len(CAPTIONS),) and s.dtype == np.float32 and np.isfinite(s).all()
    np.testing.assert_array_equal(s, t2i.score(images, CAPTIONS))         # eval mode: no dropout
    assert t2i.score(images[:1], CAPTIONS[0]).shape == (1,)
    with pytest.raises(InputError, match="4 images but 3 captions"): t2i.score(images, CAPTIONS[:3])
    with pytest.raises(InputError, match="uint8"): t2i.score(images.astype(np.float32), CAPTIONS)
    with pytest.raises(InputError, match="uint8"): t2i.score(images[:, :8], CAPTIONS)


# --- damaged run folders --------------------------------------------------------------------------------

def test_load_missing_folder(tmp_path):
    with pytest.raises(InputError, match="run folder not found"): TextToImage.load(tmp_path / "nope")


@pytest.mark.parametrize("name", RUN_FILES)
def test_load_missing_file(run, tmp_path, name):
    d = broken(run, tmp_path, lambda d: (d / name).unlink())
    with pytest.raises(InputError, match=f"has no {name}"): TextToImage.load(d)


def test_load_newer_version(run, tmp_path):
    d = broken(run, tmp_path, lambda d: edit_config(d, version=99))
    with pytest.raises(InputError, match="run folder is format version 99; this library reads versions 1 and 2"): TextToImage.load(d)


@pytest.mark.parametrize("fix, match", [
    (lambda d: (d / CONFIG_FILE).write_text("{not json", encoding="utf-8"), "not valid JSON"),
    (lambda d: (d / CONFIG_FILE).write_text("[1, 2]", encoding="utf-8"), "not a t2i-course run"),
    (lambda d: edit_config(d, format="something-else"), "not a t2i-course run"),
    (lambda d: edit_config(d, version="1"), "format version '1'"),
    (lambda d: edit_config(d, model=None), "'model'"),
])
def test_load_bad_config(run, tmp_path, fix, match):
    with pytest.raises(InputError, match=match): TextToImage.load(broken(run, tmp_path, fix))


def test_load_config_with_unknown_model_key(run, tmp_path):
    model = system_config(run[1])
    d = broken(run, tmp_path, lambda d: edit_config(d, model={**model, "vae": {**model["vae"], "depth": 3}}))
    with pytest.raises(InputError, match="vae: unknown key 'depth'"): TextToImage.load(d)


def test_load_truncated_weights(run, tmp_path):
    data = (run[0] / WEIGHTS_FILE).read_bytes()
    d = broken(run, tmp_path, lambda d: (d / WEIGHTS_FILE).write_bytes(data[:len(data) // 2]))
    with pytest.raises(InputError, match="model.safetensors does not match its checksum"): TextToImage.load(d)
    without_checksums(d)                                                       # a run saved before checksums: the reader still says why
    with pytest.raises(InputError, match="not a readable safetensors file"): TextToImage.load(d)


def test_load_weights_that_do_not_fit(run, tmp_path):
    model = system_config(run[1])
    other = {**model, "vae": {**model["vae"], "z_dim": 6}}                   # config changed, weights did not
    d = broken(run, tmp_path, lambda d: edit_config(d, model=other))
    with pytest.raises(InputError, match=r"cvae\.encoder\.head\.weight is \(8, \d+\) in the file but \(12, \d+\)"): TextToImage.load(d)


def test_load_weights_missing_and_unexpected_keys(run, tmp_path):
    from safetensors.torch import load_file, save_file
    def fix(d):
        t = load_file(str(d / WEIGHTS_FILE))
        t["extra.weight"] = t.pop("cvae.decoder.fc.bias")
        save_file(t, str(d / WEIGHTS_FILE))
    d = broken(run, tmp_path, fix)
    with pytest.raises(InputError, match="model.safetensors does not match its checksum"): TextToImage.load(d)
    without_checksums(d)
    with pytest.raises(InputError, match=r"missing cvae\.decoder\.fc\.bias; unexpected extra\.weight"): TextToImage.load(d)


def test_load_vocab_that_does_not_fit(run, tmp_path):
    d = broken(run, tmp_path, lambda d: Vocab.build(["only a few words"]).save(d / VOCAB_FILE))
    with pytest.raises(InputError, match="vocab.json does not match its checksum"): TextToImage.load(d)
    without_checksums(d)
    with pytest.raises(InputError, match=r"vocab\.json does not fit the model: the vocab has 6 tokens"): TextToImage.load(d)


def test_load_bad_device(run):
    with pytest.raises(InputError, match="device"): TextToImage.load(run[0], device="tpu")


def test_temperature_scales_the_prior_noise(run, t2i):
    "temperature 1 is the prior as trained (the default of a run without one); 0 draws the prior mean, the same image for every seed."
    assert t2i.temperature == 1.0
    test = CAPTIONS[:2]
    np.testing.assert_array_equal(t2i.generate(test, n=2, seed=3), t2i.generate(test, n=2, seed=3, temperature=1.0))
    cold = t2i.generate(test, n=3, seed=3, temperature=0)
    np.testing.assert_array_equal(cold[0], cold[1]); np.testing.assert_array_equal(cold, t2i.generate(test, n=3, seed=9, temperature=0))
    assert not np.array_equal(t2i.generate(test, n=2, seed=3, temperature=0.5), t2i.generate(test, n=2, seed=3))
    for bad in (-0.1, 5, "hot", True, float("nan")):
        with pytest.raises(InputError, match="temperature must be a number in"): t2i.generate(test, temperature=bad)


def test_a_run_carries_its_own_temperature(run, tmp_path):
    d = broken(run, tmp_path, lambda d: None)
    c = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8")); c["train"]["temperature"] = 0.25
    (d / CONFIG_FILE).write_text(json.dumps(c), encoding="utf-8")
    warm = TextToImage.load(d, device="cpu")
    assert warm.temperature == 0.25
    np.testing.assert_array_equal(warm.generate(CAPTIONS, seed=1), TextToImage.load(run[0], device="cpu").generate(CAPTIONS, seed=1, temperature=0.25))
    c["train"]["temperature"] = "warm"; (d / CONFIG_FILE).write_text(json.dumps(c), encoding="utf-8")
    with pytest.raises(InputError, match="train.temperature must be a number"): TextToImage.load(d, device="cpu")


def test_export_generator_keeps_what_generation_needs(run, t2i, tmp_path):
    out = export_generator(run[0], tmp_path / "gen")
    g = TextToImage.load(out, device="cpu")
    assert g.generator_only and not t2i.generator_only
    np.testing.assert_array_equal(g.generate(CAPTIONS, n=2, seed=5), t2i.generate(CAPTIONS, n=2, seed=5))
    from safetensors.torch import load_file
    assert set(load_file(out / WEIGHTS_FILE)) == set(t2i.model.cvae.state_dict())         # the CVAE's tensors only
    assert (out / WEIGHTS_FILE).stat().st_size < (run[0] / WEIGHTS_FILE).stat().st_size
    cfg = json.loads((out / CONFIG_FILE).read_text(encoding="utf-8"))
    assert cfg["parts"] == ["cvae"] and cfg["train"] == json.loads((run[0] / CONFIG_FILE).read_text(encoding="utf-8"))["train"]
    with pytest.raises(InputError, match="generator only"): g.score(g.generate(CAPTIONS[:1]), CAPTIONS[:1])
    with pytest.raises(InputError, match="another folder"): export_generator(run[0], run[0])
    (tmp_path / "mine").mkdir(); (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InputError): export_generator(run[0], tmp_path / "mine")             # a folder of the user's is never written into
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    c = json.loads((out / CONFIG_FILE).read_text(encoding="utf-8")); c["parts"] = ["disc"]
    (out / CONFIG_FILE).write_text(json.dumps(c), encoding="utf-8")
    with pytest.raises(InputError, match="parts is"): TextToImage.load(out, device="cpu")
