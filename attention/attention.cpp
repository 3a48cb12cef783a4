// The attention interface (attention.h): the CPU reference behind it, and the selection function.
#include "attention/attention.h"

#include "attention/attention_cpu.h"
#include "runtime/error.h"

namespace lssa {

const char* attn_impl_name(AttnImpl impl) { return impl == AttnImpl::Fused ? "fused" : "reference"; }

AttnImplChoice attn_impl_choice_from_name(const std::string& name) {
  if (name == "auto") return AttnImplChoice::Auto;
  if (name == "fused") return AttnImplChoice::Fused;
  if (name == "reference") return AttnImplChoice::Reference;
  fail(strfmt("--attn-impl must be auto, fused or reference, got '%s'", name.c_str()));
}

const char* attn_impl_choice_name(AttnImplChoice c) {
  switch (c) {
    case AttnImplChoice::Auto: return "auto";
    case AttnImplChoice::Fused: return "fused";
    case AttnImplChoice::Reference: return "reference";
  }
  return "auto";
}

namespace {

class CpuReference final : public Attention {
 public:
  AttnImpl kind() const override { return AttnImpl::Reference; }
  AttnDevice device() const override { return AttnDevice::Cpu; }
  const char* name() const override { return "cpu reference"; }
  std::string supports(const AttnSpec&, const AttnShape&, AttnDType dtype, bool) const override {  // stats: yes
    if (dtype != AttnDType::F32 && dtype != AttnDType::F64) return "the CPU reference computes in fp32 or fp64";
    return "";
  }
  AttnWorkspace workspace(const AttnSpec&, const AttnShape&, bool) const override { return {}; }  // O(T) per thread, its own
  void forward(const AttnParams& p) const override {
    const AttnShape& s = p.shape;
    if (p.dtype == AttnDType::F64)
      attention_forward_cpu(p.spec, (double*)p.out, (const double*)p.qkv, s.B, s.T, s.NH, s.HS, p.stats);
    else
      attention_forward_cpu(p.spec, (float*)p.out, (const float*)p.qkv, s.B, s.T, s.NH, s.HS, p.stats);
  }
  void backward(const AttnParams& p) const override {
    const AttnShape& s = p.shape;
    if (p.dtype == AttnDType::F64)
      attention_backward_cpu(p.spec, (double*)p.dqkv, (const double*)p.dout, (const double*)p.qkv, s.B, s.T, s.NH, s.HS);
    else
      attention_backward_cpu(p.spec, (float*)p.dqkv, (const float*)p.dout, (const float*)p.qkv, s.B, s.T, s.NH, s.HS);
  }
};

}  // namespace

const Attention& attention_cpu_reference() {
  static const CpuReference impl;
  return impl;
}

const Attention& attention_select(AttnImplChoice choice, const std::vector<const Attention*>& candidates,
                                  const AttnSpec& spec, const AttnShape& shape, AttnDType dtype, bool stats) {
  std::string why;
  for (const Attention* a : candidates) {
    if (choice == AttnImplChoice::Fused && a->kind() != AttnImpl::Fused) continue;
    if (choice == AttnImplChoice::Reference && a->kind() != AttnImpl::Reference) continue;
    const std::string no = a->supports(spec, shape, dtype, stats);
    if (no.empty()) return *a;
    why += std::string(why.empty() ? "" : "; ") + a->name() + ": " + no;
  }
  if (why.empty())
    fail(strfmt("--attn-impl %s: this backend has no %s attention implementation", attn_impl_choice_name(choice),
                attn_impl_choice_name(choice)));
  fail(strfmt("--attn-impl %s: no implementation runs this attention (%s)", attn_impl_choice_name(choice), why.c_str()));
}

}  // namespace lssa
