#include "app/run_config.h"

#include <CLI/CLI.hpp>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>

#include "attention/registry.h"
#include "runtime/error.h"

namespace lssa {

int parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see --help)\n", e.what());
    return 2;
  }
  return -1;
}

// A config file is read strictly: a key the program does not know (a typo such as
// `atn = "lssa"`), a key given twice, or a list where an option takes one value fails with one
// line instead of silently running something else (CLI11 alone takes the last value of a key and
// of a list).
namespace {
class StrictToml : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    // duplicates first, on the text: CLI11 merges a repeated key into one item with two values
    const std::string text(std::istreambuf_iterator<char>(input), {});
    std::set<std::string> seen;
    std::istringstream lines(text);
    std::string line, section;
    while (std::getline(lines, line)) {
      const size_t a = line.find_first_not_of(" \t");
      if (a == std::string::npos || line[a] == '#' || line[a] == ';') continue;
      if (line[a] == '[') {
        section = line.substr(a, line.find(']', a) - a);
        continue;
      }
      const size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string key = line.substr(a, eq - a);
      key.erase(key.find_last_not_of(" \t") + 1);
      if (key.empty() || key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.\"'") !=
                             std::string::npos)
        continue;  // a continuation line of a multi-line value, not a key
      if (!seen.insert(section + "/" + key).second) fail(strfmt("config file: key '%s' is given twice", key.c_str()));
    }
    std::istringstream again(text);
    std::vector<CLI::ConfigItem> items = CLI::ConfigTOML::from_config(again);
    for (const CLI::ConfigItem& it : items) {
      if (it.name == "++" || it.name == "--") continue;  // section markers
      const std::string key = it.fullname();
      if (it.inputs.size() != 1)
        fail(strfmt("config file: key '%s' has %s; every option takes one value (several data globs go in one "
                    "comma-separated string)", key.c_str(), it.inputs.empty() ? "no value" : "a list value"));
    }
    return items;
  }
};
}  // namespace

static void strict_config(CLI::App& app) {
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.config_formatter(std::make_shared<StrictToml>());
}

