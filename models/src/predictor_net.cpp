#include "framegen/models/predictor_net.h"

#include <ATen/Parallel.h>
#include <ATen/ops/mkldnn_convolution.h>
#include <opencv2/core.hpp>
#include <opencv2/video/tracking.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace framegen::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

// Channels and 3x3 layers of each level (the first conv and the output conv come on top).
constexpr int kC16 = 64;
constexpr int kL16 = 4;
constexpr int kC8 = 48;
constexpr int kL8 = 3;
constexpr int kC4 = 32;
constexpr int kL4 = 3;
constexpr int kC2 = 16;
constexpr int kL2 = 2;
constexpr int kRefine = 16;              // channels of the full-resolution block
constexpr int kRefineIn = 9;             // both warped inputs and their blend
constexpr int kLevelIn = 3 * 4 + 5 + 1;  // inputs, warped inputs, flow, mask, t
// The 1/16 block sees both inputs, t, the global-motion flows and both inputs
// warped by them; it outputs flow, mask and a gate towards the global flows.
constexpr int kCoarseIn = 3 * 2 + 1 + 4 + 3 * 2;
constexpr int kCoarseOut = 6;
// Search radius of each refinement level's cost volume, in that level's pixels.
constexpr int kR8 = 3;
constexpr int kR4 = 3;
constexpr int kR2 = 2;
constexpr double kCostScale = 4.0;  // costs are colour means times this
// Fixed-point steps of the extrapolated flow (FrameGeneratorImpl::forward).
constexpr int kAdvectionSteps = 4;
// keep_unchanged: the largest change between the inputs (colour, [0, 1]) and the
// largest flow (full-resolution pixels) of a pixel that keeps the inputs' values.
constexpr float kUnchanged = 2.5F / 255.0F;
constexpr float kStill = 0.5F;
// flow_search: candidate corrections (whole pixels, FlowSearchRange) matched over
// kSearchWindow^2 pixels; each pixel of correction costs kSearchPenalty (a 1/4-level
// pixel twice that), and a correction must lower the matching cost by kSearchMargin.
constexpr int kSearchWindow = 15;
constexpr float kSearchPenalty = 0.002F;
constexpr float kSearchMargin = 0.002F;
// refine_flow_lk: the window of each Lucas-Kanade step (full-resolution pixels),
// the damping added to its normal equations (colour [0, 1] per pixel, squared),
// the largest correction one step makes (pixels).
constexpr int kLkWindow = 15;
constexpr double kLkDamping = 1e-4;
constexpr double kLkMaxStep = 0.5;
// A step is kept where it lowers the window's colour-mean |difference| by more than
// this (1/8 of a code value): below it the step fits noise, not motion (still,
// noisy backgrounds: the training videos' movie and speedway lost up to 0.06 dB
// without it).
constexpr float kLkMargin = 0.0005F;
// The DIS flow prior (dis_flows, candidate_wins): OpenCV's medium preset, whose
// patches are matched by default down to the 1/2 level (finest scale 1,
// kDisDefaultFinestScale), the level the prior is used at; taken where it matches the
// blurred 1/2 level better by kDisMargin over the window. Matching down to full
// resolution (finest scale 0, set_dis_finest_scale) scored 0.056 dB more on the six
// clips for 4x DIS's time (149 against 37 ms per pair of 640x360 frames on one
// core): models/README.md.
// Below kDisMinSide pixels a side the prior is skipped (DIS's 8x8 patches need room).
constexpr float kDisMargin = 0.003F;
constexpr int64_t kDisMinSide = 32;
constexpr int cost_channels(int r) { return (2 * r + 1) * (2 * r + 1); }
// Input channels of each refinement block: the level inputs plus its cost volume.
constexpr int kIn8 = kLevelIn + cost_channels(kR8);
constexpr int kIn4 = kLevelIn + cost_channels(kR4);
constexpr int kIn2 = kLevelIn + cost_channels(kR2);

nn::Sequential flow_block(int in, int c, int layers, int out = 5) {
  nn::Sequential s;
  s->push_back(nn::Conv2d(nn::Conv2dOptions(in, c, /*kernel_size=*/3).padding(1)));
  s->push_back(nn::PReLU(nn::PReLUOptions().num_parameters(c)));
  for (int i = 0; i < layers; ++i) {
    s->push_back(nn::Conv2d(nn::Conv2dOptions(c, c, /*kernel_size=*/3).padding(1)));
    s->push_back(nn::PReLU(nn::PReLUOptions().num_parameters(c)));
  }
  s->push_back(nn::Conv2d(nn::Conv2dOptions(c, out, /*kernel_size=*/3).padding(1)));
  return s;
}

torch::Tensor resize(const torch::Tensor& x, int64_t h, int64_t w) {
  return F::interpolate(
      x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
}

bool fast_cpu_path(const torch::Tensor& x);

// 2x2 mean of a contiguous float [N, C, H, W] (H, W even), summed in avg_pool2d's
// order: one pass, no temporaries (the pyramid of a 640x368 frame took 6-7 ms
// through avg_pool2d, about 1 here).
torch::Tensor downsample2_cpu(const torch::Tensor& x) {
  const int64_t planes = x.size(0) * x.size(1);
  const int64_t h = x.size(2);
  const int64_t w = x.size(3);
  torch::Tensor out = torch::empty({x.size(0), x.size(1), h / 2, w / 2}, x.options());
  const float* __restrict src = x.data_ptr<float>();
  float* __restrict dst = out.data_ptr<float>();
  const int64_t oh = h / 2;
  const int64_t ow = w / 2;
  at::parallel_for(0, planes * oh, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t plane = r / oh;
      const int64_t y = r % oh;
      const float* a = src + (plane * h + 2 * y) * w;
      const float* b = a + w;
      float* o = dst + r * ow;
      for (int64_t x2 = 0; x2 < ow; ++x2) {
        o[x2] = (((a[2 * x2] + a[2 * x2 + 1]) + b[2 * x2]) + b[2 * x2 + 1]) / 4.0F;
      }
    }
  });
  return out;
}

torch::Tensor downsample(const torch::Tensor& x, int f) {
  if (f == 2 && fast_cpu_path(x) && x.is_contiguous() && x.size(2) % 2 == 0 && x.size(3) % 2 == 0) {
    return downsample2_cpu(x);
  }
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(f).stride(f));
}

// Average-pooled pyramid: index k holds 1/2^(k+1).
std::array<torch::Tensor, 4> levels(const torch::Tensor& x) {
  std::array<torch::Tensor, 4> p;
  p[0] = downsample(x, 2);
  for (std::size_t k = 1; k < p.size(); ++k) {
    p[k] = downsample(p[k - 1], 2);
  }
  return p;
}

// The global fit ends on 1/4, or on 1/2 where 1/4 has fewer pixels than this: on
// a 176x144 clip (1/4 is 44x36) the fit ending on 1/4 was off by about 0.3 px.
constexpr int64_t kMinFitPixels = 64 * 64;

// Global (affine) motion I1 -> I0 from the pyramids of I0 and I1: fitted on 1/16,
// 1/8 and 1/4, and on 1/2 for small frames.
torch::Tensor fit_global(const std::array<torch::Tensor, 4>& a, const std::array<torch::Tensor, 4>& b) {
  std::vector<torch::Tensor> pa{a[3], a[2], a[1]};
  std::vector<torch::Tensor> pb{b[3], b[2], b[1]};
  if (a[1].size(2) * a[1].size(3) < kMinFitPixels) {
    pa.push_back(a[0]);
    pb.push_back(b[0]);
  }
  return global_motion(pa, pb);
}

// Normalised coordinates (align_corners=true) of an h x w grid: [1, h, w] each.
std::pair<torch::Tensor, torch::Tensor> unit_grid(int64_t h, int64_t w, const torch::TensorOptions& opts) {
  return {torch::linspace(-1.0, 1.0, w, opts).view({1, 1, w}).expand({1, h, w}),
          torch::linspace(-1.0, 1.0, h, opts).view({1, h, 1}).expand({1, h, w})};
}

// The affine displacement theta [N, 6] evaluated on an h x w grid, in that grid's
// pixels: [N, 2, h, w].
torch::Tensor affine_flow(const torch::Tensor& theta, int64_t h, int64_t w) {
  const auto [xs, ys] = unit_grid(h, w, theta.options());
  auto c = [&](int i) { return theta.select(1, i).view({-1, 1, 1}); };
  const torch::Tensor ux = c(0) * xs + c(1) * ys + c(2);
  const torch::Tensor uy = c(3) * xs + c(4) * ys + c(5);
  return torch::stack({ux * (static_cast<double>(w - 1) / 2.0), uy * (static_cast<double>(h - 1) / 2.0)}, 1);
}

// The same as cost_volume's tensor expression, in one pass over the pixels with
// no temporaries (inference on the CPU, where it runs 123 times per frame).
torch::Tensor cost_volume_cpu(const torch::Tensor& a_in, const torch::Tensor& b_in, int r) {
  const torch::Tensor a = a_in.contiguous();
  const torch::Tensor b = b_in.contiguous();
  const int64_t n = a.size(0);
  const int64_t h = a.size(2);
  const int64_t w = a.size(3);
  const int64_t side = 2 * r + 1;
  torch::Tensor out = torch::empty({n, side * side, h, w}, a.options());
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* po = out.data_ptr<float>();
  const int64_t plane = h * w;
  at::parallel_for(0, n * h, 8, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t img = row / h;
      const int64_t y = row % h;
      const float* b0 = pb + img * 3 * plane + y * w;
      const float* b1 = b0 + plane;
      const float* b2 = b1 + plane;
      for (int64_t dy = -r; dy <= r; ++dy) {
        const int64_t yy = std::clamp<int64_t>(y + dy, 0, h - 1);
        const float* a0 = pa + img * 3 * plane + yy * w;
        const float* a1 = a0 + plane;
        const float* a2 = a1 + plane;
        for (int64_t dx = -r; dx <= r; ++dx) {
          float* o = po + (img * side * side + (dy + r) * side + (dx + r)) * plane + y * w;
          auto cost = [&](int64_t xa, int64_t x) {
            return (std::abs(a0[xa] - b0[x]) + std::abs(a1[xa] - b1[x]) + std::abs(a2[xa] - b2[x])) *
                   static_cast<float>(kCostScale / 3.0);
          };
          // Columns whose shifted sample is inside the row need no clamping (and vectorise).
          const int64_t lo = std::clamp<int64_t>(-dx, 0, w);
          const int64_t hi = std::clamp<int64_t>(w - dx, lo, w);
          for (int64_t x = 0; x < lo; ++x) {
            o[x] = cost(std::clamp<int64_t>(x + dx, 0, w - 1), x);
          }
          for (int64_t x = lo; x < hi; ++x) {
            o[x] = cost(x + dx, x);
          }
          for (int64_t x = hi; x < w; ++x) {
            o[x] = cost(std::clamp<int64_t>(x + dx, 0, w - 1), x);
          }
        }
      }
    }
  });
  return out;
}

// Inference on the CPU (no autograd, float): the fused loops below replace chains
// of tensor operations that each make a full pass over full-resolution images.
bool fast_cpu_path(const torch::Tensor& x) {
  return !torch::GradMode::is_enabled() && x.device().is_cpu() && x.scalar_type() == torch::kFloat;
}

// PReLU in place, in one pass, in either memory format (the library's own is
// several times slower on channels-last tensors, which the convolutions produce
// on the CPU, and allocates a new full-resolution output).
void prelu_cpu_(torch::Tensor& x, const torch::Tensor& weight) {
  const bool channels_last = x.is_contiguous(at::MemoryFormat::ChannelsLast);
  if (!channels_last && !x.is_contiguous()) {
    x = x.contiguous();
  }
  const torch::Tensor a_t = weight.contiguous();
  const int64_t c = x.size(1);
  const int64_t plane = x.size(2) * x.size(3);
  const float* __restrict a = a_t.data_ptr<float>();
  float* __restrict px = x.data_ptr<float>();
  // Branch-free (max + a min), so that the loops vectorise.
  if (channels_last) {
    at::parallel_for(0, x.size(0) * plane, 2048, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t k = 0; k < c; ++k) {
          const float v = px[i * c + k];
          px[i * c + k] = std::max(v, 0.0F) + a[k] * std::min(v, 0.0F);
        }
      }
    });
  } else {
    at::parallel_for(0, x.size(0) * c, 1, [&](int64_t begin, int64_t end) {
      for (int64_t j = begin; j < end; ++j) {
        const float s = a[j % c];
        for (int64_t i = j * plane; i < (j + 1) * plane; ++i) {
          px[i] = std::max(px[i], 0.0F) + s * std::min(px[i], 0.0F);
        }
      }
    });
  }
}

