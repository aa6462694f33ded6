// Trains the GAN frame predictor (models/predictor_net.h) on the real videos of
// docs/DATA.md: interpolation triplets (t = 1/2, plus 1/3 and 2/3 from wider gaps)
// or extrapolation sequences, random crops, flips, temporal reversal; samples that
// straddle a scene cut are dropped. Loss (Mathieu et al. 2016): L1 + gradient
// difference + a photometric term on each warped input (it teaches the flow
// directly), then (after an L1/GDL-only warm-up) + adversarial (LSGAN, patch
// discriminator conditioned on the inputs). Every term is logged. Fixed seed.
//
//   build/bin/train_predictor --task interp --iters 8000 --out models/weights/interp.pt
//
// Writes --out (generator, best validation PSNR of the adversarial phase), and
// NAME_l1.pt beside it (the generator at the end of the L1/GDL warm-up, for comparison).
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "framegen/models/predictor_net.h"
#include "framegen/pipeline/image.h"
#include "framegen/pipeline/log.h"
#include "framegen/pipeline/scene.h"

using namespace framegen;
using namespace framegen::models;
namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace {

struct Clip {
  std::string name;
  std::vector<Image> frames;
  std::vector<bool> cut;  // cut[k]: frame k starts a new shot
  int val_from = 0;       // frames >= val_from are validation only
};

struct VideoPlan {
  std::string file;
  int max_frames;
  int shrink;  // keep 1/shrink of the size (big, compressed clips)
};

const std::vector<VideoPlan> kVideos = {
    {"vtest.avi", 360, 1}, {"cityCC0.mpg", -1, 1},  {"speedway.mj2", -1, 1},  {"motion.mov", -1, 1},
    {"movie.mp4", -1, 1},  {"cockatoo.mp4", -1, 2}, {"realshort.mp4", -1, 1},
};
// With --visp: visp-images-data's hand-held camera over a desk (lossless grey
// 640x480 image sequence, and its 384x288 MPEG-1 clip). Not in the rounds before
// session 20, so their recorded commands still read exactly kVideos.
const std::vector<VideoPlan> kVispVideos = {
    {"visp_cube/image%04d.pgm", -1, 1},
    {"visp_cube.mpeg", -1, 1},
};

Image shrink(const Image& img, int f) {
  if (f == 1) {
    return img;
  }
  return imresize_matlab(img, img.width / f, img.height / f);
}

torch::Tensor to_tensor(const Image& img, int x, int y, int p) {
  torch::Tensor t = torch::empty({3, p, p}, torch::kFloat);
  auto a = t.accessor<float, 3>();
  for (int r = 0; r < p; ++r) {
    const uint8_t* row = img.row(y + r) + static_cast<std::ptrdiff_t>(x) * 3;
    for (int c = 0; c < p; ++c) {
      for (int k = 0; k < 3; ++k) {
        a[k][r][c] = static_cast<float>(row[c * 3 + k]) / 255.0F;
      }
    }
  }
  return t;
}

struct Batch {
  torch::Tensor a, b, target, t;
};

// A window [i, i + span] without a cut inside.
bool clean(const Clip& c, int i, int span) {
  for (int k = i + 1; k <= i + span; ++k) {
    if (c.cut[k]) {
      return false;
    }
  }
  return true;
}

// halve: probability (training only) that a sample is taken at half size: the 2x2
// means of a crop twice as large, from frames twice as far apart (about the same
// motion in pixels, twice the detail per pixel).
Batch sample(const std::vector<Clip>& clips, bool extrap, int batch, int patch, bool validation, std::mt19937_64& rng,
             double halve = 0.0) {
  std::vector<double> weights;
  for (const auto& c : clips) {
    weights.push_back(static_cast<double>(validation ? c.frames.size() - c.val_from : c.val_from));
  }
  std::discrete_distribution<std::size_t> pick(weights.begin(), weights.end());
  std::vector<torch::Tensor> as, bs, ts, times;
  int64_t attempts = 0;
  while (static_cast<int>(as.size()) < batch) {
    // Clips too short or too small for any clean sample would otherwise loop forever.
    if (++attempts > 10000 + 1000 * static_cast<int64_t>(batch)) {
      throw std::runtime_error(std::string("the training videos give no clean ") +
                               (validation ? "validation" : "training") + " sample of " + std::to_string(patch) + "x" +
                               std::to_string(patch) + " (clips too short, too small or cut everywhere)");
    }
    const Clip& c = clips[pick(rng)];
    const int k = !validation && halve > 0 && std::uniform_real_distribution<>(0, 1)(rng) < halve ? 2 : 1;
    if (c.frames[0].width < patch * k || c.frames[0].height < patch * k) {
      continue;
    }
    // interp: (i, i+2) -> i+1 at 1/2, or (i, i+3) -> i+1 / i+2 at 1/3, 2/3; extrap: (i, i+1) -> i+2.
    int span = 2;
    int target = 1;
    double t = 0.5;
    if (!extrap && std::uniform_real_distribution<>(0, 1)(rng) < 0.25) {
      span = 3;
      target = std::uniform_int_distribution<int>(1, 2)(rng);
      t = target / 3.0;
    }
    span *= k;
    target *= k;
    const int lo = validation ? c.val_from : 0;
    const int hi = (validation ? static_cast<int>(c.frames.size()) : c.val_from) - span - 1;
    if (hi < lo) {
      continue;
    }
    const int i = std::uniform_int_distribution<int>(lo, hi)(rng);
    if (!clean(c, i, span)) {
      continue;
    }
    const Image* fa = &c.frames[i];
    const Image* fb = &c.frames[i + (extrap ? k : span)];
    const Image* ft = &c.frames[i + (extrap ? 2 * k : target)];
    const bool reverse = !validation && std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    if (reverse) {
      if (extrap) {
        // (i+2, i+1) -> i is a valid sequence too.
        fa = &c.frames[i + 2 * k];
        ft = &c.frames[i];
      } else {
        std::swap(fa, fb);
        t = 1.0 - t;
      }
    }
    const int x = std::uniform_int_distribution<int>(0, fa->width - patch * k)(rng);
    const int y = std::uniform_int_distribution<int>(0, fa->height - patch * k)(rng);
    auto crop = [&](const Image& img) {
      torch::Tensor full = to_tensor(img, x, y, patch * k);
      // Rounded back to 8 bits, as decoded frames are.
      return k == 1 ? full : (torch::avg_pool2d(full.unsqueeze(0), 2).squeeze(0) * 255.0).round() / 255.0;
    };
    torch::Tensor ta = crop(*fa);
    torch::Tensor tb = crop(*fb);
    torch::Tensor tt = crop(*ft);
    if (!validation) {
      const int aug = std::uniform_int_distribution<int>(0, 3)(rng);
      if ((aug & 1) != 0) {
        ta = ta.flip({2});
        tb = tb.flip({2});
        tt = tt.flip({2});
      }
      if ((aug & 2) != 0) {
        ta = ta.flip({1});
        tb = tb.flip({1});
        tt = tt.flip({1});
      }
    }
    as.push_back(ta);
    bs.push_back(tb);
    ts.push_back(tt);
    times.push_back(torch::full({1}, extrap ? 2.0 : t));
  }
  return {torch::stack(as), torch::stack(bs), torch::stack(ts), torch::cat(times)};
}

// ---- synthetic motion over photographs ----
// Real footage has few finely textured surfaces in motion, and a flow network that
// has not seen them aliases on them (fine detail moving by a few pixels). These
// samples move a crop of a photograph along a known smooth path (translation plus a
// little rotation and zoom, all linear in time) and render each frame with 2x2
// supersampling, like a camera's box filter. The same photographs as the SR
// training; the four SR validation photos are held out here too.

struct Photo {
  std::string name;
  torch::Tensor rgb;  // [1, 3, H, W] uint8
};

const std::set<std::string> kValidationPhotos = {"skimage_chelsea.png", "kodim07-lzw.tif", "opencv_building.jpg",
                                                 "plasma_Kite.jpg"};

std::pair<std::vector<Photo>, std::vector<Photo>> load_photos(const std::string& root) {
  std::vector<Photo> train;
  std::vector<Photo> val;
  const fs::path dir = fs::path(root) / "photos";
  if (!fs::is_directory(dir)) {
    return {};
  }
  std::vector<std::string> paths;
  for (const auto& e : fs::directory_iterator(dir)) {
    paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) {
    const Image img = load_rgb_frames(p, 1).front();
    torch::Tensor t =
        torch::from_blob(const_cast<uint8_t*>(img.data.data()),
                         {static_cast<int64_t>(img.height), static_cast<int64_t>(img.width), 3}, torch::kUInt8)
            .permute({2, 0, 1})
            .unsqueeze(0)
            .contiguous();
    const std::string name = fs::path(p).filename().string();
    (kValidationPhotos.count(name) != 0 ? val : train).push_back({name, t});
  }
  return {train, val};
}

// Frame of `photo` at time tau: output pixel q (centred) shows photo point
// c + tau * shift + tau * (tau - 1) / 2 * acc + scale * (1 + tau * zoom) * R(tau * angle) * q.
// The acceleration term is zero at tau = 0 and 1, so it moves only the target.
struct Path {
  double shift_x, shift_y, acc_x, acc_y, zoom, angle;
};
torch::Tensor render(const torch::Tensor& region, double cx, double cy, double scale, const Path& m, double tau,
                     int patch) {
  const int64_t n = 2 * patch;  // 2x2 supersampling
  const int64_t h = region.size(2);
  const int64_t w = region.size(3);
  torch::Tensor u = (torch::arange(n, torch::kFloat) + 0.5) / 2.0 - patch / 2.0;
  torch::Tensor qx = u.view({1, n}).expand({n, n});
  torch::Tensor qy = u.view({n, 1}).expand({n, n});
  const double a = tau * m.angle;
  const double k = scale * (1 + tau * m.zoom);
  const double bend = tau * (tau - 1) / 2;
  torch::Tensor px = cx + tau * m.shift_x + bend * m.acc_x + k * (std::cos(a) * qx - std::sin(a) * qy);
  torch::Tensor py = cy + tau * m.shift_y + bend * m.acc_y + k * (std::sin(a) * qx + std::cos(a) * qy);
  // Pixel centres -> normalized coordinates (align_corners = false).
  torch::Tensor grid = torch::stack({(2 * px + 1) / w - 1, (2 * py + 1) / h - 1}, 2).unsqueeze(0);
  torch::Tensor img = torch::grid_sampler(region, grid, /*bicubic*/ 2, /*border*/ 1, /*align_corners=*/false);
  return F::avg_pool2d(img, F::AvgPool2dFuncOptions(2)).clamp(0, 1).squeeze(0);
}

// How synthetic samples move.
struct SynthMotion {
  double accel = 0.0;        // change of velocity, fraction of (speed + accel_floor) per frame
  double accel_floor = 1.0;  // px
  double layers = 0.0;       // probability of a second layer moving on its own
  double fast = 0.0;         // probability of a fast path (kFastMin to kFastMax px per unit time)
};

// --fast-motion's speeds, frame pixels per unit time (between the interpolation
// inputs). The usual draw stops at 18; a car crossing bikes' frame moves 45.
constexpr double kFastMin = 18.0;
constexpr double kFastMax = 48.0;

// One moving layer: a region of a photograph and the path the camera takes over it.
struct Layer {
  torch::Tensor region;   // [1, 3, h, w] float, the bounding region of the path
  double rx = 0, ry = 0;  // the path's centre in region pixels at tau = 0
  double scale = 1;       // photo pixels per frame pixel
  Path m{};
};

bool draw_layer(const std::vector<Photo>& photos, double tmax, int patch, const SynthMotion& sm, std::mt19937_64& rng,
                Layer& out) {
  std::uniform_real_distribution<> uni(0, 1);
  const Photo& ph = photos[std::uniform_int_distribution<std::size_t>(0, photos.size() - 1)(rng)];
  const int64_t H = ph.rgb.size(2);
  const int64_t W = ph.rgb.size(3);
  const double scale = 1.0 + uni(rng);  // photo pixels per frame pixel
  // Motion per unit time, in frame pixels: mostly small, sometimes large.
  double speed = uni(rng) < 0.7 ? 6.0 * uni(rng) : 6.0 + 12.0 * uni(rng);
  // (No draw at all without --fast-motion, so earlier runs are reproduced exactly.)
  if (sm.fast > 0 && uni(rng) < sm.fast) {
    speed = kFastMin + (kFastMax - kFastMin) * uni(rng);
  }
  const double dir = 2 * M_PI * uni(rng);
  const double sx = speed * std::cos(dir) * scale;
  const double sy = speed * std::sin(dir) * scale;
  const double zoom = (uni(rng) - 0.5) * 0.06;
  const double angle = (uni(rng) - 0.5) * 0.05;
  // Real motion is not perfectly steady: a change of velocity of up to accel x
  // (speed + accel_floor px) per frame, in a random direction.
  // (No draws at all without it, so --accel 0 reproduces earlier runs exactly.)
  const double acc = sm.accel > 0 ? sm.accel * uni(rng) * (speed + sm.accel_floor) * scale : 0.0;
  const double acc_dir = sm.accel > 0 ? 2 * M_PI * uni(rng) : 0.0;
  const Path m{sx, sy, acc * std::cos(acc_dir), acc * std::sin(acc_dir), zoom, angle};
  // Room for the whole path: half a rotated, zoomed patch plus the travel.
  const double half = 0.75 * patch * scale * (1 + std::abs(zoom) * tmax) + 4;
  const double reach_x = half + std::abs(sx) * tmax + std::abs(m.acc_x);
  const double reach_y = half + std::abs(sy) * tmax + std::abs(m.acc_y);
  if (W < 2 * reach_x + 8 || H < 2 * reach_y + 8) {
    return false;
  }
  const double cx = std::uniform_real_distribution<>(reach_x, W - reach_x)(rng);
  const double cy = std::uniform_real_distribution<>(reach_y, H - reach_y)(rng);
  // Work on the bounding region only.
  const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(cx - reach_x) - 4);
  const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(cy - reach_y) - 4);
  const int64_t x1 = std::min<int64_t>(W, static_cast<int64_t>(cx + reach_x) + 4);
  const int64_t y1 = std::min<int64_t>(H, static_cast<int64_t>(cy + reach_y) + 4);
  out.region = ph.rgb.slice(2, y0, y1).slice(3, x0, x1).to(torch::kFloat) / 255.0;
  out.rx = cx - static_cast<double>(x0);
  out.ry = cy - static_cast<double>(y0);
  out.scale = scale;
  out.m = m;
  return true;
}

