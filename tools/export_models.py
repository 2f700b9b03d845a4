#!/usr/bin/python3
"""Export the study's models as ONNX (dynamic batch axis) and TorchScript into a cache folder.

Run with Debian's /usr/bin/python3 (it has torch, torchvision and onnx). Each model goes to
<out>/<workload>-<weights tag>/ with model.onnx, model.pt and meta.json; the folder appears only
once the export has finished. An existing export is reused.

Weights: a torchvision checkpoint file when --weights is given (resnet101-cd907fe2.pth is the
study's IMAGENET1K_V2), otherwise seeded random weights whose BatchNorm statistics are calibrated on
seeded synthetic pictures, so that activations and logits stay in a sane range (labelled
"random weights").
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

OPSET = 17

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
    if weights is None:
        return f"random-seed{seed}"
    base = os.path.basename(weights)
    return os.path.splitext(base)[0]


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


def build_resnet101(weights, seed):
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
        label = os.path.basename(weights)
    model.eval()
    preprocess = dict(preprocess, interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return model, label, preprocess


def file_md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_resnet101(out_root, weights, seed, force):
    folder = os.path.join(out_root, f"resnet101-{weights_tag(weights, seed)}")
    if os.path.exists(os.path.join(folder, "meta.json")) and not force:
        print(f"export_models.py: reusing {folder}")
        return folder
    # Build in a scratch folder and move it into place at the end: a failed or interrupted export
    # leaves nothing that looks like a model.
    os.makedirs(out_root, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".export-", dir=out_root)
    try:
        write_resnet101(scratch, weights, seed)
        os.chmod(scratch, 0o755)  # mkdtemp made it private
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"export_models.py: wrote {folder}")
    return folder


def write_resnet101(folder, weights, seed):
    torch.set_num_threads(os.cpu_count() or 1)
    model, label, preprocess = build_resnet101(weights, seed)
    example = calibration_images(seed + 2, 2)
    with torch.inference_mode():
        logits = model(example)
    print(f"export_models.py: resnet101 ({label}): max |logit| on two sample pictures = {logits.abs().max():.3f}")

    onnx_path = os.path.join(folder, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, example, onnx_path, opset_version=OPSET,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    import onnx
    onnx.checker.check_model(onnx.load(onnx_path))

    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    traced.save(os.path.join(folder, "model.pt"))

    meta = {
        "workload": "resnet101",
        "architecture": "torchvision resnet101",
        "weights": label,
        "random_weights": weights is None,
        "seed": seed if weights is None else None,
        "weights_md5": file_md5(weights) if weights else None,
        "files": {"onnx": "model.onnx", "torchscript": "model.pt"},
        "onnx_opset": OPSET,
        "inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", 3, 224, 224]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", 1000]}],
        "preprocess": preprocess,
        "exporter": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "onnx": onnx.__version__},
    }
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["resnet101"])
    parser.add_argument("--out", required=True, help="model cache folder")
    parser.add_argument("--weights", help="checkpoint file (default: seeded random weights)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="export again even if cached")
    args = parser.parse_args()
    if args.weights and not os.path.isfile(args.weights):
        fail(f"checkpoint not found: {args.weights}")
    export_resnet101(args.out, args.weights, args.seed, args.force)


if __name__ == "__main__":
    main()
