#!/usr/bin/env bash
# Frame-rate conversion speed, side by side in one run:
#  - framegen interpolate --factor 2 (gan) on a 640x360 clip vs
#    ffmpeg -vf minterpolate=fps=2x:mi_mode=mci (same encoder settings), and the
#    same interpolation with --quality fast (no DIS prior) and best (full-resolution
#    DIS and the ensemble), --ensemble (both time directions), and --precision
#    fp32 (where the default is bf16: CPUs with AVX512_BF16);
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
out=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/fg.mp4")
precision=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("precision", "?"))' "$tmp/fg.json")
fg_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
mi_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
awk -v g="$fg_s" -v m="$mi_s" -v n="$out" -v p="$precision" 'BEGIN {
  printf "interpolate x2: framegen gan (quality normal, %s) %.2f s (%.1f output fps), ffmpeg minterpolate mci %.2f s (%.1f fps): framegen at %.2fx the speed of minterpolate\n",
         p, g, n / g, m, n / m, m / g }'
# The same interpolation with other options, each against the default above.
for variant in "--quality fast" "--quality best" "--ensemble" "--precision fp32"; do
  read -r -a args <<< "$variant"
  a=$(now)
  "$fg" interpolate "$input" -o "$tmp/v.mp4" --factor 2 --model gan "${args[@]}" -y --log-level error
  b=$(now)
  awk -v a="$a" -v b="$b" -v g="$fg_s" -v m="$mi_s" -v n="$out" -v v="$variant" 'BEGIN {
    e = b - a;
    printf "interpolate x2 %s: %.2f s (%.1f output fps): %.2fx the speed of minterpolate, %.2fx the time of the default\n",
           v, e, n / e, m / e, e / g }'
done

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
