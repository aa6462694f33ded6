// fgsuperres / fgpredict through GstHarness and real pipelines.
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "gstfgpredict.h"
#include "gstfgsuperres.h"
#include "support/fixtures.h"

extern "C" {
#include <libavutil/frame.h>
}

using namespace framegen::test;
namespace fs = std::filesystem;

namespace {

const std::string kCli = FRAMEGEN_CLI_PATH;

std::string caps_str(const std::string& format, int w, int h, int fps = 30) {
  return "video/x-raw,format=" + format + ",width=" + std::to_string(w) + ",height=" + std::to_string(h) +
         ",framerate=" + std::to_string(fps) + "/1,pixel-aspect-ratio=1/1";
}

// A new buffer of the size `caps_string` describes, mapped for writing (unmap it).
GstBuffer* new_mapped_buffer(const std::string& caps_string, GstVideoInfo* info, GstMapInfo* map) {
  GstCaps* caps = gst_caps_from_string(caps_string.c_str());
  gst_video_info_from_caps(info, caps);
  gst_caps_unref(caps);
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(info), nullptr);
  gst_buffer_map(buf, map, GST_MAP_WRITE);
  return buf;
}

// A deterministic frame of the given caps, with pts.
GstBuffer* make_frame(const std::string& caps_string, GstClockTime pts, int seed = 0) {
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer* buf = new_mapped_buffer(caps_string, &info, &map);
  for (gsize i = 0; i < map.size; ++i) {
    map.data[i] = static_cast<guint8>((i * 7 + (i / 97) * 13 + static_cast<gsize>(seed) * 31) % 251);
  }
  gst_buffer_unmap(buf, &map);
  GST_BUFFER_PTS(buf) = pts;
  GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
  return buf;
}

// A string property's value (g_object_get's copy, freed).
std::string string_property(GstElement* e, const char* name) {
  gchar* v = nullptr;
  g_object_get(e, name, &v, nullptr);
  std::string out = v != nullptr ? v : "";
  g_free(v);
  return out;
}

// A buffer's bytes.
std::vector<guint8> bytes(GstBuffer* b) {
  GstMapInfo m;
  gst_buffer_map(b, &m, GST_MAP_READ);
  std::vector<guint8> v(m.data, m.data + m.size);
  gst_buffer_unmap(b, &m);
  return v;
}

void output_size(GstHarness* h, int* w, int* hh, std::string* format) {
  GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
  ASSERT_NE(caps, nullptr);
  GstVideoInfo info;
  ASSERT_TRUE(gst_video_info_from_caps(&info, caps));
  *w = GST_VIDEO_INFO_WIDTH(&info);
  *hh = GST_VIDEO_INFO_HEIGHT(&info);
  *format = gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info));
  gst_caps_unref(caps);
}

// Runs a gst-launch description to EOS or ERROR (at most `timeout_s`), counting
// the buffers that reach the fakesink named "sink" and the caps they came with.
struct PipelineRun {
  bool finished = false;  // EOS or ERROR arrived in time (no hang)
  bool error = false;
  std::string message;  // error text and debug string
  int buffers = 0;
  int width = 0;
  int height = 0;
};

void on_handoff(GstElement* /*sink*/, GstBuffer* /*buf*/, GstPad* pad, gpointer user) {
  auto* r = static_cast<PipelineRun*>(user);
  ++r->buffers;
  if (GstCaps* caps = gst_pad_get_current_caps(pad)) {
    GstVideoInfo info;
    if (gst_video_info_from_caps(&info, caps)) {
      r->width = GST_VIDEO_INFO_WIDTH(&info);
      r->height = GST_VIDEO_INFO_HEIGHT(&info);
    }
    gst_caps_unref(caps);
  }
}

PipelineRun run_pipeline(const std::string& desc, int timeout_s = 60) {
  PipelineRun r;
  GError* err = nullptr;
  GstElement* p = gst_parse_launch(desc.c_str(), &err);
  if (p == nullptr || err != nullptr) {
    r.finished = true;
    r.error = true;
    r.message = err != nullptr ? err->message : "parse failed";
    if (err != nullptr) {
      g_error_free(err);
    }
    if (p != nullptr) {
      gst_object_unref(p);
    }
    return r;
  }
  if (GstElement* sink = gst_bin_get_by_name(GST_BIN(p), "sink")) {
    g_object_set(sink, "signal-handoffs", TRUE, nullptr);
    g_signal_connect(sink, "handoff", G_CALLBACK(on_handoff), &r);
    gst_object_unref(sink);
  }
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(p);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, static_cast<GstClockTime>(timeout_s) * GST_SECOND,
                                               static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (msg != nullptr) {
    r.finished = true;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      r.error = true;
      GError* gerr = nullptr;
      gchar* debug = nullptr;
      gst_message_parse_error(msg, &gerr, &debug);
      r.message = std::string(gerr->message) + " | " + (debug != nullptr ? debug : "");
      g_error_free(gerr);
      g_free(debug);
    }
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
  return r;
}

}  // namespace

TEST(FgSuperres, NegotiatesEverySupportedFormat) {
  for (const std::string fmt :
       {"I420", "Y42B", "Y444", "NV12", "NV21", "YUY2", "UYVY", "RGB", "BGR", "RGBx", "BGRx", "xRGB", "RGBA"}) {
    GstHarness* h = gst_harness_new_parse("fgsuperres scale=2 model=bicubic");
    gst_harness_set_src_caps_str(h, caps_str(fmt, 64, 48).c_str());
    ASSERT_EQ(gst_harness_push(h, make_frame(caps_str(fmt, 64, 48), 0)), GST_FLOW_OK) << fmt;
    GstBuffer* out = gst_harness_pull(h);
    ASSERT_NE(out, nullptr) << fmt;
    int w = 0;
    int hh = 0;
    std::string f;
    output_size(h, &w, &hh, &f);
    EXPECT_EQ(w, 128) << fmt;
    EXPECT_EQ(hh, 96) << fmt;
    EXPECT_EQ(f, fmt);
    GstVideoInfo info;
    GstCaps* c = gst_caps_from_string(caps_str(fmt, 128, 96).c_str());
    gst_video_info_from_caps(&info, c);
    gst_caps_unref(c);
    EXPECT_EQ(gst_buffer_get_size(out), GST_VIDEO_INFO_SIZE(&info)) << fmt;
    gst_buffer_unref(out);
    gst_harness_teardown(h);
  }
}

TEST(FgSuperres, NeuralModelsOnYuvAndRgb) {
  for (const std::string model : {"fast", "quality"}) {
    for (const std::string fmt : {"I420", "RGB", "BGRx", "NV12"}) {
      GstHarness* h = gst_harness_new_parse(("fgsuperres scale=2 model=" + model).c_str());
      gst_harness_set_src_caps_str(h, caps_str(fmt, 40, 32).c_str());
      ASSERT_EQ(gst_harness_push(h, make_frame(caps_str(fmt, 40, 32), 0)), GST_FLOW_OK) << model << " " << fmt;
      GstBuffer* out = gst_harness_pull(h);
      ASSERT_NE(out, nullptr);
      int w = 0;
      int hh = 0;
      std::string f;
      output_size(h, &w, &hh, &f);
      EXPECT_EQ(w, 80);
      EXPECT_EQ(hh, 64);
      gst_buffer_unref(out);
      gst_harness_teardown(h);
    }
  }
}

