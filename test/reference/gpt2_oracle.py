"""Independent PyTorch oracle for the LSSA/LSSAR GPT-2 trainer.

Written from ../../DESIGN.md (sections 4-6) and the team's written conventions only, never from
the C++ sources. Everything is materialised the eager way (full causal T x T weight matrices,
masks) and differentiated by torch autograd. float64 by default.

Shapes: q, k, v are (B, NH, T, HS) per head, after RoPE. Rows are 0-based t here; the design's
1-based row index is i = t + 1 and the number of visible keys is n_i = t + 1.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# attention variants (DESIGN.md section 4.1)

ACT_L1 = ["exp_l1", "softplus_l1", "sigmoid_l1", "relu_l1", "relu2_l1", "relu6_l1",
          "gelu_l1", "mish_l1", "softsign_l1"]
# Baselines that are not in the paper: softmax over a rescaled score (see scores()).
#   ssmax:          s_ij = S * ln(n_i) * q.k/sqrt(d)     (Scalable-Softmax; S = the ssmax_scale option)
#   softmax_qknorm: s_ij = tau * q_hat.k_hat             (QK-norm; tau = log2(T_train^2 - T_train) or a number)
#   logn_softmax:   s_ij = q.k/sqrt(d) * (ln n_i / ln T_train if n_i > T_train else 1)
BASELINES = ["ssmax", "softmax_qknorm", "logn_softmax"]
VARIANTS = (["softmax"] + ACT_L1 +
            ["lssa", "sigmoid", "sigmoid_rowbias", "sigmoid_rowbias_l1", "relu_seqlen",
             "relu_shen", "inverse", "recentered", "recentered_l1", "linear", "exp_only",
             "l1_only"] + BASELINES)

# Variants whose rows are l1-normalised (sum_j |a_ij| = 1, or 0 for a Z = 0 row): re-weighting
# (section 4.2) is allowed on exactly these. DECISION: this follows the rule "any variant whose
# rows are l1-normalised", so besides softmax, the <act>_l1 family, lssa and sigmoid_rowbias_l1 it
# also admits recentered_l1 (rows 1-3 are softmax rows, others l1) and l1_only (s / sum|s|).
REWEIGHTABLE = (["softmax"] + ACT_L1 + ["lssa", "sigmoid_rowbias_l1", "recentered_l1", "l1_only"] +
                BASELINES)  # the baselines are softmax rows

# Variants whose rows sum to 1 in |.| (Z = 0 rows excepted): the l1 property test uses this.
L1_ROWS = list(REWEIGHTABLE)


class _Softplus(torch.autograd.Function):
    """softplus(x) = log(1 + e^x) = max(x, 0) + log1p(exp(-|x|)), exact and overflow-free;
    derivative sigmoid(x) (also at x = 0, where autograd of max/abs would give 0).
    Not F.softplus: it switches to the identity above x = 20 (not exact in fp64). Not
    torch.logaddexp(x, 0) either: in torch 1.13 it loses ~3 digits for x << 0
    (logaddexp(-30, 0) = 9.348e-14 instead of 9.358e-14)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.sigmoid(x)


def softplus(x):
    return _Softplus.apply(x)


def mish(x):
    return x * torch.tanh(softplus(x))


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


_ACTS = {
    "softplus_l1": softplus,
    "sigmoid_l1": torch.sigmoid,
    "relu_l1": torch.relu,
    "relu2_l1": lambda x: torch.relu(x) ** 2,
    "relu6_l1": lambda x: torch.clamp(x, 0.0, 6.0),
    "gelu_l1": gelu_erf,
    "mish_l1": mish,
    "softsign_l1": lambda x: x / (1.0 + x.abs()),  # signed: |phi| in the normaliser
}


def causal_mask(T, device=None):
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def row_counts(T, dtype, device=None):
    """n_i = t + 1 as a (T, 1) column."""
    return torch.arange(1, T + 1, dtype=dtype, device=device).unsqueeze(1)


