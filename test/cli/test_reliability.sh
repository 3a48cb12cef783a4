#!/usr/bin/env bash
# Nothing lost, nothing aborts (docs/reliability.md): every case here once lost data or crashed.
#   - run directories: a fresh run refuses a --out that holds a run; a lock keeps a second
#     trainer out; temp files of a dead writer are removed on the next start;
#   - graceful stop: SIGTERM/SIGINT/SIGHUP finish the step, checkpoint, exit 128+sig, and
#     --resume continues bit-exactly (stop step drawn from a printed seed); a second signal stops
#     at once; two data-parallel ranks stop at the same step;
#   - everything validated before the first step: non-finite options, validation shards,
#     out-of-vocabulary ids anywhere in a shard, a directory given as a shard, eval's --json folder;
#   - malformed files give one "error:" line and no abort: safetensors headers of the wrong JSON
#     types, metadata that claims a huge model, state headers that disagree with the model;
#   - prepare_data refuses wildcards in --out-prefix; TOML configs are strict; the resume
#     fingerprint compares canonical data paths.
# Usage: test_reliability.sh BUILD_DIR. Prints "N passed, M failed" last; exit 1 on any failure.
set -u
BUILD=$(cd "${1:?usage: test_reliability.sh BUILD_DIR}" && pwd)
TRAIN=$BUILD/train_gpt2
EVAL=$BUILD/eval_gpt2
PREP=$BUILD/data/prepare_data
SHARDS=$BUILD/test/tools/make_test_shards
PY=/usr/bin/python3
W=$(mktemp -d /tmp/lssa_rel.XXXXXX)
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"  # ok, bad, expect_error

"$SHARDS" --out "$W/s" --vocab 64 --train-tokens 30000 --val-tokens 4096 --shards 2 || { echo "cannot make shards"; exit 1; }
TINY=(--model tiny --vocab-size 64 --train-data "$W/s_train_*.bin" --batch 4 --total-batch 256 --lr 3e-3 --warmup 2
      --val-every 0 --threads 2)
# digest of a folder's visible files (names and bytes): "nothing on disk changed"
digest() { (cd "$1" && ls | sort | xargs -r sha256sum) | sha256sum | cut -c1-16; }

# ---- 1. run directories ------------------------------------------------------------------------
"$TRAIN" "${TINY[@]}" --steps 4 --ckpt-every 2 --out "$W/runA" >/dev/null 2>&1 || bad "first run"
d0=$(digest "$W/runA")
expect_error "fresh run into a run directory" "$TRAIN" "${TINY[@]}" --steps 2 --seed 7 --out "$W/runA"
grep -q -- '--resume' "$W/err.txt" && grep -q -- '--out' "$W/err.txt" && ok "  the message names --resume and --out" ||
  bad "  the refusal does not name --resume / --out"
[ "$(digest "$W/runA")" = "$d0" ] && ok "the refused run changed nothing in the run directory" || bad "run directory changed"
# a folder with a log but no checkpoint (a run stopped before its first) has nothing to lose: reused
mkdir -p "$W/logonly" && printf '{"event":"start"}\n' >"$W/logonly/log.jsonl" && printf 'steps = 1\n' >"$W/logonly/config.toml"
"$TRAIN" "${TINY[@]}" --steps 1 --out "$W/logonly" >/dev/null 2>&1 && [ -f "$W/logonly/model_00000001.safetensors" ] &&
  [ "$(grep -c '"event":"start"' "$W/logonly/log.jsonl")" -eq 2 ] && ok "a folder with a log but no checkpoint is reused" ||
  bad "a folder without checkpoints was refused"
