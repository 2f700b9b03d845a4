"""cpuinfer loadgen end to end, on small models made here: the four scenarios in process, scenarios
and both sweeps against `cpuinfer serve` over REST and gRPC, throughput and p50 beside h2load's on
the same endpoint and payload, a wrong answer counted as an error, and bad input refused in one
line. Everything runs on 127.0.0.1, each run bounded by --duration."""
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
import oip_testing as o  # noqa: E402

N = 1024  # the width of the MLP (6 layers): a run of about a millisecond, so that the server, not the clients, sets the pace


def mlp(seed):
    rng = np.random.default_rng(seed)
    nodes, weights, last = [], [], "x"
    for i in range(6):
        weights.append(nh.from_array((rng.standard_normal((N, N)) / np.sqrt(N)).astype(np.float32), f"w{i}"))
        nodes += [h.make_node("MatMul", [last, f"w{i}"], [f"m{i}"]), h.make_node("Relu", [f"m{i}"], [f"r{i}"])]
        last = f"r{i}"
    return h.make_graph(nodes, "mlp", [h.make_tensor_value_info("x", T.FLOAT, ["N", N])],
                        [h.make_tensor_value_info(last, T.FLOAT, ["N", N])], weights)


@pytest.fixture(scope="module")
def files():
    root = tempfile.mkdtemp(prefix="cpuinfer-loadgen-test-")
    repo = os.path.join(root, "repo")
    o.add_model(repo, "mm", o.matmul_relu(), {"backend": "native", "max_batch_size": 4, "max_queue_delay_us": 500})
    # One instance on one core: the other is left to the client and the server's I/O, so that the two
    # clients are compared on what they measure, not on how much of the 2 cores they take from the model.
    o.add_model(repo, "mlp", mlp(1), {"backend": "native", "max_batch_size": 1, "instances": 1})
    paths = {"root": root, "repo": repo, "mm": os.path.join(repo, "mm", "1", "model.onnx"),
             "mlp": os.path.join(repo, "mlp", "1", "model.onnx"), "other_mlp": os.path.join(root, "other_mlp.onnx")}
    o.save(mlp(2), paths["other_mlp"])  # the same model with other weights: its answers differ
    return paths


@pytest.fixture(scope="module")
def server(files):
    s = o.Server(files["repo"])
    yield s
    assert s.stop() == 0


def loadgen(out, *args, status=0):
    """Runs loadgen; returns its rows (from the CSV) and its stderr."""
    run = subprocess.run([o.BINARY, "loadgen", "--out", out, "--quiet", *args], capture_output=True, text=True, timeout=240)
    assert run.returncode == status, run.stderr
    rows = [r for f in glob.glob(os.path.join(out, "*.csv")) for r in csv.DictReader(open(f))]
    return rows, run.stderr


