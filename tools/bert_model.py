"""BERT sequence classifier with the Hugging Face `BertForSequenceClassification` architecture and
parameter names (the `transformers` package is not available here, so the architecture is ours),
plus loading of Hugging Face checkpoints: pytorch_model.bin or model.safetensors, with config.json.
"""
import json
import math
import os
import struct

import torch
from torch import nn

BASE_CONFIG = {  # bert-base-uncased
    "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "hidden_act": "gelu", "max_position_embeddings": 512,
    "type_vocab_size": 2, "layer_norm_eps": 1e-12, "num_labels": 2, "initializer_range": 0.02,
}


class CheckpointError(Exception):
    pass


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=0)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.register_buffer("position_ids", torch.arange(c["max_position_embeddings"]).unsqueeze(0),
                             persistent=False)

    def forward(self, input_ids, token_type_ids):
        positions = self.position_ids[:, : input_ids.size(1)]
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.LayerNorm(x + self.token_type_embeddings(token_type_ids))


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.head_size = c["hidden_size"] // self.heads
        self.query = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = nn.Linear(c["hidden_size"], c["hidden_size"])

    def split(self, x):  # [B, S, H] -> [B, heads, S, head_size]
        return x.view(x.size(0), x.size(1), self.heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size) + additive_mask
        context = torch.matmul(torch.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size(0), context.size(1), -1)


class DenseLayerNorm(nn.Module):
    """HF's BertSelfOutput / BertOutput: dense, residual add, LayerNorm."""

    def __init__(self, c, in_size):
        super().__init__()
        self.dense = nn.Linear(in_size, c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseLayerNorm(c, c["hidden_size"])

    def forward(self, x, additive_mask):
        return self.output(self.self(x, additive_mask), x)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))  # HF "gelu": the exact, erf-based form


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseLayerNorm(c, c["intermediate_size"])

    def forward(self, x, additive_mask):
        x = self.attention(x, additive_mask)
        return self.output(self.intermediate(x), x)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, additive_mask):
        for layer in self.layer:
            x = layer(x, additive_mask)
        return x


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c)


class BertForSequenceClassification(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = dict(config)
        self.bert = BertModel(self.config)
        self.dropout = nn.Dropout(0.1)  # identity in eval mode, kept for checkpoint parity
        self.classifier = nn.Linear(self.config["hidden_size"], self.config["num_labels"])

    def forward(self, input_ids, attention_mask, token_type_ids):
        # HF's extended attention mask: 0 where attended, the most negative float where masked.
        additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        x = self.bert.embeddings(input_ids, token_type_ids)
        x = self.bert.encoder(x, additive)
        return self.classifier(self.dropout(self.bert.pooler(x)))

    def init_weights(self, seed):
        """Hugging Face's initialisation (normal(0, initializer_range), zero biases), seeded."""
        gen = torch.Generator().manual_seed(seed)
        std = self.config["initializer_range"]
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * std)
                    if isinstance(m, nn.Linear):
                        m.bias.zero_()
                    elif m.padding_idx is not None:
                        m.weight[m.padding_idx].zero_()
                elif isinstance(m, nn.LayerNorm):
                    m.weight.fill_(1.0)
                    m.bias.zero_()


def read_config(folder):
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        raise CheckpointError(f"config.json not found next to the checkpoint in {folder}")
    try:
        with open(path, encoding="utf-8") as f:
            hf = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {path}: {e}") from e
    config = dict(BASE_CONFIG)
    for key in BASE_CONFIG:
        if key in hf:
            config[key] = hf[key]
    if "id2label" in hf and "num_labels" not in hf:
        config["num_labels"] = len(hf["id2label"])
    if config["hidden_act"] != "gelu":
        raise CheckpointError(f"{path}: hidden_act {config['hidden_act']!r} is not supported (only gelu)")
    if config["hidden_size"] % config["num_attention_heads"]:
        raise CheckpointError(f"{path}: hidden_size is not a multiple of num_attention_heads")
    return config


SAFETENSORS_DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
                      "I64": (torch.int64, 8)}


def read_safetensors(path):
    """The safetensors format: u64 little-endian header size, a JSON header of
    {name: {dtype, shape, data_offsets}}, then the raw little-endian tensor bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise CheckpointError(f"{path}: truncated safetensors file")
    (header_size,) = struct.unpack("<Q", raw[:8])
    if header_size > len(raw) - 8:
        raise CheckpointError(f"{path}: safetensors header size {header_size} exceeds the file")
    try:
        header = json.loads(raw[8 : 8 + header_size])
    except ValueError as e:
        raise CheckpointError(f"{path}: malformed safetensors header: {e}") from e
    data = memoryview(raw)[8 + header_size :]
    state = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"{path}: tensor {name} has unsupported dtype {entry['dtype']}")
        dtype, size = SAFETENSORS_DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        count = math.prod(entry["shape"])
        if not 0 <= begin <= end <= len(data) or end - begin != count * size:
            raise CheckpointError(f"{path}: tensor {name} has inconsistent offsets")
        tensor = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if count else torch.empty(0, dtype=dtype)
        state[name] = tensor.reshape(entry["shape"]).to(torch.float32 if dtype.is_floating_point else dtype)
    return state


def normalise_names(state):
    """Old checkpoints name LayerNorm parameters gamma/beta; HF maps them to weight/bias."""
    out = {}
    for name, value in state.items():
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        out[name] = value
    return out


def load_checkpoint(path):
    """A BertForSequenceClassification from a HF checkpoint file and the config.json beside it."""
    config = read_config(os.path.dirname(os.path.abspath(path)))
    if path.endswith(".safetensors"):
        state = read_safetensors(path)
    else:
        try:
            state = torch.load(path, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
            raise CheckpointError(f"cannot read checkpoint {path}: {str(e).splitlines()[0]}") from e
        if not isinstance(state, dict):
            raise CheckpointError(f"{path} holds no state dict")
    model = BertForSequenceClassification(config)
    state = normalise_names(state)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a BertForSequenceClassification checkpoint: "
                              f"{len(missing)} parameters missing, e.g. {missing[0]}")
    for name, value in expected.items():
        if tuple(state[name].shape) != tuple(value.shape):
            raise CheckpointError(f"{path}: {name} has shape {tuple(state[name].shape)}, "
                                  f"config.json implies {tuple(value.shape)}")
    model.load_state_dict({k: state[k] for k in expected})
    return model.eval()
