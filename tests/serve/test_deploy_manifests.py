"""deploy/ (the Dockerfile, KServe's ClusterServingRuntime and an InferenceService) against the
server itself: every argument is a flag of `cpuinfer serve`, the ports the arguments set are the
ones exposed, declared and probed, the probes and the metrics annotation name paths the server
answers with 200 (checked on a running server started with the runtime's own arguments, moved to
127.0.0.1 and free ports), and the runtime offers what the InferenceService asks for. No cluster
runs here."""
import json
import os
import re
import subprocess

import requests
import yaml

from oip_testing import BINARY, Server

DEPLOY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy")


def load(name):
    with open(os.path.join(DEPLOY, name)) as f:
        return yaml.safe_load(f)


def serve_flags():
    help_text = subprocess.run([BINARY, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"(--[a-z][a-z-]+)", help_text))


def flags_of(args):
    """{flag: value} of --flag=value arguments (after the subcommand)."""
    assert args[0] == "serve", args
    out = {}
    for a in args[1:]:
        m = re.fullmatch(r"(--[a-z-]+)=(.+)", a)
        assert m, f"{a}: not --flag=value"
        out[m.group(1)] = m.group(2)
    return out


def dockerfile():
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    instructions = {}
    for line in lines:
        word, _, rest = line.partition(" ")
        instructions.setdefault(word, []).append(rest)
    return instructions


def test_dockerfile_builds_with_setup_and_runs_serve():
    d = dockerfile()
    assert d["FROM"] == ["debian:12"]
    assert any("scripts/setup.sh" in r for r in d["RUN"])
    entrypoint = json.loads(d["ENTRYPOINT"][0])
    command = json.loads(d["CMD"][0])
    assert entrypoint[0].endswith("/build/cpuinfer")
    flags = flags_of(command)
    assert set(flags) <= serve_flags()
    assert sorted(d["EXPOSE"][0].split()) == sorted([flags["--http-port"], flags["--grpc-port"]])


def test_runtime_matches_the_servers_flags_ports_and_paths(repo):
    runtime = load("cluster-serving-runtime.yaml")
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1" and runtime["kind"] == "ClusterServingRuntime"
    spec = runtime["spec"]
    assert sorted(spec["protocolVersions"]) == ["grpc-v2", "v2"]
    assert [f["name"] for f in spec["supportedModelFormats"]] == ["onnx"]
    (container,) = spec["containers"]
    flags = flags_of(container["args"])
    assert set(flags) <= serve_flags()
    assert flags["--model-repository"] == "/mnt/models"  # where KServe's storage initializer puts the model
    http, grpc_port = int(flags["--http-port"]), int(flags["--grpc-port"])
    assert (http, grpc_port) == (8080, 9000)
    assert sorted(p["containerPort"] for p in container["ports"]) == [http, grpc_port]
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["h2c"] == grpc_port
    probes = [container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]]
    assert all(p["port"] == http for p in probes)
    assert int(spec["annotations"]["prometheus.kserve.io/port"]) == http
    # The server started with these arguments (on loopback, free ports, the tests' repository)
    # answers the probes and the metrics path.
    args = [f"{k}={v}" for k, v in flags.items() if k not in ("--model-repository", "--host", "--http-port", "--grpc-port")]
    s = Server(repo, *args)
    try:
        assert requests.get(s.url + container["readinessProbe"]["httpGet"]["path"], timeout=30).status_code == 200
        assert requests.get(s.url + container["livenessProbe"]["httpGet"]["path"], timeout=30).status_code == 200
        r = requests.get(s.url + spec["annotations"]["prometheus.kserve.io/path"], timeout=30)
        assert r.status_code == 200 and "cpuinfer_requests_total" in r.text
    finally:
        assert s.stop() == 0


def test_inference_service_asks_for_what_the_runtime_offers():
    runtime = load("cluster-serving-runtime.yaml")
    service = load("inference-service.yaml")
    assert service["apiVersion"] == "serving.kserve.io/v1beta1" and service["kind"] == "InferenceService"
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in [f["name"] for f in runtime["spec"]["supportedModelFormats"]]
    assert model["protocolVersion"] in runtime["spec"]["protocolVersions"]
