// Terminal progress bar with an ETA.
#include "bench/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace cpuinfer {

Progress::Progress(bool enabled) : enabled_(enabled), out_(stderr), tty_(isatty(STDERR_FILENO) != 0) {}

Progress::Progress(std::FILE* out, bool terminal) : enabled_(true), out_(out), tty_(terminal) {}

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

void Progress::resize(std::size_t total) {
  total_ = std::max(total, done_);
  draw();
}

void Progress::finish(const std::string& summary) {
  if (!enabled_) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (tty_) std::fputs("\r\033[K", out_);
  fmt::print(out_, "{} {}{}({:.1f} s)\n", tty_ ? "✓" : "done:", label_, summary.empty() ? " " : " " + summary + " ",
             seconds);
  std::fflush(out_);
}

void Progress::draw() {
  if (!enabled_ || total_ == 0) return;
  const double fraction = static_cast<double>(done_) / static_cast<double>(total_);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  // Unknown until a first step is done.
  const std::string eta = done_ > 0 ? fmt::format("{:.0f} s", elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_))
                                    : std::string("?");
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    fmt::print(out_, "\r\033[K{} [{}{}] {}/{} ETA {}", label_, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), done_, total_, eta);
  } else {
    // Without a terminal (logs, CI): a line at most every 10 s; finish() prints the last one.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_line_ < std::chrono::seconds(10)) return;
    last_line_ = now;
    fmt::print(out_, "{}: {}/{}, ETA {}\n", label_, done_, total_, eta);
  }
  std::fflush(out_);
}

}  // namespace cpuinfer
