#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "framegen/pipeline/frame.h"
#include "framegen/pipeline/interpolate.h"
#include "framegen/pipeline/pipeline.h"

using namespace framegen;
using namespace std::chrono_literals;

namespace {

class CountingSource : public FrameSource {
 public:
  CountingSource(FramePool& pool, int64_t count) : pool_(pool), count_(count) {}
  std::string name() const override { return "count"; }
  Frame next() override {
    if (count_ >= 0 && produced_ >= count_) {
      return {};
    }
    Frame f = pool_.acquire(AVRational{1, 25});
    f.set_pts(produced_++);
    return f;
  }
  std::atomic<int64_t> produced_{0};

 private:
  FramePool& pool_;
  int64_t count_;  // -1: endless
};

// Holds one frame back and emits it one step late; emits the held one at flush.
class DelayFilter : public FrameFilter {
 public:
  std::string name() const override { return "delay"; }
  void process(Frame f, FrameOutput& out) override {
    if (held_) {
      out.emit(std::move(held_));
    }
    held_ = std::move(f);
  }
  void flush(FrameOutput& out) override {
    flushed_ = true;
    if (held_) {
      out.emit(std::move(held_));
    }
  }
  bool flushed_ = false;

 private:
  Frame held_;
};

class ThrowingFilter : public FrameFilter {
 public:
  explicit ThrowingFilter(int64_t at) : at_(at) {}
  std::string name() const override { return "throw"; }
  void process(Frame f, FrameOutput& out) override {
    if (f.pts() == at_) {
      throw std::runtime_error("stage failed at frame " + std::to_string(at_));
    }
    out.emit(std::move(f));
  }

 private:
  int64_t at_;
};

class CollectSink : public FrameSink {
 public:
  std::string name() const override { return "collect"; }
  void consume(Frame f) override { pts.push_back(f.pts()); }
  void finish() override { ++finished; }
  std::vector<int64_t> pts;
  int finished = 0;
};

// 25 fps, frame i filled with the value 10 i.
class RampSource : public FrameSource {
 public:
  explicit RampSource(int n) : pool_(16, 16, AV_PIX_FMT_GRAY8), n_(n) {}
  std::string name() const override { return "ramp"; }
  Frame next() override {
    if (i_ >= n_) {
      return {};
    }
    Frame f = pool_.acquire(AVRational{1, 25});
    std::memset(f.av()->data[0], i_ * 10, static_cast<std::size_t>(f.av()->linesize[0]) * 16);
    f.set_pts(i_);
    f.set_duration(1);
    ++i_;
    return f;
  }

 private:
  FramePool pool_;
  int n_;
  int i_ = 0;
};

// Blend, after a delay that differs from call to call (workers finish out of
// order); throws for the pair that starts at input frame `fail_at`.
class SlowBlend : public FrameInterpolator {
 public:
  explicit SlowBlend(int64_t fail_at = -1) : blend_(make_classical_interpolator("blend")), fail_at_(fail_at) {}
  std::string name() const override { return "slow blend"; }
  Frame interpolate(const Frame& a, const Frame& b, double t) override {
    if (a.pts() == fail_at_) {
      throw std::runtime_error("synthesis failed after frame " + std::to_string(fail_at_));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(((a.pts() * 7 + ++calls_ * 3) % 5) * 400));
    return blend_->interpolate(a, b, t);
  }
  Frame extrapolate(const Frame& older, const Frame& previous, const Frame& last) override {
    return blend_->extrapolate(older, previous, last);
  }

 private:
  std::unique_ptr<FrameInterpolator> blend_;
  int64_t fail_at_;
  int calls_ = 0;
};

struct Retimed {
  std::vector<int64_t> pts;
  std::vector<int> value;
  int64_t synthesised = 0;
};

Retimed retime_ramp(int workers, int64_t fail_at = -1) {
  class Sink : public FrameSink {
   public:
    explicit Sink(Retimed& r) : r_(r) {}
    std::string name() const override { return "collect"; }
    void consume(Frame f) override {
      r_.pts.push_back(f.pts());
      r_.value.push_back(f.av()->data[0][0]);
    }
    void finish() override {}

   private:
    Retimed& r_;
  };
  Retimed r;
  std::vector<std::unique_ptr<FrameInterpolator>> models;
  for (int i = 0; i < workers; ++i) {
    models.push_back(std::make_unique<SlowBlend>(fail_at));
  }
  Pipeline p(2);
  p.set_source(std::make_unique<RampSource>(25));
  auto retime = std::make_unique<RetimeFilter>(AVRational{60, 1}, std::move(models), false);
  RetimeFilter* f = retime.get();
  p.add_filter(std::move(retime));
  p.set_sink(std::make_unique<Sink>(r));
  p.run();
  r.synthesised = f->frames_synthesised();
  return r;
}

}  // namespace

// Several models on worker threads give exactly the frames, in the order and with
// the timestamps, of one model on the filter thread.
TEST(Pipeline, RetimeWorkersKeepOrderAndTimestamps) {
  const Retimed one = retime_ramp(1);
  ASSERT_EQ(one.pts.size(), 60u);
  EXPECT_GT(one.synthesised, 40);
  for (int workers : {2, 3}) {
    const Retimed many = retime_ramp(workers);
    EXPECT_EQ(many.pts, one.pts) << workers;
    EXPECT_EQ(many.value, one.value) << workers;
    EXPECT_EQ(many.synthesised, one.synthesised) << workers;
  }
  // Blends lie between their neighbours: 25 -> 60 fps of a ramp rises steadily.
  for (std::size_t i = 1; i < one.value.size(); ++i) {
    EXPECT_GE(one.value[i], one.value[i - 1]) << i;
  }
}

