#include "fixtures.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace framegen::test {

namespace {

void check(int ret, const char* what) {
  if (ret < 0) {
    char buf[256];
    av_strerror(ret, buf, sizeof(buf));
    throw std::runtime_error(std::string(what) + ": " + buf);
  }
}

void drain(AVCodecContext* enc, AVFormatContext* oc, AVStream* st, AVFrame* frame) {
  check(avcodec_send_frame(enc, frame), "send_frame");
  AVPacket* pkt = av_packet_alloc();
  for (;;) {
    const int ret = avcodec_receive_packet(enc, pkt);
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
      break;
    }
    check(ret, "receive_packet");
    if (pkt->duration == 0) {
      pkt->duration = enc->codec_type == AVMEDIA_TYPE_VIDEO ? 1 : enc->frame_size;
    }
    av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
    pkt->stream_index = st->index;
    check(av_interleaved_write_frame(oc, pkt), "write video");
  }
  av_packet_free(&pkt);
}

}  // namespace

void make_fixture(const std::string& path, const FixtureSpec& spec) {
  AVFormatContext* oc = nullptr;
  check(avformat_alloc_output_context2(&oc, nullptr, nullptr, path.c_str()), "alloc output");
  const bool mkv = std::strcmp(oc->oformat->name, "matroska") == 0;

  AVStream* cover = nullptr;
  AVPacket* cover_pkt = nullptr;
  if (spec.cover_art) {
    // Encode a 16x16 PNG for the attached picture.
    const AVCodec* pc = avcodec_find_encoder(AV_CODEC_ID_PNG);
    AVCodecContext* penc = avcodec_alloc_context3(pc);
    penc->width = 16;
    penc->height = 16;
    penc->pix_fmt = AV_PIX_FMT_RGB24;
    penc->time_base = AVRational{1, 1};
    check(avcodec_open2(penc, pc, nullptr), "png encoder");
    AVFrame* pf = av_frame_alloc();
    pf->width = 16;
    pf->height = 16;
    pf->format = AV_PIX_FMT_RGB24;
    check(av_frame_get_buffer(pf, 0), "png frame");
    for (int y = 0; y < 16; ++y) {
      std::memset(pf->data[0] + y * pf->linesize[0], 40 + y * 10, 48);
    }
    check(avcodec_send_frame(penc, pf), "png send");
    cover_pkt = av_packet_alloc();
    check(avcodec_receive_packet(penc, cover_pkt), "png receive");
    av_frame_free(&pf);
    cover = avformat_new_stream(oc, nullptr);
    check(avcodec_parameters_from_context(cover->codecpar, penc), "cover params");
    cover->disposition = AV_DISPOSITION_ATTACHED_PIC;
    cover->time_base = AVRational{1, 90000};
    avcodec_free_context(&penc);
  }

  AVCodecContext* venc = nullptr;
  AVStream* vst = nullptr;
  if (spec.video) {
    const AVCodec* vc = avcodec_find_encoder_by_name(spec.video_codec.c_str());
    if (vc == nullptr) {
      throw std::runtime_error("no encoder " + spec.video_codec);
    }
    vst = avformat_new_stream(oc, nullptr);
    venc = avcodec_alloc_context3(vc);
    venc->width = spec.width;
    venc->height = spec.height;
    venc->pix_fmt = av_get_pix_fmt(spec.pix_fmt.c_str());
    venc->color_range = spec.full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    if (spec.bt709) {
      venc->colorspace = AVCOL_SPC_BT709;
      venc->color_primaries = AVCOL_PRI_BT709;
      venc->color_trc = AVCOL_TRC_BT709;
    }
    venc->time_base = AVRational{spec.fps_den, spec.fps_num};
    venc->framerate = AVRational{spec.fps_num, spec.fps_den};
    venc->gop_size = 12;
    venc->max_b_frames = 0;
    if ((oc->oformat->flags & AVFMT_GLOBALHEADER) != 0) {
      venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    check(avcodec_open2(venc, vc, nullptr), "open video encoder");
    check(avcodec_parameters_from_context(vst->codecpar, venc), "video params");
    vst->time_base = venc->time_base;
    if (spec.rotation != 0) {
      auto* m = reinterpret_cast<int32_t*>(av_stream_new_side_data(vst, AV_PKT_DATA_DISPLAYMATRIX, 9 * 4));
      av_display_rotation_set(m, -spec.rotation);
    }
  }

  const double duration = static_cast<double>(spec.frames) * spec.fps_den / spec.fps_num;
  AVCodecContext* aenc = nullptr;
  AVStream* ast = nullptr;
  if (spec.audio) {
    const AVCodec* ac = avcodec_find_encoder(AV_CODEC_ID_AAC);
    ast = avformat_new_stream(oc, nullptr);
    aenc = avcodec_alloc_context3(ac);
    aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    aenc->sample_rate = 48000;
    av_channel_layout_default(&aenc->ch_layout, 2);
    aenc->bit_rate = 96000;
    aenc->time_base = AVRational{1, 48000};
    if ((oc->oformat->flags & AVFMT_GLOBALHEADER) != 0) {
      aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    check(avcodec_open2(aenc, ac, nullptr), "open audio encoder");
    check(avcodec_parameters_from_context(ast->codecpar, aenc), "audio params");
    ast->time_base = aenc->time_base;
  }

  AVStream* sst = nullptr;
  if (spec.subtitles) {
    sst = avformat_new_stream(oc, nullptr);
    sst->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
    sst->codecpar->codec_id = mkv ? AV_CODEC_ID_SUBRIP : AV_CODEC_ID_MOV_TEXT;
    sst->time_base = AVRational{1, 1000};
    av_dict_set(&sst->metadata, "language", "eng", 0);
  }

  if (spec.attachment) {
    AVStream* at = avformat_new_stream(oc, nullptr);
    at->codecpar->codec_type = AVMEDIA_TYPE_ATTACHMENT;
    at->codecpar->codec_id = AV_CODEC_ID_TTF;
    const char font[] = "not really a font, but bytes that must survive";
    at->codecpar->extradata = static_cast<uint8_t*>(av_mallocz(sizeof(font) + AV_INPUT_BUFFER_PADDING_SIZE));
    std::memcpy(at->codecpar->extradata, font, sizeof(font));
    at->codecpar->extradata_size = sizeof(font);
    av_dict_set(&at->metadata, "filename", "test.ttf", 0);
    av_dict_set(&at->metadata, "mimetype", "application/x-truetype-font", 0);
  }
  if ((oc->oformat->flags & AVFMT_NOFILE) == 0) {
    check(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), "open file");
  }
  check(avformat_write_header(oc, nullptr), "write header");
  if (cover != nullptr) {
    cover_pkt->stream_index = cover->index;
    cover_pkt->pts = cover_pkt->dts = 0;
    cover_pkt->flags |= AV_PKT_FLAG_KEY;
    check(av_interleaved_write_frame(oc, cover_pkt), "write cover");
    av_packet_free(&cover_pkt);
  }

  if (spec.subtitles) {
    for (int i = 0; i < 2; ++i) {
      const std::string text = "Cue number " + std::to_string(i + 1);
      AVPacket* pkt = av_packet_alloc();
      if (mkv) {
        check(av_new_packet(pkt, static_cast<int>(text.size())), "sub packet");
        std::memcpy(pkt->data, text.data(), text.size());
      } else {
        check(av_new_packet(pkt, static_cast<int>(text.size()) + 2), "sub packet");
        pkt->data[0] = static_cast<uint8_t>(text.size() >> 8);
        pkt->data[1] = static_cast<uint8_t>(text.size() & 0xff);
        std::memcpy(pkt->data + 2, text.data(), text.size());
      }
      const int64_t start_ms = static_cast<int64_t>(duration * 1000 * i / 2);
      pkt->pts = pkt->dts = av_rescale_q(start_ms, AVRational{1, 1000}, sst->time_base);
      pkt->duration = av_rescale_q(static_cast<int64_t>(duration * 400), AVRational{1, 1000}, sst->time_base);
      pkt->stream_index = sst->index;
      check(av_interleaved_write_frame(oc, pkt), "write subtitle");
      av_packet_free(&pkt);
    }
  }

  AVFrame* vf = av_frame_alloc();
  if (spec.video) {
    vf->width = spec.width;
    vf->height = spec.height;
    vf->format = av_get_pix_fmt(spec.pix_fmt.c_str());
    check(av_frame_get_buffer(vf, 0), "video buffer");
  }
  AVFrame* af = av_frame_alloc();
  int64_t audio_samples = 0;
  const int64_t audio_total = static_cast<int64_t>(duration * 48000);
  if (spec.audio) {
    af->format = AV_SAMPLE_FMT_FLTP;
    af->nb_samples = aenc->frame_size;
    af->sample_rate = 48000;
    av_channel_layout_copy(&af->ch_layout, &aenc->ch_layout);
    check(av_frame_get_buffer(af, 0), "audio buffer");
  }

  for (int i = 0; i < spec.frames || (spec.audio && audio_samples < audio_total); ++i) {
    if (spec.video && i < spec.frames) {
      check(av_frame_make_writable(vf), "writable");
      const bool deep = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(vf->format))->comp[0].depth > 8;
      auto put = [&](int plane, int x, int y, int v8) {
        if (deep) {
          reinterpret_cast<uint16_t*>(vf->data[plane] + y * vf->linesize[plane])[x] = static_cast<uint16_t>(v8 * 4);
        } else {
          vf->data[plane][y * vf->linesize[plane] + x] = static_cast<uint8_t>(v8);
        }
      };
      // A moving gradient with a bright square: real motion and real edges.
      for (int y = 0; y < spec.height; ++y) {
        for (int x = 0; x < spec.width; ++x) {
          const bool square = ((x - 3 * i) % spec.width + spec.width) % spec.width < spec.width / 5 &&
                              y > spec.height / 3 && y < spec.height / 2;
          const bool second_scene = spec.cut_at >= 0 && i >= spec.cut_at;
          const int v = square ? 235 : 16 + (x + y + 2 * i) % 200;
          put(0, x, y, spec.flat ? 180 : (second_scene ? 251 - v + ((x / 8 + y / 8) % 2) * 40 - 20 : v));
        }
      }
      for (int y = 0; y < (spec.height + 1) / 2; ++y) {
        for (int x = 0; x < (spec.width + 1) / 2; ++x) {
          put(1, x, y, spec.flat ? 90 : 128 + (x % 64) - 32);
          put(2, x, y, spec.flat ? 160 : 128 + (y % 64) - 32);
        }
      }
      vf->pts = i;
      drain(venc, oc, vst, vf);
    }
    // Audio up to the video's current time, so the file is interleaved.
    const double t = spec.video ? static_cast<double>(i + 1) * spec.fps_den / spec.fps_num : duration;
    while (spec.audio && audio_samples < audio_total && audio_samples < t * 48000) {
      check(av_frame_make_writable(af), "writable audio");
      for (int c = 0; c < 2; ++c) {
        auto* s = reinterpret_cast<float*>(af->data[c]);
        for (int k = 0; k < af->nb_samples; ++k) {
          s[k] = 0.2F * static_cast<float>(std::sin(2 * M_PI * 440.0 * static_cast<double>(audio_samples + k) / 48000));
        }
      }
      af->pts = audio_samples;
      audio_samples += af->nb_samples;
      drain(aenc, oc, ast, af);
    }
    if (!spec.video && audio_samples >= audio_total) {
      break;
    }
  }
  if (spec.video) {
    drain(venc, oc, vst, nullptr);
  }
  if (spec.audio) {
    drain(aenc, oc, ast, nullptr);
  }
  check(av_write_trailer(oc), "trailer");
  av_frame_free(&vf);
  av_frame_free(&af);
  avcodec_free_context(&venc);
  avcodec_free_context(&aenc);
  if ((oc->oformat->flags & AVFMT_NOFILE) == 0) {
    avio_closep(&oc->pb);
  }
  avformat_free_context(oc);
}

