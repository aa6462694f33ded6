// Decoder: libavformat demuxer + libavcodec video decoder as a FrameSource.
//
// Reads anything FFmpeg reads (a path, or "-" for stdin). Decodes the first video
// stream that is not cover art (or the one asked for) with frame threading, drains
// the codec at end of file, keeps source timestamps (best-effort where packets have
// none, synthesized from the frame rate where there are none at all) and keeps them
// strictly increasing. Packets of every other stream go to the passthrough callback
// untouched, on the decoding thread.
//
// Threads: construct anywhere; next() and the callback run on one thread (the
// source stage); interrupt() is async-signal-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framegen/pipeline/av_ptr.h"
#include "framegen/pipeline/numbered_name.h"
#include "framegen/pipeline/pipeline.h"

namespace framegen {

struct StreamInfo {
  int index = -1;
  std::string type;  // "video", "audio", "subtitle", "attachment", "data"
  std::string codec;
  bool attached_pic = false;
};

struct VideoInfo {
  std::string path;
  std::string format;  // container (long name)
  int stream_index = -1;
  std::string codec;
  int width = 0;
  int height = 0;
  AVPixelFormat pix_fmt = AV_PIX_FMT_NONE;
  AVRational time_base{0, 1};
  AVRational frame_rate{0, 1};  // guessed; {0,1} when unknown
  AVRational sample_aspect_ratio{0, 1};
  double duration = 0.0;    // seconds, 0 when unknown
  int64_t frame_count = 0;  // from the container, 0 when unknown
  double rotation = 0.0;    // degrees, from the display matrix
  AVColorPrimaries color_primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorTransferCharacteristic color_trc = AVCOL_TRC_UNSPECIFIED;
  AVColorSpace colorspace = AVCOL_SPC_UNSPECIFIED;
  AVColorRange color_range = AVCOL_RANGE_UNSPECIFIED;
  AVChromaLocation chroma_location = AVCHROMA_LOC_UNSPECIFIED;
  bool interlaced = false;  // field-coded (from the header or the first interlaced frame)
  std::vector<StreamInfo> streams;
};

struct DecoderOptions {
  int threads = 0;  // 0: FFmpeg picks (one per core)
  int stream = -1;  // video stream index; -1: the first real video stream
  int max_dimension = 16384;
  int64_t max_pixels = int64_t{8192} * 8192;  // per frame; larger ones are refused before allocation
  double timeout = 0;  // stdin only: end the input after this many seconds without data (0: wait forever)
  // Numbered images ('frames/%06d.png', read as ffmpeg's image2 does: the first
  // numbered 0 to 4, then each next number): their frame rate; {0, 0}: 25 fps.
  // Set for any other input it is a usage error (it would be ignored).
  AVRational image_rate{0, 0};
};

class Decoder final : public FrameSource {
 public:
  using PacketCallback = std::function<void(AVPacket* packet, const AVStream* stream)>;

  // Opens and probes the input; throws Error(kInput) naming the path on failure.
  Decoder(const std::string& path, const DecoderOptions& options = {});
  // Reads a file held in memory (`data` must outlive the decoder); `name` is used in
  // messages. For the fuzzer and for callers that already hold the bytes.
  Decoder(const std::string& name, const uint8_t* data, std::size_t size, const DecoderOptions& options = {});
  ~Decoder() override;

  [[nodiscard]] std::string name() const override { return "decode"; }
  Frame next() override;
  void interrupt() override { interrupted_.store(true, std::memory_order_release); }

  // Packets of non-video streams (and other video streams) are handed to `cb`,
  // which may take them with av_packet_move_ref.
  void set_passthrough(PacketCallback cb) { passthrough_ = std::move(cb); }

  [[nodiscard]] const VideoInfo& info() const { return info_; }
  [[nodiscard]] AVFormatContext* format_context() const { return input_.get(); }
  [[nodiscard]] const AVStream* video_stream() const { return input_->streams[info_.stream_index]; }

  // Counters, valid after the run.
  [[nodiscard]] int64_t corrupt_packets() const { return corrupt_packets_; }
  [[nodiscard]] int64_t size_changes() const { return size_changes_; }
  // True when the input stalled longer than DecoderOptions::timeout.
  [[nodiscard]] bool timed_out() const { return custom_input_ && custom_input_->timed_out; }
  // After the run: why the input looks cut short, or empty when it does not (a
  // read error, or decoded frames ending well before the duration in the header).
  [[nodiscard]] std::string truncation() const;

 private:
  static int interrupt_cb(void* opaque);
  bool warned_interlaced_ = false;
  void fix_timestamps(AVFrame* frame, int64_t* duration);
  void warn_interlaced();

  void init(const DecoderOptions& options, AVIOContext* custom);

  // Custom input: stdin through poll() (reads wake on interrupt() and on the
  // timeout), or a memory buffer.
  struct CustomInput {
    const uint8_t* mem = nullptr;  // memory input when set
    std::size_t mem_size = 0;
    std::size_t mem_pos = 0;
    std::atomic<bool>* interrupted = nullptr;
    double timeout = 0;
    bool timed_out = false;
    unsigned char* buffer = nullptr;
    AVIOContext* avio = nullptr;
    CustomInput() = default;
    CustomInput(const CustomInput&) = delete;
    CustomInput& operator=(const CustomInput&) = delete;
    ~CustomInput() {
      if (avio != nullptr) {
        av_freep(&avio->buffer);
        avio_context_free(&avio);
      } else {
        av_freep(&buffer);
      }
    }
  };
  // Sets up custom_input_ with an AVIOContext of `buffer_size` bytes reading
  // through `read` (and seeking through `seek` when given).
  AVIOContext* open_custom_input(int buffer_size, int (*read)(void*, uint8_t*, int),
                                 int64_t (*seek)(void*, int64_t, int));
  static int read_stdin(void* opaque, uint8_t* buf, int size);
  static int read_memory(void* opaque, uint8_t* buf, int size);
  static int64_t seek_memory(void* opaque, int64_t offset, int whence);

  std::unique_ptr<CustomInput> custom_input_;  // declared before input_: outlives the demuxer
  std::string path_;
  AvInputPtr input_;
  AvCodecContextPtr codec_;
  AvPacketPtr packet_;
  std::shared_ptr<detail::ShellRecycler> shells_;
  PacketCallback passthrough_;
  VideoInfo info_;
  std::atomic<bool> interrupted_{false};
  bool flushing_ = false;
  bool finished_ = false;
  int64_t last_pts_ = AV_NOPTS_VALUE;
  int64_t default_duration_ = 0;  // one frame in time_base units, 0 if unknown
  int64_t corrupt_packets_ = 0;
  int64_t size_changes_ = 0;
  bool read_error_ = false;
  std::optional<NumberedName> numbered_;  // numbered-image input
  int64_t video_packets_ = 0;             // read from the input (numbered images: one per image)
  bool warned_pts_missing_ = false;
  bool warned_pts_order_ = false;
  int last_width_ = 0;
  int last_height_ = 0;
};

// Opens `path` just far enough to describe it (for `framegen probe`); counts frames
// by demuxing when `count_frames` is set. `image_rate`: as DecoderOptions::image_rate.
VideoInfo probe_input(const std::string& path, bool count_frames, AVRational image_rate = {0, 0});

}  // namespace framegen
