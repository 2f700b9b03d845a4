"""`import cpuinfer` (src/python/cpuinfer_module.cpp): onnxruntime's call shape, results against numpy
references on small graphs written here with onnx.helper, one-line errors, and one session shared by
many Python threads. CTest runs it with PYTHONPATH set to the build's module (tests/CMakeLists.txt)."""
import os
import tempfile
import threading

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import cpuinfer

RNG = np.random.default_rng(7)


def save(graph, opset=13):
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 7
    folder = tempfile.mkdtemp(prefix="cpuinfer-python-test-")
    path = os.path.join(folder, "model.onnx")
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def matmul_relu():
    w = RNG.standard_normal((8, 5)).astype(np.float32)
    graph = h.make_graph([h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Relu", ["m"], ["y"])], "g",
                         [h.make_tensor_value_info("x", T.FLOAT, ["N", 8])],
                         [h.make_tensor_value_info("y", T.FLOAT, ["N", 5])], [nh.from_array(w, "w")])
    return save(graph), w


def test_inputs_and_outputs_as_onnxruntime_describes_them(matmul_relu):
    s = cpuinfer.InferenceSession(matmul_relu[0])
    (i,), (o,) = s.get_inputs(), s.get_outputs()
    assert (i.name, i.shape, i.type) == ("x", ["N", 8], "tensor(float)")
    assert (o.name, o.shape, o.type) == ("y", ["N", 5], "tensor(float)")


def test_matmul_relu_equals_numpy_at_several_batch_sizes(matmul_relu):
    path, w = matmul_relu
    s = cpuinfer.InferenceSession(path, threads=1)
    for batch in (1, 3, 17):
        x = RNG.standard_normal((batch, 8)).astype(np.float32)
        (y,) = s.run(None, {"x": x})
        np.testing.assert_allclose(y, np.maximum(x @ w, 0), rtol=1e-5, atol=1e-6)
        assert y.dtype == np.float32 and not y.flags.writeable


def test_outputs_by_name_and_a_non_contiguous_input():
    graph = h.make_graph([h.make_node("Add", ["a", "b"], ["sum"]), h.make_node("Mul", ["a", "b"], ["product"]),
                          h.make_node("Softmax", ["sum"], ["soft"], axis=-1)], "g",
                         [h.make_tensor_value_info("a", T.FLOAT, [2, 3, 4]), h.make_tensor_value_info("b", T.FLOAT, [4])],
                         [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("sum", "product", "soft")])
    s = cpuinfer.InferenceSession(save(graph))
    a = RNG.standard_normal((2, 4, 3)).astype(np.float32).transpose(0, 2, 1)  # not C-contiguous
    b = RNG.standard_normal(4).astype(np.float32)
    soft, product = s.run(["soft", "product"], {"b": b, "a": a})
    e = np.exp((a + b) - (a + b).max(-1, keepdims=True))
    np.testing.assert_allclose(soft, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(product, a * b)


def test_integer_inputs_and_outputs():
    graph = h.make_graph([h.make_node("Gather", ["table", "ids"], ["rows"], axis=0),
                          h.make_node("ArgMax", ["rows"], ["best"], axis=1, keepdims=0)], "g",
                         [h.make_tensor_value_info("ids", T.INT64, ["N"])],
                         [h.make_tensor_value_info("best", T.INT64, ["N"])],
                         [nh.from_array(RNG.standard_normal((10, 6)).astype(np.float32), "table")])
    s = cpuinfer.InferenceSession(save(graph))
    ids = np.array([3, 0, 9, 3], dtype=np.int64)
    (best,) = s.run(None, {"ids": ids})
    table = nh.to_array(graph.initializer[0])
    np.testing.assert_array_equal(best, table[ids].argmax(1))
    assert best.dtype == np.int64


@pytest.mark.parametrize("feed, words", [
    (lambda x: {"x": x.astype(np.float64)}, "float32"),
    (lambda x: {"x": x[0]}, "shape"),
    (lambda x: {"nope": x}, "nope"),
    (lambda x: {}, "missing"),
    (lambda x: {"x": [[1.0] * 8]}, "numpy array"),
    (lambda x: {"x": x.astype(np.complex64)}, "complex64"),
])
def test_bad_input_is_one_short_line(matmul_relu, feed, words):
    s = cpuinfer.InferenceSession(matmul_relu[0])
    with pytest.raises((cpuinfer.Error, TypeError)) as e:
        s.run(None, feed(RNG.standard_normal((2, 8)).astype(np.float32)))
    message = str(e.value)
    assert "\n" not in message and len(message) < 300 and words in message, message


def test_a_bad_model_file_and_a_bad_precision_are_errors(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not ONNX")
    with pytest.raises(cpuinfer.Error, match="broken.onnx"):
        cpuinfer.InferenceSession(str(bad))
    with pytest.raises(ValueError, match="precision"):
        cpuinfer.InferenceSession(str(bad), precision="fp8")


def test_the_size_limit_refuses_a_larger_input_naming_it(matmul_relu):
    path, w = matmul_relu
    s = cpuinfer.InferenceSession(path, threads=1, max_tensor_bytes=4096)
    small = RNG.standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_allclose(s.run(None, {"x": small})[0], np.maximum(small @ w, 0), rtol=1e-5, atol=1e-5)
    with pytest.raises(cpuinfer.Error, match="input 'x'.*more than 4096 bytes"):
        s.run(None, {"x": np.zeros((200, 8), np.float32)})


def test_many_threads_on_one_session_give_the_serial_results(matmul_relu):
    path, _ = matmul_relu
    s = cpuinfer.InferenceSession(path, threads=1)
    xs = [RNG.standard_normal((b, 8)).astype(np.float32) for b in (1, 2, 5, 9)]
    expected = [s.run(None, {"x": x})[0] for x in xs]
    failures = []

    def work(k):
        for r in range(50):
            i = (k + r) % len(xs)
            if not np.array_equal(s.run(None, {"x": xs[i]})[0], expected[i]):
                failures.append((k, r))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_results_are_bit_identical_to_the_cpp_engine(matmul_relu, tmp_path):
    """The same model and input through `cpuinfer run` (the C++ API) and through Python."""
    binary = os.environ.get("CPUINFER_BINARY")
    if not binary:
        pytest.skip("CPUINFER_BINARY is not set (CTest sets it)")
    import subprocess
    path, _ = matmul_relu
    x = RNG.standard_normal((4, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    subprocess.run([binary, "run", "--model", path, "--input", f"x={tmp_path / 'x.npy'}", "--threads", "1",
                    "--out", str(tmp_path / "out")], check=True, capture_output=True)
    (y,) = cpuinfer.InferenceSession(path, threads=1).run(None, {"x": x})
    assert np.array_equal(np.load(tmp_path / "out" / "y.npy"), y)