def l1_normalise(f, mask):
    """f / sum_j |f_ij| over visible j; a row with Z = 0 outputs 0 and passes no gradient."""
    f = torch.where(mask, f, torch.zeros_like(f))
    Z = f.abs().sum(dim=-1, keepdim=True)
    pos = Z > 0
    return f / torch.where(pos, Z, torch.ones_like(Z)) * pos.to(f.dtype)


def masked_softmax(s, mask):
    s = s.masked_fill(~mask, float("-inf"))
    return torch.softmax(s, dim=-1)


def unit(x):
    """x / max(||x||_2, 1e-12) over the last dimension (F.normalize's convention)."""
    return x / torch.clamp(x.norm(dim=-1, keepdim=True), min=1e-12)


def qknorm_tau(qknorm_scale, t_train):
    """softmax_qknorm's temperature: 'train' = log2(L^2 - L) with L = T_train (the initial value
    Henry et al. 2020 give their learned g), else the number."""
    if qknorm_scale == "train":
        if t_train is None or t_train < 2:
            raise ValueError("softmax_qknorm with qknorm_scale 'train' needs t_train >= 2")
        return math.log2(t_train * t_train - t_train)
    tau = float(qknorm_scale)
    if not (tau > 0 and math.isfinite(tau)):
        raise ValueError(f"qknorm_scale must be 'train' or a number > 0, got {qknorm_scale!r}")
    return tau


def scores(q, k, variant, t_train=None, ssmax_scale=1.0, qknorm_scale="train"):
    """s_ij for every (i, j) (caller masks). lssa: c_i * (q_hat_i . k_hat_j), otherwise q.k/sqrt(d),
    times the baselines' row factors."""
    T, HS = q.shape[-2], q.shape[-1]
    n = row_counts(T, q.dtype, q.device)  # (T, 1)
    if variant == "lssa":
        c = math.log(HS) * torch.log(n)  # (T, 1); c = 0 on the first row
        return c * (unit(q) @ unit(k).transpose(-1, -2))
    if variant == "softmax_qknorm":
        return qknorm_tau(qknorm_scale, t_train) * (unit(q) @ unit(k).transpose(-1, -2))
    s = (q @ k.transpose(-1, -2)) / math.sqrt(HS)
    if variant == "ssmax":
        return s * (ssmax_scale * torch.log(n))
    if variant == "logn_softmax":
        if t_train is None or t_train < 2:
            raise ValueError("logn_softmax needs t_train >= 2")
        factor = torch.where(n > t_train, torch.log(n) / math.log(t_train), torch.ones_like(n))
        return s * factor
    return s


