"""`cpuinfer serve`'s gRPC service through a second, independent client: Node's @grpc/grpc-js (its own
HTTP/2) with @grpc/proto-loader reading the server's .proto (tests/serve/node/oip_grpc_client.js;
scripts/setup.sh installs both from npm into .deps/node). The calls are made by Node, their answers
checked here against numpy."""
import base64
import json
import os
import struct
import subprocess

import numpy as np
import pytest

from oip_testing import PROTO, RNG, W, text_reference

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = os.path.join(HERE, "..", "..", ".deps", "node", "node_modules")


def node(server, calls):
    if not os.path.isdir(os.path.join(MODULES, "@grpc", "grpc-js")):
        pytest.fail(f"{MODULES}: @grpc/grpc-js is not installed (scripts/setup.sh installs it)")
    p = subprocess.run(["node", os.path.join(HERE, "node", "oip_grpc_client.js"), server.grpc_target, PROTO],
                       input=json.dumps(calls), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, NODE_PATH=MODULES))
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def b64(data):
    return base64.b64encode(data).decode()


def output(response, name, dtype):
    for k, o in enumerate(response["outputs"]):
        if o["name"] == name:
            return np.frombuffer(base64.b64decode(response["raw_output_contents"][k]), dtype).reshape([int(d) for d in o["shape"]])
    raise KeyError(name)


def test_every_call_through_node(server):
    x = RNG.standard_normal((2, 8)).astype(np.float32)
    c = np.array([[1.5, -2]], np.float16)
    texts = ["The film was good.", "bad"]
    calls = [
        {"call": "ServerLive"}, {"call": "ServerReady"}, {"call": "ServerMetadata"},
        {"call": "ModelReady", "request": {"name": "mm"}},
        {"call": "ModelMetadata", "request": {"name": "mm", "version": "1"}},
        {"call": "ModelInfer", "request": {"model_name": "mm", "id": "n1", "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [2, 8], "contents": {"fp32_contents": x.ravel().tolist()}}]}},
        {"call": "ModelInfer", "request": {"model_name": "mm_ort", "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 8]}],
                                           "raw_input_contents": [b64(x.tobytes())]}},
        {"call": "ModelInfer", "request": {"model_name": "mixed", "inputs": [
            {"name": "a", "datatype": "INT64", "shape": [1, 3]}, {"name": "b", "datatype": "BOOL", "shape": [1, 2]},
            {"name": "c", "datatype": "FP16", "shape": [1, 2]}],
            "raw_input_contents": [b64(np.array([[7, -8, 9]], np.int64).tobytes()), b64(bytes([1, 0])), b64(c.tobytes())]}},
        {"call": "ModelInfer", "request": {"model_name": "text", "inputs": [{"name": "text", "datatype": "BYTES", "shape": [2]}],
                                           "raw_input_contents": [b64(b"".join(struct.pack("<I", len(t)) + t.encode() for t in texts))]}},
        {"call": "ModelInfer", "request": {"model_name": "nope", "inputs": []}},
        {"call": "ModelInfer", "request": {"model_name": "mm", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 8]}],
                                           "raw_input_contents": [b64(b"\0" * 4)]}},
        {"call": "ModelInfer", "timeout_ms": 1000, "request": {"model_name": "mm", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 8]}],
                                                               "parameters": {"timeout": {"int64_param": "1"}},
                                                               "raw_input_contents": [b64(b"\0" * 32)]}},
    ]
    r = node(server, calls)
    assert [c["ok"] for c in r] == [True] * 9 + [False] * 3
    assert r[0]["response"] == {"live": True} and r[1]["response"] == {"ready": True}
    assert r[2]["response"]["name"] == "cpuinfer" and r[3]["response"] == {"ready": True}
    meta = r[4]["response"]
    assert meta["versions"] == ["1", "2"] and meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": ["-1", "8"]}]
    for k in (5, 6):
        np.testing.assert_allclose(output(r[k]["response"], "y", np.float32), np.maximum(x @ W, 0), rtol=1e-5, atol=1e-5)
    assert r[5]["response"]["id"] == "n1"
    assert set(r[5]["response"]["parameters"]) == {"queue_us", "compute_us", "batch_size"}
    np.testing.assert_array_equal(output(r[7]["response"], "a2", np.int64), [[14, -16, 18]])
    np.testing.assert_array_equal(output(r[7]["response"], "nb", np.bool_), [[False, True]])
    np.testing.assert_array_equal(output(r[7]["response"], "c2", np.float32), c.astype(np.float32) * 2)
    scores = output(r[8]["response"], "scores", np.float32)
    np.testing.assert_allclose(scores[0], text_reference([2, 4, 5, 6, 7, 10, 3]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores[1], text_reference([2, 8, 3]), rtol=1e-5, atol=1e-6)
    assert r[9] == {"ok": False, "code": "NOT_FOUND", "details": "no model 'nope'"}
    assert r[10] == {"ok": False, "code": "INVALID_ARGUMENT",
                     "details": "input 'x': its 4 bytes of binary data are not the 32 bytes of 8 FP32 elements"}
    assert r[11] == {"ok": False, "code": "DEADLINE_EXCEEDED", "details": "the request's deadline passed before it was queued"}
