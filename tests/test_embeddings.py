"""Word embeddings (t2i_course.embeddings): skip-gram maths, count-based vectors (PPMI-SVD, GloVe), determinism, word2vec files, nn.Embedding init, bad input.

Run against the installed package: `pytest tests/test_embeddings.py -q`.
"""
import hashlib
import math
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

from t2i_course.core import InputError
from t2i_course.embeddings import (Cooccurrence, EmbeddingReport, MissingVectorsWarning, SkipGramNS, WordVectors, check_corpus,
                                   cooccurrence, embedding_matrix, glove_vectors, load_vectors, neighbour_overlap,
                                   noise_distribution, ppmi, ppmi_svd_vectors, save_vectors, skipgram_pairs, train_skipgram,
                                   train_word2vec)
from t2i_course.text import Vocab

COLOURS, SHAPES, PLACES = ["red", "blue", "green"], ["cube", "ball"], ["here", "there"]
TOY = [f"the {c} {s} is {p}".split() for c in COLOURS for s in SHAPES for p in PLACES] * 20
# pre-tokenised bilingual captions (no jieba needed here)
BILINGUAL = [["一个", c, "的", s, "在", p] for c in ["红色", "蓝色", "绿色"] for s in ["球体", "立方体"] for p in ["左边", "右边"]] * 10 + TOY


@pytest.fixture(scope="module")
def toy_vocab():
    return Vocab.build(TOY)


@pytest.fixture(scope="module")
def w2v():
    return train_word2vec(BILINGUAL, dim=16, seed=0, epochs=5)


# ---------------------------------------------------------------- imports

