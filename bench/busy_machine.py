"""How the cpu preset's training step degrades when the machine is busy: one trainer alone, then two at once (a learner's laptop
always runs something else), with OpenMP's default wait policy and with OMP_WAIT_POLICY=PASSIVE, with 2 threads and with 1.

    python bench/busy_machine.py [--steps 40]

Each scenario starts fresh processes (the wait policy is read when OpenMP starts); each process builds a cpu-preset trainer on
1,000 scenes (fp32, the path of a CPU without bf16) and times --steps VAE-GAN steps after 5 warm-up steps. Prints ms per step.
"""
import argparse
import os
import subprocess
import sys

CHILD = r"""
import sys, tempfile, time, torch
from t2i_course.train import Trainer, preset
threads, steps = int(sys.argv[1]), int(sys.argv[2])
c = preset("cpu", n_train=1000, word2vec=False, bf16=False, channels_last=False, time_box=0.0, threads=threads)
t = Trainer(c, tempfile.mkdtemp() + "/run", show_progress=False, log=lambda s: None)
t.step = c.text_steps + c.cvae_steps; t._enter("gan")
for _ in range(5): t._one_step("gan")
t0 = time.perf_counter()
for _ in range(steps): t._one_step("gan")
print(f"{1000 * (time.perf_counter() - t0) / steps:.0f}")
"""


def scenario(n_procs: int, threads: int, passive: bool, steps: int) -> list[int]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("OMP_WAIT_POLICY", None)
    if passive: env["OMP_WAIT_POLICY"] = "PASSIVE"
    ps = [subprocess.Popen([sys.executable, "-c", CHILD, str(threads), str(steps)], env=env, stdout=subprocess.PIPE, text=True)
          for _ in range(n_procs)]
    return [int(p.communicate()[0].strip().splitlines()[-1]) for p in ps]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args(argv)
    print(f"{os.cpu_count()} cores; ms per VAE-GAN step of the cpu preset (batch 32, fp32)")
    print("| processes | threads each | wait policy | ms per step (each process) |")
    print("|---|---|---|---|")
    for n, threads, passive in ((1, 2, False), (1, 2, True), (2, 2, False), (2, 2, True), (1, 1, False), (2, 1, False)):
        ms = scenario(n, threads, passive, args.steps)
        print(f"| {n} | {threads} | {'PASSIVE' if passive else 'default'} | {', '.join(map(str, ms))} |", flush=True)


if __name__ == "__main__":
    main()