printf 'x' >"$W/afile"
expect_error "--out is a file" "$TRAIN" "${TINY[@]}" --steps 1 --out "$W/afile"
# a stale temp file of a writer that died (kill -9 in the middle of a checkpoint) is removed
head -c 5000 "$W/runA/model_00000004.safetensors" >"$W/runA/model_00000006.safetensors.tmp.99999999"
head -c 100 "$W/runA/state_00000004.bin" >"$W/runA/state_00000006.bin.tmp.4242"
"$TRAIN" "${TINY[@]}" --steps 4 --ckpt-every 2 --out "$W/runA" --resume >"$W/resA.log" 2>&1 || bad "resume runA"
if [ -z "$(find "$W/runA" -name '*.tmp.*')" ] && grep -q 'removed 2 temp file' "$W/resA.log"; then
  ok "stale temp files of a dead writer removed on the next start"
else
  bad "stale temp files: $(ls "$W/runA") / $(grep note "$W/resA.log")"
fi
# the lock: a second trainer on the same --out fails at once, whether fresh or resuming
"$TRAIN" "${TINY[@]}" --steps 100000 --out "$W/locked" >"$W/locked.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q '^step' "$W/locked.log" 2>/dev/null && break; sleep 0.1; done
expect_error "second trainer on a locked --out (fresh)" "$TRAIN" "${TINY[@]}" --steps 2 --out "$W/locked"
grep -q 'in use' "$W/err.txt" && ok "  the message says the folder is in use" || bad "  lock message"
expect_error "second trainer on a locked --out (--resume)" "$TRAIN" "${TINY[@]}" --steps 2 --out "$W/locked" --resume
# ... and SIGTERM stops the first one gracefully (an external signal, at whatever step it is)
kill -TERM $pid
wait $pid
rc=$?
st=$(sed -n 's/^stopped by signal SIGTERM at step \([0-9]*\);.*/\1/p' "$W/locked.log")
if [ $rc -eq 143 ] && [ -n "$st" ] && [ -f "$W/locked/model_$(printf %08d "$st").safetensors" ]; then
  ok "external SIGTERM: exit 143, 'stopped by signal SIGTERM at step $st', checkpoint written"
else
  bad "external SIGTERM (rc=$rc, step '$st'): $(tail -2 "$W/locked.log")"
fi
grep -q '"event":"stopped"' "$W/locked/log.jsonl" && ok "log.jsonl records the stop" || bad "no stop event in log.jsonl"
# the kernel released the lock with the process: a fresh run is now refused for holding a run,
# no longer for being in use
expect_error "fresh run into the stopped run's folder" "$TRAIN" "${TINY[@]}" --steps 2 --out "$W/locked"
grep -qE "already holds a run \((model|state)_" "$W/err.txt" && ok "  the lock died with its process" || bad "  lock still held"

