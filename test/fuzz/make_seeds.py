#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (test/fuzz/corpus/<target>/): small valid
files of each format plus a few near-misses. Deterministic; rerun after a format change:
    /usr/bin/python3 test/fuzz/make_seeds.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    """tensors: {name: (dtype, shape, bytes)} -> safetensors bytes (name order, packed)."""
    h, blob = {}, b""
    if metadata is not None:
        h["__metadata__"] = metadata
    for name in sorted(tensors):
        dt, shape, raw = tensors[name]
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    hs = json.dumps(h, separators=(",", ":")).encode()
    hs += b" " * (-len(hs) % 8)
    return struct.pack("<Q", len(hs)) + hs + blob


def f32(n, start=0.0):
    return struct.pack("<%df" % n, *[start + 0.25 * i for i in range(n)])


# ---- safetensors -------------------------------------------------------------------------------
put("fuzz_safetensors", "two_tensors", safetensors({"a": ("F32", [2, 2], f32(4)), "b": ("I32", [3], struct.pack("<3i", 1, 2, 3))},
                                                   {"k": "v"}))
put("fuzz_safetensors", "f64_i64", safetensors({"x": ("F64", [2], struct.pack("<2d", 1.5, -2)), "y": ("I64", [1], struct.pack("<q", 7))}))
put("fuzz_safetensors", "empty_tensor", safetensors({"e": ("F32", [0, 3], b"")}))
# F64 and I32 without elements: the accessors' memcpy path (memcpy into a null data() was UB; found by fuzzing)
put("fuzz_safetensors", "zero_elements", safetensors({"e": ("F64", [0, 3], b""), "i": ("I32", [0], b"")}))
put("fuzz_safetensors", "header_only", safetensors({}))

# ---- checkpoint: a micro lssa-gpt2 model (L=1, NH=1, C=2, V=2, Vp=128) and a state ------------------
L, C, Vp = 1, 2, 128
layout = [("wte", [Vp, C])]
for l in range(L):
    p = "h.%d." % l
    layout += [(p + "ln_1.weight", [C]), (p + "ln_1.bias", [C]), (p + "attn.c_attn.weight", [3 * C, C]),
               (p + "attn.c_attn.bias", [3 * C]), (p + "attn.c_proj.weight", [C, C]), (p + "attn.c_proj.bias", [C]),
               (p + "ln_2.weight", [C]), (p + "ln_2.bias", [C]), (p + "mlp.c_fc.weight", [4 * C, C]),
               (p + "mlp.c_fc.bias", [4 * C]), (p + "mlp.c_proj.weight", [C, 4 * C]), (p + "mlp.c_proj.bias", [C])]
layout += [("ln_f.weight", [C]), ("ln_f.bias", [C])]
tensors = {}
for name, shape in layout:
    n = 1
    for d in shape:
        n *= d
    tensors[name] = ("F32", shape, f32(n, 0.01))
meta = {"format": "lssa-gpt2", "format_version": "1", "n_layer": str(L), "n_head": "1", "n_embd": str(C),
        "vocab_size": "2", "padded_vocab_size": str(Vp), "seq_len": "4", "rope_base": "10000", "attn": "softmax",
        "reweight_p": "0", "sigmoid_bias": "train", "relu_divisor": "seq", "step": "3"}
put("fuzz_checkpoint", "model_micro", b"\x00" + safetensors(tensors, meta))
big = dict(meta, n_layer="20000")
put("fuzz_checkpoint", "model_claims_more", b"\x00" + safetensors(tensors, big))


def state(j, n):
    js = json.dumps(j).encode()
    return b"LSSASTAT" + struct.pack("<Q", len(js)) + js + f32(2 * n)


st = {"step": 3, "seed": 1, "loader": [0, 1, 2], "fingerprint": "{}", "n_params": 4}
put("fuzz_checkpoint", "state_whole", b"\x01" + state(st, 4))
put("fuzz_checkpoint", "state_shard", b"\x01" + state(dict(st, shard=[0, 2], world=2), 2))

# ---- shards -------------------------------------------------------------------------------------
def shard(tokens, count=None):
    hdr = [20240520, 1, len(tokens) if count is None else count] + [0] * 253
    return struct.pack("<256i", *hdr) + struct.pack("<%dH" % len(tokens), *tokens)


put("fuzz_shard", "valid_40", shard([(7 * i) % 300 for i in range(40)]))
put("fuzz_shard", "oov", shard([(7 * i) % 300 for i in range(39)] + [300]))
put("fuzz_shard", "count_mismatch", shard(list(range(20)), 21))

# ---- tokenizer files (encoder.json NUL vocab.bpe) -------------------------------------------------
put("fuzz_tokenizer_files", "tiny", '{"a": 0, "b": 1, "ab": 2}\x00#version: 0.2\na b\n')
put("fuzz_tokenizer_files", "empty_merges", '{"!": 0}\x00#version: 0.2\n')

# ---- tokenizer round trip ---------------------------------------------------------------------------
put("fuzz_tokenizer_roundtrip", "english", "Hello world! It's 2026, and we've got 3 tokens<|endoftext|>next doc.")
put("fuzz_tokenizer_roundtrip", "unicode", "naïve café — 日本語 テキスト 🙂\t\n  spaces   ")
put("fuzz_tokenizer_roundtrip", "bytes", b"\xff\xfe\x80abc\xc3")

# ---- config files -------------------------------------------------------------------------------
put("fuzz_config", "valid", 'model = "tiny"\nvocab-size = 64\ntrain-data = "x.bin"\nbatch = 4\ntotal-batch = 256\nsteps = 3\n')
put("fuzz_config", "section", '[default]\nattn = "lssa"\nreweight-p = 3\ntrain-data = "a.bin,b.bin"\n')
put("fuzz_config", "duplicate", 'steps = 2\nsteps = 3\n')
put("fuzz_config", "array", 'steps = [2, 3]\n')
put("fuzz_config", "nonfinite", 'train-data = "x.bin"\nrope-base = inf\ngrad-clip = nan\n')
