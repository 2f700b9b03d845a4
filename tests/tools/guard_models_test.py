#!/usr/bin/python3
"""The trained guard models (tools/train_guard_models.py; scripts/setup.sh makes them) through
`cpuinfer bench --model` with their held-out data and labels: ONNX Runtime and the native engine, at
batch sizes 1 and 8, must reach the float32 accuracy torch measured at training (meta.json) within one
point, and native must agree with ONNX Runtime's top-1 class on every sample. A float32 backend that
passes the agreement test on random weights but loses accuracy here is wrong; int8 and bf16 backends
are judged against these figures.

Usage: guard_models_test.py <cpuinfer binary> <guard folder>  (run by CTest; exits 77, "skipped",
when the folder is missing)
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

CPUINFER, GUARD = sys.argv[1], sys.argv[2]
SKIP = 77


def bench(folder, inputs, out):
    """`cpuinfer bench --model` on a guard model's held-out split; returns the results JSON."""
    args = ["bench", "--model", os.path.join(folder, "model.onnx")]
    for name, file in inputs.items():
        args += ["--input", f"{name}={os.path.join(folder, file)}"]
    args += ["--labels", os.path.join(folder, "test_labels.npy"), "--backends", "ort,native", "--reference", "ort",
             "--batch-sizes", "1,8", "--samples", "0", "--out", out, "--quiet"]
    r = subprocess.run([CPUINFER] + args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError(f"cpuinfer {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    with open(glob.glob(os.path.join(out, "*.json"))[0], encoding="utf-8") as f:
        return json.load(f)


class GuardModels(unittest.TestCase):
    def check(self, name):
        folder = os.path.join(GUARD, name)
        with open(os.path.join(folder, "meta.json"), encoding="utf-8") as f:
            meta = json.load(f)
        with tempfile.TemporaryDirectory() as out:
            results = bench(folder, meta["files"]["test"], out)
        rows = results["rows"]
        self.assertEqual([(r["name"], r["batch_size"]) for r in rows], [("ort", 1), ("ort", 8), ("native", 1), ("native", 8)])
        for row in rows:
            with self.subTest(backend=row["name"], batch=row["batch_size"]):
                self.assertEqual(row["status"], "ok", row)
                self.assertEqual(row["samples"], meta["split"]["held_out"], row)
                self.assertAlmostEqual(row["accuracy"], meta["f32_accuracy"], delta=0.01,
                                       msg=f"{name} {row['name']} batch {row['batch_size']}")
                if row["name"] == "native":
                    self.assertEqual(row["top1_agreement"], 1.0, row)

    def test_digits_cnn(self):
        self.check("digits")

    def test_sentiment_bert(self):
        self.check("sentiment")


if __name__ == "__main__":
    if not all(os.path.isfile(os.path.join(GUARD, m, "meta.json")) for m in ("digits", "sentiment")):
        print(f"guard models not found in {GUARD} (scripts/setup.sh trains them): skipped")
        sys.exit(SKIP)
    unittest.main(argv=sys.argv[:1], verbosity=2)
