// Numbered image-sequence outputs ('frames/%06d.png'), named as ffmpeg's image2
// muxer names them: one %d or %0Nd in the file name, numbers from 1.
//
// A job writes the sequence into a hidden folder beside it and moves the images
// into place when it finishes (or is finalized after a first Ctrl-C); a failed
// or aborted job leaves none of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace framegen::cli {

class NumberedName {
 public:
  // nullopt for a name without a frame number. Throws a usage Error for a
  // pattern ffmpeg would not number (two numbers, a number in a folder name).
  static std::optional<NumberedName> parse(const std::string& path);

  [[nodiscard]] const std::string& pattern() const { return pattern_; }
  [[nodiscard]] const std::string& folder() const { return folder_; }
  // The file name of frame `n` (1-based), without the folder.
  [[nodiscard]] std::string file_name(int64_t n) const;
  // Whether `file_name` (without folder) is one this pattern writes.
  [[nodiscard]] bool matches(const std::string& file_name) const;
  // The files in folder() that this pattern names, sorted.
  [[nodiscard]] std::vector<std::string> existing() const;

 private:
  std::string pattern_;
  std::string folder_;
  std::string prefix_;
  std::string suffix_;
  int width_ = 0;
};

// Deletes the files in `path` (one level, no subfolders) and then the folder,
// with system calls only: safe in a signal handler. Returns false if `path` is
// not a folder or something in it could not be deleted.
bool remove_flat_folder_signal_safe(const char* path) noexcept;

}  // namespace framegen::cli
