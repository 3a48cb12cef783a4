// Host-side plan of the fused (FlashAttention-2-style) attention kernels: which implementation
// handles a variant, the tile sizes and launch grids, the buffer sizes, and the FLOP count the
// benchmark reports. Pure C++ (no CUDA headers): built and unit-tested on machines without a GPU,
// and the kernels (flash_kernels.cuh) take their tile sizes from the same traits, so what the
// tests check is what runs.
//
// Kernel families (KERNEL_NOTES §8.1):
//   Softmax       exp with an online max; saves LSE                         softmax, exp_l1
//   L1            φ(x)/Σ|φ(x)| in one pass, no max; saves Z                 *_l1, lssa, l1_only
//   Unnormalised  φ(x)/L with L ∈ {1, T, n_i}; saves nothing                 sigmoid*, relu_seqlen,
//                                                                           linear, exp_only
// Softmax and L1 also run re-weighting (two-pass forward; saves M, W, R̃ and Õ2, KERNEL_NOTES §8.3).
// Routed to the reference path: transforms of softmax (inverse, recentered, recentered_l1: Table 1
// ablations whose extra prefix terms buy no speed that matters) and relu_shen (a LayerNorm over
// HS on the output, i.e. a different epilogue and backward), and head sizes other than 64 / 128.
#pragma once
#include <cstddef>
#include <string>

#include "attention/attention.h"
#include "attention/attention_math.h"
#include "attention/registry.h"

