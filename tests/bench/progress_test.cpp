// The progress bar: no made-up ETA before the first step, an estimate after it.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "bench/progress.h"

namespace cpuinfer {
namespace {

std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string text;
  for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
  return text;
}

TEST(Progress, EtaIsUnknownUntilTheFirstStep) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress progress(f, /*terminal=*/true);
  progress.start("resnet101 ort batch 8", 48);
  std::string text = contents(f);
  EXPECT_NE(text.find("0/48 ETA ?"), std::string::npos) << text;  // it used to say "ETA 0 s"
  EXPECT_EQ(text.find("ETA 0 s"), std::string::npos) << text;
  std::fseek(f, 0, SEEK_END);
  progress.advance(8);
  text = contents(f);
  EXPECT_NE(text.find("8/48 ETA "), std::string::npos) << text;
  EXPECT_EQ(text.find("8/48 ETA ?"), std::string::npos) << text;
  std::fseek(f, 0, SEEK_END);
  progress.resize(96);  // more passes than the first
  progress.finish("34.1 ms/batch mean");
  text = contents(f);
  EXPECT_NE(text.find("8/96"), std::string::npos) << text;
  EXPECT_NE(text.find("✓ resnet101 ort batch 8 34.1 ms/batch mean ("), std::string::npos) << text;
  std::fclose(f);
}

}  // namespace
}  // namespace cpuinfer