void add_train_options(CLI::App& app, RunConfig& rc) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  strict_config(app);
  app.set_config("--config", "", "read options from a TOML/INI file (same names, without --)");
  app.add_option("--model", rc.model, "model preset: " + gpt2_preset_names())->capture_default_str();
  app.add_option("--layers", rc.layers, "override the preset's number of layers L");
  app.add_option("--heads", rc.heads, "override the preset's number of heads NH");
  app.add_option("--channels", rc.channels, "override the preset's channels C");
  app.add_option("--tokenizer", rc.tokenizer,
                 "gpt2 | bytes: what the token ids are (recorded in the checkpoint; default: the training shards' header)");
  app.add_option("--vocab-size", rc.vocab_size, "vocabulary size V (padded to a multiple of 128; 0 = the tokenizer's)")
      ->capture_default_str();
  app.add_option("--seq-len", rc.seq_len, "training sequence length T (default: the preset's)");
  app.add_option("--rope-base", rc.rope_base, "RoPE base")->capture_default_str();
  app.add_option("--attn", rc.attn, "attention variant; 'list' prints all of them")->capture_default_str();
  app.add_option("--reweight-p", rc.reweight_p, "re-weighting exponent p (0 = off, >= 1)")->capture_default_str();
  app.add_option("--sigmoid-bias", rc.sigmoid_bias, "bias of 'sigmoid': train (-ln T_train) | row (-ln n_i) | NUMBER")
      ->capture_default_str();
  app.add_option("--relu-divisor", rc.relu_divisor, "divisor of 'relu_seqlen': seq (T) | row (n_i)")->capture_default_str();
  app.add_option("--ssmax-scale", rc.ssmax_scale, "s of 'ssmax' (scores times s ln n_i; fixed, > 0)")->capture_default_str();
  app.add_option("--qknorm-scale", rc.qknorm_scale,
                 "temperature of 'softmax_qknorm': train (log2(T_train^2 - T_train)) | NUMBER > 0")
      ->capture_default_str();
  app.add_option("--attn-impl", rc.attn_impl, "attention implementation: auto (fused where supported) | fused | reference")
      ->capture_default_str();
  app.add_option("--batch", rc.batch, "micro-batch size B per process")->capture_default_str();
  app.add_option("--total-batch", rc.total_batch, "tokens per optimizer step (gradient accumulation)")->capture_default_str();
  app.add_option("--steps", rc.steps, "optimizer steps")->capture_default_str();
  app.add_option("--lr", rc.lr, "peak learning rate")->capture_default_str();
  app.add_option("--warmup", rc.warmup, "linear warmup steps")->capture_default_str();
  app.add_option("--final-lr-frac", rc.final_lr_frac, "cosine decays to lr * this")->capture_default_str();
  app.add_option("--weight-decay", rc.weight_decay, "AdamW weight decay (2-D weights only)")->capture_default_str();
  app.add_option("--grad-clip", rc.grad_clip, "clip the global gradient norm to this (0 = off)")->capture_default_str();
  app.add_option("--beta1", rc.beta1, "AdamW beta1")->capture_default_str();
  app.add_option("--beta2", rc.beta2, "AdamW beta2")->capture_default_str();
  app.add_option("--adam-eps", rc.adam_eps, "AdamW epsilon")->capture_default_str();
  app.add_option("--seed", rc.seed, "seed of the initialisation and the data order")->capture_default_str();
  app.add_option("--train-data", rc.train_data, "training shards (glob; several comma-separated)");
  app.add_option("--val-data", rc.val_data, "validation shards (glob)");
  app.add_option("--val-every", rc.val_every, "validate every N steps (0 = only at the end)")->capture_default_str();
  app.add_option("--val-tokens", rc.val_tokens, "validation budget in tokens")->capture_default_str();
  app.add_option("--out", rc.out, "run directory: checkpoints, log.jsonl, config.toml");
  app.add_option("--ckpt-every", rc.ckpt_every, "checkpoint every N steps (0 = only at the end)")->capture_default_str();
  app.add_flag("--resume", rc.resume, "continue from the latest checkpoint in --out (bit-exact)");
  app.add_option("--device", rc.device, "auto | cpu | cuda")->capture_default_str();
  app.add_option("--threads", rc.threads, "CPU threads (0 = OpenMP default)")->capture_default_str();
  app.add_option("--peak-tflops", rc.peak_tflops, "GPU peak TFLOP/s for MFU (0 = from the built-in table)");
  app.add_option("--zero", rc.zero, "ZeRO stage for data parallelism: 0 (replicated optimizer state) or 1 (sharded)")
      ->capture_default_str();
  app.add_flag("--check-replicas", rc.check_replicas,
               "data parallelism: after every step, check that all ranks hold identical parameters");
  app.add_option("--sample-every", rc.sample_every, "print a generated continuation every N steps and at the end (0 = off)")
      ->capture_default_str();
  app.add_option("--sample-tokens", rc.sample_tokens, "tokens generated per sample")->capture_default_str();
  app.add_option("--sample-top-k", rc.sample_top_k, "sampling: 1 = greedy, K > 1 = top-K, 0 = all tokens (seeded by --seed and the step)")
      ->capture_default_str();
  app.add_option("--sample-prompt", rc.sample_prompt, "prompt text of the samples (default: the start of the first validation window)");
  app.add_option("--tokenizer-dir", rc.tokenizer_dir,
                 "folder with GPT-2's encoder.json + vocab.bpe (default: $LSSA_DATA_DIR/tokenizer if present; else samples print token ids)");
}

