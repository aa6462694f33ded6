// SuperResolution: the model runner for upscaling. LibTorch stays behind this
// header (pimpl), so the CLI and the GStreamer plugin need no torch includes.
//
// Models:
//  - "fast", "quality": built-in luma networks (networks.h) with committed weights
//    embedded in the library; chroma is upscaled with bicubic. On planar 8-bit YUV
//    frames the network reads the Y plane directly (no RGB round trip).
//  - a path ending in .pt/.pth/.ts: a user TorchScript module taking and returning
//    NCHW float RGB in [0, 1]; its scale is found by probing a 16x16 input.
//  - "bicubic", "lanczos": classical, through libswscale (no LibTorch involved).
//
// Threads: one SuperResolution is used by one thread at a time (each call enters
// c10::InferenceMode itself). LibTorch's intra-op pool is sized once per process
// (the first `threads` given wins).
#pragma once

#include <memory>
#include <string>

#include "framegen/pipeline/frame.h"
#include "framegen/pipeline/image.h"
#include "framegen/pipeline/pipeline.h"

namespace framegen {

struct SrOptions {
  std::string model = "fast";
  int scale = 2;
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
  int threads = 0;             // LibTorch intra-op threads; 0: one per core
  int tile = 0;                // max LR tile side in pixels; 0: whole frames
  // The built-in networks' convolutions on the CPU: "bf16" (bfloat16 operands,
  // float sums; about twice as fast where the CPU multiplies bfloat16 natively),
  // "fp32", or "auto" (bf16 where native, else fp32; fp32 on CUDA). bf16 where it
  // is not native, or anything but auto for a classical or TorchScript model: kUsage.
  std::string precision = "auto";
};

class SuperResolution {
 public:
  // Loads the model. Throws Error(kUsage) for a bad name/scale/device and
  // Error(kInput) naming the file for a missing or invalid TorchScript model.
  explicit SuperResolution(const SrOptions& options);
  ~SuperResolution();
  SuperResolution(const SuperResolution&) = delete;
  SuperResolution& operator=(const SuperResolution&) = delete;

  [[nodiscard]] int scale() const;
  [[nodiscard]] std::string description() const;
  // "bf16" or "fp32" for the built-in networks, "" for the others.
  [[nodiscard]] std::string precision() const;
  // Convolution multiply-accumulates per input pixel (built-in networks; 0 otherwise).
  [[nodiscard]] int64_t macs_per_pixel() const;
  // LR pixels of context tiles overlap by.
  [[nodiscard]] int tile_overlap() const;
  // Whether `format` is upscaled without a conversion (planar 8-bit YUV for built-in
  // networks; every format but palettes for the classical scalers, so 10-bit stays
  // 10-bit; rgb24 for everything).
  [[nodiscard]] bool native_format(AVPixelFormat format) const;

  // Upscales a frame; the output has the same pixel format as the input when
  // native_format(), else yuv444p (built-in networks) or rgb24 (TorchScript RGB
  // models; palettes). Output pixels come from an internal pool.
  Frame upscale(const Frame& in);
  // Upscales an RGB image (evaluation, stills).
  Image upscale(const Image& rgb);

  // True for "fast" and "quality" (and "bicubic"/"lanczos", which need no model).
  static bool is_builtin(const std::string& name);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The upscaling stage of a pipeline.
class SuperResolveFilter final : public FrameFilter {
 public:
  explicit SuperResolveFilter(const SrOptions& options) : sr_(options) {}
  [[nodiscard]] std::string name() const override { return "superres"; }
  void process(Frame frame, FrameOutput& out) override { out.emit(sr_.upscale(frame)); }
  SuperResolution& model() { return sr_; }

 private:
  SuperResolution sr_;
};

}  // namespace framegen
