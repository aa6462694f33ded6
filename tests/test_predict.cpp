// Frame prediction: re-timing with exact timestamps, scene cuts, clip extension,
// the one-pass run chain, and the prediction scorer.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "framegen/pipeline/error.h"
#include "framegen/pipeline/interpolate.h"
#include "framegen/pipeline/pipeline.h"
#include "support/fixtures.h"
#include "support/temp_dir_test.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

using namespace framegen;
using namespace framegen::test;
namespace fs = std::filesystem;

namespace {

const std::string kCli = FRAMEGEN_CLI_PATH;

class PredictTest : public TempDirTest {
 protected:
  PredictTest() : TempDirTest("pred") {}
  // A lossless (FFV1) fixture clip of w x h and n frames in the test's folder.
  std::string make_ffv1_clip(const std::string& name, int w, int h, int n) {
    FixtureSpec spec;
    spec.width = w;
    spec.height = h;
    spec.frames = n;
    spec.video_codec = "ffv1";
    make_fixture(path(name), spec);
    return path(name);
  }
};

class ListSource : public FrameSource {
 public:
  ListSource(int n, AVRational tb, int64_t step) : pool_(16, 16, AV_PIX_FMT_GRAY8), n_(n), tb_(tb), step_(step) {}
  std::string name() const override { return "list"; }
  Frame next() override {
    if (i_ >= n_) {
      return {};
    }
    Frame f = pool_.acquire(tb_);
    std::memset(f.av()->data[0], i_ * 10, static_cast<std::size_t>(f.av()->linesize[0]) * 16);
    f.set_pts(i_ * step_);
    f.set_duration(step_);
    ++i_;
    return f;
  }

 private:
  FramePool pool_;
  int n_;
  AVRational tb_;
  int64_t step_;
  int i_ = 0;
};

class Collect : public FrameSink {
 public:
  std::string name() const override { return "collect"; }
  void consume(Frame f) override {
    pts.push_back(f.pts());
    tb = f.time_base();
    first_byte.push_back(f.av()->data[0][0]);
  }
  void finish() override {}
  std::vector<int64_t> pts;
  std::vector<int> first_byte;
  AVRational tb{0, 1};
};

// Collects what a filter emits; reports the pipeline as stopping once `stop_after`
// frames went out.
class StoppingOutput : public FrameOutput {
 public:
  explicit StoppingOutput(std::size_t stop_after) : stop_after_(stop_after) {}
  bool emit(Frame f) override {
    pts.push_back(f.pts());
    return true;
  }
  [[nodiscard]] bool stopping() const override { return pts.size() >= stop_after_; }
  std::vector<int64_t> pts;

 private:
  std::size_t stop_after_;
};

// Frames at the given times (ms), frame i filled with i * 10.
class TimesSource : public FrameSource {
 public:
  explicit TimesSource(std::vector<int64_t> ms) : pool_(16, 16, AV_PIX_FMT_GRAY8), ms_(std::move(ms)) {}
  std::string name() const override { return "times"; }
  Frame next() override {
    if (i_ >= ms_.size()) {
      return {};
    }
    Frame f = pool_.acquire(AVRational{1, 1000});
    std::memset(f.av()->data[0], static_cast<int>(i_) * 10, static_cast<std::size_t>(f.av()->linesize[0]) * 16);
    f.set_pts(ms_[i_]);
    f.set_duration(i_ + 1 < ms_.size() ? ms_[i_ + 1] - ms_[i_] : 40);
    ++i_;
    return f;
  }

 private:
  FramePool pool_;
  std::vector<int64_t> ms_;
  std::size_t i_ = 0;
};

}  // namespace

