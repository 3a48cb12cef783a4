// eval_gpt2: the length-extrapolation sweep (DESIGN.md §8).
//
//   ./eval_gpt2 --ckpt runs/lssa --data 'longeval_val_*.bin' --len 1024,2048,16384 --reweight-p 0,15
//
// For each length and each re-weighting p: the mean loss over the same non-overlapping windows
// of that length (the first max(1, --tokens / len) windows of the data, in file order), with the
// RoPE scaling of --rope-scaling beyond the training length. A table on stdout, records in
// --json. The attention variant and T_train come from the checkpoint (--attn overrides).
//
//   ./eval_gpt2 --ckpt runs/lssa --prompt "The meaning of life is" --max-new-tokens 64 [--top-k 40 --seed 1]
//
// generates a continuation instead (model/sampler.h): the prompt and the text on stdout.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "attention/registry.h"
#include "data/loader.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "model/sampler.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/run_config.h"

using namespace lssa;
using Clock = std::chrono::steady_clock;

// --prompt: the forward sees at most the last `window` tokens: T_train, or --len (beyond T_train
// with --rope-scaling). A header on stderr; the prompt and the continuation (streamed) on stdout.
static int generate_text(const EvalConfig& ec, const LoadedModel& lm, GPT2Config cfg, RopeScaling scaling) {
  const int tok_v = tokenizer_vocab_size(cfg.tokenizer);
  if (cfg.V != tok_v)
    fail(strfmt("--prompt needs a model with its tokenizer's vocabulary (%s: V = %d); %s has V = %d", cfg.tokenizer.c_str(),
                tok_v, lm.path.c_str(), cfg.V));
  std::unique_ptr<Tokenizer> tok = open_tokenizer_kind(cfg.tokenizer, ec.tokenizer_dir);
  if (!tok) fail("--prompt needs the GPT-2 tokenizer: none in " + default_tokenizer_dir() +
                 " (run scripts/setup.sh, or pass --tokenizer-dir)");
  if (!ec.reweight_p.empty()) {
    std::vector<float> ps = parse_float_list(ec.reweight_p, "--reweight-p");
    if (ps.size() != 1) fail("--prompt takes one --reweight-p");
    cfg.attn_opt.reweight_p = ps[0];
    attn_resolve(cfg.attn, cfg.attn_opt, cfg.T_train);
  }
  const std::vector<int32_t> ids = tok->encode(ec.prompt);
  const GenerateConfig gc{ec.max_new_tokens, ec.lens.empty() ? cfg.T_train : parse_int_list(ec.lens, "--len")[0],
                          scaling};
  Sampler sampler({ec.top_k, ec.temperature, ec.seed}, cfg.V);
  std::unique_ptr<Gpt2Model> model = make_model(cfg, ec.device, stderr);  // stdout is the text
  model->set_params(lm.params);
  std::fprintf(stderr, "eval_gpt2 | %s (step %d) | attn %s p=%g | %d prompt tokens + %d new, window %d%s | %s\n",
               lm.path.c_str(), lm.step, cfg.attn.c_str(), cfg.attn_opt.reweight_p, (int)ids.size(), gc.max_new_tokens,
               gc.window, gc.window > cfg.T_train ? strfmt(" (rope scaling %s)", rope_scaling_name(scaling)).c_str() : "",
               sampler.greedy() ? "greedy"
                                : strfmt("top-k %d, temperature %g, seed %llu", ec.top_k, ec.temperature,
                                         (unsigned long long)ec.seed).c_str());
  std::fwrite(ec.prompt.data(), 1, ec.prompt.size(), stdout);
  std::fflush(stdout);
  generate(*model, std::vector<int>(ids.begin(), ids.end()), gc, sampler, [&](int t) {
    std::string_view b = tok->decode_token(t);
    std::fwrite(b.data(), 1, b.size(), stdout);
    std::fflush(stdout);
  });
  std::printf("\n");
  return 0;
}

