#!/usr/bin/env python3
"""FineWeb / FineWeb-Edu -> llm.c token shards, named and cut exactly as llm.c's dev/data/fineweb.py does.

  fineweb_val_000000.bin, fineweb_train_000001.bin, fineweb_train_000002.bin, ...
  (edu_fineweb_... with --edu). Every document is EOT (50256) + its GPT-2 tokens; the documents,
  in dataset order, are concatenated and cut into shards of --shard-size tokens (default 10^8); a
  document may run across a shard boundary; the FIRST shard is the validation shard, the rest are
  training shards, numbered on from 1; the last shard holds the remainder.

ONLINE mode (default) NEEDS INTERNET and the Python package `datasets` (pip install datasets; it
pulls pyarrow and huggingface_hub). It streams HuggingFaceFW/fineweb (or fineweb-edu with --edu),
config sample-10BT (--version 10B) or sample-100BT (--version 100B), so nothing but the text
chunks in flight is kept on disk.

OFFLINE mode: --from-jsonl FILE... reads local JSONL files ({"text": ...} per line, one document
per line, in the order given); --from-parquet FILE... reads local FineWeb parquet files (needs
pyarrow). These paths need no internet; --from-jsonl needs only the standard library.

Tokenisation is done by the project's C++ tool prepare_data (build it first: cmake --build build
--target prepare_data), one call per input chunk; this script re-cuts its token stream into the
llm.c shards. Tokenizer files: scripts/setup.sh puts them in $LSSA_DATA_DIR/tokenizer.

Examples:
  scripts/fineweb.py                                   # FineWeb sample-10BT, ~100 shards (internet)
  scripts/fineweb.py --edu --max-tokens 300000000      # the first 3 shards of FineWeb-Edu (internet)
  scripts/fineweb.py --from-jsonl a.jsonl b.jsonl --out-dir /tmp/fw --shard-size 1000000   # offline
"""
import argparse
import array
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAGIC, VERSION, EOT = 20240520, 1, 50256
HEADER_INTS = 256
CHUNK_BYTES = 512 << 20  # text per prepare_data call in online / parquet mode
READ_TOKENS = 1 << 24    # tokens read at a time from prepare_data's shards


def die(msg):
    sys.stderr.write("fineweb.py: error: %s\n" % msg)
    sys.exit(1)


# ---------------------------------------------------------------- llm.c shard writer

class ShardWriter:
    """Takes a token stream and writes NAME_{val,train}_%06d.bin shards of shard_size tokens (llm.c)."""

    def __init__(self, out_dir, name, shard_size, max_tokens=None):
        self.out_dir, self.name, self.shard_size = out_dir, name, shard_size
        self.max_tokens = max_tokens
        self.index = 0
        self.buf = array.array("H")
        self.total = 0
        self.written = []
        self.staged = []

    def full(self):
        return self.max_tokens is not None and self.total >= self.max_tokens

    def add(self, toks):
        if self.max_tokens is not None:
            toks = toks[:max(0, self.max_tokens - self.total)]
        self.total += len(toks)
        pos = 0
        while pos < len(toks):
            take = min(self.shard_size - len(self.buf), len(toks) - pos)
            self.buf.extend(toks[pos:pos + take])
            pos += take
            if len(self.buf) == self.shard_size:
                self._flush()

    def _flush(self):
        split = "val" if self.index == 0 else "train"
        final = os.path.join(self.out_dir, "%s_%s_%06d.bin" % (self.name, split, self.index))
        tmp = final + ".part"
        header = [0] * HEADER_INTS
        header[0], header[1], header[2] = MAGIC, VERSION, len(self.buf)
        toks = self.buf
        if sys.byteorder != "little":
            toks = array.array("H", toks)
            toks.byteswap()
        with open(tmp, "wb") as f:
            f.write(struct.pack("<%di" % HEADER_INTS, *header))
            f.write(toks.tobytes())
        self.staged.append((tmp, final, len(self.buf)))
        self.index += 1
        self.buf = array.array("H")

    def close(self):
        if len(self.buf):
            self._flush()
        # publish only at the end: a failed run leaves no llm.c-named shard behind
        for tmp, final, n in self.staged:
            os.replace(tmp, final)
            self.written.append((final, n))
        return self.written

    def abort(self):
        for tmp, _, _ in self.staged:
            if os.path.exists(tmp):
                os.remove(tmp)


