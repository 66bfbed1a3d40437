"""R-precision of chapter 10: a short contrastive training ranks real renders' own captions first far above chance;
shuffled captions and noise images fall to about 1/100; seeded training is deterministic; bad input is a clear InputError."""
import numpy as np
import pytest
import torch

from t2i_course.core import InputError
from t2i_course.data import make_dataset
from t2i_course.evaluate import DualEncoder, clip_loss, r_precision, train_dual_encoder

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    dual, vocab, report = train_dual_encoder(n=4000, steps=300, seed=0, show_progress=False)
    return dual, vocab, report, make_dataset(600, split="test", seed=1)


def test_real_shuffled_noise(trained):
    dual, vocab, report, ds = trained
    assert report["steps"] == 300 and np.isfinite(report["final_loss"])
    real = r_precision(dual, vocab, ds.images, ds.captions)
    real_c = r_precision(dual, vocab, ds.images, ds.captions, scenes=ds.scenes, slots=ds.slots)
    perm = np.random.default_rng(0).permutation(len(ds))
    shuffled = r_precision(dual, vocab, ds.images, [ds.captions[j] for j in perm])
    noise = r_precision(dual, vocab, np.random.default_rng(2).integers(0, 256, ds.images.shape, dtype=np.uint8), ds.captions)
    assert real >= 0.5 and real_c >= 0.6, (real, real_c)
    assert shuffled <= 0.05 and noise <= 0.05, (shuffled, noise)
    assert r_precision(dual, vocab, ds.images, ds.captions, seed=3) == r_precision(dual, vocab, ds.images, ds.captions, seed=3)


def test_distractors_are_other_texts(trained):
    dual, vocab, _, ds = trained
    idx = list({c: i for i, c in reversed(list(enumerate(ds.captions)))}.values())[:100]   # 100 different texts
    caps, images = [ds.captions[i] for i in idx], ds.images[idx]
    assert 0 <= r_precision(dual, vocab, images, caps) <= 1
    dup = [caps[1]] + caps[1:]                         # image 0 and 1 share a text: only 98 other texts remain
    with pytest.raises(InputError, match="need 99"): r_precision(dual, vocab, images, dup)


def test_deterministic():
    a, va, ra = train_dual_encoder(n=256, steps=3, seed=7, show_progress=False)
    b, vb, rb = train_dual_encoder(n=256, steps=3, seed=7, show_progress=False)
    assert va == vb and ra["final_loss"] == rb["final_loss"]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    c, _, _ = train_dual_encoder(n=256, steps=3, seed=8, show_progress=False)
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))


def test_clip_loss_symmetric_and_low_when_matched():
    u = torch.nn.functional.normalize(torch.eye(4), dim=1)
    scale = torch.tensor(np.log(1 / 0.07), dtype=torch.float32)
    assert float(clip_loss(u, u, scale)) < 0.01
    assert float(clip_loss(u, u.flip(0), scale)) > 5


def test_bad_input(trained):
    dual, vocab, _, ds = trained
    with pytest.raises(InputError, match="one caption per image"): r_precision(dual, vocab, ds.images[:120], ds.captions[:119])
    with pytest.raises(InputError, match="at least 100 captions"): r_precision(dual, vocab, ds.images[:99], ds.captions[:99])
    with pytest.raises(InputError, match="DualEncoder"): r_precision(None, vocab, ds.images[:100], ds.captions[:100])
    with pytest.raises(InputError, match="both scenes and slots"): r_precision(dual, vocab, ds.images[:100], ds.captions[:100], scenes=ds.scenes[:100])
    with pytest.raises(InputError, match="positive integer"): train_dual_encoder(n=0, steps=1, show_progress=False)
    assert isinstance(dual, DualEncoder)