def test_the_four_scenarios_in_process(files):
    for scenario in ("singlestream", "multistream", "offline", "server"):
        out = tempfile.mkdtemp(dir=files["root"])
        rows, _ = loadgen(out, "--scenario", scenario, "--model", files["mm"], "--duration", "1", "--latency-bound", "50",
                          "--search-steps", "3")
        result = rows[-1]
        assert result["kind"] == "result" and result["status"] == "ok", result
        assert result["result"] == {"singlestream": "p90_ms", "multistream": "p99_ms", "offline": "samples_per_s", "server": "qps"}[scenario]
        assert float(result["result_value"]) > 0
        assert result["meets_mlperf_minimums"] == "false"
        assert int(result["errors"]) == 0
        if scenario == "multistream":
            assert result["samples_per_query"] == "8"
        if scenario == "server":
            assert [r["kind"] for r in rows] == ["probe"] * 3 + ["result"]
            assert float(result["p99_ms"]) <= 50
        if scenario == "singlestream" and int(result["queries"]) >= 44:
            assert float(result["early_stopping_p90_ms"]) >= float(result["p90_ms"])
        doc = json.load(open(glob.glob(os.path.join(out, "*.json"))[0]))
        assert doc["target"]["kind"] == "in-process" and doc["target"]["backend"] == "native"
        assert doc["protocol"]["checked"].startswith("one query in 10 against ort")


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_scenarios_and_sweeps_against_the_server(files, server, scheme):
    url = f"{server.url}/v2/models/mm" if scheme == "http" else f"grpc://{server.grpc_target}/mm"
    common = ["--url", url, "--model", files["mm"], "--check-every", "1"]
    rows, _ = loadgen(tempfile.mkdtemp(dir=files["root"]), "--scenario", "singlestream", "--duration", "1", *common)
    assert rows[-1]["status"] == "ok" and int(rows[-1]["queries"]) > 50
    rows, _ = loadgen(tempfile.mkdtemp(dir=files["root"]), "--scenario", "server", "--latency-bound", "20", "--duration", "1",
                      "--search-steps", "2", *common)
    assert rows[-1]["kind"] == "result" and float(rows[-1]["p99_ms"]) <= 20
    rows, _ = loadgen(tempfile.mkdtemp(dir=files["root"]), "--concurrency", "1:3:2", "--duration", "2", "--window", "0.5", *common)
    assert [r["concurrency"] for r in rows] == ["1", "3"] and all(r["status"] in ("ok",) or r["status"].startswith("unstable") for r in rows)
    assert all(int(r["errors"]) == 0 for r in rows)
    rows, _ = loadgen(tempfile.mkdtemp(dir=files["root"]), "--request-rate", "100,200", "--arrivals", "constant", "--duration", "2",
                      "--window", "0.5", *common)
    assert [float(r["offered_rate"]) for r in rows] == [100.0, 200.0]
    for r in rows:
        assert int(r["errors"]) == 0 and r["load"] == "constant"
        assert abs(float(r["qps"]) - float(r["offered_rate"])) < 0.2 * float(r["offered_rate"])


