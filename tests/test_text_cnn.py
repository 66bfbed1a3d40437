"""Text CNN and the caption-attribute task (t2i_course.text_cnn): shapes, padding and truncation, embeddings, errors, determinism.

Run against the installed package: `pytest tests/test_text_cnn.py -q`.
"""
import subprocess
import sys

import pytest
import torch

from t2i_course.core import InputError, set_seed
from t2i_course.data import COLORS, Scene, SceneObject, caption_slots, make_dataset
from t2i_course.text_cnn import (SLOT_CLASSES, SLOT_NAMES, AttributeHead, CaptionAttributeModel, TextCNN, TextCNNConfig,
                                 attribute_accuracy, attribute_loss, caption_targets, predict_slots, top_ngrams,
                                 train_attribute_model)

pytestmark = pytest.mark.usefixtures("one_thread")   # see conftest.py




def make(vocab_size=30, seed=0, **kw):
    set_seed(seed)
    return TextCNN(TextCNNConfig(vocab_size=vocab_size, **kw)).eval()


# ---------------------------------------------------------------- config

def test_config_round_trips_through_to_dict():
    cfg = TextCNNConfig(vocab_size=30, widths=[2, 5], channels=8, out_dim=16)
    assert cfg.widths == (2, 5)
    d = cfg.to_dict()
    assert d["widths"] == [2, 5] and TextCNNConfig(**d) == cfg


@pytest.mark.parametrize("kw, msg", [
    (dict(vocab_size=1), "vocab_size"),
    (dict(vocab_size=0), "vocab_size"),
    (dict(vocab_size=30.5), "vocab_size"),
    (dict(vocab_size=30, widths=()), "widths"),
    (dict(vocab_size=30, widths=(0, 2)), "width"),
    (dict(vocab_size=30, widths=(2, 2)), "widths"),
    (dict(vocab_size=30, widths=(2.5,)), "width"),
    (dict(vocab_size=30, widths="12"), "widths"),
    (dict(vocab_size=30, widths=(3,), max_len=2), "widest filter"),
    (dict(vocab_size=30, embed_dim=0), "embed_dim"),
    (dict(vocab_size=30, channels=-1), "channels"),
    (dict(vocab_size=30, out_dim=True), "out_dim"),
    (dict(vocab_size=30, dropout=1.0), "dropout"),
    (dict(vocab_size=30, dropout=-0.1), "dropout"),
    (dict(vocab_size=30, pad_id=30), "pad_id"),
    (dict(vocab_size=30, pool="avg"), "pool must be one of 'max', 'mean'"),
    (dict(vocab_size=30, pool=None), "pool"),
])
def test_config_rejects_bad_values(kw, msg):
    with pytest.raises(InputError, match=msg): TextCNNConfig(**kw)


def test_config_accepts_a_single_width():
    assert TextCNNConfig(vocab_size=30, widths=3).widths == (3,)


def test_config_from_before_pool_existed_pools_with_max():
    d = TextCNNConfig(vocab_size=30, pool="mean").to_dict()
    assert d["pool"] == "mean" and TextCNNConfig(**d).pool == "mean"
    del d["pool"]
    assert TextCNNConfig(**d).pool == "max"


# ---------------------------------------------------------------- shapes, padding, truncation

@pytest.mark.parametrize("widths", [(1,), (3,), (1, 2, 3, 4), (2, 5, 7)])
@pytest.mark.parametrize("T", [1, 2, 6, 40, 41, 200])
def test_shapes_for_widths_and_lengths(widths, T):
    cnn = make(widths=widths, channels=5, out_dim=7, max_len=40)
    ids = torch.randint(2, 30, (3, T))                                  # (B, T)
    assert cnn(ids).shape == (3, 7)
    assert cnn.pooled(ids).shape == (3, 5 * len(widths))
    T_used = min(max(T, max(widths)), 40)
    assert [tuple(h.shape) for h in cnn.feature_maps(ids)] == [(3, 5, T_used - w + 1) for w in widths]


