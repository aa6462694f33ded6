#include "framegen/pipeline/decoder.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "framegen/pipeline/error.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace framegen {

namespace {

const char* media_type_name(AVMediaType t) {
  const char* s = av_get_media_type_string(t);
  return s != nullptr ? s : "unknown";
}

std::string url_for(const std::string& path) { return path == "-" ? "pipe:0" : path; }

void check_is_readable_file(const std::string& path) {
  if (path == "-" || path.find("://") != std::string::npos || path.rfind("pipe:", 0) == 0) {
    return;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    throw Error(ErrorKind::kInput, "cannot open input '" + path + "': " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    throw Error(ErrorKind::kInput, "cannot open input '" + path + "': is a directory");
  }
  if (S_ISREG(st.st_mode) && st.st_size == 0) {
    throw Error(ErrorKind::kInput, "cannot open input '" + path + "': the file is empty");
  }
}

// Whether `path` names numbered images ('frames/%06d.png', as ffmpeg reads them)
// rather than one file: a frame number in it, and no file of that very name.
bool is_numbered_images(const std::string& path) {
  std::array<char, 4096> name{};
  struct stat st {};
  return path.find('%') != std::string::npos &&
         av_get_frame_filename2(name.data(), static_cast<int>(name.size()), path.c_str(), 1, 0) == 0 &&
         ::stat(path.c_str(), &st) != 0;
}

AvInputPtr open_input(const std::string& path, AVIOInterruptCB* cb, AVIOContext* custom_io = nullptr,
                      AVRational image_rate = {0, 0}) {
  const bool numbered = custom_io == nullptr && is_numbered_images(path);
  if (custom_io == nullptr && !numbered) {
    check_is_readable_file(path);
  }
  AVFormatContext* raw = avformat_alloc_context();
  if (raw == nullptr) {
    throw std::bad_alloc();
  }
  if (cb != nullptr) {
    raw->interrupt_callback = *cb;
  }
  if (custom_io != nullptr) {
    raw->pb = custom_io;
    raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  }
  const AVInputFormat* format = nullptr;
  AVDictionary* options = nullptr;
  if (numbered) {
    // ffmpeg's image2 demuxer: the first image numbered 0 to 4, then every next
    // number; the frame rate is not in the images.
    format = av_find_input_format("image2");
    const AVRational rate = image_rate.num > 0 ? image_rate : AVRational{25, 1};
    av_dict_set(&options, "framerate", (std::to_string(rate.num) + "/" + std::to_string(rate.den)).c_str(), 0);
  }
  int ret = avformat_open_input(&raw, custom_io != nullptr ? "" : url_for(path).c_str(), format, &options);
  av_dict_free(&options);
  if (ret < 0 && numbered) {
    throw Error(ErrorKind::kInput, "cannot open input '" + path + "': " +
                                       (ret == AVERROR(ENOENT) ? std::string("no image of that name numbered 0 to 4 "
                                                                             "(the first image must be one of them)")
                                                               : av_error_text(ret)));
  }
  if (ret < 0) {
    // avformat_open_input frees the context on failure.
    std::string why = av_error_text(ret);
    if (ret == AVERROR_INVALIDDATA) {
      why = "not a video file FFmpeg can read (or truncated / missing its index)";
    }
    throw Error(ErrorKind::kInput, "cannot open input '" + path + "': " + why);
  }
  AvInputPtr input(raw);
  ret = avformat_find_stream_info(input.get(), nullptr);
  if (ret < 0) {
    throw Error(ErrorKind::kInput, "cannot read stream info of '" + path + "': " + av_error_text(ret));
  }
  return input;
}

int pick_video_stream(AVFormatContext* input, int wanted, const std::string& path) {
  if (wanted >= 0) {
    // Say what is there: how many streams, or what stream #N is instead.
    std::string videos;
    for (unsigned i = 0; i < input->nb_streams; ++i) {
      if (input->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
        videos += (videos.empty() ? "" : ", ") + std::string("#") + std::to_string(i);
      }
    }
    const std::string hint = videos.empty() ? "it has no video" : "its video: stream " + videos;
    if (wanted >= static_cast<int>(input->nb_streams)) {
      throw Error(ErrorKind::kInput, "'" + path + "' has no stream #" + std::to_string(wanted) + " (" +
                                         std::to_string(input->nb_streams) + " streams; " + hint + ")");
    }
    const AVMediaType type = input->streams[wanted]->codecpar->codec_type;
    if (type != AVMEDIA_TYPE_VIDEO) {
      const char* name = av_get_media_type_string(type);
      throw Error(ErrorKind::kInput, "'" + path + "' stream #" + std::to_string(wanted) + " is " +
                                         (name != nullptr ? name : "not video") + ", not video (" + hint + ")");
    }
    return wanted;
  }
  for (unsigned i = 0; i < input->nb_streams; ++i) {
    const AVStream* st = input->streams[i];
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && (st->disposition & AV_DISPOSITION_ATTACHED_PIC) == 0) {
      return static_cast<int>(i);
    }
  }
  throw Error(ErrorKind::kInput, "'" + path + "' has no video stream");
}

// Colour tags read from a damaged or hostile file can hold any integer; loading
// one that is out of its enum's range is undefined behaviour (UBSan's -fsanitize=
// enum found this with the fuzzer). Read the raw integer and replace values
// outside [0, count) by `fallback`.
template <typename E>
E checked_enum(const E& field, int count, E fallback) {
  int raw = 0;
  static_assert(sizeof(E) == sizeof(int));
  std::memcpy(&raw, &field, sizeof raw);
  return raw >= 0 && raw < count ? static_cast<E>(raw) : fallback;
}

template <typename E>
void sanitize_enum(E& field, int count, E fallback) {
  const E v = checked_enum(field, count, fallback);
  std::memcpy(&field, &v, sizeof v);
}

// Frame-level tags, in place, before anything reads them as enums.
void sanitize_frame_tags(AVFrame* f) {
  sanitize_enum(f->color_primaries, AVCOL_PRI_NB, AVCOL_PRI_UNSPECIFIED);
  sanitize_enum(f->color_trc, AVCOL_TRC_NB, AVCOL_TRC_UNSPECIFIED);
  sanitize_enum(f->colorspace, AVCOL_SPC_NB, AVCOL_SPC_UNSPECIFIED);
  sanitize_enum(f->color_range, AVCOL_RANGE_NB, AVCOL_RANGE_UNSPECIFIED);
  sanitize_enum(f->chroma_location, AVCHROMA_LOC_NB, AVCHROMA_LOC_UNSPECIFIED);
}

VideoInfo describe(AVFormatContext* input, int index, const std::string& path) {
  VideoInfo info;
  info.path = path;
  info.format = input->iformat->long_name != nullptr ? input->iformat->long_name : input->iformat->name;
  info.stream_index = index;
  AVStream* st = input->streams[index];
  const AVCodecParameters* par = st->codecpar;
  const AVCodecDescriptor* cd = avcodec_descriptor_get(par->codec_id);
  info.codec = cd != nullptr ? cd->name : "unknown";
  info.width = par->width;
  info.height = par->height;
  info.pix_fmt = static_cast<AVPixelFormat>(par->format);
  info.time_base = st->time_base;
  info.frame_rate = av_guess_frame_rate(input, st, nullptr);
  info.sample_aspect_ratio = av_guess_sample_aspect_ratio(input, st, nullptr);
  if (st->duration != AV_NOPTS_VALUE) {
    info.duration = static_cast<double>(st->duration) * av_q2d(st->time_base);
  } else if (input->duration != AV_NOPTS_VALUE) {
    info.duration = static_cast<double>(input->duration) / AV_TIME_BASE;
  }
  info.frame_count = st->nb_frames;
  if (const uint8_t* m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr)) {
    const double r = av_display_rotation_get(reinterpret_cast<const int32_t*>(m));
    info.rotation = std::isnan(r) ? 0.0 : -r;
  }
  info.color_primaries = checked_enum(par->color_primaries, AVCOL_PRI_NB, AVCOL_PRI_UNSPECIFIED);
  info.color_trc = checked_enum(par->color_trc, AVCOL_TRC_NB, AVCOL_TRC_UNSPECIFIED);
  info.colorspace = checked_enum(par->color_space, AVCOL_SPC_NB, AVCOL_SPC_UNSPECIFIED);
  info.color_range = checked_enum(par->color_range, AVCOL_RANGE_NB, AVCOL_RANGE_UNSPECIFIED);
  info.chroma_location = checked_enum(par->chroma_location, AVCHROMA_LOC_NB, AVCHROMA_LOC_UNSPECIFIED);
  const AVFieldOrder field_order = checked_enum(par->field_order, AV_FIELD_BT + 1, AV_FIELD_UNKNOWN);
  info.interlaced = field_order != AV_FIELD_UNKNOWN && field_order != AV_FIELD_PROGRESSIVE;
  for (unsigned i = 0; i < input->nb_streams; ++i) {
    const AVStream* s = input->streams[i];
    StreamInfo si;
    si.index = static_cast<int>(i);
    si.type = media_type_name(s->codecpar->codec_type);
    const AVCodecDescriptor* d = avcodec_descriptor_get(s->codecpar->codec_id);
    si.codec = d != nullptr ? d->name : "unknown";
    si.attached_pic = (s->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0;
    info.streams.push_back(si);
  }
  return info;
}

}  // namespace

