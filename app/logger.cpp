#include "app/logger.h"

#include <cerrno>
#include <cstring>

#include "runtime/error.h"

namespace lssa {

JsonlLog::JsonlLog(const std::string& path) {
  if (path.empty()) return;
  f_ = std::fopen(path.c_str(), "a");
  if (!f_) fail(strfmt("cannot open log %s: %s", path.c_str(), std::strerror(errno)));
}

JsonlLog::~JsonlLog() {
  if (f_) std::fclose(f_);
}

void JsonlLog::write(const nlohmann::json& event) {
  if (!f_) return;
  std::string s = event.dump();
  std::fprintf(f_, "%s\n", s.c_str());
  std::fflush(f_);
}

}  // namespace lssa
