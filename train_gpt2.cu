// train_gpt2: trains GPT-2 + RoPE with a pluggable attention (`--attn`, see `--attn list`).
//
//   ./train_gpt2 --model d12 --attn lssa --train-data 'fineweb_train_*.bin' --val-data 'fineweb_val_*.bin' --out runs/lssa
//
// The loop: validate every --val-every steps; per step, --total-batch tokens as grad-accum
// micro-batches of (B, T); clip the global gradient norm; AdamW with warmup + cosine; log a
// line per step (and log.jsonl in --out); checkpoint every --ckpt-every steps and at the end.
// --resume continues bit-exactly from the latest checkpoint in --out.
// Host code only: the backends (CPU, CUDA) sit behind model/model.h.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "attention/registry.h"
#include "data/loader.h"
#include "model/checkpoint.h"
#include "model/flops.h"
#include "model/schedule.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/logger.h"
#include "runtime/run_config.h"

using namespace lssa;
using Clock = std::chrono::steady_clock;

// Settings that must match for --resume to continue the same run bit-exactly.
static nlohmann::json fingerprint(const RunConfig& rc) {
  const GPT2Config& g = rc.gpt;
  return {{"L", g.L},           {"NH", g.NH},          {"C", g.C},
          {"V", g.V},           {"T", g.T_train},      {"rope_base", g.rope_base},
          {"attn", g.attn},     {"reweight_p", g.attn_opt.reweight_p},
          {"sigmoid_bias", g.attn_opt.sigmoid_bias},   {"relu_divisor", g.attn_opt.relu_divisor},
          {"batch", rc.batch},  {"total_batch", rc.total_batch},  {"steps", rc.steps},
          {"lr", rc.lr},        {"warmup", rc.warmup}, {"final_lr_frac", rc.final_lr_frac},
          {"weight_decay", rc.weight_decay},           {"grad_clip", rc.grad_clip},
          {"beta1", rc.beta1},  {"beta2", rc.beta2},   {"adam_eps", rc.adam_eps},
          {"seed", rc.seed},    {"train_data", rc.train_data}};
}

static void check_resume_fingerprint(const std::string& saved, const nlohmann::json& now, const std::string& path) {
  nlohmann::json old = nlohmann::json::parse(saved);
  for (auto it = now.begin(); it != now.end(); ++it)
    if (!old.contains(it.key()) || old[it.key()] != it.value())
      fail(strfmt("cannot resume from %s: it is from a different config (%s was %s, now %s)", path.c_str(),
                  it.key().c_str(), old.contains(it.key()) ? old[it.key()].dump().c_str() : "unset",
                  it.value().dump().c_str()));
}

// Mean loss over the validation windows (the same windows every time).
static double validation_loss(Gpt2Model& model, const ShardSet& val, int B, int T, int64_t budget) {
  auto windows = sequential_windows(val, T, std::max<int64_t>(1, budget / T));
  std::vector<int> x((size_t)B * T), y((size_t)B * T);
  double sum = 0;
  size_t count = 0;
  for (size_t i = 0; i < windows.size(); i += B) {
    int nb = (int)std::min<size_t>(B, windows.size() - i);
    for (int b = 0; b < nb; b++) read_window(val, windows[i + b], T, &x[(size_t)b * T], &y[(size_t)b * T]);
    sum += model.forward(x.data(), y.data(), nb, T) * nb;
    count += nb;
  }
  return sum / count;
}

