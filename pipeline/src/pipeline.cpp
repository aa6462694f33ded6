#include "framegen/pipeline/pipeline.h"

#include <thread>

#include "framegen/pipeline/error.h"

namespace framegen {

namespace {

class QueueOutput final : public FrameOutput {
 public:
  QueueOutput(FrameQueue& queue, const Pipeline& pipeline) : queue_(queue), pipeline_(pipeline) {}
  bool emit(Frame frame) override { return queue_.push(std::move(frame)); }
  [[nodiscard]] bool stopping() const override { return pipeline_.stop_requested(); }

 private:
  FrameQueue& queue_;
  const Pipeline& pipeline_;
};

}  // namespace

void Pipeline::request_stop() noexcept {
  stop_.store(true, std::memory_order_release);
  if (source_) {
    source_->interrupt();
  }
}

void Pipeline::fail(std::exception_ptr error) {
  {
    std::lock_guard lock(error_mutex_);
    if (!error_) {
      error_ = std::move(error);
    }
  }
  failed_.store(true, std::memory_order_release);
  if (source_) {
    source_->interrupt();
  }
  for (auto& q : queues_) {
    q->close();
  }
}

PipelineStats Pipeline::run() {
  if (!source_ || !sink_) {
    throw Error(ErrorKind::kProcessing, "pipeline needs a source and a sink");
  }
  queues_.clear();
  for (std::size_t i = 0; i <= filters_.size(); ++i) {
    queues_.push_back(std::make_unique<FrameQueue>(queue_capacity_));
  }

  std::vector<std::thread> threads;
  threads.reserve(filters_.size() + 2);

  // Source: reads until end of stream, a stop request or a failure downstream.
  threads.emplace_back([this] {
    FrameQueue& out = *queues_.front();
    try {
      while (!stop_requested() && !failed_.load(std::memory_order_acquire)) {
        Frame f = source_->next();
        if (!f) {
          break;
        }
        frames_in_.fetch_add(1, std::memory_order_relaxed);
        if (!out.push(std::move(f))) {
          break;
        }
      }
    } catch (...) {
      fail(std::current_exception());
    }
    out.close();
  });

  for (std::size_t i = 0; i < filters_.size(); ++i) {
    threads.emplace_back([this, i] {
      FrameQueue& in = *queues_[i];
      FrameQueue& out = *queues_[i + 1];
      QueueOutput output(out, *this);
      try {
        while (auto f = in.pop()) {
          filters_[i]->process(std::move(*f), output);
          if (failed_.load(std::memory_order_acquire)) {
            break;
          }
        }
        if (!failed_.load(std::memory_order_acquire)) {
          filters_[i]->flush(output);
        }
      } catch (...) {
        fail(std::current_exception());
      }
      out.close();
    });
  }

  // Sink on its own thread too, so the caller's thread only waits.
  threads.emplace_back([this] {
    FrameQueue& in = *queues_.back();
    try {
      while (auto f = in.pop()) {
        sink_->consume(std::move(*f));
        frames_out_.fetch_add(1, std::memory_order_relaxed);
      }
      if (!failed_.load(std::memory_order_acquire)) {
        sink_->finish();
      }
    } catch (...) {
      fail(std::current_exception());
    }
  });

  for (auto& t : threads) {
    t.join();
  }

  std::lock_guard lock(error_mutex_);
  if (error_) {
    std::rethrow_exception(error_);
  }
  PipelineStats stats;
  stats.frames_in = frames_in_.load();
  stats.frames_out = frames_out_.load();
  stats.cancelled = stop_requested();
  return stats;
}

}  // namespace framegen
