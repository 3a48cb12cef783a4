// The machine-readable run log: one JSON object per line (log.jsonl in the run directory),
// flushed line by line so a crash loses nothing already logged. scripts/plot_log.py reads it.
#pragma once
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace lssa {

class JsonlLog {
 public:
  JsonlLog() = default;
  // Appends to path (a resumed run continues the same log); empty path = no log.
  explicit JsonlLog(const std::string& path);
  ~JsonlLog();
  JsonlLog(const JsonlLog&) = delete;
  JsonlLog& operator=(const JsonlLog&) = delete;
  void write(const nlohmann::json& event);

 private:
  FILE* f_ = nullptr;
};

}  // namespace lssa