void add_eval_options(CLI::App& app, EvalConfig& ec) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  strict_config(app);
  app.set_config("--config", "", "read options from a TOML/INI file (same names, without --)");
  app.add_option("--ckpt", ec.ckpt, "checkpoint file, or run directory (its latest checkpoint)");
  app.add_option("--data", ec.data, "evaluation shards (glob; several comma-separated)");
  app.add_option("--len", ec.lens, "evaluation lengths, comma-separated (default: 1,2,4,8,16 x T_train)");
  app.add_option("--reweight-p", ec.reweight_p, "re-weighting exponents, comma-separated (default: the checkpoint's, 0 unless trained with one)");
  app.add_option("--rope-scaling", ec.rope_scaling, "RoPE scaling beyond T_train: ntk | none | dynamic | yarn")->capture_default_str();
  app.add_option("--attn", ec.attn, "override the checkpoint's attention variant (and its default p: lssar = 15)");
  app.add_option("--attn-impl", ec.attn_impl, "attention implementation: auto (fused where supported) | fused | reference")
      ->capture_default_str();
  app.add_option("--tokens", ec.tokens, "evaluation budget per length, in tokens (at least one window)")->capture_default_str();
  app.add_option("--json", ec.json, "write the results as a JSON list of records");
  app.add_option("--device", ec.device, "auto | cpu | cuda")->capture_default_str();
  app.add_option("--threads", ec.threads, "CPU threads (0 = OpenMP default)")->capture_default_str();
  app.add_option("--prompt", ec.prompt, "generate a continuation of this text instead of evaluating (the checkpoint's tokenizer)");
  app.add_option("--max-new-tokens", ec.max_new_tokens, "--prompt: tokens to generate")->capture_default_str();
  app.add_option("--top-k", ec.top_k, "--prompt: sample from the K most likely tokens (1 = greedy, 0 = all)")->capture_default_str();
  app.add_option("--temperature", ec.temperature, "--prompt: divides the logits (0 = greedy)")->capture_default_str();
  app.add_option("--seed", ec.seed, "--prompt: seed of the sampling; --task passkey: seed of the keys")->capture_default_str();
  app.add_option("--tokenizer-dir", ec.tokenizer_dir, "folder with GPT-2's encoder.json + vocab.bpe (default: $LSSA_DATA_DIR/tokenizer)");
  app.add_flag("--plan", ec.plan, "print the GPU memory a forward-only evaluation of each --len plans (B = 1), then exit");
  app.add_option("--model", ec.model, "--plan without --ckpt: the model preset to plan for (d12 = 124M, ...)");
  app.add_option("--task", ec.task, "loss (mean loss on --data) | passkey (retrieval of a 5-digit key, no data needed)")->capture_default_str();
  app.add_flag("--per-position", ec.per_position, "loss: also the mean loss per position bucket (1..T_train on a log scale, then each doubling)");
  app.add_flag("--attn-stats", ec.attn_stats,
               "loss: also each layer's attention row entropy, first-token (sink) and largest weight per position bucket, "
               "with and without re-weighting when p > 0 (docs/evaluation.md; GPU: runs the reference attention)");
  app.add_flag("--attn-stats-heads", ec.attn_stats_heads, "with --attn-stats: also per head (in the --json records)");
  app.add_option("--passkey-depths", ec.passkey_depths, "passkey: depths of the key in the filler, in percent, comma-separated")->capture_default_str();
  app.add_option("--passkey-keys", ec.passkey_keys, "passkey: keys (trials) per (length, depth, p) cell")->capture_default_str();
}

static void check_device(const std::string& d) {
  if (d != "auto" && d != "cpu" && d != "cuda") fail(strfmt("--device must be auto, cpu or cuda, got '%s'", d.c_str()));
}

