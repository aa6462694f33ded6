// The fault matrix of the hardening issue, as far as it is implemented: stdin and
// stalled stdin, signals, odd sizes, 10-bit, colour tags and range, rotation,
// attachments.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/temp_dir_test.h"

extern "C" {
#include <libavutil/pixfmt.h>
}

using namespace framegen::test;
namespace fs = std::filesystem;

namespace {

const std::string kCli = FRAMEGEN_CLI_PATH;

class HardeningTest : public TempDirTest {
 protected:
  HardeningTest() : TempDirTest("hard") {}
};

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs the CLI with `data` on stdin; if `hold_open`, the pipe stays open (a stalled
// producer) until the child exits.
RunResult run_with_stdin(const std::vector<std::string>& args, const std::string& data, bool hold_open) {
  int in_pipe[2];
  int err_pipe[2];
  if (::pipe(in_pipe) != 0 || ::pipe(err_pipe) != 0) {
    throw std::runtime_error("pipe");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::close(in_pipe[1]);
    ::close(err_pipe[0]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(kCli.c_str()));
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(err_pipe[1]);
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(in_pipe[1], data.data() + off, data.size() - off);
    if (n <= 0) {
      break;
    }
    off += static_cast<std::size_t>(n);
  }
  if (!hold_open) {
    ::close(in_pipe[1]);
  }
  RunResult r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(err_pipe[0], buf, sizeof(buf))) > 0) {
    r.err.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (hold_open) {
    ::close(in_pipe[1]);
  }
  ::close(err_pipe[0]);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace

TEST_F(HardeningTest, StdinInput) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 12;
  make_fixture(path("in.mkv"), spec);
  const RunResult r =
      run_with_stdin({"upscale", "-", "-o", path("out.mkv"), "--model", "bicubic"}, read_file(path("in.mkv")), false);
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo v = decode_video(path("out.mkv"));
  EXPECT_EQ(v.width, 128);
  EXPECT_EQ(v.pts_seconds.size(), 12u);
}

TEST_F(HardeningTest, StalledStdinEndsAtTimeoutWithFinalizedOutput) {
  FixtureSpec spec;
  spec.width = 320;
  spec.height = 240;
  spec.frames = 200;
  make_fixture(path("in.mkv"), spec);
  const std::string data = read_file(path("in.mkv"));
  const auto t0 = std::chrono::steady_clock::now();
  const RunResult r = run_with_stdin({"upscale", "-", "-o", path("out.mkv"), "--model", "bicubic", "--timeout", "1"},
                                     data.substr(0, data.size() * 3 / 4), true);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("stalled"), std::string::npos) << r.err;
  EXPECT_LT(secs, 30.0);
  const DecodedVideo v = decode_video(path("out.mkv"));  // finalized and playable
  EXPECT_GT(v.pts_seconds.size(), 10u);
  EXPECT_LT(v.pts_seconds.size(), 200u);
}

TEST_F(HardeningTest, SigtermFinalizesAndSecondSignalAbortsAndDeletes) {
  FixtureSpec spec;
  spec.width = 320;
  spec.height = 240;
  spec.frames = 1500;
  make_fixture(path("long.mkv"), spec);
  for (int signals : {1, 2}) {
    const std::string out = path("out" + std::to_string(signals) + ".mkv");
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, STDERR_FILENO);
      ::execl(kCli.c_str(), kCli.c_str(), "upscale", path("long.mkv").c_str(), "-o", out.c_str(), "--scale", "4",
              "--preset", "slower", "--threads", "1", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::usleep(1500 * 1000);
    ::kill(pid, SIGTERM);
    if (signals == 2) {
      ::usleep(200 * 1000);  // two signals sent at once would merge into one
      ::kill(pid, SIGTERM);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
    if (signals == 1) {
      EXPECT_GT(decode_video(out).pts_seconds.size(), 0u);
    } else {
      EXPECT_FALSE(file_exists(out));
    }
  }
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".part"), std::string::npos) << e.path();
  }
}

