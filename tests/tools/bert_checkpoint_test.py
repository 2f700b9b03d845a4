#!/usr/bin/python3
"""BERT checkpoints, end to end: Hugging Face-style folders (config.json + pytorch_model.bin or
model.safetensors, made here from a small seeded model since none can be downloaded) are exported by
tools/export_models.py, through `cpuinfer bench --weights` for one of them; the exports must compute
what the checkpoint's model computes, and bad checkpoints must fail with one line naming the problem.

Usage: bert_checkpoint_test.py <cpuinfer binary> <data folder of the cache>  (run by CTest)
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
import bert_model  # noqa: E402

EXPORT = os.path.join(REPO, "tools", "export_models.py")
CPUINFER, DATA = sys.argv[1], sys.argv[2]
# Small but complete: every parameter kind of bert-base, fewer and narrower layers; the real vocabulary.
CONFIG = {"architectures": ["BertForSequenceClassification"], "hidden_size": 64, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 30522,
          "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
          "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}


def write_safetensors(path, state):
    """The safetensors layout: u64 header size, JSON header, raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name, tensor in state.items():
        data = tensor.contiguous().numpy().tobytes()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[tensor.dtype]
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def seeded_model(seed):
    config = bert_model.BASE_CONFIG | {k: v for k, v in CONFIG.items() if k in bert_model.BASE_CONFIG}
    config["num_labels"] = 2
    model = bert_model.BertForSequenceClassification(config)
    model.init_weights(seed)
    with torch.no_grad():  # non-trivial biases and norms, so that loading them all is checked
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + p.numel())))
    return model.eval()


def checkpoint_folder(root, name, model, fmt):
    folder = os.path.join(root, name)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(CONFIG, f)
    state = dict(model.state_dict())
    if fmt == "bin":
        path = os.path.join(folder, "pytorch_model.bin")
        torch.save(state, path)
    else:
        # Old-style LayerNorm names and HF's position_ids buffer, as real checkpoints have them.
        state = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
                 for k, v in state.items()}
        state["bert.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
        path = os.path.join(folder, "model.safetensors")
        write_safetensors(path, state)
    return path


def inputs():
    ids = torch.tensor([[101, 2023, 3185, 2001, 2307, 102], [101, 2919, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    return ids, mask, torch.zeros_like(ids)


class BertCheckpoints(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.models = os.path.join(cls.tmp.name, "cache", "models")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def export(self, weights, out=None):
        return subprocess.run([sys.executable, EXPORT, "bert", "--out", out or self.models, "--weights", weights,
                               "--vocab", os.path.join(DATA, "text", "vocab.txt")],
                              capture_output=True, text=True, timeout=600)

    def assert_export_computes(self, folder, model):
        with torch.inference_mode():
            expected = model(*inputs())
            actual = torch.jit.load(os.path.join(folder, "model.pt"))(*inputs())
        self.assertLessEqual((expected - actual).abs().max().item(), 1e-5 + 1e-4 * expected.abs().max().item())

    def test_pytorch_model_bin_through_bench(self):
        model = seeded_model(3)
        path = checkpoint_folder(self.tmp.name, "tiny-bert-bin", model, "bin")
        cache = os.path.join(self.tmp.name, "cache")
        os.makedirs(cache, exist_ok=True)
        if not os.path.exists(os.path.join(cache, "data")):
            os.symlink(os.path.abspath(DATA), os.path.join(cache, "data"))
        out = os.path.join(self.tmp.name, "out")
        r = subprocess.run([CPUINFER, "bench", "--workload", "bert", "--backends", "ort,libtorch", "--samples", "4",
                            "--batch-sizes", "2", "--min-time", "0", "--weights", path, "--cache", cache, "--out", out, "--quiet"],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        [name] = [f for f in os.listdir(out) if f.endswith(".json")]
        with open(os.path.join(out, name)) as f:
            results = json.load(f)
        self.assertEqual(results["workload"]["weights"], "tiny-bert-bin/pytorch_model.bin")
        self.assertFalse(results["workload"]["random_weights"])
        [ort] = [row for row in results["rows"] if row["name"] == "ort"]
        self.assertEqual(ort["top1_agreement"], 1.0)  # ONNX export == TorchScript export
        self.assertLessEqual(ort["max_rel_diff"], 1e-4)
        self.assert_export_computes(os.path.join(self.models, "bert-tiny-bert-bin-pytorch_model"), model)

    def test_safetensors_with_old_names(self):
        model = seeded_model(4)
        path = checkpoint_folder(self.tmp.name, "tiny-bert-st", model, "safetensors")
        r = self.export(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        folder = os.path.join(self.models, "bert-tiny-bert-st-model")
        self.assert_export_computes(folder, model)
        with open(os.path.join(folder, "meta.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["config"]["hidden_size"], 64)
        self.assertEqual(meta["inputs"][0]["shape"], ["batch", "sequence"])

    def test_bad_checkpoints_are_one_line_errors(self):
        model = seeded_model(5)
        path = checkpoint_folder(self.tmp.name, "no-config", model, "bin")
        os.remove(os.path.join(os.path.dirname(path), "config.json"))
        cases = [(path, "config.json not found")]
        wrong = checkpoint_folder(self.tmp.name, "wrong-shape", model, "bin")
        with open(os.path.join(os.path.dirname(wrong), "config.json"), "w") as f:
            json.dump(CONFIG | {"intermediate_size": 96}, f)
        cases.append((wrong, "has shape"))
        cut = checkpoint_folder(self.tmp.name, "cut", model, "safetensors")
        with open(cut, "r+b") as f:
            f.truncate(1000)
        cases.append((cut, "model.safetensors"))
        for weights, message in cases:
            r = self.export(weights, os.path.join(self.tmp.name, "bad-models"))
            self.assertEqual(r.returncode, 1, weights)
            lines = [line for line in r.stderr.splitlines() if line.strip()]
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn(message, lines[0])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