void validate(RunConfig& rc, int world) {
  if (rc.attn == "list") return;
  GPT2Config& g = rc.gpt;
  if (!gpt2_preset(rc.model, g)) fail(strfmt("unknown --model '%s' (presets: %s)", rc.model.c_str(), gpt2_preset_names().c_str()));
  if (rc.layers < 0 || rc.heads < 0 || rc.channels < 0) fail("--layers, --heads and --channels must be positive");
  if (rc.layers) g.L = rc.layers;
  if (rc.heads) g.NH = rc.heads;
  if (rc.channels) g.C = rc.channels;
  if (rc.seq_len < 0) fail(strfmt("--seq-len must be positive, got %d", rc.seq_len));
  if (rc.seq_len) g.T_train = rc.seq_len;
  if (g.C % g.NH) fail(strfmt("--channels %d is not a multiple of --heads %d", g.C, g.NH));
  if (g.HS() % 2) fail(strfmt("head size %d must be even (RoPE rotates pairs)", g.HS()));
  if (rc.tokenizer.empty()) rc.tokenizer = "gpt2";
  if (rc.tokenizer != "gpt2" && rc.tokenizer != "bytes")
    fail(strfmt("--tokenizer must be gpt2 or bytes, got '%s'", rc.tokenizer.c_str()));
  // the tokenizers' V, as data/tokenizer.h and data/byte_tokenizer.h define them (this file does not
  // include data/; test/data/byte_tokenizer_test.cpp checks that the numbers agree)
  if (rc.vocab_size == 0) rc.vocab_size = rc.tokenizer == "bytes" ? 257 : 50257;
  if (rc.vocab_size < 2 || rc.vocab_size > 65536) fail(strfmt("--vocab-size must be in [2, 65536], got %d", rc.vocab_size));
  g.V = rc.vocab_size;
  g.tokenizer = rc.tokenizer;
  g.Vp = padded_vocab(g.V);
  if (!(rc.rope_base > 1.f) || !std::isfinite(rc.rope_base))
    fail(strfmt("--rope-base must be a finite number > 1, got %g", rc.rope_base));
  g.rope_base = rc.rope_base;
  // --reweight-p 0 (the default) means "not given": the variant's default p (lssar: 15)
  const AttnChoice choice = attn_choose(rc.attn, rc.reweight_p != 0.f, rc.reweight_p);
  g.attn = choice.name;
  g.attn_opt.sigmoid_bias = rc.sigmoid_bias;
  g.attn_opt.relu_divisor = rc.relu_divisor;
  g.attn_opt.ssmax_scale = rc.ssmax_scale;
  g.attn_opt.qknorm_scale = rc.qknorm_scale;
  g.attn_opt.reweight_p = choice.reweight_p;
  (void)g.attn_spec();  // throws on bad options
  g.attn_impl = attn_impl_choice_from_name(rc.attn_impl);
  if (rc.batch <= 0) fail(strfmt("--batch must be positive, got %d", rc.batch));
  if (rc.steps <= 0) fail(strfmt("--steps must be positive, got %d", rc.steps));
  const int64_t per_step = (int64_t)rc.batch * g.T_train * world;
  if (rc.total_batch <= 0 || rc.total_batch % per_step)
    fail(strfmt("--total-batch %lld is not a positive multiple of batch x seq-len x processes = %d x %d x %d = %lld",
                (long long)rc.total_batch, rc.batch, g.T_train, world, (long long)per_step));
  rc.grad_accum = (int)(rc.total_batch / per_step);
  // every float setting is checked for finiteness too: NaN fails every comparison, so a check
  // written as `x < 0` would let it through (and --grad-clip nan would silently turn clipping off)
  auto finite_in = [](float x, float lo, float hi) { return std::isfinite(x) && x >= lo && x <= hi; };
  if (!(rc.lr > 0.f) || !std::isfinite(rc.lr)) fail(strfmt("--lr must be a finite number > 0, got %g", rc.lr));
  if (rc.warmup < 0) fail("--warmup must be >= 0");
  if (!finite_in(rc.final_lr_frac, 0.f, 1.f)) fail(strfmt("--final-lr-frac must be in [0, 1], got %g", rc.final_lr_frac));
  if (!finite_in(rc.weight_decay, 0.f, FLT_MAX))
    fail(strfmt("--weight-decay must be a finite number >= 0, got %g", rc.weight_decay));
  if (!finite_in(rc.grad_clip, 0.f, FLT_MAX))
    fail(strfmt("--grad-clip must be a finite number >= 0 (0 = off), got %g", rc.grad_clip));
  if (!(rc.beta1 >= 0.f && rc.beta1 < 1.f && rc.beta2 >= 0.f && rc.beta2 < 1.f))
    fail(strfmt("--beta1/--beta2 must be in [0, 1), got %g/%g", rc.beta1, rc.beta2));
  if (!(rc.adam_eps > 0.f) || !std::isfinite(rc.adam_eps))
    fail(strfmt("--adam-eps must be a finite number > 0, got %g", rc.adam_eps));
  if (!(rc.peak_tflops >= 0) || !std::isfinite(rc.peak_tflops))
    fail(strfmt("--peak-tflops must be a finite number >= 0, got %g", (double)rc.peak_tflops));
  if (rc.train_data.empty()) fail("--train-data is required (llm.c token shards; scripts/setup.sh makes some)");
  if (rc.val_every < 0 || rc.val_tokens <= 0) fail("--val-every must be >= 0 and --val-tokens positive");
  if (rc.ckpt_every < 0) fail("--ckpt-every must be >= 0");
  if (rc.resume && rc.out.empty()) fail("--resume needs --out (the run directory to continue)");
  if (rc.threads < 0) fail("--threads must be >= 0");
  if (rc.zero != 0 && rc.zero != 1) fail(strfmt("--zero must be 0 or 1, got %d", rc.zero));
  if (rc.sample_every < 0) fail(strfmt("--sample-every must be >= 0, got %d", rc.sample_every));
  if (rc.sample_tokens <= 0) fail(strfmt("--sample-tokens must be positive, got %d", rc.sample_tokens));
  if (rc.sample_top_k < 0) fail(strfmt("--sample-top-k must be >= 0, got %d", rc.sample_top_k));
  check_device(rc.device);
}

