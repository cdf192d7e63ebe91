#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test, then
# rebuilds the CPU layers under AddressSanitizer + UndefinedBehaviorSanitizer
# and runs the suite again there (the sanitizer build leaves out CUDA), then
# fuzzes every file parser for a bounded time (scripts/fuzz.sh, docs/FUZZING.md;
# DRIFT_SKIP_FUZZ=1 leaves that out).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

echo "== build (Release) =="
scripts/build.sh build
echo "== tests (Release) =="
(cd build && ctest --output-on-failure -j1 --timeout 900)

if [[ "${DRIFT_SKIP_SANITIZE:-0}" != "1" ]]; then
  echo "== build (ASan + UBSan) =="
  BUILD_TYPE=Debug scripts/build.sh build-asan -DDRIFT_SANITIZE=ON -DDRIFT_CUDA=OFF -DDRIFT_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"
  echo "== tests (ASan + UBSan) =="
  # Long end-to-end tests are excluded here (label 'slow'); they ran above.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j1 --timeout 900 -LE slow)
fi

if [[ "${DRIFT_SKIP_FUZZ:-0}" != "1" ]]; then
  echo "== fuzz (libFuzzer + ASan + UBSan, ${FUZZ_SECONDS:-45} s per parser) =="
  FUZZ_SECONDS=${FUZZ_SECONDS:-45} scripts/fuzz.sh
fi
