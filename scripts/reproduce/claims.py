#!/usr/bin/python3
"""The paper's claims, one by one, checked against the results of one scale: reads
results/table4/SCALE/results.csv (and results/figure2/SCALE/results.csv when present), writes
results/table4/SCALE/claims.md and prints it.

    scripts/reproduce/claims.py [--scale cpu] [--results-dir results] [--out FILE]

Every claim is a comparison of a quantity between rows: a loss at one length, the growth of the loss
from 1x to a length (per seed, then averaged), the relative rise, or the share of the context's gain
lost to re-weighting. A quantity of a row is the mean over its finished seeds, with the sample standard
deviation over the seeds as its spread. A difference d between two rows is measured against the noise

    s = max(spread of either row, the floor),

where the floor (--floor, default 0.04 nats) is the largest change measured from retraining the same
seed with another thread count (only the order of floating-point sums differs; docs/reproduce.md).
A row with one finished seed borrows the spread of the same quantity of the reference rows (softmax,
LSSA, and LSSA trained with p = 15, which have the most seeds) and the table says so. Verdicts:
**holds** when the difference has the paper's sign and |d| > 2s, **contradicted** when it has the
opposite sign and |d| > 2s, **inconclusive** otherwise ("a tie" is named as such where the paper's
claim is itself "matches or beats"). The rules are printed under the table, so that every verdict
can be checked by hand from the numbers beside it.
"""
import argparse
import csv
import math
import os
import re
import statistics
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

T4 = "configs/paper/table4/"
F2 = "configs/paper/figure2/"
SOFTMAX, LSSA = T4 + "softmax.toml", T4 + "lssa.toml"
SIGMOID, ROWBIAS = T4 + "sigmoid.toml", T4 + "sigmoid_rowbias.toml"
TRAINED_LSSA = {1: F2 + "trained_p1/lssa.toml", 3: T4 + "trained_p3/lssar.toml",
                7: F2 + "trained_p7/lssa.toml", 15: T4 + "trained_p15/lssar.toml"}
TRAINED_SOFTMAX_P15 = T4 + "trained_p15/softmax.toml"
ROWBIAS_L1_NAME = "sigmoid(s − ln n_i) + l1"
# The two rows of Table 4 that the paper re-weights: name -> (the p = 0 config, {p: the config trained with p}).
REWEIGHTED = {
    "LSSAR": (LSSA, TRAINED_LSSA),
    ROWBIAS_L1_NAME: (T4 + "sigmoid_rowbias_l1.toml", {3: T4 + "trained_p3/sigmoid_rowbias_l1.toml",
                                                       15: T4 + "trained_p15/sigmoid_rowbias_l1.toml"}),
}
REFERENCE = [(SOFTMAX, 0.0), (LSSA, 0.0), (TRAINED_LSSA[15], 15.0)]


# ---------------------------------------------------------------------------------------------
# data


class Series:
    """The losses of one trained row evaluated at one p: per seed, {length ratio: loss}."""

    def __init__(self, key, name):
        self.key, self.name = key, name
        self.seeds = {}        # seed -> {ratio: loss}
        self.diverged = {}     # seed -> detail (e.g. "non-finite loss (nan) at step 312")

    def only(self, seeds):
        """A copy with only these seeds (to compare rows over the seeds they share)."""
        c = Series(self.key, self.name)
        c.seeds = {k: v for k, v in self.seeds.items() if k in seeds}
        c.diverged = self.diverged
        return c

    def values(self, q):
        """q(per-seed dict) for every seed where it is defined."""
        out = []
        for losses in self.seeds.values():
            v = q(losses)
            if v is not None and math.isfinite(v):
                out.append(v)
        return out


