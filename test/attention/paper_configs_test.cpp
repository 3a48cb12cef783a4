// Every file in configs/ (one per row of the paper's Tables 1–4 and the Figure 2 p-sweep, the
// baselines that are not in the paper (configs/paper/baselines/, Table 4's recipe), plus the model
// recipes) parses with the program it names on its first line ("# program: train_gpt2"
// or "# program: eval_gpt2") through the same CLI11 app the program builds (add_train_options /
// add_eval_options) and passes validate(). Unknown keys are errors here: CLI11 ignores them by
// default, so a typo ("atn", or "reweight_p" with an underscore) would otherwise silently run the
// default variant. Paper training configs must be the 124M recipe at T = 1024.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/run_config.h"
#include "attention/registry.h"
#include "runtime/error.h"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> config_files() {
  std::vector<fs::path> v;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(LSSA_SOURCE_DIR) / "configs"))
    if (e.is_regular_file() && e.path().extension() == ".toml") v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Parses argv with a strict app (unknown config keys are errors); returns the CLI11 error text or "".
template <typename Cfg, typename Add>
std::string parse_strict(Add add, Cfg& cfg, std::vector<std::string> args) {
  CLI::App app;
  add(app, cfg);
  app.allow_config_extras(CLI::config_extras_mode::error);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  try {
    app.parse((int)argv.size(), argv.data());
  } catch (const CLI::ParseError& e) {
    return std::string(e.get_name()) + ": " + e.what();
  }
  return "";
}

TEST(PaperConfigs, EveryFileParsesAndValidates) {
  const std::vector<fs::path> files = config_files();
  int train = 0, eval = 0, paper_rows = 0;
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    const std::string text = read_text(f);
    const bool is_paper = f.string().find("/configs/paper/") != std::string::npos;
    if (is_paper) {
      paper_rows++;
      EXPECT_NE(text.find("# Reported"), std::string::npos) << "a paper config names the paper's numbers";
    }
    if (text.rfind("# program: train_gpt2\n", 0) == 0) {
      train++;
      lssa::RunConfig rc;
      EXPECT_EQ(parse_strict(lssa::add_train_options, rc, {"train_gpt2", "--config", f.string(), "--train-data", "x.bin"}),
                "");
      EXPECT_NO_THROW(lssa::validate(rc));
      if (is_paper) {  // the paper's runs: GPT-2 124M + RoPE at T = 1024, 18,865 steps of 524,288 tokens
        EXPECT_EQ(rc.gpt.L, 12);
        EXPECT_EQ(rc.gpt.C, 768);
        EXPECT_EQ(rc.gpt.NH, 12);
        EXPECT_EQ(rc.gpt.T_train, 1024);
        EXPECT_EQ(rc.steps, 18865);
        EXPECT_EQ(rc.total_batch, 524288);
        // paper v2 trains without re-weighting; the trained-protocol rows (trained_pP/) train with p = P
        const std::string path = f.string();
        const size_t tp = path.find("/trained_p");
        const float want_p = tp == std::string::npos ? 0.f : std::stof(path.substr(tp + 10));
        EXPECT_EQ(rc.gpt.attn_opt.reweight_p, want_p) << "re-weighting p of a training config";
      }
    } else if (text.rfind("# program: eval_gpt2\n", 0) == 0) {
      eval++;
      lssa::EvalConfig ec;
      EXPECT_EQ(parse_strict(lssa::add_eval_options, ec,
                             {"eval_gpt2", "--config", f.string(), "--ckpt", "run", "--data", "x.bin"}),
                "");
      EXPECT_NO_THROW(lssa::validate(ec));
      EXPECT_FALSE(ec.lens.empty()) << "a paper evaluation names its lengths";
    } else {
      ADD_FAILURE() << "first line must be '# program: train_gpt2' or '# program: eval_gpt2'";
    }
  }
  // Table 1: 4 columns, Table 2: 4 scenarios, Table 3: 8 columns, Table 4: 9 rows + 1 length
  // sweep + 2×3 re-weighted rows (post hoc) + 2×3 trained with re-weighting, Figure 2: 3 sweeps
  // + 2×2 trained rows (p = 1, 7) + 2×2 evaluations of Table 4's trained rows (p = 3, 15),
  // passkey: 2 evaluations; baselines (not in the paper, configs/paper/baselines/): 3 rows + 1 length
  // sweep; models: d12, tiny.
  EXPECT_EQ(paper_rows, 4 + 4 + 8 + 22 + 11 + 2 + 4);
  EXPECT_EQ(train + eval, (int)files.size());
  EXPECT_EQ(train, 4 + 4 + 8 + 9 + 6 + 4 + 3 + 2);
}

