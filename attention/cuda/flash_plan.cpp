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

// A block per `tile` rows of one (batch, head), with the kernel's warps and shared memory (Traits).
template <class Traits>
static FlashLaunch tile_launch(int B, int T, int NH, int tile) {
  FlashLaunch l;
  l.grid_x = cdiv(T, tile);
  l.grid_y = NH;
  l.grid_z = B;
  l.threads = 32 * Traits::kWarps;
  l.smem_bytes = Traits::kSmemBytes;
  return l;
}

static void require_fused_head_size(int HS) {
  if (HS != 64 && HS != 128) fail(strfmt("flash attention: unsupported head size %d", HS));
}

FlashLaunch flash_fwd_launch(int B, int T, int NH, int HS) {
  require_fused_head_size(HS);
  return HS == 64 ? tile_launch<FlashFwdTraits<64>>(B, T, NH, FlashFwdTraits<64>::Br)
                  : tile_launch<FlashFwdTraits<128>>(B, T, NH, FlashFwdTraits<128>::Br);
}

FlashLaunch flash_bwd_launch(int B, int T, int NH, int HS) {
  require_fused_head_size(HS);
  return HS == 64 ? tile_launch<FlashBwdTraits<64>>(B, T, NH, FlashBwdTraits<64>::Bc)
                  : tile_launch<FlashBwdTraits<128>>(B, T, NH, FlashBwdTraits<128>::Bc);
}

FlashLaunch flash_dq_launch(int B, int T, int NH, int HS) {
  require_fused_head_size(HS);
  return HS == 64 ? tile_launch<FlashDqTraits<64>>(B, T, NH, FlashDqTraits<64>::Br)
                  : tile_launch<FlashDqTraits<128>>(B, T, NH, FlashDqTraits<128>::Br);
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
