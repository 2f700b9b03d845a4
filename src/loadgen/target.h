// What a load is sent to: the engine in this process, or a server speaking the Open Inference
// Protocol over REST or gRPC. A target takes queries (lists of sample indices) without blocking and
// answers each exactly once, from any thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cpuinfer::loadgen {

// A query's end: nullopt when answered right, else one line (a failed request, or outputs that
// disagree with the expected ones).
using QueryDone = std::function<void(std::optional<std::string> error)>;

class Target {
 public:
  virtual ~Target() = default;
  // What the results record about it (kind, address or backend, settings).
  virtual nlohmann::ordered_json description() const = 0;
  // Sends a query of these samples; `check`: compare its answer with the expected outputs.
  virtual void issue(const std::vector<std::size_t>& samples, bool check, QueryDone done) = 0;
  // Answers every query not yet sent on (queued) with an error at once: the run is over.
  virtual void cancel_queued() = 0;
};

}  // namespace cpuinfer::loadgen
