// Checkpoints: safetensors round trip with the metadata contract, the state file, latest-step
// discovery (temp files ignored), and one clear error per malformed file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>

#include <cstdio>
#include <fstream>

#include "model/checkpoint.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

using namespace lssa;

namespace {
struct TmpDir {
  std::string path;
  TmpDir() {
    char t[] = "/tmp/lssa_ckpt.XXXXXX";
    path = mkdtemp(t);
  }
  ~TmpDir() { std::system(("rm -rf " + path).c_str()); }
};

GPT2Config cfg_small() {
  GPT2Config c;
  c.L = 2;
  c.NH = 2;
  c.C = 16;
  c.V = 50;
  c.Vp = 128;
  c.T_train = 32;
  c.attn = "sigmoid";
  c.attn_opt.sigmoid_bias = "row";
  c.attn_opt.relu_divisor = "row";
  return c;
}

void expect_error_containing(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}
}  // namespace

TEST(Checkpoint, ModelRoundTripWithConfigInMetadata) {
  TmpDir d;
  GPT2Config c = cfg_small();
  auto p = gpt2_init_params(c, 7);
  save_model(d.path + "/m.safetensors", c, p, 123);
  LoadedModel m = load_model(d.path + "/m.safetensors");
  EXPECT_EQ(m.params, p);
  EXPECT_EQ(m.step, 123);
  EXPECT_EQ(m.cfg.L, 2);
  EXPECT_EQ(m.cfg.Vp, 128);
  EXPECT_EQ(m.cfg.T_train, 32);
  EXPECT_EQ(m.cfg.attn, "sigmoid");
  EXPECT_EQ(m.cfg.attn_opt.sigmoid_bias, "row");
  EXPECT_EQ(m.cfg.attn_opt.relu_divisor, "row");
  // any safetensors reader sees HF-style names and PyTorch Linear layouts
  SafeTensorsFile f = safetensors_read(d.path + "/m.safetensors");
  EXPECT_EQ(f.at("h.1.attn.c_attn.weight").shape, (std::vector<int64_t>{48, 16}));
  EXPECT_EQ(f.at("h.0.mlp.c_proj.weight").shape, (std::vector<int64_t>{16, 64}));
  EXPECT_EQ(f.at("wte").shape, (std::vector<int64_t>{128, 16}));
  EXPECT_FALSE(f.has("lm_head.weight"));
  EXPECT_FALSE(f.has("wpe"));
  EXPECT_EQ(f.meta("format"), "lssa-gpt2");
}

// The baselines' options (not in the paper) are recorded; checkpoints written before them (no
// such metadata) load with the defaults, and a malformed value is one clear error.
TEST(Checkpoint, BaselineScaleOptionsRoundTripAndDefault) {
  TmpDir d;
  GPT2Config c = cfg_small();
  c.attn = "softmax_qknorm";
  c.attn_opt.ssmax_scale = 0.25f;
  c.attn_opt.qknorm_scale = "3.5";
  auto p = gpt2_init_params(c, 7);
  const std::string path = d.path + "/m.safetensors";
  save_model(path, c, p, 5);
  LoadedModel m = load_model(path);
  EXPECT_EQ(m.cfg.attn, "softmax_qknorm");
  EXPECT_EQ(m.cfg.attn_opt.ssmax_scale, 0.25f);
  EXPECT_EQ(m.cfg.attn_opt.qknorm_scale, "3.5");
  EXPECT_EQ(m.cfg.attn_spec().scale_value, 3.5);
  SafeTensorsFile f = safetensors_read(path);
  f.metadata.erase("ssmax_scale");
  f.metadata.erase("qknorm_scale");
  safetensors_write(path, f);
  m = load_model(path);
  EXPECT_EQ(m.cfg.attn_opt.ssmax_scale, 1.f);
  EXPECT_EQ(m.cfg.attn_opt.qknorm_scale, "train");
  f.metadata["ssmax_scale"] = "abc";
  safetensors_write(path, f);
  expect_error_containing([&] { load_model(path); }, "ssmax_scale");
  f.metadata["ssmax_scale"] = "1";
  f.metadata["qknorm_scale"] = "-1";
  safetensors_write(path, f);
  expect_error_containing([&] { load_model(path); }, "--qknorm-scale");
}

