"""Data, splits, sequences, negative sampling, evaluation and metrics: the protocol, independent of models."""