@pytest.mark.parametrize("pool", ["max", "mean"])
@pytest.mark.parametrize("L", [1, 2, 3, 4, 5, 9])
def test_padding_does_not_change_the_vector(L, pool):
    cnn = make(widths=(1, 2, 3, 4), pool=pool)
    ids = torch.randint(2, 30, (1, L))
    ref = cnn(ids)
    for extra in (1, 3, 20):
        padded = torch.cat([ids, torch.zeros(1, extra, dtype=torch.long)], 1)
        torch.testing.assert_close(cnn(padded), ref, atol=1e-5, rtol=0)


def test_padding_invariance_inside_a_batch():
    "A caption gives the same vector alone and in a batch with a longer one (which pads it)."
    cnn = make()
    short, long = torch.tensor([[4, 5]]), torch.randint(2, 30, (1, 11))
    batch = torch.cat([torch.cat([short, torch.zeros(1, 9, dtype=torch.long)], 1), long])   # (2, 11)
    out = cnn(batch)
    torch.testing.assert_close(out[0:1], cnn(short), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1:2], cnn(long), atol=1e-5, rtol=0)


@pytest.mark.parametrize("pool", ["max", "mean"])
def test_all_padding_row_is_finite(pool):
    cnn = make(pool=pool)
    out = cnn(torch.zeros(2, 6, dtype=torch.long))
    assert torch.isfinite(out).all()


def test_mean_pool_averages_the_windows_inside_the_caption():
    cnn = make(widths=(1, 3), channels=5, pool="mean")
    ids = torch.tensor([[4, 5, 6, 7, 0, 0, 0], [8, 9, 0, 0, 0, 0, 0]])      # 4 and 2 real tokens
    e = cnn.embed(ids).transpose(1, 2)                                    # (B, E, T)
    want = []
    for b, L in enumerate((4, 2)):
        feats = []
        for w, conv in zip((1, 3), cnn.convs):
            h = torch.relu(conv(e[b:b + 1]))[0]                           # (C, T-w+1)
            feats.append(h[:, :max(L - w + 1, 1)].mean(1))                # a caption shorter than w keeps its first window
        want.append(torch.cat(feats))
    torch.testing.assert_close(cnn.pooled(ids), torch.stack(want), atol=1e-5, rtol=0)
    maxed = make(widths=(1, 3), channels=5)
    assert (maxed.pooled(ids) >= cnn.pooled(ids) - 1e-6).all()            # a mean never exceeds the max


def test_mean_pool_trains_and_has_gradients():
    cnn = make(pool="mean", channels=8)
    model = CaptionAttributeModel(cnn)
    ids, y = torch.randint(2, 30, (16, 6)), torch.zeros(16, 5, dtype=torch.long)
    ids[:, 4:] = 0                                                        # padding at the end
    hist = train_attribute_model(model, ids, y, steps=5, batch_size=8, show_progress=False)
    assert all(torch.isfinite(torch.tensor(hist["loss"])))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in cnn.convs.parameters())


def test_truncation_at_max_len():
    cnn = make(max_len=12)
    ids = torch.randint(2, 30, (2, 50))
    torch.testing.assert_close(cnn(ids), cnn(ids[:, :12]))
    changed = ids.clone(); changed[:, 12:] = torch.randint(2, 30, (2, 38))   # tokens past max_len are never seen
    torch.testing.assert_close(cnn(changed), cnn(ids))
    assert cnn.prepare(ids).shape == (2, 12)


def test_short_caption_is_padded_to_the_widest_filter():
    cnn = make(widths=(2, 5))
    assert cnn.prepare(torch.tensor([[7]])).tolist() == [[7, 0, 0, 0, 0]]
    assert cnn(torch.tensor([[7]])).shape == (1, 64)


