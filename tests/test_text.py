"""Tokenizers and Vocab (t2i_course.text): domain words stay whole, odd input is handled, files round-trip.

Run against the installed package: `pytest tests/test_text.py -q`.
"""
import itertools
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from t2i_course.core import InputError
from t2i_course.data import COLORS, MATERIALS, POSITIONS, SHAPES, ZH, caption, sample_scenes
from t2i_course.text import PAD, UNK, STOCK_CONFLICTS, Vocab, domain_dictionary, segmenter, tokenize, tokenize_batch

WORDS = domain_dictionary()
WORDS_SET = set(WORDS)
SIZES_ZH = ["大", "小"]
RELS_ZH = ["左边", "右边", "上方", "下方"]


# ---------------------------------------------------------------- domain dictionary

def test_domain_dictionary_has_every_caption_word():
    for value in ZH.values(): assert value in WORDS_SET, value
    for w in ["一个", "的", "在", "有", "是", "位于", "图中", "画面", "画面里", "这是", "出现"]: assert w in WORDS_SET, w
    assert "大的" not in WORDS_SET and "小的" not in WORDS_SET  # phrases of two domain words are cut into them
    assert len(WORDS) == len(WORDS_SET)


def _phrases():
    "(text, expected tokens) for every size x colour x material x shape x position, in the caption sentence shapes."
    for size, c, m, sh, p in itertools.product(SIZES_ZH, COLORS, MATERIALS, SHAPES, POSITIONS):
        c, m, sh, p = ZH[c], ZH[m], ZH[sh], ZH[p]
        for pieces in (["一个", size, "的", c, m, sh, "在", p],             # 一个大的红色金属球体在左上方
                       ["在", p, "有", "一个", size, "的", c, m, sh],       # 在左上方有一个小的青色橡胶圆柱体
                       [p, "有", "一个", c, "的", "物体"],                   # 左下方有一个黄色的物体
                       ["图中", p, "是", "一个", size, c, m, sh],            # size without 的
                       ["画面里", "有", "一个", size, m, sh],
                       ["这是", "一个", c, "的", sh],
                       ["一个", size, c, sh, "位于", "画面", p],
                       [sh, "出现", "在", p]):
            yield "".join(pieces), pieces
    for c1, s1, c2, s2, rel in itertools.product(COLORS, SHAPES, COLORS, SHAPES, RELS_ZH):
        c1, s1, c2, s2 = ZH[c1], ZH[s1], ZH[c2], ZH[s2]
        yield "".join(p := ["一个", c1, "的", s1, "在", "一个", c2, s2, "的", rel]), p   # 一个红色的球体在一个蓝色立方体的左边
        yield "".join(p := ["一个", c2, s2, "的", rel, "有", "一个", c1, "的", s1]), p


def test_domain_words_whole_in_every_combination():
    bad = [(text, tokenize(text)) for text, pieces in _phrases() if tokenize(text) != pieces]
    assert not bad, f"{len(bad)} phrases mis-cut, e.g. {bad[:5]}"


def test_every_pair_and_triple_of_domain_words_cuts_back():
    for combo in itertools.product(WORDS, repeat=2):
        assert tokenize("".join(combo)) == list(combo), combo
    bad = [combo for combo in itertools.product(WORDS, repeat=3)
           if any(t not in WORDS_SET for t in tokenize("".join(combo)))]
    assert not bad, bad[:10]


def test_stock_conflicts_are_gone_from_the_segmenter():
    seg = segmenter()
    for w in STOCK_CONFLICTS: assert not seg.FREQ.get(w), w
    for w in WORDS: assert seg.FREQ[w] > 0, w
    assert tokenize("图中小球体") == ["图中", "小", "球体"]        # stock jieba: 图 / 中小 / 球体
    assert tokenize("一个大红圆柱体") == ["一个", "大", "红", "圆柱体"]  # stock jieba: 大红


def test_generated_captions_cut_into_domain_words():
    scenes = sample_scenes(1500, seed=11) + sample_scenes(500, n_objects=2, seed=12)
    for i, s in enumerate(scenes):
        for templates in ("train", "heldout"):
            text = caption(s, "zh", seed=i, templates=templates)
            toks = tokenize(text)
            assert "".join(toks) == text and all(t in WORDS_SET for t in toks), (text, toks)


# ---------------------------------------------------------------- tokenize

