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
//
//   ./eval_gpt2 --plan --model d12 --len 1024,16384      (or --plan --ckpt runs/lssa)
//
// prints the GPU memory a forward-only evaluation of each length plans (B = 1; the sweep builds
// its models with ModelUse::Evaluate: bf16 weights, one layer's activations, chunked logits,
// fused attention) and exits; no GPU and no data needed.
//
//   ./eval_gpt2 --ckpt runs/lssa --data 'longeval_val_*.bin' --per-position
//
// adds the mean loss per position bucket (eval/position_loss.h) to the table and the records.
//
//   ./eval_gpt2 --ckpt runs/lssa --data 'longeval_val_*.bin' --reweight-p 0,15 --attn-stats [--attn-stats-heads]
//
// adds each layer's attention statistics per position bucket (the same buckets): row entropy,
// first-token (sink) weight, largest weight and row mass, of the final weights and, for p > 0, of
// the same rows before re-weighting (attention/attention_stats.h, eval/attn_stats_report.h,
// docs/evaluation.md). On a GPU this runs the reference attention (the fused kernels do not
// compute them).
//
//   ./eval_gpt2 --ckpt runs/lssa --task passkey --len 1024,2048,4096 --reweight-p 0,15
//
// runs passkey retrieval (eval/passkey.h) instead, offline: accuracy per (length, depth, p).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/backend.h"
#include "app/run_config.h"
#include "attention/registry.h"
#include "data/loader.h"
#include "data/text_tokenizer.h"
#include "data/tokenizer.h"
#include "eval/attn_stats_report.h"
#include "eval/passkey.h"
#include "eval/position_loss.h"
#include "model/checkpoint.h"
#include "model/cuda/cuda_plan.h"
#include "model/sampler.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

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
  std::fprintf(stderr, "eval_gpt2 | %s (step %d) | attn %s p=%g (%s) | %d prompt tokens + %d new, window %d%s | %s\n",
               lm.path.c_str(), lm.step, cfg.attn.c_str(), cfg.attn_opt.reweight_p, model->attention_impl().c_str(), (int)ids.size(), gc.max_new_tokens,
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

// --plan: one line per length with the planned bytes (model/cuda/cuda_plan.h: eval_memory).
static int print_plan(const EvalConfig& ec) {
  GPT2Config cfg;
  std::string what;
  if (!ec.ckpt.empty()) {
    LoadedModel lm = load_model(ec.ckpt);
    cfg = lm.cfg;
    what = lm.path;
  } else {
    if (!gpt2_preset(ec.model, cfg))
      fail(strfmt("unknown --model '%s' (presets: %s)", ec.model.c_str(), gpt2_preset_names().c_str()));
    what = "preset " + ec.model;
  }
  if (!ec.attn.empty()) cfg.attn = attn_canonical_name(ec.attn);
  std::vector<int> lens;
  if (ec.lens.empty())
    for (int k : {1, 2, 4, 8, 16}) lens.push_back(k * cfg.T_train);
  else
    lens = parse_int_list(ec.lens, "--len");
  const double MiB = 1024.0 * 1024.0;
  std::printf("eval_gpt2 --plan | %s | L=%d NH=%d C=%d Vp=%d | attn %s | forward-only GPU evaluation, B = 1\n",
              what.c_str(), cfg.L, cfg.NH, cfg.C, cfg.Vp, cfg.attn.c_str());
  std::printf("%8s %12s %12s %12s %12s %10s %14s %s\n", "len", "params MiB", "acts MiB", "attn MiB", "logits MiB",
              "cublas MiB", "total bytes", "attention");
  for (int len : lens) {
    const EvalMemory m = eval_memory(cfg, 1, len);
    std::printf("%8d %12.1f %12.1f %12.1f %12.1f %10.1f %14zu %s\n", len, m.params / MiB, m.activations / MiB,
                m.attention / MiB, m.logits / MiB, m.cublas / MiB, m.total(), m.fused ? "fused" : "reference");
  }
  return 0;
}

// --task passkey: every (length, depth) cell for every p; a table per p on stdout (rows: lengths,
// columns: depths and their mean), one record per cell in --json.
static int passkey_task(const EvalConfig& ec, const LoadedModel& lm, const GPT2Config& cfg, RopeScaling scaling,
                        const std::vector<int>& lens, const std::vector<float>& ps) {
  std::unique_ptr<TextTokenizer> tok = open_model_tokenizer(cfg.tokenizer, cfg.V, ec.tokenizer_dir, "--task passkey");
  PasskeyConfig pc;
  pc.lens = lens;
  for (double d : parse_percent_list(ec.passkey_depths, "--passkey-depths")) pc.depths.push_back(d / 100.0);
  pc.keys = passkey_keys(ec.passkey_keys, ec.seed);
  pc.scaling = scaling;
  const PasskeyTemplate& tpl = passkey_default_template();
  int min_len = 0;  // over the keys
  for (const std::string& key : pc.keys) min_len = std::max(min_len, PasskeyPromptBuilder(*tok, tpl).min_len(key));
  std::printf("eval_gpt2 | %s (step %d) | L=%d NH=%d C=%d T_train=%d | attn %s | rope scaling %s\n", lm.path.c_str(),
              lm.step, cfg.L, cfg.NH, cfg.C, cfg.T_train, cfg.attn.c_str(), rope_scaling_name(scaling));
  std::printf("passkey   | tokenizer %s | %d keys per cell (seed %llu) | depths %s %% | greedy | prompts >= %d tokens\n",
              tok->name(), ec.passkey_keys, (unsigned long long)ec.seed, ec.passkey_depths.c_str(), min_len);
  nlohmann::json records = nlohmann::json::array();
  std::vector<std::vector<PasskeyCell>> results;  // (p, len × depth)
  for (float p : ps) {
    GPT2Config c = cfg;
    c.attn_opt.reweight_p = p;
    std::unique_ptr<Gpt2Model> model = make_model(c, ec.device);
    model->set_params(lm.params);
    auto t0 = Clock::now();
    results.push_back(run_passkey(*model, *tok, tpl, pc, [&](const PasskeyCell& cell) {
      std::fprintf(stderr, "  len %6d  depth %5.1f%%  p %-4g  accuracy %5.1f%% (%d/%zu, %.1fs)\n", cell.len,
                   100 * cell.depth, p, 100 * cell.accuracy(), cell.correct, cell.outputs.size(),
                   std::chrono::duration<double>(Clock::now() - t0).count());
    }));
    for (const PasskeyCell& cell : results.back())
      records.push_back({{"task", "passkey"},
                         {"len", cell.len},
                         {"len_ratio", (double)cell.len / cfg.T_train},
                         {"depth", 100 * cell.depth},
                         {"reweight_p", p},
                         {"rope_scaling", rope_scaling_name(scaling)},
                         {"attn", c.attn},
                         {"accuracy", cell.accuracy()},
                         {"correct", cell.correct},
                         {"trials", cell.outputs.size()},
                         {"keys", pc.keys},
                         {"outputs", cell.outputs},
                         {"key_seed", ec.seed},
                         {"tokenizer", tok->name()},
                         {"ckpt", lm.path},
                         {"step", lm.step}});
  }
  const size_t nd = pc.depths.size();
  for (size_t pi = 0; pi < ps.size(); pi++) {
    std::printf("passkey accuracy (%%), p=%g\n%8s %6s", ps[pi], "len", "x T");
    for (double d : pc.depths) std::printf("  %7s", strfmt("d=%g", 100 * d).c_str());
    std::printf("  %7s\n", "mean");
    for (size_t li = 0; li < lens.size(); li++) {
      std::printf("%8d %6.2g", lens[li], (double)lens[li] / cfg.T_train);
      double sum = 0;
      for (size_t di = 0; di < nd; di++) {
        const double a = 100 * results[pi][li * nd + di].accuracy();
        sum += a;
        std::printf("  %7.1f", a);
      }
      std::printf("  %7.1f\n", sum / nd);
    }
  }
  if (!ec.json.empty()) {
    // a decoded output can end inside a multi-byte character (GPT-2 tokens are bytes): such bytes
    // become U+FFFD in the JSON (the scorer saw the raw bytes)
    std::string s = records.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    write_file_atomic(ec.json, s.data(), s.size());
  }
  return 0;
}

static int run(int argc, char** argv) {
  CLI::App app{"eval_gpt2: validation loss at 1x..16x the training length, with RoPE scaling and re-weighting"};
  EvalConfig ec;
  add_eval_options(app, ec);
  if (int rc = parse_command_line(app, argc, argv); rc >= 0) return rc;
  validate(ec);
  if (ec.plan) return print_plan(ec);
  if (!ec.json.empty()) check_output_file(ec.json, "--json");  // before the sweep, not after it
  set_cpu_threads(ec.threads);
  LoadedModel lm = load_model(ec.ckpt);
  GPT2Config cfg = lm.cfg;
  cfg.attn_impl = attn_impl_choice_from_name(ec.attn_impl);
  if (!ec.attn.empty()) {  // the named variant with its default p (lssar: 15), as train_gpt2 does
    const AttnChoice choice = attn_choose(ec.attn, false, 0.f);
    cfg.attn = choice.name;
    cfg.attn_opt.reweight_p = choice.reweight_p;
  }
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
    attn_resolve(cfg.attn, o, cfg.T_train);
  }
  if (ec.task == "passkey") return passkey_task(ec, lm, cfg, scaling, lens, ps);
  ShardSet data = ShardSet::open(ec.data, "--data");
  if (std::string kind = tokenizer_kind_of_tag(data.tokenizer_tag, data.files[0]); kind != cfg.tokenizer)
    fail(strfmt("--data holds %s ids (shard header of %s) but %s was trained on %s ids", kind.c_str(),
                data.files[0].c_str(), lm.path.c_str(), cfg.tokenizer.c_str()));
  data.check_vocab(cfg.V, "--data");

  std::printf("eval_gpt2 | %s (step %d) | L=%d NH=%d C=%d T_train=%d | attn %s | rope scaling %s\n", lm.path.c_str(),
              lm.step, cfg.L, cfg.NH, cfg.C, cfg.T_train, cfg.attn.c_str(), rope_scaling_name(scaling));
  std::string attn_impl;  // the implementation the model chose (printed with the first model)
  if (std::string n = blas_kernel_note(); !n.empty()) std::printf("note: %s\n", n.c_str());
  nlohmann::json records = nlohmann::json::array();
  std::vector<std::vector<double>> table(lens.size(), std::vector<double>(ps.size()));
  std::vector<std::vector<std::optional<PositionLoss>>> by_position(lens.size(), std::vector<std::optional<PositionLoss>>(ps.size()));
  // --attn-stats: (len, p) → one accumulator per layer
  std::vector<std::vector<std::vector<AttnStats>>> attn_stats(lens.size(), std::vector<std::vector<AttnStats>>(ps.size()));
  for (size_t pi = 0; pi < ps.size(); pi++) {
    GPT2Config c = cfg;
    c.attn_opt.reweight_p = ps[pi];
    c.attn_stats = ec.attn_stats;
    std::unique_ptr<Gpt2Model> model = make_model(c, ec.device, stdout, ModelUse::Evaluate);
    model->set_params(lm.params);
    if (model->attention_impl() != attn_impl) {
      attn_impl = model->attention_impl();
      std::printf("attn impl : %s (--attn-impl %s) at p=%g\n", attn_impl.c_str(), ec.attn_impl.c_str(), ps[pi]);
    }
    for (size_t li = 0; li < lens.size(); li++) {
      const int len = lens[li];
      auto windows = sequential_windows(data, len, std::max<int64_t>(1, ec.tokens / len));
      std::vector<int> x(len), y(len);
      double sum = 0;
      PositionLoss by_pos(len, cfg.T_train);
      std::vector<AttnStats>& layer_stats = attn_stats[li][pi];
      if (ec.attn_stats) {  // Base (before re-weighting) only when this p re-weights
        layer_stats.assign(cfg.L, AttnStats(cfg.NH, position_bucket_edges(len, cfg.T_train), ps[pi] > 0.f));
        model->set_attn_stats(&layer_stats);
      }
      auto t0 = Clock::now();
      for (const Window& w : windows) {
        read_window(data, w, len, x.data(), y.data());
        sum += model->forward(x.data(), y.data(), 1, len, scaling);
        if (ec.per_position) by_pos.add(model->losses().data());  // (len,)
      }
      model->set_attn_stats(nullptr);
      double loss = sum / windows.size();
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      table[li][pi] = loss;
      std::fprintf(stderr, "  len %6d  p %-4g  loss %.6f  (%zu windows, %.1fs)\n", len, ps[pi], loss, windows.size(), secs);
      records.push_back({{"task", "loss"},
                         {"len", len},
                         {"len_ratio", (double)len / cfg.T_train},
                         {"reweight_p", ps[pi]},
                         {"rope_scaling", rope_scaling_name(scaling)},
                         {"attn", c.attn},
                         {"attn_impl", model->attention_impl()},
                         {"loss", loss},
                         {"tokens", (int64_t)windows.size() * len},
                         {"windows", windows.size()},
                         {"ckpt", lm.path},
                         {"step", lm.step}});
      if (ec.per_position) {
        nlohmann::json buckets = nlohmann::json::array();
        for (int b = 0; b < by_pos.buckets(); b++)
          buckets.push_back({{"lo", by_pos.lo(b)}, {"hi", by_pos.hi(b)}, {"loss", by_pos.mean(b)}, {"count", by_pos.count(b)}});
        records.back()["per_position"] = buckets;
        by_position[li][pi] = std::move(by_pos);
      }
      if (ec.attn_stats) records.back()["attn_stats"] = attn_stats_json(layer_stats, ec.attn_stats_heads);
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
  if (ec.per_position) {  // rows: the buckets of the longest length; columns: lengths
    const size_t longest = std::max_element(lens.begin(), lens.end()) - lens.begin();
    for (size_t pi = 0; pi < ps.size(); pi++) {
      const PositionLoss& ref = *by_position[longest][pi];
      std::printf("loss by position, p=%g\n%17s", ps[pi], "positions");
      for (int len : lens) std::printf("  %10s", strfmt("len=%d", len).c_str());
      std::printf("\n");
      for (int b = 0; b < ref.buckets(); b++) {
        std::printf("%17s", strfmt("%d..%d", ref.lo(b), ref.hi(b)).c_str());
        for (size_t li = 0; li < lens.size(); li++) {
          const PositionLoss& pl = *by_position[li][pi];
          int match = -1;  // the same bucket in this length's (shorter) list
          for (int k = 0; k < pl.buckets(); k++)
            if (pl.lo(k) == ref.lo(b) && pl.hi(k) == ref.hi(b)) match = k;
          if (match >= 0) std::printf("  %10.4f", pl.mean(match));
          else std::printf("  %10s", "-");
        }
        std::printf("\n");
      }
    }
  }
  if (ec.attn_stats) {  // the longest length's table per p (every length is in the records)
    const size_t longest = std::max_element(lens.begin(), lens.end()) - lens.begin();
    for (size_t pi = 0; pi < ps.size(); pi++)
      print_attn_stats_table(stdout, attn_stats[longest][pi],
                             strfmt("attention statistics, len=%d, p=%g: means over the heads and rows of each bucket "
                                    "(entropy in nats; sink, max: shares of the row's |weights|; mass: their sum)",
                                    lens[longest], ps[pi]).c_str());
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
  } catch (const std::exception& e) {  // a bug or a library's error (e.g. JSON): still one line, no abort
    std::fprintf(stderr, "error: internal error: %s\n", e.what());
    return 1;
  }
}
