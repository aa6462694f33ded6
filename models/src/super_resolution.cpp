#include "framegen/models/super_resolution.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "embedded_weights.h"
#include "framegen/models/networks.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/scaler.h"
#include "runtime.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace framegen {

namespace {

// The classical scalers resample a frame in its own format, except palettes.
bool classical_keeps(AVPixelFormat format) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(format);
  return d != nullptr && (d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)) == 0;
}

namespace F = torch::nn::functional;
using models::SrNet;

bool is_planar_yuv8(AVPixelFormat f) {
  switch (f) {
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUV422P:
    case AV_PIX_FMT_YUV444P:
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
      return true;
    default:
      return false;
  }
}

bool is_torchscript_path(const std::string& m) {
  const std::string ext = std::filesystem::path(m).extension().string();
  return ext == ".pt" || ext == ".pth" || ext == ".ts" || m.find('/') != std::string::npos;
}

// Runs `fn` on overlapping tiles of x ([1, C, H, W]) whose core is at most
// tile x tile LR pixels, with `overlap` pixels of real context on every inner
// side; each tile's core output is copied into place. With overlap >= the
// receptive radius the result equals fn(x) up to float summation order.
template <typename Fn>
torch::Tensor run_tiled(Fn&& fn, const torch::Tensor& x, int scale, int tile, int overlap) {
  const int64_t h = x.size(2);
  const int64_t w = x.size(3);
  if (tile <= 0 || (h <= tile && w <= tile)) {
    return fn(x);
  }
  torch::Tensor out;
  for (int64_t y0 = 0; y0 < h; y0 += tile) {
    for (int64_t x0 = 0; x0 < w; x0 += tile) {
      const int64_t y1 = std::min<int64_t>(y0 + tile, h);
      const int64_t x1 = std::min<int64_t>(x0 + tile, w);
      const int64_t cy0 = std::max<int64_t>(0, y0 - overlap);
      const int64_t cx0 = std::max<int64_t>(0, x0 - overlap);
      const int64_t cy1 = std::min<int64_t>(h, y1 + overlap);
      const int64_t cx1 = std::min<int64_t>(w, x1 + overlap);
      torch::Tensor part = fn(x.slice(2, cy0, cy1).slice(3, cx0, cx1).contiguous());
      if (!out.defined()) {
        out = torch::empty({x.size(0), part.size(1), h * scale, w * scale}, part.options());
      }
      out.slice(2, y0 * scale, y1 * scale)
          .slice(3, x0 * scale, x1 * scale)
          .copy_(
              part.slice(2, (y0 - cy0) * scale, (y1 - cy0) * scale).slice(3, (x0 - cx0) * scale, (x1 - cx0) * scale));
    }
  }
  return out;
}

torch::Tensor plane_to_tensor(const uint8_t* data, int linesize, int w, int h) {
  return torch::from_blob(const_cast<uint8_t*>(data), {1, 1, h, w}, {0, 0, linesize, 1}, torch::kUInt8)
      .to(torch::kFloat)
      .div_(255.0F);
}

void tensor_to_plane(const torch::Tensor& t, uint8_t* data, int linesize) {
  if (t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous()) {
    // One pass, straight into the plane: x 255, round half to even (as round_()),
    // clamp to 0..255.
    const int64_t h = t.size(-2);
    const int64_t w = t.size(-1);
    const float* __restrict src = t.data_ptr<float>();
    at::parallel_for(0, h, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        uint8_t* __restrict dst = data + r * linesize;
        const float* row = src + r * w;
        for (int64_t x = 0; x < w; ++x) {
          dst[x] = static_cast<uint8_t>(std::clamp(std::nearbyint(row[x] * 255.0F), 0.0F, 255.0F));
        }
      }
    });
    return;
  }
  torch::Tensor u8 = t.mul(255.0F).round_().clamp_(0, 255).to(torch::kUInt8).contiguous().cpu();
  const int64_t h = u8.size(-2);
  const int64_t w = u8.size(-1);
  const uint8_t* src = u8.data_ptr<uint8_t>();
  for (int64_t r = 0; r < h; ++r) {
    std::memcpy(data + r * linesize, src + r * w, static_cast<std::size_t>(w));
  }
}

}  // namespace

