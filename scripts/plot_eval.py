#!/usr/bin/python3
"""Plot eval_gpt2 --json results. Four kinds of figure (--kind; default: passkey when the files hold
passkey records, else length):

  length   : validation loss vs evaluation length, one line per (attention variant, re-weighting p)
             — the paper's Figure 1 layout;
  position : loss by position (eval_gpt2 --per-position): mean loss per position bucket (log
             scale), one line per (variant, p, length), a dashed line at T_train;
  passkey  : passkey accuracy heat maps (eval_gpt2 --task passkey): depth (rows) x length
             (columns), one panel per (variant, p), the accuracy in each cell.
  attn-stats: attention statistics (eval_gpt2 --attn-stats, docs/evaluation.md): rows of panels =
             entropy, sink (first-token share), max (largest share); columns = layers; x = position
             bucket (log scale, dashed: T_train); one line per (variant, p, length), solid = the final
             weights, dashed = the same rows before re-weighting (p > 0). --attn-stats-len L keeps one length.

    scripts/plot_eval.py RESULTS.json [RESULTS.json ...] -o FIGURE.png [--kind K] [--title TEXT] [--name NAME ...]

--name (once per input, in order) prefixes that input's lines (or panels), e.g. to tell a model
trained with re-weighting from one re-weighted only at evaluation.

Each input is the JSON list eval_gpt2 --json writes. Uses Debian's matplotlib (run with /usr/bin/python3).
"""
import argparse
import json
import math
import sys


def label_of(r):
    label = r["attn"] + ("" if float(r["reweight_p"]) == 0 else f" + reweight p={r['reweight_p']:g}")
    return f"{r['_name']}: {label}" if r.get("_name") else label


