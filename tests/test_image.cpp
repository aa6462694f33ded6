// The SR protocol's reference operations, checked against vectors computed with
// shared/tools/sr_common.py (the outside reference implementation).
#include <gtest/gtest.h>

#include <cmath>

#include "framegen/pipeline/image.h"

using namespace framegen;

namespace {

Image pattern(int w, int h, int mul, int mod) {
  Image img(w, h, 3);
  for (std::size_t i = 0; i < img.data.size(); ++i) {
    img.data[i] = static_cast<uint8_t>((static_cast<int64_t>(i) * mul) % mod);
  }
  return img;
}

}  // namespace

TEST(MatlabResize, MatchesReferenceVectors) {
  // sr_common.imresize_matlab on (arange(8*6*3) * 37 % 256).reshape(6, 8, 3).
  const Image img = pattern(8, 6, 37, 256);
  const Image lr = downscale_matlab(img, 2);
  ASSERT_EQ(lr.width, 4);
  ASSERT_EQ(lr.height, 3);
  const std::vector<uint8_t> want_lr = {109, 79,  122, 152, 118, 86,  111, 155, 121, 85,  109, 152,
                                        171, 121, 105, 129, 175, 128, 87,  132, 177, 132, 98,  135,
                                        143, 130, 92,  112, 155, 134, 90,  115, 158, 156, 86,  123};
  EXPECT_EQ(lr.data, want_lr);
  const Image up = imresize_matlab(lr, 8, 6);
  const std::vector<uint8_t> want_up_head = {98, 71, 128, 114, 82, 115, 147, 102, 88, 150, 126, 85};
  EXPECT_EQ(std::vector<uint8_t>(up.data.begin(), up.data.begin() + 12), want_up_head);
  EXPECT_NEAR(psnr_y(up, img, 1), 14.2807220417, 1e-8);
}

TEST(MatlabResize, ConstantStaysConstant) {
  Image img(30, 20, 3);
  std::fill(img.data.begin(), img.data.end(), 77);
  const Image lr = downscale_matlab(img, 3);
  EXPECT_EQ(lr.width, 10);
  EXPECT_EQ(lr.height, 7);  // ceil(20 / 3), as MATLAB
  for (uint8_t v : lr.data) {
    EXPECT_EQ(v, 77);
  }
}

TEST(Metrics, PsnrAndSsimMatchReference) {
  const Image a = pattern(40, 32, 7919, 251);
  Image b = a;
  for (std::size_t i = 0; i < b.data.size(); ++i) {
    b.data[i] = static_cast<uint8_t>(std::clamp(static_cast<int>(a.data[i]) + static_cast<int>(i % 5) - 2, 0, 255));
  }
  EXPECT_NEAR(psnr_y(b, a, 2), 50.4019812648, 1e-8);
  EXPECT_NEAR(ssim_y(b, a, 2), 0.9996703732, 1e-9);
  EXPECT_TRUE(std::isinf(psnr_y(a, a, 2)));
  EXPECT_DOUBLE_EQ(ssim_y(a, a, 2), 1.0);
}

TEST(Metrics, ModcropKeepsTopLeft) {
  const Image a = pattern(11, 7, 3, 256);
  const Image c = modcrop(a, 4);
  EXPECT_EQ(c.width, 8);
  EXPECT_EQ(c.height, 4);
  EXPECT_EQ(c.row(1)[0], a.row(1)[0]);
}