def test_a_hand_built_filter_finds_its_bigram_anywhere():
    words = ["<pad>", "<unk>", "a", "red", "blue", "cube"]
    cnn = TextCNN(TextCNNConfig(vocab_size=6, embed_dim=6, widths=(2,), channels=1, out_dim=1, dropout=0.0, max_len=8),
                  embedding=torch.eye(6))
    with torch.no_grad():
        cnn.convs[0].weight.zero_(); cnn.convs[0].bias.fill_(-1.0)
        cnn.convs[0].weight[0, words.index("red"), 0] = 1.0
        cnn.convs[0].weight[0, words.index("cube"), 1] = 1.0
    ids = torch.tensor([[2, 3, 5, 0, 0], [2, 4, 5, 0, 0], [2, 4, 5, 2, 3], [2, 4, 2, 3, 5]])
    assert cnn.pooled(ids)[:, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    top = top_ngrams(cnn, ids, width=2, k=1)
    assert top == [[((3, 5), 1.0)]]


@pytest.mark.parametrize("bad, msg", [
    (torch.tensor([1, 2, 3]), r"\(B, T\)"),
    (torch.zeros(1, 2, 3, dtype=torch.long), r"\(B, T\)"),
    (torch.tensor([[1.0, 2.0]]), "integer"),
    (torch.tensor([[True, False]]), "integer"),
    (torch.tensor([[3, 30]]), "0..29"),
    (torch.tensor([[-1, 3]]), "0..29"),
    ([[1, 2]], r"\(B, T\)"),
])
def test_bad_ids_raise_input_error(bad, msg):
    with pytest.raises(InputError, match=msg): make()(bad)


# ---------------------------------------------------------------- embeddings

def test_embedding_init_is_copied_and_pad_row_zeroed():
    emb = torch.randn(30, 32)
    cnn = TextCNN(TextCNNConfig(vocab_size=30), embedding=emb)
    torch.testing.assert_close(cnn.embed.weight[1:], emb[1:])
    assert cnn.embed.weight[0].abs().sum() == 0
    assert cnn.embed.weight.requires_grad
    assert emb[0].abs().sum() > 0                                     # the caller's tensor is not modified


def test_embedding_accepts_numpy_and_can_be_frozen():
    import numpy as np
    emb = np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32)
    cnn = TextCNN(TextCNNConfig(vocab_size=30, embed_dim=8), embedding=emb, freeze_embedding=True)
    assert not cnn.embed.weight.requires_grad
    before = cnn.embed.weight.clone()
    model = CaptionAttributeModel(cnn)
    ids, y = torch.randint(2, 30, (16, 6)), torch.zeros(16, 5, dtype=torch.long)
    train_attribute_model(model, ids, y, steps=3, batch_size=8, show_progress=False)
    torch.testing.assert_close(cnn.embed.weight, before)


@pytest.mark.parametrize("shape", [(30, 16), (29, 32), (30,), (30, 32, 1)])
def test_embedding_shape_mismatch_is_an_input_error(shape):
    with pytest.raises(InputError, match=r"expected \(30, 32\)"):
        TextCNN(TextCNNConfig(vocab_size=30), embedding=torch.zeros(shape))


def test_config_must_be_a_text_cnn_config():
    with pytest.raises(InputError, match="TextCNNConfig"): TextCNN({"vocab_size": 30})


def test_checkpoint_rebuilds_the_same_model():
    cnn = make(widths=(1, 3), channels=6)
    state, cfg = cnn.state_dict(), cnn.config.to_dict()
    again = TextCNN(TextCNNConfig(**cfg)).eval()
    again.load_state_dict(state)
    ids = torch.randint(2, 30, (4, 9))
    torch.testing.assert_close(again(ids), cnn(ids))


# ---------------------------------------------------------------- determinism

def test_same_seed_same_model_and_output():
    ids = torch.randint(2, 30, (4, 9))
    torch.testing.assert_close(make(seed=3)(ids), make(seed=3)(ids))
    assert not torch.allclose(make(seed=3)(ids), make(seed=4)(ids))