def attention_weights(q, k, variant, t_train, ssmax_scale=1.0, qknorm_scale="train"):
    """The (B, NH, T, T) weight matrix a_ij, zero above the diagonal.
    relu_shen returns its un-normalised relu(s) weights (the LayerNorm is applied to the output)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown attention variant {variant!r}")
    T = q.shape[-2]
    mask = causal_mask(T, q.device)
    s = scores(q, k, variant, t_train, ssmax_scale, qknorm_scale)
    zero = torch.zeros_like(s)
    # s with masked entries replaced by 0 so that no activation sees (and differentiates) the
    # future; the results are re-masked below.
    s0 = torch.where(mask, s, zero)
    n = row_counts(T, q.dtype, q.device)

    def keep(x):
        return torch.where(mask, x, zero)

    if variant in ("softmax", "exp_l1") or variant in BASELINES:
        return masked_softmax(s, mask)
    if variant in _ACTS:
        return l1_normalise(keep(_ACTS[variant](s0)), mask)
    if variant == "lssa":
        return l1_normalise(keep(softplus(s0)), mask)
    if variant == "sigmoid":
        if t_train is None:
            raise ValueError("sigmoid needs the training length t_train")
        return keep(torch.sigmoid(s0 - math.log(t_train)))
    if variant == "sigmoid_rowbias":
        return keep(torch.sigmoid(s0 - torch.log(n)))
    if variant == "sigmoid_rowbias_l1":
        return l1_normalise(keep(torch.sigmoid(s0 - torch.log(n))), mask)
    if variant == "relu_seqlen":
        return keep(torch.relu(s0)) / T
    if variant == "relu_shen":
        return keep(torch.relu(s0))
    if variant == "inverse":
        return -masked_softmax(s, mask)
    if variant in ("recentered", "recentered_l1"):
        p = masked_softmax(s, mask)
        r = keep(p - 1.0 / n)
        if variant == "recentered_l1":
            r = l1_normalise(r, mask)
        small = n <= 3  # rows 1-3 keep p
        return torch.where(small, p, r)
    if variant == "linear":
        return keep(s0)
    if variant == "exp_only":
        return keep(torch.exp(s0))
    if variant == "l1_only":
        return l1_normalise(s0, mask)
    raise AssertionError(variant)


def reweight(a, p, detach_max=False):
    """Re-weighting (Eq. 5) of an l1-normalised causal weight matrix a (..., T, T).
    u = n_i a_ij - o_i (o_i = 0 for rows i <= 3 else 1); w = (relu(u) / max_j relu(u))^p;
    a' = w / sum_j w; rows with max_j relu(u) == 0 keep a."""
    if p < 1:
        raise ValueError(f"re-weighting needs p >= 1, got {p}")
    T = a.shape[-1]
    mask = causal_mask(T, a.device)
    n = row_counts(T, a.dtype, a.device)
    o = (n > 3).to(a.dtype)
    r = torch.relu(n * a - o)
    r = torch.where(mask, r, torch.zeros_like(r))
    mx = r.amax(dim=-1, keepdim=True)
    if detach_max:
        mx = mx.detach()
    ok = mx > 0
    w = (r / torch.where(ok, mx, torch.ones_like(mx))) ** p
    S = w.sum(dim=-1, keepdim=True)
    out = w / torch.where(ok, S, torch.ones_like(S))
    return torch.where(ok, out, a)


def attention(q, k, v, variant, reweight_p=0, t_train=None, detach_max=False, ssmax_scale=1.0,
              qknorm_scale="train"):
    """o = a v per head; (B, NH, T, HS) -> (B, NH, T, HS)."""
    if variant == "exp_l1":
        variant = "softmax"
    a = attention_weights(q, k, variant, t_train, ssmax_scale, qknorm_scale)
    if reweight_p:
        if variant not in REWEIGHTABLE:
            raise ValueError(f"re-weighting applies only to l1-normalised variants "
                             f"({', '.join(REWEIGHTABLE)}), not {variant!r}")
        a = reweight(a, reweight_p, detach_max=detach_max)
    o = a @ v
    if variant == "relu_shen":
        o = F.layer_norm(o, (o.shape[-1],), eps=1e-5)  # no affine, biased variance
    return o


# ---------------------------------------------------------------------------------------------
# RoPE (rotate-half) with NTK / dynamic / YaRN scaling

def rope_bases(T, HS, base, t_train, scaling):
    """Per-position base, float64 tensor of shape (T,)."""
    pos = torch.arange(T, dtype=torch.float64)
    if scaling == "none" or t_train is None:
        return torch.full((T,), float(base), dtype=torch.float64)
    expo = HS / (HS - 2)
    if scaling == "ntk":
        alpha = T / t_train
        b = base * alpha ** expo if T > t_train else float(base)
        return torch.full((T,), float(b), dtype=torch.float64)
    if scaling == "dynamic":
        alpha = torch.clamp((pos + 1) / t_train, min=1.0)
        return base * alpha ** expo
    raise ValueError(f"unknown rope scaling {scaling!r}")