// PReLU in place on a channels-last bfloat16 tensor (the low-precision path of
// run_block): each value widened to float, rounded back to nearest even.
void prelu_bf16_(torch::Tensor& x, const torch::Tensor& weight) {
  if (!x.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    x = x.contiguous(at::MemoryFormat::ChannelsLast);
  }
  const torch::Tensor a_t = weight.contiguous();
  const int64_t c = x.size(1);
  const int64_t pixels = x.size(0) * x.size(2) * x.size(3);
  const float* __restrict a = a_t.data_ptr<float>();
  auto* __restrict px = reinterpret_cast<uint16_t*>(x.data_ptr<at::BFloat16>());
  at::parallel_for(0, pixels, 2048, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t k = 0; k < c; ++k) {
        uint32_t bits = static_cast<uint32_t>(px[i * c + k]) << 16;
        float v = 0.0F;
        std::memcpy(&v, &bits, sizeof v);
        v = std::max(v, 0.0F) + a[k] * std::min(v, 0.0F);
        std::memcpy(&bits, &v, sizeof v);
        bits += 0x7FFFU + ((bits >> 16) & 1U);
        px[i * c + k] = static_cast<uint16_t>(bits >> 16);
      }
    }
  });
}

// A conv/PReLU stack: the module's own forward, or layer by layer with prelu_cpu_ and
// oneDNN; with `lowp` (FrameGeneratorImpl::prepare_cpu_inference) the convolutions
// run in bfloat16 (float accumulation) and the block returns float.
torch::Tensor run_block(nn::Sequential& s, const LowPrecisionWeights* lowp, torch::Tensor x) {
  if (!fast_cpu_path(x)) {
    return s->forward(x);
  }
  for (const auto& m : s->children()) {
    if (const auto* p = m->as<nn::PReLU>()) {
      // x is the previous convolution's output
      if (x.scalar_type() == torch::kBFloat16) {
        prelu_bf16_(x, p->weight);
      } else {
        prelu_cpu_(x, p->weight);
      }
    } else if (auto* c = m->as<nn::Conv2d>(); at::hasMKLDNN()) {
      // oneDNN directly: ATen sends inputs under 20480 values (the 1/16 block of a
      // 640x360 frame) to a fallback that was 20x slower here. All convolutions
      // here are 3x3, stride 1, padding 1.
      x = lowp != nullptr ? conv3x3_bf16(*lowp, *c, x)
                          : at::mkldnn_convolution(x, c->weight, c->bias, {1, 1}, {1, 1}, {1, 1}, 1);
    } else {
      x = c->forward(x);
    }
  }
  return x.scalar_type() == torch::kFloat ? x : x.to(torch::kFloat);
}

// grid_sample (bilinear, border padding, align_corners=true) of the three h x w
// planes at img, at pixel (x, y). Written so that a NaN coordinate lands on 0,
// never outside the image.
inline void sample3(const float* img, int64_t h, int64_t w, float x, float y, float out[3]) {
  x = x > 0.0F ? std::min(x, static_cast<float>(w - 1)) : 0.0F;
  y = y > 0.0F ? std::min(y, static_cast<float>(h - 1)) : 0.0F;
  const auto x0 = static_cast<int64_t>(x);  // x, y >= 0: truncation is floor
  const auto y0 = static_cast<int64_t>(y);
  const float tx = x - static_cast<float>(x0);
  const float ty = y - static_cast<float>(y0);
  const int64_t x1 = std::min(x0 + 1, w - 1);
  const int64_t y1 = std::min(y0 + 1, h - 1);
  const int64_t plane = h * w;
  for (int c = 0; c < 3; ++c) {
    const float* p = img + c * plane;
    out[c] = (1.0F - ty) * ((1.0F - tx) * p[y0 * w + x0] + tx * p[y0 * w + x1]) +
             ty * ((1.0F - tx) * p[y1 * w + x0] + tx * p[y1 * w + x1]);
  }
}

// grid_sample's bicubic sampling (Keys, a = -0.75; border padding, align_corners=
// true) of the three h x w planes at img, at pixel (x, y): the coordinate is not
// clamped, each of the 4 x 4 taps is. A NaN coordinate lands on the top-left
// corner, never outside the image.
inline void sample3_bicubic(const float* img, int64_t h, int64_t w, float x, float y, float out[3]) {
  constexpr float kA = -0.75F;
  // Beyond 2 pixels outside, every tap is already clamped to the border.
  x = x > -2.0F ? std::min(x, static_cast<float>(w + 1)) : -2.0F;
  y = y > -2.0F ? std::min(y, static_cast<float>(h + 1)) : -2.0F;
  const float fx = std::floor(x);
  const float fy = std::floor(y);
  auto weights = [](float t, float k[4]) {
    // Keys' kernel at distances 1 + t, t, 1 - t, 2 - t.
    const float t1 = t + 1.0F;
    const float t2 = 1.0F - t;
    const float t3 = 2.0F - t;
    k[0] = ((kA * t1 - 5.0F * kA) * t1 + 8.0F * kA) * t1 - 4.0F * kA;
    k[1] = ((kA + 2.0F) * t - (kA + 3.0F)) * t * t + 1.0F;
    k[2] = ((kA + 2.0F) * t2 - (kA + 3.0F)) * t2 * t2 + 1.0F;
    k[3] = ((kA * t3 - 5.0F * kA) * t3 + 8.0F * kA) * t3 - 4.0F * kA;
  };
  float wx[4];
  float wy[4];
  weights(x - fx, wx);
  weights(y - fy, wy);
  int64_t xs[4];
  int64_t ys[4];
  for (int k = 0; k < 4; ++k) {
    xs[k] = std::clamp<int64_t>(static_cast<int64_t>(fx) - 1 + k, 0, w - 1);
    ys[k] = std::clamp<int64_t>(static_cast<int64_t>(fy) - 1 + k, 0, h - 1);
  }
  const int64_t plane = h * w;
  for (int c = 0; c < 3; ++c) {
    const float* p = img + c * plane;
    float acc = 0.0F;
    for (int j = 0; j < 4; ++j) {
      const float* r = p + ys[j] * w;
      acc += wy[j] * (wx[0] * r[xs[0]] + wx[1] * r[xs[1]] + wx[2] * r[xs[2]] + wx[3] * r[xs[3]]);
    }
    out[c] = acc;
  }
}

float sigmoidf(float v) { return 1.0F / (1.0F + std::exp(-v)); }

// The full-resolution stage of FrameGeneratorImpl::forward for inference on the
// CPU, in two fused passes around the refinement convolutions: upsample the
// half-resolution flows (x2, bilinear, align_corners=false) and mask, warp both
// inputs (bilinear, border), blend; then apply the mask correction and residual,
// and keep_unchanged. Same values as the tensor expressions (float rounding aside),
// without their full-resolution temporaries.
torch::Tensor full_resolution_cpu(const torch::Tensor& i0, const torch::Tensor& i1, const torch::Tensor& flow_half,
                                  const torch::Tensor& mask_half, const torch::Tensor& t, bool extrapolate,
                                  bool bicubic, nn::Sequential& refine, const LowPrecisionWeights* lowp) {
  const torch::Tensor a = i0.contiguous();
  const torch::Tensor b = i1.contiguous();
  const torch::Tensor f = flow_half.contiguous();
  const torch::Tensor mh = mask_half.contiguous();
  const int64_t n = a.size(0);
  const int64_t h = a.size(2);
  const int64_t w = a.size(3);
  const int64_t hh = f.size(2);
  const int64_t hw = f.size(3);
  const int64_t plane = h * w;
  const int64_t hplane = hh * hw;
  // The refinement input (both warped inputs and their blend), channels last: each
  // pixel's nine values together, as the convolutions read them.
  torch::Tensor x9 = torch::empty({n, 9, h, w}, a.options().memory_format(at::MemoryFormat::ChannelsLast));
  torch::Tensor logit = torch::empty({n, h, w}, a.options());
  torch::Tensor change = torch::empty({n, h, w}, a.options());  // max over colours of |I1 - I0|
  const torch::Tensor times = t.to(torch::kFloat).contiguous();
  float* px9 = x9.data_ptr<float>();
  float* pl = logit.data_ptr<float>();
  float* pc = change.data_ptr<float>();
  const float* pt = times.data_ptr<float>();
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  const float* pf = f.data_ptr<float>();
  const float* pm = mh.data_ptr<float>();
  // upsample_bilinear2d's source index for a x2 upsample (align_corners=false).
  auto source = [](int64_t dst, int64_t in_size, int64_t& i0_out, int64_t& i1_out, float& lambda) {
    const float src = std::max(0.0F, 0.5F * (static_cast<float>(dst) + 0.5F) - 0.5F);
    i0_out = static_cast<int64_t>(src);
    i1_out = i0_out + (i0_out < in_size - 1 ? 1 : 0);
    lambda = src - static_cast<float>(i0_out);
  };
  auto sample = [&](const float* img, float x, float y, float out[3]) {
    if (bicubic) {
      sample3_bicubic(img, h, w, x, y, out);
    } else {
      sample3(img, h, w, x, y, out);
    }
  };
  at::parallel_for(0, n * h, 4, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t img = row / h;
      const int64_t y = row % h;
      int64_t ya = 0;
      int64_t yb = 0;
      float ly = 0;
      source(y, hh, ya, yb, ly);
      const float* fimg = pf + img * 4 * hplane;
      const float* mimg = pm + img * hplane;
      const float* aimg = pa + img * 3 * plane;
      const float* bimg = pb + img * 3 * plane;
      for (int64_t x = 0; x < w; ++x) {
        int64_t xa = 0;
        int64_t xb = 0;
        float lx = 0;
        source(x, hw, xa, xb, lx);
        auto up = [&](const float* p) {
          return (1.0F - ly) * ((1.0F - lx) * p[ya * hw + xa] + lx * p[ya * hw + xb]) +
                 ly * ((1.0F - lx) * p[yb * hw + xa] + lx * p[yb * hw + xb]);
        };
        const float fx = static_cast<float>(x);
        const float fy = static_cast<float>(y);
        float* o = px9 + (row * w + x) * 9;
        sample(aimg, fx + 2.0F * up(fimg), fy + 2.0F * up(fimg + hplane), o);
        sample(bimg, fx + 2.0F * up(fimg + 2 * hplane), fy + 2.0F * up(fimg + 3 * hplane), o + 3);
        const float m = up(mimg);
        pl[row * w + x] = m;
        float d = 0.0F;
        for (int c = 0; c < 3; ++c) {
          d = std::max(d, std::abs(bimg[c * plane + y * w + x] - aimg[c * plane + y * w + x]));
        }
        pc[row * w + x] = d;
        const float m0 = sigmoidf(m);
        for (int c = 0; c < 3; ++c) {
          o[6 + c] = m0 * o[c] + (1.0F - m0) * o[3 + c];
        }
      }
    }
  });
  const torch::Tensor r = run_block(refine, lowp, x9).contiguous(at::MemoryFormat::ChannelsLast);
  torch::Tensor out = torch::empty({n, 3, h, w}, a.options());
  const float* pr = r.data_ptr<float>();
  float* po = out.data_ptr<float>();
  at::parallel_for(0, n * h, 4, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t img = row / h;
      const int64_t y = row % h;
      float* oimg = po + img * 3 * plane + y * w;
      const float* aimg = pa + img * 3 * plane + y * w;
      const float* bimg = pb + img * 3 * plane + y * w;
      const float* cimg = pc + img * plane;
      const float* fimg = pf + img * 4 * hplane + (y / 2) * hw;  // nearest half-resolution row
      const float ti = pt[img];
      const int64_t y0 = std::max<int64_t>(y - 1, 0);
      const int64_t y1 = std::min<int64_t>(y + 1, h - 1);
      for (int64_t x = 0; x < w; ++x) {
        const int64_t i = row * w + x;
        // keep_unchanged: the 3x3 neighbourhood's change, and the flows' lengths.
        float d = 0.0F;
        for (int64_t yy = y0; yy <= y1; ++yy) {
          for (int64_t xx = std::max<int64_t>(x - 1, 0); xx <= std::min<int64_t>(x + 1, w - 1); ++xx) {
            d = std::max(d, cimg[yy * w + xx]);
          }
        }
        bool keep = d <= kUnchanged;
        for (int k = extrapolate ? 1 : 0; keep && k < 2; ++k) {
          const float u = fimg[(2 * k) * hplane + x / 2];
          const float v = fimg[(2 * k + 1) * hplane + x / 2];
          keep = std::sqrt(u * u + v * v) * 2.0F <= kStill;
        }
        if (keep) {
          for (int c = 0; c < 3; ++c) {
            const float a0 = aimg[c * plane + x];
            const float b0 = bimg[c * plane + x];
            oimg[c * plane + x] = extrapolate ? b0 : a0 * (1.0F - ti) + b0 * ti;
          }
          continue;
        }
        const float* rr = pr + i * 4;
        const float* o = px9 + i * 9;
        const float m = sigmoidf(pl[i] + rr[3]);
        for (int c = 0; c < 3; ++c) {
          oimg[c * plane + x] = std::clamp(m * o[c] + (1.0F - m) * o[3 + c] + rr[c], 0.0F, 1.0F);
        }
      }
    }
  });
  return out;
}

