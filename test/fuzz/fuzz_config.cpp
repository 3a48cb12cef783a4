// libFuzzer target: train_gpt2's option parsing from a config file (app/run_config.h: CLI11's
// TOML reader behind the strict checks, then validate()). Every input is accepted or rejected
// with a CLI11 parse error or lssa::Error.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "app/run_config.h"
#include "fuzz_util.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("config.toml", data, size);
  std::vector<std::string> args = {"train_gpt2", "--config", path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  CLI::App app;
  lssa::RunConfig rc;
  lssa::add_train_options(app, rc);
  try {
    app.parse((int)argv.size(), argv.data());
    lssa::validate(rc, 1);
  } catch (const CLI::ParseError&) {
  } catch (const lssa::Error&) {
  }
  return 0;
}
