// Encoder: libavcodec video encoder feeding a Muxer, as the pipeline's FrameSink.
// Opened on the first frame (its size and format decide the stream), drained at
// finish(). Colour tags, sample aspect ratio and frame rate come from the source.
//
// Threads: everything runs on the sink thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "framegen/pipeline/av_ptr.h"
#include "framegen/pipeline/decoder.h"
#include "framegen/pipeline/muxer.h"
#include "framegen/pipeline/pipeline.h"

namespace framegen {

struct EncoderOptions {
  std::string codec = "libx264";
  int crf = -1;         // -1: the codec's default quality
  std::string preset;   // codec-specific speed preset; empty: default
  int64_t bitrate = 0;  // bits/s; 0: quality mode
  std::string pix_fmt;  // empty: the input's format when the codec takes it
  int threads = 0;      // 0: FFmpeg picks
};

// Checks the codec exists and is a video encoder; throws Error(kUsage) naming it.
const AVCodec* find_video_encoder(const std::string& name);

// The pixel format the encoder will get: `requested` if given (and supported), else
// `input` when the codec takes it, else the codec's closest format.
AVPixelFormat choose_encoder_pix_fmt(const AVCodec* codec, AVPixelFormat input, const std::string& requested);

class EncodeSink final : public FrameSink {
 public:
  // Called after every written frame with the count so far (sink thread).
  using ProgressCallback = std::function<void(int64_t frames, double seconds)>;

  EncodeSink(Muxer& muxer, const VideoInfo& source, EncoderOptions options);
  ~EncodeSink() override;

  [[nodiscard]] std::string name() const override { return "encode"; }
  void consume(Frame frame) override;
  void finish() override;

  void set_progress(ProgressCallback cb) { progress_ = std::move(cb); }
  [[nodiscard]] int64_t frames_encoded() const { return frames_; }
  [[nodiscard]] int width() const { return codec_ ? codec_->width : 0; }
  [[nodiscard]] int height() const { return codec_ ? codec_->height : 0; }

 private:
  void open(const Frame& first);
  void drain(bool flush);

  Muxer& muxer_;
  VideoInfo source_;
  EncoderOptions options_;
  const AVCodec* codec_def_;
  AvCodecContextPtr codec_;
  AvPacketPtr packet_;
  ProgressCallback progress_;
  int64_t frames_ = 0;
  int64_t last_duration_ = 0;  // encoder time base
};

}  // namespace framegen
