// The Open Inference Protocol's REST endpoints (KServe v2, with the binary tensor data extension)
// over an InferenceServer's models:
//   GET  /v2/health/live                          200 while the process serves
//   GET  /v2/health/ready                         200 once every model has loaded and run a
//                                                 warm-up inference, 503 before and while draining
//   GET  /v2                                      name, version, extensions
//   GET  /v2/models/<m>[/versions/<v>]            inputs and outputs (datatype, shape; -1 open)
//   GET  /v2/models/<m>[/versions/<v>]/ready      200 or 503
//   POST /v2/models/<m>[/versions/<v>]/infer      an inference (serve/protocol/infer_message.h)
//   GET  /metrics                                 Prometheus text (serve/metrics/server_metrics.h)
// Errors are {"error": "..."}: 400 bad request, 404 no such model or route, 405 wrong method,
// 503 not ready or queue full (with Retry-After), 504 deadline, 500 internal. A request's deadline
// is its parameters.timeout or its Timeout header, in microseconds (the model's
// default_timeout_ms otherwise). Responses carry queue_us, compute_us and batch_size parameters.
#pragma once

#include "serve/http/http_server.h"
#include "serve/metrics/server_metrics.h"

namespace cpuinfer::serve {

class InferenceServer;

// The binary tensor extension's header: the JSON's length, the binary tensors after it. The HTTP
// server puts them on a 64-byte boundary (HttpLimits::aligned_after_header).
inline constexpr char kJsonLengthHeader[] = "inference-header-content-length";

// The HTTP status of a request's outcome.
int http_status(Outcome outcome);

// The handler answering every route above from `server` (which outlives it).
HttpHandler rest_handler(InferenceServer& server);

}  // namespace cpuinfer::serve
