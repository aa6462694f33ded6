# Warnings and sanitizers as interface targets; strict (-Werror) only when asked
# (the CI preset) and only for our own targets.
option(FRAMEGEN_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
set(FRAMEGEN_SANITIZERS "" CACHE STRING "Semicolon list: address;undefined or thread")

add_library(framegen_warnings INTERFACE)
target_compile_options(framegen_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
  -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2
  # GCC 12 false positive in std::string concatenation (GCC PR 105651).
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
if(FRAMEGEN_WARNINGS_AS_ERRORS)
  target_compile_options(framegen_warnings INTERFACE -Werror)
endif()

# Sanitizers apply to every target of the build (libraries, tests, tools alike).
if(FRAMEGEN_SANITIZERS)
  list(JOIN FRAMEGEN_SANITIZERS "," _fg_san)
  add_compile_options(-fsanitize=${_fg_san} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${_fg_san})
  if("undefined" IN_LIST FRAMEGEN_SANITIZERS)
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()

# libFuzzer build: every target instrumented for coverage; the fuzz target itself
# links the libFuzzer main (tests/fuzz/CMakeLists.txt).
if(FRAMEGEN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FRAMEGEN_FUZZ needs clang (use the fuzz preset)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