// blend mixes 10-bit samples in 10 bits, planar and P010 (samples in the high
// bits); formats whose samples it cannot read are refused, not mixed byte by byte.
TEST(Blend, MixesTenBitSamplesInTenBits) {
  for (const AVPixelFormat fmt : {AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_P010LE}) {
    const int shift = fmt == AV_PIX_FMT_P010LE ? 6 : 0;
    FramePool pool(8, 4, fmt);
    auto filled = [&](int value) {
      Frame f = pool.acquire(AVRational{1, 25});
      for (int p = 0; p < 4 && f.av()->data[p] != nullptr; ++p) {
        const int rows = p == 0 ? 4 : 2;
        for (int y = 0; y < rows; ++y) {
          auto* row =
              reinterpret_cast<uint16_t*>(f.av()->data[p] + static_cast<std::ptrdiff_t>(y) * f.av()->linesize[p]);
          for (int x = 0; x < 8; ++x) {  // 8 samples: the luma row, or P010's 4 UV pairs, or 4 planar + spare
            row[x] = static_cast<uint16_t>(value << shift);
          }
        }
      }
      return f;
    };
    const Frame a = filled(301);
    const Frame b = filled(602);
    auto blend = make_classical_interpolator("blend");
    const Frame mid = blend->interpolate(a, b, 0.5);
    ASSERT_EQ(mid.format(), fmt);
    const auto* y = reinterpret_cast<const uint16_t*>(mid.av()->data[0]);
    const auto* c = reinterpret_cast<const uint16_t*>(mid.av()->data[1]);
    EXPECT_EQ(y[0], 452 << shift) << av_get_pix_fmt_name(fmt);  // (301 + 602) / 2 rounded, not via 8 bits
    EXPECT_EQ(y[7], 452 << shift) << av_get_pix_fmt_name(fmt);
    EXPECT_EQ(c[1], 452 << shift) << av_get_pix_fmt_name(fmt);
  }
  EXPECT_TRUE(blend_mixes(AV_PIX_FMT_YUV420P));
  EXPECT_TRUE(blend_mixes(AV_PIX_FMT_GBRP12LE));
  EXPECT_FALSE(blend_mixes(AV_PIX_FMT_RGB565LE));  // 5/6-bit fields inside a word
  EXPECT_FALSE(blend_mixes(AV_PIX_FMT_YUV420P10BE));
  FramePool pool(8, 4, AV_PIX_FMT_RGB565LE);
  const Frame f = pool.acquire(AVRational{1, 25});
  EXPECT_THROW(make_classical_interpolator("blend")->interpolate(f, f, 0.5), framegen::Error);
}

TEST(RetimeFilter, MakesNoNewFramesOnceThePipelineStops) {
  // 1 fps to 1000 fps: a thousand frames per input interval, where an interrupted
  // job must not stay to finish them.
  ListSource src(4, AVRational{1, 1000}, 1000);
  RetimeFilter retime(AVRational{1000, 1}, make_classical_interpolator("blend"), false);
  StoppingOutput out(5);
  for (Frame f = src.next(); f; f = src.next()) {
    retime.process(std::move(f), out);
  }
  retime.flush(out);
  ASSERT_EQ(out.pts.size(), 5u);  // the interval already started, up to the stop
  for (std::size_t i = 1; i < out.pts.size(); ++i) {
    EXPECT_GT(out.pts[i], out.pts[i - 1]);  // in order, no gap filled with later frames
  }
  EXPECT_EQ(retime.frames_synthesised(), 4);  // frame 0 is the input itself

  // Not stopping: the whole clip (4 s, the last frame held for its duration).
  RetimeFilter all(AVRational{1000, 1}, make_classical_interpolator("blend"), false);
  StoppingOutput never(std::numeric_limits<std::size_t>::max());
  ListSource src2(4, AVRational{1, 1000}, 1000);
  for (Frame f = src2.next(); f; f = src2.next()) {
    all.process(std::move(f), never);
  }
  all.flush(never);
  EXPECT_EQ(never.pts.size(), 4000u);
}

TEST(ExtendFilter, StopsExtendingOnceThePipelineStops) {
  ListSource src(3, AVRational{1, 25}, 1);
  ExtendFilter extend(1000, make_classical_interpolator("blend"), AVRational{25, 1});
  StoppingOutput out(6);
  for (Frame f = src.next(); f; f = src.next()) {
    extend.process(std::move(f), out);
  }
  extend.flush(out);
  EXPECT_EQ(out.pts, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));  // 3 inputs, 3 of the 1000 predicted
}

