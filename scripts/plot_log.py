#!/usr/bin/python3
"""Plot training curves from train_gpt2 run directories: training loss per step (faint) with a
smoothed line, and validation loss (dashed, markers), one colour per run, labelled by the run's
attention config (the "start" event's config: attn, re-weighting p).

    scripts/plot_log.py RUN_DIR [RUN_DIR ...] [-o curves.png] [--smooth N] [--title TEXT]

RUN_DIR is a --out folder of train_gpt2 (its log.jsonl is read) or a log.jsonl itself. Events
used: "start" (config), "step" (step, loss), "val" (step, loss). A resumed run appends to the
same log, so a step logged twice keeps its last value. The default output is RUN_DIR/curves.png
of the first run. The smoothed line is the trailing mean over N steps (default: 1/20 of the run,
at least 1). Prints one summary line per run. Uses Debian's matplotlib (run with /usr/bin/python3).
"""
import argparse
import json
import math
import os
import sys


def fail(msg):
    sys.exit(f"plot_log.py: error: {msg}")


def read_run(path):
    log = os.path.join(path, "log.jsonl") if os.path.isdir(path) else path
    try:
        lines = open(log).read().splitlines()
    except OSError as e:
        fail(f"cannot read {log}: {e.strerror}")
    config, train, val = None, {}, {}
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            fail(f"{log} line {i} is not JSON")
        kind = ev.get("event")
        if kind == "start" and config is None:
            config = ev.get("config", {})
        elif kind in ("step", "val") and isinstance(ev.get("loss"), (int, float)):
            (train if kind == "step" else val)[int(ev["step"])] = float(ev["loss"])
    if not train and not val:
        fail(f"{log} has no step or val events")
    return log, config or {}, sorted(train.items()), sorted(val.items())


def attention_label(config):
    label = config.get("attn", "?")
    p = float(config.get("reweight_p", 0) or 0)
    if p:
        label += f" + reweight p={p:g}"
    return label


def trailing_mean(ys, n):
    out, s = [], 0.0
    for i, y in enumerate(ys):
        s += y
        if i >= n:
            s -= ys[i - n]
        out.append(s / min(i + 1, n))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR")
    ap.add_argument("-o", "--out", help="PNG to write (default: RUN_DIR/curves.png of the first run)")
    ap.add_argument("--smooth", type=int, default=0, help="trailing mean over N steps (0 = 1/20 of each run)")
    ap.add_argument("--title", default="training and validation loss")
    args = ap.parse_args()
    if args.smooth < 0:
        fail("--smooth must be >= 0")
    runs = [read_run(r) for r in args.runs]
    out = args.out or os.path.join(args.runs[0] if os.path.isdir(args.runs[0]) else os.path.dirname(runs[0][0]) or ".",
                                   "curves.png")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [attention_label(cfg) for _, cfg, _, _ in runs]
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, (log, cfg, train, val) in enumerate(runs):
        # two runs of the same attention config are told apart by their folder
        label = labels[i] if labels.count(labels[i]) == 1 else f"{labels[i]} ({os.path.basename(os.path.dirname(log))})"
        color = f"C{i % 10}"
        train = [(s, y) for s, y in train if math.isfinite(y)]
        if train:
            xs, ys = [s for s, _ in train], [y for _, y in train]
            n = args.smooth or max(1, len(ys) // 20)
            ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8)
            ax.plot(xs, trailing_mean(ys, n), color=color, linewidth=1.6, label=f"{label}: train (mean of {n})")
        if val:
            ax.plot([s for s, _ in val], [y for _, y in val], color=color, linestyle="--", marker="o", markersize=3,
                    label=f"{label}: val")
        last_train = f"{train[-1][1]:.4f}" if train else "-"
        last_val = f"{val[-1][1]:.4f}" if val else "-"
        print(f"{label}: {len(train)} steps (last train loss {last_train}), {len(val)} val points (last {last_val}) "
              f"from {log}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(args.title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"plot_log.py: wrote {out}")


if __name__ == "__main__":
    main()
