#!/usr/bin/python3
"""Emit reference states of the oracle GPT-2, one safetensors file per case.

  /usr/bin/python3 test/reference/make_reference.py --out DIR [--cases all|NAME,...]
                                                    [--dtype float64|float32] [--store float32|float64]

Cases: every attention variant name (gpt2_oracle.VARIANTS), plus <variant>_p<P> for P in 1, 3, 15
and every re-weightable variant (gpt2_oracle.REWEIGHTABLE). Each file holds the initial
parameters, a batch, logits/loss/every gradient, 3 AdamW steps and a 2x-length evaluation with
NTK, dynamic and YaRN RoPE scaling; see README.md in this folder.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_oracle as go  # noqa: E402
import safetensors_io  # noqa: E402

P_VALUES = [1, 3, 15]
LRS = [1e-3, 5e-4, 2.5e-4]
B = 2
DATA_SEED = 4242
INIT_SEED = 1337


def all_cases():
    cases = list(go.VARIANTS)
    for v in go.REWEIGHTABLE:
        cases += [f"{v}_p{p}" for p in P_VALUES]
    return cases


def parse_case(name):
    if name in go.VARIANTS:
        return name, 0
    base, _, p = name.rpartition("_p")
    if base in go.REWEIGHTABLE and p.isdigit() and int(p) >= 1:
        return base, int(p)
    raise SystemExit(f"unknown case {name!r} (expected a variant name or <l1 variant>_p<P>)")



def make_case(name, out_dir, dtype, store_dtype):
    variant, p = parse_case(name)
    cfg = go.Config(n_layer=2, n_head=2, n_embd=32, vocab_size=97, padded_vocab_size=128,
                    seq_len=24, rope_base=10000.0, attn=variant, reweight_p=p)
    T = cfg.seq_len
    params = go.init_params(cfg, seed=INIT_SEED, dtype=dtype)
    g = torch.Generator().manual_seed(DATA_SEED)
    tokens = torch.randint(0, cfg.vocab_size, (B, T), generator=g, dtype=torch.int64)
    targets = torch.randint(0, cfg.vocab_size, (B, T), generator=g, dtype=torch.int64)
    eval_tokens = torch.randint(0, cfg.vocab_size, (1, 2 * T), generator=g, dtype=torch.int64)
    eval_targets = torch.randint(0, cfg.vocab_size, (1, 2 * T), generator=g, dtype=torch.int64)

    st = lambda t: t.detach().to(store_dtype)  # noqa: E731
    out = {}
    for k, v in params.items():
        out[k] = st(v)
    out["tokens"] = tokens.to(torch.int32)
    out["targets"] = targets.to(torch.int32)

    logits, loss, grads = go.loss_and_grads(params, tokens, targets, cfg)
    out["logits"] = st(logits)
    out["loss"] = st(loss.reshape(1))
    for k, gr in grads.items():
        out["grad." + k] = st(gr)

    # evaluation at 2x the training length, initial parameters, no grad
    with torch.no_grad():
        el, eloss = go.forward(params, eval_tokens, cfg, eval_targets, rope_scaling="ntk")
        dl, dloss = go.forward(params, eval_tokens, cfg, eval_targets, rope_scaling="dynamic")
        yl, yloss = go.forward(params, eval_tokens, cfg, eval_targets, rope_scaling="yarn")
    out["eval.tokens"] = eval_tokens.to(torch.int32)
    out["eval.targets"] = eval_targets.to(torch.int32)
    out["eval.logits"] = st(el)
    out["eval.loss"] = st(eloss.reshape(1))
    out["eval_dynamic.logits"] = st(dl)
    out["eval_dynamic.loss"] = st(dloss.reshape(1))
    out["eval_yarn.logits"] = st(yl)
    out["eval_yarn.loss"] = st(yloss.reshape(1))

    # 3 AdamW steps on the same batch
    opt = go.AdamW(beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, grad_clip=1.0)
    cur = {k: v.clone() for k, v in params.items()}
    step_losses, step_norms = [], []
    for lr in LRS:
        _, l, gr = go.loss_and_grads(cur, tokens, targets, cfg)
        step_losses.append(float(l))
        step_norms.append(opt.step(cur, gr, lr))
    out["step_losses"] = torch.tensor(step_losses, dtype=store_dtype)
    out["step_grad_norms"] = torch.tensor(step_norms, dtype=store_dtype)
    for k, v in cur.items():
        out["final." + k] = st(v)

    bad = [k for k, v in out.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    meta = {
        "format": "lssa-gpt2",
        "n_layer": str(cfg.n_layer), "n_head": str(cfg.n_head), "n_embd": str(cfg.n_embd),
        "vocab_size": str(cfg.vocab_size), "padded_vocab_size": str(cfg.padded_vocab_size),
        "seq_len": str(cfg.seq_len), "rope_base": str(int(cfg.rope_base)),
        "attn": variant, "reweight_p": str(p),
        "sigmoid_bias": "train", "relu_divisor": "seq",
        "ssmax_scale": repr(cfg.ssmax_scale), "qknorm_scale": cfg.qknorm_scale,
        "lrs": ",".join(repr(x) for x in LRS),
        "beta1": "0.9", "beta2": "0.95", "eps": "1e-08", "weight_decay": "0.1", "grad_clip": "1.0",
        "batch": str(B), "dtype": str(dtype).replace("torch.", ""),
        "store_dtype": str(store_dtype).replace("torch.", ""),
        "rope_scaling_train": "none", "eval_rope_scaling": "ntk", "eval_dynamic_rope_scaling":
        "dynamic", "eval_yarn_rope_scaling": "yarn", "eval_params": "initial", "eval_len": str(2 * T),
        "layernorm_eps": "1e-05", "init_seed": str(INIT_SEED), "data_seed": str(DATA_SEED),
        "case": name, "nonfinite": ",".join(bad),
    }
    path = os.path.join(out_dir, f"{name}.safetensors")
    tmp = path + ".tmp"
    safetensors_io.save(tmp, out, meta)
    os.replace(tmp, path)
    return float(loss), step_losses, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", default="all")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"],
                    help="computation dtype (default float64)")
    ap.add_argument("--store", default="float32", choices=["float32", "float64"],
                    help="dtype of the stored floating tensors (default float32)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: the shapes are tiny; 0 = torch default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    store = getattr(torch, args.store)
    cases = all_cases() if args.cases == "all" else [c for c in args.cases.split(",") if c]
    for c in cases:
        parse_case(c)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    for c in cases:
        t1 = time.time()
        loss, sl, bad = make_case(c, args.out, dtype, store)
        flag = f"  NONFINITE: {','.join(bad)}" if bad else ""
        print(f"{c:26s} loss {loss:.6f} steps {' '.join(f'{x:.6f}' for x in sl)} "
              f"({time.time() - t1:.2f}s){flag}")
    print(f"wrote {len(cases)} cases to {args.out} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
