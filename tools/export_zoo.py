#!/usr/bin/python3
"""Export a zoo of small and mid-sized models as ONNX for the conformance test against ONNX Runtime.

Classifiers (torchvision 0.14), float32 [batch, 3, 224, 224] -> [batch, 1000]:
  mobilenet_v2, mobilenet_v3_large, efficientnet_b0, squeezenet1_1, shufflenet_v2_x1_0, densenet121,
  googlenet, resnet50, regnet_y_400mf, convnext_tiny, vit_b_16, swin_t.
Segmentation (torchvision 0.14, the "out" head only), float32 [batch, 3, 224, 224] -> [batch, 21, 224, 224]:
  deeplabv3_mobilenet_v3_large, lraspp_mobilenet_v3_large, fcn_resnet50.
Text, int64 token ids [batch, sequence] -> [batch, 2]: lstm_classifier, gru_classifier (defined here).
Variants: mobilenet_v2_opset11 (opset 11 instead of 17) and squeezenet1_1_uint8 (uint8 pixels in,
  scaled by 1/255 and normalised with the ImageNet mean and std inside the graph).

Run with Debian's /usr/bin/python3 (it has torch, torchvision and onnx). Every model has seeded random
weights (torch.manual_seed(seed) right before construction; no weights are downloaded), labelled
"random weights". As constructed, several of them compute next to nothing: vit_b_16's head is
zero-initialised (its output is exactly 0), and with BatchNorm's initial statistics activations shrink or
grow layer after layer (mobilenet_v2's logits ~1e-9, efficientnet_b0's ~1e-14, resnet50's ~100), which
would let a wrong engine pass the comparison. So, as tools/export_models.py does for ResNet-101,
BatchNorm statistics are calibrated on seeded synthetic pictures, and a Linear weight that is all zeros
is drawn again from N(0, 0.01) (torchvision's own init of the other classifiers' heads); the manifest
lists what was adjusted. --raw-weights keeps the constructors' weights as they are.
Every file has input "input" and output "output" with a dynamic batch axis ("batch"; the text models also
a dynamic "sequence" axis); image sizes are static, and the output's other dims are static too.

Output: <out>/<name>.onnx and <out>/zoo.json, the manifest (file, kind, input and output names, shapes and
dtypes, opset, seed, parameter count, status "ok" or the exporter's error, operator and element types).
Files are written under a temporary name and renamed once onnx.checker accepts them, so a failed or
interrupted export leaves nothing that looks like a model. A model whose file exists with a manifest entry of
the same seed, opset, --raw-weights setting and file size is reused; --force exports it again. An exporter
failure is recorded in the manifest and the summary (EXPORT_ZOO_TRACEBACK=1 prints its traceback), and the
other models are still exported; the exit status is then 1.
"""
import argparse
import collections
import json
import os
import sys
import tempfile
import time
import traceback

import torch
import torchvision
from torch import nn

from export_models import calibration_images, file_md5  # calibration_images: seeded synthetic pictures for 224 x 224

OPSET = 17
MANIFEST = "zoo.json"
IMAGE = 224  # one input size for classifiers and segmentation, so one input file serves every image model
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
TEXT_VOCAB = 1000
EXAMPLE_BATCH = 2  # not 1: a batch size baked into a Reshape would then not look like a broadcastable 1
CALIBRATION_PICTURES = 16


