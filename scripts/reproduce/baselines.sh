#!/usr/bin/env bash
# Trains and evaluates the baselines that are NOT in the paper (configs/paper/baselines/: ssmax, softmax_qknorm,
# logn_softmax, at Table 4's recipe; docs/attention_variants.md) at the chosen scale, evaluates at 1x..16x the
# training length and writes results/baselines/<scale>/ (results.csv, baselines.md, PNG plots) to set beside
# results/table4/<scale>/. Optional rows: never part of table4.sh. Rerunning skips what is done.
#
#   scripts/reproduce/baselines.sh [--scale tiny|cpu|small|full] [reproduce.py options]   (--help lists them)
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/reproduce.py" baselines "$@"
