// Launchers of the fused attention kernels: FlashAttnParams → KernelArgs, the route → one
// template instantiation (flash_kernels.cuh), and the kernel sequence of each pass.
//   forward : [LSSA: row kernel → k̂, 1/‖q‖]  → flash_fwd_kernel
//   backward: row kernel (D, E, zero dq; LSSA: k̂, 1/‖q‖, 1/‖k‖) → flash_bwd_kernel (dK, dV)
//             → flash_bwd_dq_kernel (dQ again, deterministic, unless p.deterministic is off:
//             it overwrites the atomic dQ of flash_bwd_kernel) → dq conversion
#include "attention/cuda/flash_attention.h"

#include "attention/cuda/flash_kernels.cuh"
#include "runtime/error.h"

namespace lssa {

using flash::KernelArgs;

namespace {

void check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(strfmt("flash attention: %s launch failed: %s", what, cudaGetErrorString(e)));
}

KernelArgs make_args(const FlashAttnParams& p, bool backward) {
  KernelArgs a{};
  a.B = p.B, a.T = p.T, a.NH = p.NH, a.C = p.NH * p.HS;
  a.spec = p.spec;
  a.p = p.spec.reweight_p;
  a.qkv = p.qkv;
  a.out = p.out;
  a.stats = p.stats;
  a.stat_stride = (long)p.B * p.NH * p.T;
  a.o2 = p.route.reweight ? p.o2 : nullptr;
  a.dout = p.dout;
  a.dqkv = p.dqkv;
  const FlashWorkspaceLayout w = flash_workspace_layout(p.spec, p.B, p.T, p.NH, p.HS, backward);
  unsigned char* ws = static_cast<unsigned char*>(backward ? p.bwd_workspace : p.fwd_workspace);
  if (w.total > 0 && !ws) fail("flash attention: workspace pointer is null");
  if (p.spec.score == AttnScore::Cosine) {
    a.khat = reinterpret_cast<flash::bf16*>(ws + w.khat);
    a.rq_w = reinterpret_cast<float*>(ws + w.rq);
    a.rq = a.rq_w;
    if (backward) {
      a.rk_w = reinterpret_cast<float*>(ws + w.rk);
      a.rk = a.rk_w;
    }
    a.k = a.khat;
    a.k_bstride = (long)p.T * a.C;
    a.k_rstride = a.C;
  } else {
    a.k = p.qkv + a.C;
    a.k_bstride = (long)p.T * 3 * a.C;
    a.k_rstride = 3 * a.C;
  }
  if (backward) {
    a.dq_accum = reinterpret_cast<float*>(ws + w.dq_accum);
    a.Dbuf = reinterpret_cast<float*>(ws + w.D);
    a.Ebuf = reinterpret_cast<float*>(ws + w.E);
  }
  return a;
}

template <typename Kernel>
void launch(Kernel kernel, const FlashLaunch& l, const KernelArgs& a, cudaStream_t stream, const char* what) {
  if (l.smem_bytes > 48 * 1024) {
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, l.smem_bytes);
    if (e != cudaSuccess) fail(strfmt("flash attention: %s needs %d B of shared memory: %s", what, l.smem_bytes, cudaGetErrorString(e)));
  }
  kernel<<<dim3(l.grid_x, l.grid_y, l.grid_z), l.threads, l.smem_bytes, stream>>>(a);
  check_launch(what);
}

enum class Pass { Forward, Backward, BackwardDq };

