"""Raw events -> implicit feedback: rating filter, k-core, contiguous ids, time-ordered histories."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from protocols.errors import InputError
from protocols.popularity import item_popularity  # noqa: F401 (its home moved; old imports work)
from protocols.types import Histories, Interactions, RawData

log = logging.getLogger(__name__)

# How repeated (user, item) events are handled (PROTOCOL.md, "Repeated items"):
#   first: each pair keeps its first event only; the task is the next new item, and full ranking
#          excludes the input history;
#   keep:  repeats stay; then no history item is excluded from anyone's candidates.
REPEATS = ("first", "keep")


def to_implicit(
    raw: RawData,
    min_rating: float | None = None,
    min_user_interactions: int = 0,
    min_item_interactions: int = 0,
    repeats: str = "first",
) -> Interactions:
    """Every event is a watch (or only ratings >= `min_rating`); `repeats` policy; optional
    k-core (counting the events that remain; at least the raw set's own); histories by time.

    Equal timestamps keep file order (stable sort), never item-id order: sorting ties by item id
    puts the target in a predictable place and inflates metrics.
    """
    frame = raw.frame
    stats = {"raw_interactions": len(frame)}
    if frame.attrs.get("clock"):  # e.g. "sequence position": the file has no timestamps
        stats["clock"] = frame.attrs["clock"]
    if min_rating is not None:
        if "rating" not in frame.columns:
            raise InputError(f"--min-rating needs ratings, but {raw.name} has no rating column")
        frame = frame[frame["rating"].to_numpy() >= min_rating]
        stats["after_min_rating"] = len(frame)
    if repeats not in REPEATS:
        raise InputError(f"unknown --repeats {repeats!r}; known: {', '.join(REPEATS)}")
    if repeats == "first":
        before = len(frame)
        frame = first_events(frame)
        stats["repeats_dropped"] = before - len(frame)
    frame = k_core(  # a recipe's k-core holds for what is evaluated, too
        frame, max(min_user_interactions, raw.min_user), max(min_item_interactions, raw.min_item)
    )
    stats["interactions"] = len(frame)
    if len(frame) == 0:
        raise InputError(f"no interactions left in {raw.name} after filtering")

    user_codes, user_ids = pd.factorize(frame["user"], sort=True)
    item_codes, item_ids = pd.factorize(frame["item"], sort=True)
    items = item_codes.astype(np.int64) + 1  # 0 is padding
    users = user_codes.astype(np.int64)
    timestamps = frame["timestamp"].to_numpy(dtype=np.int64)

    order = np.lexsort((timestamps, users))  # lexsort is stable: ties keep file order
    counts = np.bincount(users, minlength=len(user_ids))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    histories = Histories(indptr, items[order], timestamps[order])

    padded_ids = np.concatenate(
        [np.array([None], dtype=object), np.asarray(item_ids, dtype=object)]
    )
    titles, genres, genre_names = _item_metadata(raw.items, item_ids)
    return Interactions(
        name=raw.name,
        histories=histories,
        n_users=len(user_ids),
        n_items=len(item_ids),
        user_ids=np.asarray(user_ids),
        item_ids=padded_ids,
        item_titles=titles,
        item_genres=genres,
        genre_names=genre_names,
        stats=stats,
    )


def first_events(frame: pd.DataFrame) -> pd.DataFrame:
    """The first event (in time, ties in file order) of each (user, item) pair; file order kept."""
    order = np.argsort(frame["timestamp"].to_numpy(), kind="stable")  # ties keep file order
    repeat = frame.iloc[order].duplicated(["user", "item"], keep="first").to_numpy()
    keep = np.zeros(len(frame), dtype=bool)
    keep[order[~repeat]] = True
    return frame[keep]


def k_core(frame: pd.DataFrame, min_user: int, min_item: int) -> pd.DataFrame:
    """Drop users and items below the thresholds, repeatedly, until nothing changes."""
    if min_user <= 1 and min_item <= 1:
        return frame
    while True:
        user_counts = frame["user"].map(frame["user"].value_counts())
        item_counts = frame["item"].map(frame["item"].value_counts())
        keep = (user_counts >= min_user).to_numpy() & (item_counts >= min_item).to_numpy()
        if keep.all():
            return frame
        frame = frame[keep]


def _item_metadata(items: pd.DataFrame | None, item_ids: pd.Index):
    """Titles [n+1] and a binary genre matrix [n+1, G] aligned with item indices (row 0 padding)."""
    if items is None:
        return None, None, ()
    known = items.reindex(item_ids)
    titles = np.concatenate([[""], known["title"].fillna("").astype(str).to_numpy()])
    genre_lists = [g if isinstance(g, tuple) else () for g in known["genres"]]
    genre_names = tuple(sorted({g for gs in genre_lists for g in gs}))
    if not genre_names:
        return titles, None, ()
    column = {g: c for c, g in enumerate(genre_names)}
    rows = [i + 1 for i, gs in enumerate(genre_lists) for _ in gs]
    cols = [column[g] for gs in genre_lists for g in gs]
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(item_ids) + 1, len(genre_names)),
    )
    return titles, matrix, genre_names


def fingerprint(data: Interactions) -> dict:
    """Counts and a content hash of the canonical interactions: equal data, equal fingerprint."""
    digest = hashlib.sha256()
    h = data.histories
    for array in (h.indptr, h.items, h.timestamps):
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    digest.update("\n".join(map(str, data.item_ids[1:])).encode())
    digest.update("\n".join(map(str, data.user_ids)).encode())
    return {
        "name": data.name,
        "users": data.n_users,
        "items": data.n_items,
        "interactions": data.n_interactions,
        "sha256": digest.hexdigest()[:16],
    }