def test_training_is_deterministic_with_a_seed():
    ids, y = torch.randint(2, 30, (64, 7)), torch.randint(0, 3, (64, 5))
    def run(seed):
        set_seed(0)
        model = CaptionAttributeModel(TextCNN(TextCNNConfig(vocab_size=30, channels=8)))   # dropout on: seeded too
        hist = train_attribute_model(model, ids, y, steps=15, batch_size=16, seed=seed, eval_data=(ids, y), eval_every=5,
                                     show_progress=False)
        return hist, model.state_dict()
    (h1, s1), (h2, s2), (h3, _) = run(1), run(1), run(2)
    assert h1 == h2 and h1 != h3
    for k in s1: torch.testing.assert_close(s1[k], s2[k])
    assert h1["eval_step"] == [0, 5, 10, 15] and len(h1["loss"]) == 15


# ---------------------------------------------------------------- the attribute task

def test_slot_classes_start_with_not_named():
    assert list(SLOT_CLASSES) == list(SLOT_NAMES) == ["color", "shape", "size", "material", "position"]
    for k, v in SLOT_CLASSES.items(): assert v[0] == "<none>" and len(set(v)) == len(v)
    assert SLOT_CLASSES["color"][1:] == tuple(COLORS)


def test_caption_targets_on_known_slots():
    scene = Scene([SceneObject("red", "sphere", "large", "metal", 0.2, 0.2)])        # top left
    rows = [caption_slots(scene, "zh")[1], caption_slots(scene, "en", omit=["color", "position"])[1],
            caption_slots(scene, "en", omit=["size", "material", "shape"])[1]]
    assert caption_targets(rows).tolist() == [[2, 2, 1, 2, 1], [0, 2, 1, 2, 0], [2, 0, 0, 0, 1]]
    assert caption_targets(rows[0]).tolist() == [[2, 2, 1, 2, 1]]                   # one dict is one row
    assert caption_targets([]).shape == (0, 5) and caption_targets([]).dtype == torch.long


def test_caption_targets_of_a_dataset_name_what_the_captions_say():
    ds = make_dataset(40, size=16, seed=5)
    y = caption_targets(ds.slots)
    for row, slots in zip(y.tolist(), ds.slots):
        named = {k: SLOT_CLASSES[k][c] for k, c in zip(SLOT_NAMES, row) if c}
        assert named == slots["objects"][0]


def test_caption_targets_errors():
    two = Scene([SceneObject("red", "sphere", "large", "metal", 0.2, 0.2), SceneObject("blue", "cube", "small", "rubber", 0.8, 0.8)])
    with pytest.raises(InputError, match="one-object"): caption_targets([caption_slots(two, "en")[1]])
    with pytest.raises(InputError, match="unknown"): caption_targets([{"objects": [{"color": "pink"}]}])
    with pytest.raises(InputError, match="unknown"): caption_targets([{"objects": [{"smell": "nice"}]}])
    with pytest.raises(InputError, match="slots dict"): caption_targets(["a red cube"])


def test_head_and_model_shapes():
    logits = AttributeHead(12)(torch.randn(3, 12))
    assert {k: tuple(v.shape) for k, v in logits.items()} == {k: (3, len(v)) for k, v in SLOT_CLASSES.items()}
    model = CaptionAttributeModel(make(out_dim=12))
    assert {k: v.shape[1] for k, v in model(torch.randint(2, 30, (2, 5))).items()} == {k: len(v) for k, v in SLOT_CLASSES.items()}


