#!/usr/bin/env bash
# Benchmarks drift's U-Net against the PyTorch reference in one run, on the
# same machine and under the same conditions (2 OpenMP threads; glibc malloc
# told never to return large blocks to the OS, the "fair baseline" set-up of
# $DRIFT_SHARED_DIR/bench/README.md), and prints one JSON line of ratios
# drift / PyTorch (below 1 = drift is faster / smaller):
#   {"preset": ..., "forward_ratio": ..., "train_ratio": ..., "ddim50_ratio": ..., "rss_ratio": ...}
# forward and train compare medians, ddim50 the seconds of one 50-step run,
# rss the peak resident set size at the end (training included).
#
#   scripts/bench_unet.sh mnist            (tiny | mnist | cifar)
#   BUILD_DIR=build-e STEPS=5 SAMPLE_RUNS=0 scripts/bench_unet.sh cifar
# On a GPU (peak GPU memory is compared too, as gpu_mem_ratio):
#   scripts/bench_unet.sh cifar --device cuda --batch 128 [--precision bf16]
#       [--torch-args "--amp bf16 --fused-adam"]   (flags of the PyTorch reference)
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${1:-mnist}
[[ $# -gt 0 ]] && shift
DEVICE=cpu
BATCH=""
PRECISION=fp32
TORCH_ARGS=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --device) DEVICE=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --precision) PRECISION=$2; shift 2 ;;
    --torch-args) TORCH_ARGS=$2; shift 2 ;;
    *) echo "bench_unet.sh: unknown argument '$1' (expected --device, --batch, --precision, --torch-args)" >&2; exit 2 ;;
  esac
done
BUILD_DIR=${BUILD_DIR:-build}
STEPS=${STEPS:-10}
SAMPLE_RUNS=${SAMPLE_RUNS:-1}   # 0 skips the DDIM run (ddim50_ratio is then null)
SHARED=${DRIFT_SHARED_DIR:-$(pwd)/../shared}
REF=$SHARED/bench/torch_unet_reference.py
PY=/usr/bin/python3   # Debian's python3 with python3-torch
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967295:glibc.malloc.trim_threshold=4294967295
# DRIFT_CPU_ISA=avx2 stands in for an AVX2-only machine on an AVX-512 one: then
# PyTorch is held to AVX2 as well (oneDNN's convolutions and ATen's kernels),
# or the comparison would set drift's AVX2 kernels against PyTorch's AVX-512
# ones. TORCH_CPU_ISA=native keeps PyTorch at the machine's own level.
TORCH_CPU_ISA=${TORCH_CPU_ISA:-${DRIFT_CPU_ISA:-native}}
torch_env=()
case $TORCH_CPU_ISA in
  native | avx512) ;;
  avx2) torch_env=(ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2) ;;
  generic) torch_env=(ONEDNN_MAX_CPU_ISA=SSE41 DNNL_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default) ;;
  *) echo "bench_unet.sh: TORCH_CPU_ISA must be native, avx512, avx2 or generic, not '$TORCH_CPU_ISA'" >&2; exit 2 ;;
esac

if [[ ! -x $BUILD_DIR/bench/bench_unet ]]; then
  echo "== building bench_unet in $BUILD_DIR =="
  [[ -f $BUILD_DIR/CMakeCache.txt ]] || cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target bench_unet >/dev/null
fi
[[ -f $REF ]] || { echo "bench_unet.sh: the PyTorch reference $REF is missing" >&2; exit 1; }
$PY -c 'import torch' 2>/dev/null || { echo "bench_unet.sh: $PY cannot import torch (apt-get install python3-torch)" >&2; exit 1; }

ours_log=$(mktemp) ; ref_log=$(mktemp)
trap 'rm -f "$ours_log" "$ref_log"' EXIT
echo "== drift ($PRESET) =="
batch_args=()
[[ -n $BATCH ]] && batch_args=(--batch "$BATCH" --sample-batch "$BATCH")
# shellcheck disable=SC2086  # TORCH_ARGS is a list of flags
"$BUILD_DIR/bench/bench_unet" --config "$PRESET" --steps "$STEPS" --sample-runs "$SAMPLE_RUNS" --device "$DEVICE" \
  --precision "$PRECISION" "${batch_args[@]}" --json | tee "$ours_log"
echo "== PyTorch reference ($PRESET${TORCH_ARGS:+ $TORCH_ARGS}, CPU ISA: $TORCH_CPU_ISA${torch_env:+ (${torch_env[*]})}) =="
# shellcheck disable=SC2086
env "${torch_env[@]}" $PY "$REF" --config "$PRESET" --steps "$STEPS" --sample-runs "$SAMPLE_RUNS" --threads "$OMP_NUM_THREADS" \
  --device "$DEVICE" "${batch_args[@]}" $TORCH_ARGS --json | tee "$ref_log"

$PY - "$PRESET" "$ours_log" "$ref_log" "$TORCH_CPU_ISA" <<'PYEOF'
import json, sys
preset, ours_path, ref_path, torch_isa = sys.argv[1:5]
def last_json(path):
    lines = [l for l in open(path) if l.startswith("{")]
    return json.loads(lines[-1])
o, r = last_json(ours_path), last_json(ref_path)
def ratio(a, b):
    return round(a / b, 3) if b else None
print(json.dumps({
    "preset": preset,
    "drift_isa": o.get("cpu_isa"),
    "torch_isa": torch_isa,
    "forward_ratio": ratio(o["forward"]["median_ms"], r["forward"]["median_ms"]),
    "train_ratio": ratio(o["train"]["median_ms"], r["train"]["median_ms"]),
    "ddim50_ratio": ratio(o["ddim50"]["seconds"][0], r["ddim50"]["seconds"][0]) if o.get("ddim50", {}).get("seconds") and r.get("ddim50") else None,
    "rss_ratio": ratio(o["peak_rss_mib"], r["peak_rss_mib"]),
    "gpu_mem_ratio": ratio(o.get("peak_gpu_mib", 0), r["peak_gpu_mib"]) if r.get("peak_gpu_mib") else None,
    "drift": {"train_ms": o["train"]["median_ms"], "forward_ms": o["forward"]["median_ms"],
              "ddim50_s": (o.get("ddim50", {}).get("seconds") or [None])[0], "peak_gpu_mib": o.get("peak_gpu_mib")},
    "torch": {"train_ms": r["train"]["median_ms"], "forward_ms": r["forward"]["median_ms"],
              "ddim50_s": (r.get("ddim50", {}).get("seconds") or [None])[0] if r.get("ddim50") else None,
              "peak_gpu_mib": r.get("peak_gpu_mib")},
}))
PYEOF
