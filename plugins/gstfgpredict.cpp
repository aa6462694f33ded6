#include "gstfgpredict.h"

#include <gst/video/video.h>

#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "frame_bridge.h"
#include "framegen/models/device.h"
#include "framegen/models/frame_predictor.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/interpolate.h"

GST_DEBUG_CATEGORY_STATIC(gst_fg_predict_debug);
#define GST_CAT_DEFAULT gst_fg_predict_debug

namespace {

enum Mode { kInterpolate = 0, kExtrapolate = 1, kConceal = 2 };
// PredictorOptions::quality, in order.
enum Quality { kQualityFast = 0, kQualityNormal = 1, kQualityBest = 2 };
constexpr std::array<const char*, 3> kQualityNames = {"fast", "normal", "best"};
enum {
  PROP_0,
  PROP_MODE,
  PROP_FPS,
  PROP_FACTOR,
  PROP_MODEL,
  PROP_ENSEMBLE,
  PROP_QUALITY,
  PROP_PRECISION,
  PROP_DEVICE,
  PROP_MAX_CONCEAL,
  PROP_DEADLINE
};
constexpr const char* kDefaultModel = "gan";
// conceal: the longest run of missing frames that is filled with predictions. A
// longer gap is an outage, not a glitch: the prediction would run on from stale
// frames and, on a slow machine, hold the stream up while it does.
constexpr guint kDefaultMaxConceal = 3;

GType mode_get_type() {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {kInterpolate, "Raise the frame rate by synthesising frames between real ones", "interpolate"},
        {kExtrapolate, "Emit predicted frames after each real one (no added latency)", "extrapolate"},
        {kConceal, "Pass frames through and fill missing ones with predictions", "conceal"},
        {0, nullptr, nullptr}};
    const GType t = g_enum_register_static("GstFgPredictMode", values);
    g_once_init_leave(&type, t);
  }
  return type;
}

GType quality_get_type() {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {kQualityFast, "The network alone", "fast"},
        {kQualityNormal, "Also DIS optical flow matched to half resolution, taken where it fits better", "normal"},
        {kQualityBest,
         "DIS matched to full resolution, the ensemble of both time directions for the inputs and for the inputs "
         "mirrored (~4x normal's time)",
         "best"},
        {0, nullptr, nullptr}};
    const GType t = g_enum_register_static("GstFgPredictQuality", values);
    g_once_init_leave(&type, t);
  }
  return type;
}

// Streaming state, touched only on the streaming thread (and at state changes).
struct PredictState {
  // The model and `info` are used by the streaming thread and, with a deadline, by
  // the worker predicting outside the stream lock: model_mutex guards their use.
  std::mutex model_mutex;
  std::unique_ptr<framegen::FrameInterpolator> model;
  GstVideoInfo info{};
  bool have_info = false;
  gint in_n = 0;  // input rate
  gint in_d = 1;
  gint out_n = 0;  // output rate
  gint out_d = 1;
  GstBuffer* prev = nullptr;                // last real frame
  GstBuffer* prev2 = nullptr;               // the one before it (extrapolation history)
  GstBuffer* prev3 = nullptr;               // and the one before that (conceal only)
  GstClockTime base = GST_CLOCK_TIME_NONE;  // time of output frame 0
  guint64 next_out = 0;
  // Reverse playback (segment rate < 0, taken at the first frame after a reset):
  // frames arrive latest first and the output runs down the same slot grid, from
  // the first frame's slot (`base`) down: next_out counts slots below it.
  bool reverse = false;
  // Whether frames `gap` apart are a held picture (framegen::is_hold).
  [[nodiscard]] bool is_hold(GstClockTime gap) const {
    return GST_CLOCK_TIME_IS_VALID(shortest) &&
           framegen::is_hold(static_cast<double>(gap) / GST_SECOND, static_cast<double>(shortest) / GST_SECOND);
  }
  // interpolate: the shortest interval between input frames so far (a hold of
  // variable-rate video stays held: framegen::kHoldFactor).
  GstClockTime shortest = GST_CLOCK_TIME_NONE;
  // conceal: `prev` is a prediction (its slot's real frame, should it still come,
  // is late), and how many predictions in a row have been emitted.
  bool prev_predicted = false;
  guint predicted_run = 0;
  // conceal with a deadline: the input segment (running times) and what upstream
  // answered to a latency query (asked once per stream).
  GstSegment segment{};
  bool latency_known = false;
  bool warned_slow = false;  // a prediction took longer than half the deadline (warned once)
  bool live = false;
  GstClockTime upstream_latency = 0;

  PredictState() { gst_segment_init(&segment, GST_FORMAT_TIME); }
  ~PredictState() { reset(); }
  void reset() {
    gst_clear_buffer(&prev);
    gst_clear_buffer(&prev2);
    gst_clear_buffer(&prev3);
    base = GST_CLOCK_TIME_NONE;
    next_out = 0;
    reverse = false;
    shortest = GST_CLOCK_TIME_NONE;
    prev_predicted = false;
    predicted_run = 0;
  }
  // `newest` (owned, may be null) becomes prev; the history moves back one frame.
  void shift(GstBuffer* newest) {
    gst_clear_buffer(&prev3);
    prev3 = prev2;
    prev2 = prev;
    prev = newest;
  }
  [[nodiscard]] GstClockTime in_duration() const {
    return in_n > 0 ? gst_util_uint64_scale_int(GST_SECOND, in_d, in_n) : GST_CLOCK_TIME_NONE;
  }
  // interpolate: where `prev` ends, the last output slot it covers: one input frame
  // duration after it, else (variable-rate input: framerate 0/1) its own buffer
  // duration, else one output frame (a still image with no duration still makes
  // one frame).
  [[nodiscard]] GstClockTime end_of_prev() const {
    GstClockTime d = in_duration();
    if (!GST_CLOCK_TIME_IS_VALID(d) || d == 0) {
      d = GST_BUFFER_DURATION(prev);
    }
    if ((!GST_CLOCK_TIME_IS_VALID(d) || d == 0) && out_n > 0) {
      d = gst_util_uint64_scale_int(GST_SECOND, out_d, out_n);
    }
    return GST_CLOCK_TIME_IS_VALID(d) ? GST_BUFFER_PTS(prev) + d : GST_CLOCK_TIME_NONE;
  }
  // n input frame durations, exactly (no accumulated rounding).
  [[nodiscard]] GstClockTime in_span(guint64 n, guint64 parts = 1) const {
    return gst_util_uint64_scale(n, static_cast<guint64>(GST_SECOND) * in_d, static_cast<guint64>(in_n) * parts);
  }
  // conceal: the input slot of `prev` (counted from `base`) and the number of
  // slots missing between it and a frame at pts (0 unless pts is more than 1.5
  // frame durations after it).
  [[nodiscard]] guint64 slot_of_prev() const {
    return gst_util_uint64_scale_round(GST_BUFFER_PTS(prev) - base, in_n, static_cast<guint64>(GST_SECOND) * in_d);
  }
  [[nodiscard]] guint64 missing_before(GstClockTime pts) const {
    const GstClockTime d = in_duration();
    if (prev == nullptr || !GST_CLOCK_TIME_IS_VALID(d) || pts <= GST_BUFFER_PTS(prev) + d + d / 2) {
      return 0;
    }
    const GstClockTime last = base + in_span(slot_of_prev());
    return gst_util_uint64_scale_round(pts - last, in_n, static_cast<guint64>(GST_SECOND) * in_d) - 1;
  }
  [[nodiscard]] GstClockTime out_time(guint64 n) const {
    return base + gst_util_uint64_scale(n, static_cast<guint64>(GST_SECOND) * out_d, out_n);
  }
  // reverse: slot n below base (none below time 0).
  [[nodiscard]] GstClockTime out_time_below(guint64 n) const {
    const GstClockTime back = gst_util_uint64_scale(n, static_cast<guint64>(GST_SECOND) * out_d, out_n);
    return back <= base ? base - back : GST_CLOCK_TIME_NONE;
  }
};

