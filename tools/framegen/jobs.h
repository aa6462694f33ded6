// The CLI's jobs, separate from argument parsing so tests and the CLI share them.
//
// A job validates its paths before any work, writes its output under a temporary
// name beside the final one and renames it only when the output is complete (or
// finalized after a cancellation): a failed job leaves no output file.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framegen/pipeline/encoder.h"

namespace framegen::cli {

// Exit codes, documented in --help and the README.
enum ExitCode : int {
  kExitOk = 0,
  kExitProcessing = 1,    // decoding / encoding failed mid-job
  kExitUsage = 2,         // bad options
  kExitInput = 3,         // input missing or unreadable, no video stream
  kExitOutput = 4,        // output exists (no -y), equals the input, not writable
  kExitPartial = 5,       // the input was cut short; the output holds everything that was decoded
  kExitInterrupted = 130  // stopped by SIGINT/SIGTERM; the partial output was finalized
};

struct CommonOptions {
  std::string input;
  std::string output;
  bool overwrite = false;
  bool json = false;
  int stream = -1;
  int threads = 0;     // 0: one per core
  double timeout = 0;  // stdin: give up after this many seconds without data
  std::string input_fps;  // numbered-image input: its frame rate (empty: 25)
  std::string format;     // the container of `-o -` (stdout); empty: matroska
  int64_t max_pixels = int64_t{8192} * 8192;
  EncoderOptions encoder;
  bool codec_given = false;
};

struct UpscaleOptions {
  CommonOptions common;
  int scale = 2;
  std::string model = "fast";
  std::string device = "cpu";
  int tile = 0;
  std::string precision = "auto";  // SrOptions::precision
};

// One pass: decode -> [re-time | extend] -> [upscale] -> encode.
struct VideoJob {
  std::string command = "run";
  CommonOptions common;
  int scale = 1;
  std::string sr_model = "fast";
  bool sr_model_given = false;  // run: --model was on the command line
  std::string device = "cpu";
  int tile = 0;
  bool retime = false;
  AVRational fps{0, 1};  // target rate when retime and factor == 0
  int factor = 0;        // target = input rate x factor
  std::string predictor = "gan";
  bool ensemble = false;  // PredictorOptions::ensemble
  std::string quality = "normal";  // PredictorOptions::quality
  std::string precision = "auto";  // PredictorOptions / SrOptions::precision (the job's networks)
  bool detect_cuts = true;
  int extend_frames = 0;
};

struct EvalPredOptions {
  std::vector<std::string> refs;
  std::string task = "interp";  // interp | extrap
  std::string model = "gan";
  bool ensemble = false;  // interp only: PredictorOptions::ensemble
  std::string quality = "normal";  // interp only: PredictorOptions::quality
  std::string precision = "auto";  // PredictorOptions::precision
  std::string cuts;  // comma list of first frames of new shots (single ref)
  std::string device = "cpu";
  int threads = 0;
  int max_frames = -1;
  std::string save_dir;
  bool json = false;
};

struct EvalSrOptions {
  std::vector<std::string> refs;  // videos or folders of images
  int scale = 2;
  std::string model = "fast";
  std::string device = "cpu";
  std::string precision = "auto";  // SrOptions::precision
  int tile = 0;
  int threads = 0;
  int max_frames = -1;
  std::string save_dir;  // writes DIR/%06d.png (one folder per ref when several)
  bool json = false;
};

struct JobResult {
  nlohmann::json summary;
  bool cancelled = false;
  std::string partial;  // why the input looks truncated; empty when it does not
};

// Async-signal-safe hooks for the CLI's signal handler: the first call asks the
// running job to stop reading and finalize (false when no job's pipeline is
// running); the temporary output path is exposed so a second signal can delete it
// before exiting.
bool request_stop_current_job() noexcept;
const char* current_temporary_output() noexcept;
// Whether finished output is being moved into place (a signal should let it finish).
bool committing_output() noexcept;

// Checks the input/output pair before any work. Throws Error(kOutput/kInput).
void validate_paths(const std::string& input, const std::string& output, bool overwrite);

JobResult run_upscale(const UpscaleOptions& options);
JobResult run_video_job(const VideoJob& job);
// "60", "59.94" (= 60000/1001), "60000/1001", "ntsc"...; throws Error(kUsage).
AVRational parse_rate(const std::string& text);

// `framegen eval interp|extrap`: docs/DATA.md's prediction protocol.
nlohmann::json run_eval_pred(const EvalPredOptions& options);

// `framegen eval sr`: docs/DATA.md's SR protocol; prints a table (or JSON) and
// returns the summary.
nlohmann::json run_eval_sr(const EvalSrOptions& options);

// `framegen probe`: a description of the input as JSON.
nlohmann::json probe(const std::string& input, bool count_frames, const std::string& input_fps = "");

}  // namespace framegen::cli
