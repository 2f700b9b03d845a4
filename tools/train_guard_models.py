#!/usr/bin/python3
"""Train two small models on real data that packages ship, as accuracy guards for int8 and bf16.

Random weights make accuracy meaningless: a quantized model that is wrong agrees with nothing, but
neither does a right one. These two models have learned something, so their held-out accuracy is a
figure that a lossy backend must keep (`cpuinfer bench --model ... --labels ...`).

<out>/digits/     a small CNN on scikit-learn's handwritten digits (`sklearn.datasets.load_digits`,
                  Debian's python3-sklearn: 1797 real 8x8 grey images, 10 classes), pixels scaled
                  to [0, 1]. Conv 1->16 3x3 + ReLU, Conv 16->32 3x3 + ReLU, MaxPool 2, Conv 32->32
                  3x3 + ReLU with a residual Add, Flatten, Linear 512->10.
                  model.onnx: input "input" float32 [batch, 1, 8, 8] -> "logits" [batch, 10].
                  test_input.npy, test_labels.npy, calibration_input.npy.
<out>/sentiment/  a small BERT (tools/bert_model.py's BertForSequenceClassification: hidden 64,
                  2 layers, 4 heads, intermediate 128, 64 positions) on the 1000 labelled IMDB
                  sentences of npm sentiment@5.0.2 (test/fixtures/imdb.json; UCI "Sentiment
                  Labelled Sentences"). The lower-cased words of the training split form the
                  vocabulary (vocab.txt: [PAD]=0, [UNK], [CLS], [SEP], then the words);
                  each text is [CLS] words [SEP], truncated and right-padded to 64 tokens.
                  model.onnx, exported as tests/tools/attention_export_test.py exports its BERT:
                  int64 "input_ids", "attention_mask", "token_type_ids" [batch, sequence] -> "logits"
                  [batch, 2]. test_{input_ids,attention_mask,token_type_ids}.npy, test_labels.npy,
                  calibration_{input_ids,attention_mask,token_type_ids}.npy.

Each folder also has meta.json: the seed, the split, the held-out float32 accuracy measured in torch,
the architecture, the data's source and the files. Splits are stratified and seeded (digits: 1253
train / 544 held out, sentiment: 800 / 200; held-out sizes are multiples of 8, so batch sizes up to 8
drop no held-out sample). Calibration inputs are 128 samples of the training split. Training is
deterministic (seeded, one thread, deterministic algorithms) and takes well under a minute.

A folder is written under a temporary name and renamed when complete; one whose meta.json records the
same seed and recipe version is reused (--force trains it again). Prints one line per model with its
held-out accuracy. Run with Debian's /usr/bin/python3 (torch, onnx, numpy, sklearn).
"""
import argparse
import collections
import json
import os
import re
import shutil
import sys
import tempfile
import time

