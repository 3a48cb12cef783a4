// The CUDA implementations behind attention/attention.h: AttnParams → the fused kernels'
// FlashAttnParams or the reference path's scratch. See attention_cuda.h.
#include "attention/cuda/attention_cuda.h"

#include "attention/cuda/attention_reference.h"
#include "attention/cuda/flash_attention.h"
#include "runtime/error.h"

namespace lssa {

namespace {

cudaStream_t stream_of(const AttnParams& p) { return static_cast<cudaStream_t>(p.stream); }

size_t align256(size_t x) { return (x + 255) & ~size_t(255); }

class CudaFused final : public Attention {
 public:
  AttnImpl kind() const override { return AttnImpl::Fused; }
  AttnDevice device() const override { return AttnDevice::Cuda; }
  const char* name() const override { return "cuda fused"; }
  std::string supports(const AttnSpec& spec, const AttnShape& shape, AttnDType dtype, bool stats) const override {
    if (dtype != AttnDType::BF16) return "the fused kernels take bf16";
    // the kernels stay as they are: --attn-stats selects the reference path, which computes them
    if (stats) return "the fused kernels do not compute attention statistics";
    const FlashRoute r = flash_route(spec, shape.HS);
    return r.impl == AttnImpl::Fused ? "" : r.reason;
  }
  // saved: the row statistics, then Õ2 (re-weighting); scratch: the backward's workspace, which
  // contains the forward's (both passes rebuild the LSSA prologue).
  AttnWorkspace workspace(const AttnSpec& spec, const AttnShape& s, bool training) const override {
    const FlashBufferSizes b = flash_buffer_sizes(spec, s.B, s.T, s.NH, s.HS);
    AttnWorkspace w;
    if (training) w.saved = align256(b.stats) + b.o2;
    w.scratch = training ? b.bwd_workspace : b.fwd_workspace;
    return w;
  }
  void forward(const AttnParams& p) const override {
    if (p.stats) fail("cuda fused attention: the fused kernels do not compute attention statistics");
    if (p.shape.B * p.shape.T == 0) return;
    flash_attention_forward(to_flash(p), stream_of(p));
  }
  void backward(const AttnParams& p) const override {
    if (p.shape.B * p.shape.T == 0) return;
    flash_attention_backward(to_flash(p), stream_of(p));
  }

 private:
  static FlashAttnParams to_flash(const AttnParams& p) {
    const AttnShape& s = p.shape;
    if (p.dtype != AttnDType::BF16) fail("cuda fused attention: the tensors must be bf16");
    FlashAttnParams f = flash_params_init(p.spec, s.B, s.T, s.NH, s.HS);
    const FlashBufferSizes b = flash_buffer_sizes(p.spec, s.B, s.T, s.NH, s.HS);
    f.qkv = static_cast<const __nv_bfloat16*>(p.qkv);
    f.out = static_cast<__nv_bfloat16*>(p.out);
    f.dout = static_cast<const __nv_bfloat16*>(p.dout);
    f.dqkv = static_cast<__nv_bfloat16*>(p.dqkv);
    if (p.training || p.dout) {  // the forward saves, the backward reads, the row statistics (+ Õ2)
      if (!p.saved && (b.stats || b.o2)) fail("cuda fused attention: the saved buffer is null");
      unsigned char* saved = static_cast<unsigned char*>(p.saved);
      f.stats = b.stats ? reinterpret_cast<float*>(saved) : nullptr;
      f.o2 = b.o2 ? reinterpret_cast<__nv_bfloat16*>(saved + align256(b.stats)) : nullptr;
    }
    f.fwd_workspace = p.scratch;
    f.bwd_workspace = p.scratch;
    return f;
  }
};

class CudaReference final : public Attention {
 public:
  AttnImpl kind() const override { return AttnImpl::Reference; }
  AttnDevice device() const override { return AttnDevice::Cuda; }
  const char* name() const override { return "cuda reference"; }
  std::string supports(const AttnSpec&, const AttnShape& shape, AttnDType dtype, bool) const override {  // stats: yes
    if (dtype != AttnDType::BF16) return "the GPU reference takes bf16";
    if (shape.HS != 32 && shape.HS != 64 && shape.HS != 128)
      return strfmt("the GPU reference supports head sizes 32, 64 and 128, not %d", shape.HS);
    return "";
  }
  AttnWorkspace workspace(const AttnSpec&, const AttnShape& s, bool training) const override {
    AttnWorkspace w;
    w.scratch = attention_reference_scratch_bytes(s, training);  // recomputes everything: nothing saved
    return w;
  }
  void forward(const AttnParams& p) const override {
    const AttnReferenceScratch sc = attention_reference_scratch_at(p.scratch, p.shape, p.training);
    attention_reference_forward(stream_of(p), p.spec, p.shape, sc, static_cast<__nv_bfloat16*>(p.out),
                                static_cast<const __nv_bfloat16*>(p.qkv));
    if (p.stats) attention_reference_stats(stream_of(p), p.spec, p.shape, sc, *p.stats);  // reads sc's q, k
  }
  void backward(const AttnParams& p) const override {
    const AttnReferenceScratch sc = attention_reference_scratch_at(p.scratch, p.shape, true);
    attention_reference_backward(stream_of(p), p.spec, p.shape, sc, static_cast<__nv_bfloat16*>(p.dqkv),
                                 static_cast<const __nv_bfloat16*>(p.dout), static_cast<const __nv_bfloat16*>(p.qkv));
  }
};

}  // namespace

const Attention& attention_cuda_fused() {
  static const CudaFused impl;
  return impl;
}

const Attention& attention_cuda_reference() {
  static const CudaReference impl;
  return impl;
}

}  // namespace lssa
