"""The tuning package: `python -m benchmark.tune` (the command), `search` (one Optuna study per
model, on validation only), `best` (OUT/best.json, written and read), `status`
(`python -m benchmark.tune.status OUT`) and `tables` (the tuning table).

Importing the package loads nothing heavy: `--tuned OUT` reads `best` without Optuna.
"""
