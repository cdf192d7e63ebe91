#!/usr/bin/env bash
# The prepared GPU check of issue 14 (bf16, fused kernels, against PyTorch's
# best settings), in one run of about 10 minutes on an H100/H200. Sections:
#   0. preflight  the GPU, nvcc, PyTorch, the libraries the build needs (seconds)
#   1. build      Release build with CUDA (sm_$CUDA_ARCH) of drift, bench_unet and the CUDA tests
#   2. tests      ctest -R cuda (CPU-vs-CUDA parity of every op, bf16 included, fast and
#                 naive kernel variants) and the op-test registry's backend mode
#   3. bench      for each preset (mnist, cifar) at batch $BENCH_BATCH: drift fp32 and bf16
#                 (forward, train step, DDIM-50; peak GPU memory), DDIM-50 through CUDA graphs
#                 (--graphs, SKIP_GRAPHS=1 leaves it out) beside PyTorch fp32 eager,
#                 --amp bf16 --fused-adam
#   4. train      class-conditional MNIST, fp32 and bf16, then drift eval (guided accuracy)
#                 with the wall time of each
#   5. compile    PyTorch --amp bf16 --fused-adam --compile (last: compiling takes minutes)
#   6. report     results.json and results.md (tables and the ratios the issue asks for)
# Everything is written to $WORK_DIR (default ./gpu_check_out, git-ignored: runs,
# logs, one file per step); at the end results.json, results.md, gpu_check.log
# and preflight.txt are copied to $OUT when it is set (the device tool brings
# back at most 8 files from there).
#
#   scripts/gpu_check.sh                     everything
#   DRY_RUN=1 scripts/gpu_check.sh           print the commands only (runs anywhere)
#   SKIP_BUILD=1 SKIP_TESTS=1 SKIP_BENCH=1 SKIP_GRAPHS=1 SKIP_COMPILE=1 SKIP_TRAIN=1   leave sections out
#   BENCH_PRESETS="cifar" BENCH_BATCH=128 BENCH_STEPS=10 TRAIN_STEPS=2000 EVAL_N=1000
# A smoke test of the whole pipeline on the CPU (tiny sizes; no PyTorch needed):
#   DEVICE=cpu SKIP_BUILD=1 BUILD_DIR=build SKIP_TESTS=1 BENCH_PRESETS=tiny BENCH_BATCH=2 \
#     BENCH_STEPS=1 TRAIN_STEPS=4 TRAIN_BATCH=8 EVAL_N=20 EVAL_CLASSIFIER_STEPS=5 scripts/gpu_check.sh
#
# Build dependencies: a machine without them (and without network) gets them
# from .deb files carried in .deps/ (scripts/gpu_deps.sh download, here).
# Data: the PyTorch reference and MNIST come from $DRIFT_SHARED_DIR (default:
# ./shared when the checkout has one, else ../shared): bench/torch_unet_reference.py
# and data/mnist/*.gz. A section whose inputs are missing is skipped and says so.
# One failed step does not stop the others; each step's status and seconds are
# recorded in steps.tsv and the report. No step starts after TIME_BUDGET seconds
# (default 540: the device tool ends a call at 600 s), so the report is always
# written; with ~15 minutes of device time in all, plan two calls if needed:
#   call 1: SKIP_TRAIN=1 SKIP_COMPILE=1 scripts/gpu_check.sh     (build, tests, benchmarks)
#   call 2 (same machine, build kept): SKIP_BUILD=1 SKIP_TESTS=1 SKIP_BENCH=1 scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

DRY_RUN=${DRY_RUN:-0}
OUT_DIR=${WORK_DIR:-$ROOT/gpu_check_out}
BUILD_DIR=${BUILD_DIR:-build-gpu}
CUDA_ARCH=${CUDA_ARCH:-90}
JOBS=${JOBS:-$(nproc)}
BENCH_PRESETS=${BENCH_PRESETS:-mnist cifar}
BENCH_BATCH=${BENCH_BATCH:-128}
BENCH_STEPS=${BENCH_STEPS:-10}
TRAIN_STEPS=${TRAIN_STEPS:-2000}
TRAIN_BATCH=${TRAIN_BATCH:-128}
EVAL_N=${EVAL_N:-1000}
EVAL_CLASSIFIER_STEPS=${EVAL_CLASSIFIER_STEPS:-2000}
DEVICE=${DEVICE:-cuda}
STEP_TIMEOUT=${STEP_TIMEOUT:-300}     # seconds, any one command
TIME_BUDGET=${TIME_BUDGET:-540}       # seconds: no step starts after this (the device tool stops a call at 600)
START=$(date +%s)
if [[ -n ${DRIFT_SHARED_DIR:-} ]]; then SHARED=$DRIFT_SHARED_DIR
elif [[ -d $ROOT/shared ]]; then SHARED=$ROOT/shared
else SHARED=$ROOT/../shared; fi
REF=$SHARED/bench/torch_unet_reference.py
MNIST=$SHARED/data/mnist
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

