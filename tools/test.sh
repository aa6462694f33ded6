#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing,
# builds with warnings as errors, runs every GoogleTest suite through CTest, then
# builds the queue/pipeline core under ThreadSanitizer and runs it again there.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
jobs=$(nproc)

cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
ctest --preset ci -j "$jobs"

# TSan: the lock-free queue and the pipeline runner (the threaded core).
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$jobs" --target test_pipeline_core
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --preset tsan -j "$jobs" -R '^(SpscQueue|Pipeline|FramePool)\.'
