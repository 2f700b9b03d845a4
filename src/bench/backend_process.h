// One backend's part of a sweep in a process of its own, which owns its thread pool and memory:
// a crash, a hang or an out-of-memory kill there ends that backend's rows, not the sweep.
//
// The two sides talk over two pipes, which the child finds as file descriptors 3 (messages to the
// parent, one JSON object per line) and 4 (one byte back per message). The child waits for that
// byte before it goes on, so that the parent has handled a message (written a result row to disk)
// before the child prints the line that announces it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cpuinfer {

struct ProcessEnd {
  enum class Kind { finished, exited, crashed, timed_out, interrupted };
  Kind kind = Kind::finished;
  int code = 0;  // exited: the exit code; crashed: the signal

  // For a result row: "crashed (signal 11, Segmentation fault)", "timed out after 600 s", ...
  std::string describe(double timeout_s) const;
};

// Parent side: runs argv (argv[0] a path, no shell) and calls on_message for each message, in
// order. timeout_s > 0: a process that sends nothing for that long is killed. A SIGINT or SIGTERM
// to this process (core/interrupt.h, which the caller installs) stops the child and returns
// `interrupted`. Throws cpuinfer::Error if the process cannot start; an exception from on_message
// kills the child and propagates.
ProcessEnd run_backend_process(const std::vector<std::string>& argv, double timeout_s,
                               const std::function<void(const nlohmann::ordered_json&)>& on_message);

// Child side, first: checks that the two pipes are there (throws cpuinfer::Error naming the worker
// flags otherwise: they are for the sweep's own processes) and keeps them from this process's own
// children (an exporter it starts must not hold the parent's pipe open).
void open_parent_channel();

// Child side: sends a message and waits until the parent has handled it. Throws cpuinfer::Error
// if the parent is gone.
void send_to_parent(const nlohmann::ordered_json& message);

}  // namespace cpuinfer