// Binomial 3x3 blur per channel (replicate border). flow_search matches blurred
// images: matching sharp ones favours candidates whose total displacement is a
// whole pixel, where bilinear sampling does not soften the texture (on Vid4 city's
// aliased facades that bias chose the wrong period and cost 0.9 dB).
torch::Tensor blur3(const torch::Tensor& x) {
  if (fast_cpu_path(x) && x.is_contiguous() && x.size(2) >= 2 && x.size(3) >= 2) {
    // One pass on the CPU (a grouped convolution of a padded copy took ~2 ms per
    // 1/2-level image here); the same weights, summed in another order.
    const int64_t planes = x.size(0) * x.size(1);
    const int64_t h = x.size(2);
    const int64_t w = x.size(3);
    torch::Tensor out = torch::empty_like(x);
    const float* __restrict src = x.data_ptr<float>();
    float* __restrict dst = out.data_ptr<float>();
    at::parallel_for(0, planes * h, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t plane = r / h;
        const int64_t y = r % h;
        const float* c = src + (plane * h + y) * w;
        const float* u = src + (plane * h + std::max<int64_t>(y - 1, 0)) * w;
        const float* d = src + (plane * h + std::min<int64_t>(y + 1, h - 1)) * w;
        float* o = dst + r * w;
        auto at = [&](int64_t x0, int64_t xm, int64_t xp) {
          return 0.0625F * ((u[xm] + u[xp]) + (d[xm] + d[xp])) + 0.125F * ((u[x0] + d[x0]) + (c[xm] + c[xp])) +
                 0.25F * c[x0];
        };
        o[0] = at(0, 0, 1);
        for (int64_t x0 = 1; x0 < w - 1; ++x0) {
          o[x0] = at(x0, x0 - 1, x0 + 1);
        }
        o[w - 1] = at(w - 1, w - 2, w - 1);
      }
    });
    return out;
  }
  const torch::Tensor k1 = torch::tensor({0.25F, 0.5F, 0.25F}, x.options());
  const torch::Tensor k = (k1.view({3, 1}) * k1.view({1, 3})).view({1, 1, 3, 3}).repeat({x.size(1), 1, 1, 1});
  return F::conv2d(F::pad(x, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate)), k,
                   F::Conv2dFuncOptions().groups(x.size(1)));
}

// flow_search's candidate loop on the CPU, fused: for each candidate, one pass over
// the rows (shift both warped images, colour-mean |difference|, horizontal box sum)
// and one down the columns (vertical box sum, penalty, running minimum). A
// candidate shifts a whole image by a constant, so the bilinear weights are the
// same for every interior pixel and the loops vectorise.
// Returns what search_level does: [N, 4, H, W] (d, its cost, the cost of d = 0).
torch::Tensor flow_search_cpu(const torch::Tensor& wa_in, const torch::Tensor& wb_in, const torch::Tensor& t, int radius,
                              float penalty_per_pixel) {
  const torch::Tensor wa = wa_in.contiguous();
  const torch::Tensor wb = wb_in.contiguous();
  const int64_t n = wa.size(0);
  const int64_t h = wa.size(2);
  const int64_t w = wa.size(3);
  const int64_t plane = h * w;
  constexpr int64_t r = kSearchWindow / 2;
  const torch::Tensor times = t.to(torch::kFloat).contiguous();
  torch::Tensor out = torch::zeros({n, 4, h, w}, wa.options());
  // Reciprocal window sizes (count_include_pad=false, as avg_pool2d).
  auto inverse_counts = [](int64_t size) {
    std::vector<float> v(static_cast<std::size_t>(size));
    for (int64_t i = 0; i < size; ++i) {
      v[static_cast<std::size_t>(i)] =
          1.0F / static_cast<float>(std::min(i + r, size - 1) - std::max<int64_t>(i - r, 0) + 1);
    }
    return v;
  };
  const std::vector<float> inv_w = inverse_counts(w);
  const std::vector<float> inv_h = inverse_counts(h);
  // grid_sample's bilinear sampling with the coordinate clamped to the image
  // (border, align_corners=true) is separable: each candidate's shift is applied
  // along x to whole planes (once per column of candidates), then along y per row.
  // shift_x: the 3 planes of img sampled at x + sx.
  auto shift_x = [&](const float* img, float sx, float* dst) {
    const auto ox = static_cast<int64_t>(std::floor(sx));
    const float tx = sx - static_cast<float>(ox);
    // Columns whose two samples are inside the row: x + ox >= 0 and x + ox + 1 <= w - 1.
    const int64_t lo = std::clamp<int64_t>(-ox, 0, w);
    const int64_t hi = std::clamp<int64_t>(w - 1 - ox, lo, w);
    for (int64_t y = 0; y < 3 * h; ++y) {
      const float* __restrict p = img + y * w;
      float* __restrict d = dst + y * w;
      auto edge = [&](int64_t x) {
        const float xc = std::clamp(static_cast<float>(x) + sx, 0.0F, static_cast<float>(w - 1));
        const auto x0 = static_cast<int64_t>(xc);
        const float fx = xc - static_cast<float>(x0);
        d[x] = (1.0F - fx) * p[x0] + fx * p[std::min(x0 + 1, w - 1)];
      };
      for (int64_t x = 0; x < lo; ++x) {
        edge(x);
      }
      for (int64_t x = lo; x < hi; ++x) {
        d[x] = (1.0F - tx) * p[x + ox] + tx * p[x + ox + 1];
      }
      for (int64_t x = hi; x < w; ++x) {
        edge(x);
      }
    }
  };
  // The rows (clamped) and weight that sample row y + sy.
  struct RowPair {
    int64_t y0;
    int64_t y1;
    float ty;
  };
  auto rows_at = [&](int64_t y, float sy) {
    const float yc = std::clamp(static_cast<float>(y) + sy, 0.0F, static_cast<float>(h - 1));
    const auto y0 = static_cast<int64_t>(yc);
    return RowPair{y0, std::min(y0 + 1, h - 1), yc - static_cast<float>(y0)};
  };
  const int kSide = 2 * radius + 1;
  // Each thread takes a run of candidate columns (dx) and keeps its own minimum and
  // the index (in the tensor version's scan order, dy major) of the candidate that
  // gave it; a tie goes to the lower index, so merging the runs gives the choice of
  // one scan in that order.
  struct Run {
    std::vector<float> best;
    std::vector<int32_t> index;
  };
  for (int64_t img = 0; img < n; ++img) {
    const float ti = times.data_ptr<float>()[img];
    const float* a = wa.data_ptr<float>() + img * 3 * plane;
    const float* b = wb.data_ptr<float>() + img * 3 * plane;
    std::vector<float> cost0(static_cast<std::size_t>(plane));
    std::vector<Run> runs;
    std::mutex runs_mutex;
    at::parallel_for(0, kSide, 1, [&](int64_t begin, int64_t end) {
      Run run;
      run.best.assign(static_cast<std::size_t>(plane), std::numeric_limits<float>::infinity());
      run.index.assign(static_cast<std::size_t>(plane), 0);
      static_assert(kSearchWindow == 15, "the horizontal box sum below adds 8 + 4 + 2 + 1");
      const int64_t padded = w + 2 * r;
      std::vector<float> buffers(static_cast<std::size_t>(7 * plane + w + 4 * padded), 0.0F);
      float* ha = buffers.data();  // I0's view, shifted along x
      float* hb = ha + 3 * plane;  // I1's view
      float* hsum = hb + 3 * plane;
      float* col = hsum + plane;
      float* c = col + w;  // costs of one row at [r, r + w), zeros around
      float* s2 = c + padded;
      float* s4 = s2 + padded;
      float* s8 = s4 + padded;
      for (int64_t ii = begin; ii < end; ++ii) {
        const auto dx = static_cast<float>(ii - radius);
        shift_x(a, -ti * dx, ha);
        shift_x(b, (1.0F - ti) * dx, hb);
        for (int jj = 0; jj < kSide; ++jj) {
          const auto dy = static_cast<float>(jj - radius);
          const auto k = static_cast<int32_t>(jj * kSide + ii);
          const float penalty = penalty_per_pixel * std::sqrt(dx * dx + dy * dy);
          // Rows: the shift along y, the colour-mean |difference|, horizontal box sums.
          for (int64_t y = 0; y < h; ++y) {
            const RowPair ra = rows_at(y, -ti * dy);
            const RowPair rb = rows_at(y, (1.0F - ti) * dy);
            for (int64_t ch = 0; ch < 3; ++ch) {
              const float* __restrict a0 = ha + ch * plane + ra.y0 * w;
              const float* __restrict a1 = ha + ch * plane + ra.y1 * w;
              const float* __restrict b0 = hb + ch * plane + rb.y0 * w;
              const float* __restrict b1 = hb + ch * plane + rb.y1 * w;
              for (int64_t x = 0; x < w; ++x) {
                const float d =
                    std::abs(((1.0F - ra.ty) * a0[x] + ra.ty * a1[x]) - ((1.0F - rb.ty) * b0[x] + rb.ty * b1[x]));
                c[r + x] = ch == 0 ? d : c[r + x] + d;
              }
            }
            // Horizontal box sums of 2r + 1 = 15 (c has r zeros either side): sums
            // of 2, 4 and 8 neighbours, then 8 + 4 + 2 + 1 (a running sum would be
            // one long dependency chain, this vectorises).
            for (int64_t x = 0; x + 1 < w + 2 * r; ++x) {
              s2[x] = c[x] + c[x + 1];
            }
            for (int64_t x = 0; x + 3 < w + 2 * r; ++x) {
              s4[x] = s2[x] + s2[x + 2];
            }
            for (int64_t x = 0; x + 7 < w + 2 * r; ++x) {
              s8[x] = s4[x] + s4[x + 4];
            }
            float* __restrict hs = hsum + y * w;
            for (int64_t x = 0; x < w; ++x) {
              hs[x] = (s8[x] + s4[x + 8] + s2[x + 12] + c[x + 14]) * (1.0F / 3.0F) * inv_w[static_cast<std::size_t>(x)];
            }
          }
          // Columns: vertical box sums, penalty, running minimum (branch-free).
          std::fill(col, col + w, 0.0F);
          for (int64_t y = 0; y <= std::min(r - 1, h - 1); ++y) {
            for (int64_t x = 0; x < w; ++x) {
              col[x] += hsum[y * w + x];
            }
          }
          for (int64_t y = 0; y < h; ++y) {
            if (y + r < h) {
              const float* add = hsum + (y + r) * w;
              for (int64_t x = 0; x < w; ++x) {
                col[x] += add[x];
              }
            }
            const float inv = inv_h[static_cast<std::size_t>(y)];
            float* __restrict bb = run.best.data() + y * w;
            int32_t* __restrict bi = run.index.data() + y * w;
            if (dx == 0.0F && dy == 0.0F) {
              for (int64_t x = 0; x < w; ++x) {
                cost0[static_cast<std::size_t>(y * w + x)] = col[x] * inv;
              }
            }
            for (int64_t x = 0; x < w; ++x) {
              const float v = col[x] * inv + penalty;
              const bool better = (v < bb[x]) | ((v == bb[x]) & (k < bi[x]));
              bb[x] = better ? v : bb[x];
              bi[x] = better ? k : bi[x];
            }
            if (y - r >= 0) {
              const float* sub = hsum + (y - r) * w;
              for (int64_t x = 0; x < w; ++x) {
                col[x] -= sub[x];
              }
            }
          }
        }
      }
      const std::lock_guard<std::mutex> lock(runs_mutex);
      runs.push_back(std::move(run));
    });
    float* dx_out = out.data_ptr<float>() + img * 4 * plane;
    float* dy_out = dx_out + plane;
    float* best_out = dy_out + plane;
    float* cost0_out = best_out + plane;
    for (int64_t p = 0; p < plane; ++p) {
      const auto q = static_cast<std::size_t>(p);
      float best = std::numeric_limits<float>::infinity();
      int32_t k = 0;
      for (const Run& run : runs) {
        if (run.best[q] < best || (run.best[q] == best && run.index[q] < k)) {
          best = run.best[q];
          k = run.index[q];
        }
      }
      // Kept only where it beats the flow as it was by the margin.
      const bool keep = best < cost0[q] - kSearchMargin;
      dx_out[p] = keep ? static_cast<float>(k % kSide - radius) : 0.0F;
      dy_out[p] = keep ? static_cast<float>(k / kSide - radius) : 0.0F;
      best_out[p] = keep ? best : cost0[q];
      cost0_out[p] = cost0[q];
    }
  }
  return out;
}

