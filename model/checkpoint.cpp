#include "model/checkpoint.h"

#include <dirent.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/safetensors.h"

namespace lssa {

std::string checkpoint_model_path(const std::string& dir, int step) {
  return dir + strfmt("/model_%08d.safetensors", step);
}
std::string checkpoint_state_path(const std::string& dir, int step) {
  return dir + strfmt("/state_%08d.bin", step);
}

static std::string fmt_float(float x) { return strfmt("%.9g", x); }

void save_model(const std::string& path, const GPT2Config& cfg, const std::vector<float>& params, int step) {
  SafeTensorsFile f;
  f.metadata = {{"format", "lssa-gpt2"},
                {"format_version", "1"},
                {"n_layer", std::to_string(cfg.L)},
                {"n_head", std::to_string(cfg.NH)},
                {"n_embd", std::to_string(cfg.C)},
                {"vocab_size", std::to_string(cfg.V)},
                {"padded_vocab_size", std::to_string(cfg.Vp)},
                {"seq_len", std::to_string(cfg.T_train)},
                {"rope_base", fmt_float(cfg.rope_base)},
                {"attn", cfg.attn},
                {"reweight_p", fmt_float(cfg.attn_opt.reweight_p)},
                {"sigmoid_bias", cfg.attn_opt.sigmoid_bias},
                {"relu_divisor", cfg.attn_opt.relu_divisor},
                {"step", std::to_string(step)}};
  for (const ParamTensor& t : param_layout(cfg)) f.tensors[t.name] = make_tensor_f32(t.shape, params.data() + t.offset);
  safetensors_write(path, f);
}

static int meta_int(const SafeTensorsFile& f, const char* key) {
  const std::string& s = f.meta(key);
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end || v < 0 || v > (1 << 30))
    fail(strfmt("%s: metadata '%s' = '%s' is not a valid integer", f.source.c_str(), key, s.c_str()));
  return (int)v;
}

static float meta_float(const SafeTensorsFile& f, const char* key) {
  const std::string& s = f.meta(key);
  char* end = nullptr;
  float v = std::strtof(s.c_str(), &end);
  if (s.empty() || *end || !std::isfinite(v))
    fail(strfmt("%s: metadata '%s' = '%s' is not a valid number", f.source.c_str(), key, s.c_str()));
  return v;
}

LoadedModel load_model(const std::string& path_in) {
  std::string path = path_in;
  int64_t sz = file_size(path);
  if (sz < 0) fail(strfmt("checkpoint %s does not exist", path.c_str()));
  DIR* d = opendir(path.c_str());
  if (d) {
    closedir(d);
    int step = latest_checkpoint_step(path);
    if (step < 0) fail(strfmt("run directory %s holds no checkpoint (model_*.safetensors)", path.c_str()));
    path = checkpoint_model_path(path, step);
  }
  SafeTensorsFile f = safetensors_read(path);
  auto it = f.metadata.find("format");
  if (it == f.metadata.end() || it->second != "lssa-gpt2")
    fail(strfmt("%s is a safetensors file but not an lssa-gpt2 checkpoint (metadata 'format' missing)", path.c_str()));
  LoadedModel m;
  m.path = path;
  GPT2Config& c = m.cfg;
  c.L = meta_int(f, "n_layer");
  c.NH = meta_int(f, "n_head");
  c.C = meta_int(f, "n_embd");
  c.V = meta_int(f, "vocab_size");
  c.Vp = meta_int(f, "padded_vocab_size");
  c.T_train = meta_int(f, "seq_len");
  c.rope_base = meta_float(f, "rope_base");
  c.attn = f.meta("attn");
  c.attn_opt.reweight_p = meta_float(f, "reweight_p");
  c.attn_opt.sigmoid_bias = f.meta("sigmoid_bias");
  c.attn_opt.relu_divisor = f.meta("relu_divisor");
  m.step = meta_int(f, "step");
  if (c.L < 1 || c.NH < 1 || c.C < 1 || c.C % c.NH || c.HS() % 2 || c.V < 1 || c.Vp < c.V || c.T_train < 1)
    fail(strfmt("%s: inconsistent model config in metadata", path.c_str()));
  try {
    c.attn_spec();
  } catch (const Error& e) {
    fail(strfmt("%s: %s", path.c_str(), e.what()));
  }
  const ParamOffsets o = param_offsets(c);
  m.params.assign(o.total, 0.f);
  for (const ParamTensor& t : param_layout(c)) {
    const SafeTensor& st = f.at(t.name);
    if (st.shape != t.shape || st.dtype != "F32")
      fail(strfmt("%s: tensor '%s' has the wrong shape or dtype for the config in its metadata", path.c_str(),
                  t.name.c_str()));
    std::memcpy(m.params.data() + t.offset, st.data.data(), st.data.size());
  }
  if (f.tensors.size() != param_layout(c).size())
    fail(strfmt("%s: %zu tensors, the config needs %zu", path.c_str(), f.tensors.size(), param_layout(c).size()));
  return m;
}

