# Every dependency comes from Debian 12 packages (tools/setup-deps.sh installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET
  libavformat libavcodec libavutil libswscale libavfilter)
find_package(spdlog REQUIRED)
find_package(Threads REQUIRED)
find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()
find_package(nlohmann_json 3 REQUIRED)
if(FRAMEGEN_FUZZ)
  return()  # the fuzz build needs libav and spdlog only
endif()
# LibTorch (Debian's libtorch-dev, CPU build with oneDNN). Found at the top so its
# imported targets are visible to models/, tools/, plugins/ and tests/.
find_package(Torch REQUIRED)
pkg_check_modules(GST REQUIRED IMPORTED_TARGET gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0)
pkg_check_modules(GST_CHECK IMPORTED_TARGET gstreamer-check-1.0)