TEST_F(HardeningTest, OddSizesKeepEveryPixel) {
  FixtureSpec spec;
  spec.width = 85;
  spec.height = 47;
  spec.frames = 3;
  spec.video_codec = "ffv1";
  make_fixture(path("odd.mkv"), spec);
  // x3 of an odd size is odd: 4:2:0 cannot hold it, so 4:4:4 is used, and said.
  RunResult r =
      run_command({kCli, "upscale", path("odd.mkv"), "-o", path("odd3.mp4"), "--scale", "3", "--model", "lanczos"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("odd"), std::string::npos) << r.err;
  VideoTags t = probe_tags(path("odd3.mp4"));
  EXPECT_EQ(t.width, 255);
  EXPECT_EQ(t.height, 141);
  EXPECT_EQ(t.pix_fmt, "yuv444p");
  EXPECT_EQ(decode_video(path("odd3.mp4")).pts_seconds.size(), 3u);
  // The networks take odd inputs (odd chroma planes included).
  r = run_command({kCli, "upscale", path("odd.mkv"), "-o", path("odd2.mp4"), "--scale", "2", "--model", "fast"});
  ASSERT_EQ(r.status, 0) << r.err;
  t = probe_tags(path("odd2.mp4"));
  EXPECT_EQ(t.width, 170);
  EXPECT_EQ(t.height, 94);
  EXPECT_EQ(decode_video(path("odd2.mp4")).pts_seconds.size(), 3u);
}

TEST_F(HardeningTest, TenBitStaysTenBitWithClassicalScaling) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 3;
  spec.video_codec = "libx264";
  spec.pix_fmt = "yuv420p10le";
  make_fixture(path("deep.mkv"), spec);
  RunResult r = run_command({kCli, "upscale", path("deep.mkv"), "-o", path("deep_out.mkv"), "--model", "lanczos"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(probe_tags(path("deep_out.mkv")).pix_fmt, "yuv420p10le");
  // The neural path says that it works in 8 bits.
  r = run_command({kCli, "upscale", path("deep.mkv"), "-o", path("deep_fast.mkv"), "--model", "fast"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("10-bit"), std::string::npos) << r.err;
}

TEST_F(HardeningTest, ColourTagsAndRangePreserved) {
  for (const bool full : {false, true}) {
    FixtureSpec spec;
    spec.width = 64;
    spec.height = 48;
    spec.frames = 2;
    spec.flat = true;
    spec.full_range = full;
    spec.bt709 = true;
    spec.video_codec = "ffv1";
    const std::string in = path(std::string("flat") + (full ? "_full" : "_tv") + ".mkv");
    make_fixture(in, spec);
    const VideoTags tin = probe_tags(in);
    for (const std::string model : {"lanczos", "fast"}) {
      const std::string out = in + "." + model + ".mkv";
      const RunResult r = run_command({kCli, "upscale", in, "-o", out, "--model", model, "--codec", "ffv1"});
      ASSERT_EQ(r.status, 0) << r.err;
      const VideoTags t = probe_tags(out);
      EXPECT_EQ(t.color_range, full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG) << model;
      EXPECT_EQ(t.colorspace, AVCOL_SPC_BT709) << model;
      for (int p = 0; p < 3; ++p) {
        EXPECT_NEAR(t.mean[p], tin.mean[p], 1.0) << model << " plane " << p << (full ? " full" : " tv");
      }
    }
  }
}

TEST_F(HardeningTest, RotationTagCarriedOver) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 3;
  spec.rotation = 90;
  make_fixture(path("rot.mp4"), spec);
  ASSERT_NEAR(std::fabs(probe_tags(path("rot.mp4")).rotation), 90, 0.01);
  const RunResult r = run_command({kCli, "upscale", path("rot.mp4"), "-o", path("rot_out.mp4"), "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  const VideoTags t = probe_tags(path("rot_out.mp4"));
  EXPECT_NEAR(t.rotation, probe_tags(path("rot.mp4")).rotation, 0.01);  // kept: players rotate it upright
  EXPECT_EQ(t.width, 128);
}

TEST_F(HardeningTest, AttachmentsCopied) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 3;
  spec.attachment = true;
  make_fixture(path("att.mkv"), spec);
  const RunResult r = run_command({kCli, "upscale", path("att.mkv"), "-o", path("att_out.mkv"), "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  const VideoTags in = probe_tags(path("att.mkv"));
  const VideoTags out = probe_tags(path("att_out.mkv"));
  ASSERT_EQ(in.attachments.size(), 1u);
  EXPECT_EQ(out.attachments, in.attachments);
}

TEST_F(HardeningTest, CorruptBytesInTheMiddleDoNotCrash) {
  FixtureSpec spec;
  spec.width = 320;
  spec.height = 240;
  spec.frames = 100;
  make_fixture(path("c.mkv"), spec);
  {
    // Overwrite 3000 bytes in the middle with a fixed pseudo-random pattern.
    std::fstream f(path("c.mkv"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path("c.mkv")) / 2));
    uint32_t x = 12345;
    for (int i = 0; i < 3000; ++i) {
      x = x * 1664525U + 1013904223U;
      f.put(static_cast<char>(x >> 24));
    }
  }
  const RunResult r =
      run_command({kCli, "upscale", path("c.mkv"), "-o", path("c_out.mkv"), "--model", "bicubic", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo v = decode_video(path("c_out.mkv"));
  EXPECT_GT(v.pts_seconds.size(), 50u);
  EXPECT_LE(v.pts_seconds.size(), 100u);
  for (std::size_t i = 1; i < v.pts_seconds.size(); ++i) {
    EXPECT_GT(v.pts_seconds[i], v.pts_seconds[i - 1]) << i;  // timestamps stay monotonic
  }
}

TEST_F(HardeningTest, TruncatedMkvGivesAPlayablePartialOutput) {
  FixtureSpec spec;
  spec.width = 320;
  spec.height = 240;
  spec.frames = 100;
  make_fixture(path("full.mkv"), spec);
  fs::copy_file(path("full.mkv"), path("cut.mkv"));
  fs::resize_file(path("cut.mkv"), fs::file_size(path("full.mkv")) / 3);
  const RunResult r =
      run_command({kCli, "upscale", path("cut.mkv"), "-o", path("cut_out.mkv"), "--model", "bicubic", "--json"});
  EXPECT_EQ(r.status, 5) << r.err;  // partial
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cut.mkv"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["partial"].get<bool>());
  const DecodedVideo v = decode_video(path("cut_out.mkv"));  // playable, holds what was there
  EXPECT_GT(v.pts_seconds.size(), 10u);
  EXPECT_LT(v.pts_seconds.size(), 100u);
  EXPECT_EQ(static_cast<int64_t>(v.pts_seconds.size()), j["frames_out"].get<int64_t>());
  // The whole file is not partial.
  EXPECT_EQ(run_command({kCli, "upscale", path("full.mkv"), "-o", path("full_out.mkv"), "--model", "bicubic"}).status,
            0);
}

TEST_F(HardeningTest, CoverArtIsNotProcessedAsVideo) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 10;
  spec.cover_art = true;
  make_fixture(path("song.mp4"), spec);
  const RunResult probe = run_command({kCli, "probe", path("song.mp4"), "--json"});
  ASSERT_EQ(probe.status, 0) << probe.err;
  const auto pj = nlohmann::json::parse(probe.out);
  ASSERT_EQ(pj["streams"].size(), 2u);
  int cover_index = -1;
  for (const auto& st : pj["streams"]) {
    if (st["attached_pic"].get<bool>()) {
      cover_index = st["index"].get<int>();
    }
  }
  ASSERT_GE(cover_index, 0) << probe.out;
  EXPECT_NE(pj["video_stream"].get<int>(), cover_index);  // the real video, not the picture
  const RunResult r =
      run_command({kCli, "upscale", path("song.mp4"), "-o", path("song2.mp4"), "--model", "bicubic", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames_out"], 10);
  EXPECT_EQ(j["width"], 128);
  EXPECT_EQ(decode_video(path("song2.mp4")).pts_seconds.size(), 10u);
}