namespace {

// A grey buffer of `caps_string` (a 10-bit format: planar, or P010 with its
// samples in the high bits, `shift`): luma `value`, chroma 512.
GstBuffer* make_flat16(const std::string& caps_string, int value, int shift, GstClockTime pts) {
  GstVideoInfo info;
  GstMapInfo map;
  GstBuffer* buf = new_mapped_buffer(caps_string, &info, &map);
  const gsize chroma_start = GST_VIDEO_INFO_PLANE_OFFSET(&info, 1);
  for (gsize i = 0; i + 1 < map.size; i += 2) {
    const auto word = static_cast<guint16>((i < chroma_start ? value : 512) << shift);
    std::memcpy(map.data + i, &word, 2);
  }
  gst_buffer_unmap(buf, &map);
  GST_BUFFER_PTS(buf) = pts;
  GST_BUFFER_DURATION(buf) = GST_SECOND / 10;
  return buf;
}

// Every 16-bit word of the buffer's first plane (luma), shifted down.
std::vector<int> luma16(GstBuffer* b, int width, int height, int shift) {
  std::vector<int> v;
  GstMapInfo m;
  gst_buffer_map(b, &m, GST_MAP_READ);
  for (int i = 0; i < width * height; ++i) {  // tightly packed harness buffers: stride = 2 * width
    guint16 w = 0;
    std::memcpy(&w, m.data + 2 * i, 2);
    v.push_back(w >> shift);
  }
  gst_buffer_unmap(b, &m);
  return v;
}

}  // namespace

// 10-bit video through both elements (it was refused at negotiation): the
// classical scalers keep all 10 bits, the networks work in 8 bits and hand 10-bit
// frames back, fgpredict passes its input frames through untouched and mixes new
// ones (blend in 10 bits).
TEST(Elements, TenBitFormats) {
  for (const std::string fmt : {"I420_10LE", "I422_10LE", "Y444_10LE", "P010_10LE"}) {
    const int shift = fmt == "P010_10LE" ? 6 : 0;
    for (const std::string model : {"bicubic", "fast"}) {
      GstHarness* h = gst_harness_new_parse(("fgsuperres scale=2 model=" + model).c_str());
      gst_harness_set_src_caps_str(h, caps_str(fmt, 16, 8).c_str());
      ASSERT_EQ(gst_harness_push(h, make_flat16(caps_str(fmt, 16, 8), 513, shift, 0)), GST_FLOW_OK) << fmt << model;
      GstBuffer* out = gst_harness_pull(h);
      ASSERT_NE(out, nullptr) << fmt << " " << model;
      int w = 0;
      int hh = 0;
      std::string f;
      output_size(h, &w, &hh, &f);
      EXPECT_EQ(f, fmt);
      EXPECT_EQ(w, 32);
      EXPECT_EQ(hh, 16);
      // A flat picture stays flat: 513 exactly when resampled in 10 bits (through
      // 8 bits it would be 512 or 516).
      for (const int v : luma16(out, 32, 16, shift)) {
        if (model == "bicubic") {
          ASSERT_EQ(v, 513) << fmt;
        } else {
          ASSERT_NEAR(v, 513, 16) << fmt;  // the 8-bit reduction dithers; the network sharpens it
        }
      }
      gst_buffer_unref(out);
      gst_harness_teardown(h);
    }
    for (const std::string model : {"blend", "global"}) {
      GstHarness* h = gst_harness_new_parse(("fgpredict factor=2 model=" + model).c_str());
      gst_harness_set_src_caps_str(h, caps_str(fmt, 16, 8, 10).c_str());
      GstBuffer* a = make_flat16(caps_str(fmt, 16, 8, 10), 401, shift, 0);
      const std::vector<guint8> ba = bytes(a);
      ASSERT_EQ(gst_harness_push(h, a), GST_FLOW_OK);
      ASSERT_EQ(gst_harness_push(h, make_flat16(caps_str(fmt, 16, 8, 10), 442, shift, GST_SECOND / 10)), GST_FLOW_OK);
      GstBuffer* first = gst_harness_pull(h);
      EXPECT_EQ(bytes(first), ba) << fmt << " " << model;  // the input frame itself
      gst_buffer_unref(first);
      GstBuffer* mid = gst_harness_pull(h);
      ASSERT_NE(mid, nullptr);
      for (const int v : luma16(mid, 16, 8, shift)) {
        if (model == "blend") {
          ASSERT_EQ(v, 422) << fmt;  // (401 + 442) / 2 in 10 bits, rounded
        } else {
          ASSERT_NEAR(v, 422, 6) << fmt;
        }
      }
      gst_buffer_unref(mid);
      gst_harness_teardown(h);
    }
  }
}

// The caps' colour matrix is the one fgpredict's networks convert with: a green
// that BT.2020 holds but BT.601 does not (its G would be 278 of 255) came back 13
// code values darker when BT.2020 was read as BT.601 and the clipped RGB went back.
TEST(Elements, Bt2020ColoursSurviveThePredictor) {
  const std::string caps = caps_str("I420", 16, 8, 10) + ",colorimetry=bt2020";
  GstHarness* h = gst_harness_new_parse("fgpredict factor=2 model=global");
  gst_harness_set_src_caps_str(h, caps.c_str());
  auto flat = [&](int y, GstClockTime pts) {
    GstBuffer* b = make_frame(caps, pts);
    GstMapInfo m;
    gst_buffer_map(b, &m, GST_MAP_WRITE);
    std::memset(m.data, y, 16 * 8);
    std::memset(m.data + 16 * 8, 50, 8 * 4);
    std::memset(m.data + 16 * 8 + 8 * 4, 30, 8 * 4);
    gst_buffer_unmap(b, &m);
    return b;
  };
  ASSERT_EQ(gst_harness_push(h, flat(160, 0)), GST_FLOW_OK);
  ASSERT_EQ(gst_harness_push(h, flat(164, GST_SECOND / 10)), GST_FLOW_OK);
  gst_buffer_unref(gst_harness_pull(h));
  GstBuffer* mid = gst_harness_pull(h);
  ASSERT_NE(mid, nullptr);
  const std::vector<guint8> v = bytes(mid);
  for (int i = 0; i < 16 * 8; ++i) {
    ASSERT_NEAR(v[i], 162, 2) << "luma " << i;
  }
  for (int i = 16 * 8; i < 16 * 8 + 8 * 4; ++i) {
    ASSERT_NEAR(v[i], 50, 2) << "cb " << i;
  }
  gst_buffer_unref(mid);
  gst_harness_teardown(h);
}

