"""`cpuinfer serve` under load, overload and faults, on 127.0.0.1 only, every loop bounded in count
and time (docs/serve.md, "Load and faults"):
  - under load from REST and gRPC clients at once, no answer is lost or wrong: every output equals
    numpy's for its own input;
  - at twice the rate the server sustains (hey, open loop), the excess is refused quickly with 503
    and Retry-After, and every accepted request is answered within its deadline;
  - clients killed while their requests are queued leave no queue entry behind;
  - a soak (CPUINFER_SOAK_SECONDS, 120 by default) grows the server's RSS by at most 5%.
The malformed, wrong-shape, wrong-datatype, oversized and lying-size requests are golden cases
(test_conformance_curl.py, test_rest_protocol.py)."""
import csv
import io
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import grpc
import numpy as np
import pytest
import requests
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from oip_testing import W, Server, add_model, grpc_modules, matmul_relu, pending_after

pb, pb_grpc = grpc_modules()
SOAK_SECONDS = float(os.environ.get("CPUINFER_SOAK_SECONDS", "120"))


def slow_model():
    """48 products by one 512x512 matrix, each with tanh: milliseconds a row (not a model that runs
    at once on the reading thread), in a file of 1 MB."""
    rng = np.random.default_rng(5)
    nodes, last = [], "x"
    for k in range(48):
        nodes += [h.make_node("MatMul", [last, "w"], [f"m{k}"]), h.make_node("Tanh", [f"m{k}"], [f"t{k}"])]
        last = f"t{k}"
    nodes.append(h.make_node("Identity", [last], ["y"]))
    w = nh.from_array((rng.standard_normal((512, 512)) / 16).astype(np.float32), "w")
    return h.make_graph(nodes, "slow", [h.make_tensor_value_info("x", T.FLOAT, ["N", 512])],
                        [h.make_tensor_value_info("y", T.FLOAT, ["N", 512])], [w])


@pytest.fixture(scope="module")
def load_server():
    root = tempfile.mkdtemp(prefix="cpuinfer-load-test-")
    add_model(root, "mm", matmul_relu(), {"backend": "native", "max_batch_size": 8, "max_queue_delay_us": 500, "max_queue_size": 256})
    # No batching: requests that find it idle run at once on the server's reading threads, the
    # others on its instances' threads.
    add_model(root, "mm1", matmul_relu(), {"backend": "native", "max_batch_size": 1, "max_queue_size": 256})
    add_model(root, "slow", slow_model(), {"backend": "native", "max_batch_size": 1, "max_queue_size": 4})
    add_model(root, "held", matmul_relu(), {"backend": "native", "max_batch_size": 64, "max_queue_delay_us": 10000000})
    add_model(root, "two_queued", matmul_relu(), {"backend": "native", "max_batch_size": 64, "max_queue_delay_us": 10000000, "max_queue_size": 2})
    s = Server(root)
    yield s
    assert s.stop() == 0


def binary_request(x):
    head = json.dumps({"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}}],
                       "parameters": {"binary_data_output": True}}).encode()
    return head + x.tobytes(), {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}


