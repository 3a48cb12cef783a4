#!/usr/bin/env bash
# End-to-end test of scripts/reproduce/ at the tiny scale (CPU, about a minute on 2 cores):
#   1. Figure 2 (the p sweep on Table 4's LSSA and Softmax checkpoints): trains both rows for a few
#      steps on a synthetic corpus, evaluates every p of the configs at 1x, 4x, 16x T_train, and
#      checks results.csv (columns, every (row, p, length) present, finite losses), figure2.md and
#      the two PNGs; a rerun must train and evaluate nothing;
#   2. the outcome of a run is classified from the trainer's error line (with a stand-in trainer
#      that fails the way train_gpt2 does): "non-finite loss ... at step N" is a recorded result
#      (exit 0, "diverged at step N" in the table, kept on rerun); any other error fails (exit 1).
# Usage: test/scripts/test_reproduce.sh BUILD_DIR [TOKENIZER_DIR]   (BUILD_DIR holds train_gpt2 and eval_gpt2;
#        with TOKENIZER_DIR, GPT-2's files, the passkey target is run too)
# Exit status != 0 on failure; prints "N passed, M failed" last.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$REPO/build}" && pwd)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
REPRO="$PY $REPO/scripts/reproduce/reproduce.py"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/       /' | tail -n 20; }

# Synthetic llm.c shards: arithmetic progressions (x, x+d, x+2d, ...) of token ids < 256,
# learnable only through attention; eval documents long enough for 16 x 64 = 1024 tokens.
SHARDS="$BUILD/test/tools/make_test_shards"
"$SHARDS" --out "$W/d" --vocab 256 --train-tokens 100000 --val-tokens 8192 --seed 1 >/dev/null || exit 1
"$SHARDS" --out "$W/e" --vocab 256 --train-tokens 8192 --val-tokens 16 --seed 3 >/dev/null || exit 1
DATA=(--train-data "$W/d_train_000000.bin" --val-data "$W/d_val_000000.bin" --eval-data "$W/e_train_000000.bin")
SMALL=(--scale tiny --steps 8 --eval-tokens 256 --ratios "1,4,16" --runs-dir "$W/runs" --results-dir "$W/results")

# ---------------------------------------------------------------- 1. Figure 2 end to end
T0=$(date +%s)
if out=$($REPRO figure2 "${SMALL[@]}" "${DATA[@]}" --build-dir "$BUILD" 2>&1); then
  ok "figure2 --scale tiny runs ($(( $(date +%s) - T0 )) s)"
else
  bad "figure2 --scale tiny runs" "$out"
