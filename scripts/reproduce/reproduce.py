#!/usr/bin/python3
"""Reproduces one table (or Figure 2) of Gao & Spratling, "Softplus Attention with Re-weighting
Boosts Length Extrapolation in LLMs" (arXiv 2501.13428 v2), end to end, from configs/paper/<table>/.

    scripts/reproduce/reproduce.py TABLE [--scale tiny|small|full] [options]
    (or the entry scripts scripts/reproduce/{table1,table2,table3,table4,figure2,baselines}.sh)

What it does, driven only by the config files (no variant list lives here):
  1. reads every *.toml under configs/paper/TABLE/ (the first line names the program):
     - `# program: train_gpt2` files are the table's rows: each is trained once;
     - `# program: eval_gpt2` files are evaluations of a row's checkpoint ("Run on the checkpoint of
       configs/paper/T/ROW.toml"; ROW = <row> means every row of the table), with their own
       re-weighting exponents p; a row no eval file names is evaluated with p = 0;
     - the paper's numbers come from the "# Reported (...): a / b / c / d" header line (the i-th
       number is at 2^i x the training length: 1K / 2K / 4K / 8K for T_train = 1024);
  2. trains each row at the chosen scale: the scale replaces the model, length, steps and batch
     (and, below full, the learning-rate schedule) but keeps every attention setting of the row;
  3. evaluates each checkpoint with eval_gpt2 at 1x, 2x, 4x, 8x, 16x the training length and at
     each p (NTK RoPE scaling beyond T_train, as in the configs);
  4. writes results/TABLE/SCALE/: results.csv, TABLE.md (the paper's layout, the paper's numbers
     beside ours) and PNG plots (loss vs length; loss vs p for a p sweep).

The `baselines` target (configs/paper/baselines/) holds comparison rows that are NOT in the paper
(ssmax, softmax_qknorm, logn_softmax at Table 4's recipe; no reported numbers): optional, run on
its own, never part of table4.

The `passkey` target (configs/paper/passkey/) evaluates Table 4's softmax and LSSA checkpoints
with eval_gpt2 --task passkey (LSSAR = LSSA at p = 15) at 1x, 1.5x, 2x, 4x, 8x, 16x the training
length (--passkey-ratios) and writes results/passkey/SCALE/: results.csv, passkey.md (accuracy per
length, mean over depths, and per depth) and passkey_heatmap.png / passkey_vs_length.png.

Runs live in RUNS/SCALE/<config's table>/<row>/ (checkpoints, train.log, eval/*.json), so Figure 2
reuses Table 4's checkpoints. Resumable and idempotent: a finished run (final checkpoint present)
and a finished evaluation (its JSON present, made by the same command) are skipped; a run with
intermediate checkpoints resumes (--resume, bit-exact). A run that stops with the trainer's
non-finite-loss error (e.g. exp_only overflowing) is a result ("diverged at step N"), recorded in
diverged.json and in the table; any other failure is reported and makes the exit status 1.
"""
import argparse
import concurrent.futures
import csv
import datetime
import fnmatch
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import threading
import tomllib

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RATIOS = (1, 2, 4, 8, 16)
PASSKEY_RATIOS = (1, 1.5, 2, 4, 8, 16)  # the paper's later versions report 1K / 1.5K / 4K at T_train = 1024

# Scale presets. Each replaces these train_gpt2 options of every row (None = keep the config's);
# attention options (attn, sigmoid-bias, relu-divisor, ssmax-scale, qknorm-scale, rope-base, reweight-p) are
# never touched.
SCALES = {
    # the paper's recipe as written in the configs (GPT-2 124M, T = 1024, 18,865 steps of 524,288
    # tokens on FineWeb-10B); only the micro-batch and checkpoint cadence are ours
    "full": dict(train={"batch": 16, "ckpt-every": 1000}, eval_tokens=1048576, device="cuda", data="fineweb",
                 jobs=1, threads=0),
    # one GPU, about an hour per table: d6 at T = 256 (16x = 4096) on the embedded corpus,
    # 1,500 steps of 32,768 tokens (49M tokens, ~8 epochs of the 6M-token corpus)
    "small": dict(train={"model": "d6", "seq-len": 256, "steps": 1500, "batch": 32, "total-batch": 32768,
                         "lr": 0.001, "warmup": 100, "val-every": 250, "val-tokens": 262144, "ckpt-every": 500},
                  eval_tokens=131072, device="cuda", data="embedded", jobs=1, threads=0),
    # CPU study, byte-level (docs/reproduce.md): L4 C128 with 2 heads (head size 64, as GPT-2 124M,
    # which LSSA's ln(d) depends on), T = 128 (16x = 2048), 750 steps of 4,096 bytes (3.1M bytes of
    # the 25M-byte embedded corpus, no repetition); one run ~5 min on 2 free cores (~10k tokens/s).
    # Evaluation: 65,536 bytes per length (32 windows at 16x), the same windows for every run.
    # Seeds: 3 for the rows the paper's main claims rest on, 2 for the rest (--max-seeds caps them).
    "cpu": dict(train={"model": "small", "layers": 4, "heads": 2, "channels": 128, "seq-len": 128, "steps": 750,
                       "batch": 16, "total-batch": 4096, "lr": 0.002, "warmup": 50, "final-lr-frac": 0.1,
                       "val-every": 150, "val-tokens": 32768, "ckpt-every": 150},
                eval_tokens=65536, device="cpu", data="bytes", jobs=1, threads=0,
                seeds={"softmax": 3, "lssa": 3, "trained_p15/lssar": 3, "*": 2}),
    # CPU smoke test, minutes: the tiny model (L2 C64) at T = 64, 60 steps of 512 tokens
    "tiny": dict(train={"model": "tiny", "seq-len": 64, "steps": 60, "batch": 8, "total-batch": 512,
                        "lr": 0.003, "warmup": 6, "val-every": 0, "val-tokens": 4096, "ckpt-every": 0},
                 eval_tokens=2048, device="cpu", data="embedded", jobs=0, threads=1),
}

NONFINITE = re.compile(r"non-finite (loss|gradient norm|validation loss) \(([^)]*)\) at step (\d+)")
CKPT = re.compile(r"model_(\d{8})\.safetensors$")


# ---------------------------------------------------------------------------------------------
# config files


