#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and upscales the bundled sample
# clip 2x. Prints where the output went.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target framegen
mkdir -p out
build/bin/framegen upscale samples/city_640x360.mp4 -o out/city_1280x720.mp4 --scale 2 "$@" -y
echo "output: $(pwd)/out/city_1280x720.mp4"