// conceal with a deadline: a worker thread that waits on the pipeline clock until
// the next frame is overdue and then predicts it. The chain function arms it after
// every frame and disarms it when a frame arrives; `generation` tells the worker
// whether the wait it woke from is still the current one.
struct DeadlineTimer {
  std::mutex m;
  std::condition_variable cv;
  std::thread worker;
  bool stop = false;
  bool armed = false;
  GstClockTime at = GST_CLOCK_TIME_NONE;  // clock time of the deadline
  guint64 generation = 0;
  GstClockID pending = nullptr;  // the wait in progress

  // Replaces any deadline with `clock_time` (GST_CLOCK_TIME_NONE: none).
  void set(GstClockTime clock_time) {
    std::lock_guard<std::mutex> lock(m);
    armed = GST_CLOCK_TIME_IS_VALID(clock_time);
    at = clock_time;
    ++generation;
    if (pending != nullptr) {
      gst_clock_id_unschedule(pending);
    }
    cv.notify_all();
  }
  [[nodiscard]] bool current(guint64 g) {
    std::lock_guard<std::mutex> lock(m);
    return g == generation;
  }
};

// conceal with a deadline: the element's output thread (a task on the source pad)
// and its queue of buffers and serialized events, in order. Pushing into a
// synchronised sink blocks until the frame's render time; without this thread
// the chain function would be held there past the next frame's deadline and take
// every frame for lost. At most kMaxQueued buffers wait (back-pressure after that).
struct OutQueue {
  static constexpr std::size_t kMaxQueued = 8;
  std::mutex m;
  std::condition_variable cv;
  std::deque<GstMiniObject*> items;
  std::size_t buffers = 0;
  bool flushing = true;
  GstFlowReturn last = GST_FLOW_OK;  // what the last push downstream returned

  void clear() {
    for (GstMiniObject* o : items) {
      gst_mini_object_unref(o);
    }
    items.clear();
    buffers = 0;
  }
};

}  // namespace

struct _GstFgPredict {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;
  // Properties, guarded by the object lock.
  gint mode;
  gint fps_n;
  gint fps_d;
  gint factor;
  guint max_conceal;
  GstClockTime deadline;
  gchar* model;
  gboolean ensemble;
  gint quality;  // Quality
  gchar* precision;
  gchar* device;
  PredictState* state;
  DeadlineTimer* timer;
  OutQueue* out;
  bool decoupled;  // conceal with a deadline: output through `out` and the source pad's task
  // A flow error met by the deadline worker's push, returned by the next chain call.
  GstFlowReturn worker_flow;
};

G_DEFINE_TYPE(GstFgPredict, gst_fg_predict, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE(fgpredict, "fgpredict", GST_RANK_NONE, GST_TYPE_FG_PREDICT);

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(FRAMEGEN_VIDEO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(FRAMEGEN_VIDEO_CAPS));

static GstCaps* open_framerate(const GstCaps* caps) {
  GstCaps* out = gst_caps_copy(caps);
  for (guint i = 0; i < gst_caps_get_size(out); ++i) {
    gst_structure_set(gst_caps_get_structure(out, i), "framerate", GST_TYPE_FRACTION_RANGE, 0, 1, G_MAXINT, 1, nullptr);
  }
  return out;
}

// CAPS query on `pad`: what the element on the other side (`other`) accepts, with
// the frame rate left open (this element changes it), within our template.
static gboolean answer_caps_query(GstPad* pad, GstPad* other, GstQuery* query) {
  GstCaps* filter = nullptr;
  gst_query_parse_caps(query, &filter);
  GstCaps* peer = gst_pad_peer_query_caps(other, nullptr);
  GstCaps* open = open_framerate(peer);
  gst_caps_unref(peer);
  GstCaps* tmpl = gst_pad_get_pad_template_caps(pad);
  GstCaps* result = gst_caps_intersect(open, tmpl);
  gst_caps_unref(open);
  gst_caps_unref(tmpl);
  if (filter != nullptr) {
    GstCaps* f = gst_caps_intersect_full(filter, result, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref(result);
    result = f;
  }
  gst_query_set_caps_result(query, result);
  gst_caps_unref(result);
  return TRUE;
}

// Wraps a mapped buffer as a framegen Frame, calls fn(frame), unmaps.
template <typename Fn>
static bool with_frame(PredictState* st, GstBuffer* buf, Fn&& fn) {
  GstVideoFrame vf;
  if (!gst_video_frame_map(&vf, &st->info, buf, GST_MAP_READ)) {
    return false;
  }
  fn(framegen::gst::wrap(&vf, GST_BUFFER_PTS(buf)));
  gst_video_frame_unmap(&vf);
  return true;
}

static GstBuffer* frame_to_buffer(PredictState* st, const framegen::Frame& f) {
  GstBuffer* out = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&st->info), nullptr);
  GstVideoFrame vf;
  if (!gst_video_frame_map(&vf, &st->info, out, GST_MAP_WRITE)) {
    gst_buffer_unref(out);
    return nullptr;
  }
  framegen::gst::copy_into(f, &vf);
  gst_video_frame_unmap(&vf);
  return out;
}

// A synthesised frame between a and b at fraction t (0 < t < 1).
static GstBuffer* make_interpolated(PredictState* st, GstBuffer* a, GstBuffer* b, double t) {
  const std::lock_guard<std::mutex> lock(st->model_mutex);
  GstBuffer* result = nullptr;
  with_frame(st, a, [&](const framegen::Frame& fa) {
    with_frame(st, b,
               [&](const framegen::Frame& fb) { result = frame_to_buffer(st, st->model->interpolate(fa, fb, t)); });
  });
  return result;
}

// The frame after `last` from `before` and, when there is one, `older` (may be null).
static GstBuffer* make_extrapolated(PredictState* st, GstBuffer* older, GstBuffer* before, GstBuffer* last) {
  if (before == nullptr) {
    return gst_buffer_copy(last);
  }
  const std::lock_guard<std::mutex> lock(st->model_mutex);
  if (!st->model) {
    return nullptr;
  }
  GstBuffer* result = nullptr;
  auto predict = [&](const framegen::Frame& fo) {
    with_frame(st, before, [&](const framegen::Frame& fa) {
      with_frame(st, last,
                 [&](const framegen::Frame& fb) { result = frame_to_buffer(st, st->model->extrapolate(fo, fa, fb)); });
    });
  };
  if (older == nullptr) {
    predict(framegen::Frame());
  } else {
    with_frame(st, older, predict);
  }
  return result;
}

