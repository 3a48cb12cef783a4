#!/usr/bin/env bash
# Test of scripts/plot_log.py on real tiny runs of train_gpt2 (softmax, and lssa with p = 3): the
# PNG is written and is a valid PNG (chunk CRCs, IDAT inflates to the image size, not blank), each
# run is summarised under its attention config with its step / val counts, a resumed (appended)
# log does not count steps twice, and a missing run gives one error line.
# Usage: test_plot_log.sh BUILD_DIR. Prints "N passed, M failed" last; exit 1 on failure.
set -u
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:?usage: test_plot_log.sh BUILD_DIR}" && pwd)
PLOT=$REPO/scripts/plot_log.py
PY=/usr/bin/python3
W=$(mktemp -d /tmp/lssa_plot.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"  # ok, bad, expect_error

"$BUILD/test/tools/make_test_shards" --out "$W/s" --vocab 64 --train-tokens 30000 --val-tokens 4096 --shards 1 >/dev/null ||
  { echo "cannot make shards"; exit 1; }
TINY=(--model tiny --vocab-size 64 --train-data "$W/s_train_*.bin" --val-data "$W/s_val_000000.bin" --batch 4
      --total-batch 256 --steps 20 --lr 3e-3 --warmup 2 --val-every 5 --val-tokens 512 --threads 2)
"$BUILD/train_gpt2" "${TINY[@]}" --out "$W/softmax" >/dev/null 2>&1 &&
  "$BUILD/train_gpt2" "${TINY[@]}" --attn lssa --reweight-p 3 --out "$W/lssa_p3" >/dev/null 2>&1 ||
  { echo "training runs failed"; exit 1; }

# valid_png FILE: PNG signature, every chunk's CRC, IHDR first / IEND last, the inflated IDAT is
# exactly height rows of (1 + width * bytes per pixel), and the pixels are not all one colour.
valid_png() {
  "$PY" - "$1" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "signature"
pos, chunks = 8, []
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0], kind
    chunks.append((kind, body))
    pos += 12 + n
assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND", [c[0] for c in chunks]
w, h, depth, ctype = struct.unpack(">IIBB", chunks[0][1][:10])
bpp = {2: 3, 6: 4}[ctype] * depth // 8
raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
assert len(raw) == h * (1 + w * bpp), (len(raw), w, h, bpp)
import matplotlib.image
img = matplotlib.image.imread(sys.argv[1])
assert img.shape[:2] == (h, w) and img.std() > 0.01, "blank image"
print(f"{w}x{h}")
EOF
}

out=$("$PY" "$PLOT" "$W/softmax" "$W/lssa_p3" -o "$W/curves.png" 2>&1)
if size=$(valid_png "$W/curves.png"); then ok "two runs -> $W/curves.png, a valid $size PNG"; else bad "PNG invalid: $size"; fi
grep -q '^softmax: 20 steps (last train loss [0-9.]*), 5 val points' <<<"$out" &&
  grep -q '^lssa + reweight p=3: 20 steps (last train loss [0-9.]*), 5 val points' <<<"$out" &&
  ok "runs labelled by attention config, 20 steps and 5 val points each" || bad "summary: $out"

# the default output: RUN_DIR/curves.png; a resumed run's log (appended) counts each step once
cat "$W/softmax/log.jsonl" "$W/softmax/log.jsonl" >"$W/twice.jsonl" && mkdir -p "$W/twice" && mv "$W/twice.jsonl" "$W/twice/log.jsonl"
out=$("$PY" "$PLOT" "$W/twice" 2>&1) && valid_png "$W/twice/curves.png" >/dev/null &&
  grep -q '^softmax: 20 steps .* 5 val points' <<<"$out" && ok "default -o RUN_DIR/curves.png; repeated steps counted once" ||
  bad "default output / repeated steps: $out"

# a missing run: one error line, non-zero exit, no PNG
"$PY" "$PLOT" "$W/nope" -o "$W/none.png" >"$W/o.txt" 2>"$W/e.txt"
rc=$?
[ $rc -ne 0 ] && [ "$(grep -c '' "$W/e.txt")" -eq 1 ] && grep -q '^plot_log.py: error: cannot read' "$W/e.txt" && [ ! -e "$W/none.png" ] &&
  ok "missing run: $(cat "$W/e.txt")" || bad "missing run (rc=$rc): $(cat "$W/e.txt")"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
