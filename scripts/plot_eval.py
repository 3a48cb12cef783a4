#!/usr/bin/python3
"""Plot eval_gpt2 --json results: validation loss vs evaluation length, one line per
(attention variant, re-weighting p) — the paper's Figure 1 layout.

    scripts/plot_eval.py RESULTS.json [RESULTS.json ...] -o loss_vs_length.png [--title TEXT] [--name NAME ...]

--name (once per input, in order) prefixes that input's lines, e.g. to tell a model trained with
re-weighting from one re-weighted only at evaluation.

Each input is the JSON list eval_gpt2 --json writes (records with len, len_ratio, reweight_p,
rope_scaling, attn, loss). Uses Debian's matplotlib (run with /usr/bin/python3).
"""
import argparse
import json
import math
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--title", default="validation loss vs evaluation length")
    ap.add_argument("--name", action="append", default=[], help="a name per input, prefixed to its lines")
    args = ap.parse_args()
    if args.name and len(args.name) != len(args.inputs):
        sys.exit(f"plot_eval.py: error: {len(args.name)} --name for {len(args.inputs)} inputs (give one per input or none)")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for i, path in enumerate(args.inputs):
        try:
            records = json.load(open(path))
        except (OSError, ValueError) as e:
            sys.exit(f"plot_eval.py: error: cannot read {path}: {e}")
        for r in records:
            label = r["attn"] + ("" if float(r["reweight_p"]) == 0 else f" + reweight p={r['reweight_p']:g}")
            if args.name:
                label = f"{args.name[i]}: {label}"
            series.setdefault(label, []).append((int(r["len"]), float(r["loss"]), r.get("rope_scaling", "")))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, pts in sorted(series.items()):
        pts.sort()
        xs = [p[0] for p in pts]
        ys = [p[1] if math.isfinite(p[1]) else float("nan") for p in pts]
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("evaluation length (tokens)")
    ax.set_ylabel("validation loss")
    scal = sorted({p[2] for pts in series.values() for p in pts if p[2]})
    ax.set_title(args.title + (f" (RoPE scaling: {', '.join(scal)})" if scal else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"plot_eval.py: wrote {args.out}")


if __name__ == "__main__":
    main()