int Decoder::interrupt_cb(void* opaque) {
  return static_cast<Decoder*>(opaque)->interrupted_.load(std::memory_order_acquire) ? 1 : 0;
}

int Decoder::read_stdin(void* opaque, uint8_t* buf, int size) {
  auto* r = static_cast<CustomInput*>(opaque);
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (r->interrupted->load(std::memory_order_acquire)) {
      return AVERROR_EXIT;
    }
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 100);
    if (ready > 0) {
      const ssize_t n = ::read(STDIN_FILENO, buf, static_cast<size_t>(size));
      if (n > 0) {
        return static_cast<int>(n);
      }
      if (n == 0) {
        return AVERROR_EOF;
      }
      if (errno != EINTR && errno != EAGAIN) {
        return AVERROR(errno);
      }
    } else if (ready < 0 && errno != EINTR) {
      return AVERROR(errno);
    }
    if (r->timeout > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > r->timeout) {
      r->timed_out = true;
      return AVERROR_EXIT;
    }
  }
}

Decoder::Decoder(const std::string& path, const DecoderOptions& options)
    : path_(path), packet_(make_av_packet()), shells_(make_shell_recycler()) {
  if (options.timeout > 0 && path != "-") {
    throw Error(ErrorKind::kUsage, "--timeout applies to stdin input ('-'), not to '" + path + "'");
  }
  if (options.image_rate.num != 0 && (path == "-" || !is_numbered_images(path))) {
    throw Error(ErrorKind::kUsage,
                "--input-fps gives the frame rate of numbered images (frames/%06d.png), not of '" + path + "'");
  }
  AVIOContext* custom = nullptr;
  if (path == "-") {
    custom = open_custom_input(1 << 16, &Decoder::read_stdin, nullptr);
    custom_input_->interrupted = &interrupted_;
    custom_input_->timeout = options.timeout;
  }
  if (path != "-" && is_numbered_images(path)) {
    numbered_ = NumberedName::parse(path);
  }
  init(options, custom);
}