// Pixels whose 3x3 neighbourhood did not change between the two inputs (by at most
// two 8-bit code values) and where the flows are still (at most half a pixel) take
// the inputs' own values: the last frame (extrapolation) or the inputs' linear
// blend at t (interpolation), not the network's. Static backgrounds of compressed
// video are often identical from frame to frame (skipped blocks), and there the
// network's blend and residual only add error.
// (full_resolution_cpu does the same in its second pass.)
torch::Tensor keep_unchanged(const torch::Tensor& frame, const torch::Tensor& i0, const torch::Tensor& i1,
                             const torch::Tensor& flow_half, const torch::Tensor& t, bool extrapolate) {
  torch::Tensor change = (i1 - i0).abs().amax(1, true);
  change = F::max_pool2d(change, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
  const torch::Tensor f = extrapolate ? flow_half.slice(1, 2, 4) : flow_half;  // target -> I1 (and -> I0)
  const int64_t n = f.size(0);
  const torch::Tensor length = f.reshape({n, -1, 2, f.size(2), f.size(3)}).square().sum(2).sqrt() * 2.0;
  const torch::Tensor still =
      (length.amax(1, true) <= kStill).repeat_interleave(2, 2).repeat_interleave(2, 3);  // nearest, x2
  const torch::Tensor keep = (change <= kUnchanged).logical_and(still);
  const torch::Tensor value = extrapolate ? i1 : i0 * (1.0 - t) + i1 * t;
  return torch::where(keep, value, frame);
}

// The flows (target -> I0, target -> I1) with the motion I0 -> I1 changed by d:
// the target then sees I0 t d earlier along it and I1 (1 - t) d later.
torch::Tensor corrected(const torch::Tensor& flow, const torch::Tensor& d, const torch::Tensor& t) {
  const torch::Tensor tv = t.to(flow.options()).view({flow.size(0), 1, 1, 1});
  return torch::cat({flow.slice(1, 0, 2) - tv * d, flow.slice(1, 2, 4) + (1.0 - tv) * d}, 1);
}

}  // namespace

// (See the header.) This is what a small convolution stack cannot compute for
// itself: which nearby displacement makes fine, repetitive texture line up.
torch::Tensor cost_volume(const torch::Tensor& a, const torch::Tensor& b, int r) {
  if (!torch::GradMode::is_enabled() && a.device().is_cpu() && a.scalar_type() == torch::kFloat &&
      b.scalar_type() == torch::kFloat && a.size(1) == 3) {
    return cost_volume_cpu(a, b, r);
  }
  const int64_t h = a.size(2);
  const int64_t w = a.size(3);
  const torch::Tensor ap = F::pad(a, F::PadFuncOptions({r, r, r, r}).mode(torch::kReplicate));
  std::vector<torch::Tensor> c;
  c.reserve(static_cast<std::size_t>(cost_channels(r)));
  for (int dy = -r; dy <= r; ++dy) {
    for (int dx = -r; dx <= r; ++dx) {
      c.push_back((ap.slice(2, r + dy, r + dy + h).slice(3, r + dx, r + dx + w) - b).abs().mean(1, true));
    }
  }
  return torch::cat(c, 1) * kCostScale;
}

torch::Tensor global_motion(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  torch::NoGradGuard no_grad;
  const int64_t n = a.front().size(0);
  auto opts = a.front().options();
  torch::Tensor theta = torch::zeros({n, 6}, opts);
  // Translation only on the coarsest level (too few pixels for six parameters).
  const torch::Tensor translation = torch::tensor({0.0, 0.0, 1.0, 0.0, 0.0, 1.0}, opts);
  const torch::Tensor all = torch::ones({6}, opts);
  for (std::size_t k = 0; k < a.size(); ++k) {
    const torch::Tensor ga = a[k].mean(1, true);
    const torch::Tensor gb = b[k].mean(1, true);
    const int64_t h = ga.size(2);
    const int64_t w = ga.size(3);
    const auto [xs, ys] = unit_grid(h, w, opts);
    const torch::Tensor free = k == 0 ? translation : all;
    for (int it = 0; it < 4; ++it) {
      // I0 sampled at p + u(p), straight in normalised coordinates.
      auto c = [&](int i) { return theta.select(1, i).view({-1, 1, 1}); };
      const torch::Tensor grid =
          torch::stack({xs + c(0) * xs + c(1) * ys + c(2), ys + c(3) * xs + c(4) * ys + c(5)}, 3);
      const torch::Tensor wa = F::grid_sample(
          ga, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(true));
      torch::Tensor r = wa - gb;
      r = r - r.mean({1, 2, 3}, true);  // brightness changes are not motion
      // Image gradients of the warped input, per unit of normalised coordinate.
      const torch::Tensor p = F::pad(wa, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate));
      const torch::Tensor gx = (p.slice(2, 1, h + 1).slice(3, 2, w + 2) - p.slice(2, 1, h + 1).slice(3, 0, w)) *
                               (static_cast<double>(w - 1) / 4.0);
      const torch::Tensor gy = (p.slice(2, 2, h + 2).slice(3, 1, w + 1) - p.slice(2, 0, h).slice(3, 1, w + 1)) *
                               (static_cast<double>(h - 1) / 4.0);
      const torch::Tensor jx = gx.squeeze(1);
      const torch::Tensor jy = gy.squeeze(1);
      torch::Tensor j = torch::stack({jx * xs, jx * ys, jx, jy * xs, jy * ys, jy}, 1).view({n, 6, h * w});
      j = j * free.view({1, 6, 1});
      // Robust (Cauchy) weights: pixels that move on their own count less.
      const torch::Tensor rf = r.view({n, 1, h * w});
      const torch::Tensor r2 = rf.square();
      const torch::Tensor wt = 1.0 / (1.0 + r2 / (r2.mean(2, true) + 1e-6));
      const torch::Tensor jw = j * wt;
      torch::Tensor hm = torch::bmm(jw, j.transpose(1, 2));
      const torch::Tensor g = torch::bmm(jw, rf.transpose(1, 2));
      const torch::Tensor damp = hm.diagonal(0, 1, 2).sum(1).view({n, 1, 1}) * 1e-3 + 1e-6;
      hm = hm + damp * torch::eye(6, opts).unsqueeze(0);
      theta = theta - torch::linalg::solve(hm, g, /*left=*/true).squeeze(2);
    }
  }
  return theta;
}

torch::Tensor backward_warp(const torch::Tensor& img, const torch::Tensor& flow, bool bicubic) {
  const int64_t n = img.size(0);
  const int64_t h = img.size(2);
  const int64_t w = img.size(3);
  auto opts = img.options();
  torch::Tensor ys = torch::linspace(-1.0, 1.0, h, opts).view({1, h, 1}).expand({n, h, w});
  torch::Tensor xs = torch::linspace(-1.0, 1.0, w, opts).view({1, 1, w}).expand({n, h, w});
  // Pixels -> normalized coordinates (align_corners=true convention).
  torch::Tensor gx = xs + flow.select(1, 0) * (2.0 / std::max<int64_t>(w - 1, 1));
  torch::Tensor gy = ys + flow.select(1, 1) * (2.0 / std::max<int64_t>(h - 1, 1));
  torch::Tensor grid = torch::stack({gx, gy}, 3);
  if (bicubic) {
    // (GridSampleFuncOptions has no bicubic mode in this LibTorch.)
    return torch::grid_sampler(img, grid, /*interpolation_mode=bicubic*/ 2, /*padding_mode=border*/ 1,
                               /*align_corners=*/true);
  }
  return F::grid_sample(
      img, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(true));
}

namespace {

// One level of flow_search on its blurred inputs (blur3): candidates within
// +-radius pixels of this level. Returns [N, 4, H, W]: the correction d (0 where
// none beats d = 0 by the margin), its cost (that of d = 0 where none does), and
// the cost of d = 0.
torch::Tensor search_level(const torch::Tensor& a_blurred, const torch::Tensor& b_blurred, const torch::Tensor& flow,
                           const torch::Tensor& t, int radius, float penalty_per_pixel, bool allow_fused) {
  const int64_t n = flow.size(0);
  const int64_t h = flow.size(2);
  const int64_t w = flow.size(3);
  const torch::Tensor wa = backward_warp(a_blurred, flow.slice(1, 0, 2));
  const torch::Tensor wb = backward_warp(b_blurred, flow.slice(1, 2, 4));
  const torch::Tensor tv = t.to(flow.options()).view({n, 1, 1, 1});
  if (allow_fused && fast_cpu_path(wa)) {
    return flow_search_cpu(wa, wb, tv, radius, penalty_per_pixel);
  }
  const auto box = F::AvgPool2dFuncOptions(kSearchWindow).stride(1).padding(kSearchWindow / 2).count_include_pad(false);
  torch::Tensor best;
  torch::Tensor best_d;
  torch::Tensor cost0;
  for (int j = -radius; j <= radius; ++j) {
    for (int i = -radius; i <= radius; ++i) {
      const torch::Tensor d = torch::tensor({static_cast<float>(i), static_cast<float>(j)}, flow.options())
                                  .view({1, 2, 1, 1})
                                  .expand({n, 2, h, w});
      torch::Tensor c =
          (backward_warp(wa, -tv * d) - backward_warp(wb, (1.0 - tv) * d)).abs().mean(1, true);
      c = F::avg_pool2d(c, box) + penalty_per_pixel * std::sqrt(static_cast<float>(i * i + j * j));
      if (!best.defined()) {
        best = c;
        best_d = d.clone();
      } else {
        const torch::Tensor better = c < best;
        best = torch::where(better, c, best);
        best_d = torch::where(better, d, best_d);
      }
      if (i == 0 && j == 0) {
        cost0 = c;
      }
    }
  }
  const torch::Tensor keep = best < cost0 - kSearchMargin;
  return torch::cat({best_d * keep, torch::where(keep, best, cost0), cost0}, 1);
}

}  // namespace

torch::Tensor flow_search(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& flow,
                          const torch::Tensor& t, const FlowSearchRange& range, bool allow_fused) {
  torch::NoGradGuard no_grad;
  return flow_search_blurred(a, b, blur3(a), blur3(b), flow, t, range, allow_fused);
}

torch::Tensor flow_search_blurred(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& ab,
                                  const torch::Tensor& bb, const torch::Tensor& flow, const torch::Tensor& t,
                                  const FlowSearchRange& range, bool allow_fused) {
  torch::NoGradGuard no_grad;
  const int64_t h = flow.size(2);
  const int64_t w = flow.size(3);
  // Around the flows as they are: [d, best cost, cost of d = 0].
  const torch::Tensor o = search_level(ab, bb, flow, t, range.near, kSearchPenalty, allow_fused);
  torch::Tensor d = o.slice(1, 0, 2);
  if (range.coarse > 0 && h >= 2 && w >= 2) {
    // Coarse: the 1/2 level halved, the flows with it; a quarter-level pixel of
    // correction is two of this level's, and costs as much as two.
    const torch::Tensor dq =
        search_level(blur3(downsample(a, 2)), blur3(downsample(b, 2)), downsample(flow, 2) * 0.5, t, range.coarse,
                     2.0F * kSearchPenalty, allow_fused)
            .slice(1, 0, 2);
    const torch::Tensor d1 =
        F::interpolate(dq, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kNearest)) * 2.0;
    // Refined on the 1/2 level around it; its cost there, with the penalty of the
    // whole correction, decides against the near search (on the 1/4 level alone,
    // aliased texture such as Vid4 city's facades matches at the wrong period:
    // city lost 0.76 dB without this check).
    const torch::Tensor p =
        search_level(ab, bb, corrected(flow, d1, t), t, range.refine, kSearchPenalty, allow_fused);
    const torch::Tensor dp = d1 + p.slice(1, 0, 2);
    auto length = [](const torch::Tensor& v) { return v.square().sum(1, true).sqrt(); };
    const torch::Tensor cost_p = p.slice(1, 2, 3) + kSearchPenalty * (length(dp) - length(p.slice(1, 0, 2)));
    const torch::Tensor take =
        (cost_p < o.slice(1, 2, 3)).logical_and(cost_p < o.slice(1, 3, 4) - kSearchMargin);
    d = torch::where(take, dp, d);
  }
  return d;
}

