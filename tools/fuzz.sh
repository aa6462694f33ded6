#!/usr/bin/env bash
# Fuzzes framegen's input path (demux + decode + colour conversion + first stage)
# with libFuzzer under ASan + UBSan for MINUTES minutes (default 1).
#   tools/fuzz.sh 30            # fuzz 30 minutes
#   tools/fuzz.sh 1 fuzz-corpus # corpus folder (kept between runs; default build-fuzz/corpus)
# Crashes are written to build-fuzz/findings/ (crash-*, leak-*, timeout-*); the
# script exits non-zero if libFuzzer found one. Add each to
# tests/fuzz/regressions/ (replayed by test_fuzz_regressions in CTest) once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-1}
corpus=${2:-build-fuzz/corpus}
jobs=$(nproc)

# Seeds: the test suite's fixtures (tests/fuzz/make_fuzz_corpus.cpp), plus the
# regression inputs.
cmake --preset release >/dev/null
cmake --build build --target make_fuzz_corpus -j "$jobs" >/dev/null
mkdir -p "$corpus" build-fuzz/findings
build/bin/make_fuzz_corpus "$corpus"
cp tests/fuzz/regressions/* "$corpus"/ 2>/dev/null || true

cmake --preset fuzz >/dev/null
cmake --build build-fuzz --target fuzz_decode -j "$jobs" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
build-fuzz/bin/fuzz_decode "$corpus" -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=3072 \
  -timeout=30 -artifact_prefix=build-fuzz/findings/ -print_final_stats=1