class Config:
    """One configs/paper file: its program, header facts and option values."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.rel = os.path.relpath(self.path, REPO)
        with open(self.path, encoding="utf-8") as f:
            text = f.read()
        self.header = [l[1:].strip() for l in text.splitlines() if l.startswith("#")]
        first = self.header[0] if self.header else ""
        m = re.match(r"program:\s*(\S+)", first)
        if not m:
            raise SystemExit(f"error: {self.rel}: the first line must be '# program: NAME'")
        self.program = m.group(1)
        self.options = tomllib.loads(text)
        # "configs/paper/table4/lssa.toml" -> table "table4", name "lssa"; nested eval files keep
        # their folder in the name ("reweighted_p15/lssar")
        parts = self.rel.split(os.sep)
        self.table = parts[2]
        self.name = "/".join(parts[3:])[: -len(".toml")]
        self.reported = self._reported()
        self.block, self.label = self._labels()
        self.targets = self._targets()

    def _reported(self):
        """The paper's numbers of the 'Reported (...): a / b / ...' line (empty if only plotted)."""
        for line in self.header:
            if line.startswith("Reported"):
                values = []
                for tok in line.split("):", 1)[1].split("/"):
                    try:
                        values.append(float(tok.strip()))
                    except ValueError:
                        break
                return values
        return []

    def _labels(self):
        """(block, label) from the third header line, e.g. 'block "Re-weighted (p = 15)", row "Softmax"'."""
        desc = self.header[2] if len(self.header) > 2 else ""
        tail = desc.split("), ", 1)[1] if "), " in desc else desc
        block = re.search(r'block "([^"]*)"', tail)
        quoted = re.findall(r'"([^"]*)"', tail)
        if block:
            quoted.remove(block.group(1))
        if quoted:
            label = quoted[0]
        else:  # 'scenario I: neither exp nor l1-norm' -> 'scenario I'; 'curves of Softmax' stays
            label = re.split(r":|\s+[—-]\s+", tail)[0].strip() or self.name
        return (block.group(1) if block else ""), label

    def _targets(self):
        """For an eval file: the train config(s) it runs on (repo-relative; '<row>' = every row)."""
        for line in self.header:
            m = re.search(r"checkpoint of (configs/\S+?\.toml)", line)
            if m:
                return m.group(1)
        return None


def discover(table):
    folder = os.path.join(REPO, "configs", "paper", table)
    if not os.path.isdir(folder):
        have = sorted(os.listdir(os.path.join(REPO, "configs", "paper")))
        raise SystemExit(f"error: no configs/paper/{table}/ (have: {', '.join(have)})")
    files = []
    for root, _, names in os.walk(folder):
        files += [os.path.join(root, n) for n in names if n.endswith(".toml")]
    return [Config(p) for p in sorted(files)]


def row_order(cfg):
    # by file name, except that softmax, the baseline, comes first (as in the paper's Tables 1 and
    # 4) unless the names are numbered (Table 2's scenario1..4, where softmax is scenario IV)
    numbered = re.search(r"\d", cfg.name) is not None
    return (cfg.options.get("attn") != "softmax" or numbered, cfg.name)


# ---------------------------------------------------------------------------------------------
# the plan: training runs and evaluation jobs


def seeds_of(cfg, args):
    """How many seeds a row gets: the scale's policy (first matching glob on the row name; 1 when the
    scale has none), capped by --max-seeds."""
    n = 1
    for pattern, k in SCALES[args.scale].get("seeds", {}).items():
        if fnmatch.fnmatch(cfg.name, pattern):
            n = k
            break
    return min(n, args.max_seeds) if args.max_seeds else n


def train_p_of(cfg):
    """The re-weighting p a row is trained with (0 = none; lssar without one means 15)."""
    p = float(cfg.options.get("reweight-p", 0))
    return 15.0 if p == 0 and cfg.options.get("attn") == "lssar" else p


class Run:
    """One training run of a train_gpt2 config at a scale, with one seed (index k: seed = the
    config's seed + k; k = 0 is the config's own and lives in the row's folder, k > 0 in ROW.seedK)."""

    def __init__(self, cfg, args, k=0):
        self.cfg, self.k = cfg, k
        self.dir = os.path.join(args.runs_dir, args.label, cfg.table, cfg.name + (f".seed{k}" if k else ""))
        self.train_p = train_p_of(cfg)
        self.overrides = dict(SCALES[args.scale]["train"])
        if k:
            self.overrides["seed"] = int(cfg.options.get("seed", 1337)) + k
        if args.steps:
            self.overrides["steps"] = args.steps
        if args.batch:  # micro-batch per process: fits GPU memory; the accumulation keeps total-batch
            self.overrides["batch"] = args.batch
        self.steps = int(self.overrides.get("steps", cfg.options.get("steps", 18865)))
        self.T = int(self.overrides.get("seq-len", cfg.options.get("seq-len", 1024)))
        self.evals = []
        self.status, self.detail, self.step = "pending", "", None

    def final_ckpt(self):
        return os.path.join(self.dir, f"model_{self.steps:08d}.safetensors")

    def command(self, args):
        cmd = [args.train_bin, "--config", self.cfg.path]
        for k, v in self.overrides.items():
            cmd += [f"--{k}", str(v)]
        cmd += ["--train-data", args.train_data, "--val-data", args.val_data, "--device", args.device,
                "--out", self.dir]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        return shlex.split(args.launcher) + cmd