// The baselines are marked as not in the paper, report no paper numbers, and carry their options.
TEST(PaperConfigs, BaselinesAreMarkedNotInThePaper) {
  int n = 0;
  for (const fs::path& f : config_files()) {
    if (f.string().find("/configs/paper/baselines/") == std::string::npos) continue;
    SCOPED_TRACE(f.string());
    n++;
    const std::string text = read_text(f);
    EXPECT_NE(text.find("NOT IN THE PAPER"), std::string::npos);
    EXPECT_NE(text.find("# Reported (not in the paper): none"), std::string::npos);
    if (text.rfind("# program: train_gpt2\n", 0) != 0) continue;
    lssa::RunConfig rc;
    ASSERT_EQ(parse_strict(lssa::add_train_options, rc, {"train_gpt2", "--config", f.string(), "--train-data", "x.bin"}), "");
    lssa::validate(rc);
    const lssa::AttnSpec spec = rc.gpt.attn_spec();
    EXPECT_NE(spec.scale, lssa::AttnScale::InvSqrtHS) << "a baseline row rescales the score";
    const double want = rc.gpt.attn == "ssmax" ? 1.0 : rc.gpt.attn == "softmax_qknorm" ? std::log2(1024.0 * 1023.0) : 1024.0;
    EXPECT_DOUBLE_EQ(spec.scale_value, want) << rc.gpt.attn;
  }
  EXPECT_EQ(n, 4);
}

TEST(PaperConfigs, StrictParsingCatchesTyposAndUnderscores) {
  const fs::path tmp = fs::temp_directory_path() / "lssa_config_typo.toml";
  for (const char* body : {"atn = \"lssa\"\n", "reweight_p = 3\n"}) {
    std::ofstream(tmp) << body;
    lssa::RunConfig rc;
    EXPECT_NE(parse_strict(lssa::add_train_options, rc, {"train_gpt2", "--config", tmp.string()}), "") << body;
  }
  std::ofstream(tmp) << "attn = \"relu_shen\"\nsigmoid-bias = \"row\"\nreweight-p = 0\n";
  lssa::RunConfig rc;
  EXPECT_EQ(parse_strict(lssa::add_train_options, rc, {"train_gpt2", "--config", tmp.string()}), "");
  EXPECT_EQ(rc.attn, "relu_shen");
  EXPECT_EQ(rc.sigmoid_bias, "row");
  fs::remove(tmp);
}

TEST(PaperConfigs, LssarFromTheCommandLineIsLssaWithP15) {
  lssa::RunConfig rc;
  ASSERT_EQ(parse_strict(lssa::add_train_options, rc, {"train_gpt2", "--attn", "lssar", "--train-data", "x.bin"}), "");
  lssa::validate(rc);
  EXPECT_EQ(rc.gpt.attn, "lssa");
  EXPECT_EQ(rc.gpt.attn_opt.reweight_p, 15.f);
  EXPECT_EQ(rc.gpt.attn_spec().reweight_p, 15.f);
}

TEST(PaperConfigs, BadAttentionOptionsAreOneLineErrors) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--attn", "nope"}, {"--attn", "sigmoid", "--sigmoid-bias", "abc"},
           {"--attn", "relu_seqlen", "--relu-divisor", "T"}, {"--attn", "relu_seqlen", "--reweight-p", "3"},
           {"--attn", "ssmax", "--ssmax-scale", "0"}, {"--attn", "softmax_qknorm", "--qknorm-scale", "x"}}) {
    args.insert(args.begin(), "train_gpt2");
    args.push_back("--train-data");
    args.push_back("x.bin");
    lssa::RunConfig rc;
    ASSERT_EQ(parse_strict(lssa::add_train_options, rc, args), "");
    try {
      lssa::validate(rc);
      ADD_FAILURE() << args[2] << ": accepted";
    } catch (const lssa::Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
}

}  // namespace
