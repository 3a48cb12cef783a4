// train_gpt2: trains GPT-2 + RoPE with a pluggable attention (`--attn`, see `--attn list`).
//
//   ./train_gpt2 --model d12 --attn lssa --train-data 'fineweb_train_*.bin' --val-data 'fineweb_val_*.bin' --out runs/lssa
//
// The loop: validate every --val-every steps; per step, --total-batch tokens as grad-accum
// micro-batches of (B, T); clip the global gradient norm; AdamW with warmup + cosine; log a
// line per step (and log.jsonl in --out); checkpoint every --ckpt-every steps and at the end.
// --resume continues bit-exactly from the latest checkpoint in --out. --sample-every N prints a
// generated continuation of a fixed prompt every N steps (model/sampler.h).
// Nothing is lost (docs/reliability.md): every input is checked before the first step (shards
// scanned whole for out-of-vocabulary ids); a fresh run refuses a --out that holds a run, and a
// lock keeps a second trainer out of it; SIGINT/SIGTERM/SIGHUP finish the current step, write a
// checkpoint and exit with 128 + the signal (a second signal stops at once).
// Host code only: the backends (CPU, CUDA) sit behind model/model.h.
//
// Data parallelism (runtime/comm.h): launched by mpirun/srun or with RANK/WORLD_SIZE/MASTER_ADDR/
// MASTER_PORT, each of the W ranks reads its own disjoint B windows of every global micro-batch
// (B·W windows), the gradients are averaged over the ranks before the norm and the optimizer, so
// every rank takes the same step as one process with batch B·W. --zero 1 shards the AdamW state
// (reduce-scatter of the gradients, update of the own shard, all-gather of the parameters) and
// each rank checkpoints its shard. Rank 0 prints, logs and writes the model; validation is split
// over the ranks. See docs/distributed.md.
#include <dirent.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "app/backend.h"
#include "app/logger.h"
#include "app/run_config.h"
#include "attention/registry.h"
#include "data/loader.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "model/flops.h"
#include "model/sampler.h"
#include "model/schedule.h"
#include "runtime/comm.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

using namespace lssa;
using Clock = std::chrono::steady_clock;

// The training data as the files it names: canonical paths (no "./", no symbolic links), so that
// `./d/x.bin` and `/abs/d/x.bin` are the same data on resume.
static std::string data_identity(const ShardSet& train) {
  std::string s;
  for (const auto& f : train.files) s += (s.empty() ? "" : ",") + canonical_path(f);
  return s;
}

// Settings that must match for --resume to continue the same run bit-exactly.
static nlohmann::json fingerprint(const RunConfig& rc, const ShardSet& train) {
  const GPT2Config& g = rc.gpt;
  nlohmann::json fp = {{"L", g.L},           {"NH", g.NH},          {"C", g.C},
          {"V", g.V},           {"tokenizer", g.tokenizer},   {"T", g.T_train},      {"rope_base", g.rope_base},
          {"attn", g.attn},     {"reweight_p", g.attn_opt.reweight_p},
          {"sigmoid_bias", g.attn_opt.sigmoid_bias},   {"relu_divisor", g.attn_opt.relu_divisor},
          {"batch", rc.batch},  {"total_batch", rc.total_batch},  {"steps", rc.steps},
          {"lr", rc.lr},        {"warmup", rc.warmup}, {"final_lr_frac", rc.final_lr_frac},
          {"weight_decay", rc.weight_decay},           {"grad_clip", rc.grad_clip},
          {"beta1", rc.beta1},  {"beta2", rc.beta2},   {"adam_eps", rc.adam_eps},
          {"seed", rc.seed},    {"train_data", data_identity(train)}};
  // the baselines' scale options count only for the variant that reads them, so that runs started
  // before these options existed (fingerprints without them) still resume
  const AttnScale scale = g.attn_spec().scale;
  if (scale == AttnScale::SsMax) fp["ssmax_scale"] = g.attn_opt.ssmax_scale;
  if (scale == AttnScale::Constant) fp["qknorm_scale"] = g.attn_opt.qknorm_scale;
  return fp;
}