// Variable-rate video holds a picture for as long as it does not change (screen
// recordings): re-timed, the hold stays a hold, and only the last 40 ms before the
// next picture (the shortest interval seen) is interpolated. It was a morph
// across the whole 1.92 s. A short gap (a dropped frame) is interpolated as before.
TEST(RetimeFilter, AHeldFrameOfVariableRateVideoStaysHeld) {
  Pipeline p(2);
  p.set_source(std::make_unique<TimesSource>(std::vector<int64_t>{0, 40, 80, 2000, 2040, 2120}));
  p.add_filter(std::make_unique<RetimeFilter>(AVRational{50, 1}, make_classical_interpolator("blend"), false));
  auto sink = std::make_unique<Collect>();
  Collect* c = sink.get();
  p.set_sink(std::move(sink));
  p.run();
  ASSERT_EQ(c->pts.size(), 108u);  // 0 .. 2.14 s at 50 fps
  auto at_ms = [&](int ms) { return c->first_byte[static_cast<std::size_t>(ms / 20)]; };
  EXPECT_EQ(at_ms(20), 5);  // halfway between the first two frames (0 and 10)
  for (int ms = 80; ms <= 1960; ms += 20) {
    EXPECT_EQ(at_ms(ms), 20) << ms;  // frame 2, held
  }
  EXPECT_EQ(at_ms(1980), 25);  // halfway into the last 40 ms (20 -> 30)
  EXPECT_EQ(at_ms(2000), 30);
  EXPECT_EQ(at_ms(2080), 45);  // an 80 ms gap (twice the shortest) is interpolated: 40 -> 50
}

TEST(RetimeFilter, TwentyFiveToSixtyHasExactTimestamps) {
  Pipeline p(2);
  p.set_source(std::make_unique<ListSource>(25, AVRational{1, 90000}, 3600));  // 25 fps, 1 s
  p.add_filter(std::make_unique<RetimeFilter>(AVRational{60, 1}, make_classical_interpolator("blend"), false));
  auto sink = std::make_unique<Collect>();
  Collect* c = sink.get();
  p.set_sink(std::move(sink));
  p.run();
  ASSERT_EQ(c->pts.size(), 60u);  // round(1 s x 60)
  for (int i = 0; i < 60; ++i) {
    // pts_i x time base == i / 60 s, exactly (integer arithmetic).
    EXPECT_EQ(c->pts[i] * 60 * c->tb.num, static_cast<int64_t>(i) * c->tb.den) << i;
  }
  // Output frame 5 (t = 1/12 s) sits between input frames 2 (0.08 s) and 3 (0.12 s).
  EXPECT_GT(c->first_byte[5], 20);
  EXPECT_LT(c->first_byte[5], 30);
}