class SuperResolution::Impl {
 public:
  explicit Impl(const SrOptions& o) : options_(o), device_(torch::kCPU) {
    if (o.scale < 1 || o.scale > 4) {
      throw Error(ErrorKind::kUsage, "scale must be between 1 and 4");
    }
    device_ = models::parse_device(o.device);
    if (o.tile < 0) {
      throw Error(ErrorKind::kUsage, "--tile must be 0 (off) or a tile side in pixels");
    }
    const bool builtin_net = o.model == "fast" || o.model == "quality";
    precision_ = models::resolve_precision(o.precision, o.device, builtin_net, o.model);
    if (o.model == "bicubic" || o.model == "lanczos") {
      // Options the classical path cannot honour are errors, not silently ignored.
      if (o.device != "cpu") {
        throw Error(ErrorKind::kUsage, "--device " + o.device + ": " + o.model + " runs on the CPU only");
      }
      if (o.tile > 0) {
        throw Error(ErrorKind::kUsage, "--tile applies to the neural models, not to " + o.model);
      }
      classical_ = parse_scale_algorithm(o.model);
      kind_ = Kind::kClassical;
      scale_ = o.scale;
      return;
    }
    models::configure_torch_runtime(o.threads);
    if (o.model == "fast" || o.model == "quality") {
      load_builtin();
    } else if (is_torchscript_path(o.model)) {
      load_script();
    } else {
      throw Error(ErrorKind::kUsage,
                  "unknown model '" + o.model + "' (fast, quality, bicubic, lanczos, or a TorchScript file *.pt)");
    }
  }

  void load_builtin() {
    const std::string key = options_.model + "_x" + std::to_string(options_.scale);
    const std::string_view bytes = models::embedded_weights(key);
    if (bytes.empty()) {
      throw Error(ErrorKind::kUsage, "no built-in '" + options_.model + "' model for scale " +
                                         std::to_string(options_.scale) + " in this build");
    }
    net_ = SrNet(models::builtin_config(options_.model, options_.scale));
    std::istringstream in(std::string(bytes.data(), bytes.size()));
    torch::load(net_, in);
    net_->eval();
    for (auto& p : net_->named_parameters()) {
      // The head stays NCHW (see SrNetImpl::forward); the rest goes channels-last.
      if (p.value().dim() == 4 && p.key().rfind("head.", 0) != 0) {
        p.value().set_data(p.value().data().contiguous(at::MemoryFormat::ChannelsLast));
      }
    }
    net_->to(device_);
    net_->set_bf16(precision_ == "bf16");
    kind_ = Kind::kLumaNet;
    scale_ = options_.scale;
    overlap_ = net_->receptive_radius();
    description_ = "built-in " + key + " (" + std::to_string(net_->macs_per_pixel()) + " MACs per input pixel, " +
                   precision_ + ")";
  }

  void load_script() {
    const std::string& path = options_.model;
    if (!std::filesystem::exists(path)) {
      throw Error(ErrorKind::kInput, "model file '" + path + "' does not exist");
    }
    try {
      script_ = torch::jit::load(path, device_);
    } catch (const std::exception& e) {
      std::string why = e.what();
      why = why.substr(0, why.find('\n'));
      throw Error(ErrorKind::kInput, "model file '" + path + "' is not a TorchScript module: " + why);
    }
    script_.eval();
    // Probe the scale with a small input.
    torch::Tensor out;
    try {
      c10::InferenceMode guard;
      out = script_.forward({torch::zeros({1, 3, 16, 16}, torch::TensorOptions().device(device_))}).toTensor();
    } catch (const std::exception& e) {
      std::string why = e.what();
      why = why.substr(0, why.find('\n'));
      throw Error(ErrorKind::kInput, "model file '" + path + "' failed on a 1x3x16x16 RGB input: " + why);
    }
    if (out.dim() != 4 || out.size(0) != 1 || out.size(1) != 3 || out.size(2) % 16 != 0 || out.size(2) != out.size(3) ||
        out.size(2) / 16 < 2 || out.size(2) / 16 > 8) {
      std::ostringstream s;
      s << out.sizes();
      throw Error(ErrorKind::kInput, "model file '" + path + "' returned shape " + s.str() +
                                         " for a [1, 3, 16, 16] input; expected [1, 3, 16*s, 16*s] with s from 2 to 8");
    }
    const int found = static_cast<int>(out.size(2) / 16);
    if (found != options_.scale) {
      throw Error(ErrorKind::kUsage, "model file '" + path + "' upscales by " + std::to_string(found) +
                                         ", not by the requested --scale " + std::to_string(options_.scale));
    }
    kind_ = Kind::kRgbScript;
    scale_ = found;
    overlap_ = 16;
    description_ = "TorchScript " + path + " (x" + std::to_string(found) + ")";
  }