TEST(FgSuperres, RefusesImpossibleCaps) {
  // Downstream wants a size that is not 2x the input: not negotiated, no crash.
  GstHarness* h = gst_harness_new_parse("fgsuperres scale=2 model=bicubic");
  gst_harness_set_caps_str(h, caps_str("I420", 64, 48).c_str(), caps_str("I420", 100, 96).c_str());
  EXPECT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 64, 48), 0)), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown(h);

  // An unsupported format.
  h = gst_harness_new_parse("fgsuperres scale=2 model=bicubic");
  gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY16_LE,width=64,height=48,framerate=30/1");
  EXPECT_EQ(gst_harness_push(h, make_frame("video/x-raw,format=GRAY16_LE,width=64,height=48,framerate=30/1", 0)),
            GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown(h);
}

TEST(FgSuperres, ScaleOneIsPassthrough) {
  GstHarness* h = gst_harness_new_parse("fgsuperres scale=1");
  gst_harness_set_src_caps_str(h, caps_str("I420", 64, 48).c_str());
  GstBuffer* in = make_frame(caps_str("I420", 64, 48), 0);
  gst_buffer_ref(in);
  ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
  GstBuffer* out = gst_harness_pull(h);
  EXPECT_EQ(out, in);  // the very same buffer
  gst_buffer_unref(out);
  gst_buffer_unref(in);
  gst_harness_teardown(h);
}

// Interlaced input is upscaled as progressive pictures (the CLI does the same and
// warns): the output caps say progressive, not the input's interleaved fields that
// the vertical resample destroyed, and the buffers carry no field flags.
TEST(FgSuperres, InterlacedInputComesOutProgressive) {
  GstHarness* h = gst_harness_new_parse("fgsuperres model=bicubic scale=2");
  const std::string caps = caps_str("I420", 32, 24) + ",interlace-mode=interleaved,field-order=top-field-first";
  gst_harness_set_src_caps_str(h, caps.c_str());
  GstBuffer* in = make_frame(caps, 0);
  GST_BUFFER_FLAG_SET(in, GST_VIDEO_BUFFER_FLAG_INTERLACED | GST_VIDEO_BUFFER_FLAG_TFF);
  GstBuffer* out = gst_harness_push_and_pull(h, in);
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE(GST_BUFFER_FLAG_IS_SET(out, GST_VIDEO_BUFFER_FLAG_INTERLACED));
  EXPECT_FALSE(GST_BUFFER_FLAG_IS_SET(out, GST_VIDEO_BUFFER_FLAG_TFF));
  gst_buffer_unref(out);
  GstCaps* cur = gst_pad_get_current_caps(h->sinkpad);
  GstVideoInfo info;
  ASSERT_TRUE(gst_video_info_from_caps(&info, cur));
  EXPECT_EQ(GST_VIDEO_INFO_INTERLACE_MODE(&info), GST_VIDEO_INTERLACE_MODE_PROGRESSIVE);
  EXPECT_EQ(GST_VIDEO_INFO_HEIGHT(&info), 48);
  gst_caps_unref(cur);
  gst_harness_teardown(h);
}

TEST(FgSuperres, RenegotiatesToANewSizeMidStream) {
  GstHarness* h = gst_harness_new_parse("fgsuperres scale=2 model=fast");
  gst_harness_set_src_caps_str(h, caps_str("I420", 64, 48).c_str());
  ASSERT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 64, 48), 0)), GST_FLOW_OK);
  gst_buffer_unref(gst_harness_pull(h));
  gst_harness_set_src_caps_str(h, caps_str("I420", 80, 60).c_str());
  ASSERT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 80, 60), GST_SECOND / 30)), GST_FLOW_OK);
  GstBuffer* out = gst_harness_pull(h);
  int w = 0;
  int hh = 0;
  std::string f;
  output_size(h, &w, &hh, &f);
  EXPECT_EQ(w, 160);
  EXPECT_EQ(hh, 120);
  EXPECT_EQ(GST_BUFFER_PTS(out), GST_SECOND / 30);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST(FgSuperres, FlushAndEosKeepWorking) {
  GstHarness* h = gst_harness_new_parse("fgsuperres scale=2 model=fast");
  gst_harness_set_src_caps_str(h, caps_str("I420", 32, 32).c_str());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 32, 32), i * GST_SECOND / 30)), GST_FLOW_OK);
  }
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&seg)));
  ASSERT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 32, 32), 0)), GST_FLOW_OK);
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  EXPECT_EQ(gst_harness_buffers_received(h), 4u);
  gst_harness_teardown(h);
}

