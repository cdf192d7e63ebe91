#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, AddressSanitizer +
# UndefinedBehaviorSanitizer) in their own build folder and runs each for a
# bounded time, one job each. See docs/FUZZING.md.
#   scripts/fuzz.sh                           every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh image    a longer run of some targets
# Environment: FUZZ_SECONDS (per target, default 60), FUZZ_RSS_MB (memory
# limit, default 2048), FUZZ_BUILD_DIR (default build-fuzz), JOBS (build, 2).
# Seeds are read from fuzz/corpus/<name> (never written); inputs that find new
# coverage go to $FUZZ_BUILD_DIR/corpus/<name>. A crash, a sanitizer report, a
# leak, a timeout or an out-of-memory input stops that target, keeps the input
# as $FUZZ_BUILD_DIR/crashes/<name>/<kind>-<hash>, and makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
RSS_MB=${FUZZ_RSS_MB:-2048}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}

targets=("$@")
if (( ${#targets[@]} == 0 )); then
  for f in fuzz/fuzz_*.cpp; do t=$(basename "$f" .cpp); targets+=("${t#fuzz_}"); done
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
echo "== build (clang, libFuzzer + ASan + UBSan) in $BUILD =="
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DDRIFT_FUZZ=ON -DDRIFT_CUDA=OFF -DDRIFT_BUILD_TESTS=OFF \
  -DDRIFT_BUILD_BENCH=OFF -DDRIFT_MPI=OFF "${launcher[@]}" >/dev/null
cmake --build "$BUILD" -j"${JOBS:-2}" --target "${targets[@]/#/fuzz_}"

export OMP_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
summary=()
for t in "${targets[@]}"; do
  corpus="$BUILD/corpus/$t" crashes="$BUILD/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  extra=()
  if [[ -f "fuzz/$t.dict" ]]; then extra+=(-dict="fuzz/$t.dict"); fi
  # fuzz/regressions/<name> is replayed by ctest (fuzz.<name>), not used as
  # seeds: its large inputs would raise libFuzzer's input length limit.
  seeds=("fuzz/corpus/$t")
  echo "== fuzz $t: ${SECONDS_EACH}s =="
  log="$BUILD/fuzz_$t.log"
  rc=0
  "$BUILD/fuzz/fuzz_$t" "$corpus" "${seeds[@]}" -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_MB" \
    -timeout=25 -artifact_prefix="$crashes/" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  if (( rc != 0 )); then
    failed+=("$t")
    summary+=("$(printf '%-12s %10s executions  cov %6s  FAILED (rc %d, input in %s)' "$t" "$execs" "$cov" "$rc" "$crashes")")
    tail -n 60 "$log"
  else
    summary+=("$(printf '%-12s %10s executions  cov %6s  0 crashes' "$t" "$execs" "$cov")")
  fi
done
echo "== fuzz summary (${SECONDS_EACH}s per target, logs in $BUILD/fuzz_<name>.log) =="
printf '%s\n' "${summary[@]}"
if (( ${#failed[@]} )); then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