AVIOContext* Decoder::open_custom_input(int buffer_size, int (*read)(void*, uint8_t*, int),
                                        int64_t (*seek)(void*, int64_t, int)) {
  custom_input_ = std::make_unique<CustomInput>();
  custom_input_->buffer = static_cast<unsigned char*>(av_malloc(static_cast<std::size_t>(buffer_size)));
  if (custom_input_->buffer == nullptr) {
    throw std::bad_alloc();
  }
  custom_input_->avio =
      avio_alloc_context(custom_input_->buffer, buffer_size, 0, custom_input_.get(), read, nullptr, seek);
  if (custom_input_->avio == nullptr) {
    throw std::bad_alloc();
  }
  return custom_input_->avio;
}

Decoder::Decoder(const std::string& name, const uint8_t* data, std::size_t size, const DecoderOptions& options)
    : path_(name), packet_(make_av_packet()), shells_(make_shell_recycler()) {
  AVIOContext* custom = open_custom_input(1 << 15, &Decoder::read_memory, &Decoder::seek_memory);
  custom_input_->mem = data;
  custom_input_->mem_size = size;
  init(options, custom);
}

int Decoder::read_memory(void* opaque, uint8_t* buf, int size) {
  auto* r = static_cast<CustomInput*>(opaque);
  const std::size_t left = r->mem_size - r->mem_pos;
  if (left == 0) {
    return AVERROR_EOF;
  }
  const std::size_t n = std::min(left, static_cast<std::size_t>(size));
  std::memcpy(buf, r->mem + r->mem_pos, n);
  r->mem_pos += n;
  return static_cast<int>(n);
}

