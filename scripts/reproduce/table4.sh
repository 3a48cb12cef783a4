#!/usr/bin/env bash
# Reproduces the paper's Table 4 (softmax-free attentions at 1x-16x the training length, and the re-weighted blocks p = 3, 15):
# trains every row of configs/paper/table4/ at the chosen scale, evaluates at 1x..16x the training
# length and writes results/table4/<scale>/ (results.csv, table4.md, PNG plots). Rerunning skips what is done.
#
#   scripts/reproduce/table4.sh [--scale tiny|small|full] [reproduce.py options]   (--help lists them)
#   scripts/reproduce/table4.sh --scale full --launcher "mpirun -np 8" --train-data 'DATA/fineweb_train_*.bin' --val-data 'DATA/fineweb_val_*.bin'
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/reproduce.py" table4 "$@"
