#!/usr/bin/env bash
# Trains class-conditional MNIST with the three formulations at the same
# budget (the `mnist-cpu` U-Net and steps: DDPM eps, EDM, flow matching) and
# scores each with `drift eval` at several numbers of model evaluations and
# guidance scales, then writes one markdown table:
#   runs/compare/<preset>/...        the runs (checkpoints, loss curves, grids)
#   runs/compare/results.md          Fréchet classifier distance and guided accuracy
#   runs/compare/<preset>/eval_*.txt every eval's output
# Each preset's default sampler is used: ddim (1 evaluation per step), heun on
# Karras sigmas for edm and flow-heun for flow (2 per step, the last step 1).
# "evaluations" counts denoiser evaluations per sample; with guidance each is
# two network passes (conditional and unconditional).
#
#   scripts/compare_formulations.sh                      (about 2 h on an idle 2-core CPU)
#   STEPS=20 N=200 NFES=10 GUIDANCES=3 CLASSIFIER_STEPS=50 scripts/compare_formulations.sh   (a quick check)
# Settings (environment): PRESETS, STEPS (training steps; default: the preset's),
# N (samples per eval, 2000), NFES ("10 20 50"), GUIDANCES ("1 3"), OUT (runs/compare),
# DATA (data set name, mnist), CLASSIFIER (its file, $OUT/eval_classifier.safetensors) and
# CLASSIFIER_STEPS (2000), BUILD_DIR (build).
set -euo pipefail
cd "$(dirname "$0")/.."
PRESETS=${PRESETS:-"mnist-cpu mnist-cpu-edm mnist-cpu-flow"}
N=${N:-2000}
NFES=${NFES:-"10 20 50"}
GUIDANCES=${GUIDANCES:-"1 3"}
OUT=${OUT:-runs/compare}
BUILD_DIR=${BUILD_DIR:-build}
DATA=${DATA:-mnist}
CLASSIFIER_STEPS=${CLASSIFIER_STEPS:-2000}  # the eval classifier, trained once and shared by every run
CLASSIFIER=${CLASSIFIER:-$OUT/eval_classifier.safetensors}
if [[ ! -x $BUILD_DIR/drift ]]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target drift
fi
DRIFT=$BUILD_DIR/drift
mkdir -p "$OUT"

# Solver steps giving about `nfe` model evaluations with sampler $1.
steps_for() {
  case $1 in
    heun | flow-heun) echo $(((${2} + 1) / 2)) ;;  # k Heun steps: 2k - 1 evaluations
    *) echo "$2" ;;
  esac
}
sampler_of() {
  case $1 in
    *edm*) echo heun ;;
    *flow*) echo flow-heun ;;
    *) echo ddim ;;
  esac
}

results=$OUT/results.md
{
  echo "| preset | sampler | evaluations | guidance | Fréchet distance | real-data floor | guided accuracy | train time |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
} >"$results"
for preset in $PRESETS; do
  run=$OUT/$preset
  extra=()
  [[ -n ${STEPS:-} ]] && extra+=(--steps "$STEPS")
  if [[ ! -f $run/checkpoint.safetensors ]]; then
    t0=$(date +%s)
    "$DRIFT" train --preset "$preset" --data "$DATA" --out "$run" "${extra[@]}"
    echo $(($(date +%s) - t0)) >"$run/train_seconds"
  fi
  train_s=$(cat "$run/train_seconds" 2>/dev/null || echo "?")
  sampler=$(sampler_of "$preset")
  for nfe in $NFES; do
    steps=$(steps_for "$sampler" "$nfe")
    for g in $GUIDANCES; do
      log=$run/eval_${sampler}_${steps}_g${g}.txt
      "$DRIFT" eval -c "$run/checkpoint.safetensors" --sampler "$sampler" --steps "$steps" --guidance "$g" \
        --n "$N" --classifier "$CLASSIFIER" --classifier-steps "$CLASSIFIER_STEPS" --quiet |
        tee "$log"
      fd=$(sed -n 's/^Fréchet classifier distance (.*): //p' "$log")
      used=$(sed -n 's/^Fréchet classifier distance (.*, \([0-9]*\) model evaluations).*/\1/p' "$log")
      floor=$(sed -n 's/^  baseline, real train vs real test images: *//p' "$log")
      acc=$(sed -n 's/^classification accuracy of conditional samples.*: //p' "$log")
      per_pass=$used
      [[ $g != 1 ]] && per_pass=$((used / 2))  # guidance: two network passes per evaluation
      echo "| $preset | $sampler | $per_pass | $g | $fd | $floor | $acc | ${train_s} s |" >>"$results"
    done
  done
  "$DRIFT" sample -c "$run/checkpoint.safetensors" --sampler "$sampler" --steps "$(steps_for "$sampler" 20)" \
    --guidance 3 --n 100 --seed 1 --quiet -o "$run/grid_g3.png"
done
echo "compare_formulations: table in $results"
cat "$results"
