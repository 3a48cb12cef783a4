#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "runtime/bytes.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

namespace lssa {

static int64_t dtype_size(const std::string& dt) {
  if (dt == "F32" || dt == "I32") return 4;
  if (dt == "F64" || dt == "I64") return 8;
  return -1;
}

// (a shape read from a file has been checked: its product fits an int64, or a dimension is 0)
int64_t SafeTensor::numel() const {
  for (auto d : shape)
    if (d == 0) return 0;
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<float> SafeTensor::as_f32() const {
  std::vector<float> out(numel());
  if (dtype == "F32") copy_bytes(out.data(), data.data(), data.size());
  else if (dtype == "F64") {
    const double* p = (const double*)data.data();
    for (size_t i = 0; i < out.size(); i++) out[i] = (float)p[i];
  } else fail("tensor of dtype " + dtype + " where a float tensor was expected");
  return out;
}

std::vector<double> SafeTensor::as_f64() const {
  std::vector<double> out(numel());
  if (dtype == "F64") copy_bytes(out.data(), data.data(), data.size());
  else if (dtype == "F32") {
    const float* p = (const float*)data.data();
    for (size_t i = 0; i < out.size(); i++) out[i] = p[i];
  } else fail("tensor of dtype " + dtype + " where a float tensor was expected");
  return out;
}

std::vector<int32_t> SafeTensor::as_i32() const {
  std::vector<int32_t> out(numel());
  if (dtype == "I32") copy_bytes(out.data(), data.data(), data.size());
  else if (dtype == "I64") {
    const int64_t* p = (const int64_t*)data.data();
    for (size_t i = 0; i < out.size(); i++) out[i] = (int32_t)p[i];
  } else fail("tensor of dtype " + dtype + " where an integer tensor was expected");
  return out;
}

const SafeTensor& SafeTensorsFile::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail(strfmt("%s: tensor '%s' is missing", source.c_str(), name.c_str()));
  return it->second;
}

const std::string& SafeTensorsFile::meta(const std::string& key) const {
  auto it = metadata.find(key);
  if (it == metadata.end()) fail(strfmt("%s: metadata key '%s' is missing", source.c_str(), key.c_str()));
  return it->second;
}

SafeTensor make_tensor_f32(const std::vector<int64_t>& shape, const float* data) {
  SafeTensor t;
  t.dtype = "F32";
  t.shape = shape;
  t.data.resize(t.numel() * 4);
  copy_bytes(t.data.data(), data, t.data.size());
  return t;
}

SafeTensor make_tensor_i32(const std::vector<int64_t>& shape, const int32_t* data) {
  SafeTensor t;
  t.dtype = "I32";
  t.shape = shape;
  t.data.resize(t.numel() * 4);
  copy_bytes(t.data.data(), data, t.data.size());
  return t;
}

SafeTensorsFile safetensors_read(const std::string& path) {
  int64_t size = file_size(path);
  if (size < 0) fail(strfmt("checkpoint %s does not exist", path.c_str()));
  if (is_directory(path)) fail(strfmt("%s is a directory, not a safetensors file", path.c_str()));
  return safetensors_parse(read_file(path), path);
}

SafeTensorsFile safetensors_parse(const std::vector<uint8_t>& buf, const std::string& path) {
  const char* P = path.c_str();
  if (buf.size() < 8) fail(strfmt("%s is not a safetensors file: only %zu bytes", P, buf.size()));
  uint64_t hlen;
  std::memcpy(&hlen, buf.data(), 8);
  if (hlen == 0 || hlen > buf.size() - 8)
    fail(strfmt("%s is truncated or not a safetensors file: header length %llu, file %zu bytes", P,
                (unsigned long long)hlen, buf.size()));
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(buf.begin() + 8, buf.begin() + 8 + hlen);
  } catch (const std::exception& e) {
    fail(strfmt("%s: safetensors header is not valid JSON", P));
  }
  if (!h.is_object()) fail(strfmt("%s: safetensors header is not a JSON object", P));
  SafeTensorsFile f;
  f.source = path;
  const uint64_t data_bytes = buf.size() - 8 - hlen;
  const uint8_t* data = buf.data() + 8 + hlen;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(strfmt("%s: __metadata__ is not an object", P));
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(strfmt("%s: metadata '%s' is not a string", P, m.key().c_str()));
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const auto& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      fail(strfmt("%s: tensor '%s' has a malformed header entry", P, it.key().c_str()));
    SafeTensor t;
    const char* K = it.key().c_str();
    if (!e["dtype"].is_string()) fail(strfmt("%s: tensor '%s' has a dtype that is not a string", P, K));
    t.dtype = e["dtype"].get<std::string>();
    int64_t es = dtype_size(t.dtype);
    if (es < 0) fail(strfmt("%s: tensor '%s' has unsupported dtype %s", P, K, t.dtype.c_str()));
    if (!e["shape"].is_array()) fail(strfmt("%s: tensor '%s' has a shape that is not an array", P, K));
    // bytes the shape needs, in unsigned arithmetic that saturates: a shape whose byte count passes
    // the data section can never match its offsets, whatever its exact (possibly overflowing) value
    uint64_t need = (uint64_t)es;
    for (auto& d : e["shape"]) {
      if (!d.is_number_integer() || (d.is_number_unsigned() ? false : d.get<int64_t>() < 0))
        fail(strfmt("%s: tensor '%s' has a bad shape", P, K));
      const uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t)INT64_MAX) fail(strfmt("%s: tensor '%s' has a bad shape", P, K));
      t.shape.push_back((int64_t)dim);
      need = dim == 0 ? 0 : need > data_bytes / dim + 1 ? data_bytes + 1 : need * dim;
      if (need > data_bytes) need = data_bytes + 1;
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(strfmt("%s: tensor '%s' has bad data_offsets", P, K));
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_bytes)
      fail(strfmt("%s is truncated: tensor '%s' ends at byte %llu of a %llu-byte data section", P, K,
                  (unsigned long long)en, (unsigned long long)data_bytes));
    // a zero-size dimension makes a zero-byte tensor whatever the other dimensions say; otherwise
    // the element count must fit an int64 (numel()) as well as match the bytes
    if (en - b != need)
      fail(strfmt("%s: tensor '%s' has %llu bytes, its shape needs %s", P, K, (unsigned long long)(en - b),
                  need > data_bytes ? "more than the file holds" : strfmt("%llu", (unsigned long long)need).c_str()));
    if (need == 0) {
      uint64_t n = 1;  // the product of the non-zero dimensions must still be representable
      for (int64_t d : t.shape)
        if (d != 0) {
          if (n > (uint64_t)INT64_MAX / (uint64_t)d) fail(strfmt("%s: tensor '%s' has a bad shape", P, K));
          n *= (uint64_t)d;
        }
    }
    t.data.assign(data + b, data + en);
    ranges.push_back({b, en});
    f.tensors[it.key()] = std::move(t);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); i++)
    if (ranges[i].first < ranges[i - 1].second) fail(strfmt("%s: tensors overlap", P));
  return f;
}

void safetensors_write(const std::string& path, const SafeTensorsFile& f) {
  nlohmann::json h = nlohmann::json::object();
  if (!f.metadata.empty()) h["__metadata__"] = f.metadata;
  uint64_t off = 0;
  for (const auto& [name, t] : f.tensors) {
    h[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.data.size()}}};
    off += t.data.size();
  }
  std::string hs = h.dump();
  while (hs.size() % 8) hs += ' ';  // align the data section (the format allows trailing spaces)
  uint64_t hlen = hs.size();
  AtomicFile out(path);
  out.write(&hlen, 8);
  out.write(hs.data(), hs.size());
  for (const auto& [name, t] : f.tensors) out.write(t.data.data(), t.data.size());
  out.commit();
}

}  // namespace lssa
