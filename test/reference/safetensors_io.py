"""Minimal safetensors reader/writer (no external dependency).

File layout:
  8 bytes   little-endian uint64 N (header length)
  N bytes   UTF-8 JSON: {name: {"dtype": D, "shape": [...], "data_offsets": [b, e]},
                         "__metadata__": {str: str}}   (metadata optional)
  rest      raw little-endian tensor data; offsets are relative to the start of this region.

Supported dtypes: F32, F64, I32, I64. Tensors are written in sorted name order, packed
without gaps (the header is space-padded so the data region starts 8-byte aligned).
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
}
_NP_TO_ST = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}

MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def _to_numpy(t):
    try:
        import torch
        if isinstance(t, torch.Tensor):
            return t.detach().cpu().contiguous().numpy()
    except ImportError:  # pragma: no cover
        pass
    return np.ascontiguousarray(t)


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array or torch tensor (F32/F64/I32/I64)."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError("tensor name '__metadata__' is reserved")
        a = _to_numpy(tensors[name])
        dt = np.dtype(a.dtype).newbyteorder("=")
        if dt not in _NP_TO_ST:
            raise SafetensorsError(f"{name}: unsupported dtype {a.dtype}")
        st = _NP_TO_ST[dt]
        raw = np.ascontiguousarray(a, dtype=_DTYPES[st]).tobytes()
        header[name] = {"dtype": st, "shape": [int(s) for s in a.shape],
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        md = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError("metadata keys and values must be strings")
            md[k] = v
        header["__metadata__"] = md
    hb = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    hb += b" " * ((-(8 + len(hb))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> numpy array, metadata dict). Validates the file strictly."""
    with open(path, "rb") as f:
        data = f.read()
    return loads(data, what=str(path))


def loads(data, what="<bytes>"):
    if len(data) < 8:
        raise SafetensorsError(f"{what}: file too short ({len(data)} bytes) for header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER or 8 + n > len(data):
        raise SafetensorsError(f"{what}: header length {n} exceeds file size {len(data)}")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{what}: header is not valid JSON: {e}")
    if not isinstance(header, dict):
        raise SafetensorsError(f"{what}: header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"{what}: __metadata__ must map strings to strings")
    body = memoryview(data)[8 + n:]
    out = {}
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{what}: tensor '{name}' has a malformed entry")
        dt = info["dtype"]
        if dt not in _DTYPES:
            raise SafetensorsError(f"{what}: tensor '{name}' has unsupported dtype {dt!r}")
        shape = info["shape"]
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise SafetensorsError(f"{what}: tensor '{name}' has a bad shape {shape!r}")
        offs = info["data_offsets"]
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) for o in offs) or not 0 <= offs[0] <= offs[1]):
            raise SafetensorsError(f"{what}: tensor '{name}' has bad data_offsets {offs!r}")
        b, e = offs
        if e > len(body):
            raise SafetensorsError(f"{what}: tensor '{name}' data [{b},{e}) beyond end of file "
                                   f"(data region {len(body)} bytes)")
        nel = 1
        for s in shape:
            nel *= s
        if e - b != nel * _DTYPES[dt].itemsize:
            raise SafetensorsError(f"{what}: tensor '{name}' byte size {e - b} does not match "
                                   f"shape {shape} x {dt}")
        spans.append((b, e, name))
        out[name] = np.frombuffer(body[b:e], dtype=_DTYPES[dt]).reshape(shape).copy()
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            raise SafetensorsError(f"{what}: tensor '{name}' overlaps or leaves a gap at {pos}")
        pos = e
    if pos != len(body):
        raise SafetensorsError(f"{what}: {len(body) - pos} trailing bytes after the last tensor")
    return out, dict(metadata)
