// Training data for the SR networks: real photographs and video frames from the
// Debian/npm packages of docs/DATA.md (tools/fetch-training-data.sh), turned into
// (LR, HR) luma pairs with the exact protocol (MATLAB bicubic on RGB uint8, then
// BT.601 Y). Nothing from shared/data is ever read here.
#pragma once

#include <torch/torch.h>

#include <random>
#include <string>
#include <vector>

#include "framegen/pipeline/image.h"

namespace framegen::train {

struct LumaPair {
  std::string name;
  torch::Tensor lr;  // [1, h, w] float, Y / 255
  torch::Tensor hr;  // [1, h*s, w*s]
  Image hr_rgb;      // kept for validation images only
  Image lr_rgb;
};

struct SrDataset {
  std::vector<LumaPair> train;
  std::vector<LumaPair> validation;
};

// Loads `root`/photos/* and `root`/videos/* (see the .cpp for the per-source frame
// sampling and the held-out validation items), for scale `scale`.
SrDataset load_sr_dataset(const std::string& root, int scale, int max_side);

// A batch of random, augmented (flips, transposes) aligned patches:
// lr [B, 1, p, p], hr [B, 1, p*s, p*s].
std::pair<torch::Tensor, torch::Tensor> sample_batch(const std::vector<LumaPair>& data, int batch, int patch, int scale,
                                                     std::mt19937_64& rng);

torch::Tensor luma_tensor(const Image& rgb);

}  // namespace framegen::train
