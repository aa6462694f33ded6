// framegen: the command-line front end. Parses options, installs signal handlers,
// runs one job and maps errors to documented exit codes.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "framegen/pipeline/error.h"
#include "framegen/pipeline/log.h"
#include "jobs.h"
#include "sequence.h"

extern "C" {
#include <libavutil/eval.h>
}

namespace {

using namespace framegen;
using namespace framegen::cli;

constexpr const char* kPrecisionHelp =
    "Arithmetic of the built-in networks (gan predictor, fast and quality upscalers) on the CPU: auto (default: "
    "bf16 where it is the faster: AVX512_BF16 with AMX or without AVX512_FP16, else fp32), fp32, or bf16 "
    "(bfloat16 operands, float sums: the convolutions about twice as fast on those CPUs, slower on Sapphire "
    "Rapids without AMX; the same scores to about 0.01 dB)";

constexpr const char* kQualityHelp =
    "Interpolation with the gan predictor, speed against quality: fast (the network alone), normal (default: "
    "also DIS optical flow matched to half resolution, taken where it fits better; finds long motions), best (DIS "
    "matched to full resolution, and --ensemble for the inputs and for the inputs mirrored: four predictions "
    "averaged; about 4x normal's time)";

constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0    success\n"
    "  1    processing failed (decoder, encoder or model error mid-job)\n"
    "  2    bad usage (unknown option, bad value, impossible combination)\n"
    "  3    input problem (missing, unreadable, not a video, no video stream)\n"
    "  4    output problem (exists without -y, same as the input, not writable, disk full)\n"
    "  5    partial: the input ended early (truncated or unreadable); the output is complete up to there\n"
    "  130  interrupted by SIGINT/SIGTERM: the output holds every frame encoded so far\n"
    "\n"
    "A failed job leaves no output file. The first Ctrl-C stops reading the input and\n"
    "finalizes a playable partial output; a second one aborts at once and deletes it.\n"
    "eval stops at the next sample; before a job's pipeline runs (models loading),\n"
    "Ctrl-C stops at once.\n";

std::atomic<int> g_signals{0};

extern "C" void on_signal(int /*sig*/) {
  // The first signal stops a running pipeline gracefully (or an evaluation, between
  // two samples). Anything else (loading a model before the pipeline starts) has no
  // output to finalize: it stops at once, as a second signal does.
  if (g_signals.fetch_add(1) == 0 && request_stop_current_job()) {
    return;
  }
  if (committing_output()) {
    return;  // the finished output is being moved into place; the job ends right after
  }
  const char* tmp = current_temporary_output();
  if (tmp != nullptr && tmp[0] != '\0' && ::unlink(tmp) != 0 && errno == EISDIR) {
    remove_flat_folder_signal_safe(tmp);  // an image sequence's temporary folder
  }
  static const char msg[] = "\nframegen: aborted\n";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
  ::_exit(kExitInterrupted);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A file-size limit (ulimit -f) then reads like a full disk: writes fail with
  // EFBIG and the job reports it, instead of the process being killed mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
}

int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage:
      return kExitUsage;
    case ErrorKind::kInput:
      return kExitInput;
    case ErrorKind::kOutput:
      return kExitOutput;
    case ErrorKind::kCancelled:
      return kExitInterrupted;
    case ErrorKind::kProcessing:
      break;
  }
  return kExitProcessing;
}

// A bitrate as FFmpeg's tools take it: 2500000, 2500k, 2.5M (SI suffixes).
std::string parse_bitrate(const std::string& text) {
  char* end = nullptr;
  const double b = av_strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(b >= 1.0) || b > 1e12) {
    throw CLI::ValidationError("'" + text + "' is not a bitrate in bits/s (e.g. 2500000, 2500k, 2.5M)");
  }
  return std::to_string(std::llround(b));
}