TEST(FgSuperres, FortyStateCycles) {
  for (int i = 0; i < 40; ++i) {
    GError* err = nullptr;
    GstElement* p = gst_parse_launch(
        "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=32,height=32 ! fgsuperres scale=2 model=fast ! "
        "fakesink",
        &err);
    ASSERT_NE(p, nullptr) << (err != nullptr ? err->message : "");
    ASSERT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    GstBus* bus = gst_element_get_bus(p);
    GstMessage* msg = gst_bus_timed_pop_filtered(bus, 10 * GST_SECOND,
                                                 static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    ASSERT_NE(msg, nullptr);
    EXPECT_EQ(GST_MESSAGE_TYPE(msg), GST_MESSAGE_EOS) << "cycle " << i;
    gst_message_unref(msg);
    gst_object_unref(bus);
    ASSERT_EQ(gst_element_set_state(p, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    gst_object_unref(p);
  }
}

TEST(FgSuperres, BadPropertiesAreRefusedAndMissingModelIsABusError) {
  GstElement* e = gst_element_factory_make("fgsuperres", nullptr);
  ASSERT_NE(e, nullptr);
  g_object_set(e, "model", "sharpest", nullptr);  // not a model: refused, old value kept
  EXPECT_EQ(string_property(e, "model"), "fast");
  g_object_set(e, "device", "tpu", nullptr);
  EXPECT_EQ(string_property(e, "device"), "cpu");
  // A GPU by index is a device name (whether it exists is known when the model loads).
  g_object_set(e, "device", "cuda:1", nullptr);
  EXPECT_EQ(string_property(e, "device"), "cuda:1");
  g_object_set(e, "device", "cuda:one", nullptr);
  EXPECT_EQ(string_property(e, "device"), "cuda:1");
  g_object_set(e, "device", "cpu", nullptr);
  g_object_set(e, "precision", "fp16", nullptr);
  EXPECT_EQ(string_property(e, "precision"), "auto");
  gst_object_unref(e);

  PipelineRun r = run_pipeline("videotestsrc num-buffers=2 ! fgsuperres model=/nonexistent/model.pt ! fakesink", 10);
  ASSERT_TRUE(r.finished);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.message.find("/nonexistent/model.pt"), std::string::npos) << r.message;
  // A precision for a model without a network: a bus error, not ignored.
  r = run_pipeline("videotestsrc num-buffers=2 ! fgsuperres model=bicubic precision=fp32 ! fakesink", 10);
  ASSERT_TRUE(r.finished);
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.message.find("precision"), std::string::npos) << r.message;
  r = run_pipeline("videotestsrc num-buffers=2 ! fgsuperres model=fast precision=fp32 ! fakesink", 20);
  ASSERT_TRUE(r.finished);
  EXPECT_FALSE(r.error) << r.message;
}

TEST(FgSuperres, PixelsMatchTheCli) {
  const std::string dir = make_temp_dir("plugin");
  FixtureSpec spec;
  spec.width = 48;
  spec.height = 32;
  spec.frames = 1;
  spec.video_codec = "ffv1";
  make_fixture(dir + "/in.mkv", spec);
  const RunResult r =
      run_command({kCli, "upscale", dir + "/in.mkv", "-o", dir + "/out.mkv", "--model", "fast", "--codec", "ffv1"});
  ASSERT_EQ(r.status, 0) << r.err;

  // The same input frame, through the element.
  GstHarness* h = gst_harness_new_parse("fgsuperres scale=2 model=fast");
  gst_harness_set_src_caps_str(h, caps_str("I420", 48, 32, 25).c_str());
  // Decode the fixture's frame into an I420 buffer (tightly packed like GstVideoInfo's default).
  GstElement* dec = gst_parse_launch(("filesrc location=" + dir +
                                      "/in.mkv ! matroskademux ! avdec_ffv1 ! video/x-raw,format=I420 ! "
                                      "appsink name=sink sync=false")
                                         .c_str(),
                                     nullptr);
  ASSERT_NE(dec, nullptr);
  GstElement* sink = gst_bin_get_by_name(GST_BIN(dec), "sink");
  gst_element_set_state(dec, GST_STATE_PLAYING);
  GstSample* sample = nullptr;
  g_signal_emit_by_name(sink, "pull-sample", &sample);
  ASSERT_NE(sample, nullptr) << "gstreamer1.0-libav is needed for avdec_ffv1";
  GstBuffer* in = gst_buffer_copy_deep(gst_sample_get_buffer(sample));
  gst_sample_unref(sample);
  gst_element_set_state(dec, GST_STATE_NULL);
  gst_object_unref(sink);
  gst_object_unref(dec);
  GST_BUFFER_PTS(in) = 0;
  ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
  GstBuffer* out = gst_harness_pull(h);

  // The CLI's output frame, decoded the same way.
  GstElement* dec2 = gst_parse_launch(("filesrc location=" + dir +
                                       "/out.mkv ! matroskademux ! avdec_ffv1 ! video/x-raw,format=I420 ! "
                                       "appsink name=sink sync=false")
                                          .c_str(),
                                      nullptr);
  GstElement* sink2 = gst_bin_get_by_name(GST_BIN(dec2), "sink");
  gst_element_set_state(dec2, GST_STATE_PLAYING);
  GstSample* s2 = nullptr;
  g_signal_emit_by_name(sink2, "pull-sample", &s2);
  ASSERT_NE(s2, nullptr);
  GstMapInfo a;
  GstMapInfo b;
  gst_buffer_map(out, &a, GST_MAP_READ);
  gst_buffer_map(gst_sample_get_buffer(s2), &b, GST_MAP_READ);
  ASSERT_EQ(a.size, b.size);
  EXPECT_EQ(std::memcmp(a.data, b.data, a.size), 0) << "element and CLI differ";
  gst_buffer_unmap(gst_sample_get_buffer(s2), &b);
  gst_buffer_unmap(out, &a);
  gst_sample_unref(s2);
  gst_element_set_state(dec2, GST_STATE_NULL);
  gst_object_unref(sink2);
  gst_object_unref(dec2);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
  fs::remove_all(dir);
}

TEST(FgSuperres, LatencyQueryAddsProcessingTime) {
  GstHarness* h = gst_harness_new_parse("fgsuperres scale=2 model=fast");
  gst_harness_set_src_caps_str(h, caps_str("I420", 64, 48).c_str());
  ASSERT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 64, 48), 0)), GST_FLOW_OK);
  gst_buffer_unref(gst_harness_pull(h));
  // The harness source answers latency 0; the element adds what it measured.
  const GstClockTime latency = gst_harness_query_latency(h);
  EXPECT_GT(latency, 0u);
  EXPECT_LT(latency, 10 * GST_SECOND);
  gst_harness_teardown(h);
}

// ---- fgpredict ----

// The gan can run on a GPU (device=cuda or cuda:N), as with the CLI's --device: a
// name that is no device is refused, and where there is no GPU (Debian's LibTorch)
// or the model has no network, the element says so on the bus.
TEST(FgPredict, DeviceProperty) {
  GstElement* e = gst_element_factory_make("fgpredict", nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(string_property(e, "device"), "cpu");
  g_object_set(e, "device", "cuda:2", nullptr);
  EXPECT_EQ(string_property(e, "device"), "cuda:2");
  g_object_set(e, "device", "gpu", nullptr);  // refused, old value kept
  EXPECT_EQ(string_property(e, "device"), "cuda:2");
  gst_object_unref(e);
  const std::string src = "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=16,height=16,framerate=10/1 ! ";
  PipelineRun r = run_pipeline(src + "fgpredict factor=2 model=blend device=cuda ! fakesink name=sink", 20);
  ASSERT_TRUE(r.finished);
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.message.find("CPU only"), std::string::npos) << r.message;
  r = run_pipeline(src + "fgpredict factor=2 model=gan device=cuda ! fakesink name=sink", 20);
  ASSERT_TRUE(r.finished);
  if (r.error) {  // no CUDA here: said, not ignored
    EXPECT_NE(r.message.find("cuda"), std::string::npos) << r.message;
  } else {
    EXPECT_EQ(r.buffers, 6);
  }
}

TEST(FgPredict, DoublesFifteenFpsWithExactTimestamps) {
  GstHarness* h = gst_harness_new_parse("fgpredict fps=30/1 model=blend");
  gst_harness_set_src_caps_str(h, caps_str("I420", 32, 24, 15).c_str());
  const int n = 10;
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(
        gst_harness_push(h, make_frame(caps_str("I420", 32, 24, 15), gst_util_uint64_scale(i, GST_SECOND, 15), i)),
        GST_FLOW_OK);
  }
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_EQ(gst_harness_buffers_received(h), 2u * n);
  for (int i = 0; i < 2 * n; ++i) {
    GstBuffer* b = gst_harness_pull(h);
    EXPECT_EQ(GST_BUFFER_PTS(b), gst_util_uint64_scale(i, GST_SECOND, 30)) << i;
    EXPECT_EQ(GST_BUFFER_DURATION(b),
              gst_util_uint64_scale(i + 1, GST_SECOND, 30) - gst_util_uint64_scale(i, GST_SECOND, 30));
    gst_buffer_unref(b);
  }
  GstCaps* caps = gst_pad_get_current_caps(h->sinkpad);
  GstVideoInfo info;
  gst_video_info_from_caps(&info, caps);
  EXPECT_EQ(GST_VIDEO_INFO_FPS_N(&info), 30);
  gst_caps_unref(caps);
  gst_harness_teardown(h);
}