def read_results(paths):
    """{(train_config, eval p): Series} from results.csv files (the first file wins a duplicate)."""
    series, seen = {}, set()
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if not r.get("train_config") or r.get("reweight_p", "") == "":
                    continue
                key = (r["train_config"], float(r["reweight_p"]))
                seed, ratio = int(r.get("seed") or 0), int(r["len_ratio"])
                if (key, seed, ratio) in seen:
                    continue
                seen.add((key, seed, ratio))
                s = series.setdefault(key, Series(key, r["row"]))
                if r["status"] == "done" and r["loss"]:
                    s.seeds.setdefault(seed, {})[ratio] = float(r["loss"])
                elif r["status"] in ("diverged", "non-finite"):
                    s.diverged[seed] = r["detail"] or r["status"]
    return series


def read_unigram(md_path):
    """The unigram cross-entropy of the evaluated tokens from TABLE.md (None if absent)."""
    if not os.path.exists(md_path):
        return None
    with open(md_path, encoding="utf-8") as f:
        m = re.search(r"Unigram cross-entropy[^*]*\*\*([0-9.]+)\*\*", f.read())
    return float(m.group(1)) if m else None


# ---------------------------------------------------------------------------------------------
# quantities and comparisons


def loss_at(r):
    return lambda d: d.get(r)


def growth(r):
    return lambda d: d[r] - d[1] if r in d and 1 in d else None


def rise(r):
    return lambda d: d[r] / d[1] - 1 if r in d and 1 in d else None


class Stat:
    """A quantity of one series: mean, spread over seeds (or borrowed), number of seeds."""

    def __init__(self, series, q, ctx):
        self.series = series
        vals = series.values(q) if series else []
        self.n = len(vals)
        self.mean = statistics.fmean(vals) if vals else None
        self.std = statistics.stdev(vals) if len(vals) >= 2 else None
        if self.n == 1:  # one seed: the reference rows' spread of the same quantity
            self.std = ctx.reference_spread(q)
        self.diverged = bool(series and series.diverged and not series.seeds)

    @property
    def ok(self):
        return self.mean is not None

    def text(self, fmt="{:.3f}"):
        """'mean ± spread (n seeds)'; fmt formats the mean (e.g. signed for a growth), the spread is unsigned."""
        if self.diverged:
            return "diverged (" + "; ".join(sorted(set(self.series.diverged.values()))) + ")"
        if not self.ok:
            return "not yet run"
        s = fmt.format(self.mean)
        if self.n >= 2:
            s += f" ± {self.std:.3f} ({self.n} seeds)"
        else:
            s += " (1 seed" + (f", spread borrowed {self.std:.3f}" if self.std is not None else "") + ")"
        return s


class Context:
    def __init__(self, series, unigram, floor):
        self.series, self.unigram, self.floor = series, unigram, floor

    def get(self, cfg, p):
        return self.series.get((cfg, float(p)))

    def stat(self, cfg, p, q):
        return Stat(self.get(cfg, p), q, self)

    def reference_spread(self, q):
        """The largest seed spread of q over the reference rows with >= 2 seeds (None if none)."""
        stds = []
        for cfg, p in REFERENCE:
            s = self.get(cfg, p)
            vals = s.values(q) if s else []
            if len(vals) >= 2:
                stds.append(statistics.stdev(vals))
        return max(stds) if stds else None

    def noise(self, *stats):
        return max([self.floor] + [s.std for s in stats if s.std is not None])


def compare(ctx, a, b, want_less, tie_holds=False):
    """Verdict on 'a < b' (want_less) or 'a > b' by the 2s rule; (verdict, d, s)."""
    if not (a.ok and b.ok):
        return "not yet run", None, None
    d, s = a.mean - b.mean, ctx.noise(a, b)
    right = d < 0 if want_less else d > 0
    if abs(d) <= 2 * s:
        return ("holds (a tie within 2s)" if tie_holds else "inconclusive"), d, s
    return ("holds" if right else "contradicted"), d, s


def combine(verdicts):
    """One verdict of several parts: contradicted if any part is; holds if all do."""
    vs = list(verdicts)
    if any(v.startswith("contradicted") for v in vs):
        return "contradicted" if all(v.startswith("contradicted") for v in vs) else "contradicted in part"
    if all(v.startswith("holds") for v in vs):
        return "holds"
    if all(v == "not yet run" for v in vs):
        return "not yet run"
    return "inconclusive"


