#include "framegen/pipeline/scaler.h"

#include <spdlog/spdlog.h>

#include "framegen/pipeline/error.h"

extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace framegen {

ScaleAlgorithm parse_scale_algorithm(const std::string& name) {
  if (name == "bicubic") {
    return ScaleAlgorithm::kBicubic;
  }
  if (name == "lanczos") {
    return ScaleAlgorithm::kLanczos;
  }
  if (name == "bilinear") {
    return ScaleAlgorithm::kBilinear;
  }
  if (name == "point") {
    return ScaleAlgorithm::kPoint;
  }
  throw Error(ErrorKind::kUsage, "unknown scaling algorithm '" + name + "'");
}

const char* to_string(ScaleAlgorithm a) {
  switch (a) {
    case ScaleAlgorithm::kBicubic:
      return "bicubic";
    case ScaleAlgorithm::kLanczos:
      return "lanczos";
    case ScaleAlgorithm::kBilinear:
      return "bilinear";
    case ScaleAlgorithm::kPoint:
      return "point";
  }
  return "?";
}

namespace {

int sws_flags_for(ScaleAlgorithm a) {
  // Accurate rounding and full chroma interpolation: the classical baselines
  // should be as good as libswscale can make them.
  const int quality = SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP;
  switch (a) {
    case ScaleAlgorithm::kBicubic:
      return SWS_BICUBIC | quality;
    case ScaleAlgorithm::kLanczos:
      return SWS_LANCZOS | quality;
    case ScaleAlgorithm::kBilinear:
      return SWS_BILINEAR | quality;
    case ScaleAlgorithm::kPoint:
      return SWS_POINT;
  }
  return SWS_BICUBIC;
}

bool is_full_range(const AVFrame* f) {
  if (f->color_range == AVCOL_RANGE_JPEG) {
    return true;
  }
  const auto fmt = static_cast<AVPixelFormat>(f->format);
  if (without_j(fmt) != fmt) {
    return true;
  }
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
  // RGB and grey formats are full range by nature.
  return d != nullptr && ((d->flags & AV_PIX_FMT_FLAG_RGB) != 0 || d->nb_components <= 2);
}

int sws_colorspace(int colorspace) {
  switch (colorspace) {
    case AVCOL_SPC_BT709:
      return SWS_CS_ITU709;
    case AVCOL_SPC_FCC:
      return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M:
      return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return SWS_CS_BT2020;
    default:
      return SWS_CS_ITU601;
  }
}

}  // namespace

AVPixelFormat without_j(AVPixelFormat f) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P:
      return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
      return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
      return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
      return AV_PIX_FMT_YUV411P;
    default:
      return f;
  }
}

FrameScaler::FrameScaler(ScalerConfig config) : config_(config), pool_(config.width, config.height, config.format) {}

FrameScaler::~FrameScaler() = default;

void FrameScaler::configure(const AVFrame* in) {
  const auto fmt = static_cast<AVPixelFormat>(in->format);
  if (sws_ && in->width == src_w_ && in->height == src_h_ && fmt == src_fmt_ && in->colorspace == src_colorspace_ &&
      in->color_range == src_range_) {
    return;
  }
  if (seen_first_ && (in->width != src_w_ || in->height != src_h_)) {
    spdlog::warn("input size changed to {}x{}; scaling it to the output size {}x{}", in->width, in->height,
                 config_.width, config_.height);
  }
  seen_first_ = true;
  SwsContext* ctx = sws_alloc_context();
  if (ctx == nullptr) {
    throw std::bad_alloc();
  }
  sws_.reset(ctx);
  av_opt_set_int(ctx, "srcw", in->width, 0);
  av_opt_set_int(ctx, "srch", in->height, 0);
  av_opt_set_int(ctx, "src_format", without_j(fmt), 0);
  av_opt_set_int(ctx, "dstw", config_.width, 0);
  av_opt_set_int(ctx, "dsth", config_.height, 0);
  av_opt_set_int(ctx, "dst_format", without_j(config_.format), 0);
  av_opt_set_int(ctx, "sws_flags", sws_flags_for(config_.algorithm), 0);
  av_opt_set_int(ctx, "threads", config_.threads, 0);
  av_check(sws_init_context(ctx, nullptr, nullptr), ErrorKind::kProcessing,
           std::string("cannot scale from ") + av_get_pix_fmt_name(fmt) + " to " + av_get_pix_fmt_name(config_.format));
  // Same matrix and range on both sides: scaling must not shift colours.
  const int* coeffs = sws_getCoefficients(sws_colorspace(in->colorspace));
  const int full = is_full_range(in) ? 1 : 0;
  AVFrame probe{};
  probe.format = config_.format;
  probe.color_range = config_.range != AVCOL_RANGE_UNSPECIFIED ? config_.range : in->color_range;
  const int dst_full = is_full_range(&probe) ? 1 : 0;
  sws_setColorspaceDetails(ctx, coeffs, full, coeffs, dst_full, 0, 1 << 16, 1 << 16);
  src_w_ = in->width;
  src_h_ = in->height;
  src_fmt_ = fmt;
  src_colorspace_ = in->colorspace;
  src_range_ = in->color_range;
}

Frame FrameScaler::scale(const Frame& in) {
  configure(in.av());
  Frame out = pool_.acquire(in.time_base());
  av_check(av_frame_copy_props(out.av(), in.av()), ErrorKind::kProcessing, "copy frame properties");
  out.set_duration(in.duration());
  const int ret = sws_scale_frame(sws_.get(), out.av(), in.av());
  if (ret < 0) {
    throw Error(ErrorKind::kProcessing,
                "scaling failed at " + std::to_string(in.seconds()) + "s: " + av_error_text(ret));
  }
  if ((out.av()->color_range == AVCOL_RANGE_UNSPECIFIED && is_full_range(in.av())) ||
      without_j(config_.format) != config_.format) {
    out.av()->color_range = AVCOL_RANGE_JPEG;  // a J format holds full range, whatever the input's
  } else if (config_.range != AVCOL_RANGE_UNSPECIFIED) {
    AVFrame probe{};
    probe.format = config_.format;
    probe.color_range = config_.range;
    out.av()->color_range = is_full_range(&probe) ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  }
  return out;
}

FrameScaler& reuse_scaler(std::unique_ptr<FrameScaler>& slot, int width, int height, AVPixelFormat format,
                          ScaleAlgorithm algorithm) {
  if (!slot || slot->config().width != width || slot->config().height != height || slot->config().format != format ||
      slot->config().algorithm != algorithm) {
    ScalerConfig c;
    c.width = width;
    c.height = height;
    c.format = format;
    c.algorithm = algorithm;
    slot = std::make_unique<FrameScaler>(c);
  }
  return *slot;
}

void ScaleFilter::process(Frame frame, FrameOutput& out) { out.emit(scaler_.scale(frame)); }

}  // namespace framegen