// Variable-rate input (framerate 0/1) retimed to a fixed rate: the last frame
// covers its own duration, or one output frame when it has none, so neither the
// last frame of a clip nor a lone still image is dropped at EOS (both were).
// Extrapolation with factor > 1 is refused on such input (factor was ignored).
TEST(FgPredict, VariableRateInput) {
  const std::string vfr = "video/x-raw,format=I420,width=16,height=16,framerate=0/1";
  // Frames at 0, 0.1 and 0.25 s; the last with no duration.
  GstHarness* h = gst_harness_new_parse("fgpredict fps=20/1 model=blend");
  gst_harness_set_src_caps_str(h, vfr.c_str());
  for (const GstClockTime pts : std::vector<GstClockTime>{0, GST_SECOND / 10, GST_SECOND / 4}) {
    GstBuffer* b = make_frame(caps_str("I420", 16, 16), pts, static_cast<int>(pts / GST_MSECOND));
    GST_BUFFER_DURATION(b) = GST_CLOCK_TIME_NONE;
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
  }
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_EQ(gst_harness_buffers_received(h), 6u);  // 0, 0.05, ..., 0.25
  for (guint i = 0; i < 6; ++i) {
    GstBuffer* b = gst_harness_pull(h);
    EXPECT_EQ(GST_BUFFER_PTS(b), gst_util_uint64_scale(i, GST_SECOND, 20)) << i;
    gst_buffer_unref(b);
  }
  gst_harness_teardown(h);

  // One still image, with a duration of 0.1 s: two frames at 20 fps.
  h = gst_harness_new_parse("fgpredict fps=20/1 model=blend");
  gst_harness_set_src_caps_str(h, vfr.c_str());
  GstBuffer* still = make_frame(caps_str("I420", 16, 16), 0);
  GST_BUFFER_DURATION(still) = GST_SECOND / 10;
  const std::vector<guint8> pixels = bytes(still);
  ASSERT_EQ(gst_harness_push(h, still), GST_FLOW_OK);
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  ASSERT_EQ(gst_harness_buffers_received(h), 2u);
  for (guint i = 0; i < 2; ++i) {
    GstBuffer* b = gst_harness_pull(h);
    EXPECT_EQ(bytes(b), pixels) << i;
    gst_buffer_unref(b);
  }
  gst_harness_teardown(h);

  // One still image without a duration (videotestsrc at 0/1 makes one): one frame.
  h = gst_harness_new_parse("fgpredict fps=20/1 model=blend");
  gst_harness_set_src_caps_str(h, vfr.c_str());
  still = make_frame(caps_str("I420", 16, 16), 0);
  GST_BUFFER_DURATION(still) = GST_CLOCK_TIME_NONE;
  ASSERT_EQ(gst_harness_push(h, still), GST_FLOW_OK);
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  EXPECT_EQ(gst_harness_buffers_received(h), 1u);
  gst_harness_teardown(h);

  // A picture held for 1.92 s (a screen recording) stays held, forwards and
  // backwards; only the last 40 ms (the shortest interval) before the next picture
  // is interpolated, as the CLI does. It was a morph across the whole hold.
  for (const double rate : {1.0, -1.0}) {
    h = gst_harness_new_parse("fgpredict fps=50/1 model=blend");
    gst_harness_set_src_caps_str(h, vfr.c_str());
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    seg.rate = rate;
    EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&seg)));
    std::vector<GstClockTime> at = {0, 40 * GST_MSECOND, 80 * GST_MSECOND, 2000 * GST_MSECOND};
    if (rate < 0) {
      std::reverse(at.begin(), at.end());
    }
    std::vector<guint8> held;
    for (const GstClockTime t : at) {
      GstBuffer* b = make_frame(caps_str("I420", 16, 16), t, static_cast<int>(t / GST_MSECOND));
      GST_BUFFER_DURATION(b) = 40 * GST_MSECOND;
      if (t == 80 * GST_MSECOND) {
        held = bytes(b);
      }
      ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
    }
    EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
    int copies = 0;
    int between = 0;
    while (gst_harness_buffers_in_queue(h) > 0) {
      GstBuffer* b = gst_harness_pull(h);
      const GstClockTime t = GST_BUFFER_PTS(b);
      if (t >= 80 * GST_MSECOND && t <= 1960 * GST_MSECOND) {
        copies += bytes(b) == held ? 1 : 0;
      } else if (t > 1960 * GST_MSECOND && t < 2000 * GST_MSECOND) {
        between += bytes(b) != held ? 1 : 0;  // 1980 ms: on the way to the next picture
      }
      gst_buffer_unref(b);
    }
    EXPECT_EQ(copies, 95) << rate;  // 80, 100, ..., 1960 ms
    EXPECT_EQ(between, 1) << rate;
    gst_harness_teardown(h);
  }

  // Extrapolating several frames per input frame needs the input's slots: refused,
  // not silently one frame per frame. Conceal passes the frames (and warns).
  h = gst_harness_new_parse("fgpredict mode=extrapolate factor=2 model=blend");
  gst_harness_set_src_caps_str(h, vfr.c_str());
  EXPECT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 16, 16), 0)), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown(h);
  h = gst_harness_new_parse("fgpredict mode=conceal model=blend");
  gst_harness_set_src_caps_str(h, vfr.c_str());
  EXPECT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 16, 16), 0)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_buffers_received(h), 1u);
  gst_harness_teardown(h);
}

// Reverse playback (a segment with rate < 0: frames arrive latest first):
// interpolate emitted nothing at all, and extrapolate put its new frames after
// each frame in time, against the playback order. Both now run down the slots.
TEST(FgPredict, ReversePlaybackRunsDownTheSlots) {
  const std::string caps = caps_str("I420", 16, 16, 10);
  auto run = [&](const std::string& desc) {
    GstHarness* h = gst_harness_new_parse(desc.c_str());
    gst_harness_set_src_caps_str(h, caps.c_str());
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    seg.rate = -1.0;
    seg.start = 0;
    seg.stop = 4 * GST_SECOND / 10;
    EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&seg)));
    for (int i = 3; i >= 0; --i) {  // frames at 0.3, 0.2, 0.1, 0.0 s
      EXPECT_EQ(gst_harness_push(h, make_frame(caps, i * GST_SECOND / 10, i)), GST_FLOW_OK);
    }
    EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
    std::vector<GstClockTime> times;
    while (gst_harness_buffers_in_queue(h) > 0) {
      GstBuffer* b = gst_harness_pull(h);
      times.push_back(GST_BUFFER_PTS(b));
      EXPECT_EQ(GST_BUFFER_DURATION(b), GST_SECOND / 20);
      gst_buffer_unref(b);
    }
    gst_harness_teardown(h);
    return times;
  };
  std::vector<GstClockTime> want;
  for (int k = 7; k >= 0; --k) {
    want.push_back(k * GST_SECOND / 20);  // 0.35 (the first frame's second half) down to 0
  }
  EXPECT_EQ(run("fgpredict factor=2 model=blend"), want);
  want.erase(want.begin());  // extrapolate: each frame, then the slot below it (none below 0)
  EXPECT_EQ(run("fgpredict mode=extrapolate factor=2 model=blend"), want);
}

