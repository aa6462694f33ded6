#include "framegen/pipeline/audio_transcoder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "framegen/pipeline/error.h"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

namespace framegen {

namespace {

struct FilterGraphDeleter {
  void operator()(AVFilterGraph* g) const { avfilter_graph_free(&g); }
};

std::string layout_name(const AVChannelLayout& layout) {
  char buf[128] = {};
  if (av_channel_layout_describe(&layout, buf, sizeof buf) < 0) {
    return std::to_string(layout.nb_channels) + " channels";
  }
  return buf;
}

// The input's layout with a known channel order (an unspecified order, "2 channels",
// becomes the default layout of that many channels: stereo).
AVChannelLayout ordered_layout(const AVChannelLayout& in) {
  AVChannelLayout out{};
  if (in.order == AV_CHANNEL_ORDER_UNSPEC || in.nb_channels <= 0) {
    av_channel_layout_default(&out, in.nb_channels > 0 ? in.nb_channels : 2);
  } else {
    av_channel_layout_copy(&out, &in);
  }
  return out;
}

}  // namespace

struct AudioTranscoder::Impl {
  AvCodecContextPtr decoder;
  AvCodecContextPtr encoder;
  std::unique_ptr<AVFilterGraph, FilterGraphDeleter> graph;
  AVFilterContext* source = nullptr;
  AVFilterContext* sink = nullptr;
  // What the graph was built for: a decoded frame with other parameters (a TV
  // recording's audio switching from stereo to 5.1) gets a new graph.
  int graph_rate = 0;
  int graph_format = -1;
  AVChannelLayout graph_layout{};
  std::unique_ptr<AVAudioFifo, void (*)(AVAudioFifo*)> fifo{nullptr, av_audio_fifo_free};
  AvFramePtr decoded = make_av_frame();
  AvFramePtr converted = make_av_frame();
  AvPacketPtr packet = make_av_packet();
  AVRational in_time_base{1, 1};
  std::string description;
  std::string converter_args;         // aformat's: the encoder's format, rate and layout
  int64_t next_pts = AV_NOPTS_VALUE;  // encoder time base: the next sample to encode

  ~Impl() { av_channel_layout_uninit(&graph_layout); }

  void encode(AVFrame* frame, const std::function<void(AVPacket*)>& write) {
    const int sent = avcodec_send_frame(encoder.get(), frame);
    if (sent < 0 && sent != AVERROR_EOF) {
      throw Error(ErrorKind::kProcessing,
                  "audio encoder " + std::string(encoder->codec->name) + ": " + av_error_text(sent));
    }
    for (;;) {
      const int ret = avcodec_receive_packet(encoder.get(), packet.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return;
      }
      av_check(ret, ErrorKind::kProcessing, "audio encoder " + std::string(encoder->codec->name));
      write(packet.get());
      av_packet_unref(packet.get());
    }
  }

  // abuffer (this frame's format, rate and layout) -> aformat (the encoder's) -> abuffersink.
  void build_graph(const AVFrame* like) {
    graph.reset(avfilter_graph_alloc());
    if (!graph) {
      throw std::bad_alloc();
    }
    AVChannelLayout layout = ordered_layout(like->ch_layout);
    const std::string src_args = "time_base=" + std::to_string(in_time_base.num) + "/" +
                                 std::to_string(in_time_base.den) +
                                 ":sample_rate=" + std::to_string(like->sample_rate) +
                                 ":sample_fmt=" + av_get_sample_fmt_name(static_cast<AVSampleFormat>(like->format)) +
                                 ":channel_layout=" + layout_name(layout);
    av_channel_layout_uninit(&graph_layout);
    av_channel_layout_copy(&graph_layout, &like->ch_layout);
    av_channel_layout_uninit(&layout);
    graph_rate = like->sample_rate;
    graph_format = like->format;
    av_check(avfilter_graph_create_filter(&source, avfilter_get_by_name("abuffer"), "in", src_args.c_str(), nullptr,
                                          graph.get()),
             ErrorKind::kProcessing, "audio conversion input (" + src_args + ")");
    av_check(
        avfilter_graph_create_filter(&sink, avfilter_get_by_name("abuffersink"), "out", nullptr, nullptr, graph.get()),
        ErrorKind::kProcessing, "audio conversion output");
    AVFilterContext* aformat = nullptr;
    av_check(avfilter_graph_create_filter(&aformat, avfilter_get_by_name("aformat"), "format", converter_args.c_str(),
                                          nullptr, graph.get()),
             ErrorKind::kProcessing, "audio conversion (" + converter_args + ")");
    av_check(avfilter_link(source, 0, aformat, 0), ErrorKind::kProcessing, "audio conversion");
    av_check(avfilter_link(aformat, 0, sink, 0), ErrorKind::kProcessing, "audio conversion");
    av_check(avfilter_graph_config(graph.get(), nullptr), ErrorKind::kProcessing, "audio conversion");
  }

  [[nodiscard]] bool graph_fits(const AVFrame* f) const {
    return graph && f->sample_rate == graph_rate && f->format == graph_format &&
           av_channel_layout_compare(&f->ch_layout, &graph_layout) == 0;
  }

