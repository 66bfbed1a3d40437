"""Time the trainer's VAE-GAN step, eager fp32 against the optimised path, on this machine's CPU or GPU; print a table, write JSON.

    python bench/train_step.py                       # the device torch picks; the gpu preset on CUDA, the cpu preset on a CPU
    python bench/train_step.py --preset gpu --batch 128 512 --json bench/results/train_step.json

For each batch size it builds two trainers on the same data (`fast=False`: eager fp32, TF32 off, the losses read back every step,
as the trainer did before chapter 08a; `fast=True`: what the trainer does on this device), times the same VAE-GAN step of each
(`Trainer._one_step`, the step the training loop takes), counts its FLOPs with torch's FlopCounterMode and measures the dense
matrix-product ceiling of the device, so MFU = FLOPs per second / ceiling. On CUDA it also times bf16 and channels_last variants.
It also times how fast the world renders (on the CPU: our renderer is NumPy) and how long moving the whole dataset to the device takes.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from t2i_course.core import get_device                                        # noqa: E402
from t2i_course.speed import count_flops, matmul_ceiling, time_calls          # noqa: E402
from t2i_course.train import Trainer, load_training_data, preset              # noqa: E402


def make_trainer(config, data, device, out):
    t = Trainer(config, out, device=str(device), show_progress=False, log=lambda s: None, data=data)
    t.step = config.text_steps + config.cvae_steps                                # the VAE-GAN phase, the longest and heaviest
    t._enter("gan")
    return t


def step_fn(t):
    "The loop's step; on the eager path the loop also reads the losses back after every step."
    def step():
        out = t._one_step("gan")
        return out if t.lazy else {k: float(v) for k, v in out.items()}
    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    ap.add_argument("--preset", default=None, help="gpu on CUDA, cpu elsewhere (default)")
    ap.add_argument("--batch", type=int, nargs="+", default=None, help="batch sizes (default: the preset's and 4x on CUDA, 2x on a CPU)")
    ap.add_argument("--calls", type=int, default=None, help="timed steps per row (default 200 on CUDA, 8 on a CPU)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores, at most 8)")
    ap.add_argument("--json", default=None, help="write the results here (default bench/results/train_step-DEVICE.json)")
    a = ap.parse_args(argv)
    dev = get_device(a.device)
    cuda = dev.type == "cuda"
    if a.threads: torch.set_num_threads(a.threads)
    name = a.preset or ("gpu" if cuda else "cpu")
    base = preset(name, word2vec=False)
    batches = a.batch or [base.batch_size, base.batch_size * (4 if cuda else 2)]
    calls = a.calls or (200 if cuda else 8)
    where = torch.cuda.get_device_name(dev) if cuda else f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(f"device: {where}; torch {torch.__version__}; preset {name} ({base.image_size}px); VAE-GAN step; {calls} timed steps per row")

    # the ceiling: the fastest dense matrix product this device does
    ceil = {str(dt).split(".")[1]: matmul_ceiling(dev, dt) for dt in (torch.bfloat16, torch.float32)}
    ceiling = ceil["bfloat16"] if cuda else max(ceil.values())
    print("matmul ceiling: " + ", ".join(f"{k} {v / 1e12:.2f} TFLOP/s" for k, v in ceil.items())
          + f"; MFU below is against {'bf16' if cuda else 'the faster of the two'}")

    # the data: rendered once on the CPU, shared by every trainer
    n = max(2048, 4 * max(batches))
    t0 = time.perf_counter(); data = load_training_data(preset(name, n_train=n)); render_s = time.perf_counter() - t0
    t0 = time.perf_counter(); on_dev = data.images.to(dev); torch.cuda.synchronize(dev) if cuda else None
    copy_s = time.perf_counter() - t0; del on_dev
    print(f"world: {n} scenes of {base.image_size}px rendered and captioned in {render_s:.1f} s ({n / render_s:,.0f} img/s, CPU); "
          f"to the device once in {copy_s * 1e3:.1f} ms")

    variants = [("eager fp32", dict(fast=False)), ("optimised", dict(fast=True))]
    variants += [("optimised + bf16", dict(fast=True, bf16=True)), ("optimised + channels_last", dict(fast=True, channels_last=True)),
                 ("optimised + bf16 + channels_last", dict(fast=True, bf16=True, channels_last=True))]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for B in batches:
            eager_ips = None
            for label, over in variants:
                cfg = preset(name, word2vec=False, batch_size=B, n_train=n, **over)
                t = make_trainer(cfg, data, dev, Path(tmp) / f"{label}-{B}".replace(" ", "_"))
                flops = count_flops(step_fn(t)) if label == "eager fp32" else rows[-1]["flops_per_step"]
                try: sec = time_calls(step_fn(t), calls, dev, warmup=5)
                except Exception as e:                                            # report the variant, keep the others
                    print(f"  {label} at batch {B} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}"); continue
                ips = B / sec
                eager_ips = eager_ips or ips
                graph = bool(t._graph is not None and t._graph.captured)
                rows.append(dict(device=where, preset=name, batch=B, path=label, cuda_graph=graph, img_per_s=round(ips, 1),
                                 ms_per_step=round(sec * 1e3, 3), speedup=round(ips / eager_ips, 2), flops_per_step=flops,
                                 tflops=round(flops / sec / 1e12, 3), mfu=round(flops / sec / ceiling, 4)))
                del t
                if cuda: torch.cuda.empty_cache()

    print(f"\n| device | batch | path | CUDA graph | img/s | ms/step | speed-up | GFLOP/step | TFLOP/s | MFU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['device']} | {r['batch']} | {r['path']} | {'yes' if r['cuda_graph'] else 'no'} | {r['img_per_s']:,.0f} | {r['ms_per_step']:.2f} | "
              f"{r['speedup']:.2f}x | {r['flops_per_step'] / 1e9:.2f} | {r['tflops']:.3f} | {100 * r['mfu']:.2f} % |")
    out = Path(a.json or Path(__file__).parent / "results" / f"train_step-{dev.type}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(device=where, torch=torch.__version__, preset=name, image_size=base.image_size, calls=calls,
                                   matmul_ceiling_flops=ceil, mfu_against=("bfloat16" if cuda else "max"), render_img_per_s=round(n / render_s, 1),
                                   dataset_to_device_ms=round(copy_s * 1e3, 2), rows=rows, host=platform.node(),
                                   omp_num_threads=os.environ.get("OMP_NUM_THREADS")), indent=1) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
