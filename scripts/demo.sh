#!/usr/bin/env bash
# The main job: installs what is needed, builds, trains a small diffusion
# model on Fashion-MNIST (Debian's dataset-fashion-mnist) and writes samples.
#   runs/demo/loss.png           the loss curve
#   runs/demo/samples/*.png      sample grids during training (EMA weights, DDIM)
#   runs/demo/samples.png        64 final samples (DDIM, 50 steps)
# Extra arguments go to `drift train` (e.g. --steps 3000, --data mnist --data-path DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
build/drift train --preset demo --out runs/demo "$@"
build/drift sample -c runs/demo/checkpoint.safetensors --sampler ddim --steps 50 --n 64 --seed 1 -o runs/demo/samples.png
echo "demo: samples in runs/demo/samples.png, loss curve in runs/demo/loss.png"
