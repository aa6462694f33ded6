#include "framegen/pipeline/encoder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "framegen/pipeline/error.h"
#include "framegen/pipeline/scaler.h"

extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace framegen {

const AVCodec* find_video_encoder(const std::string& name) {
  const AVCodec* codec = avcodec_find_encoder_by_name(name.c_str());
  if (codec == nullptr) {
    throw Error(ErrorKind::kUsage, "unknown encoder '" + name + "' (try libx264, libx265, libvpx-vp9, ffv1, png)");
  }
  if (codec->type != AVMEDIA_TYPE_VIDEO) {
    throw Error(ErrorKind::kUsage, "'" + name + "' is not a video encoder");
  }
  return codec;
}

AVPixelFormat choose_encoder_pix_fmt(const AVCodec* codec, AVPixelFormat input, const std::string& requested) {
  const AVPixelFormat* list = codec->pix_fmts;
  // Palette formats (pal8) are never produced: a scaled or synthesised frame has
  // colours no palette holds, and the scaler cannot write them.
  // Nor hardware surfaces (vaapi, qsv, cuda): framegen's frames are in memory.
  auto paletted = [](AVPixelFormat f) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(f);
    return d != nullptr && (d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)) != 0;
  };
  // Nor the deprecated full-range "J" aliases where the encoder lists the plain
  // format too (libx264 got yuvj444p for an RGBA input), except for MJPEG (below).
  auto listed = [list](AVPixelFormat f) {
    for (const AVPixelFormat* p = list; *p != AV_PIX_FMT_NONE; ++p) {
      if (*p == f) {
        return true;
      }
    }
    return false;
  };
  std::vector<AVPixelFormat> candidates;
  if (list != nullptr) {
    for (const AVPixelFormat* p = list; *p != AV_PIX_FMT_NONE; ++p) {
      const bool j_alias = codec->id != AV_CODEC_ID_MJPEG && without_j(*p) != *p && listed(without_j(*p));
      if (!paletted(*p) && !j_alias) {
        candidates.push_back(*p);
      }
    }
    candidates.push_back(AV_PIX_FMT_NONE);
  }
  auto supported = [&candidates, list](AVPixelFormat f) {
    return list == nullptr || std::find(candidates.begin(), candidates.end() - 1, f) != candidates.end() - 1;
  };
  if (!requested.empty()) {
    const AVPixelFormat f = av_get_pix_fmt(requested.c_str());
    if (f == AV_PIX_FMT_NONE) {
      throw Error(ErrorKind::kUsage, "unknown pixel format '" + requested + "'");
    }
    if (paletted(f)) {
      throw Error(ErrorKind::kUsage, "pixel format " + requested +
                                         " is a palette or a hardware surface: framegen writes the frames it makes "
                                         "in memory, in full colour (rgb24, rgba, yuv420p, ...)");
    }
    if (!supported(f)) {
      throw Error(ErrorKind::kUsage,
                  std::string("encoder ") + codec->name + " does not take pixel format " + requested);
    }
    return f;
  }
  // Full-range "J" formats are deprecated aliases: the range travels in the tags.
  // A palette input (pal8 PNG, BMP, TIFF) is taken as the RGBA its palette holds.
  AVPixelFormat want = paletted(input) ? AV_PIX_FMT_RGBA : without_j(input);
  if (codec->id == AV_CODEC_ID_MJPEG) {
    // JPEG is full range: mjpeg refuses limited-range YUV ("non-standard") and the
    // J format makes the scaler convert to full range.
    for (const auto& [yuv, j] : {std::pair{AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P},
                                 std::pair{AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUVJ422P},
                                 std::pair{AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUVJ444P}}) {
      if (want == yuv && supported(j)) {
        return j;
      }
    }
  }
  if (want != AV_PIX_FMT_NONE && supported(want)) {
    return want;
  }
  if (list == nullptr) {
    return AV_PIX_FMT_YUV420P;
  }
  // has_alpha: losing the input's alpha counts against a format (with 0, a
  // yuva444p12le input got prores_ks's yuv444p10le, not its yuva444p10le).
  const AVPixFmtDescriptor* wd = av_pix_fmt_desc_get(want);
  const int has_alpha = wd != nullptr && (wd->flags & AV_PIX_FMT_FLAG_ALPHA) != 0 ? 1 : 0;
  if (candidates.size() == 1) {
    throw Error(ErrorKind::kUsage, std::string("encoder ") + codec->name +
                                       " takes palette images or hardware surfaces only; framegen hands it frames in "
                                       "memory (libx264 or libx265 take those)");
  }
  return avcodec_find_best_pix_fmt_of_list(candidates.data(), want == AV_PIX_FMT_NONE ? AV_PIX_FMT_YUV420P : want,
                                           has_alpha, nullptr);
}

EncodeSink::EncodeSink(Muxer& muxer, const VideoInfo& source, EncoderOptions options)
    : muxer_(muxer),
      source_(source),
      options_(std::move(options)),
      codec_def_(find_video_encoder(options_.codec)),
      packet_(make_av_packet()) {}

EncodeSink::~EncodeSink() = default;