namespace {

// Mean over a kLkWindow^2 window (clipped at the borders), as two 1-D passes.
torch::Tensor window_mean(const torch::Tensor& x) {
  const auto rows = F::AvgPool2dFuncOptions({1, kLkWindow}).stride(1).padding({0, kLkWindow / 2}).count_include_pad(false);
  const auto cols = F::AvgPool2dFuncOptions({kLkWindow, 1}).stride(1).padding({kLkWindow / 2, 0}).count_include_pad(false);
  return F::avg_pool2d(F::avg_pool2d(x, rows), cols);
}

// Central differences along x and y (replicated border).
std::pair<torch::Tensor, torch::Tensor> gradients(const torch::Tensor& x) {
  const int64_t h = x.size(2);
  const int64_t w = x.size(3);
  const torch::Tensor px = F::pad(x, F::PadFuncOptions({1, 1, 0, 0}).mode(torch::kReplicate));
  const torch::Tensor py = F::pad(x, F::PadFuncOptions({0, 0, 1, 1}).mode(torch::kReplicate));
  return {(px.slice(3, 2, w + 2) - px.slice(3, 0, w)) * 0.5, (py.slice(2, 2, h + 2) - py.slice(2, 0, h)) * 0.5};
}

// refine_flow_lk on the CPU, fused: per step, one pass warps both blurred images;
// one forms the five sums' terms and the residual; window means (rows, then
// columns); one solves, takes the corrected flows and warps at them; the window
// mean of the new residual; one keeps the better. Same values as the tensor
// operations (float rounding aside).
torch::Tensor refine_flow_lk_cpu(const torch::Tensor& ab_in, const torch::Tensor& bb_in, const torch::Tensor& flow_in,
                                 const torch::Tensor& t, int iterations) {
  const torch::Tensor ab = ab_in.contiguous();
  const torch::Tensor bb = bb_in.contiguous();
  const torch::Tensor times = t.to(torch::kFloat).contiguous();
  torch::Tensor flow = flow_in.contiguous().clone();
  const int64_t n = ab.size(0);
  const int64_t h = ab.size(2);
  const int64_t w = ab.size(3);
  const int64_t plane = h * w;
  const auto opts = ab.options();
  torch::Tensor warped = torch::empty({n, 6, h, w}, opts);     // wa (3), wb (3)
  torch::Tensor terms = torch::empty({n, 7, h, w}, opts);      // gx^2, gy^2, gx gy, gx r, gy r, |r|, |r'|
  torch::Tensor scratch = torch::empty({n, 7, h, w}, opts);
  torch::Tensor next = torch::empty({n, 4, h, w}, opts);
  const float* pa = ab.data_ptr<float>();
  const float* pb = bb.data_ptr<float>();
  const float* pt = times.data_ptr<float>();
  float* pf = flow.data_ptr<float>();
  float* pw = warped.data_ptr<float>();
  float* pq = terms.data_ptr<float>();
  float* ps = scratch.data_ptr<float>();
  float* pn = next.data_ptr<float>();
  // b stays where it is when its flows are zero and t = 1 (extrapolation refines
  // the motion I1 -> I0 that way): a correction moves it by (1 - t) d = 0, so it is
  // read, not sampled (a quarter of the gathers).
  const bool b_still = (times == 1.0F).all().item<bool>() && !flow.slice(1, 2, 4).any().item<bool>();
  // Both blurred images of image img at pixel (x, y) of a row, each warped by its
  // flow; f: the row's flows (4 planes apart by `plane`).
  auto sample_pair = [&](int64_t img, int64_t x, int64_t y, const float* f, float va[3], float vb[3]) {
    const auto fx = static_cast<float>(x);
    const auto fy = static_cast<float>(y);
    sample3(pa + img * 3 * plane, h, w, fx + f[x], fy + f[plane + x], va);
    if (b_still) {
      const float* p = pb + img * 3 * plane + y * w + x;
      vb[0] = p[0];
      vb[1] = p[plane];
      vb[2] = p[2 * plane];
    } else {
      sample3(pb + img * 3 * plane, h, w, fx + f[2 * plane + x], fy + f[3 * plane + x], vb);
    }
  };
  // Window means (kLkWindow, clipped at the borders) of planes [first, last) of
  // `terms`, through `scratch`: along the rows, then down the columns.
  constexpr int64_t r = kLkWindow / 2;
  auto window_means = [&](int64_t first, int64_t last) {
    const int64_t k = last - first;
    at::parallel_for(0, n * k * h, 16, [&](int64_t begin, int64_t end) {
      // The row with r zeros either side, so that the sums vectorise.
      std::vector<float> padded(static_cast<std::size_t>(w + 2 * r), 0.0F);
      for (int64_t row = begin; row < end; ++row) {
        const int64_t img = row / (k * h);
        const int64_t ch = first + (row / h) % k;
        const int64_t y = row % h;
        const float* in = pq + (img * 7 + ch) * plane + y * w;
        float* out = ps + (img * 7 + ch) * plane + y * w;
        std::copy(in, in + w, padded.begin() + r);
        const float* pp = padded.data();
        for (int64_t x = 0; x < w; ++x) {
          out[x] = 0.0F;
        }
        for (int64_t i = 0; i <= 2 * r; ++i) {
          for (int64_t x = 0; x < w; ++x) {
            out[x] += pp[x + i];
          }
        }
        for (int64_t x = 0; x < w; ++x) {
          const int64_t count = std::min<int64_t>(x + r, w - 1) - std::max<int64_t>(x - r, 0) + 1;
          out[x] /= static_cast<float>(count);
        }
      }
    });
    at::parallel_for(0, n * k * h, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t img = row / (k * h);
        const int64_t ch = first + (row / h) % k;
        const int64_t y = row % h;
        const int64_t lo = std::max<int64_t>(y - r, 0);
        const int64_t hi = std::min<int64_t>(y + r, h - 1);
        const float inv = 1.0F / static_cast<float>(hi - lo + 1);
        const float* in = ps + (img * 7 + ch) * plane;
        float* out = pq + (img * 7 + ch) * plane + y * w;
        for (int64_t x = 0; x < w; ++x) {
          out[x] = 0.0F;
        }
        for (int64_t yy = lo; yy <= hi; ++yy) {
          const float* src = in + yy * w;
          for (int64_t x = 0; x < w; ++x) {
            out[x] += src[x];
          }
        }
        for (int64_t x = 0; x < w; ++x) {
          out[x] *= inv;
        }
      }
    });
  };
  for (int it = 0; it < iterations; ++it) {
    // Both blurred images warped by the flows.
    at::parallel_for(0, n * h, 4, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t img = row / h;
        const int64_t y = row % h;
        const float* f = pf + img * 4 * plane + y * w;
        float* o = pw + img * 6 * plane + y * w;
        for (int64_t x = 0; x < w; ++x) {
          float va[3];
          float vb[3];
          sample_pair(img, x, y, f, va, vb);
          for (int c = 0; c < 3; ++c) {
            o[c * plane + x] = va[c];
            o[(3 + c) * plane + x] = vb[c];
          }
        }
      }
    });
    // The terms of the normal equations (averaged gradients by central differences,
    // replicated border) and the colour-mean |residual|.
    at::parallel_for(0, n * h, 4, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t img = row / h;
        const int64_t y = row % h;
        const int64_t ym = std::max<int64_t>(y - 1, 0);
        const int64_t yp = std::min<int64_t>(y + 1, h - 1);
        const float* wimg = pw + img * 6 * plane;
        float* q = pq + img * 7 * plane + y * w;
        for (int64_t x = 0; x < w; ++x) {
          const int64_t xm = std::max<int64_t>(x - 1, 0);
          const int64_t xp = std::min<int64_t>(x + 1, w - 1);
          float sxx = 0.0F;
          float syy = 0.0F;
          float sxy = 0.0F;
          float sxr = 0.0F;
          float syr = 0.0F;
          float sr = 0.0F;
          for (int c = 0; c < 3; ++c) {
            const float* wa = wimg + c * plane;
            const float* wb = wimg + (3 + c) * plane;
            const float gx = ((wa[y * w + xp] - wa[y * w + xm]) * 0.5F + (wb[y * w + xp] - wb[y * w + xm]) * 0.5F) * 0.5F;
            const float gy = ((wa[yp * w + x] - wa[ym * w + x]) * 0.5F + (wb[yp * w + x] - wb[ym * w + x]) * 0.5F) * 0.5F;
            const float res = wa[y * w + x] - wb[y * w + x];
            sxx += gx * gx;
            syy += gy * gy;
            sxy += gx * gy;
            sxr += gx * res;
            syr += gy * res;
            sr += std::abs(res);
          }
          q[x] = sxx;
          q[plane + x] = syy;
          q[2 * plane + x] = sxy;
          q[3 * plane + x] = sxr;
          q[4 * plane + x] = syr;
          q[5 * plane + x] = sr / 3.0F;
        }
      }
    });
    window_means(0, 6);
    // Solve for each pixel's correction, take the corrected flows, and the new
    // colour-mean |residual| at them.
    at::parallel_for(0, n * h, 4, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t img = row / h;
        const int64_t y = row % h;
        const float ti = pt[img];
        const float* q = pq + img * 7 * plane + y * w;
        const float* f = pf + img * 4 * plane + y * w;
        float* nf = pn + img * 4 * plane + y * w;
        float* after = pq + (img * 7 + 6) * plane + y * w;
        const auto damping = static_cast<float>(kLkDamping);
        const auto most = static_cast<float>(kLkMaxStep);
        for (int64_t x = 0; x < w; ++x) {
          const float sxx = q[x] + damping;
          const float syy = q[plane + x] + damping;
          const float sxy = q[2 * plane + x];
          const float sxr = q[3 * plane + x];
          const float syr = q[4 * plane + x];
          const float det = sxx * syy - sxy * sxy;
          const float dx = std::clamp((syy * sxr - sxy * syr) / det, -most, most);
          const float dy = std::clamp((sxx * syr - sxy * sxr) / det, -most, most);
          nf[x] = f[x] - ti * dx;
          nf[plane + x] = f[plane + x] - ti * dy;
          nf[2 * plane + x] = f[2 * plane + x] + (1.0F - ti) * dx;
          nf[3 * plane + x] = f[3 * plane + x] + (1.0F - ti) * dy;
          float va[3];
          float vb[3];
          sample_pair(img, x, y, nf, va, vb);
          after[x] = (std::abs(va[0] - vb[0]) + std::abs(va[1] - vb[1]) + std::abs(va[2] - vb[2])) / 3.0F;
        }
      }
    });
    window_means(6, 7);
    // Kept where the window's residual went down (by kLkMargin).
    at::parallel_for(0, n * h, 16, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t img = row / h;
        const int64_t y = row % h;
        const float* before = pq + (img * 7 + 5) * plane + y * w;
        const float* after = pq + (img * 7 + 6) * plane + y * w;
        for (int k = 0; k < 4; ++k) {
          float* f = pf + (img * 4 + k) * plane + y * w;
          const float* nf = pn + (img * 4 + k) * plane + y * w;
          for (int64_t x = 0; x < w; ++x) {
            f[x] = after[x] < before[x] - kLkMargin ? nf[x] : f[x];
          }
        }
      }
    });
  }
  return flow;
}

}  // namespace

torch::Tensor refine_flow_lk(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& flow_in,
                             const torch::Tensor& t, int iterations, bool allow_fused) {
  torch::NoGradGuard no_grad;
  const torch::Tensor ab = blur3(a);
  const torch::Tensor bb = blur3(b);
  if (allow_fused && fast_cpu_path(ab) && flow_in.scalar_type() == torch::kFloat) {
    return refine_flow_lk_cpu(ab, bb, flow_in, t, iterations);
  }
  torch::Tensor flow = flow_in;
  for (int it = 0; it < iterations; ++it) {
    const torch::Tensor wa = backward_warp(ab, flow.slice(1, 0, 2));
    const torch::Tensor wb = backward_warp(bb, flow.slice(1, 2, 4));
    // The residual's derivative with respect to the correction d: both warped
    // images' gradients, averaged (exact at t = 1/2; at convergence they agree).
    const auto [ax, ay] = gradients(wa);
    const auto [bx, by] = gradients(wb);
    const torch::Tensor gx = (ax + bx) * 0.5;
    const torch::Tensor gy = (ay + by) * 0.5;
    const torch::Tensor r = wa - wb;
    const torch::Tensor sxx = window_mean((gx * gx).sum(1, true)) + kLkDamping;
    const torch::Tensor syy = window_mean((gy * gy).sum(1, true)) + kLkDamping;
    const torch::Tensor sxy = window_mean((gx * gy).sum(1, true));
    const torch::Tensor sxr = window_mean((gx * r).sum(1, true));
    const torch::Tensor syr = window_mean((gy * r).sum(1, true));
    const torch::Tensor det = sxx * syy - sxy * sxy;
    // r(d) ~ r - g . d, so the least-squares d solves [sxx sxy; sxy syy] d = [sxr; syr].
    const torch::Tensor d = torch::cat({(syy * sxr - sxy * syr) / det, (sxx * syr - sxy * sxr) / det}, 1)
                                .clamp(-kLkMaxStep, kLkMaxStep);
    const torch::Tensor next = corrected(flow, d, t);
    // Kept only where the window's colour-mean |difference| goes down (by kLkMargin).
    const torch::Tensor before = window_mean(r.abs().mean(1, true));
    const torch::Tensor after = window_mean(
        (backward_warp(ab, next.slice(1, 0, 2)) - backward_warp(bb, next.slice(1, 2, 4))).abs().mean(1, true));
    flow = torch::where(after < before - kLkMargin, next, flow);
  }
  return flow;
}