  // Encodes what the FIFO holds in frames of the encoder's frame size (all of it,
  // the last one short, at the end).
  void encode_fifo(bool all, const std::function<void(AVPacket*)>& write) {
    const int size = encoder->frame_size;
    while (av_audio_fifo_size(fifo.get()) >= size || (all && av_audio_fifo_size(fifo.get()) > 0)) {
      AvFramePtr f = make_av_frame();
      f->nb_samples = std::min(size, av_audio_fifo_size(fifo.get()));
      f->format = encoder->sample_fmt;
      f->sample_rate = encoder->sample_rate;
      av_check(av_channel_layout_copy(&f->ch_layout, &encoder->ch_layout), ErrorKind::kProcessing, "audio frame");
      av_check(av_frame_get_buffer(f.get(), 0), ErrorKind::kProcessing, "audio frame");
      if (av_audio_fifo_read(fifo.get(), reinterpret_cast<void**>(f->data), f->nb_samples) != f->nb_samples) {
        throw Error(ErrorKind::kProcessing, "audio conversion: FIFO read");
      }
      f->pts = next_pts;
      next_pts += f->nb_samples;
      encode(f.get(), write);
    }
  }

  // Pulls every converted frame the graph has: encoded as it is (encoders that take
  // any frame size), else through the FIFO in frames of the encoder's size.
  void drain_graph(const std::function<void(AVPacket*)>& write) {
    const AVRational sink_tb = av_buffersink_get_time_base(sink);
    for (;;) {
      const int ret = av_buffersink_get_frame(sink, converted.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return;
      }
      av_check(ret, ErrorKind::kProcessing, "audio conversion");
      if (next_pts == AV_NOPTS_VALUE) {
        next_pts = converted->pts != AV_NOPTS_VALUE ? av_rescale_q(converted->pts, sink_tb, encoder->time_base) : 0;
      }
      if (!fifo) {
        converted->pts = next_pts;
        next_pts += converted->nb_samples;
        encode(converted.get(), write);
      } else {
        if (av_audio_fifo_write(fifo.get(), reinterpret_cast<void**>(converted->data), converted->nb_samples) !=
            converted->nb_samples) {
          throw Error(ErrorKind::kProcessing, "audio conversion: FIFO write");
        }
        encode_fifo(false, write);
      }
      av_frame_unref(converted.get());
    }
  }

  void end_graph(const std::function<void(AVPacket*)>& write) {
    if (graph) {
      av_check(av_buffersrc_add_frame_flags(source, nullptr, 0), ErrorKind::kProcessing, "audio conversion");
      drain_graph(write);
    }
  }

  void drain_decoder(const std::function<void(AVPacket*)>& write) {
    for (;;) {
      const int ret = avcodec_receive_frame(decoder.get(), decoded.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return;
      }
      if (ret < 0) {
        spdlog::warn("audio decoder {}: {}; that part of the audio is skipped", decoder->codec->name,
                     av_error_text(ret));
        return;
      }
      if (decoded->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        // "2 channels": the default layout of that many (what the graph was told).
        const AVChannelLayout ordered = ordered_layout(decoded->ch_layout);
        av_channel_layout_uninit(&decoded->ch_layout);
        decoded->ch_layout = ordered;
      }
      if (!graph_fits(decoded.get())) {
        if (graph) {
          spdlog::info("audio stream changes to {} Hz, {}; converting on", decoded->sample_rate,
                       layout_name(decoded->ch_layout));
        }
        end_graph(write);
        build_graph(decoded.get());
      }
      decoded->pts = decoded->best_effort_timestamp;
      av_check(av_buffersrc_add_frame_flags(source, decoded.get(), 0), ErrorKind::kProcessing, "audio conversion");
      av_frame_unref(decoded.get());
      drain_graph(write);
    }
  }
};

AudioTranscoder::AudioTranscoder(const AVStream* in, AVCodecID codec, const AVOutputFormat* format)
    : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  const AVCodecParameters* par = in->codecpar;
  const AVCodec* dec = avcodec_find_decoder(par->codec_id);
  if (dec == nullptr) {
    throw Error(ErrorKind::kProcessing, "no decoder for it");
  }
  const AVCodec* enc = avcodec_find_encoder(codec);
  if (enc == nullptr) {
    throw Error(ErrorKind::kProcessing, std::string("no encoder for ") + avcodec_get_name(codec));
  }
  d.in_time_base = in->time_base;
  d.decoder.reset(avcodec_alloc_context3(dec));
  d.encoder.reset(avcodec_alloc_context3(enc));
  if (!d.decoder || !d.encoder) {
    throw std::bad_alloc();
  }
  av_check(avcodec_parameters_to_context(d.decoder.get(), par), ErrorKind::kProcessing, "audio decoder parameters");
  d.decoder->pkt_timebase = in->time_base;
  av_check(avcodec_open2(d.decoder.get(), dec, nullptr), ErrorKind::kProcessing,
           std::string("cannot open the ") + dec->name + " decoder");
  AVCodecContext* e = d.encoder.get();
  AVChannelLayout in_layout = ordered_layout(d.decoder->ch_layout);

