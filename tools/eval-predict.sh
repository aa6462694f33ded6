#!/usr/bin/env bash
# Scores a predictor on the six clips of the prediction issue (Vid4 x4, bikes with
# its scene cuts, carphone) with DATA.md's protocol; prints per-clip PSNR (RGB),
# SSIM (Y), the trivial baselines and sharpness, and the mean over the six clips.
#   tools/eval-predict.sh interp|extrap [model] [shared dir]
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:-interp}
model=${2:-gan}
shared=${3:-../shared}
fg=${FG:-build/bin/framegen}  # FG=other/build/bin/framegen scores another build
read -r -a extra <<< "${EVAL_ARGS:-}"  # EVAL_ARGS=--ensemble: more options for every eval
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for clip in vid4/calendar.mkv vid4/city.mkv vid4/foliage.mkv vid4/walk.mkv clips/bikes_640x272.mp4 clips/carphone_176x144.mp4; do
  cuts=()
  [[ $clip == clips/bikes_640x272.mp4 ]] && cuts=(--cuts 30,76,137,187,242)
  "$fg" eval "$task" --ref "$shared/data/$clip" --model "$model" "${cuts[@]}" "${extra[@]}" --json >> "$out"
done
python3 - "$out" "$task" "$model" "${EVAL_ARGS:-}" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec = json.JSONDecoder()
runs, i = [], 0
while i < len(text):
    text_i = text[i:].lstrip()
    if not text_i:
        break
    obj, n = dec.raw_decode(text_i)
    runs.append(obj)
    i = len(text) - len(text_i) + n
task, model = sys.argv[2], sys.argv[3]
base = "copy_last_psnr" if task == "extrap" else "repeat_psnr"
print(f"{task}, model {model}{(' ' + sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else ''}: PSNR RGB dB")
cols = ["psnr", "ssim", base] + ([] if task == "extrap" else ["blend_psnr"]) + ["sharpness"]
print("%-28s" % "clip" + "".join("%12s" % c for c in cols))
means = {c: 0.0 for c in cols}
for r in runs:
    ref = r["refs"][0]
    print("%-28s" % ref["ref"].split("/")[-1] + "".join("%12.4f" % ref[c] for c in cols))
    for c in cols:
        means[c] += ref[c] / len(runs)
print("%-28s" % "mean of 6 clips" + "".join("%12.4f" % means[c] for c in cols))
PY