void add_common(CLI::App* cmd, CommonOptions& o, std::string& log_level) {
  cmd->add_option("INPUT", o.input,
                  "Input video or image (any format FFmpeg reads; '-' for stdin), or numbered images "
                  "(frames/%06d.png: the first numbered 0 to 4, then every next number)")
      ->required();
  cmd->add_option("--input-fps", o.input_fps, "Frame rate of numbered-image input (default 25, as ffmpeg)");
  cmd->add_option("-o,--output", o.output,
                  "Output file; the container follows the extension (.mp4 .mkv .mov .webm, .png for one image); "
                  "numbered images with a frame number in the name: frames/%06d.png (.png .jpg .tiff ..., from 1, "
                  "as ffmpeg numbers them; no audio); - for stdout (Matroska, or --format)")
      ->required();
  cmd->add_flag("-y,--overwrite", o.overwrite, "Overwrite the output if it exists");
  cmd->add_option("--codec", o.encoder.codec,
                  "Video encoder: libx264 (default where the container holds H.264, else the container's own: "
                  "libvpx-vp9 for .webm, gif, mpeg1video for .mpg, ...), libx265, ffv1, "
                  "the image's own for .png .jpg .tiff .bmp .webp (png, mjpeg, tiff, bmp, libwebp), ...")
      ->each([&o](const std::string&) { o.codec_given = true; });
  cmd->add_option("--crf", o.encoder.crf, "Constant quality (x264/x265: 0-51, vp9: 0-63); default: the encoder's")
      ->check(CLI::Range(0, 63));
  cmd->add_option(
      "--preset", o.encoder.preset,
      "Encoder speed preset (x264/x265: ultrafast ... veryslow, placebo; vp9: its deadline, good, best or realtime)");
  cmd->add_option("--bitrate", o.encoder.bitrate,
                  "Target video bitrate in bits/s: 2500000, 2500k, 2.5M (instead of --crf; with libvpx-vp9 and --crf: "
                  "the cap of its constant quality)")
      ->transform(parse_bitrate);
  cmd->add_option("--pix-fmt", o.encoder.pix_fmt,
                  "Output pixel format (default: the input's when the encoder takes it)");
  cmd->add_option("--threads", o.threads, "Threads for decoder/encoder (0: one per core)")->check(CLI::Range(0, 256));
  cmd->add_option("--stream", o.stream, "Index of the video stream to process (default: the first)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout", o.timeout,
                  "With stdin input: stop after this many seconds without data, finalize the output, exit 3")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-pixels", o.max_pixels,
                  "Refuse video frames larger than this many pixels, before allocating them (default 8192x8192)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--format", o.format,
                  "Container of -o - (the video on stdout): matroska (default), webm, nut, mpegts, mp4 (fragmented), "
                  "...");
  cmd->add_flag("--json", o.json,
                "Print one JSON summary on stdout at the end (on failure: {command, error, exit_code})");
  cmd->add_option("--log-level", log_level, "trace, debug, info, warning (default), error, quiet");
}

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena for the whole process, set before any thread starts. With a
  // per-thread arena, the model stage's tens of MB of tensors per frame were handed
  // back to the kernel and faulted in again every frame (46 MB of page faults per
  // 640x360 x2 frame, a quarter of the CPU time of a whole `fast` job); in the main
  // heap they are reused. Measured: 1.15 M -> 0.1 M minor faults, 7.7 -> 6.5 s.
  mallopt(M_ARENA_MAX, 1);
  // A reader that goes away (-o - | head -c 1000) is a write error on the output
  // (exit 4, "Broken pipe"), not a silent death by SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"framegen: upscale, re-time and continue videos", "framegen"};
  app.footer(kExitCodesHelp);
  app.require_subcommand(1);
  app.set_version_flag("--version", "framegen 0.1.0");
  std::string log_level = "warning";
  app.add_option("--log-level", log_level, "trace, debug, info, warning (default), error, quiet");

  UpscaleOptions up;
  CLI::App* upscale = app.add_subcommand("upscale", "Upscale a video (or image) by 2, 3 or 4");
  add_common(upscale, up.common, log_level);
  upscale->add_option("--scale", up.scale, "Scale factor")->check(CLI::IsMember({2, 3, 4}));
  upscale->add_option("--model", up.model,
                      "Upscaler: fast (default, built-in network, real time), quality (built-in, deeper), "
                      "bicubic, lanczos, or a TorchScript file (*.pt: NCHW float RGB in [0,1] in and out)");
  upscale->add_option("--device", up.device,
                      "cpu (default), cuda or cuda:N for GPU N (needs a CUDA build of LibTorch)");
  upscale->add_option("--precision", up.precision, kPrecisionHelp)->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  upscale
      ->add_option("--tile", up.tile,
                   "Process frames in overlapping tiles of at most N x N input pixels (0: whole frames)")
      ->check(CLI::NonNegativeNumber);
  upscale->footer(kExitCodesHelp);

  // interpolate
  VideoJob ip;
  ip.command = "interpolate";
  ip.retime = true;
  ip.scale = 1;
  std::string ip_fps;
  CLI::App* interpolate = app.add_subcommand("interpolate", "Change the frame rate, synthesising the frames between");
  add_common(interpolate, ip.common, log_level);
  auto* ip_fps_opt =
      interpolate->add_option("--fps", ip_fps, "Target frame rate: 60, 59.94 (= 60000/1001), 50/1 ... (at most 1000)");
  auto* ip_factor_opt =
      interpolate->add_option("--factor", ip.factor, "Target rate = input rate x N")->check(CLI::Range(2, 16));
  ip_fps_opt->excludes(ip_factor_opt);
  interpolate->add_option("--model", ip.predictor,
                          "gan (default, trained generator), global (camera motion alone, fast), blend or repeat");
  interpolate->add_flag(
      "--ensemble", ip.ensemble,
      "Predict each frame from both time directions and average (gan: ~0.04 dB better, ~1.4x the time)");
  interpolate->add_option("--quality", ip.quality, kQualityHelp)->check(CLI::IsMember({"fast", "normal", "best"}));
  interpolate->add_option("--precision", ip.precision, kPrecisionHelp)->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  interpolate->add_flag("--no-cuts{false}", ip.detect_cuts, "Interpolate across detected scene cuts too");
  interpolate->add_option("--device", ip.device, "cpu, cuda or cuda:N");
  interpolate->footer(kExitCodesHelp);

  // extend
  VideoJob ex;
  ex.command = "extend";
  ex.scale = 1;
  CLI::App* extend = app.add_subcommand("extend", "Continue a clip by N predicted frames at its frame rate");
  add_common(extend, ex.common, log_level);
  extend->add_option("--frames", ex.extend_frames, "Frames to add after the last one")
      ->required()
      ->check(CLI::Range(1, 100000));
  extend->add_option("--model", ex.predictor, "gan (default), global (camera motion alone, fast) or repeat");
  extend->add_option("--precision", ex.precision, kPrecisionHelp)->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  extend->add_option("--device", ex.device, "cpu, cuda or cuda:N");
  extend->footer(kExitCodesHelp);

  // run
  VideoJob rn;
  rn.command = "run";
  rn.scale = 1;
  std::string rn_fps;
  CLI::App* run = app.add_subcommand("run", "Re-time and upscale in one pass (decode -> predict -> upscale -> encode)");
  add_common(run, rn.common, log_level);
  auto* rn_fps_opt = run->add_option("--fps", rn_fps, "Target frame rate, at most 1000 (omit to keep the input's)");
  auto* rn_factor_opt = run->add_option("--factor", rn.factor, "Target rate = input rate x N (instead of --fps)")
                            ->check(CLI::Range(2, 16));
  rn_fps_opt->excludes(rn_factor_opt);
  run->add_option("--scale", rn.scale, "Scale factor (1: no upscaling)")->check(CLI::IsMember({1, 2, 3, 4}));
  auto* rn_model_opt = run->add_option("--model", rn.sr_model,
                                       "Upscaler (with --scale 2-4): fast (default), quality, bicubic, lanczos, or a "
                                       "TorchScript file");
  auto* rn_predictor_opt =
      run->add_option("--predictor", rn.predictor, "gan (default), global, blend or repeat (with --fps or --factor)");
  auto* rn_ensemble_opt = run->add_flag(
      "--ensemble", rn.ensemble,
      "Predict each frame from both time directions and average (gan: ~0.04 dB better, ~1.4x the time; with --fps or "
      "--factor)");
  auto* rn_quality_opt =
      run->add_option("--quality", rn.quality, std::string(kQualityHelp) + " (with --fps or --factor)")
          ->check(CLI::IsMember({"fast", "normal", "best"}));
  run->add_option("--precision", rn.precision, kPrecisionHelp)->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  run->add_option("--device", rn.device, "cpu, cuda or cuda:N");
  run->add_option("--tile", rn.tile, "Tile side in input pixels (0: whole frames)")->check(CLI::NonNegativeNumber);
  run->footer(kExitCodesHelp);

  std::string probe_input;
  bool probe_count = false;
  bool probe_json = false;
  CLI::App* probe_cmd = app.add_subcommand("probe", "Describe a video: streams, size, frame rate, duration, frames");
  std::string probe_fps;
  probe_cmd->add_option("INPUT", probe_input, "Input file, or numbered images (frames/%06d.png)")->required();
  probe_cmd->add_option("--input-fps", probe_fps, "Frame rate of numbered-image input (default 25, as ffmpeg)");
  probe_cmd->add_flag("--count-frames", probe_count, "Count frames by reading the whole file (exact)");
  probe_cmd->add_flag("--json", probe_json, "Print JSON");
  probe_cmd->add_option("--log-level", log_level, "trace, debug, info, warning (default), error, quiet");

  EvalSrOptions ev;
  CLI::App* eval_cmd = app.add_subcommand("eval", "Score models with the protocols of docs/DATA.md");
  eval_cmd->require_subcommand(1);
  CLI::App* eval_sr = eval_cmd->add_subcommand(
      "sr", "Super-resolution: HR modcrop, MATLAB-bicubic LR, PSNR/SSIM on BT.601 Y with the border shaved");
  eval_sr->add_option("--ref", ev.refs, "Ground truth: a video or a folder of images (repeatable)")->required();
  eval_sr->add_option("--scale", ev.scale, "Scale factor")->check(CLI::IsMember({2, 3, 4}));
  eval_sr->add_option("--model", ev.model, "fast, quality, bicubic, lanczos or a TorchScript file");
  eval_sr->add_option("--device", ev.device, "cpu, cuda or cuda:N");
  eval_sr->add_option("--precision", ev.precision, kPrecisionHelp)->check(CLI::IsMember({"auto", "fp32", "bf16"}));
  eval_sr->add_option("--tile", ev.tile, "Tile side in input pixels (0: whole frames)")->check(CLI::NonNegativeNumber);
  eval_sr->add_option("--threads", ev.threads, "LibTorch threads (0: one per core)")->check(CLI::NonNegativeNumber);
  eval_sr->add_option("--max-frames", ev.max_frames,
                      "Score only the first N frames of a video (or images of a folder, by name)");
  eval_sr->add_option("--save", ev.save_dir, "Write each super-resolved frame as DIR/%06d.png");
  eval_sr->add_flag("--json", ev.json, "Print JSON");
  eval_sr->add_option("--log-level", log_level, "trace, debug, info, warning (default), error, quiet");

  EvalPredOptions ep;
  CLI::App* eval_interp = eval_cmd->add_subcommand(
      "interp", "Interpolation: frames 2i and 2i+2 -> 2i+1; PSNR on RGB, SSIM on Y; beside repeat and blend");
  CLI::App* eval_extrap = eval_cmd->add_subcommand(
      "extrap", "Extrapolation: frames up to k-1 -> k (k-2 and k-1, and k-3 where it is in the same shot); PSNR on RGB, SSIM on Y; beside copy-last");
  for (CLI::App* c : {eval_interp, eval_extrap}) {
    c->add_option("--ref", ep.refs, "Ground-truth video (repeatable)")->required();
    c->add_option("--model", ep.model, "gan (default), gan-l1 (before adversarial training), global, blend, repeat");
    c->add_option("--cuts", ep.cuts, "First frames of new shots, comma separated (samples across them are skipped)");
    c->add_option("--precision", ep.precision, kPrecisionHelp)->check(CLI::IsMember({"auto", "fp32", "bf16"}));
    c->add_option("--device", ep.device, "cpu, cuda or cuda:N");
    c->add_option("--threads", ep.threads, "LibTorch threads (0: one per core)")->check(CLI::NonNegativeNumber);
    c->add_option("--max-frames", ep.max_frames, "Use only the first N frames");
    c->add_option("--save", ep.save_dir, "Write each predicted frame as DIR/%06d.png (named by the frame it predicts)");
    c->add_flag("--json", ep.json, "Print JSON");
    c->add_option("--log-level", log_level, "trace, debug, info, warning (default), error, quiet");
  }
  eval_interp->add_flag("--ensemble", ep.ensemble, "Score the ensemble of both time directions (see interpolate --help)");
  eval_interp->add_option("--quality", ep.quality, kQualityHelp)->check(CLI::IsMember({"fast", "normal", "best"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  // With --json a failure is a JSON object on stdout too (the error on stderr as
  // always), so that a script reading stdout learns why, not just that it failed.
  auto json_failure = [&](const std::string& message, int code) {
    // (Not where stdout carries the video: -o - with --json is refused for that.)
    auto job_json = [](const CommonOptions& c) { return c.json && c.output != "-"; };
    const bool json = (*probe_cmd && probe_json) || (*eval_sr && ev.json) ||
                      ((*eval_interp || *eval_extrap) && ep.json) || (*upscale && job_json(up.common)) ||
                      (*interpolate && job_json(ip.common)) || (*extend && job_json(ex.common)) ||
                      (*run && job_json(rn.common));
    if (json) {
      for (const CLI::App* sub : app.get_subcommands()) {
        const std::string name = sub->get_name() == "eval" && !sub->get_subcommands().empty()
                                     ? "eval " + sub->get_subcommands().front()->get_name()
                                     : sub->get_name();
        std::cout << nlohmann::json{{"command", name}, {"error", message}, {"exit_code", code}}.dump() << "\n";
      }
    }
    return code;
  };

  try {
    init_logging(log_level);
    install_signal_handlers();
    if (*probe_cmd) {
      const auto j = cli::probe(probe_input, probe_count, probe_fps);
      if (probe_json) {
        std::cout << j.dump(2) << "\n";
      } else {
        std::cout << j["input"].get<std::string>() << ": " << j["format"].get<std::string>() << "\n"
                  << "  video: stream #" << j["video_stream"] << ", " << j["codec"].get<std::string>() << ", "
                  << j["width"] << "x" << j["height"] << ", " << j["pix_fmt"].get<std::string>() << ", "
                  << j["frame_rate"].get<double>() << " fps\n"
                  << "  duration: " << j["duration"].get<double>() << " s, frames: " << j["frame_count"]
                  << (probe_count ? " (counted)" : " (from the header; 0 = unknown)") << "\n";
        if (j["rotation"].get<double>() != 0.0) {
          std::cout << "  rotation: " << j["rotation"].get<double>() << " degrees\n";
        }
        for (const auto& s : j["streams"]) {
          std::cout << "  stream #" << s["index"] << ": " << s["type"].get<std::string>() << " "
                    << s["codec"].get<std::string>() << (s["attached_pic"].get<bool>() ? " (cover art)" : "") << "\n";
        }
      }
      return kExitOk;
    }
    if (*eval_sr) {
      const auto j = run_eval_sr(ev);
      if (ev.json) {
        std::cout << j.dump(2) << "\n";
      } else {
        std::printf("SR x%d, model %s (%s)\n", j["scale"].get<int>(), ev.model.c_str(),
                    j["description"].get<std::string>().c_str());
        std::printf("%-40s %7s %9s %8s %11s %10s\n", "ref", "frames", "PSNR", "SSIM", "bicubic", "bic SSIM");
        for (const auto& r : j["refs"]) {
          std::printf("%-40s %7d %9.3f %8.4f %11.3f %10.4f\n", r["ref"].get<std::string>().c_str(),
                      r["frames"].get<int>(), r["psnr"].get<double>(), r["ssim"].get<double>(),
                      r["bicubic_psnr"].get<double>(), r["bicubic_ssim"].get<double>());
        }
        std::printf("%-40s %7lld %9.3f %8.4f %11.3f %10.4f\n", "mean over all frames",
                    static_cast<long long>(j["frames"].get<int64_t>()), j["psnr"].get<double>(),
                    j["ssim"].get<double>(), j["bicubic_psnr"].get<double>(), j["bicubic_ssim"].get<double>());
      }
      return kExitOk;
    }
    if (*eval_interp || *eval_extrap) {
      ep.task = *eval_interp ? "interp" : "extrap";
      const auto j = run_eval_pred(ep);
      if (ep.json) {
        std::cout << j.dump(2) << "\n";
      } else {
        const bool ex_task = ep.task == "extrap";
        const std::string quality =
            j["quality"].is_null() || ep.task != "interp" ? "" : ", quality " + j["quality"].get<std::string>();
        std::printf("%s, model %s%s%s (PSNR on RGB, dB)\n", ep.task == "interp" ? "interpolation" : "extrapolation",
                    ep.model.c_str(), quality.c_str(),
                    j["ensemble"].get<bool>() ? ", ensemble of both time directions" : "");
        std::printf("%-40s %7s %8s %7s %9s %9s %9s\n", "ref", "samples", "PSNR", "SSIM",
                    ex_task ? "copy-last" : "repeat", ex_task ? "" : "blend", "sharpness");
        for (const auto& r : j["refs"]) {
          std::printf("%-40s %7d %8.3f %7.4f %9.3f %9s %9.3f\n", r["ref"].get<std::string>().c_str(),
                      r["samples"].get<int>(), r["psnr"].get<double>(), r["ssim"].get<double>(),
                      r[ex_task ? "copy_last_psnr" : "repeat_psnr"].get<double>(),
                      ex_task ? "" : std::to_string(r["blend_psnr"].get<double>()).substr(0, 6).c_str(),
                      r["sharpness"].get<double>());
        }
        std::printf("%-40s %7lld %8.3f %7.4f %9.3f %9s %9.3f\n", "mean of clips",
                    static_cast<long long>(j["samples"].get<int64_t>()), j["psnr"].get<double>(),
                    j["ssim"].get<double>(), j[ex_task ? "copy_last_psnr" : "repeat_psnr"].get<double>(),
                    ex_task ? "" : std::to_string(j["blend_psnr"].get<double>()).substr(0, 6).c_str(),
                    j["sharpness"].get<double>());
      }
      return kExitOk;
    }
    if (*interpolate || *extend || *run) {
      rn.sr_model_given = rn_model_opt->count() > 0;
      VideoJob& job = *interpolate ? ip : (*extend ? ex : rn);
      if (*interpolate) {
        if (ip_fps.empty() && ip.factor == 0) {
          throw Error(ErrorKind::kUsage, "interpolate needs --fps F or --factor N");
        }
        if (!ip_fps.empty()) {
          ip.fps = parse_rate(ip_fps);
        }
      }
      if (*run) {
        rn.retime = !rn_fps.empty() || rn.factor > 0;
        if (!rn_fps.empty()) {
          rn.fps = parse_rate(rn_fps);
        }
        for (const CLI::Option* o : {rn_predictor_opt, rn_ensemble_opt, rn_quality_opt}) {
          if (o->count() > 0 && !rn.retime) {
            throw Error(ErrorKind::kUsage, o->get_name() + " re-times the video: it needs --fps F or --factor N");
          }
        }
      }
      const JobResult r = run_video_job(job);
      if (job.common.json) {
        std::cout << r.summary.dump() << "\n";
      } else if (spdlog::get_level() <= spdlog::level::warn) {
        std::cerr << "framegen: wrote " << (job.common.output == "-" ? "stdout" : job.common.output) << " ("
                  << r.summary["frames_out"] << " frames, " << r.summary["width"] << "x" << r.summary["height"] << " @ "
                  << r.summary["frame_rate_out"].get<std::string>() << ")" << (r.cancelled ? ", interrupted" : "")
                  << "\n";
      }
      return r.cancelled ? kExitInterrupted : (r.partial.empty() ? kExitOk : kExitPartial);
    }
    if (*upscale) {
      const JobResult r = run_upscale(up);
      if (up.common.json) {
        std::cout << r.summary.dump() << "\n";
      } else if (spdlog::get_level() <= spdlog::level::warn) {
        std::cerr << "framegen: wrote " << (up.common.output == "-" ? "stdout" : up.common.output) << " ("
                  << r.summary["frames_out"] << " frames, " << r.summary["width"] << "x" << r.summary["height"] << ")"
                  << (r.cancelled ? ", interrupted" : "") << "\n";
      }
      return r.cancelled ? kExitInterrupted : (r.partial.empty() ? kExitOk : kExitPartial);
    }
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return json_failure(e.what(), exit_code_for(e.kind()));
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return json_failure(e.what(), kExitProcessing);
  }
  return kExitUsage;
}
