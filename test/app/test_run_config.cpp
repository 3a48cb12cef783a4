// The programs' option parsing (app/run_config.h): strict config files (a duplicate key or a list
// value is one error, not a silently taken last value) and finite, in-range float settings (NaN
// passes every `x < 0` check, so each option is checked for finiteness explicitly).
#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "app/run_config.h"
#include "runtime/error.h"

using namespace lssa;

namespace {
// Parses train_gpt2's options from args (+ a config file with `toml` when not empty) and
// validates them; returns "" or the error text (CLI11's or lssa's).
std::string train_error(std::vector<std::string> args, const std::string& toml = "") {
  std::string cfg;
  if (!toml.empty()) {
    char t[] = "/tmp/lssa_cfg.XXXXXX";
    int fd = mkstemp(t);
    cfg = t;
    std::FILE* f = fdopen(fd, "w");
    std::fputs(toml.c_str(), f);
    std::fclose(f);
    args.push_back("--config");
    args.push_back(cfg);
  }
  args.insert(args.begin(), "train_gpt2");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CLI::App app;
  RunConfig rc;
  add_train_options(app, rc);
  std::string err;
  try {
    app.parse((int)argv.size(), argv.data());
    validate(rc, 1);
  } catch (const CLI::ParseError& e) {
    err = std::string("cli: ") + e.what();
  } catch (const Error& e) {
    err = e.what();
  }
  if (!cfg.empty()) std::remove(cfg.c_str());
  return err;
}
const std::vector<std::string> kBase = {"--model", "tiny", "--vocab-size", "64", "--train-data", "x.bin",
                                        "--batch", "4", "--total-batch", "256"};
std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> a = kBase;
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}
}  // namespace

TEST(RunConfig, BaseIsValid) { EXPECT_EQ(train_error(kBase), ""); }

TEST(RunConfig, ConfigFilesAreStrict) {
  EXPECT_EQ(train_error(kBase, "steps = 3\nlr = 0.001\n"), "");
  EXPECT_NE(train_error(kBase, "steps = 2\nsteps = 3\n").find("given twice"), std::string::npos);
  EXPECT_NE(train_error(kBase, "steps = [2, 3]\n").find("list value"), std::string::npos);
  EXPECT_NE(train_error(kBase, "train-data = [\"a.bin\", \"b.bin\"]\n").find("list value"), std::string::npos);
  EXPECT_NE(train_error(kBase, "atn = \"lssa\"\n"), "");  // unknown key (CLI11's own check)
  // several globs stay possible, as one comma-separated string
  EXPECT_EQ(train_error(kBase, "train-data = \"a.bin,b.bin\"\n"), "");
}

TEST(RunConfig, FloatSettingsMustBeFinite) {
  for (const char* o : {"--rope-base", "--final-lr-frac", "--weight-decay", "--grad-clip", "--adam-eps", "--lr",
                        "--beta1", "--beta2", "--peak-tflops"})
    for (const char* v : {"nan", "inf", "-inf"}) {
      SCOPED_TRACE(std::string(o) + " " + v);
      EXPECT_NE(train_error(with({o, v})), "");
    }
  EXPECT_EQ(train_error(with({"--grad-clip", "0"})), "");
  EXPECT_EQ(train_error(with({"--final-lr-frac", "1"})), "");
}