mkdir -p "$OUT_DIR"
LOG=$OUT_DIR/gpu_check.log
STEPS_TSV=$OUT_DIR/steps.tsv
if [[ $DRY_RUN == 1 ]]; then LOG=/dev/stdout; STEPS_TSV=/dev/null; fi
# steps.tsv and the log are appended to: a second call into the same WORK_DIR
# (the sections the first left out) adds its steps, and the report covers both.

say() { echo "== $*" | tee -a "$OUT_DIR/progress.txt"; }

# step NAME OUTFILE CMD...: runs CMD (with a timeout), its output into OUTFILE
# and the log; records "NAME rc seconds" in steps.tsv. DRY_RUN prints it only.
step() {
  local name=$1 outfile=$2
  shift 2
  if [[ $DRY_RUN == 1 ]]; then
    printf '[%s] %s > %s\n' "$name" "$*" "${outfile#"$OUT_DIR"/}"
    return 0
  fi
  local t0 rc ms
  if (( $(date +%s) - START > TIME_BUDGET )); then  # leave time for the report
    printf '%s\t%s\t0\n' "$name" 125 >> "$STEPS_TSV"
    say "$name: not run (past the time budget of $TIME_BUDGET s; rerun with the other sections skipped)"
    return 125
  fi
  t0=$(date +%s%N)
  echo "+ [$name] $*" >> "$LOG"
  timeout "$STEP_TIMEOUT" "$@" > "$outfile" 2>&1
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  cat "$outfile" >> "$LOG"
  printf '%s\t%s\t%d.%03d\n' "$name" "$rc" $((ms / 1000)) $((ms % 1000)) >> "$STEPS_TSV"
  say "$name: rc $rc, $((ms / 1000)) s"
  return $rc
}

# ---- 0. preflight ---------------------------------------------------------------------
say "preflight (output in $OUT_DIR)"
# Build dependencies the machine lacks, from .deb files carried in .deps/
# (scripts/gpu_deps.sh download, where apt works): unpacked into /tmp/drift-deps.
if [[ -d ${DEPS_DIR:-.deps} && $DRY_RUN != 1 ]]; then
  deps_env=$(scripts/gpu_deps.sh unpack 2> "$OUT_DIR/deps.txt") && eval "$deps_env"
  cat "$OUT_DIR/deps.txt"
fi
if [[ $DRY_RUN != 1 ]]; then
  {
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
    nvcc --version 2>&1 | tail -1 | sed 's/^/nvcc: /'
    "$PY" -c 'import torch; print("torch:", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1
    [[ -f $OUT_DIR/deps.txt ]] && sed 's/^/deps: /' "$OUT_DIR/deps.txt"
    for h in cblas.h gtest/gtest.h png.h jpeglib.h nlohmann/json.hpp CLI/CLI.hpp stb/stb_image.h curl/curl.h openssl/md5.h; do
      if echo "#include <$h>" | g++ -E -x c++ - >/dev/null 2>&1; then echo "header $h: found"; else echo "header $h: MISSING"; fi
    done
    echo "shared: $SHARED (reference $( [[ -f $REF ]] && echo found || echo MISSING ), mnist $( [[ -f $MNIST/train-images-idx3-ubyte.gz ]] && echo found || echo MISSING ))"
  } > "$OUT_DIR/preflight.txt" 2>&1
  cat "$OUT_DIR/preflight.txt"
fi

# ---- 1. build -------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  say "build ($BUILD_DIR, sm_$CUDA_ARCH, -j$JOBS)"
  cuda_tests=$(find tests -maxdepth 1 -name "test_cuda_*.cpp" -printf "%f\n" | sed "s/\\.cpp$//" | sort | tr "\\n" " ")
  cuda_on=ON
  [[ $DEVICE == cpu ]] && cuda_on=OFF
  step configure "$OUT_DIR/build_configure.txt" cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DDRIFT_CUDA=$cuda_on \
    -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH"
  # shellcheck disable=SC2086  # a list of targets
  step build "$OUT_DIR/build.txt" cmake --build "$BUILD_DIR" -j"$JOBS" --target drift bench_unet drift-test-ops $cuda_tests
fi

# ---- 2. tests -------------------------------------------------------------------------
if [[ ${SKIP_TESTS:-0} != 1 ]]; then
  say "CUDA tests"
  step ctest_cuda "$OUT_DIR/ctest_cuda.txt" ctest --test-dir "$BUILD_DIR" -R cuda --output-on-failure -j4
  step registry_backend "$OUT_DIR/registry_backend.txt" "$BUILD_DIR/drift-test-ops" backend
fi

