#include "model/checkpoint.h"

#include <dirent.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "model/safetensors.h"
#include "runtime/bytes.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

namespace lssa {

std::string checkpoint_model_path(const std::string& dir, int step) {
  return dir + strfmt("/model_%08d.safetensors", step);
}
std::string checkpoint_state_path(const std::string& dir, int step) {
  return dir + strfmt("/state_%08d.bin", step);
}

std::string checkpoint_state_shard_path(const std::string& dir, int step, int rank) {
  return dir + strfmt("/state_%08d.rank%d.bin", step, rank);
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
                {"tokenizer", cfg.tokenizer},
                {"seq_len", std::to_string(cfg.T_train)},
                {"rope_base", fmt_float(cfg.rope_base)},
                {"attn", cfg.attn},
                {"reweight_p", fmt_float(cfg.attn_opt.reweight_p)},
                {"sigmoid_bias", cfg.attn_opt.sigmoid_bias},
                {"relu_divisor", cfg.attn_opt.relu_divisor},
                {"ssmax_scale", fmt_float(cfg.attn_opt.ssmax_scale)},
                {"qknorm_scale", cfg.attn_opt.qknorm_scale},
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

GPT2Config config_from_metadata(const SafeTensorsFile& f) {
  GPT2Config c;
  c.L = meta_int(f, "n_layer");
  c.NH = meta_int(f, "n_head");
  c.C = meta_int(f, "n_embd");
  c.V = meta_int(f, "vocab_size");
  c.Vp = meta_int(f, "padded_vocab_size");
  // checkpoints written before the tokenizer was recorded hold GPT-2 ids
  auto tk = f.metadata.find("tokenizer");
  c.tokenizer = tk == f.metadata.end() ? "gpt2" : tk->second;
  if (c.tokenizer != "gpt2" && c.tokenizer != "bytes")
    fail(strfmt("%s: metadata 'tokenizer' = '%s' is not gpt2 or bytes", f.source.c_str(), c.tokenizer.c_str()));
  c.T_train = meta_int(f, "seq_len");
  c.rope_base = meta_float(f, "rope_base");
  c.attn = f.meta("attn");
  c.attn_opt.reweight_p = meta_float(f, "reweight_p");
  c.attn_opt.sigmoid_bias = f.meta("sigmoid_bias");
  c.attn_opt.relu_divisor = f.meta("relu_divisor");
  // the baselines' options (not in the paper); checkpoints written before them hold the defaults
  if (f.metadata.count("ssmax_scale")) c.attn_opt.ssmax_scale = meta_float(f, "ssmax_scale");
  auto qk = f.metadata.find("qknorm_scale");
  if (qk != f.metadata.end()) c.attn_opt.qknorm_scale = qk->second;
  return c;
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
  m.cfg = config_from_metadata(f);
  GPT2Config& c = m.cfg;
  m.step = meta_int(f, "step");
  if (c.L < 1 || c.NH < 1 || c.C < 1 || c.C % c.NH || c.HS() % 2 || c.V < 1 || c.Vp < c.V || c.T_train < 1)
    fail(strfmt("%s: inconsistent model config in metadata", path.c_str()));
  try {
    c.attn_spec();
  } catch (const Error& e) {
    fail(strfmt("%s: %s", path.c_str(), e.what()));
  }
  // The metadata decides how much memory the parameters take (and how long the tensor list is):
  // a config that needs far more parameters than the file holds is refused before anything is
  // allocated (exact in long double for any metadata meta_int() accepts). What remains is bounded
  // by the file: every tensor it implies is then checked (present, shape, dtype) by name.
  const long double L = c.L, C = c.C, Vp = c.Vp;
  const long double want = Vp * C + L * (12 * C * C + 13 * C) + 2 * C;
  long double have = 0;
  for (const auto& kv : f.tensors) have += (long double)kv.second.data.size() / 4;
  if (want > 2 * have + 1e6L)
    fail(strfmt("%s: the config in its metadata (n_layer=%d, n_embd=%d, padded_vocab_size=%d) needs %.0Lf parameters, "
                "the file holds %.0Lf", path.c_str(), c.L, c.C, c.Vp, want, have));
  const std::vector<ParamTensor> layout = param_layout(c);
  for (const ParamTensor& t : layout) {
    const SafeTensor& st = f.at(t.name);
    if (st.shape != t.shape || st.dtype != "F32")
      fail(strfmt("%s: tensor '%s' has the wrong shape or dtype for the config in its metadata", path.c_str(),
                  t.name.c_str()));
  }
  if (f.tensors.size() != layout.size())
    fail(strfmt("%s: %zu tensors, the config needs %zu", path.c_str(), f.tensors.size(), layout.size()));
  const ParamOffsets o = param_offsets(c);
  m.params.assign(o.total, 0.f);
  for (const ParamTensor& t : layout) {
    const SafeTensor& st = f.at(t.name);
    copy_bytes(m.params.data() + t.offset, st.data.data(), st.data.size());
  }
  return m;
}

static const char kStateMagic[8] = {'L', 'S', 'S', 'A', 'S', 'T', 'A', 'T'};

// One state file: elements [begin, end) of n_params; world > 0 marks a ZeRO-1 shard.
static void write_state(const std::string& path, const TrainState& st, size_t n_params, size_t begin, size_t end,
                        int world) {
  LSSA_ASSERT(st.m.size() == end - begin && st.v.size() == end - begin);
  nlohmann::json j = {{"step", st.step},
                      {"seed", st.seed},
                      {"loader", {st.loader.epoch, st.loader.shard_pos, st.loader.window_pos}},
                      {"fingerprint", st.fingerprint},
                      {"n_params", n_params}};
  if (world > 0) {
    j["shard"] = {begin, end};
    j["world"] = world;
  }
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

void save_state(const std::string& path, const TrainState& st) { write_state(path, st, st.m.size(), 0, st.m.size(), 0); }

void save_state_shard(const std::string& path, const TrainState& st, size_t n_params, size_t begin, size_t end,
                      int world) {
  write_state(path, st, n_params, begin, end, world);
}

namespace {
struct StateFile {
  TrainState st;  // m, v: elements [begin, end)
  size_t n_params = 0, begin = 0, end = 0;
  int world = 0;  // > 0: a ZeRO-1 shard of a run with this many ranks
};

StateFile read_state_file(const std::string& path) {
  std::vector<uint8_t> buf = read_file(path);
  const char* P = path.c_str();
  if (buf.size() < 16 || std::memcmp(buf.data(), kStateMagic, 8) != 0)
    fail(strfmt("%s is not a training-state file (bad magic)", P));
  uint64_t len;
  std::memcpy(&len, buf.data() + 8, 8);
  if (len > buf.size() - 16) fail(strfmt("%s is truncated (header)", P));
  StateFile sf;
  TrainState& st = sf.st;
  try {
    auto j = nlohmann::json::parse(buf.begin() + 16, buf.begin() + 16 + len);
    st.step = j.at("step").get<int>();
    st.seed = j.at("seed").get<uint64_t>();
    st.loader.epoch = j.at("loader").at(0).get<uint64_t>();
    st.loader.shard_pos = j.at("loader").at(1).get<uint64_t>();
    st.loader.window_pos = j.at("loader").at(2).get<uint64_t>();
    st.fingerprint = j.at("fingerprint").get<std::string>();
    sf.n_params = j.at("n_params").get<size_t>();
    sf.end = sf.n_params;
    if (j.contains("shard")) {
      sf.begin = j.at("shard").at(0).get<size_t>();
      sf.end = j.at("shard").at(1).get<size_t>();
      sf.world = j.at("world").get<int>();
      if (sf.begin > sf.end || sf.end > sf.n_params || sf.world < 1) fail(strfmt("%s: malformed shard range", P));
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception&) {
    fail(strfmt("%s: malformed training-state header", P));
  }
  if (st.step < 0) fail(strfmt("%s: negative step %d in the training-state header", P, st.step));
  // the counts come from the file: compare them with its size before any arithmetic can wrap
  const size_t n = sf.end - sf.begin, avail = buf.size() - 16 - len;
  if (n > avail / 8 || avail != 8 * n)
    fail(strfmt("%s is %s: %zu bytes of moments, the header's %zu parameters need %s", P,
                n > avail / 8 ? "truncated" : "malformed", avail, n,
                n > avail / 8 ? "more" : strfmt("%zu", 8 * n).c_str()));
  st.m.resize(n);
  st.v.resize(n);
  copy_bytes(st.m.data(), buf.data() + 16 + len, 4 * n);  // n may be 0: st.m.data() null
  copy_bytes(st.v.data(), buf.data() + 16 + len + 4 * n, 4 * n);
  return sf;
}
}  // namespace

TrainState load_state(const std::string& path, size_t expect_params) {
  StateFile sf = read_state_file(path);
  if (sf.n_params != expect_params)
    fail(strfmt("%s holds optimizer state for %zu parameters, the model has %zu", path.c_str(), sf.n_params,
                expect_params));
  if (sf.world > 0) fail(strfmt("%s is one ZeRO-1 shard, not a whole training state", path.c_str()));
  return std::move(sf.st);
}

TrainState load_state_range(const std::string& dir, int step, size_t n_params, size_t begin, size_t end) {
  if (begin > end || end > n_params)
    fail(strfmt("optimizer range [%zu, %zu) is outside the %zu parameters of checkpoint step %d in %s", begin, end,
                n_params, step, dir.c_str()));
  const std::string full = checkpoint_state_path(dir, step);
  std::vector<std::string> files;
  if (file_exists(full)) {
    files.push_back(full);
  } else {
    // ZeRO-1 shards: rank 0's header says how many ranks wrote them
    const std::string first = checkpoint_state_shard_path(dir, step, 0);
    StateFile sf0 = read_state_file(first);
    for (int r = 0; r < std::max(sf0.world, 1); r++) files.push_back(checkpoint_state_shard_path(dir, step, r));
  }
  TrainState out;
  out.m.assign(end - begin, 0.f);
  out.v.assign(end - begin, 0.f);
  size_t covered = 0, expect_begin = 0;
  for (size_t i = 0; i < files.size(); i++) {
    if (!file_exists(files[i]))
      fail(strfmt("checkpoint step %d in %s is incomplete: %s is missing (a ZeRO-1 run writes one state file per rank)",
                  step, dir.c_str(), files[i].c_str()));
    StateFile sf = read_state_file(files[i]);
    if (sf.n_params != n_params)
      fail(strfmt("%s holds optimizer state for %zu parameters, the model has %zu", files[i].c_str(), sf.n_params,
                  n_params));
    if (sf.begin != expect_begin || (files.size() > 1 && sf.world != (int)files.size()))
      fail(strfmt("%s does not continue the shards before it (range [%zu, %zu) of a %d-rank run)", files[i].c_str(),
                  sf.begin, sf.end, sf.world));
    expect_begin = sf.end;
    if (i == 0) {
      out.step = sf.st.step;
      out.seed = sf.st.seed;
      out.loader = sf.st.loader;
      out.fingerprint = sf.st.fingerprint;
    }
    const size_t lo = std::max(begin, sf.begin), hi = std::min(end, sf.end);
    if (lo >= hi) continue;
    std::copy(sf.st.m.begin() + (lo - sf.begin), sf.st.m.begin() + (hi - sf.begin), out.m.begin() + (lo - begin));
    std::copy(sf.st.v.begin() + (lo - sf.begin), sf.st.v.begin() + (hi - sf.begin), out.v.begin() + (lo - begin));
    covered += hi - lo;
  }
  if (expect_begin != n_params || covered != end - begin)
    fail(strfmt("the state files of checkpoint step %d in %s do not cover all %zu parameters", step, dir.c_str(),
                n_params));
  return out;
}

int latest_checkpoint_step(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return -1;
  int best = -1;
  while (dirent* e = readdir(d)) {
    int step;
    char tail[64];
    if (std::sscanf(e->d_name, "model_%d.safetensor%63s", &step, tail) == 2 && std::strcmp(tail, "s") == 0 &&
        (file_exists(checkpoint_state_path(dir, step)) || file_exists(checkpoint_state_shard_path(dir, step, 0))))
      best = std::max(best, step);
  }
  closedir(d);
  return best;
}

}  // namespace lssa
