#!/usr/bin/python3
"""scripts/reproduce/claims.py on hand-made results: every verdict kind (holds, a tie, contradicted,
contradicted in part, inconclusive, not yet run), a borrowed spread, a diverged row, the --floor
rule and the error line for a missing table. The losses are chosen so that each verdict follows from
the 2s rule by hand (comments give d and s)."""
import csv
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "..", "scripts", "reproduce")
CLAIMS = os.path.join(SCRIPTS, "claims.py")
sys.path.insert(0, SCRIPTS)
from reproduce import CSV_COLUMNS  # noqa: E402  (the columns reproduce.py writes)
T4 = "configs/paper/table4/"
RATIOS = [1, 2, 4, 8, 16]
failures = []


def rows_of(cfg, name, p, seeds, status="done", detail=""):
    """seeds: {seed: [loss at 1x..16x]}."""
    out = []
    for seed, losses in seeds.items():
        for r, loss in zip(RATIOS, losses):
            out.append({"table": "table4", "scale": "t", "row": name, "train_config": cfg, "reweight_p": p,
                        "seed": seed, "len": 8 * r, "len_ratio": r, "loss": "" if loss is None else loss,
                        "status": status, "detail": detail})
    return out


def write_csv(d, table, rows):
    os.makedirs(os.path.join(d, table, "t"), exist_ok=True)
    with open(os.path.join(d, table, "t", "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, restval="")
        w.writeheader()
        w.writerows(rows)


def write(d, rows):
    write_csv(d, "table4", rows)
    with open(os.path.join(d, "table4", "t", "table4.md"), "w") as f:
        f.write("Unigram cross-entropy of the evaluated tokens (add-one): **3.0000** nats/token\n")


def run(d, *extra):
    p = subprocess.run([sys.executable, CLAIMS, "--scale", "t", "--results-dir", d, *extra],
                       capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def verdict(text, claim_start):
    for line in text.splitlines():
        if line.startswith("| " + claim_start):
            return line.rsplit("**", 2)[-2], line
    return None, None


def check(text, claim_start, want, contains=""):
    got, line = verdict(text, claim_start)
    if got != want or contains not in (line or ""):
        failures.append(f"{claim_start!r}: verdict {got!r}, want {want!r}" +
                        (f" with {contains!r}" if contains else "") + f"\n    line: {line}")


rows = []
# softmax and LSSA, 2 seeds each: at 1x 1.60/1.62 vs 1.61/1.63 -> d = +0.01, s = 0.04 (floor) -> a tie.
# growth to 8x: softmax +0.20/+0.22, LSSA +0.50/+0.52 -> LSSA grows most: d = +0.30 > 2s -> contradicted.
rows += rows_of(T4 + "softmax.toml", "Softmax", 0, {0: [1.60, 1.61, 1.70, 1.80, 2.0], 1: [1.62, 1.63, 1.72, 1.84, 2.1]})
rows += rows_of(T4 + "lssa.toml", "LSSA", 0, {0: [1.61, 1.8, 2.0, 2.11, 2.3], 1: [1.63, 1.8, 2.0, 2.15, 2.4]})
# sigmoid (one seed): growth +3.0, the most by far -> holds (its spread is borrowed from the references);
# the other b: +1.0 < +3.0 -> holds
rows += rows_of(T4 + "sigmoid.toml", "Sigmoid b=-ln T", 0, {0: [1.7, 3.0, 4.0, 4.7, 5.0]})
rows += rows_of(T4 + "sigmoid_rowbias.toml", "Sigmoid b=-ln n", 0, {0: [1.7, 2.0, 2.4, 2.7, 3.0]})
# post hoc p = 15 on LSSA: worse than p = 0 everywhere -> "p = 15 best at 8x (post hoc)" contradicted
rows += rows_of(T4 + "lssa.toml", "LSSAR", 15, {0: [2.4, 2.6, 3.0, 3.2, 3.4], 1: [2.5, 2.6, 3.0, 3.3, 3.4]})
# trained p = 15: 1.70 -> 1.75 at 8x (+2.9%, per-seed spread tiny, floor 0.04/1.7 = 2.4% -> 2s = 4.7%:
# 2.9 + 4.7 > 5 -> inconclusive); 16x +23% -> contradicted
rows += rows_of(T4 + "trained_p15/lssar.toml", "LSSAR trained", 15,
                {0: [1.70, 1.70, 1.72, 1.75, 2.09], 1: [1.70, 1.70, 1.72, 1.75, 2.09]})
# the other re-weighted row, sigmoid(s - ln n_i) + l1: post hoc p = 3 at 1x 1.51 vs p = 0 1.61 and p = 15 2.0
# -> d = -0.10, s = 0.04 (floor) -> holds. Trained (1 seed each) at 8x: p = 15 2.10 vs p = 3 2.12 and p = 0
# 2.2 -> d = -0.02; the borrowed spread (0.028 at 8x, softmax's and LSSA's) is below the floor -> 2s = 0.08
# -> inconclusive
RB = T4 + "sigmoid_rowbias_l1.toml"
rows += rows_of(RB, "Sigmoid l1", 0, {0: [1.60, 1.8, 2.0, 2.2, 2.4], 1: [1.62, 1.8, 2.0, 2.2, 2.4]})
rows += rows_of(RB, "Sigmoid l1", 3, {0: [1.50, 1.8, 2.0, 2.3, 2.5], 1: [1.52, 1.8, 2.0, 2.3, 2.5]})
rows += rows_of(RB, "Sigmoid l1", 15, {0: [2.0, 2.1, 2.2, 2.3, 2.4], 1: [2.0, 2.1, 2.2, 2.3, 2.4]})
rows += rows_of(T4 + "trained_p3/sigmoid_rowbias_l1.toml", "Sigmoid l1 trained", 3, {0: [1.6, 1.8, 2.0, 2.12, 2.3]})
rows += rows_of(T4 + "trained_p15/sigmoid_rowbias_l1.toml", "Sigmoid l1 trained", 15, {0: [1.7, 1.8, 2.0, 2.10, 2.2]})
# softmax trained with p = 15 diverged
rows += rows_of(T4 + "trained_p15/softmax.toml", "Softmax trained", 15, {0: [None] * 5}, "diverged",
                "error: non-finite loss (nan) at step 312")

with tempfile.TemporaryDirectory() as d:
    write(d, rows)
    rc, out, err = run(d)
    if rc != 0:
        failures.append(f"exit {rc}: {err}")
    check(out, "The models use their context", "holds", "1.30 nats below")  # worst: sigmoid 1.7 vs 3.0
    check(out, "At 1×, LSSA matches or beats softmax", "holds (a tie within 2s)", "d = +0.010, 2s = 0.080")
    check(out, "Unweighted losses grow with length, LSSA least (8×)", "contradicted in part", "d = +0.300")
    check(out, "Sigmoid with b = −ln T_train degrades most (8×)", "holds", "spread borrowed")
    check(out, "The other b (−ln n_i)", "holds")
    check(out, "p = 15 best at long lengths (LSSAR 8×; post hoc)", "contradicted")
    check(out, "p = 15 best at long lengths (LSSAR 8×; trained)", "holds")
    check(out, "p = 3 best at 1× (LSSAR; trained)", "not yet run")
    check(out, "p = 3 best at 1× (sigmoid(s − ln n_i) + l1; post hoc)", "holds", "d = -0.100, 2s = 0.080")
    check(out, "p = 15 best at long lengths (sigmoid(s − ln n_i) + l1 8×; trained)", "inconclusive",
          "d = -0.020, 2s = 0.080")
    check(out, "LSSAR nearly flat: rise to 8× ≤ 5% of the 1× loss (trained)", "inconclusive", "+2.9%")
    check(out, "LSSAR nearly flat to 16×: rise ≤ 5% (trained)", "contradicted", "+22.9%")
    check(out, "Softmax unusable at p = 15 (trained", "holds", "at step 312")
    if not os.path.exists(os.path.join(d, "table4", "t", "claims.md")):
        failures.append("claims.md was not written")

    # Figure 2's post-hoc sweep covers seed 0 only: the best p is chosen over the seeds every p shares
    # (seed 0 at 16x: p = 0 2.3, p = 1 2.2, p = 15 3.4 -> p = 1 lowest; p = 15 vs p = 1: d = +1.2)
    write_csv(d, "figure2", rows_of(T4 + "lssa.toml", "p = 1", 1, {0: [1.62, 1.8, 2.0, 2.05, 2.2]}))
    rc, out, err = run(d)
    check(out, "Figure 2: LSSA best around p = 15 at 16× (post hoc", "contradicted", "over the 1 seed(s) they share")
    check(out, "Figure 2: LSSA best around p = 15 at 16× (post hoc", "contradicted", "lowest at p = 1;")

    # a floor larger than every gap makes every two-sided comparison inconclusive
    rc, out, err = run(d, "--floor", "5", "--out", os.path.join(d, "big_floor.md"))
    check(out, "Unweighted losses grow with length, LSSA least (8×)", "inconclusive")
    check(out, "p = 15 best at long lengths (LSSAR 8×; post hoc)", "inconclusive")

    # no results: one error line, non-zero exit
    rc, out, err = run(os.path.join(d, "nothing"))
    if rc == 0 or len(err.strip().splitlines()) != 1 or not err.startswith("error:"):
        failures.append(f"missing results: exit {rc}, stderr {err!r}")

if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("claims.py: all verdicts as computed by hand")
