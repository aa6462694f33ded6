#include "jobs.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "framegen/models/frame_predictor.h"
#include "framegen/models/super_resolution.h"
#include "framegen/pipeline/decoder.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/image.h"
#include "framegen/pipeline/interpolate.h"
#include "framegen/pipeline/muxer.h"
#include "framegen/pipeline/numbered_name.h"
#include "framegen/pipeline/pipeline.h"
#include "framegen/pipeline/scaler.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/parseutils.h>
#include <libavutil/pixdesc.h>
}

namespace framegen::cli {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxOutputDimension = 16384;

// The 8-bit format with the layout of `fmt` (a high-bit-depth or palette one): grey,
// RGB or YUV with the same chroma subsampling, and alpha where it has one. Re-timing
// reduced every such input to 4:2:0 before, halving a 4:4:4 input's chroma and
// dropping its alpha.
AVPixelFormat eight_bit_format(AVPixelFormat fmt) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
  if (d == nullptr) {
    return AV_PIX_FMT_YUV420P;
  }
  const bool alpha = (d->flags & AV_PIX_FMT_FLAG_ALPHA) != 0;
  if ((d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) != 0) {  // a palette holds RGBA
    return alpha ? AV_PIX_FMT_GBRAP : AV_PIX_FMT_GBRP;
  }
  if (d->nb_components - (alpha ? 1 : 0) == 1) {
    return alpha ? AV_PIX_FMT_YA8 : AV_PIX_FMT_GRAY8;
  }
  switch ((d->log2_chroma_w << 4) | d->log2_chroma_h) {
    case 0x00:
      return alpha ? AV_PIX_FMT_YUVA444P : AV_PIX_FMT_YUV444P;
    case 0x10:
      return alpha ? AV_PIX_FMT_YUVA422P : AV_PIX_FMT_YUV422P;
    case 0x01:
      return AV_PIX_FMT_YUV440P;
    case 0x20:
      return AV_PIX_FMT_YUV411P;
    case 0x22:
      return AV_PIX_FMT_YUV410P;
    default:
      return alpha ? AV_PIX_FMT_YUVA420P : AV_PIX_FMT_YUV420P;
  }
}

std::atomic<Pipeline*> g_pipeline{nullptr};
// A loop without a pipeline (eval) is running: the first signal sets
// g_loop_interrupted, which the loop checks between samples (throw_if_interrupted).
std::atomic<bool> g_loop_running{false};
std::atomic<bool> g_loop_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

class InterruptibleLoop {
 public:
  InterruptibleLoop() { g_loop_running.store(true); }
  ~InterruptibleLoop() { g_loop_running.store(false); }
  InterruptibleLoop(const InterruptibleLoop&) = delete;
  InterruptibleLoop& operator=(const InterruptibleLoop&) = delete;
};

void throw_if_interrupted() {
  if (g_loop_interrupted.load()) {
    throw Error(ErrorKind::kCancelled, "interrupted");
  }
}
// The file a second signal deletes (main.cpp's handler): the job's temporary
// output, or the PNG that eval --save is writing. A pointer swapped whole, so the
// handler never reads a half-written name.
std::atomic<const char*> g_temp_path{nullptr};
static_assert(std::atomic<const char*>::is_always_lock_free, "read from a signal handler");
// Set while a finished image sequence is moved into place (well under a
// millisecond): a second signal then lets the move finish instead of leaving some
// images in place and deleting the rest.
std::atomic<bool> g_committing{false};

// Registers `path` with the signal handler while in scope.
class SignalCleanup {
 public:
  explicit SignalCleanup(const std::string& path) : previous_(g_temp_path.exchange(path.c_str())) {}
  ~SignalCleanup() { g_temp_path.store(previous_); }
  SignalCleanup(const SignalCleanup&) = delete;
  SignalCleanup& operator=(const SignalCleanup&) = delete;

 private:
  const char* previous_;
};

// write_png, with its temporary file (PATH.part) deleted by a second signal.
void write_png_interruptibly(const std::string& path, const Image& rgb) {
  const std::string part = path + ".part";
  const SignalCleanup cleanup(part);
  write_png(path, rgb);
}

constexpr const char* kStdoutContainer = "matroska";

bool writes_stdout(const CommonOptions& c) { return c.output == "-"; }