def test_english_and_mixed_text():
    assert tokenize("A large red metal sphere at the top left.") == ["a", "large", "red", "metal", "sphere", "at", "the", "top", "left"]
    assert tokenize("There is a small GRAY cube, on the right!") == ["there", "is", "a", "small", "gray", "cube", "on", "the", "right"]
    assert tokenize("一个red的球体") == ["一个", "red", "的", "球体"]
    assert tokenize("3个 Metal球体在右边") == ["3", "个", "metal", "球体", "在", "右边"]
    assert tokenize("ＲＥＤ　ｃｕｂｅ，一个球体。") == ["red", "cube", "一个", "球体"]  # NFKC: full-width letters and space
    assert tokenize_batch(["a cube", "一个球体", ""]) == [["a", "cube"], ["一个", "球体"], []]
    with pytest.raises(InputError, match="list of captions"): tokenize_batch("a cube")


@pytest.mark.parametrize("text", ["", " ", "\n\t  \u3000", "🔴🟦✨", "👩‍👩‍👧🇨🇳", "，。！？…", "🎈 ！"])
def test_empty_like_input_gives_no_tokens(text, capsys):
    assert tokenize(text) == []
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_long_input():
    zh = "一个大的红色金属球体在左上方" * 715                     # 10,010 characters, one CJK run
    toks = tokenize(zh[:10_000])
    assert len(toks) > 5000 and set(toks) <= WORDS_SET                  # the run ends in 一个大的: still whole words
    mixed = ("a red cube 🎈 一个蓝色的球体，" * 600)[:10_000]
    toks = tokenize(mixed)
    assert toks[:8] == ["a", "red", "cube", "一个", "蓝色", "的", "球体", "a"] and len(toks) > 3000


@pytest.mark.parametrize("bad", [None, 3, 1.5, b"\xe4\xb8\x80", ["一个球体"], {"text": "x"}])
def test_non_str_raises_input_error(bad):
    with pytest.raises(InputError, match="must be a str"): tokenize(bad)
    assert issubclass(InputError, ValueError)


def _run_python(code, env_extra, cwd):
    env = {**os.environ, "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8", **env_extra}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)


