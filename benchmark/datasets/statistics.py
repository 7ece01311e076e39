"""What a data set holds, on the data as a run would see it: size, history lengths, density,
repeated pairs and equal timestamps (`python -m benchmark.datasets info`)."""

from __future__ import annotations

import numpy as np

from protocols.types import Interactions


def statistics(data: Interactions) -> dict[str, float]:
    """Size, history length, density, repeats and equal timestamps of canonical interactions."""
    h = data.histories
    lengths = h.lengths
    user_of_event = np.repeat(np.arange(data.n_users), lengths)
    pair = user_of_event * (data.n_items + 1) + h.items  # one code per (user, item)
    _, counts = np.unique(pair, return_counts=True)
    same_user = np.diff(user_of_event) == 0
    equal_time = same_user & (np.diff(h.timestamps) == 0)
    return {
        "users": data.n_users,
        "items": data.n_items,
        "interactions": data.n_interactions,
        "mean history length": float(lengths.mean()),
        "median history length": float(np.median(lengths)),
        "density": data.n_interactions / (data.n_users * data.n_items),
        "repeated (user, item) pairs": int((counts > 1).sum()),
        "repeat events (dropped by --repeats first)": int((counts - 1).sum()),
        "equal-timestamp share": float(equal_time.sum() / max(1, same_user.sum())),
    }
