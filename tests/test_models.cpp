// Super-resolution runner: built-in models, TorchScript user models through the
// CLI, tiling equivalence, still images, device errors. The predictor's global
// motion fit and how extrapolation continues it.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "framegen/models/frame_predictor.h"
#include "framegen/models/networks.h"
#include "framegen/models/predictor_net.h"
#include "framegen/models/super_resolution.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/frame.h"
#include "framegen/pipeline/image.h"
#include "support/fixtures.h"
#include "support/temp_dir_test.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

using namespace framegen;
using namespace framegen::test;
namespace fs = std::filesystem;

namespace {

const std::string kCli = FRAMEGEN_CLI_PATH;

// The w x h window of `scene` whose top-left corner is (x0, y0).
Image window(const Image& scene, int x0, int y0, int w, int h) {
  Image v(w, h, 3);
  for (int y = 0; y < h; ++y) {
    std::memcpy(v.row(y), scene.row(y + y0) + x0 * 3, static_cast<std::size_t>(w) * 3);
  }
  return v;
}

// A deterministic image with edges, gradients and texture.
Image test_image(int w, int h) {
  Image img(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.row(y) + x * 3;
      const bool disc = (x - w / 2) * (x - w / 2) + (y - h / 2) * (y - h / 2) < (h / 3) * (h / 3);
      p[0] = static_cast<uint8_t>(disc ? 200 : (x * 255) / w);
      p[1] = static_cast<uint8_t>(((x / 3 + y / 5) % 2) != 0 ? 180 : 60);
      p[2] = static_cast<uint8_t>((x * y) % 256);
    }
  }
  return img;
}

class ModelsTest : public TempDirTest {
 protected:
  ModelsTest() : TempDirTest("models") {}
};

// Writes a TorchScript module whose forward is `body` (TorchScript source).
void save_script(const std::string& file, const std::string& body) {
  torch::jit::Module m("UserSr");
  m.define(body);
  m.save(file);
}

}  // namespace

