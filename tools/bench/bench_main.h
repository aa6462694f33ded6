// main() of the benchmark programs: -h/--help prints the usage, and a bad argument
// (a missing input) is "error: ..." and exit 1, not an uncaught exception
// ("terminate called").
#pragma once

#include <cstdio>
#include <exception>
#include <string>

namespace framegen::bench {

inline int guarded_main(int argc, char** argv, const char* usage, int (*run)(int, char**)) {
  if (argc > 1 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::printf("%s\n", usage);
    return 0;
  }
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace framegen::bench