namespace {

// select_flows: zero motion replaces the flows where it matches the blurred inputs
// better by kStillMargin over the window and the flows move by more than
// kStillMinFlow (half-resolution pixels; below it the two hardly differ and noise
// decides). Then kPropagationPasses passes over kPropagationOffsets: a pixel takes
// the flows of the pixel that far above, below, left or right of it where that
// lowers its window's matching cost and changes a flow by more than
// kPropagationMinChange pixels.
constexpr float kStillMargin = 0.002F;
constexpr float kStillMinFlow = 1.0F;
constexpr std::array<int, 4> kPropagationOffsets = {4, 8, 16, 32};
constexpr int kPropagationPasses = 2;
constexpr float kPropagationMinChange = 0.25F;

// The candidate flows of one propagation step: the flows at (x + dx, y + dy), the
// border replicated.
struct Shift {
  int dx;
  int dy;
};
std::vector<Shift> propagation_shifts() {
  std::vector<Shift> shifts;
  for (int pass = 0; pass < kPropagationPasses; ++pass) {
    for (const int o : kPropagationOffsets) {
      for (const Shift sh : {Shift{0, o}, Shift{0, -o}, Shift{o, 0}, Shift{-o, 0}}) {
        shifts.push_back(sh);
      }
    }
  }
  return shifts;
}

// Mean over the kSearchWindow^2 window clipped at the borders, of one h x w plane:
// a running sum along each row, then one down the columns.
void box_mean(const float* in, float* tmp, float* out, int64_t h, int64_t w) {
  constexpr int64_t r = kSearchWindow / 2;
  for (int64_t y = 0; y < h; ++y) {
    const float* row = in + y * w;
    float* t = tmp + y * w;
    float sum = 0.0F;
    for (int64_t x = 0; x < std::min(r, w); ++x) {
      sum += row[x];
    }
    for (int64_t x = 0; x < w; ++x) {
      if (x + r < w) {
        sum += row[x + r];
      }
      if (x - r - 1 >= 0) {
        sum -= row[x - r - 1];
      }
      const int64_t count = std::min(x + r, w - 1) - std::max<int64_t>(x - r, 0) + 1;
      t[x] = sum / static_cast<float>(count);
    }
  }
  std::vector<float> acc(static_cast<std::size_t>(w), 0.0F);
  for (int64_t y = 0; y < std::min(r, h); ++y) {
    for (int64_t x = 0; x < w; ++x) {
      acc[x] += tmp[y * w + x];
    }
  }
  for (int64_t y = 0; y < h; ++y) {
    const float* add = y + r < h ? tmp + (y + r) * w : nullptr;
    const float* sub = y - r - 1 >= 0 ? tmp + (y - r - 1) * w : nullptr;
    const float inv = 1.0F / static_cast<float>(std::min(y + r, h - 1) - std::max<int64_t>(y - r, 0) + 1);
    float* o = out + y * w;
    for (int64_t x = 0; x < w; ++x) {
      if (add != nullptr) {
        acc[x] += add[x];
      }
      if (sub != nullptr) {
        acc[x] -= sub[x];
      }
      o[x] = acc[x] * inv;
    }
  }
}

// The colour-mean |a(p + f0) - b(p + f1)| at pixel (x, y) of the planar images.
inline float match_cost(const float* a, const float* b, int64_t h, int64_t w, int64_t x, int64_t y, float f0x,
                        float f0y, float f1x, float f1y) {
  float va[3];
  float vb[3];
  sample3(a, h, w, static_cast<float>(x) + f0x, static_cast<float>(y) + f0y, va);
  sample3(b, h, w, static_cast<float>(x) + f1x, static_cast<float>(y) + f1y, vb);
  return (std::abs(va[0] - vb[0]) + std::abs(va[1] - vb[1]) + std::abs(va[2] - vb[2])) * (1.0F / 3.0F);
}

}  // namespace

torch::Tensor dis_flows(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& t, int finest_scale) {
  if (finest_scale < 0) {
    throw std::invalid_argument("dis_flows: finest_scale must be >= 0, not " + std::to_string(finest_scale));
  }
  torch::NoGradGuard no_grad;
  // Grey levels as OpenCV's RGB2GRAY weighs them, rounded to 8 bits.
  const auto grey = [](const torch::Tensor& x) {
    const torch::Tensor c = x.detach().to(torch::kCPU, torch::kFloat);
    return (c.select(1, 0) * 0.299 + c.select(1, 1) * 0.587 + c.select(1, 2) * 0.114)
        .mul_(255.0)
        .round_()
        .clamp_(0, 255)
        .to(torch::kUInt8)
        .contiguous();
  };
  const torch::Tensor ga = grey(a);
  const torch::Tensor gb = grey(b);
  const int64_t n = ga.size(0);
  const int64_t h = ga.size(1);
  const int64_t w = ga.size(2);
  const torch::Tensor tc = t.detach().to(torch::kCPU, torch::kDouble).reshape({n});
  torch::Tensor out = torch::empty({n, 4, h, w}, torch::kFloat);
  // One instance per call: it keeps per-image buffers, and calls may come from
  // several threads at once.
  const cv::Ptr<cv::DISOpticalFlow> dis = cv::DISOpticalFlow::create(cv::DISOpticalFlow::PRESET_MEDIUM);
  dis->setFinestScale(finest_scale);
  std::vector<std::array<cv::Mat, 2>> flows(static_cast<std::size_t>(n));  // F01, F10 of each item
  for (int64_t i = 0; i < n; ++i) {
    cv::Mat& f01 = flows[i][0];  // a(x) ~ b(x + f01(x))
    cv::Mat& f10 = flows[i][1];
    // An earlier item with the inputs swapped (the ensemble's reversed sample): its
    // flows, swapped. The grey levels decide, so the reuse is exact.
    for (int64_t j = 0; j < i && f01.empty(); ++j) {
      if (torch::equal(ga[i], gb[j]) && torch::equal(gb[i], ga[j])) {
        f01 = flows[j][1];
        f10 = flows[j][0];
      }
    }
    if (f01.empty()) {
      const cv::Mat ma(static_cast<int>(h), static_cast<int>(w), CV_8UC1, ga[i].data_ptr<uint8_t>());
      const cv::Mat mb(static_cast<int>(h), static_cast<int>(w), CV_8UC1, gb[i].data_ptr<uint8_t>());
      dis->calc(ma, mb, f01);
      dis->calc(mb, ma, f10);
    }
    const torch::Tensor m01 = torch::from_blob(f01.ptr<float>(), {h, w, 2}, torch::kFloat).permute({2, 0, 1});
    const torch::Tensor m10 = torch::from_blob(f10.ptr<float>(), {h, w, 2}, torch::kFloat).permute({2, 0, 1});
    // Linear motion through the target's pixel (Super SloMo's approximation).
    const double ti = tc[i].item<double>();
    out[i].slice(0, 0, 2).copy_(m01 * (-(1.0 - ti) * ti) + m10 * (ti * ti));
    out[i].slice(0, 2, 4).copy_(m01 * ((1.0 - ti) * (1.0 - ti)) + m10 * (-ti * (1.0 - ti)));
  }
  return out.to(a.device());
}

void set_dis_threads(int threads) { cv::setNumThreads(threads); }

namespace {

// candidate_wins on inputs already blurred (blur3), for a caller that uses them again.
torch::Tensor candidate_wins_blurred(const torch::Tensor& ab, const torch::Tensor& bb, const torch::Tensor& flow_in,
                                     const torch::Tensor& cand_in, float margin) {
  torch::NoGradGuard no_grad;
  const auto cpu = [](const torch::Tensor& x) { return x.detach().to(torch::kCPU, torch::kFloat).contiguous(); };
  const torch::Tensor a = cpu(ab);
  const torch::Tensor b = cpu(bb);
  const torch::Tensor flow = cpu(flow_in);
  const torch::Tensor cand = cpu(cand_in);
  const int64_t n = flow.size(0);
  const int64_t h = flow.size(2);
  const int64_t w = flow.size(3);
  const int64_t plane = h * w;
  torch::Tensor take = torch::zeros({n, 1, h, w}, torch::kBool);
  std::vector<float> cur(plane);    // matching cost of each pixel under the flows
  std::vector<float> other(plane);  // ... under the candidate's
  std::vector<float> change(plane);
  std::vector<float> tmp(plane);
  std::vector<float> best(plane);
  std::vector<float> window(plane);
  for (int64_t i = 0; i < n; ++i) {
    const float* pa = a.data_ptr<float>() + i * 3 * plane;
    const float* pb = b.data_ptr<float>() + i * 3 * plane;
    const float* f = flow.data_ptr<float>() + i * 4 * plane;
    const float* e = cand.data_ptr<float>() + i * 4 * plane;
    bool* tk = take.data_ptr<bool>() + i * plane;
    at::parallel_for(0, h, 8, [&](int64_t y0, int64_t y1) {
      for (int64_t y = y0; y < y1; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          const int64_t p = y * w + x;
          float d = 0.0F;
          for (int c = 0; c < 4; ++c) {
            d = std::max(d, std::abs(e[c * plane + p] - f[c * plane + p]));
          }
          change[p] = d;
          cur[p] = match_cost(pa, pb, h, w, x, y, f[p], f[plane + p], f[2 * plane + p], f[3 * plane + p]);
          other[p] = d > kPropagationMinChange
                         ? match_cost(pa, pb, h, w, x, y, e[p], e[plane + p], e[2 * plane + p], e[3 * plane + p])
                         : cur[p];
        }
      }
    });
    box_mean(cur.data(), tmp.data(), best.data(), h, w);
    box_mean(other.data(), tmp.data(), window.data(), h, w);
    for (int64_t p = 0; p < plane; ++p) {
      tk[p] = change[p] > kPropagationMinChange && window[p] < best[p] - margin;
    }
  }
  return take.to(flow_in.device());
}

}  // namespace

torch::Tensor candidate_wins(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& flow,
                             const torch::Tensor& cand, float margin) {
  torch::NoGradGuard no_grad;
  return candidate_wins_blurred(blur3(a.detach()), blur3(b.detach()), flow, cand, margin);
}

namespace {

torch::Tensor select_flows_cpu(const torch::Tensor& a_in, const torch::Tensor& b_in, const torch::Tensor& flow_in) {
  const torch::Tensor a = a_in.contiguous();
  const torch::Tensor b = b_in.contiguous();
  torch::Tensor flow = flow_in.contiguous().clone();
  const int64_t n = flow.size(0);
  const int64_t h = flow.size(2);
  const int64_t w = flow.size(3);
  const int64_t plane = h * w;
  const std::vector<Shift> shifts = propagation_shifts();
  std::vector<float> cur(plane);    // matching cost of each pixel under its flows
  std::vector<float> other(plane);  // ... under the candidate's
  std::vector<float> tmp(plane);
  std::vector<float> best(plane);  // the lowest window cost seen so far
  std::vector<float> window(plane);
  std::vector<float> cand(4 * plane);
  std::vector<float> change(plane);
  for (int64_t i = 0; i < n; ++i) {
    const float* pa = a.data_ptr<float>() + i * 3 * plane;
    const float* pb = b.data_ptr<float>() + i * 3 * plane;
    float* f = flow.data_ptr<float>() + i * 4 * plane;
    at::parallel_for(0, h, 8, [&](int64_t y0, int64_t y1) {
      for (int64_t y = y0; y < y1; ++y) {
        for (int64_t x = 0; x < w; ++x) {
          const int64_t p = y * w + x;
          cur[p] = match_cost(pa, pb, h, w, x, y, f[p], f[plane + p], f[2 * plane + p], f[3 * plane + p]);
          other[p] = (std::abs(pa[p] - pb[p]) + std::abs(pa[plane + p] - pb[plane + p]) +
                      std::abs(pa[2 * plane + p] - pb[2 * plane + p])) *
                     (1.0F / 3.0F);
        }
      }
    });
    // Zero motion.
    box_mean(cur.data(), tmp.data(), best.data(), h, w);
    box_mean(other.data(), tmp.data(), window.data(), h, w);
    for (int64_t p = 0; p < plane; ++p) {
      const float moving = std::max(std::max(std::abs(f[p]), std::abs(f[plane + p])),
                                    std::max(std::abs(f[2 * plane + p]), std::abs(f[3 * plane + p])));
      if (moving > kStillMinFlow && window[p] <= best[p] - kStillMargin) {
        for (int c = 0; c < 4; ++c) {
          f[c * plane + p] = 0.0F;
        }
        cur[p] = other[p];
      }
    }
    // Propagation.
    box_mean(cur.data(), tmp.data(), best.data(), h, w);
    for (const Shift sh : shifts) {
      at::parallel_for(0, h, 8, [&](int64_t y0, int64_t y1) {
        for (int64_t y = y0; y < y1; ++y) {
          const int64_t sy = std::clamp<int64_t>(y + sh.dy, 0, h - 1);
          for (int64_t x = 0; x < w; ++x) {
            const int64_t p = y * w + x;
            const int64_t q = sy * w + std::clamp<int64_t>(x + sh.dx, 0, w - 1);
            float d = 0.0F;
            for (int c = 0; c < 4; ++c) {
              cand[c * plane + p] = f[c * plane + q];
              d = std::max(d, std::abs(f[c * plane + q] - f[c * plane + p]));
            }
            change[p] = d;
            other[p] = d > kPropagationMinChange
                           ? match_cost(pa, pb, h, w, x, y, f[q], f[plane + q], f[2 * plane + q], f[3 * plane + q])
                           : cur[p];
          }
        }
      });
      if (std::none_of(change.begin(), change.end(), [](float d) { return d > kPropagationMinChange; })) {
        continue;  // the candidate field is the current one
      }
      box_mean(other.data(), tmp.data(), window.data(), h, w);
      for (int64_t p = 0; p < plane; ++p) {
        if (window[p] < best[p] && change[p] > kPropagationMinChange) {
          for (int c = 0; c < 4; ++c) {
            f[c * plane + p] = cand[c * plane + p];
          }
          cur[p] = other[p];
          best[p] = window[p];
        }
      }
    }
  }
  return flow;
}

}  // namespace