// The global motion fit recovers a known affine warp of a textured image, also
// when part of the picture moves on its own.
TEST(GlobalMotion, RecoversAnAffineWarpDespiteAMovingObject) {
  torch::manual_seed(7);
  namespace F = torch::nn::functional;
  const int64_t h = 192;
  const int64_t w = 256;
  auto up = [&](int64_t s) {
    return F::interpolate(
        torch::rand({1, 3, h / s, w / s}),
        F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
  };
  const torch::Tensor i0 = (up(16) * 0.5 + up(4) * 0.3 + up(2) * 0.2).contiguous();
  const std::vector<double> truth{0.01, -0.02, 0.06, 0.015, 0.005, -0.04};
  const torch::Tensor xs = torch::linspace(-1.0, 1.0, w).view({1, w}).expand({h, w});
  const torch::Tensor ys = torch::linspace(-1.0, 1.0, h).view({h, 1}).expand({h, w});
  auto field = [&](const std::vector<double>& t) {
    return torch::stack(
               {(xs * t[0] + ys * t[1] + t[2]) * ((w - 1) / 2.0), (xs * t[3] + ys * t[4] + t[5]) * ((h - 1) / 2.0)})
        .unsqueeze(0);
  };
  torch::Tensor i1 = models::backward_warp(i0, field(truth));
  // An object of its own: a bright square moving the other way (1/16 of the area).
  i1.slice(2, 20, 68).slice(3, 30, 94).copy_(i0.slice(2, 40, 88).slice(3, 10, 74) * 0.5 + 0.5);
  std::vector<torch::Tensor> a{i0};
  std::vector<torch::Tensor> b{i1};
  for (int k = 0; k < 4; ++k) {
    a.push_back(F::avg_pool2d(a.back(), F::AvgPool2dFuncOptions(2)));
    b.push_back(F::avg_pool2d(b.back(), F::AvgPool2dFuncOptions(2)));
  }
  const torch::Tensor theta = models::global_motion({a[4], a[3], a[2]}, {b[4], b[3], b[2]});
  ASSERT_EQ(theta.sizes(), torch::IntArrayRef({1, 6}));
  std::vector<double> got(6);
  for (int i = 0; i < 6; ++i) {
    got[static_cast<std::size_t>(i)] = theta[0][i].item<double>();
  }
  // Worst displacement error over the frame, in pixels (the motion is up to 12 px;
  // the fit stops at 1/4 resolution and the network refines below that).
  const double err = (field(got) - field(truth)).abs().max().item<double>();
  EXPECT_LT(err, 0.5) << "theta " << theta;
  // Identity stays identity.
  const torch::Tensor still = models::global_motion({a[4], a[3], a[2]}, {a[4], a[3], a[2]});
  EXPECT_LT(still.abs().max().item<double>(), 1e-4);
}

// Extrapolation given the frame before its two inputs: a camera that pans steadily
// is continued as before, one that shakes back and forth is not (the prediction
// stays near the last frame instead of running on in the last step's direction).
TEST(Extrapolation, ContinuesASteadyPanButNotAShake) {
  const Image scene = test_image(300, 160);
  auto view = [&](int dx) { return window(scene, 20 + dx, 0, 240, 160); };  // the camera 20 + dx px into the scene
  PredictorOptions o;
  o.threads = 2;
  auto model = make_image_predictor(o);
  // Pan: -4, 0, +4 -> +8. The older frame changes (almost) nothing.
  const Image pan_older = view(-4);
  const Image pan_plain = model->extrapolate(nullptr, view(0), view(4));
  const Image pan_steady = model->extrapolate(&pan_older, view(0), view(4));
  EXPECT_GT(psnr_rgb(pan_steady, pan_plain), 40.0);
  const double copy_pan = psnr_rgb(view(4), view(8));
  EXPECT_GT(psnr_rgb(pan_steady, view(8)), copy_pan + 3.0) << "copy-last " << copy_pan;
  // Shake: +4, 0, +4. Without the older frame the motion 0 -> +4 is continued to
  // +8; with it, the camera's back-and-forth is not, and the last frame is kept.
  const Image shake_older = view(4);
  const Image shake_plain = model->extrapolate(nullptr, view(0), view(4));
  const Image shake = model->extrapolate(&shake_older, view(0), view(4));
  const double plain_last = psnr_rgb(shake_plain, view(4));
  const double shake_last = psnr_rgb(shake, view(4));
  EXPECT_GT(psnr_rgb(shake_plain, view(8)), plain_last);
  EXPECT_GT(shake_last, plain_last + 3.0);
  EXPECT_GT(shake_last, psnr_rgb(shake, view(8)));
  std::printf("pan: %.2f dB from the plain prediction, %.2f to +8 (copy-last %.2f); shake: %.2f / %.2f to +4\n",
              psnr_rgb(pan_steady, pan_plain), psnr_rgb(pan_steady, view(8)), copy_pan, shake_last, plain_last);
}

// Where nothing changed between the inputs, the prediction is the inputs' own
// pixels, byte for byte (static backgrounds of compressed video are identical from
// frame to frame); where something moved, the network's.
TEST(Prediction, UnchangedPixelsAreKeptExactly) {
  const Image scene = test_image(160, 96);
  // A 24x24 textured block (a patch of the scene from elsewhere) moves 4 px per
  // frame over the still scene, in the left half only.
  auto frame = [&](int k) {
    Image f = scene;
    for (int y = 0; y < 24; ++y) {
      std::memcpy(f.row(36 + y) + (10 + 4 * k) * 3, scene.row(60 + y) + 120 * 3, 24 * 3);
    }
    return f;
  };
  PredictorOptions o;
  o.threads = 2;
  auto model = make_image_predictor(o);
  auto right_half_equal = [](const Image& a, const Image& b) {
    for (int y = 0; y < a.height; ++y) {
      if (std::memcmp(a.row(y) + 100 * 3, b.row(y) + 100 * 3, static_cast<std::size_t>(a.width - 100) * 3) != 0) {
        return false;
      }
    }
    return true;
  };
  const Image a = frame(0);
  const Image b = frame(2);
  const Image mid = model->interpolate(a, b, 0.5);
  const Image next = model->extrapolate(nullptr, frame(1), frame(2));
  EXPECT_TRUE(right_half_equal(mid, a));
  EXPECT_TRUE(right_half_equal(next, frame(2)));
  // Where the block moves, the network's output, not an input's pixels.
  auto left_differs = [](const Image& x, const Image& y) {
    int rows = 0;
    for (int r = 36; r < 60; ++r) {
      rows += std::memcmp(x.row(r), y.row(r), 60 * 3) != 0 ? 1 : 0;
    }
    return rows;
  };
  EXPECT_EQ(left_differs(mid, a), 24);
  EXPECT_EQ(left_differs(mid, b), 24);
  EXPECT_EQ(left_differs(next, frame(2)), 24);
  // Identical inputs: the input itself.
  EXPECT_EQ(model->interpolate(a, a, 0.3).data, a.data);
  EXPECT_EQ(model->extrapolate(&a, a, a).data, a.data);
}

// model "global": the camera's motion alone, no network. A steady pan is
// interpolated and continued; a shaking camera's last jolt is not carried on.
TEST(Prediction, GlobalMotionAloneFollowsAPan) {
  const Image scene = test_image(300, 160);
  auto view = [&](int dx) { return window(scene, 20 + dx, 0, 240, 160); };  // the camera 20 + dx px into the scene
  PredictorOptions o;
  o.model = "global";
  o.threads = 2;
  auto model = make_image_predictor(o);
  const double blend_mid = psnr_rgb(view(4), make_image_predictor(PredictorOptions{"blend"})->interpolate(view(0), view(8), 0.5));
  const double mid = psnr_rgb(model->interpolate(view(0), view(8), 0.5), view(4));
  EXPECT_GT(mid, blend_mid + 6.0) << "blend " << blend_mid;
  const Image older = view(-4);
  const double copy = psnr_rgb(view(4), view(8));
  const double next = psnr_rgb(model->extrapolate(&older, view(0), view(4)), view(8));
  EXPECT_GT(next, copy + 6.0) << "copy-last " << copy;
  // Shake: +4, 0, +4: the last frame is kept, not moved on to +8.
  const Image shake_older = view(4);
  const Image shake = model->extrapolate(&shake_older, view(0), view(4));
  EXPECT_GT(psnr_rgb(shake, view(4)), psnr_rgb(shake, view(8)) + 6.0);
  std::printf("global: middle %.2f dB (blend %.2f), next %.2f dB (copy-last %.2f)\n", mid, blend_mid, next, copy);
  o.device = "cuda";
  EXPECT_THROW(make_image_predictor(o), Error);
}

// The ensemble of both time directions: the same frame whichever way round the
// inputs come (t and 1 - t swapped with them), not the one-direction prediction
// (else the option would do nothing), and still close to it; with quality best,
// symmetric under mirroring too; refused for the classical models and for
// extrapolation-only use.
TEST(Prediction, EnsembleIsSymmetricInTimeAndBestInSpace) {
  const Image scene = test_image(200, 120);
  auto view = [&](int dx) { return window(scene, 20 + dx, 10, 160, 96); };  // moving right by dx
  PredictorOptions o;
  o.threads = 2;
  auto single = make_image_predictor(o);
  o.ensemble = true;
  auto both = make_image_predictor(o);
  const Image a = view(0);
  const Image b = view(7);
  const Image forward = both->interpolate(a, b, 0.3);
  const Image backward = both->interpolate(b, a, 0.7);
  int most = 0;
  for (std::size_t i = 0; i < forward.data.size(); ++i) {
    most = std::max(most, std::abs(forward.data[i] - backward.data[i]));
  }
  EXPECT_LE(most, 1);  // the batch's two halves in the other order: float rounding only
  const Image one = single->interpolate(a, b, 0.3);
  EXPECT_NE(forward.data, one.data);
  EXPECT_GT(psnr_rgb(forward, one), 30.0);
  // quality best also averages the mirrored inputs' predictions: the same frame
  // for mirrored inputs, mirrored.
  o.quality = "best";
  auto best = make_image_predictor(o);
  const auto mirror = [](const Image& img) {
    Image m(img.width, img.height, img.channels);
    for (int y = 0; y < img.height; ++y) {
      for (int x = 0; x < img.width; ++x) {
        for (int c = 0; c < img.channels; ++c) {
          m.data[(static_cast<std::size_t>(y) * img.width + x) * img.channels + c] =
              img.data[(static_cast<std::size_t>(y) * img.width + (img.width - 1 - x)) * img.channels + c];
        }
      }
    }
    return m;
  };
  const Image straight = best->interpolate(a, b, 0.3);
  const Image mirrored = mirror(best->interpolate(mirror(a), mirror(b), 0.3));
  most = 0;
  for (std::size_t i = 0; i < straight.data.size(); ++i) {
    most = std::max(most, std::abs(straight.data[i] - mirrored.data[i]));
  }
  EXPECT_LE(most, 1);
  EXPECT_NE(straight.data, forward.data);
  EXPECT_GT(psnr_rgb(straight, forward), 30.0);
  for (const char* classical : {"blend", "repeat"}) {
    PredictorOptions c;
    c.model = classical;
    c.ensemble = true;
    EXPECT_THROW(make_image_predictor(c), Error) << classical;
    EXPECT_THROW(make_frame_predictor(c), Error) << classical;
  }
}

// SrNet's inference path adds the pixel-shuffled residual into the bicubic base in
// one pass; training keeps the tensor expression. Same values, every scale, batch > 1.
TEST(SrNet, FusedInferenceMatchesTheTrainingPath) {
  torch::manual_seed(3);
  for (int scale : {2, 3, 4}) {
    models::SrNet net(models::builtin_config("fast", scale));
    const torch::Tensor y = torch::rand({2, 1, 19, 23});
    const torch::Tensor train = net->forward(y).detach();
    torch::Tensor fused;
    {
      torch::NoGradGuard no_grad;
      fused = net->forward(y);
    }
    ASSERT_EQ(fused.sizes(), train.sizes()) << scale;
    EXPECT_LT((fused - train).abs().max().item<float>(), 1e-6F) << scale;
  }
}

// bfloat16 convolutions (--precision bf16, the default where the CPU multiplies
// bfloat16 natively): a different computation (else the option would do nothing),
// but the same frames to within rounding, and as close to the truth as fp32.
TEST(Prediction, Bf16StaysCloseToFloat) {
  if (!models::cpu_has_native_bf16()) {
    GTEST_SKIP() << "this CPU has no AVX512_BF16";
  }
  // Five frames of the sample clip (a night city pan), a 320x192 window of each.
  const std::vector<Image> clip = load_rgb_frames(FRAMEGEN_SAMPLE_PATH, 5);
  ASSERT_EQ(clip.size(), 5U);
  auto frame = [&](int i) { return window(clip[static_cast<std::size_t>(i)], 160, 84, 320, 192); };
  PredictorOptions o;
  o.threads = 2;
  o.precision = "fp32";
  auto fp32 = make_image_predictor(o);
  o.precision = "bf16";
  auto bf16 = make_image_predictor(o);
  EXPECT_EQ(resolved_precision(o), "bf16");
  o.precision = "auto";
  EXPECT_EQ(resolved_precision(o), models::cpu_prefers_bf16() ? "bf16" : "fp32");
  const Image a = frame(1);
  const Image b = frame(3);
  const Image truth = frame(2);
  const Image f = fp32->interpolate(a, b, 0.5);
  const Image g = bf16->interpolate(a, b, 0.5);
  EXPECT_NE(f.data, g.data);
  EXPECT_GT(psnr_rgb(f, g), 40.0);
  EXPECT_NEAR(psnr_rgb(f, truth), psnr_rgb(g, truth), 0.1);
  const Image older = frame(0);
  const Image p = frame(2);
  const Image fe = fp32->extrapolate(&older, frame(1), p);
  const Image ge = bf16->extrapolate(&older, frame(1), p);
  EXPECT_NE(fe.data, ge.data);
  EXPECT_GT(psnr_rgb(fe, ge), 40.0);
  EXPECT_NEAR(psnr_rgb(fe, frame(3)), psnr_rgb(ge, frame(3)), 0.1);
  std::printf("interp fp32 %.3f dB, bf16 %.3f dB (%.1f dB apart); extrap fp32 %.3f, bf16 %.3f\n", psnr_rgb(f, truth),
              psnr_rgb(g, truth), psnr_rgb(f, g), psnr_rgb(fe, frame(3)), psnr_rgb(ge, frame(3)));
}

// --precision is checked, not ignored: unknown values, precision for a model without
// a network, bf16 on a GPU (or on a CPU without it).
TEST(Prediction, PrecisionIsCheckedNotIgnored) {
  PredictorOptions o;
  o.precision = "fp16";
  EXPECT_THROW(make_image_predictor(o), Error);
  o.precision = "fp32";
  EXPECT_EQ(resolved_precision(o), "fp32");
  o.model = "gan-l1";
  EXPECT_EQ(resolved_precision(o), "fp32");
  for (const char* classical : {"blend", "repeat", "global"}) {
    PredictorOptions c;
    c.model = classical;
    EXPECT_EQ(resolved_precision(c), "") << classical;
    c.precision = "fp32";
    EXPECT_THROW(make_image_predictor(c), Error) << classical;
    EXPECT_THROW(make_frame_predictor(c), Error) << classical;
  }
  o.model = "gan";
  o.device = "cuda";
  o.precision = "bf16";
  EXPECT_THROW(resolved_precision(o), Error);
  o.precision = "auto";
  EXPECT_EQ(resolved_precision(o), "fp32");
  o.device = "cpu";
  o.precision = "bf16";
  if (models::cpu_has_native_bf16()) {
    EXPECT_EQ(resolved_precision(o), "bf16");
  } else {
    EXPECT_THROW(resolved_precision(o), Error);
    o.precision = "auto";
    EXPECT_EQ(resolved_precision(o), "fp32");
  }
}

// The upscalers in bfloat16 (--precision; the default where native): not the fp32
// computation, but the same image to within rounding. Classical models and
// TorchScript files take no precision.
TEST_F(ModelsTest, SuperResolutionBf16StaysCloseToFloat) {
  SrOptions o;
  o.precision = "fp16";
  EXPECT_THROW(SuperResolution{o}, Error);
  o.model = "bicubic";
  o.precision = "fp32";
  EXPECT_THROW(SuperResolution{o}, Error);
  o.precision = "auto";
  EXPECT_EQ(SuperResolution(o).precision(), "");
  if (!models::cpu_has_native_bf16()) {
    GTEST_SKIP() << "this CPU has no AVX512_BF16";
  }
  const std::vector<Image> clip = load_rgb_frames(FRAMEGEN_SAMPLE_PATH, 1);
  ASSERT_EQ(clip.size(), 1U);
  const Image lr = window(clip[0], 100, 60, 240, 160);
  for (const char* model : {"fast", "quality"}) {
    o.model = model;
    o.scale = 3;
    o.threads = 2;
    o.precision = "fp32";
    SuperResolution fp32(o);
    EXPECT_EQ(fp32.precision(), "fp32");
    o.precision = "bf16";
    SuperResolution bf16(o);
    EXPECT_EQ(bf16.precision(), "bf16");
    o.precision = "auto";
    EXPECT_EQ(SuperResolution(o).precision(), models::cpu_prefers_bf16() ? "bf16" : "fp32");
    const Image f = fp32.upscale(lr);
    const Image g = bf16.upscale(lr);
    EXPECT_NE(f.data, g.data) << model;
    EXPECT_GT(psnr_rgb(f, g), 45.0) << model;
    std::printf("%s x3: fp32 and bf16 %.1f dB apart\n", model, psnr_rgb(f, g));
  }
}

// The image predictors see RGB; frames with alpha keep it: the synthesised frame's
// alpha is its neighbours' blended at t (the last frame's when extrapolating), in a
// packed (rgba) and a planar (yuva420p) format. They came out opaque, between input
// frames that kept theirs.
TEST(Prediction, AlphaIsBlendedNotDropped) {
  for (const AVPixelFormat fmt : {AV_PIX_FMT_RGBA, AV_PIX_FMT_YUVA420P}) {
    FramePool pool(32, 24, fmt);
    auto make = [&](int alpha, int shade) {
      Frame f = pool.acquire(AVRational{1, 25});
      const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
      for (int p = 0; p < 4 && f.av()->data[p] != nullptr; ++p) {
        const int rows = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(24, d->log2_chroma_h) : 24;
        std::memset(f.av()->data[p], p == 3 ? alpha : shade, static_cast<std::size_t>(f.av()->linesize[p]) * rows);
      }
      if (fmt == AV_PIX_FMT_RGBA) {  // packed: every 4th byte is alpha
        for (int y = 0; y < 24; ++y) {
          for (int x = 0; x < 32; ++x) {
            f.av()->data[0][y * f.av()->linesize[0] + 4 * x + 3] = static_cast<uint8_t>(alpha);
          }
        }
      }
      return f;
    };
    auto alpha_at = [fmt](const Frame& f, int x, int y) {
      return fmt == AV_PIX_FMT_RGBA ? f.av()->data[0][y * f.av()->linesize[0] + 4 * x + 3]
                                    : f.av()->data[3][y * f.av()->linesize[3] + x];
    };
    PredictorOptions o;
    o.model = "global";
    auto model = make_frame_predictor(o);
    const Frame a = make(100, 90);
    const Frame b = make(200, 110);
    const Frame mid = model->interpolate(a, b, 0.5);
    const Frame next = model->extrapolate(Frame(), a, b);
    ASSERT_EQ(mid.format(), fmt);
    for (const auto& [x, y] : {std::pair{0, 0}, std::pair{17, 9}, std::pair{31, 23}}) {
      EXPECT_EQ(alpha_at(mid, x, y), 150) << av_get_pix_fmt_name(fmt) << " " << x << "," << y;
      EXPECT_EQ(alpha_at(next, x, y), 200) << av_get_pix_fmt_name(fmt) << " " << x << "," << y;
    }
  }
}

// YUV -> RGB -> YUV is not exact (chroma resampled twice, colours outside the
// RGB cube clipped): where a prediction is an input's own RGB, the frame gets that
// input's samples back, so a still picture, or the still part of one, is
// synthesised bit-exact. The chroma here jumps between extremes every pixel
// or so, which the round trip alone changes by tens of code values.
TEST(Prediction, StillPartsOfYuvFramesComeBackBitExact) {
  constexpr int kW = 160;
  constexpr int kH = 96;
  for (const AVPixelFormat fmt : {AV_PIX_FMT_YUV420P, AV_PIX_FMT_NV12, AV_PIX_FMT_YUV444P}) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
    FramePool pool(kW, kH, fmt);
    // moved: a 16x16 block on the left, 3 px to the right per step.
    auto make = [&](int moved) {
      Frame f = pool.acquire(AVRational{1, 25});
      for (int c = 0; c < 3; ++c) {
        const AVComponentDescriptor& comp = d->comp[c];
        const int sw = c == 0 ? 0 : d->log2_chroma_w;
        const int sh = c == 0 ? 0 : d->log2_chroma_h;
        for (int y = 0; y < AV_CEIL_RSHIFT(kH, sh); ++y) {
          for (int x = 0; x < AV_CEIL_RSHIFT(kW, sw); ++x) {
            const int lx = x << sw;
            const int ly = y << sh;
            // Texture without a period (a hash of the position), so that no motion but
            // zero lines the still part up.
            const unsigned hash = (static_cast<unsigned>(lx) * 73856093U) ^ (static_cast<unsigned>(ly) * 19349663U) ^
                                  (static_cast<unsigned>(c) * 83492791U);
            int v = c == 0 ? 40 + static_cast<int>(hash % 180U) : ((hash >> 7) % 2U != 0 ? 16 : 240);
            if (lx >= 8 + 3 * moved && lx < 24 + 3 * moved && ly >= 20 && ly < 36) {
              v = c == 0 ? 60 + (lx * 11) % 150 : 128;
            }
            f.av()->data[comp.plane][y * f.av()->linesize[comp.plane] + x * comp.step + comp.offset] =
                static_cast<uint8_t>(v);
          }
        }
      }
      return f;
    };
    auto differing = [&](const Frame& x, const Frame& y, int from_x) {
      int n = 0;
      for (int c = 0; c < 3; ++c) {
        const AVComponentDescriptor& comp = d->comp[c];
        const int sw = c == 0 ? 0 : d->log2_chroma_w;
        const int sh = c == 0 ? 0 : d->log2_chroma_h;
        for (int r = 0; r < AV_CEIL_RSHIFT(kH, sh); ++r) {
          for (int q = from_x >> sw; q < AV_CEIL_RSHIFT(kW, sw); ++q) {
            const std::ptrdiff_t ox = r * x.av()->linesize[comp.plane] + q * comp.step + comp.offset;
            const std::ptrdiff_t oy = r * y.av()->linesize[comp.plane] + q * comp.step + comp.offset;
            n += x.av()->data[comp.plane][ox] != y.av()->data[comp.plane][oy] ? 1 : 0;
          }
        }
      }
      return n;
    };
    PredictorOptions o;
    o.threads = 2;
    auto model = make_frame_predictor(o);
    const Frame a = make(0);
    const Frame b = make(2);
    const std::string name = av_get_pix_fmt_name(fmt);
    // Identical inputs: the input itself.
    EXPECT_EQ(differing(model->interpolate(a, a, 0.5), a, 0), 0) << name;
    EXPECT_EQ(differing(model->extrapolate(a, a, a), a, 0), 0) << name;
    // A block moves on the left: the right part is still and stays exact;
    // where the block moves, the network's frame, not an input's samples.
    const Frame mid = model->interpolate(a, b, 0.5);
    EXPECT_EQ(differing(mid, a, 100), 0) << name;
    EXPECT_GT(differing(mid, a, 0), 0) << name;
    EXPECT_GT(differing(mid, b, 0), 0) << name;
    const Frame next = model->extrapolate(a, make(1), b);
    EXPECT_EQ(differing(next, b, 100), 0) << name;
  }
}

