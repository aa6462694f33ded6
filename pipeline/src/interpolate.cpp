#include "framegen/pipeline/interpolate.h"

#include <bit>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <numeric>
#include <thread>

#include "framegen/pipeline/error.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace framegen {

namespace {

class PooledOutput {
 public:
  Frame acquire_like(const Frame& f) {
    if (!pool_ || pool_->width() != f.width() || pool_->height() != f.height() || pool_->format() != f.format()) {
      pool_ = std::make_unique<FramePool>(f.width(), f.height(), f.format());
    }
    Frame out = pool_->acquire(f.time_base());
    av_check(av_frame_copy_props(out.av(), f.av()), ErrorKind::kProcessing, "frame properties");
    out.set_duration(f.duration());
    return out;
  }

 private:
  std::unique_ptr<FramePool> pool_;
};

void check_same(const Frame& a, const Frame& b) {
  if (a.width() != b.width() || a.height() != b.height() || a.format() != b.format()) {
    throw Error(ErrorKind::kProcessing, "interpolating between frames of different size or format");
  }
}

class BlendInterpolator final : public FrameInterpolator {
 public:
  std::string name() const override { return "blend"; }
  Frame interpolate(const Frame& a, const Frame& b, double t) override {
    check_same(a, b);
    if (!blend_mixes(a.format())) {
      const char* name = av_get_pix_fmt_name(a.format());
      throw Error(ErrorKind::kProcessing, std::string("blend cannot mix pixel format ") +
                                              (name != nullptr ? name : "(unknown)") +
                                              " (8-bit, or 9-16-bit little-endian formats)");
    }
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(a.format());
    const bool wide = d->comp[0].depth > 8;  // samples in 16-bit words, `shift` bits up
    const int shift = d->comp[0].shift;
    Frame out = out_.acquire_like(a);
    const int wb = static_cast<int>(std::lround(t * 256));  // weight of b in 1/256
    const int wa = 256 - wb;
    int linesizes[4];
    av_image_fill_linesizes(linesizes, a.format(), a.width());
    for (int p = 0; p < 4 && a.av()->data[p] != nullptr; ++p) {
      const int h = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(a.height(), d->log2_chroma_h) : a.height();
      for (int y = 0; y < h; ++y) {
        const uint8_t* ra = a.av()->data[p] + static_cast<std::ptrdiff_t>(y) * a.av()->linesize[p];
        const uint8_t* rb = b.av()->data[p] + static_cast<std::ptrdiff_t>(y) * b.av()->linesize[p];
        uint8_t* ro = out.av()->data[p] + static_cast<std::ptrdiff_t>(y) * out.av()->linesize[p];
        if (!wide) {
          for (int x = 0; x < linesizes[p]; ++x) {
            ro[x] = static_cast<uint8_t>((ra[x] * wa + rb[x] * wb + 128) >> 8);
          }
          continue;
        }
        for (int x = 0; x < linesizes[p] / 2; ++x) {
          uint16_t va = 0;
          uint16_t vb = 0;
          static_assert(std::endian::native == std::endian::little, "LE formats read as host words");
          std::memcpy(&va, ra + 2 * x, 2);
          std::memcpy(&vb, rb + 2 * x, 2);
          const uint32_t mix = ((uint32_t{va} >> shift) * wa + (uint32_t{vb} >> shift) * wb + 128) >> 8;
          const auto vo = static_cast<uint16_t>(mix << shift);
          std::memcpy(ro + 2 * x, &vo, 2);
        }
      }
    }
    return out;
  }
  Frame extrapolate(const Frame& /*older*/, const Frame& /*previous*/, const Frame& last) override {
    return last.ref();
  }

 private:
  PooledOutput out_;
};

class RepeatInterpolator final : public FrameInterpolator {
 public:
  std::string name() const override { return "repeat"; }
  Frame interpolate(const Frame& a, const Frame& b, double t) override {
    check_same(a, b);
    return t < 0.5 ? a.ref() : b.ref();
  }
  Frame extrapolate(const Frame& /*older*/, const Frame& /*previous*/, const Frame& last) override {
    return last.ref();
  }
};

}  // namespace

bool blend_mixes(AVPixelFormat format) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(format);
  if (d == nullptr || (d->flags & (AV_PIX_FMT_FLAG_BE | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL |
                                   AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_FLOAT)) != 0) {
    return false;
  }
  for (int c = 0; c < d->nb_components; ++c) {
    const AVComponentDescriptor& k = d->comp[c];
    if (k.depth > 16 || (k.depth > 8) != (d->comp[0].depth > 8) || k.shift != d->comp[0].shift ||
        (k.depth <= 8 && k.shift != 0)) {
      return false;
    }
  }
  return true;
}

std::unique_ptr<FrameInterpolator> make_classical_interpolator(const std::string& name) {
  if (name == "blend") {
    return std::make_unique<BlendInterpolator>();
  }
  if (name == "repeat") {
    return std::make_unique<RepeatInterpolator>();
  }
  throw Error(ErrorKind::kUsage, "unknown frame predictor '" + name + "' (blend, repeat)");
}

}  // namespace framegen

