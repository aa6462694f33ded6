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
  std::string pix_fmt = "yuv420p";  // also yuv420p10le (with a 10-bit capable codec)
  bool full_range = false;          // tag the video full range (JPEG)
  bool bt709 = false;               // tag BT.709 matrix/primaries/transfer
  bool flat = false;                // one flat colour (Y 180, U 90, V 160 in 8-bit units)
  int rotation = 0;                 // display-matrix rotation in degrees
  bool attachment = false;          // mkv: a font attachment
  int cut_at = -1;                  // from this frame on, a different scene (a hard cut)
  bool cover_art = false;           // a PNG cover-art stream (attached picture) before the video
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
// The first stream of `type` in a dump, or nullptr.
const PacketDump* stream_of(const std::vector<PacketDump>& dump, const std::string& type);

struct DecodedVideo {
  int width = 0;
  int height = 0;
  std::vector<double> pts_seconds;  // best-effort timestamps of decoded frames
  double duration = 0;              // container duration, seconds
};

DecodedVideo decode_video(const std::string& path);

struct VideoTags {
  int width = 0;
  int height = 0;
  std::string pix_fmt;
  int color_range = 0;                            // AVColorRange
  int colorspace = 0;                             // AVColorSpace
  double rotation = 0;                            // degrees, from the display matrix
  double mean[3] = {0, 0, 0};                     // planar formats: mean of each plane of the first frame, 8-bit units
  std::vector<std::vector<uint8_t>> attachments;  // extradata of attachment streams
};
VideoTags probe_tags(const std::string& path);

// A fresh empty directory under the system temp dir, removed by the caller.
std::string make_temp_dir(const std::string& tag);

// Runs `argv` (argv[0] is an absolute path), captures stdout and stderr, returns
// the exit status (or 128 + signal).
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
  long peak_rss_kb = 0;  // the child's peak resident memory (getrusage ru_maxrss)
};
RunResult run_command(const std::vector<std::string>& argv);

bool file_exists(const std::string& path);

// Waits (up to `timeout_s`) until framegen process `pid` has written more than
// `min_bytes` into its temporary output for `output` (".NAME.framegen-PID.part"
// beside it): the job is running and has encoded frames, so a signal sent now
// lands mid-run however slow the machine (or a sanitizer build) is.
bool wait_for_partial_output(const std::string& output, int pid, long min_bytes, double timeout_s);

}  // namespace framegen::test
