#include "framegen/pipeline/numbered_name.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "framegen/pipeline/error.h"

namespace framegen {

namespace fs = std::filesystem;

std::optional<NumberedName> NumberedName::parse(const std::string& path) {
  const fs::path p(path);
  const std::string file = p.filename().string();
  const std::string folder = p.has_parent_path() ? p.parent_path().string() : std::string(".");
  // The rules of av_get_frame_filename2: "%%" is a '%', "%d" or "%Nd" (N digits)
  // is the number, zero-padded to N; any other '%' is taken literally by ffmpeg,
  // so it is kept as it is here too.
  int stray = 0;
  auto scan = [&stray](const std::string& s, std::string* prefix, std::string* suffix, int* width) {
    int found = 0;
    std::string text;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '%') {
        text += s[i];
        continue;
      }
      if (i + 1 < s.size() && s[i + 1] == '%') {
        text += '%';
        ++i;
        continue;
      }
      std::size_t j = i + 1;
      int w = 0;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])) != 0 && w < 1000) {
        w = w * 10 + (s[j] - '0');
        ++j;
      }
      if (j < s.size() && s[j] == 'd') {
        ++found;
        if (prefix != nullptr && found == 1) {
          *prefix = text;
          text.clear();
          *width = w;
        }
        i = j;
        continue;
      }
      text += '%';
      ++stray;
    }
    if (suffix != nullptr) {
      *suffix = text;
    }
    return found;
  };
  if (scan(folder, nullptr, nullptr, nullptr) > 0) {
    throw Error(ErrorKind::kUsage,
                "'" + path + "': the frame number (%d) must be in the file name, not in a folder name");
  }
  NumberedName n;
  const int in_file = scan(file, &n.prefix_, &n.suffix_, &n.width_);
  if (in_file == 0) {
    return std::nullopt;
  }
  if (in_file > 1) {
    throw Error(ErrorKind::kUsage,
                "'" + path + "' has more than one frame number (%d); give one, as in frames/%06d.png");
  }
  if (stray > 0) {
    throw Error(ErrorKind::kUsage, "'" + path + "': a '%' that is not the frame number must be written %%");
  }
  if (n.width_ > 64) {
    throw Error(ErrorKind::kUsage,
                "'" + path + "': a frame number " + std::to_string(n.width_) + " digits wide is too wide");
  }
  n.pattern_ = path;
  n.folder_ = folder;
  return n;
}

std::string NumberedName::file_name(int64_t n) const {
  char digits[96];
  std::snprintf(digits, sizeof(digits), "%0*lld", width_, static_cast<long long>(n));
  return prefix_ + digits + suffix_;
}

bool NumberedName::matches(const std::string& file_name) const {
  if (file_name.size() <= prefix_.size() + suffix_.size() || file_name.compare(0, prefix_.size(), prefix_) != 0 ||
      file_name.compare(file_name.size() - suffix_.size(), suffix_.size(), suffix_) != 0) {
    return false;
  }
  const std::string digits = file_name.substr(prefix_.size(), file_name.size() - prefix_.size() - suffix_.size());
  if (digits.size() < static_cast<std::size_t>(std::max(width_, 1))) {
    return false;
  }
  return std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::optional<int64_t> NumberedName::number_of(const std::string& file_name) const {
  if (!matches(file_name)) {
    return std::nullopt;
  }
  const std::string digits = file_name.substr(prefix_.size(), file_name.size() - prefix_.size() - suffix_.size());
  if (digits.size() > 18 && digits.find_first_not_of('0') < digits.size() - 18) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

std::vector<std::string> NumberedName::existing() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (matches(name)) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace framegen
