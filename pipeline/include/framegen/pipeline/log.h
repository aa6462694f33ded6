// Logging: spdlog on stderr, with FFmpeg's av_log routed into it so every message
// has one format and one level switch.
#pragma once

#include <string>

namespace framegen {

// "trace", "debug", "info", "warning"/"warn", "error", "quiet"/"off". Throws
// Error(kUsage) for anything else. Also sets FFmpeg's level to match.
void init_logging(const std::string& level);

}  // namespace framegen