// One synthetic sample: inputs at tau = 0, 1 and the target at t (interp) or
// inputs at 0, 1 and the target at 2 (extrap). With probability sm.layers a second
// layer (a rectangle of another photograph, 30-80% of the patch's side, on its
// own path) lies over the first: two motions in one picture, as a vehicle seen
// from above over a road, with the background it uncovers.
bool synthetic_sample(const std::vector<Photo>& photos, bool extrap, int patch, const SynthMotion& sm,
                      std::mt19937_64& rng, torch::Tensor& a, torch::Tensor& b, torch::Tensor& target, double& t) {
  std::uniform_real_distribution<> uni(0, 1);
  const double tmax = extrap ? 2.0 : 1.0;
  Layer bg;
  if (!draw_layer(photos, tmax, patch, sm, rng, bg)) {
    return false;
  }
  t = extrap ? 2.0 : (uni(rng) < 0.75 ? 0.5 : (uni(rng) < 0.5 ? 1.0 / 3.0 : 2.0 / 3.0));
  const std::array<double, 3> taus{0.0, 1.0, t};
  std::array<torch::Tensor, 3> frames;
  for (std::size_t i = 0; i < taus.size(); ++i) {
    frames[i] = render(bg.region, bg.rx, bg.ry, bg.scale, bg.m, taus[i], patch);
  }
  // (No draws at all without --layers, so it reproduces earlier runs exactly.)
  if (sm.layers > 0 && uni(rng) < sm.layers) {
    Layer fg;
    const double hw = patch * (0.15 + 0.25 * uni(rng));  // half sides, frame pixels
    const double hh = patch * (0.15 + 0.25 * uni(rng));
    if (draw_layer(photos, tmax, patch, sm, rng, fg)) {
      // The rectangle is fixed on the photograph, centred where the path is half way,
      // so it stays in view; the alpha channel moves with the texture.
      const int64_t rh = fg.region.size(2);
      const int64_t rw = fg.region.size(3);
      const double mx = fg.rx + fg.m.shift_x * tmax / 2;
      const double my = fg.ry + fg.m.shift_y * tmax / 2;
      const torch::Tensor xs = torch::arange(rw, torch::kFloat).view({1, rw}) + 0.5;
      const torch::Tensor ys = torch::arange(rh, torch::kFloat).view({rh, 1}) + 0.5;
      const torch::Tensor alpha = ((xs - mx).abs() < hw * fg.scale).logical_and((ys - my).abs() < hh * fg.scale);
      const torch::Tensor rgba = torch::cat({fg.region, alpha.to(torch::kFloat).view({1, 1, rh, rw})}, 1);
      for (std::size_t i = 0; i < taus.size(); ++i) {
        const torch::Tensor f = render(rgba, fg.rx, fg.ry, fg.scale, fg.m, taus[i], patch);
        const torch::Tensor al = f.slice(0, 3, 4);
        frames[i] = al * f.slice(0, 0, 3) + (1 - al) * frames[i];
      }
    }
  }
  // Round to 8 bits like decoded video.
  a = (frames[0] * 255).round() / 255;
  b = (frames[1] * 255).round() / 255;
  target = (frames[2] * 255).round() / 255;
  return true;
}

