// Classical frame synthesis: the trivial baselines of docs/DATA.md and the
// fallbacks of the prediction stages.
//  - Blend: a weighted average (1 - t) * a + t * b, byte by byte (valid for any
//    8-bit format, planar or packed); extrapolation copies the last frame.
//  - Repeat: the nearer neighbour; extrapolation copies the last frame.
// Output pixels come from an internal pool. Not thread-safe: one per thread.
#pragma once

#include <deque>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "framegen/pipeline/frame.h"

namespace framegen {

class FrameInterpolator {
 public:
  virtual ~FrameInterpolator() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  // A frame at time t in (0, 1) between a (t = 0) and b (t = 1); same geometry.
  virtual Frame interpolate(const Frame& a, const Frame& b, double t) = 0;
  // The frame after `last`, given the one before it and, when known, the one
  // before that (`older`; an empty Frame where there is none, e.g. after a cut).
  virtual Frame extrapolate(const Frame& older, const Frame& previous, const Frame& last) = 0;
};

// "blend" or "repeat"; throws Error(kUsage) otherwise.
std::unique_ptr<FrameInterpolator> make_classical_interpolator(const std::string& name);

// Whether "blend" mixes frames of `format` as they are: 8-bit formats, and 9-16-bit
// ones in little-endian words with every component of the same depth and bit
// position (yuv420p10le, p010le, gbrp12le, rgb48le...). "repeat" takes any format.
bool blend_mixes(AVPixelFormat format);

}  // namespace framegen

#include "framegen/pipeline/pipeline.h"

namespace framegen {

// The highest output frame rate `framegen interpolate|run` and the fgpredict element
// accept: above it a typo is likelier than intent (6000 for 60), and each input
// frame would become thousands of synthesised ones.
inline constexpr int kMaxRetimeRate = 1000;

// Re-times a stream to a constant output rate: output frame n sits at
// first_pts + n / rate exactly (in a time base where both are whole numbers); each is the input frame at
// that instant or a frame synthesised between its two neighbours. Scene cuts
// between two input frames are never interpolated across: the earlier frame is
// repeated instead. A held frame of variable-rate video (a screen recording that
// shows one picture for seconds) stays held: when two input frames are more than
// kHoldFactor of the shortest interval (or frame duration) seen so far apart, and more than
// kHoldSeconds, the earlier one is repeated and only the last such interval before
// the later one is interpolated (a 2 s hold was a 2 s morph). Holds one input
// frame. Once the pipeline is stopping (FrameOutput::stopping) it makes no new
// frames and ignores the rest.
//
// Given several models, each gets a worker thread of its own and up to that many
// frames are synthesised at once (every frame depends only on its two input
// frames), still emitted in order. That holds up to one more input frame per
// extra model, and as many frames' latency: for files, not for live sources.
class InterpolationWorkers;
inline constexpr double kHoldFactor = 4.0;
inline constexpr double kHoldSeconds = 0.25;
// Whether two input frames `gap` seconds apart are a held picture, given the
// shortest interval seen so far (0: none yet).
[[nodiscard]] inline bool is_hold(double gap, double shortest) {
  return shortest > 0 && gap > kHoldFactor * shortest && gap > kHoldSeconds;
}
class RetimeFilter final : public FrameFilter {
 public:
  RetimeFilter(AVRational rate, std::unique_ptr<FrameInterpolator> model, bool detect_cuts = true);
  RetimeFilter(AVRational rate, std::vector<std::unique_ptr<FrameInterpolator>> models, bool detect_cuts = true);
  ~RetimeFilter() override;
  RetimeFilter(const RetimeFilter&) = delete;
  RetimeFilter& operator=(const RetimeFilter&) = delete;
  [[nodiscard]] std::string name() const override { return "retime"; }
  void process(Frame frame, FrameOutput& out) override;
  void flush(FrameOutput& out) override;
  [[nodiscard]] int64_t frames_synthesised() const { return synthesised_; }
  [[nodiscard]] int64_t cuts() const { return cuts_; }

 private:
  // An output frame in order: ready, or still being synthesised by a worker.
  struct Pending {
    int64_t index = 0;  // output frame number
    Frame frame;
    std::future<Frame> result;
  };
  bool emit_until(double until, const Frame* next, bool cut, FrameOutput& out);
  // Emits the pending frames in order, waiting for workers while more than
  // `max_busy` syntheses are outstanding; false if the output stopped.
  bool drain(std::size_t max_busy, FrameOutput& out);

  AVRational rate_;
  AVRational out_tb_;
  std::unique_ptr<FrameInterpolator> model_;       // one model: on the filter thread
  std::unique_ptr<InterpolationWorkers> workers_;  // several: one thread each
  bool detect_cuts_;
  Frame prev_;
  double base_ = 0;       // seconds of output frame 0
  int64_t base_out_ = 0;  // its pts in out_tb_
  int64_t step_ = 1;      // one output frame in out_tb_
  int64_t next_ = 0;      // next output index
  double shortest_ = 0;   // the shortest interval between input frames so far (s)
  int64_t synthesised_ = 0;
  int64_t cuts_ = 0;
  bool stopped_ = false;  // the pipeline is stopping: nothing more is made
  std::deque<Pending> pending_;
  std::size_t busy_ = 0;  // entries of pending_ whose result is outstanding
};

// Passes every frame through, then continues the clip by `count` predicted frames
// (autoregressively, each from the two before it) at the source's frame duration;
// fewer when the pipeline is stopping (FrameOutput::stopping).
class ExtendFilter final : public FrameFilter {
 public:
  ExtendFilter(int count, std::unique_ptr<FrameInterpolator> model, AVRational frame_rate);
  [[nodiscard]] std::string name() const override { return "extend"; }
  void process(Frame frame, FrameOutput& out) override;
  void flush(FrameOutput& out) override;

 private:
  int count_;
  std::unique_ptr<FrameInterpolator> model_;
  AVRational frame_rate_;
  Frame older_;
  Frame prev_;
  Frame last_;
};

}  // namespace framegen