// An existing output that is no regular file or folder: a named pipe, /dev/null, a
// character device. It is written as it goes, like stdout: a temporary file renamed
// over it replaced the pipe with a file (its reader got nothing).
bool special_file(const std::string& path) {
  struct stat st {};
  return path != "-" && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

// The output's container: the one named by --format for stdout (or a pipe or
// device), else the one its extension names (nullptr if none).
const AVOutputFormat* output_container(const CommonOptions& c) {
  if (writes_stdout(c)) {
    return find_container(c.format.empty() ? kStdoutContainer : c.format);
  }
  if (!c.format.empty()) {
    return find_container(c.format);
  }
  return av_guess_format(nullptr, c.output.c_str(), nullptr);
}

// Default encoder for a container when --codec is not given: libx264 wherever the
// container holds H.264, else the container's own default (ffmpeg's choice:
// libvpx-vp9 for webm, gif, mpeg1video for .mpg, libtheora for .ogv,
// wrapped_avframe for .y4m, mjpeg, apng, libx265 for raw .hevc, ...).
std::string default_codec_for(const AVOutputFormat* ofmt, const std::string& output) {
  if (ofmt != nullptr && std::strcmp(ofmt->name, "image2") != 0) {
    const int h264 = avformat_query_codec(ofmt, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL);
    // mpegts and mxf answer "unknown" but hold H.264.
    const bool holds_h264 =
        h264 == 1 || (h264 < 0 && (std::strcmp(ofmt->name, "mpegts") == 0 || std::strncmp(ofmt->name, "mxf", 3) == 0));
    if (!holds_h264 && ofmt->video_codec != AV_CODEC_ID_NONE) {
      if (const AVCodec* own = avcodec_find_encoder(ofmt->video_codec)) {
        return own->name;
      }
    }
    return "libx264";
  }
  // Images (.png, .jpg, .tiff, .bmp, .webp, ...): the encoder of that image format.
  if (ofmt != nullptr && std::strcmp(ofmt->name, "image2") == 0) {
    // One packet per frame: not an animation encoder (libwebp_anim) that holds
    // every frame back for one file.
    const AVCodecID id = av_guess_codec(ofmt, nullptr, output.c_str(), nullptr, AVMEDIA_TYPE_VIDEO);
    void* it = nullptr;
    while (const AVCodec* codec = av_codec_iterate(&it)) {
      if (codec->id == id && av_codec_is_encoder(codec) != 0 && (codec->capabilities & AV_CODEC_CAP_DELAY) == 0) {
        return codec->name;
      }
    }
  }
  return "libx264";
}

std::string temporary_path_for(const std::string& output) {
  const fs::path p(output);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string suffix = ".framegen-" + std::to_string(::getpid()) + ".part";
  std::string name = p.filename().string();
  // A name that is valid as the output may be too long with the decorations: the
  // temporary one keeps what fits (the container comes from the output's name).
  const long name_max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
  const std::size_t limit = name_max > 0 ? static_cast<std::size_t>(name_max) : 255;
  if (1 + name.size() + suffix.size() > limit) {
    name.resize(limit > suffix.size() + 1 ? limit - suffix.size() - 1 : 0);
  }
  return (dir / ("." + name + suffix)).string();
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

// A numbered image-sequence output ('frames/%06d.png'): only for image names
// (a video container takes the name as it is).
std::optional<NumberedName> sequence_output(const std::string& output) {
  const AVOutputFormat* ofmt = av_guess_format(nullptr, output.c_str(), nullptr);
  if (ofmt == nullptr || std::strcmp(ofmt->name, "image2") != 0) {
    return std::nullopt;
  }
  return NumberedName::parse(output);
}

// Whether any pixel of `f` is not fully opaque (formats with alpha; a palette's
// entries as its pixels use them). `row` is scratch space for one row.
bool has_transparency(const Frame& f, std::vector<uint32_t>& row) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(f.format());
  if (d == nullptr || (d->flags & AV_PIX_FMT_FLAG_ALPHA) == 0 || (d->flags & AV_PIX_FMT_FLAG_HWACCEL) != 0) {
    return false;
  }
  if ((d->flags & AV_PIX_FMT_FLAG_PAL) != 0) {
    // 8-bit indices into 256 native-endian ARGB words.
    uint32_t palette[256];
    std::memcpy(palette, f.av()->data[1], sizeof(palette));
    for (int y = 0; y < f.height(); ++y) {
      const uint8_t* indices = f.av()->data[0] + static_cast<std::ptrdiff_t>(y) * f.av()->linesize[0];
      for (int x = 0; x < f.width(); ++x) {
        if ((palette[indices[x]] >> 24) != 0xFFU) {
          return true;
        }
      }
    }
    return false;
  }
  const int c = d->nb_components - 1;  // alpha comes last
  const uint32_t opaque = (1U << d->comp[c].depth) - 1U;
  row.resize(static_cast<std::size_t>(f.width()));
  const uint8_t* data[4] = {f.av()->data[0], f.av()->data[1], f.av()->data[2], f.av()->data[3]};
  for (int y = 0; y < f.height(); ++y) {
    av_read_image_line2(row.data(), data, f.av()->linesize, d, 0, y, c, f.width(), 0, 4);
    if (std::any_of(row.begin(), row.end(), [opaque](uint32_t a) { return a != opaque; })) {
      return true;
    }
  }
  return false;
}

// Passes frames on and says, once, when the first one with transparent pixels goes
// by: the output will not keep them. (Said for every input with an alpha channel,
// it warned on every GIF, whose palette reserves a transparent entry that most
// never use, and on opaque RGBA PNGs.)
class AlphaWatchFilter final : public FrameFilter {
 public:
  explicit AlphaWatchFilter(std::string message) : message_(std::move(message)) {}
  [[nodiscard]] std::string name() const override { return "alpha-watch"; }
  void process(Frame frame, FrameOutput& out) override {
    if (!said_ && has_transparency(frame, row_)) {
      said_ = true;
      spdlog::warn(fmt::runtime(message_), frame.seconds());
    }
    out.emit(std::move(frame));
  }

 private:
  std::string message_;  // with {} for the time of the first transparent frame
  bool said_ = false;
  std::vector<uint32_t> row_;  // one row of alpha values, kept between frames
};

// Where the symlink `link` finally points (following a chain of links), whether
// or not the file there exists.
fs::path link_target(const fs::path& link) {
  fs::path p = link;
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(p, ec); ++hops) {
    const fs::path t = fs::read_symlink(p, ec);
    if (ec) {
      break;
    }
    p = (t.is_absolute() ? t : p.parent_path() / t).lexically_normal();
  }
  return p;
}

// Where the job writes: a temporary file beside the output, or for an image
// sequence a temporary folder beside the images. Deleted unless committed.
class TemporaryOutput {
 public:
  explicit TemporaryOutput(const std::string& output) : sequence_(sequence_output(output)) {
    if (output == "-") {
      // stdout: written as it goes, nothing to move or delete.
      path_ = "pipe:1";
      committed_ = true;
    } else if (special_file(output)) {
      path_ = output;  // a pipe or device: the same
      committed_ = true;
    } else if (const AVOutputFormat* f = av_guess_format(nullptr, output.c_str(), nullptr);
               !sequence_ && f != nullptr && (f->flags & AVFMT_NOFILE) != 0 && std::strcmp(f->name, "image2") != 0) {
      // A muxer that writes files of its own (HLS, DASH: a playlist and segments
      // named after it) writes under the final name, or the playlist would list
      // segments with the temporary name. A failed job deletes the playlist, and the
      // Muxer the segments it wrote.
      path_ = output;
      cleanup_.emplace(path_);
    } else if (sequence_) {
      folder_ = (fs::path(sequence_->folder()) / (".framegen-" + std::to_string(::getpid()) + ".part")).string();
      std::error_code ec;
      fs::remove_all(folder_, ec);  // left by an earlier process with this pid that was killed
      if (!fs::create_directory(folder_, ec)) {
        throw Error(ErrorKind::kOutput, "cannot create the folder '" + folder_ + "' for the images: " + ec.message());
      }
      path_ = (fs::path(folder_) / fs::path(output).filename()).string();
      cleanup_.emplace(folder_);
    } else {
      // A symlink is written through, as ffmpeg does: the file it points to is
      // replaced (with -y) or created (a dangling link), and the link stays (it was
      // replaced by a regular file).
      std::error_code ec;
      if (fs::is_symlink(output, ec)) {
        fs::path target = fs::canonical(output, ec);
        if (ec) {
          target = link_target(output);
          std::error_code dir_ec;
          if (!fs::is_directory(target.parent_path(), dir_ec)) {
            throw Error(ErrorKind::kOutput,
                        "output '" + output + "' is a link to '" + target.string() + "', whose folder does not exist");
          }
        }
        target_ = target.string();
      }
      path_ = temporary_path_for(target_.empty() ? output : target_);
      cleanup_.emplace(path_);
    }
  }
  ~TemporaryOutput() {
    cleanup_.reset();
    if (!committed_) {
      std::error_code ec;
      if (sequence_) {
        fs::remove_all(folder_, ec);
      } else {
        fs::remove(path_, ec);
      }
    }
  }
  TemporaryOutput(const TemporaryOutput&) = delete;
  TemporaryOutput& operator=(const TemporaryOutput&) = delete;

