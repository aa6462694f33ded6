// SR model throughput on 640x360 yuv420p frames (the first frames of the sample
// clip, or of argv[1]): milliseconds per frame, fps, and the achieved rate of
// multiply-accumulates against the network's MAC count, for every built-in model,
// with lanczos (libswscale) measured in the same run as the baseline.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_main.h"
#include "framegen/models/super_resolution.h"
#include "framegen/pipeline/decoder.h"
#include "framegen/pipeline/log.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

using namespace framegen;

int run(int argc, char** argv) {
  const std::string input = argc > 1 ? argv[1] : FRAMEGEN_SAMPLE_PATH;
  const int frames = argc > 2 ? std::atoi(argv[2]) : 30;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 0;
  init_logging("warning");
  Decoder dec(input);
  std::vector<Frame> clip;
  while (static_cast<int>(clip.size()) < 8) {
    Frame f = dec.next();
    if (!f) {
      break;
    }
    clip.push_back(std::move(f));
  }
  std::printf("input %s: %dx%d %s, %d timed frames, threads %d (0 = all cores)\n", input.c_str(), clip[0].width(),
              clip[0].height(), av_get_pix_fmt_name(clip[0].format()), frames, threads);
  double lanczos_ms = 0;
  // The networks in fp32 and, where the CPU multiplies bfloat16 natively (the
  // default there), in bf16, side by side.
  for (const std::string variant : {"lanczos", "fast fp32", "fast bf16", "quality fp32", "quality bf16"}) {
    const std::string model = variant.substr(0, variant.find(' '));
    const std::string precision =
        variant.find(' ') == std::string::npos ? "auto" : variant.substr(variant.find(' ') + 1);
    for (int scale : {2, 4}) {
      SrOptions o;
      o.model = model;
      o.scale = scale;
      o.threads = threads;
      o.precision = precision;
      std::unique_ptr<SuperResolution> model_ptr;
      try {
        model_ptr = std::make_unique<SuperResolution>(o);
      } catch (const std::exception& e) {
        std::printf("%-12s x%d  skipped: %s\n", variant.c_str(), scale, e.what());
        continue;
      }
      SuperResolution& sr = *model_ptr;
      const int n = model == "quality" ? std::max(3, frames / 10) : frames;
      for (int i = 0; i < 2; ++i) {
        (void)sr.upscale(clip[static_cast<std::size_t>(i) % clip.size()]);  // warm-up
      }
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i) {
        (void)sr.upscale(clip[static_cast<std::size_t>(i) % clip.size()]);
      }
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
      if (model == "lanczos" && scale == 2) {
        lanczos_ms = ms;
      }
      const double macs = static_cast<double>(sr.macs_per_pixel()) * clip[0].width() * clip[0].height();
      std::printf("%-12s x%d  %8.2f ms/frame  %7.1f fps  %6.2f GMAC/frame  %6.1f GMAC/s  (%.1fx lanczos x2 time)\n",
                  variant.c_str(), scale, ms, 1000.0 / ms, macs / 1e9, macs / 1e9 / (ms / 1000.0),
                  lanczos_ms > 0 ? ms / lanczos_ms : 0.0);
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  return framegen::bench::guarded_main(
      argc, argv, "usage: bench_sr_model [input] [frames, default 30] [threads, default 0: one per core]", run);
}