// The fused inference loop of the cost volume gives the values of the tensor
// expression that training differentiates, and zero cost at the true shift.
// predict_global's fused full-resolution warp gives what its tensor expressions
// give (interpolation, extrapolation with and without the older frame), on a size
// that is padded and cropped back; and it moves the picture (not a copy of an input).
TEST(GlobalWarp, FusedLoopMatchesTheTensorPath) {
  torch::manual_seed(5);
  // A smooth scene, three views panning ~3 px right and 1 down per frame.
  const torch::Tensor scene = torch::nn::functional::interpolate(
      torch::rand({1, 3, 24, 30}), torch::nn::functional::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{96, 120})
                                       .mode(torch::kBilinear)
                                       .align_corners(false));
  auto view = [&](int k) { return scene.slice(2, 10 + k, 80 + k).slice(3, 10 + 3 * k, 100 + 3 * k).contiguous(); };
  const torch::Tensor older = view(0);
  const torch::Tensor i0 = view(1);
  const torch::Tensor i1 = view(2);
  for (const double t : {0.5, 0.25, 2.0}) {
    for (const bool with_older : {false, true}) {
      if (t < 1.0 && with_older) {
        continue;
      }
      const torch::Tensor tt = torch::full({1}, t);
      const torch::Tensor o = with_older ? older : torch::Tensor();
      const torch::Tensor fused = models::predict_global(i0, i1, tt, o, /*allow_fused=*/true);
      const torch::Tensor ops = models::predict_global(i0, i1, tt, o, /*allow_fused=*/false);
      ASSERT_EQ(fused.sizes(), ops.sizes());
      EXPECT_LT((fused - ops).abs().max().item<double>(), 1e-4) << "t " << t << " older " << with_older;
      EXPECT_GT((fused - (t < 1.0 ? i0 : i1)).abs().mean().item<double>(), 1e-3) << "t " << t;
    }
  }
}

