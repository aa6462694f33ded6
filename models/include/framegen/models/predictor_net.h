// The GAN next-frame predictor's networks (LibTorch). Used by the frame predictor
// runner (predictor.h) and by tools/train/train_predictor.cpp.
//
// Generator: estimates motion instead of painting pixels. Coarse-to-fine flow
// (at 1/16 from scratch, gated per pixel towards a fitted global affine motion
// (camera motion), refined at 1/8, 1/4 and 1/2 on the inputs warped by the
// current estimate and a cost volume: the match between the two warped inputs
// for every residual displacement within +-3, +-3 and +-2 pixels of that level)
// gives two backward flows (target -> each input) and a
// blend/occlusion mask; both inputs are warped at full resolution (bilinear or
// bicubic: cubic_warp), blended, and a small full-resolution network corrects the
// mask and adds a residual.
//  - interpolation: inputs (I0, I1), time t in (0, 1); target I_t.
//  - extrapolation (every t > 1): inputs (I_{k-1}, I_k); target I_{k-1+t}, t = 2
//    for the next frame. The pyramid estimates the motion between the inputs
//    (as if t = 1, flow I_k -> I_{k-1}); that motion is continued at constant
//    velocity (advected along itself) to give the flows target -> I_k and
//    target -> I_{k-1}, which are then warped, blended and refined as above.
//    Given the frame before I_{k-1} too, the global motion is continued only as
//    far as it is steady: a camera that shakes (its motion from one step to the
//    next unrelated) is not assumed to keep moving the same way.
// Images: [N, 3, H, W] float RGB in [0, 1]; H, W any (padded to a multiple of 16
// internally).
//
// Discriminator (training only): a patch discriminator conditioned on the inputs,
// D(I0, I1, X) -> [N, 1, H/8, W/8] logits.
#pragma once

#include <torch/torch.h>

#include <array>

#include "framegen/models/networks.h"  // LowPrecisionWeights, cpu_has_native_bf16

