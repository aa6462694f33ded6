#include "framegen/models/frame_predictor.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "embedded_weights.h"
#include "framegen/models/predictor_net.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/scaler.h"
#include "runtime.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace framegen {

namespace {

using models::FrameGenerator;

FrameGenerator load_generator(const std::string& key, torch::Device device, bool bf16) {
  const std::string_view bytes = models::embedded_weights(key);
  if (bytes.empty()) {
    throw Error(ErrorKind::kUsage, "no built-in '" + key + "' predictor weights in this build");
  }
  FrameGenerator g;
  std::istringstream in(std::string(bytes.data(), bytes.size()));
  torch::load(g, in);
  g->eval();
  g->to(device);
  if (device.is_cpu()) {
    g->prepare_cpu_inference(bf16);
  }
  return g;
}

// RGB bytes -> [1, 3, H, W] float in [0, 1] (NCHW: the pyramid and the fused loops
// read it so), in one pass.
torch::Tensor image_to_tensor(const Image& img) {
  const int64_t h = img.height;
  const int64_t w = img.width;
  torch::Tensor out = torch::empty({1, 3, h, w});
  float* __restrict dst = out.data_ptr<float>();
  const uint8_t* __restrict src = img.data.data();
  at::parallel_for(0, h, 16, [&](int64_t begin, int64_t end) {
    for (int64_t y = begin; y < end; ++y) {
      for (int64_t c = 0; c < 3; ++c) {
        float* o = dst + (c * h + y) * w;
        const uint8_t* in = src + y * w * 3 + c;
        for (int64_t x = 0; x < w; ++x) {
          o[x] = static_cast<float>(in[x * 3]) / 255.0F;
        }
      }
    }
  });
  return out;
}

// Extrapolation's optional frame before `previous`, as a tensor (undefined when
// absent or of another size).
torch::Tensor older_tensor(const Image* older, const Image& previous, torch::Device device) {
  if (older == nullptr || older->width != previous.width || older->height != previous.height) {
    return {};
  }
  return image_to_tensor(*older).to(device);
}

Image tensor_to_image(const torch::Tensor& t) {
  if (t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.dim() == 4 && t.size(0) == 1 && t.size(1) == 3) {
    // One pass on the CPU (any strides: the frame is often a slice of a padded one):
    // x 255, round half to even (as round_()), clamp, interleave.
    const int64_t h = t.size(2);
    const int64_t w = t.size(3);
    const int64_t sc = t.stride(1);
    const int64_t sy = t.stride(2);
    const int64_t sx = t.stride(3);
    Image img(static_cast<int>(w), static_cast<int>(h), 3);
    const float* __restrict src = t.data_ptr<float>();
    uint8_t* __restrict dst = img.data.data();
    at::parallel_for(0, h, 16, [&](int64_t begin, int64_t end) {
      for (int64_t y = begin; y < end; ++y) {
        for (int64_t c = 0; c < 3; ++c) {
          const float* in = src + c * sc + y * sy;
          uint8_t* o = dst + y * w * 3 + c;
          for (int64_t x = 0; x < w; ++x) {
            o[x * 3] = static_cast<uint8_t>(std::clamp(std::nearbyint(in[x * sx] * 255.0F), 0.0F, 255.0F));
          }
        }
      }
    });
    return img;
  }
  torch::Tensor u8 = t.mul(255.0F).round_().clamp_(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous().cpu();
  Image img(static_cast<int>(u8.size(2)), static_cast<int>(u8.size(1)), 3);
  std::memcpy(img.data.data(), u8.data_ptr<uint8_t>(), img.data.size());
  return img;
}

class GanImagePredictor final : public ImagePredictor {
 public:
  GanImagePredictor(const PredictorOptions& o, const std::string& suffix)
      : device_(torch::kCPU),
        call_threads_(o.threads_per_call),
        ensemble_(uses_ensemble(o)),
        mirror_(o.quality == "best") {
    device_ = models::parse_device(o.device);
    models::configure_torch_runtime(o.threads);
    if (o.threads_per_call > 0) {
      // OpenCV's pool is one per process, and predictors side by side contend for
      // it: bench_predict's interpolation (two workers of one thread) took 10.2-10.8 s
      // with the pool at two threads, 9.9 s with one.
      models::set_dis_threads(o.threads_per_call);
    }
    const bool bf16 = resolved_precision(o) == "bf16";
    interp_ = load_generator("interp" + suffix, device_, bf16);
    extrap_ = load_generator("extrap" + suffix, device_, bf16);
    interp_->set_dis_prior(o.quality != "fast");
    interp_->set_dis_finest_scale(o.quality == "best" ? 0 : models::kDisDefaultFinestScale);
  }

  Image interpolate(const Image& a, const Image& b, double t) override {
    models::set_calling_thread_torch_threads(call_threads_);
    c10::InferenceMode guard;
    const torch::Tensor ta = image_to_tensor(a).to(device_);
    const torch::Tensor tb = image_to_tensor(b).to(device_);
    if (!ensemble_) {
      return tensor_to_image(interp_->forward(ta, tb, torch::full({1}, t).to(device_)).frame);
    }
    // Both directions as one batch of two: (a, b, t) and (b, a, 1 - t).
    const torch::Tensor times = torch::tensor({t, 1.0 - t}).to(device_);
    torch::Tensor sum = interp_->forward(torch::cat({ta, tb}), torch::cat({tb, ta}), times).frame.sum(0, true);
    if (!mirror_) {
      return tensor_to_image(sum * 0.5);
    }
    // The same for the mirrored inputs, mirrored back (DIS and the network's errors
    // are not mirror-symmetric, so they differ): four predictions.
    const torch::Tensor ma = ta.flip({3});
    const torch::Tensor mb = tb.flip({3});
    sum += interp_->forward(torch::cat({ma, mb}), torch::cat({mb, ma}), times).frame.flip({3}).sum(0, true);
    return tensor_to_image(sum * 0.25);
  }
  Image extrapolate(const Image* older, const Image& previous, const Image& last) override {
    models::set_calling_thread_torch_threads(call_threads_);
    c10::InferenceMode guard;
    const torch::Tensor tt = torch::full({1}, 2.0);
    return tensor_to_image(extrap_
                               ->forward(image_to_tensor(previous).to(device_), image_to_tensor(last).to(device_),
                                         tt.to(device_), older_tensor(older, previous, device_))
                               .frame);
  }

 private:
  torch::Device device_;
  int call_threads_;
  bool ensemble_;
  bool mirror_;  // with the ensemble: also the mirrored inputs (quality "best")
  FrameGenerator interp_{nullptr};
  FrameGenerator extrap_{nullptr};
};

// The camera's motion alone (models::predict_global): no weights.
class GlobalImagePredictor final : public ImagePredictor {
 public:
  explicit GlobalImagePredictor(const PredictorOptions& o) : call_threads_(o.threads_per_call) {
    models::configure_torch_runtime(o.threads);
  }
  Image interpolate(const Image& a, const Image& b, double t) override {
    models::set_calling_thread_torch_threads(call_threads_);
    c10::InferenceMode guard;
    return tensor_to_image(models::predict_global(image_to_tensor(a), image_to_tensor(b), torch::full({1}, t)));
  }
  Image extrapolate(const Image* older, const Image& previous, const Image& last) override {
    models::set_calling_thread_torch_threads(call_threads_);
    c10::InferenceMode guard;
    return tensor_to_image(models::predict_global(image_to_tensor(previous), image_to_tensor(last),
                                                  torch::full({1}, 2.0), older_tensor(older, previous, torch::kCPU)));
  }

 private:
  int call_threads_;
};

class ClassicalImagePredictor final : public ImagePredictor {
 public:
  explicit ClassicalImagePredictor(bool blend) : blend_(blend) {}
  Image interpolate(const Image& a, const Image& b, double t) override {
    if (!blend_) {
      return t < 0.5 ? a : b;
    }
    Image out(a.width, a.height, a.channels);
    const int wb = static_cast<int>(std::lround(t * 256));
    for (std::size_t i = 0; i < a.data.size(); ++i) {
      out.data[i] = static_cast<uint8_t>((a.data[i] * (256 - wb) + b.data[i] * wb + 128) >> 8);
    }
    return out;
  }
  Image extrapolate(const Image* /*older*/, const Image& /*previous*/, const Image& last) override { return last; }

 private:
  bool blend_;
};

// Frames through an image predictor (gan, global): convert to RGB at the frame's
// size and back.
class ImageFramePredictor final : public FrameInterpolator {
 public:
  explicit ImageFramePredictor(std::unique_ptr<ImagePredictor> p, std::string name)
      : predictor_(std::move(p)), name_(std::move(name)) {}
  std::string name() const override { return name_; }

  Frame interpolate(const Frame& a, const Frame& b, double t) override {
    const Image ia = to_image(a);
    const Image ib = to_image(b);
    const Image r = predictor_->interpolate(ia, ib, t);
    Frame out = from_image(r, a);
    keep_input_samples(r, {{&ia, &a}, {&ib, &b}}, out);
    blend_alpha(a, b, t, out);
    return out;
  }
  Frame extrapolate(const Frame& older, const Frame& previous, const Frame& last) override {
    const Image o = older ? to_image(older) : Image();
    const Image il = to_image(last);
    const Image r = predictor_->extrapolate(older ? &o : nullptr, to_image(previous), il);
    Frame out = from_image(r, last);
    keep_input_samples(r, {{&il, &last}}, out);
    blend_alpha(last, last, 0.0, out);
    return out;
  }

 private:
  // The way back from RGB is not exact for YUV: chroma is resampled twice and
  // colours outside the RGB cube are clipped (a still, saturated edge came back up
  // to 30 code values off). Where the prediction is exactly an input's RGB (the
  // predictors keep unchanged pixels; a still picture is predicted as itself), the
  // output takes that input's own samples, so still regions of synthesised frames
  // match the frames around them bit for bit: a chroma sample when every pixel it
  // covers matches. 8-bit YUV formats (planar or semi-planar); others are left
  // as converted.
  void keep_input_samples(const Image& r, std::initializer_list<std::pair<const Image*, const Frame*>> inputs,
                          Frame& out) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(out.format());
    if (d == nullptr || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM |
                                     AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BE)) != 0) {
      return;
    }
    const bool alpha = (d->flags & AV_PIX_FMT_FLAG_ALPHA) != 0;
    const int colour = d->nb_components - (alpha ? 1 : 0);  // alpha: blend_alpha
    for (int c = 0; c < colour; ++c) {
      if (d->comp[c].depth != 8 || d->comp[c].shift != 0) {
        return;
      }
    }
    const int w = out.width();
    const int h = out.height();
    const std::size_t n = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
    std::vector<uint8_t>& source = source_;  // per pixel: 1 + the input whose RGB it is, 0 for none
    source.assign(n, 0);                     // (kept between frames: no allocation per frame)
    bool any = false;
    uint8_t index = 1;
    for (const auto& [img, frame] : inputs) {
      if (img->width != w || img->height != h || frame->format() != out.format() || img->width != r.width ||
          img->height != r.height) {
        return;
      }
      for (std::size_t p = 0; p < n; ++p) {
        if (source[p] == 0 && std::memcmp(&r.data[3 * p], &img->data[3 * p], 3) == 0) {
          source[p] = index;
          any = true;
        }
      }
      ++index;
    }
    if (!any) {
      return;
    }
    for (int c = 0; c < colour; ++c) {
      const AVComponentDescriptor& comp = d->comp[c];
      const int sw = (c == 1 || c == 2) ? d->log2_chroma_w : 0;
      const int sh = (c == 1 || c == 2) ? d->log2_chroma_h : 0;
      const int cw = AV_CEIL_RSHIFT(w, sw);
      const int ch = AV_CEIL_RSHIFT(h, sh);
      for (int sy = 0; sy < ch; ++sy) {
        for (int sx = 0; sx < cw; ++sx) {
          // The input that every pixel under this sample shows, if one does.
          uint8_t which = 0;
          for (int y = sy << sh; y < std::min(h, (sy + 1) << sh) && which != 0xFF; ++y) {
            for (int x = sx << sw; x < std::min(w, (sx + 1) << sw); ++x) {
              const uint8_t s = source[static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + x];
              if (s == 0 || (which != 0 && s != which)) {
                which = 0xFF;
                break;
              }
              which = s;
            }
          }
          if (which == 0 || which == 0xFF) {
            continue;
          }
          const Frame& in = *std::data(inputs)[which - 1].second;
          const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(sy) * in.av()->linesize[comp.plane] +
                                     static_cast<std::ptrdiff_t>(sx) * comp.step + comp.offset;
          const std::ptrdiff_t out_off = static_cast<std::ptrdiff_t>(sy) * out.av()->linesize[comp.plane] +
                                         static_cast<std::ptrdiff_t>(sx) * comp.step + comp.offset;
          out.av()->data[comp.plane][out_off] = in.av()->data[comp.plane][off];
        }
      }
    }
  }

  // The predictors see RGB: the way back would make every synthesised frame opaque
  // (the input frames around it keep theirs: the alpha would flicker). Its alpha is
  // the inputs' blended at t (the last frame's, extrapolating). Alpha stored whole
  // in 8 or 16 bits, as in every alpha format libavcodec decodes to.
  static void blend_alpha(const Frame& a, const Frame& b, double t, Frame& out) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(a.format());
    if (d == nullptr || (d->flags & AV_PIX_FMT_FLAG_ALPHA) == 0 || out.format() != a.format() ||
        (d->flags & AV_PIX_FMT_FLAG_BITSTREAM) != 0) {
      return;
    }
    const AVComponentDescriptor& c = d->comp[d->nb_components - 1];  // alpha comes last
    if (c.shift != 0 || (c.depth != 8 && c.depth != 16)) {
      return;
    }
    const bool wide = c.depth == 16;
    const bool be = (d->flags & AV_PIX_FMT_FLAG_BE) != 0;
    auto at = [&c](const Frame& f, int x, int y) {
      return f.av()->data[c.plane] + static_cast<std::ptrdiff_t>(y) * f.av()->linesize[c.plane] +
             static_cast<std::ptrdiff_t>(x) * c.step + c.offset;
    };
    auto get = [wide, be](const uint8_t* p) -> int {
      return wide ? (be ? (p[0] << 8) | p[1] : p[0] | (p[1] << 8)) : p[0];
    };
    for (int y = 0; y < a.height(); ++y) {
      for (int x = 0; x < a.width(); ++x) {
        const auto v = static_cast<int>(std::lround(get(at(a, x, y)) * (1.0 - t) + get(at(b, x, y)) * t));
        uint8_t* o = at(out, x, y);
        if (!wide) {
          o[0] = static_cast<uint8_t>(v);
        } else {
          o[be ? 0 : 1] = static_cast<uint8_t>(v >> 8);
          o[be ? 1 : 0] = static_cast<uint8_t>(v & 0xFF);
        }
      }
    }
  }

  Image to_image(const Frame& f) {
    if (f.format() == AV_PIX_FMT_RGB24) {
      return image_from_rgb24(f);
    }
    return image_from_rgb24(reuse_scaler(to_rgb_, f.width(), f.height(), AV_PIX_FMT_RGB24).scale(f));
  }

  Frame from_image(const Image& img, const Frame& like) {
    if (!rgb_pool_ || rgb_pool_->width() != img.width || rgb_pool_->height() != img.height) {
      rgb_pool_ = std::make_unique<FramePool>(img.width, img.height, AV_PIX_FMT_RGB24);
    }
    Frame rgb = rgb_pool_->acquire(like.time_base());
    av_check(av_frame_copy_props(rgb.av(), like.av()), ErrorKind::kProcessing, "frame properties");
    // The RGB was made from the input's matrix/range: the way back uses the same.
    copy_image_into(img, rgb);
    rgb.set_duration(like.duration());
    if (like.format() == AV_PIX_FMT_RGB24) {
      return rgb;
    }
    Frame out = reuse_scaler(from_rgb_, like.width(), like.height(), like.format()).scale(rgb);
    out.av()->color_range = like.av()->color_range;
    out.av()->colorspace = like.av()->colorspace;
    return out;
  }

  std::unique_ptr<ImagePredictor> predictor_;
  std::string name_;
  std::unique_ptr<FrameScaler> to_rgb_;
  std::unique_ptr<FrameScaler> from_rgb_;
  std::unique_ptr<FramePool> rgb_pool_;
  std::vector<uint8_t> source_;  // keep_input_samples' per-pixel map
};

