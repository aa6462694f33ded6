// Scene-cut detection between consecutive frames (classical): a cut is a large
// luma change that is not explained by brightness alone. Used to keep the
// predictors from interpolating across shots, and to drop training samples that
// straddle a cut.
#pragma once

#include "framegen/pipeline/frame.h"
#include "framegen/pipeline/image.h"

namespace framegen {

bool is_scene_cut(const Image& a, const Image& b);
// Frames of the same geometry, 8-bit; uses the first plane (luma or packed).
bool is_scene_cut(const Frame& a, const Frame& b);

}  // namespace framegen