def test_loss_accuracy_and_predictions_on_known_logits():
    y = torch.tensor([[2, 2, 1, 2, 1], [0, 1, 0, 0, 3]])

    class Fixed(torch.nn.Module):
        def __init__(self, logits): super().__init__(); self.logits = logits
        def forward(self, ids): return {k: v[:len(ids)] for k, v in self.logits.items()}

    perfect = {k: torch.nn.functional.one_hot(y[:, j], len(SLOT_CLASSES[k])).float() * 30 for j, k in enumerate(SLOT_NAMES)}
    assert attribute_loss(perfect, y).item() < 1e-6
    acc = attribute_accuracy(Fixed(perfect), torch.zeros(2, 3, dtype=torch.long), y)
    assert acc == {**{k: 1.0 for k in SLOT_NAMES}, "mean": 1.0, "all": 1.0}
    assert predict_slots(Fixed(perfect), torch.zeros(2, 3, dtype=torch.long)) == [
        {"color": "red", "shape": "sphere", "size": "large", "material": "metal", "position": "top left"},
        {"shape": "cube", "position": "top right"}]
    wrong = {**perfect, "color": torch.nn.functional.one_hot(torch.tensor([1, 0]), 9).float() * 30}   # first row's colour wrong
    acc = attribute_accuracy(Fixed(wrong), torch.zeros(2, 3, dtype=torch.long), y)
    assert acc["color"] == 0.5 and acc["all"] == 0.5 and abs(acc["mean"] - 0.9) < 1e-6
    with pytest.raises(InputError): attribute_accuracy(Fixed(perfect), torch.zeros(3, 3, dtype=torch.long), y)


def test_train_attribute_model_rejects_bad_arguments():
    model = CaptionAttributeModel(make())
    ids, y = torch.randint(2, 30, (8, 4)), torch.zeros(8, 5, dtype=torch.long)
    with pytest.raises(InputError, match="same length"): train_attribute_model(model, ids, y[:4], show_progress=False)
    with pytest.raises(InputError, match="steps"): train_attribute_model(model, ids, y, steps=0, show_progress=False)
    with pytest.raises(InputError, match="batch_size"): train_attribute_model(model, ids, y, batch_size=0, show_progress=False)


def test_top_ngrams_errors():
    cnn = make(widths=(1, 2), channels=4)
    ids = torch.randint(2, 30, (5, 6))
    with pytest.raises(InputError, match="width"): top_ngrams(cnn, ids, width=3)
    with pytest.raises(InputError, match="filters"): top_ngrams(cnn, ids, width=2, filters=[4])
    res = top_ngrams(cnn, ids, width=2, filters=[0, 3], k=2)
    assert len(res) == 2 and all(len(r) == 2 and all(len(g) == 2 for g, _ in r) for r in res)
    assert all(r[0][1] >= r[1][1] for r in res)                      # best first


def test_a_short_training_run_beats_chance():
    "English captions, 150 steps: held-out accuracy clearly above guessing each slot's most common class."
    from t2i_course.text import Vocab
    train, val = make_dataset(600, size=16, lang="en", seed=0), make_dataset(300, size=16, split="val", lang="en", seed=0)
    vocab = Vocab.build(train.captions)
    X, Y = vocab.encode_batch(train.captions)[0], caption_targets(train.slots)
    Xv, Yv = vocab.encode_batch(val.captions)[0], caption_targets(val.slots)
    majority = torch.stack([Y[:, j].mode().values for j in range(5)])
    chance = (Yv == majority).float().mean(0)                        # (5,) per-slot accuracy of guessing
    set_seed(0)
    model = CaptionAttributeModel(TextCNN(TextCNNConfig(vocab_size=len(vocab), channels=32)))
    hist = train_attribute_model(model, X, Y, steps=150, seed=0, eval_data=(Xv, Yv), eval_every=50, show_progress=False)
    acc = hist["eval"][-1]
    assert hist["eval"][0]["mean"] < acc["mean"]
    assert hist["loss"][-1] < hist["loss"][0] / 3
    for j, k in enumerate(SLOT_NAMES): assert acc[k] > chance[j] + 0.2 or acc[k] > 0.95, (k, acc[k], chance[j].item())
    assert acc["all"] > 0.6
    assert not model.training                                         # left in eval mode


def test_import_pulls_in_neither_gensim_nor_jieba():
    code = "import sys, t2i_course.text_cnn; print(sorted(m for m in ('gensim', 'jieba', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