static int run(int argc, char** argv) {
  CLI::App app{"train_gpt2: GPT-2 + RoPE with pluggable attention (LSSA / LSSAR and the paper's baselines)"};
  RunConfig rc;
  add_train_options(app, rc);
  if (int rc = parse_command_line(app, argc, argv); rc >= 0) return rc;
  if (rc.attn == "list") {
    std::printf("%s", attn_list_text().c_str());
    return 0;
  }
  validate(rc);
  set_cpu_threads(rc.threads);
  const GPT2Config& g = rc.gpt;
  const int B = rc.batch, T = g.T_train;

  // Data first: a bad shard fails before any work or any file is written.
  ShardSet train = ShardSet::open(rc.train_data, "--train-data");
  ShardSet val;
  if (!rc.val_data.empty()) val = ShardSet::open(rc.val_data, "--val-data");
  TrainLoader loader(train, B, T, rc.seed);

  std::unique_ptr<Gpt2Model> model = make_model(g, rc.device);
  std::printf("train_gpt2 | backend %s, %d threads | %zu parameters (%.1fM)\n%s", model->backend_name(),
              cpu_threads(), model->num_params(), model->num_params() / 1e6, describe(rc).c_str());
  std::printf("data      : train %zu shards, %lld tokens (%lld windows/epoch)%s\n", train.files.size(),
              (long long)train.total, (long long)loader.windows_per_epoch(),
              val.files.empty() ? "" : strfmt("; val %lld tokens", (long long)val.total).c_str());

  const nlohmann::json fp = fingerprint(rc);
  int start_step = 0;
  if (rc.resume) {
    int s = latest_checkpoint_step(rc.out);
    if (s < 0) fail(strfmt("--resume: no checkpoint in %s", rc.out.c_str()));
    LoadedModel lm = load_model(checkpoint_model_path(rc.out, s));
    TrainState st = load_state(checkpoint_state_path(rc.out, s), lm.params.size());
    check_resume_fingerprint(st.fingerprint, fp, checkpoint_state_path(rc.out, s));
    model->set_params(lm.params);
    model->set_adam_state(st.m, st.v);
    loader.restore(st.loader);
    start_step = st.step;
    std::printf("resumed   : %s at step %d\n", lm.path.c_str(), start_step);
  } else {
    model->set_params(gpt2_init_params(g, rc.seed));
  }
  if (!rc.out.empty()) {
    make_dirs(rc.out);
    std::string cfg_text = app.config_to_str(true, false);
    write_file_atomic(rc.out + "/config.toml", cfg_text.data(), cfg_text.size());
  }
  JsonlLog log(rc.out.empty() ? "" : rc.out + "/log.jsonl");
  log.write({{"event", "start"}, {"step", start_step}, {"backend", model->backend_name()},
             {"params", model->num_params()}, {"config", fp}});

  auto save = [&](int step) {
    if (rc.out.empty()) return;
    TrainState st;
    st.step = step;
    st.loader = loader.state();
    st.seed = rc.seed;
    st.fingerprint = fp.dump();
    model->get_adam_state(st.m, st.v);
    save_state(checkpoint_state_path(rc.out, step), st);  // state first: a model file always has its state
    std::vector<float> params;
    model->get_params(params);
    save_model(checkpoint_model_path(rc.out, step), g, params, step);
    log.write({{"event", "checkpoint"}, {"step", step}, {"path", checkpoint_model_path(rc.out, step)}});
  };
  auto validate_now = [&](int step) {
    if (val.files.empty()) return;
    auto t0 = Clock::now();
    double vl = validation_loss(*model, val, B, T, rc.val_tokens);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::printf("val       | step %6d | val loss %.6f | %.0f ms\n", step, vl, ms);
    log.write({{"event", "val"}, {"step", step}, {"loss", vl}});
    if (!std::isfinite(vl)) fail(strfmt("non-finite validation loss (%g) at step %d", vl, step));
  };

  const AdamWConfig opt{rc.beta1, rc.beta2, rc.adam_eps, rc.weight_decay};
  // MFU needs the device's peak: --peak-tflops, else the table (model/flops.h); unknown → none.
  const double peak_tflops = rc.peak_tflops > 0 ? rc.peak_tflops : gpu_peak_bf16_tflops(model->device_name());
  const int64_t tokens_per_step = rc.total_batch;
  std::vector<int> x((size_t)B * T), y((size_t)B * T);
  double total_ms = 0;
  int timed = 0;
  for (int step = start_step; step < rc.steps; step++) {
    if (rc.val_every > 0 && step % rc.val_every == 0) validate_now(step);
    auto t0 = Clock::now();
    model->zero_grad();
    double loss = 0;
    for (int micro = 0; micro < rc.grad_accum; micro++) {
      loader.next_batch(x.data(), y.data());
      double l = model->forward(x.data(), y.data(), B, T);
      if (!std::isfinite(l))
        fail(strfmt("non-finite loss (%g) at step %d (micro-batch %d): training diverged or the attention "
                    "overflowed (e.g. exp_only)", l, step + 1, micro));
      model->backward(1.0f / rc.grad_accum);
      loss += l / rc.grad_accum;
    }
    double norm = model->grad_norm();
    if (!std::isfinite(norm)) fail(strfmt("non-finite gradient norm (%g) at step %d", norm, step + 1));
    float scale = (rc.grad_clip > 0.f && norm > rc.grad_clip) ? (float)(rc.grad_clip / norm) : 1.f;
    float lr = lr_at(step, rc.steps, rc.lr, rc.warmup, rc.final_lr_frac);
    model->adamw_step(opt, lr, scale, step + 1);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (step > start_step) {  // the first step includes warm-up costs
      total_ms += ms;
      timed++;
    }
    double tok_s = tokens_per_step / (ms / 1000.0);
    double eta_s = timed ? (total_ms / timed) * (rc.steps - step - 1) / 1000.0 : 0;
    const double mfu = model_mfu(g, T, tok_s, peak_tflops);
    std::printf("step %6d/%d | loss %.6f | norm %.4f | lr %.3e | %.1f ms | %.0f tok/s%s | eta %.0fs\n", step + 1,
                rc.steps, loss, norm, lr, ms, tok_s, peak_tflops > 0 ? strfmt(" | mfu %.1f%%", 100 * mfu).c_str() : "",
                eta_s);
    std::fflush(stdout);
    log.write({{"event", "step"}, {"step", step + 1}, {"loss", loss}, {"norm", norm}, {"lr", lr}, {"ms", ms},
               {"tok_s", tok_s}, {"mfu", peak_tflops > 0 ? nlohmann::json(mfu) : nlohmann::json()}});
    if (rc.ckpt_every > 0 && (step + 1) % rc.ckpt_every == 0 && step + 1 < rc.steps) save(step + 1);
  }
  if (rc.val_every >= 0) validate_now(rc.steps);
  if (start_step < rc.steps || latest_checkpoint_step(rc.out) != rc.steps) save(rc.steps);
  log.write({{"event", "end"}, {"step", rc.steps}});
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory (try a smaller --batch or --seq-len)\n");
    return 1;
  }
}