std::vector<PacketDump> dump_packets(const std::string& path) {
  AVFormatContext* ic = nullptr;
  check(avformat_open_input(&ic, path.c_str(), nullptr, nullptr), "open");
  check(avformat_find_stream_info(ic, nullptr), "stream info");
  std::vector<PacketDump> out(ic->nb_streams);
  for (unsigned i = 0; i < ic->nb_streams; ++i) {
    const char* t = av_get_media_type_string(ic->streams[i]->codecpar->codec_type);
    out[i].type = t != nullptr ? t : "unknown";
  }
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(ic, pkt) >= 0) {
    auto& d = out[pkt->stream_index];
    d.data.emplace_back(pkt->data, pkt->data + pkt->size);
    const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    d.pts_seconds.push_back(static_cast<double>(ts) * av_q2d(ic->streams[pkt->stream_index]->time_base));
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  avformat_close_input(&ic);
  return out;
}

const PacketDump* stream_of(const std::vector<PacketDump>& dump, const std::string& type) {
  for (const auto& s : dump) {
    if (s.type == type) {
      return &s;
    }
  }
  return nullptr;
}

DecodedVideo decode_video(const std::string& path) {
  AVFormatContext* ic = nullptr;
  check(avformat_open_input(&ic, path.c_str(), nullptr, nullptr), "open");
  check(avformat_find_stream_info(ic, nullptr), "stream info");
  const int vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  check(vi, "video stream");
  AVStream* st = ic->streams[vi];
  const AVCodec* dc = avcodec_find_decoder(st->codecpar->codec_id);
  AVCodecContext* dec = avcodec_alloc_context3(dc);
  avcodec_parameters_to_context(dec, st->codecpar);
  dec->pkt_timebase = st->time_base;
  check(avcodec_open2(dec, dc, nullptr), "open decoder");
  DecodedVideo v;
  v.duration = ic->duration != AV_NOPTS_VALUE ? static_cast<double>(ic->duration) / AV_TIME_BASE : 0;
  AVPacket* pkt = av_packet_alloc();
  AVFrame* f = av_frame_alloc();
  auto receive = [&] {
    while (avcodec_receive_frame(dec, f) >= 0) {
      v.width = f->width;
      v.height = f->height;
      v.pts_seconds.push_back(static_cast<double>(f->best_effort_timestamp) * av_q2d(st->time_base));
      av_frame_unref(f);
    }
  };
  while (av_read_frame(ic, pkt) >= 0) {
    if (pkt->stream_index == vi) {
      avcodec_send_packet(dec, pkt);
      receive();
    }
    av_packet_unref(pkt);
  }
  avcodec_send_packet(dec, nullptr);
  receive();
  av_frame_free(&f);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&ic);
  return v;
}