torch::Tensor select_flows(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& flow_in,
                           bool allow_fused) {
  torch::NoGradGuard no_grad;
  if (allow_fused && fast_cpu_path(flow_in) && fast_cpu_path(a)) {
    return select_flows_cpu(a, b, flow_in);
  }
  const auto box = F::AvgPool2dFuncOptions(kSearchWindow).stride(1).padding(kSearchWindow / 2).count_include_pad(false);
  auto per_pixel = [&](const torch::Tensor& f) {
    return (backward_warp(a, f.slice(1, 0, 2)) - backward_warp(b, f.slice(1, 2, 4))).abs().mean(1, true);
  };
  torch::Tensor flow = flow_in;
  // Zero motion.
  torch::Tensor cur = per_pixel(flow);
  const torch::Tensor zero_cost = (a - b).abs().mean(1, true);
  const torch::Tensor moving = flow.abs().amax(1, true) > kStillMinFlow;
  const torch::Tensor still =
      (F::avg_pool2d(zero_cost, box) <= F::avg_pool2d(cur, box) - kStillMargin).logical_and(moving);
  flow = torch::where(still, torch::zeros_like(flow), flow);
  cur = torch::where(still, zero_cost, cur);
  // Propagation.
  torch::Tensor best = F::avg_pool2d(cur, box);
  const int64_t h = flow.size(2);
  const int64_t w = flow.size(3);
  const auto index = flow.options().dtype(torch::kLong);
  for (const Shift sh : propagation_shifts()) {
    const torch::Tensor iy = (torch::arange(h, index) + sh.dy).clamp(0, h - 1);
    const torch::Tensor ix = (torch::arange(w, index) + sh.dx).clamp(0, w - 1);
    const torch::Tensor cand = flow.index_select(2, iy).index_select(3, ix);
    const torch::Tensor change = (cand - flow).abs().amax(1, true);
    // The candidate field: the shifted flows where they differ by more than a
    // quarter pixel, the flows as they are elsewhere.
    const torch::Tensor other = torch::where(change > kPropagationMinChange, per_pixel(cand), cur);
    const torch::Tensor c = F::avg_pool2d(other, box);
    const torch::Tensor take = (c < best).logical_and(change > kPropagationMinChange);
    flow = torch::where(take, cand, flow);
    cur = torch::where(take, other, cur);
    best = torch::where(take, c, best);
  }
  return flow;
}

FrameGeneratorImpl::FrameGeneratorImpl() {
  coarse_ = register_module("coarse", flow_block(kCoarseIn, kC16, kL16, kCoarseOut));
  fine8_ = register_module("fine8", flow_block(kIn8, kC8, kL8));
  fine4_ = register_module("fine4", flow_block(kIn4, kC4, kL4));
  fine2_ = register_module("fine2", flow_block(kIn2, kC2, kL2));
  nn::Sequential r;
  r->push_back(nn::Conv2d(nn::Conv2dOptions(kRefineIn, kRefine, /*kernel_size=*/3).padding(1)));
  r->push_back(nn::PReLU(nn::PReLUOptions().num_parameters(kRefine)));
  r->push_back(nn::Conv2d(nn::Conv2dOptions(kRefine, kRefine, /*kernel_size=*/3).padding(1)));
  r->push_back(nn::PReLU(nn::PReLUOptions().num_parameters(kRefine)));
  r->push_back(nn::Conv2d(nn::Conv2dOptions(kRefine, 4, /*kernel_size=*/3).padding(1)));
  refine_ = register_module("refine", r);
  // Start from "no motion, equal blend, no residual".
  torch::NoGradGuard g;
  for (auto* s : {&coarse_, &fine8_, &fine4_, &fine2_, &refine_}) {
    auto last = (*s)->ptr((*s)->size() - 1)->as<nn::Conv2d>();
    last->weight.mul_(0.1);
    last->bias.zero_();
  }
}

FrameGeneratorImpl::Estimate FrameGeneratorImpl::pyramid(const Levels& a, const Levels& b, const torch::Tensor& t,
                                                         bool extrapolate, const torch::Tensor& prior) {
  const int64_t n = a[0].size(0);
  const int64_t h = a[0].size(2) * 2;
  const int64_t w = a[0].size(3) * 2;
  // At time t the target sees I0 at +t u and I1 at -(1 - t) u.
  const torch::Tensor tv = t.view({n, 1, 1, 1});
  const torch::Tensor theta = fit_global(a, b);
  const torch::Tensor u = affine_flow(theta, h / 16, w / 16);
  const torch::Tensor global = torch::cat({u * tv, u * (tv - 1.0)}, 1);
  // 1/16: motion from scratch (flow in 1/16 pixels, up to a few of them), and a
  // per-pixel gate between it and the global motion.
  torch::Tensor est =
      run_block(coarse_, low_precision(),
                torch::cat({a[3], b[3], t.expand({n, 1, h / 16, w / 16}), global,
                            backward_warp(a[3], global.slice(1, 0, 2)), backward_warp(b[3], global.slice(1, 2, 4))},
                           1));
  const torch::Tensor gate = torch::sigmoid(est.slice(1, 5, 6));
  torch::Tensor flow = est.slice(1, 0, 4) * 4.0;
  flow = flow + gate * (global - flow);
  torch::Tensor mask = est.slice(1, 4, 5);
  // The 1/2 level blurred once, for the prior's choice, the search and the choice
  // after it.
  torch::Tensor ab;
  torch::Tensor bb;
  if (prior.defined() || flow_search_) {
    torch::NoGradGuard no_grad;
    ab = blur3(a[0]);
    bb = blur3(b[0]);
  }
  struct Level {
    nn::Sequential* block;
    std::size_t index;
    int64_t div;
    double step;  // output scale, in this level's pixels
    int radius;   // cost volume search radius
  };
  for (const Level& l :
       {Level{&fine8_, 2, 8, 2.0, kR8}, Level{&fine4_, 1, 4, 2.0, kR4}, Level{&fine2_, 0, 2, 1.0, kR2}}) {
    const int64_t lh = h / l.div;
    const int64_t lw = w / l.div;
    flow = resize(flow, lh, lw) * 2.0;
    mask = resize(mask, lh, lw);
    if (l.div == 2 && prior.defined()) {
      // The DIS flows where they match better; the 1/2 block refines either.
      flow = torch::where(candidate_wins_blurred(ab, bb, flow, prior, kDisMargin), prior, flow);
    }
    const torch::Tensor& al = a[l.index];
    const torch::Tensor& bl = b[l.index];
    const torch::Tensor wa = backward_warp(al, flow.slice(1, 0, 2));
    const torch::Tensor wb = backward_warp(bl, flow.slice(1, 2, 4));
    const torch::Tensor d = run_block(*l.block, low_precision(),
                                      torch::cat({al, bl, wa, wb, flow * (static_cast<double>(l.div) / 16.0), mask,
                                                  t.expand({n, 1, lh, lw}), cost_volume(wa, wb, l.radius)},
                                                 1));
    flow = flow + d.slice(1, 0, 4) * l.step;
    mask = mask + d.slice(1, 4, 5);
  }
  // The test-time search on the 1/2 level (for extrapolation t = 1: the target is
  // I1, and the search corrects the motion between the inputs).
  if (flow_search_) {
    flow = corrected(
        flow,
        flow_search_blurred(a[0], b[0], ab, bb, flow, t, extrapolate ? kExtrapolationSearch : kInterpolationSearch), t);
    if (!extrapolate) {
      flow = select_flows(ab, bb, flow);
    }
  }
  return {flow, mask, theta};
}

PredictorOutput FrameGeneratorImpl::forward(const torch::Tensor& i0_in, const torch::Tensor& i1_in,
                                            const torch::Tensor& t_in, const torch::Tensor& older_in) {
  const int64_t h0 = i0_in.size(2);
  const int64_t w0 = i0_in.size(3);
  // Pad to a multiple of 16 (replicate), crop back at the end.
  const int64_t ph = (16 - h0 % 16) % 16;
  const int64_t pw = (16 - w0 % 16) % 16;
  torch::Tensor i0 = i0_in;
  torch::Tensor i1 = i1_in;
  torch::Tensor older = older_in;
  if (ph != 0 || pw != 0) {
    const auto pad = F::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate);
    i0 = F::pad(i0, pad);
    i1 = F::pad(i1, pad);
    if (older.defined()) {
      older = F::pad(older, pad);
    }
  }
  const int64_t n = i0.size(0);
  const int64_t h = i0.size(2);
  const int64_t w = i0.size(3);
  const torch::Tensor t = t_in.to(i0.options()).view({n, 1, 1, 1});
  const bool extrapolate = (t > 1.0).all().item<bool>();

  // Flows (target -> I0, target -> I1) and mask logit at half resolution.
  torch::Tensor flow_half;
  torch::Tensor mask_half;
  const Levels a = levels(i0);
  const Levels b = levels(i1);
  if (!extrapolate) {
    torch::Tensor prior;
    if (dis_prior_ && std::min(h, w) >= kDisMinSide) {
      prior = F::avg_pool2d(dis_flows(i0, i1, t, dis_finest_scale_), F::AvgPool2dFuncOptions(2)) * 0.5;
    }
    Estimate e = pyramid(a, b, t, /*extrapolate=*/false, prior);
    flow_half = e.flow;
    mask_half = e.mask;
  } else {
    // Motion between the inputs: the flow I1 -> I0 (pyramid at t = 1), continued
    // at constant velocity for s = t - 1 more frame intervals.
    Estimate e = pyramid(a, b, torch::ones_like(t), /*extrapolate=*/true);
    torch::Tensor v = e.flow.slice(1, 0, 2);  // I1 -> I0, half-resolution pixels
    if (flow_search_) {
      // Its sub-pixel part, on the full-resolution inputs (t = 1: I1 stays put).
      const torch::Tensor up = resize(v, h, w) * 2.0;
      v = downsample(refine_flow_lk(i0, i1, torch::cat({up, torch::zeros_like(up)}, 1), torch::ones({n}, t.options()),
                                    kExtrapolationLkSteps)
                         .slice(1, 0, 2),
                     2) *
          0.5;
    }
    const torch::Tensor s = t - 1.0;
    // The motion to continue: v, less the part of the global motion that is not
    // steady. steadiness = 1 - |u - u'|^2 / (|u|^2 + |u'|^2) over the frame, u'
    // the global motion one step earlier (older -> I0): 1 when the camera moved
    // the same way twice, about 0 when its two motions are unrelated (shake).
    torch::Tensor vc = v;
    if (older.defined()) {
      const torch::Tensor u = affine_flow(e.global, h / 16, w / 16);
      const torch::Tensor up = affine_flow(fit_global(levels(older), a), h / 16, w / 16);
      const torch::Tensor change = (u - up).square().sum({1, 2, 3});
      const torch::Tensor size = u.square().sum({1, 2, 3}) + up.square().sum({1, 2, 3}) + 1e-6;
      const torch::Tensor steady = (1.0 - change / size).clamp_min(0.0).view({n, 1, 1, 1});
      vc = v - (1.0 - steady) * affine_flow(e.global, h / 2, w / 2);
    }
    // target -> I1: the motion found where the target pixel came from, f1 = s vc(x + f1),
    // solved by fixed-point iteration. One step (as trained) left moving objects'
    // leading edges behind; four converge (six clips: extrapolation 27.673 -> 27.686,
    // bikes +0.06, no clip worse by more than 0.001; more steps change nothing).
    torch::Tensor f1 = vc * s;
    for (int i = 0; i < kAdvectionSteps; ++i) {
      f1 = backward_warp(vc, f1) * s;
    }
    // target -> I0: on to I1, then I1's own motion back to I0.
    const torch::Tensor f0 = f1 + backward_warp(v, f1);
    flow_half = torch::cat({f0, f1}, 1);
    mask_half = e.mask;
  }

  PredictorOutput o;
  if (fast_cpu_path(i0)) {
    // Inference on the CPU: the same stage fused (only the frame is returned).
    o.frame = full_resolution_cpu(i0, i1, flow_half, mask_half, t, extrapolate, cubic_warp_, refine_, low_precision())
                  .slice(2, 0, h0)
                  .slice(3, 0, w0);
    return o;
  }
  // Full resolution: warp, blend, correct the mask, add a residual.
  const torch::Tensor flow = resize(flow_half, h, w) * 2.0;
  const torch::Tensor mask = resize(mask_half, h, w);
  const torch::Tensor w0f = backward_warp(i0, flow.slice(1, 0, 2), cubic_warp_);
  const torch::Tensor w1f = backward_warp(i1, flow.slice(1, 2, 4), cubic_warp_);
  const torch::Tensor m0 = torch::sigmoid(mask);
  const torch::Tensor r = refine_->forward(torch::cat({w0f, w1f, m0 * w0f + (1 - m0) * w1f}, 1));
  const torch::Tensor m = torch::sigmoid(mask + r.slice(1, 3, 4));
  torch::Tensor out = m * w0f + (1 - m) * w1f + r.slice(1, 0, 3);
  out = keep_unchanged(out.clamp(0, 1), i0, i1, flow_half, t, extrapolate);
  o.frame = out.slice(2, 0, h0).slice(3, 0, w0);
  o.flow0 = flow.slice(1, 0, 2).slice(2, 0, h0).slice(3, 0, w0);
  o.flow1 = flow.slice(1, 2, 4).slice(2, 0, h0).slice(3, 0, w0);
  o.mask = m.slice(2, 0, h0).slice(3, 0, w0);
  o.warped0 = w0f.slice(2, 0, h0).slice(3, 0, w0);
  o.warped1 = w1f.slice(2, 0, h0).slice(3, 0, w0);
  return o;
}