void EncodeSink::open(const Frame& first) {
  codec_.reset(avcodec_alloc_context3(codec_def_));
  if (!codec_) {
    throw std::bad_alloc();
  }
  AVCodecContext* c = codec_.get();
  c->width = first.width();
  c->height = first.height();
  c->pix_fmt = first.format();
  c->time_base = first.time_base();
  if (source_.frame_rate.num > 0) {
    c->framerate = source_.frame_rate;
    // MPEG-1/2 video, DV and Theora also need the frame period as the time base
    // (MPEG-1/2 refused 1/15360; Theora took it as the frame rate).
    const AVCodecID id = codec_def_->id;
    if (muxer_.counts_frames() || id == AV_CODEC_ID_MPEG1VIDEO || id == AV_CODEC_ID_MPEG2VIDEO ||
        id == AV_CODEC_ID_DVVIDEO || id == AV_CODEC_ID_THEORA) {
      c->time_base = av_inv_q(source_.frame_rate);
    }
  }
  c->sample_aspect_ratio = source_.sample_aspect_ratio;
  c->color_primaries = source_.color_primaries;
  c->color_trc = source_.color_trc;
  c->colorspace = source_.colorspace;
  c->color_range = source_.color_range;
  c->chroma_sample_location = source_.chroma_location;
  c->thread_count = options_.threads;
  if (muxer_.needs_global_header()) {
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  }
  if (options_.bitrate > 0) {
    c->bit_rate = options_.bitrate;
  }
  AVDictionary* opts = nullptr;
  if (options_.crf >= 0) {
    av_dict_set_int(&opts, "crf", options_.crf, 0);
    if (options_.codec == "libvpx-vp9" && options_.bitrate == 0) {
      c->bit_rate = 0;  // constant quality mode
    }
  }
  if (!options_.preset.empty()) {
    av_dict_set(&opts, options_.codec == "libvpx-vp9" ? "deadline" : "preset", options_.preset.c_str(), 0);
  }
  if (options_.codec == "libvpx-vp9" && options_.preset.empty()) {
    av_dict_set(&opts, "deadline", "realtime", 0);
    av_dict_set(&opts, "cpu-used", "8", 0);
    av_dict_set(&opts, "row-mt", "1", 0);
  }
  const int ret = avcodec_open2(c, codec_def_, &opts);
  std::string unused;
  AVDictionaryEntry* e = nullptr;
  while ((e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX)) != nullptr) {
    unused += std::string(unused.empty() ? "" : ", ") + e->key;
  }
  av_dict_free(&opts);
  if (ret < 0) {
    // Hardware encoders (nvenc, qsv, v4l2m2m, ...) fail here without their device.
    const bool hardware = (codec_def_->capabilities & AV_CODEC_CAP_HARDWARE) != 0 ||
                          (codec_def_->capabilities & AV_CODEC_CAP_HYBRID) != 0;
    throw Error(ErrorKind::kOutput, "cannot open encoder " + options_.codec + " for " + std::to_string(c->width) + "x" +
                                        std::to_string(c->height) + " " + av_get_pix_fmt_name(c->pix_fmt) + ": " +
                                        av_error_text(ret) +
                                        (hardware ? " (a hardware encoder: it needs its device and driver on this "
                                                    "machine; libx264 or libx265 run on the CPU)"
                                                  : ""));
  }
  if (!unused.empty()) {
    throw Error(ErrorKind::kUsage, "encoder " + options_.codec + " does not accept option(s): " + unused);
  }
  muxer_.open_video(c);
}

void EncodeSink::drain(bool flush) {
  if (flush) {
    av_check(avcodec_send_frame(codec_.get(), nullptr), ErrorKind::kProcessing, "flushing encoder " + options_.codec);
  }
  for (;;) {
    const int ret = avcodec_receive_packet(codec_.get(), packet_.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
      return;
    }
    av_check(ret, ErrorKind::kProcessing, "encoder " + options_.codec);
    if (packet_->duration <= 0) {
      // Containers need the last packet's duration to keep the last frame.
      packet_->duration = last_duration_;
    }
    muxer_.write_video(packet_.get(), codec_->time_base);
    av_packet_unref(packet_.get());
  }
}

void EncodeSink::consume(Frame frame) {
  if (!codec_) {
    open(frame);
  }
  if (muxer_.is_single_image() && frames_ >= 1) {
    // Keeping the first frame and dropping the rest would be a silently cut output.
    throw Error(ErrorKind::kOutput, "'" + muxer_.format_path() +
                                        "' is a single image, but the input has more than one frame; write a video "
                                        "(.mp4, .mkv, .gif, ...) or numbered images (frames/%06d.png) instead");
  }
  if (frame.width() != codec_->width || frame.height() != codec_->height || frame.format() != codec_->pix_fmt) {
    throw Error(ErrorKind::kProcessing,
                "frame at " + std::to_string(frame.seconds()) + "s does not match the encoder's size or format");
  }
  AVFrame* f = frame.av();
  if (frame.time_base().num != codec_->time_base.num || frame.time_base().den != codec_->time_base.den) {
    f->pts = av_rescale_q(f->pts, frame.time_base(), codec_->time_base);
  }
  f->pict_type = AV_PICTURE_TYPE_NONE;
  if (frame.duration() > 0) {
    last_duration_ = av_rescale_q(frame.duration(), frame.time_base(), codec_->time_base);
  } else if (codec_->framerate.num > 0) {
    last_duration_ = av_rescale_q(1, av_inv_q(codec_->framerate), codec_->time_base);
  }
  av_check(avcodec_send_frame(codec_.get(), f), ErrorKind::kProcessing, "encoder " + options_.codec);
  ++frames_;
  drain(false);
  if (progress_) {
    progress_(frames_, frame.seconds());
  }
}

void EncodeSink::finish() {
  if (codec_) {
    drain(true);
  }
  muxer_.finish();
}

}  // namespace framegen
