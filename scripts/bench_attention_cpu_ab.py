#!/usr/bin/python3
"""Side-by-side CPU attention timing of two builds (e.g. before/after a change to the row math).

    scripts/bench_attention_cpu_ab.py OLD_BIN NEW_BIN INVOCATIONS [B T NH HS ROUNDS]

OLD_BIN / NEW_BIN are two bench_attention_cpu binaries (build a worktree of the old commit with
`cmake --build B --target bench_attention_cpu`). They run alternately (old, new, new, old, ...),
one thread each, and every variant's cell is the minimum forward+backward time over all rounds of
all invocations: on a shared machine the least disturbed run, with both builds seeing the same
disturbances. Prints per-variant ratios and the ratio of the summed times of the common variants.
"""
import subprocess, sys, re, collections, os
old, new, reps, args = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
best = {"old": collections.defaultdict(lambda: 1e9), "new": collections.defaultdict(lambda: 1e9)}
env = dict(os.environ, OMP_NUM_THREADS="1")
for i in range(reps):
    for tag, b in (("old", old), ("new", new)) if i % 2 == 0 else (("new", new), ("old", old)):
        out = subprocess.run([b] + args, capture_output=True, text=True, env=env).stdout
        for line in out.splitlines():
            m = re.match(r"^(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+x$", line)
            if m: best[tag][m.group(1)] = min(best[tag][m.group(1)], float(m.group(4)))
print(f"{'variant':24s} {'before ms':>10s} {'after ms':>10s} {'after/before':>12s}")
ro, rn = [], []
for v in best["old"]:
    if v in best["new"]:
        o, n = best["old"][v], best["new"][v]
        ro.append(o); rn.append(n)
        print(f"{v:24s} {o:10.2f} {n:10.2f} {n/o:12.3f}")
print(f"{'sum of common variants':24s} {sum(ro):10.2f} {sum(rn):10.2f} {sum(rn)/sum(ro):12.3f}")
for v in best["new"]:
    if v not in best["old"]: print(f"{v:24s} {'-':>10s} {best['new'][v]:10.2f}   (new variant)")
