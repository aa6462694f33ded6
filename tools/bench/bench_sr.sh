#!/usr/bin/env bash
# SR speed against the peers, side by side in one run:
#  - framegen: the whole CLI job (decode + `fast` x2 + libx264 encode) on the
#    640x360 sample clip -> 1280x720, best of N runs;
#  - OpenCV dnn_superres ESPCN / FSRCNN / FSRCNN-small x2 at 640x360 -> 1280x720,
#    2 threads, through shared/tools/sr_speed.py (model only, no decode/encode);
#  - the model alone: build/bin/bench_sr_model.
# Prints fps and the ratio framegen / peer. Not a test: it measures this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
shared=${SHARED:-../shared}
fg=build/bin/framegen
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Best fps of $runs whole upscale jobs; $1: --precision (auto: bf16 where the CPU has it natively).
best_fps() {
  local best=0 fps
  for i in $(seq "$runs"); do
    fps=$("$fg" upscale samples/city_640x360.mp4 -o "$tmp/fast.mp4" --scale 2 --model fast -y --json --precision "$1" |
          sed -E 's/.*"fps":([0-9.]+).*/\1/')
    best=$(awk -v a="$fps" -v b="$best" 'BEGIN {print (a > b) ? a : b}')
  done
  echo "$best"
}
best=$(best_fps auto)
fp32=$(best_fps fp32)
echo "framegen upscale --model fast x2 (whole job, 640x360 -> 1280x720, libx264 default): $best fps (best of $runs); with --precision fp32: $fp32 fps"

build/bin/bench_sr_model samples/city_640x360.mp4 30

if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c "import cv2" 2>/dev/null; then
  /usr/bin/python3 "$shared/tools/sr_speed.py" --threads 2 --scales 2 --frames 10 --repeats 1 \
    --methods espcn,fsrcnn,fsrcnn-small --json "$tmp/peers.json" >/dev/null
  /usr/bin/python3 - "$tmp/peers.json" "$best" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["models"]
fg = float(sys.argv[2])
for k, r in res.items():
    fps = 1000.0 / r["full_ms"]
    print("OpenCV %-13s x%d, %d threads: %6.2f fps (model only)   framegen whole job is %.1fx faster"
          % (r["method"], r["scale"], r["threads"], fps, fg / fps))
PY
else
  echo "peers skipped: install python3-opencv python3-numpy to run shared/tools/sr_speed.py" >&2
fi
