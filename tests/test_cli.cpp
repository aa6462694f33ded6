// End-to-end tests of the framegen binary: round trips with stream passthrough,
// the bad-input matrix, exit codes, and "no output left behind".
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "framegen/pipeline/image.h"
#include "support/fixtures.h"
#include "support/temp_dir_test.h"

using namespace framegen::test;
namespace fs = std::filesystem;

namespace {

const std::string kCli = FRAMEGEN_CLI_PATH;
const std::string kSample = FRAMEGEN_SAMPLE_PATH;

class CliTest : public TempDirTest {
 protected:
  CliTest() : TempDirTest("cli") {}
  // No temporary or final output may remain after a failed job.
  void expect_no_output_files(const std::string& keep = "") const {
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name != keep) {
        EXPECT_TRUE(name.find(".part") == std::string::npos) << "left behind: " << name;
      }
    }
  }
  // A small synthetic clip at path(name).
  std::string make_clip(const std::string& name, int width, int height, int frames, bool audio = false) {
    FixtureSpec spec;
    spec.width = width;
    spec.height = height;
    spec.frames = frames;
    spec.audio = audio;
    const std::string clip = path(name);
    make_fixture(clip, spec);
    return clip;
  }
  // 1500 frames of 320x240: long enough for a signal to land mid-run.
  std::string make_long_input() {
    FixtureSpec spec;
    spec.width = 320;
    spec.height = 240;
    spec.frames = 1500;
    const std::string in = path("long.mkv");
    make_fixture(in, spec);
    return in;
  }
};

// Starts the CLI with `args` without waiting; its stdout goes to `stdout_fd` when
// given.
pid_t start_cli(const std::vector<std::string>& args, int stdout_fd = -1) {
  std::vector<std::string> argv = {kCli};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (std::string& a : argv) {
    cargs.push_back(a.data());
  }
  cargs.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (stdout_fd >= 0) {
      ::dup2(stdout_fd, STDOUT_FILENO);
    }
    ::execv(kCli.c_str(), cargs.data());
    ::_exit(127);
  }
  return pid;
}

// Everything readable from `fd` until its writers close it; then closes it.
std::string read_and_close(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

RunResult run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), kCli);
  return run_command(args);
}

}  // namespace

