#include "framegen/pipeline/frame.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "framegen/pipeline/error.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace framegen {

namespace detail {

class ShellRecycler {
 public:
  explicit ShellRecycler(std::size_t max_idle) : max_idle_(max_idle) {}
  ~ShellRecycler() {
    for (AVFrame* f : idle_) {
      av_frame_free(&f);
    }
  }
  ShellRecycler(const ShellRecycler&) = delete;
  ShellRecycler& operator=(const ShellRecycler&) = delete;

  AvFramePtr take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        AVFrame* f = idle_.back();
        idle_.pop_back();
        return AvFramePtr(f);
      }
    }
    return make_av_frame();
  }

  void give(AvFramePtr f) {
    av_frame_unref(f.get());
    std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(f.release());
    }
  }

 private:
  std::mutex mutex_;
  std::vector<AVFrame*> idle_;
  std::size_t max_idle_;
};

}  // namespace detail

Frame::Frame(AvFramePtr frame, AVRational time_base, std::shared_ptr<detail::ShellRecycler> recycler)
    : frame_(std::move(frame)), time_base_(time_base), recycler_(std::move(recycler)) {}

Frame& Frame::operator=(Frame&& other) noexcept {
  if (this != &other) {
    release();
    frame_ = std::move(other.frame_);
    time_base_ = other.time_base_;
    duration_ = other.duration_;
    recycler_ = std::move(other.recycler_);
  }
  return *this;
}

Frame::~Frame() { release(); }

void Frame::release() {
  if (frame_ && recycler_) {
    recycler_->give(std::move(frame_));
  }
  frame_.reset();
  recycler_.reset();
}

double Frame::seconds() const {
  if (!frame_ || frame_->pts == AV_NOPTS_VALUE) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return static_cast<double>(frame_->pts) * av_q2d(time_base_);
}

Frame Frame::ref() const {
  AvFramePtr copy = recycler_ ? recycler_->take() : make_av_frame();
  av_check(av_frame_ref(copy.get(), frame_.get()), ErrorKind::kProcessing, "av_frame_ref");
  Frame out(std::move(copy), time_base_, recycler_);
  out.duration_ = duration_;
  return out;
}

std::shared_ptr<detail::ShellRecycler> make_shell_recycler(std::size_t max_idle) {
  return std::make_shared<detail::ShellRecycler>(max_idle);
}

Frame make_shell(const std::shared_ptr<detail::ShellRecycler>& recycler, AVRational time_base) {
  return Frame(recycler->take(), time_base, recycler);
}

namespace {
constexpr int kAlign = 64;  // AVX-512 friendly row starts

// Allocator for plane 0's pool: counts allocations so tests can check recycling.
AVBufferRef* counted_alloc(void* opaque, size_t size) {
  static_cast<std::atomic<std::size_t>*>(opaque)->fetch_add(1, std::memory_order_relaxed);
  return av_buffer_alloc(size);
}
}  // namespace

FramePool::FramePool(int width, int height, AVPixelFormat format, std::size_t max_idle)
    : width_(width), height_(height), format_(format), recycler_(make_shell_recycler(max_idle)) {
  if (width <= 0 || height <= 0) {
    throw Error(ErrorKind::kProcessing,
                "FramePool: invalid size " + std::to_string(width) + "x" + std::to_string(height));
  }
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (desc == nullptr || (desc->flags & AV_PIX_FMT_FLAG_PAL) != 0 || (desc->flags & AV_PIX_FMT_FLAG_HWACCEL) != 0) {
    throw Error(ErrorKind::kProcessing, "FramePool: unsupported pixel format");
  }
  const int aligned_width = (width + kAlign - 1) / kAlign * kAlign;
  av_check(av_image_fill_linesizes(linesize_, format, aligned_width), ErrorKind::kProcessing, "FramePool linesizes");
  ptrdiff_t lines[4];
  for (int i = 0; i < 4; ++i) {
    lines[i] = linesize_[i];
  }
  size_t sizes[4] = {};
  av_check(av_image_fill_plane_sizes(sizes, format, height, lines), ErrorKind::kProcessing, "FramePool plane sizes");
  for (int i = 0; i < 4; ++i) {
    if (sizes[i] == 0) {
      break;
    }
    plane_size_[i] = sizes[i] + AV_INPUT_BUFFER_PADDING_SIZE;
    buffer_pool_[i] = i == 0 ? av_buffer_pool_init2(plane_size_[i], &allocated_, counted_alloc, nullptr)
                             : av_buffer_pool_init(plane_size_[i], nullptr);
    if (buffer_pool_[i] == nullptr) {
      throw std::bad_alloc();
    }
    planes_ = i + 1;
  }
}

FramePool::~FramePool() {
  // av_buffer_pool_uninit defers the free until every outstanding buffer is back.
  for (auto& pool : buffer_pool_) {
    if (pool != nullptr) {
      av_buffer_pool_uninit(&pool);
    }
  }
}

Frame FramePool::acquire(AVRational time_base) {
  AvFramePtr f = recycler_->take();
  f->width = width_;
  f->height = height_;
  f->format = format_;
  for (int i = 0; i < planes_; ++i) {
    f->buf[i] = av_buffer_pool_get(buffer_pool_[i]);
    if (f->buf[i] == nullptr) {
      throw std::bad_alloc();
    }
    f->data[i] = f->buf[i]->data;
    f->linesize[i] = linesize_[i];
  }
  f->extended_data = f->data;
  f->pts = AV_NOPTS_VALUE;
  return Frame(std::move(f), time_base, recycler_);
}

Frame FramePool::shell(AVRational time_base) { return Frame(recycler_->take(), time_base, recycler_); }

std::size_t FramePool::buffers_allocated() const { return allocated_.load(); }

}  // namespace framegen