// Sends a buffer downstream: directly, or through the output thread.
static GstFlowReturn output_buffer(GstFgPredict* self, GstBuffer* buf) {
  if (!self->decoupled) {
    return gst_pad_push(self->srcpad, buf);
  }
  OutQueue* q = self->out;
  std::unique_lock<std::mutex> lock(q->m);
  q->cv.wait(lock, [&] { return q->flushing || q->last != GST_FLOW_OK || q->buffers < OutQueue::kMaxQueued; });
  if (q->flushing || q->last != GST_FLOW_OK) {
    gst_buffer_unref(buf);
    return q->flushing ? GST_FLOW_FLUSHING : q->last;
  }
  q->items.push_back(GST_MINI_OBJECT_CAST(buf));
  q->buffers++;
  q->cv.notify_all();
  return GST_FLOW_OK;
}

// Sends a serialized event downstream in order with the buffers.
static gboolean output_event(GstFgPredict* self, GstEvent* event) {
  if (!self->decoupled) {
    return gst_pad_push_event(self->srcpad, event);
  }
  OutQueue* q = self->out;
  std::lock_guard<std::mutex> lock(q->m);
  if (q->flushing) {
    gst_event_unref(event);
    return FALSE;
  }
  q->items.push_back(GST_MINI_OBJECT_CAST(event));
  q->cv.notify_all();
  return TRUE;
}

// The source pad's task (decoupled only): one buffer or event per call.
static void output_loop(gpointer user) {
  auto* self = static_cast<GstFgPredict*>(user);
  OutQueue* q = self->out;
  std::unique_lock<std::mutex> lock(q->m);
  q->cv.wait(lock, [&] { return q->flushing || !q->items.empty(); });
  if (q->flushing) {
    lock.unlock();
    gst_pad_pause_task(self->srcpad);
    return;
  }
  GstMiniObject* o = q->items.front();
  q->items.pop_front();
  const bool is_buffer = GST_IS_BUFFER(o);
  lock.unlock();
  GstFlowReturn ret = GST_FLOW_OK;
  if (is_buffer) {
    ret = gst_pad_push(self->srcpad, GST_BUFFER_CAST(o));
  } else {
    const bool eos = GST_EVENT_TYPE(GST_EVENT_CAST(o)) == GST_EVENT_EOS;
    gst_pad_push_event(self->srcpad, GST_EVENT_CAST(o));
    ret = eos ? GST_FLOW_EOS : GST_FLOW_OK;
  }
  lock.lock();
  if (is_buffer) {
    q->buffers--;
  }
  if (ret != GST_FLOW_OK) {
    q->last = ret;
    if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
      GST_ELEMENT_FLOW_ERROR(self, ret);
    }
  }
  q->cv.notify_all();
  lock.unlock();
  if (ret != GST_FLOW_OK) {
    gst_pad_pause_task(self->srcpad);
  }
}

static void start_output(GstFgPredict* self) {
  {
    std::lock_guard<std::mutex> lock(self->out->m);
    self->out->clear();
    self->out->flushing = false;
    self->out->last = GST_FLOW_OK;
  }
  gst_pad_start_task(self->srcpad, output_loop, self, nullptr);
}

static void flush_output(GstFgPredict* self) {
  std::lock_guard<std::mutex> lock(self->out->m);
  self->out->flushing = true;
  self->out->clear();
  self->out->cv.notify_all();
}

static GstFlowReturn push_at(GstFgPredict* self, GstBuffer* buf, GstClockTime pts, GstClockTime duration) {
  if (buf == nullptr) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Frame synthesis failed."), ("cannot map or allocate a video frame"));
    return GST_FLOW_ERROR;
  }
  buf = gst_buffer_make_writable(buf);
  GST_BUFFER_PTS(buf) = pts;
  GST_BUFFER_DTS(buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(buf) = duration;
  GST_BUFFER_FLAG_UNSET(buf, GST_BUFFER_FLAG_DISCONT);
  return output_buffer(self, buf);
}

// interpolate in reverse playback: `first` (the first frame after a reset, the
// latest in time) gives the slots of its own span, latest first, down to its own
// slot; each later-arriving, earlier frame `cur` gives the slots down to its own
// time, interpolated between it and prev (the frame after it in time).
static GstFlowReturn emit_interpolated_reverse(GstFgPredict* self, GstBuffer* cur) {
  PredictState* st = self->state;
  const GstClockTime period = gst_util_uint64_scale_int(GST_SECOND, st->out_d, st->out_n);
  if (st->prev == nullptr) {
    // cur is the first frame: base is its time; the slots above it up to its end.
    st->base = GST_BUFFER_PTS(cur);
    st->next_out = 1;
    GstClockTime d = GST_BUFFER_DURATION(cur);
    if (GST_CLOCK_TIME_IS_VALID(st->in_duration())) {
      d = st->in_duration();
    }
    guint64 top = 0;
    while (GST_CLOCK_TIME_IS_VALID(d) && st->out_time(top + 1) < st->base + d) {
      ++top;
    }
    for (guint64 n = top + 1; n-- > 0;) {
      const GstClockTime t = st->out_time(n);
      const GstFlowReturn ret = push_at(self, gst_buffer_copy(cur), t, st->out_time(n + 1) - t);
      if (ret != GST_FLOW_OK) {
        return ret;
      }
    }
    return GST_FLOW_OK;
  }
  const GstClockTime t1 = GST_BUFFER_PTS(st->prev);
  GstClockTime t0 = GST_BUFFER_PTS(cur);  // the synthesis runs from t0 to t1; cur is held before
  if (st->is_hold(t1 - t0)) {
    t0 = t1 - st->shortest;  // as going forwards: only the last interval before prev
  }
  for (;;) {
    const GstClockTime t = st->out_time_below(st->next_out);
    if (!GST_CLOCK_TIME_IS_VALID(t) || t < GST_BUFFER_PTS(cur)) {
      return GST_FLOW_OK;
    }
    const double alpha = t <= t0 ? 0.0 : static_cast<double>(t - t0) / static_cast<double>(t1 - t0);
    GstBuffer* out = alpha < 1e-6 ? gst_buffer_copy(cur) : make_interpolated(st, cur, st->prev, alpha);
    st->next_out++;
    const GstFlowReturn ret = push_at(self, out, t, period);
    if (ret != GST_FLOW_OK) {
      return ret;
    }
  }
}

// interpolate: emit every output slot before `until` (exclusive) from prev and cur.
static GstFlowReturn emit_interpolated(GstFgPredict* self, GstBuffer* cur, GstClockTime until) {
  PredictState* st = self->state;
  // Synthesis runs from t0 to cur; before t0 prev is held (a long interval of
  // variable-rate video, as RetimeFilter does).
  GstClockTime t0 = GST_BUFFER_PTS(st->prev);
  if (cur != nullptr && st->is_hold(GST_BUFFER_PTS(cur) - t0)) {
    t0 = GST_BUFFER_PTS(cur) - st->shortest;
  }
  for (;;) {
    const GstClockTime t = st->out_time(st->next_out);
    if (t >= until) {
      return GST_FLOW_OK;
    }
    const GstClockTime dur = st->out_time(st->next_out + 1) - t;
    GstBuffer* out = nullptr;
    if (cur == nullptr || t <= t0) {
      out = gst_buffer_copy(st->prev);  // at (or before) a real frame, or held: the frame itself
    } else {
      const double alpha = static_cast<double>(t - t0) / static_cast<double>(GST_BUFFER_PTS(cur) - t0);
      out = alpha < 1e-6 ? gst_buffer_copy(st->prev) : make_interpolated(st, st->prev, cur, alpha);
    }
    st->next_out++;
    const GstFlowReturn ret = push_at(self, out, t, dur);
    if (ret != GST_FLOW_OK) {
      return ret;
    }
  }
}


