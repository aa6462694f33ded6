#include "jobs.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "framegen/pipeline/decoder.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/muxer.h"
#include "framegen/pipeline/pipeline.h"
#include "framegen/pipeline/scaler.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace framegen::cli {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxOutputDimension = 16384;

std::atomic<Pipeline*> g_pipeline{nullptr};
char g_temp_path[4096] = {};

std::string to_lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

std::string extension_of(const std::string& path) { return to_lower(fs::path(path).extension().string()); }

// Default encoder for a container when --codec is not given.
std::string default_codec_for(const std::string& output) {
  const std::string ext = extension_of(output);
  if (ext == ".webm") {
    return "libvpx-vp9";
  }
  if (ext == ".png") {
    return "png";
  }
  return "libx264";
}

std::string temporary_path_for(const std::string& output) {
  const fs::path p(output);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  return (dir / ("." + p.filename().string() + ".framegen-" + std::to_string(::getpid()) + ".part")).string();
}

class ProgressLine {
 public:
  ProgressLine(double duration, int64_t total_frames, bool enabled)
      : duration_(duration), total_(total_frames), enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

  void update(int64_t frames, double pts_seconds) {
    if (!enabled_) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) {
      return;
    }
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double fps = elapsed > 0 ? static_cast<double>(frames) / elapsed : 0.0;
    double fraction = -1;
    if (total_ > 0) {
      fraction = static_cast<double>(frames) / static_cast<double>(total_);
    } else if (duration_ > 0 && !std::isnan(pts_seconds)) {
      fraction = pts_seconds / duration_;
    }
    if (fraction >= 0) {
      fraction = std::min(fraction, 1.0);
      const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0;
      std::fprintf(stderr, "\rframe %lld  %.1f fps  %3.0f%%  ETA %d:%02d   ", static_cast<long long>(frames), fps,
                   fraction * 100, static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
    } else {
      std::fprintf(stderr, "\rframe %lld  %.1f fps   ", static_cast<long long>(frames), fps);
    }
    std::fflush(stderr);
    shown_ = true;
  }

  ~ProgressLine() {
    if (shown_) {
      std::fputc('\n', stderr);
    }
  }

 private:
  double duration_;
  int64_t total_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_{};
};

// Deletes the temporary output unless committed.
class TemporaryOutput {
 public:
  explicit TemporaryOutput(std::string path) : path_(std::move(path)) {
    std::snprintf(g_temp_path, sizeof(g_temp_path), "%s", path_.c_str());
  }
  ~TemporaryOutput() {
    g_temp_path[0] = '\0';
    if (!committed_) {
      std::error_code ec;
      fs::remove(path_, ec);
    }
  }
  TemporaryOutput(const TemporaryOutput&) = delete;
  TemporaryOutput& operator=(const TemporaryOutput&) = delete;

  void commit(const std::string& final_path) {
    std::error_code ec;
    fs::rename(path_, final_path, ec);
    if (ec) {
      throw Error(ErrorKind::kOutput, "cannot move the finished output to '" + final_path + "': " + ec.message());
    }
    committed_ = true;
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool committed_ = false;
};

class ActivePipeline {
 public:
  explicit ActivePipeline(Pipeline* p) { g_pipeline.store(p); }
  ~ActivePipeline() { g_pipeline.store(nullptr); }
  ActivePipeline(const ActivePipeline&) = delete;
  ActivePipeline& operator=(const ActivePipeline&) = delete;
};

}  // namespace

void request_stop_current_job() noexcept {
  if (Pipeline* p = g_pipeline.load()) {
    p->request_stop();
  }
}

const char* current_temporary_output() noexcept { return g_temp_path; }

void validate_paths(const std::string& input, const std::string& output, bool overwrite) {
  if (output.empty()) {
    throw Error(ErrorKind::kUsage, "no output given (-o OUTPUT)");
  }
  if (output == "-") {
    throw Error(ErrorKind::kUsage, "writing to stdout is not supported; give an output file");
  }
  struct stat out_st {};
  const bool out_exists = ::stat(output.c_str(), &out_st) == 0;
  if (input != "-") {
    struct stat in_st {};
    if (::stat(input.c_str(), &in_st) == 0) {
      if (out_exists && in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
        throw Error(ErrorKind::kOutput, "output '" + output + "' is the input file; choose another output");
      }
    }
  }
  if (out_exists) {
    if (S_ISDIR(out_st.st_mode)) {
      throw Error(ErrorKind::kOutput, "output '" + output + "' is a directory");
    }
    if (!overwrite) {
      throw Error(ErrorKind::kOutput, "output '" + output + "' already exists (use -y to overwrite)");
    }
  }
  const fs::path parent = fs::path(output).has_parent_path() ? fs::path(output).parent_path() : fs::path(".");
  struct stat dir_st {};
  if (::stat(parent.c_str(), &dir_st) != 0 || !S_ISDIR(dir_st.st_mode)) {
    throw Error(ErrorKind::kOutput, "output directory '" + parent.string() + "' does not exist");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw Error(ErrorKind::kOutput,
                "output directory '" + parent.string() + "' is not writable: " + std::strerror(errno));
  }
}