#include <spdlog/spdlog.h>

#include "framegen/pipeline/scene.h"

namespace framegen {

// One thread per model; jobs go round-robin, so with at most size() outstanding
// (RetimeFilter::drain) each thread has at most one at a time.
class InterpolationWorkers {
 public:
  explicit InterpolationWorkers(std::vector<std::unique_ptr<FrameInterpolator>> models) {
    for (auto& m : models) {
      auto w = std::make_unique<Worker>();
      w->model = std::move(m);
      Worker* raw = w.get();
      w->thread = std::thread([raw] { run(*raw); });
      workers_.push_back(std::move(w));
    }
  }
  ~InterpolationWorkers() {
    for (auto& w : workers_) {
      {
        std::lock_guard<std::mutex> lock(w->mutex);
        w->stop = true;
      }
      w->wake.notify_one();
    }
    for (auto& w : workers_) {
      w->thread.join();
    }
  }
  InterpolationWorkers(const InterpolationWorkers&) = delete;
  InterpolationWorkers& operator=(const InterpolationWorkers&) = delete;

  [[nodiscard]] std::size_t size() const { return workers_.size(); }

  std::future<Frame> submit(Frame a, Frame b, double t) {
    Worker& w = *workers_[next_];
    next_ = (next_ + 1) % workers_.size();
    Job job{std::move(a), std::move(b), t, {}};
    std::future<Frame> result = job.result.get_future();
    {
      std::lock_guard<std::mutex> lock(w.mutex);
      w.jobs.push_back(std::move(job));
    }
    w.wake.notify_one();
    return result;
  }

 private:
  struct Job {
    Frame a;
    Frame b;
    double t = 0;
    std::promise<Frame> result;
  };
  struct Worker {
    std::unique_ptr<FrameInterpolator> model;
    std::thread thread;
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Job> jobs;
    bool stop = false;
  };

  static void run(Worker& w) {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(w.mutex);
        w.wake.wait(lock, [&] { return w.stop || !w.jobs.empty(); });
        if (w.stop) {
          return;  // outstanding promises break: nobody waits for them any more
        }
        job = std::move(w.jobs.front());
        w.jobs.pop_front();
      }
      try {
        job.result.set_value(w.model->interpolate(job.a, job.b, job.t));
      } catch (...) {
        job.result.set_exception(std::current_exception());  // rethrown on the filter thread
      }
    }
  }

  std::vector<std::unique_ptr<Worker>> workers_;
  std::size_t next_ = 0;
};

RetimeFilter::RetimeFilter(AVRational rate, std::unique_ptr<FrameInterpolator> model, bool detect_cuts)
    : rate_(rate), out_tb_(av_inv_q(rate)), model_(std::move(model)), detect_cuts_(detect_cuts) {
  if (rate.num <= 0 || rate.den <= 0) {
    throw Error(ErrorKind::kUsage, "the target frame rate must be positive");
  }
}

RetimeFilter::RetimeFilter(AVRational rate, std::vector<std::unique_ptr<FrameInterpolator>> models, bool detect_cuts)
    : RetimeFilter(rate, std::unique_ptr<FrameInterpolator>(), detect_cuts) {
  if (models.empty()) {
    throw Error(ErrorKind::kUsage, "retiming needs a model");
  }
  if (models.size() == 1) {
    model_ = std::move(models.front());
  } else {
    workers_ = std::make_unique<InterpolationWorkers>(std::move(models));
  }
}

RetimeFilter::~RetimeFilter() = default;

bool RetimeFilter::emit_until(double until, const Frame* next, bool cut, FrameOutput& out) {
  // From t0 the synthesis runs to the next frame; before it, prev_ is held (a
  // long interval of variable-rate video: see kHoldFactor).
  double t0 = prev_.seconds();
  if (next != nullptr && is_hold(next->seconds() - t0, shortest_)) {
    t0 = next->seconds() - shortest_;
  }
  for (;;) {
    const double t = base_ + static_cast<double>(next_) * av_q2d(av_inv_q(rate_));
    if (t >= until - 1e-9) {
      return drain(workers_ ? workers_->size() : 0, out);
    }
    if (out.stopping()) {
      // Asked to stop: no new frames; those already synthesised go out in order,
      // and the output ends there (later input frames would leave a gap in time).
      stopped_ = true;
      drain(0, out);
      return false;
    }
    Pending p;
    p.index = next_++;
    const double alpha = next != nullptr && t > t0 ? (t - t0) / (next->seconds() - t0) : 0.0;
    if (next == nullptr || cut || alpha < 1e-6) {
      p.frame = prev_.ref();
    } else if (workers_) {
      // A worker must be free for this one: wait for the oldest if none is.
      if (!drain(workers_->size() - 1, out)) {
        return false;
      }
      p.result = workers_->submit(prev_.ref(), next->ref(), alpha);
      ++busy_;  // counted as synthesised once its result is in (drain)
    } else {
      p.frame = model_->interpolate(prev_, *next, alpha);
      ++synthesised_;
    }
    pending_.push_back(std::move(p));
    if (!workers_ && !drain(0, out)) {
      return false;
    }
  }
}