static int run(int argc, char** argv) {
  CLI::App app{"eval_gpt2: validation loss at 1x..16x the training length, with RoPE scaling and re-weighting"};
  EvalConfig ec;
  add_eval_options(app, ec);
  if (int rc = parse_command_line(app, argc, argv); rc >= 0) return rc;
  validate(ec);
  set_cpu_threads(ec.threads);
  LoadedModel lm = load_model(ec.ckpt);
  GPT2Config cfg = lm.cfg;
  if (!ec.attn.empty()) cfg.attn = attn_canonical_name(ec.attn);
  const RopeScaling scaling = rope_scaling_from_name(ec.rope_scaling);
  if (!ec.prompt.empty()) return generate_text(ec, lm, cfg, scaling);
  std::vector<int> lens;
  if (ec.lens.empty())
    for (int k : {1, 2, 4, 8, 16}) lens.push_back(k * cfg.T_train);
  else
    lens = parse_int_list(ec.lens, "--len");
  std::vector<float> ps =
      ec.reweight_p.empty() ? std::vector<float>{cfg.attn_opt.reweight_p} : parse_float_list(ec.reweight_p, "--reweight-p");
  // every (variant, p) must be valid before any work
  for (float p : ps) {
    AttnOptions o = cfg.attn_opt;
    o.reweight_p = p;
    attn_resolve(ec.attn.empty() ? cfg.attn : ec.attn, o, cfg.T_train);
  }
  ShardSet data = ShardSet::open(ec.data, "--data");
  if (std::string kind = tokenizer_kind_of_tag(data.tokenizer_tag, data.files[0]); kind != cfg.tokenizer)
    fail(strfmt("--data holds %s ids (shard header of %s) but %s was trained on %s ids", kind.c_str(),
                data.files[0].c_str(), lm.path.c_str(), cfg.tokenizer.c_str()));

  std::printf("eval_gpt2 | %s (step %d) | L=%d NH=%d C=%d T_train=%d | attn %s | rope scaling %s\n", lm.path.c_str(),
              lm.step, cfg.L, cfg.NH, cfg.C, cfg.T_train, cfg.attn.c_str(), rope_scaling_name(scaling));
  if (std::string n = blas_kernel_note(); !n.empty()) std::printf("note: %s\n", n.c_str());
  nlohmann::json records = nlohmann::json::array();
  std::vector<std::vector<double>> table(lens.size(), std::vector<double>(ps.size()));
  for (size_t pi = 0; pi < ps.size(); pi++) {
    GPT2Config c = cfg;
    c.attn_opt.reweight_p = ps[pi];
    std::unique_ptr<Gpt2Model> model = make_model(c, ec.device);
    model->set_params(lm.params);
    for (size_t li = 0; li < lens.size(); li++) {
      const int len = lens[li];
      auto windows = sequential_windows(data, len, std::max<int64_t>(1, ec.tokens / len));
      std::vector<int> x(len), y(len);
      double sum = 0;
      auto t0 = Clock::now();
      for (const Window& w : windows) {
        read_window(data, w, len, x.data(), y.data());
        sum += model->forward(x.data(), y.data(), 1, len, scaling);
      }
      double loss = sum / windows.size();
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      table[li][pi] = loss;
      std::fprintf(stderr, "  len %6d  p %-4g  loss %.6f  (%zu windows, %.1fs)\n", len, ps[pi], loss, windows.size(), secs);
      records.push_back({{"len", len},
                         {"len_ratio", (double)len / cfg.T_train},
                         {"reweight_p", ps[pi]},
                         {"rope_scaling", rope_scaling_name(scaling)},
                         {"attn", c.attn},
                         {"loss", loss},
                         {"tokens", (int64_t)windows.size() * len},
                         {"windows", windows.size()},
                         {"ckpt", lm.path},
                         {"step", lm.step}});
    }
  }
  std::printf("%8s %6s", "len", "x T");
  for (float p : ps) std::printf("  %12s", strfmt("p=%g", p).c_str());
  std::printf("\n");
  for (size_t li = 0; li < lens.size(); li++) {
    std::printf("%8d %6.2g", lens[li], (double)lens[li] / cfg.T_train);
    for (size_t pi = 0; pi < ps.size(); pi++) std::printf("  %12.6f", table[li][pi]);
    std::printf("\n");
  }
  if (!ec.json.empty()) {
    std::string s = records.dump(2) + "\n";
    write_file_atomic(ec.json, s.data(), s.size());
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory (try a smaller --len)\n");
    return 1;
  }
}
