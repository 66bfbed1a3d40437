"""Chapter 13's figures for a speech recogniser folder: CER, exact-caption rate and slot survival per language on held-out voices
(clean and at 10 dB SNR), speech → image against typed → image (colour and shape by chapter 10's judge), and the latency of
transcribing a 3-second recording.

    python bench/speech.py runs/speech [--n 1000] [--run runs/cpu]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from t2i_course.judges import load_or_train_judge
from t2i_course.pipeline import TextToImage, shipped_run
from t2i_course.speech import SAMPLE_RATE, SpeechRecognizer, evaluate_speech, shipped_speech, speech_to_image, synthesize


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default=None, help="recogniser folder (default: the shipped one)")
    ap.add_argument("--n", type=int, default=1000, help="held-out utterances per condition (half 中文, half English)")
    ap.add_argument("--n-image", type=int, default=400, help="one-object captions for speech → image")
    ap.add_argument("--run", default=None, help="text-to-image run folder (default: the shipped cpu run)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    rec = SpeechRecognizer.load(a.model or shipped_speech())
    print(f"recogniser {a.model or 'shipped'}: {json.loads((rec.folder / 'speech.json').read_text())['trained']}")
    res = evaluate_speech(rec, n=a.n, quiet=True)
    print("\n| held-out speech | language | utterances | CER | exact caption | slots survive |\n|---|---|---|---|---|---|")
    for cond, by in res.items():
        for lang, r in by.items():
            print(f"| {cond} | {lang} | {r['n']} | {100 * r['cer']:.2f} % | {100 * r['exact']:.1f} % | {100 * r['slots']:.1f} % |")
    for cond, by in res.items():
        for lang, r in by.items():
            for ref, hyp in r["errors"][:3]: print(f"  {cond} {lang}: said {ref!r} heard {hyp!r}")
    t2i, judge = TextToImage.load(a.run or shipped_run()), load_or_train_judge(32)
    print("\n| input | clean: colour | clean: shape | 10 dB: colour | 10 dB: shape |\n|---|---|---|---|---|")
    rs = [speech_to_image(rec, t2i, judge, n=a.n_image), speech_to_image(rec, t2i, judge, n=a.n_image, noisy=True)]
    for name in ("typed", "speech"):
        print(f"| {name} | " + " | ".join(f"{100 * r[f'{name}_{k}']:.1f} %" for r in rs for k in ("color", "shape")) + " |")
    print(f"captions heard exactly: clean {100 * rs[0]['exact']:.1f} %, 10 dB {100 * rs[1]['exact']:.1f} % (of {a.n_image})")
    wav, sr = synthesize("一个大的蓝色金属圆柱体在右下方", variant="m7", speed=160)
    three = np.concatenate([wav, np.zeros(max(0, 3 * sr - len(wav)), np.float32)])[:3 * sr]
    ms = []
    for _ in range(20):
        t0 = time.perf_counter(); rec.transcribe(three, sample_rate=SAMPLE_RATE); ms.append(1000 * (time.perf_counter() - t0))
    print(f"\ntranscribing a 3-second recording: median {np.median(ms):.1f} ms, max {max(ms):.1f} ms over 20 ({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