namespace lssa {

enum class FlashKind : int { Softmax = 0, L1 = 1, Unnormalised = 2 };

// Which implementation runs a variant, and with which kernel.
struct FlashRoute {
  AttnImpl impl = AttnImpl::Reference;  // Fused only when every field below is meaningful
  FlashKind kind = FlashKind::Softmax;  // kernel family
  AttnMap map = AttnMap::Exp;           // φ the kernel applies (Exp for Softmax)
  bool reweight = false;                // two-pass re-weighting forward (spec.reweight_p > 0)
  std::string reason;                   // Reference: one line saying why
};

// Head sizes with a kernel instantiation (template parameter HS).
constexpr bool flash_head_size_supported(int HS) { return HS == 64 || HS == 128; }

// The kernel family of a resolved spec, before head size and re-weighting are considered.
// constexpr: the kernels instantiated are derived from the registry at compile time.
struct FlashFamily {
  bool fused;          // a fused kernel family computes this spec
  FlashKind kind;      // which (when fused)
  AttnMap map;         // φ the kernel applies (Exp for Softmax)
  const char* reason;  // not fused: why (one line)
};
// The score row scales (AttnScale) the fused kernels compute: the paper's two (1/√HS and LSSA's
// c_i). Their row_setup (flash_kernels.cuh) evaluates attn_row_scale<float, kFlashFusedScales>
// once per query row, so only these branches are compiled into the kernels. The baselines' scales
// (ssmax, softmax_qknorm, logn_softmax) are one scalar per row too and would need no change to the
// tile loops, but their branches pushed the HS = 128 backward kernels, already at 255 registers,
// into more spilling (sm_80: 4 -> 16 bytes for softmax, 12 -> 28 for l1_only; -Xptxas -v,
// 2026-12-06), so they run on the reference path until a GPU can measure what that spill costs.
// A scale is fused iff its bit is here; flash_family() routes every other one to the reference path.
constexpr unsigned kFlashFusedScales = attn_scale_bit(AttnScale::InvSqrtHS) | attn_scale_bit(AttnScale::LssaLog);
constexpr bool flash_scale_fused(AttnScale sc) { return (kFlashFusedScales & attn_scale_bit(sc)) != 0u; }

constexpr FlashFamily flash_family(const AttnSpec& s) {
  if (!flash_scale_fused(s.scale))
    return {false, FlashKind::Softmax, s.map, "this score scale has no fused kernel (reference path)"};
  if (s.post_layernorm)
    return {false, FlashKind::Softmax, s.map, "relu_shen's LayerNorm over the output is not fused (reference path)"};
  if (s.transform != AttnTransform::None)
    return {false, FlashKind::Softmax, s.map, "softmax transforms (inverse, recentered*) are not fused (reference path)"};
  // exp/Σ|exp| is softmax; Σ|p| = 1 makes an extra l1 a no-op. A per-row bias cancels.
  if (s.softmax || (s.map == AttnMap::Exp && s.norm == AttnNorm::L1)) return {true, FlashKind::Softmax, AttnMap::Exp, ""};
  if (s.norm == AttnNorm::L1) return {true, FlashKind::L1, s.map, ""};
  return {true, FlashKind::Unnormalised, s.map, ""};
}

// The (family, φ) pairs the .cu instantiates: exactly those some registered variant needs
// (attention/registry.h). A new variant in the registry gets its kernel without a hand list.
constexpr bool flash_map_instantiated(FlashKind kind, AttnMap m) {
  for (const AttnVariantInfo& v : kAttnVariants) {
    const FlashFamily f = flash_family(v.spec);
    if (f.fused && f.kind == kind && f.map == m) return true;
  }
  return false;
}

// The dispatcher: which implementation handles `spec` at head size HS.
FlashRoute flash_route(const AttnSpec& spec, int HS);

// Tile sizes. Br query rows × Bc keys per CTA step; one warp owns 16 rows (fwd: query rows;
// bwd: keys of the CTA's key block). Shared by the kernels and the host code.
template <int HS>
struct FlashFwdTraits {
  static constexpr int kWarps = 4;
  static constexpr int Br = 16 * kWarps;  // query rows per CTA
  static constexpr int Bc = HS <= 64 ? 64 : 32;  // keys per tile (HS=128: registers)
  // Q (Br×HS) + double-buffered K and V tiles (2·2·Bc×HS), bf16
  static constexpr int kSmemBytes = (Br + 4 * Bc) * HS * 2;
};
template <int HS>
struct FlashBwdTraits {
  static constexpr int kWarps = 4;
  static constexpr int Bc = 16 * kWarps;      // keys per CTA (one 16-key slice per warp)
  static constexpr int Br = HS <= 64 ? 64 : 16;  // query rows per tile (HS=128: registers)
  static constexpr int kRowStats = 10;        // per-query-row constants kept in SMEM
  // K, V (Bc×HS) + double-buffered Q, dO (2·2·Br×HS) bf16, dS (Bc×Br) bf16, row stats fp32
  static constexpr int kSmemBytes = (2 * Bc + 4 * Br) * HS * 2 + Bc * Br * 2 + 2 * kRowStats * Br * 4;
};

// The deterministic dQ pass (the default backward): one CTA per query tile of Br rows, warp w
// owns 16 query rows and sums dQ over the causal key tiles of Bc keys in registers (no atomics).
template <int HS>
struct FlashDqTraits {
  static constexpr int kWarps = 4;
  static constexpr int Br = 16 * kWarps;         // query rows per CTA
  static constexpr int Bc = HS <= 64 ? 64 : 32;  // keys per tile (HS=128: registers, as the forward)
  // Q and dO (2·Br×HS) + double-buffered K and V tiles (2·2·Bc×HS), bf16
  static constexpr int kSmemBytes = (2 * Br + 4 * Bc) * HS * 2;
};

// Launch geometry of one kernel.
struct FlashLaunch {
  int grid_x = 0, grid_y = 0, grid_z = 0;  // blocks
  int threads = 0;                         // per block
  int smem_bytes = 0;                      // dynamic shared memory per block
};
FlashLaunch flash_fwd_launch(int B, int T, int NH, int HS);
FlashLaunch flash_bwd_launch(int B, int T, int NH, int HS);
FlashLaunch flash_dq_launch(int B, int T, int NH, int HS);  // the deterministic dQ pass
// Row kernels (LSSA prologue, backward preprocess, dQ conversion): one warp per (b, t, h) row.
FlashLaunch flash_row_launch(int B, int T, int NH);
constexpr int kFlashRowWarps = 8;  // warps per block of the row kernels

// Number of causal key tiles a forward CTA for query block qb visits, and the backward query
// tiles a key block kb visits (both include the partially masked diagonal tiles).
LSSA_HD int flash_fwd_key_tiles(int qb, int T, int Br, int Bc) {
  int end = qb * Br + Br < T ? qb * Br + Br : T;  // one past the block's last valid query row
  return (end + Bc - 1) / Bc;
}
LSSA_HD int flash_bwd_first_query_tile(int kb, int Br, int Bc) { return (kb * Bc) / Br; }

// SMEM 16-byte-chunk swizzle (row r, chunk c of a tile with CPR chunks per row) → chunk slot.
// A bijection per tile in which the 8 rows an ldmatrix phase reads at one logical chunk land
// in 8 different bank groups (no conflicts); checked on the host in the tests.
LSSA_HD int flash_swizzle(int row, int chunk, int CPR) {
  if (CPR >= 8) return row * CPR + (chunk ^ (row & 7));
  int L = row * CPR + chunk;  // CPR = 2, 4: XOR the chunk-in-128B bits with the 128-B line index
  return L ^ ((L >> 3) & 7);
}

// Saved per-row statistics (fp32, each (B, NH, T)): Softmax LSE / L1 Z; re-weighting adds
// M = max_j relu(u_ij), W = Σ_j r_ij^p, R̃ = Σ_j γ_ij/(W·M) (and the Õ2 tensor, (B, T, C) bf16).
int flash_saved_stat_count(const FlashRoute& r);

// Byte sizes of the buffers the caller provides (all O(B·T·C)).
struct FlashBufferSizes {
  size_t stats = 0;           // saved row statistics, flash_saved_stat_count × B·NH·T fp32
  size_t o2 = 0;              // re-weighting: Õ2 (B, T, C) bf16
  size_t fwd_workspace = 0;   // LSSA: k̂ (B, T, C) bf16 + 1/‖q‖ (B, NH, T) fp32
  size_t bwd_workspace = 0;   // dq (B, NH, T, HS) fp32 (accumulator, or the dQ pass's output)
                              // + D, E (B, NH, T) fp32
                              // + LSSA: k̂, 1/‖q‖, 1/‖k‖
};
FlashBufferSizes flash_buffer_sizes(const AttnSpec& spec, int B, int T, int NH, int HS);

// Offsets (bytes, 256-aligned) of the parts of the workspaces.
struct FlashWorkspaceLayout {
  size_t khat = 0, rq = 0, rk = 0;  // LSSA (both passes)
  size_t dq_accum = 0, D = 0, E = 0;  // backward
  size_t total = 0;
};
FlashWorkspaceLayout flash_workspace_layout(const AttnSpec& spec, int B, int T, int NH, int HS, bool backward);

// FLOPs as FlashAttention's benchmarks count them (benchmark_flash_attention.py): forward
// 4·B·NH·T²·HS, halved for causal; backward 2.5× forward. The same nominal count for every
// variant (re-weighting's second pass and Õ2 GEMM are not counted), so TFLOP/s compare as times.
double flash_flops_fwd(int B, int T, int NH, int HS, bool causal = true);
double flash_flops_bwd(int B, int T, int NH, int HS, bool causal = true);

}  // namespace lssa
