#!/usr/bin/python3
"""Make cpuinfer's built-in image set and the preprocessing fixtures (run with /usr/bin/python3).

<out>/images/val/<wnid>/*.JPEG   seeded synthetic pictures in the Imagenette folder layout, used when
                                 `cpuinfer bench` gets no --data. They are not photographs: accuracy
                                 on them means nothing, and results name the set as synthetic.
<out>/fixtures/preprocess/       a few images (odd sizes, grayscale, PNG with alpha, CMYK JPEG, tiny)
                                 and torchvision's preprocessed tensor for each (float32 [3,224,224],
                                 little-endian), made by torchvision itself: the C++ tests compare
                                 against these.
Existing outputs are kept; --force makes them again.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
import torchvision
from torchvision.datasets.folder import pil_loader

IMAGENETTE_WNIDS = ["n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
                    "n03394916", "n03417042", "n03425413", "n03445777", "n03888605"]


def synthetic_picture(rng, width, height, hue):
    """A smooth background, a few filled shapes and some texture: enough structure for JPEG and
    resampling to behave as on photographs."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([
        128 + 100 * np.sin(x / width * rng.uniform(1, 6) + hue),
        128 + 100 * np.cos(y / height * rng.uniform(1, 6) + 2 * hue),
        128 + 100 * np.sin((x + y) / (width + height) * rng.uniform(1, 6) + 3 * hue),
    ], axis=-1)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(3, 9)):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1, y1 = x0 + rng.integers(10, width // 2 + 11), y0 + rng.integers(10, height // 2 + 11)
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=color)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2)))
    noise = rng.normal(0, rng.uniform(2, 12), (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(img, np.float32) + noise, 0, 255).astype(np.uint8), "RGB")


def make_image_set(folder, per_class, seed):
    rng = np.random.default_rng(seed)
    for c, wnid in enumerate(IMAGENETTE_WNIDS):
        os.makedirs(os.path.join(folder, "val", wnid), exist_ok=True)
        for i in range(per_class):
            w, h = int(rng.integers(180, 640)), int(rng.integers(160, 560))
            img = synthetic_picture(rng, w, h, hue=c * 0.6)
            img.save(os.path.join(folder, "val", wnid, f"synthetic_{c}_{i:03d}.JPEG"),
                     quality=int(rng.integers(75, 96)))
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump({"name": "built-in synthetic images", "layout": "imagenette",
                   "images": per_class * len(IMAGENETTE_WNIDS), "seed": seed,
                   "note": "seeded synthetic pictures, not photographs: accuracy on them is meaningless"},
                  f, indent=2)


def make_fixtures(folder, seed):
    rng = np.random.default_rng(seed + 100)
    os.makedirs(folder, exist_ok=True)
    cases = []

    def add(name, image, save_kwargs):
        path = os.path.join(folder, name)
        image.save(path, **save_kwargs)
        cases.append(name)

    add("odd_420.jpg", synthetic_picture(rng, 333, 251, 0.3), {"quality": 88})
    add("portrait_444.jpg", synthetic_picture(rng, 240, 417, 1.1), {"quality": 95, "subsampling": 0})
    add("gray.jpg", synthetic_picture(rng, 300, 300, 2.0).convert("L"), {"quality": 90})
    add("cmyk.jpg", synthetic_picture(rng, 280, 236, 2.7).convert("CMYK"), {"quality": 90})
    add("tiny_upscaled.png", synthetic_picture(rng, 97, 64, 3.3), {})
    rgba = synthetic_picture(rng, 250, 232, 4.1).convert("RGBA")
    rgba.putalpha(Image.fromarray(rng.integers(0, 256, (232, 250), dtype=np.uint8)))
    add("alpha.png", rgba, {})
    add("palette.png", synthetic_picture(rng, 260, 300, 5.0).convert("P"), {})

    weights = {"v2": torchvision.models.ResNet101_Weights.IMAGENET1K_V2,
               "v1": torchvision.models.ResNet101_Weights.IMAGENET1K_V1}
    entries = []
    for name in cases:
        for tag, w in weights.items():
            transform = w.transforms()
            tensor = transform(pil_loader(os.path.join(folder, name)))
            assert tuple(tensor.shape) == (3, 224, 224), tensor.shape
            ref = f"{name}.{tag}.f32"
            tensor.numpy().astype("<f4").tofile(os.path.join(folder, ref))
            entries.append({"image": name, "reference": ref, "resize": transform.resize_size[0],
                            "crop": transform.crop_size[0], "mean": list(transform.mean),
                            "std": list(transform.std), "interpolation": "bilinear"})
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump({"made_by": f"torchvision {torchvision.__version__} ResNet101_Weights transforms "
                              "on PIL images from torchvision's pil_loader",
                   "cases": entries}, f, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-class", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    images = os.path.join(args.out, "images")
    fixtures = os.path.join(args.out, "fixtures", "preprocess")
    for folder, make in ((images, lambda: make_image_set(images, args.per_class, args.seed)),
                         (fixtures, lambda: make_fixtures(fixtures, args.seed))):
        done = os.path.join(folder, ".complete")
        if os.path.exists(done) and not args.force:
            print(f"make_images.py: reusing {folder}")
            continue
        shutil.rmtree(folder, ignore_errors=True)
        make()
        open(done, "w").close()
        print(f"make_images.py: wrote {folder}")


if __name__ == "__main__":
    sys.exit(main())