def fail(message):
    print(f"export_zoo.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def first_line(e):
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


# ---- models defined here ------------------------------------------------------------------------------

class OutOnly(nn.Module):
    """torchvision's segmentation models return {"out": ..., "aux": ...}; the zoo exports "out"."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


class Uint8Image(nn.Module):
    """Takes uint8 pixels [N, 3, H, W] and does the usual preprocessing inside the graph, so that a
    Cast from uint8 and the broadcast arithmetic around it are exercised."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x):
        x = x.to(torch.float32) / 255.0
        return self.model((x - self.mean) / self.std)


class LstmClassifier(nn.Module):
    """Embedding 1000 x 64, two unidirectional LSTM layers of 128, the last step's state -> 2 classes."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(TEXT_VOCAB, 64)
        self.rnn = nn.LSTM(64, 128, num_layers=2, batch_first=True)
        self.head = nn.Linear(128, 2)

    def forward(self, ids):
        out, _ = self.rnn(self.embedding(ids))
        return self.head(out[:, -1])


class GruClassifier(nn.Module):
    """Embedding 1000 x 64, one bidirectional GRU layer of 64, mean over the sequence -> 2 classes."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(TEXT_VOCAB, 64)
        self.rnn = nn.GRU(64, 64, num_layers=1, batch_first=True, bidirectional=True)
        self.head = nn.Linear(128, 2)

    def forward(self, ids):
        out, _ = self.rnn(self.embedding(ids))
        return self.head(out.mean(dim=1))


# ---- the zoo ------------------------------------------------------------------------------------------

def classifier(arch, **kwargs):
    return {"kind": "classifier", "architecture": f"torchvision {arch}",
            "build": lambda: getattr(torchvision.models, arch)(weights=None, **kwargs)}


def segmentation(arch, **kwargs):
    return {"kind": "segmentation", "architecture": f"torchvision segmentation.{arch}, 'out' tensor only",
            "build": lambda: OutOnly(getattr(torchvision.models.segmentation, arch)(
                weights=None, weights_backbone=None, **kwargs))}  # the backbone default is a download


ZOO = {
    **{arch: classifier(arch) for arch in ("mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
                                           "squeezenet1_1", "shufflenet_v2_x1_0", "densenet121")},
    "googlenet": classifier("googlenet", aux_logits=False, init_weights=True),
    **{arch: classifier(arch) for arch in ("resnet50", "regnet_y_400mf", "convnext_tiny", "vit_b_16",
                                           "swin_t")},
    "deeplabv3_mobilenet_v3_large": segmentation("deeplabv3_mobilenet_v3_large", aux_loss=False),
    "lraspp_mobilenet_v3_large": segmentation("lraspp_mobilenet_v3_large"),
    "fcn_resnet50": segmentation("fcn_resnet50", aux_loss=False),
    "lstm_classifier": {"kind": "text", "architecture": LstmClassifier.__doc__, "build": LstmClassifier},
    "gru_classifier": {"kind": "text", "architecture": GruClassifier.__doc__, "build": GruClassifier},
    "mobilenet_v2_opset11": dict(classifier("mobilenet_v2"), opset=11),
    "squeezenet1_1_uint8": {"kind": "classifier", "input_dtype": "uint8",
                            "architecture": "torchvision squeezenet1_1 behind uint8 -> /255 -> ImageNet mean/std",
                            "build": lambda: Uint8Image(torchvision.models.squeezenet1_1(weights=None))},
}


def to_uint8(images):
    """Undo the ImageNet normalisation of preprocessed pictures: the uint8 model's own input domain."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((images * std + mean) * 255).round().clamp(0, 255).to(torch.uint8)


def model_inputs(entry, seed, count):
    """Inputs in the model's own domain: pictures for image models, token ids for text models."""
    if entry["kind"] == "text":
        gen = torch.Generator().manual_seed(seed)
        return torch.randint(0, TEXT_VOCAB, (count, 12), generator=gen)
    images = calibration_images(seed, count)
    return to_uint8(images) if entry.get("input_dtype") == "uint8" else images


def adjust_weights(model, entry, seed):
    """Keep a random-weight model's activations in a sane range (see the file comment); returns what
    was changed, for the manifest."""
    changed = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and not m.weight.detach().any():
            nn.init.normal_(m.weight, 0, 0.01)  # the global generator, seeded before construction
            changed.append(f"{name}.weight was all zeros: drawn from N(0, 0.01)")
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if norms:
        # Only the BatchNorm layers in training mode: dropout and stochastic depth stay off.
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
            m.train()
        pictures = model_inputs(entry, seed + 3, CALIBRATION_PICTURES)
        with torch.no_grad():
            for chunk in pictures.split(8):
                model(chunk)
        model.eval()
        changed.append(f"BatchNorm statistics of {len(norms)} layers calibrated on {CALIBRATION_PICTURES} "
                       f"seeded synthetic pictures")
    return changed


def io_spec(entry, output):
    if entry["kind"] == "text":
        inp = {"name": "input", "dtype": "int64", "shape": ["batch", "sequence"], "vocab_size": TEXT_VOCAB}
    else:
        inp = {"name": "input", "dtype": entry.get("input_dtype", "float32"), "shape": ["batch", 3, IMAGE, IMAGE]}
    out = {"name": "output", "dtype": str(output.dtype).replace("torch.", ""),
           "shape": ["batch"] + list(output.shape[1:])}
    return inp, out


# ---- what the exported graph holds --------------------------------------------------------------------

def graph_contents(path):
    """Operator types (domain-qualified when not the default domain) and element types of every tensor the
    graph holds or computes (inputs, outputs, initializers, constants, Cast targets, inferred values)."""
    import onnx
    model = onnx.load(path)
    ops, elem = set(), set()
    name = onnx.TensorProto.DataType.Name

    def walk(graph):
        for t in graph.initializer:
            elem.add(t.data_type)
        for v in list(graph.input) + list(graph.output) + list(graph.value_info):
            if v.type.HasField("tensor_type"):
                elem.add(v.type.tensor_type.elem_type)
        for node in graph.node:
            ops.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}")
            for a in node.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    elem.add(a.t.data_type)
                elif a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        walk(g)
                if node.op_type == "Cast" and a.name == "to":
                    elem.add(a.i)

    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception as e:  # noqa: BLE001 - inference only adds value_info; the listing works without it
        print(f"export_zoo.py: shape inference of {os.path.basename(path)} failed: {first_line(e)}")
    walk(model.graph)
    counts = collections.Counter(n.op_type for n in model.graph.node)
    return sorted(ops), sorted(name(e) for e in elem if e), dict(sorted(counts.items()))


