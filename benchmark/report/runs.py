"""Which runs belong together in a table: row labels and order, comparable settings, data set
labels, `--only` selection, and the check that a table holds one version of each model's code.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

from benchmark import records
from benchmark.records import RunRecord
from protocols.errors import InputError

log = logging.getLogger("benchmark.report")


def label(record: RunRecord) -> str:
    """The model and every parameter that differs from its defaults, and its re-ranker
    (`gru (xquad=0.5)`)."""
    params = dict(record.config.model.params)
    shown = {k: params[k] for k in record.config.model.changed}
    name, strength = rerank_of(record)
    if name:
        shown[name] = strength
    extra = ",".join(f"{k}={_value(v)}" for k, v in sorted(shown.items()))
    return record.model + (f" ({extra})" if extra else "")


def rerank_of(record: RunRecord) -> tuple[str, float]:
    """(re-ranker, strength) of a run; ("", 0.0) for a plain one."""
    return record.config.protocol.reranker


def _value(v) -> str:
    return (
        ",".join(map(str, v))
        if isinstance(v, tuple)
        else f"{v:g}"
        if isinstance(v, float)
        else str(v)
    )


def by_label(recs: list[RunRecord], order: tuple[str, ...] = ()) -> dict[str, list[RunRecord]]:
    """Runs of one model with one set of parameters (its seeds), in row order: the models named
    by `order` first (report --order), then baselines before the others, each kind by the
    models' declared `display_order`, then by name."""
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for r in recs:
        groups[label(r)].append(r)

    def rank(item):
        first = item[1][0]
        named = order.index(first.model) if first.model in order else len(order)
        kind = (not first.is_baseline, first.display_order, first.model)
        return (named, *kind, rerank_of(first), item[0])

    return dict(sorted(groups.items(), key=rank))


def setting_key(r: RunRecord) -> str:
    """Runs are comparable when every data and protocol option agrees but the data set (its
    name and rating filter, which make the column groups), the seed and the re-ranker (a row
    label)."""
    d, p = r.config.data, r.config.protocol
    return json.dumps(
        [d.repeats, d.min_user_interactions, d.min_item_interactions, d.split,
         d.temporal_quantile if d.split == "temporal" else None, d.targets_per_user,
         p.seq_len, p.num_negatives, p.negative_sampler, p.negatives_sha256]
    )  # fmt: skip


def sampled_text(r: RunRecord) -> str:
    """The sampled candidates in words: drawn negatives, or a file's fixed ones."""
    p = r.config.protocol
    if p.negatives_file is None:
        return f"{p.num_negatives} {p.negative_sampler} negatives"
    if p.negatives_file == "published":
        return f"the {p.num_negatives} published negatives per user of {r.dataset['name']}"
    return f"the {p.num_negatives} fixed negatives per user of {Path(p.negatives_file).name}"


def full_candidates_text(repeats: str) -> str:
    """What full ranking ranks, in words: the history is excluded unless repeats are kept."""
    return "every item" if repeats == "keep" else "every item but the input history"


def setting_text(r: RunRecord) -> str:
    """The options of `setting_key` in words, for captions and the tidy CSV."""
    d, p = r.config.data, r.config.protocol
    parts = [
        f"{d.split} split"
        + (f" at quantile {d.temporal_quantile:g}" if d.split == "temporal" else "")
    ]
    if d.targets_per_user > 1:
        parts.append(f"{d.targets_per_user} targets per user")
    parts.append(f"repeats {d.repeats}")
    if d.min_user_interactions > 1 or d.min_item_interactions > 1:
        parts.append(f"k-core users {d.min_user_interactions}, items {d.min_item_interactions}")
    parts.append(f"input length {p.seq_len}")
    return ", ".join(parts)


def dataset_label(r: RunRecord) -> str:
    name = r.dataset["name"]
    if r.config.data.min_rating is not None:
        name += f" (r>={r.config.data.min_rating:g})"
    return name