Batch synthetic_batch(const std::vector<Photo>& photos, bool extrap, int batch, int patch, const SynthMotion& sm,
                      std::mt19937_64& rng) {
  std::vector<torch::Tensor> as, bs, ts, times;
  while (static_cast<int>(as.size()) < batch) {
    torch::Tensor a, b, target;
    double t = 0.5;
    if (synthetic_sample(photos, extrap, patch, sm, rng, a, b, target, t)) {
      as.push_back(a);
      bs.push_back(b);
      ts.push_back(target);
      times.push_back(torch::full({1}, t));
    }
  }
  return {torch::stack(as), torch::stack(bs), torch::stack(ts), torch::cat(times)};
}

// The first `n` samples of x replaced by those of y.
Batch mix(const Batch& x, const Batch& y, int n) {
  auto cat = [n](const torch::Tensor& p, const torch::Tensor& q) {
    return torch::cat({q.slice(0, 0, n), p.slice(0, n)}, 0);
  };
  return {cat(x.a, y.a), cat(x.b, y.b), cat(x.target, y.target), cat(x.t, y.t)};
}

// Root mean square error of each sample, averaged over the batch. Its gradient
// per pixel is error / (pixels x RMSE): as large as L1's on a typical pixel, but
// in proportion to the error, so the network is paid for hedging where it is
// unsure (the mean of two candidates), as PSNR pays.
torch::Tensor rmse(const torch::Tensor& p, const torch::Tensor& g) {
  return ((p - g).pow(2).mean({1, 2, 3}) + 1e-8).sqrt().mean();
}

