#!/usr/bin/env bash
# Pipeline-overhead benchmark: the same job (640x360 -> 1280x720 lanczos, libx264
# at its default preset and crf) through framegen and through ffmpeg, side by side
# in one run, alternating, best of N each. Prints both wall times and the ratio
# framegen / ffmpeg (lower is better). Not a test: it measures this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
input=${2:-samples/city_640x360.mp4}
fg=build/bin/framegen
[[ -x $fg ]] || { echo "build first: cmake --preset release && cmake --build build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
best_fg=999999
best_ff=999999
for i in $(seq "$runs"); do
  t0=$(now)
  "$fg" upscale "$input" -o "$tmp/fg.mp4" --scale 2 --model lanczos --codec libx264 -y --log-level error
  t1=$(now)
  ffmpeg -nostdin -hide_banner -loglevel error -y -i "$input" -vf scale=1280:720:flags=lanczos \
    -c:v libx264 -movflags +faststart "$tmp/ff.mp4"
  t2=$(now)
  best_fg=$(awk -v a="$t0" -v b="$t1" -v m="$best_fg" 'BEGIN {d = b - a; print (d < m) ? d : m}')
  best_ff=$(awk -v a="$t1" -v b="$t2" -v m="$best_ff" 'BEGIN {d = b - a; print (d < m) ? d : m}')
done
frames=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$tmp/fg.mp4")
printf 'input %s, %s frames, best of %s\n' "$input" "$frames" "$runs"
awk -v n="$frames" -v g="$best_fg" -v f="$best_ff" 'BEGIN {
  printf "framegen %.3f s (%.1f fps)\nffmpeg   %.3f s (%.1f fps)\nratio framegen/ffmpeg %.2f (goal <= 1.30)\n",
         g, n / g, f, n / f, g / f }'
