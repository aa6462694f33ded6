// Live benchmark: videotestsrc is-live=true (640x360, 30 fps) -> fgsuperres -> fakesink
// sync=true, for N seconds (default 12). Counts frames into and out of fgsuperres,
// frames dropped (QoS), and the latency each frame gained from capture to leaving
// fgsuperres (pipeline clock running time minus buffer running time), p50 and p99,
// also in frame durations. Prints whether latency grew over the run (first vs last
// third). Usage: bench_live [seconds] [model] [scale]
//
// bench_live conceal [seconds] [model] [drop probability] [deadline ms]: the same
// live source loses frames at random (identity drop-probability, default 0.05)
// before fgpredict mode=conceal (model default gan), which fills each gap with
// predicted frames: when the next real one arrives (deadline 0, the default), or
// once a frame is overdue by half the deadline (fgpredict deadline=). Counts real
// and predicted frames out (a frame is predicted when its timestamp never went
// in), the latency of each kind where they reach the sink, and how many
// predicted frames reached it in time to be shown: within the pipeline's latency
// plus a video sink's default max-lateness (20 ms).
#include <gst/gst.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {

struct Stats {
  std::atomic<int> in{0};
  std::atomic<int> out{0};
  std::mutex m;
  std::vector<double> latency_ms;
  std::set<GstClockTime> pts_in;
  std::vector<double> predicted_ms;  // latency of the frames whose timestamp never went in
};

GstPadProbeReturn count_in(GstPad*, GstPadProbeInfo* info, gpointer user) {
  auto* st = static_cast<Stats*>(user);
  st->in++;
  std::lock_guard lock(st->m);
  st->pts_in.insert(GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info)));
  return GST_PAD_PROBE_OK;
}

GstElement* g_pipeline = nullptr;