torch::Tensor gdl(const torch::Tensor& p, const torch::Tensor& g) {
  auto dx = [](const torch::Tensor& x) { return (x.slice(3, 1) - x.slice(3, 0, -1)).abs(); };
  auto dy = [](const torch::Tensor& x) { return (x.slice(2, 1) - x.slice(2, 0, -1)).abs(); };
  return (dx(p) - dx(g)).abs().mean() + (dy(p) - dy(g)).abs().mean();
}

// Loads --init weights. A layer saved with fewer channels than it has now (the
// network was widened: new inputs appended at the end, or wider hidden layers) is
// copied into its first channels; the new ones are set up so that training resumes
// from exactly the old function (load_init). Anything else that differs is an error.
// Module::save nests one archive per submodule: "fine8.0.weight" is fine8/0/weight.
bool read_parameter(torch::serialize::InputArchive& ar, const std::string& key, torch::Tensor& out) {
  const std::size_t dot = key.find('.');
  if (dot == std::string::npos) {
    return ar.try_read(key, out);
  }
  torch::serialize::InputArchive sub;
  return ar.try_read(key.substr(0, dot), sub) && read_parameter(sub, key.substr(dot + 1), out);
}

// True when `old` has the rank of `cur` and is no larger along any dimension.
bool fits_inside(const torch::Tensor& old, const torch::Tensor& cur) {
  if (old.dim() != cur.dim()) {
    return false;
  }
  for (int64_t d = 0; d < old.dim(); ++d) {
    if (old.size(d) > cur.size(d)) {
      return false;
    }
  }
  return true;
}