# ---- 3. benchmarks -----------------------------------------------------------------
# One JSON line per run in bench_<preset>_<who>.txt; the report reads the last one.
if [[ ${SKIP_BENCH:-0} != 1 ]]; then
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
  for preset in $BENCH_PRESETS; do
    say "bench $preset, batch $BENCH_BATCH"
    shape=(--config "$preset" --batch "$BENCH_BATCH" --sample-batch "$BENCH_BATCH" --sample-runs 1 --device "$DEVICE" --json)
    common=("${shape[@]}" --steps "$BENCH_STEPS")
    step "bench_${preset}_drift_fp32" "$OUT_DIR/bench_${preset}_drift_fp32.txt" \
      "$BUILD_DIR/bench/bench_unet" "${common[@]}" --precision fp32
    step "bench_${preset}_drift_bf16" "$OUT_DIR/bench_${preset}_drift_bf16.txt" \
      "$BUILD_DIR/bench/bench_unet" "${common[@]}" --precision bf16
    if [[ ${SKIP_GRAPHS:-0} != 1 ]]; then  # DDIM-50 through CUDA graphs (forward/train timed briefly only)
      for prec in fp32 bf16; do
        step "bench_${preset}_drift_${prec}_graphs" "$OUT_DIR/bench_${preset}_drift_${prec}_graphs.txt" \
          "$BUILD_DIR/bench/bench_unet" "${shape[@]}" --steps 2 --precision "$prec" --graphs
      done
    fi
    if [[ -f $REF || $DRY_RUN == 1 ]]; then
      step "bench_${preset}_torch_fp32" "$OUT_DIR/bench_${preset}_torch_fp32.txt" \
        "$PY" "$REF" "${common[@]}" --threads "$OMP_NUM_THREADS"
      step "bench_${preset}_torch_amp" "$OUT_DIR/bench_${preset}_torch_amp.txt" \
        "$PY" "$REF" "${common[@]}" --threads "$OMP_NUM_THREADS" --amp bf16 --fused-adam
    else
      say "PyTorch reference $REF missing: PyTorch columns left empty"
    fi
  done
fi

# ---- 4. bf16 vs fp32 class-conditional MNIST ----------------------------------------
if [[ ${SKIP_TRAIN:-0} != 1 ]]; then
  if [[ -f $MNIST/train-images-idx3-ubyte.gz || $DRY_RUN == 1 ]]; then
    for prec in fp32 bf16; do
      say "train mnist class-conditional, $prec, $TRAIN_STEPS steps of $TRAIN_BATCH"
      run=$OUT_DIR/run_$prec
      step "train_$prec" "$OUT_DIR/train_$prec.txt" "$BUILD_DIR/drift" train --preset mnist --data mnist \
        --data-path "$MNIST" --class-conditional --device "$DEVICE" --precision "$prec" --steps "$TRAIN_STEPS" \
        --batch-size "$TRAIN_BATCH" --sample-every 0 --checkpoint-every "$TRAIN_STEPS" --quiet --out "$run"
      # One evaluation classifier for both runs (trained by the first eval, cached).
      step "eval_$prec" "$OUT_DIR/eval_$prec.txt" "$BUILD_DIR/drift" eval -c "$run/checkpoint.safetensors" \
        --device "$DEVICE" --precision "$prec" --n "$EVAL_N" --classifier-steps "$EVAL_CLASSIFIER_STEPS" --guidance 3 --sampler ddim --steps 20 \
        --data-path "$MNIST" --classifier "$OUT_DIR/eval_classifier.safetensors"
      [[ $DRY_RUN == 1 ]] || rm -rf "$run/samples" "$run/ema_snapshots"
    done
  else
    say "MNIST not found in $MNIST: training section skipped"
  fi
fi

# ---- 5. PyTorch with torch.compile (last: its compilation takes minutes) ------------
if [[ ${SKIP_BENCH:-0} != 1 && ${SKIP_COMPILE:-0} != 1 && ( -f $REF || $DRY_RUN == 1 ) ]]; then
  for preset in $BENCH_PRESETS; do
    say "bench $preset, PyTorch --compile"
    step "bench_${preset}_torch_compile" "$OUT_DIR/bench_${preset}_torch_compile.txt" \
      "$PY" "$REF" --config "$preset" --batch "$BENCH_BATCH" --sample-batch "$BENCH_BATCH" --sample-runs 1 \
      --device "$DEVICE" --json --steps "$BENCH_STEPS" --threads "$OMP_NUM_THREADS" --amp bf16 --fused-adam --compile
  done
fi

# ---- 6. report ------------------------------------------------------------------------
if [[ $DRY_RUN == 1 ]]; then
  echo "[report] $PY scripts/gpu_check_report.py $OUT_DIR"
  exit 0
fi
say "report"
"$PY" scripts/gpu_check_report.py "$OUT_DIR" | tee -a "$LOG"
if [[ -n ${OUT:-} && $OUT != "$OUT_DIR" ]]; then
  mkdir -p "$OUT"
  for f in results.json results.md gpu_check.log preflight.txt; do
    [[ -f $OUT_DIR/$f ]] && cp "$OUT_DIR/$f" "$OUT/"
  done
fi
