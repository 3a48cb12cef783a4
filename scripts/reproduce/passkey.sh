#!/usr/bin/env bash
# Passkey retrieval of the paper's later versions (softmax vs LSSA vs LSSAR = LSSA at p = 15): trains
# Table 4's softmax and LSSA rows at the chosen scale (or reuses their checkpoints), runs
# eval_gpt2 --task passkey at 1x, 1.5x, 2x, 4x, 8x, 16x the training length and writes
# results/passkey/<scale>/ (results.csv, passkey.md, passkey_heatmap.png, passkey_vs_length.png).
#
#   scripts/reproduce/passkey.sh [--scale small|full] [reproduce.py options]   (--help lists them)
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/reproduce.py" passkey "$@"
