#!/usr/bin/env bash
# Installs everything drift needs on Debian (12 or later). Idempotent and
# non-interactive; run as root (or with sudo available).
#   scripts/setup.sh          build + test dependencies (clang + libFuzzer for scripts/fuzz.sh), Fashion-MNIST
#   scripts/setup.sh --bench  also python3-torch for the PyTorch reference benchmarks
set -euo pipefail

PKGS=(cmake g++ make pkg-config
      libopenblas-openmp-dev libopenblas0-openmp
      libstb-dev zlib1g-dev libpng-dev libjpeg-dev nlohmann-json3-dev libcli11-dev
      libcurl4-openssl-dev libssl-dev
      googletest libgtest-dev libbenchmark-dev
      libopenmpi-dev openmpi-bin
      clang libclang-rt-dev libomp-dev
      dataset-fashion-mnist)
if [[ "${1:-}" == "--bench" ]]; then PKGS+=(python3-torch python3-numpy); fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
