// libFuzzer target: the checkpoint loaders (model/checkpoint.h). The first byte picks the file:
// even → a model checkpoint (load_model: metadata, config, tensor shapes, allocation bounded by
// the file), odd → a training-state file (load_state: header JSON, counts against the size).
#include <cstdint>

#include "fuzz_util.h"
#include "model/checkpoint.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool state = data[0] & 1;
  const std::string path = fuzz::write_scratch(state ? "state.bin" : "model.safetensors", data + 1, size - 1);
  try {
    if (state) {
      lssa::TrainState st = lssa::load_state(path, 4);
      if (st.step < 0 || st.m.size() != 4 || st.v.size() != 4) __builtin_trap();
    } else {
      lssa::LoadedModel m = lssa::load_model(path);
      if (m.params.size() != lssa::param_offsets(m.cfg).total) __builtin_trap();
    }
  } catch (const lssa::Error&) {
  }
  return 0;
}