// True when `key` ("fine8.4.weight") names a parameter of the last layer of its
// block (that block's output).
bool is_last_layer(FrameGenerator& gen, const std::string& key) {
  const std::size_t a = key.find('.');
  const std::size_t b = key.find('.', a + 1);
  if (a == std::string::npos || b == std::string::npos) {
    return true;
  }
  for (const auto& c : gen->named_children()) {
    if (c.key() == key.substr(0, a)) {
      if (const auto* seq = c.value()->as<torch::nn::Sequential>()) {
        return std::stoul(key.substr(a + 1, b - a - 1)) + 1 == seq->size();
      }
    }
  }
  return true;
}

void load_init(FrameGenerator& gen, const std::string& path) {
  torch::serialize::InputArchive ar;
  ar.load_from(path);
  torch::NoGradGuard no_grad;
  // The warp the weights were trained with (files before session 20: bilinear).
  gen->set_cubic_warp(FrameGeneratorImpl::saved_cubic_warp(ar));
  for (auto& p : gen->named_parameters()) {
    torch::Tensor old;
    if (!read_parameter(ar, p.key(), old)) {
      throw std::runtime_error(path + ": no tensor " + p.key());
    }
    torch::Tensor& cur = p.value();
    if (old.sizes() == cur.sizes()) {
      cur.copy_(old);
    } else if (fits_inside(old, cur)) {
      // A layer that gained input or output channels: the old weights in the
      // leading block. New inputs start at zero weight (ignored at first). New
      // outputs of a block's last layer start at zero too; new outputs of a hidden
      // layer (a wider block) keep their random initialisation, so that they learn:
      // the next layer reads them with zero weights, which leaves the function as
      // it was, and the gradient reaches those weights through their activations.
      const bool random_rows = cur.size(0) > old.size(0) && !is_last_layer(gen, p.key());
      const torch::Tensor fresh = random_rows ? cur.slice(0, old.size(0)).clone() : torch::Tensor();
      cur.zero_();
      if (random_rows) {
        cur.slice(0, old.size(0)).copy_(fresh);
      }
      torch::Tensor dst = cur;
      for (int64_t d = 0; d < old.dim(); ++d) {
        dst = dst.slice(d, 0, old.size(d));
      }
      dst.copy_(old);
      spdlog::info("{}: {} -> {} (new inputs start at zero{})", p.key(), c10::str(old.sizes()), c10::str(cur.sizes()),
                   random_rows ? ", new hidden channels at random" : "");
    } else {
      throw std::runtime_error(path + ": " + p.key() + " has an incompatible shape");
    }
  }
}

double psnr(const torch::Tensor& p, const torch::Tensor& g) {
  const double mse = (p - g).pow(2).mean().item<double>();
  return 10.0 * std::log10(1.0 / std::max(mse, 1e-10));
}

}  // namespace

int run(int argc, char** argv);

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}

