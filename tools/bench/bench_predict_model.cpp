// Predictor cost per frame, outside any pipeline: milliseconds per interpolated
// (t = 1/2) and per extrapolated frame for every predictor model, on the first
// frames of the sample clip (640x360) or of argv[1], with LibTorch on `threads`
// threads (argv[3], default 1: `interpolate` runs one predictor per core). `blend`
// is the baseline measured in the same run; the live concealment budget is one
// frame period (33 ms at 30 fps). gan runs in fp32 and, where the CPU multiplies
// bfloat16 natively, in bf16 (the default there), side by side.
//   bench_predict_model [input, "" for the sample] [frames per model, default 20] [threads] [model]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_main.h"
#include "framegen/models/frame_predictor.h"
#include "framegen/pipeline/decoder.h"
#include "framegen/pipeline/log.h"

using namespace framegen;

int run(int argc, char** argv) {
  const std::string input = argc > 1 && argv[1][0] != 0 ? argv[1] : FRAMEGEN_SAMPLE_PATH;
  const int frames = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  const std::string only = argc > 4 ? argv[4] : "";
  init_logging("warning");
  Decoder dec(input);
  std::vector<Frame> clip;
  while (clip.size() < 9) {
    Frame f = dec.next();
    if (!f) {
      break;
    }
    clip.push_back(std::move(f));
  }
  if (clip.size() < 3) {
    std::fprintf(stderr, "%s: needs at least 3 frames\n", input.c_str());
    return 1;
  }
  std::printf("input %s: %dx%d, %d frames per model, %d LibTorch thread(s)\n", input.c_str(), clip[0].width(),
              clip[0].height(), frames, threads);
  struct Variant {
    const char* model;
    bool ensemble;
    const char* precision;  // "auto": bf16 where the CPU has it natively
  };
  double base_i = 0;
  const bool bf16 = resolved_precision(PredictorOptions{}) == "bf16";  // native bfloat16 here
  for (const Variant v : {Variant{"blend", false, "auto"}, Variant{"global", false, "auto"},
                          Variant{"gan", false, "fp32"}, Variant{"gan", false, "bf16"}, Variant{"gan", true, "auto"}}) {
    if (std::string(v.precision) == "bf16" && !bf16) {
      continue;
    }
    if (!only.empty() && only != v.model && std::string(v.model) != "blend") {
      continue;
    }
    PredictorOptions o;
    o.model = v.model;
    o.threads = threads;
    o.ensemble = v.ensemble;
    o.precision = v.precision;
    std::unique_ptr<FrameInterpolator> p = make_frame_predictor(o);
    auto time_ms = [&](auto&& one) {
      one(0);  // warm-up
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < frames; ++i) {
        one(static_cast<std::size_t>(i) % (clip.size() - 2));
      }
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / frames;
    };
    const double mi = time_ms([&](std::size_t k) { (void)p->interpolate(clip[k], clip[k + 1], 0.5); });
    double me = 0;
    if (!v.ensemble) {
      me = time_ms([&](std::size_t k) { (void)p->extrapolate(clip[k], clip[k + 1], clip[k + 2]); });
    }
    if (base_i == 0) {
      base_i = mi;
    }
    const std::string name = std::string(v.model) + (v.ensemble ? " --ensemble" : "") +
                             (std::string(v.precision) != "auto" ? " " + std::string(v.precision) : "");
    if (v.ensemble) {
      std::printf("%-14s interpolate %8.2f ms/frame (%6.1fx blend)\n", name.c_str(), mi, mi / base_i);
    } else {
      std::printf("%-14s interpolate %8.2f ms/frame (%6.1fx blend), extrapolate %8.2f ms/frame (%.2f frame periods at 30 fps)\n",
                  name.c_str(), mi, mi / base_i, me, me / (1000.0 / 30.0));
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  return framegen::bench::guarded_main(
      argc, argv,
      "usage: bench_predict_model [input, \"\" for the sample] [frames per model, default 20] [threads, "
      "default 1] [model]",
      run);
}
