// Running a helper program (the export tooling) and collecting its exit status and output.
#pragma once

#include <string>
#include <vector>

namespace cpuinfer {

struct ProcessResult {
  int exit_code = -1;  // -1 if it could not start or was killed by a signal
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (a path, no shell) with argv; blocks until it ends.
ProcessResult run_process(const std::vector<std::string>& argv);

}  // namespace cpuinfer
