"""The golden conformance cases of `cpuinfer serve`'s REST protocol, sent with curl: health, metadata,
inference in JSON (nested and flat data, INT64 beyond a double's precision, BOOL, FP16, BYTES) and
with the binary tensor data extension (numbers, BOOL, FP16, BYTES in and out), and every error case,
each checked for its exact status and body. The cases (conformance/cases.json) were worked out by
hand from the specification (kserve/open-inference-protocol, Triton's extension_binary_data.md) on
models whose answers are exact on every machine (oip_testing.py's scale, mixed and tokens). Before
comparing, what varies by run or machine is removed: the timings queue_us and compute_us, and the
runtime's description in model metadata."""
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "conformance", "cases.json")) as f:
    CASES = json.load(f)


def same(a, b):
    """JSON equality where a boolean is not a number and 2 equals 2.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def normalized(body):
    if isinstance(body, dict) and isinstance(body.get("parameters"), dict):
        for varies in ("queue_us", "compute_us", "runtime"):
            body["parameters"].pop(varies, None)
    return body


def curl(server, case, tmp_path):
    """(status, headers, body) of the case's request as curl sends it."""
    command = ["curl", "-sS", "--max-time", "60", "-X", case["method"], "-o", str(tmp_path / "out"), "-D", str(tmp_path / "headers"),
               "-w", "%{http_code}"]
    headers = dict(case.get("headers", {}))
    body = None
    if "raw" in case:
        body = case["raw"].encode()
    elif "body" in case:
        body = json.dumps(case["body"]).encode()
        if "binary" in case:
            headers["Inference-Header-Content-Length"] = str(len(body))
            body += b"".join(bytes.fromhex(b) for b in case["binary"])
    if body is not None:
        (tmp_path / "in").write_bytes(body)
        command += ["--data-binary", "@" + str(tmp_path / "in")]
        headers.setdefault("Content-Type", "application/octet-stream" if "binary" in case else "application/json")
    for k, v in headers.items():
        command += ["-H", f"{k}: {v}"]
    p = subprocess.run(command + [server.url + case["path"]], capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr
    lines = (tmp_path / "headers").read_text().splitlines()
    response_headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)}
    return int(p.stdout), response_headers, (tmp_path / "out").read_bytes()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_case(server, case, tmp_path):
    status, headers, body = curl(server, case, tmp_path)
    assert status == case["status"], body[:300]
    expected = case["response"]
    if "binary" in expected and "json" in expected:
        assert headers["content-type"] == "application/octet-stream"
        n = int(headers["inference-header-content-length"])
        got = normalized(json.loads(body[:n]))
        assert same(got, expected["json"]), got
        assert body[n:].hex() == "".join(expected["binary"])
    else:
        assert headers["content-type"] == "application/json"
        got = normalized(json.loads(body))
        assert same(got, expected), got
