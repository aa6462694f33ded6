// Frame: a move-only handle on one video frame (pixels in an AVFrame, plus its pts,
// duration and time base). Destroying a Frame returns its AVFrame shell to the pool
// it came from and drops its buffer references, which sends pooled pixel buffers
// back to their AVBufferPool: steady-state processing allocates nothing.
//
// FramePool: frames of one geometry (width, height, pixel format). Thread-safe: any
// thread may acquire, any thread may destroy a Frame. Idle shells are bounded by
// `max_idle`; pixel memory is bounded by the frames alive at once, which the
// bounded queues between stages bound in turn.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "framegen/pipeline/av_ptr.h"

extern "C" {
#include <libavutil/buffer.h>
#include <libavutil/pixfmt.h>
#include <libavutil/rational.h>
}

namespace framegen {

namespace detail {
class ShellRecycler;
}

class Frame {
 public:
  Frame() = default;
  Frame(AvFramePtr frame, AVRational time_base, std::shared_ptr<detail::ShellRecycler> recycler = {});
  Frame(Frame&& other) noexcept = default;
  Frame& operator=(Frame&& other) noexcept;
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
  ~Frame();

  [[nodiscard]] explicit operator bool() const { return frame_ != nullptr; }
  [[nodiscard]] AVFrame* av() { return frame_.get(); }
  [[nodiscard]] const AVFrame* av() const { return frame_.get(); }

  [[nodiscard]] int width() const { return frame_->width; }
  [[nodiscard]] int height() const { return frame_->height; }
  [[nodiscard]] AVPixelFormat format() const { return static_cast<AVPixelFormat>(frame_->format); }
  [[nodiscard]] int64_t pts() const { return frame_->pts; }
  void set_pts(int64_t pts) { frame_->pts = pts; }
  // Duration in time_base units; 0 when unknown.
  [[nodiscard]] int64_t duration() const { return duration_; }
  void set_duration(int64_t d) { duration_ = d; }
  [[nodiscard]] AVRational time_base() const { return time_base_; }
  void set_time_base(AVRational tb) { time_base_ = tb; }
  // pts in seconds (NaN when the frame has none).
  [[nodiscard]] double seconds() const;

  // A new handle on the same pixels (av_frame_ref): no pixel copy.
  [[nodiscard]] Frame ref() const;

 private:
  void release();

  AvFramePtr frame_;
  AVRational time_base_{1, 1};
  int64_t duration_ = 0;
  std::shared_ptr<detail::ShellRecycler> recycler_;
};

class FramePool {
 public:
  FramePool(int width, int height, AVPixelFormat format, std::size_t max_idle = 16);
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // A frame with writable pooled pixel buffers of this pool's geometry; pts unset.
  Frame acquire(AVRational time_base);

  // An empty frame shell (no buffers), e.g. for avcodec_receive_frame.
  Frame shell(AVRational time_base);

  [[nodiscard]] int width() const { return width_; }
  [[nodiscard]] int height() const { return height_; }
  [[nodiscard]] AVPixelFormat format() const { return format_; }
  // Frames' worth of pixel buffers the pool has ever allocated (in use or idle).
  [[nodiscard]] std::size_t buffers_allocated() const;

 private:
  int width_;
  int height_;
  AVPixelFormat format_;
  int linesize_[4] = {};
  std::size_t plane_size_[4] = {};
  int planes_ = 0;
  AVBufferPool* buffer_pool_[4] = {};
  std::atomic<std::size_t> allocated_{0};
  std::shared_ptr<detail::ShellRecycler> recycler_;
};

// A recycler of AVFrame shells only, for frames whose buffers come from elsewhere
// (decoders). Thread-safe.
std::shared_ptr<detail::ShellRecycler> make_shell_recycler(std::size_t max_idle = 16);
Frame make_shell(const std::shared_ptr<detail::ShellRecycler>& recycler, AVRational time_base);

}  // namespace framegen