TEST(CostVolume, FusedLoopMatchesTensorOps) {
  torch::manual_seed(3);
  for (int r : {2, 3}) {
    const torch::Tensor a = torch::rand({2, 3, 13, 17});
    // b(x) = a(x + (dx 2, dy -1)): zero cost in channel (dy + r) (2r + 1) + (dx + r) away from the borders.
    const torch::Tensor b = torch::roll(a, {1, -2}, {2, 3});
    torch::Tensor fused;
    {
      torch::NoGradGuard no_grad;
      fused = models::cost_volume(a, b, r);
    }
    const torch::Tensor ops = models::cost_volume(a.clone().requires_grad_(true), b, r).detach();
    ASSERT_EQ(fused.sizes(), ops.sizes());
    EXPECT_LT((fused - ops).abs().max().item<double>(), 1e-5) << "r " << r;
    const int64_t k = (-1 + r) * (2 * r + 1) + (2 + r);
    EXPECT_LT(fused.select(1, k).slice(1, 1, 12).slice(2, 0, 15).abs().max().item<double>(), 1e-6);
    EXPECT_GT(fused.select(1, k + 1).mean().item<double>(), 0.1);
  }
}

// The test-time flow search finds the motion the flows miss, by whole pixels, for
// interpolation (t = 1/2) and for the motion between the inputs (t = 1), with both
// search ranges; its coarse-to-fine chain finds a motion beyond the near range; it
// leaves alone what already matches; its fused loops agree with the tensor
// operations.
TEST(FlowSearch, FindsTheMissedMotionAndLeavesMatchesAlone) {
  torch::manual_seed(7);
  namespace F = torch::nn::functional;
  // Smooth random texture (a blurred upsampled noise image), h x w.
  auto texture = [](int64_t h, int64_t w) {
    return F::interpolate(torch::rand({1, 3, h / 4, w / 4}),
                          F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBicubic).align_corners(false));
  };
  // I1 is I0 moved by (mx, my): b(x, y) = a(x - mx, y - my). The flows are found
  // from zero in the interior (clear of the borders, where torch::roll wraps, by the
  // motion and the 1/4 level's window: 14 pixels of the 1/2 level, and a margin),
  // and flows that are already right get no correction: at t the target sees I0
  // t (mx, my) back and I1 (1 - t) (mx, my) on.
  struct Case {
    int64_t h, w, mx, my;
  };
  for (const Case& c : {Case{64, 80, 3, -2}, Case{96, 128, 9, -6}}) {
    const torch::Tensor a = texture(c.h, c.w);
    const torch::Tensor b = torch::roll(a, {c.my, c.mx}, {2, 3});
    const torch::Tensor zero = torch::zeros({1, 4, c.h, c.w});
    const int64_t m = std::max(std::abs(c.mx), std::abs(c.my)) + 16;
    auto interior = [&](const torch::Tensor& d) { return d.slice(2, m, c.h - m).slice(3, m, c.w - m); };
    for (const models::FlowSearchRange& range : {models::kInterpolationSearch, models::kExtrapolationSearch}) {
      for (double t : {0.5, 1.0}) {
        const std::string what = "motion (" + std::to_string(c.mx) + ", " + std::to_string(c.my) + "), near " +
                                 std::to_string(range.near) + ", t " + std::to_string(t);
        const torch::Tensor tt = torch::tensor({t});
        const torch::Tensor d = models::flow_search(a, b, zero, tt, range);
        ASSERT_EQ(d.sizes(), (std::vector<int64_t>{1, 2, c.h, c.w}));
        EXPECT_TRUE(interior(d).select(1, 0).eq(static_cast<double>(c.mx)).all().item<bool>()) << what;
        EXPECT_TRUE(interior(d).select(1, 1).eq(static_cast<double>(c.my)).all().item<bool>()) << what;
        const auto mx = static_cast<double>(c.mx);
        const auto my = static_cast<double>(c.my);
        const torch::Tensor right = torch::tensor({-mx * t, -my * t, mx * (1 - t), my * (1 - t)}, torch::kFloat)
                                        .view({1, 4, 1, 1})
                                        .expand({1, 4, c.h, c.w})
                                        .contiguous();
        EXPECT_EQ(interior(models::flow_search(a, b, right, tt, range)).abs().max().item<double>(), 0.0) << what;
      }
    }
  }
  // Fused loops and tensor operations: the same choice (ties aside) on noise, with
  // flows that vary and reach the borders, in a batch, on an odd size (the 1/4
  // level rounds down).
  for (const models::FlowSearchRange& range : {models::kInterpolationSearch, models::kExtrapolationSearch}) {
    for (double t : {0.5, 1.0}) {
      const torch::Tensor na = torch::rand({2, 3, 23, 31});
      const torch::Tensor nb = torch::rand({2, 3, 23, 31});
      const torch::Tensor flow = torch::randn({2, 4, 23, 31}) * 3.0;
      const torch::Tensor times = torch::tensor({t, t * 0.6});
      const torch::Tensor fused = models::flow_search(na, nb, flow, times, range);
      const torch::Tensor ops = models::flow_search(na, nb, flow, times, range, /*allow_fused=*/false);
      const double agree = fused.eq(ops).to(torch::kFloat).mean().item<double>();
      EXPECT_GT(agree, 0.999) << "near " << range.near << " t " << t;
      EXPECT_GT(ops.abs().gt(0).to(torch::kFloat).mean().item<double>(), 0.1) << "near " << range.near << " t " << t;
    }
  }
}