def fmt_d(d, s):
    return "" if d is None else f" (d = {d:+.3f}, 2s = {2 * s:.3f})"


# ---------------------------------------------------------------------------------------------
# the claims


def unweighted_rows(ctx):
    """Table 4's rows trained and evaluated without re-weighting (config path, series)."""
    return sorted(((k[0], s) for k, s in ctx.series.items()
                   if k[0].startswith(T4) and "/trained_" not in k[0] and k[1] == 0.0),
                  key=lambda t: t[0])


def own_p(cfg):
    """The p a row was trained with (from its config path: .../trained_pN/...), 0 if none."""
    m = re.search(r"trained_p(\d+)", cfg)
    return float(m.group(1)) if m else 0.0


def claim_context(ctx):
    u = ctx.unigram
    rows = [(s.name, Stat(s, loss_at(1), ctx)) for (cfg, p), s in ctx.series.items() if p == own_p(cfg)]
    rows = [(n, st) for n, st in rows if st.ok]
    if u is None or not rows:
        return "not yet run", "no unigram cross-entropy or no finished row"
    worst = max(rows, key=lambda t: t[1].mean)
    gap = u - worst[1].mean
    v = "holds" if gap >= 1 else "contradicted"
    return v, (f"unigram cross-entropy {u:.4f}; the worst of the {len(rows)} finished models (each at the p it "
               f"was trained with) at 1× is {worst[0]} at {worst[1].text()}, {gap:.2f} nats below it")


def claim_lssa_vs_softmax(ctx):
    a, b = ctx.stat(LSSA, 0, loss_at(1)), ctx.stat(SOFTMAX, 0, loss_at(1))
    v, d, s = compare(ctx, a, b, True, tie_holds=True)
    return v, f"LSSA {a.text()} vs softmax {b.text()}{fmt_d(d, s)}"


def claim_growth(ctx, r):
    rows = [(cfg, Stat(s, growth(r), ctx)) for cfg, s in unweighted_rows(ctx)]
    rows = [(cfg, st) for cfg, st in rows if st.ok]
    lssa = next((st for cfg, st in rows if cfg == LSSA), None)
    if lssa is None or len(rows) < 2:
        return "not yet run", "needs LSSA and another unweighted row"
    # every row grows: its growth is above 0 by more than 2s
    grow = ["holds" if st.mean > 2 * ctx.noise(st) else "inconclusive" if st.mean > -2 * ctx.noise(st)
            else "contradicted" for cfg, st in rows]
    others = [(cfg, st) for cfg, st in rows if cfg != LSSA]
    least = min(others, key=lambda t: t[1].mean)
    v_least, d, s = compare(ctx, lssa, least[1], True)
    fewest = min(rows, key=lambda t: t[1].mean)
    ev = (f"growth 1×→{r}×: LSSA {lssa.text('{:+.3f}')}; the least-growing other row "
          f"{ctx.get(least[0], 0).name} {least[1].text('{:+.3f}')}{fmt_d(d, s)}; "
          f"{sum(g.startswith('holds') for g in grow)} of {len(rows)} rows grow by more than 2s"
          f"; least growth of all: {ctx.get(fewest[0], 0).name}")
    return combine([combine(grow), v_least]), ev


def claim_sigmoid_most(ctx, r):
    rows = [(cfg, Stat(s, growth(r), ctx)) for cfg, s in unweighted_rows(ctx)]
    rows = [(cfg, st) for cfg, st in rows if st.ok or st.diverged]
    sig = next((st for cfg, st in rows if cfg == SIGMOID), None)
    others = [(cfg, st) for cfg, st in rows if cfg != SIGMOID and st.ok]
    if sig is None or not sig.ok or not others:
        return "not yet run", "needs the sigmoid row (b = −ln T_train) and another unweighted row"
    most = max(others, key=lambda t: t[1].mean)
    v, d, s = compare(ctx, sig, most[1], False)
    return v, (f"growth 1×→{r}×: sigmoid {sig.text('{:+.3f}')} vs the most-growing other row "
               f"{ctx.get(most[0], 0).name} {most[1].text('{:+.3f}')}{fmt_d(d, s)}")


