#!/usr/bin/env bash
# Fetch into .whl/ the wheels a GPU machine without package registries needs to run bench/gpu_check.sh
# (Python 3.12, x86-64; it already has torch, numpy, matplotlib, safetensors, sacrebleu, tqdm, pillow):
# jieba (built here: it ships only as a source archive), gensim and smart_open, tensorboardX. About 30 MB.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
PY=${PYTHON:-python3}
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl gensim==4.4.0 smart_open==7.3.0.post1 tensorboardX==2.6.5
$PY -m pip wheel -q --no-deps -w .whl jieba==0.42.1
ls -la .whl
du -sh .whl
