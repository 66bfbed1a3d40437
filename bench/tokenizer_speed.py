"""Tokenizer throughput (captions/s) on generated captions, 中文 and English.

    python bench/tokenizer_speed.py [--n 50000]

Prints a small table; not a test. The first 中文 pass includes building jieba's segmenter;
later passes reuse the per-run cache of `tokenize`.
"""
import argparse
import time

from t2i_course.data import caption, sample_scenes
from t2i_course.text import segmenter, tokenize


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50000)
    a = ap.parse_args()
    scenes = sample_scenes(a.n // 2, seed=0) + sample_scenes(a.n - a.n // 2, n_objects=2, seed=1)
    t = time.perf_counter(); segmenter(); t_seg = time.perf_counter() - t
    print(f"segmenter start-up: {t_seg:.2f} s")
    for lang in ("zh", "en"):
        caps = [caption(s, lang, seed=i) for i, s in enumerate(scenes)]
        for label in ("first pass", "second pass"):
            t = time.perf_counter()
            for c in caps: tokenize(c)
            dt = time.perf_counter() - t
            print(f"{lang}  {label:11s}  {len(caps):6d} captions  {len(caps) / dt:10,.0f} captions/s")


if __name__ == "__main__":
    main()