// conceal with a deadline, on the streaming thread (or the worker, under the
// stream lock): arms the timer for the slot after `prev`, at the clock time that
// frame should have arrived by (its running time, plus upstream's latency, plus
// half the deadline; the other half is the prediction's). Only in a live pipeline
// in PLAYING, and only while fewer than max-conceal predictions ran in a row.
static void arm_next(GstFgPredict* self) {
  PredictState* st = self->state;
  GST_OBJECT_LOCK(self);
  const GstClockTime deadline = self->deadline;
  const bool conceal = self->mode == kConceal;
  const guint max_conceal = self->max_conceal;
  const bool playing = GST_STATE(self) == GST_STATE_PLAYING && GST_STATE_PENDING(self) == GST_STATE_VOID_PENDING;
  GST_OBJECT_UNLOCK(self);
  const GstClockTime d = st->in_duration();
  if (deadline == 0 || !conceal || !playing || st->prev == nullptr || !GST_CLOCK_TIME_IS_VALID(d) ||
      st->predicted_run >= max_conceal) {
    self->timer->set(GST_CLOCK_TIME_NONE);
    return;
  }
  if (!st->latency_known) {
    GstQuery* q = gst_query_new_latency();
    if (gst_pad_peer_query(self->sinkpad, q)) {
      gboolean live = FALSE;
      GstClockTime min = 0;
      gst_query_parse_latency(q, &live, &min, nullptr);
      st->live = live != FALSE;
      st->upstream_latency = GST_CLOCK_TIME_IS_VALID(min) ? min : 0;
    }
    gst_query_unref(q);
    st->latency_known = true;
    if (!st->live) {
      GST_ELEMENT_WARNING(self, STREAM, FAILED, ("deadline has no effect: upstream is not live."),
                          ("missing frames are filled when the next one arrives, as with deadline=0"));
    }
  }
  const GstClockTime next = st->base + st->in_span(st->slot_of_prev() + 1);
  const guint64 running = gst_segment_to_running_time(&st->segment, GST_FORMAT_TIME, next);
  if (!st->live || !GST_CLOCK_TIME_IS_VALID(running)) {
    self->timer->set(GST_CLOCK_TIME_NONE);
    return;
  }
  const GstClockTime at = gst_element_get_base_time(GST_ELEMENT(self)) + running + st->upstream_latency + deadline / 2;
  GST_LOG_OBJECT(self, "frame at %" GST_TIME_FORMAT " is overdue at clock time %" GST_TIME_FORMAT, GST_TIME_ARGS(next),
                 GST_TIME_ARGS(at));
  self->timer->set(at);
}

// The deadline passed and the frame after `prev` has not come: predict it and
// push it in its slot, as a gap filled after the fact would be. Runs on the worker
// thread; the stream lock keeps it apart from the chain function.
static void conceal_overdue(GstFgPredict* self, guint64 generation) {
  PredictState* st = self->state;
  // The history as it is now (references: the prediction runs outside the stream
  // lock, so that real frames keep flowing meanwhile).
  GST_PAD_STREAM_LOCK(self->sinkpad);
  // A frame (or a flush, EOS, a state change) came in between: nothing is overdue.
  if (!self->timer->current(generation) || st->prev == nullptr || !st->have_info || !st->model) {
    GST_PAD_STREAM_UNLOCK(self->sinkpad);
    return;
  }
  GstBuffer* last = gst_buffer_ref(st->prev);
  GstBuffer* before = st->prev2 != nullptr ? gst_buffer_ref(st->prev2) : nullptr;
  GstBuffer* older = st->prev3 != nullptr ? gst_buffer_ref(st->prev3) : nullptr;
  const guint64 slot = st->slot_of_prev() + 1;
  const GstClockTime t = st->base + st->in_span(slot);
  const GstClockTime dur = st->base + st->in_span(slot + 1) - t;
  GST_PAD_STREAM_UNLOCK(self->sinkpad);

  GST_DEBUG_OBJECT(self, "frame at %" GST_TIME_FORMAT " overdue: predicting it", GST_TIME_ARGS(t));
  GstBuffer* p = nullptr;
  GstFlowReturn ret = GST_FLOW_OK;
  const gint64 start = g_get_monotonic_time();
  try {
    p = make_extrapolated(st, older, before, last);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Frame prediction failed."), ("%s", e.what()));
    ret = GST_FLOW_ERROR;
  }
  const GstClockTime took = static_cast<GstClockTime>(g_get_monotonic_time() - start) * GST_USECOND;
  GST_OBJECT_LOCK(self);
  const GstClockTime budget = self->deadline / 2;
  GST_OBJECT_UNLOCK(self);
  if (ret == GST_FLOW_OK && took > budget && !st->warned_slow) {
    st->warned_slow = true;
    GST_ELEMENT_WARNING(self, STREAM, FAILED, ("Frame prediction is too slow for the deadline."),
                        ("a prediction took %" GST_TIME_FORMAT ", more than half the deadline (%" GST_TIME_FORMAT
                         "): predicted frames come late; use model=global or a longer deadline",
                         GST_TIME_ARGS(took), GST_TIME_ARGS(budget)));
  }
  gst_clear_buffer(&before);
  gst_clear_buffer(&older);

  GST_PAD_STREAM_LOCK(self->sinkpad);
  // The frame itself came while the prediction ran (or a flush, EOS, a state
  // change): the prediction is not needed.
  const bool wanted = self->timer->current(generation) && st->prev == last;
  gst_buffer_unref(last);
  if (!wanted) {
    GST_DEBUG_OBJECT(self, "frame at %" GST_TIME_FORMAT " came while it was predicted", GST_TIME_ARGS(t));
    gst_clear_buffer(&p);
    GST_PAD_STREAM_UNLOCK(self->sinkpad);
    return;
  }
  if (ret == GST_FLOW_OK) {
    st->shift(p != nullptr ? gst_buffer_ref(p) : nullptr);
    if (st->prev != nullptr) {
      GST_BUFFER_PTS(st->prev) = t;
    }
    st->prev_predicted = true;
    st->predicted_run++;
    ret = push_at(self, p, t, dur);
  }
  if (ret == GST_FLOW_OK && st->prev != nullptr) {
    arm_next(self);  // the next slot may be missing too (up to max-conceal in a row)
  } else {
    if (ret != GST_FLOW_FLUSHING) {
      self->worker_flow = ret;  // upstream learns of it at its next push
    }
    st->reset();
  }
  GST_PAD_STREAM_UNLOCK(self->sinkpad);
}

