"""Make the speech recogniser that ships with the package (t2i_course/assets/speech): `t2i-course speech train`'s default run.

    python tools/make_shipped_speech.py                    # trains runs/speech with `t2i-course speech train --out runs/speech` unless it is there
    python tools/make_shipped_speech.py --run runs/sp-x    # export another finished run of the default settings

speech.json and the weights are copied; the weights are stored as float16 (about 3 MB instead of 6) and read back into float32.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file, save

from t2i_course.files import atomic_write_bytes, atomic_write_json
from t2i_course.speech import SpeechConfig, shipped_speech


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/speech", help="a finished recogniser trained with the default settings (default runs/speech; trained when missing)")
    args = ap.parse_args(argv)
    run = Path(args.run)
    if not (run / "model.safetensors").is_file():
        cmd = [sys.executable, "-m", "t2i_course.cli", "speech", "train", "--out", str(run)]
        print("training:", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)
    meta = json.loads((run / "speech.json").read_text(encoding="utf-8"))
    default = {k: v for k, v in vars(SpeechConfig()).items() if k != "threads"}
    if not meta.get("done") or {k: v for k, v in meta["config"].items() if k != "threads"} != default:
        sys.exit(f"{run} is not a finished run of the default SpeechConfig")
    out = shipped_speech()
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.half() if v.is_floating_point() else v for k, v in load_file(run / "model.safetensors").items()}
    atomic_write_bytes(out / "model.safetensors", save(weights))
    atomic_write_json(out / "speech.json", {**meta, "shipped_from": {"weights": "float16 copy of model.safetensors", "trained": meta.get("trained")}})
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.2f} MB): speech.json, model.safetensors")


if __name__ == "__main__":
    main()
