// Errors: one exception type for the whole project, with a category that the CLI
// maps to an exit code and the GStreamer elements map to a bus error. Messages name
// the file / stream / frame they concern.
#pragma once

#include <stdexcept>
#include <string>

namespace framegen {

enum class ErrorKind {
  kUsage,       // bad option or combination of options
  kInput,       // input missing, unreadable, not a video, no video stream
  kOutput,      // output exists, equals the input, cannot be created or written
  kProcessing,  // decode / encode / model failure in the middle of a job
  kCancelled,   // stopped by the user
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  [[nodiscard]] ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Text of an FFmpeg error code (av_strerror).
std::string av_error_text(int errnum);

// Throws Error(kind, what + ": " + av_strerror(ret)) when ret < 0; returns ret otherwise.
int av_check(int ret, ErrorKind kind, const std::string& what);

}  // namespace framegen