def claim_rowbias_less(ctx, r):
    a, b = ctx.stat(ROWBIAS, 0, growth(r)), ctx.stat(SIGMOID, 0, growth(r))
    v, d, s = compare(ctx, a, b, True)
    return v, f"growth 1×→{r}×: b = −ln n_i {a.text('{:+.3f}')} vs b = −ln T_train {b.text('{:+.3f}')}{fmt_d(d, s)}"


def reweighted(ctx, protocol, p, row="LSSAR"):
    """The series of a re-weighted row of REWEIGHTED in one protocol at p (p = 0: the unweighted row)."""
    base, trained = REWEIGHTED[row]
    if p == 0:
        return ctx.get(base, 0)
    return ctx.get(base, p) if protocol == "post hoc" else ctx.get(trained.get(p), p)


def claim_p_best(ctx, protocol, r, best, rivals, row="LSSAR"):
    st = {p: Stat(reweighted(ctx, protocol, p, row), loss_at(r), ctx) for p in [best] + rivals}
    ok_rivals = [p for p in rivals if st[p].ok]
    if not st[best].ok or not ok_rivals:
        return "not yet run", f"{row} at p = {best}: {st[best].text()}"
    rival = min(ok_rivals, key=lambda p: st[p].mean)
    v, d, s = compare(ctx, st[best], st[rival], True)
    parts = ", ".join(f"p = {p}: {st[p].text()}" for p in [best] + rivals)
    return v, f"{r}×: {parts}; p = {best} vs the best other (p = {rival}){fmt_d(d, s)}"


def claim_flat(ctx, protocol, r, limit):
    st = Stat(reweighted(ctx, protocol, 15), rise(r), ctx)
    if not st.ok:
        return "not yet run", "LSSAR p = 15: not yet run"
    l1 = Stat(reweighted(ctx, protocol, 15), loss_at(1), ctx)
    lr = Stat(reweighted(ctx, protocol, 15), loss_at(r), ctx)
    s = max([ctx.floor / l1.mean] + ([st.std] if st.std is not None else []))  # per-seed spread of the rise
    if st.mean + 2 * s <= limit:
        v = "holds"
    elif st.mean - 2 * s > limit:
        v = "contradicted"
    else:
        v = "inconclusive"
    return v, (f"1× {l1.text()} → {r}× {lr.text()}: rise {100 * st.mean:+.1f}% (limit {100 * limit:.0f}%, "
               f"2s = {200 * s:.1f}%)")


def claim_softmax_p15(ctx, protocol):
    u = ctx.unigram
    base = ctx.stat(SOFTMAX, 0, loss_at(1))
    series = ctx.get(SOFTMAX, 15) if protocol == "post hoc" else ctx.get(TRAINED_SOFTMAX_P15, 15)
    st = Stat(series, loss_at(1), ctx)
    if st.diverged:
        return "holds", f"softmax trained with p = 15: {st.text()}"
    if u is None or not (st.ok and base.ok):
        return "not yet run", f"softmax p = 15: {st.text()}"
    gain = u - base.mean
    f = (st.mean - base.mean) / gain
    s = ctx.noise(st, base) / gain
    v = "holds" if f - 2 * s >= 0.5 else "contradicted" if f + 2 * s < 0.5 else "inconclusive"
    return v, (f"1×: p = 15 {st.text()} vs p = 0 {base.text()}: it loses {100 * f:.0f}% (2s = {200 * s:.0f}%) "
               f"of the {gain:.3f} nats the context gains over the unigram {u:.4f}")