def pin_static_dims(path, outputs):
    """torch 1.13 names the dims of a Resize to the input's own size ("Resizeoutput_dim_1"): write the
    static ones, known from the eager run, into the graph's outputs. Returns the dims it fixed."""
    import onnx
    model = onnx.load(path)
    fixed = []
    for value, spec in zip(model.graph.output, outputs):
        dims = value.type.tensor_type.shape.dim
        for i, (dim, size) in enumerate(zip(dims, spec["shape"])):
            if isinstance(size, int) and dim.dim_value != size:
                fixed.append(f"{value.name}[{i}] {dim.dim_param or dim.dim_value or '?'} -> {size}")
                dim.dim_value = size  # clears dim_param (a oneof)
    if fixed:
        onnx.save(model, path)
    return fixed


# ---- export -------------------------------------------------------------------------------------------

def export_one(name, entry, out_dir, seed, raw_weights):
    """Export one model; returns its manifest entry (status "ok" or the exporter's first error line)."""
    import onnx
    started = time.monotonic()
    opset = entry.get("opset", OPSET)
    torch.manual_seed(seed)
    model = entry["build"]().eval()
    adjusted = [] if raw_weights else adjust_weights(model, entry, seed)
    example = model_inputs(entry, seed + 2, EXAMPLE_BATCH)
    with torch.inference_mode():
        output = model(example)
    inp, out = io_spec(entry, output)
    record = {
        "file": f"{name}.onnx", "kind": entry["kind"], "architecture": entry["architecture"].strip(),
        "weights": "random weights", "random_weights": True, "seed": seed, "opset": opset,
        "raw_weights": raw_weights, "weights_adjusted": adjusted,
        "parameters": sum(p.numel() for p in model.parameters()),
        "inputs": [inp], "outputs": [out],
        "example_output_abs_max": float(output.float().abs().max()),  # on two seeded pictures / texts
        "example_output_std": float(output.float().std()),
        "example_output_finite": bool(torch.isfinite(output).all()),
        "build_seconds": round(time.monotonic() - started, 2),
    }
    started = time.monotonic()
    dynamic = {io["name"]: {d: s for d, s in enumerate(io["shape"]) if isinstance(s, str)} for io in (inp, out)}
    final = os.path.join(out_dir, record["file"])
    fd, scratch = tempfile.mkstemp(prefix=f".{name}-", suffix=".onnx", dir=out_dir)
    os.close(fd)
    try:
        # Not under torch.no_grad(): nn.MultiheadAttention (vit_b_16) then takes its fused fast path,
        # and torch 1.13 cannot export aten::_native_multi_head_attention.
        torch.onnx.export(model, (example,), scratch, opset_version=opset, input_names=["input"],
                          output_names=["output"], dynamic_axes=dynamic, do_constant_folding=True)
        record["static_dims_pinned"] = pin_static_dims(scratch, [out])
        onnx.checker.check_model(scratch)  # the path form: no 2 GB protobuf limit
        record["op_types"], record["element_types"], record["op_counts"] = graph_contents(scratch)
        record["bytes"] = os.path.getsize(scratch)
        record["md5"] = file_md5(scratch)
        os.chmod(scratch, 0o644)  # mkstemp made it private
        os.replace(scratch, final)
        record["status"] = "ok"
    except Exception as e:  # noqa: BLE001 - any exporter or checker failure becomes the model's status
        record["status"] = first_line(e)
        record["error_type"] = type(e).__name__
        if os.environ.get("EXPORT_ZOO_TRACEBACK"):
            traceback.print_exc()
    finally:
        if os.path.exists(scratch):
            os.remove(scratch)
    record["export_seconds"] = round(time.monotonic() - started, 2)
    return record