static void deadline_worker(GstFgPredict* self) {
  DeadlineTimer* tm = self->timer;
  std::unique_lock<std::mutex> lock(tm->m);
  while (!tm->stop) {
    if (!tm->armed) {
      tm->cv.wait(lock);
      continue;
    }
    const guint64 generation = tm->generation;
    GstClock* clock = gst_element_get_clock(GST_ELEMENT(self));
    if (clock == nullptr) {
      tm->cv.wait_for(lock, std::chrono::milliseconds(10));
      continue;
    }
    GstClockID id = gst_clock_new_single_shot_id(clock, tm->at);
    gst_object_unref(clock);
    tm->pending = id;
    lock.unlock();
    const GstClockReturn r = gst_clock_id_wait(id, nullptr);
    lock.lock();
    tm->pending = nullptr;
    gst_clock_id_unref(id);
    if (tm->stop || generation != tm->generation || r == GST_CLOCK_UNSCHEDULED) {
      continue;  // re-armed, disarmed or stopped meanwhile
    }
    tm->armed = false;
    lock.unlock();
    conceal_overdue(self, generation);
    lock.lock();
  }
}

static void start_deadline_worker(GstFgPredict* self) {
  DeadlineTimer* tm = self->timer;
  std::lock_guard<std::mutex> lock(tm->m);
  if (!tm->worker.joinable()) {
    tm->stop = false;
    tm->worker = std::thread(deadline_worker, self);
  }
}

static void stop_deadline_worker(GstFgPredict* self) {
  DeadlineTimer* tm = self->timer;
  {
    std::lock_guard<std::mutex> lock(tm->m);
    tm->stop = true;
    tm->armed = false;
    ++tm->generation;
    if (tm->pending != nullptr) {
      gst_clock_id_unschedule(tm->pending);
    }
    tm->cv.notify_all();
  }
  if (tm->worker.joinable()) {
    tm->worker.join();
  }
}