std::vector<int> parse_int_list(const std::string& s, const char* what) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v <= 0 || v > (1 << 24))
      fail(strfmt("%s: '%s' is not a positive integer", what, item.c_str()));
    out.push_back((int)v);
  }
  if (out.empty()) fail(strfmt("%s: empty list", what));
  return out;
}

std::vector<double> parse_percent_list(const std::string& s, const char* what) {
  std::vector<double> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end || !(v >= 0.0 && v <= 100.0))
      fail(strfmt("%s: '%s' is not a percentage in [0, 100]", what, item.c_str()));
    out.push_back(v);
  }
  if (out.empty()) fail(strfmt("%s: empty list", what));
  return out;
}

std::vector<float> parse_float_list(const std::string& s, const char* what) {
  std::vector<float> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end || !std::isfinite(v) || !(v == 0.f || v >= 1.f))
      fail(strfmt("%s: '%s' must be 0 (off) or a number >= 1", what, item.c_str()));
    out.push_back(v);
  }
  if (out.empty()) fail(strfmt("%s: empty list", what));
  return out;
}

void validate(EvalConfig& ec) {
  if (ec.plan) {
    if (ec.ckpt.empty() == ec.model.empty()) fail("--plan needs a model: --ckpt or --model (one of them)");
    if (!ec.lens.empty()) parse_int_list(ec.lens, "--len");
    if (!ec.attn.empty()) attn_canonical_name(ec.attn);
    return;
  }
  if (!ec.model.empty()) fail("--model is for --plan only (evaluation takes the model from --ckpt)");
  if (ec.ckpt.empty()) fail("--ckpt is required (a checkpoint file or a run directory)");
  if (ec.task != "loss" && ec.task != "passkey") fail(strfmt("--task must be loss or passkey, got '%s'", ec.task.c_str()));
  if (ec.task == "passkey") {
    if (!ec.prompt.empty()) fail("--prompt generates text and --task passkey runs the passkey task: give one of them");
    if (ec.per_position) fail("--per-position applies to --task loss");
    if (ec.attn_stats) fail("--attn-stats applies to --task loss");
    if (ec.passkey_keys < 1) fail(strfmt("--passkey-keys must be positive, got %d", ec.passkey_keys));
    parse_percent_list(ec.passkey_depths, "--passkey-depths");
  } else {
    if (ec.data.empty() && ec.prompt.empty())
      fail("--data is required (token shards to evaluate on), or --prompt to generate, or --task passkey");
    if (!ec.data.empty() && !ec.prompt.empty()) fail("--prompt generates text and --data evaluates: give one of them");
    if (ec.per_position && !ec.prompt.empty()) fail("--per-position applies to the loss evaluation, not to --prompt");
    if (ec.attn_stats && !ec.prompt.empty()) fail("--attn-stats applies to the loss evaluation, not to --prompt");
  }
  if (ec.attn_stats_heads && !ec.attn_stats) fail("--attn-stats-heads needs --attn-stats");
  if (!ec.prompt.empty()) {
    if (ec.max_new_tokens <= 0) fail(strfmt("--max-new-tokens must be positive, got %d", ec.max_new_tokens));
    if (ec.top_k < 0) fail(strfmt("--top-k must be >= 0 (1 = greedy, 0 = all tokens), got %d", ec.top_k));
    if (!(ec.temperature >= 0.f) || !std::isfinite(ec.temperature))
      fail(strfmt("--temperature must be a finite number >= 0 (0 = greedy), got %g", ec.temperature));
    if (!ec.lens.empty() && parse_int_list(ec.lens, "--len").size() != 1)
      fail("--prompt takes one --len: the context window of the generation");
  }
  if (!ec.lens.empty()) parse_int_list(ec.lens, "--len");
  if (!ec.reweight_p.empty()) parse_float_list(ec.reweight_p, "--reweight-p");
  if (ec.rope_scaling != "ntk" && ec.rope_scaling != "none" && ec.rope_scaling != "dynamic" && ec.rope_scaling != "yarn")
    fail(strfmt("--rope-scaling must be ntk, none, dynamic or yarn, got '%s'", ec.rope_scaling.c_str()));
  if (!ec.attn.empty()) attn_canonical_name(ec.attn);
  attn_impl_choice_from_name(ec.attn_impl);
  if (ec.tokens <= 0) fail("--tokens must be positive");
  if (ec.threads < 0) fail("--threads must be >= 0");
  check_device(ec.device);
}

