// Plain 8-bit interleaved images for evaluation and training, plus the exact
// reference operations of the SR protocol (docs/DATA.md):
//  - MATLAB-compatible imresize 'bicubic' (Keys a = -0.5, antialiased when
//    shrinking, half-sample-mirror borders, rows then columns, uint8 rounding
//    after each pass), bit-exact with shared/tools/sr_common.py;
//  - BT.601 Y (not rounded), PSNR and SSIM (11x11 Gaussian, sigma 1.5, valid
//    window positions) on Y with a shaved border.
// Threads: all functions are reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framegen/pipeline/frame.h"

namespace framegen {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;  // interleaved; RGB order when 3
  std::vector<uint8_t> data;

  Image() = default;
  Image(int w, int h, int c) : width(w), height(h), channels(c), data(static_cast<std::size_t>(w) * h * c) {}
  uint8_t* row(int y) { return data.data() + static_cast<std::size_t>(y) * width * channels; }
  [[nodiscard]] const uint8_t* row(int y) const { return data.data() + static_cast<std::size_t>(y) * width * channels; }
  [[nodiscard]] bool empty() const { return data.empty(); }
};

// MATLAB imresize(img, [out_h out_w], 'bicubic') on uint8 data.
Image imresize_matlab(const Image& in, int out_width, int out_height);
// MATLAB imresize(img, 1/s, 'bicubic'): the SR protocol's LR image.
Image downscale_matlab(const Image& hr, int scale);
// HR[:H - H % s, :W - W % s].
Image modcrop(const Image& in, int scale);
Image crop(const Image& in, int x, int y, int w, int h);

// Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255, R, G, B in 0..255 (float64).
std::vector<double> luma_bt601(const Image& rgb);

double psnr_y(const Image& a, const Image& b, int shave);
double ssim_y(const Image& a, const Image& b, int shave);
// PSNR over all pixels and channels (peak 255), capped at 100 dB.
double psnr_rgb(const Image& a, const Image& b);
// Mean |dY/dx| + |dY/dy| (BT.601 Y): the sharpness of an image.
double mean_gradient(const Image& rgb);

// libswscale flags of the two reference scorers' RGB conversions:
// shared/tools/sr_common.py (bicubic + accurate rounding + full chroma interpolation)
// and pred_eval.py (the ffmpeg CLI's default: plain bicubic).
inline constexpr int kSrScorerSwsFlags = 0x4 | 0x40000 | 0x2000;  // SWS_BICUBIC|SWS_ACCURATE_RND|SWS_FULL_CHR_H_INT
inline constexpr int kPredScorerSwsFlags = 0x4;                   // SWS_BICUBIC

// Every frame of a video, or the single image of a still file, as RGB (the input's
// matrix and range, swscale flags as given). Throws Error(kInput).
std::vector<Image> load_rgb_frames(const std::string& path, int max_frames = -1, int every = 1,
                                   int sws_flags = kSrScorerSwsFlags);
// Images of a folder (sorted by name; png, jpg, jpeg, bmp, tif, tiff) or the frames of one
// video file; at most max_frames of them (the first by name or by time) when >= 0.
std::vector<std::pair<std::string, Image>> load_rgb_source(const std::string& path, int max_frames = -1);
// Copies between an rgb24 Frame and an Image of the same size (row by row: the
// frame's rows are padded).
Image image_from_rgb24(const Frame& rgb);
// An rgb24 frame with libav's padded, aligned rows: what sws_scale must read and
// write (its SIMD paths touch bytes past the end of a tightly packed row); fill it
// with copy_image_into, read it with image_from_rgb24. Throws std::bad_alloc.
Frame padded_rgb24(int width, int height);
void copy_image_into(const Image& img, Frame& rgb);

// Writes an RGB image as PNG. Throws Error(kOutput).
void write_png(const std::string& path, const Image& rgb);

}  // namespace framegen
