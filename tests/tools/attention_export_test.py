#!/usr/bin/python3
"""Fused attention on real exports: a small BertForSequenceClassification (tools/bert_model.py, which
mirrors Hugging Face's) exported by torch.onnx at every opset from 12 to 17 must load on `native` with
every layer's attention fused and the batch packed, and agree with ONNX Runtime on a right-padded text
(max relative difference <= 1e-4 of the largest |logit|), packed to its real tokens, and on a left-padded
one, which keeps its padding. (Each .npy holds one sample, run at batch size 1; batches of mixed
lengths are tested in tests/engine/attention_test.cpp.)

Usage: attention_export_test.py <cpuinfer binary>  (run by CTest)
"""
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
import bert_model  # noqa: E402

CPUINFER = sys.argv[1]
LAYERS = 2
CONFIG = bert_model.BASE_CONFIG | {"hidden_size": 64, "num_hidden_layers": LAYERS, "num_attention_heads": 4,
                                   "intermediate_size": 128, "num_labels": 2}


def export(folder, opset):
    model = bert_model.BertForSequenceClassification(CONFIG)
    model.init_weights(3)
    model.eval()
    path = os.path.join(folder, f"bert-opset{opset}.onnx")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = (torch.randint(1000, 2000, (2, 8)), torch.ones(2, 8, dtype=torch.int64), torch.zeros(2, 8, dtype=torch.int64))
    with torch.no_grad():
        torch.onnx.export(model, example, path, opset_version=opset, input_names=names, output_names=["logits"],
                          dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}})
    return path


def inputs(folder, lengths, length, left=False):
    """.npy files of one batch: token ids, the padding mask, segment ids."""
    rng = numpy.random.default_rng(5)
    ids = rng.integers(1000, 2000, (len(lengths), length), dtype=numpy.int64)
    mask = numpy.zeros((len(lengths), length), dtype=numpy.int64)
    for b, n in enumerate(lengths):
        if left:
            mask[b, length - n:] = 1
        else:
            mask[b, :n] = 1
    files = []
    for name, array in (("input_ids", ids * mask), ("attention_mask", mask), ("token_type_ids", numpy.zeros_like(ids))):
        path = os.path.join(folder, f"{name}{'-left' if left else ''}.npy")
        numpy.save(path, array)
        files += ["--input", f"{name}={path}"]
    return files


def run(args):
    r = subprocess.run([CPUINFER] + args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError(f"cpuinfer {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


class AttentionExports(unittest.TestCase):
    def test_every_opset_fuses_packs_and_agrees_with_ort(self):
        with tempfile.TemporaryDirectory() as tmp:
            right = inputs(tmp, [5], 12)
            left = inputs(tmp, [5], 12, left=True)
            for opset in range(12, 18):
                with self.subTest(opset=opset):
                    model = export(tmp, opset)
                    profile = os.path.join(tmp, f"profile{opset}.json")
                    run(["profile", "--model", model, "--iterations", "1", "--warmup", "0", "--json", profile] + right)
                    with open(profile, encoding="utf-8") as f:
                        types = [n["op_type"] for n in json.load(f)["nodes"]]
                    self.assertEqual(types.count("Attention"), LAYERS, types)
                    self.assertEqual(types.count("PackTokens"), 1, types)
                    for batch, name in ((right, "right"), (left, "left")):
                        out = os.path.join(tmp, f"out{opset}{name}")
                        run(["bench", "--model", model, "--backends", "ort,native", "--reference", "ort", "--batch-sizes", "1",
                             "--samples", "1", "--warmup", "0", "--min-time", "0", "--quiet", "--out", out] + batch)
                        with open(glob.glob(os.path.join(out, "*.csv"))[0], encoding="utf-8") as f:
                            native = [r for r in csv.DictReader(f) if r["name"] == "native"][0]
                        self.assertEqual(native["status"], "ok", native)
                        self.assertLessEqual(float(native["max_rel_diff"]), 1e-4, f"{name} padding: {native}")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