int64_t Decoder::seek_memory(void* opaque, int64_t offset, int whence) {
  auto* r = static_cast<CustomInput*>(opaque);
  if ((whence & AVSEEK_SIZE) != 0) {
    return static_cast<int64_t>(r->mem_size);
  }
  int64_t base = 0;
  switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET:
      break;
    case SEEK_CUR:
      base = static_cast<int64_t>(r->mem_pos);
      break;
    case SEEK_END:
      base = static_cast<int64_t>(r->mem_size);
      break;
    default:
      return AVERROR(EINVAL);
  }
  const int64_t pos = base + offset;
  if (pos < 0 || pos > static_cast<int64_t>(r->mem_size)) {
    return AVERROR(EINVAL);
  }
  r->mem_pos = static_cast<std::size_t>(pos);
  return pos;
}

void Decoder::init(const DecoderOptions& options, AVIOContext* custom) {
  const std::string& path = path_;
  AVIOInterruptCB cb{&Decoder::interrupt_cb, this};
  try {
    input_ = open_input(path, &cb, custom, options.image_rate);
  } catch (const Error& e) {
    if (custom_input_ && custom_input_->timed_out) {
      throw Error(ErrorKind::kInput, "stdin: no data for " + std::to_string(options.timeout) + " s while probing");
    }
    throw;
  }
  const int index = pick_video_stream(input_.get(), options.stream, path);
  info_ = describe(input_.get(), index, path);
  if (info_.width <= 0 || info_.height <= 0) {
    throw Error(ErrorKind::kInput, "'" + path + "': video stream has no valid size (" + std::to_string(info_.width) +
                                       "x" + std::to_string(info_.height) + ")");
  }
  if (info_.width > options.max_dimension || info_.height > options.max_dimension) {
    throw Error(ErrorKind::kInput, "'" + path + "': video size " + std::to_string(info_.width) + "x" +
                                       std::to_string(info_.height) + " is above the limit of " +
                                       std::to_string(options.max_dimension) + " pixels per side");
  }
  if (static_cast<int64_t>(info_.width) * info_.height > options.max_pixels) {
    throw Error(ErrorKind::kInput, "'" + path + "': video size " + std::to_string(info_.width) + "x" +
                                       std::to_string(info_.height) + " is above the budget of " +
                                       std::to_string(options.max_pixels) + " pixels per frame (--max-pixels)");
  }
  if (info_.interlaced) {
    warn_interlaced();
  }

  AVStream* st = input_->streams[index];
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (codec == nullptr) {
    throw Error(ErrorKind::kInput, "'" + path + "': no decoder for video codec " + info_.codec);
  }
  codec_.reset(avcodec_alloc_context3(codec));
  if (!codec_) {
    throw std::bad_alloc();
  }
  av_check(avcodec_parameters_to_context(codec_.get(), st->codecpar), ErrorKind::kInput, path);
  codec_->pkt_timebase = st->time_base;
  codec_->thread_count = options.threads;
  codec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  // The decoder itself refuses frames above the budget (a size change mid-stream)
  // before allocating them.
  codec_->max_pixels = options.max_pixels;
  const int ret = avcodec_open2(codec_.get(), codec, nullptr);
  if (ret < 0) {
    throw Error(ErrorKind::kInput,
                "'" + path + "': cannot open the " + info_.codec + " decoder: " + av_error_text(ret));
  }
  // Streams we do not decode are not parsed or discarded: passthrough needs them.
  for (unsigned i = 0; i < input_->nb_streams; ++i) {
    input_->streams[i]->discard = AVDISCARD_DEFAULT;
  }
  if (info_.frame_rate.num > 0 && info_.frame_rate.den > 0) {
    default_duration_ = av_rescale_q(1, av_inv_q(info_.frame_rate), info_.time_base);
  }
  last_width_ = info_.width;
  last_height_ = info_.height;
}