static void check_resume_fingerprint(const std::string& saved, const nlohmann::json& now, const RunConfig& rc,
                                     const std::string& path) {
  nlohmann::json old;
  try {
    old = nlohmann::json::parse(saved);
  } catch (const std::exception&) {
    fail(strfmt("cannot resume from %s: the run fingerprint in its state file is not valid JSON", path.c_str()));
  }
  if (!old.is_object()) fail(strfmt("cannot resume from %s: the run fingerprint in its state file is malformed", path.c_str()));
  // checkpoints written before the data identity was canonical hold --train-data as typed
  if (old.contains("train_data") && old["train_data"] == rc.train_data) old["train_data"] = now["train_data"];
  for (auto it = now.begin(); it != now.end(); ++it)
    if (!old.contains(it.key()) || old[it.key()] != it.value())
      fail(strfmt("cannot resume from %s: it is from a different config (%s was %s, now %s)", path.c_str(),
                  it.key().c_str(), old.contains(it.key()) ? old[it.key()].dump().c_str() : "unset",
                  it.value().dump().c_str()));
}

// Mean loss over the validation windows (the same windows every time). Batch k of B windows is
// evaluated by rank k mod W; the sums are added over the ranks.
static double validation_loss(Gpt2Model& model, Communicator& comm, const ShardSet& val, int B, int T,
                              int64_t budget) {
  auto windows = sequential_windows(val, T, std::max<int64_t>(1, budget / T));
  std::vector<int> x((size_t)B * T), y((size_t)B * T);
  double sum_count[2] = {0, 0};
  for (size_t i = (size_t)comm.rank() * B; i < windows.size(); i += (size_t)B * comm.world()) {
    int nb = (int)std::min<size_t>(B, windows.size() - i);
    for (int b = 0; b < nb; b++) read_window(val, windows[i + b], T, &x[(size_t)b * T], &y[(size_t)b * T]);
    sum_count[0] += model.forward(x.data(), y.data(), nb, T) * nb;
    sum_count[1] += nb;
  }
  comm.all_reduce_sum(sum_count, 2);
  return sum_count[0] / sum_count[1];
}

// --tokenizer: the training shards' (their header tag) when not given; every shard set must hold
// ids of the run's tokenizer (a byte shard read as GPT-2 ids trains, silently, on nonsense).
static void resolve_tokenizer(RunConfig& rc) {
  if (!rc.tokenizer.empty() || rc.train_data.empty() || rc.attn == "list") return;
  ShardSet s = ShardSet::open(rc.train_data, "--train-data");
  rc.tokenizer = tokenizer_kind_of_tag(s.tokenizer_tag, s.files[0]);
}
static void check_tokenizer(const ShardSet& s, const std::string& kind, const char* what) {
  std::string got = tokenizer_kind_of_tag(s.tokenizer_tag, s.files[0]);
  if (got != kind)
    fail(strfmt("%s holds %s ids (shard header of %s) but the run's --tokenizer is %s", what, got.c_str(),
                s.files[0].c_str(), kind.c_str()));
}

// --sample-every: the prompt (--sample-prompt, else the first tokens of the first validation
// window, or of the training data without one) and the tokenizer that shows the samples as text:
// none (token ids are shown) when there is none (GPT-2 without its files) or the vocabulary is
// not the tokenizer's.
struct TrainSamples {
  std::unique_ptr<Tokenizer> tok;
  std::vector<int> prompt;
  std::string how;  // how the samples are shown, for the start-up summary
};
static TrainSamples setup_samples(const RunConfig& rc, const ShardSet& train, const ShardSet& val) {
  TrainSamples s;
  std::string dir;
  s.tok = open_tokenizer_kind(rc.gpt.tokenizer, rc.tokenizer_dir, &dir);
  const int tok_v = tokenizer_vocab_size(rc.gpt.tokenizer);
  if (rc.gpt.V != tok_v) s.tok.reset();
  s.how = s.tok ? (dir.empty() ? std::string("text (") + s.tok->kind() + ")" : "text (tokenizer " + dir + ")")
          : rc.gpt.V != tok_v ? strfmt("token ids (V=%d is not the %s tokenizer's %d)", rc.gpt.V, rc.gpt.tokenizer.c_str(), tok_v)
                              : "token ids (no tokenizer in " + default_tokenizer_dir() + "; see --tokenizer-dir)";
  if (!rc.sample_prompt.empty()) {
    if (!s.tok) fail("--sample-prompt needs the run's tokenizer and its vocabulary size; samples would be " + s.how);
    std::vector<int32_t> ids = s.tok->encode(rc.sample_prompt);
    if (ids.empty()) fail("--sample-prompt is empty after tokenization");
    s.prompt.assign(ids.begin(), ids.end());
  } else {
    const ShardSet& src = val.files.empty() ? train : val;
    const int n = std::min(16, rc.gpt.T_train);
    std::vector<int> y(n);
    s.prompt.resize(n);
    read_window(src, sequential_windows(src, n, 1).at(0), n, s.prompt.data(), y.data());
  }
  return s;
}