  void commit(const std::string& final_path) {
    std::error_code ec;
    if (final_path == "-" || final_path == path_) {
      committed_ = true;
      return;
    }
    if (sequence_) {
      commit_sequence();
      return;
    }
    fs::rename(path_, target_.empty() ? final_path : target_, ec);
    if (ec) {
      throw Error(ErrorKind::kOutput, "cannot move the finished output to '" + final_path + "': " + ec.message());
    }
    committed_ = true;
  }
  // The path the muxer writes (for a sequence: the pattern inside the temporary folder).
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  void commit_sequence() {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) {
      throw Error(ErrorKind::kOutput, "cannot read the folder '" + folder_ + "': " + ec.message());
    }
    std::sort(names.begin(), names.end());
    g_committing.store(true);
    for (const std::string& name : names) {
      fs::rename(fs::path(folder_) / name, fs::path(sequence_->folder()) / name, ec);
      if (ec) {
        g_committing.store(false);
        throw Error(ErrorKind::kOutput,
                    "cannot move the finished image '" + name + "' to '" + sequence_->folder() + "': " + ec.message());
      }
    }
    committed_ = true;
    cleanup_.reset();
    g_committing.store(false);
    fs::remove(folder_, ec);
    // With -y, images of an earlier, longer run past the last frame written stay:
    // say so, they would read as part of this sequence.
    std::size_t stale = 0;
    for (const std::string& name : sequence_->existing()) {
      if (!std::binary_search(names.begin(), names.end(), name)) {
        ++stale;
      }
    }
    if (stale > 0) {
      spdlog::warn("'{}' also holds {} older image(s) named like '{}' that this job did not write", sequence_->folder(),
                   stale, fs::path(sequence_->pattern()).filename().string());
    }
  }

  std::optional<NumberedName> sequence_;
  std::string folder_;
  std::string path_;
  std::string target_;  // where an output that is a symlink points
  std::optional<SignalCleanup> cleanup_;
  bool committed_ = false;
};

class ActivePipeline {
 public:
  explicit ActivePipeline(Pipeline* p) { g_pipeline.store(p); }
  ~ActivePipeline() { g_pipeline.store(nullptr); }
  ActivePipeline(const ActivePipeline&) = delete;
  ActivePipeline& operator=(const ActivePipeline&) = delete;
};

// Where `eval --save DIR` writes the frames of `ref`: DIR itself for a single
// reference, DIR/<ref name> for several. Empty when not saving.
std::string save_folder_for(const std::string& dir, const std::string& ref, std::size_t refs) {
  if (dir.empty()) {
    return {};
  }
  const std::string save = refs == 1 ? dir : (fs::path(dir) / fs::path(ref).stem()).string();
  std::error_code ec;
  fs::create_directories(save, ec);
  if (ec) {
    throw Error(ErrorKind::kOutput, "cannot create '" + save + "': " + ec.message());
  }
  return save;
}

}  // namespace

bool request_stop_current_job() noexcept {
  if (Pipeline* p = g_pipeline.load()) {
    p->request_stop();
    return true;
  }
  if (g_loop_running.load()) {
    g_loop_interrupted.store(true);
    return true;
  }
  return false;
}

const char* current_temporary_output() noexcept { return g_temp_path.load(); }

bool committing_output() noexcept { return g_committing.load(); }

