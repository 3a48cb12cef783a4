// eval_gpt2 --attn-stats: the JSON records and the printed table of the attention statistics
// (attention/attention_stats.h) that a sweep collected, one AttnStats per layer.
#pragma once
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "attention/attention_stats.h"

namespace lssa {

// {"sets": ["final"(, "base")], "layers": [{"layer": l, "final": [BUCKET…], "base": [BUCKET…],
//  "heads": [{"head": h, "final": […], "base": […]}…]}…]} with BUCKET = {lo, hi, rows, empty_rows,
// entropy, sink, max, mass}: the means of the bucket's rows over all heads (per head under "heads",
// only with per_head). "base" only when the layers kept it (p > 0). A mean over no rows is null.
nlohmann::json attn_stats_json(const std::vector<AttnStats>& layers, bool per_head);

// One table: a row per (layer, bucket) with the final weights' entropy, sink, max and mass, and the
// base weights' after a bar when kept. `title` heads it.
void print_attn_stats_table(FILE* f, const std::vector<AttnStats>& layers, const char* title);

}  // namespace lssa
