#!/usr/bin/python3
"""TEST STAND-IN for build/prepare_data, used only when the real tool is not built.

Same command line and the same output files (llm.c shards, EOT 50256 before every document), but
the "tokenizer" is one token per UTF-8 byte (token = byte value), not GPT-2 BPE. It lets the tests
exercise setup.sh's and fineweb.py's plumbing (inputs, splits, naming, checks) without the C++ tool;
token counts it produces are byte counts.

With --tokenizer bytes it writes what the real tool does: the separator 256 before every document
and the bytes tokenizer's tag (1) in word 3 of the header.

prepare_data --tokenizer-dir DIR [--tokenizer gpt2|bytes] --out-prefix PATH/NAME [--shard-tokens N]
             [--val-docs K | --val-fraction F | --val-inputs INPUT...] [--threads N]
             [--min-doc-tokens N] [--no-progress] INPUT...
"""
import array
import json
import os
import struct
import sys

EOT = 50256


def die(msg):
    sys.stderr.write("mock_prepare_data: error: %s\n" % msg)
    sys.exit(1)


def documents(path):
    if os.path.isdir(path):
        files = []
        for dp, dn, fn in os.walk(path):
            files += [os.path.join(dp, f) for f in fn]
        for f in sorted(files):
            with open(f, "rb") as fh:
                yield fh.read()
    elif path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)["text"].encode("utf-8")
    elif os.path.isfile(path):
        with open(path, "rb") as fh:
            yield fh.read()
    else:
        die("no such input: %s" % path)


def write_shards(prefix, split, docs, shard_tokens, tag=0):
    toks = array.array("H")
    for d in docs:
        toks.append(256 if tag == 1 else EOT)
        toks.extend(d)
    n = 0
    for start in range(0, max(len(toks), 1), shard_tokens):
        chunk = toks[start:start + shard_tokens]
        header = [0] * 256
        header[0], header[1], header[2], header[3] = 20240520, 1, len(chunk), tag
        path = "%s_%s_%06d.bin" % (prefix, split, n)
        with open(path, "wb") as f:
            f.write(struct.pack("<256i", *header))
            f.write(chunk.tobytes())
        n += 1
    return len(toks)


def main(argv):
    opts = {"shard-tokens": "100000000", "min-doc-tokens": "0"}
    val_inputs, inputs = [], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--no-progress":
            i += 1
        elif a == "--val-inputs":
            i += 1
            while i < len(argv) and not argv[i].startswith("--"):
                val_inputs.append(argv[i])
                i += 1
        elif a.startswith("--"):
            if i + 1 >= len(argv):
                die("%s needs a value" % a)
            opts[a[2:]] = argv[i + 1]
            i += 2
        else:
            inputs.append(a)
            i += 1
    if "tokenizer-dir" not in opts or "out-prefix" not in opts:
        die("--tokenizer-dir and --out-prefix are required")
    for f in ("encoder.json", "vocab.bpe"):
        if not os.path.isfile(os.path.join(opts["tokenizer-dir"], f)):
            die("no %s in %s" % (f, opts["tokenizer-dir"]))
    min_tok = int(opts["min-doc-tokens"])
    keep = lambda docs: [d for d in docs if len(d) + 1 >= min_tok]
    train = keep([d for p in inputs for d in documents(p)])
    val = keep([d for p in val_inputs for d in documents(p)])
    if "val-docs" in opts:
        k = int(opts["val-docs"])
        val, train = train[:k], train[k:]
    elif "val-fraction" in opts:
        k = int(round(float(opts["val-fraction"]) * len(train)))
        val, train = train[:k], train[k:]
    st = int(opts["shard-tokens"])
    tag = {"gpt2": 0, "bytes": 1}.get(opts.get("tokenizer", "gpt2"))
    if tag is None:
        die("--tokenizer must be gpt2 or bytes")
    ntr = write_shards(opts["out-prefix"], "train", train, st, tag) if train else 0
    nva = write_shards(opts["out-prefix"], "val", val, st, tag) if val else 0
    print("mock_prepare_data: train %d docs %d tokens, val %d docs %d tokens" % (len(train), ntr, len(val), nva))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