TEST_F(CliTest, HelpListsCommandsAndExitCodes) {
  const RunResult r = run_cli({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("upscale"), std::string::npos);
  EXPECT_NE(r.out.find("probe"), std::string::npos);
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
}

TEST_F(CliTest, UpscaleMkvKeepsAudioSubtitlesTimestampsBitExact) {
  FixtureSpec spec;
  spec.width = 160;
  spec.height = 120;
  spec.frames = 40;
  spec.audio = true;
  spec.subtitles = true;
  const std::string in = path("in.mkv");
  const std::string out = path("out.mkv");
  make_fixture(in, spec);

  const RunResult r = run_cli({"upscale", in, "-o", out, "--scale", "2", "--model", "lanczos", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["frames_in"], 40);
  EXPECT_EQ(summary["frames_out"], 40);
  EXPECT_EQ(summary["width"], 320);
  EXPECT_EQ(summary["height"], 240);

  const DecodedVideo vin = decode_video(in);
  const DecodedVideo vout = decode_video(out);
  EXPECT_EQ(vout.width, 320);
  EXPECT_EQ(vout.height, 240);
  ASSERT_EQ(vout.pts_seconds.size(), vin.pts_seconds.size());
  for (std::size_t i = 0; i < vin.pts_seconds.size(); ++i) {
    EXPECT_NEAR(vout.pts_seconds[i], vin.pts_seconds[i], 0.0015) << "frame " << i;
  }
  EXPECT_NEAR(vout.duration, vin.duration, 1.0 / 25);

  const auto pin = dump_packets(in);
  const auto pout = dump_packets(out);
  const PacketDump* ain = stream_of(pin, "audio");
  const PacketDump* aout = stream_of(pout, "audio");
  ASSERT_NE(ain, nullptr);
  ASSERT_NE(aout, nullptr);
  ASSERT_EQ(aout->data.size(), ain->data.size());
  for (std::size_t i = 0; i < ain->data.size(); ++i) {
    EXPECT_EQ(aout->data[i], ain->data[i]) << "audio packet " << i;
    EXPECT_NEAR(aout->pts_seconds[i], ain->pts_seconds[i], 0.0011) << "audio packet " << i;
  }
  const PacketDump* sin = stream_of(pin, "subtitle");
  const PacketDump* sout = stream_of(pout, "subtitle");
  ASSERT_NE(sin, nullptr);
  ASSERT_NE(sout, nullptr);
  EXPECT_EQ(sout->data, sin->data);
  expect_no_output_files();
}

TEST_F(CliTest, UpscaleMp4WithAudioAndMovText) {
  FixtureSpec spec;
  spec.width = 128;
  spec.height = 96;
  spec.frames = 25;
  spec.audio = true;
  spec.subtitles = true;
  const std::string in = path("in.mp4");
  const std::string out = path("out.mp4");
  make_fixture(in, spec);
  const RunResult r = run_cli({"upscale", in, "-o", out, "--scale", "3", "--model", "bicubic", "--crf", "30"});
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo vout = decode_video(out);
  EXPECT_EQ(vout.width, 384);
  EXPECT_EQ(vout.height, 288);
  EXPECT_EQ(vout.pts_seconds.size(), 25u);
  const auto pin = dump_packets(in);
  const auto pout = dump_packets(out);
  ASSERT_NE(stream_of(pout, "audio"), nullptr);
  EXPECT_EQ(stream_of(pout, "audio")->data, stream_of(pin, "audio")->data);
  ASSERT_NE(stream_of(pout, "subtitle"), nullptr);
  // The mp4 muxer fills gaps between cues with empty samples; the cues themselves
  // must be unchanged.
  auto cues = [](const PacketDump* d) {
    std::vector<std::vector<uint8_t>> c;
    for (const auto& p : d->data) {
      if (p.size() > 2) {
        c.push_back(p);
      }
    }
    return c;
  };
  EXPECT_EQ(cues(stream_of(pout, "subtitle")), cues(stream_of(pin, "subtitle")));
  EXPECT_EQ(cues(stream_of(pin, "subtitle")).size(), 2u);
}

// Audio whose layout changes mid-stream (a TV recording going from mono to stereo:
// two MPEG-TS pieces joined) re-encoded for WebM: the conversion is rebuilt at the
// change and all of it comes out (the job failed: "Changing audio frame properties
// on the fly is not supported").
TEST_F(CliTest, AudioChangingLayoutMidStreamIsReencodedWhole) {
  for (const std::string channels : {"1", "2"}) {
    const RunResult r = run_command({"/usr/bin/ffmpeg",
                                     "-nostdin",
                                     "-v",
                                     "error",
                                     "-f",
                                     "lavfi",
                                     "-i",
                                     "testsrc2=size=64x48:rate=25",
                                     "-f",
                                     "lavfi",
                                     "-i",
                                     "sine=d=1",
                                     "-t",
                                     "1",
                                     "-c:v",
                                     "libx264",
                                     "-c:a",
                                     "aac",
                                     "-ac",
                                     channels,
                                     "-f",
                                     "mpegts",
                                     path("part" + channels + ".ts")});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  {
    std::ofstream joined(path("joined.ts"), std::ios::binary);
    for (const std::string channels : {"1", "2"}) {
      std::ifstream part(path("part" + channels + ".ts"), std::ios::binary);
      joined << part.rdbuf();
    }
  }
  const RunResult r = run_cli({"upscale", path("joined.ts"), "-o", path("out.webm"), "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  const RunResult decoded = run_command({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-i", path("out.webm"), "-map",
                                         "0:a", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"});
  ASSERT_EQ(decoded.status, 0) << decoded.err;
  EXPECT_NEAR(static_cast<double>(decoded.out.size()) / 2 / 8000, 2.0, 0.15);
}

// HLS writes a playlist and segments named after it: they are named after the
// output, not after a temporary name (the playlist listed hidden segments
// '.out.m3u8.framegen-PID.ts').
TEST_F(CliTest, HlsSegmentsAreNamedAfterThePlaylist) {
  const std::string in = make_clip("clip.mkv", 64, 48, 6, /*audio=*/true);
  fs::create_directory(path("hls"));
  const RunResult r = run_cli({"upscale", in, "-o", path("hls/out.m3u8"), "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream playlist(path("hls/out.m3u8"));
  std::vector<std::string> segments;
  for (std::string line; std::getline(playlist, line);) {
    if (!line.empty() && line[0] != '#') {
      segments.push_back(line);
    }
  }
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_EQ(segments[0], "out0.ts");
  EXPECT_TRUE(fs::exists(path("hls/out0.ts")));
  EXPECT_EQ(decode_video(path("hls/out.m3u8")).pts_seconds.size(), 6u);
}

// A segment that cannot be written whole (a full disk; here a file size limit)
// fails the job and leaves nothing: the HLS muxer ignores what closing a segment
// returns, so the job said "wrote" with a playlist listing a segment cut short.
// DASH the same (its NAME.tmp renamed to NAME even so).
TEST_F(CliTest, SegmentWriteErrorsFailTheJobAndLeaveNothing) {
  const RunResult made = run_command({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                                      "testsrc2=size=160x120:rate=25", "-t", "1", path("src.mkv")});
  ASSERT_EQ(made.status, 0) << made.err;
  for (const std::string out : {"hls/out.m3u8", "dash/out.mpd"}) {
    const fs::path folder = fs::path(path(out)).parent_path();
    fs::create_directory(folder);
    // Writes past 8 KB fail with EFBIG (framegen ignores SIGXFSZ).
    const RunResult r = run_command(
        {"/usr/bin/prlimit", "--fsize=8192", kCli, "upscale", path("src.mkv"), "-o", path(out), "--model", "bicubic"});
    EXPECT_EQ(r.status, 4) << out << ": " << r.err;
    EXPECT_NE(r.err.find("File too large"), std::string::npos) << out << ": " << r.err;
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(folder)) {
      left.push_back(e.path().filename().string());
    }
    EXPECT_TRUE(left.empty()) << out << ": left " << left.size() << " file(s), e.g. " << (left.empty() ? "" : left[0]);
    // Without the limit the same job writes them.
    const RunResult ok = run_cli({"upscale", path("src.mkv"), "-o", path(out), "--model", "bicubic"});
    ASSERT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(decode_video(path(out)).pts_seconds.size(), 25u) << out;
  }
}

// A QuickTime timecode track: its timecode is kept (MOV writes a new track from the
// tag), without the false warning that a data stream "cannot be held".
TEST_F(CliTest, TimecodeIsKeptWithoutAWarning) {
  const RunResult made =
      run_command({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25",
                   "-t", "0.4", "-timecode", "01:00:00:00", path("tc.mov")});
  ASSERT_EQ(made.status, 0) << made.err;
  for (const std::string out : {"out.mov", "out.mkv"}) {
    const RunResult r = run_cli({"upscale", path("tc.mov"), "-o", path(out), "--model", "bicubic"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err.find("cannot hold"), std::string::npos) << r.err;
    const RunResult tags = run_command({"/usr/bin/ffprobe", "-v", "error", "-show_entries",
                                        "format_tags=timecode:stream_tags=timecode", "-of", "csv=p=0", path(out)});
    EXPECT_NE(tags.out.find("01:00:00:00"), std::string::npos) << out << ": " << tags.out;
  }
}

// Text subtitles a container cannot hold as they are become its own text codec:
// SubRip from Matroska into MP4 (mov_text) and WebM (WebVTT), same cues, same times.
// They were left out with a warning.
TEST_F(CliTest, TextSubtitlesAreConvertedForTheContainer) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 25;
  spec.subtitles = true;  // two SubRip cues in the mkv
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  auto as_srt = [](const std::string& file) {
    const RunResult r =
        run_command({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-i", file, "-map", "0:s", "-f", "srt", "-"});
    EXPECT_EQ(r.status, 0) << file << ": " << r.err;
    return r.out;
  };
  const std::string cues = as_srt(in);
  ASSERT_NE(cues.find("-->"), std::string::npos) << cues;
  for (const auto& [name, codec] :
       std::vector<std::pair<std::string, std::string>>{{"out.mp4", "mov_text"}, {"out.webm", "webvtt"}}) {
    const RunResult r = run_cli({"upscale", in, "-o", path(name), "--model", "bicubic"});
    ASSERT_EQ(r.status, 0) << name << ": " << r.err;
    EXPECT_NE(r.err.find("subrip -> " + codec), std::string::npos) << r.err;
    const RunResult probe = run_command({"/usr/bin/ffprobe", "-v", "error", "-select_streams", "s", "-show_entries",
                                         "stream=codec_name", "-of", "csv=p=0", path(name)});
    EXPECT_EQ(probe.out, codec + "\n") << name;
    EXPECT_EQ(as_srt(path(name)), cues) << name;
  }
}

TEST_F(CliTest, OtherCodecsAndContainers) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 6;
  spec.audio = true;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  struct Case {
    std::string out;
    std::vector<std::string> extra;
    std::size_t frames;
    std::string codec;
    std::string rate = "25/1";
    std::string audio = "aac";  // the output's audio codec: copied, re-encoded or none ("")
  };
  // The input has AAC audio: containers that cannot hold it get it re-encoded to
  // their own audio codec, as ffmpeg does (it was left out: .webm, .mpg, .ogv, .mxf
  // had no sound); containers with no audio at all leave it out with a warning
  // instead of failing at the header.
  const std::vector<Case> cases = {
      {"ffv1.mkv", {"--codec", "ffv1"}, 6, "ffv1"},
      {"vp9.webm", {}, 6, "vp9", "25/1", "opus"},
      {"cq.webm", {"--crf", "30", "--bitrate", "300k"}, 6, "vp9", "25/1", "opus"},  // constrained quality
      {"x265.mp4", {"--codec", "libx265", "--preset", "ultrafast"}, 6, "hevc"},
      {"x264.mov", {"--pix-fmt", "yuv444p"}, 6, "h264"},
      {"abr.mkv", {"--bitrate", "300k"}, 6, "h264"},  // FFmpeg's suffixes: 300k = 300000
      // MXF counts in frames: the encoder takes 1/25 as its time base; its audio is
      // 48 kHz PCM only
      {"mxf.mxf", {}, 6, "h264", "25/1", "pcm_s16le"},
      {"avi.avi", {}, 6, "h264"},  // so does AVI (it was written at 1/600: "600 fps", empty chunks between)
      // Containers that hold no H.264 get their own default encoder, as from ffmpeg
      // (each failed with "cannot write the header"):
      {"y4m.y4m", {}, 6, "rawvideo", "25/1", ""},
      {"mpeg1.mpg", {}, 6, "mpeg1video", "25/1", "mp2"},
      {"theora.ogv", {}, 6, "theora", "0/0", "vorbis"},       // (as ffmpeg writes it: Ogg stores no frame rate)
      {"utvideo.mkv", {"--codec", "utvideo"}, 6, "utvideo"},  // Matroska via its RIFF tag (was refused)
      {"raw.h264", {}, 6, "h264", "0/0", ""},                 // raw: H.264 without the audio, and no frame rate stored
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"upscale", in, "-o", path(c.out), "--scale", "2"};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const RunResult r = run_cli(args);
    ASSERT_EQ(r.status, 0) << c.out << ": " << r.err;
    // The MPEG program stream muxer logged "buffer underflow" by the hundred when
    // it sized its mux rate from the nominal 200 kb/s of mpeg1video.
    EXPECT_EQ(r.err.find("underflow"), std::string::npos) << c.out << ": " << r.err;
    const DecodedVideo v = decode_video(path(c.out));
    EXPECT_EQ(v.width, 128) << c.out;
    EXPECT_EQ(v.height, 96) << c.out;
    EXPECT_EQ(v.pts_seconds.size(), c.frames) << c.out;
    const RunResult probe = run_command({"/usr/bin/ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                                         "stream=codec_name,avg_frame_rate", "-of", "csv=p=0", path(c.out)});
    EXPECT_EQ(probe.out, c.codec + "," + c.rate + "\n") << c.out;
    const RunResult audio = run_command({"/usr/bin/ffprobe", "-v", "error", "-select_streams", "a", "-show_entries",
                                         "stream=codec_name", "-of", "csv=p=0", path(c.out)});
    EXPECT_EQ(audio.out, c.audio.empty() ? "" : c.audio + "\n") << c.out;
    if (!c.audio.empty()) {
      // The whole of it, decodable: 0.24 s of audio beside 6 frames at 25 fps.
      const RunResult decoded = run_command({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-i", path(c.out), "-map",
                                             "0:a", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"});
      EXPECT_EQ(decoded.status, 0) << c.out << ": " << decoded.err;
      EXPECT_EQ(decoded.err, "") << c.out;
      EXPECT_NEAR(static_cast<double>(decoded.out.size()) / 2 / 8000, 0.24, 0.05) << c.out;
    }
  }
  // Real footage at 720p: the MPEG program stream muxer sized its mux rate from the
  // nominal 200 kb/s of mpeg1video (the encoder's CPB properties were not passed on)
  // and logged "buffer underflow" 515 times.
  const RunResult r = run_cli({"upscale", kSample, "-o", path("sample.mpg"), "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("underflow"), std::string::npos) << r.err;
  EXPECT_EQ(decode_video(path("sample.mpg")).pts_seconds.size(), 100u);
}

TEST_F(CliTest, ASingleImageOutputTakesOneFrameOnly) {
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 1;
  const std::string still = path("still.mkv");
  make_fixture(still, spec);
  RunResult r = run_cli({"upscale", still, "-o", path("still.png"), "--scale", "2"});
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo v = decode_video(path("still.png"));
  EXPECT_EQ(v.width, 128);
  EXPECT_EQ(v.pts_seconds.size(), 1u);

  // Several frames into one image: refused, not cut to the first frame. The mp4
  // declares its frame count (refused before starting), the mkv does not (refused
  // at the second frame); neither leaves a file.
  spec.frames = 6;
  for (const std::string& in : {path("clip.mp4"), path("clip.mkv")}) {
    make_fixture(in, spec);
    r = run_cli({"upscale", in, "-o", path("frame.png"), "--scale", "2"});
    EXPECT_NE(r.status, 0) << in;
    EXPECT_NE(r.err.find("is a single image"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(path("frame.png"))) << in;
    expect_no_output_files();
  }
  r = run_cli({"interpolate", still, "-o", path("frames.png"), "--factor", "2", "--model", "blend"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("is a single image"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("frames.png")));
  EXPECT_FALSE(fs::exists(path("frame.png")));
}

// -o - writes the video to stdout as it goes: Matroska, or the --format container
// (mp4 fragmented, as a pipe cannot seek); refused onto a terminal, beside --json,
// and --format with a file; a reader that goes away is a write error (exit 4).
TEST_F(CliTest, StdoutOutput) {
  const std::string in = make_clip("clip.mkv", 64, 48, 6, /*audio=*/true);
  auto save = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  };
  RunResult r = run_cli({"interpolate", in, "-o", "-", "--factor", "2", "--model", "blend"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("wrote stdout (12 frames"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.compare(0, 4, "\x1a\x45\xdf\xa3"), 0);  // the EBML (Matroska) magic
  EXPECT_EQ(decode_video(save("out.mkv", r.out)).pts_seconds.size(), 12u);
  r = run_cli({"upscale", in, "-o", "-", "--model", "bicubic", "--format", "mp4"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(decode_video(save("out.mp4", r.out)).pts_seconds.size(), 6u);
  r = run_cli({"upscale", in, "-o", "-", "--model", "bicubic", "--format", "ts"});
  ASSERT_EQ(r.status, 0) << r.err;
  const DecodedVideo ts = decode_video(save("out.ts", r.out));
  ASSERT_EQ(ts.pts_seconds.size(), 6u);
  EXPECT_LT(ts.pts_seconds.front(), 0.5);  // not delayed 1.4 s by a mux delay meant for MPEG-PS
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{{"--json"}, {"--format", "nosuch"}, {"--format", "image2"}}) {
    std::vector<std::string> args = {"upscale", in, "-o", "-", "--model", "bicubic"};
    args.insert(args.end(), bad.begin(), bad.end());
    r = run_cli(args);
    EXPECT_EQ(r.status, 2) << bad.front() << ": " << r.err;
    EXPECT_NE(r.err.find(bad.front()), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  r = run_cli({"upscale", in, "-o", path("x.mkv"), "--model", "bicubic", "--format", "nut"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--format"), std::string::npos) << r.err;
  // Onto a terminal: script(1) gives the command one.
  r = run_command(
      {"/usr/bin/script", "-qec", std::string(kCli) + " upscale " + in + " -o - --model bicubic", "/dev/null"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("terminal"), std::string::npos) << r.out;
  // The reader goes away after 1000 bytes: exit 4 with the reason, not SIGPIPE.
  const std::string big = make_clip("big.mkv", 320, 240, 40, /*audio=*/false);
  r = run_command({"/bin/bash", "-c",
                   std::string(kCli) + " upscale " + big +
                       " -o - --model bicubic --codec ffv1 | head -c 1000 > /dev/null; exit ${PIPESTATUS[0]}"});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("Broken pipe"), std::string::npos) << r.err;
  expect_no_output_files();
}

// Numbered images ('frames/%04d.png', as ffmpeg writes them): one file per frame,
// numbered from 1, moved into place when the job ends; never mixed with the images
// of an earlier run without -y.
// A named pipe or a device (/dev/null) as the output is written as it goes, like
// stdout: the pipe stays a pipe and its reader gets the video (a temporary file was
// renamed over it: the reader got nothing and the pipe was gone). --format names the
// container where the name has no extension.
TEST_F(CliTest, NamedPipeAndDeviceOutputs) {
  const std::string in = make_clip("clip.mkv", 64, 48, 6, /*audio=*/true);
  const std::string fifo = path("pipe.mkv");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  RunResult r = run_command({"/bin/bash", "-c",
                             "timeout 60 cat '" + fifo + "' > '" + path("read.mkv") + "' & " + kCli + " upscale '" +
                                 in + "' -o '" + fifo + "' --model bicubic -y; status=$?; wait; exit $status"});
  ASSERT_EQ(r.status, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  const DecodedVideo v = decode_video(path("read.mkv"));
  EXPECT_EQ(v.pts_seconds.size(), 6u);
  EXPECT_EQ(v.width, 128);

  r = run_cli({"upscale", in, "-o", "/dev/null", "--model", "bicubic", "-y"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--format"), std::string::npos) << r.err;
  r = run_cli(
      {"interpolate", in, "-o", "/dev/null", "--format", "nut", "--factor", "2", "--model", "blend", "-y", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["frames_out"], 12);
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

// Hardware encoders on a machine without their device: the error says so (nvenc
// said "Operation not permitted" alone), and one that takes only hardware surfaces
// (vaapi) is refused up front (it failed with "FramePool: unsupported pixel format").
TEST_F(CliTest, HardwareEncodersExplainTheirFailure) {
  const std::string in = make_clip("clip.mkv", 64, 48, 3);
  RunResult r = run_cli({"upscale", in, "-o", path("v.mp4"), "--model", "bicubic", "--codec", "h264_vaapi"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("hardware surfaces only"), std::string::npos) << r.err;
  r = run_cli({"upscale", in, "-o", path("n.mp4"), "--model", "bicubic", "--codec", "h264_nvenc"});
  if (r.status == 0) {
    GTEST_SKIP() << "this machine has an NVIDIA encoder";
  }
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("a hardware encoder: it needs its device"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("n.mp4")));
}

// Extending a one-frame input repeats the frame (no motion is known), and says so.
TEST_F(CliTest, ExtendingOneFrameRepeatsItAndSaysSo) {
  const std::string in = make_clip("one.mkv", 64, 48, 1);
  const RunResult r = run_cli({"extend", in, "-o", path("e.mkv"), "--frames", "2", "--codec", "ffv1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("the input has one frame"), std::string::npos) << r.err;
  const RunResult md5 =
      run_command({"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-i", path("e.mkv"), "-f", "framemd5", "-"});
  ASSERT_EQ(md5.status, 0) << md5.err;
  std::vector<std::string> hashes;
  std::istringstream lines(md5.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != '#') {
      hashes.push_back(line.substr(line.rfind(',') + 1));
    }
  }
  ASSERT_EQ(hashes.size(), 3u);
  EXPECT_EQ(hashes[1], hashes[0]);
  EXPECT_EQ(hashes[2], hashes[0]);
}

TEST_F(CliTest, NumberedImageOutput) {
  const std::string in = make_clip("clip.mkv", 64, 48, 6, /*audio=*/true);
  const std::string frames = path("frames");
  fs::create_directory(frames);
  auto images_in = [](const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(folder)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  RunResult r = run_cli({"upscale", in, "-o", frames + "/f%04d.png", "--scale", "2", "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("images hold no audio"), std::string::npos) << r.err;  // said, not silently dropped
  const std::vector<std::string> want = {"f0001.png", "f0002.png", "f0003.png", "f0004.png", "f0005.png", "f0006.png"};
  ASSERT_EQ(images_in(frames), want);  // nothing else: the temporary folder is gone
  for (const std::string& name : want) {
    const DecodedVideo v = decode_video(frames + "/" + name);
    EXPECT_EQ(v.width, 128) << name;
    EXPECT_EQ(v.height, 96) << name;
    EXPECT_EQ(v.pts_seconds.size(), 1u) << name;
  }
  // The same images again: refused without -y, and nothing changes.
  const auto before = fs::last_write_time(frames + "/f0001.png");
  r = run_cli({"upscale", in, "-o", frames + "/f%04d.png", "--scale", "2", "--model", "bicubic"});
  EXPECT_EQ(r.status, 4);
  EXPECT_NE(r.err.find("already holds 6 image(s)"), std::string::npos) << r.err;
  EXPECT_EQ(fs::last_write_time(frames + "/f0001.png"), before);
  // With -y a shorter job overwrites its own numbers and names the older images it left.
  const std::string shorter = make_clip("short.mkv", 64, 48, 4);
  r = run_cli({"upscale", shorter, "-o", frames + "/f%04d.png", "--scale", "3", "--model", "bicubic", "-y"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("also holds 2 older image(s)"), std::string::npos) << r.err;
  EXPECT_EQ(decode_video(frames + "/f0004.png").width, 192);
  EXPECT_EQ(decode_video(frames + "/f0005.png").width, 128);
  // Any frame count: interpolation to JPEG images, '%%' for a literal '%'.
  const std::string jpegs = path("jpegs");
  fs::create_directory(jpegs);
  r = run_cli({"interpolate", in, "-o", jpegs + "/100%%_%03d.jpg", "--factor", "2", "--model", "blend", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const std::vector<std::string> jpeg_names = images_in(jpegs);
  ASSERT_EQ(static_cast<int64_t>(jpeg_names.size()), j["frames_out"].get<int64_t>());
  EXPECT_EQ(jpeg_names.size(), 12u);
  EXPECT_EQ(jpeg_names.front(), "100%_001.jpg");
  EXPECT_EQ(jpeg_names.back(), "100%_012.jpg");
  // Each image format gets its own encoder by default (it was libx264, refused),
  // and one that writes a file per frame (not libwebp_anim's single animation).
  for (const std::string ext : {"tiff", "bmp", "webp"}) {
    const std::string folder = path(ext);
    fs::create_directory(folder);
    r = run_cli({"upscale", in, "-o", folder + "/%02d." + ext, "--scale", "2", "--model", "bicubic"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(images_in(folder).size(), 6u) << ext;
    EXPECT_EQ(decode_video(folder + "/06." + ext).width, 128) << ext;
  }
  // An encoder that holds frames back would not write an image per frame: refused.
  r = run_cli({"upscale", in, "-o", path("webp") + "/a%02d.webp", "--codec", "libwebp_anim", "--scale", "2", "--model",
               "bicubic"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("libwebp_anim does not"), std::string::npos) << r.err;
  // A frame number in a video's name is no sequence: written as it is, but said.
  r = run_cli({"upscale", in, "-o", path("clip%d.mkv"), "--scale", "2", "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("written as one matroska file with that very name"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(path("clip%d.mkv")));
  // Names ffmpeg would not number are usage errors that say why.
  const std::pair<std::string, std::string> bad[] = {
      {frames + "/f%d_%d.png", "more than one frame number"},
      {path("f%d") + "/x.png", "must be in the file name"},
      {frames + "/50%_%d.png", "must be written %%"},
  };
  for (const auto& [out, why] : bad) {
    r = run_cli({"upscale", in, "-o", out, "--scale", "2", "--model", "bicubic"});
    EXPECT_EQ(r.status, 2) << out;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
  EXPECT_EQ(images_in(frames).size(), 6u);
  expect_no_output_files();
}

// Numbered images as input, read as ffmpeg reads them: the frame rate from
// --input-fps (25 without it), the input ends at the first missing number.
TEST_F(CliTest, NumberedImageInput) {
  const std::string in = make_clip("clip.mkv", 64, 48, 8);
  const std::string frames = path("frames");
  fs::create_directory(frames);
  RunResult r = run_cli({"upscale", in, "-o", frames + "/%03d.png", "--scale", "2", "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run_cli({"interpolate", frames + "/%03d.png", "-o", path("out.mkv"), "--input-fps", "24000/1001", "--fps",
               "60000/1001", "--model", "blend", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames_in"].get<int64_t>(), 8);
  EXPECT_EQ(j["frame_rate_in"].get<std::string>(), "24000/1001");
  // 8 frames at 23.976 fps last 1001/3000 s; at 59.94 fps that is 20 frames.
  EXPECT_EQ(j["frames_out"].get<int64_t>(), 20);
  const DecodedVideo v = decode_video(path("out.mkv"));
  EXPECT_EQ(v.width, 128);
  EXPECT_EQ(v.pts_seconds.size(), 20u);
  // probe reads them the same way.
  r = run_cli({"probe", frames + "/%03d.png", "--input-fps", "30000/1001", "--count-frames", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["frame_rate"].get<double>(), 29.97, 0.01);
  EXPECT_EQ(j["width"].get<int>(), 128);
  r = run_cli({"probe", in, "--input-fps", "30"});
  EXPECT_EQ(r.status, 2);
  r = run_cli({"upscale", frames + "/%03d.png", "-o", path("x25.mkv"), "--scale", "2", "--model", "bicubic", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["frame_rate_in"].get<std::string>(), "25/1");
  // --input-fps on anything else would be ignored: refused.
  r = run_cli({"upscale", in, "-o", path("y.mkv"), "--scale", "2", "--input-fps", "30"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--input-fps"), std::string::npos) << r.err;
  // A missing image in the middle ends the input there, as a cut-short input does:
  // exit 5, the output holds the images before it.
  fs::remove(frames + "/005.png");
  r = run_cli({"upscale", frames + "/%03d.png", "-o", path("gap.mkv"), "--scale", "2", "--model", "bicubic", "--json"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("image '005.png' is missing, so the input ends before it (3 later image(s) not read)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(decode_video(path("gap.mkv")).pts_seconds.size(), 4u);
  EXPECT_FALSE(fs::exists(path("y.mkv")));
}

// Ctrl-C on a numbered-image job: the first one keeps every image finished so far
// (all of them whole), the second deletes them with their temporary folder.
TEST_F(CliTest, SigintOnNumberedImages) {
  const std::string in = make_long_input();
  auto temporary_folder_has_an_image = [&](const std::string& folder, pid_t pid) {
    int st = 0;
    for (int i = 0; i < 12000; ++i) {
      for (const auto& e : fs::directory_iterator(folder)) {
        if (e.is_directory() && fs::exists(e.path() / "0002.png")) {
          return true;
        }
      }
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        return false;
      }
      ::usleep(10000);
    }
    return false;
  };
  for (const int signals : {1, 2}) {
    const std::string folder = path("seq" + std::to_string(signals));
    fs::create_directory(folder);
    int out_pipe[2];
    ASSERT_EQ(::pipe(out_pipe), 0);
    const pid_t pid = start_cli(
        {"upscale", in, "-o", folder + "/%04d.png", "--scale", "2", "--model", "bicubic", "--threads", "1", "--json"},
        out_pipe[1]);
    ::close(out_pipe[1]);
    ASSERT_TRUE(temporary_folder_has_an_image(folder, pid)) << "the job never wrote an image";
    ::kill(pid, SIGINT);
    if (signals == 2) {
      ::usleep(20000);  // two signals at once may arrive as one
      ::kill(pid, SIGINT);
    }
    const std::string json = read_and_close(out_pipe[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
    std::size_t images = 0;
    for (const auto& e : fs::directory_iterator(folder)) {
      EXPECT_FALSE(e.is_directory()) << "left behind: " << e.path();
      EXPECT_EQ(decode_video(e.path().string()).width, 640) << e.path();
      ++images;
    }
    if (json.empty()) {
      // Aborted by the second signal (it can also land after the first one has
      // already finished the job): nothing remains.
      EXPECT_EQ(signals, 2);
      EXPECT_EQ(images, 0u);
    } else {
      const auto j = nlohmann::json::parse(json);
      EXPECT_TRUE(j["cancelled"].get<bool>());
      EXPECT_EQ(static_cast<int64_t>(images), j["frames_out"].get<int64_t>());
      EXPECT_GE(images, 2u);
      EXPECT_LT(images, 1500u);
    }
  }
}

// An output name near the file system's limit (255 bytes here) is valid, but the
// temporary name beside it (".NAME.framegen-PID.part") was not: the job failed
// with 'File name too long'. The temporary name now keeps what fits.
TEST_F(CliTest, LongOutputNamesWork) {
  FixtureSpec spec;
  spec.width = 32;
  spec.height = 24;
  spec.frames = 2;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  const std::string out = path(std::string(250, 'n') + ".mkv");
  const RunResult r = run_cli({"upscale", in, "-o", out, "--scale", "2", "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(decode_video(out).pts_seconds.size(), 2u);
  expect_no_output_files();
}

TEST_F(CliTest, ProbeDescribesStreams) {
  FixtureSpec spec;
  spec.frames = 10;
  spec.audio = true;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  const RunResult r = run_cli({"probe", in, "--json", "--count-frames"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["width"], 320);
  EXPECT_EQ(j["height"], 240);
  EXPECT_EQ(j["frame_count"], 10);
  EXPECT_DOUBLE_EQ(j["frame_rate"].get<double>(), 25.0);
  EXPECT_EQ(j["streams"].size(), 2u);
}

TEST_F(CliTest, SampleClipEndToEnd) {
  const std::string out = path("sample_x2.mp4");
  const RunResult r = run_cli({"upscale", kSample, "-o", out, "--scale", "2", "--json", "--preset", "ultrafast"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["frames_out"], j["frames_in"]);
  const DecodedVideo vin = decode_video(kSample);
  const DecodedVideo vout = decode_video(out);
  EXPECT_EQ(vout.width, vin.width * 2);
  EXPECT_EQ(vout.height, vin.height * 2);
  EXPECT_EQ(vout.pts_seconds.size(), vin.pts_seconds.size());
  EXPECT_NEAR(vout.duration, vin.duration, 1.0 / 25);
}

// ---- bad input: a clear message naming the file, the documented code, no output ----

TEST_F(CliTest, MissingInput) {
  const RunResult r = run_cli({"upscale", path("nope.mp4"), "-o", path("out.mp4")});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("nope.mp4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(path("out.mp4")));
  // Numbered images that are not there: say which numbers were looked for.
  const RunResult seq = run_cli({"upscale", path("frames_%04d.png"), "-o", path("out.mp4")});
  EXPECT_EQ(seq.status, 3);
  EXPECT_NE(seq.err.find("no image of that name numbered 0 to 4"), std::string::npos) << seq.err;
  EXPECT_NE(seq.err.find("frames_%04d.png"), std::string::npos) << seq.err;
  EXPECT_FALSE(file_exists(path("out.mp4")));
}

TEST_F(CliTest, EmptyInput) {
  std::ofstream(path("empty.mp4")).close();
  const RunResult r = run_cli({"upscale", path("empty.mp4"), "-o", path("out.mp4")});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("empty.mp4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(path("out.mp4")));
}

TEST_F(CliTest, TextFileInput) {
  std::ofstream(path("notes.txt")) << "this is not a video\nat all\n";
  const RunResult r = run_cli({"upscale", path("notes.txt"), "-o", path("out.mp4")});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("notes.txt"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(path("out.mp4")));
  expect_no_output_files();
}

TEST_F(CliTest, DirectoryInput) {
  fs::create_directory(path("adir"));
  const RunResult r = run_cli({"upscale", path("adir"), "-o", path("out.mp4")});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(path("out.mp4")));
}

TEST_F(CliTest, TruncatedMp4WithoutIndex) {
  FixtureSpec spec;
  spec.frames = 30;
  const std::string full = path("full.mp4");
  make_fixture(full, spec);  // moov at the end: cutting the file loses it
  const auto size = fs::file_size(full);
  fs::resize_file(full, size / 2);
  const RunResult r = run_cli({"upscale", full, "-o", path("out.mp4")});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("full.mp4"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(path("out.mp4")));
  expect_no_output_files();
}

TEST_F(CliTest, AudioOnlyInput) {
  FixtureSpec spec;
  spec.video = false;
  spec.audio = true;
  spec.frames = 25;
  const std::string in = path("tone.mkv");
  make_fixture(in, spec);
  const RunResult r = run_cli({"upscale", in, "-o", path("out.mp4")});
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("no video stream"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tone.mkv"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(path("out.mp4")));
  // With --json the failure is a JSON object on stdout as well (stdout was empty).
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"upscale", in, "-o", path("out.mp4"), "--json"},
                                             {"interpolate", in, "-o", path("out.mp4"), "--factor", "2", "--json"},
                                             {"probe", in, "--json"},
                                             {"eval", "interp", "--ref", in, "--json"}}) {
    const RunResult j = run_cli(args);
    EXPECT_EQ(j.status, 3) << args[0];
    const auto failure = nlohmann::json::parse(j.out);
    EXPECT_EQ(failure["command"], args[0] == "eval" ? "eval interp" : args[0]);
    EXPECT_EQ(failure["exit_code"], 3);
    EXPECT_NE(failure["error"].get<std::string>().find("no video stream"), std::string::npos) << j.out;
  }
}

TEST_F(CliTest, ExistingOutputNeedsOverwriteFlag) {
  FixtureSpec spec;
  spec.frames = 5;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  std::ofstream(path("out.mp4")) << "precious";
  RunResult r = run_cli({"upscale", in, "-o", path("out.mp4")});
  EXPECT_EQ(r.status, 4);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("out.mp4"), std::string::npos) << r.err;
  std::string content;
  std::ifstream(path("out.mp4")) >> content;
  EXPECT_EQ(content, "precious");  // untouched

  r = run_cli({"upscale", in, "-o", path("out.mp4"), "-y"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(decode_video(path("out.mp4")).pts_seconds.size(), 5u);
}

TEST_F(CliTest, OutputEqualsInputRefusedAlsoThroughSymlink) {
  FixtureSpec spec;
  spec.frames = 5;
  const std::string in = path("in.mp4");
  make_fixture(in, spec);
  const auto before = fs::file_size(in);
  RunResult r = run_cli({"upscale", in, "-o", in, "-y"});
  EXPECT_EQ(r.status, 4);
  EXPECT_NE(r.err.find("is the input"), std::string::npos) << r.err;
  fs::create_symlink(in, path("link.mp4"));
  r = run_cli({"upscale", in, "-o", path("link.mp4"), "-y"});
  EXPECT_EQ(r.status, 4);
  EXPECT_EQ(fs::file_size(in), before);
}

// An output that is a symlink is written through with -y, as ffmpeg does: the file
// it points to gets the video and the link stays a link (it was replaced by a file).
TEST_F(CliTest, SymlinkOutputIsWrittenThrough) {
  const std::string in = make_clip("clip.mkv", 64, 48, 3);
  std::ofstream(path("old.mp4")) << "an older render";
  fs::create_symlink("old.mp4", path("latest.mp4"));
  const RunResult r = run_cli({"upscale", in, "-o", path("latest.mp4"), "--model", "bicubic", "-y"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(path("latest.mp4")));
  EXPECT_EQ(decode_video(path("old.mp4")).pts_seconds.size(), 3u);
  // A dangling link (the file it names not made yet): the file is made there, as
  // ffmpeg does; the link was replaced by a regular file.
  fs::create_directory(path("renders"));
  fs::create_symlink("renders/next.mp4", path("next.mp4"));
  const RunResult d = run_cli({"upscale", in, "-o", path("next.mp4"), "--model", "bicubic"});
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_TRUE(fs::is_symlink(path("next.mp4")));
  EXPECT_EQ(decode_video(path("renders/next.mp4")).pts_seconds.size(), 3u);
  // ... into a folder that does not exist: said, nothing written.
  fs::create_symlink("gone/next.mp4", path("broken.mp4"));
  const RunResult g = run_cli({"upscale", in, "-o", path("broken.mp4"), "--model", "bicubic"});
  EXPECT_EQ(g.status, 4);
  EXPECT_NE(g.err.find("whose folder does not exist"), std::string::npos) << g.err;
  EXPECT_TRUE(fs::is_symlink(path("broken.mp4")));
  expect_no_output_files();
}

TEST_F(CliTest, MissingOutputDirectory) {
  FixtureSpec spec;
  spec.frames = 5;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  const RunResult r = run_cli({"upscale", in, "-o", path("no/such/dir/out.mp4")});
  EXPECT_EQ(r.status, 4);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  std::ofstream(path("plain")) << "a file, not a directory";
  const RunResult f = run_cli({"upscale", in, "-o", path("plain/out.mp4")});
  EXPECT_EQ(f.status, 4);
  EXPECT_NE(f.err.find("is not a directory"), std::string::npos) << f.err;
}

TEST_F(CliTest, BadOptionsAreUsageErrors) {
  FixtureSpec spec;
  spec.frames = 5;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  EXPECT_EQ(run_cli({"upscale", in, "-o", path("a.mp4"), "--scale", "5"}).status, 2);
  EXPECT_EQ(run_cli({"upscale", in, "-o", path("a.mp4"), "--model", "magic"}).status, 2);
  EXPECT_EQ(run_cli({"upscale", in, "-o", path("a.mp4"), "--codec", "nosuchcodec"}).status, 2);
  EXPECT_EQ(run_cli({"upscale", in, "-o", path("a.webm"), "--codec", "libx264"}).status, 2);
  // A flag the chosen encoder cannot use is an error, not silently ignored.
  EXPECT_EQ(run_cli({"upscale", in, "-o", path("a.mkv"), "--codec", "ffv1", "--crf", "20"}).status, 2);
  // ... or a value x264 would clamp to 51 without a word (vp9 takes up to 63).
  const RunResult crf = run_cli({"upscale", in, "-o", path("a.mp4"), "--crf", "60"});
  EXPECT_EQ(crf.status, 2);
  EXPECT_NE(crf.err.find("takes 0 (best) to 51"), std::string::npos) << crf.err;
  EXPECT_EQ(run_cli({"upscale", in}).status, 2);
  const RunResult rate = run_cli({"upscale", in, "-o", path("a.mp4"), "--bitrate", "2Mb"});
  EXPECT_EQ(rate.status, 2);
  EXPECT_NE(rate.err.find("'2Mb' is not a bitrate"), std::string::npos) << rate.err;
  // A --bitrate the encoder would drop: ffv1 is lossless; x264 with a --crf keeps
  // the constant quality (both were accepted and the bitrate ignored).
  const RunResult lossless = run_cli({"upscale", in, "-o", path("a.mkv"), "--codec", "ffv1", "--bitrate", "1M"});
  EXPECT_EQ(lossless.status, 2);
  EXPECT_NE(lossless.err.find("--bitrate: ffv1 is lossless"), std::string::npos) << lossless.err;
  // libwebp and ProRes write the same bytes for any bitrate.
  for (const char* codec : {"libwebp", "prores_ks"}) {
    const bool webp = std::string(codec) == "libwebp";
    const RunResult fixed =
        run_cli({"upscale", in, "-o", path(webp ? "a.webp" : "a.mov"), "--codec", codec, "--bitrate", "1M"});
    EXPECT_EQ(fixed.status, 2) << codec << ": " << fixed.err;
    EXPECT_NE(fixed.err.find(std::string("--bitrate: ") + codec + " has no rate control"), std::string::npos)
        << fixed.err;
  }
  const RunResult both = run_cli({"upscale", in, "-o", path("a.mp4"), "--crf", "20", "--bitrate", "1M"});
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("--crf and --bitrate together: libx264"), std::string::npos) << both.err;
  // A mistyped preset was an output failure (exit 4) when the encoder opened.
  const RunResult preset = run_cli({"upscale", in, "-o", path("a.mp4"), "--preset", "quick"});
  EXPECT_EQ(preset.status, 2);
  EXPECT_NE(preset.err.find("--preset quick: libx264 takes ultrafast, superfast"), std::string::npos) << preset.err;
  const RunResult deadline = run_cli({"upscale", in, "-o", path("a.webm"), "--preset", "fast"});
  EXPECT_EQ(deadline.status, 2);
  EXPECT_NE(deadline.err.find("libvpx-vp9 takes good, best, realtime"), std::string::npos) << deadline.err;
  // A frame rate no one means (a typo: 6000 for 60) would run for days.
  const RunResult fast = run_cli({"interpolate", in, "-o", path("a.mp4"), "--fps", "6000", "--model", "blend"});
  EXPECT_EQ(fast.status, 2);
  EXPECT_NE(fast.err.find("6000 fps, above the limit of 1000 fps"), std::string::npos) << fast.err;
  EXPECT_EQ(run_cli({"run", in, "-o", path("a.mp4"), "--fps", "1e9", "--predictor", "blend"}).status, 2);
  EXPECT_FALSE(file_exists(path("a.mp4")));
  expect_no_output_files();
}

TEST_F(CliTest, ContainersWithoutACodecListAreWritten) {
  // libavformat answers "unknown" for mpegts (no codec list): that is not a no.
  FixtureSpec spec;
  spec.frames = 10;
  spec.audio = true;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  const RunResult ts = run_cli({"interpolate", in, "-o", path("out.ts"), "--factor", "2", "--model", "blend"});
  ASSERT_EQ(ts.status, 0) << ts.err;
  EXPECT_EQ(decode_video(path("out.ts")).pts_seconds.size(), 20u);
  const auto packets = dump_packets(path("out.ts"));
  ASSERT_NE(stream_of(packets, "audio"), nullptr);
  EXPECT_FALSE(stream_of(packets, "audio")->data.empty());
  // GIF: an unknown too, but its muxer takes GIF only. A .gif gets GIF by default.
  const RunResult gif_x264 = run_cli({"upscale", in, "-o", path("a.gif"), "--codec", "libx264", "--model", "bicubic"});
  EXPECT_EQ(gif_x264.status, 2);
  EXPECT_NE(gif_x264.err.find("cannot hold libx264"), std::string::npos) << gif_x264.err;
  const RunResult gif = run_cli({"upscale", in, "-o", path("b.gif"), "--model", "bicubic"});
  ASSERT_EQ(gif.status, 0) << gif.err;
  EXPECT_EQ(decode_video(path("b.gif")).pts_seconds.size(), 10u);
}

TEST_F(CliTest, JpegOutputKeepsItsColours) {
  // A .jpg gets the mjpeg encoder by default (it was refused: "image2 cannot hold
  // libx264"), full range, without libswscale's warning about J formats.
  FixtureSpec spec;
  spec.width = 64;
  spec.height = 48;
  spec.frames = 1;
  spec.flat = true;
  spec.video_codec = "ffv1";
  make_fixture(path("flat.mkv"), spec);
  const RunResult r = run_cli({"upscale", path("flat.mkv"), "-o", path("big.jpg"), "--scale", "2", "--model", "bicubic"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("deprecated"), std::string::npos) << r.err;
  const framegen::Image in = framegen::load_rgb_frames(path("flat.mkv")).front();
  const framegen::Image out = framegen::load_rgb_frames(path("big.jpg")).front();
  ASSERT_EQ(out.width, 128);
  ASSERT_EQ(out.height, 96);
  for (int c = 0; c < 3; ++c) {
    double a = 0;
    double b = 0;
    for (std::size_t i = c; i < in.data.size(); i += 3) {
      a += in.data[i];
    }
    for (std::size_t i = c; i < out.data.size(); i += 3) {
      b += out.data[i];
    }
    EXPECT_NEAR(b / (out.data.size() / 3.0), a / (in.data.size() / 3.0), 2.0) << "channel " << c;
  }
}

TEST_F(CliTest, SigintFinalizesPlayablePartialOutput) {
  // A long synthetic input; the signal is sent once the job has written its first
  // bytes, so it lands mid-run on any machine.
  const std::string in = make_long_input();
  const std::string out = path("partial.mkv");
  int out_pipe[2];
  ASSERT_EQ(::pipe(out_pipe), 0);
  const pid_t pid = start_cli(
      {"upscale", in, "-o", out, "--scale", "4", "--preset", "ultrafast", "--threads", "1", "--json"}, out_pipe[1]);
  ::close(out_pipe[1]);
  ASSERT_TRUE(wait_for_partial_output(out, pid, 0, 120)) << "the job never started writing";
  ::kill(pid, SIGINT);
  const std::string json = read_and_close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130);
  const auto j = nlohmann::json::parse(json);
  EXPECT_TRUE(j["cancelled"].get<bool>());
  const int64_t written = j["frames_out"].get<int64_t>();
  EXPECT_GT(written, 0);
  EXPECT_LT(written, 1500);
  const DecodedVideo v = decode_video(out);  // plays, and holds every frame encoded
  EXPECT_EQ(static_cast<int64_t>(v.pts_seconds.size()), written);
  EXPECT_EQ(v.width, 1280);
  expect_no_output_files();
}

TEST_F(CliTest, SigintStopsAnEvaluation) {
  // eval runs no pipeline: the first Ctrl-C used to be swallowed and the whole
  // evaluation ran on to exit 0. The signal is sent once the first predicted frame
  // is saved, so it lands mid-run on any machine.
  const std::string in = make_long_input();
  // Starts eval --save DIR and waits (up to 120 s) until it has written `file`:
  // its pid, or -1 if it ended (or hung) before that.
  auto start_saving = [&](const std::string& dir, const char* file) -> pid_t {
    const pid_t p = start_cli({"eval", "interp", "--ref", in, "--model", "blend", "--save", dir});
    int st = 0;
    for (int i = 0; i < 12000; ++i) {
      if (fs::exists(fs::path(dir) / file)) {
        return p;
      }
      if (::waitpid(p, &st, WNOHANG) == p) {
        return -1;
      }
      ::usleep(10000);
    }
    ::kill(p, SIGKILL);
    ::waitpid(p, &st, 0);
    return -1;
  };
  const std::string save = path("frames");
  const pid_t pid = start_saving(save, "000001.png");
  ASSERT_GT(pid, 0) << "eval never saved a frame";
  int status = 0;
  ::kill(pid, SIGINT);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::size_t saved = 0;
  for (const auto& e : fs::directory_iterator(save)) {
    EXPECT_EQ(e.path().extension(), ".png") << e.path();  // no half-written frame (.part)
    ++saved;
  }
  EXPECT_LT(saved, 749u);  // stopped: not every sample was predicted

  // Two signals: the second aborts at once (exit 130) and deletes the PNG being
  // written, if any: no .part is left.
  const std::string save2 = path("frames2");
  const pid_t pid2 = start_saving(save2, "000003.png");
  ASSERT_GT(pid2, 0) << "eval never saved a frame";
  ::kill(pid2, SIGINT);
  ::kill(pid2, SIGINT);
  ASSERT_EQ(::waitpid(pid2, &status, 0), pid2);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  for (const auto& e : fs::directory_iterator(save2)) {
    EXPECT_EQ(e.path().extension(), ".png") << e.path();
  }
}

TEST_F(CliTest, OptionsThatWouldBeIgnoredAreRefused) {
  FixtureSpec spec;
  spec.frames = 3;
  const std::string in = path("in.mkv");
  make_fixture(in, spec);
  // --tile has no meaning for a classical scaler, --timeout none for a file, and
  // blend cannot run on a GPU: each is a usage error, not silently dropped.
  RunResult r = run_cli({"upscale", in, "-o", path("a.mkv"), "--model", "lanczos", "--tile", "64"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--tile"), std::string::npos) << r.err;
  r = run_cli({"upscale", in, "-o", path("b.mkv"), "--model", "bicubic", "--timeout", "2"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
  r = run_cli({"interpolate", in, "-o", path("c.mkv"), "--fps", "50", "--model", "blend", "--device", "cuda"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--device"), std::string::npos) << r.err;
  r = run_cli({"eval", "sr", "--ref", in, "--model", "bicubic", "--tile", "32"});
  EXPECT_EQ(r.status, 2);
  // A GPU is chosen by index as cuda:N (it was 'unknown device'); a name that is no
  // device is said to be one.
  r = run_cli({"upscale", in, "-o", path("gpu.mkv"), "--model", "fast", "--device", "cuda:1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.find("unknown device"), std::string::npos) << r.err;
  EXPECT_TRUE(r.err.find("no CUDA support") != std::string::npos || r.err.find("GPU(s) visible") != std::string::npos)
      << r.err;
  r = run_cli({"upscale", in, "-o", path("gpu.mkv"), "--model", "fast", "--device", "cuda:x"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown device 'cuda:x' (cpu, cuda or cuda:N)"), std::string::npos) << r.err;
  // --ensemble averages two network predictions: nothing to average for blend, and
  // extrapolation has no time-reversed twin.
  r = run_cli({"interpolate", in, "-o", path("d.mkv"), "--factor", "2", "--model", "blend", "--ensemble"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--ensemble"), std::string::npos) << r.err;
  r = run_cli({"eval", "extrap", "--ref", in, "--ensemble"});
  EXPECT_EQ(r.status, 2);
  r = run_cli({"extend", in, "-o", path("e.mkv"), "--frames", "2", "--ensemble"});
  EXPECT_EQ(r.status, 2);
  // --quality chooses how the gan finds motion: nothing to choose for blend, and
  // interpolation only; unknown values are named.
  r = run_cli({"interpolate", in, "-o", path("q.mkv"), "--factor", "2", "--model", "blend", "--quality", "best"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--quality"), std::string::npos) << r.err;
  r = run_cli({"interpolate", in, "-o", path("q.mkv"), "--factor", "2", "--quality", "high"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("high"), std::string::npos) << r.err;
  r = run_cli({"eval", "extrap", "--ref", in, "--quality", "best"});
  EXPECT_EQ(r.status, 2);
  r = run_cli({"extend", in, "-o", path("e.mkv"), "--frames", "2", "--quality", "fast"});
  EXPECT_EQ(r.status, 2);
  EXPECT_FALSE(fs::exists(path("q.mkv")));
  // run predicts only when it re-times: without --fps its predictor options would do nothing.
  r = run_cli({"run", in, "-o", path("f.mkv"), "--scale", "2", "--ensemble"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--fps"), std::string::npos) << r.err;
  r = run_cli({"run", in, "-o", path("f.mkv"), "--scale", "2", "--quality", "best"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--quality"), std::string::npos) << r.err;
  r = run_cli({"run", in, "-o", path("g.mkv"), "--scale", "2", "--predictor", "blend"});
  EXPECT_EQ(r.status, 2);
  // run upscales only with --scale 2-4: an upscaler, tiles or a device chosen without
  // it were ignored (the clip was re-encoded as it was, exit 0).
  for (const std::vector<std::string>& extra :
       std::vector<std::vector<std::string>>{{"--model", "quality"},
                                             {"--tile", "64"},
                                             {"--device", "cuda"},
                                             {"--fps", "50", "--predictor", "blend", "--device", "cuda"}}) {
    std::vector<std::string> args = {"run", in, "-o", path("h.mkv")};
    args.insert(args.end(), extra.begin(), extra.end());
    r = run_cli(args);
    EXPECT_EQ(r.status, 2) << extra.front() << ": " << r.err;
    EXPECT_NE(r.err.find(extra[extra.size() - 2]), std::string::npos) << r.err;
  }
  // --precision chooses the networks' arithmetic: blend has none, and run without
  // --fps runs no predictor.
  r = run_cli({"interpolate", in, "-o", path("j.mkv"), "--factor", "2", "--model", "blend", "--precision", "fp32"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--precision"), std::string::npos) << r.err;
  r = run_cli({"run", in, "-o", path("k.mkv"), "--precision", "fp32"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--precision"), std::string::npos) << r.err;
  r = run_cli({"run", in, "-o", path("k.mkv"), "--scale", "2", "--model", "lanczos", "--fps", "50", "--predictor",
               "blend", "--precision", "bf16"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--precision"), std::string::npos) << r.err;
  r = run_cli({"upscale", in, "-o", path("k.mkv"), "--model", "bicubic", "--precision", "fp32"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--precision"), std::string::npos) << r.err;
  r = run_cli({"eval", "interp", "--ref", in, "--model", "repeat", "--precision", "bf16"});
  EXPECT_EQ(r.status, 2);
  r = run_cli({"extend", in, "-o", path("l.mkv"), "--frames", "1", "--precision", "fp16"});
  EXPECT_EQ(r.status, 2);
  // Nothing to do at all: done, but said.
  r = run_cli({"run", in, "-o", path("i.mkv")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("run without --fps, --factor or --scale"), std::string::npos) << r.err;
  ASSERT_TRUE(file_exists(path("i.mkv")));
  fs::remove(path("i.mkv"));
  // run takes --factor as interpolate does (it was refused as an unknown option).
  r = run_cli({"run", in, "-o", path("m.mkv"), "--factor", "2", "--predictor", "blend"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(decode_video(path("m.mkv")).pts_seconds.size(), 6u);
  fs::remove(path("m.mkv"));
  r = run_cli({"run", in, "-o", path("m.mkv"), "--factor", "2", "--fps", "50"});
  EXPECT_EQ(r.status, 2) << r.err;
  expect_no_output_files();
  EXPECT_FALSE(file_exists(path("a.mkv")));
}
