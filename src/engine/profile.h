// Where a session's time goes: per node, and summed per operator type. Session::run fills a
// Profile; summarize_profile turns it into the tables `cpuinfer profile` prints.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace cpuinfer::engine {

struct NodeTiming {
  std::string name, op_type;
  std::chrono::nanoseconds total{0};
  std::size_t calls = 0;
};

struct Profile {
  std::vector<NodeTiming> nodes;  // in execution order
  std::size_t runs = 0;
};

struct OpTypeTiming {
  std::string op_type;
  std::size_t nodes = 0;
  double ms_per_run = 0;
  double share = 0;  // of the time in all nodes
};

struct NodeShare {
  std::string name, op_type;
  double ms_per_run = 0;
  double share = 0;
};

struct ProfileSummary {
  double node_ms_per_run = 0;         // sum over nodes
  std::vector<OpTypeTiming> op_types;  // slowest first
  std::vector<NodeShare> nodes;        // slowest first, all of them
};

ProfileSummary summarize_profile(const Profile& profile);

}  // namespace cpuinfer::engine