static GstFlowReturn gst_fg_predict_chain(GstPad* /*pad*/, GstObject* parent, GstBuffer* buf) {
  GstFgPredict* self = GST_FG_PREDICT(parent);
  PredictState* st = self->state;
  if (!st->have_info) {
    gst_buffer_unref(buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GST_OBJECT_LOCK(self);
  const gint mode = self->mode;
  const gint factor = self->factor;
  const guint max_conceal = self->max_conceal;
  GST_OBJECT_UNLOCK(self);
  self->timer->set(GST_CLOCK_TIME_NONE);  // a frame came: nothing is overdue
  if (self->worker_flow != GST_FLOW_OK) {
    const GstFlowReturn ret = self->worker_flow;
    self->worker_flow = GST_FLOW_OK;
    gst_buffer_unref(buf);
    return ret;
  }
  const GstClockTime pts = GST_BUFFER_PTS(buf);
  if (!GST_CLOCK_TIME_IS_VALID(pts)) {
    // Without a timestamp nothing can be placed in time: pass it on.
    return output_buffer(self, buf);
  }
  if (mode == kConceal && st->prev_predicted && pts < GST_BUFFER_PTS(st->prev) + st->in_duration() / 2) {
    // A frame for a slot a prediction already filled (the deadline passed): too
    // late to show. Dropped; the real frame replaces the prediction in the
    // history when it is for the same slot.
    GST_DEBUG_OBJECT(self, "frame at %" GST_TIME_FORMAT " came after its deadline: dropped", GST_TIME_ARGS(pts));
    if (pts + st->in_duration() / 2 > GST_BUFFER_PTS(st->prev)) {
      buf = gst_buffer_make_writable(buf);
      GST_BUFFER_PTS(buf) = GST_BUFFER_PTS(st->prev);
      gst_buffer_unref(st->prev);
      st->prev = buf;
      st->prev_predicted = false;  // still counted in the run: a source this late is not keeping up
    } else {
      gst_buffer_unref(buf);
    }
    arm_next(self);
    return GST_FLOW_OK;
  }
  // conceal: frames missing before this one, and whether they are filled. Upstream
  // marks the buffer after lost data DISCONT (identity, basetransform's drops, RTP
  // jitter buffers): that is the loss to conceal, not a reason to forget the history,
  // as long as the gap is short.
  const guint64 missing = mode == kConceal ? st->missing_before(pts) : 0;
  const bool fill = missing > 0 && missing <= max_conceal;
  if (mode == kConceal && missing > max_conceal) {
    GST_DEBUG_OBJECT(self, "%" G_GUINT64_FORMAT " frames missing before %" GST_TIME_FORMAT " (max-conceal %u): history reset",
                     missing, GST_TIME_ARGS(pts), max_conceal);
    st->reset();
  }
  if (GST_BUFFER_IS_DISCONT(buf) && st->prev != nullptr && !fill) {
    GST_DEBUG_OBJECT(self, "discont at %" GST_TIME_FORMAT ": history reset", GST_TIME_ARGS(pts));
    if (mode == kInterpolate && !st->reverse && GST_CLOCK_TIME_IS_VALID(st->end_of_prev())) {
      const GstFlowReturn ret = emit_interpolated(self, nullptr, st->end_of_prev());
      if (ret != GST_FLOW_OK) {
        gst_buffer_unref(buf);
        return ret;
      }
    }
    st->reset();
  }
  const GstClockTime d = st->in_duration();
  GstFlowReturn ret = GST_FLOW_OK;
  try {
    switch (mode) {
      case kInterpolate: {
        if (st->prev == nullptr) {
          st->reverse = st->segment.rate < 0;
        }
        // A frame's own duration counts as an interval too (the first intervals of
        // a reverse run, or of a clip, may be the hold itself).
        const GstClockTime own = GST_BUFFER_DURATION(buf);
        if (GST_CLOCK_TIME_IS_VALID(own) && own > 0 && (!GST_CLOCK_TIME_IS_VALID(st->shortest) || own < st->shortest)) {
          st->shortest = own;
        }
        if (st->reverse) {
          if (st->prev == nullptr || pts < GST_BUFFER_PTS(st->prev)) {
            ret = emit_interpolated_reverse(self, buf);
          }
        } else if (st->prev == nullptr) {
          st->base = pts;
          st->next_out = 0;
        } else if (pts > GST_BUFFER_PTS(st->prev)) {
          ret = emit_interpolated(self, buf, pts);
        }
        if (st->prev != nullptr && pts != GST_BUFFER_PTS(st->prev)) {
          const GstClockTime a = GST_BUFFER_PTS(st->prev);
          const GstClockTime interval = pts > a ? pts - a : a - pts;
          if (!GST_CLOCK_TIME_IS_VALID(st->shortest) || interval < st->shortest) {
            st->shortest = interval;
          }
        }
        st->shift(buf);
        gst_clear_buffer(&st->prev3);  // only conceal uses a third frame
        return ret;
      }
      case kExtrapolate: {
        if (st->prev == nullptr) {
          st->reverse = st->segment.rate < 0;
        }
        gst_buffer_ref(buf);
        ret = push_at(self, gst_buffer_copy(buf), pts, GST_CLOCK_TIME_IS_VALID(d) ? st->in_span(1, factor) : d);
        for (gint i = 1; i < factor && ret == GST_FLOW_OK && GST_CLOCK_TIME_IS_VALID(d); ++i) {
          // The frames that follow in playback order: later in time, or (reverse
          // playback) earlier, down the slots below this frame.
          if (st->reverse && st->in_span(i, factor) > pts) {
            break;
          }
          const GstClockTime t = st->reverse ? pts - st->in_span(i, factor) : pts + st->in_span(i, factor);
          const GstClockTime dur = st->in_span(i + 1, factor) - st->in_span(i, factor);
          ret = push_at(self, make_extrapolated(st, st->prev2, st->prev, buf), t, dur);
        }
        st->shift(buf);
        gst_clear_buffer(&st->prev3);  // only conceal uses a third frame
        return ret;
      }
      case kConceal:
      default: {
        if (st->prev == nullptr) {
          st->base = pts;  // slots are counted from here, so their times never drift
        }
        if (fill) {
          // Missing frames: fill each expected slot with a prediction.
          const guint64 slot = st->slot_of_prev();
          GST_DEBUG_OBJECT(self, "concealing %" G_GUINT64_FORMAT " missing frame(s)", missing);
          for (guint64 i = 1; i <= missing && ret == GST_FLOW_OK; ++i) {
            GstBuffer* p = make_extrapolated(st, st->prev3, st->prev2, st->prev);
            st->shift(p != nullptr ? gst_buffer_ref(p) : nullptr);
            const GstClockTime t = st->base + st->in_span(slot + i);
            ret = push_at(self, p, t, st->base + st->in_span(slot + i + 1) - t);
            if (st->prev == nullptr) {
              break;
            }
            GST_BUFFER_PTS(st->prev) = t;
          }
          // The gap is filled: downstream sees no discontinuity.
          if (GST_BUFFER_IS_DISCONT(buf)) {
            buf = gst_buffer_make_writable(buf);
            GST_BUFFER_FLAG_UNSET(buf, GST_BUFFER_FLAG_DISCONT);
          }
        }
        st->shift(gst_buffer_ref(buf));
        st->prev_predicted = false;
        st->predicted_run = 0;
        if (ret != GST_FLOW_OK) {
          gst_buffer_unref(buf);
          return ret;
        }
        ret = output_buffer(self, buf);
        if (ret == GST_FLOW_OK) {
          arm_next(self);
        }
        return ret;
      }
    }
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("Frame prediction failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  }
}

static gboolean handle_caps(GstFgPredict* self, GstCaps* caps) {
  PredictState* st = self->state;
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, caps) ||
      framegen::gst::to_av_format(GST_VIDEO_INFO_FORMAT(&info)) == AV_PIX_FMT_NONE) {
    return FALSE;
  }
  GST_OBJECT_LOCK(self);
  const gint mode = self->mode;
  const gint fps_n = self->fps_n;
  const gint fps_d = self->fps_d;
  const gint factor = self->factor;
  const std::string model = self->model != nullptr ? self->model : kDefaultModel;
  const bool ensemble = self->ensemble != FALSE;
  const gint quality = self->quality;
  const std::string precision = self->precision != nullptr ? self->precision : "auto";
  const std::string device = self->device != nullptr ? self->device : "cpu";
  const GstClockTime deadline = self->deadline;
  GST_OBJECT_UNLOCK(self);
  if (GST_VIDEO_INFO_IS_INTERLACED(&info)) {
    // As the CLI: woven fields are blended and warped as one picture.
    GST_ELEMENT_WARNING(self, STREAM, FORMAT, ("Interlaced input."),
                        ("new frames are made from the woven frames as progressive pictures (their combing is "
                         "blended and moved); deinterlace first for clean output, e.g. ... ! deinterlace ! "
                         "fgpredict"));
  }
  st->in_n = GST_VIDEO_INFO_FPS_N(&info);
  st->in_d = GST_VIDEO_INFO_FPS_D(&info);
  if (mode == kInterpolate || mode == kExtrapolate) {
    int64_t out_n = int64_t{st->in_n} * factor;
    int64_t out_d = st->in_d;
    if (mode == kInterpolate && fps_n > 0) {
      out_n = fps_n;
      out_d = fps_d;
    } else if (mode == kInterpolate && st->in_n <= 0) {
      GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("Input has no frame rate."),
                        ("interpolate needs a fixed input frame rate or an explicit fps"));
      return FALSE;
    } else if (mode == kExtrapolate && st->in_n <= 0 && factor > 1) {
      // The new frames go between the input's slots, which a variable rate lacks.
      GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("Input has no frame rate."),
                        ("extrapolate with factor %d needs a fixed input frame rate", factor));
      return FALSE;
    }
    if (out_n > int64_t{framegen::kMaxRetimeRate} * out_d) {
      GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS, ("Output frame rate too high."),
                        ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " fps is above the limit of %d fps", out_n, out_d,
                         framegen::kMaxRetimeRate));
      return FALSE;
    }
    st->out_n = static_cast<gint>(out_n);
    st->out_d = static_cast<gint>(out_d);
  } else {
    st->out_n = st->in_n;
    st->out_d = st->in_d;
    if (st->in_n <= 0) {
      GST_ELEMENT_WARNING(self, STREAM, FORMAT, ("Input has no frame rate."),
                          ("conceal finds missing frames by the frame rate; with a variable rate (0/1) every "
                           "frame passes unchanged and nothing is concealed"));
    }
  }
  if (st->have_info && (GST_VIDEO_INFO_WIDTH(&info) != GST_VIDEO_INFO_WIDTH(&st->info) ||
                        GST_VIDEO_INFO_HEIGHT(&info) != GST_VIDEO_INFO_HEIGHT(&st->info) ||
                        GST_VIDEO_INFO_FORMAT(&info) != GST_VIDEO_INFO_FORMAT(&st->info))) {
    st->reset();  // new geometry: old frames cannot be blended with new ones
  }
  const std::lock_guard<std::mutex> model_lock(st->model_mutex);  // the worker may be predicting
  st->info = info;
  st->have_info = true;
  try {
    if (!st->model) {
      framegen::PredictorOptions po;
      po.model = model;
      po.ensemble = ensemble;
      po.quality = kQualityNames.at(static_cast<std::size_t>(quality));
      po.precision = precision;
      po.device = device;
      if (ensemble && mode != kInterpolate) {
        throw std::invalid_argument("ensemble=true applies to mode=interpolate only");
      }
      if (quality != kQualityNormal && mode != kInterpolate) {
        throw std::invalid_argument(std::string("quality=") + po.quality + " applies to mode=interpolate only");
      }
      if (deadline > 0 && mode != kConceal) {
        throw std::invalid_argument("deadline applies to mode=conceal only");
      }
      st->model = framegen::make_frame_predictor(po);
    }
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS, ("Invalid frame predictor."), ("%s", e.what()));
    return FALSE;
  }
  GstCaps* out = gst_caps_copy(caps);
  gst_caps_set_simple(out, "framerate", GST_TYPE_FRACTION, st->out_n, st->out_d, nullptr);
  const gboolean ok = output_event(self, gst_event_new_caps(out));
  gst_caps_unref(out);
  return ok;
}

// Events on to the source pad; serialized ones through the output thread when
// there is one, so that they stay in order with the buffers.
static gboolean forward_event(GstFgPredict* self, GstPad* pad, GstObject* parent, GstEvent* event) {
  if (self->decoupled && GST_EVENT_IS_SERIALIZED(event)) {
    return output_event(self, event);
  }
  return gst_pad_event_default(pad, parent, event);
}