def read_llmc_tokens(path):
    """Yield the tokens of one llm.c shard in blocks (array('H'))."""
    with open(path, "rb") as f:
        header = f.read(HEADER_INTS * 4)
        if len(header) != HEADER_INTS * 4:
            die("%s: short header" % path)
        magic, version, ntok = struct.unpack("<3i", header[:12])
        if magic != MAGIC or version != VERSION:
            die("%s: not an llm.c token shard (magic %d, version %d)" % (path, magic, version))
        left = ntok
        while left > 0:
            n = min(left, READ_TOKENS)
            a = array.array("H")
            a.frombytes(f.read(2 * n))
            if len(a) != n:
                die("%s: truncated (header says %d tokens)" % (path, ntok))
            if sys.byteorder != "little":
                a.byteswap()
            left -= n
            yield a


# ---------------------------------------------------------------- prepare_data

def find_prepare_data(arg):
    p = arg or os.environ.get("PREPARE_DATA")
    if not p:
        p = os.path.join(REPO, "build", "prepare_data")
        alt = os.path.join(REPO, "build", "data", "prepare_data")  # where CMake puts it
        if not os.access(p, os.X_OK) and os.access(alt, os.X_OK):
            p = alt
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        die("prepare_data not found at %s: build it first (cmake -S . -B build && cmake --build build "
            "--target prepare_data) or pass --prepare-data / set PREPARE_DATA" % p)
    return p


def tokenize_file(prepare_data, tokenizer_dir, jsonl, work, threads):
    """Run prepare_data on one JSONL file (all documents -> its training split); return its shards."""
    prefix = os.path.join(work, "chunk")
    cmd = [prepare_data, "--tokenizer-dir", tokenizer_dir, "--out-prefix", prefix,
           "--shard-tokens", str(2**31 - 1), "--no-progress"]
    if threads:
        cmd += ["--threads", str(threads)]
    cmd.append(jsonl)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:])
        die("prepare_data failed on %s" % jsonl)
    if glob.glob(prefix + "_val_*.bin"):
        die("prepare_data wrote a validation split for %s; expected all documents in train" % jsonl)
    return sorted(glob.glob(prefix + "_train_*.bin"))


def feed(writer, shards):
    for s in shards:
        for block in read_llmc_tokens(s):
            writer.add(block)
            if writer.full():
                return
        os.remove(s)


# ---------------------------------------------------------------- document sources

def docs_online(edu, version):
    try:
        from datasets import load_dataset  # needs internet and `pip install datasets`
    except ImportError:
        die("online mode needs the Python package 'datasets' (pip install datasets) and internet; "
            "or use --from-jsonl / --from-parquet with local files")
    repo = "HuggingFaceFW/fineweb-edu" if edu else "HuggingFaceFW/fineweb"
    config = {"10B": "sample-10BT", "100B": "sample-100BT"}[version]
    ds = load_dataset(repo, name=config, split="train", streaming=True)
    for row in ds:
        yield row["text"]


def docs_parquet(files):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        die("--from-parquet needs pyarrow (pip install pyarrow)")
    for f in files:
        pf = pq.ParquetFile(f)
        for batch in pf.iter_batches(columns=["text"]):
            for t in batch.column(0).to_pylist():
                yield t


def jsonl_chunks(docs, work, chunk_bytes):
    """Write documents into JSONL chunk files of about chunk_bytes; yield each path when complete."""
    n = 0
    f = None
    size = 0
    path = None
    for text in docs:
        if f is None:
            path = os.path.join(work, "docs_%06d.jsonl" % n)
            f = open(path, "w", encoding="utf-8")
            size = 0
        line = json.dumps({"text": text}, ensure_ascii=False) + "\n"
        f.write(line)
        size += len(line)
        if size >= chunk_bytes:
            f.close()
            f = None
            n += 1
            yield path
    if f is not None:
        f.close()
        yield path


