// Profile aggregation.
#include "engine/profile.h"

#include <algorithm>
#include <map>

namespace cpuinfer::engine {

ProfileSummary summarize_profile(const Profile& profile) {
  ProfileSummary s;
  const double runs = static_cast<double>(std::max<std::size_t>(profile.runs, 1));
  std::map<std::string, OpTypeTiming> by_type;
  for (const NodeTiming& n : profile.nodes) {
    const double ms = std::chrono::duration<double, std::milli>(n.total).count() / runs;
    s.node_ms_per_run += ms;
    s.nodes.push_back({n.name, n.op_type, ms, 0});
    OpTypeTiming& t = by_type[n.op_type];
    t.op_type = n.op_type;
    ++t.nodes;
    t.ms_per_run += ms;
  }
  for (auto& [type, t] : by_type) s.op_types.push_back(t);
  const double total = s.node_ms_per_run > 0 ? s.node_ms_per_run : 1;
  for (auto& t : s.op_types) t.share = t.ms_per_run / total;
  for (auto& n : s.nodes) n.share = n.ms_per_run / total;
  std::stable_sort(s.op_types.begin(), s.op_types.end(), [](const auto& a, const auto& b) { return a.ms_per_run > b.ms_per_run; });
  std::stable_sort(s.nodes.begin(), s.nodes.end(), [](const auto& a, const auto& b) { return a.ms_per_run > b.ms_per_run; });
  return s;
}

}  // namespace cpuinfer::engine
