# Shared helpers of the shell tests (sourced). Counters `pass`/`fail`; every check prints one
# PASS/FAIL line; each test ends by printing "$pass passed, $fail failed" and failing if fail > 0.
# expect_error needs $W (the test's scratch folder).
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# expect_error NAME CMD...: exit code != 0, exactly one stderr line starting with "error:", no crash.
expect_error() {
  local name=$1; shift
  "$@" >"$W/out.txt" 2>"$W/err.txt"
  local rc=$?
  local lines
  lines=$(grep -c '' "$W/err.txt")
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$lines" -eq 1 ] && grep -q '^error: ' "$W/err.txt"; then
    ok "$name: $(cat "$W/err.txt")"
  else
    bad "$name (rc=$rc, $lines stderr lines): $(head -c 400 "$W/err.txt")"
  fi
}
