#!/usr/bin/python3
"""Real-weights path, end to end: a torchvision checkpoint file (made here from seeded weights, as
no real one can be downloaded) goes through `cpuinfer bench --weights`, which exports it with
tools/export_models.py; the exported ONNX and TorchScript models must compute what the checkpoint's
PyTorch model computes, and a bad checkpoint must fail with one line naming it.

Usage: export_models_test.py <cpuinfer binary> <data folder>  (run by CTest)
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import torch
import torchvision

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPORT = os.path.join(REPO, "tools", "export_models.py")
CPUINFER, DATA = sys.argv[1], sys.argv[2]


class ExportWithWeights(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        torch.manual_seed(5)
        cls.model = torchvision.models.resnet101().eval()
        # A V1-named checkpoint: its preprocessing must switch to resize 256.
        cls.checkpoint = os.path.join(cls.tmp.name, "resnet101-63fe2227.pth")
        torch.save(cls.model.state_dict(), cls.checkpoint)
        cls.cache = os.path.join(cls.tmp.name, "cache")
        os.makedirs(os.path.join(cls.cache, "data"))
        os.symlink(os.path.abspath(DATA), os.path.join(cls.cache, "data", "images"))
        cls.out = os.path.join(cls.tmp.name, "out")
        cls.bench = subprocess.run(
            [CPUINFER, "bench", "--workload", "resnet101", "--backends", "ort,libtorch", "--batch-sizes", "2",
             "--samples", "2", "--min-time", "0", "--weights", cls.checkpoint, "--cache", cls.cache, "--out", cls.out, "--quiet"],
            capture_output=True, text=True, timeout=600)
        cls.folder = os.path.join(cls.cache, "models", "resnet101-resnet101-63fe2227")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_bench_runs_and_labels_the_weights(self):
        self.assertEqual(self.bench.returncode, 0, self.bench.stdout + self.bench.stderr)
        [name] = [f for f in os.listdir(self.out) if f.endswith(".json")]
        with open(os.path.join(self.out, name)) as f:
            results = json.load(f)
        self.assertEqual(results["workload"]["weights"], "resnet101-63fe2227.pth")
        self.assertFalse(results["workload"]["random_weights"])
        self.assertEqual(results["workload"]["preprocess"]["resize_shorter_side"], 256)
        for row in results["rows"]:
            self.assertEqual(row["status"], "ok")
            self.assertEqual(row["weights"], "resnet101-63fe2227.pth")
        # The ONNX export (run by ort) computes what the TorchScript export (libtorch) computes,
        # and test_torchscript_equals_checkpoint_model ties that to the checkpoint itself.
        [ort] = [row for row in results["rows"] if row["name"] == "ort"]
        self.assertEqual(ort["top1_agreement"], 1.0)
        self.assertLessEqual(ort["max_rel_diff"], 1e-4)

    def test_torchscript_equals_checkpoint_model(self):
        x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            expected = self.model(x)
            actual = torch.jit.load(os.path.join(self.folder, "model.pt"))(x)
        self.assertLessEqual((expected - actual).abs().max().item(), 1e-4 * expected.abs().max().item())
        with open(os.path.join(self.folder, "meta.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["weights"], "resnet101-63fe2227.pth")
        self.assertIsNone(meta["seed"])

    def test_bad_checkpoint_is_one_line_error(self):
        bad = os.path.join(self.tmp.name, "broken.pth")
        with open(bad, "wb") as f:
            f.write(b"not a checkpoint")
        r = subprocess.run([sys.executable, EXPORT, "resnet101", "--out", os.path.join(self.tmp.name, "m"),
                            "--weights", bad], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("broken.pth", lines[0])
        self.assertEqual(os.listdir(os.path.join(self.tmp.name, "m")), [])  # no half-made model left

    def test_wrong_architecture_checkpoint(self):
        other = os.path.join(self.tmp.name, "resnet18.pth")
        torch.save(torchvision.models.resnet18().state_dict(), other)
        r = subprocess.run([sys.executable, EXPORT, "resnet101", "--out", os.path.join(self.tmp.name, "m2"),
                            "--weights", other], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a torchvision ResNet-101 checkpoint", r.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