def claim_figure2_best_p(ctx, protocol, r):
    """The p with the lowest loss at r over the seeds that every finished p shares (a sweep may
    cover fewer seeds than Table 4's rows of the same model)."""
    if protocol == "post hoc":
        series = {p: ctx.get(LSSA, p) for (cfg, p) in ctx.series if cfg == LSSA}
    else:
        series = {0.0: ctx.get(LSSA, 0)}
        series.update({float(p): ctx.get(cfg, p) for p, cfg in TRAINED_LSSA.items()})
    series = {p: s for p, s in series.items() if s is not None and s.values(loss_at(r))}
    if 15.0 not in series or len(series) < 3:
        return "not yet run", f"{len(series)} p values finished"
    common = set.intersection(*({k for k, d in s.seeds.items() if r in d} for s in series.values()))
    done = {p: Stat(s.only(common), loss_at(r), ctx) for p, s in sorted(series.items())}
    best = min(done, key=lambda p: done[p].mean)
    rival = best if best != 15 else min((p for p in done if p != 15), key=lambda p: done[p].mean)
    v, d, s = compare(ctx, done[15], done[rival], True, tie_holds=True)
    ranked = ", ".join(f"p = {p:g}: {done[p].mean:.3f}" for p in sorted(done))
    return v, (f"{r}×, {len(done)} p values over the {len(common)} seed(s) they share ({ranked}); lowest at "
               f"p = {best:g}; p = 15 vs the best other p (p = {rival:g}): d = {d:+.3f}, 2s = {2 * s:.3f}")


def p_claims(row, paper_1x, paper_8x, at_16x=False):
    """The p = 3 / p = 15 claims of a row of REWEIGHTED, each in both protocols (post hoc first)."""
    specs = [(f"p = 3 best at 1× ({row}; {{}})", paper_1x, "same", 1, 3, [0, 15]),
             (f"p = 15 best at long lengths ({row} 8×; {{}})", paper_8x, "same", 8, 15, [0, 3])]
    if at_16x:
        specs.append((f"p = 15 best at 16× ({row}; {{}})", "(Table 4 stops at 8×)", "(Table 4 stops at 8×)",
                      16, 15, [0, 3]))
    return [(text.format(protocol), paper if protocol == "post hoc" else paper_trained,
             lambda c, protocol=protocol, r=r, best=best, rivals=rivals: claim_p_best(c, protocol, r, best, rivals, row))
            for text, paper, paper_trained, r, best, rivals in specs for protocol in ("post hoc", "trained")]


CLAIMS = [
    ("The models use their context: every finished model's 1× loss, at the p it was trained with, ≥ 1 nat "
     "below the unigram cross-entropy (our bar, not the paper's)", "—", claim_context),
    ("At 1×, LSSA matches or beats softmax", "3.1905 vs 3.1911", claim_lssa_vs_softmax),
    ("Unweighted losses grow with length, LSSA least (8×)", "LSSA +2.75, softmax +3.09; every row grows",
     lambda c: claim_growth(c, 8)),
    ("… the same at 16×", "(Table 4 stops at 8×)", lambda c: claim_growth(c, 16)),
    ("Sigmoid with b = −ln T_train degrades most (8×)", "+11.31, the largest growth", lambda c: claim_sigmoid_most(c, 8)),
    ("The other b (−ln n_i) degrades less than b = −ln T_train (8×)", "+6.40 vs +11.31",
     lambda c: claim_rowbias_less(c, 8)),
] + p_claims("LSSAR", "3.1782 vs p = 0 3.1905, p = 15 3.1905", "3.3171 vs p = 3 6.3007, p = 0 5.9403", at_16x=True) \
  + p_claims(ROWBIAS_L1_NAME, "3.1841 vs p = 0 3.1849, p = 15 3.2171", "3.8587 vs p = 3 5.7450, p = 0 6.1846") + [
    ("LSSAR nearly flat: rise to 8× ≤ 5% of the 1× loss (post hoc)", "3.19 → 3.32: +4.0%",
     lambda c: claim_flat(c, "post hoc", 8, 0.05)),
    ("LSSAR nearly flat: rise to 8× ≤ 5% of the 1× loss (trained)", "same", lambda c: claim_flat(c, "trained", 8, 0.05)),
    ("LSSAR nearly flat to 16×: rise ≤ 5% (post hoc)", "(Table 4 stops at 8×)", lambda c: claim_flat(c, "post hoc", 16, 0.05)),
    ("LSSAR nearly flat to 16×: rise ≤ 5% (trained)", "(Table 4 stops at 8×)", lambda c: claim_flat(c, "trained", 16, 0.05)),
    ("Softmax unusable at p = 15: loses ≥ half of the context's gain at 1×, or diverges (post hoc)",
     "5.3878 vs 3.1911 at 1K", lambda c: claim_softmax_p15(c, "post hoc")),
    ("Softmax unusable at p = 15 (trained; the paper's \"gradient explosion\")", "same",
     lambda c: claim_softmax_p15(c, "trained")),
    ("Figure 2: LSSA best around p = 15 at 16× (post hoc sweep)", "plotted only",
     lambda c: claim_figure2_best_p(c, "post hoc", 16)),
    ("Figure 2: LSSA best around p = 15 at 16× (trained p = 0, 1, 3, 7, 15)", "plotted only",
     lambda c: claim_figure2_best_p(c, "trained", 16)),
]