# ---- 2. graceful stop: bit-exact resume from a stop at a seeded random step -----------------------
SEED=${LSSA_TEST_SEED:-20261202}
K=$(awk -v s="$SEED" 'BEGIN{srand(s); print 1 + int(rand() * 7)}')
echo "graceful-stop test: seed $SEED -> stop at step $K of 8 (LSSA_TEST_SEED overrides)"
"$TRAIN" "${TINY[@]}" --steps 8 --out "$W/straight" >/dev/null 2>&1 || bad "straight run"
for sig in 15:SIGTERM 2:SIGINT 1:SIGHUP; do
  n=${sig%%:*}; name=${sig#*:}
  LSSA_TEST_KILL=0:$K:$n "$TRAIN" "${TINY[@]}" --steps 8 --out "$W/stop$n" >"$W/stop$n.log" 2>"$W/stop$n.err"
  rc=$?
  if [ $rc -eq $((128 + n)) ] && grep -q "^stopped by signal $name at step $K; --resume continues" "$W/stop$n.log" &&
     [ ! -s "$W/stop$n.err" ] && [ -f "$W/stop$n/model_$(printf %08d "$K").safetensors" ]; then
    ok "$name at step $K: the step finishes, checkpoint at $K, exit $rc"
  else
    bad "$name at step $K (rc=$rc): $(tail -1 "$W/stop$n.log") $(head -c 300 "$W/stop$n.err")"
  fi
done
"$TRAIN" "${TINY[@]}" --steps 8 --out "$W/stop15" --resume >/dev/null 2>&1
cmp -s "$W/straight/model_00000008.safetensors" "$W/stop15/model_00000008.safetensors" &&
  cmp -s "$W/straight/state_00000008.bin" "$W/stop15/state_00000008.bin" &&
  ok "stopped at $K + --resume == the straight run, bit for bit (model and state)" || bad "resume after a stop is not bit-exact"
# a second signal stops at once: two different signals arrive together; no graceful message
# (SIGHUP, not SIGINT: a shell starts background jobs with SIGINT ignored, and the trainer keeps
# an ignored signal ignored, as nohup expects)
"$TRAIN" "${TINY[@]}" --steps 100000 --out "$W/twice" >"$W/twice.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q '^step' "$W/twice.log" 2>/dev/null && break; sleep 0.1; done
kill -HUP $pid; kill -TERM $pid
wait $pid 2>/dev/null
rc=$?
[ $rc -ge 129 ] && ! grep -q '^stopped by signal' "$W/twice.log" && ok "a second signal stops at once (rc=$rc)" ||
  bad "second signal (rc=$rc): $(tail -1 "$W/twice.log")"
# data parallelism: rank 1 alone gets SIGTERM at step 3; both ranks stop after step 3 (TCP, ZeRO-1)
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DP=(--model tiny --vocab-size 64 --train-data "$W/s_train_*.bin" --batch 2 --total-batch 256 --lr 3e-3 --warmup 2
    --val-every 0 --threads 1 --zero 1 --steps 6)
pids=()
for r in 0 1; do
  env RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT="$PORT" LSSA_TEST_KILL=1:3:15 \
    "$TRAIN" "${DP[@]}" --out "$W/dp" >"$W/dp$r.log" 2>&1 &
  pids+=($!)
done
wait "${pids[0]}"; rc0=$?
wait "${pids[1]}"; rc1=$?
if [ $rc0 -eq 143 ] && [ $rc1 -eq 143 ] && grep -q '^stopped by signal SIGTERM at step 3' "$W/dp0.log" &&
   [ -f "$W/dp/model_00000003.safetensors" ] && [ -f "$W/dp/state_00000003.rank0.bin" ] && [ -f "$W/dp/state_00000003.rank1.bin" ]; then
  ok "2 ranks (rank 1 signalled): both stop after step 3 with exit 143, every ZeRO-1 shard saved"
else
  bad "data-parallel stop (rc $rc0/$rc1): $(tail -1 "$W/dp0.log") | $(tail -1 "$W/dp1.log") | $(ls "$W/dp")"
fi

# ---- 3. validate everything up front --------------------------------------------------------------
for o in "--rope-base inf" "--final-lr-frac nan" "--weight-decay nan" "--grad-clip nan" "--adam-eps inf" "--lr inf"; do
  # shellcheck disable=SC2086
  expect_error "$o" "$TRAIN" "${TINY[@]}" $o --steps 1 --out "$W/nf"
done
[ ! -e "$W/nf/model_00000001.safetensors" ] && ok "non-finite options wrote no checkpoint" || bad "non-finite option trained"
# shards with one out-of-vocabulary id at the very end (a window the loader may never draw)
$PY - "$W" <<'EOF'
import struct, sys
w = sys.argv[1]
def shard(path, toks):
    hdr = [20240520, 1, len(toks)] + [0] * 253
    open(path, "wb").write(struct.pack("<256i", *hdr) + struct.pack("<%dH" % len(toks), *toks))
good = [(i * 7) % 64 for i in range(20000)]
shard(w + "/oov_train.bin", good[:-1] + [64])
shard(w + "/oov_val.bin", good[:4000] + [1000] + good[:10])
shard(w + "/short_val.bin", good[:40])
EOF
expect_error "out-of-vocabulary id at the end of a training shard" "$TRAIN" "${TINY[@]}" --train-data "$W/oov_train.bin" --steps 2 --out "$W/v1"
grep -q 'token 19999 has id 64' "$W/err.txt" && ok "  the message names the position and the id" || bad "  oov message"
expect_error "out-of-vocabulary id in a validation shard" "$TRAIN" "${TINY[@]}" --val-data "$W/oov_val.bin" --steps 2 --out "$W/v2"
expect_error "validation shard shorter than one window" "$TRAIN" "${TINY[@]}" --val-data "$W/short_val.bin" --steps 2 --out "$W/v3"
[ -z "$(find "$W/v1" "$W/v2" "$W/v3" -type f ! -name .lock 2>/dev/null)" ] && ok "bad data: nothing written" ||
  bad "bad data left files: $(ls "$W/v1" "$W/v2" "$W/v3")"
mkdir -p "$W/dirshard.bin"
expect_error "a directory given as a shard" "$TRAIN" "${TINY[@]}" --train-data "$W/dirshard.bin" --steps 1
grep -q 'directory' "$W/err.txt" && ok "  the message says directory" || bad "  directory message"
expect_error "eval --json into a missing folder (before the sweep)" "$EVAL" --ckpt "$W/straight" --data "$W/s_val_000000.bin" --json "$W/nope/e.json"
[ ! -s "$W/out.txt" ] || ! grep -qE '^ *[0-9]+ ' "$W/out.txt" && ok "  no evaluation ran" || bad "  the sweep ran first"
expect_error "eval: out-of-vocabulary id in --data" "$EVAL" --ckpt "$W/straight" --data "$W/oov_val.bin"

# ---- 4. malformed checkpoints and states ------------------------------------------------------------
CK=$W/straight/model_00000008.safetensors
# rewrite a safetensors header: python expression on the parsed JSON header `h`
sthdr() {
  rm -f "$2"
  $PY - "$1" "$2" "$3" <<'EOF'
import json, struct, sys
src, dst, expr = sys.argv[1:4]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
exec(expr)
hs = json.dumps(h).encode()
open(dst, "wb").write(struct.pack("<Q", len(hs)) + hs + b[8 + n:])
EOF
}
sthdr "$CK" "$W/dtype.safetensors" 'h["wte"]["dtype"] = 5'
expect_error "safetensors dtype is a number" "$EVAL" --ckpt "$W/dtype.safetensors" --data "$W/s_val_000000.bin"
sthdr "$CK" "$W/offs.safetensors" 'h["wte"]["data_offsets"] = ["0", "8"]'
expect_error "safetensors data_offsets are strings" "$EVAL" --ckpt "$W/offs.safetensors" --data "$W/s_val_000000.bin"
sthdr "$CK" "$W/shape.safetensors" 'h["zz"] = {"dtype": "F32", "shape": [2**62], "data_offsets": [0, 0]}'
expect_error "safetensors shape [2^62] with 0 bytes" "$EVAL" --ckpt "$W/shape.safetensors" --data "$W/s_val_000000.bin"
sthdr "$CK" "$W/huge.safetensors" 'h["__metadata__"]["n_layer"] = "20000"'
expect_error "metadata claims n_layer=20000 (checked against the file before allocating)" "$EVAL" --ckpt "$W/huge.safetensors" --data "$W/s_val_000000.bin"
grep -q 'parameters' "$W/err.txt" && ok "  the message compares parameter counts" || bad "  huge-metadata message"
sthdr "$CK" "$W/huge2.safetensors" 'h["__metadata__"]["n_embd"] = "1073741824"'
expect_error "metadata claims n_embd=2^30" "$EVAL" --ckpt "$W/huge2.safetensors" --data "$W/s_val_000000.bin"
# state files: rewrite the JSON header (python expression on `j`), keep the moments
sthead() {
  $PY - "$1" "$2" "$3" <<'EOF'
import json, struct, sys
src, dst, expr = sys.argv[1:4]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[8:16])[0]
j = json.loads(b[16:16 + n])
tail = b[16 + n:]
exec(expr)
js = json.dumps(j).encode() if not isinstance(j, bytes) else j
open(dst, "wb").write(b[:8] + struct.pack("<Q", len(js)) + js + tail)
EOF
}
mkstate() {  # mkstate NAME EXPR: a copy of the straight run at step 8 with a rewritten state header
  rm -rf "${W:?}/$1"; mkdir -p "$W/$1"
  cp "$CK" "$W/$1/"
  sthead "$W/straight/state_00000008.bin" "$W/$1/state_00000008.bin" "$2"
}
mkstate st_step 'j["step"] = 2'
expect_error "state says step 2 beside the step-8 model" "$TRAIN" "${TINY[@]}" --steps 8 --out "$W/st_step" --resume
mkstate st_neg 'j["step"] = -4'
expect_error "negative step in the state" "$TRAIN" "${TINY[@]}" --steps 8 --out "$W/st_neg" --resume
mkstate st_fp 'j["fingerprint"] = "not json {"'
expect_error "state fingerprint is not JSON" "$TRAIN" "${TINY[@]}" --steps 8 --out "$W/st_fp" --resume
mkstate st_n 'j["n_params"] = 2**62'
expect_error "state parameter count that wraps the size check" "$TRAIN" "${TINY[@]}" --steps 8 --out "$W/st_n" --resume
mkstate st_ld 'j["loader"] = [0, 99, 0]'
expect_error "state data position outside the data" "$TRAIN" "${TINY[@]}" --steps 8 --out "$W/st_ld" --resume
mkstate st_ty 'j["step"] = "eight"'
expect_error "state step of the wrong JSON type" "$TRAIN" "${TINY[@]}" --steps 8 --out "$W/st_ty" --resume
ls "$W"/st_*/model_-* >/dev/null 2>&1 && bad "a negative-step checkpoint was written" || ok "no checkpoint written by a bad state"