namespace framegen::models {

// Inference on the CPU (autograd off, float tensors) takes fused paths and fills
// only `frame`; the other fields are for training.
struct PredictorOutput {
  torch::Tensor frame;    // [N, 3, H, W]
  torch::Tensor flow0;    // [N, 2, H, W], target -> input 0, pixels
  torch::Tensor flow1;    // [N, 2, H, W], target -> input 1
  torch::Tensor mask;     // [N, 1, H, W] weight of input 0
  torch::Tensor warped0;  // input 0 warped to the target time (training: photometric loss on the flow)
  torch::Tensor warped1;
};

// dis_flows' default finest scale: DIS matches patches down to the 1/2 level.
constexpr int kDisDefaultFinestScale = 1;

class FrameGeneratorImpl : public torch::nn::Module {
 public:
  FrameGeneratorImpl();
  // t: [N] times (interpolation) or all 2 (extrapolation). older (extrapolation
  // only, optional): the frame before i0, same shape; training never passes it.
  PredictorOutput forward(const torch::Tensor& i0, const torch::Tensor& i1, const torch::Tensor& t,
                          const torch::Tensor& older = {});
  [[nodiscard]] int64_t macs_per_pixel() const;
  // For inference on the CPU: stores the convolution weights channels-last, which
  // makes oneDNN keep activations channels-last (the values do not change). With
  // bf16, the convolutions then run in bfloat16 (activations and weights rounded to
  // 8 significant bits, float accumulation): about twice as fast where the CPU
  // multiplies bfloat16 natively (cpu_has_native_bf16()).
  void prepare_cpu_inference(bool bf16 = false);
  // The test-time search that corrects the network's half-resolution flows
  // (flow_search below): on by default; training turns it off (it has no gradient;
  // `train_predictor --search` keeps it on).
  void set_flow_search(bool on) { flow_search_ = on; }
  // Interpolation: OpenCV's DIS optical flow between the inputs (dis_flows) as a
  // candidate for the flows before the 1/2 block, taken per pixel where it matches
  // better (candidate_wins). The network's own pyramid misses long motions of
  // little texture (a car crossing the frame) that DIS's patch search finds. On by
  // default; training turns it off unless `train_predictor --dis-prior`.
  void set_dis_prior(bool on) { dis_prior_ = on; }
  [[nodiscard]] bool dis_prior() const { return dis_prior_; }
  // The prior's DIS finest scale (dis_flows): 1 by default, 0 for full-resolution
  // matching (about 4x DIS's time; six clips +0.056 dB, models/README.md).
  void set_dis_finest_scale(int scale);
  [[nodiscard]] int dis_finest_scale() const { return dis_finest_scale_; }
  // The full-resolution warp of both inputs: bilinear (the weights before session
  // 20) or bicubic, which keeps fine texture that a sub-pixel bilinear shift blurs
  // (at half a pixel it averages two neighbours). The weights are trained for one
  // of them: saved with them ("cubic_warp"), bilinear where a file does not say.
  [[nodiscard]] bool cubic_warp() const { return cubic_warp_; }
  void set_cubic_warp(bool on) { cubic_warp_ = on; }
  // The warp a saved generator's archive says (false where it does not say).
  static bool saved_cubic_warp(torch::serialize::InputArchive& archive);
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  using Levels = std::array<torch::Tensor, 4>;  // 1/2, 1/4, 1/8, 1/16
  struct Estimate {
    torch::Tensor flow;    // [N, 4, H/2, W/2], half-resolution pixels
    torch::Tensor mask;    // [N, 1, H/2, W/2], logits
    torch::Tensor global;  // [N, 6], the fitted global motion I1 -> I0 (global_motion)
  };
  // extrapolate: t is 1 and the flows are the motion between the inputs (the
  // search then uses kExtrapolationSearch).
  // prior (interpolation, optional): half-resolution flows from dis_flows, taken
  // where they match better (candidate_wins) before the 1/2 block.
  Estimate pyramid(const Levels& a, const Levels& b, const torch::Tensor& t, bool extrapolate,
                   const torch::Tensor& prior = {});