import numpy
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPSET = 17
RECIPE = 1  # bump when a change to this file changes a model: cached folders are trained again
CALIBRATION = 128
SENTIMENT_LENGTH = 64  # tokens incl. [CLS] and [SEP]: every sentence but a handful fits
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def fail(message):
    print(f"train_guard_models.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def deterministic(seed):
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def stratified_split(labels, test_size, seed):
    from sklearn.model_selection import train_test_split
    indices = numpy.arange(len(labels))
    train, test = train_test_split(indices, test_size=test_size, stratify=labels, random_state=seed)
    return numpy.sort(train), numpy.sort(test)


def calibration_indices(count, seed):
    return numpy.sort(numpy.random.default_rng(seed).choice(count, size=min(CALIBRATION, count), replace=False))


def train(model, tensors, labels, epochs, batch_size, lr, weight_decay, seed, augment=None):
    """AdamW over seeded mini-batches; `augment` changes a batch's inputs (training only)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            inputs = [t[rows] for t in tensors]
            if augment:
                inputs = augment(inputs, generator)
            loss = nn.functional.cross_entropy(model(*inputs), labels[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()


def accuracy(model, tensors, labels):
    with torch.no_grad():
        predicted = model(*tensors).argmax(dim=1)
    return float((predicted == labels).double().mean())


def export(model, example, path, input_names, dynamic_axes):
    import onnx
    with torch.no_grad():
        torch.onnx.export(model, example, path, opset_version=OPSET, input_names=input_names, output_names=["logits"],
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def write_meta(folder, meta):
    with open(os.path.join(folder, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


# ---- digits -------------------------------------------------------------------------------------

class DigitsCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv2(torch.relu(self.conv1(x)))))
        x = x + torch.relu(self.conv3(x))  # the residual Add
        return self.fc(torch.flatten(x, 1))


def make_digits(folder, seed):
    from sklearn.datasets import load_digits
    deterministic(seed)
    digits = load_digits()
    images = (digits.images / 16.0).astype(numpy.float32)[:, None, :, :]  # [1797, 1, 8, 8] in [0, 1]
    labels = digits.target.astype(numpy.int64)
    train_rows, test_rows = stratified_split(labels, 544, seed)
    x_train, y_train = torch.from_numpy(images[train_rows]), torch.from_numpy(labels[train_rows])
    x_test, y_test = torch.from_numpy(images[test_rows]), torch.from_numpy(labels[test_rows])

    model = DigitsCnn()
    train(model, [x_train], y_train, epochs=30, batch_size=32, lr=2e-3, weight_decay=1e-4, seed=seed)
    f32_accuracy = accuracy(model, [x_test], y_test)

    export(model, (x_test[:2],), os.path.join(folder, "model.onnx"), ["input"],
           {"input": {0: "batch"}, "logits": {0: "batch"}})
    numpy.save(os.path.join(folder, "test_input.npy"), images[test_rows])
    numpy.save(os.path.join(folder, "test_labels.npy"), labels[test_rows])
    calibration = train_rows[calibration_indices(len(train_rows), seed)]
    numpy.save(os.path.join(folder, "calibration_input.npy"), images[calibration])
    write_meta(folder, {
        "name": "digits", "recipe": RECIPE, "seed": seed,
        "data": {"source": "scikit-learn load_digits (Debian python3-sklearn): UCI optical recognition of "
                           "handwritten digits, 1797 8x8 images, 10 classes",
                 "preprocess": "pixel / 16, float32 in [0, 1], shape [1, 8, 8]"},
        "split": {"method": "stratified, sklearn train_test_split(random_state=seed)", "train": len(train_rows),
                  "held_out": len(test_rows), "calibration": len(calibration), "calibration_from": "train"},
        "f32_accuracy": f32_accuracy, "accuracy_measured_in": f"torch {torch.__version__}, held-out split",
        "architecture": "Conv 1->16 3x3 pad 1 + ReLU, Conv 16->32 3x3 pad 1 + ReLU, MaxPool 2, "
                        "Conv 32->32 3x3 pad 1 + ReLU + residual Add, Flatten, Linear 512->10",
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": "AdamW lr 2e-3 weight decay 1e-4, 30 epochs, batch 32, cross-entropy",
        "onnx": {"file": "model.onnx", "opset": OPSET, "inputs": {"input": "float32 [batch, 1, 8, 8]"},
                 "outputs": {"logits": "float32 [batch, 10]"}},
        "files": {"test": {"input": "test_input.npy"}, "labels": "test_labels.npy",
                  "calibration": {"input": "calibration_input.npy"}},
    })
    return f32_accuracy, len(test_rows)


# ---- sentiment ----------------------------------------------------------------------------------

def words(text):
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def read_imdb(path):
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {e} (scripts/setup.sh fetches npm sentiment@5.0.2)")
    # The package holds one empty entry with class null: dropped, as tools/make_text_data.py does.
    entries = [e for e in entries if e.get("class") in (0, 1) and e.get("text", "").strip()]
    if len(entries) != 1000:
        fail(f"{path}: expected the 1000 labelled sentences of sentiment@5.0.2, found {len(entries)}")
    return [e["text"] for e in entries], numpy.array([e["class"] for e in entries], dtype=numpy.int64)


def encode(texts, vocab):
    ids = numpy.zeros((len(texts), SENTIMENT_LENGTH), dtype=numpy.int64)
    mask = numpy.zeros_like(ids)
    unk, cls, sep = vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"]
    for row, text in enumerate(texts):
        tokens = [cls] + [vocab.get(w, unk) for w in words(text)][: SENTIMENT_LENGTH - 2] + [sep]
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return ids, mask


def make_sentiment(folder, seed, imdb):
    deterministic(seed)
    texts, labels = read_imdb(imdb)
    train_rows, test_rows = stratified_split(labels, 200, seed)
    counts = collections.Counter(w for i in train_rows for w in words(texts[i]))
    vocabulary = SPECIALS + sorted(counts)
    vocab = {token: i for i, token in enumerate(vocabulary)}
    ids, mask = encode(texts, vocab)
    segments = numpy.zeros_like(ids)
    truncated = int(sum(len(words(t)) > SENTIMENT_LENGTH - 2 for t in texts))

    config = bert_model.BASE_CONFIG | {"vocab_size": len(vocabulary), "hidden_size": 64, "num_hidden_layers": 2,
                                       "num_attention_heads": 4, "intermediate_size": 128,
                                       "max_position_embeddings": SENTIMENT_LENGTH, "num_labels": 2}
    model = bert_model.BertForSequenceClassification(config)
    model.init_weights(seed)
    unk = vocab["[UNK]"]

    def word_dropout(inputs, generator):
        """Replace 10% of the real words by [UNK], so the classifier cannot lean on a few rare words."""
        batch_ids, batch_mask, batch_segments = inputs
        drop = (torch.rand(batch_ids.shape, generator=generator) < 0.1) & (batch_ids > vocab["[SEP]"])
        return [torch.where(drop, torch.full_like(batch_ids, unk), batch_ids), batch_mask, batch_segments]

    tensors = [torch.from_numpy(a) for a in (ids, mask, segments)]
    train_tensors = [t[train_rows] for t in tensors]
    test_tensors = [t[test_rows] for t in tensors]
    y = torch.from_numpy(labels)
    train(model, train_tensors, y[train_rows], epochs=10, batch_size=16, lr=1e-3, weight_decay=0.01, seed=seed,
          augment=word_dropout)
    f32_accuracy = accuracy(model, test_tensors, y[test_rows])

    names = ["input_ids", "attention_mask", "token_type_ids"]
    export(model, tuple(t[:2] for t in test_tensors), os.path.join(folder, "model.onnx"), names,
           {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}})
    calibration = train_rows[calibration_indices(len(train_rows), seed)]
    for prefix, rows in (("test", test_rows), ("calibration", calibration)):
        for name, array in zip(names, (ids, mask, segments)):
            numpy.save(os.path.join(folder, f"{prefix}_{name}.npy"), array[rows])
    numpy.save(os.path.join(folder, "test_labels.npy"), labels[test_rows])
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocabulary) + "\n")
    write_meta(folder, {
        "name": "sentiment", "recipe": RECIPE, "seed": seed,
        "data": {"source": "npm sentiment@5.0.2 test/fixtures/imdb.json: 1000 IMDB review sentences of UCI "
                           "'Sentiment Labelled Sentences', 500 negative (0) / 500 positive (1)",
                 "tokenizer": f"lower-cased words ([a-z0-9]+ with an optional 'suffix); vocabulary: the words of "
                              f"the training split; [CLS] words [SEP], truncated and right-padded to "
                              f"{SENTIMENT_LENGTH} tokens; token_type_ids all 0",
                 "vocab_size": len(vocabulary), "truncated_texts": truncated},
        "split": {"method": "stratified, sklearn train_test_split(random_state=seed)", "train": len(train_rows),
                  "held_out": len(test_rows), "calibration": len(calibration), "calibration_from": "train"},
        "f32_accuracy": f32_accuracy, "accuracy_measured_in": f"torch {torch.__version__}, held-out split",
        "architecture": "tools/bert_model.py BertForSequenceClassification: hidden 64, 2 layers, 4 heads, "
                        f"intermediate 128, {SENTIMENT_LENGTH} positions, vocabulary {len(vocabulary)}",
        "config": config,
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": "AdamW lr 1e-3 weight decay 0.01, 10 epochs, batch 16, cross-entropy, 10% of words replaced "
                    "by [UNK] per batch",
        "onnx": {"file": "model.onnx", "opset": OPSET,
                 "inputs": {n: "int64 [batch, sequence]" for n in names}, "outputs": {"logits": "float32 [batch, 2]"}},
        "files": {"test": {n: f"test_{n}.npy" for n in names}, "labels": "test_labels.npy",
                  "calibration": {n: f"calibration_{n}.npy" for n in names}, "vocab": "vocab.txt"},
    })
    return f32_accuracy, len(test_rows)


def reusable(folder, seed):
    try:
        with open(os.path.join(folder, "meta.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if meta.get("seed") != seed or meta.get("recipe") != RECIPE:
        return None
    if not os.path.isfile(os.path.join(folder, "model.onnx")):
        return None
    return meta


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, ".cache", "models", "guard"),
                        help="output folder (default: the repo's .cache/models/guard)")
    parser.add_argument("--npm", default=os.path.join(REPO, ".deps", "npm"),
                        help="folder with the extracted npm packages (default: the repo's .deps/npm)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="train again even if cached")
    args = parser.parse_args()
    imdb = os.path.join(args.npm, "sentiment", "test", "fixtures", "imdb.json")
    os.makedirs(args.out, exist_ok=True)
    for name, make in (("digits", lambda d: make_digits(d, args.seed)),
                       ("sentiment", lambda d: make_sentiment(d, args.seed, imdb))):
        folder = os.path.join(args.out, name)
        meta = None if args.force else reusable(folder, args.seed)
        if meta:
            print(f"{name}: held-out f32 accuracy {meta['f32_accuracy']:.4f} on {meta['split']['held_out']} samples "
                  f"(reusing {folder})", flush=True)
            continue
        started = time.monotonic()
        tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=args.out)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        try:
            acc, held_out = make(tmp)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"{name}: held-out f32 accuracy {acc:.4f} on {held_out} samples "
              f"({time.monotonic() - started:.1f} s, {folder})", flush=True)


if __name__ == "__main__":
    main()
