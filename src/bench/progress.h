// A progress bar on stderr for long work: redrawn in place on a terminal, a few plain lines
// otherwise (logs, CI), so that output meant for programs (stdout, files) stays clean.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

namespace cpuinfer {

class Progress {
 public:
  explicit Progress(bool enabled = true);
  // To `out`, drawn in place if `terminal` (tests).
  Progress(std::FILE* out, bool terminal);
  void start(std::string label, std::size_t total);
  void advance(std::size_t done_now = 1);
  // A new estimate of the total (more passes than the first).
  void resize(std::size_t total);
  void finish(const std::string& summary = "");

 private:
  void draw();

  bool enabled_;
  std::FILE* out_;
  bool tty_;
  std::string label_;
  std::size_t total_ = 0, done_ = 0;
  std::chrono::steady_clock::time_point started_, last_line_;
};

}  // namespace cpuinfer
