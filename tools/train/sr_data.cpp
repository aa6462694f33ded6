#include "sr_data.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace framegen::train {

namespace fs = std::filesystem;

namespace {

// Held out for validation (training sources, never evaluation data).
const std::set<std::string> kValidationPhotos = {"skimage_chelsea.png", "kodim07-lzw.tif", "opencv_building.jpg",
                                                 "plasma_Kite.jpg"};

struct VideoPlan {
  std::string file;
  int every;            // take one frame in `every`
  int max_frames;       // -1: all
  int validation_from;  // frames at or after this decoded index are validation; -1: none
};

// Clips that carry real detail. cockatoo.mp4 is too compressed for SR (DATA.md:
// "motion only") and the grey ViSP sequences are left to the predictor.
const std::vector<VideoPlan> kVideos = {
    {"vtest.avi", 25, -1, 700},    // 768x576 pedestrians, static camera
    {"cityCC0.mpg", 6, -1, -1},    // 720x405 night city pan
    {"speedway.mj2", 8, -1, 180},  // 352x288 highway
    {"motion.mov", 10, -1, -1},    // 568x320
    {"movie.mp4", 8, -1, 150},     // 560x320
    {"realshort.mp4", 6, -1, -1},  // 320x240
};

LumaPair make_pair(const std::string& name, const Image& rgb_in, int scale, bool keep_rgb) {
  Image hr = modcrop(rgb_in, scale);
  Image lr = downscale_matlab(hr, scale);
  LumaPair p;
  p.name = name;
  p.hr = luma_tensor(hr);
  p.lr = luma_tensor(lr);
  if (keep_rgb) {
    p.hr_rgb = std::move(hr);
    p.lr_rgb = std::move(lr);
  }
  return p;
}

Image limit_size(const Image& img, int max_side) {
  const int side = std::max(img.width, img.height);
  if (side <= max_side) {
    return img;
  }
  const double f = static_cast<double>(max_side) / side;
  return imresize_matlab(img, static_cast<int>(img.width * f), static_cast<int>(img.height * f));
}

}  // namespace

torch::Tensor luma_tensor(const Image& rgb) {
  const std::vector<double> y = luma_bt601(rgb);
  torch::Tensor t = torch::empty({1, rgb.height, rgb.width}, torch::kFloat);
  float* d = t.data_ptr<float>();
  for (std::size_t i = 0; i < y.size(); ++i) {
    d[i] = static_cast<float>(y[i] / 255.0);
  }
  return t;
}

SrDataset load_sr_dataset(const std::string& root, int scale, int max_side) {
  SrDataset ds;
  std::vector<std::string> photos;
  for (const auto& e : fs::directory_iterator(fs::path(root) / "photos")) {
    photos.push_back(e.path().string());
  }
  std::sort(photos.begin(), photos.end());
  for (const auto& p : photos) {
    const std::string name = fs::path(p).filename().string();
    const Image img = limit_size(load_rgb_frames(p, 1).front(), max_side);
    const bool val = kValidationPhotos.count(name) != 0;
    (val ? ds.validation : ds.train).push_back(make_pair(name, img, scale, val));
  }
  for (const auto& v : kVideos) {
    const fs::path path = fs::path(root) / "videos" / v.file;
    if (!fs::exists(path)) {
      spdlog::warn("training video {} missing; skipped", path.string());
      continue;
    }
    const auto frames = load_rgb_frames(path.string(), v.max_frames, v.every);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const int index = static_cast<int>(i) * v.every;
      const bool val = v.validation_from >= 0 && index >= v.validation_from;
      if (val && (i % 2) != 0) {
        continue;  // a few validation frames are enough
      }
      (val ? ds.validation : ds.train)
          .push_back(make_pair(v.file + "#" + std::to_string(index), frames[i], scale, val));
    }
  }
  return ds;
}

std::pair<torch::Tensor, torch::Tensor> sample_batch(const std::vector<LumaPair>& data, int batch, int patch, int scale,
                                                     std::mt19937_64& rng) {
  // Pick images in proportion to their area, so big photos are not under-sampled.
  static thread_local std::vector<double> weights;
  if (weights.size() != data.size()) {
    weights.clear();
    for (const auto& d : data) {
      weights.push_back(static_cast<double>(d.lr.size(1) * d.lr.size(2)));
    }
  }
  std::discrete_distribution<std::size_t> pick(weights.begin(), weights.end());
  std::vector<torch::Tensor> lrs;
  std::vector<torch::Tensor> hrs;
  for (int b = 0; b < batch; ++b) {
    const LumaPair* d = nullptr;
    do {
      d = &data[pick(rng)];
    } while (d->lr.size(1) < patch || d->lr.size(2) < patch);
    const int64_t h = d->lr.size(1);
    const int64_t w = d->lr.size(2);
    const int64_t y = std::uniform_int_distribution<int64_t>(0, h - patch)(rng);
    const int64_t x = std::uniform_int_distribution<int64_t>(0, w - patch)(rng);
    torch::Tensor lr = d->lr.slice(1, y, y + patch).slice(2, x, x + patch);
    torch::Tensor hr = d->hr.slice(1, y * scale, (y + patch) * scale).slice(2, x * scale, (x + patch) * scale);
    const int aug = std::uniform_int_distribution<int>(0, 7)(rng);
    if ((aug & 1) != 0) {
      lr = lr.flip({2});
      hr = hr.flip({2});
    }
    if ((aug & 2) != 0) {
      lr = lr.flip({1});
      hr = hr.flip({1});
    }
    if ((aug & 4) != 0) {
      lr = lr.transpose(1, 2);
      hr = hr.transpose(1, 2);
    }
    lrs.push_back(lr.contiguous());
    hrs.push_back(hr.contiguous());
  }
  return {torch::stack(lrs), torch::stack(hrs)};
}

}  // namespace framegen::train
