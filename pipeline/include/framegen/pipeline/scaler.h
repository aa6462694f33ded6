// Classical scaling and pixel-format conversion (libswscale) as a FrameFilter.
//
// Frames are scaled to a fixed output size and format. The colour matrix and range
// come from each frame's tags (BT.601 when untagged, as FFmpeg assumes) and are
// kept: a limited-range BT.709 input gives a limited-range BT.709 output. If the
// input size changes mid-stream, later frames are scaled to the same output size
// (a warning says so), so the encoder sees one size.
//
// Threads: process()/flush() on the filter thread only.
#pragma once

#include <memory>
#include <string>

#include "framegen/pipeline/av_ptr.h"
#include "framegen/pipeline/frame.h"
#include "framegen/pipeline/pipeline.h"

namespace framegen {

enum class ScaleAlgorithm { kBicubic, kLanczos, kBilinear, kPoint };

// "bicubic" | "lanczos" | "bilinear" | "point"; throws Error(kUsage) otherwise.
ScaleAlgorithm parse_scale_algorithm(const std::string& name);
const char* to_string(ScaleAlgorithm a);

// The same layout without the deprecated "J" (full range) tag (yuvj420p ->
// yuv420p, ...); other formats unchanged. The range travels in the frame's tags:
// libswscale warns on every context made with a J format ("deprecated pixel format
// used") and gets the range explicitly instead; encoders are offered the plain one.
AVPixelFormat without_j(AVPixelFormat f);

struct ScalerConfig {
  int width = 0;
  int height = 0;
  AVPixelFormat format = AV_PIX_FMT_YUV420P;
  ScaleAlgorithm algorithm = ScaleAlgorithm::kLanczos;
  int threads = 1;  // swscale slice threads
  // The range of YUV output: AVCOL_RANGE_UNSPECIFIED keeps the input frame's
  // (as tagged); MPEG or JPEG converts to limited or full range and tags it so.
  AVColorRange range = AVCOL_RANGE_UNSPECIFIED;
};

// Converts/scales single frames. Not thread-safe; one per thread.
class FrameScaler {
 public:
  explicit FrameScaler(ScalerConfig config);
  ~FrameScaler();
  FrameScaler(const FrameScaler&) = delete;
  FrameScaler& operator=(const FrameScaler&) = delete;

  // A new frame of the configured size/format, pixels from the pool, props copied.
  Frame scale(const Frame& in);
  [[nodiscard]] const ScalerConfig& config() const { return config_; }

 private:
  void configure(const AVFrame* in);

  ScalerConfig config_;
  FramePool pool_;
  SwsContextPtr sws_;
  int src_w_ = 0;
  int src_h_ = 0;
  AVPixelFormat src_fmt_ = AV_PIX_FMT_NONE;
  int src_colorspace_ = -1;
  int src_range_ = -1;
  bool seen_first_ = false;
};

// The scaler held in `slot`, made anew only when the wanted output (size, format,
// algorithm) differs from the one it has: the one way every stage keeps its
// conversions. Same threading as FrameScaler.
FrameScaler& reuse_scaler(std::unique_ptr<FrameScaler>& slot, int width, int height, AVPixelFormat format,
                          ScaleAlgorithm algorithm = ScaleAlgorithm::kBicubic);

class ScaleFilter final : public FrameFilter {
 public:
  explicit ScaleFilter(ScalerConfig config) : scaler_(config) {}
  [[nodiscard]] std::string name() const override { return "scale"; }
  void process(Frame frame, FrameOutput& out) override;

 private:
  FrameScaler scaler_;
};

}  // namespace framegen