def yarn_theta(HS, base, t_train, s, alpha=1.0, beta=32.0):
    """YaRN's frequencies (Peng et al. 2023, section 3) at scale s, float64 (HS/2,): a linear ramp
    in r = t_train / wavelength between interpolating by s (r < alpha) and keeping (r > beta)."""
    theta = base ** (-2.0 * torch.arange(HS // 2, dtype=torch.float64) / HS)
    r = t_train / (2 * math.pi / theta)
    gamma = ((r - alpha) / (beta - alpha)).clamp(0.0, 1.0)
    return (1 - gamma) * theta / s + gamma * theta


def rope_cos_sin(T, HS, base, t_train=None, scaling="none", dtype=torch.float64):
    half = HS // 2
    i = torch.arange(half, dtype=torch.float64)
    pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    if scaling == "yarn" and t_train is not None and T > t_train:
        # YaRN: new frequencies, and q, k scaled by sqrt(1/t) = 0.1 ln s + 1 (folded into cos/sin)
        s = T / t_train
        ang = pos * yarn_theta(HS, base, t_train, s).unsqueeze(0)
        m = 0.1 * math.log(s) + 1.0
        return (m * torch.cos(ang)).to(dtype), (m * torch.sin(ang)).to(dtype)
    if scaling == "yarn":
        scaling = "none"
    bases = rope_bases(T, HS, base, t_train, scaling)  # (T,)
    theta = bases.unsqueeze(1) ** (-2.0 * i / HS)      # (T, half)
    ang = pos * theta
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def apply_rope(x, cos, sin):
    """x (..., T, HS); pairs (x[i], x[i + HS/2])."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


# ---------------------------------------------------------------------------------------------
# GPT-2 model

@dataclass
class Config:
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    vocab_size: int = 97
    padded_vocab_size: int = 128
    seq_len: int = 24          # T_train
    rope_base: float = 10000.0
    attn: str = "softmax"
    reweight_p: float = 0
    ssmax_scale: float = 1.0       # ssmax's S (baseline, not in the paper)
    qknorm_scale: str = "train"    # softmax_qknorm's tau: "train" = log2(T_train^2 - T_train) | a number

    @property
    def head_size(self):
        return self.n_embd // self.n_head


def param_shapes(cfg):
    C, Vp = cfg.n_embd, cfg.padded_vocab_size
    shapes = {"wte": (Vp, C)}
    for l in range(cfg.n_layer):
        h = f"h.{l}."
        shapes.update({
            h + "ln_1.weight": (C,), h + "ln_1.bias": (C,),
            h + "attn.c_attn.weight": (3 * C, C), h + "attn.c_attn.bias": (3 * C,),
            h + "attn.c_proj.weight": (C, C), h + "attn.c_proj.bias": (C,),
            h + "ln_2.weight": (C,), h + "ln_2.bias": (C,),
            h + "mlp.c_fc.weight": (4 * C, C), h + "mlp.c_fc.bias": (4 * C,),
            h + "mlp.c_proj.weight": (C, 4 * C), h + "mlp.c_proj.bias": (C,),
        })
    shapes["ln_f.weight"] = (C,)
    shapes["ln_f.bias"] = (C,)
    return shapes


def decays(name):
    """Weight decay applies to the 2-D weights only."""
    return name == "wte" or name.endswith((".c_attn.weight", "attn.c_proj.weight",
                                           ".c_fc.weight", "mlp.c_proj.weight"))


def init_params(cfg, seed=1337, dtype=torch.float64, w_std=0.1, attn_std=0.25, ln_std=0.1,
                b_std=0.05):
    """Test init (larger than GPT-2's so attention is non-trivial): weights N(0, w_std), except
    c_attn.weight N(0, attn_std) (scores then reach beyond +-6, so relu6 clamps and softmax rows
    are far from uniform), LayerNorm weights 1 + N(0, ln_std), biases N(0, b_std);
    wte rows >= V exactly 0. Parameters are drawn in param_shapes order from one generator."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith(("ln_1.weight", "ln_2.weight")) or name == "ln_f.weight":
            t = 1.0 + ln_std * torch.randn(shape, generator=g, dtype=torch.float64)
        elif name.endswith(".bias"):
            t = b_std * torch.randn(shape, generator=g, dtype=torch.float64)
        elif name.endswith("c_attn.weight"):
            t = attn_std * torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            t = w_std * torch.randn(shape, generator=g, dtype=torch.float64)
        if name == "wte":
            t[cfg.vocab_size:] = 0.0
        params[name] = t.to(dtype)
    return params


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, w, b):
    mu = x.mean(dim=-1, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-5) * w + b


def forward(params, tokens, cfg, targets=None, rope_scaling="none", detach_max=False):
    """Returns (logits (B, T, V), loss or None)."""
    B, T = tokens.shape
    C, NH = cfg.n_embd, cfg.n_head
    HS = C // NH
    dtype = params["wte"].dtype
    cos, sin = rope_cos_sin(T, HS, cfg.rope_base, cfg.seq_len, rope_scaling, dtype)
    x = params["wte"][tokens.long()]
    for l in range(cfg.n_layer):
        h = f"h.{l}."
        xn = layer_norm(x, params[h + "ln_1.weight"], params[h + "ln_1.bias"])
        qkv = xn @ params[h + "attn.c_attn.weight"].t() + params[h + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(B, T, NH, HS).transpose(1, 2)
        k = k.view(B, T, NH, HS).transpose(1, 2)
        v = v.view(B, T, NH, HS).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        y = attention(q, k, v, cfg.attn, cfg.reweight_p, cfg.seq_len, detach_max=detach_max,
                      ssmax_scale=cfg.ssmax_scale, qknorm_scale=cfg.qknorm_scale)
        y = y.transpose(1, 2).reshape(B, T, C)
        x = x + y @ params[h + "attn.c_proj.weight"].t() + params[h + "attn.c_proj.bias"]
        xn = layer_norm(x, params[h + "ln_2.weight"], params[h + "ln_2.bias"])
        hid = gelu_tanh(xn @ params[h + "mlp.c_fc.weight"].t() + params[h + "mlp.c_fc.bias"])
        x = x + hid @ params[h + "mlp.c_proj.weight"].t() + params[h + "mlp.c_proj.bias"]
    x = layer_norm(x, params["ln_f.weight"], params["ln_f.bias"])
    logits = x @ params["wte"][:cfg.vocab_size].t()
    loss = None
    if targets is not None:
        lp = torch.log_softmax(logits, dim=-1)
        loss = -lp.gather(-1, targets.long().unsqueeze(-1)).mean()
    return logits, loss


def loss_and_grads(params, tokens, targets, cfg, **kw):
    ps = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    logits, loss = forward(ps, tokens, cfg, targets, **kw)
    grads = torch.autograd.grad(loss, [ps[k] for k in ps])
    return logits.detach(), loss.detach(), {k: g for k, g in zip(ps, grads)}


# ---------------------------------------------------------------------------------------------
# AdamW (by hand)

@dataclass
class AdamW:
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    m: dict = field(default_factory=dict)
    v: dict = field(default_factory=dict)
    k: int = 0

    def step(self, params, grads, lr):
        """In place on params; returns the global grad norm before clipping."""
        self.k += 1
        norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads.values()))
        scale = self.grad_clip / norm if (self.grad_clip > 0 and norm > self.grad_clip) else 1.0
        for name, p in params.items():
            g = grads[name] * scale
            if name not in self.m:
                self.m[name] = torch.zeros_like(p)
                self.v[name] = torch.zeros_like(p)
            m = self.m[name] = self.beta1 * self.m[name] + (1 - self.beta1) * g
            v = self.v[name] = self.beta2 * self.v[name] + (1 - self.beta2) * g * g
            mh = m / (1 - self.beta1 ** self.k)
            vh = v / (1 - self.beta2 ** self.k)
            wd = self.weight_decay if decays(name) else 0.0
            p.sub_(lr * (mh / (torch.sqrt(vh) + self.eps) + wd * p))
        return norm
