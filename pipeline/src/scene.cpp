#include "framegen/pipeline/scene.h"

#include <array>
#include <cmath>
#include <cstdlib>

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace framegen {

namespace {

// 32-bin histograms and mean absolute difference on a subsampled grid.
template <typename GetA, typename GetB>
bool decide(int w, int h, GetA&& get_a, GetB&& get_b) {
  std::array<double, 32> ha{};
  std::array<double, 32> hb{};
  double mad = 0;
  double n = 0;
  const int step = std::max(1, std::min(w, h) / 64);
  for (int y = 0; y < h; y += step) {
    for (int x = 0; x < w; x += step) {
      const int a = get_a(x, y);
      const int b = get_b(x, y);
      ha[a >> 3] += 1;
      hb[b >> 3] += 1;
      mad += std::abs(a - b);
      n += 1;
    }
  }
  double hist = 0;
  for (int i = 0; i < 32; ++i) {
    hist += std::fabs(ha[i] - hb[i]);
  }
  hist /= 2 * n;  // 0 (same distribution) .. 1 (disjoint)
  mad /= n;
  // Both must agree: motion changes pixels but keeps the histogram; a fade keeps
  // neither but slowly.
  return mad > 30 && hist > 0.35;
}

}  // namespace

bool is_scene_cut(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height) {
    return true;
  }
  auto luma = [](const Image& img) {
    return [&img](int x, int y) {
      const uint8_t* p = img.row(y) + static_cast<std::ptrdiff_t>(x) * img.channels;
      return img.channels >= 3 ? (66 * p[0] + 129 * p[1] + 25 * p[2] + 128) / 256 + 16 : p[0];
    };
  };
  auto ga = luma(a);
  auto gb = luma(b);
  return decide(a.width, a.height, ga, gb);
}

bool is_scene_cut(const Frame& a, const Frame& b) {
  if (a.width() != b.width() || a.height() != b.height() || a.format() != b.format()) {
    return true;
  }
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(a.format());
  const int px = d != nullptr && (d->flags & AV_PIX_FMT_FLAG_PLANAR) == 0 ? d->comp[0].step : 1;
  const AVFrame* fa = a.av();
  const AVFrame* fb = b.av();
  auto ga = [fa, px](int x, int y) { return static_cast<int>(fa->data[0][y * fa->linesize[0] + x * px]); };
  auto gb = [fb, px](int x, int y) { return static_cast<int>(fb->data[0][y * fb->linesize[0] + x * px]); };
  return decide(a.width(), a.height(), ga, gb);
}

}  // namespace framegen