JobResult run_upscale(const UpscaleOptions& options) {
  const CommonOptions& common = options.common;
  if (options.scale < 1 || options.scale > 4) {
    throw Error(ErrorKind::kUsage, "--scale must be 2, 3 or 4");
  }
  const ScaleAlgorithm algorithm = parse_scale_algorithm(options.model);
  validate_paths(common.input, common.output, common.overwrite);

  EncoderOptions enc = common.encoder;
  if (!common.codec_given) {
    enc.codec = default_codec_for(common.output);
  }
  enc.threads = common.threads;
  const AVCodec* codec = find_video_encoder(enc.codec);
  if (const AVOutputFormat* ofmt = av_guess_format(nullptr, common.output.c_str(), nullptr)) {
    if (avformat_query_codec(ofmt, codec->id, FF_COMPLIANCE_NORMAL) != 1) {
      throw Error(ErrorKind::kUsage, "the " + std::string(ofmt->name) + " container of '" + common.output +
                                         "' cannot hold " + enc.codec + " video");
    }
  }

  DecoderOptions dec_opts;
  dec_opts.threads = common.threads;
  dec_opts.stream = common.stream;
  auto decoder = std::make_unique<Decoder>(common.input, dec_opts);
  const VideoInfo info = decoder->info();

  const int out_w = info.width * options.scale;
  const int out_h = info.height * options.scale;
  if (out_w > kMaxOutputDimension || out_h > kMaxOutputDimension) {
    throw Error(ErrorKind::kUsage, "the output would be " + std::to_string(out_w) + "x" + std::to_string(out_h) +
                                       ", above the limit of " + std::to_string(kMaxOutputDimension) +
                                       " pixels per side");
  }
  const AVPixelFormat out_fmt = choose_encoder_pix_fmt(codec, info.pix_fmt, enc.pix_fmt);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(out_fmt);
  if (desc != nullptr && ((out_w % (1 << desc->log2_chroma_w)) != 0 || (out_h % (1 << desc->log2_chroma_h)) != 0)) {
    throw Error(ErrorKind::kUsage, "output size " + std::to_string(out_w) + "x" + std::to_string(out_h) +
                                       " does not fit the chroma subsampling of " + av_get_pix_fmt_name(out_fmt));
  }

  TemporaryOutput temp(temporary_path_for(common.output));
  Muxer muxer(common.output, temp.path(), decoder->format_context(), info.stream_index);
  decoder->set_passthrough([&muxer](AVPacket* pkt, const AVStream* st) { muxer.write_passthrough(pkt, st); });

  ScalerConfig sc;
  sc.width = out_w;
  sc.height = out_h;
  sc.format = out_fmt;
  sc.algorithm = algorithm;
  auto sink = std::make_unique<EncodeSink>(muxer, info, enc);
  ProgressLine progress(info.duration, info.frame_count, ::isatty(STDOUT_FILENO) != 0 && !common.json);
  sink->set_progress([&progress](int64_t frames, double secs) { progress.update(frames, secs); });

  Decoder* dec = decoder.get();
  EncodeSink* enc_sink = sink.get();
  Pipeline pipeline;
  pipeline.set_source(std::move(decoder));
  pipeline.add_filter(std::make_unique<ScaleFilter>(sc));
  pipeline.set_sink(std::move(sink));

  spdlog::info("upscaling '{}' {}x{} -> {}x{} with {} ({}), {} {}", common.input, info.width, info.height, out_w, out_h,
               options.model, to_string(algorithm), enc.codec, av_get_pix_fmt_name(out_fmt));
  const auto t0 = std::chrono::steady_clock::now();
  PipelineStats stats;
  {
    ActivePipeline active(&pipeline);
    stats = pipeline.run();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  temp.commit(common.output);

  JobResult result;
  result.cancelled = stats.cancelled;
  result.summary = {
      {"command", "upscale"},
      {"input", common.input},
      {"output", common.output},
      {"frames_in", stats.frames_in},
      {"frames_out", enc_sink->frames_encoded()},
      {"seconds", seconds},
      {"fps", seconds > 0 ? static_cast<double>(enc_sink->frames_encoded()) / seconds : 0.0},
      {"width", out_w},
      {"height", out_h},
      {"scale", options.scale},
      {"model", options.model},
      {"codec", enc.codec},
      {"passthrough_packets", muxer.passthrough_packets()},
      {"corrupt_packets", dec->corrupt_packets()},
      {"size_changes", dec->size_changes()},
      {"cancelled", stats.cancelled},
  };
  return result;
}

nlohmann::json probe(const std::string& input, bool count_frames) {
  const VideoInfo info = probe_input(input, count_frames);
  nlohmann::json streams = nlohmann::json::array();
  for (const auto& s : info.streams) {
    streams.push_back({{"index", s.index}, {"type", s.type}, {"codec", s.codec}, {"attached_pic", s.attached_pic}});
  }
  const char* pix = av_get_pix_fmt_name(info.pix_fmt);
  return {
      {"input", input},
      {"format", info.format},
      {"video_stream", info.stream_index},
      {"codec", info.codec},
      {"width", info.width},
      {"height", info.height},
      {"pix_fmt", pix != nullptr ? pix : "unknown"},
      {"frame_rate", info.frame_rate.den > 0 ? av_q2d(info.frame_rate) : 0.0},
      {"frame_rate_fraction", std::to_string(info.frame_rate.num) + "/" + std::to_string(info.frame_rate.den)},
      {"duration", info.duration},
      {"frame_count", info.frame_count},
      {"frame_count_exact", count_frames},
      {"rotation", info.rotation},
      {"streams", streams},
  };
}

}  // namespace framegen::cli
