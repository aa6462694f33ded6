// SubtitleTranscoder: re-encodes a text subtitle stream that the output container
// cannot hold as it is (SubRip or ASS into MP4/MOV) to the container's own text
// subtitle codec (mov_text), as ffmpeg does. Text to text only: bitmap subtitles
// (DVD, PGS) cannot become text and stay left out.
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

class SubtitleTranscoder {
 public:
  // Throws Error if either side is not text or cannot be opened.
  SubtitleTranscoder(const AVStream* in, AVCodecID codec);
  ~SubtitleTranscoder();
  SubtitleTranscoder(const SubtitleTranscoder&) = delete;
  SubtitleTranscoder& operator=(const SubtitleTranscoder&) = delete;

  [[nodiscard]] const AVCodecContext* encoder() const;
  [[nodiscard]] std::string description() const;  // "subrip -> mov_text"

  // Takes one input packet (input stream time base); hands each encoded packet (in
  // the encoder's time base, 1/1000) to `write`.
  void send(const AVPacket* packet, const std::function<void(AVPacket*)>& write);

 private:
  AvCodecContextPtr decoder_;
  AvCodecContextPtr encoder_;
  AvPacketPtr packet_ = make_av_packet();
  AVRational in_time_base_{1, 1};
  std::string description_;
};

}  // namespace framegen
