"""Make the run folder that ships with the package (t2i_course/assets/runs/cpu): the README's own training command, its generator only.

    python tools/make_shipped_run.py                 # trains runs/cpu with `t2i-course train --preset cpu --out runs/cpu` unless it is there
    python tools/make_shipped_run.py --run runs/x    # export another finished cpu-preset run

Only the CVAE (text encoder, prior, decoder, encoder) is copied: about 2.9 MB of safetensors, with vocab.json and config.json.
tests/test_shipped_run.py checks that its config is the cpu preset's (the step counts its time box fitted aside).
"""
import argparse
import subprocess
import sys
from pathlib import Path

from t2i_course.files import read_run_config
from t2i_course.pipeline import export_generator, shipped_run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/cpu", help="a finished run of the cpu preset (default runs/cpu; trained when missing)")
    args = ap.parse_args(argv)
    run = Path(args.run)
    if not (run / "model.safetensors").is_file():
        cmd = [sys.executable, "-m", "t2i_course.cli", "train", "--preset", "cpu", "--out", str(run)]
        print("training:", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)
    config = read_run_config(run)
    if config.get("status") != "finished" or config.get("train", {}).get("preset") != "cpu":
        sys.exit(f"{run} is not a finished run of the cpu preset (status {config.get('status')!r}, preset {config.get('train', {}).get('preset')!r})")
    out = export_generator(run, shipped_run())
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out}: {', '.join(sorted(f.name for f in out.iterdir()))}, {size / 1e6:.2f} MB "
          f"({config['steps_done']} steps, {config.get('seconds', 0) / 60:.1f} min of training)")


if __name__ == "__main__":
    main()
