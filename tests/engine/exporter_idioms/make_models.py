#!/usr/bin/env python3
"""The idioms of exporters other than PyTorch's (paddle2onnx, tf2onnx, keras2onnx, none of which is
installable here), written with onnx.helper as those exporters write them, one small model each.

    make_models.py OUT_DIR

writes OUT_DIR/<idiom>/model.onnx and input_0.pb (seeded inputs), the layout the graph fuzzer's
--replay reads: CTest's ExporterIdioms.<isa> runs every model on the native engine in each
configuration against ONNX Runtime at each ISA level the CPU has. Weights are seeded random values.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(20261207)


def weights(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


class Graph:
    """Nodes, initializers and Constant nodes of one model; a constant is an initializer or a
    Constant node, as the exporter at hand writes it."""

    def __init__(self, opset, constants_as_nodes=False):
        self.opset, self.nodes, self.inits, self.as_nodes, self.count = opset, [], [], constants_as_nodes, 0

    def name(self, stem):
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, value, dtype=np.float32):
        value = np.asarray(value, dtype=dtype)
        name = self.name("c")
        if self.as_nodes:
            self.nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name)))
        else:
            self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k=3, group=1, stride=1, pad=1):
        w = self.const(weights(cout, cin // group, k, k))
        b = self.const(weights(cout, scale=0.1))
        return self.op("Conv", [x, w, b], kernel_shape=[k, k], pads=[pad] * 4, strides=[stride] * 2, group=group)

    def clip(self, x, lo, hi):
        if self.opset < 11:
            return self.op("Clip", [x], min=float(lo), max=float(hi))
        return self.op("Clip", [x, self.const(lo), self.const(hi)])

    def model(self, x_shape, out):
        graph = helper.make_graph(self.nodes, "idiom",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                                  [helper.make_value_info(out, helper.make_tensor_type_proto(TensorProto.FLOAT, None))], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="cpuinfer exporter idioms")
        m.ir_version = 7 if self.opset <= 15 else 8
        m = onnx.shape_inference.infer_shapes(m)  # the output's shape, as exporters write it
        onnx.checker.check_model(m, full_check=True)
        return m


def scale_shift(g, x, c, per_tensor, const_first):
    """BatchNormalization folded into Mul and Add: per channel ([C,1,1]) or one value ([] or [1])."""
    s = g.const(np.float32(1.38) if per_tensor == "rank0" else [1.38] if per_tensor == "rank1"
                else RNG.uniform(0.5, 1.5, (c, 1, 1)))
    t = g.const(np.float32(0.586) if per_tensor == "rank0" else [0.586] if per_tensor == "rank1"
                else RNG.uniform(-0.5, 0.5, (c, 1, 1)))
    m = g.op("Mul", [s, x] if const_first else [x, s])
    return g.op("Add", [t, m] if const_first else [m, t])


def hardswish(g, x, form):
    """x * Clip(x + 3, 0, 6) / 6 in the orders and forms exporters write it."""
    shifted = g.op("Add", [g.const(3.0), x]) if form == "constant_first" else g.op("Add", [x, g.const(3.0)])
    clipped = g.clip(shifted, 0.0, 6.0)
    if form == "times_sixth":
        return g.op("Mul", [g.op("Mul", [x, clipped]), g.const(1.0 / 6.0)])
    if form == "constant_first":
        return g.op("Mul", [g.op("Div", [clipped, g.const(6.0)]), x])
    return g.op("Div", [g.op("Mul", [x, clipped]), g.const(6.0)])


def activation(g, x, kind):
    if kind == "hardsigmoid":  # Clip(x / 6 + 0.5, 0, 1), as keras2onnx writes relu6(x + 3) / 6
        return g.clip(g.op("Add", [g.op("Mul", [x, g.const(1.0 / 6.0)]), g.const(0.5)]), 0.0, 1.0)
    if kind == "silu":
        return g.op("Mul", [g.op("Sigmoid", [x]), x])
    if kind == "gelu_erf":  # x * 0.5 * (1 + erf(x / sqrt 2))
        e = g.op("Erf", [g.op("Div", [x, g.const(np.sqrt(2.0))])])
        return g.op("Mul", [g.op("Mul", [x, g.const(0.5)]), g.op("Add", [g.const(1.0), e])])
    if kind == "gelu_tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Pow", [x, g.const(3.0)])
        inner = g.op("Mul", [g.const(np.sqrt(2.0 / np.pi)), g.op("Add", [x, g.op("Mul", [g.const(0.044715), cube])])])
        return g.op("Mul", [g.op("Mul", [g.const(0.5), x]), g.op("Add", [g.op("Tanh", [inner]), g.const(1.0)])])
    if kind == "mish":
        return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])])
    if kind == "relu6":
        return g.clip(x, 0.0, 6.0)
    return hardswish(g, x, kind)


def conv_block_model(opset, c, per_tensor, const_first, act, as_nodes=False, depthwise=True):
    """The issue's repro and its kin: Conv, BN as scale/shift, an activation."""
    g = Graph(opset, as_nodes)
    y = g.conv("x", c, c, group=c if depthwise else 1)
    y = scale_shift(g, y, c, per_tensor, const_first)
    y = activation(g, y, act)
    return g.model([1, c, 24, 40], y)