TEST(FgPredict, MidpointIsTheBlendOfItsNeighbours) {
  GstHarness* h = gst_harness_new_parse("fgpredict factor=2 model=blend");
  gst_harness_set_src_caps_str(h, "video/x-raw,format=I420,width=8,height=8,framerate=10/1");
  GstBuffer* a = make_frame(caps_str("I420", 8, 8, 10), 0, 1);
  GstBuffer* b = make_frame(caps_str("I420", 8, 8, 10), GST_SECOND / 10, 2);
  const std::vector<guint8> ba = bytes(a);
  const std::vector<guint8> bb = bytes(b);
  std::vector<guint8> expect(ba.size());
  for (std::size_t i = 0; i < ba.size(); ++i) {
    expect[i] = static_cast<guint8>((ba[i] * 128 + bb[i] * 128 + 128) >> 8);
  }
  ASSERT_EQ(gst_harness_push(h, a), GST_FLOW_OK);
  ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
  gst_buffer_unref(gst_harness_pull(h));  // frame 0 itself
  GstBuffer* mid = gst_harness_pull(h);
  EXPECT_EQ(GST_BUFFER_PTS(mid), GST_SECOND / 20);
  EXPECT_EQ(bytes(mid), expect);
  gst_buffer_unref(mid);
  gst_harness_teardown(h);
}

TEST(FgPredict, ConcealFillsTwoMissingFrames) {
  GstHarness* h = gst_harness_new_parse("fgpredict mode=conceal model=blend");
  const std::string c = caps_str("I420", 32, 24, 15);
  gst_harness_set_src_caps_str(h, c.c_str());
  for (int i : {0, 1, 4, 5}) {  // frames 2 and 3 never arrive
    ASSERT_EQ(gst_harness_push(h, make_frame(c, gst_util_uint64_scale(i, GST_SECOND, 15), i)), GST_FLOW_OK);
  }
  ASSERT_EQ(gst_harness_buffers_received(h), 6u);
  for (int i = 0; i < 6; ++i) {
    GstBuffer* b = gst_harness_pull(h);
    EXPECT_EQ(GST_BUFFER_PTS(b), gst_util_uint64_scale(i, GST_SECOND, 15)) << i;
    gst_buffer_unref(b);
  }
  gst_harness_teardown(h);
}

// Upstream marks the buffer after lost data DISCONT (identity drop-probability,
// RTP jitter buffers): that gap is concealed too. A gap longer than max-conceal is
// an outage: passed as it is, and the history restarts after it.
TEST(FgPredict, ConcealFillsAGapAfterDiscontButNotAnOutage) {
  GstHarness* h = gst_harness_new_parse("fgpredict mode=conceal model=blend max-conceal=2");
  const std::string c = caps_str("I420", 32, 24, 15);
  gst_harness_set_src_caps_str(h, c.c_str());
  auto push = [&](int i, bool discont) {
    GstBuffer* b = make_frame(c, gst_util_uint64_scale(i, GST_SECOND, 15), i);
    if (discont) {
      GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DISCONT);
    }
    return gst_harness_push(h, b);
  };
  ASSERT_EQ(push(0, false), GST_FLOW_OK);
  ASSERT_EQ(push(1, false), GST_FLOW_OK);
  ASSERT_EQ(push(3, true), GST_FLOW_OK);   // frame 2 lost: concealed
  ASSERT_EQ(push(7, true), GST_FLOW_OK);   // 4, 5, 6 lost: more than 2, passed as it is
  ASSERT_EQ(push(8, false), GST_FLOW_OK);
  ASSERT_EQ(push(10, false), GST_FLOW_OK);  // 9 lost: concealed from the new history
  const std::vector<int> expect = {0, 1, 2, 3, 7, 8, 9, 10};
  ASSERT_EQ(gst_harness_buffers_received(h), expect.size());
  for (std::size_t i = 0; i < expect.size(); ++i) {
    GstBuffer* b = gst_harness_pull(h);
    // Predicted slots are counted from the first frame after the outage (7/15 s,
    // itself rounded down to the nanosecond): within 1 ns of the exact time.
    EXPECT_NEAR(static_cast<double>(GST_BUFFER_PTS(b)),
                static_cast<double>(gst_util_uint64_scale(expect[i], GST_SECOND, 15)), 1.0)
        << i;
    if (expect[i] == 3) {
      EXPECT_FALSE(GST_BUFFER_IS_DISCONT(b)) << "the gap before it was filled";
    }
    if (expect[i] == 7) {
      EXPECT_TRUE(GST_BUFFER_IS_DISCONT(b)) << "the outage before it was not";
    }
    gst_buffer_unref(b);
  }
  gst_harness_teardown(h);
}

