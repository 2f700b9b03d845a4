#!/usr/bin/python3
"""The library issue's speed and memory figures, native beside ONNX Runtime in the same run:

  - two threads running ResNet-101 (batch 1, 1 intra-op thread each) on one shared model, over one
    thread: native (a Session per thread on one Model) and ORT (one Ort::Session run from both);
  - peak RSS of 2 concurrent runs on one model over 1 run, each measured in a process of its own;
  - the Python module's overhead per run over the C++ API on a tiny model (MatMul [3, 8] x [8, 5],
    Relu), both with 1 intra-op thread.

Usage: benchmarks/library_goals.py [BUILD_DIR]   (default: build; the Python module from BUILD_DIR/python)
It prints one line per figure, with the machine's ISA path and the thread counts, and a JSON
document of every figure as its last line."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
bench = os.path.join(build, "cpuinfer_library_benchmarks")
sys.path.insert(0, os.path.join(build, "python"))


def benchmarks(pattern, *extra):
    out = subprocess.run([bench, f"--benchmark_filter={pattern}", "--benchmark_format=json", *extra],
                         check=True, capture_output=True, text=True).stdout
    runs = json.loads(out)["benchmarks"]
    for r in runs:
        if r.get("error_occurred"):
            sys.exit(f"{r['name']}: {r.get('error_message')}")
    return runs


def by_name(runs, name):
    found = [r for r in runs if r["name"] == name]
    if not found:
        sys.exit(f"no benchmark {name} in {[r['name'] for r in runs]}")
    return found[0]


figures = {}
engine = subprocess.run([os.path.join(build, "cpuinfer"), "--version"], capture_output=True, text=True).stdout.strip()
print(f"machine: {os.cpu_count()} cores; {' '.join(engine.split())}")

# Concurrent runs: items_per_second of all threads together.
runs = benchmarks("ConcurrentRuns")
for rt in ("native", "ort"):
    one = by_name(runs, f"ConcurrentRuns/{rt}/resnet101_b1/min_time:5.000/real_time/threads:1")["items_per_second"]
    two = by_name(runs, f"ConcurrentRuns/{rt}/resnet101_b1/min_time:5.000/real_time/threads:2")["items_per_second"]
    figures[f"{rt}_two_thread_scaling"] = two / one
    figures[f"{rt}_images_per_s_1_thread"] = one
    figures[f"{rt}_images_per_s_2_threads"] = two
    print(f"{rt:6}: ResNet-101 b1, 1 intra-op thread per run: 1 thread {one:.2f} img/s, 2 threads on one model "
          f"{two:.2f} img/s: {two / one:.2f}x (goal for native >= 1.8x)")

# Peak RSS: one process per measurement.
for rt in ("native", "ort"):
    rss = {}
    for n in (1, 2):
        r = benchmarks(f"PeakRss/{rt}/runs:{n}/")
        rss[n] = by_name(r, f"PeakRss/{rt}/runs:{n}/iterations:1")["peak_rss_MB"]
    figures[f"{rt}_peak_rss_MB_1_run"], figures[f"{rt}_peak_rss_MB_2_runs"] = rss[1], rss[2]
    figures[f"{rt}_rss_ratio"] = rss[2] / rss[1]
    print(f"{rt:6}: peak RSS, ResNet-101 loaded and run by 1 / 2 threads at once: {rss[1]:.0f} / {rss[2]:.0f} MB: "
          f"{rss[2] / rss[1]:.2f}x (goal for native <= 1.15x)")

# The Python module's overhead: the same model file, C++ then Python, median per-run time.
runs = benchmarks("TinyRun", "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true")
cpp_us = by_name(runs, "TinyRun/native_median")["real_time"]
ort_us = by_name(runs, "TinyRun/ort_median")["real_time"]
import numpy as np  # noqa: E402
import cpuinfer  # noqa: E402

tiny = os.path.join(tempfile.gettempdir(), "cpuinfer-library-benchmark-tiny.onnx")  # the benchmark's
if not os.path.exists(tiny):
    sys.exit(f"the benchmark wrote no {tiny}")
s = cpuinfer.InferenceSession(tiny, threads=1)
x = np.random.default_rng(7).uniform(-1, 1, (3, 8)).astype(np.float32)
feed = {"x": x}
for _ in range(1000):
    s.run(None, feed)
samples = []
for _ in range(7):
    n = 20000
    t0 = time.perf_counter()
    for _ in range(n):
        s.run(None, feed)
    samples.append((time.perf_counter() - t0) / n * 1e6)
py_us = statistics.median(samples)
figures.update(python_run_us=py_us, cpp_run_us=cpp_us, python_overhead_us=py_us - cpp_us, ort_cpp_run_us=ort_us)
print(f"python: tiny model run {py_us:.1f} us from Python, {cpp_us:.1f} us from C++ (ORT's C++ API: {ort_us:.1f} us): "
      f"overhead {py_us - cpp_us:.1f} us per run (goal <= 30 us); medians, 1 intra-op thread. ORT's Python API "
      f"cannot be measured here: its package comes from PyPI, which this machine cannot reach")
print(json.dumps(figures))
