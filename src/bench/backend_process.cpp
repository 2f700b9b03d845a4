// fork + exec with two pipes, poll with a deadline, and the child's end of the protocol.
#include "bench/backend_process.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"

namespace cpuinfer {

namespace {

constexpr int kMessageFd = 3;  // child -> parent
constexpr int kAckFd = 4;      // parent -> child

void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("backend process: the other side of the pipe is gone");
    done += static_cast<std::size_t>(n);
  }
}

// Ends the child: SIGTERM, then SIGKILL if it is still there after a grace period; reaps it.
void stop_child(pid_t pid) {
  kill(pid, SIGTERM);
  for (int i = 0; i < 40; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::string ProcessEnd::describe(double timeout_s) const {
  switch (kind) {
    case Kind::finished: return "finished";
    case Kind::exited: return fmt::format("backend process exited with code {}", code);
    case Kind::crashed:
      return code == SIGKILL ? fmt::format("killed (signal {}, {}: the out-of-memory killer sends it)", code, strsignal(code))
                             : fmt::format("crashed (signal {}, {})", code, strsignal(code));
    case Kind::timed_out: return fmt::format("timed out after {:g} s without finishing a row (--timeout)", timeout_s);
    case Kind::interrupted: return "interrupted";
  }
  return "";
}

// SIGPIPE ignored while it lives: a child that dies closes its pipes, and writing to them must
// fail (EPIPE), not kill this process.
class IgnoredSigpipe {
 public:
  IgnoredSigpipe() : previous_(signal(SIGPIPE, SIG_IGN)) {}
  ~IgnoredSigpipe() { signal(SIGPIPE, previous_); }
  IgnoredSigpipe(const IgnoredSigpipe&) = delete;
  IgnoredSigpipe& operator=(const IgnoredSigpipe&) = delete;

 private:
  sighandler_t previous_;
};

ProcessEnd run_backend_process(const std::vector<std::string>& argv, double timeout_s,
                               const std::function<void(const nlohmann::ordered_json&)>& on_message) {
  if (argv.empty()) fail("run_backend_process: empty command");
  const IgnoredSigpipe ignored_sigpipe;
  int messages[2], acks[2];
  if (pipe2(messages, O_CLOEXEC) != 0 || pipe2(acks, O_CLOEXEC) != 0)
    fail("cannot create pipes for a backend process: {}", strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) fail("cannot start a backend process: {}", strerror(errno));
  if (pid == 0) {
    // Copies above 4 first, so that neither dup2 overwrites the other's source; dup2 clears
    // close-on-exec on its copy, the others close at exec.
    const int to_parent = fcntl(messages[1], F_DUPFD_CLOEXEC, 10), from_parent = fcntl(acks[0], F_DUPFD_CLOEXEC, 10);
    if (to_parent < 0 || from_parent < 0 || dup2(to_parent, kMessageFd) < 0 || dup2(from_parent, kAckFd) < 0) _exit(127);
    signal(SIGPIPE, SIG_DFL);  // the child's own: not inherited from our SIG_IGN
    execv(args[0], args.data());
    // Only async-signal-safe calls between fork and exec: other threads may hold malloc's lock.
    static const char why[] = "cpuinfer: error: cannot start a backend process (execv failed)\n";
    (void)!write(STDERR_FILENO, why, sizeof why - 1);
    _exit(127);
  }
  close(messages[1]);
  close(acks[0]);
  const int in = messages[0], out = acks[1];
  const auto finish = [&](ProcessEnd end) {
    close(in);
    close(out);
    return end;
  };

  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  std::string pending;
  char buffer[65536];
  for (;;) {
    if (interrupt_signal() != 0) {
      stop_child(pid);
      return finish({ProcessEnd::Kind::interrupted, interrupt_signal()});
    }
    int wait_ms = 1000;
    if (timeout_s > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        return finish({ProcessEnd::Kind::timed_out, 0});
      }
      wait_ms = static_cast<int>(std::min<long long>(left, wait_ms));
    }
    pollfd p{in, POLLIN, 0};
    const int ready = poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = read(in, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: it is ending
    pending.append(buffer, static_cast<std::size_t>(n));
    for (std::size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      try {
        on_message(nlohmann::ordered_json::parse(line));
      } catch (...) {
        stop_child(pid);
        finish({});
        throw;
      }
      // A child that died after its message cannot take the ack; waitpid below says how it ended.
      ssize_t acked = 0;
      while ((acked = write(out, "k", 1)) < 0 && errno == EINTR) {
      }
      if (acked != 1) break;
      deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail("backend process: waitpid: {}", strerror(errno));
  }
  if (interrupt_signal() != 0) return finish({ProcessEnd::Kind::interrupted, interrupt_signal()});
  if (WIFSIGNALED(status)) return finish({ProcessEnd::Kind::crashed, WTERMSIG(status)});
  if (WEXITSTATUS(status) != 0) return finish({ProcessEnd::Kind::exited, WEXITSTATUS(status)});
  return finish({ProcessEnd::Kind::finished, 0});
}

void open_parent_channel() {
  for (const int fd : {kMessageFd, kAckFd})
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
      fail("the --worker-* flags are for the processes a sweep starts itself (file descriptor {} is not open)", fd);
}

void send_to_parent(const nlohmann::ordered_json& message) {
  write_all(kMessageFd, message.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
  char ack = 0;
  for (;;) {
    const ssize_t n = read(kAckFd, &ack, 1);
    if (n == 1) return;
    if (n < 0 && errno == EINTR) continue;
    fail("backend process: the sweep that started it is gone");
  }
}

}  // namespace cpuinfer