namespace {
constexpr const char* kCubicWarpKey = "cubic_warp";
}  // namespace

bool FrameGeneratorImpl::saved_cubic_warp(torch::serialize::InputArchive& archive) {
  torch::Tensor flag;
  return archive.try_read(kCubicWarpKey, flag, /*is_buffer=*/true) && flag.item<float>() != 0.0F;
}

void FrameGeneratorImpl::save(torch::serialize::OutputArchive& archive) const {
  nn::Module::save(archive);
  archive.write(kCubicWarpKey, torch::full({1}, cubic_warp_ ? 1.0F : 0.0F), /*is_buffer=*/true);
}

void FrameGeneratorImpl::load(torch::serialize::InputArchive& archive) {
  nn::Module::load(archive);
  cubic_warp_ = saved_cubic_warp(archive);
}

void FrameGeneratorImpl::set_dis_finest_scale(int scale) {
  if (scale < 0) {
    throw std::invalid_argument("set_dis_finest_scale: the scale must be >= 0, not " + std::to_string(scale));
  }
  dis_finest_scale_ = scale;
}

void FrameGeneratorImpl::prepare_cpu_inference(bool bf16) {
  torch::NoGradGuard no_grad;
  bf16_.clear();
  for (nn::Sequential* s : {&coarse_, &fine8_, &fine4_, &fine2_, &refine_}) {
    for (const auto& m : (*s)->children()) {
      if (auto* c = m->as<nn::Conv2d>()) {
        c->weight.set_data(c->weight.contiguous(at::MemoryFormat::ChannelsLast));
        if (bf16) {
          add_bf16_copy(bf16_, *c);
        }
      }
    }
  }
}

int64_t FrameGeneratorImpl::macs_per_pixel() const {
  auto block = [](int64_t in, int64_t c, int64_t layers, int64_t out = 5) {
    return 9 * (in * c + layers * c * c + c * out);
  };
  // Per full-resolution pixel: each level's block divided by its pixel ratio (the
  // global-motion fit is a few dozen operations per 1/16..1/4 pixel, not counted).
  return block(kCoarseIn, kC16, kL16, kCoarseOut) / 256 + block(kIn8, kC8, kL8) / 64 + block(kIn4, kC4, kL4) / 16 +
         block(kIn2, kC2, kL2) / 4 + 9 * (kRefineIn * kRefine + kRefine * kRefine + kRefine * 4);
}

PatchDiscriminatorImpl::PatchDiscriminatorImpl() {
  nn::Sequential s;
  int in = 9;
  for (int c : {32, 64, 128}) {
    s->push_back(nn::Conv2d(nn::Conv2dOptions(in, c, /*kernel_size=*/4).stride(2).padding(1)));
    s->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
    in = c;
  }
  s->push_back(nn::Conv2d(nn::Conv2dOptions(in, 1, /*kernel_size=*/3).padding(1)));
  net_ = register_module("net", s);
}

torch::Tensor PatchDiscriminatorImpl::forward(const torch::Tensor& i0, const torch::Tensor& i1,
                                              const torch::Tensor& x) {
  return net_->forward(torch::cat({i0, i1, x}, 1));
}

namespace {

// predict_global's full-resolution step on the CPU, one pass over the output
// pixels (h0 x w0 of the padded h x w inputs): interpolation (quarter empty) samples
// i0 at p + t u(p) and i1 at p - (1 - t) u(p), u the affine motion theta, and
// blends; extrapolation samples i1 at p + f(p), f the quarter-grid field
// `quarter` [N, 2, hq, wq] (its pixels) resized bilinearly (align_corners) to full
// resolution. The tensor expressions (grids, grid_sample, temporaries) took ~20 ms
// per 640x360 frame; the same values, float rounding aside.
torch::Tensor global_warp_cpu(const torch::Tensor& i0, const torch::Tensor& i1, const torch::Tensor& theta_in,
                              const torch::Tensor& t_in, const torch::Tensor& quarter_in, int64_t h0, int64_t w0) {
  const torch::Tensor a = i0.contiguous();
  const torch::Tensor b = i1.contiguous();
  const torch::Tensor theta = theta_in.to(torch::kFloat).contiguous();
  const torch::Tensor times = t_in.to(torch::kFloat).contiguous();
  const bool extrapolate = quarter_in.defined();
  const torch::Tensor q = extrapolate ? quarter_in.contiguous() : torch::Tensor();
  const int64_t n = b.size(0);
  const int64_t h = b.size(2);
  const int64_t w = b.size(3);
  const int64_t hq = extrapolate ? q.size(2) : 0;
  const int64_t wq = extrapolate ? q.size(3) : 0;
  torch::Tensor out = torch::empty({n, 3, h0, w0}, b.options());
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  const float* pth = theta.data_ptr<float>();
  const float* pt = times.data_ptr<float>();
  const float* pq = extrapolate ? q.data_ptr<float>() : nullptr;
  float* po = out.data_ptr<float>();
  const int64_t plane = h * w;
  const int64_t oplane = h0 * w0;
  // Normalised coordinates (align_corners) and back: x = (xn + 1) (w - 1) / 2.
  const float sx = 2.0F / static_cast<float>(std::max<int64_t>(w - 1, 1));
  const float sy = 2.0F / static_cast<float>(std::max<int64_t>(h - 1, 1));
  const float hx = static_cast<float>(w - 1) / 2.0F;
  const float hy = static_cast<float>(h - 1) / 2.0F;
  // Full resolution -> quarter grid (align_corners) and quarter pixels -> full ones.
  const float qx = extrapolate ? static_cast<float>(wq - 1) / static_cast<float>(std::max<int64_t>(w - 1, 1)) : 0.0F;
  const float qy = extrapolate ? static_cast<float>(hq - 1) / static_cast<float>(std::max<int64_t>(h - 1, 1)) : 0.0F;
  const float fx_scale = extrapolate ? static_cast<float>(w - 1) / static_cast<float>(wq - 1) : 0.0F;
  const float fy_scale = extrapolate ? static_cast<float>(h - 1) / static_cast<float>(hq - 1) : 0.0F;
  at::parallel_for(0, n * h0, 8, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t img = row / h0;
      const int64_t y = row % h0;
      const float* ai = pa + img * 3 * plane;
      const float* bi = pb + img * 3 * plane;
      float* oi = po + img * 3 * oplane + y * w0;
      const float fy = static_cast<float>(y);
      if (!extrapolate) {
        const float* c = pth + img * 6;
        const float ti = pt[img];
        const float yn = -1.0F + fy * sy;
        for (int64_t x = 0; x < w0; ++x) {
          const float fx = static_cast<float>(x);
          const float xn = -1.0F + fx * sx;
          const float ux = (c[0] * xn + c[1] * yn + c[2]) * hx;
          const float uy = (c[3] * xn + c[4] * yn + c[5]) * hy;
          float va[3];
          float vb[3];
          sample3(ai, h, w, fx + ux * ti, fy + uy * ti, va);
          sample3(bi, h, w, fx + ux * (ti - 1.0F), fy + uy * (ti - 1.0F), vb);
          for (int ch = 0; ch < 3; ++ch) {
            oi[ch * oplane + x] = std::clamp((1.0F - ti) * va[ch] + ti * vb[ch], 0.0F, 1.0F);
          }
        }
      } else {
        const float* qi = pq + img * 2 * hq * wq;
        const float syq = fy * qy;
        const auto y0 = std::min(static_cast<int64_t>(syq), hq - 1);
        const int64_t y1 = std::min(y0 + 1, hq - 1);
        const float ly = syq - static_cast<float>(y0);
        for (int64_t x = 0; x < w0; ++x) {
          const float fx = static_cast<float>(x);
          const float sxq = fx * qx;
          const auto x0 = std::min(static_cast<int64_t>(sxq), wq - 1);
          const int64_t x1 = std::min(x0 + 1, wq - 1);
          const float lx = sxq - static_cast<float>(x0);
          auto up = [&](const float* p) {
            return (1.0F - ly) * ((1.0F - lx) * p[y0 * wq + x0] + lx * p[y0 * wq + x1]) +
                   ly * ((1.0F - lx) * p[y1 * wq + x0] + lx * p[y1 * wq + x1]);
          };
          float vb[3];
          sample3(bi, h, w, fx + up(qi) * fx_scale, fy + up(qi + hq * wq) * fy_scale, vb);
          for (int ch = 0; ch < 3; ++ch) {
            oi[ch * oplane + x] = std::clamp(vb[ch], 0.0F, 1.0F);
          }
        }
      }
    }
  });
  return out;
}

}  // namespace

torch::Tensor predict_global(const torch::Tensor& i0_in, const torch::Tensor& i1_in, const torch::Tensor& t_in,
                             const torch::Tensor& older_in, bool allow_fused) {
  torch::NoGradGuard no_grad;
  const int64_t h0 = i0_in.size(2);
  const int64_t w0 = i0_in.size(3);
  // Padded to a multiple of 16 (replicate) as the network's input is, so that the
  // fit sees the same pyramid.
  const int64_t ph = (16 - h0 % 16) % 16;
  const int64_t pw = (16 - w0 % 16) % 16;
  const auto pad = F::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate);
  auto padded = [&](const torch::Tensor& x) { return ph != 0 || pw != 0 ? F::pad(x, pad) : x; };
  const torch::Tensor i0 = padded(i0_in);
  const torch::Tensor i1 = padded(i1_in);
  const int64_t n = i0.size(0);
  const int64_t h = i0.size(2);
  const int64_t w = i0.size(3);
  const torch::Tensor t = t_in.to(i0.options()).view({n, 1, 1, 1});
  const std::array<torch::Tensor, 4> a = levels(i0);
  const torch::Tensor theta = fit_global(a, levels(i1));
  torch::Tensor out;
  const bool fused = allow_fused && fast_cpu_path(i0);
  if (!(t > 1.0).all().item<bool>()) {
    if (fused) {
      return global_warp_cpu(i0, i1, theta, t_in.to(i0.options()), {}, h0, w0);
    }
    // At time t the target sees I0 at +t u and I1 at -(1 - t) u; I1(p) ~ I0(p + u(p)).
    const torch::Tensor u = affine_flow(theta, h, w);
    out = (1.0 - t) * backward_warp(i0, u * t) + t * backward_warp(i1, u * (t - 1.0));
  } else {
    // The motion continued as far as the camera is steady (as in forward(), which
    // measures it on the 1/16 grid too). The field is affine, so it is continued
    // on a 1/4 grid and resized: four warps of a small field instead of full ones.
    const int64_t hq = std::max<int64_t>(h / 4, 2);
    const int64_t wq = std::max<int64_t>(w / 4, 2);
    torch::Tensor v = affine_flow(theta, hq, wq);
    if (older_in.defined()) {
      const torch::Tensor u16 = affine_flow(theta, h / 16, w / 16);
      const torch::Tensor up = affine_flow(fit_global(levels(padded(older_in)), a), h / 16, w / 16);
      const torch::Tensor change = (u16 - up).square().sum({1, 2, 3});
      const torch::Tensor size = u16.square().sum({1, 2, 3}) + up.square().sum({1, 2, 3}) + 1e-6;
      v = v * (1.0 - change / size).clamp_min(0.0).view({n, 1, 1, 1});
    }
    const torch::Tensor s = t - 1.0;
    torch::Tensor f1 = v * s;
    for (int i = 0; i < kAdvectionSteps; ++i) {
      f1 = backward_warp(v, f1) * s;
    }
    if (fused) {
      return global_warp_cpu(i0, i1, theta, t_in.to(i0.options()), f1, h0, w0);
    }
    // 1/4-grid pixels to full-resolution ones (align_corners: the corners coincide).
    const torch::Tensor scale =
        torch::tensor({static_cast<double>(w - 1) / static_cast<double>(wq - 1),
                       static_cast<double>(h - 1) / static_cast<double>(hq - 1)},
                      f1.options())
            .view({1, 2, 1, 1});
    f1 = F::interpolate(f1, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{h, w})
                                .mode(torch::kBilinear)
                                .align_corners(true)) *
         scale;
    out = backward_warp(i1, f1);
  }
  return out.clamp(0, 1).slice(2, 0, h0).slice(3, 0, w0);
}

}  // namespace framegen::models