// The choice among whole flow fields: a still background that was given the
// motion of the object beside it gets zero motion back; a part of the object that
// was given none gets the object's motion from around it; what is right stays; the
// fused loops agree with the tensor operations.
TEST(SelectFlows, StillBackgroundAndMissedPartsOfAnObject) {
  torch::manual_seed(13);
  namespace F = torch::nn::functional;
  auto texture = [](int64_t h, int64_t w) {
    return F::interpolate(
        torch::rand({1, 3, h / 4, w / 4}),
        F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBicubic).align_corners(false));
  };
  const int64_t h = 96;
  const int64_t w = 128;
  // A 40x40 textured square over a still textured background moves 8 pixels right:
  // at t = 1/2 it sits at columns 34-73, where the target sees I0 4 pixels left
  // and I1 4 pixels right.
  const torch::Tensor background = texture(h, w);
  const torch::Tensor square = texture(40, 40);
  torch::Tensor i0 = background.clone();
  torch::Tensor i1 = background.clone();
  i0.slice(2, 30, 70).slice(3, 30, 70).copy_(square);
  i1.slice(2, 30, 70).slice(3, 38, 78).copy_(square);
  const torch::Tensor moving = torch::tensor({-4.0F, 0.0F, 4.0F, 0.0F}).view({1, 4, 1, 1});
  torch::Tensor flow = torch::zeros({1, 4, h, w});
  flow.slice(2, 30, 70).slice(3, 34, 74).copy_(moving.expand({1, 4, 40, 40}));
  const torch::Tensor right = flow.clone();
  // Wrong: a band of background with the square's motion, a patch of the square without it.
  flow.slice(2, 20, 80).slice(3, 84, 112).copy_(moving.expand({1, 4, 60, 28}));
  flow.slice(2, 44, 56).slice(3, 46, 62).zero_();
  for (bool fused : {true, false}) {
    const std::string what = fused ? "fused" : "tensor operations";
    const torch::Tensor out = models::select_flows(i0, i1, flow, fused);
    ASSERT_EQ(out.sizes(), flow.sizes());
    EXPECT_EQ(out.slice(2, 28, 72).slice(3, 92, 104).abs().max().item<double>(), 0.0) << what;
    EXPECT_LT((out - right).slice(2, 44, 56).slice(3, 46, 62).abs().max().item<double>(), 1e-6) << what;
    EXPECT_LT((out - right).slice(2, 34, 66).slice(3, 38, 70).abs().max().item<double>(), 1e-6) << what;
    EXPECT_EQ(out.slice(2, 0, 16).abs().max().item<double>(), 0.0) << what;
  }
  // Fused loops and tensor operations on noise, with flows that vary and reach the
  // borders, in a batch, on an odd size: the same flows (near ties aside).
  const torch::Tensor na = torch::rand({2, 3, 37, 45});
  const torch::Tensor nb = torch::rand({2, 3, 37, 45});
  const torch::Tensor noisy = torch::randn({2, 4, 37, 45}) * 3.0;
  const torch::Tensor fused = models::select_flows(na, nb, noisy);
  const torch::Tensor ops = models::select_flows(na, nb, noisy, /*allow_fused=*/false);
  EXPECT_GT((fused - ops).abs().lt(1e-5).to(torch::kFloat).mean().item<double>(), 0.99);
  EXPECT_GT((ops - noisy).abs().gt(0).to(torch::kFloat).mean().item<double>(), 0.1);
}

namespace {
// Random colours on a ch x cw grid, bicubic-upsampled to h x w: a smooth texture
// whose detail is h / ch pixels across.
torch::Tensor smooth_texture(int64_t h, int64_t w, int64_t ch, int64_t cw) {
  namespace F = torch::nn::functional;
  return F::interpolate(
      torch::rand({1, 3, ch, cw}),
      F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBicubic).align_corners(false));
}

// A smooth object of little texture (48 x 80) with its left edge at column x0 over a
// still smooth background, [1, 3, 128, 192]: the network's own pyramid misses the
// object's long motions.
struct CrossingScene {
  torch::Tensor background;
  torch::Tensor object;
  CrossingScene() {
    torch::manual_seed(17);
    background = smooth_texture(128, 192, 4, 6) * 0.4 + 0.3;
    object = smooth_texture(48, 80, 2, 3);
  }
  [[nodiscard]] torch::Tensor at(int64_t x0) const {
    torch::Tensor f = background.clone();
    f.slice(2, 40, 88).slice(3, x0, x0 + 80).copy_(object);
    return f;
  }
  // The same as an 8-bit RGB image.
  [[nodiscard]] Image image_at(int64_t x0) const {
    const torch::Tensor u8 =
        at(x0)[0].mul(255.0).round().clamp(0, 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
    Image img(192, 128, 3);
    std::memcpy(img.data.data(), u8.data_ptr<uint8_t>(), img.data.size());
    return img;
  }
};
}  // namespace

// DIS flows between a texture and the same texture moved by (11, -6) pixels, turned
// into the flows of the time between: target -> a is -t m, target -> b is (1 - t) m;
// matched down to half resolution (the default) and to full resolution.
TEST(DisFlows, FindsALongTranslationAtAnyTime) {
  torch::manual_seed(19);
  const torch::Tensor scene = smooth_texture(120, 160, 15, 20);
  // b(x) = a(x - m): a's content moved by m = (11, -6).
  const torch::Tensor a = scene.slice(2, 10, 106).slice(3, 20, 148);
  const torch::Tensor b = scene.slice(2, 16, 112).slice(3, 9, 137);
  for (const int scale : {models::kDisDefaultFinestScale, 0}) {
    for (const double t : {0.5, 0.25}) {
      const torch::Tensor f = models::dis_flows(a, b, torch::tensor({t}), scale);
      ASSERT_EQ(f.sizes(), (std::vector<int64_t>{1, 4, 96, 128}));
      const torch::Tensor inner = f.slice(2, 24, 72).slice(3, 32, 96);
      const std::array<double, 4> want = {-t * 11, t * 6, (1 - t) * 11, -(1 - t) * 6};
      for (int c = 0; c < 4; ++c) {
        EXPECT_NEAR(inner[0][c].median().item<double>(), want[c], 0.25)
            << "scale " << scale << " t " << t << " channel " << c;
      }
    }
  }
  EXPECT_THROW(models::dis_flows(a, b, torch::tensor({0.5}), -1), std::invalid_argument);
}