class Eval:
    """eval_gpt2 of one run with one eval config (None = p = 0) at every length ratio."""

    def __init__(self, run, cfg, table, args, ps=None):
        self.run, self.cfg = run, cfg
        if cfg is None:  # the run's own evaluation: p = 0, or a trained run's own p (and 0)
            self.ps = ps or [0.0]
        else:
            self.ps = [float(p) for p in str(cfg.options.get("reweight-p", "0")).split(",")]
        self.task = "loss" if cfg is None else cfg.options.get("task", "loss")
        self.lens = ([int(round(r * run.T)) for r in args.passkey_ratios] if self.task == "passkey" else
                     [r * run.T for r in args.ratios])
        stem = ("default" if self.ps == [0.0] else "own_p") if cfg is None else cfg.name.replace("/", "__")
        self.json = os.path.join(run.dir, "eval", f"{table}__{stem}.json")
        # the paper's numbers: the eval file's own, else (p = 0 only) the train config's
        self.status, self.detail, self.records = "pending", "", []
        self.reported = (cfg.reported if cfg is not None and cfg.reported else
                         run.cfg.reported if self.ps == [0.0] or run.train_p in self.ps else [])
        self.label_of_p = {}
        if cfg is not None and len(self.ps) > 1:  # a p sweep: one block per eval file, a row per p
            self.block, self.label = cfg.label, None
        elif cfg is not None and cfg.block:
            self.block, self.label = cfg.block, cfg.label
        elif run.train_p and run.cfg.block:  # a trained re-weighted row: a row per evaluation p
            self.block, self.label = run.cfg.block, None
            self.label_of_p = {p: f"{run.cfg.label}, eval p = {fmt_p(p)}" for p in self.ps}
        else:
            self.block, self.label = "", run.cfg.label

    def command(self, args):
        cmd = [args.eval_bin]
        if self.cfg is not None:
            cmd += ["--config", self.cfg.path]
        else:
            cmd += ["--reweight-p", ",".join(fmt_p(p) for p in self.ps), "--rope-scaling", "ntk"]
        cmd += ["--ckpt", self.run.final_ckpt(), "--len", ",".join(map(str, self.lens))]
        if self.task != "passkey":  # passkey prompts are built from the template: no data
            cmd += ["--data", args.eval_data, "--tokens", str(args.eval_tokens)]
        elif args.passkey_keys:
            cmd += ["--passkey-keys", str(args.passkey_keys)]
        cmd += ["--device", args.device, "--json", self.json]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        return cmd


def plan(table, args):
    configs = discover(table)
    trains = sorted([c for c in configs if c.program == "train_gpt2"], key=row_order)
    evals = [c for c in configs if c.program == "eval_gpt2"]
    runs = {}  # train config path -> its Runs, one per seed (rows of other tables too: Figure 2 uses Table 4's)

    def run_of(cfg):
        if cfg.path not in runs:
            runs[cfg.path] = [Run(cfg, args, k) for k in range(seeds_of(cfg, args))]
        return runs[cfg.path]

    for c in trains:
        run_of(c)
    targeted = set()
    for e in sorted(evals, key=lambda c: c.name):
        if e.targets is None:
            raise SystemExit(f"error: {e.rel}: no 'checkpoint of configs/...toml' line says which run it evaluates")
        if "<row>" in e.targets:
            targets = trains
        else:
            path = os.path.join(REPO, e.targets)
            if not os.path.exists(path):
                raise SystemExit(f"error: {e.rel}: its checkpoint config {e.targets} does not exist")
            targets = [Config(path)]
        for t in sorted(targets, key=row_order):
            for r in run_of(t):
                r.evals.append(Eval(r, e, table, args))
            targeted.add(t.path)
    for c in trains:
        for r in runs[c.path]:
            # a run trained with re-weighting is evaluated at its own p (and at p = 0 unless an eval file does)
            have = {p for ev in r.evals for p in ev.ps}
            want = [p for p in ([r.train_p] if r.train_p else []) + [0.0] if p not in have]
            if want:
                r.evals.append(Eval(r, None, table, args, want))
    # every row's first seed before any row's second: partial results cover every row first
    selected = [r for rs in runs.values() for r in rs
                if not args.rows or any(fnmatch.fnmatch(r.cfg.name, g) for g in args.rows)]
    selected.sort(key=lambda r: r.k)
    if not selected:
        raise SystemExit(f"error: --rows {' '.join(args.rows)} matches no row of {table}")
    return selected


# ---------------------------------------------------------------------------------------------
# execution

_print_lock = threading.Lock()


def say(msg):
    with _print_lock:
        print(msg, flush=True)


def last_error_line(log_path):
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            lines = [l.strip() for l in f]
    except OSError:
        return ""
    errs = [l for l in lines if l.startswith("error:") or "error:" in l]
    return errs[-1] if errs else (lines[-1] if lines else "")


def execute(cmd, log_path):
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ {shlex.join(cmd)}\n")
        log.flush()
        return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO).returncode


def train(run, args, counters):
    os.makedirs(run.dir, exist_ok=True)
    cmd = run.command(args)
    diverged = os.path.join(run.dir, "diverged.json")
    if os.path.exists(run.final_ckpt()):
        run.status, run.step = "done", run.steps
        counters.add("skipped")
        return
    if os.path.exists(diverged):
        with open(diverged) as f:
            d = json.load(f)
        if d.get("command") == cmd:  # the same run diverges again: deterministic, keep the result
            run.status, run.step, run.detail = "diverged", d["step"], d["error"]
            counters.add("skipped")
            say(f"[skip ] {run.cfg.rel}: diverged at step {run.step} (recorded)")
            return
        os.remove(diverged)
    if args.report_only:
        run.status = "not yet run"
        return
    ckpts = [int(m.group(1)) for n in os.listdir(run.dir) if (m := CKPT.match(n))]
    full = cmd + (["--resume"] if ckpts else [])
    say(f"[train] {run.cfg.rel} -> {os.path.relpath(run.dir, REPO)}" + (f" (resume at {max(ckpts)})" if ckpts else ""))
    log = os.path.join(run.dir, "train.log")
    if args.dry_run:
        say("        " + shlex.join(full))
        run.status = "dry-run"
        return
    rc = execute(full, log)
    counters.add("trained")
    if rc == 0 and os.path.exists(run.final_ckpt()):
        run.status, run.step = "done", run.steps
        return
    err = last_error_line(log)
    m = NONFINITE.search(err)
    if m:  # a result: this attention cannot be trained here (the paper's exp_only warning)
        run.status, run.step, run.detail = "diverged", int(m.group(3)), err
        with open(diverged, "w") as f:
            json.dump({"command": cmd, "step": run.step, "error": err}, f, indent=1)
        say(f"[div  ] {run.cfg.rel}: diverged at step {run.step}: {err}")
    else:
        run.status, run.detail = "failed", err or f"exit status {rc}"
        say(f"[FAIL ] {run.cfg.rel}: {run.detail} (log: {os.path.relpath(log, REPO)})")


