#include "framegen/pipeline/interpolate.h"

#include <cmath>
#include <cstring>

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
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(a.format());
    if (d == nullptr || d->comp[0].depth > 8) {
      throw Error(ErrorKind::kProcessing, "blend needs an 8-bit pixel format");
    }
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
        for (int x = 0; x < linesizes[p]; ++x) {
          ro[x] = static_cast<uint8_t>((ra[x] * wa + rb[x] * wb + 128) >> 8);
        }
      }
    }
    return out;
  }
  Frame extrapolate(const Frame& /*previous*/, const Frame& last) override { return last.ref(); }

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
  Frame extrapolate(const Frame& /*previous*/, const Frame& last) override { return last.ref(); }
};

}  // namespace

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
