#!/usr/bin/env bash
# The whole `cpu`-scale study (docs/reproduce.md): Table 4 (every row, both re-weighting protocols,
# 2-3 seeds) and the Figure 2 sweep (post hoc: every p; trained: p = 1, 3, 7, 15), in the order that
# makes partial results most informative: softmax, LSSA and LSSAR trained with p = 15 first (one
# seed), then the post-hoc p sweeps of those checkpoints, then their other seeds, then every other
# row, then the Figure 2 trained p values. Each stage is a reproduce.py call: resumable (finished
# runs and evaluations are skipped, interrupted runs resume from their last checkpoint), so the
# script can be stopped and restarted at any time. A few hours of CPU in all; run it under nice:
#
#   nice -n 19 scripts/reproduce/cpu_study.sh [reproduce.py options, e.g. --runs-dir DIR --jobs 3 --threads 1]
#
# then `scripts/reproduce/table4.sh --scale cpu --report-only` (and figure2.sh) writes the tables of
# whatever has finished into results/.
set -euo pipefail
R=$(dirname "${BASH_SOURCE[0]}")/reproduce.py
PY=/usr/bin/python3
main=(softmax lssa trained_p15/lssar)
stage() { echo "== cpu_study: $* ($(date -u +%H:%M:%S))"; "$PY" "$R" "$@" || echo "== cpu_study: stage exited $? (continuing)"; }
stage table4 --scale cpu --rows "${main[@]}" --max-seeds 1 "$@"
stage figure2 --scale cpu --rows softmax lssa --max-seeds 1 "$@"
stage table4 --scale cpu --rows "${main[@]}" "$@"
stage table4 --scale cpu --max-seeds 1 "$@"
stage table4 --scale cpu "$@"
stage figure2 --scale cpu "$@"
echo "== cpu_study: done ($(date -u +%H:%M:%S))"