// Live concealment with a deadline: a frame that has not come half the deadline
// after its due time is predicted then, before the next real frame, and pushed in
// its slot. The real frame, if it comes after all, is dropped (its slot was shown);
// at most max-conceal predictions run in a row, until a frame comes in time. Driven by a test clock: the worker
// waits on the element's clock, the test advances it.
TEST(FgPredict, ConcealDeadlinePredictsAnOverdueFrameBeforeTheNextArrives) {
  GstHarness* h = gst_harness_new_parse("fgpredict mode=conceal model=blend deadline=40000000 max-conceal=2");
  gst_harness_use_testclock(h);
  const std::string c = caps_str("I420", 32, 24, 25);  // 40 ms per frame
  gst_harness_set_src_caps_str(h, c.c_str());
  const GstClockTime ms = GST_MSECOND;
  GstBuffer* frame2 = nullptr;
  for (int i = 0; i < 3; ++i) {
    GstBuffer* b = make_frame(c, static_cast<GstClockTime>(i) * 40 * ms, i);
    if (i == 2) {
      frame2 = gst_buffer_ref(b);
    }
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(h));
  }
  EXPECT_EQ(gst_harness_query_latency(h), 40 * ms) << "the deadline is the latency it adds";
  // Frame 3 is due at 120 ms: the element waits until 120 + 40 / 2 ms.
  ASSERT_TRUE(gst_harness_wait_for_clock_id_waits(h, 1, 10));
  GstTestClock* clock = gst_harness_get_testclock(h);
  EXPECT_EQ(gst_test_clock_get_next_entry_time(clock), 140 * ms);
  ASSERT_TRUE(gst_harness_crank_single_clock_wait(h));
  GstBuffer* p = gst_harness_pull(h);  // pushed by the element on its own, no input needed
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(GST_BUFFER_PTS(p), 120 * ms);
  EXPECT_EQ(GST_BUFFER_DURATION(p), 40 * ms);
  EXPECT_EQ(bytes(p), bytes(frame2)) << "model=blend predicts the last frame";
  gst_buffer_unref(p);
  // Frame 3 comes after all: too late, dropped. Frame 4 is waited for again.
  ASSERT_EQ(gst_harness_push(h, make_frame(c, 120 * ms, 3)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_buffers_received(h), 4u);
  ASSERT_TRUE(gst_harness_wait_for_clock_id_waits(h, 1, 10));
  EXPECT_EQ(gst_test_clock_get_next_entry_time(clock), 180 * ms);
  ASSERT_TRUE(gst_harness_crank_single_clock_wait(h));
  p = gst_harness_pull(h);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(GST_BUFFER_PTS(p), 160 * ms);
  gst_buffer_unref(p);
  // That was the second prediction in a row (max-conceal=2; the late frame does not
  // end the run): the element stops predicting and waits for real frames.
  EXPECT_FALSE(gst_harness_wait_for_clock_id_waits(h, 1, 1)) << "no third prediction in a row";
  ASSERT_EQ(gst_harness_push(h, make_frame(c, 200 * ms, 5)), GST_FLOW_OK);
  p = gst_harness_pull(h);
  EXPECT_EQ(GST_BUFFER_PTS(p), 200 * ms);
  gst_buffer_unref(p);
  // A real frame in time ends the run: the next one is waited for again.
  ASSERT_TRUE(gst_harness_wait_for_clock_id_waits(h, 1, 10));
  EXPECT_EQ(gst_test_clock_get_next_entry_time(clock), 260 * ms);
  EXPECT_EQ(gst_harness_buffers_received(h), 6u);
  gst_object_unref(clock);
  gst_buffer_unref(frame2);
  gst_harness_teardown(h);
}

// conceal: a GAP event for a frame that will be concealed (identity and
// basetransform send one per dropped buffer) is not passed on: a synchronised sink
// would wait on it until its slot's render time, and the predicted frame could only
// follow it there. A GAP beyond max-conceal (an outage) is passed on.
TEST(FgPredict, ConcealSwallowsTheGapsItFills) {
  GstHarness* h = gst_harness_new_parse("fgpredict mode=conceal model=blend max-conceal=2");
  const std::string c = caps_str("I420", 32, 24, 25);
  gst_harness_set_src_caps_str(h, c.c_str());
  const GstClockTime ms = GST_MSECOND;
  auto gaps_out = [&] {
    int gaps = 0;
    while (GstEvent* e = gst_harness_try_pull_event(h)) {
      gaps += GST_EVENT_TYPE(e) == GST_EVENT_GAP ? 1 : 0;
      gst_event_unref(e);
    }
    return gaps;
  };
  ASSERT_EQ(gst_harness_push(h, make_frame(c, 0, 0)), GST_FLOW_OK);
  ASSERT_EQ(gst_harness_push(h, make_frame(c, 40 * ms, 1)), GST_FLOW_OK);
  (void)gaps_out();  // stream-start, caps, segment
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_gap(80 * ms, 40 * ms)));  // frame 2 lost
  EXPECT_EQ(gaps_out(), 0);
  ASSERT_EQ(gst_harness_push(h, make_frame(c, 120 * ms, 3)), GST_FLOW_OK);  // slot 2 is filled
  EXPECT_EQ(gst_harness_buffers_received(h), 4u);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_gap(400 * ms, 40 * ms)));  // 7 frames on: an outage
  EXPECT_EQ(gaps_out(), 1);
  gst_harness_teardown(h);
}

TEST(FgPredict, ExtrapolateEmitsAfterEachRealFrameAndFlushResets) {
  GstHarness* h = gst_harness_new_parse("fgpredict mode=extrapolate factor=2");
  const std::string c = caps_str("I420", 16, 16, 10);
  gst_harness_set_src_caps_str(h, c.c_str());
  ASSERT_EQ(gst_harness_push(h, make_frame(c, 0)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_buffers_received(h), 2u);  // no waiting for the next frame
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  EXPECT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&seg)));
  ASSERT_EQ(gst_harness_push(h, make_frame(c, GST_SECOND)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_buffers_received(h), 4u);
  gst_harness_teardown(h);
}

TEST(FgPredict, InterpolateReportsOneFrameOfLatency) {
  GstHarness* h = gst_harness_new_parse("fgpredict fps=30/1");
  gst_harness_set_src_caps_str(h, caps_str("I420", 16, 16, 15).c_str());
  ASSERT_EQ(gst_harness_push(h, make_frame(caps_str("I420", 16, 16, 15), 0)), GST_FLOW_OK);
  EXPECT_EQ(gst_harness_query_latency(h), gst_util_uint64_scale(1, GST_SECOND, 15));
  gst_harness_teardown(h);
}

