#!/usr/bin/env bash
# eval_gpt2 --attn-stats end to end on a tiny trained checkpoint (CPU backend):
#   - the JSON records carry attn_stats per layer (and per head) for every (length, p), with the
#     --per-position buckets, consistent row counts and values in their ranges; p > 0 adds "base";
#   - the losses (mean and per position) are the same with and without --attn-stats;
#   - the table is printed; scripts/plot_eval.py --kind attn-stats draws it;
#   - misuse is one error line.
# Usage: test_attn_stats.sh BUILD_DIR. Prints "N passed, M failed" last; exit code 1 on any failure.
set -u
BUILD=$(cd "${1:?usage: test_attn_stats.sh BUILD_DIR}" && pwd)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TRAIN=$BUILD/train_gpt2
EVAL=$BUILD/eval_gpt2
PY=/usr/bin/python3
W=$(mktemp -d /tmp/lssa_attnstats.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"  # ok, bad, expect_error

"$BUILD/test/tools/make_test_shards" --out "$W/s" --vocab 64 --train-tokens 30000 --val-tokens 4096 --shards 1 >/dev/null ||
  { echo "cannot make shards"; exit 1; }
# tiny preset: L = 2, NH = 2, C = 64, T_train = 64
"$TRAIN" --model tiny --vocab-size 64 --train-data "$W/s_train_*.bin" --val-data "$W/s_val_000000.bin" --batch 4 \
  --total-batch 256 --steps 8 --lr 3e-3 --warmup 2 --val-every 4 --val-tokens 512 --threads 2 --out "$W/run" \
  >"$W/train.log" 2>&1 || { echo "training failed"; cat "$W/train.log"; exit 1; }

EV=(--ckpt "$W/run" --data "$W/s_val_000000.bin" --len 64,256 --tokens 512 --reweight-p 0,15 --per-position)
"$EVAL" "${EV[@]}" --json "$W/plain.json" >"$W/plain.txt" 2>&1 || bad "eval without --attn-stats: $(tail -3 "$W/plain.txt")"
"$EVAL" "${EV[@]}" --attn-stats --attn-stats-heads --json "$W/stats.json" >"$W/stats.txt" 2>&1 &&
  ok "eval --attn-stats runs" || bad "eval --attn-stats: $(tail -3 "$W/stats.txt")"

"$PY" - "$W/plain.json" "$W/stats.json" <<'PYEOF' && ok "attn_stats records: layers, heads, buckets, sets, row counts and ranges" || bad "attn_stats records"
import json, math, sys
plain, stats = (json.load(open(p)) for p in sys.argv[1:3])
L, NH = 2, 2
assert [(r["len"], r["reweight_p"]) for r in stats] == [(64, 0), (256, 0), (64, 15), (256, 15)], stats
for r in stats:
    a = r["attn_stats"]
    windows = r["windows"]
    want_sets = ["final", "base"] if r["reweight_p"] > 0 else ["final"]
    assert a["sets"] == want_sets, a["sets"]
    assert [l["layer"] for l in a["layers"]] == list(range(L))
    edges = [(b["lo"], b["hi"]) for b in r["per_position"]]  # the same buckets as --per-position
    for layer in a["layers"]:
        assert ("base" in layer) == (r["reweight_p"] > 0)
        assert len(layer["heads"]) == NH and [h["head"] for h in layer["heads"]] == list(range(NH))
        for s in want_sets:
            bs = layer[s]
            assert [(b["lo"], b["hi"]) for b in bs] == edges, (bs, edges)
            for b in bs:
                n = b["hi"] - b["lo"] + 1
                assert b["rows"] == NH * windows * n and b["empty_rows"] == 0, b
                # softmax rows: mass 1, entropy in [0, ln hi], sink and max in [0, 1], max >= 1/hi
                assert abs(b["mass"] - 1) < 1e-5, b  # fp32 rows: Σ of up to 256 weights of 1
                assert -1e-6 <= b["entropy"] <= math.log(b["hi"]) + 1e-5, b
                assert 0 <= b["sink"] <= 1 + 1e-6 and 1 / b["hi"] - 1e-6 <= b["max"] <= 1 + 1e-6, b
            first = bs[0]  # position 1: its only key is the first token
            assert first["hi"] == 1 and abs(first["entropy"]) < 1e-6 and abs(first["sink"] - 1) < 1e-6, first
            for h in layer["heads"]:
                assert [(b["lo"], b["hi"]) for b in h[s]] == edges
                assert all(b["rows"] == windows * (b["hi"] - b["lo"] + 1) for b in h[s])
            # the layer's mean is the mean of the heads' means (every head has the same rows)
            for k, b in enumerate(bs):
                m = sum(h[s][k]["entropy"] for h in layer["heads"]) / NH
                assert abs(m - b["entropy"]) < 1e-9 * max(1, abs(m)), (m, b)
# re-weighting at p = 15 concentrates rows: past the first buckets the final entropy is below the base one
for r in stats:
    if r["reweight_p"] > 0:
        for layer in r["attn_stats"]["layers"]:
            lo = [(f["entropy"], b["entropy"]) for f, b in zip(layer["final"], layer["base"]) if f["lo"] > 4]
            assert all(f <= b + 1e-6 for f, b in lo), lo
# turning the statistics on changes no loss
for p, s in zip(plain, stats):
    assert "attn_stats" not in p
    assert p["loss"] == s["loss"] and p["per_position"] == s["per_position"], (p["loss"], s["loss"])
PYEOF
grep -q '^attention statistics, len=256, p=15' "$W/stats.txt" && grep -q '(base: before re-weighting)' "$W/stats.txt" &&
  grep -qE '^ +1 +65\.\.128 ' "$W/stats.txt" && ok "the table is printed (layer 1, bucket 65..128, base columns)" ||
  bad "table: $(grep -A3 'attention statistics' "$W/stats.txt" | head -8)"

# an unnormalised variant on the same weights: mass != 1, still valid JSON (no NaN)
"$EVAL" --ckpt "$W/run" --data "$W/s_val_000000.bin" --len 128 --tokens 128 --attn sigmoid --attn-stats \
  --json "$W/sigmoid.json" >"$W/sigmoid.txt" 2>&1 &&
  "$PY" -c "
import json; r = json.load(open('$W/sigmoid.json'))[0]
bs = r['attn_stats']['layers'][0]['final']
assert r['attn'] == 'sigmoid' and r['attn_stats']['sets'] == ['final'] and 'heads' not in r['attn_stats']['layers'][0]
assert any(abs(b['mass'] - 1) > 1e-3 for b in bs), bs
" && ok "--attn sigmoid --attn-stats: unnormalised rows report their mass" || bad "sigmoid: $(tail -3 "$W/sigmoid.txt")"

PLOT=$REPO/scripts/plot_eval.py
"$PY" "$PLOT" "$W/stats.json" "$W/sigmoid.json" --kind attn-stats -o "$W/stats.png" >/dev/null 2>"$W/plot.err" &&
  [ -s "$W/stats.png" ] && [ "$(head -c 4 "$W/stats.png" | tail -c 3)" = "PNG" ] &&
  ok "plot_eval.py --kind attn-stats draws the statistics" || bad "plot_eval.py --kind attn-stats: $(cat "$W/plot.err")"
"$PY" "$PLOT" "$W/stats.json" --kind attn-stats --attn-stats-len 64 -o "$W/stats64.png" >/dev/null 2>&1 && [ -s "$W/stats64.png" ] &&
  ok "plot_eval.py --attn-stats-len 64" || bad "plot_eval.py --attn-stats-len 64"
"$PY" "$PLOT" "$W/plain.json" --kind attn-stats -o "$W/none.png" >/dev/null 2>"$W/plot.err"
[ $? -ne 0 ] && grep -q 'no attention statistics' "$W/plot.err" && [ ! -e "$W/none.png" ] &&
  ok "plot_eval.py --kind attn-stats without statistics: one error" || bad "plot without statistics: $(cat "$W/plot.err")"

expect_error "--attn-stats with --task passkey" "$EVAL" --ckpt "$W/run" --task passkey --attn-stats
expect_error "--attn-stats with --prompt" "$EVAL" --ckpt "$W/run" --prompt hi --attn-stats
expect_error "--attn-stats-heads without --attn-stats" "$EVAL" --ckpt "$W/run" --data "$W/s_val_000000.bin" --attn-stats-heads
expect_error "--attn-stats with --attn-impl fused (CPU)" "$EVAL" --ckpt "$W/run" --data "$W/s_val_000000.bin" --attn-stats \
  --attn-impl fused --device cpu

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