// The sampling seed of the sample at `step`: a function of --seed and the step only, so a resumed
// run prints the samples of the straight one; its RNG is its own (the training RNG is untouched).
static uint64_t sample_seed(uint64_t seed, int step) {
  return Rng(seed ^ 0x73616d706c65ull /* "sample" */).next_u64() + (uint64_t)step;
}

// Bit pattern hash of the parameters (--check-replicas): replicas must agree exactly.
static uint64_t params_checksum(const std::vector<float>& p) {
  uint64_t h = 0xcbf29ce484222325ull;
  const unsigned char* c = (const unsigned char*)p.data();
  for (size_t i = 0; i < p.size() * sizeof(float); i++) h = (h ^ c[i]) * 0x100000001b3ull;
  return h;
}

// Test hooks (environment; used by test/dist and test/cli): LSSA_TEST_TOKEN_LOG=PREFIX appends
// every micro-batch's input tokens to PREFIX.rank<r>; LSSA_TEST_KILL=R:S[:SIG] sends rank R the
// signal SIG (default SIGKILL: a rank that dies) when it starts step S.
struct TestHooks {
  FILE* token_log = nullptr;
  int kill_rank = -1, kill_step = -1, kill_sig = SIGKILL;
  explicit TestHooks(int rank) {
    if (const char* p = std::getenv("LSSA_TEST_TOKEN_LOG")) {
      std::string path = strfmt("%s.rank%d", p, rank);
      token_log = std::fopen(path.c_str(), "ab");
      if (!token_log) fail("LSSA_TEST_TOKEN_LOG: cannot open " + path);
    }
    if (const char* k = std::getenv("LSSA_TEST_KILL")) std::sscanf(k, "%d:%d:%d", &kill_rank, &kill_step, &kill_sig);
  }
  ~TestHooks() {
    if (token_log) std::fclose(token_log);
  }
  void tokens(const std::vector<int>& x) {
    if (token_log) std::fwrite(x.data(), sizeof(int), x.size(), token_log), std::fflush(token_log);
  }
  void step(int rank, int step) {
    if (rank == kill_rank && step == kill_step) std::raise(kill_sig);
  }
};

// Graceful stop. The first SIGINT/SIGTERM/SIGHUP only records the signal: the loop finishes the
// step, writes a checkpoint and exits with 128 + the signal. A second one (of any of the three)
// restores the default action and re-raises: the process stops at once. SA_RESTART keeps the
// communicators' blocking calls from failing with EINTR.
static volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) {
  if (g_stop_signal) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_stop_signal = sig;
}
static void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // ignored by the launcher (nohup, a shell's background job): keep it so
    sigaction(sig, &sa, nullptr);
  }
}
static const char* signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "a signal";
}

// The name of a checkpoint file (model_*.safetensors, state_*.bin) in dir, or "".
static std::string any_checkpoint_file(const std::string& dir) {
  std::string found;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      auto ends = [&](const char* suf) { return n.size() >= strlen(suf) && n.compare(n.size() - strlen(suf), strlen(suf), suf) == 0; };
      if ((n.rfind("model_", 0) == 0 && ends(".safetensors")) || (n.rfind("state_", 0) == 0 && ends(".bin"))) {
        found = n;
        break;
      }
    }
    closedir(d);
  }
  return found;
}

