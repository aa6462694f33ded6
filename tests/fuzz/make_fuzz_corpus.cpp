// Writes the fuzzer's seed corpus: the fixtures the test suites use (tests/support),
// small, in every container and codec combination the tests cover, plus cut-short
// copies. Usage: make_fuzz_corpus DIR
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "support/fixtures.h"

extern "C" {
#include <libavutil/log.h>
}

using framegen::test::FixtureSpec;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_fuzz_corpus DIR\n";
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);
  const fs::path dir = argv[1];
  fs::create_directories(dir);
  struct Seed {
    std::string name;
    FixtureSpec spec;
  };
  auto base = [] {
    FixtureSpec s;
    s.width = 48;
    s.height = 32;
    s.frames = 4;
    return s;
  };
  std::vector<Seed> seeds;
  {
    FixtureSpec s = base();
    s.audio = true;
    s.subtitles = true;
    seeds.push_back({"av_subs.mkv", s});
    seeds.push_back({"av_subs.mp4", s});
  }
  {
    FixtureSpec s = base();
    s.video_codec = "libx264";
    s.pix_fmt = "yuv420p10le";
    seeds.push_back({"deep.mkv", s});
  }
  {
    FixtureSpec s = base();
    s.video_codec = "libx264";
    seeds.push_back({"h264.mp4", s});
    seeds.push_back({"h264.ts", s});
  }
  {
    FixtureSpec s = base();
    s.rotation = 90;
    seeds.push_back({"rot.mp4", s});
  }
  {
    FixtureSpec s = base();
    s.cover_art = true;
    seeds.push_back({"cover.mp4", s});
  }
  {
    FixtureSpec s = base();
    s.attachment = true;
    s.full_range = true;
    s.bt709 = true;
    s.video_codec = "ffv1";
    seeds.push_back({"ffv1_att.mkv", s});
  }
  {
    FixtureSpec s = base();
    s.width = 17;
    s.height = 9;
    s.video_codec = "ffv1";
    seeds.push_back({"odd.mkv", s});
  }
  {
    FixtureSpec s = base();
    s.video_codec = "mjpeg";
    s.pix_fmt = "yuvj420p";
    seeds.push_back({"mjpeg.avi", s});
  }
  for (const auto& s : seeds) {
    const fs::path p = dir / s.name;
    framegen::test::make_fixture(p.string(), s.spec);
    // A cut-short copy of each: the truncation paths.
    const fs::path cut = dir / ("cut_" + s.name);
    fs::copy_file(p, cut, fs::copy_options::overwrite_existing);
    fs::resize_file(cut, fs::file_size(p) * 2 / 3);
  }
  std::cout << seeds.size() * 2 << " seeds in " << dir.string() << "\n";
  return 0;
}
