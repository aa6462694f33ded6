// libFuzzer target over framegen's input path: demux + decode (Decoder reading the
// fuzz input from memory through a custom AVIOContext), colour conversion to RGB
// (FrameScaler, image_from_rgb24), scene-cut detection, and the first pipeline
// stage of an upscale job (ScaleFilter, 2x bicubic). framegen::Error is the
// expected outcome for bad input; anything else (a crash, a sanitizer report, an
// uncaught exception, a leak) is a finding.
//
// Build and run: see README ("Fuzzing"), or tools/fuzz.sh MINUTES.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "framegen/pipeline/decoder.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/image.h"
#include "framegen/pipeline/log.h"
#include "framegen/pipeline/scaler.h"
#include "framegen/pipeline/scene.h"

namespace {

constexpr int kMaxFrames = 48;
constexpr int64_t kMaxPixels = 512 * 512;  // keeps each run fast; the budget logic is what is exercised

class Collect final : public framegen::FrameOutput {
 public:
  bool emit(framegen::Frame frame) override {
    last_w = frame.width();
    last_h = frame.height();
    return true;
  }
  int last_w = 0;
  int last_h = 0;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  framegen::init_logging("quiet");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    framegen::DecoderOptions opts;
    opts.threads = 1;
    opts.max_pixels = kMaxPixels;
    framegen::Decoder dec("fuzz-input", data, size, opts);
    const framegen::VideoInfo& info = dec.info();
    dec.set_passthrough([](AVPacket* /*pkt*/, const AVStream* /*st*/) {});
    framegen::ScalerConfig up;
    up.width = info.width * 2;
    up.height = info.height * 2;
    up.format = AV_PIX_FMT_YUV420P;
    up.algorithm = framegen::ScaleAlgorithm::kBicubic;
    framegen::ScaleFilter first_stage(up);
    Collect out;
    std::optional<framegen::FrameScaler> to_rgb;
    std::optional<framegen::Image> previous;
    for (int i = 0; i < kMaxFrames; ++i) {
      framegen::Frame f = dec.next();
      if (!f) {
        break;
      }
      if (!to_rgb) {
        framegen::ScalerConfig rc;
        rc.width = f.width();
        rc.height = f.height();
        rc.format = AV_PIX_FMT_RGB24;
        rc.algorithm = framegen::ScaleAlgorithm::kBicubic;
        to_rgb.emplace(rc);
      }
      framegen::Image img = framegen::image_from_rgb24(to_rgb->scale(f));
      if (previous && previous->width == img.width && previous->height == img.height) {
        (void)framegen::is_scene_cut(*previous, img);
      }
      previous = std::move(img);
      first_stage.process(std::move(f), out);
    }
    first_stage.flush(out);
  } catch (const framegen::Error&) {
    // Refused input with a message: the expected outcome.
  }
  return 0;
}