Decoder::~Decoder() = default;

void Decoder::warn_interlaced() {
  if (warned_interlaced_) {
    return;
  }
  warned_interlaced_ = true;
  spdlog::warn(
      "'{}' is interlaced: its frames are processed as progressive pictures (combing is kept and "
      "scaled); deinterlace it first for clean output, e.g. ffmpeg -vf bwdif",
      path_);
}

void Decoder::fix_timestamps(AVFrame* frame, int64_t* duration) {
  int64_t pts = frame->best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) {
    pts = frame->pts;
  }
  if (pts == AV_NOPTS_VALUE) {
    if (!warned_pts_missing_) {
      spdlog::warn("'{}': frames without timestamps; synthesizing them from the frame rate", path_);
      warned_pts_missing_ = true;
    }
    pts = last_pts_ == AV_NOPTS_VALUE ? 0 : last_pts_ + std::max<int64_t>(default_duration_, 1);
  }
  if (last_pts_ != AV_NOPTS_VALUE && pts <= last_pts_) {
    if (!warned_pts_order_) {
      spdlog::warn("'{}': timestamps not increasing at frame pts {}; nudging them forward", path_, pts);
      warned_pts_order_ = true;
    }
    pts = last_pts_ + 1;
  }
  frame->pts = pts;
  last_pts_ = pts;
  *duration = frame->pkt_duration > 0 ? frame->pkt_duration : default_duration_;
}

Frame Decoder::next() {
  for (;;) {
    if (finished_) {
      return {};
    }
    Frame frame = make_shell(shells_, info_.time_base);
    int ret = avcodec_receive_frame(codec_.get(), frame.av());
    if (ret >= 0) {
      sanitize_frame_tags(frame.av());
      int64_t duration = 0;
      fix_timestamps(frame.av(), &duration);
      frame.set_duration(duration);
      if (frame.av()->interlaced_frame != 0) {
        warn_interlaced();
      }
      if (frame.width() != last_width_ || frame.height() != last_height_) {
        ++size_changes_;
        spdlog::warn("'{}': video size changed from {}x{} to {}x{} at {:.3f}s", path_, last_width_, last_height_,
                     frame.width(), frame.height(), frame.seconds());
        last_width_ = frame.width();
        last_height_ = frame.height();
      }
      return frame;
    }
    if (ret == AVERROR_EOF) {
      finished_ = true;
      return {};
    }
    if (ret != AVERROR(EAGAIN)) {
      ++corrupt_packets_;
      spdlog::warn("'{}': decoding error ({}); frame skipped", path_, av_error_text(ret));
      continue;
    }
    if (flushing_) {
      finished_ = true;  // EAGAIN while draining should not happen; stop cleanly
      return {};
    }

    ret = av_read_frame(input_.get(), packet_.get());
    if (ret < 0) {
      if (ret == AVERROR_EXIT && timed_out()) {
        spdlog::error("'{}': no data for {} s; finishing what was read", path_, custom_input_->timeout);
      } else if (ret == AVERROR_EXIT && interrupted_.load(std::memory_order_acquire)) {
        spdlog::info("'{}': input reading stopped on request", path_);
      } else if (ret != AVERROR_EOF) {
        spdlog::warn("'{}': read error ({}); treating it as the end of the input", path_, av_error_text(ret));
        read_error_ = true;
      }
      avcodec_send_packet(codec_.get(), nullptr);
      flushing_ = true;
      continue;
    }
    if (packet_->stream_index == info_.stream_index) {
      ++video_packets_;
      ret = avcodec_send_packet(codec_.get(), packet_.get());
      if (ret < 0 && ret != AVERROR(EAGAIN)) {
        ++corrupt_packets_;
        spdlog::warn("'{}': corrupt video packet at byte {} ({}); skipped", path_, packet_->pos, av_error_text(ret));
      }
    } else if (passthrough_) {
      passthrough_(packet_.get(), input_->streams[packet_->stream_index]);
    }
    av_packet_unref(packet_.get());
  }
}

