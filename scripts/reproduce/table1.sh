#!/usr/bin/env bash
# Reproduces the paper's Table 1 (is non-negativity needed? softmax, inverse, re-centered, re-centered + l1):
# trains every row of configs/paper/table1/ at the chosen scale, evaluates at 1x..16x the training
# length and writes results/table1/<scale>/ (results.csv, table1.md, PNG plots). Rerunning skips what is done.
#
#   scripts/reproduce/table1.sh [--scale tiny|small|full] [reproduce.py options]   (--help lists them)
#   scripts/reproduce/table1.sh --scale full --launcher "mpirun -np 8" --train-data 'DATA/fineweb_train_*.bin' --val-data 'DATA/fineweb_val_*.bin'
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/reproduce.py" table1 "$@"
