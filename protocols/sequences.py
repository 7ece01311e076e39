"""Fixed-length sequences, built once as integer arrays (no per-sample Python work in training)."""

from __future__ import annotations

import numpy as np

from protocols.errors import InputError
from protocols.types import PAD, Histories


def last_items(h: Histories, seq_len: int) -> np.ndarray:
    """[R, seq_len] int64: each row's last seq_len items, left-padded with 0.

    h = (a b c d e), seq_len 3 -> [c d e];  h = (a), seq_len 3 -> [0 0 a]
    """
    _check_seq_len(seq_len)
    if len(h.items) == 0:
        return np.zeros((h.n_rows, seq_len), dtype=np.int64)
    index = h.indptr[1:, None] - seq_len + np.arange(seq_len)  # [R, L] positions in h.items
    valid = index >= h.indptr[:-1, None]
    return np.where(valid, h.items[np.where(valid, index, 0)], PAD).astype(np.int64)


def training_windows(
    h: Histories, seq_len: int, all_windows: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-item targets [S, seq_len] for training with a loss at every position.

    For a history x1 .. xn the latest window reads x(n-L) .. x(n-1) and predicts
    x(n-L+1) .. xn, one target per position. With `all_windows` earlier windows step back by
    L so every event is a target exactly once (except x1, which has nothing before it):

        x1 x2 x3 x4 x5 x6 x7, L = 3:
        inputs  [x1 x2 x3] -> targets [x2 x3 x4]   (padding where the window runs off the start)
        inputs  [x4 x5 x6] -> targets [x5 x6 x7]

    Positions with no input have input 0 and target 0 (the trainer ignores target 0).
    Rows with fewer than two events give no window.
    """
    _check_seq_len(seq_len)
    lengths = h.lengths
    n_windows = np.where(lengths >= 2, -(-(lengths - 1) // seq_len), 0)
    if not all_windows:
        n_windows = np.minimum(n_windows, 1)
    row = np.repeat(np.arange(h.n_rows), n_windows)  # [S]
    first_window = np.cumsum(n_windows) - n_windows
    back = np.arange(len(row)) - np.repeat(first_window, n_windows)  # 0 = latest window
    end = h.indptr[row + 1] - back * seq_len  # one past each window's last target
    target_pos = end[:, None] - seq_len + np.arange(seq_len)  # [S, L]
    input_pos = target_pos - 1
    valid = input_pos >= h.indptr[row, None]
    inputs = np.where(valid, h.items[np.where(valid, input_pos, 0)], PAD)
    targets = np.where(valid, h.items[np.where(valid, target_pos, 0)], PAD)
    return inputs.astype(np.int64), targets.astype(np.int64)


def _check_seq_len(seq_len: int) -> None:
    if seq_len < 1:
        raise InputError(f"--seq-len must be >= 1, got {seq_len}")