// --out, before anything is read or written: a folder (created when missing), locked for this
// process (DirLock: a second trainer fails at once), and — for a fresh run — not one that
// already holds a run (it would be overwritten piecemeal). Temp files of a writer that died are
// removed. Rank 0 only (the other ranks write their ZeRO-1 shards into the folder rank 0 owns).
static std::unique_ptr<DirLock> claim_run_dir(const RunConfig& rc) {
  if (rc.out.empty()) return nullptr;
  if (file_exists(rc.out) && !is_directory(rc.out))
    fail(strfmt("--out %s is a file, not a directory", rc.out.c_str()));
  if (rc.resume && !is_directory(rc.out)) fail(strfmt("--resume: %s does not exist", rc.out.c_str()));
  make_dirs(rc.out);
  auto lock = std::make_unique<DirLock>(rc.out);
  // a folder with a log but no checkpoint (a run stopped before its first) holds nothing to lose:
  // it is reused, and its log.jsonl gets a second "start" event
  if (!rc.resume) {
    if (std::string f = any_checkpoint_file(rc.out); !f.empty())
      fail(strfmt("--out %s already holds a run (%s); continue it with --resume, or choose a new --out", rc.out.c_str(),
                  f.c_str()));
  }
  if (int n = remove_stale_temp_files(rc.out))
    std::printf("note      : removed %d temp file(s) of an interrupted write in %s\n", n, rc.out.c_str());
  return lock;
}

