#!/usr/bin/env bash
# GPU check of a model package on a machine with an NVIDIA GPU and Python's torch, onnx, onnxruntime and opencv:
# FP32 and FP16 on the GPU against ONNX Runtime on the CPU, frames per second and FP16 parity on a video's frames.
#   bench/gpu-check.sh PACKAGE_DIR VIDEO [RESULT.json]
# Ends with one line "gpu check: card=… fp16-top1-agreement=… fp16-max-prob-diff=… fp16-fps=… cpu-fps=…"; exit 1 when
# FP16 agrees with the CPU on fewer than 99 % of the frames, 3 when there is no NVIDIA GPU. See tools/gpu-check/gpu_check.py for what runs where.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 PACKAGE_DIR VIDEO [RESULT.json]" >&2; exit 2; }
# Without an NVIDIA GPU there is nothing to measure: say so and stop before any Python import can fail obscurely.
if ! card="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)" || [ -z "$card" ]; then
  echo "gpu check: no NVIDIA GPU here (nvidia-smi: ${card:-not found}); nothing measured" >&2
  exit 3
fi
echo "$card"
exec python3 "$here/tools/gpu-check/gpu_check.py" "$1" "$2" --frames 64 ${3:+--out "$3"}