def binary_const_first(opset, op):
    """A constant on the left of each binary operator, rank 0 to 3, after a convolution."""
    g = Graph(opset)
    y = g.conv("x", 8, 8)
    y = g.op(op, [g.const(np.float32(0.7)), y])
    y = g.op(op, [g.const([1.3]), y])
    y = g.op(op, [g.const(RNG.uniform(0.5, 1.5, (8, 1, 1))), y])
    y = g.op(op, [g.const(RNG.uniform(0.5, 1.5, (1, 8, 1, 1))), y])
    return g.model([2, 8, 11, 13], y)


def opset9_upsample_slice_clip():
    """tf2onnx at opset 9: Upsample with a scales input, Slice with attributes, Clip with attributes."""
    g = Graph(9)
    y = g.conv("x", 4, 8)
    y = g.clip(y, -1.0, 1.5)
    y = g.op("Upsample", [y, g.const([1.0, 1.0, 2.0, 2.0])], mode="nearest")
    y = g.op("Slice", [y], starts=[1, 2], ends=[7, 1000], axes=[1, 3])
    return g.model([1, 4, 9, 10], g.conv(y, 6, 4))


def resize(opset, by, mode, coordinates):
    """Resize by scales or by sizes (FPN upsampling), then the lateral Add."""
    g = Graph(opset)
    low = g.conv("x", 8, 8, stride=2)
    empty = g.const(np.zeros(0, np.float32))
    if by == "scales":
        inputs = [low, empty, g.const([1.0, 1.0, 2.0, 2.0])]
    else:
        inputs = [low, empty, g.const(np.zeros(0, np.float32)), g.const(np.array([1, 8, 20, 30], np.int64), np.int64)]
    attrs = {"mode": mode, "coordinate_transformation_mode": coordinates}
    if mode == "nearest":
        attrs["nearest_mode"] = "floor" if coordinates == "asymmetric" else "round_prefer_floor"
    up = g.op("Resize", inputs, **attrs)
    return g.model([1, 8, 20, 30], g.op("Add", [g.conv("x", 8, 8, k=1, pad=0), up]))


def conv_transpose(opset, k, stride, pad, output_padding, group=1):
    """ConvTranspose upsampling as paddle2onnx writes DB-style detection heads."""
    g = Graph(opset)
    y = g.conv("x", 8, 8)
    w = g.const(weights(8, 8 // group, k, k))
    b = g.const(weights(8 // group * group, scale=0.1))
    y = g.op("ConvTranspose", [y, w, b], kernel_shape=[k, k], strides=[stride] * 2, pads=[pad] * 4,
             output_padding=[output_padding] * 2, group=group)
    return g.model([1, 8, 10, 15], g.op("Sigmoid", [y]))


def models():
    m = {}
    for shape in ("rank0", "rank1", "per_channel"):
        for first in (False, True):
            for dw in (True, False):
                m[f"scale_shift_{shape}_{'const_first' if first else 'const_second'}_{'depthwise' if dw else 'dense'}"] = \
                    conv_block_model(11, 16, shape, first, "relu6", depthwise=dw)
    for form in ("div_six", "times_sixth", "constant_first"):
        m[f"hardswish_{form}_opset11"] = conv_block_model(11, 16, "rank1", False, form)
    m["hardswish_div_six_opset9_clip_attributes"] = conv_block_model(9, 16, "per_channel", False, "div_six")
    m["hardswish_constant_nodes"] = conv_block_model(11, 16, "rank0", True, "constant_first", as_nodes=True)
    for act in ("hardsigmoid", "silu", "gelu_erf", "gelu_tanh", "mish"):
        m[f"{act}_decomposed"] = conv_block_model(13, 16, "per_channel", False, act, depthwise=False)
    for op in ("Add", "Mul", "Sub", "Div"):
        m[f"{op.lower()}_constant_first"] = binary_const_first(13, op)
    m["opset9_upsample_slice_clip"] = opset9_upsample_slice_clip()
    for opset in (11, 13):
        m[f"resize_scales_nearest_asymmetric_opset{opset}"] = resize(opset, "scales", "nearest", "asymmetric")
        m[f"resize_sizes_linear_half_pixel_opset{opset}"] = resize(opset, "sizes", "linear", "half_pixel")
    m["resize_scales_linear_align_corners"] = resize(13, "scales", "linear", "align_corners")
    m["resize_sizes_nearest_pytorch_half_pixel"] = resize(13, "sizes", "nearest", "pytorch_half_pixel")
    m["conv_transpose_k2_s2"] = conv_transpose(11, 2, 2, 0, 0)
    m["conv_transpose_k3_s2_output_padding1"] = conv_transpose(11, 3, 2, 1, 1)
    m["conv_transpose_k4_s2_p1"] = conv_transpose(11, 4, 2, 1, 0)
    m["conv_transpose_grouped_output_padding1"] = conv_transpose(13, 3, 2, 1, 1, group=2)
    return m


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_models.py OUT_DIR")
    every = models()
    for name, model in every.items():
        folder = os.path.join(sys.argv[1], name)
        os.makedirs(folder, exist_ok=True)
        onnx.save(model, os.path.join(folder, "model.onnx"))
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
        x = RNG.standard_normal(dims).astype(np.float32)
        with open(os.path.join(folder, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, "x").SerializeToString())
    print(f"{len(every)} exporter-idiom models in {sys.argv[1]}")


if __name__ == "__main__":
    main()
