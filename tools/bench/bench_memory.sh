#!/usr/bin/env bash
# Memory stays flat on long inputs: runs a 60 s and a 300 s 1280x720 clip through
# the whole pipeline (decode -> upscale 2x -> encode, and decode -> interpolate x2
# -> encode) and prints the peak RSS of each run and the 300 s / 60 s ratio, which
# should be close to 1 (frames are pooled and queues are bounded, so nothing grows
# with the length of the input). Not a test: it measures this machine.
#   tools/bench/bench_memory.sh [FPS]   # source frame rate (default 5, to keep it short)
set -euo pipefail
cd "$(dirname "$0")/../.."
fps=${1:-5}
fg=build/bin/framegen
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for secs in 60 300; do
  ffmpeg -nostdin -hide_banner -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=$fps" -t "$secs" \
    -c:v libx264 -preset ultrafast -g 50 "$tmp/in$secs.mp4"
done
peak() {  # peak RSS in MiB of the command
  /usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  echo $(( $(cat "$tmp/rss") / 1024 ))
}
for job in "upscale --scale 2 --model fast" "interpolate --factor 2 --model gan"; do
  a=$(peak $fg $job "$tmp/in60.mp4" -o "$tmp/out60.mkv" --preset ultrafast -y)
  b=$(peak $fg $job "$tmp/in300.mp4" -o "$tmp/out300.mkv" --preset ultrafast -y)
  awk -v j="$job" -v a="$a" -v b="$b" -v f="$fps" 'BEGIN {
    printf "%-36s 60 s (%d frames): %4d MiB peak RSS, 300 s (%d frames): %4d MiB, ratio %.3f\n",
           j, 60 * f, a, 300 * f, b, b / a }'
done
