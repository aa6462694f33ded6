#include "framegen/models/networks.h"

#include <ATen/Parallel.h>
#include <ATen/ops/mkldnn_convolution.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <stdexcept>

namespace framegen::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::Conv2d conv3x3(int in, int out) { return nn::Conv2d(nn::Conv2dOptions(in, out, /*kernel_size=*/3).padding(1)); }

// conv-ReLU-conv with an identity skip (EDSR style, no batch norm).
class ResBlockImpl : public nn::Module {
 public:
  explicit ResBlockImpl(int c) : a_(conv3x3(c, c)), b_(conv3x3(c, c)) {
    register_module("a", a_);
    register_module("b", b_);
  }
  torch::Tensor forward(const torch::Tensor& x) { return x + b_(torch::relu(a_(x))); }
  [[nodiscard]] const nn::Conv2d& a() const { return a_; }
  [[nodiscard]] const nn::Conv2d& b() const { return b_; }

 private:
  nn::Conv2d a_;
  nn::Conv2d b_;
};
TORCH_MODULE(ResBlock);

}  // namespace

SrNetConfig builtin_config(const std::string& name, int scale) {
  if (scale < 2 || scale > 4) {
    throw std::invalid_argument("built-in models exist for scales 2, 3 and 4");
  }
  SrNetConfig c;
  c.name = name;
  c.scale = scale;
  if (name == "fast") {
    c.channels = 16;
    c.body = 2;
    c.residual_blocks = false;
  } else if (name == "quality") {
    c.channels = 32;
    c.body = 8;
    c.residual_blocks = true;
  } else {
    throw std::invalid_argument("unknown built-in model '" + name + "'");
  }
  return c;
}

SrNetImpl::SrNetImpl(const SrNetConfig& config) : config_(config) {
  const int c = config.channels;
  head_ = register_module("head", conv3x3(1, c));
  for (int i = 0; i < config.body; ++i) {
    if (config.residual_blocks) {
      body_->push_back(ResBlock(c));
    } else {
      body_->push_back(conv3x3(c, c));
    }
  }
  register_module("body", body_);
  if (config.residual_blocks) {
    body_tail_ = register_module("body_tail", conv3x3(c, c));
  }
  tail_ = register_module("tail", conv3x3(c, config.scale * config.scale));
}

torch::Tensor SrNetImpl::forward(const torch::Tensor& y) {
  const int s = config_.scale;
  // The 1-channel head runs best on NCHW (oneDNN's channels-last kernels are slow
  // with one input channel); everything after it runs channels-last.
  torch::Tensor x = torch::relu(head_(y.contiguous()));
  x = x.contiguous(at::MemoryFormat::ChannelsLast);
  if (!bf16_.empty() && !torch::GradMode::is_enabled() && y.device().is_cpu()) {
    x = body_bf16(x);
  } else if (config_.residual_blocks) {
    torch::Tensor skip = x;
    for (auto& m : *body_) {
      x = m->as<ResBlock>()->forward(x);
    }
    x = body_tail_(x) + skip;
  } else {
    for (auto& m : *body_) {
      x = m->as<nn::Conv2d>()->forward(x).relu_();
    }
  }
  const torch::Tensor tail = x.scalar_type() == torch::kBFloat16 ? conv_bf16(tail_, x).to(torch::kFloat) : tail_(x);
  torch::Tensor base =
      F::interpolate(y, F::InterpolateFuncOptions()
                            .scale_factor(std::vector<double>{static_cast<double>(s), static_cast<double>(s)})
                            .mode(torch::kBicubic)
                            .align_corners(false));
  if (torch::GradMode::is_enabled() || !y.device().is_cpu() || tail.scalar_type() != torch::kFloat ||
      !base.is_contiguous()) {
    return base + F::pixel_shuffle(tail, F::PixelShuffleFuncOptions(s));
  }
  // Inference on the CPU: the pixel shuffle added into the base in one pass (the
  // same sums, without the shuffled copy and a third full-size tensor).
  const torch::Tensor r = tail.contiguous(at::MemoryFormat::ChannelsLast);  // [N, s*s, h, w]: s*s per pixel
  const int64_t n = r.size(0);
  const int64_t h = r.size(2);
  const int64_t w = r.size(3);
  const int64_t ss = static_cast<int64_t>(s) * s;
  const float* __restrict pr = r.data_ptr<float>();
  float* __restrict pb = base.data_ptr<float>();
  at::parallel_for(0, n * h * s, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {  // output row, over the batch
      const int64_t img = row / (h * s);
      const int64_t oy = row % (h * s);
      const int64_t iy = oy / s;
      const int64_t i = oy % s;
      float* out = pb + row * w * s;
      const float* in = pr + (img * h + iy) * w * ss + i * s;
      for (int64_t ix = 0; ix < w; ++ix) {
        for (int64_t j = 0; j < s; ++j) {
          out[ix * s + j] += in[ix * ss + j];
        }
      }
    }
  });
  return base;
}

