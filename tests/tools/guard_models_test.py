#!/usr/bin/python3
"""The trained guard models (tools/train_guard_models.py; scripts/setup.sh makes them) through
`cpuinfer bench --model` with their held-out data and labels, at batch sizes 1 and 8:
- ONNX Runtime and the native engine (float32) must reach the accuracy torch measured at training
  (meta.json) within one point, and native must agree with ONNX Runtime's top-1 class on every sample;
- the low-precision rows, native-int8 and ort-int8 (the int8 model cpuinfer quantize makes, calibrated
  on the training split's calibration files) and native-bf16, must agree with ONNX Runtime's float32
  top-1 class on at least 99% of the samples and stay within one point of its accuracy. Where the CPU
  lacks AVX512_BF16, the native-bf16 rows must say so instead.

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


BACKENDS = ["ort", "native", "native-int8", "ort-int8", "native-bf16"]
with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
    HAS_BF16 = "avx512_bf16" in cpuinfo.read()


def bench(folder, files, out):
    """`cpuinfer bench --model` on a guard model's held-out split; returns the results JSON."""
    args = ["bench", "--model", os.path.join(folder, "model.onnx")]
    for name, file in files["test"].items():
        args += ["--input", f"{name}={os.path.join(folder, file)}"]
    for name, file in files["calibration"].items():
        args += ["--calibration", f"{name}={os.path.join(folder, file)}"]
    args += ["--labels", os.path.join(folder, "test_labels.npy"), "--backends", ",".join(BACKENDS), "--reference", "ort",
             "--batch-sizes", "1,8", "--samples", "0", "--min-time", "0", "--out", out, "--quiet"]
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
            results = bench(folder, meta["files"], out)
        rows = results["rows"]
        self.assertEqual([(r["name"], r["batch_size"]) for r in rows], [(b, s) for b in BACKENDS for s in (1, 8)])
        for row in rows:
            with self.subTest(backend=row["name"], batch=row["batch_size"]):
                if row["name"] == "native-bf16" and not HAS_BF16:
                    self.assertIn("this CPU lacks AVX512_BF16", row["status"])
                    continue
                self.assertEqual(row["status"], "ok", row)
                self.assertEqual(row["samples"], meta["split"]["held_out"], row)
                self.assertAlmostEqual(row["accuracy"], meta["f32_accuracy"], delta=0.01,
                                       msg=f"{name} {row['name']} batch {row['batch_size']}")
                if row["name"] == "native":
                    self.assertEqual(row["top1_agreement"], 1.0, row)
                elif row["name"] != "ort":
                    self.assertGreaterEqual(row["top1_agreement"], 0.99, row)

    def test_digits_cnn(self):
        self.check("digits")

    def test_sentiment_bert(self):
        self.check("sentiment")


if __name__ == "__main__":
    if not all(os.path.isfile(os.path.join(GUARD, m, "meta.json")) for m in ("digits", "sentiment")):
        print(f"guard models not found in {GUARD} (scripts/setup.sh trains them): skipped")
        sys.exit(SKIP)
    unittest.main(argv=sys.argv[:1], verbosity=2)