def evaluate(ev, args, counters):
    run = ev.run
    if run.status == "dry-run":
        say(f"[eval ] {run.cfg.name}: " + shlex.join(ev.command(args)))
    if run.status != "done":
        ev.status, ev.records = run.status, []
        return
    os.makedirs(os.path.dirname(ev.json), exist_ok=True)
    cmd = ev.command(args)
    stamp = ev.json + ".cmd"
    if os.path.exists(ev.json) and os.path.exists(stamp) and open(stamp).read() == shlex.join(cmd):
        counters.add("skipped")
    elif args.report_only:
        ev.status, ev.records = "not yet run", []
        return
    else:
        say(f"[eval ] {run.cfg.name} {'p=0' if ev.cfg is None else ev.cfg.rel} at {','.join(map(str, ev.lens))}")
        if args.dry_run:
            say("        " + shlex.join(cmd))
            ev.status, ev.records = "dry-run", []
            return
        for p in (ev.json, stamp):
            if os.path.exists(p):
                os.remove(p)
        log = os.path.join(run.dir, "eval.log")
        rc = execute(cmd, log)
        counters.add("evaluated")
        if rc != 0 or not os.path.exists(ev.json):
            ev.status, ev.detail, ev.records = "failed", last_error_line(log) or f"exit status {rc}", []
            say(f"[FAIL ] eval {run.cfg.name}: {ev.detail}")
            return
        with open(stamp, "w") as f:
            f.write(shlex.join(cmd))
    with open(ev.json) as f:
        ev.records = json.load(f)
    ev.status = "done"


class Counters:
    """trained / evaluated / skipped, incremented from the worker threads."""

    def __init__(self):
        self.n = {"trained": 0, "evaluated": 0, "skipped": 0}
        self.lock = threading.Lock()

    def add(self, key):
        with self.lock:
            self.n[key] += 1


def run_all(runs, args):
    counters = Counters()

    def chain(run):  # a row's evaluations follow its training; rows run side by side (--jobs)
        train(run, args, counters)
        for ev in run.evals:
            evaluate(ev, args, counters)

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for f in [pool.submit(chain, r) for r in runs]:
            f.result()
    return counters.n


# ---------------------------------------------------------------------------------------------
# results: CSV, markdown, plots

CSV_COLUMNS = ["table", "scale", "block", "row", "train_config", "eval_config", "attn", "train_p", "reweight_p",
               "protocol", "seed", "len", "len_ratio", "loss", "paper_loss", "status", "detail", "train_step",
               "eval_tokens"]


def protocol(train_p, eval_p):
    """How the re-weighting of a result was applied: none, post hoc (a p = 0 model evaluated with p),
    trained (trained and evaluated with p), or a trained model evaluated without it."""
    if train_p == 0:
        return "none" if eval_p == 0 else "post hoc"
    return "trained" if eval_p == train_p else f"trained p = {fmt_p(train_p)}, eval p = {fmt_p(eval_p)}"


def fmt_p(p):
    return f"{p:g}"


def records(table, runs, args):
    """One row per (run, eval config, p, length): ours, the paper's where known, the status."""
    out = []
    for run in runs:
        for ev in run.evals:
            got = {(float(r["reweight_p"]), int(r["len"])): r for r in ev.records}
            for p in ev.ps:
                for ratio, length in zip(args.ratios, ev.lens):
                    k = int(round(math.log2(ratio)))
                    paper = ev.reported[k] if 2 ** k == ratio and k < len(ev.reported) else None
                    if run.train_p and p != run.train_p:  # a trained row's paper numbers are at its own p
                        paper = None
                    r = got.get((p, length))
                    loss, status, detail = None, ev.status, ev.detail or run.detail
                    if r is not None:
                        loss = r["loss"]
                        status = "done" if loss is not None and math.isfinite(loss) else "nonfinite"
                        detail = "" if status == "done" else "eval loss is not finite (overflow)"
                    elif ev.status == "done":
                        status, detail = "failed", "missing from the eval JSON"
                    out.append({
                        "table": table, "scale": args.label, "block": ev.block,
                        "row": ev.label if ev.label is not None else ev.label_of_p.get(p, f"p = {fmt_p(p)}"),
                        "train_config": run.cfg.rel, "eval_config": ev.cfg.rel if ev.cfg else "",
                        "attn": run.cfg.options.get("attn", ""), "train_p": fmt_p(run.train_p), "reweight_p": fmt_p(p),
                        "protocol": protocol(run.train_p, p), "seed": run.k, "len": length,
                        "len_ratio": ratio, "loss": "" if loss is None or not math.isfinite(loss) else f"{loss:.6f}",
                        "paper_loss": "" if paper is None else f"{paper:.4f}", "status": status, "detail": detail,
                        "train_step": run.step if run.step is not None else "",
                        "eval_tokens": r["tokens"] if r else ""})
    return out


def outcome(rec):
    """A result that is not a finite loss, in words."""
    if rec["status"] == "diverged":
        return f"diverged at step {rec['train_step']}"
    if rec["status"] == "nonfinite":
        return "non-finite"
    return rec["status"]


def cell(recs, with_paper=True):
    """The seeds of one (row, length): the mean loss ± the standard deviation over the seeds with a
    finite loss, then what happened to the others (diverged, not yet run, ...), then the paper's."""
    if not recs:
        return "—"
    losses = [float(r["loss"]) for r in recs if r["status"] == "done"]
    parts = []
    if len(losses) == 1:
        parts.append(f"{losses[0]:.4f}")
    elif losses:
        parts.append(f"{statistics.mean(losses):.4f} ± {statistics.stdev(losses):.4f}")
    others = [r for r in recs if r["status"] != "done"]
    if others and not losses and len({outcome(r) for r in others}) == 1 and len(others) == len(recs):
        parts.append(outcome(others[0]) + (f" (all {len(others)} seeds)" if len(others) > 1 and others[0]["status"] == "diverged" else ""))
    else:
        parts += [f"seed {r['seed']}: {outcome(r)}" for r in others]
    ours = "; ".join(parts)
    paper = next((r["paper_loss"] for r in recs if r["paper_loss"]), "")
    return f"{ours} ({paper})" if with_paper and paper else ours


def seeds_done(recs):
    """'finished/planned' seeds of a row (finished: a finite loss at the first length)."""
    first = [r for r in recs if r["len_ratio"] == min(x["len_ratio"] for x in recs)]
    return f"{sum(r['status'] == 'done' for r in first)}/{len(first)}"


def hardware():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
        if names:
            cpu = f"{names[0]} ({os.cpu_count()} logical cores)"
    except OSError:
        pass
    try:
        gpus = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=20).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        gpus = []
    return cpu + (f"; GPUs: {len(gpus)} x {gpus[0]}" if gpus else "; no GPU")


def git_commit():
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=REPO,
                              timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def md_escape(text):
    return text.replace("|", "\\|")


