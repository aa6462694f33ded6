#include "framegen/models/predictor_net.h"

namespace framegen::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

constexpr int kCoarse = 48;  // channels of the 1/8 flow block
constexpr int kFine = 32;    // channels of the 1/4 flow block
constexpr int kRefine = 16;  // channels of the full-resolution residual block

nn::Sequential flow_block(int in, int c, int layers) {
  nn::Sequential s;
  s->push_back(nn::Conv2d(nn::Conv2dOptions(in, c, /*kernel_size=*/3).padding(1)));
  s->push_back(nn::PReLU(nn::PReLUOptions().num_parameters(c)));
  for (int i = 0; i < layers; ++i) {
    s->push_back(nn::Conv2d(nn::Conv2dOptions(c, c, /*kernel_size=*/3).padding(1)));
    s->push_back(nn::PReLU(nn::PReLUOptions().num_parameters(c)));
  }
  s->push_back(nn::Conv2d(nn::Conv2dOptions(c, 5, /*kernel_size=*/3).padding(1)));
  return s;
}

torch::Tensor resize(const torch::Tensor& x, int64_t h, int64_t w) {
  return F::interpolate(
      x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
}

torch::Tensor downsample(const torch::Tensor& x, int f) {
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(f).stride(f));
}

}  // namespace

torch::Tensor backward_warp(const torch::Tensor& img, const torch::Tensor& flow) {
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
  return F::grid_sample(
      img, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(true));
}

FrameGeneratorImpl::FrameGeneratorImpl() {
  coarse_ = register_module("coarse", flow_block(/*in=*/7, kCoarse, /*layers=*/4));
  fine_ = register_module("fine", flow_block(/*in=*/3 * 4 + 5 + 1, kFine, /*layers=*/3));
  nn::Sequential r;
  r->push_back(nn::Conv2d(nn::Conv2dOptions(9, kRefine, /*kernel_size=*/3).padding(1)));
  r->push_back(nn::PReLU(nn::PReLUOptions().num_parameters(kRefine)));
  r->push_back(nn::Conv2d(nn::Conv2dOptions(kRefine, 3, /*kernel_size=*/3).padding(1)));
  refine_ = register_module("refine", r);
  // Start from "no motion, equal blend, no residual".
  torch::NoGradGuard g;
  for (auto* s : {&coarse_, &fine_, &refine_}) {
    auto last = (*s)->ptr((*s)->size() - 1)->as<nn::Conv2d>();
    last->weight.mul_(0.1);
    last->bias.zero_();
  }
}

PredictorOutput FrameGeneratorImpl::forward(const torch::Tensor& i0_in, const torch::Tensor& i1_in,
                                            const torch::Tensor& t_in) {
  const int64_t h0 = i0_in.size(2);
  const int64_t w0 = i0_in.size(3);
  // Pad to a multiple of 8 (replicate), crop back at the end.
  const int64_t ph = (8 - h0 % 8) % 8;
  const int64_t pw = (8 - w0 % 8) % 8;
  torch::Tensor i0 = i0_in;
  torch::Tensor i1 = i1_in;
  if (ph != 0 || pw != 0) {
    const auto pad = F::PadFuncOptions({0, pw, 0, ph}).mode(torch::kReplicate);
    i0 = F::pad(i0, pad);
    i1 = F::pad(i1, pad);
  }
  const int64_t n = i0.size(0);
  const int64_t h = i0.size(2);
  const int64_t w = i0.size(3);
  const torch::Tensor t = t_in.to(i0.options()).view({n, 1, 1, 1});

  // 1/8: motion from scratch.
  const torch::Tensor a8 = downsample(i0, 8);
  const torch::Tensor b8 = downsample(i1, 8);
  torch::Tensor est = coarse_->forward(torch::cat({a8, b8, t.expand({n, 1, h / 8, w / 8})}, 1));
  torch::Tensor flow = est.slice(1, 0, 4);  // pixels at 1/8
  torch::Tensor mask = est.slice(1, 4, 5);

  // 1/4: refine with both inputs warped by the current estimate.
  const torch::Tensor a4 = downsample(i0, 4);
  const torch::Tensor b4 = downsample(i1, 4);
  flow = resize(flow, h / 4, w / 4) * 2.0;
  mask = resize(mask, h / 4, w / 4);
  const torch::Tensor wa = backward_warp(a4, flow.slice(1, 0, 2));
  const torch::Tensor wb = backward_warp(b4, flow.slice(1, 2, 4));
  const torch::Tensor d =
      fine_->forward(torch::cat({a4, b4, wa, wb, flow * 0.25, mask, t.expand({n, 1, h / 4, w / 4})}, 1));
  flow = flow + d.slice(1, 0, 4) * 4.0;
  mask = mask + d.slice(1, 4, 5);

  // Full resolution: warp, blend, refine.
  flow = resize(flow, h, w) * 4.0;
  const torch::Tensor m = torch::sigmoid(resize(mask, h, w));
  const torch::Tensor w0f = backward_warp(i0, flow.slice(1, 0, 2));
  const torch::Tensor w1f = backward_warp(i1, flow.slice(1, 2, 4));
  const torch::Tensor blend = m * w0f + (1 - m) * w1f;
  torch::Tensor out = blend + refine_->forward(torch::cat({w0f, w1f, blend}, 1));
  out = out.clamp(0, 1);
  PredictorOutput o;
  o.frame = out.slice(2, 0, h0).slice(3, 0, w0);
  o.flow0 = flow.slice(1, 0, 2).slice(2, 0, h0).slice(3, 0, w0);
  o.flow1 = flow.slice(1, 2, 4).slice(2, 0, h0).slice(3, 0, w0);
  o.mask = m.slice(2, 0, h0).slice(3, 0, w0);
  o.warped0 = w0f.slice(2, 0, h0).slice(3, 0, w0);
  o.warped1 = w1f.slice(2, 0, h0).slice(3, 0, w0);
  return o;
}

int64_t FrameGeneratorImpl::macs_per_pixel() const {
  // Per full-resolution pixel: 1/64 of the coarse block, 1/16 of the fine one.
  const int64_t coarse = 9 * (7 * kCoarse + 4 * kCoarse * kCoarse + kCoarse * 5);
  const int64_t fine = 9 * (18 * kFine + 3 * kFine * kFine + kFine * 5);
  const int64_t refine = 9 * (9 * kRefine + kRefine * 3);
  return coarse / 64 + fine / 16 + refine;
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

}  // namespace framegen::models
