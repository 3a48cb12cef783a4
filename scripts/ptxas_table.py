#!/usr/bin/python3
"""Register, spill and stack use of every CUDA kernel, from a build log made with -Xptxas -v.

    cmake -S . -B build-ptx -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSSA_PTXAS_VERBOSE=ON
    cmake --build build-ptx 2>&1 | tee ptxas.log
    scripts/ptxas_table.py ptxas.log                      # one table: every kernel × arch
    scripts/ptxas_table.py --before old.log ptxas.log     # the kernels whose numbers changed
    scripts/ptxas_table.py ptxas.log --spills-only        # only kernels that spill or use a stack

A kernel compiled into several translation units (a test binary includes the launcher's .cu)
appears once; if two copies disagree, both are kept and flagged. Names are demangled with
cu++filt (CUDA toolkit) or c++filt when present. Exit status 1 with --fail-on-new-spills when
a kernel spills in the new log but not in the --before log (or is new and spills).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\d+a?)'")
PROPS = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers")


def demangle(names):
    tool = shutil.which("cu++filt") or ("/usr/local/cuda/bin/cu++filt" if os.path.exists("/usr/local/cuda/bin/cu++filt") else None) \
        or shutil.which("c++filt")
    if not tool or not names:
        return {n: n for n in names}
    out = subprocess.run([tool], input="\n".join(names) + "\n", capture_output=True, text=True).stdout.splitlines()
    if len(out) != len(names):
        return {n: n for n in names}
    # the anonymous namespace of a .cu file carries a per-build hash: drop it so logs compare
    return {n: re.sub(r"_GLOBAL__N__[0-9a-f_]+_(\w+?)_cu_[0-9a-f]+", r"(anonymous namespace, \1.cu)", d).replace("::", "::")
            for n, d in zip(names, out)}


def parse(path):
    """{(mangled, arch): (regs, spill_st, spill_ld, stack)} and the conflicting duplicates."""
    kernels, conflicts = {}, []
    cur, props = None, None
    with open(path, errors="replace") as f:
        for line in f:
            m = ENTRY.search(line)
            if m:
                cur, props = (m.group(1), m.group(2)), None
                continue
            if cur is None:
                continue
            m = PROPS.search(line)
            if m:
                props = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
                continue
            m = USED.search(line)
            if m and props is not None:
                rec = (int(m.group(1)), props[1], props[2], props[0])
                if cur in kernels and kernels[cur] != rec:
                    conflicts.append((cur, kernels[cur], rec))
                kernels.setdefault(cur, rec)
                cur, props = None, None
    return kernels, conflicts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log", help="build log with ptxas -v output (the state to report)")
    ap.add_argument("--before", help="an older build log: report only the kernels whose numbers changed")
    ap.add_argument("--spills-only", action="store_true", help="only kernels with spills or a stack frame")
    ap.add_argument("--match", help="only kernels whose demangled name contains this text")
    ap.add_argument("--fail-on-new-spills", action="store_true")
    a = ap.parse_args()

    new, conflicts = parse(a.log)
    old, _ = parse(a.before) if a.before else ({}, [])
    names = demangle(sorted({k[0] for k in new} | {k[0] for k in old}))
    if not new:
        sys.exit(f"error: no ptxas -v entries in {a.log} (configure with -DLSSA_PTXAS_VERBOSE=ON)")

    def key(k):
        return (names[k[0]], k[1])

    def keep(k):
        return a.match is None or a.match in names[k[0]]

    def fmt(r):
        return "- | - | -" if r is None else f"{r[0]} | {r[1]}/{r[2]} | {r[3]}"

    new_spills = []
    if a.before:
        old_by = {key(k): v for k, v in old.items()}
        new_by = {key(k): v for k, v in new.items()}
        rows = []
        for k in sorted(set(old_by) | set(new_by)):
            if a.match and a.match not in k[0]:
                continue
            o, n = old_by.get(k), new_by.get(k)
            if o == n:
                continue
            rows.append(f"| `{k[0]}` | {k[1]} | {fmt(o)} | {fmt(n)} |")
            if n and (n[1] or n[2]) and not (o and (o[1] or o[2])):
                new_spills.append(k)
        same = sum(1 for k in set(old_by) & set(new_by) if old_by[k] == new_by[k])
        print(f"{len(new_by)} kernel × arch entries now, {len(old_by)} before; {same} unchanged, {len(rows)} changed/added/removed.\n")
        if rows:
            print("| kernel | arch | regs before | spill st/ld before | stack before | regs after | spill st/ld after | stack after |")
            print("|---|---|---|---|---|---|---|---|")
            for r in rows:
                print(r)
    else:
        print("| kernel | arch | registers | spill stores/loads (B) | stack (B) |")
        print("|---|---|---|---|---|")
        for k in sorted(new, key=key):
            r = new[k]
            if not keep(k) or (a.spills_only and not (r[1] or r[2] or r[3])):
                continue
            print(f"| `{names[k[0]]}` | {k[1]} | {r[0]} | {r[1]}/{r[2]} | {r[3]} |")
        spilling = sum(1 for k, r in new.items() if keep(k) and (r[1] or r[2]))
        print(f"\n{sum(1 for k in new if keep(k))} kernel × arch entries; {spilling} spill.")
    for c in conflicts:
        print(f"\nwarning: {names[c[0][0]]} ({c[0][1]}) differs between translation units: {c[1]} vs {c[2]}", file=sys.stderr)
    if a.fail_on_new_spills and new_spills:
        for k in new_spills:
            print(f"new spill: {k[0]} ({k[1]})", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
