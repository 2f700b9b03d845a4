"""What the tests of `cpuinfer serve` share: a repository of small models written with onnx.helper
(their answers computable with numpy), the server started on 127.0.0.1 on free ports and stopped
with SIGTERM, its Prometheus metrics read, and the gRPC stubs generated from the server's .proto
with Debian's protoc and grpc_python_plugin. CTest sets CPUINFER_BINARY (tests/CMakeLists.txt)."""
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import onnx
import requests
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "serve", "protocol", "grpc_predict_v2.proto")
BINARY = os.environ.get("CPUINFER_BINARY", "build/cpuinfer")
RNG = np.random.default_rng(11)
W = RNG.standard_normal((8, 5)).astype(np.float32)
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "film", "was", "good", "bad", "##s", "."]
TABLE = RNG.standard_normal((len(VOCAB), 3)).astype(np.float32)


def save(graph, path, opset=13):
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 7
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def add_model(repo, name, graph, config, versions=("1",)):
    for v in versions:
        save(graph, os.path.join(repo, name, v, "model.onnx"))
    with open(os.path.join(repo, name, "config.json"), "w") as f:
        json.dump(config, f)


def matmul_relu():
    return h.make_graph([h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Relu", ["m"], ["y"])], "mm",
                        [h.make_tensor_value_info("x", T.FLOAT, ["N", 8])],
                        [h.make_tensor_value_info("y", T.FLOAT, ["N", 5])], [nh.from_array(W, "w")])


def mixed_types():
    """a INT64 -> a + a; b BOOL -> not b; c FP16 -> c as float32 * 2."""
    two = nh.from_array(np.array(2.0, np.float32), "two")
    return h.make_graph([h.make_node("Add", ["a", "a"], ["a2"]), h.make_node("Not", ["b"], ["nb"]),
                         h.make_node("Cast", ["c"], ["cf"], to=T.FLOAT), h.make_node("Mul", ["cf", "two"], ["c2"])], "mixed",
                        [h.make_tensor_value_info("a", T.INT64, ["N", 3]), h.make_tensor_value_info("b", T.BOOL, ["N", 2]),
                         h.make_tensor_value_info("c", T.FLOAT16, ["N", 2])],
                        [h.make_tensor_value_info("a2", T.INT64, ["N", 3]), h.make_tensor_value_info("nb", T.BOOL, ["N", 2]),
                         h.make_tensor_value_info("c2", T.FLOAT, ["N", 2])], [two])


def text_classifier():
    """Token embeddings, masked, averaged over the sequence: scores [N, 3]."""
    nodes = [h.make_node("Gather", ["table", "input_ids"], ["e"]), h.make_node("Cast", ["attention_mask"], ["m"], to=T.FLOAT),
             h.make_node("Unsqueeze", ["m", "axis"], ["mu"]), h.make_node("Mul", ["e", "mu"], ["em"]),
             h.make_node("ReduceSum", ["em", "one"], ["s"], keepdims=0), h.make_node("ReduceSum", ["m", "one"], ["n"], keepdims=1),
             h.make_node("Div", ["s", "n"], ["scores"]), h.make_node("Cast", ["token_type_ids"], ["unused"], to=T.FLOAT)]
    return h.make_graph(nodes, "text",
                        [h.make_tensor_value_info(n, T.INT64, ["batch", "sequence"]) for n in ("input_ids", "attention_mask", "token_type_ids")],
                        [h.make_tensor_value_info("scores", T.FLOAT, ["batch", 3])],
                        [nh.from_array(TABLE, "table"), nh.from_array(np.array([2], np.int64), "axis"),
                         nh.from_array(np.array([1], np.int64), "one")])


def scale():
    """y = 2x: FP32 answers that are exact on every machine (the golden cases need them)."""
    return h.make_graph([h.make_node("Mul", ["x", "two"], ["y"])], "scale", [h.make_tensor_value_info("x", T.FLOAT, ["N", 4])],
                        [h.make_tensor_value_info("y", T.FLOAT, ["N", 4])], [nh.from_array(np.array(2.0, np.float32), "two")])


def tokens():
    """A text model answering with its token ids (padded) and each text's length: exact, to show
    what the server's tokenizer made of a text."""
    nodes = [h.make_node("Identity", ["input_ids"], ["ids"]),
             h.make_node("ReduceSum", ["attention_mask", "one"], ["length"], keepdims=0)]
    return h.make_graph(nodes, "tokens", [h.make_tensor_value_info(n, T.INT64, ["batch", "sequence"]) for n in ("input_ids", "attention_mask")],
                        [h.make_tensor_value_info("ids", T.INT64, ["batch", "sequence"]), h.make_tensor_value_info("length", T.INT64, ["batch"])],
                        [nh.from_array(np.array([1], np.int64), "one")])


def text_reference(ids):
    return TABLE[ids].mean(axis=0)


class Server:
    def __init__(self, repo, *extra):
        self.process = subprocess.Popen([BINARY, "serve", "--model-repository", repo, "--http-port", "0", "--grpc-port", "0", *extra],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.log = []
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.process.stderr.readline()
            if not line:
                raise RuntimeError("the server exited: " + "".join(self.log))
            self.log.append(line)
            m = re.search(r"event=listening http=127\.0\.0\.1:(\d+) grpc=127\.0\.0\.1:(\d+)", line)
            if m:
                self.url = f"http://127.0.0.1:{m.group(1)}"
                self.grpc_target = f"127.0.0.1:{m.group(2)}"
                self.reader = threading.Thread(target=self._drain, daemon=True)
                self.reader.start()
                return
        raise RuntimeError("the server did not listen within 120 s")

    def _drain(self):
        for line in self.process.stderr:
            self.log.append(line)

    def wait(self):
        """The exit status, once the log is read to its end."""
        status = self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return status

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.wait()


X1 = {"name": "x", "shape": [1, 8], "datatype": "FP32", "data": [0.0] * 8}  # a request's input to mm


def metrics(server):
    """{(name, frozenset(labels)): value} from the Prometheus text at /metrics."""
    r = requests.get(f"{server.url}/metrics", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    out = {}
    for line in r.text.splitlines():
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out



def pending_after(server, model, count, seconds):
    """The queued requests of the model's version 1 once they are `count`, or after `seconds`."""
    key = ("cpuinfer_pending_requests", frozenset({("model", model), ("version", "1")}))
    deadline = time.time() + seconds
    while (n := metrics(server).get(key)) != count and time.time() < deadline:
        time.sleep(0.02)
    return n

def make_repository(root):
    """mm (versions 1 and 2, batching), mm_ort (ONNX Runtime), mixed (INT64, BOOL, FP16), text (BYTES);
    scale and tokens (BYTES) answer exactly, one instance each, for the golden cases (scale without
    batching: a fast model's requests run at once on the thread that read them)."""
    add_model(root, "mm", matmul_relu(), {"backend": "native", "max_batch_size": 4, "max_queue_delay_us": 2000}, versions=("1", "2"))
    add_model(root, "mm_ort", matmul_relu(), {"backend": "ort", "instances": 1})
    add_model(root, "mixed", mixed_types(), {"backend": "native"})
    add_model(root, "text", text_classifier(), {"backend": "native", "text": {"vocab": "vocab.txt"}})
    add_model(root, "scale", scale(), {"backend": "native", "instances": 1, "max_batch_size": 1})  # runs at once
    add_model(root, "tokens", tokens(), {"backend": "native", "instances": 1, "text": {"vocab": "vocab.txt"}})
    for model in ("text", "tokens"):
        with open(os.path.join(root, model, "vocab.txt"), "w") as f:
            f.write("\n".join(VOCAB) + "\n")
    return root


def grpc_modules():
    """(messages, stubs): the Python modules protoc and grpc_python_plugin generate from the .proto."""
    out = tempfile.mkdtemp(prefix="cpuinfer-grpc-stubs-")
    subprocess.run(["protoc", "-I", os.path.dirname(PROTO), f"--python_out={out}", f"--grpc_out={out}",
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", PROTO], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("grpc_predict_v2_pb2"), importlib.import_module("grpc_predict_v2_pb2_grpc")