// Hardening case 25: the fault matrix, where it applies, through the elements in
// real pipelines: each case ends (EOS or an error on the bus) within its time,
// never a crash or a hang, and produces what the CLI would.
TEST(ElementsMatrix, OddAndTinySizes) {
  PipelineRun r = run_pipeline(
      "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=85,height=47 ! fgsuperres scale=3 model=lanczos ! "
      "fakesink name=sink");
  ASSERT_TRUE(r.finished);
  EXPECT_FALSE(r.error) << r.message;
  EXPECT_EQ(r.buffers, 3);
  EXPECT_EQ(r.width, 255);
  EXPECT_EQ(r.height, 141);
  for (const std::string model : {"fast", "quality"}) {
    r = run_pipeline(
        "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=6,height=4 ! fgsuperres scale=2 model=" + model +
        " ! fakesink name=sink");
    ASSERT_TRUE(r.finished);
    EXPECT_FALSE(r.error) << model << r.message;
    EXPECT_EQ(r.buffers, 3) << model;
    EXPECT_EQ(r.width, 12) << model;
  }
  const std::string tiny = "videotestsrc num-buffers=4 ! video/x-raw,format=I420,width=6,height=4,framerate=30/1 ! ";
  // The gan; model=global (the camera's motion alone); ensemble=true (the gan's two
  // time directions).
  for (const std::string extra :
       {"", " model=global", " ensemble=true", " precision=fp32", " quality=fast", " quality=best"}) {
    r = run_pipeline(tiny + "fgpredict fps=60/1" + extra + " ! fakesink name=sink");
    ASSERT_TRUE(r.finished) << extra;
    EXPECT_FALSE(r.error) << extra << r.message;
    EXPECT_GE(r.buffers, 7) << extra;  // 4 frames at 30 -> 60 fps: 7 or 8 (the last one held to EOS)
    EXPECT_LE(r.buffers, 8) << extra;
  }
  // ensemble=true with blend, or in another mode: a bus error, not a property
  // silently ignored.
  for (const std::string bad : {"fps=60/1 model=blend", "mode=extrapolate"}) {
    r = run_pipeline(tiny + "fgpredict " + bad + " ensemble=true ! fakesink name=sink", 20);
    ASSERT_TRUE(r.finished) << bad;
    EXPECT_TRUE(r.error) << bad;
    EXPECT_NE(r.message.find("ensemble"), std::string::npos) << bad << ": " << r.message;
  }
  // quality other than normal with blend, or in another mode: the same.
  for (const std::string bad : {"fps=60/1 model=blend", "mode=extrapolate", "mode=conceal"}) {
    r = run_pipeline(tiny + "fgpredict " + bad + " quality=best ! fakesink name=sink", 20);
    ASSERT_TRUE(r.finished) << bad;
    EXPECT_TRUE(r.error) << bad;
    EXPECT_NE(r.message.find("quality"), std::string::npos) << bad << ": " << r.message;
  }
  // precision for a model without a network: the same.
  r = run_pipeline(tiny + "fgpredict fps=60/1 model=global precision=fp32 ! fakesink name=sink", 20);
  ASSERT_TRUE(r.finished);
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.message.find("precision"), std::string::npos) << r.message;
  // deadline outside mode=conceal: the same.
  r = run_pipeline(tiny + "fgpredict mode=extrapolate deadline=50000000 ! fakesink name=sink", 20);
  ASSERT_TRUE(r.finished);
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.message.find("deadline"), std::string::npos) << r.message;
  // An output rate above 1000 fps (as the CLI): a bus error naming the limit, not
  // thousands of frames per input frame.
  const std::string fast = "videotestsrc num-buffers=4 ! video/x-raw,format=I420,width=6,height=4,framerate=100/1 ! ";
  for (const std::string& bad : {tiny + "fgpredict model=blend fps=6000/1", fast + "fgpredict model=blend factor=16",
                                 fast + "fgpredict model=blend mode=extrapolate factor=16"}) {
    r = run_pipeline(bad + " ! fakesink name=sink", 20);
    ASSERT_TRUE(r.finished) << bad;
    EXPECT_TRUE(r.error) << bad;
    EXPECT_NE(r.message.find("above the limit of 1000 fps"), std::string::npos) << bad << ": " << r.message;
  }
}

TEST(ElementsMatrix, UnsupportedFormatsAreNotNegotiatedErrors) {
  for (const std::string fmt : {"I420_12LE", "GRAY16_LE", "AYUV64"}) {
    for (const std::string element : {"fgsuperres scale=2", "fgpredict factor=2"}) {
      const PipelineRun r = run_pipeline("videotestsrc num-buffers=2 ! video/x-raw,format=" + fmt +
                                         ",width=64,height=48 ! " + element + " ! fakesink name=sink");
      ASSERT_TRUE(r.finished) << fmt << " " << element;
      EXPECT_TRUE(r.error) << fmt << " " << element;
      // Refused when linking (gst-launch) or when negotiating, with the caps named.
      EXPECT_TRUE(r.message.find("not-negotiated") != std::string::npos ||
                  r.message.find("can't handle caps") != std::string::npos)
          << r.message;
      EXPECT_EQ(r.buffers, 0);
    }
  }
}

TEST(ElementsMatrix, BadAndDamagedFilesEndWithoutAHang) {
  const std::string dir = make_temp_dir("gstmatrix");
  {
    FILE* f = std::fopen((dir + "/notes.txt").c_str(), "w");
    std::fputs("not a video\n", f);
    std::fclose(f);
  }
  FixtureSpec spec;
  spec.width = 160;
  spec.height = 120;
  spec.frames = 60;
  make_fixture(dir + "/full.mkv", spec);
  fs::copy_file(dir + "/full.mkv", dir + "/cut.mkv");
  fs::resize_file(dir + "/cut.mkv", fs::file_size(dir + "/full.mkv") / 3);
  fs::copy_file(dir + "/full.mkv", dir + "/corrupt.mkv");
  {
    FILE* f = std::fopen((dir + "/corrupt.mkv").c_str(), "r+b");
    std::fseek(f, static_cast<long>(fs::file_size(dir + "/full.mkv") / 2), SEEK_SET);
    uint32_t x = 99;
    for (int i = 0; i < 2000; ++i) {
      x = x * 1664525U + 1013904223U;
      std::fputc(static_cast<int>(x >> 24), f);
    }
    std::fclose(f);
  }
  const std::string chain = " ! decodebin ! videoconvert ! fgsuperres scale=2 model=fast ! fakesink name=sink";
  PipelineRun r = run_pipeline("filesrc location=" + dir + "/notes.txt" + chain);
  ASSERT_TRUE(r.finished);
  EXPECT_TRUE(r.error);
  EXPECT_EQ(r.buffers, 0);
  r = run_pipeline("filesrc location=" + dir + "/full.mkv" + chain);
  ASSERT_TRUE(r.finished);
  EXPECT_FALSE(r.error) << r.message;
  EXPECT_EQ(r.buffers, 60);
  EXPECT_EQ(r.width, 320);
  // Truncated: the frames that are there, then EOS or an error, no hang.
  r = run_pipeline("filesrc location=" + dir + "/cut.mkv" + chain);
  ASSERT_TRUE(r.finished);
  EXPECT_GT(r.buffers, 5);
  EXPECT_LT(r.buffers, 60);
  // Corrupt bytes in the middle: EOS or an error after what the demuxer recovers.
  r = run_pipeline("filesrc location=" + dir + "/corrupt.mkv" + chain);
  ASSERT_TRUE(r.finished);

  EXPECT_GT(r.buffers, 10);  // what matroskademux recovers; it may stop at the damage
  // The predictor on the same damaged inputs (Matroska has no fixed frame rate, so
  // the target rate is given: factor=2 would be refused with "no frame rate").
  const std::string predict = " ! decodebin ! videoconvert ! fgpredict fps=50/1 ! fakesink name=sink";
  r = run_pipeline("filesrc location=" + dir + "/cut.mkv" + predict);
  ASSERT_TRUE(r.finished);

  EXPECT_GT(r.buffers, 10);
  r = run_pipeline("filesrc location=" + dir + "/corrupt.mkv" + predict);
  ASSERT_TRUE(r.finished);
  EXPECT_GT(r.buffers, 20);
  r = run_pipeline("filesrc location=" + dir + "/full.mkv ! decodebin ! videoconvert ! fgpredict factor=2 ! fakesink");
  ASSERT_TRUE(r.finished);
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.message.find("frame rate"), std::string::npos) << r.message;
  fs::remove_all(dir);
}

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  gst_element_register(nullptr, "fgsuperres", GST_RANK_NONE, GST_TYPE_FG_SUPERRES);
  gst_element_register(nullptr, "fgpredict", GST_RANK_NONE, GST_TYPE_FG_PREDICT);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