static const char kStateMagic[8] = {'L', 'S', 'S', 'A', 'S', 'T', 'A', 'T'};

void save_state(const std::string& path, const TrainState& st) {
  nlohmann::json j = {{"step", st.step},
                      {"seed", st.seed},
                      {"loader", {st.loader.epoch, st.loader.shard_pos, st.loader.window_pos}},
                      {"fingerprint", st.fingerprint},
                      {"n_params", st.m.size()}};
  std::string js = j.dump();
  uint64_t len = js.size();
  AtomicFile f(path);
  f.write(kStateMagic, 8);
  f.write(&len, 8);
  f.write(js.data(), js.size());
  f.write(st.m.data(), st.m.size() * 4);
  f.write(st.v.data(), st.v.size() * 4);
  f.commit();
}

TrainState load_state(const std::string& path, size_t expect_params) {
  std::vector<uint8_t> buf = read_file(path);
  const char* P = path.c_str();
  if (buf.size() < 16 || std::memcmp(buf.data(), kStateMagic, 8) != 0)
    fail(strfmt("%s is not a training-state file (bad magic)", P));
  uint64_t len;
  std::memcpy(&len, buf.data() + 8, 8);
  if (len > buf.size() - 16) fail(strfmt("%s is truncated (header)", P));
  TrainState st;
  try {
    auto j = nlohmann::json::parse(buf.begin() + 16, buf.begin() + 16 + len);
    st.step = j.at("step").get<int>();
    st.seed = j.at("seed").get<uint64_t>();
    st.loader.epoch = j.at("loader").at(0).get<uint64_t>();
    st.loader.shard_pos = j.at("loader").at(1).get<uint64_t>();
    st.loader.window_pos = j.at("loader").at(2).get<uint64_t>();
    st.fingerprint = j.at("fingerprint").get<std::string>();
    size_t n = j.at("n_params").get<size_t>();
    if (n != expect_params)
      fail(strfmt("%s holds optimizer state for %zu parameters, the model has %zu", P, n, expect_params));
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    fail(strfmt("%s: malformed training-state header", P));
  }
  size_t need = 16 + len + 8 * expect_params;
  if (buf.size() != need)
    fail(strfmt("%s is %s: %zu bytes, expected %zu", P, buf.size() < need ? "truncated" : "malformed", buf.size(), need));
  st.m.resize(expect_params);
  st.v.resize(expect_params);
  std::memcpy(st.m.data(), buf.data() + 16 + len, 4 * expect_params);
  std::memcpy(st.v.data(), buf.data() + 16 + len + 4 * expect_params, 4 * expect_params);
  return st;
}

int latest_checkpoint_step(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  int best = -1;
  while (dirent* e = readdir(d)) {
    int step;
    char tail[64];
    if (std::sscanf(e->d_name, "model_%d.safetensor%63s", &step, tail) == 2 && std::strcmp(tail, "s") == 0 &&
        file_exists(checkpoint_state_path(dir, step)))
      best = std::max(best, step);
  }
  closedir(d);
  return best;
}

}  // namespace lssa
