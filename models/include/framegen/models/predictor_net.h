// The GAN next-frame predictor's networks (LibTorch). Used by the frame predictor
// runner (predictor.h) and by tools/train/train_predictor.cpp.
//
// Generator: estimates motion instead of painting pixels. Coarse-to-fine flow at
// 1/8 and 1/4 resolution gives two backward flows (target -> each input) and a
// blend/occlusion mask; both inputs are warped at full resolution, blended, and a
// small full-resolution residual network refines the result.
//  - interpolation: inputs (I0, I1), time t in (0, 1); target I_t.
//  - extrapolation: inputs (I_{k-1}, I_k); target I_{k+1} (t is fixed to 2).
// Images: [N, 3, H, W] float RGB in [0, 1]; H, W any (padded to a multiple of 8
// internally).
//
// Discriminator (training only): a patch discriminator conditioned on the inputs,
// D(I0, I1, X) -> [N, 1, H/8, W/8] logits.
#pragma once

#include <torch/torch.h>

namespace framegen::models {

struct PredictorOutput {
  torch::Tensor frame;    // [N, 3, H, W]
  torch::Tensor flow0;    // [N, 2, H, W], target -> input 0, pixels
  torch::Tensor flow1;    // [N, 2, H, W], target -> input 1
  torch::Tensor mask;     // [N, 1, H, W] weight of input 0
  torch::Tensor warped0;  // input 0 warped to the target time (training: photometric loss on the flow)
  torch::Tensor warped1;
};

class FrameGeneratorImpl : public torch::nn::Module {
 public:
  FrameGeneratorImpl();
  // t: [N] times (interpolation) or all 2 (extrapolation).
  PredictorOutput forward(const torch::Tensor& i0, const torch::Tensor& i1, const torch::Tensor& t);
  [[nodiscard]] int64_t macs_per_pixel() const;

 private:
  torch::nn::Sequential coarse_{nullptr};
  torch::nn::Sequential fine_{nullptr};
  torch::nn::Sequential refine_{nullptr};
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

// Backward warp: samples `img` at (x + flow_x, y + flow_y), border padding.
torch::Tensor backward_warp(const torch::Tensor& img, const torch::Tensor& flow);

}  // namespace framegen::models