// A worker's error reaches the caller of run(), and nothing hangs.
TEST(Pipeline, RetimeWorkerErrorReachesCaller) {
  try {
    retime_ramp(2, 7);
    FAIL() << "run() should rethrow the worker's error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "synthesis failed after frame 7");
  }
}

TEST(Pipeline, EndOfStreamDrainsEveryStageInOrder) {
  FramePool pool(16, 16, AV_PIX_FMT_GRAY8);
  Pipeline p(2);
  auto sink = std::make_unique<CollectSink>();
  CollectSink* s = sink.get();
  auto d1 = std::make_unique<DelayFilter>();
  auto d2 = std::make_unique<DelayFilter>();
  DelayFilter* f1 = d1.get();
  DelayFilter* f2 = d2.get();
  p.set_source(std::make_unique<CountingSource>(pool, 100));
  p.add_filter(std::move(d1));
  p.add_filter(std::move(d2));
  p.set_sink(std::move(sink));
  const PipelineStats stats = p.run();
  EXPECT_EQ(stats.frames_in, 100);
  EXPECT_EQ(stats.frames_out, 100);
  EXPECT_FALSE(stats.cancelled);
  ASSERT_EQ(s->pts.size(), 100u);
  for (int64_t i = 0; i < 100; ++i) {
    EXPECT_EQ(s->pts[i], i);
  }
  EXPECT_TRUE(f1->flushed_);
  EXPECT_TRUE(f2->flushed_);
  EXPECT_EQ(s->finished, 1);
  // Frames are recycled: far fewer buffers than frames were ever allocated.
  EXPECT_LE(pool.buffers_allocated(), 12u);
}

TEST(Pipeline, ErrorInMiddleStageStopsAllAndKeepsMessage) {
  FramePool pool(16, 16, AV_PIX_FMT_GRAY8);
  Pipeline p(2);
  auto source = std::make_unique<CountingSource>(pool, -1);  // endless: only the error can stop it
  auto sink = std::make_unique<CollectSink>();
  CollectSink* s = sink.get();
  p.set_source(std::move(source));
  p.add_filter(std::make_unique<DelayFilter>());
  p.add_filter(std::make_unique<ThrowingFilter>(10));
  p.set_sink(std::move(sink));
  try {
    p.run();
    FAIL() << "run() should rethrow the stage error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "stage failed at frame 10");
  }
  EXPECT_EQ(s->finished, 0);      // a failed run is not finalized
  EXPECT_LE(s->pts.size(), 10u);  // frames 0..9 may have got through
}

TEST(Pipeline, ErrorInSourceReachesCaller) {
  class FailingSource : public FrameSource {
   public:
    std::string name() const override { return "fail"; }
    Frame next() override { throw std::runtime_error("cannot read input.mp4"); }
  };
  Pipeline p;
  p.set_source(std::make_unique<FailingSource>());
  p.set_sink(std::make_unique<CollectSink>());
  EXPECT_THROW(
      {
        try {
          p.run();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "cannot read input.mp4");
          throw;
        }
      },
      std::runtime_error);
}

TEST(Pipeline, CancellationStopsReadingDrainsAndFinishes) {
  FramePool pool(16, 16, AV_PIX_FMT_GRAY8);
  Pipeline p(2);
  auto source = std::make_unique<CountingSource>(pool, -1);
  CountingSource* src = source.get();
  auto sink = std::make_unique<CollectSink>();
  CollectSink* s = sink.get();
  p.set_source(std::move(source));
  p.add_filter(std::make_unique<DelayFilter>());
  p.set_sink(std::move(sink));
  std::thread stopper([&] {
    while (src->produced_.load() < 50) {
      std::this_thread::sleep_for(1ms);
    }
    p.request_stop();
  });
  const PipelineStats stats = p.run();
  stopper.join();
  EXPECT_TRUE(stats.cancelled);
  EXPECT_EQ(s->finished, 1);
  // Every frame read before the stop went all the way through, in order.
  EXPECT_EQ(static_cast<int64_t>(s->pts.size()), stats.frames_in);
  for (std::size_t i = 0; i < s->pts.size(); ++i) {
    EXPECT_EQ(s->pts[i], static_cast<int64_t>(i));
  }
}

TEST(FramePool, RecyclesBuffersAndRefsShareThem) {
  FramePool pool(64, 48, AV_PIX_FMT_YUV420P);
  for (int i = 0; i < 100; ++i) {
    Frame f = pool.acquire(AVRational{1, 30});
    ASSERT_TRUE(f);
    EXPECT_EQ(f.width(), 64);
    EXPECT_EQ(f.height(), 48);
    EXPECT_EQ(f.av()->linesize[0] % 64, 0);
    f.av()->data[0][0] = static_cast<uint8_t>(i);
    Frame r = f.ref();
    EXPECT_EQ(r.av()->data[0], f.av()->data[0]);  // same pixels, no copy
  }
  EXPECT_EQ(pool.buffers_allocated(), 1u);
  Frame a = pool.acquire(AVRational{1, 30});
  Frame b = pool.acquire(AVRational{1, 30});
  EXPECT_NE(a.av()->data[0], b.av()->data[0]);
  EXPECT_EQ(pool.buffers_allocated(), 2u);
}
