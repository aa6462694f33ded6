// Synthesised media fixtures for tests: libav writes them, so no test depends on
// files outside the repository.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace framegen::test {

struct FixtureSpec {
  int width = 320;
  int height = 240;
  int frames = 30;
  int fps_num = 25;
  int fps_den = 1;
  bool video = true;
  bool audio = false;      // AAC sine tone covering the video's duration
  bool subtitles = false;  // two text cues (SubRip in mkv, mov_text in mp4/mov)
  std::string video_codec = "mpeg4";
};

// Writes `path` (container from its extension). Throws std::runtime_error.
void make_fixture(const std::string& path, const FixtureSpec& spec);

struct PacketDump {
  std::string type;  // "video", "audio", "subtitle", ...
  std::vector<std::vector<uint8_t>> data;
  std::vector<double> pts_seconds;  // packet pts (or dts) in seconds
};

// Every packet of every stream, in stream order.
std::vector<PacketDump> dump_packets(const std::string& path);

struct DecodedVideo {
  int width = 0;
  int height = 0;
  std::vector<double> pts_seconds;  // best-effort timestamps of decoded frames
  double duration = 0;              // container duration, seconds
};

DecodedVideo decode_video(const std::string& path);

// A fresh empty directory under the system temp dir, removed by the caller.
std::string make_temp_dir(const std::string& tag);

// Runs `argv` (argv[0] is an absolute path), captures stdout and stderr, returns
// the exit status (or 128 + signal).
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
RunResult run_command(const std::vector<std::string>& argv);

bool file_exists(const std::string& path);

}  // namespace framegen::test