  torch::Tensor run_luma(const torch::Tensor& y) {
    auto fn = [this](const torch::Tensor& t) { return net_->forward(t.to(device_)).to(torch::kCPU); };
    return run_tiled(fn, y, scale_, options_.tile, overlap_);
  }

  torch::Tensor run_rgb(const torch::Tensor& rgb) {
    auto fn = [this](const torch::Tensor& t) {
      torch::Tensor o = script_.forward({t.to(device_)}).toTensor().to(torch::kCPU);
      if (o.dim() != 4 || o.size(1) != 3 || o.size(2) != t.size(2) * scale_ || o.size(3) != t.size(3) * scale_) {
        std::ostringstream s;
        s << o.sizes();
        throw Error(ErrorKind::kProcessing, "model file '" + options_.model + "' returned shape " + s.str() +
                                                " for an input of " + std::to_string(t.size(2)) + "x" +
                                                std::to_string(t.size(3)));
      }
      return o;
    };
    return run_tiled(fn, rgb, scale_, options_.tile, overlap_);
  }

  Frame upscale(const Frame& in) {
    c10::InferenceMode guard;
    const AVPixelFormat fmt = in.format();
    if (kind_ == Kind::kClassical) {
      return classical_scaler(in.width(), in.height(), fmt).scale(in);
    }
    if (kind_ == Kind::kLumaNet && is_planar_yuv8(fmt)) {
      return upscale_yuv(in);
    }
    if (kind_ == Kind::kLumaNet && fmt == AV_PIX_FMT_RGB24) {
      return image_to_frame(upscale(image_from_rgb24(in)), in);
    }
    if (kind_ == Kind::kLumaNet) {
      // Other formats go through yuv444p (no chroma loss) at the input size.
      Frame yuv = converter(in.width(), in.height(), AV_PIX_FMT_YUV444P).scale(in);
      return upscale_yuv(yuv);
    }
    // TorchScript RGB model.
    Frame rgb = fmt == AV_PIX_FMT_RGB24 ? in.ref() : converter(in.width(), in.height(), AV_PIX_FMT_RGB24).scale(in);
    return image_to_frame(upscale_rgb_script(image_from_rgb24(rgb)), in);
  }

  Frame image_to_frame(const Image& up, const Frame& props) {
    FramePool& pool = out_pool(up.width, up.height, AV_PIX_FMT_RGB24);
    Frame out = pool.acquire(props.time_base());
    av_check(av_frame_copy_props(out.av(), props.av()), ErrorKind::kProcessing, "frame properties");
    out.set_duration(props.duration());
    copy_image_into(up, out);
    return out;
  }

  Frame upscale_yuv(const Frame& in) {
    const AVFrame* f = in.av();
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(in.format());
    const int s = scale_;
    FramePool& pool = out_pool(in.width() * s, in.height() * s, in.format());
    Frame out = pool.acquire(in.time_base());
    av_check(av_frame_copy_props(out.av(), f), ErrorKind::kProcessing, "frame properties");
    out.set_duration(in.duration());
    // Luma through the network.
    const torch::Tensor y = plane_to_tensor(f->data[0], f->linesize[0], in.width(), in.height());
    tensor_to_plane(run_luma(y), out.av()->data[0], out.av()->linesize[0]);
    // Chroma: bicubic, plane by plane.
    const int cw = AV_CEIL_RSHIFT(in.width(), d->log2_chroma_w);
    const int ch = AV_CEIL_RSHIFT(in.height(), d->log2_chroma_h);
    const int ocw = AV_CEIL_RSHIFT(in.width() * s, d->log2_chroma_w);
    const int och = AV_CEIL_RSHIFT(in.height() * s, d->log2_chroma_h);
    chroma_ = sws_getCachedContext(chroma_, cw, ch, AV_PIX_FMT_GRAY8, ocw, och, AV_PIX_FMT_GRAY8,
                                   SWS_BICUBIC | SWS_ACCURATE_RND, nullptr, nullptr, nullptr);
    if (chroma_ == nullptr) {
      throw Error(ErrorKind::kProcessing, "cannot create the chroma scaler");
    }
    for (int p = 1; p <= 2; ++p) {
      const uint8_t* src[4] = {f->data[p], nullptr, nullptr, nullptr};
      const int src_stride[4] = {f->linesize[p], 0, 0, 0};
      uint8_t* dst[4] = {out.av()->data[p], nullptr, nullptr, nullptr};
      const int dst_stride[4] = {out.av()->linesize[p], 0, 0, 0};
      sws_scale(chroma_, src, src_stride, 0, ch, dst, dst_stride);
    }
    return out;
  }

