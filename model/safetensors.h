// safetensors reader/writer (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length N, an N-byte JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
// {string: string}}, then the raw little-endian tensor bytes. Dtypes: F32, F64, I32, I64.
// Reads validate everything (header size, JSON, offsets inside the file, sizes match shapes,
// no overlaps) and throw Error with one line naming the file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lssa {

struct SafeTensor {
  std::string dtype;           // "F32", "F64", "I32", "I64"
  std::vector<int64_t> shape;  // row-major
  std::vector<uint8_t> data;   // raw bytes
  int64_t numel() const;
  // Converting accessors (throw on an integer/float mismatch).
  std::vector<float> as_f32() const;
  std::vector<double> as_f64() const;
  std::vector<int32_t> as_i32() const;
};

struct SafeTensorsFile {
  std::map<std::string, std::string> metadata;
  std::map<std::string, SafeTensor> tensors;  // written in name order
  const SafeTensor& at(const std::string& name) const;  // throws Error naming file and tensor
  bool has(const std::string& name) const { return tensors.count(name) > 0; }
  const std::string& meta(const std::string& key) const;  // throws when missing
  std::string source;  // the path it was read from (for error messages)
};

SafeTensor make_tensor_f32(const std::vector<int64_t>& shape, const float* data);
SafeTensor make_tensor_i32(const std::vector<int64_t>& shape, const int32_t* data);

SafeTensorsFile safetensors_read(const std::string& path);
// The same checks on bytes already in memory; `path` names them in messages.
SafeTensorsFile safetensors_parse(const std::vector<uint8_t>& bytes, const std::string& path);
// Writes atomically (temp + fsync + rename).
void safetensors_write(const std::string& path, const SafeTensorsFile& f);

}  // namespace lssa
