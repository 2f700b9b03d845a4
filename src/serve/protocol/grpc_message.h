// The Open Inference Protocol's gRPC inference messages (serve/protocol/grpc_predict_v2.proto)
// read into and written from the transport-neutral request and response
// (serve/protocol/infer_message.h):
//  - an input's data is in raw_input_contents (every input's, in order, in the binary form) or in
//    its contents field of its datatype (FP16 and BF16 only raw);
//  - parameters map to JSON values (bool, int64, uint64, double, string) and back;
//  - a response's outputs are written as raw_output_contents, as Triton does.
// Everything a client can get wrong is a cpuinfer::Error of one line naming the field or tensor.
#pragma once

#include "grpc_predict_v2.pb.h"
#include "serve/protocol/infer_message.h"

namespace cpuinfer::serve {

InferRequest read_grpc_request(const inference::ModelInferRequest& request, std::size_t max_tensor_bytes);
void write_grpc_response(const InferResponse& response, inference::ModelInferResponse& out);

// The client's side (cpuinfer loadgen): a request with every input in raw_input_contents, and a
// response read back (raw_output_contents, or each output's contents).
void write_grpc_request(const InferRequest& request, const std::string& model, const std::string& version,
                        inference::ModelInferRequest& out);
InferResponse read_grpc_response(const inference::ModelInferResponse& response, std::size_t max_tensor_bytes);

}  // namespace cpuinfer::serve
