// Checkpoints.
//
// model_<step>.safetensors — the model, readable by any safetensors reader: fp32 tensors named as
//   in param_layout() (HF GPT-2 names, PyTorch Linear layout; no wpe, no lm_head: tied), and the
//   whole model + attention config in the metadata (all strings):
//     format=lssa-gpt2, format_version=1, n_layer, n_head, n_embd, vocab_size, padded_vocab_size,
//     tokenizer (gpt2 | bytes; absent in older checkpoints = gpt2), seq_len (T_train), rope_base, attn, reweight_p, sigmoid_bias, relu_divisor,
//     ssmax_scale, qknorm_scale (absent in older checkpoints = 1, train), step.
// state_<step>.bin — what --resume needs beyond the model: AdamW moments, the data loader
//   position, the step, and the run's config fingerprint. Layout: "LSSASTAT" (8 bytes), uint64
//   JSON length, the JSON, then m and v as fp32 (counts in the JSON).
// state_<step>.rank<r>.bin — ZeRO-1 with W > 1 ranks: rank r's shard of the AdamW state instead
//   of state_<step>.bin; the same format, m and v of elements [begin, end) of the flat layout
//   only, and the JSON adds "shard": [begin, end] and "world": W.
// All are written atomically (temp + fsync + rename); the state file(s) first (every rank, then
// a barrier), so a model file always has its state beside it. The latest checkpoint of a
// directory is the highest step with the model and state_<step>.bin or state_<step>.rank0.bin.
// Resuming with another world size (or with/without ZeRO-1) re-shards: load_state_range() reads
// whichever files cover the range this rank now owns.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/loader.h"
#include "model/gpt2_config.h"

namespace lssa {

struct TrainState {
  int step = 0;                      // optimizer steps completed
  TrainLoader::State loader;         // data position after `step` steps
  uint64_t seed = 0;                 // the run's seed (the loader order depends on it)
  std::string fingerprint;           // run settings that must match on resume (see train_gpt2.cu)
  std::vector<float> m, v;           // AdamW moments
};

std::string checkpoint_model_path(const std::string& dir, int step);
std::string checkpoint_state_path(const std::string& dir, int step);
std::string checkpoint_state_shard_path(const std::string& dir, int step, int rank);

struct SafeTensorsFile;
// The model config from a checkpoint's metadata (keys above); throws Error on a missing/bad key.
GPT2Config config_from_metadata(const SafeTensorsFile& f);

void save_model(const std::string& path, const GPT2Config& cfg, const std::vector<float>& params, int step);
// Reads a model checkpoint: config from the metadata, parameters validated by name and shape.
// `path` may be a file or a run directory (its latest checkpoint). Throws Error (one line).
struct LoadedModel {
  GPT2Config cfg;
  std::vector<float> params;
  int step = 0;
  std::string path;
};
LoadedModel load_model(const std::string& path);

void save_state(const std::string& path, const TrainState& st);
TrainState load_state(const std::string& path, size_t expect_params);
// ZeRO-1: st.m/st.v hold elements [begin, end) of n_params, written by rank r of `world`.
void save_state_shard(const std::string& path, const TrainState& st, size_t n_params, size_t begin, size_t end,
                      int world);
// The state for elements [begin, end) of n_params from the checkpoint `step` in dir, written by a
// run of any world size, with or without ZeRO-1 (re-sharding). Throws Error naming a missing or
// inconsistent file.
TrainState load_state_range(const std::string& dir, int step, size_t n_params, size_t begin, size_t end);

// Highest step in `dir` with both files present; -1 when none.
int latest_checkpoint_step(const std::string& dir);

}  // namespace lssa
