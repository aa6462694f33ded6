// AudioTranscoder: re-encodes one audio stream that the output container cannot
// hold as it is (AAC into WebM, Ogg or MPEG-PS) to the container's own audio codec
// (Opus, Vorbis, MP2, PCM for MXF), as ffmpeg does: decode, convert the samples
// (libavfilter's aformat: sample format, rate and channel layout the encoder
// takes, in frames of its frame size), encode.
//
// Threads: not thread-safe; the Muxer calls it under its lock.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "framegen/pipeline/av_ptr.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace framegen {

class AudioTranscoder {
 public:
  // Opens a decoder for `in` and an encoder for `codec` that `format` can hold.
  // Throws Error if either cannot be opened (the caller then leaves the stream out).
  AudioTranscoder(const AVStream* in, AVCodecID codec, const AVOutputFormat* format);
  ~AudioTranscoder();
  AudioTranscoder(const AudioTranscoder&) = delete;
  AudioTranscoder& operator=(const AudioTranscoder&) = delete;

  // The encoder, opened: the output stream's parameters come from it.
  [[nodiscard]] const AVCodecContext* encoder() const;
  [[nodiscard]] std::string description() const;  // "aac -> opus (libopus, 48000 Hz, stereo)"

  // Takes one input packet (in the input stream's time base); hands each encoded
  // packet (in the encoder's time base) to `write`.
  void send(const AVPacket* packet, const std::function<void(AVPacket*)>& write);
  // End of the input: drains the decoder, the converter and the encoder.
  void flush(const std::function<void(AVPacket*)>& write);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace framegen