def h2load(url, body, header_length, concurrency, seconds, log):
    with open(os.path.join(os.path.dirname(log), "body.bin"), "wb") as f:
        f.write(body)
    run = subprocess.run(["h2load", "--h1", "-c", str(concurrency), "-m", "1", "-D", str(seconds), "-d", f.name, "--log-file", log,
                          "-H", "Content-Type: application/octet-stream", "-H", f"Inference-Header-Content-Length: {header_length}", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [line.split("\t") for line in open(log) if line.strip()]
    assert {r[1] for r in rows} == {"200"}
    latencies = sorted(int(r[2]) for r in rows)
    return len(rows) / seconds, latencies[len(latencies) // 2] / 1000.0


def test_throughput_and_p50_agree_with_h2load(files, server):
    x = np.zeros((1, N), np.float32)
    header = json.dumps({"inputs": [{"name": "x", "shape": [1, N], "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}}],
                         "parameters": {"binary_data_output": True}}).encode()
    out = tempfile.mkdtemp(dir=files["root"])
    rows, _ = loadgen(out, "--url", f"{server.url}/v2/models/mlp", "--model", files["mlp"], "--concurrency", "4", "--duration", "6",
                      "--window", "2", "--max-windows", "3")
    ours_qps, ours_p50 = float(rows[0]["qps"]), float(rows[0]["p50_ms"])
    theirs_qps, theirs_p50 = h2load(f"{server.url}/v2/models/mlp/infer", header + x.tobytes(), len(header), 4, 6, os.path.join(out, "h2load.log"))
    assert abs(ours_qps / theirs_qps - 1) <= 0.1, (ours_qps, theirs_qps)
    assert abs(ours_p50 / theirs_p50 - 1) <= 0.1, (ours_p50, theirs_p50)


def test_a_wrong_answer_is_an_error_not_a_latency(files, server):
    # The server runs mlp with one set of weights; loadgen expects the outputs of another.
    rows, err = loadgen(tempfile.mkdtemp(dir=files["root"]), "--url", f"{server.url}/v2/models/mlp", "--model", files["other_mlp"],
                        "--scenario", "singlestream", "--duration", "0.5", "--check-every", "1", status=1)
    assert int(rows[-1]["errors"]) > 0 and int(rows[-1]["queries"]) == 0
    assert "disagrees: max_rel_diff" in rows[-1]["status"]
    assert err.strip().splitlines()[-1].startswith("cpuinfer: error: singlestream result: errors:")


def test_bad_input_is_one_line(files, server):
    def error(*args):
        run = subprocess.run([o.BINARY, "loadgen", "--quiet", "--out", tempfile.mkdtemp(dir=files["root"]), "--model", files["mm"], *args],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode != 0
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        return lines[0]

    assert error("--url", "http://127.0.0.1:1/v2/models/mm", "--scenario", "singlestream") == \
        "cpuinfer: error: cannot reach http://127.0.0.1:1/v2: Connection refused"
    assert error("--url", f"{server.url}/v2/models/nope", "--scenario", "singlestream") == \
        f"cpuinfer: error: {server.url}/v2/models/nope: HTTP 404: no model 'nope'"
    assert error("--url", f"grpc://{server.grpc_target}/nope", "--scenario", "singlestream").startswith(
        f"cpuinfer: error: grpc://{server.grpc_target}/nope: ModelMetadata: gRPC 5: no model 'nope'")
    assert error("--url", f"{server.url}/v2/models/mm", "--scenario", "singlestream", "--concurrency", "2") == \
        "cpuinfer: error: --scenario and a sweep (--concurrency, --request-rate) are two kinds of run: give one"
    assert error("--concurrency", "4:1") == "cpuinfer: error: --concurrency '4:1': the end is below the start"
    assert error("--scenario", "server", "--duration", "0.5") == \
        "cpuinfer: error: the Server scenario needs --latency-bound (ms): the p99 its rate must keep"
    assert error("--url", "ftp://x:1/m", "--scenario", "offline").startswith("cpuinfer: error: --url 'ftp://x:1/m': scheme 'ftp'")


def test_the_report_draws_curves_the_search_and_percentiles_over_time(files):
    out = tempfile.mkdtemp(dir=files["root"])
    _, _ = loadgen(out, "--model", files["mm"], "--concurrency", "1,2", "--duration", "1", "--window", "0.25")
    _, _ = loadgen(out, "--model", files["mm"], "--scenario", "server", "--latency-bound", "50", "--duration", "0.5", "--search-steps", "2")
    page = os.path.join(out, "report.html")
    run = subprocess.run([o.BINARY, "report", *sorted(glob.glob(os.path.join(out, "loadgen-*.json"))), "-o", page], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    dom = subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                          f"--user-data-dir={out}/chromium-profile", "--virtual-time-budget=20000", "--dump-dom", "file://" + page],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-charts="4"' in dom and "data-chart-error" not in dom, dom[:2000]
    for chart in ("load-0-search", "load-0-time", "load-1-curve", "load-1-time"):  # files in name order: server, then sweep
        assert f'id="{chart}"' in dom
    assert dom.count('aria-roledescription="line mark"') >= 3 and 'aria-roledescription="rule mark"' in dom
    md = os.path.join(out, "report.md")
    subprocess.run([o.BINARY, "report", *sorted(glob.glob(os.path.join(out, "loadgen-*.json"))), "--format", "md", "-o", md], check=True,
                   capture_output=True)
    text = open(md).read()
    assert "## Load test loadgen-server-" in text and "| point | closed | 2 |" in text


def test_a_kept_alive_connection_the_server_closed_is_sent_again(files):
    """A server that closes each connection after its answer without saying so (as one does when a
    kept-alive connection idles past its timeout, just as the next request goes): the request that
    finds it closed goes again on a new connection, once, and no query fails."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, doc):
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True  # and no "Connection: close" said

        def do_GET(self):
            self.answer({"name": "closer", "version": "0"} if self.path == "/v2" else
                        {"name": "mm", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 8]}]})

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.answer({"model_name": "mm", "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 5], "data": [0] * 5}]})

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rows, _ = loadgen(tempfile.mkdtemp(dir=files["root"]), "--url", f"http://127.0.0.1:{server.server_port}/v2/models/mm",
                          "--model", files["mm"], "--check-every", "0", "--scenario", "singlestream", "--duration", "0.5")
        assert int(rows[-1]["errors"]) == 0 and int(rows[-1]["queries"]) > 10, rows[-1]
    finally:
        server.shutdown()
