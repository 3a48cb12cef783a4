#include "eval/attn_stats_report.h"

#include <cmath>
#include <string>

#include "runtime/error.h"

namespace lssa {

namespace {

nlohmann::json num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

nlohmann::json bucket_json(const AttnStats& s, int b, const AttnStatCell& c) {
  return {{"lo", s.lo(b)},
          {"hi", s.hi(b)},
          {"rows", c.rows},
          {"empty_rows", c.empty},
          {"entropy", num(c.mean_entropy())},
          {"sink", num(c.mean_sink())},
          {"max", num(c.mean_max())},
          {"mass", num(c.mean_mass())}};
}

const char* set_name(AttnStatSet s) { return s == AttnStatSet::Final ? "final" : "base"; }

// Adds {"final": [buckets], "base": [buckets]} to j, each bucket's cell from cell_of(set, bucket).
template <typename CellOf>
void add_sets(nlohmann::json& j, const AttnStats& s, CellOf cell_of) {
  for (int k = 0; k < s.sets(); k++) {
    nlohmann::json bs = nlohmann::json::array();
    for (int b = 0; b < s.buckets(); b++) bs.push_back(bucket_json(s, b, cell_of((AttnStatSet)k, b)));
    j[set_name((AttnStatSet)k)] = bs;
  }
}

}  // namespace

nlohmann::json attn_stats_json(const std::vector<AttnStats>& layers, bool per_head) {
  nlohmann::json out = nlohmann::json::object();
  const int sets = layers.empty() ? 1 : layers[0].sets();
  nlohmann::json names = nlohmann::json::array();
  for (int k = 0; k < sets; k++) names.push_back(set_name((AttnStatSet)k));
  out["sets"] = names;
  nlohmann::json ls = nlohmann::json::array();
  for (size_t l = 0; l < layers.size(); l++) {
    const AttnStats& s = layers[l];
    nlohmann::json lj = {{"layer", l}};
    add_sets(lj, s, [&](AttnStatSet k, int b) { return s.layer_cell(k, b); });
    if (per_head) {
      nlohmann::json hs = nlohmann::json::array();
      for (int h = 0; h < s.heads(); h++) {
        nlohmann::json hj = {{"head", h}};
        add_sets(hj, s, [&](AttnStatSet k, int b) { return s.cell(k, h, b); });
        hs.push_back(hj);
      }
      lj["heads"] = hs;
    }
    ls.push_back(lj);
  }
  out["layers"] = ls;
  return out;
}

void print_attn_stats_table(FILE* f, const std::vector<AttnStats>& layers, const char* title) {
  if (layers.empty()) return;
  const bool base = layers[0].has_base();
  auto cellstr = [](double x) { return std::isfinite(x) ? strfmt("%8.4f", x) : strfmt("%8s", "-"); };
  std::fprintf(f, "%s\n%5s %15s  %8s %8s %8s %8s", title, "layer", "positions", "entropy", "sink", "max", "mass");
  if (base) std::fprintf(f, "  | %8s %8s %8s %8s  (base: before re-weighting)", "entropy", "sink", "max", "mass");
  std::fprintf(f, "\n");
  for (size_t l = 0; l < layers.size(); l++) {
    const AttnStats& s = layers[l];
    for (int b = 0; b < s.buckets(); b++) {
      std::fprintf(f, "%5zu %15s", l, strfmt("%d..%d", s.lo(b), s.hi(b)).c_str());
      for (int k = 0; k < s.sets(); k++) {
        const AttnStatCell c = s.layer_cell((AttnStatSet)k, b);
        std::fprintf(f, "%s %s %s %s %s", k ? "  |" : " ", cellstr(c.mean_entropy()).c_str(),
                     cellstr(c.mean_sink()).c_str(), cellstr(c.mean_max()).c_str(), cellstr(c.mean_mass()).c_str());
      }
      std::fprintf(f, "\n");
    }
  }
}

}  // namespace lssa
