#!/usr/bin/python3
"""Export the study's models as ONNX and TorchScript into a cache folder.

resnet101: torchvision's ResNet-101, ONNX with a dynamic batch axis.
bert:      a BERT-base sequence classifier (Hugging Face BertForSequenceClassification architecture
           and parameter names, tools/bert_model.py), ONNX with dynamic batch and sequence axes,
           int64 input_ids / attention_mask / token_type_ids -> logits.

Run with Debian's /usr/bin/python3 (it has torch, torchvision and onnx). Each model goes to
<out>/<workload>-<weights tag>/ with model.onnx, model.pt, model.int8.pt (int8-quantized
TorchScript: static for resnet101, dynamic Linear for bert, onednn engine) and meta.json; the
folder appears only once the export has finished. An existing export is reused while what it was
made from is unchanged (tools/export_key.py: this exporter's code, the checkpoint's content or the
random weights' seed, the other files it read), and made again otherwise. If quantization fails,
meta.json's export_errors says why and the other formats are still written.

Weights: a checkpoint file when --weights is given (for resnet101 a torchvision file such as the
study's resnet101-cd907fe2.pth, IMAGENET1K_V2; for bert a Hugging Face pytorch_model.bin or
model.safetensors with config.json beside it), otherwise seeded random weights, labelled "random
weights": ResNet-101's BatchNorm statistics are then calibrated on seeded synthetic pictures so that
activations and logits stay in a sane range; BERT gets Hugging Face's initialisation.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import torch
import torchvision
from torch import nn

import export_key

OPSET = 17
QUANTIZED_ENGINE = "onednn"  # Debian's torch 1.13 has onednn and qnnpack, no fbgemm
GENERIC_CHECKPOINT_STEMS = ("pytorch_model", "model")

# torchvision's preprocessing per ResNet-101 checkpoint (file hash prefix -> transforms of the weights).
RESNET_PREPROCESS = {
    "cd907fe2": {"resize": 232, "crop": 224},  # IMAGENET1K_V2, the study's weights
    "63fe2227": {"resize": 256, "crop": 224},  # IMAGENET1K_V1
}
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def fail(message):
    print(f"export_models.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def weights_tag(weights, seed):
    """The cache folder suffix; src/bench/model_cache.cpp computes the same."""
    if weights is None:
        return f"random-seed{seed}"
    stem = os.path.splitext(os.path.basename(weights))[0]
    if stem in GENERIC_CHECKPOINT_STEMS:  # Hugging Face names: the folder says which model it is
        return f"{os.path.basename(os.path.dirname(os.path.abspath(weights)))}-{stem}"
    return stem


def weights_label(weights):
    stem = os.path.splitext(os.path.basename(weights))[0]
    if stem in GENERIC_CHECKPOINT_STEMS:
        return os.path.join(os.path.basename(os.path.dirname(os.path.abspath(weights))), os.path.basename(weights))
    return os.path.basename(weights)


def calibration_images(seed, count):
    """Seeded synthetic pictures (make_images.py's generator), preprocessed like real inputs, so
    that calibrated statistics fit picture-like data rather than noise."""
    import numpy as np
    from make_images import synthetic_picture
    transform = torchvision.models.ResNet101_Weights.IMAGENET1K_V2.transforms()
    rng = np.random.default_rng(seed + 1)
    pictures = [synthetic_picture(rng, int(rng.integers(180, 640)), int(rng.integers(160, 560)), hue=i * 0.6)
                for i in range(count)]
    return torch.stack([transform(p) for p in pictures])


def calibrate_batchnorm(model, seed, batches=4, batch_size=8):
    """Replace BatchNorm running statistics by those of seeded inputs (cumulative average)."""
    images = calibration_images(seed, batches * batch_size)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for chunk in images.split(batch_size):
            model(chunk)
    model.eval()


def load_resnet101(weights, seed):
    model = torchvision.models.resnet101()
    if weights is None:
        torch.manual_seed(seed)
        model = torchvision.models.resnet101()
        calibrate_batchnorm(model, seed)
        preprocess = {"resize": 232, "crop": 224}
        label = "random weights"
    else:
        try:
            state = torch.load(weights, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - report any loader failure as one line
            fail(f"cannot read checkpoint {weights}: {str(e).splitlines()[0]}")
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            model.load_state_dict(state)
        except Exception as e:  # noqa: BLE001
            fail(f"{weights} is not a torchvision ResNet-101 checkpoint: {str(e).splitlines()[0]}")
        preprocess = next((p for h, p in RESNET_PREPROCESS.items() if h in os.path.basename(weights)),
                          {"resize": 232, "crop": 224})
        label = weights_label(weights)
    model.eval()
    preprocess = dict(preprocess, interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return model, label, preprocess


def file_md5(path):  # export_zoo.py's checksums of its files
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_images(root, count, preprocess):
    """Up to `count` images of an Imagenette-layout folder, spread over its classes, preprocessed."""
    from PIL import Image
    from torchvision.transforms import functional as F
    classes_root = os.path.join(root, "val") if os.path.isdir(os.path.join(root, "val")) else root
    per_class = [sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith((".jpg", ".jpeg", ".png")))
                 for d in sorted(os.path.join(classes_root, c) for c in os.listdir(classes_root))
                 if os.path.isdir(d)]
    files = [f for rank in range(max(map(len, per_class), default=0)) for files in per_class
             if rank < len(files) for f in [files[rank]]][:count]
    if not files:
        fail(f"no calibration images in {root}")
    tensors = []
    for f in files:
        with Image.open(f) as img:
            x = F.resize(img.convert("RGB"), [preprocess["resize"]], antialias=True)
        x = F.normalize(F.to_tensor(F.center_crop(x, [preprocess["crop"]])), preprocess["mean"], preprocess["std"])
        tensors.append(x)
    return torch.stack(tensors)


def quantize_resnet101(model, images):
    """Eager-mode static quantization as in the study's code, with the onednn configuration (Debian's
    torch has no fbgemm, so its "x86" configuration is unavailable)."""
    from torchvision.models.quantization.resnet import QuantizableBottleneck, QuantizableResNet
    torch.backends.quantized.engine = QUANTIZED_ENGINE
    q = QuantizableResNet(QuantizableBottleneck, [3, 4, 23, 3])
    q.load_state_dict(model.state_dict())
    q.eval()
    q.fuse_model()
    q.qconfig = torch.ao.quantization.get_default_qconfig(QUANTIZED_ENGINE)
    torch.ao.quantization.prepare(q, inplace=True)
    with torch.no_grad():
        for chunk in images.split(8):
            q(chunk)
    return torch.ao.quantization.convert(q, inplace=True)


def quantize_dynamic_linear(model):
    torch.backends.quantized.engine = QUANTIZED_ENGINE
    return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def export(workload, out_root, weights, seed, force, vocab, calibration_dir):
    folder = os.path.join(out_root, f"{workload}-{weights_tag(weights, seed)}")
    meta_path = os.path.join(folder, "meta.json")
    if os.path.exists(meta_path) and not force:
        try:
            with open(meta_path, encoding="utf-8") as f:
                reason = export_key.stale_reason(json.load(f), weights, seed)
        except (OSError, ValueError) as e:
            reason = f"its meta.json is unreadable ({e})"
        if not reason:
            print(f"export_models.py: reusing {folder}")
            return folder
        print(f"export_models.py: exporting {folder} again: {reason}")
    key = export_key.record(weights, seed)  # what this export is made from, checked before reuse
    # Build in a scratch folder and move it into place at the end: a failed or interrupted export
    # leaves nothing that looks like a model.
    os.makedirs(out_root, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".export-", dir=out_root)
    try:
        torch.set_num_threads(os.cpu_count() or 1)
        spec = (build_resnet101(weights, seed, calibration_dir) if workload == "resnet101"
                else build_bert(weights, seed, vocab, scratch))
        key["files_read"] = [export_key.file_identity(f) for f in spec.get("files_read", [])]
        write_model(scratch, workload, spec, weights, key)
        os.chmod(scratch, 0o755)  # mkdtemp made it private
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"export_models.py: wrote {folder}")
    return folder


def write_model(folder, workload, spec, weights, key):
    model, example = spec["model"], spec["example"]
    names = [i["name"] for i in spec["inputs"]]
    onnx_path = os.path.join(folder, "model.onnx")
    dynamic = {i["name"]: {d: s for d, s in enumerate(i["shape"]) if isinstance(s, str)}
               for i in spec["inputs"] + spec["outputs"]}
    with torch.no_grad():
        torch.onnx.export(model, example, onnx_path, opset_version=OPSET, input_names=names,
                          output_names=[o["name"] for o in spec["outputs"]], dynamic_axes=dynamic)
    import onnx
    onnx.checker.check_model(onnx.load(onnx_path))

    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    for check in spec.get("trace_checks", []):  # other shapes than the traced one must still work
        with torch.inference_mode():
            diff = (traced(*check) - model(*check)).abs().max().item()
        if diff > 1e-4:
            fail(f"traced {workload} differs from the eager model by {diff} on other input shapes")
    traced.save(os.path.join(folder, "model.pt"))

    files = {"onnx": "model.onnx", "torchscript": "model.pt"}
    export_errors = {}
    try:  # int8 is a second export of the same model; its failure is reported, not fatal
        quantized = spec["quantize"]()
        with torch.no_grad():
            torch.jit.trace(quantized, example).save(os.path.join(folder, "model.int8.pt"))
        files["torchscript-int8"] = "model.int8.pt"
    except Exception as e:  # noqa: BLE001 - any quantization failure becomes the row's reason
        export_errors["torchscript-int8"] = (str(e).strip().splitlines() or [type(e).__name__])[0]
        print(f"export_models.py: int8 export of {workload} failed: {export_errors['torchscript-int8']}")

    meta = {
        "workload": workload,
        "architecture": spec["architecture"],
        "weights": weights_label(weights) if weights else "random weights",
        "random_weights": key["random_weights"],
        "seed": key["seed"],
        "checkpoint": key["checkpoint"],
        "files_read": key["files_read"],
        "files": files,
        "export_errors": export_errors,
        "int8": spec["int8"],
        "onnx_opset": OPSET,
        "inputs": spec["inputs"],
        "outputs": spec["outputs"],
        **spec["extra"],
        "exporter": {**key["exporter"], "torch": torch.__version__, "torchvision": torchvision.__version__,
                     "onnx": onnx.__version__},
    }
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)


def build_resnet101(weights, seed, calibration_dir):
    model, label, preprocess = load_resnet101(weights, seed)
    example = calibration_images(seed + 2, 2)
    calibration = folder_images(calibration_dir, 32, preprocess) if calibration_dir else None
    with torch.inference_mode():
        logits = model(example)
    print(f"export_models.py: resnet101 ({label}): max |logit| on two sample pictures = {logits.abs().max():.3f}")
    described = (f"{len(calibration)} images of {calibration_dir}" if calibration is not None
                 else "32 seeded synthetic pictures")
    return {"model": model, "example": (example,), "architecture": "torchvision resnet101",
            "quantize": lambda: quantize_resnet101(model, calibration if calibration is not None
                                                   else calibration_images(seed + 3, 32)),
            "int8": {"method": "static: conv+bn(+relu) fused, per-channel weights, calibrated activations",
                     "engine": QUANTIZED_ENGINE, "calibration": described},
            "inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", 3, 224, 224]}],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 1000]}],
            "extra": {"preprocess": preprocess}}


def bert_inputs(batch, seq, seed, vocab_size):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, vocab_size, (batch, seq), generator=gen)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[-1, seq // 2 :] = 0  # the last sequence is padded, so the mask path is exercised
    ids[:, 0], ids[-1, seq // 2 :] = 101, 0
    return ids, mask, torch.zeros(batch, seq, dtype=torch.int64)


def build_bert(weights, seed, vocab, folder):
    import bert_model
    try:
        if weights is None:
            model = bert_model.BertForSequenceClassification(bert_model.BASE_CONFIG)
            model.init_weights(seed)
            model.eval()
        else:
            model = bert_model.load_checkpoint(weights)
    except bert_model.CheckpointError as e:
        fail(str(e))
    config = model.config
    # The tokenizer's vocabulary travels with the model: the checkpoint's own if it has one.
    source = vocab
    if weights is not None:
        for name in ("vocab.txt", "tokenizer.json"):
            candidate = os.path.join(os.path.dirname(os.path.abspath(weights)), name)
            if os.path.isfile(candidate):
                source = candidate
                break
    if source is None or not os.path.isfile(source):
        fail(f"no tokenizer vocabulary: {source} not found (setup.sh makes the default one)")
    vocab_file = os.path.basename(source)
    shutil.copyfile(source, os.path.join(folder, vocab_file))
    files_read = [source]  # besides the checkpoint: a change to any of them makes the export stale
    if weights is not None:
        files_read.append(os.path.join(os.path.dirname(os.path.abspath(weights)), "config.json"))
    lowercase = True  # bert-base-uncased; a checkpoint's tokenizer_config.json may say otherwise
    if weights is not None:
        config_path = os.path.join(os.path.dirname(os.path.abspath(weights)), "tokenizer_config.json")
        if os.path.isfile(config_path):
            files_read.append(config_path)
            with open(config_path, encoding="utf-8") as f:
                lowercase = bool(json.load(f).get("do_lower_case", True))
    example = bert_inputs(2, 16, seed + 1, config["vocab_size"])
    with torch.inference_mode():
        logits = model(*example)
    print(f"export_models.py: bert ({weights_label(weights) if weights else 'random weights'}): "
          f"logits on seeded inputs {logits.flatten().tolist()}")
    shape = ["batch", "sequence"]
    return {"model": model, "example": example, "architecture": "BertForSequenceClassification (HF names)",
            "quantize": lambda: quantize_dynamic_linear(model),
            "int8": {"method": "dynamic: int8 weights of every Linear layer, activations quantized per batch",
                     "engine": QUANTIZED_ENGINE},
            "inputs": [{"name": n, "dtype": "int64", "shape": shape}
                       for n in ("input_ids", "attention_mask", "token_type_ids")],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", config["num_labels"]]}],
            "trace_checks": [bert_inputs(3, 9, seed + 2, config["vocab_size"]),
                             bert_inputs(1, 40, seed + 3, config["vocab_size"])],
            "files_read": files_read,
            "extra": {"config": config,
                      "tokenizer": {"vocab": vocab_file, "lowercase": lowercase,
                                    "max_length": config["max_position_embeddings"]}}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["resnet101", "bert"])
    parser.add_argument("--out", required=True, help="model cache folder")
    parser.add_argument("--weights", help="checkpoint file (default: seeded random weights)")
    parser.add_argument("--weights-seed", "--seed", dest="seed", type=int, default=0,
                        help="seed of the random weights (without --weights); names the cache folder")
    parser.add_argument("--force", action="store_true", help="export again even if cached")
    parser.add_argument("--calibration-images", help="resnet101: image folder (Imagenette layout) to calibrate "
                        "int8 quantization on (default: <out>/../data/images, the built-in set)")
    parser.add_argument("--vocab", help="bert: vocab.txt for random weights or checkpoints without one "
                        "(default: <out>/../data/text/vocab.txt, made by setup.sh)")
    args = parser.parse_args()
    if args.weights and not os.path.isfile(args.weights):
        fail(f"checkpoint not found: {args.weights}")
    data = os.path.normpath(os.path.join(args.out, os.pardir, "data"))  # the cache's data, beside models
    vocab = args.vocab or os.path.join(data, "text", "vocab.txt")
    calibration = args.calibration_images or os.path.join(data, "images")
    export(args.workload, args.out, args.weights, args.seed, args.force, vocab,
           calibration if os.path.isdir(calibration) else None)


if __name__ == "__main__":
    main()
