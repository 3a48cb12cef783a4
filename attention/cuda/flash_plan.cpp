// Host-side plan of the fused attention kernels: see flash_plan.h.
#include "attention/cuda/flash_plan.h"

#include "runtime/error.h"

namespace lssa {

FlashRoute flash_route(const AttnSpec& s, int HS) {
  FlashRoute r;
  r.reweight = s.reweight_p > 0.f;
  if (!flash_head_size_supported(HS)) {
    r.reason = strfmt("no fused kernel for head size %d (instantiated: 64, 128)", HS);
    return r;
  }
  const FlashFamily fam = flash_family(s);
  if (!fam.fused) {
    r.reason = fam.reason;
    return r;
  }
  r.kind = fam.kind;
  r.map = fam.map;
  if (r.reweight && r.kind == FlashKind::Unnormalised) {
    r.reason = "re-weighting needs l1-normalised rows";
    return r;
  }
  if (!flash_map_instantiated(r.kind, r.map)) {
    r.reason = "no fused instantiation of this map for this kernel family (no registered variant needs it)";
    return r;
  }
  r.impl = AttnImpl::Fused;
  return r;
}

static int cdiv(int a, int b) { return (a + b - 1) / b; }

FlashLaunch flash_fwd_launch(int B, int T, int NH, int HS) {
  FlashLaunch l;
  int Br = 0, smem = 0, warps = 0;
  if (HS == 64) {
    Br = FlashFwdTraits<64>::Br, smem = FlashFwdTraits<64>::kSmemBytes, warps = FlashFwdTraits<64>::kWarps;
  } else if (HS == 128) {
    Br = FlashFwdTraits<128>::Br, smem = FlashFwdTraits<128>::kSmemBytes, warps = FlashFwdTraits<128>::kWarps;
  } else {
    fail(strfmt("flash attention: unsupported head size %d", HS));
  }
  l.grid_x = cdiv(T, Br);
  l.grid_y = NH;
  l.grid_z = B;
  l.threads = 32 * warps;
  l.smem_bytes = smem;
  return l;
}

FlashLaunch flash_bwd_launch(int B, int T, int NH, int HS) {
  FlashLaunch l;
  int Bc = 0, smem = 0, warps = 0;
  if (HS == 64) {
    Bc = FlashBwdTraits<64>::Bc, smem = FlashBwdTraits<64>::kSmemBytes, warps = FlashBwdTraits<64>::kWarps;
  } else if (HS == 128) {
    Bc = FlashBwdTraits<128>::Bc, smem = FlashBwdTraits<128>::kSmemBytes, warps = FlashBwdTraits<128>::kWarps;
  } else {
    fail(strfmt("flash attention: unsupported head size %d", HS));
  }
  l.grid_x = cdiv(T, Bc);
  l.grid_y = NH;
  l.grid_z = B;
  l.threads = 32 * warps;
  l.smem_bytes = smem;
  return l;
}

FlashLaunch flash_dq_launch(int B, int T, int NH, int HS) {
  FlashLaunch l;
  int Br = 0, smem = 0, warps = 0;
  if (HS == 64) {
    Br = FlashDqTraits<64>::Br, smem = FlashDqTraits<64>::kSmemBytes, warps = FlashDqTraits<64>::kWarps;
  } else if (HS == 128) {
    Br = FlashDqTraits<128>::Br, smem = FlashDqTraits<128>::kSmemBytes, warps = FlashDqTraits<128>::kWarps;
  } else {
    fail(strfmt("flash attention: unsupported head size %d", HS));
  }
  l.grid_x = cdiv(T, Br);
  l.grid_y = NH;
  l.grid_z = B;
  l.threads = 32 * warps;
  l.smem_bytes = smem;
  return l;
}

FlashLaunch flash_row_launch(int B, int T, int NH) {
  FlashLaunch l;
  long rows = (long)B * T * NH;
  l.grid_x = (int)((rows + kFlashRowWarps - 1) / kFlashRowWarps);
  l.grid_y = 1;
  l.grid_z = 1;
  l.threads = 32 * kFlashRowWarps;
  l.smem_bytes = 0;
  return l;
}

int flash_saved_stat_count(const FlashRoute& r) {
  if (r.impl != AttnImpl::Fused || r.kind == FlashKind::Unnormalised) return 0;
  return r.reweight ? 4 : 1;
}

static size_t align256(size_t x) { return (x + 255) & ~size_t(255); }

FlashWorkspaceLayout flash_workspace_layout(const AttnSpec& spec, int B, int T, int NH, int HS, bool backward) {
  FlashWorkspaceLayout w;
  const size_t rows = (size_t)B * T * NH;
  size_t off = 0;
  if (spec.score == AttnScore::Cosine) {
    w.khat = off;
    off = align256(off + rows * HS * 2);
    w.rq = off;
    off = align256(off + rows * 4);
    if (backward) {
      w.rk = off;
      off = align256(off + rows * 4);
    }
  }
  if (backward) {
    w.dq_accum = off;
    off = align256(off + rows * HS * 4);
    w.D = off;
    off = align256(off + rows * 4);
    w.E = off;
    off = align256(off + rows * 4);
  }
  w.total = off;
  return w;
}

FlashBufferSizes flash_buffer_sizes(const AttnSpec& spec, int B, int T, int NH, int HS) {
  FlashBufferSizes s;
  FlashRoute r = flash_route(spec, HS);
  const size_t rows = (size_t)B * T * NH;
  s.stats = (size_t)flash_saved_stat_count(r) * rows * 4;
  s.o2 = (r.impl == AttnImpl::Fused && r.reweight) ? rows * HS * 2 : 0;
  s.fwd_workspace = flash_workspace_layout(spec, B, T, NH, HS, false).total;
  s.bwd_workspace = flash_workspace_layout(spec, B, T, NH, HS, true).total;
  return s;
}

double flash_flops_fwd(int B, int T, int NH, int HS, bool causal) {
  double f = 4.0 * B * NH * (double)T * T * HS;
  return causal ? f / 2 : f;
}

double flash_flops_bwd(int B, int T, int NH, int HS, bool causal) { return 2.5 * flash_flops_fwd(B, T, NH, HS, causal); }

}  // namespace lssa