std::string describe(const RunConfig& rc) {
  const GPT2Config& g = rc.gpt;
  std::string s;
  s += strfmt("model     : %s  L=%d NH=%d C=%d HS=%d V=%d (Vp=%d, tokenizer %s) T=%d rope_base=%g\n", rc.model.c_str(), g.L,
              g.NH, g.C, g.HS(), g.V, g.Vp, g.tokenizer.c_str(), g.T_train, g.rope_base);
  // the baselines' score scales (not in the paper) only for the variants that read them
  const AttnSpec spec = g.attn_spec();
  std::string scale;
  if (spec.scale == AttnScale::SsMax) scale = strfmt(" ssmax_scale=%g", g.attn_opt.ssmax_scale);
  if (spec.scale == AttnScale::Constant)
    scale = strfmt(" qknorm_scale=%s (tau=%g)", g.attn_opt.qknorm_scale.c_str(), spec.scale_value);
  s += strfmt("attention : %s  reweight_p=%g sigmoid_bias=%s relu_divisor=%s%s attn_impl=%s\n", g.attn.c_str(),
              g.attn_opt.reweight_p, g.attn_opt.sigmoid_bias.c_str(), g.attn_opt.relu_divisor.c_str(), scale.c_str(),
              attn_impl_choice_name(g.attn_impl));
  s += strfmt("batch     : B=%d T=%d total=%lld tokens/step (grad accum %d)\n", rc.batch, g.T_train,
              (long long)rc.total_batch, rc.grad_accum);
  s += strfmt("optimizer : AdamW lr=%g warmup=%d cosine to %g, wd=%g, clip=%g, betas=(%g,%g), eps=%g, steps=%d, seed=%llu\n",
              rc.lr, rc.warmup, rc.lr * rc.final_lr_frac, rc.weight_decay, rc.grad_clip, rc.beta1, rc.beta2, rc.adam_eps,
              rc.steps, (unsigned long long)rc.seed);
  s += strfmt("data      : train=%s val=%s (every %d steps, %lld tokens)\n", rc.train_data.c_str(),
              rc.val_data.empty() ? "-" : rc.val_data.c_str(), rc.val_every, (long long)rc.val_tokens);
  s += strfmt("output    : %s (checkpoint every %d)%s\n", rc.out.empty() ? "-" : rc.out.c_str(), rc.ckpt_every,
              rc.resume ? " resume" : "");
  return s;
}

}  // namespace lssa