def test_cache_goes_to_cache_dir_and_first_use_is_silent(tmp_path):
    cache, tmp = tmp_path / "cache", tmp_path / "tmp"
    cache.mkdir(); tmp.mkdir()
    code = """
        import logging, sys
        import t2i_course.text as text
        assert "jieba" not in sys.modules and "torch" not in sys.modules, "import must stay light"
        print(text.tokenize("一个大的红色金属球体在左上方"))
        import jieba, jieba.finalseg
        assert not jieba.dt.initialized, "the global jieba.dt was touched"
        assert not jieba.finalseg.Force_Split_Words, "jieba's global force-split set was changed"
        assert logging.getLogger("jieba").level == logging.DEBUG, "jieba's log level was not restored"
    """
    env = {"T2I_COURSE_CACHE": str(cache), "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}
    for run in ("first", "second (from the cache)"):
        r = _run_python(code, env, tmp_path)
        assert r.returncode == 0, (run, r.stderr)
        assert r.stderr == "", (run, r.stderr)
        assert r.stdout.strip() == "['一个', '大', '的', '红色', '金属', '球体', '在', '左上方']", run
        f = cache / "jieba" / "jieba.cache"
        assert f.is_file() and f.stat().st_size > 1_000_000, run
        assert not list(tmp.rglob("jieba*")), "jieba wrote into the temp dir"


# ---------------------------------------------------------------- Vocab

CAPS = ["一个红色的球体", "一个蓝色的球体", "a red cube", "a red sphere", "一个红色的立方体"]


@pytest.fixture(scope="module")
def vocab():
    return Vocab.build(CAPS)


def test_build_order_and_specials(vocab):
    assert vocab.itos[:2] == [PAD, UNK] and vocab.pad_id == 0 and vocab.unk_id == 1
    # 一个 x3, 的 x3, 红色 x2, 球体 x2, a x2, red x2, then the ones seen once; ties by token
    assert vocab.itos[2:] == ["一个", "的", "a", "red", "球体", "红色", "cube", "sphere", "立方体", "蓝色"]
    assert vocab.counts[:4] == [0, 0, 3, 3] and len(vocab) == 12
    assert "球体" in vocab and "粉色" not in vocab
    assert Vocab.build([tokenize(c) for c in CAPS]) == vocab                   # token lists work the same
    assert Vocab.build(CAPS, min_freq=2).itos == [PAD, UNK, "一个", "的", "a", "red", "球体", "红色"]
    assert Vocab.build(CAPS, max_size=5).itos == [PAD, UNK, "一个", "的", "a"]
    assert Vocab.build([]).itos == [PAD, UNK]


@pytest.mark.parametrize("kw, msg", [({"min_freq": 0}, "min_freq"), ({"max_size": 1}, "max_size"), ({"max_size": 2.5}, "max_size")])
def test_build_rejects_bad_arguments(kw, msg):
    with pytest.raises(InputError, match=msg): Vocab.build(CAPS, **kw)
    with pytest.raises(InputError, match="not one str"): Vocab.build("一个红色的球体")


def test_encode_decode_unknown(vocab):
    ids = vocab.encode("一个红色的球体")
    assert ids == [2, 7, 3, 6] and vocab.encode(["一个", "红色", "的", "球体"]) == ids
    assert vocab.decode(ids) == ["一个", "红色", "的", "球体"]
    assert vocab.decode(torch.tensor([2, 6, 0, 0])) == ["一个", "球体"]           # pads are skipped
    import numpy as np
    assert vocab.decode(np.array([2, 6])) == vocab.decode([np.int64(2), np.int32(6)]) == ["一个", "球体"]
    assert vocab.encode("一个粉色的圆柱体") == [2, 1, 3, 1]                      # every unseen word -> the one <unk> id
    assert vocab.unknown("一个粉色的圆柱体，a pink 圆柱体") == ["粉色", "圆柱体", "pink"]
    assert vocab.unknown("a red cube") == []
    with pytest.raises(InputError, match="ids must be integers"): vocab.decode([2, 99])
    with pytest.raises(InputError, match="ids must be integers"): vocab.decode([-1])
    with pytest.raises(InputError, match="expected a caption"): vocab.encode(42)


def test_encode_batch_shapes_padding_truncation(vocab):
    ids, lengths = vocab.encode_batch(["一个红色的球体", "a red cube", "", "🎈"])
    assert ids.shape == (4, 4) and lengths.shape == (4,)                       # (B, T), (B,)
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    assert lengths.tolist() == [4, 3, 1, 1]
    assert ids.tolist() == [[2, 7, 3, 6], [4, 5, 8, 0], [1, 0, 0, 0], [1, 0, 0, 0]]  # an empty caption is one <unk>
    ids, lengths = vocab.encode_batch(["一个红色的球体", "a red cube"], max_len=2)
    assert ids.tolist() == [[2, 7], [4, 5]] and lengths.tolist() == [2, 2]
    ids, lengths = vocab.encode_batch(["a"], min_len=5)
    assert ids.tolist() == [[4, 0, 0, 0, 0]] and lengths.tolist() == [1]
    ids, lengths = vocab.encode_batch([])
    assert ids.shape[0] == 0 and lengths.shape == (0,)
    with pytest.raises(InputError, match="list of captions"): vocab.encode_batch("一个红色的球体")
    with pytest.raises(InputError, match="max_len"): vocab.encode_batch(CAPS, max_len=0)


def test_save_load_round_trip(vocab, tmp_path):
    path = vocab.save(tmp_path / "sub" / "vocab.json")
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert obj["format"] == "t2i-course.vocab" and obj["version"] == 1 and obj["tokens"] == vocab.itos
    back = Vocab.load(path)
    assert back == vocab and back.counts == vocab.counts and back.encode("一个蓝色的球体") == vocab.encode("一个蓝色的球体")
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]           # no temporary files left behind


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name, content, msg", [
    ("missing.json", None, "not found"),
    ("truncated.json", "CUT", "not valid JSON"),
    ("list.json", "[1, 2]", "expected a JSON object"),
    ("no_tokens.json", '{"format": "t2i-course.vocab", "version": 1}', "missing key 'tokens'"),
    ("no_format.json", '{"tokens": ["<pad>", "<unk>"]}', "missing key 'format'"),
    ("other_format.json", '{"format": "something-else", "version": 1, "tokens": []}', "format is 'something-else'"),
    ("newer.json", '{"format": "t2i-course.vocab", "version": 99, "tokens": ["<pad>", "<unk>"]}', "version 99"),
    ("no_specials.json", '{"format": "t2i-course.vocab", "version": 1, "tokens": ["a", "b"]}', "must start with"),
    ("bad_counts.json", '{"format": "t2i-course.vocab", "version": 1, "tokens": ["<pad>", "<unk>"], "counts": [0]}', "counts"),
])
def test_load_errors_name_the_file(vocab, tmp_path, name, content, msg):
    path = tmp_path / name
    if content == "CUT": _write(path, vocab.save(tmp_path / "good.json").read_text(encoding="utf-8")[:40])
    elif content is not None: _write(path, content)
    with pytest.raises(InputError) as e: Vocab.load(path)
    assert name in str(e.value) and msg in str(e.value), str(e.value)
