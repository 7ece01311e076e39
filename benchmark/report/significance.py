"""Paired significance of per-user metrics: Wilcoxon signed-rank tests with Holm's correction."""

from __future__ import annotations

import numpy as np
from scipy.stats import wilcoxon

from benchmark.records import RunRecord
from protocols import metrics

TEST_NAME = "two-sided paired Wilcoxon signed-rank test over users, Holm-corrected across models"


def per_user_metric(recs: list[RunRecord], metric: str, protocol: str, split: str):
    """(users, values): the per-user metric of one model, averaged over its seeds' runs."""
    by_user: dict[int, list[float]] = {}
    for r in recs:
        ranks = r.ranks()
        users = ranks[f"users.{split}"]
        ks = (int(metric.split("@")[1]),) if "@" in metric else (10,)
        values = metrics.per_user(ranks[f"{protocol}.{split}"], ks)[metric]
        for u, v in zip(users.tolist(), values.tolist(), strict=True):
            by_user.setdefault(u, []).append(v)
    users = np.array(sorted(by_user))
    return users, np.array([np.mean(by_user[u]) for u in users])


def paired_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired samples; 1.0 when they are identical."""
    if np.allclose(a, b):
        return 1.0
    return float(wilcoxon(a, b, zero_method="wilcox", alternative="two-sided").pvalue)


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1)."""
    order = sorted(p_values, key=p_values.get)
    adjusted, running = {}, 0.0
    for i, name in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * p_values[name]))
        adjusted[name] = running
    return adjusted


def compare_to(
    groups: dict[str, list[RunRecord]], reference: str, metric: str, protocol: str, split: str
) -> dict[str, float]:
    """Holm-adjusted p-values of every label against `reference` (users paired by id)."""
    ref_users, ref_values = per_user_metric(groups[reference], metric, protocol, split)
    raw = {}
    for label, recs in groups.items():
        if label == reference:
            continue
        users, values = per_user_metric(recs, metric, protocol, split)
        common, ia, ib = np.intersect1d(users, ref_users, return_indices=True)
        if len(common) == 0:
            continue
        raw[label] = paired_p_value(values[ia], ref_values[ib])
    return holm(raw)
