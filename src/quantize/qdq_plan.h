// Which nodes static (QDQ) quantization covers. Conv (2-D, constant weight), Gemm and MatMul with a
// constant 2-D weight, Add of two activations of the same shape, MaxPool, AveragePool and
// GlobalAveragePool take int8 inputs: their float32 activation inputs and outputs get a
// QuantizeLinear + DequantizeLinear pair (qdq_writer.h), their weights int8 per output channel,
// Conv's and Gemm's biases int32.
//
// Planning has two steps around calibration: the graph alone says which nodes qualify and which
// tensors to observe; what calibration saw (element types, shapes) then drops the nodes whose
// inputs turn out not to be float32, or an Add whose inputs broadcast.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quantize/calibration.h"
#include "quantize/graph_index.h"

namespace cpuinfer::quant {

struct QdqOp {
  int node = -1;                         // in the graph the plan was made of
  std::vector<std::string> data_inputs;  // activations quantized before the node
  std::string output;                    // quantized after it (unless it is a graph output)
  int weight_input = -1;                 // the constant weight's input (Conv, Gemm, MatMul: 1)
  std::size_t weight_axis = 0;           // its output channels: Conv, Gemm transB=1: 0; Gemm transB=0, MatMul: 1
  int bias_input = -1;                   // a constant 1-D bias stored as int32 (Conv, Gemm: 2)
  bool folds_relu = false;               // Conv, Add: a Relu that alone reads the output is folded into its range
};

struct QdqPlan {
  std::vector<QdqOp> ops;
  std::vector<std::string> skipped;  // "MatMul 'x': weight is not a constant"
};

QdqPlan plan_qdq(const GraphIndex& index);

// The tensors calibration must observe: the ops' data inputs and outputs, and the output of a Relu
// that alone reads a Conv's or Add's output.
std::vector<std::string> tensors_to_calibrate(const GraphIndex& index, const QdqPlan& plan);

// Drops the ops an input of which is not float32 or is a graph output (never quantized), and the
// Adds whose inputs differed in shape on some batch; each gets a line in plan.skipped.
void keep_calibrated_ops(QdqPlan& plan, const GraphIndex& index, const std::map<std::string, ObservedTensor>& observed);

}  // namespace cpuinfer::quant