TEST_F(PredictTest, TwentyFourToSixtyWithAudio) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 48;  // 2 s
  spec.fps_num = 24;
  spec.audio = true;
  make_fixture(path("in.mkv"), spec);
  const RunResult r = run_command(
      {kCli, "interpolate", path("in.mkv"), "-o", path("out.mkv"), "--fps", "60", "--model", "blend", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frame_rate_out"], "60/1");
  const DecodedVideo v = decode_video(path("out.mkv"));
  EXPECT_NEAR(static_cast<double>(v.pts_seconds.size()), 120.0, 1.0);
  const DecodedVideo vin = decode_video(path("in.mkv"));
  EXPECT_NEAR(v.pts_seconds[0], vin.pts_seconds[0], 0.0006);  // starts with the source (mkv: milliseconds)
  for (std::size_t i = 0; i < v.pts_seconds.size(); ++i) {
    EXPECT_NEAR(v.pts_seconds[i] - v.pts_seconds[0], static_cast<double>(i) / 60.0, 0.0006) << i;
  }
  const auto pin = dump_packets(path("in.mkv"));
  const auto pout = dump_packets(path("out.mkv"));
  ASSERT_NE(stream_of(pout, "audio"), nullptr);
  EXPECT_EQ(stream_of(pout, "audio")->data, stream_of(pin, "audio")->data);
  EXPECT_NEAR(v.duration, vin.duration, 1.0 / 24);
}

TEST_F(PredictTest, NtscRatesAreExact) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 24;
  spec.fps_num = 24000;
  spec.fps_den = 1001;
  make_fixture(path("film.mp4"), spec);
  const RunResult r = run_command(
      {kCli, "interpolate", path("film.mp4"), "-o", path("tv.mp4"), "--fps", "59.94", "--model", "gan", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frame_rate_out"], "60000/1001");
  const DecodedVideo v = decode_video(path("tv.mp4"));
  const double duration = 24 * 1001.0 / 24000.0;
  EXPECT_NEAR(static_cast<double>(v.pts_seconds.size()), duration * 60000.0 / 1001.0, 1.0);
  for (std::size_t i = 0; i < v.pts_seconds.size(); ++i) {
    EXPECT_NEAR(v.pts_seconds[i] - v.pts_seconds[0], static_cast<double>(i) * 1001.0 / 60000.0, 1e-4) << i;
  }
}

TEST_F(PredictTest, SceneCutsAreNotInterpolated) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 20;
  spec.cut_at = 10;
  spec.video_codec = "ffv1";
  make_fixture(path("cut.mkv"), spec);
  const RunResult r = run_command({kCli, "interpolate", path("cut.mkv"), "-o", path("cut2.mkv"), "--factor", "2",
                                   "--model", "blend", "--codec", "ffv1", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scene_cuts"], 1);
  EXPECT_EQ(j["frames_out"], 40);
  EXPECT_EQ(j["frames_synthesised"], 19 - 1);  // every gap but the cut
}

TEST_F(PredictTest, ExtendAddsFramesAtTheSourceRate) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 20;
  make_fixture(path("in.mp4"), spec);
  const RunResult r =
      run_command({kCli, "extend", path("in.mp4"), "-o", path("longer.mp4"), "--frames", "5", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo v = decode_video(path("longer.mp4"));
  ASSERT_EQ(v.pts_seconds.size(), 25u);
  for (std::size_t i = 0; i < v.pts_seconds.size(); ++i) {
    EXPECT_NEAR(v.pts_seconds[i] - v.pts_seconds[0], static_cast<double>(i) / 25.0, 1e-3) << i;
  }
}

TEST_F(PredictTest, RunChainsPredictionAndUpscaling) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 25;
  make_fixture(path("in.mkv"), spec);
  const RunResult r = run_command(
      {kCli, "run", path("in.mkv"), "-o", path("out.mkv"), "--fps", "50", "--scale", "2", "--model", "fast", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo v = decode_video(path("out.mkv"));
  EXPECT_EQ(v.width, 128);
  EXPECT_EQ(v.height, 96);
  EXPECT_EQ(v.pts_seconds.size(), 50u);
}

// --quality reaches the gan predictor (each setting predicts other frames, so scores
// differently) and the JSON summaries say which was used; best includes the
// ensemble.
TEST_F(PredictTest, QualityReachesThePredictor) {
  const std::string clip = make_ffv1_clip("clip.mkv", 96, 64, 9);
  std::map<std::string, double> psnr;
  for (const std::string quality : {"fast", "normal", "best"}) {
    const RunResult r =
        run_command({kCli, "eval", "interp", "--ref", clip, "--quality", quality, "--precision", "fp32", "--json"});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["quality"], quality);
    EXPECT_EQ(j["ensemble"], quality == "best");
    psnr[quality] = j["psnr"].get<double>();
  }
  EXPECT_NE(psnr["fast"], psnr["normal"]);
  EXPECT_NE(psnr["normal"], psnr["best"]);
  const RunResult r =
      run_command({kCli, "interpolate", clip, "-o", path("best.mkv"), "--factor", "2", "--quality", "best", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["quality"], "best");
  EXPECT_EQ(j["ensemble"], true);
  EXPECT_EQ(decode_video(path("best.mkv")).pts_seconds.size(), 18u);
}

TEST_F(PredictTest, EvalInterpAndExtrapSaveNamedFramesAndSkipCuts) {
  make_ffv1_clip("clip.mkv", 64, 48, 21);
  RunResult r = run_command({kCli, "eval", "interp", "--ref", path("clip.mkv"), "--model", "blend", "--json", "--save",
                             path("interp"), "--cuts", "7"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  // Triplets (2i, 2i+1, 2i+2), i = 0..9; the one holding frame 7 as a new shot, (6, 7, 8), is skipped.
  EXPECT_EQ(j["samples"], 9);
  EXPECT_TRUE(file_exists(path("interp/000001.png")));
  EXPECT_FALSE(file_exists(path("interp/000007.png")));
  EXPECT_DOUBLE_EQ(j["psnr"].get<double>(), j["blend_psnr"].get<double>());
  EXPECT_TRUE(j["quality"].is_null());  // blend has no network: nothing to choose
  r = run_command({kCli, "eval", "extrap", "--ref", path("clip.mkv"), "--model", "gan", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["samples"], 19);
  EXPECT_GT(j["sharpness"].get<double>(), 0.0);
  EXPECT_TRUE(j["quality"].is_null());  // --quality is for interpolation
}
