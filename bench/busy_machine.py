"""How the cpu preset's training step degrades when the machine is busy: one trainer alone, then two at once (a learner's laptop
always runs something else), with OpenMP's default wait policy and with OMP_WAIT_POLICY=PASSIVE, with 2 threads and with 1, and with the threads the trainer chooses.

    python bench/busy_machine.py [--steps 40]

Each scenario starts fresh processes (the wait policy is read when OpenMP starts); each process builds a cpu-preset trainer on
1,000 scenes (fp32, the path of a CPU without bf16) and times --steps VAE-GAN steps after 5 warm-up steps. Prints ms per step.
"""
import argparse
import os
import subprocess
import sys
import time

CHILD = r"""
import sys, tempfile, time, torch
from t2i_course.train import Trainer, preset
threads, steps = int(sys.argv[1]), int(sys.argv[2])
c = preset("cpu", n_train=1000, word2vec=False, bf16=False, channels_last=False, time_box=0.0, threads=threads)   # 0: chosen
t = Trainer(c, tempfile.mkdtemp() + "/run", show_progress=False, log=lambda s: None)
t.step = c.text_steps + c.cvae_steps; t._enter("gan")
for _ in range(5): t._one_step("gan")
t0 = time.perf_counter()
for _ in range(steps): t._one_step("gan")
print(f"{1000 * (time.perf_counter() - t0) / steps:.0f} ms ({torch.get_num_threads()} threads)")
"""


def start(threads: int, steps: int, passive: bool = False) -> subprocess.Popen:
    "A trainer process; threads 0: it chooses (`choose_threads`: the cores other programs leave free when it starts)."
    env = {**os.environ, "OMP_NUM_THREADS": str(threads or os.cpu_count())}
    env.pop("OMP_WAIT_POLICY", None)
    if passive: env["OMP_WAIT_POLICY"] = "PASSIVE"
    return subprocess.Popen([sys.executable, "-c", CHILD, str(threads), str(steps)], env=env, stdout=subprocess.PIPE, text=True)


def result(p: subprocess.Popen) -> str: return p.communicate()[0].strip().splitlines()[-1]


def scenario(n_procs: int, threads: int, passive: bool, steps: int) -> list[str]:
    ps = [start(threads, steps, passive) for _ in range(n_procs)]
    return [result(p) for p in ps]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args(argv)
    print(f"{os.cpu_count()} cores; ms per VAE-GAN step of the cpu preset (batch 32, fp32)")
    print("| processes | threads each | wait policy | ms per step (each process) |")
    print("|---|---|---|---|")
    for n, threads, passive in ((1, 2, False), (1, 2, True), (2, 2, False), (2, 2, True), (1, 1, False), (2, 1, False)):
        ms = scenario(n, threads, passive, args.steps)
        print(f"| {n} | {threads} | {'PASSIVE' if passive else 'default'} | {', '.join(ms)} |", flush=True)
    busy = start(2, 8 * args.steps)                                    # something else already training with 2 threads ...
    time.sleep(15)
    mine = start(0, args.steps)                                        # ... when a trainer that chooses its threads starts
    print(f"| 2: one already running with 2 threads, then the trainer | 2, then chosen by the trainer | default | {result(busy)}, {result(mine)} |", flush=True)


if __name__ == "__main__":
    main()
