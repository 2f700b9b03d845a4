#!/usr/bin/python3
"""The serve issue's speed figures, the native engine beside ONNX Runtime behind the same server in
the same run (one `cpuinfer serve` on 127.0.0.1 serving both; each figure measured alone):

  - ResNet-101 f32 at saturation over binary REST (hey, 8 connections, 20 s, one image a request)
    over `cpuinfer bench`'s offline throughput at batch 8 (the study's protocol);
  - at 70% of that saturation, p99 latency over the single-request latency (one client, one
    request at a time); the load is open loop (hey's rate limit sends its connections' requests
    together, in bursts), with Poisson arrivals (seeded) as MLPerf's server scenario sends them,
    beside what queueing alone costs at that load (an M/D/c queue, simulated), and evenly spaced;
  - BERT on review-length texts (IMDB's word-count distribution, sentences concatenated as bench's
    --text-lengths imdb does), one text a request from 32 clients for 20 s (queues that fill
    every batch): texts/s with token
    packing over the same server's native engine on padded batches (config pack_tokens false);
  - serving overhead: a tiny model's (MatMul [1, 8] x [8, 5], Relu; no batching delay) p50 latency
    over REST and over gRPC, one request at a time (h2load's per-request log), beside the floor of
    the machine's loopback and client: calls that run no model (GET /v2/health/ready, ServerLive).

Every model runs the server's defaults (instances x 1 thread = the cores; max_batch_size 8,
max_queue_delay_us 1000) but the tiny model (max_batch_size 1). The study's models carry seeded
random weights (scripts/setup.sh exports them). Usage: benchmarks/serve_goals.py [BUILD_DIR]
[--quick]. It prints one line per figure with the machine's ISA path and the thread counts, and a
JSON document of every figure as its last line."""
import csv
import glob
import json
import math
import os
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import requests

from study_repository import add, study_repository

args = [a for a in sys.argv[1:] if not a.startswith("--")]
QUICK = "--quick" in sys.argv
build = os.path.abspath(args[0] if args else "build")
binary = os.path.join(build, "cpuinfer")
repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cache = os.environ.get("CPUINFER_CACHE", os.path.join(repo_root, ".cache"))
SECONDS = 5 if QUICK else 20