def test_under_load_no_answer_is_lost_or_wrong(load_server):
    s = load_server
    sent, answered, wrong = [0], [0], []
    lock = threading.Lock()
    stop_at = time.time() + 8

    def check(k, x, y):
        if y.shape != (x.shape[0], 5) or not np.allclose(y, np.maximum(x @ W, 0), rtol=1e-5, atol=1e-5):
            wrong.append(k)

    def rest_client(seed):
        rng, session = np.random.default_rng(seed), requests.Session()
        for i in range(400):
            if time.time() > stop_at:
                break
            x = rng.standard_normal((int(rng.integers(1, 4)), 8)).astype(np.float32)
            body, headers = binary_request(x)
            with lock:
                sent[0] += 1
            r = session.post(f"{s.url}/v2/models/{'mm1' if i % 2 else 'mm'}/infer", data=body, headers=headers, timeout=60)
            if r.status_code != 200:
                wrong.append(f"REST {r.status_code} {r.text[:80]}")
                continue
            n = int(r.headers["Inference-Header-Content-Length"])
            check(f"REST {seed}-{i}", x, np.frombuffer(r.content[n:], np.float32).reshape(-1, 5))
            with lock:
                answered[0] += 1

    def grpc_client(seed):
        rng = np.random.default_rng(seed)
        with grpc.insecure_channel(s.grpc_target) as channel:
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            for i in range(400):
                if time.time() > stop_at:
                    break
                x = rng.standard_normal((int(rng.integers(1, 4)), 8)).astype(np.float32)
                with lock:
                    sent[0] += 1
                r = stub.ModelInfer(pb.ModelInferRequest(model_name="mm1" if i % 2 else "mm", inputs=[
                    pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=list(x.shape))], raw_input_contents=[x.tobytes()]),
                    timeout=60)
                check(f"gRPC {seed}-{i}", x, np.frombuffer(r.raw_output_contents[0], np.float32).reshape(-1, 5))
                with lock:
                    answered[0] += 1

    threads = [threading.Thread(target=rest_client, args=(k,)) for k in range(6)]
    threads += [threading.Thread(target=grpc_client, args=(100 + k,)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not wrong, wrong[:5]
    assert answered[0] == sent[0] and sent[0] > 100


def hey(url, body, *args):
    """hey's requests as (status, seconds) rows (its CSV)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        f.write(body)
    p = subprocess.run(["hey", *args, "-m", "POST", "-T", "application/json", "-D", f.name, "-o", "csv", url],
                       capture_output=True, text=True, timeout=120)
    os.unlink(f.name)
    assert p.returncode == 0, p.stderr
    return [(int(r["status-code"]), float(r["response-time"])) for r in csv.DictReader(io.StringIO(p.stdout))]


def test_twice_the_sustainable_rate_is_refused_quickly_and_accepted_requests_meet_their_deadline(load_server):
    s = load_server
    url = f"{s.url}/v2/models/slow/infer"
    x = [0.01] * 512
    plain = json.dumps({"inputs": [{"name": "x", "shape": [1, 512], "datatype": "FP32", "data": x}]}).encode()
    # The sustainable rate: closed loop, as many clients as instances.
    rows = hey(url, plain, "-z", "3s", "-c", "2")
    assert rows and all(status == 200 for status, _ in rows)
    rate = len(rows) / 3
    # Twice that, open loop (hey's -q is per client), each request with a 300 ms deadline.
    deadline_s = 0.3
    timed = json.dumps({"inputs": [{"name": "x", "shape": [1, 512], "datatype": "FP32", "data": x}],
                        "parameters": {"timeout": int(deadline_s * 1e6)}}).encode()
    clients = 16
    rows = hey(url, timed, "-z", "5s", "-c", str(clients), "-q", f"{2 * rate / clients:.2f}")
    statuses = {status for status, _ in rows}
    assert statuses <= {200, 503, 504}, statuses
    ok = sorted(t for status, t in rows if status == 200)
    refused = sorted(t for status, t in rows if status == 503)
    assert ok and refused, f"{len(ok)} answered, {len(refused)} refused of {len(rows)} at {2 * rate:.0f}/s"
    # Refusals are quick: the 95th percentile within 50 ms (an answer takes a run of the model).
    assert refused[int(0.95 * (len(refused) - 1))] < 0.05, refused[-5:]
    # Accepted requests meet their deadline (plus the run started just before it and the wire).
    assert ok[-1] < deadline_s + 0.2, ok[-5:]
    r = requests.post(url, data=plain, timeout=60)
    assert r.status_code == 200


def test_a_full_queue_says_when_to_retry_and_deadlines_hold_while_queued(load_server):
    s = load_server
    x = {"name": "x", "shape": [1, 8], "datatype": "FP32", "data": [0.0] * 8}
    results = []

    def queued():  # held by the 10 s batching delay until its 1 s deadline
        start = time.time()
        r = requests.post(f"{s.url}/v2/models/two_queued/infer", json={"inputs": [x], "parameters": {"timeout": 1000000}}, timeout=60)
        results.append((r, time.time() - start))

    threads = [threading.Thread(target=queued) for _ in range(2)]
    [t.start() for t in threads]
    pending_after(s, "two_queued", 2, 30)
    start = time.time()
    r = requests.post(f"{s.url}/v2/models/two_queued/infer", json={"inputs": [x]}, timeout=60)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
    assert r.json() == {"error": "model 'two_queued': its queue is full (2 requests)"}
    assert time.time() - start < 0.5
    [t.join() for t in threads]
    for r, seconds in results:  # failed by the queue's timer at the deadline, not when the delay ends
        assert r.status_code == 504 and 0.9 < seconds < 3, (r.status_code, seconds)


def test_killed_clients_leave_no_queue_entry(load_server):
    s = load_server
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": [0.0] * 8}]})
    clients = [subprocess.Popen(["curl", "-s", "-X", "POST", "--max-time", "60", "-d", body, f"{s.url}/v2/models/held/infer"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(6)]
    try:
        assert pending_after(s, "held", 6, 30) == 6
    finally:
        for c in clients:
            c.send_signal(signal.SIGKILL)
            c.wait()
    assert pending_after(s, "held", 0, 5) == 0, "killed clients' requests stayed queued"


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def test_soak_grows_rss_by_at_most_5_percent(load_server):
    s = load_server
    x = np.random.default_rng(3).standard_normal((2, 8)).astype(np.float32)
    body, headers = binary_request(x)
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(body)
    warm_up = min(15.0, SOAK_SECONDS / 4)
    load = subprocess.Popen(["hey", "-z", f"{SOAK_SECONDS:.0f}s", "-c", "6", "-m", "POST", "-T", "application/octet-stream",
                             "-H", f"Inference-Header-Content-Length: {headers['Inference-Header-Content-Length']}", "-D", f.name, f"{s.url}/v2/models/mm/infer"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(warm_up)
    start = rss_bytes(s.process.pid)
    peak = start
    while load.poll() is None:
        peak = max(peak, rss_bytes(s.process.pid))
        time.sleep(1)
    out, err = load.communicate()
    os.unlink(f.name)
    end = rss_bytes(s.process.pid)
    assert load.returncode == 0, err
    assert "[200]" in out and not any(f"[{code}]" in out for code in (400, 500, 503, 504)), out[-600:]
    assert end <= start * 1.05, f"RSS {start / 1e6:.1f} MB after {warm_up:.0f} s of load, {end / 1e6:.1f} MB after {SOAK_SECONDS:.0f} s (peak {peak / 1e6:.1f})"
