#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "framegen/pipeline/frame.h"
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

}  // namespace

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
