#include "framegen/pipeline/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "framegen/pipeline/error.h"

extern "C" {
#include <libavutil/log.h>
}

namespace framegen {

namespace {

spdlog::level::level_enum to_spdlog(int av_level) {
  if (av_level <= AV_LOG_ERROR) {
    return spdlog::level::err;
  }
  if (av_level <= AV_LOG_WARNING) {
    return spdlog::level::warn;
  }
  if (av_level <= AV_LOG_INFO) {
    return spdlog::level::info;
  }
  if (av_level <= AV_LOG_VERBOSE) {
    return spdlog::level::debug;
  }
  return spdlog::level::trace;
}

// av_log may be called from any FFmpeg thread; spdlog's default logger is thread-safe.
void ffmpeg_log_callback(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > av_log_get_level()) {
    return;
  }
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
  std::size_t n = std::strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
    line[--n] = '\0';
  }
  if (n == 0) {
    return;
  }
  spdlog::log(to_spdlog(level), "[ffmpeg] {}", line);
}

}  // namespace

void init_logging(const std::string& level) {
  spdlog::level::level_enum lvl;
  int av_level;
  if (level == "trace") {
    lvl = spdlog::level::trace;
    av_level = AV_LOG_DEBUG;
  } else if (level == "debug") {
    lvl = spdlog::level::debug;
    av_level = AV_LOG_VERBOSE;
  } else if (level == "info") {
    lvl = spdlog::level::info;
    av_level = AV_LOG_WARNING;  // FFmpeg's info level is chatty; keep its warnings
  } else if (level == "warning" || level == "warn") {
    lvl = spdlog::level::warn;
    av_level = AV_LOG_WARNING;
  } else if (level == "error") {
    lvl = spdlog::level::err;
    av_level = AV_LOG_ERROR;
  } else if (level == "quiet" || level == "off") {
    lvl = spdlog::level::off;
    av_level = AV_LOG_QUIET;
  } else {
    throw Error(ErrorKind::kUsage, "unknown log level '" + level + "' (trace, debug, info, warning, error, quiet)");
  }
  static bool initialised = false;
  if (!initialised) {
    auto logger = spdlog::stderr_color_mt("framegen");
    logger->set_pattern("framegen: %^%l%$: %v");
    spdlog::set_default_logger(logger);
    av_log_set_callback(ffmpeg_log_callback);
    initialised = true;
  }
  spdlog::set_level(lvl);
  av_log_set_level(av_level);
}

}  // namespace framegen