int run(int argc, char** argv) {
  CLI::App app{"Train framegen's GAN frame predictor on the DATA.md training videos"};
  std::string task = "interp";
  std::string data = "training-data";
  std::string out;
  std::string init;
  std::string warp;  // "": as --init's weights (bilinear without --init)
  int64_t iters = 8000;
  int batch = 8;
  int patch = 128;
  double lr = 3e-4;
  double adv_start = 0.7;
  double adv_weight = 0.01;
  double gdl_weight = 1.0;
  double warp_weight = 0.5;
  uint64_t seed = 1;
  int threads = 2;
  int val_every = 500;
  double synthetic = 0.0;
  SynthMotion motion;
  std::vector<std::string> train_only;
  bool search = false;
  bool dis_prior = false;
  bool visp = false;
  double halve = 0.0;
  double ema = 0.0;
  std::string pixel_loss = "l1";
  app.add_option("--task", task, "interp or extrap")->check(CLI::IsMember({"interp", "extrap"}));
  app.add_option("--data", data, "folder made by tools/fetch-training-data.sh");
  app.add_option("--out", out, "generator weights to write")->required();
  app.add_option("--init", init, "start the generator from these weights (e.g. interp.pt for extrap)")
      ->check(CLI::ExistingFile);
  app.add_option("--iters", iters, "optimizer steps");
  app.add_option("--batch", batch, "samples per step");
  app.add_option("--patch", patch, "crop side");
  app.add_option("--lr", lr, "generator learning rate (cosine decay to 1/20)");
  app.add_option("--adv-start", adv_start, "fraction of the steps trained with L1 + GDL only");
  app.add_option("--adv-weight", adv_weight, "weight of the adversarial term");
  app.add_option("--gdl-weight", gdl_weight, "weight of the gradient-difference term");
  app.add_option("--warp-weight", warp_weight, "weight of the photometric loss of each warped input");
  app.add_option("--seed", seed, "random seed");
  app.add_option("--threads", threads, "intra-op threads");
  app.add_option("--val-every", val_every, "validate every N steps");
  app.add_option("--synthetic", synthetic,
                 "fraction of each batch made of photographs moved along known paths (fine texture in motion)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--accel", motion.accel,
                 "synthetic paths change velocity by up to this fraction of (speed + --accel-floor px) per frame; the "
                 "held-out photographs stay steady so the validation line is comparable")
      ->check(CLI::Range(0.0, 2.0));
  app.add_option("--accel-floor", motion.accel_floor,
                 "pixels added to the speed in --accel's change of velocity (0: still photographs stay still)")
      ->check(CLI::Range(0.0, 10.0));
  app.add_option("--layers", motion.layers,
                 "probability that a synthetic sample has a second layer (a rectangle of another photograph) moving on "
                 "its own path over the first")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--fast-motion", motion.fast,
                 "probability that a synthetic layer moves fast: 18-48 px per unit time instead of up to 18 (the "
                 "held-out photographs keep the usual speeds)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--train-only", train_only,
                 "train only the generator's blocks named here (coarse, fine8, fine4, fine2, refine); the others keep "
                 "their --init weights")
      ->delimiter(',')
      ->check(CLI::IsMember({"coarse", "fine8", "fine4", "fine2", "refine"}));
  app.add_option("--warp", warp,
                 "full-resolution warp of the inputs: bilinear or bicubic (default: as the --init weights, "
                 "bilinear without them)")
      ->check(CLI::IsMember({"bilinear", "bicubic"}));
  app.add_option("--halve", halve,
                 "probability that a video sample is taken at half size (2x2 means of a crop twice as large, frames "
                 "twice as far apart)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--pixel-loss", pixel_loss,
                 "the frame's distance to the target: l1 (mean absolute error) or rmse (root mean square error "
                 "of each sample, averaged over the batch: weighs large errors more, as PSNR does)")
      ->check(CLI::IsMember({"l1", "rmse"}));
  app.add_flag("--visp", visp, "also train on visp-images-data's footage (DATA.md; tools/fetch-training-data.sh)");
  app.add_flag("--search", search,
               "train and validate with the test-time flow search on, as inference runs (its correction has no "
               "gradient: the network's flow is trained as if the correction were a fixed offset)");
  app.add_flag("--dis-prior", dis_prior,
               "interpolation: train and validate with OpenCV's DIS flow as a candidate for the flows before the 1/2 "
               "block, as inference runs (FrameGenerator::set_dis_prior; off: as the rounds before session 24)");
  app.add_option("--ema", ema,
                 "validate and write an exponential moving average of the generator's weights with this decay per "
                 "step (e.g. 0.999; 0: the weights as trained)")
      ->check(CLI::Range(0.0, 0.99999));
  CLI11_PARSE(app, argc, argv);
  init_logging("info");
  // The synthetic paths' options shape only synthetic samples: without them they
  // would be parsed and ignored.
  if (synthetic <= 0 && (motion.accel > 0 || motion.layers > 0 || motion.fast > 0)) {
    spdlog::error("--accel, --layers and --fast-motion shape synthetic samples: they need --synthetic > 0");
    return 2;
  }
  if (dis_prior && task != "interp") {
    spdlog::error("--dis-prior applies to --task interp only");
    return 2;
  }
  torch::manual_seed(seed);
  torch::set_num_threads(threads);
  set_dis_threads(threads);
  std::mt19937_64 rng(seed);
  const bool extrap = task == "extrap";
  if (fs::path(out).has_parent_path()) {
    fs::create_directories(fs::path(out).parent_path());
  }

  std::vector<Clip> clips;
  int cuts = 0;
  std::vector<VideoPlan> plans = kVideos;
  if (visp) {
    plans.insert(plans.end(), kVispVideos.begin(), kVispVideos.end());
  }
  for (const auto& v : plans) {
    const fs::path p = fs::path(data) / "videos" / v.file;
    // An image sequence's pattern (%04d) names no file; its folder must exist.
    const bool pattern = v.file.find('%') != std::string::npos;
    if (!fs::exists(pattern ? p.parent_path() : p)) {
      spdlog::warn("{} missing; skipped", p.string());
      continue;
    }
    Clip c;
    c.name = v.file;
    for (auto& f : load_rgb_frames(p.string(), v.max_frames)) {
      c.frames.push_back(shrink(f, v.shrink));
    }
    c.cut.assign(c.frames.size(), false);
    for (std::size_t k = 1; k < c.frames.size(); ++k) {
      c.cut[k] = is_scene_cut(c.frames[k - 1], c.frames[k]);
      cuts += c.cut[k] ? 1 : 0;
    }
    c.val_from = static_cast<int>(c.frames.size() * 9 / 10);
    spdlog::info("{}: {} frames {}x{}", c.name, c.frames.size(), c.frames[0].width, c.frames[0].height);
    clips.push_back(std::move(c));
  }
  spdlog::info("{} clips, {} scene cuts detected", clips.size(), cuts);
  if (clips.empty()) {
    spdlog::error("no training videos under {}/videos (run tools/fetch-training-data.sh)", data);
    return 1;
  }

  std::vector<Photo> photos;
  std::vector<Photo> val_photos;
  if (synthetic > 0) {
    std::tie(photos, val_photos) = load_photos(data);
    if (photos.empty() || val_photos.empty()) {
      spdlog::error("--synthetic needs {}/photos (tools/fetch-training-data.sh)", data);
      return 1;
    }
    spdlog::info("synthetic motion: {} photographs ({} held out), {:.0f}% of each batch, {:.0f}% of paths fast",
                 photos.size(), val_photos.size(), synthetic * 100, motion.fast * 100);
  }
  const int n_synth = static_cast<int>(std::lround(synthetic * batch));
  if (halve > 0) {
    spdlog::info("{:.0f}% of the video samples at half size (--halve)", halve * 100);
  }

  FrameGenerator gen;
  // Without --search: trained and validated without the test-time flow search
  // (validation figures stay comparable with the rounds before it existed).
  gen->set_flow_search(search);
  gen->set_dis_prior(dis_prior);
  spdlog::info("test-time flow search {} in training and validation", search ? "on" : "off");
  spdlog::info("DIS flow prior {} in training and validation", dis_prior ? "on" : "off");
  PatchDiscriminator disc;
  if (!init.empty()) {
    try {
      load_init(gen, init);
    } catch (const std::exception& e) {
      spdlog::error("--init {}: {}", init, e.what());
      return 1;
    }
    spdlog::info("generator initialised from {}", init);
  }
  if (!warp.empty()) {
    gen->set_cubic_warp(warp == "bicubic");
  }
  spdlog::info("full-resolution warp: {}", gen->cubic_warp() ? "bicubic" : "bilinear");
  std::vector<torch::Tensor> trained;
  for (auto& p : gen->named_parameters()) {
    const std::string block = p.key().substr(0, p.key().find('.'));
    if (train_only.empty() || std::find(train_only.begin(), train_only.end(), block) != train_only.end()) {
      trained.push_back(p.value());
    } else {
      p.value().set_requires_grad(false);
    }
  }
  if (!train_only.empty()) {
    spdlog::info("training {} of {} generator tensors (--train-only)", trained.size(), gen->parameters().size());
  }
  // --ema: a second generator holding the moving average of the weights; it is
  // the one validated and written. Its decay ramps up from 0 over the first steps
  // ((1 + k) / (10 + k)), so it follows --init's weights at once.
  FrameGenerator averaged;
  averaged->set_flow_search(search);
  averaged->set_dis_prior(dis_prior);
  averaged->set_cubic_warp(gen->cubic_warp());
  if (ema > 0) {
    torch::NoGradGuard g;
    auto src = gen->named_parameters();
    for (auto& p : averaged->named_parameters()) {
      p.value().copy_(src[p.key()]);
      p.value().set_requires_grad(false);
    }
    spdlog::info("validating and writing the moving average of the weights (decay {})", ema);
  }
  FrameGenerator& kept = ema > 0 ? averaged : gen;
  auto update_average = [&](int64_t step) {
    if (ema <= 0) {
      return;
    }
    torch::NoGradGuard g;
    const double d = std::min(ema, (1.0 + static_cast<double>(step)) / (10.0 + static_cast<double>(step)));
    auto src = gen->named_parameters();
    for (auto& p : averaged->named_parameters()) {
      p.value().mul_(d).add_(src[p.key()], 1.0 - d);
    }
  };
  torch::optim::Adam gopt(trained, torch::optim::AdamOptions(lr).betas({0.9, 0.999}));
  torch::optim::Adam dopt(disc->parameters(), torch::optim::AdamOptions(lr).betas({0.5, 0.999}));
  spdlog::info("generator: {} MACs per pixel", gen->macs_per_pixel());
  spdlog::info("pixel loss: {}", pixel_loss);

  std::mt19937_64 vrng(seed + 1);
  std::vector<Batch> val;
  for (int i = 0; i < 6; ++i) {
    val.push_back(sample(clips, extrap, 4, std::min(patch * 2, 256), true, vrng));
  }
  std::vector<Batch> val_synth;
  for (int i = 0; i < (val_photos.empty() ? 0 : 4); ++i) {
    val_synth.push_back(
        synthetic_batch(val_photos, extrap, 4, std::min(patch * 2, 256), SynthMotion{0.0, 0.0, 0.0}, vrng));
  }
  // Mean PSNR of the generator and of the trivial baseline over a validation set.
  auto score = [&](const std::vector<Batch>& set) {
    torch::NoGradGuard g;
    kept->eval();
    double sum = 0;
    double base = 0;
    for (const auto& b : set) {
      sum += psnr(kept->forward(b.a, b.b, b.t).frame, b.target);
      base += psnr(extrap ? b.b : (b.a + b.b) * 0.5, b.target);
    }
    kept->train();
    const double n = static_cast<double>(std::max<std::size_t>(1, set.size()));
    return std::make_pair(sum / n, base / n);
  };
  auto validate = [&]() { return score(val); };
  auto validate_synthetic = [&]() { return score(val_synth); };
  const auto [v0, vbase] = validate();
  spdlog::info("validation: {} {:.3f} dB, {} {:.3f} dB", init.empty() ? "untrained" : "start (--init)", v0,
               extrap ? "copy-last" : "blend", vbase);
  if (!val_synth.empty()) {
    const auto [s0, sb] = validate_synthetic();
    spdlog::info("synthetic validation (held-out photographs): {:.3f} dB, {} {:.3f} dB", s0,
                 extrap ? "copy-last" : "blend", sb);
  }

  const int64_t adv_from = static_cast<int64_t>(adv_start * static_cast<double>(iters));
  double best = -1;
  const auto t0 = std::chrono::steady_clock::now();
  double r_l1 = 0, r_gdl = 0, r_warp = 0, r_adv = 0, r_d = 0;
  for (int64_t it = 1; it <= iters; ++it) {
    const double cur = lr * (0.05 + 0.95 * 0.5 * (1 + std::cos(M_PI * static_cast<double>(it) / iters)));
    for (auto& g : gopt.param_groups()) {
      static_cast<torch::optim::AdamOptions&>(g.options()).lr(cur);
    }
    const Batch b = n_synth == 0 ? sample(clips, extrap, batch, patch, false, rng, halve)
                                 : mix(sample(clips, extrap, batch, patch, false, rng, halve),
                                       synthetic_batch(photos, extrap, n_synth, patch, motion, rng), n_synth);
    const bool adversarial = it > adv_from;
    PredictorOutput o = gen->forward(b.a, b.b, b.t);
    torch::Tensor l1 = pixel_loss == "rmse" ? rmse(o.frame, b.target) : torch::l1_loss(o.frame, b.target);
    torch::Tensor lg = gdl(o.frame, b.target);
    torch::Tensor lw = torch::l1_loss(o.warped0, b.target) + torch::l1_loss(o.warped1, b.target);
    torch::Tensor loss = l1 + gdl_weight * lg + warp_weight * lw;
    torch::Tensor la = torch::zeros({});
    if (adversarial) {
      la = (disc->forward(b.a, b.b, o.frame) - 1).pow(2).mean();
      loss = loss + adv_weight * la;
    }
    gopt.zero_grad();
    loss.backward();
    gopt.step();
    update_average(it);
    double ld = 0;
    if (adversarial) {
      dopt.zero_grad();
      torch::Tensor real = (disc->forward(b.a, b.b, b.target) - 1).pow(2).mean();
      torch::Tensor fake = disc->forward(b.a, b.b, o.frame.detach()).pow(2).mean();
      torch::Tensor dl = 0.5 * (real + fake);
      dl.backward();
      dopt.step();
      ld = dl.item<double>();
    }
    const double k = it == 1 ? 1.0 : 0.02;
    r_l1 += k * (l1.item<double>() - r_l1);
    r_gdl += k * (lg.item<double>() - r_gdl);
    r_warp += k * (lw.item<double>() - r_warp);
    r_adv += k * (la.item<double>() - r_adv);
    r_d += k * (ld - r_d);
    if (it % 50 == 0) {
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      spdlog::info("step {}/{} {} {:.5f} gdl {:.5f} warp {:.5f} adv {:.4f} disc {:.4f} lr {:.2e} {:.2f} steps/s", it,
                   iters, pixel_loss, r_l1, r_gdl, r_warp, r_adv, r_d, cur, it / el);
    }
    if (it == adv_from) {
      const fs::path p(out);
      const std::string l1_path = (p.parent_path() / (p.stem().string() + "_l1" + p.extension().string())).string();
      torch::save(kept, l1_path);
      spdlog::info("warm-up done: L1/GDL-only generator saved to {}", l1_path);
    }
    if (it % val_every == 0 || it == iters) {
      const auto [v, vb] = validate();
      // Pick among adversarial-phase checkpoints, those after at least one
      // adversarial step: at adv_from itself the generator is the L1/GDL one just
      // saved as *_l1, and a round that kept it shipped no adversarial training.
      const bool eligible = it > adv_from || adv_from >= iters;
      if (eligible && v > best) {
        best = v;
        torch::save(kept, out);
      }
      spdlog::info("step {} validation {:.3f} dB ({} {:.3f}, best {:.3f})", it, v, extrap ? "copy-last" : "blend", vb,
                   best);
      if (!val_synth.empty()) {
        const auto [sv, sb] = validate_synthetic();
        spdlog::info("step {} synthetic validation {:.3f} dB ({} {:.3f})", it, sv, extrap ? "copy-last" : "blend", sb);
      }
    }
  }
  if (iters == 0) {
    // Validation only; writes the --init weights as this build's network holds them
    // (widened where the architecture gained inputs).
    torch::save(gen, out);
  }
  spdlog::info("done in {:.0f}s; best validation {:.3f} dB; weights {}",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), best, out);
  return 0;
}