bool is_network(const std::string& model) { return model == "gan" || model == "gan-l1"; }

// Options that do not fit the model are refused, not ignored.
void check_options(const PredictorOptions& o) {
  if (o.ensemble && !is_network(o.model)) {
    throw Error(ErrorKind::kUsage, "--ensemble needs a network predictor (gan or gan-l1), not '" + o.model + "'");
  }
  if (o.quality != "fast" && o.quality != "normal" && o.quality != "best") {
    throw Error(ErrorKind::kUsage, "unknown --quality '" + o.quality + "' (fast, normal, best)");
  }
  if (o.quality != "normal" && !is_network(o.model)) {
    throw Error(ErrorKind::kUsage,
                "--quality " + o.quality + " needs a network predictor (gan or gan-l1), not '" + o.model + "'");
  }
  resolved_precision(o);
}

}  // namespace

bool uses_ensemble(const PredictorOptions& o) { return o.ensemble || o.quality == "best"; }

std::string resolved_precision(const PredictorOptions& o) {
  return models::resolve_precision(o.precision, o.device, is_network(o.model), o.model);
}

std::unique_ptr<ImagePredictor> make_image_predictor(const PredictorOptions& o) {
  check_options(o);
  if (o.model == "gan") {
    return std::make_unique<GanImagePredictor>(o, "");
  }
  if (o.model == "gan-l1") {
    return std::make_unique<GanImagePredictor>(o, "_l1");
  }
  if (o.model == "blend" || o.model == "repeat" || o.model == "global") {
    if (o.device != "cpu") {
      throw Error(ErrorKind::kUsage, "--device " + o.device + ": " + o.model + " runs on the CPU only");
    }
    if (o.model == "global") {
      return std::make_unique<GlobalImagePredictor>(o);
    }
    return std::make_unique<ClassicalImagePredictor>(o.model == "blend");
  }
  throw Error(ErrorKind::kUsage, "unknown predictor '" + o.model + "' (gan, gan-l1, global, blend, repeat)");
}

std::unique_ptr<FrameInterpolator> make_frame_predictor(const PredictorOptions& o) {
  check_options(o);
  if (o.model == "blend" || o.model == "repeat") {
    if (o.device != "cpu") {
      throw Error(ErrorKind::kUsage, "--device " + o.device + ": " + o.model + " runs on the CPU only");
    }
    return make_classical_interpolator(o.model);
  }
  return std::make_unique<ImageFramePredictor>(make_image_predictor(o), o.model);
}

}  // namespace framegen