static gboolean gst_fg_predict_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  GstFgPredict* self = GST_FG_PREDICT(parent);
  PredictState* st = self->state;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps* caps = nullptr;
      gst_event_parse_caps(event, &caps);
      const gboolean ok = handle_caps(self, caps);
      gst_event_unref(event);
      return ok;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment(event, &st->segment);
      return forward_event(self, pad, parent, event);
    case GST_EVENT_GAP: {
      // conceal: upstream announces a lost frame (identity and basetransform send a
      // GAP for each buffer they drop). A gap that will be filled is no gap: passed
      // on, it would hold a synchronised sink until its slot's render time, and the
      // predicted frame for that slot could only follow it there.
      GST_OBJECT_LOCK(self);
      const bool conceal = self->mode == kConceal;
      const guint max_conceal = self->max_conceal;
      GST_OBJECT_UNLOCK(self);
      GstClockTime ts = GST_CLOCK_TIME_NONE;
      gst_event_parse_gap(event, &ts, nullptr);
      const GstClockTime d = st->in_duration();
      if (conceal && st->prev != nullptr && GST_CLOCK_TIME_IS_VALID(ts) && GST_CLOCK_TIME_IS_VALID(d) &&
          ts > GST_BUFFER_PTS(st->prev) && ts <= GST_BUFFER_PTS(st->prev) + st->in_span(max_conceal) + d / 2) {
        GST_LOG_OBJECT(self, "gap at %" GST_TIME_FORMAT ": to be concealed, not passed on", GST_TIME_ARGS(ts));
        gst_event_unref(event);
        return TRUE;
      }
      return forward_event(self, pad, parent, event);
    }
    case GST_EVENT_FLUSH_START: {
      self->timer->set(GST_CLOCK_TIME_NONE);
      if (!self->decoupled) {
        return gst_pad_event_default(pad, parent, event);
      }
      flush_output(self);
      const gboolean ok = gst_pad_push_event(self->srcpad, event);  // unblocks the task's push
      gst_pad_pause_task(self->srcpad);
      return ok;
    }
    case GST_EVENT_FLUSH_STOP: {
      self->timer->set(GST_CLOCK_TIME_NONE);
      st->reset();
      self->worker_flow = GST_FLOW_OK;
      if (!self->decoupled) {
        return gst_pad_event_default(pad, parent, event);
      }
      const gboolean ok = gst_pad_push_event(self->srcpad, event);
      start_output(self);
      return ok;
    }
    case GST_EVENT_EOS:
      self->timer->set(GST_CLOCK_TIME_NONE);
      // Drain: the last real frame covers its own duration at the output rate.
      if (st->prev != nullptr) {
        GST_OBJECT_LOCK(self);
        const gint mode = self->mode;
        GST_OBJECT_UNLOCK(self);
        if (mode == kInterpolate && !st->reverse && GST_CLOCK_TIME_IS_VALID(st->end_of_prev())) {
          emit_interpolated(self, nullptr, st->end_of_prev());  // (reverse: its slot is out)
        }
        st->reset();
      }
      return forward_event(self, pad, parent, event);
    default:
      return forward_event(self, pad, parent, event);
  }
}

static gboolean gst_fg_predict_sink_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  GstFgPredict* self = GST_FG_PREDICT(parent);
  if (GST_QUERY_TYPE(query) == GST_QUERY_CAPS) {
    return answer_caps_query(pad, self->srcpad, query);
  }
  return gst_pad_query_default(pad, parent, query);
}

static gboolean gst_fg_predict_src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  GstFgPredict* self = GST_FG_PREDICT(parent);
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_LATENCY: {
      if (!gst_pad_peer_query(self->sinkpad, query)) {
        return FALSE;
      }
      gboolean live = FALSE;
      GstClockTime min = 0;
      GstClockTime max = 0;
      gst_query_parse_latency(query, &live, &min, &max);
      GST_OBJECT_LOCK(self);
      const gint mode = self->mode;
      GST_OBJECT_UNLOCK(self);
      // interpolate holds one input frame; extrapolate holds none; conceal holds
      // none, or waits up to its deadline for a frame and predicts it.
      const GstClockTime d = self->state->in_duration();
      GstClockTime own = mode == kInterpolate && GST_CLOCK_TIME_IS_VALID(d) ? d : 0;
      if (mode == kConceal) {
        GST_OBJECT_LOCK(self);
        own = self->deadline;
        GST_OBJECT_UNLOCK(self);
      }
      min += own;
      if (GST_CLOCK_TIME_IS_VALID(max)) {
        max += own;
      }
      gst_query_set_latency(query, live, min, max);
      return TRUE;
    }
    case GST_QUERY_CAPS:
      return answer_caps_query(pad, self->sinkpad, query);
    default:
      return gst_pad_query_default(pad, parent, query);
  }
}

static GstStateChangeReturn gst_fg_predict_change_state(GstElement* element, GstStateChange transition) {
  GstFgPredict* self = GST_FG_PREDICT(element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    GST_OBJECT_LOCK(self);
    const bool deadline = self->mode == kConceal && self->deadline > 0;
    GST_OBJECT_UNLOCK(self);
    self->worker_flow = GST_FLOW_OK;
    self->state->latency_known = false;
    self->state->warned_slow = false;
    gst_segment_init(&self->state->segment, GST_FORMAT_TIME);
    self->decoupled = deadline;
    if (deadline) {
      start_deadline_worker(self);
    }
  } else if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED) {
    self->timer->set(GST_CLOCK_TIME_NONE);  // the clock's time means nothing until PLAYING again
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY && self->decoupled) {
    flush_output(self);
  }
  const GstStateChangeReturn ret = GST_ELEMENT_CLASS(gst_fg_predict_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && self->decoupled && ret != GST_STATE_CHANGE_FAILURE) {
    start_output(self);
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    if (self->decoupled) {
      gst_pad_stop_task(self->srcpad);
      self->decoupled = false;
    }
    stop_deadline_worker(self);  // after the pads are deactivated: its push fails at once
    self->state->reset();
    self->state->model.reset();
    self->state->have_info = false;
  }
  return ret;
}

