#!/usr/bin/python3
"""Summarise llm.c token shards: documents (EOT count: 50256, or 256 in byte shards), tokens,
shortest document, per split.

A document is an EOT followed by its text tokens; its length here counts the text tokens only
(the EOT not counted), as prepare_data --min-doc-tokens does.

Usage: shardstat.py PREFIX [--expect-docs SPLIT=N ...] [--min-doc-tokens N] [--json]
  PREFIX is PATH/NAME; the shards are PATH/NAME_train_*.bin and PATH/NAME_val_*.bin.
  Checks each header (magic 20240520, version 1) and that the file size matches the token count;
  header[3] is the tokenizer tag (0 = GPT-2, EOT 50256; 1 = bytes, separator 256).
  --expect-docs train=723  fails (exit 1) unless the split holds exactly that many documents.
  --min-doc-tokens N       fails unless every document has at least N text tokens.
Prints one line per split: "SPLIT DOCS TOKENS SHARDS MIN_DOC_TOKENS" (TOKENS include the EOTs).
Standard library only.
"""
import array
import glob
import json
import os
import struct
import sys

MAGIC, VERSION = 20240520, 1
EOT_OF_TAG = {0: 50256, 1: 256}


def read_shard(path):
    with open(path, "rb") as f:
        header = f.read(1024)
        if len(header) != 1024:
            raise ValueError("%s: short header" % path)
        magic, version, ntok, tag = struct.unpack("<4i", header[:16])
        if magic != MAGIC or version != VERSION:
            raise ValueError("%s: bad magic/version %d/%d" % (path, magic, version))
        if tag not in EOT_OF_TAG:
            raise ValueError("%s: unknown tokenizer tag %d" % (path, tag))
        toks = array.array("H")
        toks.frombytes(f.read())
    if sys.byteorder != "little":
        toks.byteswap()
    if len(toks) != ntok:
        raise ValueError("%s: header says %d tokens, file holds %d" % (path, ntok, len(toks)))
    return toks, EOT_OF_TAG[tag]


def split_stats(prefix, split):
    files = sorted(glob.glob("%s_%s_*.bin" % (prefix, split)))
    docs = tokens = 0
    min_doc = None
    offset = 0   # global position of the current shard's first token
    last = None  # global position of the last EOT seen (each document starts with one)
    for path in files:
        toks, EOT = read_shard(path)
        docs += toks.count(EOT)
        start = 0
        while True:
            try:
                pos = toks.index(EOT, start)
            except ValueError:
                break
            if last is not None:
                n = offset + pos - last - 1
                min_doc = n if min_doc is None else min(min_doc, n)
            last = offset + pos
            start = pos + 1
        offset += len(toks)
    tokens = offset
    if last is not None:
        n = offset - last - 1
        min_doc = n if min_doc is None else min(min_doc, n)
    return {"split": split, "docs": docs, "tokens": tokens, "shards": len(files),
            "min_doc_tokens": min_doc or 0, "files": files}


def main(argv):
    if not argv or argv[0].startswith("-"):
        sys.stderr.write(__doc__)
        return 2
    prefix = argv[0]
    expect = {}
    min_tokens = None
    as_json = False
    i = 1
    while i < len(argv):
        if argv[i] == "--expect-docs":
            k, v = argv[i + 1].split("=")
            expect[k] = int(v)
            i += 2
        elif argv[i] == "--min-doc-tokens":
            min_tokens = int(argv[i + 1])
            i += 2
        elif argv[i] == "--json":
            as_json = True
            i += 1
        else:
            sys.stderr.write(__doc__)
            return 2
    stats = [split_stats(prefix, s) for s in ("train", "val")]
    bad = []
    for s in stats:
        if s["split"] in expect and s["docs"] != expect[s["split"]]:
            bad.append("%s split has %d documents, expected %d" % (s["split"], s["docs"], expect[s["split"]]))
        if min_tokens is not None and s["docs"] and s["min_doc_tokens"] < min_tokens:
            bad.append("%s split has a document of %d tokens (< %d)" % (s["split"], s["min_doc_tokens"], min_tokens))
    if as_json:
        print(json.dumps(stats))
    else:
        for s in stats:
            print("%s %d %d %d %d" % (s["split"], s["docs"], s["tokens"], s["shards"], s["min_doc_tokens"]))
    for b in bad:
        sys.stderr.write("shardstat.py: %s: %s\n" % (os.path.basename(prefix), b))
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, ValueError) as e:
        sys.stderr.write("shardstat.py: error: %s\n" % e)
        sys.exit(1)
