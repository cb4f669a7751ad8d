#!/usr/bin/env bash
# The main job on the bundled example: an exported attention block through a pipeline, with the op
# histogram before/after, per-pass statistics and timing, and the numerics check on XLA CPU.
source "$(dirname "$0")/_venv.sh"
mkdir -p out
set -x
hlo-opt examples/attention.mlir --pass-pipeline="${PIPELINE:-optimize}" \
  --op-histogram --statistics --timing --check-numerics -o out/attention.opt.mlir
hlo-opt examples/attention.mlir --pass-pipeline="${PIPELINE:-optimize}" -o out/attention.tflite
hlo-opt --run-tflite out/attention.tflite --runs 200
