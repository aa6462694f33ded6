#!/usr/bin/env bash
# Installs the Debian 12 packages framegen needs to build, test and run.
# Idempotent: when everything is present it only runs `dpkg-query` and exits.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libavfilter-dev
  libtorch-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav
  libspdlog-dev libgtest-dev libcli11-dev nlohmann-json3-dev
  libopencv-video-dev  # DIS optical flow, the interpolation's flow prior (libtorch_cpu already links libopencv_video)
  ffmpeg time  # the ffmpeg program makes test fixtures; GNU time measures peak RSS (bench_memory.sh)
  clang libclang-rt-14-dev  # the libFuzzer build (tools/fuzz.sh, fuzz preset)
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "framegen: installing missing packages: ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
