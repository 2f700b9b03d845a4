"""`cpuinfer serve` over REST, driven by a client written here from the Open Inference Protocol's
specification (kserve/open-inference-protocol, inference_rest.md) and Triton's binary tensor data
extension, with Debian's python3-requests: health, metadata, inference in JSON and binary (numbers,
BOOL, FP16, BYTES), outputs chosen and returned as binary, batching under concurrent clients with
every answer checked against numpy, and each error with its exact status and body. The server runs
on 127.0.0.1 on a free port, on the repository of small models of oip_testing.py."""
import json
import os
import signal
import struct
import subprocess
import threading
import time

import numpy as np
import pytest
import requests

from oip_testing import BINARY, RNG, W, X1, Server, add_model, matmul_relu, metrics, pending_after, save, text_reference


def infer(server, model, body, **kw):
    return requests.post(f"{server.url}/v2/models/{model}/infer", data=json.dumps(body) if isinstance(body, dict) else body, timeout=60, **kw)


def binary_body(header, blobs):
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}


def split_binary(response):
    n = int(response.headers["Inference-Header-Content-Length"])
    header = json.loads(response.content[:n])
    blobs, at = {}, n
    for o in header["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is not None:
            blobs[o["name"]] = response.content[at:at + size]
            at += size
    assert at == len(response.content)
    return header, blobs


def test_health_server_and_model_metadata(server):
    assert requests.get(f"{server.url}/v2/health/live").json() == {"live": True}
    r = requests.get(f"{server.url}/v2/health/ready")
    assert r.status_code == 200 and r.json() == {"ready": True}
    meta = requests.get(f"{server.url}/v2").json()
    assert meta["name"] == "cpuinfer" and meta["extensions"] == ["binary_tensor_data"]
    m = requests.get(f"{server.url}/v2/models/mm").json()
    assert m["name"] == "mm" and m["versions"] == ["1", "2"] and m["platform"] == "onnx"
    assert m["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 8]}]
    assert m["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 5]}]
    assert requests.get(f"{server.url}/v2/models/mm/versions/1").json()["name"] == "mm"
    assert requests.get(f"{server.url}/v2/models/mm/versions/2/ready").json() == {"name": "mm", "ready": True}
    t = requests.get(f"{server.url}/v2/models/text").json()
    assert t["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]


@pytest.mark.parametrize("model", ["mm", "mm_ort"])
def test_json_inference_equals_numpy(server, model):
    x = RNG.standard_normal((3, 8)).astype(np.float32)
    r = infer(server, model, {"id": "req-1", "inputs": [{"name": "x", "shape": [3, 8], "datatype": "FP32", "data": x.tolist()}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == "req-1" and body["model_name"] == model
    (out,) = body["outputs"]
    assert out["name"] == "y" and out["datatype"] == "FP32" and out["shape"] == [3, 5]
    np.testing.assert_allclose(np.array(out["data"], np.float32).reshape(3, 5), np.maximum(x @ W, 0), rtol=1e-5, atol=1e-5)
    assert {"queue_us", "compute_us", "batch_size"} <= body["parameters"].keys()


def test_binary_inputs_and_outputs(server):
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    b = np.array([[True, False], [False, True]])
    c = np.array([[1.5, -2], [0.25, 8]], np.float16)
    header = {"inputs": [{"name": "a", "shape": [2, 3], "datatype": "INT64", "parameters": {"binary_data_size": a.nbytes}},
                         {"name": "b", "shape": [2, 2], "datatype": "BOOL", "data": b.tolist()},
                         {"name": "c", "shape": [2, 2], "datatype": "FP16", "parameters": {"binary_data_size": c.nbytes}}],
              "outputs": [{"name": "c2"}, {"name": "nb", "parameters": {"binary_data": False}}, {"name": "a2"}],
              "parameters": {"binary_data_output": True}}
    body, headers = binary_body(header, [a.tobytes(), c.tobytes()])
    r = infer(server, "mixed", body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/octet-stream"
    meta, blobs = split_binary(r)
    assert [o["name"] for o in meta["outputs"]] == ["c2", "nb", "a2"]
    np.testing.assert_array_equal(np.frombuffer(blobs["c2"], np.float32).reshape(2, 2), c.astype(np.float32) * 2)
    assert meta["outputs"][1]["data"] == (~b).reshape(-1).tolist()
    np.testing.assert_array_equal(np.frombuffer(blobs["a2"], np.int64).reshape(2, 3), a * 2)
    # FP16 as JSON numbers too.
    r = infer(server, "mixed", {"inputs": [{"name": "a", "shape": [1, 3], "datatype": "INT64", "data": [1, 2, 3]},
                                           {"name": "b", "shape": [1, 2], "datatype": "BOOL", "data": [True, True]},
                                           {"name": "c", "shape": [1, 2], "datatype": "FP16", "data": [0.5, 3]}],
                                "outputs": [{"name": "c2"}]})
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == [1.0, 6.0]


def test_texts_as_bytes_in_json_and_binary(server):
    texts = ["The film was good.", "bad", "films"]
    ids = [[2, 4, 5, 6, 7, 10, 3], [2, 8, 3], [2, 5, 9, 3]]
    r = infer(server, "text", {"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "data": texts}]})
    assert r.status_code == 200, r.text
    scores = np.array(r.json()["outputs"][0]["data"], np.float32).reshape(3, 3)
    for row, i in zip(scores, ids):
        np.testing.assert_allclose(row, text_reference(i), rtol=1e-5, atol=1e-6)
    blob = b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in texts)
    body, headers = binary_body({"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "parameters": {"binary_data_size": len(blob)}}]}, [blob])
    r2 = infer(server, "text", body, headers=headers)
    assert r2.status_code == 200, r2.text
    assert r2.json()["outputs"][0]["data"] == r.json()["outputs"][0]["data"]


def test_concurrent_clients_are_batched_and_every_answer_is_theirs(server):
    errors, batch_sizes = [], []

    def client(k):
        session = requests.Session()  # keep-alive
        for i in range(12):
            x = np.full((1, 8), k + i / 16, np.float32) * np.linspace(-1, 1, 8, dtype=np.float32)
            r = session.post(f"{server.url}/v2/models/mm/infer", timeout=60,
                             data=json.dumps({"id": f"{k}-{i}", "inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": x.ravel().tolist()}]}))
            body = r.json()
            if r.status_code != 200 or body["id"] != f"{k}-{i}":
                errors.append(r.text)
                continue
            y = np.array(body["outputs"][0]["data"], np.float32).reshape(1, 5)
            if not np.allclose(y, np.maximum(x @ W, 0), rtol=1e-5, atol=1e-5):
                errors.append(f"{k}-{i}: wrong answer")
            batch_sizes.append(body["parameters"]["batch_size"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors[:3]
    assert len(batch_sizes) == 96
    assert max(batch_sizes) > 1, "no request was batched with another"


@pytest.mark.parametrize("path, method, body, status, error", [
    ("/v2/models/mm/infer", "post", "{\"inputs\": [", 400, "the request body is not valid JSON"),
    ("/v2/models/mm/infer", "post", {"inputs": []}, 400, "'inputs' must be a non-empty array"),
    ("/v2/models/mm/infer", "post", {"inputs": [dict(X1, datatype="FP64")]}, 400, "input 'x' is FP64, the model takes FP32"),
    ("/v2/models/mm/infer", "post", {"inputs": [dict(X1, shape=[1, 7], data=[0.0] * 7)]}, 400, "input 'x' has shape [1,7], the model takes [-1,8]"),
    ("/v2/models/mm/infer", "post", {"inputs": [X1, dict(X1, name="z")]}, 400, "model 'mm' has no input 'z'"),
    ("/v2/models/mm/infer", "post", {"inputs": [dict(X1, shape=[2, 8])]}, 400, "input 'x': 'data' has 8 elements, its shape 2x8 holds 16"),
    ("/v2/models/mm/infer", "post", {"inputs": [X1], "outputs": [{"name": "q"}]}, 400, "model 'mm' has no output 'q'"),
    ("/v2/models/mm/infer", "post", {"inputs": [X1], "parameters": {"timeout": "soon"}}, 400,
     "parameter 'timeout' must be a positive count of microseconds, not \"soon\""),
    ("/v2/models/mixed/infer", "post", {"inputs": [{"name": "a", "shape": [1, 3], "datatype": "INT64", "data": [1, 2, 3]}]}, 400,
     "input 'b' is missing"),
    ("/v2/models/text/infer", "post", {"inputs": [X1]}, 400, "model 'text' takes one BYTES input 'text' (its texts, one per row)"),
    ("/v2/models/nope/infer", "post", {"inputs": [X1]}, 404, "no model 'nope'"),
    ("/v2/models/mm/versions/9", "get", None, 404, "no version 9 of model 'mm'"),
    ("/v2/models/mm/explain", "get", None, 404, "no route /v2/models/mm/explain"),
    ("/v1/models/mm", "get", None, 404, "no route /v1/models/mm (the protocol's paths begin with /v2)"),
    ("/v2/models/mm/infer", "get", None, 405, "/v2/models/mm/infer takes POST, not GET"),
    ("/v2/health/ready", "post", {}, 405, "/v2/health/ready takes GET, not POST"),
])
def test_each_error_has_its_status_and_body(server, path, method, body, status, error):
    data = json.dumps(body) if isinstance(body, dict) else body
    r = getattr(requests, method)(server.url + path, data=data, timeout=60)
    assert r.status_code == status, r.text
    assert r.json() == {"error": error}


def test_binary_sizes_that_lie_and_an_oversized_body(server):
    header = {"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "parameters": {"binary_data_size": 32}}]}
    body, headers = binary_body(header, [b"\0" * 16])
    r = infer(server, "mm", body, headers=headers)
    assert r.status_code == 400 and r.json() == {"error": "input 'x': binary_data_size 32 exceeds the 16 bytes of binary data left in the body"}
    body, headers = binary_body(header, [b"\0" * 40])
    r = infer(server, "mm", body, headers=headers)
    assert r.status_code == 400 and r.json() == {"error": "the body has 8 bytes after the inputs' binary data"}
    headers["Inference-Header-Content-Length"] = "999999"
    r = infer(server, "mm", body, headers=headers)
    assert r.status_code == 400 and "exceeds the body's" in r.json()["error"]
    r = infer(server, "mm", b"{" + b" " * (2 << 20) + b"}")  # the server runs with --max-body-mb 1
    assert r.status_code == 400 and r.json() == {"error": f"the request body exceeds {1 << 20} bytes"}


def test_a_deadline_that_passes_is_504(server):
    r = infer(server, "mm", {"inputs": [X1], "parameters": {"timeout": 1}})
    assert r.status_code == 504, r.text
    assert "deadline passed" in r.json()["error"]
    r = infer(server, "mm", {"inputs": [X1]}, headers={"Timeout": "60000000"})
    assert r.status_code == 200, r.text


def test_a_bad_repository_is_one_line_before_any_port_opens(repo, tmp_path):
    bad = tmp_path / "repo"
    os.makedirs(bad / "m" / "1")
    save(matmul_relu(), str(bad / "m" / "1" / "model.onnx"))
    (bad / "m" / "config.json").write_text('{"backend": "native", "max_batch": 4}')
    p = subprocess.run([BINARY, "serve", "--model-repository", str(bad), "--http-port", "0"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cpuinfer: error: " + str(bad / "m" / "config.json") + ": unknown field \"max_batch\""), p.stderr
    assert "listening" not in p.stderr


def test_metrics_count_outcomes_batches_and_memory(server):
    x = {"inputs": [X1]}
    before = metrics(server)
    success = ("cpuinfer_requests_total", frozenset({("model", "mm"), ("version", "2"), ("result", "success")}))
    bad = ("cpuinfer_rejections_total", frozenset({("model", "mm"), ("version", "2"), ("reason", "bad_request")}))
    deadline = ("cpuinfer_rejections_total", frozenset({("model", "mm"), ("version", "2"), ("reason", "deadline")}))
    assert infer(server, "mm", x).status_code == 200
    assert infer(server, "mm", {"inputs": [dict(X1, datatype="INT8")]}).status_code == 400
    assert infer(server, "mm", "not json").status_code == 400
    assert infer(server, "mm", dict(x, parameters={"timeout": 1})).status_code == 504
    after = metrics(server)
    assert after[success] == before.get(success, 0) + 1
    assert after[bad] == before.get(bad, 0) + 2
    assert after[deadline] == before.get(deadline, 0) + 1
    labels = frozenset({("model", "mm"), ("version", "2")})
    assert after[("cpuinfer_batch_size_count", labels)] >= 1
    assert after[("cpuinfer_request_duration_seconds_count", labels)] >= 4
    assert after[("cpuinfer_compute_duration_seconds_count", labels)] >= 1
    assert after[("cpuinfer_pending_requests", labels)] == 0
    assert after[("process_resident_memory_bytes", frozenset())] > 10e6


def test_sigterm_answers_every_queued_request_then_exits_0(tmp_path):
    root = str(tmp_path / "repo")
    # A long batching delay keeps the requests queued when SIGTERM arrives.
    add_model(root, "mm", matmul_relu(), {"backend": "native", "max_batch_size": 64, "max_queue_delay_us": 2000000})
    s = Server(root)
    results = []

    def client(k):
        x = np.full((1, 8), k, np.float32)
        r = infer(s, "mm", {"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": x.ravel().tolist()}]})
        results.append((r.status_code, k, r.json()))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    [t.start() for t in threads]
    pending_after(s, "mm", 8, 30)
    s.process.send_signal(signal.SIGTERM)
    [t.join() for t in threads]
    assert s.wait() == 0
    assert sorted(k for status, k, _ in results if status == 200) == list(range(8)), results
    for _, k, body in results:
        np.testing.assert_allclose(np.array(body["outputs"][0]["data"], np.float32), np.maximum(np.full(8, k, np.float32) @ W, 0), rtol=1e-5)
    assert any("event=draining signal=SIGTERM" in line for line in s.log)


def test_a_client_that_leaves_takes_its_request_out_of_the_queue(tmp_path):
    import socket
    root = str(tmp_path / "repo")
    add_model(root, "mm", matmul_relu(), {"backend": "native", "max_batch_size": 64, "max_queue_delay_us": 10000000})
    s = Server(root)
    try:
        body = json.dumps({"inputs": [X1]}).encode()
        port = int(s.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"POST /v2/models/mm/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            assert pending_after(s, "mm", 1, 30) == 1
        # Closed: the request leaves at once, not when its 10 s batching delay ends.
        assert pending_after(s, "mm", 0, 5) == 0
    finally:
        assert s.stop() == 0


def test_hostile_requests_are_answered_and_the_server_stays_up(server):
    import socket
    port = int(server.url.rsplit(":", 1)[1])
    # Invalid UTF-8 in the path, quoted in the error.
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"GET /v2/\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := c.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 404"), reply[:100]
    # JSON nested 100,000 deep: copying or printing it would overflow the stack.
    deep = '{"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": ' + "[" * 100000 + "]" * 100000 + "}]}"
    r = infer(server, "mm", deep)
    assert r.status_code == 400 and r.json() == {"error": "the request's JSON nests deeper than 64 levels"}
    # A shape that claims a gibibyte with no data behind it is refused before any memory is taken.
    r = infer(server, "mixed", {"inputs": [{"name": "b", "shape": [1 << 30], "datatype": "BOOL", "data": []}]})
    assert r.status_code == 400 and "'data' has 0 elements" in r.json()["error"]
    r = infer(server, "mm", {"inputs": [X1]}, headers={"Timeout": str(2 ** 62)})
    assert r.status_code == 200, r.text
    assert requests.get(f"{server.url}/v2/health/live").status_code == 200


def test_a_client_expecting_100_continue_is_told_to_go_on(server):
    """curl asks before sending a body over 1 MiB (here forced): without the interim 100 it waits
    a second first. A body over --max-body-mb is refused on its header, before it is sent."""
    body = json.dumps({"inputs": [X1]})
    start = time.time()
    p = subprocess.run(["curl", "-sS", "-H", "Expect: 100-continue", "--expect100-timeout", "5", "-d", body,
                        f"{server.url}/v2/models/mm/infer"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and json.loads(p.stdout)["outputs"][0]["shape"] == [1, 5], p.stdout + p.stderr
    assert time.time() - start < 2
    big = "{" + " " * (3 << 20) + "}"  # the fixture's server takes 1 MiB
    start = time.time()
    p = subprocess.run(["curl", "-sS", "-H", "Expect: 100-continue", "--expect100-timeout", "5", "--data-binary", "@-", "-w", "\n%{http_code}",
                        f"{server.url}/v2/models/mm/infer"], input=big, capture_output=True, text=True, timeout=60)
    assert p.stdout.splitlines()[-1] == "400" and json.loads(p.stdout.splitlines()[0]) == {"error": f"the request body exceeds {1 << 20} bytes"}
    assert time.time() - start < 2