  torch::nn::Sequential coarse_{nullptr};  // 1/16, from scratch
  torch::nn::Sequential fine8_{nullptr};   // 1/8 refinement
  torch::nn::Sequential fine4_{nullptr};   // 1/4 refinement
  torch::nn::Sequential fine2_{nullptr};   // 1/2 refinement
  torch::nn::Sequential refine_{nullptr};  // full resolution: mask correction + residual
  bool flow_search_ = true;
  bool dis_prior_ = true;
  int dis_finest_scale_ = kDisDefaultFinestScale;
  bool cubic_warp_ = false;
  LowPrecisionWeights bf16_;  // empty: float convolutions
  [[nodiscard]] const LowPrecisionWeights* low_precision() const { return bf16_.empty() ? nullptr : &bf16_; }
};
TORCH_MODULE(FrameGenerator);

class PatchDiscriminatorImpl : public torch::nn::Module {
 public:
  PatchDiscriminatorImpl();
  torch::Tensor forward(const torch::Tensor& i0, const torch::Tensor& i1, const torch::Tensor& x);

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(PatchDiscriminator);

// Matching costs between a and b ([N, 3, H, W]) for every displacement d within
// +-r pixels: channel (dy + r) (2r + 1) + (dx + r) holds 4 x the colour-mean
// |a(x + d) - b(x)| (a replicated at its borders). Without gradients on the CPU it
// runs as one fused loop; otherwise as tensor operations (same values).
torch::Tensor cost_volume(const torch::Tensor& a, const torch::Tensor& b, int r);

// Global affine motion I1 -> I0 fitted coarse to fine (robust Gauss-Newton,
// translation only on the first level) on pyramids a, b of I0 and I1, coarsest
// first ([N, 3, h, w] each). Returns theta [N, 6], the displacement in normalised
// coordinates (-1..1, align_corners): u = (t0 x + t1 y + t2, t3 x + t4 y + t5),
// such that I1(p) ~ I0(p + u(p)). No gradient flows through it.
torch::Tensor global_motion(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b);

// Candidates of flow_search, in whole pixels: around the flows as they are
// (`near`, on the 1/2 level), and coarse to fine (`coarse` on the 1/4 level, then
// `refine` on the 1/2 level around what the 1/4 level chose); coarse 0: none.
struct FlowSearchRange {
  int near = 2;
  int coarse = 6;
  int refine = 2;
};
// Interpolation: 25 + 169 / 4 + 25 matchings of the 1/2 level's size, reaching 14
// pixels. Extrapolation (the motion between its inputs) gains from the dense
// +-6 around the flows (six clips: 27.81 dB against 27.77 with +-2).
inline constexpr FlowSearchRange kInterpolationSearch{2, 6, 2};
inline constexpr FlowSearchRange kExtrapolationSearch{6, 6, 2};

// Test-time correction of half-resolution flows [N, 4, H, W] (target -> I0, target
// -> I1, in pixels of a and b, the inputs' 1/2 level [N, 3, H, W]) at times t [N]:
// both inputs are blurred (binomial 3x3) and warped by the flows, and for each
// candidate correction d of the motion I0 -> I1 (whole pixels) the target's view
// of I0 moves by -t d and of I1 by (1 - t) d. A candidate costs the colour-mean
// |difference| over a 15x15 window plus 0.002 per pixel of |d|. The candidates
// (`range`): d within +-near of 0; and a coarse-to-fine chain: the same search on
// the 1/4 level (+-coarse of its pixels, 0.004 per pixel) proposes a d, refined
// within +-refine on the 1/2 level. The chain's d is taken where its cost there is
// lower than the best near d's. The result is kept only where it beats d = 0 by
// more than 0.002 (else 0). Returns d [N, 2, H, W]. No gradient. A plain
// convolution stack finds large or sharp motions to within a pixel or a few; a
// search pins them down. Without allow_fused (tests) it runs as tensor operations;
// otherwise fused loops on the CPU (same values, float rounding aside).
torch::Tensor flow_search(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& flow,
                          const torch::Tensor& t, const FlowSearchRange& range = kInterpolationSearch,
                          bool allow_fused = true);
// The same, given ab and bb: a and b already blurred (binomial 3x3), for a caller
// that uses them again.
torch::Tensor flow_search_blurred(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& ab,
                                  const torch::Tensor& bb, const torch::Tensor& flow, const torch::Tensor& t,
                                  const FlowSearchRange& range = kInterpolationSearch, bool allow_fused = true);

// Test-time choice among whole flow fields for interpolation, after flow_search:
// half-resolution flows [N, 4, H, W] (target -> a, target -> b) against a and b,
// the inputs' 1/2 level blurred (binomial 3x3). The matching cost of a pixel is
// the colour-mean |a(p + f0) - b(p + f1)|, averaged over the 15x15 window around it.
// - Zero motion: where the flows move (more than 1 pixel) but no motion at all
//   matches the window better by 0.002, the flows become 0. The network's motion
//   can spill from a moving object onto the still background next to it (bikes:
//   a still road warped by a bus roof's motion).
// - Propagation: two passes over offsets 4, 8, 16, 32 pixels in the four
//   directions; a pixel takes the flows of the pixel that far away where that
//   lowers the lowest window cost seen so far and changes a flow by more than a
//   quarter pixel (smaller changes fit noise: still, noisy backgrounds lost).
//   Flows that are right on part of an object reach the part where they were not.
// No gradient. Without allow_fused (tests) it runs as tensor operations; otherwise
// fused loops on the CPU (same values, float rounding aside).
torch::Tensor select_flows(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& flow,
                           bool allow_fused = true);

// OpenCV's DIS optical flow (Kroeger et al. 2016, medium preset) between a and b ([N, 3, H, W] RGB in [0, 1]) both
// ways, F01 and F10, turned into flows at times t [N] (target -> a, target -> b: [N, 4, H, W], pixels) by linear motion
// through the target pixel (Super SloMo, Jiang et al. 2018): f_t0 = -(1 - t) t F01 + t^2 F10, f_t1 = (1 - t)^2 F01 - t
// (1 - t) F10. Runs on the CPU (grey levels, 8 bits); the result is on a's device. No gradient.
// finest_scale: the pyramid level DIS matches patches down to (0: full resolution, 1: half, the default; each level
// finer costs about 4x). A batch item whose inputs are an earlier item's swapped (the ensemble's (a, b, t) and
// (b, a, 1 - t)) reuses that item's F01 and F10, swapped.
torch::Tensor dis_flows(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& t,
                        int finest_scale = kDisDefaultFinestScale);
// The threads OpenCV (DIS) may use; configure_torch_runtime sets it with LibTorch's.
void set_dis_threads(int threads);
// Where a whole candidate field beats the flows [N, 4, H, W] (against a and b, one
// pyramid level, blurred inside with blur3): the colour-mean matching cost of
// select_flows averaged over the 15x15 window is lower by margin under the candidate
// and the candidate changes a flow by more than a quarter pixel. [N, 1, H, W] bool on
// flow's device; computed on the CPU, no gradient.
torch::Tensor candidate_wins(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& flow,
                             const torch::Tensor& cand, float margin);

// Sub-pixel refinement of flows [N, 4, H, W] (target -> a, target -> b, in pixels of
// a and b, [N, 3, H, W]) at times t [N], by Lucas-Kanade steps on the images blurred
// (binomial 3x3) and warped by the flows: a correction d of the motion a -> b moves
// the target's view of a by -t d and of b by (1 - t) d (as in flow_search); each
// step solves for the d that best lines the two warped images up over a 15x15 window
// (their averaged gradients, linearised; at most half a pixel per step), and keeps it
// only where the window's colour-mean |difference| goes down by more than 0.0005.
// No gradient. The
// network's flows come from its 1/2 level; this recovers the part of a pixel that a
// whole-pixel search cannot. Without allow_fused (tests) it runs as tensor
// operations; otherwise fused loops on the CPU (same values, float rounding aside).
torch::Tensor refine_flow_lk(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& flow,
                             const torch::Tensor& t, int iterations, bool allow_fused = true);
// Extrapolation refines the motion between its inputs at full resolution with
// these many steps (six clips: 27.81 -> 28.32 dB).
inline constexpr int kExtrapolationLkSteps = 3;

// The camera's motion alone, no network: the global affine motion between i0 and i1
// (global_motion, fitted as the generator fits it). t in (0, 1): both inputs warped
// by it to time t and blended; t > 1: i1 warped by the motion continued, as far as
// it is steady given `older` (the frame before i0; as the generator does). A few
// milliseconds per frame where the generator takes hundreds: a stand-in for live
// streams on slow machines. [N, 3, H, W] in [0, 1].
// Without allow_fused (tests) the full-resolution warp runs as tensor operations;
// otherwise as one fused loop on the CPU (same values, float rounding aside).
torch::Tensor predict_global(const torch::Tensor& i0, const torch::Tensor& i1, const torch::Tensor& t,
                             const torch::Tensor& older = {}, bool allow_fused = true);

// Backward warp: samples `img` at (x + flow_x, y + flow_y), border padding;
// bilinear, or bicubic (Keys, a = -0.75, as grid_sample: each of the 4x4 taps
// clamped to the image).
torch::Tensor backward_warp(const torch::Tensor& img, const torch::Tensor& flow, bool bicubic = false);

}  // namespace framegen::models