def grouped(recs: list[RunRecord]) -> dict[str, dict[str, list[RunRecord]]]:
    """{setting: {data set label: runs}}, data sets in order of appearance."""
    out: dict[str, dict[str, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in recs:
        out[setting_key(r)][dataset_label(r)].append(r)
    return out


def check_code(recs: list[RunRecord]) -> None:
    """One code fingerprint per model (and one package version) in a table, or an error
    naming the runs that differ."""
    versions = {r.code.split(" / ")[0] for r in recs}
    per_model: dict[str, dict[str, str]] = defaultdict(dict)
    for r in recs:
        per_model[r.model].setdefault(r.code or "(none: before schema 3)", r.run_id)
    mixed = {m: codes for m, codes in per_model.items() if len(codes) > 1}
    if mixed or len(versions) > 1:
        model, codes = next(iter(mixed.items())) if mixed else ("", {})
        detail = "; ".join(f"{run} has {code}" for code, run in codes.items()) or ", ".join(
            sorted(versions)
        )
        raise InputError(
            f"runs from different code{' of ' + model if model else ''}: {detail}; re-run the "
            "old ones (benchmark.run does, the run id includes the code) or pass --allow-mixed"
        )


def select(recs: list[RunRecord], conditions: list[str]) -> list[RunRecord]:
    """Records whose configuration matches every `key=value` (e.g. alpha=0, seed=1, seq_len=50;
    a model parameter such as epochs=5)."""
    for condition in conditions:
        key, eq, wanted = condition.partition("=")
        if not eq:
            raise InputError(f"--only expects key=value, got {condition!r}")
        recs = [r for r in recs if _matches(_option(r, key), wanted)]
    return recs


def _option(r: RunRecord, key: str):
    c = r.config
    for part in (c.data, c.protocol, c):
        if hasattr(part, key):
            return getattr(part, key)
    return dict(c.model.params).get(key)


def _matches(value, wanted: str) -> bool:
    try:
        return float(value) == float(wanted)
    except (TypeError, ValueError):
        return str(value) == wanted


def latest_code(recs: list[RunRecord]) -> list[RunRecord]:
    """Of runs identical but for the code they ran (a model or protocol changed since, and the
    run was made again beside the old record), the one made last; the others are left out,
    logged."""
    newest: dict[str, RunRecord] = {}
    for r in recs:
        key = r.config.to_dict(identity=True)
        key["model"].pop("code")
        key["protocol"].pop("rerank_code", None)
        key["dataset"] = [r.dataset.get("name"), r.dataset.get("sha256")]
        key = json.dumps(key, sort_keys=True, default=str)
        if key not in newest or r.created > newest[key].created:
            newest[key] = r
    kept = {r.run_id for r in newest.values()}
    left = sorted(r.run_id for r in recs if r.run_id not in kept)
    if left:
        log.info("%d run(s) made again with newer code left out: %s", len(left), ", ".join(left))
    return [r for r in recs if r.run_id in kept]


def read_all(folders: list[Path], only=(), allow_mixed: bool = False) -> list[RunRecord]:
    found = {r.run_id: r for f in folders for r in records.read_records(f)}  # each run once
    recs = select(latest_code(list(found.values())), list(only))
    if not recs:
        where = ", ".join(str(f / "runs") for f in folders)
        raise InputError(f"no run records under {where}" + (" match --only" if only else ""))
    check_data(recs)
    if not allow_mixed:
        check_code(recs)
    return recs


def check_data(recs: list[RunRecord]) -> None:
    """One content per data set label: runs of two different files (or of a file that changed)
    under one name are never pooled as seeds or compared in one column; an error names both."""
    seen: dict[str, RunRecord] = {}
    for r in recs:
        first = seen.setdefault(dataset_label(r), r)
        if first.dataset["sha256"] != r.dataset["sha256"]:
            raise InputError(
                f"two different data sets are both labelled {dataset_label(r)!r}: "
                f"{_data_text(first)} and {_data_text(r)}; report them separately (one folder "
                f"each, or --only dataset=...)"
            )


def _data_text(r: RunRecord) -> str:
    return f"{r.config.data.dataset} (content {r.dataset['sha256']}, run {r.run_id})"
