#!/usr/bin/env bash
# Reproduces the paper's Figure 2 (the re-weighting exponent p swept on the Table 4 LSSA and Softmax checkpoints,
# trained here unless Table 4 already did) from configs/paper/figure2/ at the chosen scale, evaluates at 1x..16x the training
# length and writes results/figure2/<scale>/ (results.csv, figure2.md, PNG plots). Rerunning skips what is done.
#
#   scripts/reproduce/figure2.sh [--scale tiny|small|full] [reproduce.py options]   (--help lists them)
#   scripts/reproduce/figure2.sh --scale full --launcher "mpirun -np 8" --train-data 'DATA/fineweb_train_*.bin' --val-data 'DATA/fineweb_val_*.bin'
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/reproduce.py" figure2 "$@"