GstPadProbeReturn on_out(GstPad* pad, GstPadProbeInfo* info, gpointer user) {
  auto* st = static_cast<Stats*>(user);
  st->out++;
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  GstClock* clock = gst_element_get_clock(g_pipeline);
  if (clock == nullptr || !GST_BUFFER_PTS_IS_VALID(buf)) {
    return GST_PAD_PROBE_OK;
  }
  const GstClockTime now = gst_clock_get_time(clock) - gst_element_get_base_time(g_pipeline);
  gst_object_unref(clock);
  GstEvent* seg_ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
  GstClockTime running = GST_BUFFER_PTS(buf);
  if (seg_ev != nullptr) {
    const GstSegment* seg = nullptr;
    gst_event_parse_segment(seg_ev, &seg);
    running = gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
    gst_event_unref(seg_ev);
  }
  std::lock_guard lock(st->m);
  const double ms = (static_cast<double>(now) - static_cast<double>(running)) / 1e6;
  (st->pts_in.count(GST_BUFFER_PTS(buf)) != 0 ? st->latency_ms : st->predicted_ms).push_back(ms);
  return GST_PAD_PROBE_OK;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  const bool conceal = argc > 1 && std::string(argv[1]) == "conceal";
  if (conceal) {
    --argc;
    ++argv;
  }
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 12;
  if (seconds <= 0) {
    std::fprintf(stderr,
                 "usage: bench_live [seconds > 0, default 12] [model, default fast] [scale, default 2]\n"
                 "       bench_live conceal [seconds] [model, default gan] [drop probability, default 0.05] "
                 "[deadline ms, default 0]\n");
    return 2;
  }
  const std::string model = argc > 2 ? argv[2] : (conceal ? "gan" : "fast");
  const std::string scale = argc > 3 ? argv[3] : "2";
  const std::string drop = argc > 3 ? argv[3] : "0.05";
  const long deadline_ms = argc > 4 ? std::atol(argv[4]) : 0;
  const std::string source =
      "videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! ";
  const std::string desc =
      conceal ? source + "identity drop-probability=" + drop + " ! fgpredict name=sr mode=conceal model=" + model +
                    " deadline=" + std::to_string(deadline_ms * 1000000L) + " ! fakesink name=out sync=true qos=true"
              : source + "fgsuperres name=sr scale=" + scale + " model=" + model + " ! fakesink sync=true qos=true";
  GError* err = nullptr;
  // gst_parse_launch may return a partial pipeline and an error (a missing element).
  g_pipeline = gst_parse_launch(desc.c_str(), &err);
  GstElement* sr = g_pipeline != nullptr && err == nullptr ? gst_bin_get_by_name(GST_BIN(g_pipeline), "sr") : nullptr;
  if (sr == nullptr) {
    std::fprintf(stderr, "cannot build the pipeline: %s (is GST_PLUGIN_PATH set to build/lib/gstreamer-1.0?)\n",
                 err != nullptr ? err->message : "no framegen element");
    return 1;
  }
  Stats st;
  GstPad* sink = gst_element_get_static_pad(sr, "sink");
  // conceal: frames are timed where they reach the sink (fgpredict with a deadline
  // pushes from its own thread, which waits for the sink); else as they leave
  // fgsuperres.
  GstElement* out_el = conceal ? gst_bin_get_by_name(GST_BIN(g_pipeline), "out") : GST_ELEMENT(gst_object_ref(sr));
  GstPad* src = gst_element_get_static_pad(out_el, conceal ? "sink" : "src");
  gst_object_unref(out_el);
  gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER, count_in, &st, nullptr);
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, on_out, &st, nullptr);
  gst_element_set_state(g_pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(g_pipeline);
  int qos_drops = 0;
  const GstClockTime end = gst_util_get_timestamp() + static_cast<GstClockTime>(seconds) * GST_SECOND;
  bool failed = false;
  while (gst_util_get_timestamp() < end) {
    GstMessage* msg = gst_bus_timed_pop_filtered(bus, 100 * GST_MSECOND,
                                                 static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_QOS));
    if (msg == nullptr) {
      continue;
    }
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError* e = nullptr;
      gst_message_parse_error(msg, &e, nullptr);
      std::fprintf(stderr, "error: %s\n", e->message);
      g_error_free(e);
      failed = true;
      gst_message_unref(msg);
      break;
    }
    if (GST_MESSAGE_SRC(msg) == GST_OBJECT(sr)) {
      ++qos_drops;
    }
    gst_message_unref(msg);
  }
  // The latency the sink renders with: what the live source and fgpredict report.
  GstClockTime pipeline_latency = 0;
  if (GstQuery* q = gst_query_new_latency(); gst_element_query(g_pipeline, q)) {
    gst_query_parse_latency(q, nullptr, &pipeline_latency, nullptr);
    gst_query_unref(q);
  } else {
    gst_query_unref(q);
  }
  gst_element_set_state(g_pipeline, GST_STATE_NULL);
  std::vector<double> lat;
  std::vector<double> pred;
  {
    std::lock_guard lock(st.m);
    lat = st.latency_ms;
    pred = st.predicted_ms;
  }
  const double frame_ms = 1000.0 / 30.0;
  if (conceal) {
    std::printf("live %ds, 640x360@30 -> identity drop-probability=%s -> fgpredict mode=conceal model=%s "
                "deadline=%ld ms -> fakesink sync=true\n",
                seconds, drop.c_str(), model.c_str(), deadline_ms);
    std::printf("frames in %d (after the drops), out %d: %zu real, %zu predicted; pipeline latency %.1f ms\n",
                st.in.load(), st.out.load(), lat.size(), pred.size(), static_cast<double>(pipeline_latency) / 1e6);
    std::printf("real frames' latency: p50 %.1f ms, p99 %.1f ms\n", percentile(lat, 0.5), percentile(lat, 0.99));
    if (!pred.empty()) {
      std::sort(pred.begin(), pred.end());
      // A video sink renders a buffer up to its max-lateness (20 ms by default in
      // GstVideoSink) after its render time (its running time plus the latency).
      const auto in_time = std::count_if(pred.begin(), pred.end(), [&](double ms) {
        return ms <= static_cast<double>(pipeline_latency) / 1e6 + 20.0;
      });
      std::printf("predicted frames' latency: p50 %.1f ms (%.2f frames), max %.1f ms (%.2f frames); %ld of %zu "
                  "reached the sink within the pipeline latency + 20 ms (a video sink's max-lateness: shown)\n",
                  percentile(pred, 0.5), percentile(pred, 0.5) / frame_ms, pred.back(), pred.back() / frame_ms,
                  static_cast<long>(in_time), pred.size());
    }
  } else {
    std::printf("live %ds, 640x360@30 -> fgsuperres scale=%s model=%s -> fakesink sync=true\n", seconds, scale.c_str(),
                model.c_str());
    std::printf("frames in %d, out %d, dropped %d (QoS messages from fgsuperres: %d)\n", st.in.load(), st.out.load(),
                st.in.load() - st.out.load(), qos_drops);
    std::printf("added latency p50 %.1f ms (%.2f frames), p99 %.1f ms (%.2f frames)\n", percentile(lat, 0.5),
                percentile(lat, 0.5) / frame_ms, percentile(lat, 0.99), percentile(lat, 0.99) / frame_ms);
    if (lat.size() >= 30) {
      const std::size_t third = lat.size() / 3;
      const std::vector<double> first(lat.begin(), lat.begin() + static_cast<std::ptrdiff_t>(third));
      const std::vector<double> last(lat.end() - static_cast<std::ptrdiff_t>(third), lat.end());
      std::printf("p50 first third %.1f ms, last third %.1f ms (%s)\n", percentile(first, 0.5), percentile(last, 0.5),
                  percentile(last, 0.5) > percentile(first, 0.5) + frame_ms ? "GROWING" : "bounded");
    }
  }
  gst_object_unref(sink);
  gst_object_unref(src);
  gst_object_unref(sr);
  gst_object_unref(bus);
  gst_object_unref(g_pipeline);
  return failed ? 1 : 0;
}