def reusable(record, out_dir, seed, opset, raw_weights):
    if (not record or record.get("status") != "ok" or record.get("seed") != seed or record.get("opset") != opset
            or record.get("raw_weights") != raw_weights):
        return False
    path = os.path.join(out_dir, record["file"])
    return os.path.isfile(path) and os.path.getsize(path) == record.get("bytes")


def load_manifest(path):
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("models", {})
    except (OSError, ValueError) as e:
        print(f"export_zoo.py: ignoring unreadable {path}: {first_line(e)}")
        return {}


def write_manifest(path, models):
    import onnx
    manifest = {
        "exporter": {"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__},
        "models": {n: models[n] for n in ZOO if n in models},
    }
    fd, scratch = tempfile.mkstemp(prefix=".zoo-", suffix=".json", dir=os.path.dirname(path))
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.chmod(scratch, 0o644)
    os.replace(scratch, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(".cache", "models", "zoo"), help="output folder "
                        "(default: .cache/models/zoo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="comma-separated model names (default: all; see --list)")
    parser.add_argument("--force", action="store_true", help="export again even if cached")
    parser.add_argument("--raw-weights", action="store_true", help="keep the constructors' random weights "
                        "(no BatchNorm calibration, zero heads stay zero)")
    parser.add_argument("--list", action="store_true", help="print the model names and exit")
    args = parser.parse_args()
    if args.list:
        for name, entry in ZOO.items():
            print(f"{name:30} {entry['kind']:13} opset {entry.get('opset', OPSET)}")
        return
    names = list(ZOO)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in ZOO]
        if unknown:
            fail(f"unknown model {', '.join(unknown)} (--list prints the names)")
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, MANIFEST)
    models = load_manifest(manifest_path)
    torch.set_num_threads(os.cpu_count() or 1)  # LibTorch starts with one thread here

    started = time.monotonic()
    for i, name in enumerate(names, 1):
        entry, t0 = ZOO[name], time.monotonic()
        if not args.force and reusable(models.get(name), args.out, args.seed, entry.get("opset", OPSET),
                                       args.raw_weights):
            print(f"export_zoo.py: [{i}/{len(names)}] {name}: reusing {models[name]['file']}", flush=True)
            continue
        try:
            record = export_one(name, entry, args.out, args.seed, args.raw_weights)
        except Exception as e:  # noqa: BLE001 - building or running the eager model failed: report, go on
            record = {"file": f"{name}.onnx", "kind": entry["kind"], "seed": args.seed,
                      "opset": entry.get("opset", OPSET), "raw_weights": args.raw_weights,
                      "status": f"before export: {first_line(e)}", "error_type": type(e).__name__,
                      "build_seconds": round(time.monotonic() - t0, 2), "export_seconds": 0.0}
        models[name] = record
        write_manifest(manifest_path, models)  # after each model, so an interrupted run keeps what it did
        result = (f"{record['bytes'] / 1e6:.1f} MB, {len(record['op_types'])} op types, "
                  f"|output| <= {record['example_output_abs_max']:.3g}"
                  if record["status"] == "ok" else f"FAILED: {record['status']}")
        print(f"export_zoo.py: [{i}/{len(names)}] {name}: {result} ({time.monotonic() - t0:.1f} s: "
              f"build {record['build_seconds']:.1f}, export {record['export_seconds']:.1f})", flush=True)

    failed = [n for n in names if models[n]["status"] != "ok"]
    print(f"export_zoo.py: {len(names) - len(failed)} of {len(names)} models in {args.out} "
          f"({time.monotonic() - started:.1f} s)")
    for n in failed:
        print(f"export_zoo.py: failed: {n}: {models[n]['status']}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
