#include "framegen/pipeline/subtitle_transcoder.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <vector>

#include "framegen/pipeline/error.h"

namespace framegen {

namespace {

bool is_text(AVCodecID id) {
  const AVCodecDescriptor* d = avcodec_descriptor_get(id);
  return d != nullptr && (d->props & AV_CODEC_PROP_TEXT_SUB) != 0;
}

}  // namespace

SubtitleTranscoder::SubtitleTranscoder(const AVStream* in, AVCodecID codec) : in_time_base_(in->time_base) {
  const AVCodecParameters* par = in->codecpar;
  if (!is_text(par->codec_id) || !is_text(codec)) {
    throw Error(ErrorKind::kProcessing, "bitmap subtitles cannot become text");
  }
  const AVCodec* dec = avcodec_find_decoder(par->codec_id);
  const AVCodec* enc = avcodec_find_encoder(codec);
  if (dec == nullptr || enc == nullptr) {
    throw Error(ErrorKind::kProcessing, std::string("no ") + (dec == nullptr ? "decoder" : "encoder"));
  }
  decoder_.reset(avcodec_alloc_context3(dec));
  encoder_.reset(avcodec_alloc_context3(enc));
  if (!decoder_ || !encoder_) {
    throw std::bad_alloc();
  }
  av_check(avcodec_parameters_to_context(decoder_.get(), par), ErrorKind::kProcessing, "subtitle decoder parameters");
  decoder_->pkt_timebase = in->time_base;
  av_check(avcodec_open2(decoder_.get(), dec, nullptr), ErrorKind::kProcessing,
           std::string("cannot open the ") + dec->name + " decoder");
  // The decoder's ASS header (styles) is the encoder's too, as ffmpeg hands it on.
  if (decoder_->subtitle_header != nullptr && decoder_->subtitle_header_size > 0) {
    const auto size = static_cast<std::size_t>(decoder_->subtitle_header_size);
    encoder_->subtitle_header = static_cast<uint8_t*>(av_mallocz(size + 1));
    if (encoder_->subtitle_header == nullptr) {
      throw std::bad_alloc();
    }
    std::memcpy(encoder_->subtitle_header, decoder_->subtitle_header, size);
    encoder_->subtitle_header_size = decoder_->subtitle_header_size;
  }
  encoder_->time_base = AVRational{1, 1000};
  encoder_->width = par->width;
  encoder_->height = par->height;
  av_check(avcodec_open2(encoder_.get(), enc, nullptr), ErrorKind::kProcessing,
           std::string("cannot open the ") + enc->name + " encoder");
  description_ = std::string(avcodec_get_name(par->codec_id)) + " -> " + avcodec_get_name(codec);
}

SubtitleTranscoder::~SubtitleTranscoder() = default;

const AVCodecContext* SubtitleTranscoder::encoder() const { return encoder_.get(); }

std::string SubtitleTranscoder::description() const { return description_; }

void SubtitleTranscoder::send(const AVPacket* packet, const std::function<void(AVPacket*)>& write) {
  AVSubtitle sub{};
  int got = 0;
  // avcodec_decode_subtitle2 takes a non-const packet but does not change it.
  const int ret = avcodec_decode_subtitle2(decoder_.get(), &sub, &got, const_cast<AVPacket*>(packet));
  if (ret < 0) {
    spdlog::warn("subtitle decoder {}: {}; the cue is skipped", decoder_->codec->name, av_error_text(ret));
    return;
  }
  if (got == 0) {
    return;
  }
  // The cue's start and duration, in milliseconds from the packet's timing (as
  // ffmpeg does: the decoded start_display_time is relative to it).
  const int64_t start_ms = packet->pts != AV_NOPTS_VALUE ? av_rescale_q(packet->pts, in_time_base_, {1, 1000}) : 0;
  const int64_t duration_ms = packet->duration > 0 ? av_rescale_q(packet->duration, in_time_base_, {1, 1000})
                                                   : static_cast<int64_t>(sub.end_display_time);
  sub.end_display_time = static_cast<uint32_t>(duration_ms);
  sub.start_display_time = 0;
  std::vector<uint8_t> buf(1 << 16);
  const int size = avcodec_encode_subtitle(encoder_.get(), buf.data(), static_cast<int>(buf.size()), &sub);
  avsubtitle_free(&sub);
  if (size < 0) {
    spdlog::warn("subtitle encoder {}: {}; the cue is skipped", encoder_->codec->name, av_error_text(size));
    return;
  }
  av_packet_unref(packet_.get());
  av_check(av_new_packet(packet_.get(), size), ErrorKind::kProcessing, "subtitle packet");
  std::memcpy(packet_->data, buf.data(), static_cast<std::size_t>(size));
  packet_->pts = start_ms;
  packet_->dts = start_ms;
  packet_->duration = duration_ms;
  write(packet_.get());
}

}  // namespace framegen