void validate_paths(const std::string& input, const std::string& output, bool overwrite) {
  if (output.empty()) {
    throw Error(ErrorKind::kUsage, "no output given (-o OUTPUT)");
  }
  if (output == "-") {
    if (::isatty(STDOUT_FILENO) != 0) {
      throw Error(ErrorKind::kUsage,
                  "-o - writes the video to stdout, which is a terminal; pipe it into a program "
                  "(framegen ... -o - | ffplay -) or give an output file");
    }
    return;
  }
  if (const AVOutputFormat* ofmt = av_guess_format(nullptr, output.c_str(), nullptr);
      ofmt != nullptr && std::strcmp(ofmt->name, "image2") != 0 && output.find('%') != std::string::npos) {
    bool numbered = false;
    try {
      numbered = NumberedName::parse(output).has_value();
    } catch (const Error&) {
      numbered = true;
    }
    if (numbered) {
      spdlog::warn(
          "'{}' is written as one {} file with that very name; numbered images need an image extension "
          "(.png, .jpg, .tiff, .bmp)",
          output, ofmt->name);
    }
  }
  if (const std::optional<NumberedName> seq = sequence_output(output)) {
    const std::vector<std::string> existing = seq->existing();
    if (!existing.empty() && !overwrite) {
      throw Error(ErrorKind::kOutput, "'" + seq->folder() + "' already holds " + std::to_string(existing.size()) +
                                          " image(s) named like '" + fs::path(output).filename().string() + "' ('" +
                                          existing.front() + "'...) (use -y to overwrite them)");
    }
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
  if (::stat(parent.c_str(), &dir_st) != 0) {
    throw Error(ErrorKind::kOutput, "output directory '" + parent.string() + "' does not exist");
  }
  if (!S_ISDIR(dir_st.st_mode)) {
    throw Error(ErrorKind::kOutput, "output directory '" + parent.string() + "' is not a directory");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw Error(ErrorKind::kOutput,
                "output directory '" + parent.string() + "' is not writable: " + std::strerror(errno));
  }
}

AVRational parse_rate(const std::string& text) {
  AVRational r{0, 1};
  if (av_parse_video_rate(&r, text.c_str()) < 0 || r.num <= 0 || r.den <= 0) {
    throw Error(ErrorKind::kUsage, "invalid frame rate '" + text + "' (e.g. 60, 59.94, 60000/1001)");
  }
  // Decimal NTSC rates mean the exact x000/1001 rates.
  const double v = av_q2d(r);
  for (const int base : {24, 30, 48, 60, 120}) {
    const double ntsc = base * 1000.0 / 1001.0;
    if (std::fabs(v - ntsc) < 0.006 && !(r.num == base * 1000 && r.den == 1001)) {
      return AVRational{base * 1000, 1001};
    }
  }
  return r;
}

namespace {

// Encoder options the chosen encoder would clamp, drop or refuse only when it opens
// at the first frame: bad usage, said before the job starts.
void check_encoder_options(const EncoderOptions& enc, const AVCodec* codec) {
  const std::string name = codec->name;
  if (enc.crf > 51 && (codec->id == AV_CODEC_ID_H264 || codec->id == AV_CODEC_ID_HEVC)) {
    // x264 and x265 would clamp it to 51 without a word.
    throw Error(ErrorKind::kUsage,
                "--crf " + std::to_string(enc.crf) + ": " + enc.codec + " takes 0 (best) to 51 (smallest)");
  }
  if (!enc.preset.empty()) {
    // The encoders' own checks come only when they open, at the first frame, as an
    // output failure ("Error setting preset/tune"): a mistyped preset is bad usage.
    static const std::vector<std::string> kX26x = {"ultrafast", "superfast", "veryfast", "faster",   "fast",
                                                   "medium",    "slow",      "slower",   "veryslow", "placebo"};
    static const std::vector<std::string> kVpx = {"good", "best", "realtime"};
    const std::vector<std::string>* known = nullptr;
    if (name == "libx264" || name == "libx264rgb" || name == "libx265") {
      known = &kX26x;
    } else if (name.rfind("libvpx", 0) == 0) {
      known = &kVpx;
    }
    if (known != nullptr && std::find(known->begin(), known->end(), enc.preset) == known->end()) {
      std::string list;
      for (const auto& k : *known) {
        list += (list.empty() ? "" : ", ") + k;
      }
      throw Error(ErrorKind::kUsage, "--preset " + enc.preset + ": " + enc.codec + " takes " + list);
    }
  }
  if (enc.bitrate > 0) {
    // Lossless encoders have no bitrate to aim at, and x264/x265 with a --crf keep
    // the constant quality: either way --bitrate would be dropped without a word.
    const AVCodecDescriptor* desc = avcodec_descriptor_get(codec->id);
    if (desc != nullptr && (desc->props & AV_CODEC_PROP_LOSSY) == 0) {
      throw Error(ErrorKind::kUsage,
                  "--bitrate: " + enc.codec + " is lossless and has no bitrate to aim at; leave out --bitrate");
    }
    // Lossy encoders without a rate control: libwebp encodes at a fixed quality
    // and ProRes at its profile's rate, whatever the bitrate (measured: the same
    // bytes for 30k and 3M).
    static const std::vector<std::string> kNoRateControl = {"libwebp", "libwebp_anim", "prores", "prores_aw",
                                                            "prores_ks"};
    if (std::find(kNoRateControl.begin(), kNoRateControl.end(), name) != kNoRateControl.end()) {
      throw Error(ErrorKind::kUsage, "--bitrate: " + name +
                                         " has no rate control (its size follows its quality or profile setting); "
                                         "leave out --bitrate");
    }
    // libvpx and libaom take both: constant quality, capped at the bitrate.
    const bool capped_quality = name.rfind("libvpx", 0) == 0 || name == "libaom-av1";
    if (enc.crf >= 0 && !capped_quality) {
      throw Error(ErrorKind::kUsage, "--crf and --bitrate together: " + enc.codec +
                                         " would keep the constant quality and ignore the bitrate; give one of them");
    }
  }
}

}  // namespace

JobResult run_video_job(const VideoJob& job) {
  const CommonOptions& common = job.common;
  if (job.scale < 1 || job.scale > 4) {
    throw Error(ErrorKind::kUsage, "--scale must be 1, 2, 3 or 4");
  }
  const bool upscaling = job.scale > 1;
  const bool classical = job.sr_model == "bicubic" || job.sr_model == "lanczos";
  // Options that nothing in the job would use are refused, not ignored.
  if (job.sr_model_given && !upscaling) {
    throw Error(ErrorKind::kUsage, "--model " + job.sr_model + " chooses the upscaler: give --scale 2, 3 or 4");
  }
  if (job.tile > 0 && !(upscaling && !classical)) {
    throw Error(ErrorKind::kUsage, upscaling ? "--tile applies to the neural upscalers only"
                                             : "--tile applies to the neural upscalers: give --scale 2, 3 or 4");
  }
  const bool predicting = job.retime || job.extend_frames > 0;
  const bool network_predictor = predicting && job.predictor != "blend" && job.predictor != "repeat";
  if (job.device != "cpu" && !(upscaling && !classical) && !network_predictor) {
    if (upscaling && !predicting) {
      throw Error(ErrorKind::kUsage, "--device " + job.device + ": " + job.sr_model + " runs on the CPU only");
    }
    if (!upscaling && !predicting) {
      throw Error(ErrorKind::kUsage, "--device " + job.device +
                                         ": this job runs no network (give --scale 2-4 with a neural --model, or "
                                         "--fps or --factor with a network --predictor)");
    }
  }
  // --precision goes to the job's built-in networks; a job with none would ignore it.
  const bool sr_network = upscaling && SuperResolution::is_builtin(job.sr_model) && !classical;
  const bool predictor_network = predicting && (job.predictor == "gan" || job.predictor == "gan-l1");
  if (job.precision != "auto" && !sr_network && !predictor_network) {
    std::string runs;
    if (upscaling) {
      runs = "the upscaler '" + job.sr_model + "'";
    }
    if (predicting) {
      runs += (runs.empty() ? "the predictor '" : " and the predictor '") + job.predictor + "'";
    }
    throw Error(ErrorKind::kUsage, "--precision " + job.precision +
                                       " applies to the built-in networks (the gan predictor, the fast and quality "
                                       "upscalers); this job runs " +
                                       (runs.empty() ? std::string("no network") : runs));
  }
  if (!common.format.empty() && !writes_stdout(common) && !special_file(common.output)) {
    throw Error(ErrorKind::kUsage,
                "--format names the container of -o - (stdout), a named pipe or a device; the "
                "container of '" +
                    common.output + "' follows its extension");
  }
  if (special_file(common.output) && output_container(common) == nullptr) {
    throw Error(ErrorKind::kUsage, "'" + common.output +
                                       "' is a named pipe or a device: name its container with --format (matroska, "
                                       "nut, mpegts, mp4, ...)");
  }
  if (writes_stdout(common) || (special_file(common.output) && !common.format.empty())) {
    const AVOutputFormat* f = output_container(common);
    if (f == nullptr) {
      throw Error(ErrorKind::kUsage, "--format " + common.format +
                                         ": no such container (matroska, webm, nut, "
                                         "mpegts, mp4, ...; ffmpeg -muxers lists them)");
    }
    if ((f->flags & AVFMT_NOFILE) != 0) {
      throw Error(ErrorKind::kUsage, "--format " + common.format + " writes files of its own, not a stream on stdout");
    }
    if (common.json && writes_stdout(common)) {
      throw Error(ErrorKind::kUsage, "--json prints on stdout, where -o - writes the video");
    }
  }
  validate_paths(common.input, common.output, common.overwrite);
  if (job.command == "run" && !upscaling && !job.retime) {
    spdlog::warn("run without --fps, --factor or --scale: '{}' is re-encoded as it is", common.input);
  }
  // Load the models before touching the input: a bad model is a usage error, fast.
  std::unique_ptr<SuperResolveFilter> sr_filter;
  if (upscaling && !classical) {
    SrOptions so;
    so.model = job.sr_model;
    so.scale = job.scale;
    so.device = job.device;
    so.threads = common.threads;
    so.tile = job.tile;
    so.precision = sr_network ? job.precision : "auto";
    sr_filter = std::make_unique<SuperResolveFilter>(so);
  }
  // Retiming with a network on the CPU: two predictors on worker threads, each
  // with half the cores (the frames between each pair of input frames are
  // independent). One network call keeps two cores busy only ~70% of the time
  // (many small serial operations); two side by side keep them busy. Extension
  // is autoregressive: one predictor.
  std::vector<std::unique_ptr<FrameInterpolator>> predictors;
  // The arithmetic of the job's networks (both resolve the same request on the
  // same device); "" without one.
  std::string precision = sr_filter ? sr_filter->model().precision() : "";
  bool ensemble = false;  // as predicted (quality best includes it)
  if (predicting) {
    const int cores = common.threads > 0 ? common.threads
                                         : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    const bool network = job.predictor != "blend" && job.predictor != "repeat";
    const int workers = job.retime && network && job.device == "cpu" && cores >= 2 ? 2 : 1;
    PredictorOptions po;
    po.model = job.predictor;
    po.ensemble = job.ensemble;
    po.quality = job.quality;
    po.precision = predictor_network ? job.precision : "auto";
    po.device = job.device;
    po.threads = common.threads;
    po.threads_per_call = workers > 1 ? cores / workers : 0;
    for (int i = 0; i < workers; ++i) {
      predictors.push_back(make_frame_predictor(po));
    }
    if (predictor_network) {
      precision = resolved_precision(po);
    }
    ensemble = uses_ensemble(po);
  }

  EncoderOptions enc = common.encoder;
  if (!common.codec_given) {
    enc.codec = default_codec_for(output_container(common), common.output);
  }
  enc.threads = common.threads;
  const AVCodec* codec = find_video_encoder(enc.codec);
  check_encoder_options(enc, codec);
  if (const AVOutputFormat* ofmt = output_container(common)) {
    if (container_refuses(ofmt, codec->id)) {
      throw Error(ErrorKind::kUsage, "the " + std::string(ofmt->name) + " container of '" + common.output +
                                         "' cannot hold " + enc.codec + " video");
    }
  }
  if (sequence_output(common.output) && (codec->capabilities & AV_CODEC_CAP_DELAY) != 0) {
    // An encoder that holds frames back (libwebp_anim, video codecs) would not
    // write one image per frame.
    throw Error(ErrorKind::kUsage, "numbered images ('" + common.output +
                                       "') need an image encoder that writes "
                                       "one image per frame; " +
                                       enc.codec + " does not (leave out --codec)");
  }

  DecoderOptions dec_opts;
  dec_opts.threads = common.threads;
  dec_opts.stream = common.stream;
  dec_opts.timeout = common.timeout;
  dec_opts.max_pixels = common.max_pixels;
  if (!common.input_fps.empty()) {
    dec_opts.image_rate = parse_rate(common.input_fps);
  }
  auto decoder = std::make_unique<Decoder>(common.input, dec_opts);
  VideoInfo info = decoder->info();

  AVRational out_rate = info.frame_rate;
  if (job.retime) {
    if (job.factor > 0) {
      if (info.frame_rate.num <= 0) {
        throw Error(ErrorKind::kInput,
                    "'" + common.input + "' has no known frame rate; give --fps instead of --factor");
      }
      out_rate = av_mul_q(info.frame_rate, AVRational{job.factor, 1});
    } else {
      out_rate = job.fps;
    }
    if (av_cmp_q(out_rate, AVRational{kMaxRetimeRate, 1}) > 0) {
      std::ostringstream msg;
      msg << "the output frame rate would be " << av_q2d(out_rate) << " fps, above the limit of " << kMaxRetimeRate
          << " fps";
      throw Error(ErrorKind::kUsage, msg.str());
    }
  }

  if (const AVOutputFormat* ofmt = av_guess_format(nullptr, common.output.c_str(), nullptr);
      ofmt != nullptr && std::strcmp(ofmt->name, "image2") == 0 && !sequence_output(common.output)) {
    if (job.retime || job.extend_frames > 0 || info.frame_count > 1) {
      throw Error(ErrorKind::kUsage,
                  "'" + common.output + "' is a single image, but the " + job.command +
                      " output has more than one frame; write a video (.mp4, .mkv, .gif, ...) or numbered images "
                      "(frames/%06d.png)");
    }
  }

  const int out_w = info.width * job.scale;
  const int out_h = info.height * job.scale;
  if (out_w > kMaxOutputDimension || out_h > kMaxOutputDimension) {
    throw Error(ErrorKind::kUsage, "the output would be " + std::to_string(out_w) + "x" + std::to_string(out_h) +
                                       ", above the limit of " + std::to_string(kMaxOutputDimension) +
                                       " pixels per side");
  }
  AVPixelFormat out_fmt = choose_encoder_pix_fmt(codec, info.pix_fmt, enc.pix_fmt);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(out_fmt);
  if (desc != nullptr && ((out_w % (1 << desc->log2_chroma_w)) != 0 || (out_h % (1 << desc->log2_chroma_h)) != 0)) {
    // Odd sizes cannot be subsampled: keep every pixel by encoding 4:4:4 when the
    // encoder can (and the user did not pin a format).
    const AVPixelFormat full = desc->comp[0].depth > 8 ? AV_PIX_FMT_YUV444P10LE : AV_PIX_FMT_YUV444P;
    if (!enc.pix_fmt.empty() || choose_encoder_pix_fmt(codec, full, "") != full) {
      throw Error(ErrorKind::kUsage, "output size " + std::to_string(out_w) + "x" + std::to_string(out_h) +
                                         " does not fit the chroma subsampling of " + av_get_pix_fmt_name(out_fmt) +
                                         "; choose a 4:4:4 --pix-fmt or another scale");
    }
    spdlog::warn("output size {}x{} is odd: encoding {} instead of {} so that no pixel is lost", out_w, out_h,
                 av_get_pix_fmt_name(full), av_get_pix_fmt_name(out_fmt));
    out_fmt = full;
  } else if (enc.pix_fmt.empty() && codec->id == AV_CODEC_ID_H264 && out_fmt != AV_PIX_FMT_YUV420P &&
             out_fmt != AV_PIX_FMT_YUVJ420P) {
    // As ffmpeg says it: H.264 beyond 8-bit 4:2:0 (an RGB, 4:4:4 or 10-bit input's
    // layout) is a profile that browsers, phones and many players do not decode.
    spdlog::warn(
        "encoding H.264 as {} (input {}): many players, browsers and phones play 8-bit 4:2:0 only "
        "(--pix-fmt yuv420p for them)",
        av_get_pix_fmt_name(out_fmt), av_get_pix_fmt_name(info.pix_fmt));
  }
  const AVPixFmtDescriptor* in_desc = av_pix_fmt_desc_get(info.pix_fmt);
  // Transparency the output will not keep is said when the first transparent
  // frame goes by (AlphaWatchFilter): an alpha channel that is opaque throughout
  // loses nothing.
  std::string alpha_lost;
  if (in_desc != nullptr && (in_desc->flags & AV_PIX_FMT_FLAG_ALPHA) != 0) {
    const AVPixFmtDescriptor* od = av_pix_fmt_desc_get(out_fmt);
    if (od == nullptr || (od->flags & AV_PIX_FMT_FLAG_ALPHA) == 0) {
      alpha_lost = "'" + common.input + "' has transparent pixels (first at {:.3f} s); encoder " + enc.codec + " (" +
                   av_get_pix_fmt_name(out_fmt) +
                   ") cannot store an alpha channel, so the output is opaque (keep it with an alpha-capable --codec "
                   "such as png, qtrle or ffv1)";
    } else if (upscaling && !classical) {
      alpha_lost = "'" + common.input +
                   "' has transparent pixels (first at {:.3f} s); the neural upscalers work on colour only, so the "
                   "output is opaque (use --model bicubic or lanczos to keep alpha)";
    } else {
      spdlog::info("alpha channel kept ({})", av_get_pix_fmt_name(out_fmt));
    }
  }
  // Re-timing with the predictors that see RGB works in 8 bits: every frame (the
  // input's own too, so that the synthesised ones do not stand out) is reduced to
  // the 8-bit format of the same layout (chroma subsampling, alpha) first. blend
  // and repeat keep the samples as they are (10-bit stays 10-bit) where blend can
  // mix the format, and get the same 8-bit layout where it cannot (rgb565...).
  const bool high_bit = in_desc != nullptr && in_desc->comp[0].depth > 8;
  // Palette frames (pal8) are re-timed in the RGBA their palette holds: frames
  // made between them have colours no palette holds.
  const bool paletted = in_desc != nullptr && (in_desc->flags & AV_PIX_FMT_FLAG_PAL) != 0;
  const bool sample_predictor = job.predictor == "blend" || job.predictor == "repeat";
  const bool reduce = !predictors.empty() && (sample_predictor ? !blend_mixes(info.pix_fmt) : high_bit || paletted);
  const AVPixelFormat retime_fmt = reduce ? eight_bit_format(info.pix_fmt) : info.pix_fmt;
  if (high_bit && reduce) {
    spdlog::warn("'{}' is {}-bit: frame {} works in 8 bits, so every frame is reduced to {} first", common.input,
                 in_desc->comp[0].depth, job.retime ? "interpolation" : "extension", av_get_pix_fmt_name(retime_fmt));
  } else if (high_bit && upscaling && !classical) {
    spdlog::warn("'{}' is {}-bit: the neural upscalers work in 8 bits (use --model lanczos to keep {} bits)",
                 common.input, in_desc->comp[0].depth, in_desc->comp[0].depth);
  }

  TemporaryOutput temp(common.output);
  Muxer muxer(writes_stdout(common) ? "stdout" : common.output, temp.path(), decoder->format_context(),
              info.stream_index, writes_stdout(common) || !common.format.empty() ? output_container(common)->name : "");
  decoder->set_passthrough([&muxer](AVPacket* pkt, const AVStream* st) { muxer.write_passthrough(pkt, st); });

  VideoInfo enc_info = info;
  enc_info.frame_rate = out_rate;
  // Colour tags that say what the output holds. An RGB source (tagged "gbr" by
  // Matroska/MOV, or untagged) encoded as YUV is converted with the BT.601 matrix
  // (the scaler's for RGB), and says so: it kept the source's "gbr" tag, so players
  // (and ffmpeg) read its Y, U, V planes as G, B, R, and every colour was wrong. An
  // RGB output is tagged RGB and full range, whatever the YUV source was. RGB made
  // into YUV (but for the full-range J formats) is limited range, as ffmpeg writes
  // it: a PNG's pc tag kept it full range, which players that ignore the tag show
  // with crushed blacks and whites.
  bool rgb_to_limited = false;
  if (const AVPixFmtDescriptor* od = av_pix_fmt_desc_get(out_fmt); od != nullptr) {
    const bool in_rgb = in_desc != nullptr && (in_desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) != 0;
    if ((od->flags & AV_PIX_FMT_FLAG_RGB) != 0) {
      enc_info.colorspace = AVCOL_SPC_RGB;
      enc_info.color_range = AVCOL_RANGE_JPEG;
    } else if (in_rgb && od->nb_components >= 3) {
      if (info.colorspace == AVCOL_SPC_RGB || info.colorspace == AVCOL_SPC_UNSPECIFIED) {
        enc_info.colorspace = AVCOL_SPC_SMPTE170M;
      }
      if (without_j(out_fmt) == out_fmt) {
        rgb_to_limited = true;
        enc_info.color_range = AVCOL_RANGE_MPEG;
      }
    }
  }
  auto sink = std::make_unique<EncodeSink>(muxer, enc_info, enc);
  int64_t expected = info.frame_count;
  if (job.retime && info.duration > 0) {
    expected = static_cast<int64_t>(std::llround(info.duration * av_q2d(out_rate)));
  } else if (job.extend_frames > 0 && expected > 0) {
    expected += job.extend_frames;
  }
  ProgressLine progress(job.retime ? 0.0 : info.duration, expected,
                        ::isatty(writes_stdout(common) ? STDERR_FILENO : STDOUT_FILENO) != 0 && !common.json);
  sink->set_progress([&progress](int64_t frames, double secs) { progress.update(frames, secs); });

  Decoder* dec = decoder.get();
  EncodeSink* enc_sink = sink.get();
  Pipeline pipeline;
  pipeline.set_source(std::move(decoder));

  // Stages that are not asked for are not in the chain.
  if (!alpha_lost.empty()) {
    pipeline.add_filter(std::make_unique<AlphaWatchFilter>(alpha_lost));
  }
  AVPixelFormat cur_fmt = info.pix_fmt;
  if (retime_fmt != info.pix_fmt) {
    ScalerConfig sc;
    sc.width = info.width;
    sc.height = info.height;
    sc.format = retime_fmt;
    pipeline.add_filter(std::make_unique<ScaleFilter>(sc));
    cur_fmt = retime_fmt;
  }
  RetimeFilter* retime = nullptr;
  if (job.retime) {
    auto f = std::make_unique<RetimeFilter>(out_rate, std::move(predictors), job.detect_cuts);
    retime = f.get();
    pipeline.add_filter(std::move(f));
  } else if (job.extend_frames > 0) {
    pipeline.add_filter(
        std::make_unique<ExtendFilter>(job.extend_frames, std::move(predictors.front()), info.frame_rate));
  }
  std::string method = "none";
  if (upscaling && classical) {
    ScalerConfig sc;
    sc.width = out_w;
    sc.height = out_h;
    sc.format = out_fmt;
    sc.algorithm = parse_scale_algorithm(job.sr_model);
    if (rgb_to_limited) {
      sc.range = AVCOL_RANGE_MPEG;
      rgb_to_limited = false;  // done here
    }
    pipeline.add_filter(std::make_unique<ScaleFilter>(sc));
    method = to_string(sc.algorithm);
    cur_fmt = out_fmt;
  } else if (upscaling) {
    method = sr_filter->model().description();
    // The model keeps planar YUV as it is; anything else it returns as yuv444p
    // (luma models) or rgb24 (TorchScript RGB models).
    if (!sr_filter->model().native_format(cur_fmt)) {
      cur_fmt = SuperResolution::is_builtin(job.sr_model) ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_RGB24;
    }
    pipeline.add_filter(std::move(sr_filter));
  }
  if (cur_fmt != out_fmt || rgb_to_limited) {
    ScalerConfig sc;
    sc.width = out_w;
    sc.height = out_h;
    sc.format = out_fmt;
    sc.algorithm = ScaleAlgorithm::kBicubic;
    sc.range = rgb_to_limited ? AVCOL_RANGE_MPEG : AVCOL_RANGE_UNSPECIFIED;
    pipeline.add_filter(std::make_unique<ScaleFilter>(sc));
  }
  pipeline.set_sink(std::move(sink));

  spdlog::info("{} '{}' {}x{} @ {:.3f} fps -> {}x{} @ {:.3f} fps, upscaler {}, predictor {}, {} {}", job.command,
               common.input, info.width, info.height, av_q2d(info.frame_rate), out_w, out_h, av_q2d(out_rate), method,
               job.retime || job.extend_frames > 0 ? job.predictor : "none", enc.codec, av_get_pix_fmt_name(out_fmt));
  const auto t0 = std::chrono::steady_clock::now();
  PipelineStats stats;
  {
    ActivePipeline active(&pipeline);
    try {
      stats = pipeline.run();
    } catch (const Error& e) {
      // Stopped before the first frame reached the encoder: nothing to finalize.
      if (pipeline.stop_requested() && e.kind() == ErrorKind::kProcessing && enc_sink->frames_encoded() == 0) {
        throw Error(ErrorKind::kCancelled, "interrupted before the first frame; nothing written to '" +
                                               common.output + "'");
      }
      throw;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  temp.commit(common.output);
  if (dec->timed_out()) {
    throw Error(ErrorKind::kInput, "input '" + common.input + "' stalled for more than " +
                                       std::to_string(common.timeout) + " s; '" + common.output + "' holds the " +
                                       std::to_string(enc_sink->frames_encoded()) + " frames read before");
  }

  JobResult result;
  result.cancelled = stats.cancelled;
  result.partial = dec->truncation();
  if (!result.partial.empty()) {
    spdlog::warn("'{}': {}; '{}' holds every frame that could be decoded", common.input, result.partial, common.output);
  }
  result.summary = {
      {"partial", !result.partial.empty()},
      {"command", job.command},
      {"input", common.input},
      {"output", common.output},
      {"frames_in", stats.frames_in},
      {"frames_out", enc_sink->frames_encoded()},
      {"seconds", seconds},
      {"fps", seconds > 0 ? static_cast<double>(enc_sink->frames_encoded()) / seconds : 0.0},
      {"width", out_w},
      {"height", out_h},
      {"scale", job.scale},
      {"model", upscaling ? job.sr_model : "none"},
      {"codec", enc.codec},
      {"frame_rate_in", std::to_string(info.frame_rate.num) + "/" + std::to_string(info.frame_rate.den)},
      {"frame_rate_out", std::to_string(out_rate.num) + "/" + std::to_string(out_rate.den)},
      {"passthrough_packets", muxer.passthrough_packets()},
      {"corrupt_packets", dec->corrupt_packets()},
      {"size_changes", dec->size_changes()},
      {"cancelled", stats.cancelled},
  };
  if (!precision.empty()) {
    result.summary["precision"] = precision;
  }
  if (retime != nullptr) {
    result.summary["predictor"] = job.predictor;
    result.summary["ensemble"] = ensemble;
    result.summary["quality"] = predictor_network ? nlohmann::json(job.quality) : nlohmann::json();
    result.summary["frames_synthesised"] = retime->frames_synthesised();
    result.summary["scene_cuts"] = retime->cuts();
  }
  if (job.extend_frames > 0) {
    result.summary["predictor"] = job.predictor;
    result.summary["frames_added"] = job.extend_frames;
  }
  return result;
}

JobResult run_upscale(const UpscaleOptions& options) {
  VideoJob job;
  job.command = "upscale";
  job.common = options.common;
  job.scale = options.scale;
  job.sr_model = options.model;
  job.device = options.device;
  job.tile = options.tile;
  job.precision = options.precision;
  return run_video_job(job);
}

nlohmann::json run_eval_sr(const EvalSrOptions& o) {
  const InterruptibleLoop loop;
  if (o.refs.empty()) {
    throw Error(ErrorKind::kUsage, "eval sr needs --ref PATH (a video or a folder of images)");
  }
  SrOptions so;
  so.model = o.model;
  so.scale = o.scale;
  so.device = o.device;
  so.threads = o.threads;
  so.tile = o.tile;
  so.precision = o.precision;
  SuperResolution model(so);
  const int s = o.scale;
  const bool is_tty = ::isatty(STDERR_FILENO) != 0;

  nlohmann::json per_ref = nlohmann::json::array();
  double all_psnr = 0;
  double all_ssim = 0;
  double all_bic_psnr = 0;
  double all_bic_ssim = 0;
  double model_seconds = 0;
  int64_t all_n = 0;
  for (std::size_t r = 0; r < o.refs.size(); ++r) {
    const std::string& ref = o.refs[r];
    const auto items = load_rgb_source(ref, o.max_frames);
    const std::string save = save_folder_for(o.save_dir, ref, o.refs.size());
    double psnr = 0;
    double ssim = 0;
    double bic_psnr = 0;
    double bic_ssim = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      throw_if_interrupted();
      const Image hr = modcrop(items[i].second, s);
      const Image lr = downscale_matlab(hr, s);
      const auto t0 = std::chrono::steady_clock::now();
      const Image sr = model.upscale(lr);
      model_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const Image bic = imresize_matlab(lr, hr.width, hr.height);
      psnr += psnr_y(sr, hr, s);
      ssim += ssim_y(sr, hr, s);
      bic_psnr += psnr_y(bic, hr, s);
      bic_ssim += ssim_y(bic, hr, s);
      if (!save.empty()) {
        char name[32];
        std::snprintf(name, sizeof(name), "%06zu.png", i);
        write_png_interruptibly((fs::path(save) / name).string(), sr);
      }
      if (is_tty && !o.json) {
        std::fprintf(stderr, "\r%s: %zu/%zu   ", ref.c_str(), i + 1, items.size());
      }
    }
    if (is_tty && !o.json) {
      std::fputc('\n', stderr);
    }
    const double n = static_cast<double>(items.size());
    per_ref.push_back({{"ref", ref},
                       {"frames", items.size()},
                       {"psnr", psnr / n},
                       {"ssim", ssim / n},
                       {"bicubic_psnr", bic_psnr / n},
                       {"bicubic_ssim", bic_ssim / n}});
    all_psnr += psnr;
    all_ssim += ssim;
    all_bic_psnr += bic_psnr;
    all_bic_ssim += bic_ssim;
    all_n += static_cast<int64_t>(items.size());
  }
  const double n = static_cast<double>(all_n);
  return {{"command", "eval sr"},
          {"model", o.model},
          {"description", model.description()},
          {"precision", model.precision().empty() ? nlohmann::json() : nlohmann::json(model.precision())},
          {"scale", s},
          {"refs", per_ref},
          {"frames", all_n},
          {"psnr", all_psnr / n},
          {"ssim", all_ssim / n},
          {"bicubic_psnr", all_bic_psnr / n},
          {"bicubic_ssim", all_bic_ssim / n},
          {"model_seconds", model_seconds},
          {"protocol",
           "HR modcrop; LR = MATLAB imresize bicubic (antialiased, per-pass uint8 rounding); PSNR/SSIM on BT.601 Y, "
           "border shaved by the scale; mean over all frames"}};
}

nlohmann::json run_eval_pred(const EvalPredOptions& o) {
  const InterruptibleLoop loop;
  if (o.refs.empty()) {
    throw Error(ErrorKind::kUsage, "eval " + o.task + " needs --ref VIDEO");
  }
  if (!o.cuts.empty() && o.refs.size() != 1) {
    throw Error(ErrorKind::kUsage, "--cuts applies to a single --ref");
  }
  const bool extrap = o.task == "extrap";
  PredictorOptions po;
  po.model = o.model;
  po.ensemble = o.ensemble;
  po.quality = o.quality;
  po.precision = o.precision;
  po.device = o.device;
  po.threads = o.threads;
  auto model = make_image_predictor(po);
  const std::string precision = resolved_precision(po);
  PredictorOptions bo;
  bo.model = "blend";
  auto blend = make_image_predictor(bo);
  std::vector<int> cut_list;
  std::stringstream cs(o.cuts);
  for (std::string item; std::getline(cs, item, ',');) {
    if (!item.empty()) {
      cut_list.push_back(std::stoi(item));
    }
  }
  auto has_cut = [&cut_list](int lo, int hi) {  // a shot starts at a frame in (lo, hi]
    for (int c : cut_list) {
      if (c > lo && c <= hi) {
        return true;
      }
    }
    return false;
  };

  nlohmann::json per_ref = nlohmann::json::array();
  double all[6] = {0, 0, 0, 0, 0, 0};  // model psnr, model ssim, repeat/copy psnr, blend psnr, sharp pred, sharp gt
  int64_t all_n = 0;
  double seconds = 0;
  for (const auto& ref : o.refs) {
    const std::vector<Image> frames = load_rgb_frames(ref, o.max_frames, 1, kPredScorerSwsFlags);
    const std::string save = save_folder_for(o.save_dir, ref, o.refs.size());
    double acc[6] = {0, 0, 0, 0, 0, 0};
    double psnr_y_sum = 0;
    int n = 0;
    const int count = static_cast<int>(frames.size());
    for (int k = 2; k < count; k += extrap ? 1 : 2) {
      throw_if_interrupted();
      // interp: (k-2, k) -> k-1; extrap: (k-2, k-1) -> k, with k-3 as older history.
      const int target = extrap ? k : k - 1;
      if (has_cut(k - 2, k)) {
        continue;
      }
      const Image& a = frames[k - 2];
      const Image& b = frames[extrap ? k - 1 : k];
      const Image& gt = frames[target];
      const auto t0 = std::chrono::steady_clock::now();
      // extrap: frame k-3 too, where it is in the same shot (DATA.md: "from frames up to t").
      const Image* older = extrap && k >= 3 && !has_cut(k - 3, k) ? &frames[k - 3] : nullptr;
      const Image pred = extrap ? model->extrapolate(older, a, b) : model->interpolate(a, b, 0.5);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      acc[0] += psnr_rgb(pred, gt);
      acc[1] += ssim_y(pred, gt, 0);
      acc[2] += psnr_rgb(extrap ? b : a, gt);
      acc[3] += extrap ? 0.0 : psnr_rgb(blend->interpolate(a, b, 0.5), gt);
      acc[4] += mean_gradient(pred);
      acc[5] += mean_gradient(gt);
      psnr_y_sum += psnr_y(pred, gt, 0);
      ++n;
      if (!save.empty()) {
        char name[32];
        std::snprintf(name, sizeof(name), "%06d.png", target);
        write_png_interruptibly((fs::path(save) / name).string(), pred);
      }
    }
    if (n == 0) {
      throw Error(ErrorKind::kInput, "'" + ref + "': no " + o.task + " sample (too few frames or all across cuts)");
    }
    nlohmann::json r = {{"ref", ref},
                        {"samples", n},
                        {"psnr", acc[0] / n},
                        {"psnr_y", psnr_y_sum / n},
                        {"ssim", acc[1] / n},
                        {extrap ? "copy_last_psnr" : "repeat_psnr", acc[2] / n},
                        {"sharpness", acc[4] / acc[5]}};
    if (!extrap) {
      r["blend_psnr"] = acc[3] / n;
    }
    per_ref.push_back(r);
    for (int i = 0; i < 6; ++i) {
      all[i] += i < 4 ? acc[i] / n : acc[i];
    }
    all_n += n;
  }
  const double refs = static_cast<double>(o.refs.size());
  nlohmann::json j = {
      {"command", "eval " + o.task},
      {"model", o.model},
      {"ensemble", uses_ensemble(po)},
      {"quality", precision.empty() || extrap ? nlohmann::json() : nlohmann::json(o.quality)},  // interp only
      {"precision", precision.empty() ? nlohmann::json() : nlohmann::json(precision)},
      {"refs", per_ref},
      {"samples", all_n},
      {"psnr", all[0] / refs},
      {"ssim", all[1] / refs},
      {extrap ? "copy_last_psnr" : "repeat_psnr", all[2] / refs},
      {"sharpness", all[4] / all[5]},
      {"model_seconds", seconds},
      {"protocol", extrap ? "frames (k-3,) k-2, k-1 -> k; PSNR on RGB (full frame), SSIM on Y; mean of the "
                            "per-clip means; windows across --cuts skipped"
                          : "frames 2i, 2i+2 -> 2i+1; PSNR on RGB (full frame), SSIM on Y; mean of "
                            "the per-clip means; triplets across --cuts skipped"}};
  if (!extrap) {
    j["blend_psnr"] = all[3] / refs;
  }
  return j;
}

nlohmann::json probe(const std::string& input, bool count_frames, const std::string& input_fps) {
  const VideoInfo info = probe_input(input, count_frames, input_fps.empty() ? AVRational{0, 0} : parse_rate(input_fps));
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
