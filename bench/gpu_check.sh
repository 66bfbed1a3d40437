#!/usr/bin/env bash
# Every GPU check of the fast training path in one call, for a lent GPU with about 12 minutes:
#   1. versions and the GPU;
#   2. bench/train_step.py: eager fp32 vs the optimised step (CUDA graph, TF32, fused Adam; bf16 and channels_last variants),
#      FLOPs, the bf16 matmul ceiling, MFU (<= 2 min);
#   3. the gpu preset trained in a time box (T2I_GPU_MINUTES, default 6; T2I_GPU_FLAGS adds train flags, e.g. "--two-objects 0");
#   4. its evaluation (t2i-course eval), where its two-object errors come from (bench/binding_errors.py) and a sample grid.
# Everything lands in $OUT (default bench/results/gpu). Wheels the machine lacks (jieba, gensim, ...) are taken from .whl/,
# which tools/gpu_wheels.sh fills; carry .whl with the call.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${OUT:-bench/results/gpu}; mkdir -p "$OUT"
MINUTES=${T2I_GPU_MINUTES:-6}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg T2I_COURSE_CACHE=/tmp/t2i-course-cache PYTHONUTF8=1
if ! python3 -c "import jieba, gensim" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
T0=$(date +%s)
stamp() { echo; echo "== [$(( $(date +%s) - T0 )) s] $*"; }
T2I="python3 -m t2i_course.cli"

stamp "1/4 versions"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | tee "$OUT/gpu.txt"
python3 - <<'PY' 2>&1 | tee "$OUT/versions.txt"
import platform, torch, numpy, jieba, gensim
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda", torch.version.cuda, "| cudnn", torch.backends.cudnn.version(),
      "| numpy", numpy.__version__, "| jieba", jieba.__version__, "| gensim", gensim.__version__)
print("device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")
PY

stamp "the GPU tests of the fast path (CUDA graph vs eager, the trainer's captured phases, resume)"
timeout 120 python3 -m pytest -q -m gpu -p no:cacheprovider tests/test_speed.py 2>&1 | tail -15 | tee "$OUT/gpu_tests.txt"

stamp "2/4 bench/train_step.py"
timeout 240 python3 bench/train_step.py --json "$OUT/train_step.json" 2>&1 | tee "$OUT/train_step.txt"

stamp "3/4 the gpu preset for $MINUTES minutes"
rm -rf /tmp/runs/gpu
timeout "$(awk "BEGIN { print int($MINUTES * 60 + 180) }")" $T2I train --preset gpu --minutes "$MINUTES" ${T2I_GPU_FLAGS:-} --out /tmp/runs/gpu 2>&1 | tr '\r' '\n' | grep -v "^ *$" | tail -25 | tee "$OUT/train.txt"
cp /tmp/runs/gpu/config.json /tmp/runs/gpu/loss.png "$OUT/" 2>/dev/null
cp /tmp/runs/gpu/logs/train.csv "$OUT/train.csv" 2>/dev/null
last=$(ls /tmp/runs/gpu/samples/*.png 2>/dev/null | tail -1); [ -n "$last" ] && cp "$last" "$OUT/samples-last.png"

stamp "4/4 evaluation and a grid"
timeout 200 $T2I eval --run /tmp/runs/gpu --out "$OUT/eval" 2>&1 | tail -40 | tee "$OUT/eval.txt"
timeout 90 python3 bench/binding_errors.py /tmp/runs/gpu --json "$OUT/binding.json" 2>&1 | tail -8 | tee "$OUT/binding.txt"
timeout 60 $T2I generate --run /tmp/runs/gpu --n 8 --out "$OUT/grid.png" "一个红色的球体" "a blue cube" "一个大的绿色金属圆柱体在左上方" \
    "a small yellow sphere at the bottom right" "一个紫色的立方体" "a red cylinder to the left of a blue sphere" 2>&1 | tail -3
stamp "done"
