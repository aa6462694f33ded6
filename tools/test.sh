#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing, then
#  1. builds with warnings as errors (build/) and runs every test through CTest;
#  2. builds everything again with ASan + UBSan (build-asan/, Debug) and runs the
#     whole suite there (leak checking on; third-party suppressions in
#     tests/sanitizers/lsan.supp);
#  3. builds the queue/pipeline core with TSan (build-tsan/) and runs it there;
#  4. fuzzes the decode path for FRAMEGEN_FUZZ_SECONDS (default 60) with libFuzzer
#     (clang, ASan + UBSan; tools/fuzz.sh), starting from the fixtures and the
#     regression inputs.
# FRAMEGEN_QUICK_TEST=1 runs step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
jobs=$(nproc)
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

step "release build (-Werror) and the whole suite"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
ctest --preset ci -j "$jobs"
if [[ "${FRAMEGEN_QUICK_TEST:-0}" == 1 ]]; then
  exit 0
fi

step "ASan + UBSan build and the whole suite"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"

step "TSan: the lock-free queue and the pipeline runner (the threaded core)"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$jobs" --target test_pipeline_core
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --preset tsan -j "$jobs" -R '^(SpscQueue|Pipeline|FramePool)\.'

step "fuzz smoke run"
secs=${FRAMEGEN_FUZZ_SECONDS:-60}
tools/fuzz.sh "$(awk -v s="$secs" 'BEGIN { printf "%.4f", s / 60 }')" build-fuzz/ci-corpus
step "all passed"
