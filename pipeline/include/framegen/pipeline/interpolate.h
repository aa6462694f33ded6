// Classical frame synthesis: the trivial baselines of docs/DATA.md and the
// fallbacks of the prediction stages.
//  - Blend: a weighted average (1 - t) * a + t * b, byte by byte (valid for any
//    8-bit format, planar or packed); extrapolation copies the last frame.
//  - Repeat: the nearer neighbour; extrapolation copies the last frame.
// Output pixels come from an internal pool. Not thread-safe: one per thread.
#pragma once

#include <memory>
#include <string>

#include "framegen/pipeline/frame.h"

namespace framegen {

class FrameInterpolator {
 public:
  virtual ~FrameInterpolator() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  // A frame at time t in (0, 1) between a (t = 0) and b (t = 1); same geometry.
  virtual Frame interpolate(const Frame& a, const Frame& b, double t) = 0;
  // The frame after `last`, given the one before it.
  virtual Frame extrapolate(const Frame& previous, const Frame& last) = 0;
};

// "blend" or "repeat"; throws Error(kUsage) otherwise.
std::unique_ptr<FrameInterpolator> make_classical_interpolator(const std::string& name);

}  // namespace framegen
