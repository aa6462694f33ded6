// Stage interfaces and the Pipeline runner.
//
// A pipeline is   source -Q-> filter -Q-> ... -Q-> sink,   each on its own thread,
// each Q a bounded SpscQueue<Frame> (the backpressure: memory stays flat whatever
// the input length). Ownership of a Frame moves downstream; no stage copies pixels
// it does not transform.
//
// End of stream: the source returns an empty Frame; each filter then gets flush()
// to emit what it holds, and the sink gets finish(): every stage drains in order.
// Errors: the first exception thrown by any stage is kept, every queue is closed so
// all stages stop promptly, and run() rethrows that original exception.
// Cancellation: request_stop() (async-signal-safe) makes the source stop reading;
// the frames already in flight drain normally (filters that synthesise frames stop
// synthesising: FrameOutput::stopping) and the sink finishes, so the output is
// finalized. abort() stops everything at once without finishing the sink.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "framegen/pipeline/frame.h"
#include "framegen/pipeline/spsc_queue.h"

namespace framegen {

using FrameQueue = SpscQueue<Frame>;

// Hands frames to the next stage. Called only from the owning stage's thread.
class FrameOutput {
 public:
  virtual ~FrameOutput() = default;
  // Blocks while the downstream queue is full. Returns false when the pipeline is
  // stopping (the frame is dropped); a stage should then return promptly.
  virtual bool emit(Frame frame) = 0;
  // True once the pipeline was asked to stop (request_stop). A filter that makes
  // many frames from one (re-timing, extending a clip) stops making new ones then:
  // the frames in flight would otherwise take as long as the whole job (a high
  // target rate makes thousands per input frame).
  [[nodiscard]] virtual bool stopping() const { return false; }
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  // Source thread. The next frame, or an empty Frame at end of stream.
  virtual Frame next() = 0;
  // Any thread, async-signal-safe: make a blocked next() return soon (end of stream).
  virtual void interrupt() {}
};

class FrameFilter {
 public:
  virtual ~FrameFilter() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  // Filter thread. Consume one frame, emit zero or more.
  virtual void process(Frame frame, FrameOutput& out) = 0;
  // Filter thread, once, at end of stream: emit whatever is still held.
  virtual void flush(FrameOutput& /*out*/) {}
};

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  // Sink thread.
  virtual void consume(Frame frame) = 0;
  // Sink thread, once, after the last frame of a complete or cancelled run (not
  // after an error): drain encoders and finalize the output.
  virtual void finish() = 0;
};

struct PipelineStats {
  int64_t frames_in = 0;   // frames produced by the source
  int64_t frames_out = 0;  // frames consumed by the sink
  bool cancelled = false;  // request_stop() ended the run early
};

class Pipeline {
 public:
  explicit Pipeline(std::size_t queue_capacity = 4) : queue_capacity_(queue_capacity) {}
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  void set_source(std::unique_ptr<FrameSource> source) { source_ = std::move(source); }
  void add_filter(std::unique_ptr<FrameFilter> filter) { filters_.push_back(std::move(filter)); }
  void set_sink(std::unique_ptr<FrameSink> sink) { sink_ = std::move(sink); }

  // Runs every stage on its own thread and waits for all of them. Rethrows the
  // first stage error. Call once.
  PipelineStats run();

  // Any thread, async-signal-safe: stop reading input, drain and finalize.
  void request_stop() noexcept;
  [[nodiscard]] bool stop_requested() const noexcept { return stop_.load(std::memory_order_acquire); }

 private:
  void fail(std::exception_ptr error);

  std::size_t queue_capacity_;
  std::unique_ptr<FrameSource> source_;
  std::vector<std::unique_ptr<FrameFilter>> filters_;
  std::unique_ptr<FrameSink> sink_;
  std::vector<std::unique_ptr<FrameQueue>> queues_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::mutex error_mutex_;
  std::exception_ptr error_;
  std::atomic<int64_t> frames_in_{0};
  std::atomic<int64_t> frames_out_{0};
};

}  // namespace framegen
