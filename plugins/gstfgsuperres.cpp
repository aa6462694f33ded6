#include "gstfgsuperres.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "frame_bridge.h"
#include "framegen/models/device.h"
#include "framegen/models/super_resolution.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/scaler.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

GST_DEBUG_CATEGORY_STATIC(gst_fg_superres_debug);
#define GST_CAT_DEFAULT gst_fg_superres_debug

namespace {

constexpr int kDefaultScale = 2;
constexpr const char* kDefaultModel = "fast";
constexpr const char* kDefaultDevice = "cpu";

enum { PROP_0, PROP_SCALE, PROP_MODEL, PROP_DEVICE, PROP_THREADS, PROP_TILE, PROP_PRECISION };

// The C++ side of the element: model plus the format conversions around it.
class SuperresWorker {
 public:
  explicit SuperresWorker(const framegen::SrOptions& options) : options_(options), sr_(options) {}

  [[nodiscard]] const framegen::SrOptions& options() const { return options_; }

  framegen::Frame process(const framegen::Frame& in) {
    const AVPixelFormat fmt = in.format();
    framegen::Frame x;
    const framegen::Frame* src = &in;
    if (!sr_.native_format(fmt)) {
      const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
      // The network's nearest 8-bit planar format: same chroma subsampling (10-bit
      // input is upscaled in 8 bits, as the CLI does, and returned in 10).
      AVPixelFormat work = AV_PIX_FMT_RGB24;
      if ((d->flags & AV_PIX_FMT_FLAG_RGB) == 0) {
        work = d->log2_chroma_h > 0   ? AV_PIX_FMT_YUV420P
               : d->log2_chroma_w > 0 ? AV_PIX_FMT_YUV422P
                                      : AV_PIX_FMT_YUV444P;
      }
      x = framegen::reuse_scaler(pre_, in.width(), in.height(), work).scale(in);
      src = &x;
    }
    framegen::Frame up = sr_.upscale(*src);
    if (up.format() != fmt) {
      up = framegen::reuse_scaler(post_, up.width(), up.height(), fmt).scale(up);
    }
    return up;
  }

 private:
  framegen::SrOptions options_;
  framegen::SuperResolution sr_;
  std::unique_ptr<framegen::FrameScaler> pre_;
  std::unique_ptr<framegen::FrameScaler> post_;
};

}  // namespace

struct _GstFgSuperres {
  GstVideoFilter parent;
  // Properties, guarded by the object lock.
  gint scale;
  gchar* model;
  gchar* device;
  gint threads;
  gint tile;
  gchar* precision;
  // Streaming state.
  SuperresWorker* worker;
  std::atomic<GstClockTime>* processing;  // recent per-frame processing time (ns), for latency
  GstClockTime posted;                     // processing time last announced with a LATENCY message
};

G_DEFINE_TYPE(GstFgSuperres, gst_fg_superres, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE(fgsuperres, "fgsuperres", GST_RANK_NONE, GST_TYPE_FG_SUPERRES);

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(FRAMEGEN_VIDEO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(FRAMEGEN_VIDEO_CAPS));

static gint get_scale(GstFgSuperres* self) {
  GST_OBJECT_LOCK(self);
  const gint s = self->scale;
  GST_OBJECT_UNLOCK(self);
  return s;
}

static framegen::SrOptions current_options(GstFgSuperres* self) {
  framegen::SrOptions o;
  GST_OBJECT_LOCK(self);
  o.scale = self->scale;
  o.model = self->model != nullptr ? self->model : kDefaultModel;
  o.device = self->device != nullptr ? self->device : kDefaultDevice;
  o.threads = self->threads;
  o.tile = self->tile;
  o.precision = self->precision != nullptr ? self->precision : "auto";
  GST_OBJECT_UNLOCK(self);
  return o;
}

static bool same_options(const framegen::SrOptions& a, const framegen::SrOptions& b) {
  return a.scale == b.scale && a.model == b.model && a.device == b.device && a.threads == b.threads &&
         a.tile == b.tile && a.precision == b.precision;
}

// Loads (or keeps) the model for the current properties. Posts an element error
// and returns FALSE on failure.
static gboolean ensure_worker(GstFgSuperres* self) {
  const framegen::SrOptions o = current_options(self);
  if (o.scale == 1) {
    return TRUE;  // passthrough: no model needed
  }
  if (self->worker != nullptr && same_options(self->worker->options(), o)) {
    return TRUE;
  }
  try {
    auto* w = new SuperresWorker(o);
    delete self->worker;
    self->worker = w;
    GST_INFO_OBJECT(self, "loaded model %s x%d", o.model.c_str(), o.scale);
    return TRUE;
  } catch (const framegen::Error& e) {
    if (e.kind() == framegen::ErrorKind::kInput) {
      GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("Cannot load the super-resolution model."), ("%s", e.what()));
    } else {
      GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS, ("Invalid super-resolution settings."), ("%s", e.what()));
    }
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("Cannot load the super-resolution model."), ("%s", e.what()));
  }
  return FALSE;
}

