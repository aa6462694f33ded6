#!/usr/bin/env bash
# End-to-end gst-launch-1.0 run of the README's file pipeline with the built plugin.
set -euo pipefail
build=$1
sample=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GST_PLUGIN_PATH="$build/lib/gstreamer-1.0"
export GST_REGISTRY="$tmp/registry.bin"
gst-launch-1.0 -q filesrc location="$sample" ! decodebin ! videoconvert ! fgsuperres scale=2 model=fast ! \
  videoconvert ! x264enc ! mp4mux ! filesink location="$tmp/out.mp4"
read -r w h n < <(ffprobe -v error -count_frames -select_streams v:0 \
  -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$tmp/out.mp4" | tr ',' ' ')
in_n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$sample")
echo "out ${w}x${h}, ${n} frames (input ${in_n})"
[[ "$w" == 1280 && "$h" == 720 && "$n" == "$in_n" ]]
