"""Chapter 13, speech as input: synthesis, hand-made features checked against numpy/librosa, the audio a user hands us (every bad
case one line or handled), the shipped recogniser's accuracy on held-out voices, exact resume, and the CLI's `speech` and `--audio`."""
import io
import json

import numpy as np
import pytest

sp = pytest.importorskip("t2i_course.speech")
sf = pytest.importorskip("soundfile")
from t2i_course.core import InputError
from t2i_course.data import caption, sample_scenes


def wav_bytes(wav, sr=16000, fmt="WAV"):
    buf = io.BytesIO(); sf.write(buf, wav, sr, format=fmt); return buf.getvalue()


@pytest.fixture(scope="module")
def said():
    return sp.synthesize("a large red metal sphere at the top left", variant="m7", speed=160)[0]


@pytest.fixture(scope="module")
def rec():
    return sp.SpeechRecognizer.load(sp.shipped_speech())


# --- the mel filterbank and features ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_mels,n_fft,sr,fmin,fmax", [(40, 512, 16000, 0.0, None), (80, 1024, 22050, 50.0, 8000.0), (26, 400, 8000, 20.0, 3500.0)])
def test_mel_filterbank_matches_librosa(n_mels, n_fft, sr, fmin, fmax):
    librosa = pytest.importorskip("librosa")
    for norm, lnorm in ((True, "slaney"), (False, None)):
        mine = sp.mel_filterbank(n_mels, n_fft, sr, fmin, fmax, norm=norm)
        ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True, norm=lnorm)
        assert mine.shape == ref.shape
        np.testing.assert_allclose(mine, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_mel_scale_round_trip():
    f = np.array([0.0, 100.0, 700.0, 1000.0, 8000.0])
    np.testing.assert_allclose(sp.mel_to_hz(sp.hz_to_mel(f)), f, atol=1e-6)
    assert abs(float(sp.hz_to_mel(1000.0)) - 1000.0) < 0.5            # the mel scale's anchor: 1000 Hz is about 1000 mel


def test_log_mel_shape_and_normalisation(said):
    feats = sp.log_mel(said)
    assert tuple(feats.shape) == (1 + len(said) // sp.HOP, sp.N_MELS)
    np.testing.assert_allclose(feats.mean(0).numpy(), 0, atol=1e-4)
    x = said + 1e-2 * np.random.default_rng(0).standard_normal(len(said)).astype(np.float32)   # a floor of noise, as a microphone has
    quieter = sp.log_mel(0.5 * x)                                       # half as loud: the same normalised features
    np.testing.assert_allclose(quieter.numpy(), sp.log_mel(x).numpy(), atol=0.1)             # the 1e-6 floor under the log, in the quietest cells


# --- synthesis, pinyin, units -----------------------------------------------------------------------------------------------------
def test_every_world_character_has_pinyin_and_units_round_trip():
    scenes = sample_scenes(300, n_objects=1, seed=5) + sample_scenes(300, n_objects=2, seed=6)
    units = set(sp.world_units())
    for i, s in enumerate(scenes):
        for lang in ("zh", "en"):
            c = caption(s, lang=lang, seed=i, templates="all")
            if lang == "zh": assert len(sp.to_pinyin(c).split()) == len(c)
            assert set(sp.units_of(c)) <= units and sp.join_units(sp.units_of(c)) == c


def test_tone_sandhi_and_unknown_characters():
    assert sp.to_pinyin("一个红色的球体") == "yi2 ge4 hong2 se4 de5 qiu2 ti3"
    assert sp.to_pinyin("画面里有") == "hua4 mian4 li2 you3"             # 3 + 3 → 2 + 3
    with pytest.raises(InputError, match="no pinyin"): sp.to_pinyin("一只猫")


def test_synthesis_is_deterministic_and_speaks():
    a, sr = sp.synthesize("一个蓝色的立方体", variant="f2")
    b, _ = sp.synthesize("一个蓝色的立方体", variant="f2")
    c, _ = sp.synthesize("一个蓝色的立方体", variant="m3")
    fast, _ = sp.synthesize("一个蓝色的立方体", variant="f2", speed=300)
    assert sr == sp.SAMPLE_RATE and a.dtype == np.float32 and np.array_equal(a, b)
    assert 0.8 < len(a) / sr < 5 and np.abs(a).max() > 0.1
    assert not np.array_equal(a[:len(c)], c[:len(a)]) and len(fast) < 0.8 * len(a)
    for bad, msg in ((dict(lang="fr"), "unknown lang"), (dict(speed=10), "speed"), (dict(variant="nobody"), "no voice variant")):
        with pytest.raises(InputError, match=msg): sp.synthesize("a red cube", **bad)


def test_test_voices_speeds_pitches_and_noise_are_held_out():
    assert not set(sp.VARIANTS_TRAIN) & set(sp.VARIANTS_TEST)
    assert not set(sp.TRAIN_SPEEDS) & set(sp.TEST_SPEEDS) and not set(sp.TRAIN_PITCHES) & set(sp.TEST_PITCHES)
    assert sp.TEST_SNR not in sp.TRAIN_SNR
    train, test = sp.utterances(200, "train", 0), sp.utterances(50, "test", 0, noisy=True)
    assert {u.variant for u in train} <= set(sp.VARIANTS_TRAIN) and {u.variant for u in test} <= set(sp.VARIANTS_TEST)
    assert {u.lang for u in train} == {"zh", "en"} and all(u.snr_db == sp.TEST_SNR for u in test)
    assert sp.utterances(20, "train", 3) == sp.utterances(20, "train", 3)


def test_noise_has_the_asked_snr(said):
    rng = np.random.default_rng(0)
    noisy = sp.add_noise(said, 10.0, rng)
    voiced = said[np.abs(said) > 0.02 * np.abs(said).max()]
    snr = 10 * np.log10(np.mean(voiced ** 2) / np.mean((noisy - said) ** 2))
    assert abs(snr - 10.0) < 0.01


# --- audio a user hands us --------------------------------------------------------------------------------------------------------
def test_load_audio_handles_rates_channels_formats(said, tmp_path):
    stereo = np.stack([said, said], 1)
    p = tmp_path / "stereo44.wav"; sf.write(p, sp.resample(said, 16000, 44100)[:, None].repeat(2, 1), 44100)
    wav, notes = sp.load_audio(p)
    assert any("mono" in n for n in notes) and any("44100" in n for n in notes) and abs(len(wav) - len(said)) < 20
    flac = tmp_path / "x.flac"; sf.write(flac, said, 16000)
    assert np.abs(sp.load_audio(flac)[0] - said).max() < 1e-3
    assert sp.load_audio(wav_bytes(stereo))[1] == ["mixed 2 channels down to mono"]
    ints = (said * 32767).astype(np.int16)
    assert np.abs(sp.load_audio(ints, 16000)[0] - said).max() < 1e-3
    bytes8 = np.round(said * 127 + 128).astype(np.uint8)                # 8-bit PCM is unsigned, centred on 128
    assert np.abs(sp.load_audio(bytes8, 16000)[0] - said).max() < 0.02
    clipped = np.clip(said * 20, -1, 1)
    assert any("clipped" in n for n in sp.load_audio(clipped, 16000)[1])


@pytest.mark.parametrize("case,message", [
    ("missing", "no such file"), ("folder", "is a folder"), ("empty", "empty"), ("text", "not a recording"), ("silent", "no speech found"),
    ("long", "at most 20 s"), ("nan", "NaN"), ("no-rate", "sample_rate"), ("rate", "sample rate"), ("cube", "1-D or 2-D")])
def test_bad_audio_is_one_clear_error(case, message, tmp_path):
    f = tmp_path / "a.wav"
    args = {"missing": (tmp_path / "nope.wav",), "folder": (tmp_path,), "empty": (f,), "text": (f,), "silent": (np.zeros(16000), 16000),
            "long": (np.random.default_rng(0).standard_normal(16000 * 25) * 0.1, 16000), "nan": (np.full(1000, np.nan), 16000),
            "no-rate": (np.ones(100),), "rate": (np.ones(100), 100), "cube": (np.ones((2, 2, 2)), 16000)}[case]
    if case == "empty": f.write_bytes(b"")
    if case == "text": f.write_text("this is not audio")
    with pytest.raises(InputError, match=message) as e: sp.load_audio(*args)
    assert "\n" not in str(e.value)


# --- the shipped recogniser --------------------------------------------------------------------------------------------------------
def test_shipped_recogniser_hears_held_out_voices(rec):
    for noisy, limit in ((False, 0.03), (True, 0.06)):
        utts = sp.utterances(60, "test", seed=11, noisy=noisy)
        hyps = rec.transcribe_features([sp.log_mel(sp.render_utterance(u)) for u in utts])
        assert sp.cer([u.text for u in utts], hyps) <= limit, (noisy, [(u.text, h) for u, h in zip(utts, hyps) if u.text != h][:3])


def test_transcribe_file_and_array(rec, said, tmp_path):
    p = tmp_path / "said.wav"; sf.write(p, said, 16000)
    assert rec.transcribe(p) == "a large red metal sphere at the top left"
    assert rec.transcribe(sp.resample(said, 16000, 44100), sample_rate=44100) == "a large red metal sphere at the top left"
    assert rec.notes == ["resampled 44100 Hz → 16000 Hz"]


def test_metrics():
    assert sp.edit_distance("红色球体", "黄色球体") == 1 and sp.edit_distance("", "ab") == 2
    assert sp.cer(["a red cube"], ["a red cube"]) == 0 and sp.cer(["ab"], ["a"]) == 0.5
    assert sp.slot_words("一个大的红色金属球体在左上方") == ["大", "红色", "金属", "球体", "左上方"]
    assert sp.slot_words("there is a small cube to the left of a red sphere") == ["small", "cube", "left", "red", "sphere"]


def test_load_refuses_what_is_not_a_finished_recogniser(tmp_path):
    import shutil
    with pytest.raises(InputError, match="no such folder"): sp.SpeechRecognizer.load(tmp_path / "nope")
    with pytest.raises(InputError, match="speech.json is missing"): sp.SpeechRecognizer.load(tmp_path)
    d = tmp_path / "copy"; shutil.copytree(sp.shipped_speech(), d)
    meta = json.loads((d / "speech.json").read_text())
    (d / "speech.json").write_text(json.dumps({**meta, "config": {**meta["config"], "hidden": 7}}))
    with pytest.raises(InputError, match="hidden must be"): sp.SpeechRecognizer.load(d)
    (d / "speech.json").write_text(json.dumps({**meta, "config": {**meta["config"], "hidden": 64}}))
    with pytest.raises(InputError, match="does not fit"): sp.SpeechRecognizer.load(d)
    (d / "speech.json").write_text(json.dumps(meta)[:50])
    with pytest.raises(InputError, match="unreadable"): sp.SpeechRecognizer.load(d)
    (d / "speech.json").write_text(json.dumps(meta)); (d / "model.safetensors").write_bytes(b"\0" * 10)
    with pytest.raises(InputError, match="model.safetensors is not a readable safetensors file"): sp.SpeechRecognizer.load(d)


# --- training: exact resume --------------------------------------------------------------------------------------------------------
TINY = dict(channels=16, hidden=16, layers=1, dropout=0.0, n_train=24, steps=6, batch_size=4, minutes=60, threads=1, checkpoint_every=2)

def test_resume_is_bit_identical(tmp_path):
    a = sp.train_speech(sp.SpeechConfig(**TINY), tmp_path / "a", quiet=True)
    b = sp.train_speech(sp.SpeechConfig(**TINY), tmp_path / "b", quiet=True, stop_after=3)
    assert not (b / "model.safetensors").exists()
    with pytest.raises(InputError, match="has not finished"): sp.SpeechRecognizer.load(b)
    from t2i_course.train import TrainingStopped
    with pytest.raises(TrainingStopped, match="minutes are up at step 3"): sp.train_speech(None, b, resume=True, quiet=True, minutes=1e-6)
    sp.train_speech(None, b, resume=True, quiet=True)
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "log.csv").read_text().splitlines()[-1].split(",")[:2] == (b / "log.csv").read_text().splitlines()[-1].split(",")[:2]
    with pytest.raises(InputError, match="already holds a speech model"): sp.train_speech(sp.SpeechConfig(**TINY), a, quiet=True)
    with pytest.raises(InputError, match="finished"): sp.train_speech(None, a, resume=True, quiet=True)
    (tmp_path / "mine").mkdir(); (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(InputError, match="not empty"): sp.train_speech(sp.SpeechConfig(**TINY), tmp_path / "mine", quiet=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert sp.SpeechRecognizer.load(a).transcribe_features([sp.log_mel(np.random.default_rng(0).standard_normal(8000))])[0] is not None


# --- the command line ----------------------------------------------------------------------------------------------------------------
def test_cli_transcribe_and_generate_from_audio(run_cli, said, tmp_path):
    good = tmp_path / "said.wav"; sf.write(good, said, 16000)
    bad = tmp_path / "bad.wav"; bad.write_text("no")
    r = run_cli("speech", "transcribe", good, bad)
    assert r.returncode == 2 and "a large red metal sphere at the top left" in r.stdout, r.stderr
    assert "bad.wav" in r.stderr and "not a recording" in r.stderr and "Traceback" not in r.stderr
    out = tmp_path / "grid.png"
    r = run_cli("generate", "--n", "2", "--audio", good, "--out", out)
    assert r.returncode == 0 and "heard in" in r.stdout and "red metal sphere" in r.stdout and out.exists(), r.stderr
    r = run_cli("generate", "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "give a caption" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("generate", "--audio", tmp_path / "none.wav", "--out", tmp_path / "y.png")
    assert r.returncode == 2 and "no such file" in r.stderr and not (tmp_path / "y.png").exists()


def test_cli_speech_train_and_resume(run_cli, tmp_path):
    out = tmp_path / "sp"
    r = run_cli("speech", "train", "--out", out, "--steps", "2", "--n-train", "12", "--threads", "1", timeout=300)
    assert r.returncode == 0 and (out / "model.safetensors").exists() and (out / "loss.png").exists(), r.stderr
    r = run_cli("speech", "train", "--out", out, "--resume")
    assert r.returncode == 2 and "finished" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("speech", "train", "--out", out, "--resume", "--steps", "5")
    assert r.returncode == 2 and "drop --steps" in r.stderr
    r = run_cli("speech", "transcribe", "--model", tmp_path / "nope", tmp_path / "a.wav")
    assert r.returncode == 2 and "no such folder" in r.stderr
