// Numbered images ('frames/%06d.png'), named as ffmpeg's image2 muxer and
// demuxer name them: one %d or %0Nd in the file name ("%%" for a '%').
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace framegen {

class NumberedName {
 public:
  // nullopt for a name without a frame number. Throws a usage Error for a
  // pattern ffmpeg would not number (two numbers, a number in a folder name).
  static std::optional<NumberedName> parse(const std::string& path);

  [[nodiscard]] const std::string& pattern() const { return pattern_; }
  [[nodiscard]] const std::string& folder() const { return folder_; }
  // The file name of frame `n` (1-based), without the folder.
  [[nodiscard]] std::string file_name(int64_t n) const;
  // Whether `file_name` (without folder) is one this pattern names.
  [[nodiscard]] bool matches(const std::string& file_name) const;
  // The number in `file_name`; nullopt if the pattern does not name it (or the
  // number does not fit 64 bits).
  [[nodiscard]] std::optional<int64_t> number_of(const std::string& file_name) const;
  // The files in folder() that this pattern names, sorted.
  [[nodiscard]] std::vector<std::string> existing() const;

 private:
  std::string pattern_;
  std::string folder_;
  std::string prefix_;
  std::string suffix_;
  int width_ = 0;
};

}  // namespace framegen