def tiny_model(path):
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h
    from onnx import numpy_helper as nh
    w = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    g = h.make_graph([h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Relu", ["m"], ["y"])], "tiny",
                     [h.make_tensor_value_info("x", T.FLOAT, ["N", 8])], [h.make_tensor_value_info("y", T.FLOAT, ["N", 5])],
                     [nh.from_array(w, "w")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, path)


def repository():
    """The study's models on both engines (study_repository.py), BERT also on padded batches, and the tiny model."""
    root = study_repository(tempfile.mkdtemp(prefix="cpuinfer-serve-goals-"))
    bert = os.path.join(cache, "models", "bert-random-seed0")
    add(root, "bert_padded", os.path.join(bert, "model.onnx"), {"backend": "native", "pack_tokens": False, "text": {"vocab": os.path.join(bert, "vocab.txt")}})
    for name, backend in (("tiny", "native"), ("tiny_ort", "ort")):
        os.makedirs(os.path.join(root, name, "1"))
        tiny_model(os.path.join(root, name, "1", "model.onnx"))
        with open(os.path.join(root, name, "config.json"), "w") as f:
            json.dump({"backend": backend, "max_batch_size": 1}, f)
    return root


class Server:
    def __init__(self, repo):
        self.process = subprocess.Popen([binary, "serve", "--model-repository", repo, "--http-port", "0", "--grpc-port", "0"],
                                        stderr=subprocess.PIPE, text=True)
        self.log = []
        for line in self.process.stderr:
            self.log.append(line)
            m = re.search(r"http=127\.0\.0\.1:(\d+) grpc=127\.0\.0\.1:(\d+)", line)
            if m:
                self.url, self.grpc = f"http://127.0.0.1:{m.group(1)}", f"http://127.0.0.1:{m.group(2)}"
                threading.Thread(target=lambda: [self.log.append(x) for x in self.process.stderr], daemon=True).start()
                return
        sys.exit("the server exited: " + "".join(self.log[-3:]))

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


def binary_body(name, x):
    head = json.dumps({"inputs": [{"name": name, "shape": list(x.shape), "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}}],
                       "parameters": {"binary_data_output": True}}).encode()
    return head + x.tobytes(), len(head)


def hey(url, body_file, header_length, *options):
    out = subprocess.run(["hey", *options, "-m", "POST", "-T", "application/octet-stream", "-H", f"Inference-Header-Content-Length: {header_length}",
                          "-D", body_file, "-o", "csv", url], capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(out.splitlines()))
    bad = [r["status-code"] for r in rows if r["status-code"] != "200"]
    if bad:
        sys.exit(f"hey {url}: {len(bad)} answers were not 200: {sorted(set(bad))}")
    return sorted(float(r["response-time"]) for r in rows), rows


def open_loop(url, body, headers, rate, seconds, poisson, seed=7):
    """Sorted latencies of requests sent at `rate` a second for `seconds`, at Poisson arrivals or
    evenly spaced, each on its own (open loop: a slow answer does not delay the next request)."""
    rng = random.Random(seed)
    gap = (lambda: rng.expovariate(rate)) if poisson else (lambda: 1 / rate)
    arrivals, t = [], gap()
    while t < seconds:
        arrivals.append(t)
        t += gap()
    latencies, lock = [], threading.Lock()

    def send():  # a connection of its own (a connect is ~0.1 ms beside the model's run)
        start = time.perf_counter()
        r = requests.post(url, data=body, headers=headers, timeout=120)
        took = time.perf_counter() - start
        if r.status_code != 200:
            sys.exit(f"{url}: {r.status_code} {r.text[:200]}")
        with lock:
            latencies.append(took)

    threads, begin = [], time.perf_counter()
    for at in arrivals:
        time.sleep(max(0.0, begin + at - time.perf_counter()))
        threads.append(threading.Thread(target=send))
        threads[-1].start()
    [t.join() for t in threads]
    return sorted(latencies)


def queueing_p99(rate, service_s, servers, n=200000, seed=1):
    """p99 time in system over the service time of an M/D/c queue (Poisson arrivals, a constant
    service time, c servers taking one request at a time, first come first served), simulated: what
    queueing alone costs at this load, whatever the server."""
    rng = random.Random(seed)
    free = [0.0] * servers
    t, times = 0.0, []
    for _ in range(n):
        t += rng.expovariate(rate)
        k = min(range(servers), key=free.__getitem__)
        free[k] = max(free[k], t) + service_s
        times.append(free[k] - t)
    times.sort()
    return times[int(0.99 * n)] / service_s


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(math.ceil(q * len(sorted_values))) - 1)]


def offline_resnet():
    out = tempfile.mkdtemp(prefix="cpuinfer-serve-goals-bench-")
    subprocess.run([binary, "bench", "--workload", "resnet101", "--backends", "native,ort", "--batch-sizes", "8", "--samples", "16",
                    "--out", out], check=True, capture_output=True, text=True)
    rows = [r for f in glob.glob(os.path.join(out, "*.csv")) if not f.endswith("-runs.csv") for r in csv.DictReader(open(f))]
    return {r["name"]: float(r["samples_per_s"]) for r in rows if r["status"] == "ok"}


def review_texts(count, seed=0):
    """Sentences of one class concatenated to word counts from a log-normal with IMDB's median 174
    and mean 230 (as bench's --text-lengths imdb)."""
    with open(os.path.join(cache, "data", "text", "imdb-sentences.json")) as f:
        sentences = json.load(f)
    by_class = {}
    for s in sentences:
        by_class.setdefault(s["class"], []).append(s["text"].strip())
    rng = random.Random(seed)
    sigma = math.sqrt(2 * math.log(230 / 174))
    texts = []
    for i in range(count):
        pool = by_class[sorted(by_class)[i % len(by_class)]]
        target = max(5, int(rng.lognormvariate(math.log(174), sigma)))
        words = []
        while len(words) < target:
            words += rng.choice(pool).split()
        texts.append(" ".join(words[:target]))
    return texts


def text_throughput(url, texts, clients, seconds):
    done, stop_at = [0], time.time() + seconds

    def client(k):
        session = requests.Session()
        i = k
        while time.time() < stop_at:
            t = texts[i % len(texts)]
            r = session.post(url, json={"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [t]}]}, timeout=120)
            if r.status_code != 200:
                sys.exit(f"{url}: {r.status_code} {r.text[:200]}")
            done[0] += 1
            i += clients

    start = time.time()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return done[0] / (time.time() - start)


def h2load_p50(url, body, headers, h1, method_get=False):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(body)
    log = f.name + ".log"
    n = 2000 if QUICK else 10000
    command = ["h2load", "-n", str(n), "-c", "1", "-m", "1", "--log-file", log] + ([] if method_get else ["-d", f.name])
    for k, v in headers.items():
        command += ["-H", f"{k}: {v}"]
    subprocess.run(command + (["--h1"] if h1 else []) + [url], check=True, capture_output=True, text=True)
    rows = [line.split("\t") for line in open(log) if line.strip()]
    os.unlink(f.name)
    os.unlink(log)
    statuses = {r[1] for r in rows}
    if statuses != {"200"}:
        sys.exit(f"h2load {url}: statuses {statuses}")
    durations = sorted(int(r[2]) for r in rows[n // 10:])  # the first tenth warms up
    return durations[len(durations) // 2]


def grpc_message(model, x):
    """A ModelInferRequest in gRPC's framing, encoded by hand from the .proto's field numbers."""
    def field(number, wire, payload):
        return bytes([number << 3 | wire]) + varint(len(payload)) + payload if wire == 2 else bytes([number << 3 | wire]) + payload

    def varint(v):
        out = b""
        while True:
            b = v & 0x7F
            v >>= 7
            out += bytes([b | (0x80 if v else 0)])
            if not v:
                return out
    shape = b"".join(varint(d) for d in x.shape)
    tensor = field(1, 2, b"x") + field(2, 2, b"FP32") + field(3, 2, shape)
    message = field(1, 2, model.encode()) + field(5, 2, tensor) + field(7, 2, x.tobytes())
    return b"\0" + struct.pack(">I", len(message)) + message


def main():
    for tool in ("hey", "h2load"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sys.exit(f"{tool} is not installed (scripts/setup.sh installs it)")
    repo = repository()
    server = Server(repo)
    runtime = {m.group(1): m.group(2) for m in (re.search(r"model=(\S+) .*runtime=\"([^\"]+)\"", line) for line in server.log) if m}
    instances = {m.group(1): m.group(2) for m in (re.search(r"model=(\S+) .*instances=(\d+)", line) for line in server.log) if m}
    figures = {"isa": runtime["resnet101"], "instances_x_threads": f"{instances['resnet101']} x 1", "seconds": SECONDS}
    print(f"server: {runtime['resnet101']}; ORT: {runtime['resnet101_ort']}; {instances['resnet101']} instances x 1 thread a model")

    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    meta = requests.get(f"{server.url}/v2/models/resnet101").json()
    body, head = binary_body(meta["inputs"][0]["name"], x)
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(body)
    served, single, p99_70 = {}, {}, {}
    for model in ("resnet101", "resnet101_ort"):
        url = f"{server.url}/v2/models/{model}/infer"
        times, _ = hey(url, f.name, head, "-z", f"{SECONDS}s", "-c", "8")
        served[model] = len(times) / SECONDS
        times, _ = hey(url, f.name, head, "-n", "10" if QUICK else "30", "-c", "1")
        single[model] = times[len(times) // 2]
        rate = 0.7 * served[model]
        headers = {"Inference-Header-Content-Length": str(head), "Content-Type": "application/octet-stream"}
        for arrivals in ("poisson", "even"):
            times = open_loop(url, body, headers, rate, max(SECONDS, 30), arrivals == "poisson")
            p99_70[f"{model}_{arrivals}"] = percentile(times, 0.99)
        bound = queueing_p99(rate, int(instances[model]) / served[model], int(instances[model]))
        print(f"{model}: saturation {served[model]:.2f} images/s (8 connections); single request {single[model] * 1e3:.0f} ms; "
              f"at 70% ({rate:.1f}/s) p99 {p99_70[model + '_poisson'] * 1e3:.0f} ms = {p99_70[model + '_poisson'] / single[model]:.2f}x single "
              f"with Poisson arrivals (queueing alone: {bound:.1f}x the service time), "
              f"{p99_70[model + '_even'] * 1e3:.0f} ms = {p99_70[model + '_even'] / single[model]:.2f}x evenly spaced (goal <= 3x)")
    os.unlink(f.name)

    texts = review_texts(400)
    text_rate = {}
    for model in ("bert", "bert_padded", "bert_ort"):
        text_rate[model] = text_throughput(f"{server.url}/v2/models/{model}/infer", texts, 32, SECONDS)
        print(f"{model}: {text_rate[model]:.2f} texts/s (review-length texts, one a request, 32 clients)")
    print(f"BERT packing: {text_rate['bert'] / text_rate['bert_padded']:.2f}x the padded batches (goal >= 2x); "
          f"{text_rate['bert'] / text_rate['bert_ort']:.2f}x ORT")

    tiny = np.arange(8, dtype=np.float32).reshape(1, 8)
    overhead = {}
    for model in ("tiny", "tiny_ort"):
        rest_body = json.dumps({"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": tiny.ravel().tolist()}]}).encode()
        overhead[f"{model}_rest_p50_us"] = h2load_p50(f"{server.url}/v2/models/{model}/infer", rest_body, {"Content-Type": "application/json"}, True)
        overhead[f"{model}_grpc_p50_us"] = h2load_p50(f"{server.grpc}/inference.GRPCInferenceService/ModelInfer", grpc_message(model, tiny),
                                                      {"content-type": "application/grpc", "te": "trailers"}, False)
        print(f"{model}: p50 REST {overhead[f'{model}_rest_p50_us']} us (goal <= 200), gRPC {overhead[f'{model}_grpc_p50_us']} us (goal <= 150); "
              "one request at a time (h2load)")
    # The floor of this machine's loopback and client: calls that run no model, in the same run.
    overhead["floor_rest_p50_us"] = h2load_p50(f"{server.url}/v2/health/ready", b"", {}, True, method_get=True)
    overhead["floor_grpc_p50_us"] = h2load_p50(f"{server.grpc}/inference.GRPCInferenceService/ServerLive", b"\0\0\0\0\0",
                                               {"content-type": "application/grpc", "te": "trailers"}, False)
    print(f"floor (no model: GET /v2/health/ready, ServerLive): p50 REST {overhead['floor_rest_p50_us']} us, "
          f"gRPC {overhead['floor_grpc_p50_us']} us; the tiny model's inference adds "
          f"{overhead['tiny_rest_p50_us'] - overhead['floor_rest_p50_us']} us (REST), "
          f"{overhead['tiny_grpc_p50_us'] - overhead['floor_grpc_p50_us']} us (gRPC)")
    if server.stop() != 0:
        sys.exit("the server did not exit 0 on SIGTERM")

    offline = offline_resnet()
    for model, backend in (("resnet101", "native"), ("resnet101_ort", "ort")):
        print(f"{model}: served {served[model]:.2f} images/s = {served[model] / offline[backend]:.2f}x bench's offline "
              f"{offline[backend]:.2f} ({backend}, batch 8) (goal >= 0.9)")
    figures.update({"served_images_per_s": served, "offline_images_per_s_b8": offline, "single_request_s": single,
                    "p99_at_70pct_s": p99_70, "texts_per_s": text_rate, **overhead})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
