#!/usr/bin/python3
"""Time one full training step (forward + backward + AdamW) of the oracle GPT-2 in float32.
PyTorch side of the CPU benchmark (DESIGN.md section 11). Prints a last line `tok_per_s=<number>`.

  /usr/bin/python3 test/reference/bench_step.py --layers 4 --channels 256 --heads 4 \\
      --seq-len 256 --batch 4 --threads 2 --steps 5 [--attn softmax|lssa|...] [--reweight-p P]
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_oracle as go  # noqa: E402


def native_forward(params, tokens, cfg, targets):
    """Same model as go.forward (same attention code and RoPE), but with PyTorch's fused
    LayerNorm / GELU-tanh / cross-entropy kernels: a stronger PyTorch baseline than the
    deliberately plain oracle."""
    B, T = tokens.shape
    C, NH = cfg.n_embd, cfg.n_head
    HS = C // NH
    cos, sin = go.rope_cos_sin(T, HS, cfg.rope_base, cfg.seq_len, "none", params["wte"].dtype)
    x = F.embedding(tokens, params["wte"])
    for l in range(cfg.n_layer):
        h = f"h.{l}."
        xn = F.layer_norm(x, (C,), params[h + "ln_1.weight"], params[h + "ln_1.bias"], 1e-5)
        qkv = F.linear(xn, params[h + "attn.c_attn.weight"], params[h + "attn.c_attn.bias"])
        q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in qkv.split(C, dim=-1))
        q, k = go.apply_rope(q, cos, sin), go.apply_rope(k, cos, sin)
        y = go.attention(q, k, v, cfg.attn, cfg.reweight_p, cfg.seq_len)
        y = y.transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, params[h + "attn.c_proj.weight"], params[h + "attn.c_proj.bias"])
        xn = F.layer_norm(x, (C,), params[h + "ln_2.weight"], params[h + "ln_2.bias"], 1e-5)
        hid = F.gelu(F.linear(xn, params[h + "mlp.c_fc.weight"], params[h + "mlp.c_fc.bias"]),
                     approximate="tanh")
        x = x + F.linear(hid, params[h + "mlp.c_proj.weight"], params[h + "mlp.c_proj.bias"])
    x = F.layer_norm(x, (C,), params["ln_f.weight"], params["ln_f.bias"], 1e-5)
    logits = F.linear(x, params["wte"][:cfg.vocab_size])
    return logits, F.cross_entropy(logits.view(B * T, -1), targets.view(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--channels", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--padded-vocab", type=int, default=50304)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5, help="timed steps (after --warmup steps)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--attn", default="softmax", choices=go.VARIANTS)
    ap.add_argument("--reweight-p", type=float, default=0)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--impl", default="oracle", choices=["oracle", "native"],
                    help="oracle: the plain oracle model and hand-written AdamW (default); "
                         "native: same attention code, but PyTorch's fused LayerNorm/GELU/"
                         "cross-entropy and torch.optim.AdamW(foreach) + clip_grad_norm_")
    args = ap.parse_args()
    if args.channels % args.heads:
        raise SystemExit("--channels must be divisible by --heads")
    torch.set_num_threads(args.threads)
    cfg = go.Config(n_layer=args.layers, n_head=args.heads, n_embd=args.channels,
                    vocab_size=args.vocab, padded_vocab_size=args.padded_vocab,
                    seq_len=args.seq_len, attn=args.attn, reweight_p=args.reweight_p)
    params = go.init_params(cfg, seed=args.seed, dtype=torch.float32, w_std=0.02, attn_std=0.02,
                            ln_std=0.0, b_std=0.0)
    params = {k: v.requires_grad_(True) for k, v in params.items()}
    g = torch.Generator().manual_seed(args.seed + 1)
    B, T = args.batch, args.seq_len
    tokens = torch.randint(0, cfg.vocab_size, (B, T), generator=g)
    targets = torch.randint(0, cfg.vocab_size, (B, T), generator=g)
    if args.impl == "oracle":
        opt = go.AdamW()

        def step():
            for p in params.values():
                p.grad = None
            _, loss = go.forward(params, tokens, cfg, targets)
            loss.backward()
            with torch.no_grad():
                opt.step(params, {k: p.grad for k, p in params.items()}, 6e-4)
            return float(loss)
    else:
        groups = [{"params": [p for k, p in params.items() if go.decays(k)], "weight_decay": 0.1},
                  {"params": [p for k, p in params.items() if not go.decays(k)],
                   "weight_decay": 0.0}]
        topt = torch.optim.AdamW(groups, lr=6e-4, betas=(0.9, 0.95), eps=1e-8, foreach=True)

        def step():
            topt.zero_grad(set_to_none=True)
            _, loss = native_forward(params, tokens, cfg, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
            topt.step()
            return float(loss)

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    nparams = sum(p.numel() for p in params.values())
    print(f"config L={cfg.n_layer} C={cfg.n_embd} NH={cfg.n_head} T={T} B={B} V={cfg.vocab_size} "
          f"params={nparams} impl={args.impl} attn={cfg.attn} p={cfg.reweight_p} threads={args.threads} "
          f"torch={torch.__version__}")
    print(f"step ms: median {1e3 * med:.1f} min {1e3 * min(times):.1f} max {1e3 * max(times):.1f} "
          f"(n={len(times)}), last loss {loss:.4f}")
    print(f"tok_per_s={B * T / med:.1f}")


if __name__ == "__main__":
    main()
