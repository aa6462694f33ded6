// The built-in super-resolution networks (LibTorch C++ modules). Used by the model
// runner (models/src) and the training program (tools/train); the CLI and the
// GStreamer elements never include this header: they use super_resolution.h.
//
// All networks are luma-only: input [N, 1, H, W] = Y / 255 (BT.601 Y of the
// protocol, 16..235), output [N, 1, sH, sW] in the same units. The output is a
// learned residual, pixel-shuffled from s*s channels, added to a bicubic
// upsampling of the input, so the network only has to learn detail.
#pragma once

#include <torch/torch.h>

#include <string>
#include <unordered_map>
#include <utility>

namespace framegen::models {

struct SrNetConfig {
  std::string name;  // "fast", "quality"
  int scale = 2;
  int channels = 16;  // feature width
  int body = 4;       // fast: plain conv layers; quality: residual blocks
  bool residual_blocks = false;
};

// Whether this CPU has native bfloat16 dot products (AVX512_BF16); elsewhere oneDNN
// emulates them (--precision bf16 is refused there).
bool cpu_has_native_bf16();
// Whether bfloat16 convolutions are faster than float here, the choice of
// --precision auto: native bfloat16 with AMX, or without AVX512_FP16 (Cooper Lake,
// AMD Zen 4/5: about twice the float rate measured). Sapphire/Emerald Rapids with
// AMX hidden run them 1.4-2x slower than float.
bool cpu_prefers_bf16();

// bfloat16 copies of convolutions' weights (channels-last) and biases, by module: the
// low-precision inference path of both networks (SrNetImpl::set_bf16,
// FrameGeneratorImpl::prepare_cpu_inference).
using LowPrecisionWeights = std::unordered_map<const torch::nn::Conv2dImpl*, std::pair<torch::Tensor, torch::Tensor>>;
void add_bf16_copy(LowPrecisionWeights& weights, const torch::nn::Conv2dImpl& conv);
// conv (3x3, stride 1, padding 1) with its copy in `weights`, through oneDNN directly
// (ATen's dispatch sends small inputs to a slow fallback); x is rounded to bfloat16
// unless it is already, and so is the output.
torch::Tensor conv3x3_bf16(const LowPrecisionWeights& weights, const torch::nn::Conv2dImpl& conv,
                           const torch::Tensor& x);

// The shipped configurations. Throws std::invalid_argument for unknown names/scales.
SrNetConfig builtin_config(const std::string& name, int scale);

class SrNetImpl : public torch::nn::Module {
 public:
  explicit SrNetImpl(const SrNetConfig& config);
  torch::Tensor forward(const torch::Tensor& y);
  // LR pixels of context an output pixel depends on (for exact tiling).
  [[nodiscard]] int receptive_radius() const;
  [[nodiscard]] const SrNetConfig& config() const { return config_; }
  // Multiply-accumulates per LR pixel (convolutions only).
  [[nodiscard]] int64_t macs_per_pixel() const;
  // For inference on the CPU (after the weights are loaded): the convolutions after
  // the head in bfloat16 (bfloat16 operands, float sums; the residual stream, the
  // bicubic base and the sum stay float). About twice as fast where the CPU
  // multiplies bfloat16 natively (cpu_has_native_bf16()). false: all float.
  void set_bf16(bool on);

 private:
  SrNetConfig config_;
  torch::nn::Conv2d head_{nullptr};
  torch::nn::ModuleList body_;
  torch::nn::Conv2d body_tail_{nullptr};  // quality only: closes the long skip
  torch::nn::Conv2d tail_{nullptr};
  // bfloat16 copies of the convolutions' weights and biases (set_bf16).
  LowPrecisionWeights bf16_;
  [[nodiscard]] torch::Tensor conv_bf16(const torch::nn::Conv2d& c, const torch::Tensor& x) const {
    return conv3x3_bf16(bf16_, *c, x);
  }
  [[nodiscard]] torch::Tensor body_bf16(torch::Tensor x) const;
};
TORCH_MODULE(SrNet);

}  // namespace framegen::models
