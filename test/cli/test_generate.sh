#!/usr/bin/env bash
# End-to-end tests of text generation with the real GPT-2 tokenizer (CPU backend):
#   - a tiny GPT-2-vocabulary model trained on one repeated sentence has memorised it: the
#     samples of train_gpt2 --sample-every and the greedy continuation of eval_gpt2 --prompt
#     are that sentence, decoded to text;
#   - the default sample prompt is the start of the first validation window; without a
#     tokenizer the samples are token ids; seeded sampling is reproducible;
#   - bad input gives one "error:" line.
# Usage: test_generate.sh BUILD_DIR TOKENIZER_DIR. Prints "N passed, M failed" last; exit 1 on failure.
set -u
BUILD=$(cd "${1:?usage: test_generate.sh BUILD_DIR TOKENIZER_DIR}" && pwd)
TOK=${2:?usage: test_generate.sh BUILD_DIR TOKENIZER_DIR}
TRAIN=$BUILD/train_gpt2
EVAL=$BUILD/eval_gpt2
PREP=$BUILD/data/prepare_data
W=$(mktemp -d /tmp/lssa_gen.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# no default tokenizer: every test below says which one it uses
export LSSA_DATA_DIR=$W/no_data_dir
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"  # ok, bad, expect_error

SENTENCE="The quick brown fox jumps over the lazy dog."
/usr/bin/python3 -c "
s = '$SENTENCE '
open('$W/train.txt', 'w').write(s * 2000)
open('$W/val.txt', 'w').write(s * 300)"
"$PREP" --tokenizer-dir "$TOK" --out-prefix "$W/fox" --no-progress "$W/train.txt" --val-inputs "$W/val.txt" >/dev/null ||
  { echo "prepare_data failed"; exit 1; }
# tiny model, GPT-2 vocabulary, T=32: 40 steps memorise the sentence (val loss ~0.6)
TINY=(--model tiny --seq-len 32 --train-data "$W/fox_train_000000.bin" --val-data "$W/fox_val_000000.bin"
      --batch 2 --total-batch 64 --lr 1e-2 --warmup 2 --val-every 0 --val-tokens 64 --threads 2)

# ---- train_gpt2 --sample-every -----------------------------------------------------------------
"$TRAIN" "${TINY[@]}" --steps 40 --sample-every 20 --sample-tokens 10 --sample-prompt "The quick brown" \
  --tokenizer-dir "$TOK" --out "$W/run" >"$W/run.log" 2>&1 || { bad "training run"; tail -3 "$W/run.log"; }
n=$(grep -c '^sample    | step' "$W/run.log")
last=$(grep '^sample    | step     40 |' "$W/run.log")
if [ "$n" -eq 2 ] && grep -q ' fox jumps over the lazy dog\. The quick brown$' <<<"$last"; then
  ok "train samples at steps 20 and 40; the last is the memorised sentence: ${last#*| step     40 | }"
else
  bad "train samples ($n lines): $(grep '^sample' "$W/run.log")"
fi
/usr/bin/python3 -c "
import json
ev = [json.loads(l) for l in open('$W/run/log.jsonl')]
s = [e for e in ev if e['event'] == 'sample']
assert [e['step'] for e in s] == [20, 40], s
assert all(len(e['tokens']) == 10 and all(0 <= t < 50257 for t in e['tokens']) for e in s), s
" && ok "log.jsonl has the sample events with their token ids" || bad "log.jsonl sample events"

# the default prompt: the first tokens of the first validation window (EOT + the sentence)
"$TRAIN" "${TINY[@]}" --steps 2 --sample-every 1 --sample-tokens 4 --tokenizer-dir "$TOK" >"$W/def.log" 2>&1
grep -q '^samples   : every 1 steps, 4 tokens, greedy, as text .*| prompt <|endoftext|>The quick brown fox' "$W/def.log" &&
  [ "$(grep -c '^sample    | step' "$W/def.log")" -eq 2 ] &&
  ok "default prompt = start of the first validation window, decoded" || bad "default prompt: $(grep '^sample' "$W/def.log")"
# the default tokenizer folder: $LSSA_DATA_DIR/tokenizer
mkdir -p "$W/data_dir" && ln -s "$(cd "$TOK" && pwd)" "$W/data_dir/tokenizer"
LSSA_DATA_DIR=$W/data_dir "$TRAIN" "${TINY[@]}" --steps 1 --sample-every 1 --sample-tokens 4 >"$W/dd.log" 2>&1 &&
  grep -q "as text (tokenizer $W/data_dir/tokenizer)" "$W/dd.log" && ok "the tokenizer is found in \$LSSA_DATA_DIR/tokenizer" ||
  bad "default tokenizer folder: $(grep -E '^(samples|error)' "$W/dd.log")"
# no tokenizer: ids, no failure
"$TRAIN" "${TINY[@]}" --steps 1 --sample-every 1 --sample-tokens 4 >"$W/ids.log" 2>&1 &&
  grep -qE '^sample    \| step      1 \| \[[0-9]+ [0-9]+ [0-9]+ [0-9]+\]$' "$W/ids.log" &&
  grep -q 'as token ids (no tokenizer in' "$W/ids.log" && ok "without a tokenizer the samples are token ids" ||
  bad "samples without a tokenizer: $(grep -E '^(sample|error)' "$W/ids.log")"

# ---- eval_gpt2 --prompt -------------------------------------------------------------------------
out=$("$EVAL" --ckpt "$W/run" --prompt "The quick brown" --max-new-tokens 7 --top-k 1 --tokenizer-dir "$TOK" 2>"$W/err.txt")
[ "$out" = "$SENTENCE" ] && ok "eval --prompt, greedy: '$out'" || bad "eval greedy: '$out' $(cat "$W/err.txt")"
out0=$("$EVAL" --ckpt "$W/run" --prompt "The quick brown" --max-new-tokens 7 --temperature 0 --tokenizer-dir "$TOK" 2>/dev/null)
[ "$out0" = "$out" ] && ok "--temperature 0 is greedy" || bad "--temperature 0: '$out0'"
grep -q "3 prompt tokens + 7 new, window 32 | greedy" "$W/err.txt" && ok "eval header on stderr" || bad "eval header: $(cat "$W/err.txt")"
s1=$("$EVAL" --ckpt "$W/run" --prompt "The lazy" --max-new-tokens 20 --top-k 50 --temperature 2 --seed 7 --tokenizer-dir "$TOK" 2>/dev/null)
s2=$("$EVAL" --ckpt "$W/run" --prompt "The lazy" --max-new-tokens 20 --top-k 50 --temperature 2 --seed 7 --tokenizer-dir "$TOK" 2>/dev/null)
s3=$("$EVAL" --ckpt "$W/run" --prompt "The lazy" --max-new-tokens 20 --top-k 50 --temperature 2 --seed 8 --tokenizer-dir "$TOK" 2>/dev/null)
[ -n "$s1" ] && [ "$s1" = "$s2" ] && [ "$s1" != "$s3" ] && ok "seeded top-k: same seed, same text; another seed, another" ||
  bad "seeded sampling: '$s1' / '$s2' / '$s3'"
# past T_train: the window slides (default) or extends with RoPE scaling (--len)
out=$("$EVAL" --ckpt "$W/run" --prompt "The quick brown" --max-new-tokens 45 --top-k 1 --tokenizer-dir "$TOK" 2>/dev/null) &&
  [[ "$out" == "The quick brown fox jumps over the lazy dog. The quick brown fox"* ]] &&
  ok "48 tokens through a sliding 32-token window" || bad "sliding window: '$out'"
"$EVAL" --ckpt "$W/run" --prompt "The quick brown" --max-new-tokens 45 --len 64 --tokenizer-dir "$TOK" >/dev/null 2>"$W/err.txt" &&
  grep -q "window 64 (rope scaling ntk)" "$W/err.txt" && ok "--len 64 extends the window with NTK RoPE scaling" ||
  bad "--len 64: $(cat "$W/err.txt")"
LSSA_DATA_DIR=$W/data_dir "$EVAL" --ckpt "$W/run" --prompt "The quick brown" --max-new-tokens 2 >/dev/null 2>&1 &&
  ok "eval finds the tokenizer in \$LSSA_DATA_DIR/tokenizer" || bad "eval default tokenizer folder"

# ---- eval_gpt2 --task passkey (plumbing: a model trained on one sentence retrieves nothing) -----
"$EVAL" --ckpt "$W/run" --task passkey --len 96,128 --passkey-depths 0,50,100 --passkey-keys 2 --seed 5 \
  --tokenizer-dir "$TOK" --json "$W/pk.json" >"$W/pk.txt" 2>"$W/pk.err" &&
  /usr/bin/python3 -c "
import json
r = json.load(open('$W/pk.json'))
assert [(x['len'], x['depth']) for x in r] == [(l, d) for l in (96, 128) for d in (0, 50, 100)], r
for x in r:
    assert x['task'] == 'passkey' and x['trials'] == 2 and len(x['outputs']) == 2 and x['tokenizer'] == 'gpt2', x
    assert x['correct'] == round(x['accuracy'] * 2) and x['rope_scaling'] == 'ntk' and x['key_seed'] == 5, x
    assert all(len(k) == 5 and k.isdigit() for k in x['keys']) and x['keys'] == r[0]['keys'], x
" && grep -qE '^passkey accuracy \(%\), p=0$' "$W/pk.txt" && grep -qE '^ +128 +4( +[0-9.]+){4}$' "$W/pk.txt" &&
  grep -q 'tokenizer gpt2 | 2 keys per cell (seed 5)' "$W/pk.txt" &&
  ok "eval --task passkey: a cell per (length, depth), the table and the JSON records" ||
  bad "eval --task passkey: $(cat "$W/pk.txt" "$W/pk.err" | tail -8)"
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../../scripts/plot_eval.py" "$W/pk.json" -o "$W/pk.png" >/dev/null &&
  [ -s "$W/pk.png" ] && ok "plot_eval.py draws the passkey heat map" || bad "plot_eval.py passkey heat map"
expect_error "eval --task passkey: a length shorter than the prompt" "$EVAL" --ckpt "$W/run" --task passkey --len 32 --tokenizer-dir "$TOK"
expect_error "eval --task passkey without any tokenizer" "$EVAL" --ckpt "$W/run" --task passkey --len 96
# ---- byte-level models: the tokenizer comes from the shard header and the checkpoint ------------
"$PREP" --tokenizer bytes --out-prefix "$W/bfox" --no-progress "$W/train.txt" --val-inputs "$W/val.txt" >/dev/null ||
  bad "prepare_data --tokenizer bytes"
BYTES=(--model tiny --seq-len 64 --train-data "$W/bfox_train_000000.bin" --val-data "$W/bfox_val_000000.bin"
       --batch 4 --total-batch 256 --lr 1e-2 --warmup 2 --val-every 0 --val-tokens 128 --threads 2)
# 200 steps: val loss ~1.3 nats/byte, enough for the greedy continuation to start with " fox"
"$TRAIN" "${BYTES[@]}" --steps 200 --sample-every 200 --sample-tokens 12 --sample-prompt "The quick brown" --out "$W/brun" \
  >"$W/brun.log" 2>&1 || { bad "byte-level training run"; tail -3 "$W/brun.log"; }
grep -q "V=257 (Vp=384, tokenizer bytes)" "$W/brun.log" && grep -q "as text (bytes) | prompt The quick brown$" "$W/brun.log" &&
  ok "byte shards: V = 257 (Vp = 384), samples shown as text, no tokenizer files" ||
  bad "byte shards: V and samples as text" "$(grep -E '^(model|samples)' "$W/brun.log")"
out=$("$EVAL" --ckpt "$W/brun" --prompt "The quick brown" --max-new-tokens 12 --top-k 1 2>"$W/berr.txt")
[[ "$out" == "The quick brown fox"* ]] && [ "${#out}" -eq 27 ] && grep -q "15 prompt tokens + 12 new" "$W/berr.txt" &&
  ok "eval --prompt on a byte-level model: '$out'" || bad "eval --prompt on a byte-level model: '$out' $(cat "$W/berr.txt")"
expect_error "eval: a byte-level model on GPT-2 shards" "$EVAL" --ckpt "$W/brun" --data "$W/fox_val_000000.bin"
expect_error "train: --tokenizer gpt2 on byte shards" "$TRAIN" "${BYTES[@]}" --steps 1 --tokenizer gpt2
expect_error "train: byte training data with GPT-2 validation data" "$TRAIN" "${BYTES[@]}" --steps 1 --val-data "$W/fox_val_000000.bin"
# passkey on a byte-level model: the checkpoint's tokenizer (bytes) builds the prompts, no tokenizer files
"$EVAL" --ckpt "$W/brun" --task passkey --len 1024 --passkey-depths 50 --passkey-keys 1 --json "$W/bpk.json" \
  >"$W/bpk.txt" 2>"$W/bpk.err" &&
  /usr/bin/python3 -c "
import json
r = json.load(open('$W/bpk.json'))
assert len(r) == 1 and r[0]['tokenizer'] == 'bytes' and r[0]['len'] == 1024 and r[0]['trials'] == 1, r
" && grep -q 'tokenizer bytes | 1 keys per cell' "$W/bpk.txt" &&
  ok "eval --task passkey on a byte-level model" || bad "eval --task passkey on a byte-level model: $(cat "$W/bpk.txt" "$W/bpk.err" | tail -8)"

# ---- bad input ----------------------------------------------------------------------------------
expect_error "eval --max-new-tokens 0" "$EVAL" --ckpt "$W/run" --prompt "The" --max-new-tokens 0 --tokenizer-dir "$TOK"
expect_error "eval: a missing --tokenizer-dir" "$EVAL" --ckpt "$W/run" --prompt "The" --tokenizer-dir "$W/nope"
expect_error "eval --prompt without any tokenizer" "$EVAL" --ckpt "$W/run" --prompt "The"
expect_error "eval --prompt with --data" "$EVAL" --ckpt "$W/run" --prompt "The" --data "$W/fox_val_000000.bin"
expect_error "eval --prompt with two --len" "$EVAL" --ckpt "$W/run" --prompt "The" --len 32,64 --tokenizer-dir "$TOK"
expect_error "eval --top-k -1" "$EVAL" --ckpt "$W/run" --prompt "The" --top-k=-1 --tokenizer-dir "$TOK"
expect_error "eval --temperature -1" "$EVAL" --ckpt "$W/run" --prompt "The" --temperature=-1 --tokenizer-dir "$TOK"
expect_error "train: a missing --tokenizer-dir" "$TRAIN" "${TINY[@]}" --steps 1 --sample-every 1 --tokenizer-dir "$W/nope"
expect_error "train --sample-prompt without a tokenizer" "$TRAIN" "${TINY[@]}" --steps 1 --sample-every 1 --sample-prompt "The"
expect_error "train --sample-tokens 0" "$TRAIN" "${TINY[@]}" --steps 1 --sample-every 1 --sample-tokens 0

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