  Image upscale(const Image& rgb) {
    c10::InferenceMode guard;
    if (kind_ == Kind::kClassical) {
      if (*classical_ == ScaleAlgorithm::kBicubic) {
        return imresize_matlab(rgb, rgb.width * scale_, rgb.height * scale_);
      }
      return swscale_rgb(rgb, rgb.width * scale_, rgb.height * scale_, SWS_LANCZOS);
    }
    if (kind_ == Kind::kRgbScript) {
      return upscale_rgb_script(rgb);
    }
    // Built-in luma net: BT.601 YCbCr in float, Y through the network, Cb/Cr bicubic.
    const int64_t h = rgb.height;
    const int64_t w = rgb.width;
    torch::Tensor t = torch::from_blob(const_cast<uint8_t*>(rgb.data.data()), {h, w, 3}, torch::kUInt8)
                          .to(torch::kDouble)
                          .permute({2, 0, 1});
    const torch::Tensor r = t[0];
    const torch::Tensor g = t[1];
    const torch::Tensor b = t[2];
    const torch::Tensor yy = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0;
    const torch::Tensor cb = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
    const torch::Tensor cr = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
    const torch::Tensor y_up = run_luma((yy / 255.0).to(torch::kFloat).view({1, 1, h, w}));
    const torch::Tensor chroma = torch::stack({cb, cr}).unsqueeze(0);
    const auto opts = F::InterpolateFuncOptions()
                          .scale_factor(std::vector<double>{static_cast<double>(scale_), static_cast<double>(scale_)})
                          .mode(torch::kBicubic)
                          .align_corners(false);
    const int64_t s = scale_;
    Image o(static_cast<int>(w * s), static_cast<int>(h * s), 3);
    // In bands of input rows: the double-precision chroma and colour planes of a
    // whole output frame took ~150 bytes per output pixel (20 GB for one 4K image
    // x4). Each band's chroma is interpolated from its rows and kMargin more on each
    // side (bicubic reads two): the same values as from the whole frame.
    constexpr int64_t kBand = 64;
    constexpr int64_t kMargin = 3;
    for (int64_t r0 = 0; r0 < h; r0 += kBand) {
      const int64_t r1 = std::min(h, r0 + kBand);
      const int64_t m0 = std::max<int64_t>(0, r0 - kMargin);
      const int64_t m1 = std::min(h, r1 + kMargin);
      const torch::Tensor c_up =
          F::interpolate(chroma.narrow(2, m0, m1 - m0), opts).narrow(2, (r0 - m0) * s, (r1 - r0) * s);
      const torch::Tensor Y = y_up[0][0].narrow(0, r0 * s, (r1 - r0) * s).to(torch::kDouble) * 255.0 - 16.0;
      const torch::Tensor Cb = c_up[0][0] - 128.0;
      const torch::Tensor Cr = c_up[0][1] - 128.0;
      // Inverse of the BT.601 "studio" transform above.
      const torch::Tensor R = 1.164383561643836 * Y + 1.596026785714286 * Cr;
      const torch::Tensor G = 1.164383561643836 * Y - 0.391762290094914 * Cb - 0.812967647237771 * Cr;
      const torch::Tensor B = 1.164383561643836 * Y + 2.017232142857143 * Cb;
      const torch::Tensor out = torch::stack({R, G, B}, 2).round().clamp(0, 255).to(torch::kUInt8).contiguous();
      std::memcpy(o.data.data() + static_cast<std::size_t>(r0 * s * w * s * 3), out.data_ptr<uint8_t>(),
                  static_cast<std::size_t>(out.numel()));
    }
    return o;
  }