def test_import_does_not_import_gensim_or_dev_tools():
    code = textwrap.dedent("""
        import sys
        import t2i_course.embeddings
        heavy = [m for m in ("gensim", "nbdev", "fastcore", "execnb", "jieba") if m in sys.modules]
        print(heavy)
        sys.exit(1 if heavy else 0)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- corpus

@pytest.mark.parametrize("corpus, message", [
    ([], "the corpus is empty"),
    ([[], [], []], "the corpus is empty: 3 captions, 0 tokens"),
    ("a red cube", "not one str"),
    (["a red cube"], "tokenize it first"),
    ([["red cube"]], "not words"),
    ([["red", ""]], "not words"),
    ([["red", 3]], "not words"),
])
def test_check_corpus_errors(corpus, message):
    with pytest.raises(InputError, match=message): check_corpus(corpus)


def test_every_trainer_rejects_an_empty_corpus(toy_vocab):
    for empty in ([], [[]], [[], []]):
        with pytest.raises(InputError, match="the corpus is empty"): train_word2vec(empty)
        with pytest.raises(InputError, match="the corpus is empty"): train_skipgram(empty, toy_vocab, show_progress=False)
        with pytest.raises(InputError, match="the corpus is empty"): skipgram_pairs(empty, toy_vocab)


# ---------------------------------------------------------------- WordVectors

def test_word_vectors_lookup_and_neighbours():
    wv = WordVectors(["red", "blue", "cube"], [[1.0, 0.1], [0.9, 0.2], [0.0, 1.0]])
    assert len(wv) == 3 and wv.dim == 2 and "red" in wv and "pink" not in wv
    assert wv["blue"].dtype == np.float32 and wv["blue"].shape == (2,)
    assert [w for w, _ in wv.most_similar("red", 2)] == ["blue", "cube"]
    assert [w for w, _ in wv.most_similar("red", 2, among=["cube", "blue"])] == ["blue", "cube"]
    assert wv.most_similar("red", 10) == wv.most_similar("red", 2)              # fewer candidates than k
    assert abs(wv.similarity("red", "red") - 1) < 1e-6
    with pytest.raises(KeyError, match="pink"): wv["pink"]
    with pytest.raises(InputError, match="'pink' is not in these vectors"): wv.most_similar("pink")
    with pytest.raises(InputError, match="k must be a positive integer"): wv.most_similar("red", 0)


def test_word_vectors_copies_its_input():
    m = np.ones((2, 3), np.float64)
    m.setflags(write=False)                                               # like a read-only mmap
    wv = WordVectors(["a", "b"], m)
    wv.matrix[0, 0] = 5.0                                                 # writable copy, float32
    assert m[0, 0] == 1.0 and wv.matrix.dtype == np.float32


@pytest.mark.parametrize("words, matrix, message", [
    (["a", "b"], np.zeros((3, 4)), r"matrix must be \(len\(words\), E\)"),
    ([], np.zeros((0, 4)), "at least one word"),
    (["a"], np.zeros((1, 0)), "E >= 1"),
    (["a", "a"], np.zeros((2, 4)), "repeated words"),
    (["a b"], np.zeros((1, 4)), "without whitespace"),
    (["a"], [[np.nan, 0.0]], "NaN"),
    (["a"], [[np.inf, 0.0]], "NaN or infinite"),
])
def test_word_vectors_errors(words, matrix, message):
    with pytest.raises(InputError, match=message): WordVectors(words, matrix)


def test_keyed_vectors_round_trip(w2v):
    kv = w2v.to_keyed_vectors()
    back = WordVectors.from_keyed_vectors(kv)
    assert back.words == w2v.words and np.array_equal(back.matrix, w2v.matrix)
    assert np.allclose(kv.most_similar("red", topn=3)[0][1], w2v.most_similar("red", 1)[0][1], atol=1e-5)   # same cosine as gensim's


def test_saving_logs_no_gensim_warning(tmp_path, w2v, caplog):
    with caplog.at_level("WARNING", logger="gensim"): save_vectors(w2v, tmp_path / "v.vec")
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text


# ---------------------------------------------------------------- skip-gram pairs and loss

def test_skipgram_pairs(toy_vocab):
    c, o = skipgram_pairs([["the", "red", "cube", "is", "here"]], toy_vocab, window=2)
    assert c.dtype == torch.long and c.shape == o.shape == (14,)          # 2 * (4 + 3)
    pairs = {(toy_vocab.itos[i], toy_vocab.itos[j]) for i, j in zip(c.tolist(), o.tolist())}
    assert ("red", "the") in pairs and ("the", "cube") in pairs and ("the", "is") not in pairs
    c, _ = skipgram_pairs([["red"], ["blue", "cube"]], toy_vocab, window=5)
    assert len(c) == 2                                                     # never across captions
    c, _ = skipgram_pairs([["red", "pink", "cube"]], toy_vocab, window=1)  # unknown words dropped first
    assert len(c) == 2
    with pytest.raises(InputError, match="no \\(centre, context\\) pairs"): skipgram_pairs([["red"], ["cube"]], toy_vocab)
    with pytest.raises(InputError, match="none of the corpus words is in the vocab"): skipgram_pairs([["pink", "torus"]], toy_vocab)
    with pytest.raises(InputError, match="window must be a positive integer"): skipgram_pairs(TOY, toy_vocab, window=0)
    with pytest.raises(InputError, match="vocab must be a t2i_course.text.Vocab"): skipgram_pairs(TOY, ["the", "red"])


def _log_sigmoid(x): return -math.log1p(math.exp(-x))


def test_skipgram_loss_equals_hand_computation():
    sg = SkipGramNS(vocab_size=4, dim=2)
    with torch.no_grad():
        sg.in_embed.weight.copy_(torch.tensor([[0., 0.], [1., 2.], [0., 0.], [0., 0.]]))
        sg.out_embed.weight.copy_(torch.tensor([[0., 0.], [0., 0.], [.5, -1.], [2., 1.]]))
    loss = sg(torch.tensor([1, 1]), torch.tensor([2, 3]), torch.tensor([[3, 3], [2, 0]]))
    # pair 1: u_2.v_1 = -1.5, negatives u_3.v_1 = 4 twice; pair 2: u_3.v_1 = 4, negatives u_2.v_1 = -1.5 and u_0.v_1 = 0
    hand = [-_log_sigmoid(-1.5) - 2 * _log_sigmoid(-4.0), -_log_sigmoid(4.0) - _log_sigmoid(1.5) - _log_sigmoid(0.0)]
    assert loss.shape == (2,)
    assert torch.allclose(loss, torch.tensor(hand), atol=1e-6)


def test_skipgram_loss_matches_sigmoid_form_on_random_vectors():
    g = torch.Generator().manual_seed(0)
    sg = SkipGramNS(vocab_size=20, dim=8, generator=g)
    with torch.no_grad(): sg.out_embed.weight.normal_(generator=g)
    c, o, n = torch.randint(0, 20, (16,), generator=g), torch.randint(0, 20, (16,), generator=g), torch.randint(0, 20, (16, 5), generator=g)
    v, u_o, u_n = sg.in_embed.weight[c].double(), sg.out_embed.weight[o].double(), sg.out_embed.weight[n].double()
    ref = -torch.log(torch.sigmoid((u_o * v).sum(1))) - torch.log(torch.sigmoid(-(u_n @ v[:, :, None]).squeeze(2))).sum(1)
    assert torch.allclose(sg(c, o, n).double(), ref, atol=1e-5)


def test_skipgram_gradients_flow_and_shape_errors():
    sg = SkipGramNS(vocab_size=10, dim=4)
    sg(torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5, 6], [7, 8]])).mean().backward()
    assert sg.in_embed.weight.grad is not None and sg.out_embed.weight.grad.abs().sum() > 0
    with pytest.raises(InputError, match=r"expected ids \(B,\), \(B,\), \(B, K\)"):
        sg(torch.tensor([1, 2]), torch.tensor([3]), torch.tensor([[5], [6]]))
    with pytest.raises(InputError, match="vocab_size >= 2"): SkipGramNS(1, 4)


def test_noise_distribution():
    p = noise_distribution([0, 0, 1000, 10])
    assert abs(p.sum().item() - 1) < 1e-6 and p[0] == 0 and p[1] == 0
    assert p[3] > 10 / 1010                                               # rare words drawn more often than their frequency
    assert torch.allclose(noise_distribution([1, 4], power=1.0), torch.tensor([0.2, 0.8]))
    for bad in ([0, 0], [-1, 2], [[1, 2]]):
        with pytest.raises(InputError): noise_distribution(bad)


# ---------------------------------------------------------------- training

def test_train_skipgram_learns_the_toy_families_deterministically(toy_vocab):
    losses = []
    kw = dict(dim=8, epochs=30, batch_size=128, show_progress=False)
    a = train_skipgram(TOY, toy_vocab, seed=0, losses=losses, **kw)
    b = train_skipgram(TOY, toy_vocab, seed=0, **kw)
    assert a.words == b.words and np.array_equal(a.matrix, b.matrix)      # bit-identical
    one_epoch = {**kw, "epochs": 1}
    assert not np.array_equal(train_skipgram(TOY, toy_vocab, seed=0, **one_epoch).matrix, train_skipgram(TOY, toy_vocab, seed=1, **one_epoch).matrix)
    assert len(losses) == 30 and losses[-1] < losses[0]
    assert set(a.words) == set(toy_vocab.itos[2:]) and a.dim == 8       # no <pad>/<unk>
    for fam in (COLOURS, SHAPES, PLACES):
        for w in fam: assert {n for n, _ in a.most_similar(w, len(fam) - 1)} == set(fam) - {w}


def test_train_skipgram_leaves_torch_state_alone(toy_vocab):
    threads, state = torch.get_num_threads(), torch.random.get_rng_state()
    train_skipgram(TOY[:24], toy_vocab, dim=4, epochs=1, show_progress=False)
    assert torch.get_num_threads() == threads and torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("kw, message", [
    (dict(dim=0), "dim must be a positive integer"),
    (dict(epochs=1.5), "epochs must be a positive integer"),
    (dict(negatives=-1), "negatives must be a positive integer"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(lr=0.0), "lr must be positive"),
    (dict(window=0), "window must be a positive integer"),
])
def test_train_skipgram_bad_arguments(toy_vocab, kw, message):
    with pytest.raises(InputError, match=message): train_skipgram(TOY, toy_vocab, show_progress=False, **kw)


def test_train_word2vec_is_deterministic(w2v):
    again = train_word2vec(BILINGUAL, dim=16, seed=0, epochs=5)
    assert again.words == w2v.words and np.array_equal(again.matrix, w2v.matrix)
    other = train_word2vec(BILINGUAL, dim=16, seed=1, epochs=5)
    assert not np.array_equal(other.matrix, w2v.matrix)
    assert w2v.dim == 16 and set(w2v.words) == {t for toks in BILINGUAL for t in toks}


def _digest(vectors):
    return hashlib.sha256("\n".join(vectors.words).encode() + vectors.matrix.tobytes()).hexdigest()


def test_train_word2vec_is_deterministic_across_processes_and_hash_seeds(w2v):
    code = textwrap.dedent(f"""
        import hashlib
        from t2i_course.embeddings import train_word2vec
        v = train_word2vec({BILINGUAL!r}, dim=16, seed=0, epochs=5)
        print(hashlib.sha256("\\n".join(v.words).encode() + v.matrix.tobytes()).hexdigest())
    """)
    hash_seed = "1" if os.environ.get("PYTHONHASHSEED") == "12345" else "12345"   # not this process's (random unless set)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONHASHSEED": hash_seed})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == _digest(w2v), f"PYTHONHASHSEED={hash_seed} gave other vectors"


def test_train_word2vec_bad_arguments():
    with pytest.raises(InputError, match="no word occurs min_count=999 times"): train_word2vec(TOY, min_count=999)
    with pytest.raises(InputError, match="dim must be a positive integer"): train_word2vec(TOY, dim=0)
    with pytest.raises(InputError, match="tokenize it first"): train_word2vec(["a red cube"])


def test_both_trainers_find_the_same_families():
    vocab = Vocab.build(BILINGUAL)
    ours = train_skipgram(BILINGUAL, vocab, dim=16, epochs=15, batch_size=128, show_progress=False)
    theirs = train_word2vec(BILINGUAL, dim=16, seed=0, epochs=100)   # a tiny corpus needs many epochs
    colours_zh = ["红色", "蓝色", "绿色"]
    assert neighbour_overlap(ours, theirs, colours_zh, k=2) == 1.0
    assert neighbour_overlap(ours, theirs, COLOURS, k=2) == 1.0


# ---------------------------------------------------------------- neighbour overlap

def test_neighbour_overlap(w2v):
    assert neighbour_overlap(w2v, w2v, ["red", "球体"], k=3) == 1.0
    a = WordVectors(["x", "y", "z", "w"], [[1, 0], [0.9, 0.1], [0, 1], [-1, 0]])
    b = WordVectors(["x", "y", "z", "w"], [[1, 0], [0, 1], [0.9, 0.1], [-1, 0]])
    assert neighbour_overlap(a, b, ["x"], k=1) == 0.0                    # a says y, b says z
    assert neighbour_overlap(a, b, ["x"], k=2) == 1.0                    # the same two, in another order
    c = WordVectors(["x", "y", "q"], [[1, 0], [0.9, 0.1], [0, 1]])      # only x, y shared with a
    assert neighbour_overlap(a, c, ["x"], k=1) == 1.0                    # neighbours come from the shared words
    with pytest.raises(InputError, match="missing from one of the vectors"): neighbour_overlap(a, c, ["z"], k=1)
    with pytest.raises(InputError, match="k must be an integer in 1..1"): neighbour_overlap(a, c, ["x"], k=2)
    with pytest.raises(InputError, match="no words to compare"): neighbour_overlap(a, b, [], k=1)
    with pytest.raises(InputError, match="not one str"): neighbour_overlap(a, b, "x", k=1)


# ---------------------------------------------------------------- count-based vectors

def test_cooccurrence_counts_the_skipgram_pairs(toy_vocab):
    cooc = cooccurrence(TOY, window=2)
    assert isinstance(cooc, Cooccurrence) and cooc.window == 2 and set(cooc.words) == set(toy_vocab.itos[2:])
    assert cooc.counts.sum() == len(skipgram_pairs(TOY, toy_vocab, window=2)[0])
    assert np.array_equal(cooc.counts, cooc.counts.T)
    i = {w: k for k, w in enumerate(cooc.words)}
    assert cooc.counts[i["red"], i["the"]] == 4 * 20           # "the red": 2 shapes x 2 places, 20 copies
    assert cooc.counts[i["red"], i["here"]] == 0               # 3 positions apart: outside the window
    assert cooc.counts[i["red"], i["blue"]] == 0               # never in one caption
    with pytest.raises(InputError, match="the corpus is empty"): cooccurrence([[]])
    with pytest.raises(InputError, match="window must be a positive integer"): cooccurrence(TOY, window=0)
    with pytest.raises(InputError, match="no .centre, context. pairs"): cooccurrence([["red"], ["cube"]])


def test_ppmi_is_non_negative_zero_where_never_seen_and_matches_the_formula():
    x = cooccurrence(TOY, window=2).counts
    m = ppmi(x)
    assert m.shape == x.shape and (m >= 0).all() and (m[x == 0] == 0).all()
    n, ctx = x.sum(), x.sum(0) ** 0.75
    i, j = np.argwhere(x > 0)[0]
    pmi = math.log((x[i, j] / n) / (x[i].sum() / n * ctx[j] / ctx.sum()))
    assert m[i, j] == pytest.approx(max(pmi, 0.0), rel=1e-12)
    plain = ppmi(x, alpha=1.0)                                  # no smoothing: the textbook PMI
    assert plain[i, j] == pytest.approx(max(math.log(x[i, j] * n / (x[i].sum() * x[:, j].sum())), 0.0), rel=1e-12)
    shifted = ppmi(x, shift=5.0)
    assert (shifted <= m).all() and np.allclose(shifted, np.maximum(m - math.log(5.0), 0.0) * (m > 0))
    with pytest.raises(InputError, match="square table"): ppmi(np.ones((2, 3)))
    with pytest.raises(InputError, match="square table"): ppmi(-np.ones((2, 2)))
    with pytest.raises(InputError, match="alpha and shift must be positive"): ppmi(x, shift=0)


def _nearest_are_the_families(vectors):
    return all({n for n, _ in vectors.most_similar(w, len(fam) - 1)} == set(fam) - {w}
               for fam in (COLOURS, SHAPES, PLACES) for w in fam)


def test_ppmi_svd_finds_the_families_of_a_toy_corpus():
    vectors = ppmi_svd_vectors(cooccurrence(TOY, window=2), dim=4)
    assert isinstance(vectors, WordVectors) and vectors.dim == 4
    assert _nearest_are_the_families(vectors)
    again = ppmi_svd_vectors(cooccurrence(TOY, window=2), dim=4)
    assert np.array_equal(again.matrix, vectors.matrix)
    with pytest.raises(InputError, match="the SVD has only that many directions"): ppmi_svd_vectors(cooccurrence(TOY), dim=99)
    with pytest.raises(InputError, match="takes a Cooccurrence"): ppmi_svd_vectors(TOY)


# Families told apart by how often they meet two context words (not only by which pairs never occur: GloVe skips zero cells).
PAINT_FORM = ([[c, "paint"] for c in COLOURS] * 60 + [[c, "form"] for c in COLOURS] * 6
              + [[s, "form"] for s in ["cube", "ball", "cone"]] * 60 + [[s, "paint"] for s in ["cube", "ball", "cone"]] * 6)


def test_glove_loss_decreases_finds_the_families_and_is_deterministic():
    cooc = cooccurrence(PAINT_FORM, window=1)
    losses = []
    vectors = glove_vectors(cooc, dim=8, epochs=300, seed=0, show_progress=False, losses=losses)
    assert len(losses) == 300 and losses[-1] < 1e-3 * losses[0]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(losses[50:], losses[51:]))   # past the first steps, J only goes down
    objects = COLOURS + ["cube", "ball", "cone"]
    for fam in (COLOURS, ["cube", "ball", "cone"]):
        for w in fam: assert {n for n, _ in vectors.most_similar(w, 2, among=objects)} == set(fam) - {w}
    assert np.array_equal(glove_vectors(cooc, dim=8, epochs=300, seed=0, show_progress=False).matrix, vectors.matrix)
    assert not np.array_equal(glove_vectors(cooc, dim=8, epochs=300, seed=1, show_progress=False).matrix, vectors.matrix)
    w_only = glove_vectors(cooc, dim=8, epochs=300, seed=0, show_progress=False, add_context=False)
    assert w_only.words == vectors.words and not np.array_equal(w_only.matrix, vectors.matrix)


def test_glove_leaves_global_state_alone_and_rejects_bad_arguments():
    cooc = cooccurrence(TOY, window=2)
    threads, state = torch.get_num_threads(), torch.random.get_rng_state()
    glove_vectors(cooc, dim=4, epochs=2, show_progress=False)
    assert torch.get_num_threads() == threads and torch.equal(torch.random.get_rng_state(), state)
    for kw, message in [(dict(dim=0), "dim must be a positive integer"), (dict(epochs=0), "epochs must be a positive integer"),
                        (dict(seed=-1), "seed must be a non-negative integer"), (dict(lr=0.0), "lr and x_max must be positive")]:
        with pytest.raises(InputError, match=message): glove_vectors(cooc, show_progress=False, **kw)
    with pytest.raises(InputError, match="takes a Cooccurrence"): glove_vectors(cooc.counts)


# ---------------------------------------------------------------- files

@pytest.mark.parametrize("name", ["vectors.vec", "vectors.txt", "vectors.bin"])
def test_save_load_round_trip_is_exact(tmp_path, w2v, name):
    path = save_vectors(w2v, tmp_path / "sub" / name)
    back = load_vectors(path)
    assert back.words == w2v.words and np.array_equal(back.matrix, w2v.matrix)
    assert sorted(p.name for p in path.parent.iterdir()) == [name]       # no temporary file left behind
    head = path.read_bytes()[:20]
    assert head.startswith(f"{len(w2v)} {w2v.dim}\n".encode())            # the word2vec header, not a pickle
    if name != "vectors.bin": path.read_text(encoding="utf-8")             # text format is plain UTF-8


def test_binary_flag_overrides_the_suffix(tmp_path, w2v):
    path = save_vectors(w2v, tmp_path / "v.txt", binary=True)
    with pytest.raises(InputError): load_vectors(path)                     # read as text: not valid
    assert np.array_equal(load_vectors(path, binary=True).matrix, w2v.matrix)


def test_load_checks_the_dimension(tmp_path, w2v):
    path = save_vectors(w2v, tmp_path / "v.vec")
    assert load_vectors(path, dim=16).dim == 16
    with pytest.raises(InputError, match="v.vec has 16-dimensional vectors, expected dim=64"): load_vectors(path, dim=64)


def test_load_errors_name_the_file(tmp_path, w2v):
    text = save_vectors(w2v, tmp_path / "good.vec").read_text(encoding="utf-8")
    binary = save_vectors(w2v, tmp_path / "good.bin").read_bytes()
    lines = text.splitlines(True)
    cases = {
        "cut.vec": (text[: len(text) // 2], "cut.vec does not end with a newline"),
        "short.vec": ("".join(lines[:5]), "short.vec is not valid word2vec text format"),
        "ragged.vec": ("".join(lines[:3]) + lines[3].rsplit(" ", 3)[0] + "\n" + "".join(lines[4:]), "ragged.vec is not valid word2vec text format"),
        "header.vec": ("not a header\n" + "".join(lines[1:]), "header.vec is not valid word2vec text format"),
        "empty.vec": ("", "empty.vec is empty"),
        "nan.vec": ("1 2\nword nan 0.5\n", "nan.vec: the matrix has 1 NaN"),
        "twice.vec": ("2 2\nw 1 2\nw 3 4\n", "twice.vec holds 1 distinct words but its header says 2"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        with pytest.raises(InputError, match=message.replace(".", r"\.")): load_vectors(tmp_path / name)
    (tmp_path / "cut.bin").write_bytes(binary[: len(binary) // 2])
    with pytest.raises(InputError, match=r"cut\.bin is not valid word2vec binary format"): load_vectors(tmp_path / "cut.bin")
    (tmp_path / "latin1.vec").write_bytes("1 2\nrouge\xe9 1 2\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.vec"): load_vectors(tmp_path / "latin1.vec")
    with pytest.raises(InputError, match="vectors file not found"): load_vectors(tmp_path / "missing.vec")
    with pytest.raises(InputError, match="takes a WordVectors"): save_vectors({"a": [1, 2]}, tmp_path / "x.vec")


# ---------------------------------------------------------------- embedding matrix

def test_embedding_matrix_rows(w2v):
    vocab = Vocab.build(BILINGUAL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                    # nothing missing: no warning
        m, report = embedding_matrix(vocab, w2v)
    assert m.shape == (len(vocab), 16) and m.dtype == torch.float32
    assert isinstance(report, EmbeddingReport) and report.found == len(vocab) - 2 and report.n_missing == 0
    assert torch.count_nonzero(m[vocab.pad_id]) == 0
    for w in ("red", "球体", "the"): assert np.array_equal(m[vocab.stoi[w]].numpy(), w2v[w])
    words = torch.stack([m[vocab.stoi[w]] for w in vocab.itos[2:]])
    assert torch.allclose(m[vocab.unk_id], words.mean(0), atol=1e-6)
    emb = torch.nn.Embedding.from_pretrained(m, freeze=False, padding_idx=vocab.pad_id)
    assert emb(torch.tensor([vocab.stoi["red"]])).shape == (1, 16)


def test_embedding_matrix_missing_words_are_random_counted_and_warned(w2v):
    vocab = Vocab.build(BILINGUAL + [["粉色", "pink", "torus", "red"]])
    with pytest.warns(MissingVectorsWarning, match=r"3 of \d+ vocab words have no vector.*粉色|pink|torus") as rec:
        m, report = embedding_matrix(vocab, w2v, seed=0)
    assert len(rec) == 1
    assert sorted(report.missing) == sorted(["粉色", "pink", "torus"]) and report.n_missing == 3
    assert "3 random" in str(report) and "pink" in str(report)
    rows = m[[vocab.stoi[w] for w in report.missing]]
    assert torch.all(rows.abs().sum(1) > 0)                               # random, not zero
    assert 0.2 < rows.std().item() / torch.from_numpy(w2v.matrix).std().item() < 5   # on the scale of the real vectors
    with pytest.warns(MissingVectorsWarning):
        m2, _ = embedding_matrix(vocab, w2v, seed=0)
        m3, _ = embedding_matrix(vocab, w2v, seed=1)
    assert torch.equal(m, m2) and not torch.equal(m, m3)                  # the seed decides the random rows


def test_embedding_matrix_warning_lists_only_a_few(w2v):
    extra = [f"word{i}" for i in range(40)]
    with pytest.warns(MissingVectorsWarning) as rec:
        _, report = embedding_matrix(Vocab.build(BILINGUAL + [extra]), w2v)
    assert report.n_missing == 40 and str(rec[0].message).count("word") <= 6 and "..." in str(rec[0].message)


def test_embedding_matrix_errors(w2v):
    vocab = Vocab.build(BILINGUAL)
    with pytest.raises(InputError, match="16-dimensional but dim=64"): embedding_matrix(vocab, w2v, dim=64)
    assert embedding_matrix(vocab, w2v, dim=16)[0].shape[1] == 16
    with pytest.raises(InputError, match="none of the 2 vocab words has a vector"): embedding_matrix(Vocab.build([["粉色", "pink"]]), w2v)
    with pytest.raises(InputError, match="must be a WordVectors"): embedding_matrix(vocab, {"red": [1, 2]})


def test_embedding_matrix_initialises_text_cnn(w2v):
    text_cnn = pytest.importorskip("t2i_course.text_cnn")
    vocab = Vocab.build(BILINGUAL)
    m, _ = embedding_matrix(vocab, w2v, dim=16)
    cnn = text_cnn.TextCNN(text_cnn.TextCNNConfig(vocab_size=len(vocab), embed_dim=w2v.dim), embedding=m)
    assert torch.equal(cnn.embed.weight.detach(), m)
    ids, _ = vocab.encode_batch([["一个", "红色", "的", "球体"], ["the", "red", "cube"]])
    assert cnn(ids).shape[0] == 2
    with pytest.raises(InputError):                                       # 16-d vectors into a 64-d config
        text_cnn.TextCNN(text_cnn.TextCNNConfig(vocab_size=len(vocab), embed_dim=64), embedding=m)