VideoTags probe_tags(const std::string& path) {
  AVFormatContext* ic = nullptr;
  check(avformat_open_input(&ic, path.c_str(), nullptr, nullptr), "open");
  check(avformat_find_stream_info(ic, nullptr), "stream info");
  VideoTags t;
  int vi = -1;
  for (unsigned i = 0; i < ic->nb_streams; ++i) {
    AVStream* st = ic->streams[i];
    if (st->codecpar->codec_type == AVMEDIA_TYPE_ATTACHMENT) {
      t.attachments.emplace_back(st->codecpar->extradata, st->codecpar->extradata + st->codecpar->extradata_size);
    }
    if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && vi < 0) {
      vi = static_cast<int>(i);
    }
  }
  check(vi, "video stream");
  AVStream* st = ic->streams[vi];
  t.width = st->codecpar->width;
  t.height = st->codecpar->height;
  const char* pf = av_get_pix_fmt_name(static_cast<AVPixelFormat>(st->codecpar->format));
  t.pix_fmt = pf != nullptr ? pf : "";
  t.color_range = st->codecpar->color_range;
  t.colorspace = st->codecpar->color_space;
  if (const uint8_t* m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr)) {
    t.rotation = -av_display_rotation_get(reinterpret_cast<const int32_t*>(m));
  }
  const AVCodec* dc = avcodec_find_decoder(st->codecpar->codec_id);
  AVCodecContext* dec = avcodec_alloc_context3(dc);
  avcodec_parameters_to_context(dec, st->codecpar);
  check(avcodec_open2(dec, dc, nullptr), "open decoder");
  AVPacket* pkt = av_packet_alloc();
  AVFrame* f = av_frame_alloc();
  bool got = false;
  while (!got && av_read_frame(ic, pkt) >= 0) {
    if (pkt->stream_index == vi) {
      avcodec_send_packet(dec, pkt);
      got = avcodec_receive_frame(dec, f) >= 0;
    }
    av_packet_unref(pkt);
  }
  if (!got) {
    avcodec_send_packet(dec, nullptr);
    got = avcodec_receive_frame(dec, f) >= 0;
  }
  if (got) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(f->format));
    const bool deep = d->comp[0].depth > 8;
    // Planar formats only (packed ones have no second plane to average).
    for (int p = 0; p < 3 && (d->flags & AV_PIX_FMT_FLAG_PLANAR) != 0 && f->data[p] != nullptr; ++p) {
      const int w = p == 0 ? f->width : AV_CEIL_RSHIFT(f->width, d->log2_chroma_w);
      const int h = p == 0 ? f->height : AV_CEIL_RSHIFT(f->height, d->log2_chroma_h);
      double sum = 0;
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          sum += deep ? reinterpret_cast<const uint16_t*>(f->data[p] + y * f->linesize[p])[x] / 4.0
                      : f->data[p][y * f->linesize[p] + x];
        }
      }
      t.mean[p] = sum / (static_cast<double>(w) * h);
    }
  }
  av_frame_free(&f);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&ic);
  return t;
}

std::string make_temp_dir(const std::string& tag) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("framegen-" + tag + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  return tmpl;
}

namespace {
std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}
}  // namespace

RunResult run_command(const std::vector<std::string>& argv) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  RunResult r;
  std::thread err_reader([&] { r.err = read_all(err_pipe[0]); });
  r.out = read_all(out_pipe[0]);
  err_reader.join();
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.peak_rss_kb = usage.ru_maxrss;
  return r;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace framegen::test

namespace framegen::test {

bool wait_for_partial_output(const std::string& output, int pid, long min_bytes, double timeout_s) {
  namespace fs = std::filesystem;
  const fs::path o(output);
  const fs::path part = o.parent_path() / ("." + o.filename().string() + ".framegen-" + std::to_string(pid) + ".part");
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s) {
    std::error_code ec;
    const auto size = fs::file_size(part, ec);
    if (!ec && static_cast<long>(size) > min_bytes) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace framegen::test