def plot_length(plt, records, args):
    series = {}
    for r in records:
        if r.get("task", "loss") != "loss":
            continue
        series.setdefault(label_of(r), []).append((int(r["len"]), float(r["loss"]), r.get("rope_scaling", "")))
    if not series:
        sys.exit("plot_eval.py: error: no loss records in the inputs")
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
    ax.set_title((args.title or "validation loss vs evaluation length") +
                 (f" (RoPE scaling: {', '.join(scal)})" if scal else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


def plot_position(plt, records, args):
    rows = [r for r in records if r.get("per_position")]
    if not rows:
        sys.exit("plot_eval.py: error: no per-position records in the inputs (run eval_gpt2 with --per-position)")
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    t_train = set()
    for r in sorted(rows, key=lambda r: (label_of(r), int(r["len"]))):
        b = r["per_position"]
        xs = [int(x["hi"]) for x in b]
        ys = [float(x["loss"]) if math.isfinite(float(x["loss"])) else float("nan") for x in b]
        ax.plot(xs, ys, marker=".", label=f"{label_of(r)}, len {r['len']}")
        t_train.add(round(int(r["len"]) / float(r["len_ratio"])))
    for t in sorted(t_train):
        ax.axvline(t, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("position (upper edge of the bucket; dashed: T_train)")
    ax.set_ylabel("mean loss in the bucket")
    scal = sorted({r.get("rope_scaling", "") for r in rows} - {""})
    ax.set_title((args.title or "loss by position") + (f" (RoPE scaling: {', '.join(scal)})" if scal else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


STAT_ROWS = [("entropy", "entropy (nats)"), ("sink", "first-token share (sink)"), ("max", "largest share (max)")]


def plot_attn_stats(plt, records, args):
    rows = [r for r in records if r.get("attn_stats")]
    if args.attn_stats_len is not None:
        rows = [r for r in rows if int(r["len"]) == args.attn_stats_len]
    if not rows:
        sys.exit("plot_eval.py: error: no attention statistics in the inputs (run eval_gpt2 with --attn-stats)"
                 + (f" at length {args.attn_stats_len}" if args.attn_stats_len is not None else ""))
    n_layers = max(len(r["attn_stats"]["layers"]) for r in rows)
    fig, axes = plt.subplots(len(STAT_ROWS), n_layers, figsize=(1.5 + 3.2 * n_layers, 8), squeeze=False,
                             sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    t_train = set()
    for k, r in enumerate(sorted(rows, key=lambda r: (label_of(r), int(r["len"])))):
        color = colors[k % len(colors)]
        t_train.add(round(int(r["len"]) / float(r["len_ratio"])))
        for layer in r["attn_stats"]["layers"]:
            l = int(layer["layer"])
            for i, (key, _) in enumerate(STAT_ROWS):
                ax = axes[i][l]
                for set_name, style in (("final", "-"), ("base", "--")):
                    if set_name not in layer:
                        continue
                    b = layer[set_name]
                    xs = [int(x["hi"]) for x in b]
                    ys = [float("nan") if x[key] is None else float(x[key]) for x in b]
                    label = None
                    if i == 0 and l == 0:
                        label = f"{label_of(r)}, len {r['len']}" + (" (before re-weighting)" if set_name == "base" else "")
                    ax.plot(xs, ys, linestyle=style, marker=".", color=color, label=label)
    for t in sorted(t_train):
        for row in axes:
            for ax in row:
                ax.axvline(t, color="grey", linestyle=":", linewidth=1)
    for i, (_, ylabel) in enumerate(STAT_ROWS):
        axes[i][0].set_ylabel(ylabel)
        for l in range(n_layers):
            ax = axes[i][l]
            ax.set_xscale("log", base=2)
            ax.grid(True, which="both", alpha=0.3)
            if i == 0:
                ax.set_title(f"layer {l}")
            if i == len(STAT_ROWS) - 1:
                ax.set_xlabel("position (bucket upper edge)")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7)
    scal = sorted({r.get("rope_scaling", "") for r in rows} - {""})
    fig.suptitle((args.title or "attention statistics by position (dotted: T_train)") +
                 (f" (RoPE scaling: {', '.join(scal)})" if scal else ""), fontsize=10)
    return fig


def plot_passkey(plt, records, args):
    rows = [r for r in records if r.get("task") == "passkey"]
    if not rows:
        sys.exit("plot_eval.py: error: no passkey records in the inputs (run eval_gpt2 --task passkey)")
    panels = {}
    for r in rows:
        panels.setdefault(label_of(r), {})[(int(r["len"]), float(r["depth"]))] = float(r["accuracy"])
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(1.6 + 3.4 * n, 3.8), squeeze=False)
    for k, (ax, (label, cells)) in enumerate(zip(axes[0], sorted(panels.items()))):
        lens = sorted({k[0] for k in cells})
        depths = sorted({k[1] for k in cells})
        grid = [[100 * cells.get((l, d), float("nan")) for l in lens] for d in depths]
        im = ax.imshow(grid, vmin=0, vmax=100, cmap="viridis", aspect="auto", origin="upper")
        for i in range(len(depths)):
            for j in range(len(lens)):
                v = grid[i][j]
                if math.isfinite(v):
                    ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8,
                            color="white" if v < 60 else "black")
        ax.set_xticks(range(len(lens)), [str(l) for l in lens], rotation=45)
        ax.set_yticks(range(len(depths)), [f"{d:g}%" for d in depths] if k == 0 else [])
        ax.set_xlabel("prompt length (tokens)")
        if k == 0:
            ax.set_ylabel("key depth")
        ax.set_title(label, fontsize=9)
    fig.colorbar(im, ax=list(axes[0]), label="accuracy (%)")
    scal = sorted({r.get("rope_scaling", "") for r in rows} - {""})
    fig.suptitle((args.title or "passkey retrieval accuracy") + (f" (RoPE scaling: {', '.join(scal)})" if scal else ""),
                 fontsize=10)
    return fig


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--kind", choices=["auto", "length", "position", "passkey", "attn-stats"], default="auto")
    ap.add_argument("--attn-stats-len", type=int, default=None, help="--kind attn-stats: only this evaluation length")
    ap.add_argument("--title", default=None)
    ap.add_argument("--name", action="append", default=[], help="a name per input, prefixed to its lines")
    args = ap.parse_args()
    if args.name and len(args.name) != len(args.inputs):
        sys.exit(f"plot_eval.py: error: {len(args.name)} --name for {len(args.inputs)} inputs (give one per input or none)")
    records = []
    for i, path in enumerate(args.inputs):
        try:
            with open(path) as f:
                got = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f"plot_eval.py: error: cannot read {path}: {e}")
        if args.name:
            for r in got:
                r["_name"] = args.name[i]
        records += got
    kind = args.kind
    if kind == "auto":
        kind = "passkey" if any(r.get("task") == "passkey" for r in records) else "length"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = {"length": plot_length, "position": plot_position, "passkey": plot_passkey,
           "attn-stats": plot_attn_stats}[kind](plt, records, args)
    if kind == "attn-stats":
        n = len(fig.legends[0].get_texts()) if fig.legends else 1
        fig.tight_layout(rect=(0, 0.03 + 0.012 * ((n + 1) // 2), 1, 0.97))
    elif kind != "passkey":
        fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"plot_eval.py: wrote {args.out}")


if __name__ == "__main__":
    main()