  // What the encoder takes that is nearest the input: its sample format if it takes
  // it, the nearest sample rate (a higher one on a tie), the same layout or one with
  // as many channels, else stereo.
  e->sample_fmt = enc->sample_fmts != nullptr ? enc->sample_fmts[0] : d.decoder->sample_fmt;
  for (const AVSampleFormat* f = enc->sample_fmts; f != nullptr && *f != AV_SAMPLE_FMT_NONE; ++f) {
    if (*f == d.decoder->sample_fmt) {
      e->sample_fmt = *f;
    }
  }
  e->sample_rate = d.decoder->sample_rate > 0 ? d.decoder->sample_rate : 48000;
  if (enc->supported_samplerates != nullptr) {
    int best = enc->supported_samplerates[0];
    for (const int* r = enc->supported_samplerates; *r != 0; ++r) {
      const int64_t dr = std::llabs(static_cast<int64_t>(*r) - e->sample_rate);
      const int64_t db = std::llabs(static_cast<int64_t>(best) - e->sample_rate);
      if (dr < db || (dr == db && *r > best)) {
        best = *r;
      }
    }
    e->sample_rate = best;
  }
  if (std::strncmp(format->name, "mxf", 3) == 0) {
    e->sample_rate = 48000;  // libavformat's MXF muxer writes 48 kHz audio only
  }
  AVChannelLayout chosen{};
  if (enc->ch_layouts == nullptr) {
    av_channel_layout_copy(&chosen, &in_layout);
  } else {
    const AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
    const AVChannelLayout* same_count = nullptr;
    const AVChannelLayout* exact = nullptr;
    const AVChannelLayout* two = nullptr;
    for (const AVChannelLayout* l = enc->ch_layouts; l->nb_channels != 0; ++l) {
      if (av_channel_layout_compare(l, &in_layout) == 0) {
        exact = l;
      }
      if (same_count == nullptr && l->nb_channels == in_layout.nb_channels) {
        same_count = l;
      }
      if (av_channel_layout_compare(l, &stereo) == 0) {
        two = l;
      }
    }
    const AVChannelLayout* pick = exact != nullptr ? exact : (same_count != nullptr ? same_count : two);
    av_channel_layout_copy(&chosen, pick != nullptr ? pick : &enc->ch_layouts[0]);
  }
  av_channel_layout_copy(&e->ch_layout, &chosen);
  e->time_base = AVRational{1, e->sample_rate};
  if ((format->flags & AVFMT_GLOBALHEADER) != 0) {
    e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  }
  av_check(avcodec_open2(e, enc, nullptr), ErrorKind::kProcessing,
           std::string("cannot open the ") + enc->name + " encoder");

  d.converter_args = std::string("sample_fmts=") + av_get_sample_fmt_name(e->sample_fmt) +
                     ":sample_rates=" + std::to_string(e->sample_rate) +
                     ":channel_layouts=" + layout_name(e->ch_layout);
  if (e->frame_size > 0 && (enc->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) == 0) {
    d.fifo.reset(av_audio_fifo_alloc(e->sample_fmt, e->ch_layout.nb_channels, e->frame_size * 2));
    if (!d.fifo) {
      throw std::bad_alloc();
    }
  }
  // The graph for the decoder's announced parameters; a frame with others rebuilds it.
  AvFramePtr like = make_av_frame();
  like->sample_rate = d.decoder->sample_rate;
  like->format = d.decoder->sample_fmt;
  av_channel_layout_copy(&like->ch_layout, &in_layout);
  d.build_graph(like.get());
  d.description = std::string(dec->name) + " -> " + avcodec_get_name(codec) + " (" + enc->name + ", " +
                  std::to_string(e->sample_rate) + " Hz, " + layout_name(e->ch_layout) + ")";
  av_channel_layout_uninit(&chosen);
  av_channel_layout_uninit(&in_layout);
}

AudioTranscoder::~AudioTranscoder() = default;

const AVCodecContext* AudioTranscoder::encoder() const { return impl_->encoder.get(); }

std::string AudioTranscoder::description() const { return impl_->description; }

void AudioTranscoder::send(const AVPacket* packet, const std::function<void(AVPacket*)>& write) {
  const int ret = avcodec_send_packet(impl_->decoder.get(), packet);
  if (ret < 0 && ret != AVERROR(EAGAIN)) {
    spdlog::warn("audio decoder {}: {}; the packet is skipped", impl_->decoder->codec->name, av_error_text(ret));
    return;
  }
  impl_->drain_decoder(write);
}

void AudioTranscoder::flush(const std::function<void(AVPacket*)>& write) {
  Impl& d = *impl_;
  avcodec_send_packet(d.decoder.get(), nullptr);
  d.drain_decoder(write);
  d.end_graph(write);
  if (d.fifo) {
    d.encode_fifo(true, write);  // the last frame may be short: the encoder pads it
  }
  d.encode(nullptr, write);
}

}  // namespace framegen
