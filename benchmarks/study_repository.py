#!/usr/bin/python3
"""A model repository for `cpuinfer serve` of the study's two models (seeded random weights, as
scripts/setup.sh exports them into the cache), each on the native engine and on ONNX Runtime:
resnet101, resnet101_ort, bert, bert_ort (BERT takes texts: the server tokenizes). The model files
are links into the cache. Usage: benchmarks/study_repository.py DIR (made if absent); the
serving benchmarks (serve_goals.py, the README's loadgen results) build on it."""
import json
import os
import sys

repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cache = os.environ.get("CPUINFER_CACHE", os.path.join(repo_root, ".cache"))


def add(root, name, source, config):
    """A model `name` of the repository at `root`: version 1 a link to `source` (and its external data)."""
    os.makedirs(os.path.join(root, name, "1"), exist_ok=True)
    target = os.path.join(root, name, "1", "model.onnx")
    for s, t in ((source, target), (source + ".data", target + ".data")):
        if os.path.exists(s) and not os.path.lexists(t):
            os.symlink(s, t)
    with open(os.path.join(root, name, "config.json"), "w") as f:
        json.dump(config, f)


def study_repository(root):
    resnet = os.path.join(cache, "models", "resnet101-random-seed0", "model.onnx")
    bert = os.path.join(cache, "models", "bert-random-seed0")
    for f in (resnet, os.path.join(bert, "model.onnx"), os.path.join(bert, "vocab.txt")):
        if not os.path.exists(f):
            sys.exit(f"{f}: not exported yet (scripts/setup.sh exports the study's models)")
    text = {"vocab": os.path.join(bert, "vocab.txt")}
    for backend, suffix in (("native", ""), ("ort", "_ort")):
        add(root, "resnet101" + suffix, resnet, {"backend": backend})
        add(root, "bert" + suffix, os.path.join(bert, "model.onnx"), {"backend": backend, "text": text})
    return root


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(study_repository(sys.argv[1]))
