// Muxer: one output file with one encoded video stream and copies of the input's
// audio, subtitle, attachment and data streams (packets bit-identical, timestamps
// rescaled to the output time bases). Audio the container cannot hold is re-encoded
// to the container's own audio codec (AudioTranscoder), and text subtitles to its
// text subtitle codec (SubtitleTranscoder), as ffmpeg does.
//
// Threads: thread-safe. The decoding thread hands passthrough packets to
// write_passthrough(); the encoding thread opens the video stream and writes its
// packets. Passthrough packets that arrive before the video stream is known are
// held and written right after the header.
//
// The file is written at `write_path` (a temporary name beside the final output)
// with the container chosen from `format_path`'s extension; the caller renames it
// when finish() succeeds, and deletes it otherwise: no half-written output remains.
// Muxers that open files of their own (HLS and DASH segments, playlists, manifests)
// open them through this class: a write error in any of them fails the job (an HLS
// segment cut short by a full disk was listed as whole), and a Muxer destroyed
// without a successful finish() deletes every such file it wrote.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "framegen/pipeline/audio_transcoder.h"
#include "framegen/pipeline/av_ptr.h"
#include "framegen/pipeline/decoder.h"
#include "framegen/pipeline/subtitle_transcoder.h"

namespace framegen {

// Whether `format` is known not to hold `codec`. libavformat answers yes, no or
// "unknown" (muxers without a codec list, such as mpegts, take most codecs): only
// a no refuses, an unknown is tried and a real mismatch fails when the header is
// written.
[[nodiscard]] bool container_refuses(const AVOutputFormat* format, AVCodecID codec);

// The muxer named `name`: a short name (matroska, mp4, nut, mpegts) or an
// extension (mkv, ts); nullptr if there is none.
[[nodiscard]] const AVOutputFormat* find_container(const std::string& name);

class Muxer {
 public:
  // `input` describes the source streams to copy; `video_input_index` is the
  // decoded stream (it becomes the encoded video stream, at the same position).
  // The container follows format_path's extension, or is `container` (a muxer's
  // short name) where one is given: for a stream without a name (write_path
  // "pipe:1"). On an output that cannot seek, mp4/mov are written fragmented.
  Muxer(const std::string& format_path, const std::string& write_path, AVFormatContext* input, int video_input_index,
        const std::string& container = "");
  ~Muxer();
  Muxer(const Muxer&) = delete;
  Muxer& operator=(const Muxer&) = delete;

  [[nodiscard]] const AVOutputFormat* format() const { return output_->oformat; }
  [[nodiscard]] const std::string& format_path() const { return format_path_; }
  // image2: one image ('still.png') or a numbered sequence ('frames/%06d.png',
  // one file per frame, numbered from 1 as ffmpeg does).
  [[nodiscard]] bool is_image_output() const;
  [[nodiscard]] bool is_image_sequence() const;
  [[nodiscard]] bool is_single_image() const;
  [[nodiscard]] bool needs_global_header() const { return (output_->oformat->flags & AVFMT_GLOBALHEADER) != 0; }
  // Containers that count in frames (MXF, GXF, DV, AVI, Y4M) read the frame rate from
  // the stream's time base: the encoder must use the frame period as its time base
  // (an AVI written with the decoder's 1/600 said 600 fps and held 19 empty chunks
  // per 30 fps frame).
  [[nodiscard]] bool counts_frames() const;

  // Encoding thread: describe the video stream from the opened encoder and write the
  // header (plus any held passthrough packets).
  void open_video(const AVCodecContext* encoder);
  // Encoding thread: write one encoded video packet (in encoder time base).
  void write_video(AVPacket* packet, AVRational encoder_time_base);
  // Decoding thread: copy a packet of input stream `stream`.
  void write_passthrough(AVPacket* packet, const AVStream* stream);
  // Encoding thread: write the trailer and close the file.
  void finish();

  [[nodiscard]] int64_t passthrough_packets() const;

 private:
  void write_locked(AVPacket* packet);
  void copy_passthrough_locked(AVPacket* packet);  // packet->stream_index: the input stream
  // An output stream for input stream `in`, re-encoded by `encoder` (opened).
  void add_encoded_stream(const AVStream* in, const AVCodecContext* encoder);
  // Writes a packet of `encoder` (its time base) as one of `out`'s (lock held).
  std::function<void(AVPacket*)> encoded_writer(AVStream* out, const AVCodecContext* encoder);

  // The muxer's own files (AVFMT_NOFILE muxers): libavformat's io_open/io_close2
  // with every file opened for writing noted, and a write error kept until the
  // Muxer reports it (check_io_locked).
  static int io_open_hook(AVFormatContext* s, AVIOContext** pb, const char* url, int flags, AVDictionary** options);
  static int io_close2_hook(AVFormatContext* s, AVIOContext* pb);
  void check_io_locked() const;
  int (*default_io_open_)(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) = nullptr;
  int (*default_io_close2_)(AVFormatContext*, AVIOContext*) = nullptr;
  std::set<std::string> own_files_;                       // opened for writing (not images)
  std::map<const AVIOContext*, std::string> open_files_;  // still open: the file each writes
  int io_error_ = 0;
  std::string io_error_file_;
  bool finished_ok_ = false;

  std::string format_path_;
  std::string write_path_;
  AVFormatContext* output_ = nullptr;
  bool image_output_ = false;  // the image2 muxer
  bool numbered_ = false;      // format_path_ has a frame number (%d)
  int video_out_index_ = -1;
  std::map<int, int> stream_map_;  // input stream index -> output stream index
  std::map<int, AVRational> input_time_base_;
  mutable std::mutex mutex_;
  bool header_written_ = false;
  bool finished_ = false;
  std::deque<std::pair<AvPacketPtr, int>> held_;  // (packet, input stream index)
  int64_t passthrough_packets_ = 0;
  // Audio streams the container cannot hold, re-encoded to its own audio codec
  // (input stream index -> transcoder).
  std::map<int, std::unique_ptr<AudioTranscoder>> transcoders_;
  std::map<int, std::unique_ptr<SubtitleTranscoder>> subtitle_transcoders_;  // text subtitles (to mov_text)
};

}  // namespace framegen
