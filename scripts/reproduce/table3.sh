#!/usr/bin/env bash
# Reproduces the paper's Table 3 (phi(s) / sum |phi(s)| for eight activations phi):
# trains every row of configs/paper/table3/ at the chosen scale, evaluates at 1x..16x the training
# length and writes results/table3/<scale>/ (results.csv, table3.md, PNG plots). Rerunning skips what is done.
#
#   scripts/reproduce/table3.sh [--scale tiny|small|full] [reproduce.py options]   (--help lists them)
#   scripts/reproduce/table3.sh --scale full --launcher "mpirun -np 8" --train-data 'DATA/fineweb_train_*.bin' --val-data 'DATA/fineweb_val_*.bin'
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/reproduce.py" table3 "$@"