def show_path(p, args):
    """A data path as the reader can use it: under $LSSA_DATA_DIR or the repo when it is."""
    if p.startswith(args.data_dir + os.sep):
        return "$LSSA_DATA_DIR" + p[len(args.data_dir):]
    return os.path.relpath(p, REPO) if p.startswith(REPO + os.sep) else p


def unigram_xent(args, T):
    """Cross-entropy (nats/token) of the evaluated tokens under the unigram distribution of the
    training tokens (add-one smoothed; at most the first 50M training tokens): the loss of a model
    that ignores its context. The evaluation of every length scores the same tokens, the first
    max(eval_tokens, 16 T) after the first of the first evaluation shard. None without numpy."""
    try:
        import glob
        import numpy as np
    except ImportError:
        return None

    def tokens(pattern, limit):
        out, n = [], 0
        for f in sorted(p for g in pattern.split(",") for p in glob.glob(g)):
            a = np.memmap(f, dtype=np.uint16, mode="r", offset=1024)[: max(0, limit - n)]
            out.append(np.asarray(a))
            n += len(a)
            if n >= limit:
                break
        return np.concatenate(out) if out else np.zeros(0, np.uint16)

    train = tokens(args.train_data, 50_000_000)
    ev = tokens(args.eval_data, max(args.eval_tokens, max(args.ratios) * T) + 1)[1:]
    if not len(train) or not len(ev):
        return None
    counts = np.bincount(train, minlength=int(max(train.max(), ev.max())) + 1).astype(np.float64) + 1.0
    return float(-np.log(counts[ev] / counts.sum()).mean())


def markdown(table, runs, recs, args):
    T = runs[0].T
    first = runs[0]
    ov = first.overrides
    lines = [f"# {table}: ours at scale `{args.label}` beside the paper", ""]
    pending = sorted({r["train_config"] + ("" if r["seed"] == 0 else f" (seed index {r['seed']})")
                      for r in recs if r["status"] in ("not yet run", "pending")})
    if pending:
        lines.append(f"**Partial results**: {len(pending)} run(s) or evaluation(s) not yet finished (cells say "
                     "`not yet run`; the seeds column counts finished/planned seeds):")
        lines.append("")
        lines += [f"- {p}" for p in pending]
        lines.append("")
    lines.append(f"Generated by `scripts/reproduce/reproduce.py {table} --scale {args.scale}"
                 f"{f' --steps {args.steps}' if args.steps else ''}` on "
                 f"{datetime.date.today().isoformat()}, commit {git_commit() or '?'}; {hardware()}; device `{args.device}`.")
    lines.append("")
    model = ov.get("model", first.cfg.options.get("model"))
    if "layers" in ov:  # a preset with its size overridden (the cpu scale)
        model += f" with L = {ov['layers']}, NH = {ov['heads']}, C = {ov['channels']} (head size {ov['channels'] // ov['heads']})"
    lines.append(f"Ours: model `{model}`, T_train = {T}, {first.steps} steps of "
                 f"{ov.get('total-batch', first.cfg.options.get('total-batch'))} tokens, "
                 f"train data `{show_path(args.train_data, args)}`; "
                 f"validation loss over {args.eval_tokens} tokens per length of "
                 f"`{show_path(args.eval_data, args)}` "
                 f"(NTK RoPE scaling beyond T_train). Paper: GPT-2 124M + RoPE, T_train = 1024, 18,865 steps on "
                 f"FineWeb-10B, in parentheses; its columns 1K / 2K / 4K / 8K are 1x / 2x / 4x / 8x here. "
                 f"With several seeds a cell is the mean ± the standard deviation over the seeds (same "
                 f"evaluation windows for every run). Blocks \"..., trained\" are models trained with "
                 f"re-weighting (the trained protocol); the others apply it to the p = 0 checkpoint (post hoc).")
    lines.append("")
    xent = unigram_xent(args, T)
    if xent is not None:
        lines.append(f"Unigram cross-entropy of the evaluated tokens (the training data's unigram, add-one): "
                     f"**{xent:.4f}** nats/token — the loss of a model that ignores its context.")
        lines.append("")
    by = {}
    for r in recs:
        by.setdefault((r["block"], r["row"], r["len_ratio"]), []).append(r)
    by_row = {}
    for r in recs:
        by_row.setdefault((r["block"], r["row"]), []).append(r)
    order = []
    for r in recs:
        if (r["block"], r["row"]) not in order:
            order.append((r["block"], r["row"]))
    # the unweighted block first, then the blocks by their smallest p (Table 4: p = 3, then p = 15);
    # rows keep the runs' order within a block
    # (a trained block holds its p = 0 evaluation too: blocks are ordered by their largest p, so the
    # post-hoc and the trained block of one p sit side by side)
    max_p = {}
    for r in recs:
        max_p[r["block"]] = max(max_p.get(r["block"], 0.0), float(r["reweight_p"]), float(r["train_p"]))
    order.sort(key=lambda br: (br[0] != "", max_p[br[0]], br[0]))
    wide = all(len(ev.reported) <= 1 for run in runs for ev in run.evals) and all(b == "" for b, _ in order)
    if wide:  # Tables 1-3: the paper's layout is one column per variant, one row of losses at 1K
        heads = [row for _, row in order]
        lines.append("| | " + " | ".join(md_escape(h) for h in heads) + " |")
        lines.append("|---|" + "---|" * len(heads))
        lines.append("| paper (124M, T = 1024) | " + " | ".join(by[("", h, 1)][0]["paper_loss"] or "—" for h in heads) + " |")
        lines.append(f"| ours ({args.label}, T = {T}) | " + " | ".join(cell(by[("", h, 1)], False) for h in heads) + " |")
        lines.append("")
        lines.append("Length extrapolation (not in the paper's table; ours):")
        lines.append("")
    lines.append("| row | seeds | " + " | ".join(f"{r}x ({r * T})" for r in args.ratios) + " |")
    lines.append("|---|---|" + "---|" * len(args.ratios))
    block = None
    for b, row in order:
        if b != block:
            block = b
            if b:
                lines.append(f"| **{md_escape(b)}** | |" + " |" * len(args.ratios))
        lines.append(f"| {md_escape(row)} | {seeds_done(by_row[(b, row)])} | "
                     + " | ".join(cell(by.get((b, row, r)), not wide) for r in args.ratios) + " |")
    lines.append("")
    notes = sorted({f"- {r['train_config']}" + (f" (seed index {r['seed']})" if r["seed"] else "") + f": {r['detail']}"
                    for r in recs if r["status"] != "done" and r["detail"]})
    if notes:
        lines.append("Runs and evaluations without a finite loss:")
        lines.append("")
        lines += notes
        lines.append("")
    lines.append("Cells: ours (paper). `diverged at step N`: training stopped with a non-finite loss at step N "
                 "(no checkpoint, so no evaluation); `non-finite`: the evaluation loss overflowed.")
    return "\n".join(lines) + "\n"