fi
R=$W/results/figure2/tiny-8steps
if msg=$("$PY" - "$R" "$REPO" <<'PY' 2>&1
import csv, math, os, sys, tomllib
R, REPO = sys.argv[1], sys.argv[2]
cols = ["table", "scale", "block", "row", "train_config", "eval_config", "attn", "reweight_p", "len", "len_ratio",
        "loss", "paper_loss", "status", "detail", "train_step", "eval_tokens"]
with open(os.path.join(R, "results.csv")) as f:
    rows = list(csv.DictReader(f))
    assert rows and list(rows[0].keys()) == cols, f"CSV columns {list(rows[0].keys()) if rows else []}"
# every (eval config, p, length) of the Figure 2 configs is there, with a finite loss
want = set()
for name in os.listdir(os.path.join(REPO, "configs/paper/figure2")):
    with open(os.path.join(REPO, "configs/paper/figure2", name), "rb") as f:
        ps = [float(p) for p in tomllib.load(f)["reweight-p"].split(",")]
    want |= {("configs/paper/figure2/" + name, p, r) for p in ps for r in (1, 4, 16)}
got = {(r["eval_config"], float(r["reweight_p"]), int(r["len_ratio"])) for r in rows}
assert got == want, f"missing {sorted(want - got)[:5]}, extra {sorted(got - want)[:5]}"
for r in rows:
    assert r["status"] == "done", r
    assert math.isfinite(float(r["loss"])) and 0 < float(r["loss"]) < 20, r
    assert int(r["len"]) == 64 * int(r["len_ratio"]) and r["train_step"] == "8", r
md = open(os.path.join(R, "figure2.md")).read()
assert "| row | 1x (64) | 4x (256) | 16x (1024) |" in md and "| p = 15 |" in md and "| p = 50 |" in md, md[:400]
for png in ("loss_vs_length.png", "loss_vs_p.png"):
    b = open(os.path.join(R, png), "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and len(b) > 5000, png
    w, h = int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    assert w >= 400 and h >= 300, (png, w, h)
PY
); then ok "results.csv / figure2.md / PNGs well formed"; else bad "results.csv / figure2.md / PNGs well formed" "$msg"; fi

stamp() { find "$W/runs" -type f \( -name '*.safetensors' -o -name '*.json' \) -printf '%p %T@\n' | sort; }
before=$(stamp)
if out=$($REPRO figure2 "${SMALL[@]}" "${DATA[@]}" --build-dir "$BUILD" 2>&1) &&
   grep -q "done: 0 trained, 0 evaluated, 5 skipped" <<<"$out" && [ "$(stamp)" == "$before" ]; then
  ok "a rerun skips every run and evaluation"
else
  bad "a rerun skips every run and evaluation" "$out"
fi

# ---------------------------------------------------------------- 1b. the passkey target
# reuses Table 4's softmax and LSSA checkpoints of step 1 (trained there), evaluates LSSA at p = 0
# and 15; the GPT-2 tokenizer comes from $LSSA_DATA_DIR/tokenizer (TOKENIZER_DIR, 2nd argument)
if [ -n "${2:-}" ]; then
  mkdir -p "$W/datadir" && ln -s "$(cd "$2" && pwd)" "$W/datadir/tokenizer"
  if out=$(LSSA_DATA_DIR=$W/datadir $REPRO passkey "${SMALL[@]}" "${DATA[@]}" --build-dir "$BUILD" \
             --passkey-ratios 1,2 --passkey-keys 1 2>&1) && grep -q "done: 0 trained, 2 evaluated" <<<"$out"; then
    ok "passkey --scale tiny runs on Table 4's checkpoints"
  else
    bad "passkey --scale tiny runs on Table 4's checkpoints" "$out"
  fi
  R=$W/results/passkey/tiny-8steps
  if msg=$("$PY" - "$R" <<'PY' 2>&1
import csv, os, sys
R = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(R, "results.csv"))))
got = {(r["row"], int(r["len"]), float(r["depth"])) for r in rows}
want = {(row, l, d) for row in ("softmax", "lssa", "lssa (p = 15)") for l in (64, 128) for d in (0, 25, 50, 75, 100)}
assert got == want, (sorted(got - want)[:4], sorted(want - got)[:4])
assert all(r["status"] == "done" and r["trials"] == "1" and r["accuracy"] in ("0.0000", "1.0000") for r in rows), rows[0]
md = open(os.path.join(R, "passkey.md")).read()
assert "| row | 64 (1x) | 128 (2x) |" in md and "| lssa (p = 15) |" in md and "LSSAR 86 %" in md, md[:600]
for png in ("passkey_heatmap.png", "passkey_vs_length.png"):
    b = open(os.path.join(R, png), "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) > 5000, png
PY
  ); then ok "passkey results.csv / passkey.md / PNGs well formed"; else bad "passkey results well formed" "$msg"; fi
fi

# ---------------------------------------------------------------- 2. divergence vs failure
# A stand-in train_gpt2 that stops as the real one does (tested in test/attention), next to the real eval_gpt2.
mkdir -p "$W/fake"
ln -s "$BUILD/eval_gpt2" "$W/fake/eval_gpt2"
cat > "$W/fake/train_gpt2" <<'SH'
#!/bin/sh
echo "step      1/60 | loss 10.9"
echo "${FAKE_ERROR}" >&2
exit 1
SH
chmod +x "$W/fake/train_gpt2"
FAKE=(table2 "${SMALL[@]}" "${DATA[@]}" --build-dir "$W/fake" --rows scenario2_exp_only)
export FAKE_ERROR="error: non-finite loss (inf) at step 3 (micro-batch 0): training diverged or the attention overflowed (e.g. exp_only)"
if out=$($REPRO "${FAKE[@]}" 2>&1) && grep -q "1 diverged run(s), 0 failed" <<<"$out" &&
   grep -q "diverged at step 3" "$W/results/table2/tiny-8steps/table2.md" &&
   grep -q ",diverged,error: non-finite loss (inf) at step 3" "$W/results/table2/tiny-8steps/results.csv"; then
  ok "a non-finite-loss stop is a recorded result (exit 0, 'diverged at step 3')"
else
  bad "a non-finite-loss stop is a recorded result" "$out"
fi
if out=$($REPRO "${FAKE[@]}" 2>&1) && grep -q "done: 0 trained, 0 evaluated, 1 skipped" <<<"$out"; then
  ok "a recorded divergence is not retrained"
else
  bad "a recorded divergence is not retrained" "$out"
fi
export FAKE_ERROR="error: out of memory (try a smaller --batch or --seq-len)"
if out=$($REPRO "${FAKE[@]}" --rows scenario1_linear 2>&1); then
  bad "another error fails the script (exit 1)" "$out"
elif grep -q "FAILED: configs/paper/table2/scenario1_linear.toml" <<<"$out" &&
     grep -q "scenario1_linear.toml,,linear,0,64,1,,3.4138,failed,error: out of memory" "$W/results/table2/tiny-8steps/results.csv"; then
  ok "another error fails the script (exit 1) and is reported"
else
  bad "another error fails the script (exit 1) and is reported" "$out"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