# ---------------------------------------------------------------- main

def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--from-jsonl", nargs="+", metavar="FILE", help="local JSONL files (offline)")
    src.add_argument("--from-parquet", nargs="+", metavar="FILE", help="local parquet files with a 'text' column (offline; needs pyarrow)")
    ap.add_argument("-v", "--version", choices=["10B", "100B"], default="10B", help="online: sample-10BT or sample-100BT")
    ap.add_argument("--edu", action="store_true", help="online: FineWeb-Edu instead of FineWeb (names the shards edu_fineweb_*)")
    ap.add_argument("--name", help="shard name (default fineweb, or edu_fineweb with --edu)")
    ap.add_argument("-s", "--shard-size", type=int, default=10**8, help="tokens per shard (default 10^8, as llm.c)")
    ap.add_argument("--max-tokens", type=int, help="stop after this many tokens (a prefix of the full output)")
    ap.add_argument("--out-dir", help="default $LSSA_DATA_DIR/{fineweb,edu_fineweb}10B (LSSA_DATA_DIR default <repo>/.cache/data)")
    ap.add_argument("--tokenizer-dir", help="default $LSSA_DATA_DIR/tokenizer (scripts/setup.sh fills it)")
    ap.add_argument("--prepare-data", help="default $PREPARE_DATA, <repo>/build/prepare_data or <repo>/build/data/prepare_data")
    ap.add_argument("--threads", type=int, default=0, help="prepare_data threads (default: all cores)")
    ap.add_argument("--chunk-mb", type=int, default=CHUNK_BYTES >> 20, help="text per prepare_data call (online/parquet)")
    a = ap.parse_args(argv)

    if a.shard_size < 1 or a.shard_size > 2**31 - 1:
        die("--shard-size must be between 1 and 2^31-1")
    data_dir = os.environ.get("LSSA_DATA_DIR") or os.path.join(REPO, ".cache", "data")
    name = a.name or ("edu_fineweb" if a.edu else "fineweb")
    out_dir = a.out_dir or os.path.join(data_dir, name + a.version)
    tok_dir = a.tokenizer_dir or os.path.join(data_dir, "tokenizer")
    for f in ("encoder.json", "vocab.bpe"):
        if not os.path.isfile(os.path.join(tok_dir, f)):
            die("no %s in %s: run scripts/setup.sh first (or pass --tokenizer-dir)" % (f, tok_dir))
    prepare_data = find_prepare_data(a.prepare_data)
    if a.from_jsonl:
        for f in a.from_jsonl:
            if not os.path.isfile(f):
                die("no such file: %s" % f)

    os.makedirs(out_dir, exist_ok=True)
    old = glob.glob(os.path.join(out_dir, name + "_*.bin"))
    if old:
        die("%s already holds %d %s_*.bin shards; remove them or choose another --out-dir" % (out_dir, len(old), name))
    work = tempfile.mkdtemp(prefix=".fineweb_work.", dir=out_dir)
    writer = ShardWriter(out_dir, name, a.shard_size, a.max_tokens)
    ok = False
    try:
        if a.from_jsonl:
            chunks = iter(a.from_jsonl)  # each file is one prepare_data call, in the order given
        else:
            docs = docs_parquet(a.from_parquet) if a.from_parquet else docs_online(a.edu, a.version)
            chunks = jsonl_chunks(docs, work, a.chunk_mb << 20)
        for chunk in chunks:
            sub = tempfile.mkdtemp(prefix="tok.", dir=work)
            feed(writer, tokenize_file(prepare_data, tok_dir, chunk, sub, a.threads))
            shutil.rmtree(sub)
            if not a.from_jsonl:
                os.remove(chunk)
            print("fineweb.py: %d tokens so far" % writer.total, flush=True)
            if writer.full():
                break
        written = writer.close()
        ok = True
    finally:
        if not ok:
            writer.abort()
        shutil.rmtree(work, ignore_errors=True)
    if not written:
        die("no tokens were produced")
    for path, n in written:
        print("%s  %d tokens" % (path, n))
    print("fineweb.py: %d tokens in %d shards (first = val) in %s" % (writer.total, len(written), out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
