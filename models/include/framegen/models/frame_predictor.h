// Frame predictors for the interpolation / extrapolation stages and `eval`.
//  - "gan": the built-in trained generator (predictor_net.h): interpolation
//    weights "interp", extrapolation weights "extrap"; "gan-l1" are the same
//    networks after their L1/GDL-only warm-up (kept for the adversarial ablation).
//  - "global": the camera's motion alone (predictor_net.h, predict_global), no
//    network: a few ms per frame, for live streams on slow machines.
//  - "blend", "repeat": classical baselines (pipeline/interpolate.h).
// Frames in any 8-bit format are converted to RGB for the network and back.
// LibTorch stays behind this header. Not thread-safe: one per thread.
#pragma once

#include <memory>
#include <string>

#include "framegen/pipeline/image.h"
#include "framegen/pipeline/interpolate.h"

namespace framegen {

struct PredictorOptions {
  std::string model = "gan";
  std::string device = "cpu";
  int threads = 0;
  // > 0: LibTorch threads of the thread that calls the predictor (several
  // predictors working side by side, one per worker thread); 0: `threads`. > 0 also
  // sizes OpenCV's pool (the DIS flow prior), which is one per process, to it.
  int threads_per_call = 0;
  // Interpolation with "gan" / "gan-l1": also predict each frame from the inputs
  // swapped (time reversed, t -> 1 - t) and average the two. Twice the network's
  // work (DIS runs once); the two predictions' errors differ (six clips: +0.04 dB
  // with quality "normal", 1.4x the time). Other models: kUsage.
  bool ensemble = false;
  // Interpolation with "gan" / "gan-l1", speed against quality:
  //  - "fast": the network alone (no DIS flow prior): six clips 30.49 dB.
  //  - "normal": with the DIS flow prior matched down to half resolution: 30.71 dB,
  //    about 1.5x fast's time (bench_predict, 640x360).
  //  - "best": the prior matched down to full resolution, and the ensemble (as
  //    `ensemble`) of both time directions for the inputs and for the inputs
  //    mirrored left to right: four predictions averaged, 30.84 dB, about 4x
  //    normal's time.
  // Anything but "normal" with another model, or an unknown value, is kUsage.
  std::string quality = "normal";
  // The gan / gan-l1 convolutions on the CPU: "bf16" (bfloat16 operands, float
  // sums; about twice as fast where the CPU multiplies bfloat16 natively, and the
  // same scores to 0.001 dB on the six evaluation clips), "fp32", or "auto" (bf16
  // where native, else fp32; always fp32 on CUDA). bf16 on a CPU without native
  // support, or anything but auto for another model, is kUsage.
  std::string precision = "auto";
};

// The precision a predictor with these options computes in: "bf16" or "fp32" for
// the network models, "" for the others (after check: unknown values throw kUsage).
std::string resolved_precision(const PredictorOptions& options);

// Whether a predictor with these options averages both time directions when it
// interpolates: `ensemble`, or quality "best".
bool uses_ensemble(const PredictorOptions& options);

// Throws Error(kUsage) for unknown models / devices or weights missing from the build.
std::unique_ptr<FrameInterpolator> make_frame_predictor(const PredictorOptions& options);

// The same predictors on RGB images (evaluation).
class ImagePredictor {
 public:
  virtual ~ImagePredictor() = default;
  virtual Image interpolate(const Image& a, const Image& b, double t) = 0;
  // `older` (the frame before `previous`) may be null.
  virtual Image extrapolate(const Image* older, const Image& previous, const Image& last) = 0;
};
std::unique_ptr<ImagePredictor> make_image_predictor(const PredictorOptions& options);

}  // namespace framegen