// The ensemble's batch, (a, b, t) and (b, a, 1 - t), reuses the first item's DIS
// flows swapped for the second: the same flows as each item computed alone, and
// for t = 1/2 the second item's flows are the first's with the two halves swapped.
TEST(DisFlows, ReusesTheSwappedPairExactly) {
  torch::manual_seed(29);
  const torch::Tensor scene = smooth_texture(100, 140, 12, 16);
  const torch::Tensor a = scene.slice(2, 0, 88).slice(3, 0, 120);
  const torch::Tensor b = scene.slice(2, 9, 97).slice(3, 14, 134);
  const torch::Tensor batch =
      models::dis_flows(torch::cat({a, b, a}), torch::cat({b, a, a}), torch::tensor({0.3, 0.7, 0.5}));
  EXPECT_TRUE(torch::equal(batch[0], models::dis_flows(a, b, torch::tensor({0.3}))[0]));
  EXPECT_TRUE(torch::equal(batch[1], models::dis_flows(b, a, torch::tensor({0.7}))[0]));
  EXPECT_TRUE(torch::equal(batch[2], models::dis_flows(a, a, torch::tensor({0.5}))[0]));  // (a, a): not a's pair
  const torch::Tensor half = models::dis_flows(torch::cat({a, b}), torch::cat({b, a}), torch::tensor({0.5, 0.5}));
  EXPECT_TRUE(torch::equal(half[1], torch::cat({half[0].slice(0, 2, 4), half[0].slice(0, 0, 2)})));
}

// A whole candidate field wins where it matches the inputs and the flows do not,
// and nowhere when the flows already match or the margin is out of reach.
TEST(CandidateWins, TakesTheFieldWhereItMatches) {
  torch::manual_seed(23);
  const torch::Tensor scene = smooth_texture(96, 128, 24, 32);
  const torch::Tensor a = scene.slice(2, 8, 88).slice(3, 0, 112);
  const torch::Tensor b = scene.slice(2, 8, 88).slice(3, 16, 128);  // a moved 16 pixels left
  const torch::Tensor right = torch::tensor({8.0F, 0.0F, -8.0F, 0.0F}).view({1, 4, 1, 1}).expand({1, 4, 80, 112});
  const torch::Tensor zero = torch::zeros({1, 4, 80, 112});
  const auto share = [](const torch::Tensor& take) { return take.to(torch::kFloat).mean().item<double>(); };
  EXPECT_GT(share(models::candidate_wins(a, b, zero, right, 0.003F)), 0.95);
  EXPECT_LT(share(models::candidate_wins(a, b, right, zero, 0.003F)), 0.02);  // borders: the shift leaves the image
  EXPECT_EQ(share(models::candidate_wins(a, b, zero, right, 1.0F)), 0.0);
  EXPECT_EQ(share(models::candidate_wins(a, b, right, right + 0.1, 0.0F)), 0.0);  // a quarter pixel at least
}

// Interpolation with the shipped weights: a smooth object of little texture crosses
// 40 pixels of a still background between the inputs. The network's own pyramid
// does not find that motion; with the DIS prior the middle frame puts the object
// where it is.
TEST(FrameGenerator, DisPriorFindsALongMotionOfLittleTexture) {
  models::FrameGenerator g;
  torch::load(g, std::string(FRAMEGEN_WEIGHTS_DIR) + "/interp.pt");
  g->eval();
  ASSERT_TRUE(g->dis_prior());  // on by default
  const CrossingScene scene;
  const torch::Tensor i0 = scene.at(36);
  const torch::Tensor i1 = scene.at(76);
  const torch::Tensor truth = scene.at(56);
  std::array<double, 2> psnr{};
  for (const bool prior : {false, true}) {
    g->set_dis_prior(prior);
    c10::InferenceMode inference;
    const torch::Tensor out = g->forward(i0, i1, torch::tensor({0.5})).frame;
    psnr[prior ? 1 : 0] = 10.0 * std::log10(1.0 / (out - truth).square().mean().item<double>());
  }
  EXPECT_GT(psnr[1], 32.0) << "without the prior: " << psnr[0];
  EXPECT_GT(psnr[1], psnr[0] + 4.0);
  g->set_dis_finest_scale(0);
  EXPECT_EQ(g->dis_finest_scale(), 0);
  EXPECT_THROW(g->set_dis_finest_scale(-1), std::invalid_argument);
}

// PredictorOptions::quality on the same scene, as 8-bit images through
// make_image_predictor: fast (the network alone) misses the motion, normal and best
// (the DIS prior) find it; unknown values, and anything but normal for a model
// without a network, are refused.
TEST(Prediction, QualityChoosesTheDisPrior) {
  const CrossingScene scene;
  std::map<std::string, double> psnr;
  for (const char* quality : {"fast", "normal", "best"}) {
    PredictorOptions o;
    o.threads = 2;
    o.precision = "fp32";
    o.quality = quality;
    psnr[quality] =
        psnr_rgb(make_image_predictor(o)->interpolate(scene.image_at(36), scene.image_at(76), 0.5), scene.image_at(56));
  }
  EXPECT_GT(psnr["normal"], psnr["fast"] + 4.0) << psnr["fast"];
  EXPECT_GT(psnr["normal"], 32.0);
  EXPECT_GT(psnr["best"], 32.0);
  std::printf("quality fast %.2f, normal %.2f, best %.2f dB\n", psnr["fast"], psnr["normal"], psnr["best"]);
  PredictorOptions bad;
  bad.quality = "high";
  EXPECT_THROW(make_image_predictor(bad), Error);
  for (const char* model : {"blend", "repeat", "global"}) {
    PredictorOptions c;
    c.model = model;
    c.quality = "best";
    EXPECT_THROW(make_image_predictor(c), Error) << model;
    c.quality = "normal";
    EXPECT_NO_THROW(make_image_predictor(c)) << model;
  }
}

// The sub-pixel refinement finds a fractional motion from zero flows, at t = 1/2
// and t = 1, and its fused loops agree with the tensor operations.
TEST(RefineFlowLk, FindsASubPixelMotion) {
  torch::manual_seed(11);
  namespace F = torch::nn::functional;
  const int64_t h = 72;
  const int64_t w = 96;
  const torch::Tensor a =
      F::interpolate(torch::rand({1, 3, h / 6, w / 6}),
                     F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBicubic).align_corners(false));
  // b(x) = a(x - m): I0 moved by m = (0.6, -0.35).
  const double mx = 0.6;
  const double my = -0.35;
  const torch::Tensor m = torch::tensor({mx, my}, torch::kFloat).view({1, 2, 1, 1}).expand({1, 2, h, w});
  const torch::Tensor b = models::backward_warp(a, -m);
  const int64_t margin = 12;
  auto interior = [&](const torch::Tensor& f) { return f.slice(2, margin, h - margin).slice(3, margin, w - margin); };
  for (double t : {0.5, 1.0}) {
    const torch::Tensor right = torch::tensor({-mx * t, -my * t, mx * (1 - t), my * (1 - t)}, torch::kFloat)
                                    .view({1, 4, 1, 1})
                                    .expand({1, 4, h, w});
    const torch::Tensor zero = torch::zeros({1, 4, h, w});
    const torch::Tensor tt = torch::tensor({t});
    for (bool fused : {true, false}) {
      const torch::Tensor f = models::refine_flow_lk(a, b, zero, tt, 3, fused);
      ASSERT_EQ(f.sizes(), zero.sizes());
      const double before = interior(zero - right).abs().max().item<double>();
      const double after = interior(f - right).abs().mean().item<double>();
      EXPECT_GT(before, 0.25);
      EXPECT_LT(after, 0.03) << "t " << t << (fused ? " fused" : " tensor operations");
    }
    // Flows that are already right stay (within a hundredth of a pixel).
    EXPECT_LT(interior(models::refine_flow_lk(a, b, right.contiguous(), tt, 3) - right).abs().mean().item<double>(), 0.01);
  }
  // Fused and tensor operations on noise, with varied flows and times, in a batch,
  // on an odd size: the same flows (a pixel whose keep-or-not test is a near tie
  // aside).
  const torch::Tensor na = torch::rand({2, 3, 23, 31});
  const torch::Tensor nb = torch::rand({2, 3, 23, 31});
  const torch::Tensor flow = torch::randn({2, 4, 23, 31}) * 2.0;
  const torch::Tensor times = torch::tensor({0.5, 1.0});
  const torch::Tensor fused = models::refine_flow_lk(na, nb, flow, times, 2);
  const torch::Tensor ops = models::refine_flow_lk(na, nb, flow, times, 2, /*allow_fused=*/false);
  EXPECT_GT((fused - ops).abs().lt(1e-4).to(torch::kFloat).mean().item<double>(), 0.99);
  EXPECT_GT((ops - flow).abs().gt(1e-3).to(torch::kFloat).mean().item<double>(), 0.1);
  // As extrapolation calls it: t = 1 and b's flows zero (the fused loop then reads b
  // instead of sampling it). b stays put; a's flows agree.
  const torch::Tensor ones = torch::ones({2});
  const torch::Tensor still = torch::cat({flow.slice(1, 0, 2), torch::zeros({2, 2, 23, 31})}, 1);
  const torch::Tensor fused1 = models::refine_flow_lk(na, nb, still, ones, 2);
  const torch::Tensor ops1 = models::refine_flow_lk(na, nb, still, ones, 2, /*allow_fused=*/false);
  EXPECT_EQ(fused1.slice(1, 2, 4).abs().max().item<double>(), 0.0);
  EXPECT_GT((fused1 - ops1).abs().lt(1e-4).to(torch::kFloat).mean().item<double>(), 0.99);
  EXPECT_GT((ops1 - still).abs().gt(1e-3).to(torch::kFloat).mean().item<double>(), 0.1);
}