void SrNetImpl::set_bf16(bool on) {
  torch::NoGradGuard no_grad;
  bf16_.clear();
  if (!on) {
    return;
  }
  for (const auto& m : modules(/*include_self=*/false)) {
    if (const auto* c = m->as<nn::Conv2d>(); c != nullptr && c != head_.get()) {
      add_bf16_copy(bf16_, *c);
    }
  }
}

void add_bf16_copy(LowPrecisionWeights& weights, const nn::Conv2dImpl& conv) {
  torch::NoGradGuard no_grad;
  weights.emplace(&conv, std::make_pair(conv.weight.contiguous(at::MemoryFormat::ChannelsLast).to(torch::kBFloat16),
                                        conv.bias.to(torch::kBFloat16)));
}

torch::Tensor conv3x3_bf16(const LowPrecisionWeights& weights, const nn::Conv2dImpl& conv, const torch::Tensor& x) {
  const auto& w = weights.at(&conv);
  return at::mkldnn_convolution(x.scalar_type() == torch::kBFloat16 ? x : x.to(torch::kBFloat16), w.first, w.second,
                                {1, 1}, {1, 1}, {1, 1}, 1);
}

// The body in bfloat16, from the head's float output: returns the tail's input
// (bfloat16). Residual blocks add into a float stream, so that rounding does not
// accumulate along it.
torch::Tensor SrNetImpl::body_bf16(torch::Tensor x) const {
  if (!config_.residual_blocks) {
    x = x.to(torch::kBFloat16);
    for (const auto& m : *body_) {
      x = conv_bf16(nn::Conv2d(std::dynamic_pointer_cast<nn::Conv2dImpl>(m)), x).relu_();
    }
    return x;
  }
  const torch::Tensor skip = x;
  for (const auto& m : *body_) {
    const auto* block = m->as<ResBlockImpl>();
    x = x + conv_bf16(block->b(), conv_bf16(block->a(), x).relu_());
  }
  return (conv_bf16(body_tail_, x) + skip).to(torch::kBFloat16);
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {
// CPUID leaf 7 (structured extended features), sub-leaf `sub`; all zero if absent.
struct Leaf7 {
  unsigned eax = 0;
  unsigned ebx = 0;
  unsigned ecx = 0;
  unsigned edx = 0;
};
Leaf7 cpuid_leaf7(unsigned sub) {
  Leaf7 r;
  if (__get_cpuid_count(7, sub, &r.eax, &r.ebx, &r.ecx, &r.edx) == 0) {
    return Leaf7{};
  }
  return r;
}
}  // namespace
#endif

bool cpu_has_native_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  // Sub-leaf 1: EAX bit 5 is AVX512_BF16 (the OS must also save the AVX-512 state,
  // which __builtin_cpu_supports("avx512f") checks).
  return ((cpuid_leaf7(1).eax >> 5) & 1U) != 0 && __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

bool cpu_prefers_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (!cpu_has_native_bf16()) {
    return false;
  }
  const unsigned edx = cpuid_leaf7(0).edx;
  const bool avx512_fp16 = ((edx >> 23) & 1U) != 0;
  bool amx_bf16 = ((edx >> 22) & 1U) != 0 && ((edx >> 24) & 1U) != 0;  // AMX-BF16 and AMX-TILE
  if (amx_bf16) {
    // The OS must also manage the tile state (XCR0 bits 17 and 18).
    unsigned lo = 0;
    unsigned hi = 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    amx_bf16 = (lo & (3U << 17)) == (3U << 17);
  }
  // Sapphire/Emerald Rapids without AMX (it is hidden from some virtual machines)
  // run VDPBF16PS no faster than float FMAs: measured there, every convolution
  // shape of both networks was 1.4-2x slower in bfloat16. Those CPUs are the ones
  // with AVX512_FP16. With AMX oneDNN uses its tile units for bfloat16.
  return amx_bf16 || !avx512_fp16;
#else
  return false;
#endif
}

int SrNetImpl::receptive_radius() const {
  // One pixel per 3x3 conv; bicubic upsampling reaches 2 LR pixels.
  const int convs = 2 + config_.body * (config_.residual_blocks ? 2 : 1) + (config_.residual_blocks ? 1 : 0);
  return std::max(convs, 2);
}

int64_t SrNetImpl::macs_per_pixel() const {
  const int64_t c = config_.channels;
  const int64_t s2 = static_cast<int64_t>(config_.scale) * config_.scale;
  const int64_t body = config_.body * (config_.residual_blocks ? 2 : 1) + (config_.residual_blocks ? 1 : 0);
  return 9 * c + body * 9 * c * c + 9 * c * s2;
}

}  // namespace framegen::models
