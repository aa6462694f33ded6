// A GoogleTest fixture with a fresh temporary directory per test, removed after it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/fixtures.h"

namespace framegen::test {

class TempDirTest : public ::testing::Test {
 protected:
  explicit TempDirTest(std::string tag) : tag_(std::move(tag)) {}
  void SetUp() override { dir_ = make_temp_dir(tag_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  [[nodiscard]] std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string tag_;
  std::string dir_;
};

}  // namespace framegen::test