// Inference on the CPU (autograd off) takes fused loops and channels-last weights;
// it must give the frame of the tensor expression that training differentiates,
// for interpolation and extrapolation, on a size that needs padding, in a batch.
TEST(FrameGenerator, FusedCpuInferenceMatchesTheTrainingPath) {
  torch::manual_seed(5);
  models::FrameGenerator g;
  {
    // Perturb every weight so that flows, masks and residuals are far from their
    // initial "no motion" (large flows reach the borders: clamping is exercised).
    torch::NoGradGuard no_grad;
    for (auto& p : g->parameters()) {
      p.add_(torch::randn_like(p) * 0.05);
    }
  }
  g->eval();
  const torch::Tensor older = torch::rand({2, 3, 37, 50});
  const torch::Tensor a = (older * 0.7 + torch::rand({2, 3, 37, 50}) * 0.3);
  const torch::Tensor b = torch::roll(a, {2, -3}, {2, 3});
  struct Case {
    torch::Tensor t;
    torch::Tensor older;
  };
  // Both full-resolution warps (bilinear; bicubic, whose fused taps are clamped one
  // by one as grid_sample's are: the large flows reach past the borders).
  for (const bool cubic : {false, true}) {
    g->set_cubic_warp(cubic);
    for (const Case& c : {Case{torch::tensor({0.5, 0.3}), {}}, Case{torch::tensor({2.0, 2.0}), older}}) {
      const torch::Tensor reference = g->forward(a, b, c.t, c.older).frame.detach();
      torch::Tensor fused;
      {
        c10::InferenceMode inference;
        fused = g->forward(a, b, c.t, c.older).frame;
      }
      ASSERT_EQ(fused.sizes(), reference.sizes());
      EXPECT_GT(reference.std().item<double>(), 0.05);
      EXPECT_LT((fused - reference).abs().max().item<double>(), 1e-4)
          << "t " << c.t[0].item<double>() << " cubic " << cubic;
      // The residual matters: a path that dropped it would be this far off.
      EXPECT_GT((reference - (a + b) / 2).abs().mean().item<double>(), 0.01);
    }
  }
  {
    // The two warps differ (a flag that changed nothing would pass the above).
    c10::InferenceMode inference;
    const torch::Tensor t = torch::tensor({0.5, 0.3});
    const torch::Tensor cubic = g->forward(a, b, t).frame;
    g->set_cubic_warp(false);
    EXPECT_GT((cubic - g->forward(a, b, t).frame).abs().mean().item<double>(), 1e-3);
  }
  // Channels-last weights change nothing.
  const torch::Tensor t = torch::tensor({0.5, 0.3});
  torch::Tensor before;
  torch::Tensor after;
  {
    c10::InferenceMode inference;
    before = g->forward(a, b, t).frame;
    g->prepare_cpu_inference();
    after = g->forward(a, b, t).frame;
  }
  EXPECT_LT((after - before).abs().max().item<double>(), 1e-4);

  // Inputs that agree on their right half, with an untrained generator (its flows
  // are small): unchanged pixels are kept, by the fused pass as by the tensor path.
  models::FrameGenerator still;
  still->eval();
  const torch::Tensor b2 = torch::cat({b.slice(3, 0, 25), a.slice(3, 25, 50)}, 3);
  for (const Case& c : {Case{torch::tensor({0.5, 0.3}), {}}, Case{torch::tensor({2.0, 2.0}), older}}) {
    const torch::Tensor reference = still->forward(a, b2, c.t, c.older).frame.detach();
    torch::Tensor fused;
    {
      c10::InferenceMode inference;
      fused = still->forward(a, b2, c.t, c.older).frame;
    }
    EXPECT_LT((fused - reference).abs().max().item<double>(), 1e-4) << "t " << c.t[0].item<double>();
    // About half of those pixels have flows under half a pixel here, and are kept.
    const torch::Tensor kept = (fused.slice(3, 30, 50) - a.slice(3, 30, 50)).abs().lt(1e-6).to(torch::kFloat);
    EXPECT_GT(kept.mean().item<double>(), 0.2) << "t " << c.t[0].item<double>();
  }
}

TEST(FrameGenerator, TheWarpIsSavedWithTheWeights) {
  // Weights trained for the bicubic warp come back with it; files that do not say
  // (all before session 20, and the extrapolation weights) are bilinear.
  const std::string dir = testing::TempDir();
  models::FrameGenerator cubic;
  cubic->set_cubic_warp(true);
  torch::save(cubic, dir + "/cubic.pt");
  models::FrameGenerator loaded;
  torch::load(loaded, dir + "/cubic.pt");
  EXPECT_TRUE(loaded->cubic_warp());
  models::FrameGenerator bilinear;
  torch::save(bilinear, dir + "/bilinear.pt");
  torch::load(loaded, dir + "/bilinear.pt");
  EXPECT_FALSE(loaded->cubic_warp());
  // A file written by nn::Module::save alone (no flag at all).
  torch::serialize::OutputArchive plain;
  bilinear->torch::nn::Module::save(plain);
  plain.save_to(dir + "/plain.pt");
  loaded->set_cubic_warp(true);
  torch::load(loaded, dir + "/plain.pt");
  EXPECT_FALSE(loaded->cubic_warp());
  std::filesystem::remove(dir + "/cubic.pt");
  std::filesystem::remove(dir + "/bilinear.pt");
  std::filesystem::remove(dir + "/plain.pt");
}
TEST_F(ModelsTest, BuiltinModelsBeatBicubicOnAnImage) {
  const Image hr = modcrop(test_image(96, 80), 2);
  const Image lr = downscale_matlab(hr, 2);
  const Image bic = imresize_matlab(lr, hr.width, hr.height);
  for (const std::string model : {"fast", "quality"}) {
    SrOptions o;
    o.model = model;
    o.scale = 2;
    SuperResolution sr(o);
    EXPECT_EQ(sr.scale(), 2);
    const Image out = sr.upscale(lr);
    ASSERT_EQ(out.width, hr.width);
    ASSERT_EQ(out.height, hr.height);
    EXPECT_GT(psnr_y(out, hr, 2), psnr_y(bic, hr, 2)) << model;
  }
}

TEST_F(ModelsTest, TiledOutputEqualsWholeFrame) {
  const Image lr = test_image(70, 53);  // not a multiple of the tile
  for (const std::string model : {"fast", "quality"}) {
    SrOptions whole;
    whole.model = model;
    whole.scale = 2;
    SrOptions tiled = whole;
    tiled.tile = 24;
    SuperResolution a(whole);
    SuperResolution b(tiled);
    const Image x = a.upscale(lr);
    const Image y = b.upscale(lr);
    ASSERT_EQ(x.data.size(), y.data.size());
    int max_diff = 0;
    std::size_t differing = 0;
    for (std::size_t i = 0; i < x.data.size(); ++i) {
      const int d = std::abs(static_cast<int>(x.data[i]) - static_cast<int>(y.data[i]));
      max_diff = std::max(max_diff, d);
      differing += d != 0 ? 1 : 0;
    }
    // Equal up to float summation order: at most a rare 1-LSB rounding flip.
    EXPECT_LE(max_diff, 1) << model;
    EXPECT_LE(differing, x.data.size() / 2000) << model << ": " << differing << " values differ";
  }
}

