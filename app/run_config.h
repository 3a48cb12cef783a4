// Run configurations of the two programs, parsed by CLI11 (command line and/or `--config FILE`,
// CLI11's TOML/INI format with the same option names), validated in ONE place, printed at start
// and saved next to the checkpoints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/gpt2_config.h"

namespace CLI {
class App;
}

namespace lssa {

struct RunConfig {
  // model
  std::string model = "d12";      // preset (gpt2_preset)
  int layers = 0, heads = 0, channels = 0;  // 0 = the preset's
  std::string tokenizer;          // gpt2 | bytes; empty = the training shards' (set by train_gpt2 before validate)
  int vocab_size = 0;             // V (Vp = padded to 128); 0 = the tokenizer's: 50257 (gpt2), 257 (bytes)
  int seq_len = 0;                // T (training length); 0 = the preset's
  float rope_base = 10000.f;
  // attention
  std::string attn = "softmax";   // registry name, or "list"
  float reweight_p = 0.f;         // 0 = off
  std::string sigmoid_bias = "train";
  std::string relu_divisor = "seq";
  float ssmax_scale = 1.f;           // ssmax's s (not in the paper)
  std::string qknorm_scale = "train";  // softmax_qknorm's τ: train (log2(T² − T)) | NUMBER (not in the paper)
  std::string attn_impl = "auto";  // auto | fused | reference (attention/attention.h)
  // optimisation (DESIGN §6 defaults: llm.c's 124M recipe)
  int batch = 16;                 // micro-batch B per process
  int64_t total_batch = 524288;   // tokens per optimizer step (gradient accumulation)
  int steps = 18865;
  float lr = 6e-4f;
  int warmup = 700;
  float final_lr_frac = 0.0f;     // cosine decays to lr·final_lr_frac
  float weight_decay = 0.1f;
  float grad_clip = 1.0f;
  float beta1 = 0.9f, beta2 = 0.95f, adam_eps = 1e-8f;
  uint64_t seed = 1337;
  // data
  std::string train_data;         // glob(s), comma-separated
  std::string val_data;           // glob(s); empty = no validation
  int val_every = 250;
  int64_t val_tokens = 1048576;
  // output
  std::string out;                // run directory; empty = no checkpoints / logs
  int ckpt_every = 0;             // 0 = only at the end
  bool resume = false;
  // runtime
  std::string device = "auto";    // auto | cpu | cuda
  int threads = 0;                // 0 = OpenMP's default
  float peak_tflops = 0.f;        // 0 = from the GPU table (unknown GPU: no MFU)
  // data parallelism (runtime/comm.h; the launch decides the world size)
  int zero = 0;                   // ZeRO stage: 0 = replicated optimizer state, 1 = sharded
  bool check_replicas = false;    // compare a parameter checksum across ranks after every step
  // text samples during training (model/sampler.h; rank 0 only, never touches the training RNG)
  int sample_every = 0;           // print a continuation every N steps and at the end (0 = off)
  int sample_tokens = 32;         // tokens generated per sample
  int sample_top_k = 1;           // 1 = greedy; K > 1 = top-K (0 = all) at temperature 1, seeded by --seed and the step
  std::string sample_prompt;      // prompt text (encoded with --tokenizer); empty = the start of the first val window
  std::string tokenizer_dir;      // empty = ${LSSA_DATA_DIR:-<repo>/.cache/data}/tokenizer when present

  // Derived by validate():
  GPT2Config gpt;                 // the model config
  int grad_accum = 1;             // micro-batches per step
};

struct EvalConfig {
  std::string ckpt;                      // file or run directory
  std::string data;                      // glob(s)
  std::string lens;                      // e.g. "1024,2048"; empty = 1,2,4,8,16 × T_train
  std::string reweight_p;                // e.g. "0,15"; empty = the checkpoint's p
  std::string rope_scaling = "ntk";      // ntk | none | dynamic | yarn (model/rope.h)
  std::string attn;                      // override the checkpoint's variant
  std::string attn_impl = "auto";        // auto | fused | reference (attention/attention.h)
  int64_t tokens = 65536;                // evaluation budget per length (≥ one window)
  std::string json;                      // write records here
  std::string device = "auto";
  int threads = 0;
  // generation (model/sampler.h; the checkpoint's tokenizer encodes the prompt: bytes, or GPT-2's files)
  std::string prompt;                    // generate a continuation of this text instead of evaluating
  int max_new_tokens = 64;               // tokens to generate
  int top_k = 40;                        // 1 = greedy; 0 = the whole vocabulary
  float temperature = 1.0f;              // 0 = greedy
  uint64_t seed = 1337;                  // seed of the sampling RNG
  std::string tokenizer_dir;             // empty = ${LSSA_DATA_DIR:-<repo>/.cache/data}/tokenizer
  // memory plan (no GPU, no data needed)
  bool plan = false;                     // print the forward-only GPU memory plan of each --len, exit
  std::string model;                     // --plan without --ckpt: a model preset (d12, ...)
  // evaluation tasks (eval/): the mean loss (with --data), or passkey retrieval (offline)
  std::string task = "loss";             // loss | passkey
  bool per_position = false;             // loss: also the mean loss per log-scale position bucket
  bool attn_stats = false;               // loss: also attention entropy / sink / max per layer and position bucket
  bool attn_stats_heads = false;         // with attn_stats: also per head (JSON)
  std::string passkey_depths = "0,25,50,75,100";  // passkey: needle depths in percent of the filler
  int passkey_keys = 20;                 // passkey: keys (trials) per (length, depth, p) cell; seeded by --seed
};

// Parses argv; returns -1 to go on, or the exit code: 0 after --help, 2 after a parse error
// (printed as ONE line "error: ..."). A repeated option takes its last value (flags after --config win).
int parse_command_line(CLI::App& app, int argc, char** argv);
// Registers every option on the app (so --help and the parser agree by construction).
void add_train_options(CLI::App& app, RunConfig& rc);
void add_eval_options(CLI::App& app, EvalConfig& ec);
// Validates and derives; throws Error with one line naming the offending option.
void validate(RunConfig& rc, int world_size = 1);
void validate(EvalConfig& ec);
// Human-readable summary printed at start.
std::string describe(const RunConfig& rc);
// Parses a comma-separated list of positive ints / non-negative floats; throws Error naming `what`.
std::vector<int> parse_int_list(const std::string& s, const char* what);
std::vector<float> parse_float_list(const std::string& s, const char* what);
// Parses a comma-separated list of numbers in [0, 100]; throws Error naming `what`.
std::vector<double> parse_percent_list(const std::string& s, const char* what);

}  // namespace lssa