TEST(Checkpoint, StateRoundTripAndLatestStep) {
  TmpDir d;
  GPT2Config c = cfg_small();
  auto p = gpt2_init_params(c, 7);
  TrainState st;
  st.step = 20;
  st.loader = {3, 1, 17};
  st.seed = 99;
  st.fingerprint = "{\"a\":1}";
  st.m.assign(p.size(), 0.5f);
  st.v.assign(p.size(), 0.25f);
  for (int s : {10, 20}) {
    save_state(checkpoint_state_path(d.path, s), st);
    save_model(checkpoint_model_path(d.path, s), c, p, s);
  }
  save_model(checkpoint_model_path(d.path, 30), c, p, 30);  // no state beside it: not complete
  std::ofstream(d.path + "/model_00000040.safetensors.tmp.123") << "partial";
  EXPECT_EQ(latest_checkpoint_step(d.path), 20);
  EXPECT_EQ(load_model(d.path).step, 20);
  TrainState r = load_state(checkpoint_state_path(d.path, 20), p.size());
  EXPECT_EQ(r.step, 20);
  EXPECT_EQ(r.loader.epoch, 3u);
  EXPECT_EQ(r.loader.shard_pos, 1u);
  EXPECT_EQ(r.loader.window_pos, 17u);
  EXPECT_EQ(r.seed, 99u);
  EXPECT_EQ(r.fingerprint, st.fingerprint);
  EXPECT_EQ(r.m, st.m);
  EXPECT_EQ(r.v, st.v);
  expect_error_containing([&] { load_state(checkpoint_state_path(d.path, 20), p.size() + 1); }, "parameters");
}

TEST(Checkpoint, MalformedFilesGiveOneClearError) {
  TmpDir d;
  GPT2Config c = cfg_small();
  auto p = gpt2_init_params(c, 7);
  const std::string good = d.path + "/good.safetensors";
  save_model(good, c, p, 1);
  auto bytes = read_file(good);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& b) {
    std::string path = d.path + "/" + name;
    std::ofstream(path, std::ios::binary).write((const char*)b.data(), b.size());
    return path;
  };
  expect_error_containing([&] { load_model(d.path + "/missing.safetensors"); }, "does not exist");
  expect_error_containing([&] { load_model(write("trunc.safetensors", {bytes.begin(), bytes.begin() + bytes.size() / 2})); },
                          "truncated");
  expect_error_containing([&] { load_model(write("short.safetensors", {bytes.begin(), bytes.begin() + 4})); }, "safetensors");
  std::vector<uint8_t> junk(bytes);
  junk[8] = '!';
  expect_error_containing([&] { load_model(write("junk.safetensors", junk)); }, "JSON");
  // a valid safetensors file that is not one of ours
  SafeTensorsFile other;
  float one = 1.f;
  other.tensors["x"] = make_tensor_f32({1}, &one);
  safetensors_write(d.path + "/other.safetensors", other);
  expect_error_containing([&] { load_model(d.path + "/other.safetensors"); }, "not an lssa-gpt2 checkpoint");
  // metadata that disagrees with the tensors (a checkpoint from a different config)
  SafeTensorsFile f = safetensors_read(good);
  f.metadata["n_embd"] = "32";
  f.metadata["n_head"] = "4";
  safetensors_write(d.path + "/wrongcfg.safetensors", f);
  expect_error_containing([&] { load_model(d.path + "/wrongcfg.safetensors"); }, "wrong shape");
  f = safetensors_read(good);
  f.metadata["attn"] = "nosuch";
  safetensors_write(d.path + "/wrongattn.safetensors", f);
  expect_error_containing([&] { load_model(d.path + "/wrongattn.safetensors"); }, "unknown attention variant");
  f = safetensors_read(good);
  f.tensors.erase("ln_f.bias");
  safetensors_write(d.path + "/missingtensor.safetensors", f);
  expect_error_containing([&] { load_model(d.path + "/missingtensor.safetensors"); }, "ln_f.bias");
  // state files
  std::vector<uint8_t> st(16, 0);
  expect_error_containing([&] { load_state(write("bad.bin", st), p.size()); }, "bad magic");
}

TEST(Checkpoint, AtomicWriteKeepsTheOldFileUntilCommit) {
  TmpDir d;
  const std::string path = d.path + "/f.bin";
  write_file_atomic(path, "old", 3);
  {
    AtomicFile f(path);
    f.write("new content", 11);
    EXPECT_EQ(read_file(path).size(), 3u);  // not yet visible
  }  // destroyed without commit: the temp file is removed, the old file stays
  EXPECT_EQ(read_file(path).size(), 3u);
  EXPECT_EQ(glob_files(d.path + "/*").size(), 1u);
}
