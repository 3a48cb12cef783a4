// Malformed safetensors and training-state files (issue: "nothing aborts"): each is one
// lssa::Error naming the file, never another exception type (nlohmann type/parse errors,
// std::length_error), never a large allocation, never undefined arithmetic. The fuzz targets in
// test/fuzz/ explore the same readers at random; these are the cases found that way, kept.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

using namespace lssa;

namespace {
struct TmpDir {
  std::string path;
  TmpDir() {
    char t[] = "/tmp/lssa_malformed.XXXXXX";
    path = mkdtemp(t);
  }
  ~TmpDir() { std::system(("rm -rf " + path).c_str()); }
};

// Runs f; expects an lssa::Error whose text contains `needle` (any other exception fails the test).
template <typename F>
void expect_error(F f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// A safetensors file with the given header text and `data_bytes` zero bytes of data.
std::string write_st(const std::string& dir, const std::string& name, const std::string& header, size_t data_bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  f.write((const char*)&n, 8);
  f.write(header.data(), header.size());
  std::string zeros(data_bytes, '\0');
  f.write(zeros.data(), zeros.size());
  return path;
}

// A state file with the given JSON header and `moment_bytes` bytes of moments.
std::string write_state_raw(const std::string& dir, const std::string& name, const std::string& json,
                            size_t moment_bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream f(path, std::ios::binary);
  f.write("LSSASTAT", 8);
  uint64_t n = json.size();
  f.write((const char*)&n, 8);
  f.write(json.data(), json.size());
  std::string zeros(moment_bytes, '\0');
  f.write(zeros.data(), zeros.size());
  return path;
}
}  // namespace

TEST(MalformedSafetensors, WrongJsonTypesAreOneError) {
  TmpDir d;
  auto rd = [&](const std::string& name, const std::string& h, size_t bytes) {
    const std::string p = write_st(d.path, name, h, bytes);
    return [p] { safetensors_read(p); };
  };
  expect_error(rd("a", R"({"x":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", 4), "dtype");
  expect_error(rd("b", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}})", 4), "data_offsets");
  expect_error(rd("c", R"({"x":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", 4), "shape");
  expect_error(rd("d", R"({"x":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", 4), "shape");
  expect_error(rd("e", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,4]}})", 4), "data_offsets");
  expect_error(rd("f", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}})", 4), "data_offsets");
  expect_error(rd("g", R"({"x":[1,2]})", 0), "malformed");
  expect_error(rd("h", R"({"__metadata__":{"k":1}})", 0), "metadata");
}

TEST(MalformedSafetensors, ShapeAndBytesMustAgreeWithoutOverflow) {
  TmpDir d;
  auto rd = [&](const std::string& name, const std::string& h, size_t bytes) {
    const std::string p = write_st(d.path, name, h, bytes);
    return [p] { safetensors_read(p); };
  };
  // [2^62] with 0 bytes: the byte count 4·2^62 wraps to 0 in 64-bit arithmetic
  expect_error(rd("a", R"({"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0), "bytes");
  expect_error(rd("b", R"({"x":{"dtype":"F64","shape":[2305843009213693952,8],"data_offsets":[0,0]}})", 0), "bytes");
  expect_error(rd("c", R"({"x":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]}})", 0), "shape");
  expect_error(rd("d", R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "bytes");
  expect_error(rd("e", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}})", 4), "truncated");
  // a zero-size dimension is a legal empty tensor whatever the other dimensions are, unless their
  // product cannot be represented
  SafeTensorsFile ok = safetensors_read(write_st(d.path, "f", R"({"x":{"dtype":"F32","shape":[1000000,0],"data_offsets":[0,0]}})", 0));
  EXPECT_EQ(ok.at("x").numel(), 0);
  expect_error(rd("g", R"({"x":{"dtype":"F32","shape":[4611686018427387904,4,0],"data_offsets":[0,0]}})", 0), "shape");
  // header length near 2^64
  const std::string p = d.path + "/h";
  {
    std::ofstream f(p, std::ios::binary);
    uint64_t n = ~0ull - 3;
    f.write((const char*)&n, 8);
    f.write("{}", 2);
  }
  expect_error([&] { safetensors_read(p); }, "header length");
}