  Image upscale_rgb_script(const Image& rgb) {
    const int64_t h = rgb.height;
    const int64_t w = rgb.width;
    torch::Tensor t = torch::from_blob(const_cast<uint8_t*>(rgb.data.data()), {1, h, w, 3}, torch::kUInt8)
                          .permute({0, 3, 1, 2})
                          .to(torch::kFloat)
                          .div_(255.0F);
    torch::Tensor o = run_rgb(t);
    o = o.mul(255.0F).round_().clamp_(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
    Image out(static_cast<int>(w * scale_), static_cast<int>(h * scale_), 3);
    std::memcpy(out.data.data(), o.data_ptr<uint8_t>(), out.data.size());
    return out;
  }

  Image swscale_rgb(const Image& rgb, int ow, int oh, int flags) {
    // Through padded frames: swscale reads and writes past tightly packed rows.
    Frame src = padded_rgb24(rgb.width, rgb.height);
    Frame dst = padded_rgb24(ow, oh);
    copy_image_into(rgb, src);
    SwsContext* c = sws_getContext(rgb.width, rgb.height, AV_PIX_FMT_RGB24, ow, oh, AV_PIX_FMT_RGB24,
                                   flags | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr);
    if (c == nullptr) {
      throw Error(ErrorKind::kProcessing, "cannot create an RGB scaler");
    }
    sws_scale(c, src.av()->data, src.av()->linesize, 0, rgb.height, dst.av()->data, dst.av()->linesize);
    sws_freeContext(c);
    return image_from_rgb24(dst);
  }

  FramePool& out_pool(int w, int h, AVPixelFormat fmt) {
    if (!pool_ || pool_->width() != w || pool_->height() != h || pool_->format() != fmt) {
      pool_ = std::make_unique<FramePool>(w, h, fmt);
    }
    return *pool_;
  }

  FrameScaler& converter(int w, int h, AVPixelFormat fmt) { return reuse_scaler(converter_, w, h, fmt); }

  FrameScaler& classical_scaler(int w, int h, AVPixelFormat fmt) {
    // The input's own format (10-bit stays 10-bit; it was yuv444p for anything but
    // planar 8-bit YUV and rgb24); palettes are resampled as the RGB they hold.
    const AVPixelFormat out_fmt = classical_keeps(fmt) ? fmt : AV_PIX_FMT_RGB24;
    return reuse_scaler(converter_, w * scale_, h * scale_, out_fmt, *classical_);
  }

  ~Impl() { sws_freeContext(chroma_); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  enum class Kind { kClassical, kLumaNet, kRgbScript };
  SrOptions options_;
  torch::Device device_;
  Kind kind_ = Kind::kClassical;
  int scale_ = 2;
  int overlap_ = 0;
  std::string description_;
  std::string precision_;  // resolve_precision
  std::optional<ScaleAlgorithm> classical_;
  SrNet net_{nullptr};
  torch::jit::Module script_;
  std::unique_ptr<FramePool> pool_;
  std::unique_ptr<FrameScaler> converter_;
  SwsContext* chroma_ = nullptr;
};

SuperResolution::SuperResolution(const SrOptions& options) : impl_(std::make_unique<Impl>(options)) {}
SuperResolution::~SuperResolution() = default;

int SuperResolution::scale() const { return impl_->scale_; }
std::string SuperResolution::precision() const { return impl_->precision_; }

std::string SuperResolution::description() const {
  return impl_->kind_ == Impl::Kind::kClassical ? std::string(to_string(*impl_->classical_)) : impl_->description_;
}
int64_t SuperResolution::macs_per_pixel() const {
  return impl_->kind_ == Impl::Kind::kLumaNet ? impl_->net_->macs_per_pixel() : 0;
}
int SuperResolution::tile_overlap() const { return impl_->overlap_; }
bool SuperResolution::native_format(AVPixelFormat format) const {
  if (impl_->kind_ == Impl::Kind::kClassical) {
    return classical_keeps(format);
  }
  if (format == AV_PIX_FMT_RGB24) {
    return true;
  }
  return impl_->kind_ != Impl::Kind::kRgbScript && is_planar_yuv8(format);
}
Frame SuperResolution::upscale(const Frame& in) { return impl_->upscale(in); }
Image SuperResolution::upscale(const Image& rgb) { return impl_->upscale(rgb); }

bool SuperResolution::is_builtin(const std::string& name) {
  return name == "fast" || name == "quality" || name == "bicubic" || name == "lanczos";
}

}  // namespace framegen