static int run(int argc, char** argv, const LaunchInfo& li) {
  CLI::App app{"train_gpt2: GPT-2 + RoPE with pluggable attention (LSSA / LSSAR and the paper's baselines)"};
  RunConfig rc;
  add_train_options(app, rc);
  if (int rc = parse_command_line(app, argc, argv); rc >= 0) return rc;
  if (rc.attn == "list") {
    std::printf("%s", attn_list_text().c_str());
    return 0;
  }
  resolve_tokenizer(rc);
  validate(rc, li.world);
  std::unique_ptr<DirLock> run_dir_lock;
  if (li.rank == 0) run_dir_lock = claim_run_dir(rc);
  set_cpu_threads(rc.threads);
  const GPT2Config& g = rc.gpt;
  const int B = rc.batch, T = g.T_train;
  const bool main_rank = li.rank == 0, zero = rc.zero == 1 && li.world > 1;
  TestHooks hooks(li.rank);

  // Data first: a bad shard fails before any work or any file is written — headers, sizes and
  // every token id (a linear scan), and the validation windows.
  ShardSet train = ShardSet::open(rc.train_data, "--train-data");
  ShardSet val;
  if (!rc.val_data.empty()) val = ShardSet::open(rc.val_data, "--val-data");
  // the shards' tokenizer first (a clearer message than an out-of-vocabulary id), then every id
  check_tokenizer(train, g.tokenizer, "--train-data");
  if (!rc.val_data.empty()) check_tokenizer(val, g.tokenizer, "--val-data");
  train.check_vocab(g.V, "--train-data");
  if (!rc.val_data.empty()) {
    val.check_vocab(g.V, "--val-data");
    try {
      (void)sequential_windows(val, T, 1);
    } catch (const Error& e) {
      fail(std::string("--val-data: ") + e.what());
    }
  }
  TrainLoader loader(train, B, T, rc.seed, li.rank, li.world);
  TrainSamples samples;
  if (rc.sample_every > 0 && main_rank) samples = setup_samples(rc, train, val);

  select_local_gpu(li);
  std::unique_ptr<Gpt2Model> model = make_model(g, rc.device);
  std::unique_ptr<Communicator> comm = make_communicator(li, model->memory());
  const size_t n_params = model->num_params();
  if (zero) model->set_optimizer_shard(shard_range(n_params, li.world, li.rank));
  if (main_rank) {
    if (std::string n = blas_kernel_note(); !n.empty() && model->memory() == MemSpace::Host)
      std::printf("note      : %s\n", n.c_str());
    std::printf("train_gpt2 | backend %s, %d threads | %zu parameters (%.1fM)\n%s", model->backend_name(),
                cpu_threads(), n_params, n_params / 1e6, describe(rc).c_str());
    std::printf("attn impl : %s (--attn-impl %s)\n", model->attention_impl().c_str(), attn_impl_choice_name(rc.gpt.attn_impl));
    std::printf("parallel  : %s | communicator %s | %d rank(s), ZeRO-%d\n", describe(li).c_str(), comm->name(),
                li.world, zero ? 1 : 0);
    std::printf("data      : train %zu shards, %lld tokens (%lld windows/epoch)%s\n", train.files.size(),
                (long long)train.total, (long long)loader.windows_per_epoch(),
                val.files.empty() ? "" : strfmt("; val %lld tokens", (long long)val.total).c_str());
    if (rc.sample_every > 0)
      std::printf("samples   : every %d steps, %d tokens, %s, as %s | prompt %s\n", rc.sample_every, rc.sample_tokens,
                  rc.sample_top_k == 1 ? "greedy" : strfmt("top-%d", rc.sample_top_k).c_str(), samples.how.c_str(),
                  tokens_for_log(samples.tok.get(), samples.prompt).c_str());
  }

  const nlohmann::json fp = fingerprint(rc, train);
  int start_step = 0;
  if (rc.resume) {
    int s = latest_checkpoint_step(rc.out);
    if (s < 0) fail(strfmt("--resume: no checkpoint in %s", rc.out.c_str()));
    LoadedModel lm = load_model(checkpoint_model_path(rc.out, s));
    // this rank's optimizer range, from whatever world size wrote the checkpoint (re-sharding);
    // a checkpoint of another model size is read whole so that the fingerprint check names the
    // setting that differs
    const ShardRange sh = lm.params.size() == n_params ? model->optimizer_shard() : ShardRange{0, lm.params.size()};
    TrainState st = load_state_range(rc.out, s, lm.params.size(), sh.begin, sh.end);
    if (st.step != s || lm.step != s)
      fail(strfmt("cannot resume from %s: its state file says step %d and its model step %d, the file names step %d",
                  lm.path.c_str(), st.step, lm.step, s));
    check_resume_fingerprint(st.fingerprint, fp, rc, checkpoint_model_path(rc.out, s));
    model->set_params(lm.params);
    model->set_adam_state(st.m, st.v);
    loader.restore(st.loader);
    start_step = st.step;
    if (main_rank) std::printf("resumed   : %s at step %d\n", lm.path.c_str(), start_step);
  } else {
    model->set_params(gpt2_init_params(g, rc.seed));
  }
  if (li.world > 1) {  // every rank starts from rank 0's parameters, bit for bit
    std::vector<float> p;
    model->get_params(p);
    comm->broadcast(CommBuffer{p.data(), p.size(), DType::F32, MemSpace::Host}, 0);
    model->set_params(p);
  }
  if (!rc.out.empty()) {
    make_dirs(rc.out);  // every rank: ZeRO-1 shards are written by each
    if (main_rank) {
      std::string cfg_text = app.config_to_str(true, false);
      write_file_atomic(rc.out + "/config.toml", cfg_text.data(), cfg_text.size());
    }
  }
  JsonlLog log(rc.out.empty() || !main_rank ? "" : rc.out + "/log.jsonl");
  log.write({{"event", "start"}, {"step", start_step}, {"backend", model->backend_name()},
             {"attn_impl", model->attention_impl()}, {"params", n_params}, {"world", li.world}, {"zero", zero ? 1 : 0}, {"config", fp}});

  int last_saved = rc.resume ? start_step : -1;
  auto save = [&](int step) {
    if (rc.out.empty()) return;
    last_saved = step;
    TrainState st;
    st.step = step;
    st.loader = loader.state();  // the global data position: the same on every rank
    st.seed = rc.seed;
    st.fingerprint = fp.dump();
    model->get_adam_state(st.m, st.v);
    // state first (every rank's shard, then a barrier): a model file always has its state
    if (zero) {
      const ShardRange sh = model->optimizer_shard();
      save_state_shard(checkpoint_state_shard_path(rc.out, step, li.rank), st, n_params, sh.begin, sh.end, li.world);
      comm->barrier();
    } else if (main_rank) {
      save_state(checkpoint_state_path(rc.out, step), st);
    }
    if (!main_rank) return;
    std::vector<float> params;
    model->get_params(params);
    save_model(checkpoint_model_path(rc.out, step), g, params, step);
    log.write({{"event", "checkpoint"}, {"step", step}, {"path", checkpoint_model_path(rc.out, step)}});
  };
  auto validate_now = [&](int step) {
    if (val.files.empty()) return;
    auto t0 = Clock::now();
    double vl = validation_loss(*model, *comm, val, B, T, rc.val_tokens);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (main_rank) std::printf("val       | step %6d | val loss %.6f | %.0f ms\n", step, vl, ms);
    log.write({{"event", "val"}, {"step", step}, {"loss", vl}});
    if (!std::isfinite(vl)) fail(strfmt("non-finite validation loss (%g) at step %d", vl, step));
  };
  auto sample_now = [&](int step) {
    if (rc.sample_every == 0 || !main_rank) return;
    Sampler sampler({rc.sample_top_k, 1.0f, sample_seed(rc.seed, step)}, g.V);
    std::vector<int> out = generate(*model, samples.prompt, {rc.sample_tokens, T, RopeScaling::None}, sampler);
    std::printf("sample    | step %6d | %s\n", step, tokens_for_log(samples.tok.get(), out).c_str());
    log.write({{"event", "sample"}, {"step", step}, {"tokens", out}});
  };
  auto check_replicas = [&](int step) {
    std::vector<float> p;
    model->get_params(p);
    uint64_t mine = params_checksum(p), ref = mine;
    comm->broadcast(CommBuffer{&ref, sizeof ref, DType::U8, MemSpace::Host}, 0);
    double differ = mine != ref ? 1 : 0;
    comm->all_reduce_sum(&differ, 1);
    if (differ > 0)
      fail(strfmt("replicas diverged after step %d: %g rank(s) hold parameters that differ from rank 0's", step,
                  differ));
  };

  const AdamWConfig opt{rc.beta1, rc.beta2, rc.adam_eps, rc.weight_decay};
  // MFU needs the device's peak: --peak-tflops, else the table (model/flops.h); unknown → none.
  const double peak_tflops = rc.peak_tflops > 0 ? rc.peak_tflops : gpu_peak_bf16_tflops(model->device_name());
  const int64_t tokens_per_step = rc.total_batch;
  std::vector<int> x((size_t)B * T), y((size_t)B * T);
  double total_ms = 0;
  int timed = 0;
  install_stop_handlers();
  for (int step = start_step; step < rc.steps; step++) {
    if (rc.val_every > 0 && step % rc.val_every == 0) validate_now(step);
    if (rc.sample_every > 0 && step > 0 && step % rc.sample_every == 0) sample_now(step);
    hooks.step(li.rank, step + 1);
    auto t0 = Clock::now();
    model->zero_grad();
    double loss = 0;
    for (int micro = 0; micro < rc.grad_accum; micro++) {
      loader.next_batch(x.data(), y.data());
      hooks.tokens(x);
      double l = model->forward(x.data(), y.data(), B, T);
      if (!std::isfinite(l))
        fail(strfmt("non-finite loss (%g) at step %d (micro-batch %d): training diverged or the attention "
                    "overflowed (e.g. exp_only)", l, step + 1, micro));
      model->backward(1.0f / rc.grad_accum);
      loss += l / rc.grad_accum;
    }
    // average over the ranks: the gradients (ZeRO-1: only each rank's shard), the loss for the
    // log, and (ZeRO-1) the squared norm over the shards
    if (li.world > 1) model->reduce_grads(*comm, zero);
    double norm = model->grad_norm();
    // a stop signal seen by any rank stops every rank after this step: the flag travels with
    // the loss in the step's one small all-reduce
    const int my_signal = g_stop_signal;
    bool stop = my_signal != 0;
    if (li.world > 1) {
      double sums[3] = {loss, zero ? norm * norm : 0.0, stop ? 1.0 : 0.0};
      comm->all_reduce_sum(sums, 3);
      loss = sums[0] / li.world;
      if (zero) norm = std::sqrt(sums[1]);
      stop = sums[2] > 0;
    }
    if (!std::isfinite(norm)) fail(strfmt("non-finite gradient norm (%g) at step %d", norm, step + 1));
    float scale = (rc.grad_clip > 0.f && norm > rc.grad_clip) ? (float)(rc.grad_clip / norm) : 1.f;
    float lr = lr_at(step, rc.steps, rc.lr, rc.warmup, rc.final_lr_frac);
    model->adamw_step(opt, lr, scale, step + 1);
    if (zero) model->gather_params(*comm);
    if (rc.check_replicas && li.world > 1) check_replicas(step + 1);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (step > start_step) {  // the first step includes warm-up costs
      total_ms += ms;
      timed++;
    }
    double tok_s = tokens_per_step / (ms / 1000.0);
    double eta_s = timed ? (total_ms / timed) * (rc.steps - step - 1) / 1000.0 : 0;
    const double mfu = model_mfu(g, T, tok_s / li.world, peak_tflops);  // per GPU
    if (main_rank) {
      std::printf("step %6d/%d | loss %.6f | norm %.4f | lr %.3e | %.1f ms | %.0f tok/s%s | eta %.0fs\n", step + 1,
                  rc.steps, loss, norm, lr, ms, tok_s,
                  peak_tflops > 0 ? strfmt(" | mfu %.1f%%", 100 * mfu).c_str() : "", eta_s);
      std::fflush(stdout);
    }
    log.write({{"event", "step"}, {"step", step + 1}, {"loss", loss}, {"norm", norm}, {"lr", lr}, {"ms", ms},
               {"tok_s", tok_s}, {"mfu", peak_tflops > 0 ? nlohmann::json(mfu) : nlohmann::json()}});
    if (rc.ckpt_every > 0 && (step + 1) % rc.ckpt_every == 0 && step + 1 < rc.steps) save(step + 1);
    if (stop) {
      // a rank that saw no signal itself exits as if it had been sent SIGTERM (what schedulers send)
      const int sig = my_signal ? my_signal : SIGTERM;
      if (last_saved != step + 1) save(step + 1);
      log.write({{"event", "stopped"}, {"step", step + 1}, {"signal", sig}});
      if (main_rank) {
        if (rc.out.empty())
          std::printf("stopped by signal %s at step %d (no --out: nothing saved)\n", signal_name(sig), step + 1);
        else
          std::printf("stopped by signal %s at step %d; --resume continues (checkpoint %s)\n", signal_name(sig),
                      step + 1, checkpoint_model_path(rc.out, step + 1).c_str());
        std::fflush(stdout);
      }
      return 128 + sig;
    }
  }
  if (rc.val_every >= 0) validate_now(rc.steps);
  sample_now(rc.steps);
  if (start_step < rc.steps || latest_checkpoint_step(rc.out) != rc.steps) save(rc.steps);
  log.write({{"event", "end"}, {"step", rc.steps}});
  return 0;
}

// An error on one rank of several ends the whole job (abort_job), so no rank waits forever.
int main(int argc, char** argv) {
  LaunchInfo li;
  std::string who;
  try {
    li = detect_launch(argc, argv);
    if (li.world > 1) who = strfmt("rank %d: ", li.rank);
    return run(argc, argv, li);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s%s\n", who.c_str(), e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: %sout of memory (try a smaller --batch or --seq-len)\n", who.c_str());
  } catch (const std::exception& e) {  // a bug: still one line, and no abort
    std::fprintf(stderr, "error: %sinternal error: %s\n", who.c_str(), e.what());
  }
  std::fflush(stderr);
  if (li.world > 1) abort_job(1);
  return 1;
}