std::string Decoder::truncation() const {
  if (numbered_ && !interrupted_.load(std::memory_order_acquire)) {
    // ffmpeg's image2 reads from the first image numbered 0 to 4 up to the first
    // missing number, and may stop there without an error: images after a gap
    // would be dropped in silence.
    std::vector<int64_t> numbers;
    for (const std::string& name : numbered_->existing()) {
      if (const std::optional<int64_t> n = numbered_->number_of(name)) {
        numbers.push_back(*n);
      }
    }
    std::sort(numbers.begin(), numbers.end());
    const auto first = std::find_if(numbers.begin(), numbers.end(), [](int64_t n) { return n >= 0 && n <= 4; });
    if (first != numbers.end()) {
      const int64_t missing = *first + video_packets_;
      const auto later = std::upper_bound(numbers.begin(), numbers.end(), missing);
      if (later != numbers.end()) {
        return "image '" + numbered_->file_name(missing) + "' is missing, so the input ends before it (" +
               std::to_string(numbers.end() - later) + " later image(s) not read)";
      }
    }
  }
  if (read_error_) {
    return "a read error ended the input early";
  }
  if (interrupted_.load(std::memory_order_acquire) || last_pts_ == AV_NOPTS_VALUE) {
    return {};
  }
  const AVStream* st = input_->streams[info_.stream_index];
  // The video's own declared duration; the container's only when nothing else
  // (a longer audio track) could explain it.
  double declared = 0;
  if (st->duration != AV_NOPTS_VALUE) {
    declared = static_cast<double>(st->duration) * av_q2d(st->time_base);
  } else if (input_->nb_streams == 1) {
    declared = info_.duration;
  }
  if (declared <= 0) {
    return {};
  }
  const double start =
      st->start_time != AV_NOPTS_VALUE ? static_cast<double>(st->start_time) * av_q2d(st->time_base) : 0.0;
  const double end = static_cast<double>(last_pts_) * av_q2d(info_.time_base) - start +
                     static_cast<double>(default_duration_) * av_q2d(info_.time_base);
  const double frame = info_.frame_rate.num > 0 ? av_q2d(av_inv_q(info_.frame_rate)) : 0.04;
  if (end < declared - std::max(0.5, 3 * frame)) {
    char buf[160];
    std::snprintf(buf, sizeof(buf), "the video ends at %.2f s but the file says %.2f s (truncated?)", end, declared);
    return buf;
  }
  return {};
}

VideoInfo probe_input(const std::string& path, bool count_frames, AVRational image_rate) {
  if (image_rate.num != 0 && (path == "-" || !is_numbered_images(path))) {
    throw Error(ErrorKind::kUsage,
                "--input-fps gives the frame rate of numbered images (frames/%06d.png), not of '" + path + "'");
  }
  AvInputPtr input = open_input(path, nullptr, nullptr, image_rate);
  const int index = pick_video_stream(input.get(), -1, path);
  VideoInfo info = describe(input.get(), index, path);
  if (count_frames) {
    AvPacketPtr pkt = make_av_packet();
    int64_t n = 0;
    while (av_read_frame(input.get(), pkt.get()) >= 0) {
      if (pkt->stream_index == index) {
        ++n;
      }
      av_packet_unref(pkt.get());
    }
    info.frame_count = n;
  }
  return info;
}

}  // namespace framegen
