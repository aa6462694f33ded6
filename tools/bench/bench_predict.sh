#!/usr/bin/env bash
# Frame-rate conversion speed, side by side in one run:
#  - framegen interpolate --factor 2 (gan) on a 640x360 clip vs
#    ffmpeg -vf minterpolate=fps=2x:mi_mode=mci (same encoder settings), and the
#    same interpolation with --ensemble (both time directions), and with
#    --precision fp32 (where the default is bf16: CPUs with AVX512_BF16);
#  - framegen run --fps 50 --scale 2 (one pass) vs interpolate then upscale (two
#    passes with an intermediate file).
# Prints wall times, fps and ratios. Not a test: it measures this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
input=${1:-samples/city_640x360.mp4}
fg=${FG:-build/bin/framegen}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$input")

t0=$(now)
"$fg" interpolate "$input" -o "$tmp/fg.mp4" --factor 2 --model gan -y --log-level error --json > "$tmp/fg.json"
t1=$(now)
ffmpeg -nostdin -hide_banner -loglevel error -y -i "$input" -vf minterpolate=fps=50:mi_mode=mci \
  -c:v libx264 "$tmp/mi.mp4"
t2=$(now)
"$fg" interpolate "$input" -o "$tmp/fge.mp4" --factor 2 --model gan --ensemble -y --log-level error
t3=$(now)
"$fg" interpolate "$input" -o "$tmp/fgf.mp4" --factor 2 --model gan --precision fp32 -y --log-level error
t4=$(now)
out=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/fg.mp4")
precision=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("precision", "?"))' "$tmp/fg.json")
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v f="$t4" -v n="$out" -v p="$precision" 'BEGIN {
  g = b - a; m = c - b; e = d - c; x = f - d;
  printf "interpolate x2: framegen gan %.2f s (%.1f output fps), ffmpeg minterpolate mci %.2f s (%.1f fps): framegen at %.2fx the speed of minterpolate\n",
         g, n / g, m, n / m, m / g;
  printf "interpolate x2 --ensemble: %.2f s (%.1f output fps): %.2fx the speed of minterpolate, %.2fx the time of one direction\n",
         e, n / e, m / e, e / g;
  printf "interpolate x2 default precision (%s) %.2f s, --precision fp32 %.2f s: the default at %.2fx the speed of fp32\n",
         p, g, x, x / g }'

t0=$(now)
"$fg" run "$input" -o "$tmp/run.mp4" --fps 50 --scale 2 --model fast -y --log-level error
t1=$(now)
"$fg" interpolate "$input" -o "$tmp/mid.mp4" --fps 50 -y --log-level error
"$fg" upscale "$tmp/mid.mp4" -o "$tmp/two.mp4" --scale 2 --model fast -y --log-level error
t2=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
  r = b - a; t = c - b;
  printf "run --fps 50 --scale 2: one pass %.2f s, interpolate then upscale %.2f s: one pass is %.2fx faster\n",
         r, t, t / r }'
echo "input $input, $frames frames"
