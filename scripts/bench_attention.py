#!/usr/bin/env python3
"""PyTorch side of scripts/bench_attention.sh (needs a GPU machine with torch + CUDA).

  bench_attention.py torch --T 1024 [--tokens 16384 --NH 12 --HS 64 --iters 10]
      times, on (B, NH, T, HS) bf16 with B = tokens // T, causal:
        sdpa_flash   torch scaled_dot_product_attention, flash backend
        sdpa_cudnn   same, cuDNN backend (skipped when this torch/GPU has none)
        eager_lssa   LSSA written as the paper's PyTorch code would be (T x T scores materialised)
        eager_lssar  the same + re-weighting (p = 15)
      and prints one JSON line per implementation (same fields as flash_bench; "error" on OOM).
  bench_attention.py combine RESULTS.jsonl --gpu NAME --out results/attention_<gpu>_<date>.md
      side-by-side tables: TFLOP/s (FlashAttention's FLOP count) and ratios against the fastest
      softmax measured in the same run, our reference path, and eager PyTorch; peak memory.
"""
import argparse
import json
import math
import sys


def flops_fwd(B, T, NH, HS):  # FlashAttention's count (causal halves); bwd = 2.5 x fwd
    return 4.0 * B * NH * T * T * HS / 2


def bench_torch(args):
    import torch
    import torch.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = True
    B, T, NH, HS = max(1, args.tokens // args.T), args.T, args.NH, args.HS
    dev = "cuda"

    def timed(fn, warmup=3, iters=args.iters):
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(iters):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize()
            ts.append(a.elapsed_time(b))
        ts.sort()
        return ts[len(ts) // 2]

    def eager_lssa(q, k, v, p=0.0):
        # As the paper's code would be written: materialise the T x T scores.
        n = torch.arange(1, T + 1, device=q.device, dtype=torch.float32)
        c = (math.log(HS) * torch.log(n)).view(1, 1, T, 1)
        qh, kh = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        s = (qh @ kh.transpose(-1, -2)).float() * c
        mask = torch.ones(T, T, device=q.device, dtype=torch.bool).tril()
        f = torch.where(mask, F.softplus(s), torch.zeros((), device=q.device))
        a = f / f.sum(-1, keepdim=True)
        if p > 0:
            off = (n > 3).float().view(1, 1, T, 1)
            u = torch.relu(n.view(1, 1, T, 1) * a - off)
            r = u / u.amax(-1, keepdim=True).clamp_min(1e-30)  # (relu(u)/max)^p: no overflow
            w = r.pow(p)
            W = w.sum(-1, keepdim=True)
            a = torch.where(W > 0, w / W.clamp_min(1e-30), a)
        return (a.to(v.dtype) @ v)

    impls = {
        "sdpa_flash": ("flash", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
        "sdpa_cudnn": ("cudnn", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)),
        "eager_lssa": (None, lambda q, k, v: eager_lssa(q, k, v)),
        "eager_lssar": (None, lambda q, k, v: eager_lssa(q, k, v, 15.0)),
    }
    from contextlib import nullcontext
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        backends = {"flash": SDPBackend.FLASH_ATTENTION,
                    "cudnn": getattr(SDPBackend, "CUDNN_ATTENTION", None)}
    except ImportError:
        sdpa_kernel, backends = None, {}

    for name, (backend, fn) in impls.items():
        rec = {"impl": name, "variant": "softmax" if name.startswith("sdpa") else name[6:],
               "p": 15 if name == "eager_lssar" else 0, "B": B, "T": T, "NH": NH, "HS": HS}
        try:
            if backend is not None:
                if sdpa_kernel is None or backends.get(backend) is None:
                    raise RuntimeError(f"SDPA backend {backend} not available in torch {torch.__version__}")
                ctx = lambda: sdpa_kernel(backends[backend])
            else:
                ctx = nullcontext
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            q, k, v = (torch.randn(B, NH, T, HS, device=dev, dtype=torch.bfloat16, requires_grad=True)
                       for _ in range(3))
            dout = torch.randn(B, NH, T, HS, device=dev, dtype=torch.bfloat16)
            with ctx():
                fwd_ms = timed(lambda: fn(q, k, v))
                out = fn(q, k, v)

                def bwd():
                    q.grad = k.grad = v.grad = None
                    torch.autograd.grad(out, (q, k, v), dout, retain_graph=True)
                bwd_ms = timed(bwd)
            peak = torch.cuda.max_memory_allocated() - base
            f = flops_fwd(B, T, NH, HS)
            rec.update(fwd_ms=fwd_ms, bwd_ms=bwd_ms, fwd_tflops=f / fwd_ms * 1e-9,
                       bwd_tflops=2.5 * f / bwd_ms * 1e-9, peak_bytes=peak)
            del q, k, v, dout, out
        except Exception as e:  # OOM or a missing backend: reported, not fatal
            rec["error"] = str(e).splitlines()[0][:160]
            torch.cuda.empty_cache()
        print(json.dumps(rec), flush=True)


def combine(args):
    recs = [json.loads(l) for l in open(args.results) if l.strip().startswith("{")]
    Ts = sorted({r["T"] for r in recs})
    key = lambda r: r["impl"] + ":" + r["variant"] + (f"(p={r['p']:g})" if r.get("p") else "")
    cols = []
    for r in recs:
        if key(r) not in cols:
            cols.append(key(r))
    at = {(key(r), r["T"]): r for r in recs}

    def best_softmax(T, field):
        c = [r for r in recs if r["T"] == T and r["variant"] == "softmax" and r["impl"].startswith("sdpa")
             and "error" not in r]
        return min((r[field] for r in c), default=None)

    out = [f"# Attention kernels on {args.gpu}", "",
           f"Generated by scripts/bench_attention.sh on {args.date}. Causal, bf16, HS = {recs[0]['HS']}, "
           f"NH = {recs[0]['NH']}, B·T = {args.tokens} tokens. TFLOP/s use FlashAttention's count "
           "(fwd 4·B·NH·T²·HS/2, bwd 2.5×) for every implementation, so ratios are time ratios. "
           "'vs best softmax' = time of the fastest PyTorch SDPA softmax (flash/cuDNN) in this run divided "
           "by this implementation's time (> 1: faster). Peak memory: everything the pass allocates.", ""]
    for field, title in (("fwd_ms", "forward"), ("bwd_ms", "backward")):
        out += [f"## {title}: TFLOP/s (time ratio vs best softmax)", "",
                "| impl | " + " | ".join(f"T={T}" for T in Ts) + " |",
                "|---|" + "---|" * len(Ts)]
        for c in cols:
            cells = []
            for T in Ts:
                r = at.get((c, T))
                if r is None:
                    cells.append("—")
                elif "error" in r:
                    cells.append("fail: " + r["error"][:40])
                else:
                    best = best_softmax(T, field)
                    ratio = f" ({best / r[field]:.2f}×)" if best else ""
                    cells.append(f"{r[field.replace('_ms', '_tflops')]:.1f}{ratio}")
            out.append(f"| {c} | " + " | ".join(cells) + " |")
        out.append("")
    out += ["## peak memory (MiB)", "", "| impl | " + " | ".join(f"T={T}" for T in Ts) + " |",
            "|---|" + "---|" * len(Ts)]
    for c in cols:
        cells = []
        for T in Ts:
            r = at.get((c, T))
            cells.append("—" if r is None or "error" in r else f"{r['peak_bytes'] / 2**20:.0f}")
        out.append(f"| {c} | " + " | ".join(cells) + " |")
    out.append("")
    # the targets, where the data exists
    out += ["## issue 6 targets", ""]
    for T in Ts:
        ls, lr = at.get(("fused:lssa", T)), at.get(("fused:lssar(p=15)", T))
        el = at.get(("eager_lssar:lssar(p=15)", T))
        line = [f"T={T}:"]
        for field, name, target in (("fwd_ms", "lssa fwd vs best softmax", 0.9), ("bwd_ms", "lssa bwd vs best softmax", 0.8)):
            b = best_softmax(T, field)
            if ls and b and "error" not in ls:
                line.append(f"{name} {b / ls[field]:.2f}× (target ≥ {target})")
        if ls and lr and "error" not in lr:
            line.append(f"lssar/lssa fwd time {lr['fwd_ms'] / ls['fwd_ms']:.2f} (target ≤ 2)")
        if lr and el and "error" not in el and "error" not in lr:
            line.append(f"eager lssar / fused lssar: time {el['fwd_ms'] / lr['fwd_ms']:.1f}× (≥ 10), "
                        f"memory {el['peak_bytes'] / max(lr['peak_bytes'], 1):.1f}× (≥ 20)")
        out.append("- " + line[0] + " " + "; ".join(line[1:]))
    text = "\n".join(out) + "\n"
    open(args.out, "w").write(text)
    sys.stdout.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("torch")
    t.add_argument("--T", type=int, required=True)
    t.add_argument("--tokens", type=int, default=16384)
    t.add_argument("--NH", type=int, default=12)
    t.add_argument("--HS", type=int, default=64)
    t.add_argument("--iters", type=int, default=10)
    c = sub.add_parser("combine")
    c.add_argument("results")
    c.add_argument("--gpu", required=True)
    c.add_argument("--date", required=True)
    c.add_argument("--tokens", type=int, default=16384)
    c.add_argument("--out", required=True)
    args = ap.parse_args()
    bench_torch(args) if args.cmd == "torch" else combine(args)


if __name__ == "__main__":
    main()