// The one switch from a route to a template instantiation.
template <int HS, Pass P>
struct Instantiate {
  template <FlashKind K, AttnMap M, bool RW>
  static void run(const KernelArgs& a, const FlashLaunch& l, cudaStream_t stream) {
    if constexpr (P == Pass::Backward)
      launch(flash::flash_bwd_kernel<HS, K, M, RW>, l, a, stream, "backward");
    else if constexpr (P == Pass::BackwardDq)
      launch(flash::flash_bwd_dq_kernel<HS, K, M, RW>, l, a, stream, "dq pass");
    else
      launch(flash::flash_fwd_kernel<HS, K, M, RW>, l, a, stream, "forward");
  }
  // φ → instantiation, generated over every AttnMap value: (K, M) is compiled exactly when
  // flash_map_instantiated says so (derived from the registry), so this never needs editing.
  template <FlashKind K, bool RW, int I = 0>
  static void map_switch(AttnMap m, const KernelArgs& a, const FlashLaunch& l, cudaStream_t stream) {
    if constexpr (I < kAttnMapCount) {
      constexpr AttnMap M = static_cast<AttnMap>(I);
      if constexpr (flash_map_instantiated(K, M)) {
        if (m == M) return run<K, M, RW>(a, l, stream);
      }
      return map_switch<K, RW, I + 1>(m, a, l, stream);
    } else {
      fail("flash attention: map not instantiated for this kernel family");
    }
  }
  static void dispatch(const FlashRoute& r, const KernelArgs& a, const FlashLaunch& l, cudaStream_t stream) {
    switch (r.kind) {
      case FlashKind::Softmax:
        return r.reweight ? run<FlashKind::Softmax, AttnMap::Exp, true>(a, l, stream)
                          : run<FlashKind::Softmax, AttnMap::Exp, false>(a, l, stream);
      case FlashKind::L1:
        return r.reweight ? map_switch<FlashKind::L1, true>(r.map, a, l, stream)
                          : map_switch<FlashKind::L1, false>(r.map, a, l, stream);
      case FlashKind::Unnormalised: return map_switch<FlashKind::Unnormalised, false>(r.map, a, l, stream);
    }
  }
};

template <Pass P>
void dispatch_hs(const FlashAttnParams& p, const KernelArgs& a, const FlashLaunch& l, cudaStream_t stream) {
  if (p.HS == 64) return Instantiate<64, P>::dispatch(p.route, a, l, stream);
  if (p.HS == 128) return Instantiate<128, P>::dispatch(p.route, a, l, stream);
  fail(strfmt("flash attention: unsupported head size %d", p.HS));
}

void launch_rows(const FlashAttnParams& p, const KernelArgs& a, int mode, cudaStream_t stream) {
  const FlashLaunch l = flash_row_launch(p.B, p.T, p.NH);
  if (p.HS == 64)
    flash::flash_rows_kernel<64><<<l.grid_x, l.threads, 0, stream>>>(a, mode);
  else
    flash::flash_rows_kernel<128><<<l.grid_x, l.threads, 0, stream>>>(a, mode);
  check_launch("row kernel");
}

void check_params(const FlashAttnParams& p, bool backward) {
  if (p.route.impl != AttnImpl::Fused) fail("flash attention: variant is not fused: " + p.route.reason);
  if (p.B <= 0 || p.T <= 0 || p.NH <= 0) fail("flash attention: empty shape");
  if (!p.qkv || !p.out) fail("flash attention: qkv/out pointers are null");
  if (backward) {
    if (!p.dout || !p.dqkv) fail("flash attention: dout/dqkv pointers are null");
    if (flash_saved_stat_count(p.route) > 0 && !p.stats) fail("flash attention: backward needs the saved statistics");
    if (p.route.reweight && !p.o2) fail("flash attention: re-weighting backward needs the saved O2");
  }
}

}  // namespace

FlashAttnParams flash_params_init(const AttnSpec& spec, int B, int T, int NH, int HS) {
  FlashAttnParams p;
  p.B = B, p.T = T, p.NH = NH, p.HS = HS;
  p.spec = spec;
  p.route = flash_route(spec, HS);
  if (p.route.impl != AttnImpl::Fused) fail("flash attention: " + p.route.reason);
  return p;
}

void flash_attention_forward(const FlashAttnParams& p, cudaStream_t stream) {
  check_params(p, false);
  const KernelArgs a = make_args(p, false);
  if (p.spec.score == AttnScore::Cosine) launch_rows(p, a, flash::kRowsForward, stream);
  dispatch_hs<Pass::Forward>(p, a, flash_fwd_launch(p.B, p.T, p.NH, p.HS), stream);
}

void flash_attention_backward(const FlashAttnParams& p, cudaStream_t stream) {
  check_params(p, true);
  const KernelArgs a = make_args(p, true);
  launch_rows(p, a, flash::kRowsBackward, stream);
  dispatch_hs<Pass::Backward>(p, a, flash_bwd_launch(p.B, p.T, p.NH, p.HS), stream);
  if (p.deterministic) dispatch_hs<Pass::BackwardDq>(p, a, flash_dq_launch(p.B, p.T, p.NH, p.HS), stream);
  const FlashLaunch l = flash_row_launch(p.B, p.T, p.NH);
  if (p.HS == 64)
    flash::flash_dq_convert_kernel<64><<<l.grid_x, l.threads, 0, stream>>>(a);
  else
    flash::flash_dq_convert_kernel<128><<<l.grid_x, l.threads, 0, stream>>>(a);
  check_launch("dq conversion");
}

}  // namespace lssa
