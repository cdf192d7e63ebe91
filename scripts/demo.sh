#!/usr/bin/env bash
# The main job: installs what is needed, builds the `drift` program (only it:
# no tests or benchmarks; the CUDA backend only where a GPU answers), trains a
# small diffusion model on Fashion-MNIST and writes samples.
#   runs/demo/loss.png           the loss curve
#   runs/demo/samples/*.png      sample grids during training (EMA weights, DDIM)
#   runs/demo/samples.png        64 final samples (DDIM, 50 steps, eta 1, x0 clipped)
# Fashion-MNIST comes from Debian's dataset-fashion-mnist (installed by
# setup.sh) or the data folder (drift data get fashion-mnist).
# Extra arguments go to `drift train` (e.g. --steps 3000, --data mnist --data-path DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh
cuda=OFF
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then cuda=ON; fi
echo "demo: building the drift program (CUDA backend: $cuda)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDRIFT_CUDA=$cuda >/dev/null
cmake --build build -j"$(nproc)" --target drift
built=$(date +%s)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
build/drift train --preset demo --out runs/demo "$@"
# eta 1 (DDPM-like noise at each step) with x0 clipped to [-1, 1] (the CLI's
# default): after 800 steps the deterministic DDIM (eta 0) still leaves some
# tiles as white blobs; the fresh noise of each step corrects them.
build/drift sample -c runs/demo/checkpoint.safetensors --sampler ddim --steps 50 --eta 1 --n 64 --seed 1 -o runs/demo/samples.png
end=$(date +%s)
echo "demo: samples in runs/demo/samples.png, loss curve in runs/demo/loss.png"
echo "demo: $(( (end - start) / 60 )) min $(( (end - start) % 60 )) s in all (set-up and build $(( built - start )) s)"