def plots(table, recs, out_dir, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    curves = {}
    for r in recs:
        key = (r["block"], r["row"])
        curves.setdefault(key, {"ours": [], "paper": []})
        if r["loss"]:
            curves[key]["ours"].append((r["len_ratio"], float(r["loss"])))
        if r["paper_loss"]:
            curves[key]["paper"].append((r["len_ratio"], float(r["paper_loss"])))
    for c in curves.values():  # several seeds: their mean (the markdown has the spread)
        c["ours"] = mean_points(c["ours"])
        c["paper"] = sorted(set(c["paper"]))
    has_paper = any(len(c["paper"]) > 1 for c in curves.values())
    fig, axes = plt.subplots(1, 2 if has_paper else 1, figsize=(13 if has_paper else 8, 5.5), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for i, ((block, row), c) in enumerate(curves.items()):
        name = f"{block}: {row}" if block else row
        style = dict(color=cmap(i % 20), marker="o", markersize=3, linestyle="--" if block else "-")
        if c["ours"]:
            axes[0][0].plot(*zip(*c["ours"]), label=name, **style)
        if has_paper and len(c["paper"]) > 1:
            axes[0][1].plot(*zip(*c["paper"]), label=name, **style)
    axes[0][0].set_title(f"ours ({args.label} scale)")
    if has_paper:
        axes[0][1].set_title("paper (GPT-2 124M, T_train = 1024)")
    for ax in axes[0]:
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(args.ratios), [f"{r}x" for r in args.ratios])
        ax.set_xlabel("inference length / training length")
        ax.set_ylabel("validation loss")
        ax.grid(alpha=0.3)
    if axes[0][-1].get_legend_handles_labels()[0]:
        axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"{table}: loss vs inference length")
    fig.tight_layout()
    path = os.path.join(out_dir, "loss_vs_length.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    # a p sweep (Figure 2): loss vs p, one panel per checkpoint, a line per length
    sweeps = {}
    for r in recs:
        if r["row"].startswith("p = ") and r["loss"]:
            sweeps.setdefault(r["train_config"], {}).setdefault(r["len_ratio"], []).append(
                (float(r["reweight_p"]), float(r["loss"])))
    if sweeps:
        fig, axes = plt.subplots(1, len(sweeps), figsize=(6.5 * len(sweeps), 5), squeeze=False)
        for ax, (cfgpath, lines) in zip(axes[0], sweeps.items()):
            for ratio in sorted(lines):
                pts = mean_points(lines[ratio])
                ax.plot(*zip(*pts), marker="o", markersize=3, label=f"{ratio}x")
            ax.set_title(os.path.basename(cfgpath)[: -len(".toml")] + " checkpoint")
            ax.set_xlabel("re-weighting exponent p (0 = off)")
            ax.set_ylabel("validation loss")
            ax.grid(alpha=0.3)
            ax.legend(title="length", fontsize=7)
        fig.suptitle(f"{table}: loss vs re-weighting p ({args.label} scale)")
        fig.tight_layout()
        path = os.path.join(out_dir, "loss_vs_p.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    # the two re-weighting protocols side by side: per attention, loss vs p at each length, post hoc
    # (the p = 0 model evaluated with p; dashed) and trained (a model per p; solid, mean over seeds)
    proto = {}
    for r in recs:
        if not r["loss"] or r["protocol"] not in ("none", "post hoc", "trained"):
            continue
        kind = "trained" if r["protocol"] == "trained" else "post hoc"
        proto.setdefault(base_attn(r["attn"]), {}).setdefault((kind, r["len_ratio"]), []).append(
            (float(r["reweight_p"]), float(r["loss"])))
        if r["protocol"] == "none":  # p = 0 is the start of both curves
            proto[base_attn(r["attn"])].setdefault(("trained", r["len_ratio"]), []).append((0.0, float(r["loss"])))
    proto = {a: c for a, c in proto.items() if any(k[0] == "trained" and len({p for p, _ in v}) > 1 for k, v in c.items())}
    if proto:
        fig, axes = plt.subplots(1, len(proto), figsize=(6.5 * len(proto), 5), squeeze=False)
        cmap = plt.get_cmap("viridis")
        for ax, (attn, c) in zip(axes[0], sorted(proto.items())):
            ratios = sorted({k[1] for k in c})
            for i, ratio in enumerate(ratios):
                color = cmap(i / max(1, len(ratios) - 1))
                for kind, ls in (("post hoc", "--"), ("trained", "-")):
                    if (kind, ratio) in c and len({p for p, _ in c[(kind, ratio)]}) > 1:
                        ax.plot(*zip(*mean_points(c[(kind, ratio)])), ls, marker="o", markersize=3, color=color,
                                label=f"{ratio}x {kind}")
            ax.set_title(f"{attn}: re-weighting post hoc (dashed) vs trained (solid)")
            ax.set_xlabel("re-weighting exponent p (0 = off)")
            ax.set_ylabel("validation loss")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        fig.suptitle(f"{table}: the two re-weighting protocols ({args.label} scale)")
        fig.tight_layout()
        path = os.path.join(out_dir, "protocols.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


PASSKEY_COLUMNS = ["table", "scale", "row", "train_config", "eval_config", "attn", "reweight_p", "len", "len_ratio",
                   "depth", "accuracy", "correct", "trials", "status", "detail", "train_step"]


def passkey_records(table, runs, args):
    """One row per (run, eval config, p, length, depth) of the passkey evaluations."""
    out = []
    for run in runs:
        for ev in run.evals:
            attn = run.cfg.options.get("attn", "")
            got = {(float(r["reweight_p"]), int(r["len"]), float(r["depth"])): r for r in ev.records}
            depths = sorted({float(r["depth"]) for r in ev.records}) or [None]
            for p in ev.ps:
                row = f"{attn} (p = {fmt_p(p)})" if p else attn
                for length in ev.lens:
                    for d in depths:
                        r = got.get((p, length, d))
                        status = ev.status if r is None and ev.status != "done" else ("done" if r else "failed")
                        out.append({
                            "table": table, "scale": args.label, "row": row, "train_config": run.cfg.rel,
                            "eval_config": ev.cfg.rel if ev.cfg else "", "attn": attn, "reweight_p": fmt_p(p),
                            "len": length, "len_ratio": f"{length / run.T:g}", "depth": "" if d is None else f"{d:g}",
                            "accuracy": f"{r['accuracy']:.4f}" if r else "", "correct": r["correct"] if r else "",
                            "trials": r["trials"] if r else "", "status": status,
                            "detail": "" if r else (ev.detail or run.detail or "missing from the eval JSON"),
                            "train_step": run.step if run.step is not None else ""})
    return out


def passkey_markdown(table, runs, recs, args):
    T = runs[0].T
    lines = [f"# {table}: passkey retrieval at scale `{args.label}`", ""]
    lines.append(f"Generated by `scripts/reproduce/reproduce.py {table} --scale {args.scale}"
                 f"{f' --steps {args.steps}' if args.steps else ''}` on {datetime.date.today().isoformat()}, commit "
                 f"{git_commit() or '?'}; {hardware()}; device `{args.device}`. T_train = {T}; NTK RoPE scaling "
                 "beyond it; the prompt of Mohtashami & Jaggi (2023) with 5-digit keys, greedy decoding, exact digits.")
    lines.append("")
    for c in sorted({ev.cfg.path for run in runs for ev in run.evals if ev.cfg is not None}):
        paper = [l for l in Config(c).header if l.startswith("Reported")]
        if paper:
            lines.append(f"- {paper[0]}")
    lines.append("")
    rows = list(dict.fromkeys(r["row"] for r in recs))
    lens = sorted({int(r["len"]) for r in recs})

    def cell(row, length, depth=None):
        v = [float(r["accuracy"]) for r in recs if r["row"] == row and int(r["len"]) == length and r["accuracy"] and
             (depth is None or r["depth"] == depth)]
        if not v:
            st = {r["status"] for r in recs if r["row"] == row and int(r["len"]) == length}
            return ", ".join(sorted(st)) or "—"
        return f"{100 * sum(v) / len(v):.0f} %"
    lines.append("Accuracy, mean over the depths:")
    lines.append("")
    lines.append("| row | " + " | ".join(f"{l} ({l / T:g}x)" for l in lens) + " |")
    lines.append("|---|" + "---|" * len(lens))
    for row in rows:
        lines.append(f"| {md_escape(row)} | " + " | ".join(cell(row, l) for l in lens) + " |")
    lines.append("")
    for row in rows:
        depths = list(dict.fromkeys(r["depth"] for r in recs if r["row"] == row and r["depth"]))
        if not depths:
            continue
        lines.append(f"{row}, per depth:")
        lines.append("")
        lines.append("| depth | " + " | ".join(str(l) for l in lens) + " |")
        lines.append("|---|" + "---|" * len(lens))
        for d in depths:
            lines.append(f"| {d} % | " + " | ".join(cell(row, l, d) for l in lens) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def passkey_plots(recs, runs, out_dir, args):
    jsons = [ev.json for run in runs for ev in run.evals if ev.status == "done"]
    written = []
    if jsons:
        path = os.path.join(out_dir, "passkey_heatmap.png")
        rc = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "scripts", "plot_eval.py"), *jsons, "--kind",
                             "passkey", "-o", path], capture_output=True, text=True).returncode
        if rc == 0:
            written.append(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in dict.fromkeys(r["row"] for r in recs):
        pts = {}
        for r in recs:
            if r["row"] == row and r["accuracy"]:
                pts.setdefault(float(r["len_ratio"]), []).append(100 * float(r["accuracy"]))
        if pts:
            xs = sorted(pts)
            ax.plot(xs, [sum(pts[x]) / len(pts[x]) for x in xs], marker="o", label=row)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("prompt length / training length")
    ax.set_ylabel("passkey accuracy (%), mean over depths")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    ax.set_title(f"passkey retrieval ({args.label} scale)")
    fig.tight_layout()
    path = os.path.join(out_dir, "passkey_vs_length.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def mean_points(pts):
    """[(x, y), ...] with repeated x (seeds) -> sorted [(x, mean y)]."""
    by = {}
    for x, y in pts:
        by.setdefault(x, []).append(y)
    return [(x, statistics.mean(ys)) for x, ys in sorted(by.items())]


def base_attn(attn):
    return "lssa" if attn == "lssar" else attn


def write_results(table, runs, args):
    out_dir = os.path.join(args.results_dir, table, args.label)
    os.makedirs(out_dir, exist_ok=True)
    if all(ev.task == "passkey" for run in runs for ev in run.evals):
        recs = passkey_records(table, runs, args)
        with open(os.path.join(out_dir, "results.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=PASSKEY_COLUMNS)
            w.writeheader()
            w.writerows(recs)
        with open(os.path.join(out_dir, f"{table}.md"), "w") as f:
            f.write(passkey_markdown(table, runs, recs, args))
        return out_dir, recs, passkey_plots(recs, runs, out_dir, args)
    recs = records(table, runs, args)
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerows(recs)
    with open(os.path.join(out_dir, f"{table}.md"), "w") as f:
        f.write(markdown(table, runs, recs, args))
    pngs = plots(table, recs, out_dir, args)
    return out_dir, recs, pngs


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("table", help="a folder of configs/paper/: table1, table2, table3, table4, figure2, passkey, "
                                         "baselines (not in the paper)")
    ap.add_argument("--scale", choices=sorted(SCALES), default="tiny",
                    help="full: the paper's recipe (GPU cluster); small: one GPU, ~1 h per table; cpu: byte-level, "
                         "~7 min per run on 2 cores; tiny: CPU smoke test, minutes")
    ap.add_argument("--device", help="cpu | cuda | auto (default: cpu at tiny, cuda otherwise)")
    ap.add_argument("--launcher", default=os.environ.get("LSSA_LAUNCHER", ""),
                    help='prefix of every train_gpt2 command, e.g. "mpirun -np 8" or "srun" (env LSSA_LAUNCHER)')
    ap.add_argument("--train-data", default=os.environ.get("LSSA_TRAIN_DATA"),
                    help="training shards (glob); default: the scale's (env LSSA_TRAIN_DATA)")
    ap.add_argument("--val-data", default=os.environ.get("LSSA_VAL_DATA"),
                    help="validation shards during training (env LSSA_VAL_DATA)")
    ap.add_argument("--eval-data", default=os.environ.get("LSSA_EVAL_DATA"),
                    help="shards of the length evaluation (env LSSA_EVAL_DATA); default: longeval (embedded) "
                         "or --val-data (full)")
    ap.add_argument("--build-dir", default=os.environ.get("LSSA_BUILD_DIR", os.path.join(REPO, "build")))
    ap.add_argument("--runs-dir", default=os.path.join(REPO, "runs", "reproduce"))
    ap.add_argument("--results-dir", default=os.path.join(REPO, "results"))
    ap.add_argument("--jobs", type=int, help="rows trained side by side (default: 1; tiny: the number of cores)")
    ap.add_argument("--threads", type=int, help="--threads of each program (default: 1 at tiny, else all)")
    ap.add_argument("--steps", type=int,
                    help="override the scale's number of training steps (runs and results go to SCALE-Nsteps/)")
    ap.add_argument("--batch", type=int, help="micro-batch per process (GPU memory); total-batch is kept")
    ap.add_argument("--eval-tokens", type=int, help="override the scale's evaluation budget per length")
    ap.add_argument("--ratios", default=",".join(map(str, RATIOS)),
                    help="inference lengths as multiples of T_train (default 1,2,4,8,16)")
    ap.add_argument("--passkey-ratios", default=",".join(f"{r:g}" for r in PASSKEY_RATIOS),
                    help="passkey prompt lengths as multiples of T_train (default 1,1.5,2,4,8,16)")
    ap.add_argument("--passkey-keys", type=int, help="override the configs' keys per passkey cell")
    ap.add_argument("--rows", nargs="+", help="only these rows (globs on the config name, e.g. 'lssa' 'soft*')")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    ap.add_argument("--max-seeds", type=int, help="at most this many seeds per row (the scale's policy otherwise)")
    ap.add_argument("--report-only", action="store_true",
                    help="train and evaluate nothing: write the results of what is finished (the rest: 'not yet run')")
    args = ap.parse_args()

    scale = SCALES[args.scale]
    # runs and results of a --steps override live apart from the scale's own (e.g. tiny-300steps):
    # a run directory always holds one configuration
    args.label = args.scale + (f"-{args.steps}steps" if args.steps else "")
    args.device = args.device or scale["device"]
    args.jobs = args.jobs or scale["jobs"] or os.cpu_count() or 1
    args.threads = scale["threads"] if args.threads is None else args.threads
    args.eval_tokens = args.eval_tokens or scale["eval_tokens"]
    args.ratios = [int(r) for r in args.ratios.split(",")]
    args.passkey_ratios = [float(r) for r in args.passkey_ratios.split(",")]
    data_dir = args.data_dir = os.path.abspath(os.environ.get("LSSA_DATA_DIR", os.path.join(REPO, ".cache", "data")))
    if scale["data"] == "bytes":  # scripts/setup.sh builds them next to the GPT-2 shards
        args.train_data = args.train_data or os.path.join(data_dir, "shards", "default_bytes_train_*.bin")
        args.val_data = args.val_data or os.path.join(data_dir, "shards", "default_bytes_val_*.bin")
        args.eval_data = args.eval_data or os.path.join(data_dir, "shards", "longeval_bytes_val_*.bin")
        hint = "run scripts/setup.sh (or set LSSA_DATA_DIR)"
    elif scale["data"] == "embedded":
        args.train_data = args.train_data or os.path.join(data_dir, "shards", "default_train_*.bin")
        args.val_data = args.val_data or os.path.join(data_dir, "shards", "default_val_*.bin")
        args.eval_data = args.eval_data or os.path.join(data_dir, "shards", "longeval_val_*.bin")
        hint = "run scripts/setup.sh (or set LSSA_DATA_DIR)"
    else:
        args.train_data = args.train_data or os.path.join(data_dir, "fineweb10B", "fineweb_train_*.bin")
        args.val_data = args.val_data or os.path.join(data_dir, "fineweb10B", "fineweb_val_*.bin")
        args.eval_data = args.eval_data or args.val_data
        hint = "tokenize FineWeb-10B with scripts/fineweb.py (needs internet) or pass --train-data/--val-data"
    import glob

    for what, pattern in (("training", args.train_data), ("validation", args.val_data), ("evaluation", args.eval_data)):
        if not args.dry_run and not any(glob.glob(p) for p in pattern.split(",")):
            raise SystemExit(f"error: no {what} shards match {pattern}: {hint}")
    args.train_bin = os.path.join(args.build_dir, "train_gpt2")
    args.eval_bin = os.path.join(args.build_dir, "eval_gpt2")
    for b in (args.train_bin, args.eval_bin):
        if not os.access(b, os.X_OK) and not args.dry_run:
            raise SystemExit(f"error: {b} not found: cmake --build {args.build_dir} --target train_gpt2 eval_gpt2")

    runs = plan(args.table, args)
    say(f"reproduce {args.table} | scale {args.label} | {len(runs)} training run(s), "
        f"{sum(len(r.evals) for r in runs)} evaluation(s) | device {args.device} | jobs {args.jobs}")
    counters = run_all(runs, args)
    if args.dry_run:
        return 0
    out_dir, recs, pngs = write_results(args.table, runs, args)
    if args.table in ("table4", "figure2") and os.path.exists(os.path.join(args.results_dir, "table4", args.label,
                                                                            "results.csv")):
        import claims  # the paper's claims as verdicts, from Table 4's (and Figure 2's) results of this scale
        path, _ = claims.write_claims(args.results_dir, args.label)
        say(f"claims: {os.path.relpath(path, REPO)}")
    failed = [r for r in recs if r["status"] == "failed"]
    diverged = sorted({r["train_config"] for r in recs if r["status"] == "diverged"})
    say(f"done: {counters['trained']} trained, {counters['evaluated']} evaluated, {counters['skipped']} skipped | "
        f"{len(recs)} results, {len(diverged)} diverged run(s), {len(failed)} failed | {os.path.relpath(out_dir, REPO)}/")
    for d in diverged:
        say(f"  diverged (a result): {d}")
    for f in sorted({(r["train_config"], r["eval_config"], r["detail"]) for r in failed}):
        say(f"  FAILED: {f[0]} {f[1]}: {f[2]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