static bool valid_model_name(const char* m) {
  if (m == nullptr) {
    return false;
  }
  const std::string s(m);
  return framegen::SuperResolution::is_builtin(s) || s.find('/') != std::string::npos ||
         (s.size() > 3 &&
          (s.rfind(".pt") == s.size() - 3 || s.rfind(".ts") == s.size() - 3 || s.rfind(".pth") == s.size() - 4));
}

static void gst_fg_superres_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstFgSuperres* self = GST_FG_SUPERRES(object);
  // Refuse values that can never work (the old value stays); a model file that is
  // missing or invalid is reported on the bus when the element starts.
  if (prop_id == PROP_MODEL && !valid_model_name(g_value_get_string(value))) {
    g_warning("fgsuperres: invalid model '%s' (fast, quality, bicubic, lanczos or a TorchScript *.pt path)",
              g_value_get_string(value) != nullptr ? g_value_get_string(value) : "(null)");
    return;
  }
  if (prop_id == PROP_DEVICE &&
      (g_value_get_string(value) == nullptr || !framegen::is_device_name(g_value_get_string(value)))) {
    g_warning("fgsuperres: invalid device '%s' (cpu, cuda or cuda:N)",
              g_value_get_string(value) != nullptr ? g_value_get_string(value) : "(null)");
    return;
  }
  if (prop_id == PROP_PRECISION && g_strcmp0(g_value_get_string(value), "auto") != 0 &&
      g_strcmp0(g_value_get_string(value), "fp32") != 0 && g_strcmp0(g_value_get_string(value), "bf16") != 0) {
    g_warning("fgsuperres: invalid precision '%s' (auto, fp32, bf16)",
              g_value_get_string(value) != nullptr ? g_value_get_string(value) : "(null)");
    return;
  }
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_PRECISION:
      g_free(self->precision);
      self->precision = g_value_dup_string(value);
      break;
    case PROP_SCALE:
      self->scale = g_value_get_int(value);
      break;
    case PROP_MODEL:
      g_free(self->model);
      self->model = g_value_dup_string(value);
      break;
    case PROP_DEVICE:
      g_free(self->device);
      self->device = g_value_dup_string(value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int(value);
      break;
    case PROP_TILE:
      self->tile = g_value_get_int(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
  if (prop_id == PROP_SCALE) {
    gst_base_transform_reconfigure_src(GST_BASE_TRANSFORM(self));
  }
}

static void gst_fg_superres_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstFgSuperres* self = GST_FG_SUPERRES(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_SCALE:
      g_value_set_int(value, self->scale);
      break;
    case PROP_MODEL:
      g_value_set_string(value, self->model);
      break;
    case PROP_DEVICE:
      g_value_set_string(value, self->device);
      break;
    case PROP_THREADS:
      g_value_set_int(value, self->threads);
      break;
    case PROP_PRECISION:
      g_value_set_string(value, self->precision);
      break;
    case PROP_TILE:
      g_value_set_int(value, self->tile);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

// Multiplies (sink -> src) or divides (src -> sink) one dimension field.
static gboolean scale_dimension(GstStructure* s, const char* field, gint scale, gboolean up) {
  const GValue* v = gst_structure_get_value(s, field);
  if (v == nullptr) {
    return TRUE;
  }
  if (G_VALUE_HOLDS_INT(v)) {
    const gint x = g_value_get_int(v);
    if (up) {
      if (x > G_MAXINT / scale) {
        return FALSE;
      }
      gst_structure_set(s, field, G_TYPE_INT, x * scale, nullptr);
    } else {
      if (x % scale != 0) {
        return FALSE;
      }
      gst_structure_set(s, field, G_TYPE_INT, x / scale, nullptr);
    }
    return TRUE;
  }
  if (GST_VALUE_HOLDS_INT_RANGE(v)) {
    gint lo = gst_value_get_int_range_min(v);
    gint hi = gst_value_get_int_range_max(v);
    if (up) {
      lo = lo > G_MAXINT / scale ? G_MAXINT : lo * scale;
      hi = hi > G_MAXINT / scale ? G_MAXINT : hi * scale;
    } else {
      lo = (lo + scale - 1) / scale;
      hi = hi / scale;
    }
    if (lo > hi) {
      return FALSE;
    }
    if (lo == hi) {
      gst_structure_set(s, field, G_TYPE_INT, lo, nullptr);
    } else {
      gst_structure_set(s, field, GST_TYPE_INT_RANGE, MAX(lo, 1), hi, nullptr);
    }
    return TRUE;
  }
  // Lists and other forms: leave the size open.
  gst_structure_set(s, field, GST_TYPE_INT_RANGE, 1, G_MAXINT, nullptr);
  return TRUE;
}

static GstCaps* gst_fg_superres_transform_caps(GstBaseTransform* trans, GstPadDirection direction, GstCaps* caps,
                                               GstCaps* filter) {
  GstFgSuperres* self = GST_FG_SUPERRES(trans);
  const gint scale = get_scale(self);
  GstCaps* out = gst_caps_new_empty();
  for (guint i = 0; i < gst_caps_get_size(caps); ++i) {
    GstStructure* s = gst_structure_copy(gst_caps_get_structure(caps, i));
    const gboolean up = direction == GST_PAD_SINK;
    if (scale > 1) {
      // The frames are scaled as progressive pictures: fields woven into a frame
      // do not survive a vertical resample (set_info warns). The output is
      // progressive; any input is taken.
      gst_structure_remove_fields(s, "interlace-mode", "field-order", nullptr);
      if (up) {
        gst_structure_set(s, "interlace-mode", G_TYPE_STRING, "progressive", nullptr);
      }
    }
    if (scale_dimension(s, "width", scale, up) && scale_dimension(s, "height", scale, up)) {
      gst_caps_append_structure_full(out, s, gst_caps_features_copy(gst_caps_get_features(caps, i)));
    } else {
      gst_structure_free(s);
    }
  }
  if (filter != nullptr) {
    GstCaps* tmp = gst_caps_intersect_full(filter, out, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref(out);
    out = tmp;
  }
  GST_DEBUG_OBJECT(self, "transformed %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT, static_cast<void*>(caps),
                   static_cast<void*>(out));
  return out;
}

static GstCaps* gst_fg_superres_fixate_caps(GstBaseTransform* trans, GstPadDirection direction, GstCaps* caps,
                                            GstCaps* othercaps) {
  GstFgSuperres* self = GST_FG_SUPERRES(trans);
  const gint scale = get_scale(self);
  othercaps = gst_caps_truncate(othercaps);
  othercaps = gst_caps_make_writable(othercaps);
  GstStructure* in = gst_caps_get_structure(caps, 0);
  GstStructure* out = gst_caps_get_structure(othercaps, 0);
  gint w = 0;
  gint h = 0;
  if (gst_structure_get_int(in, "width", &w) && gst_structure_get_int(in, "height", &h)) {
    if (direction == GST_PAD_SINK) {
      gst_structure_fixate_field_nearest_int(out, "width", w * scale);
      gst_structure_fixate_field_nearest_int(out, "height", h * scale);
    } else {
      gst_structure_fixate_field_nearest_int(out, "width", w / scale);
      gst_structure_fixate_field_nearest_int(out, "height", h / scale);
    }
  }
  // Same scale on both axes: the pixel aspect ratio is unchanged.
  const GValue* par = gst_structure_get_value(in, "pixel-aspect-ratio");
  if (par != nullptr && gst_value_is_fixed(par) && gst_structure_has_field(out, "pixel-aspect-ratio")) {
    gst_structure_set_value(out, "pixel-aspect-ratio", par);
  }
  return gst_caps_fixate(othercaps);
}

// Runs the model once on a black frame of the negotiated size, so that the first
// real frame does not pay for LibTorch's per-shape setup: that one slow frame would
// otherwise be announced as the element's latency and make a live sink hold every
// later frame for it.
static void warm_up(GstFgSuperres* self, const GstVideoInfo* info) {
  try {
    const AVPixelFormat fmt = framegen::gst::to_av_format(GST_VIDEO_INFO_FORMAT(info));
    framegen::FramePool pool(GST_VIDEO_INFO_WIDTH(info), GST_VIDEO_INFO_HEIGHT(info), fmt, 1);
    framegen::Frame black = pool.acquire({1, 1000});
    black.set_pts(0);
    ptrdiff_t linesize[4] = {};
    for (int i = 0; i < 4; ++i) {
      linesize[i] = black.av()->linesize[i];
    }
    if (av_image_fill_black(black.av()->data, linesize, fmt, AVCOL_RANGE_MPEG, black.width(), black.height()) < 0) {
      return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    (void)self->worker->process(black);
    GST_DEBUG_OBJECT(self, "warm-up took %.1f ms",
                     std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  } catch (const std::exception& e) {
    // A real failure shows up again on the first frame, where it is reported.
    GST_WARNING_OBJECT(self, "warm-up failed: %s", e.what());
  }
  self->processing->store(0);
}

static gboolean gst_fg_superres_set_info(GstVideoFilter* filter, GstCaps* /*incaps*/, GstVideoInfo* in_info,
                                         GstCaps* /*outcaps*/, GstVideoInfo* out_info) {
  GstFgSuperres* self = GST_FG_SUPERRES(filter);
  const gint scale = get_scale(self);
  if (GST_VIDEO_INFO_FORMAT(in_info) != GST_VIDEO_INFO_FORMAT(out_info) ||
      GST_VIDEO_INFO_WIDTH(out_info) != GST_VIDEO_INFO_WIDTH(in_info) * scale ||
      GST_VIDEO_INFO_HEIGHT(out_info) != GST_VIDEO_INFO_HEIGHT(in_info) * scale) {
    GST_WARNING_OBJECT(self, "caps do not describe an x%d upscale in one format", scale);
    return FALSE;
  }
  if (framegen::gst::to_av_format(GST_VIDEO_INFO_FORMAT(in_info)) == AV_PIX_FMT_NONE) {
    return FALSE;
  }
  if (scale > 1 && GST_VIDEO_INFO_IS_INTERLACED(in_info)) {
    GST_ELEMENT_WARNING(self, STREAM, FORMAT, ("Interlaced input."),
                        ("the frames are upscaled as progressive pictures (combing is kept and scaled) and the "
                         "output is marked progressive; deinterlace first for clean output, e.g. ... ! "
                         "deinterlace ! fgsuperres"));
  }
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), scale == 1);
  // Reuse the loaded model when the properties did not change (renegotiation).
  if (!ensure_worker(self)) {
    return FALSE;
  }
  if (scale > 1) {
    warm_up(self, in_info);
  }
  return TRUE;
}

static gboolean gst_fg_superres_start(GstBaseTransform* trans) {
  GstFgSuperres* self = GST_FG_SUPERRES(trans);
  self->processing->store(0);
  self->posted = 0;
  return ensure_worker(self);
}

static gboolean gst_fg_superres_stop(GstBaseTransform* trans) {
  GstFgSuperres* self = GST_FG_SUPERRES(trans);
  delete self->worker;
  self->worker = nullptr;
  return TRUE;
}

static GstFlowReturn gst_fg_superres_transform_frame(GstVideoFilter* filter, GstVideoFrame* inframe,
                                                     GstVideoFrame* outframe) {
  GstFgSuperres* self = GST_FG_SUPERRES(filter);
  if (self->worker == nullptr) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("No model loaded."), (nullptr));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  const auto t0 = std::chrono::steady_clock::now();
  try {
    const framegen::Frame in = framegen::gst::wrap(inframe, GST_BUFFER_PTS(inframe->buffer));
    const framegen::Frame out = self->worker->process(in);
    framegen::gst::copy_into(out, outframe);
    // Progressive output (transform_caps): no field flags copied from the input.
    GST_BUFFER_FLAG_UNSET(outframe->buffer, GST_VIDEO_BUFFER_FLAG_INTERLACED | GST_VIDEO_BUFFER_FLAG_TFF |
                                                GST_VIDEO_BUFFER_FLAG_RFF | GST_VIDEO_BUFFER_FLAG_ONEFIELD);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Super-resolution failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  }
  const auto ns = static_cast<GstClockTime>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  // Keep the recent worst case (decaying) as the processing latency, and announce
  // it again when it moved by more than a quarter either way (the bin then
  // re-queries and the sinks wait for the new total).
  const GstClockTime prev = self->processing->load();
  const GstClockTime next = ns > prev ? ns : prev - (prev - ns) / 16;
  self->processing->store(next);
  const GstClockTime posted = self->posted;
  if (posted == 0 || next > posted + posted / 4 || next < posted - posted / 4) {
    self->posted = next;
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_latency(GST_OBJECT(self)));
  }
  return GST_FLOW_OK;
}

static gboolean gst_fg_superres_query(GstBaseTransform* trans, GstPadDirection direction, GstQuery* query) {
  GstFgSuperres* self = GST_FG_SUPERRES(trans);
  if (direction == GST_PAD_SRC && GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    if (!GST_BASE_TRANSFORM_CLASS(gst_fg_superres_parent_class)->query(trans, direction, query)) {
      return FALSE;
    }
    gboolean live = FALSE;
    GstClockTime min = 0;
    GstClockTime max = 0;
    gst_query_parse_latency(query, &live, &min, &max);
    // The element holds no frame; it adds its processing time.
    const GstClockTime own = gst_base_transform_is_passthrough(trans) ? 0 : self->processing->load();
    min += own;
    if (GST_CLOCK_TIME_IS_VALID(max)) {
      max += own;
    }
    GST_DEBUG_OBJECT(self, "latency: adding %" GST_TIME_FORMAT, GST_TIME_ARGS(own));
    gst_query_set_latency(query, live, min, max);
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS(gst_fg_superres_parent_class)->query(trans, direction, query);
}

static void gst_fg_superres_finalize(GObject* object) {
  GstFgSuperres* self = GST_FG_SUPERRES(object);
  delete self->worker;
  delete self->processing;
  g_free(self->model);
  g_free(self->device);
  g_free(self->precision);
  G_OBJECT_CLASS(gst_fg_superres_parent_class)->finalize(object);
}

static void gst_fg_superres_class_init(GstFgSuperresClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass* filter_class = GST_VIDEO_FILTER_CLASS(klass);

  gobject_class->set_property = gst_fg_superres_set_property;
  gobject_class->get_property = gst_fg_superres_get_property;
  gobject_class->finalize = gst_fg_superres_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_SCALE,
      g_param_spec_int("scale", "Scale", "Upscaling factor (1 = passthrough)", 1, 4, kDefaultScale, flags));
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model",
                          "fast (real time), quality, bicubic, lanczos, or the path of a TorchScript file "
                          "(NCHW float RGB in [0,1] in and out)",
                          kDefaultModel, flags));
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_string("device", "Device", "cpu, cuda or cuda:N (GPU N)", kDefaultDevice, flags));
  g_object_class_install_property(
      gobject_class, PROP_THREADS,
      g_param_spec_int("threads", "Threads", "LibTorch threads, set once per process (0 = one per core)", 0, 256, 0,
                       flags));
  g_object_class_install_property(
      gobject_class, PROP_TILE,
      g_param_spec_int("tile", "Tile", "Process frames in overlapping tiles of at most N x N pixels (0 = off)", 0,
                       16384, 0, flags));
  g_object_class_install_property(
      gobject_class, PROP_PRECISION,
      g_param_spec_string("precision", "Precision",
                          "Arithmetic of the fast and quality networks on the CPU: auto (bf16 where it is the "
                          "faster: AVX512_BF16 with AMX or without AVX512_FP16; else fp32), fp32, or bf16 (bfloat16 "
                          "operands, float sums: the convolutions about twice as fast on those CPUs, the same scores "
                          "to about 0.001 dB)",
                          "auto", flags));

  gst_element_class_set_static_metadata(
      element_class, "framegen super-resolution", "Filter/Effect/Video/Scaler",
      "Upscales video with framegen's neural networks. Examples:\n"
      "  gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! fgsuperres scale=2 model=fast ! "
      "videoconvert ! x264enc ! mp4mux ! filesink location=out.mp4\n"
      "  gst-launch-1.0 v4l2src ! videoconvert ! fgsuperres scale=2 ! videoconvert ! autovideosink",
      "framegen developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  trans_class->transform_caps = GST_DEBUG_FUNCPTR(gst_fg_superres_transform_caps);
  trans_class->fixate_caps = GST_DEBUG_FUNCPTR(gst_fg_superres_fixate_caps);
  trans_class->start = GST_DEBUG_FUNCPTR(gst_fg_superres_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_fg_superres_stop);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_fg_superres_query);
  trans_class->passthrough_on_same_caps = FALSE;
  filter_class->set_info = GST_DEBUG_FUNCPTR(gst_fg_superres_set_info);
  filter_class->transform_frame = GST_DEBUG_FUNCPTR(gst_fg_superres_transform_frame);

  GST_DEBUG_CATEGORY_INIT(gst_fg_superres_debug, "fgsuperres", 0, "framegen super-resolution");
}

static void gst_fg_superres_init(GstFgSuperres* self) {
  self->scale = kDefaultScale;
  self->model = g_strdup(kDefaultModel);
  self->device = g_strdup(kDefaultDevice);
  self->threads = 0;
  self->tile = 0;
  self->precision = g_strdup("auto");
  self->worker = nullptr;
  self->processing = new std::atomic<GstClockTime>(0);
  self->posted = 0;
  gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), TRUE);
}
