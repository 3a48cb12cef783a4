#!/usr/bin/env bash
# scripts/ptxas_table.py on hand-written ptxas -v logs: the table, the before/after diff, and
# --fail-on-new-spills (a kernel that starts to spill fails; one that stays clean does not).
set -euo pipefail
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
S=$(cd "$(dirname "$0")/../.." && pwd)/scripts/ptxas_table.py
entry() {  # name arch regs spill_st spill_ld stack
  printf "ptxas info    : Compiling entry function '%s' for '%s'\n" "$1" "$2"
  printf "ptxas info    : Function properties for %s\n" "$1"
  printf "    %s bytes stack frame, %s bytes spill stores, %s bytes spill loads\n" "$6" "$4" "$5"
  printf "ptxas info    : Used %s registers, used 1 barriers, 472 bytes cmem[0]\n" "$3"
}
{ entry _Z4fwd1v sm_80 100 0 0 0; entry _Z4fwd1v sm_90 104 0 0 0; entry _Z4bwd1v sm_80 255 4 8 8
  entry _Z4fwd1v sm_80 100 0 0 0; } > "$T/before.log"   # the duplicate (another TU) is listed once
{ entry _Z4fwd1v sm_80 100 0 0 0; entry _Z4fwd1v sm_90 110 12 20 16; entry _Z4bwd1v sm_80 255 4 8 8
  entry _Z4new1v sm_90 64 0 0 0; } > "$T/after.log"
fail() { echo "FAIL: $*"; exit 1; }
out=$("$S" "$T/before.log")
[ "$(grep -c '^| `' <<<"$out")" = 3 ] || fail "3 rows expected: $out"
grep -q '| `bwd1()` | sm_80 | 255 | 4/8 | 8 |' <<<"$out" || fail "bwd1 row: $out"
grep -q '^3 kernel × arch entries; 1 spill.' <<<"$out" || fail "summary: $out"
out=$("$S" "$T/before.log" --spills-only)
[ "$(grep -c '^| `' <<<"$out")" = 1 ] || fail "--spills-only: $out"
out=$("$S" --before "$T/before.log" "$T/after.log")
grep -q '| `fwd1()` | sm_90 | 104 | 0/0 | 0 | 110 | 12/20 | 16 |' <<<"$out" || fail "changed row: $out"
grep -q '| `new1()` | sm_90 | - | - | - | 64 | 0/0 | 0 |' <<<"$out" || fail "new row: $out"
grep -q 'bwd1' <<<"$out" && fail "unchanged kernel listed: $out"
if "$S" --before "$T/before.log" "$T/after.log" --fail-on-new-spills > /dev/null 2>&1; then fail "new spill not caught"; fi
"$S" --before "$T/before.log" "$T/before.log" --fail-on-new-spills > /dev/null || fail "identical logs failed"
echo > "$T/empty.log"
if "$S" "$T/empty.log" 2> "$T/err"; then fail "empty log accepted"; fi
grep -q '^error: no ptxas -v entries' "$T/err" || fail "error line: $(cat "$T/err")"
echo "ptxas_table: all checks passed"