bool RetimeFilter::drain(std::size_t max_busy, FrameOutput& out) {
  while (!pending_.empty()) {
    Pending& p = pending_.front();
    if (p.result.valid()) {
      if (busy_ <= max_busy && p.result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        return true;
      }
      --busy_;
      p.frame = p.result.get();  // a worker's error is thrown here
      ++synthesised_;
    }
    Frame f = std::move(p.frame);
    f.set_pts(base_out_ + p.index * step_);
    f.set_time_base(out_tb_);
    f.set_duration(step_);
    f.av()->pkt_duration = step_;  // in out_tb_, like pts
    pending_.pop_front();
    if (!out.emit(std::move(f))) {
      return false;
    }
  }
  return true;
}

void RetimeFilter::process(Frame frame, FrameOutput& out) {
  if (stopped_) {
    return;
  }
  if (!prev_) {
    if (frame.duration() > 0) {
      shortest_ = static_cast<double>(frame.duration()) * av_q2d(frame.time_base());
    }
    // A time base in which both the first frame's time and 1/rate are whole
    // numbers, so the output grid starts exactly at the first input frame and
    // every step is exact. Falls back to 1/rate (the start rounded to it).
    const AVRational in_tb = frame.time_base();
    const int64_t d = in_tb.num == 1 ? std::lcm<int64_t>(in_tb.den, rate_.num) : 0;
    if (d > 0 && d <= (int64_t{1} << 30)) {
      out_tb_ = AVRational{1, static_cast<int>(d)};
      step_ = rate_.den * (d / rate_.num);
      base_out_ = av_rescale_q(frame.pts(), in_tb, out_tb_);
    } else {
      out_tb_ = av_inv_q(rate_);
      step_ = 1;
      base_out_ = av_rescale_q(frame.pts(), in_tb, out_tb_);
    }
    base_ = static_cast<double>(base_out_) * av_q2d(out_tb_);
    next_ = 0;
    prev_ = std::move(frame);
    return;
  }
  const bool cut = detect_cuts_ && is_scene_cut(prev_, frame);
  if (cut) {
    ++cuts_;
    spdlog::info("scene cut at {:.3f}s: not interpolated across", frame.seconds());
  }
  // A frame's own duration counts as an interval too (a clip may open with a hold).
  const double own = frame.duration() > 0 ? static_cast<double>(frame.duration()) * av_q2d(frame.time_base()) : 0;
  if (own > 0 && (shortest_ <= 0 || own < shortest_)) {
    shortest_ = own;
  }
  const bool go_on = emit_until(frame.seconds(), &frame, cut, out);
  const double interval = frame.seconds() - prev_.seconds();
  if (interval > 0 && (shortest_ <= 0 || interval < shortest_)) {
    shortest_ = interval;
  }
  if (!go_on) {
    return;
  }
  prev_ = std::move(frame);
}

void RetimeFilter::flush(FrameOutput& out) {
  if (!prev_ || stopped_) {
    return;
  }
  double d = prev_.duration() > 0 ? static_cast<double>(prev_.duration()) * av_q2d(prev_.time_base()) : 0.0;
  if (d <= 0) {
    d = av_q2d(av_inv_q(rate_));
  }
  if (emit_until(prev_.seconds() + d, nullptr, false, out)) {
    drain(0, out);
  }
  prev_ = Frame();
}

ExtendFilter::ExtendFilter(int count, std::unique_ptr<FrameInterpolator> model, AVRational frame_rate)
    : count_(count), model_(std::move(model)), frame_rate_(frame_rate) {
  if (count < 0) {
    throw Error(ErrorKind::kUsage, "--frames must not be negative");
  }
}

void ExtendFilter::process(Frame frame, FrameOutput& out) {
  older_ = prev_ ? prev_.ref() : Frame();
  prev_ = last_ ? last_.ref() : Frame();
  last_ = frame.ref();
  out.emit(std::move(frame));
}

void ExtendFilter::flush(FrameOutput& out) {
  if (!last_) {
    return;
  }
  int64_t step = last_.duration();
  if (step <= 0 && frame_rate_.num > 0) {
    step = av_rescale_q(1, av_inv_q(frame_rate_), last_.time_base());
  }
  if (step <= 0) {
    throw Error(ErrorKind::kProcessing, "cannot extend a clip without a known frame duration");
  }
  const int64_t first = last_.pts();
  if (!prev_ && count_ > 0) {
    spdlog::warn("the input has one frame: nothing tells how it moves, so the {} added frame(s) repeat it", count_);
  }
  for (int k = 1; k <= count_ && !out.stopping(); ++k) {
    Frame next = prev_ ? model_->extrapolate(older_, prev_, last_) : last_.ref();
    next.set_pts(first + step * k);
    next.set_duration(step);
    next.av()->pkt_duration = step;
    older_ = std::move(prev_);
    prev_ = std::move(last_);
    last_ = next.ref();
    if (!out.emit(std::move(next))) {
      return;
    }
  }
}

}  // namespace framegen