def report(ctx, scale, floor):
    lines = [f"# The paper's claims at scale `{scale}`", "",
             f"Made by `scripts/reproduce/claims.py --scale {scale}` from `results/table4/{scale}/results.csv` "
             f"and `results/figure2/{scale}/results.csv`. Losses in nats per token (per byte at the `cpu` "
             "scale); mean ± standard deviation over the finished seeds.", "",
             "| claim | paper (124M, T_train = 1024) | ours | verdict |", "|---|---|---|---|"]
    for text, paper, fn in CLAIMS:
        v, ev = fn(ctx)
        lines.append(f"| {text} | {paper} | {ev} | **{v}** |")
    lines += ["", "How a verdict is made: a quantity of a row is the mean over its finished seeds; d is the "
              "difference between the two rows compared, s = max(the larger seed spread of the two, "
              f"{floor:g} — the largest change measured from retraining one seed with another thread count). "
              "A row with one seed borrows the largest spread of the same quantity among softmax, LSSA and "
              "LSSA trained with p = 15 (\"spread borrowed\"). **holds**: the paper's sign and |d| > 2s; "
              "**contradicted**: the opposite sign and |d| > 2s; **inconclusive**: |d| ≤ 2s (for \"matches "
              "or beats\", a tie within 2s holds). A claim of several parts is contradicted in part when "
              "one part is. \"Nearly flat\" is ours: a rise ≤ 5% of the 1× loss, the paper's own LSSAR "
              "rising 4.0% from 1K to 8K; \"unusable\" is ours: losing at least half of what the context "
              "gains over the unigram at 1×, or diverging. The paper's Table 4 stops at 8×; rows at 16× are "
              "ours only.", ""]
    return "\n".join(lines)


def write_claims(results_dir, scale, floor=0.04, out=None):
    """Writes the claims table of a scale; returns (its path, its text). Raises SystemExit (one error
    line) when Table 4's results of the scale do not exist."""
    t4 = os.path.join(results_dir, "table4", scale)
    csvs = [os.path.join(t4, "results.csv"), os.path.join(results_dir, "figure2", scale, "results.csv")]
    if not os.path.exists(csvs[0]):
        raise SystemExit(f"error: {csvs[0]} does not exist (run scripts/reproduce/table4.sh --scale {scale} first)")
    ctx = Context(read_results(csvs), read_unigram(os.path.join(t4, "table4.md")), floor)
    text = report(ctx, scale, floor)
    out = out or os.path.join(t4, "claims.md")
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(out + ".tmp", out)
    return out, text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="cpu", help="the results' scale label (cpu, tiny, cpu-3steps, ...)")
    ap.add_argument("--results-dir", default=os.path.join(REPO, "results"))
    ap.add_argument("--floor", type=float, default=0.04,
                    help="the smallest noise s in nats (default 0.04: the thread-order noise, docs/reproduce.md)")
    ap.add_argument("--out", help="markdown file (default: RESULTS/table4/SCALE/claims.md)")
    args = ap.parse_args(argv)
    out, text = write_claims(args.results_dir, args.scale, args.floor, args.out)
    print(text)
    print(f"wrote {os.path.relpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