# ---- 5. prepare_data, configs, fingerprint -------------------------------------------------------------
mkdir -p "$W/pd/shared" && cp "$W/s_train_000000.bin" "$W/pd/shared/fineweb_train_000000.bin"
printf 'hello world\n' >"$W/doc.txt"
for pfx in "$W/pd/shared/*" "$W/pd/shared/fine?eb" "$W/pd/[s]hared/x"; do
  expect_error "prepare_data --out-prefix '${pfx#"$W"/}'" "$PREP" --tokenizer-dir "$W/none" --out-prefix "$pfx" "$W/doc.txt"
done
[ -f "$W/pd/shared/fineweb_train_000000.bin" ] && ok "the other dataset's shard is still there" || bad "prepare_data deleted another dataset"
printf 'steps = 2\nsteps = 3\n' >"$W/dup.toml"
expect_error "a config file with a duplicate key" "$TRAIN" "${TINY[@]}" --config "$W/dup.toml" --out "$W/c1"
printf 'steps = [2, 3]\n' >"$W/arr.toml"
expect_error "a config file with an array value" "$TRAIN" "${TINY[@]}" --config "$W/arr.toml" --out "$W/c2"
# the resume fingerprint compares the files the data names, not the text typed
(cd "$W" && "$TRAIN" "${TINY[@]}" --train-data "./s_train_*.bin" --steps 2 --out fp >/dev/null 2>&1) || bad "relative-path run"
"$TRAIN" "${TINY[@]}" --train-data "$W/s_train_*.bin" --steps 2 --out "$W/fp" --resume >"$W/fp.log" 2>&1 &&
  ok "resume with ./d/x.bin typed as an absolute path" || bad "canonical data paths: $(tail -1 "$W/fp.log")"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
