#include "framegen/pipeline/muxer.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>

#include "framegen/pipeline/audio_transcoder.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/subtitle_transcoder.h"

extern "C" {
#include <libavutil/opt.h>
}

namespace framegen {

namespace {

bool is_ogg(const AVOutputFormat* f) {
  for (const char* name : {"ogg", "ogv", "oga", "opus", "spx"}) {
    if (std::strcmp(f->name, name) == 0) {
      return true;
    }
  }
  return false;
}

bool is_mpeg_ps(const AVOutputFormat* f) {
  for (const char* name : {"mpeg", "vob", "svcd", "vcd", "dvd"}) {
    if (std::strcmp(f->name, name) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool container_refuses(const AVOutputFormat* format, AVCodecID codec) {
  const int answer = avformat_query_codec(format, codec, FF_COMPLIANCE_NORMAL);
  if (answer == 0 && std::strcmp(format->name, "matroska") == 0) {
    // Matroska answers for its native codecs only, but stores any codec with a
    // RIFF tag as V_MS/VFW/FOURCC or A_MS/ACM, as ffmpeg writes utvideo, magicyuv
    // or huffyuv there (they were refused).
    const AVMediaType type = avcodec_get_type(codec);
    const AVCodecTag* const video[] = {avformat_get_riff_video_tags(), nullptr};
    const AVCodecTag* const audio[] = {avformat_get_riff_audio_tags(), nullptr};
    if ((type == AVMEDIA_TYPE_VIDEO && av_codec_get_tag(video, codec) != 0) ||
        (type == AVMEDIA_TYPE_AUDIO && av_codec_get_tag(audio, codec) != 0)) {
      return false;
    }
  }
  if (answer < 0 && std::strcmp(format->name, "gif") == 0) {
    return true;  // unknown, but the GIF muxer takes GIF only (the default codec, answered yes)
  }
  if (answer < 0 && is_ogg(format)) {
    // Ogg takes these only (libavformat answers "unknown" for every codec).
    for (const AVCodecID id : {AV_CODEC_ID_VORBIS, AV_CODEC_ID_OPUS, AV_CODEC_ID_FLAC, AV_CODEC_ID_SPEEX,
                               AV_CODEC_ID_THEORA, AV_CODEC_ID_VP8}) {
      if (codec == id) {
        return false;
      }
    }
    return true;
  }
  if (answer < 0 && is_mpeg_ps(format) && avcodec_get_type(codec) == AVMEDIA_TYPE_AUDIO) {
    // The MPEG program stream muxer's audio list (it answers "unknown" too).
    for (const AVCodecID id : {AV_CODEC_ID_MP1, AV_CODEC_ID_MP2, AV_CODEC_ID_MP3, AV_CODEC_ID_PCM_DVD,
                               AV_CODEC_ID_PCM_S16BE, AV_CODEC_ID_AC3, AV_CODEC_ID_DTS}) {
      if (codec == id) {
        return false;
      }
    }
    return true;
  }
  if (answer < 0 && std::strncmp(format->name, "mxf", 3) == 0 && avcodec_get_type(codec) == AVMEDIA_TYPE_AUDIO) {
    return codec != AV_CODEC_ID_PCM_S16LE && codec != AV_CODEC_ID_PCM_S24LE;  // MXF: PCM audio only
  }
  if (answer < 0) {
    // Unknown: a muxer with no default codec of that kind has no place for it (raw
    // .h264, .y4m, .mjpeg hold one video stream; audio made their header fail). ffmpeg
    // maps no audio or subtitles to such a muxer by the same rule.
    const AVMediaType type = avcodec_get_type(codec);
    if ((type == AVMEDIA_TYPE_AUDIO && format->audio_codec == AV_CODEC_ID_NONE) ||
        (type == AVMEDIA_TYPE_SUBTITLE && format->subtitle_codec == AV_CODEC_ID_NONE)) {
      return true;
    }
  }
  return answer == 0;
}

namespace {

bool is_copyable(AVMediaType t) {
  return t == AVMEDIA_TYPE_AUDIO || t == AVMEDIA_TYPE_SUBTITLE || t == AVMEDIA_TYPE_ATTACHMENT ||
         t == AVMEDIA_TYPE_DATA || t == AVMEDIA_TYPE_VIDEO;
}

}  // namespace

const AVOutputFormat* find_container(const std::string& name) {
  if (name.empty()) {
    return nullptr;
  }
  const AVOutputFormat* f = av_guess_format(name.c_str(), nullptr, nullptr);
  return f != nullptr ? f : av_guess_format(nullptr, ("x." + name).c_str(), nullptr);
}

Muxer::Muxer(const std::string& format_path, const std::string& write_path, AVFormatContext* input,
             int video_input_index, const std::string& container)
    : format_path_(format_path), write_path_(write_path) {
  const AVOutputFormat* ofmt =
      container.empty() ? av_guess_format(nullptr, format_path.c_str(), nullptr) : find_container(container);
  if (ofmt == nullptr && !container.empty()) {
    throw Error(ErrorKind::kUsage, "unknown container '" + container + "'");
  }
  if (ofmt == nullptr) {
    throw Error(ErrorKind::kOutput, "cannot tell the container from the output name '" + format_path +
                                        "' (use an extension such as .mp4, .mkv, .mov, .webm or .png)");
  }
  // Asked per frame (EncodeSink::consume): decided once.
  image_output_ = std::strcmp(ofmt->name, "image2") == 0;
  char numbered[4096];
  numbered_ = av_get_frame_filename2(numbered, sizeof(numbered), format_path.c_str(), 1, 0) >= 0;
  int ret = avformat_alloc_output_context2(&output_, ofmt, nullptr, write_path.c_str());
  if (ret < 0 || output_ == nullptr) {
    throw Error(ErrorKind::kOutput, "cannot create output '" + format_path + "': " + av_error_text(ret));
  }
  av_dict_copy(&output_->metadata, input->metadata, 0);
  // Chapters (as ffmpeg copies them): the output keeps the source's timeline.
  // avformat_free_context frees them.
  if (input->nb_chapters > 0 && !is_image_output()) {
    auto** list = static_cast<AVChapter**>(av_calloc(input->nb_chapters, sizeof(AVChapter*)));
    if (list == nullptr) {
      avformat_free_context(output_);
      throw std::bad_alloc();
    }
    output_->chapters = list;
    for (unsigned i = 0; i < input->nb_chapters; ++i) {
      const AVChapter* in = input->chapters[i];
      auto* ch = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
      if (ch == nullptr) {
        avformat_free_context(output_);
        throw std::bad_alloc();
      }
      ch->id = in->id;
      ch->time_base = in->time_base;
      ch->start = in->start;
      ch->end = in->end;
      av_dict_copy(&ch->metadata, in->metadata, 0);
      list[output_->nb_chapters++] = ch;
    }
  }

  for (unsigned i = 0; i < input->nb_streams; ++i) {
    AVStream* in = input->streams[i];
    const int idx = static_cast<int>(i);
    if (idx == video_input_index) {
      AVStream* out = avformat_new_stream(output_, nullptr);
      if (out == nullptr) {
        throw std::bad_alloc();
      }
      video_out_index_ = out->index;
      av_dict_copy(&out->metadata, in->metadata, 0);
      out->disposition = in->disposition;
      // Rotation travels as a display matrix on the stream.
      size_t size = 0;
      if (const uint8_t* m = av_stream_get_side_data(in, AV_PKT_DATA_DISPLAYMATRIX, &size)) {
        uint8_t* dst = av_stream_new_side_data(out, AV_PKT_DATA_DISPLAYMATRIX, size);
        if (dst != nullptr) {
          std::memcpy(dst, m, size);
        }
      }
      continue;
    }
    const AVMediaType type = in->codecpar->codec_type;
    if (!is_copyable(type)) {
      continue;
    }
    if (is_image_output()) {
      if (type != AVMEDIA_TYPE_ATTACHMENT && type != AVMEDIA_TYPE_DATA) {
        spdlog::warn("'{}': images hold no {}; stream #{} is not written", format_path, av_get_media_type_string(type),
                     idx);
      }
      continue;
    }
    if ((in->disposition & AV_DISPOSITION_ATTACHED_PIC) != 0) {
      spdlog::warn("'{}': cover art stream #{} is not copied", format_path, idx);
      continue;
    }
    // Attachments (fonts, covers in mkv) are no codec: only Matroska carries them.
    const bool attachment_ok = type == AVMEDIA_TYPE_ATTACHMENT && std::strcmp(ofmt->name, "matroska") == 0;
    // libavformat's MXF muxer takes 48 kHz audio only (a 44.1 kHz PCM input failed the header).
    const bool mxf_rate =
        std::strncmp(ofmt->name, "mxf", 3) == 0 && type == AVMEDIA_TYPE_AUDIO && in->codecpar->sample_rate != 48000;
    const bool codec_refused = !attachment_ok && container_refuses(ofmt, in->codecpar->codec_id);
    if (!attachment_ok && (mxf_rate || codec_refused)) {
      const AVCodecDescriptor* d = avcodec_descriptor_get(in->codecpar->codec_id);
      if (type == AVMEDIA_TYPE_DATA && in->codecpar->codec_tag == MKTAG('t', 'm', 'c', 'd')) {
        // A QuickTime timecode track: its start travels as the "timecode" tag, from
        // which MOV/MP4 write a new track (as ffmpeg, which maps no data streams).
        spdlog::info("'{}': timecode track #{} is not copied; its timecode tag is", format_path, idx);
        continue;
      }
      // Audio is re-encoded to the container's own audio codec where it has one, as
      // ffmpeg does (AAC into .webm became no audio at all).
      std::string why;
      if (type == AVMEDIA_TYPE_AUDIO && ofmt->audio_codec != AV_CODEC_ID_NONE &&
          !container_refuses(ofmt, ofmt->audio_codec)) {
        try {
          auto transcoder = std::make_unique<AudioTranscoder>(in, ofmt->audio_codec, ofmt);
          add_encoded_stream(in, transcoder->encoder());
          spdlog::warn("'{}': the {} container cannot hold {} audio{}; stream #{} is re-encoded: {}", format_path,
                       ofmt->name, d != nullptr ? d->name : "this",
                       mxf_rate && !codec_refused ? " at " + std::to_string(in->codecpar->sample_rate) + " Hz" : "",
                       idx, transcoder->description());
          transcoders_[idx] = std::move(transcoder);
          continue;
        } catch (const Error& e) {
          why = std::string(" (re-encoding it failed: ") + e.what() + ")";
        }
      }
      // Text subtitles likewise: to the container's own text codec (WebVTT for WebM),
      // or mov_text where it holds that (MP4/MOV name no default; ffmpeg drops them
      // there unless told -c:s mov_text).
      AVCodecID sub_codec = ofmt->subtitle_codec;
      if (sub_codec == AV_CODEC_ID_NONE &&
          avformat_query_codec(ofmt, AV_CODEC_ID_MOV_TEXT, FF_COMPLIANCE_NORMAL) == 1) {
        sub_codec = AV_CODEC_ID_MOV_TEXT;
      }
      if (type == AVMEDIA_TYPE_SUBTITLE && sub_codec != AV_CODEC_ID_NONE && !container_refuses(ofmt, sub_codec)) {
        try {
          auto transcoder = std::make_unique<SubtitleTranscoder>(in, sub_codec);
          add_encoded_stream(in, transcoder->encoder());
          spdlog::warn("'{}': the {} container cannot hold {} subtitles; stream #{} is converted: {}", format_path,
                       ofmt->name, d != nullptr ? d->name : "these", idx, transcoder->description());
          subtitle_transcoders_[idx] = std::move(transcoder);
          continue;
        } catch (const Error& e) {
          why = std::string(" (converting it failed: ") + e.what() + ")";
        }
      }
      spdlog::warn("'{}': the {} container cannot hold {} stream #{} ({}); it is not copied{}", format_path, ofmt->name,
                   av_get_media_type_string(type), idx, d != nullptr ? d->name : "unknown codec", why);
      continue;
    }
    AVStream* out = avformat_new_stream(output_, nullptr);
    if (out == nullptr) {
      throw std::bad_alloc();
    }
    av_check(avcodec_parameters_copy(out->codecpar, in->codecpar), ErrorKind::kOutput, "copy stream parameters");
    // The input container's codec tag may mean nothing in the output container.
    unsigned int tag = 0;
    if (av_codec_get_tag2(ofmt->codec_tag, in->codecpar->codec_id, &tag) == 0 || tag != in->codecpar->codec_tag) {
      out->codecpar->codec_tag = 0;
    }
    out->time_base = in->time_base;
    out->disposition = in->disposition;
    av_dict_copy(&out->metadata, in->metadata, 0);
    stream_map_[idx] = out->index;
    input_time_base_[idx] = in->time_base;
  }

  if ((ofmt->flags & AVFMT_NOFILE) != 0) {
    // The muxer opens its files itself (HLS/DASH segments, images): through us.
    // HLS and DASH hand these callbacks and `opaque` on to their segment muxers.
    default_io_open_ = output_->io_open;
    default_io_close2_ = output_->io_close2;
    output_->opaque = this;
    output_->io_open = &Muxer::io_open_hook;
    output_->io_close2 = &Muxer::io_close2_hook;
  } else {
    ret = avio_open(&output_->pb, write_path.c_str(), AVIO_FLAG_WRITE);
    if (ret < 0) {
      avformat_free_context(output_);
      output_ = nullptr;
      throw Error(ErrorKind::kOutput, "cannot create output '" + format_path + "': " + av_error_text(ret));
    }
  }
}

Muxer::~Muxer() {
  if (output_ != nullptr) {
    if (output_->pb != nullptr && (output_->oformat->flags & AVFMT_NOFILE) == 0) {
      avio_closep(&output_->pb);
    }
    avformat_free_context(output_);
  }
  if (!finished_ok_) {
    // A failed job: the files the muxer wrote itself go too (HLS/DASH segments;
    // image sequences are written in a temporary folder, deleted by the caller).
    for (const std::string& f : own_files_) {
      std::remove(f.c_str());
    }
  }
}

int Muxer::io_open_hook(AVFormatContext* s, AVIOContext** pb, const char* url, int flags, AVDictionary** options) {
  auto* self = static_cast<Muxer*>(s->opaque);
  const int ret = self->default_io_open_(s, pb, url, flags, options);
  if (ret >= 0 && (flags & AVIO_FLAG_WRITE) != 0 && url != nullptr) {
    std::string path = url;
    if (path.rfind("file:", 0) == 0) {
      path.erase(0, 5);
    }
    // Images (a file per frame) need no list: a sequence is written in a temporary
    // folder that the caller deletes. DASH writes NAME.tmp and renames it to NAME
    // when closed: both are its files.
    if (!self->image_output_) {
      self->own_files_.insert(path);
      const std::string suffix = ".tmp";
      if (path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        self->own_files_.insert(path.substr(0, path.size() - suffix.size()));
      }
    }
    self->open_files_[*pb] = path;
  }
  return ret;
}

int Muxer::io_close2_hook(AVFormatContext* s, AVIOContext* pb) {
  auto* self = static_cast<Muxer*>(s->opaque);
  std::string path;
  if (const auto it = self->open_files_.find(pb); it != self->open_files_.end()) {
    path = it->second;
    self->open_files_.erase(it);
  }
  // HLS ignores what closing a segment returns: a segment cut short by a full disk
  // (or a file size limit) was listed in the playlist as whole.
  int error = 0;
  if ((pb->write_flag) != 0) {
    avio_flush(pb);
    error = pb->error;
  }
  const int ret = self->default_io_close2_(s, pb);
  if (error >= 0) {
    error = ret;
  }
  if (error < 0 && self->io_error_ == 0) {
    self->io_error_ = error;
    // Images are written under temporary names: named by the output's pattern.
    self->io_error_file_ = path.empty() || self->image_output_ ? self->format_path_ : path;
  }
  return error;
}

void Muxer::check_io_locked() const {
  if (io_error_ < 0) {
    throw Error(ErrorKind::kOutput, "cannot write to '" + io_error_file_ + "': " + av_error_text(io_error_));
  }
}

bool Muxer::counts_frames() const {
  const char* name = output_->oformat->name;
  return std::strncmp(name, "mxf", 3) == 0 || std::strcmp(name, "gxf") == 0 || std::strcmp(name, "dv") == 0 ||
         std::strcmp(name, "avi") == 0 || std::strcmp(name, "yuv4mpegpipe") == 0;
}

bool Muxer::is_image_output() const { return image_output_; }

bool Muxer::is_image_sequence() const { return image_output_ && numbered_; }

bool Muxer::is_single_image() const { return image_output_ && !numbered_; }

void Muxer::open_video(const AVCodecContext* encoder) {
  std::lock_guard lock(mutex_);
  AVStream* out = output_->streams[video_out_index_];
  av_check(avcodec_parameters_from_context(out->codecpar, encoder), ErrorKind::kOutput, "video stream parameters");
  out->time_base = encoder->time_base;
  out->avg_frame_rate = encoder->framerate;
  out->sample_aspect_ratio = encoder->sample_aspect_ratio;
  // The encoder's coded side data (CPB properties), as ffmpeg passes it on: the
  // MPEG program stream muxer sizes its mux rate from it. Without it that muxer
  // took the nominal bit_rate (200 kb/s for mpeg1video), far under the real one,
  // and logged "buffer underflow" by the hundred.
  for (int i = 0; i < encoder->nb_coded_side_data; ++i) {
    const AVPacketSideData& sd = encoder->coded_side_data[i];
    uint8_t* dst = av_stream_new_side_data(out, sd.type, sd.size);
    if (dst == nullptr) {
      throw Error(ErrorKind::kOutput, "video stream side data: out of memory");
    }
    std::memcpy(dst, sd.data, sd.size);
  }

  AVDictionary* opts = nullptr;
  const std::string name = output_->oformat->name;
  if (name.find("mp4") != std::string::npos || name.find("mov") != std::string::npos) {
    // faststart moves the index to the front at the end, which needs seeking; a
    // pipe gets fragments, each playable as it arrives.
    const bool seekable = output_->pb == nullptr || (output_->pb->seekable & AVIO_SEEKABLE_NORMAL) != 0;
    av_dict_set(&opts, "movflags", seekable ? "+faststart" : "+frag_keyframe+empty_moov+default_base_moof", 0);
  }
  if (is_single_image()) {
    av_dict_set(&opts, "update", "1", 0);
  }
  const int ret = avformat_write_header(output_, &opts);
  av_dict_free(&opts);
  if (ret < 0) {
    throw Error(ErrorKind::kOutput, "cannot write the header of '" + format_path_ + "': " + av_error_text(ret));
  }
  header_written_ = true;
  while (!held_.empty()) {
    auto [pkt, in_index] = std::move(held_.front());
    held_.pop_front();
    AVPacket* p = pkt.get();
    p->stream_index = in_index;
    copy_passthrough_locked(p);
  }
}

void Muxer::write_locked(AVPacket* packet) {
  const int ret = av_interleaved_write_frame(output_, packet);
  check_io_locked();
  if (ret < 0) {
    throw Error(ErrorKind::kOutput, "cannot write to '" + format_path_ + "': " + av_error_text(ret));
  }
}

void Muxer::write_video(AVPacket* packet, AVRational encoder_time_base) {
  std::lock_guard lock(mutex_);
  AVStream* out = output_->streams[video_out_index_];
  av_packet_rescale_ts(packet, encoder_time_base, out->time_base);
  packet->stream_index = video_out_index_;
  write_locked(packet);
}

void Muxer::add_encoded_stream(const AVStream* in, const AVCodecContext* encoder) {
  AVStream* out = avformat_new_stream(output_, nullptr);
  if (out == nullptr) {
    throw std::bad_alloc();
  }
  av_check(avcodec_parameters_from_context(out->codecpar, encoder), ErrorKind::kOutput,
           std::string(av_get_media_type_string(encoder->codec_type)) + " stream parameters");
  out->time_base = encoder->time_base;
  out->disposition = in->disposition;
  av_dict_copy(&out->metadata, in->metadata, 0);
  stream_map_[in->index] = out->index;
  input_time_base_[in->index] = in->time_base;
}

std::function<void(AVPacket*)> Muxer::encoded_writer(AVStream* out, const AVCodecContext* encoder) {
  return [this, out, tb = encoder->time_base](AVPacket* encoded) {
    av_packet_rescale_ts(encoded, tb, out->time_base);
    encoded->stream_index = out->index;
    write_locked(encoded);
  };
}

void Muxer::copy_passthrough_locked(AVPacket* packet) {
  const int in_index = packet->stream_index;
  AVStream* out = output_->streams[stream_map_.at(in_index)];
  if (auto t = transcoders_.find(in_index); t != transcoders_.end()) {
    t->second->send(packet, encoded_writer(out, t->second->encoder()));
    return;
  }
  if (auto t = subtitle_transcoders_.find(in_index); t != subtitle_transcoders_.end()) {
    t->second->send(packet, encoded_writer(out, t->second->encoder()));
    return;
  }
  av_packet_rescale_ts(packet, input_time_base_.at(in_index), out->time_base);
  packet->stream_index = out->index;
  packet->pos = -1;
  write_locked(packet);
  ++passthrough_packets_;
}

void Muxer::write_passthrough(AVPacket* packet, const AVStream* stream) {
  std::lock_guard lock(mutex_);
  if (finished_ || stream_map_.find(stream->index) == stream_map_.end()) {
    return;
  }
  if (!header_written_) {
    AvPacketPtr held = make_av_packet();
    av_packet_move_ref(held.get(), packet);
    held_.emplace_back(std::move(held), stream->index);
    return;
  }
  copy_passthrough_locked(packet);
}

void Muxer::finish() {
  std::lock_guard lock(mutex_);
  if (!header_written_) {
    throw Error(ErrorKind::kProcessing, "no video frame was decoded; nothing written to '" + format_path_ + "'");
  }
  finished_ = true;
  for (auto& [in_index, transcoder] : transcoders_) {
    transcoder->flush(encoded_writer(output_->streams[stream_map_.at(in_index)], transcoder->encoder()));
  }
  int ret = av_write_trailer(output_);
  check_io_locked();
  if (ret < 0) {
    throw Error(ErrorKind::kOutput, "cannot finish '" + format_path_ + "': " + av_error_text(ret));
  }
  if (output_->pb != nullptr && (output_->oformat->flags & AVFMT_NOFILE) == 0) {
    avio_flush(output_->pb);
    ret = output_->pb->error;
    const int close_ret = avio_closep(&output_->pb);
    if (ret < 0 || close_ret < 0) {
      throw Error(ErrorKind::kOutput,
                  "cannot finish '" + format_path_ + "': " + av_error_text(ret < 0 ? ret : close_ret));
    }
  }
  finished_ok_ = true;
}

int64_t Muxer::passthrough_packets() const {
  std::lock_guard lock(mutex_);
  return passthrough_packets_;
}

}  // namespace framegen
