// Terminal progress bar with an ETA.
#include "bench/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace cpuinfer {

Progress::Progress(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}

void Progress::start(std::string label, std::size_t total) {
  label_ = std::move(label);
  total_ = total;
  done_ = 0;
  started_ = last_line_ = std::chrono::steady_clock::now();
  draw();
}

void Progress::advance(std::size_t done_now) {
  done_ += done_now;
  draw();
}

void Progress::finish(const std::string& summary) {
  if (!enabled_) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (tty_) std::fputs("\r\033[K", stderr);
  fmt::print(stderr, "{} {}{}({:.1f} s)\n", tty_ ? "✓" : "done:", label_, summary.empty() ? " " : " " + summary + " ",
             seconds);
  std::fflush(stderr);
}

void Progress::draw() {
  if (!enabled_ || total_ == 0) return;
  const double fraction = static_cast<double>(done_) / static_cast<double>(total_);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double eta = done_ > 0 ? elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0.0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    fmt::print(stderr, "\r\033[K{} [{}{}] {}/{} ETA {:.0f} s", label_, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), done_, total_, eta);
  } else {
    // Without a terminal (logs, CI): a line at most every 10 s; finish() prints the last one.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_line_ < std::chrono::seconds(10)) return;
    last_line_ = now;
    fmt::print(stderr, "{}: {}/{}, ETA {:.0f} s\n", label_, done_, total_, eta);
  }
  std::fflush(stderr);
}

}  // namespace cpuinfer