// Tensors without elements (a zero dimension), of every dtype: the accessors return empty vectors.
// They called memcpy(out.data(), …, 0) with the null data() of an empty vector — undefined
// behaviour, found by fuzz_safetensors under UBSan (its input is in the seed corpus:
// test/fuzz/corpus/fuzz_safetensors/zero_elements).
TEST(MalformedSafetensors, TensorsWithoutElementsOfEveryDtype) {
  TmpDir d;
  for (const std::string dt : {"F32", "F64", "I32", "I64"}) {
    SCOPED_TRACE(dt);
    const std::string h = R"({"e":{"dtype":")" + dt + R"(","shape":[0,3],"data_offsets":[0,0]}})";
    const SafeTensorsFile f = safetensors_read(write_st(d.path, dt, h, 0));
    const SafeTensor& t = f.at("e");
    EXPECT_EQ(t.numel(), 0);
    if (dt[0] == 'F') {
      EXPECT_TRUE(t.as_f32().empty());
      EXPECT_TRUE(t.as_f64().empty());
    } else {
      EXPECT_TRUE(t.as_i32().empty());
    }
  }
  // made (no data to copy: the pointer may be null), written and read back
  SafeTensorsFile w;
  w.tensors["f"] = make_tensor_f32({4, 0}, nullptr);
  w.tensors["i"] = make_tensor_i32({0}, nullptr);
  const std::string p = d.path + "/empty.safetensors";
  safetensors_write(p, w);
  const SafeTensorsFile r = safetensors_read(p);
  EXPECT_EQ(r.at("f").shape, (std::vector<int64_t>{4, 0}));
  EXPECT_TRUE(r.at("f").as_f32().empty());
  EXPECT_TRUE(r.at("i").as_i32().empty());
}

TEST(MalformedState, HeaderValuesAreChecked) {
  TmpDir d;
  const std::string fp = "\"{}\"";
  auto st = [&](const std::string& name, const std::string& json, size_t bytes) {
    const std::string p = write_state_raw(d.path, name, json, bytes);
    return [p] { load_state(p, 2); };
  };
  const std::string ok_tail = R"(,"seed":1,"loader":[0,0,0],"fingerprint":"{}","n_params":2})";
  EXPECT_EQ(load_state(write_state_raw(d.path, "ok", R"({"step":3)" + ok_tail, 16), 2).step, 3);
  expect_error(st("neg", R"({"step":-4)" + ok_tail, 16), "negative step");
  expect_error(st("type", R"({"step":"three")" + ok_tail, 16), "malformed training-state header");
  expect_error(st("json", R"({"step":3,)", 16), "malformed training-state header");
  // a parameter count whose byte size wraps (2^62 · 8 = 2^65): was std::length_error
  expect_error(st("wrap", R"({"step":3,"seed":1,"loader":[0,0,0],"fingerprint":"{}","n_params":4611686018427387904})", 16),
               "truncated");
  expect_error(st("short", R"({"step":3)" + ok_tail, 15), "truncated");
  expect_error(st("long", R"({"step":3)" + ok_tail, 17), "malformed");
  expect_error(st("shard", R"({"step":3,"seed":1,"loader":[0,0,0],"fingerprint":"{}","n_params":2,"shard":[2,1],"world":2})", 0),
               "shard range");
  // no parameters: empty moments (the copy into an empty vector's null data() was undefined)
  const TrainState none =
      load_state(write_state_raw(d.path, "none", R"({"step":0,"seed":1,"loader":[0,0,0],"fingerprint":"{}","n_params":0})", 0), 0);
  EXPECT_TRUE(none.m.empty());
  EXPECT_TRUE(none.v.empty());
}