TEST_F(ModelsTest, YuvFramePathKeepsFormatAndSize) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 3;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  const RunResult r =
      run_command({kCli, "upscale", in, "-o", path("out.mkv"), "--model", "fast", "--codec", "ffv1", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo v = decode_video(path("out.mkv"));
  EXPECT_EQ(v.width, 128);
  EXPECT_EQ(v.height, 96);
  EXPECT_EQ(v.pts_seconds.size(), 3u);
}

TEST_F(ModelsTest, StillImageInPngOut) {
  const std::string in = path("photo.png");
  write_png(in, test_image(60, 40));
  for (const std::string model : {"fast", "quality", "bicubic"}) {
    const std::string out = path("photo_" + model + ".png");
    const RunResult r = run_command({kCli, "upscale", in, "-o", out, "--model", model, "--scale", "2"});
    ASSERT_EQ(r.status, 0) << model << ": " << r.err;
    const auto frames = load_rgb_frames(out);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].width, 120);
    EXPECT_EQ(frames[0].height, 80);
  }
}

// A 1080p photograph x4 (a 7680x4320 RGB output) through the built-in network: the
// colour stage worked on whole-frame double-precision planes, ~150 bytes per output
// pixel (5.2 GB here, 20 GB for a 4K photograph); in bands of rows it stays under
// 1 GB (measured 0.9 GB) with the same pixels (Set5/Set14 scores unchanged).
TEST_F(ModelsTest, LargeRgbImageUpscalesInBoundedMemory) {
  const std::string in = path("hd.png");
  RunResult r = run_command({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                             "testsrc2=size=1920x1080", "-frames:v", "1", in});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_command({kCli, "upscale", in, "-o", path("hd4.png"), "--scale", "4", "--model", "fast"});
  ASSERT_EQ(r.status, 0) << r.err;
#if defined(__SANITIZE_ADDRESS__)
  const long limit_kb = 3'500'000L;  // ASan's shadow memory, redzones and quarantine on top
#else
  const long limit_kb = 2'000'000L;
#endif
  EXPECT_LT(r.peak_rss_kb, limit_kb);
  const auto frames = load_rgb_frames(path("hd4.png"));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].width, 7680);
  EXPECT_EQ(frames[0].height, 4320);
}

TEST_F(ModelsTest, TorchScriptModelThroughCli) {
  const std::string model = path("nearest_x2.pt");
  save_script(model,
              "def forward(self, x):\n"
              "    return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)\n");
  FixtureSpec spec;
  spec.width = 48;
  spec.height = 32;
  spec.frames = 4;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  const RunResult r = run_command(
      {kCli, "upscale", in, "-o", path("out.mkv"), "--model", model, "--scale", "2", "--tile", "20", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo v = decode_video(path("out.mkv"));
  EXPECT_EQ(v.width, 96);
  EXPECT_EQ(v.height, 64);
  EXPECT_EQ(v.pts_seconds.size(), 4u);

  // The scale is found by probing: asking for another one is a clear error.
  const RunResult wrong = run_command({kCli, "upscale", in, "-o", path("x4.mkv"), "--model", model, "--scale", "4"});
  EXPECT_EQ(wrong.status, 2);
  EXPECT_NE(wrong.err.find("upscales by 2"), std::string::npos) << wrong.err;
  EXPECT_FALSE(file_exists(path("x4.mkv")));
}

TEST_F(ModelsTest, TorchScriptPixelsMatchTheModel) {
  // A model that brightens and upscales: its output must come through exactly.
  const std::string model = path("bright.pt");
  save_script(model,
              "def forward(self, x):\n"
              "    y = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)\n"
              "    return torch.clamp(y * 0.5 + 0.25, 0.0, 1.0)\n");
  SrOptions o;
  o.model = model;
  o.scale = 2;
  SuperResolution sr(o);
  const Image lr = test_image(20, 10);
  const Image out = sr.upscale(lr);
  ASSERT_EQ(out.width, 40);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        const double v = lr.row(y / 2)[(x / 2) * 3 + c] / 255.0 * 0.5 + 0.25;
        ASSERT_NEAR(out.row(y)[x * 3 + c], std::round(v * 255.0), 1.0);
      }
    }
  }
}

TEST_F(ModelsTest, BadModelFilesAreClearErrors) {
  FixtureSpec spec;
  spec.width = 32;
  spec.height = 32;
  spec.frames = 2;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);

  // Wrong output shape: returns its input.
  const std::string same = path("identity.pt");
  save_script(same, "def forward(self, x):\n    return x\n");
  RunResult r = run_command({kCli, "upscale", in, "-o", path("o1.mkv"), "--model", same});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("identity.pt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("returned shape"), std::string::npos) << r.err;

  // Not TorchScript at all.
  const std::string text = path("notes.pt");
  std::ofstream(text) << "not a model";
  r = run_command({kCli, "upscale", in, "-o", path("o2.mkv"), "--model", text});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("notes.pt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a TorchScript"), std::string::npos) << r.err;

  // Missing.
  r = run_command({kCli, "upscale", in, "-o", path("o3.mkv"), "--model", path("missing.pt")});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("missing.pt"), std::string::npos) << r.err;

  // Unknown built-in name.
  r = run_command({kCli, "upscale", in, "-o", path("o4.mkv"), "--model", "sharpest"});
  EXPECT_EQ(r.status, 2);
  for (const char* o : {"o1.mkv", "o2.mkv", "o3.mkv", "o4.mkv"}) {
    EXPECT_FALSE(file_exists(path(o))) << o;
  }
}

TEST_F(ModelsTest, CudaWithoutCudaIsAClearError) {
  if (torch::cuda::is_available()) {
    GTEST_SKIP() << "this LibTorch has CUDA";
  }
  SrOptions o;
  o.device = "cuda";
  try {
    SuperResolution sr(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos);
  }
}

TEST_F(ModelsTest, WeightsFoundFromAnyWorkingDirectory) {
  FixtureSpec spec;
  spec.width = 32;
  spec.height = 32;
  spec.frames = 2;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  const std::string elsewhere = path("elsewhere");
  fs::create_directory(elsewhere);
  // Run from an unrelated directory: the built-in weights are inside the binary.
  const std::string cmd = "cd '" + elsewhere + "' && '" + kCli + "' upscale '" + in +
                          "' -o out.mkv --model quality --scale 2 --log-level error";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(decode_video(elsewhere + "/out.mkv").width, 64);
}

TEST_F(ModelsTest, EvalSrReportsModelBesideBicubic) {
  fs::create_directory(path("set"));
  write_png(path("set/a.png"), test_image(64, 48));
  write_png(path("set/b.png"), test_image(50, 40));
  const RunResult r = run_command(
      {kCli, "eval", "sr", "--ref", path("set"), "--scale", "2", "--model", "fast", "--json", "--save", path("saved")});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames"], 2);
  EXPECT_GT(j["psnr"].get<double>(), j["bicubic_psnr"].get<double>());
  EXPECT_TRUE(file_exists(path("saved/000000.png")));
  EXPECT_TRUE(file_exists(path("saved/000001.png")));
  // The saved frame scores what eval printed for it.
  const Image hr = modcrop(load_rgb_frames(path("set/a.png")).front(), 2);
  const Image saved = load_rgb_frames(path("saved/000000.png")).front();
  const double first = psnr_y(saved, hr, 2);
  const double second = psnr_y(load_rgb_frames(path("saved/000001.png")).front(),
                               modcrop(load_rgb_frames(path("set/b.png")).front(), 2), 2);
  EXPECT_NEAR((first + second) / 2, j["psnr"].get<double>(), 1e-9);
  // --max-frames limits a folder too (the first images by name); it was ignored.
  const RunResult one = run_command(
      {kCli, "eval", "sr", "--ref", path("set"), "--scale", "2", "--model", "fast", "--json", "--max-frames", "1"});
  ASSERT_EQ(one.status, 0) << one.err;
  const auto j1 = nlohmann::json::parse(one.out);
  EXPECT_EQ(j1["frames"], 1);
  EXPECT_NEAR(j1["psnr"].get<double>(), first, 1e-9);
}