static void gst_fg_predict_set_property(GObject* object, guint prop_id, const GValue* value, GParamSpec* pspec) {
  GstFgPredict* self = GST_FG_PREDICT(object);
  if (prop_id == PROP_MODEL) {
    const char* m = g_value_get_string(value);
    if (g_strcmp0(m, "gan") != 0 && g_strcmp0(m, "global") != 0 && g_strcmp0(m, "blend") != 0 &&
        g_strcmp0(m, "repeat") != 0) {
      g_warning("fgpredict: invalid model '%s' (gan, global, blend, repeat)", m != nullptr ? m : "(null)");
      return;
    }
  }
  if (prop_id == PROP_DEVICE &&
      (g_value_get_string(value) == nullptr || !framegen::is_device_name(g_value_get_string(value)))) {
    g_warning("fgpredict: invalid device '%s' (cpu, cuda or cuda:N)",
              g_value_get_string(value) != nullptr ? g_value_get_string(value) : "(null)");
    return;
  }
  if (prop_id == PROP_PRECISION) {
    const char* p = g_value_get_string(value);
    if (g_strcmp0(p, "auto") != 0 && g_strcmp0(p, "fp32") != 0 && g_strcmp0(p, "bf16") != 0) {
      g_warning("fgpredict: invalid precision '%s' (auto, fp32, bf16)", p != nullptr ? p : "(null)");
      return;
    }
  }
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODE:
      self->mode = g_value_get_enum(value);
      break;
    case PROP_FPS:
      self->fps_n = gst_value_get_fraction_numerator(value);
      self->fps_d = gst_value_get_fraction_denominator(value);
      break;
    case PROP_FACTOR:
      self->factor = g_value_get_int(value);
      break;
    case PROP_MODEL:
      g_free(self->model);
      self->model = g_value_dup_string(value);
      break;
    case PROP_PRECISION:
      g_free(self->precision);
      self->precision = g_value_dup_string(value);
      break;
    case PROP_DEVICE:
      g_free(self->device);
      self->device = g_value_dup_string(value);
      break;
    case PROP_ENSEMBLE:
      self->ensemble = g_value_get_boolean(value);
      break;
    case PROP_QUALITY:
      self->quality = g_value_get_enum(value);
      break;
    case PROP_MAX_CONCEAL:
      self->max_conceal = g_value_get_uint(value);
      break;
    case PROP_DEADLINE:
      self->deadline = g_value_get_uint64(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_fg_predict_get_property(GObject* object, guint prop_id, GValue* value, GParamSpec* pspec) {
  GstFgPredict* self = GST_FG_PREDICT(object);
  GST_OBJECT_LOCK(self);
  switch (prop_id) {
    case PROP_MODE:
      g_value_set_enum(value, self->mode);
      break;
    case PROP_FPS:
      gst_value_set_fraction(value, self->fps_n, self->fps_d);
      break;
    case PROP_FACTOR:
      g_value_set_int(value, self->factor);
      break;
    case PROP_MODEL:
      g_value_set_string(value, self->model);
      break;
    case PROP_PRECISION:
      g_value_set_string(value, self->precision);
      break;
    case PROP_DEVICE:
      g_value_set_string(value, self->device);
      break;
    case PROP_ENSEMBLE:
      g_value_set_boolean(value, self->ensemble);
      break;
    case PROP_QUALITY:
      g_value_set_enum(value, self->quality);
      break;
    case PROP_MAX_CONCEAL:
      g_value_set_uint(value, self->max_conceal);
      break;
    case PROP_DEADLINE:
      g_value_set_uint64(value, self->deadline);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK(self);
}

static void gst_fg_predict_finalize(GObject* object) {
  GstFgPredict* self = GST_FG_PREDICT(object);
  stop_deadline_worker(self);
  delete self->timer;
  self->out->clear();
  delete self->out;
  delete self->state;
  g_free(self->model);
  g_free(self->precision);
  g_free(self->device);
  G_OBJECT_CLASS(gst_fg_predict_parent_class)->finalize(object);
}

static void gst_fg_predict_class_init(GstFgPredictClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  gobject_class->set_property = gst_fg_predict_set_property;
  gobject_class->get_property = gst_fg_predict_get_property;
  gobject_class->finalize = gst_fg_predict_finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_fg_predict_change_state);

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      gobject_class, PROP_MODE,
      g_param_spec_enum("mode", "Mode", "What to predict", mode_get_type(), kInterpolate, flags));
  g_object_class_install_property(
      gobject_class, PROP_FPS,
      gst_param_spec_fraction("fps", "Frame rate",
                              "interpolate: target frame rate (0/1 = input rate x factor); at most 1000 fps", 0, 1,
                              G_MAXINT, 1, 0, 1, flags));
  g_object_class_install_property(
      gobject_class, PROP_FACTOR,
      g_param_spec_int("factor", "Factor",
                       "interpolate (when fps is 0/1) and extrapolate: output frames per input frame", 1, 16, 2,
                       flags));
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string("model", "Model", "Frame synthesis: gan (trained generator), global (the camera's motion alone: a few ms per frame, for live "
                          "streams on slow machines), blend or repeat", kDefaultModel,
                          flags));
  g_object_class_install_property(
      gobject_class, PROP_ENSEMBLE,
      g_param_spec_boolean("ensemble", "Ensemble",
                           "interpolate with gan: predict each frame from both time directions and average them "
                           "(about 0.04 dB better, about 1.4x the time)",
                           FALSE, flags));
  g_object_class_install_property(
      gobject_class, PROP_QUALITY,
      g_param_spec_enum("quality", "Quality",
                        "interpolate with gan: speed against quality (best includes ensemble=true)", quality_get_type(),
                        kQualityNormal, flags));
  g_object_class_install_property(
      gobject_class, PROP_PRECISION,
      g_param_spec_string("precision", "Precision",
                          "Arithmetic of the gan network on the CPU: auto (bf16 where it is the faster: AVX512_BF16 "
                          "with AMX or without AVX512_FP16; else fp32), fp32, or bf16 (bfloat16 operands, float sums: "
                          "its convolutions about twice as fast on those CPUs, the same scores to 0.001 dB)",
                          "auto", flags));
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_string("device", "Device",
                          "Where the gan network runs: cpu, cuda or cuda:N (GPU N; needs a CUDA build of LibTorch). "
                          "global, blend and repeat run on the CPU",
                          "cpu", flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_CONCEAL,
      g_param_spec_uint("max-conceal", "Max conceal",
                        "conceal: fill gaps of at most this many missing frames (also after a DISCONT buffer, which "
                        "upstream sets after lost data); a longer gap passes as it is and restarts the history",
                        1, 300, kDefaultMaxConceal, flags));
  g_object_class_install_property(
      gobject_class, PROP_DEADLINE,
      g_param_spec_uint64(
          "deadline", "Deadline",
          "conceal in a live pipeline: the latency (ns) this element adds so that a missing frame is predicted in "
          "time to be shown. A frame not arrived half of it after its due time is predicted at once, which leaves "
          "the other half for the prediction (fgpredict model=global takes a few tens of ms per 640x360 frame, "
          "gan a few hundred). With a deadline the element pushes from its own thread. 0: a gap is filled only "
          "when the next frame arrives (no added latency; the predicted frames then reach a live sink after their "
          "slot, in time only when the prediction is instant, as blend and repeat are)",
          0, 10 * GST_SECOND, 0, flags));

  gst_element_class_set_static_metadata(
      element_class, "framegen frame prediction", "Filter/Effect/Video",
      "Raises the frame rate, predicts the next frame, or conceals missing frames. Examples:\n"
      "  gst-launch-1.0 filesrc location=in.mp4 ! decodebin ! videoconvert ! fgpredict fps=60/1 ! fgsuperres "
      "scale=2 ! videoconvert ! x264enc ! mp4mux ! filesink location=out.mp4\n"
      "  gst-launch-1.0 videotestsrc is-live=true ! fgpredict mode=conceal model=global deadline=100000000 ! "
      "autovideosink",
      "framegen developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  GST_DEBUG_CATEGORY_INIT(gst_fg_predict_debug, "fgpredict", 0, "framegen frame prediction");
}

static void gst_fg_predict_init(GstFgPredict* self) {
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_fg_predict_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_fg_predict_sink_event));
  gst_pad_set_query_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_fg_predict_sink_query));
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_fg_predict_src_query));
  gst_pad_use_fixed_caps(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);
  self->mode = kInterpolate;
  self->fps_n = 0;
  self->fps_d = 1;
  self->factor = 2;
  self->model = g_strdup(kDefaultModel);
  self->ensemble = FALSE;
  self->quality = kQualityNormal;
  self->precision = g_strdup("auto");
  self->device = g_strdup("cpu");
  self->max_conceal = kDefaultMaxConceal;
  self->deadline = 0;
  self->state = new PredictState();
  self->timer = new DeadlineTimer();
  self->out = new OutQueue();
  self->decoupled = false;
  self->worker_flow = GST_FLOW_OK;
}
