"""The tuning table: per model its default and tuned validation value, the default's and the
tuned configuration's test metrics, whether tuning changed the test metric significantly (paired
over test users, Holm-corrected across models), best parameters, trials and wall time
(OUT/tuning.md/.tex/.csv), generated from best.json and the test runs' records."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tabulate import tabulate

from benchmark import records
from benchmark.report.render import escape
from benchmark.report.significance import TEST_NAME, compare_to, holm
from benchmark.report.tables import summary

TEST_COLUMNS = ("full:NDCG@10", "full:HR@10", "sampled:NDCG@10")


def write_tables(out: Path, best: dict, manifest: dict) -> None:
    metric = next(iter(best["models"].values()))["metric"]
    tests = tuple(dict.fromkeys((metric, *TEST_COLUMNS)))
    headers = [
        "model",
        f"default valid {metric}",
        f"tuned valid {metric}",
        f"default test {metric}",
        *(f"tuned test {c}" for c in tests),
        f"p, tuned vs default test {metric}",
        "best parameters",
        "trials (pruned)",
        "epochs trained",
        "wall time",
    ]
    p_values = tuning_p_values(out, best, metric)
    rows = [
        _row(out, model, entry, tests, p_values.get(model))
        for model, entry in sorted(best["models"].items())
    ]
    caption = _caption(best, manifest) + f" p: {TEST_NAME}; — where the default was chosen."
    markdown = tabulate(rows, headers, tablefmt="github", disable_numparse=True)
    latex = tabulate(rows, headers, tablefmt="latex_booktabs", disable_numparse=True)
    latex = (
        "% needs \\usepackage{booktabs} and graphicx\n\\begin{table}[t]\n\\centering\n\\caption{"
        + escape(caption)
        + "}\n\\resizebox{\\linewidth}{!}{%\n"
        + latex.replace("±", "$\\pm$")
        + "}\n\\end{table}\n"
    )
    buffer = io.StringIO()
    csv.writer(buffer).writerows([headers, *rows])
    records.write_text(out / "tuning.md", f"{caption}\n\n{markdown}\n")
    records.write_text(out / "tuning.tex", latex)
    records.write_text(out / "tuning.csv", buffer.getvalue())


def tuning_p_values(out: Path, best: dict, metric: str) -> dict[str, float]:
    """Per model whose choice is not its default: the p-value of its tuned against its default
    test runs on `metric`, users paired, Holm-adjusted across those models."""
    protocol, name = metric.split(":")
    raw = {}
    for model, entry in best["models"].items():
        tuned = existing_records(out, entry.get("test_runs", []))
        default = existing_records(out, entry.get("default_test_runs", []))
        chose_default = set(entry.get("default_test_runs", [])) <= set(entry["test_runs"])
        if tuned and default and not chose_default:  # else the same runs, nothing to test
            groups = {"tuned": tuned, "default": default}
            p_value = compare_to(groups, "default", name, protocol, "test").get("tuned")
            if p_value is not None:  # None: no test user in common
                raw[model] = p_value
    return holm(raw)


def _row(out: Path, model: str, entry: dict, tests, p_value: float | None) -> list[str]:
    tuned = existing_records(out, entry.get("test_runs", []))
    default = existing_records(out, entry.get("default_test_runs", []))
    cells = [_test_cell(default, tests[0])] + [_test_cell(tuned, column) for column in tests]
    params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(entry["params"].items()))
    return [
        model,
        _number(entry["default_valid"]),
        _number(entry["valid"]),
        *cells,
        "—" if p_value is None else f"{p_value:.3g}",
        params or "(nothing to tune)",
        f"{entry['trials']} ({entry['pruned']})",
        str(entry.get("epoch_units", "—")),  # summed over the trials; 0: not trained in epochs
        f"{entry['wall_seconds'] / 60:.1f} min",
    ]


def existing_records(out: Path, run_ids: list[str]) -> list:
    """The records of `run_ids` in OUT that exist, in that order."""
    paths = [records.record_path(out, run_id) for run_id in run_ids]
    return [records.read_record(path) for path in paths if path.exists()]


def _test_cell(runs: list, column: str) -> str:
    found = summary(runs, column, "test")
    return "—" if found is None else _mean_std(found.mean, found.std, found.n)


PRUNING = {
    "MedianPruner": "median pruning",
    "HyperbandPruner": "Hyperband pruning over epochs",
    "SuccessiveHalvingPruner": "successive halving over epochs",
}


def _caption(best: dict, manifest: dict) -> str:
    config = manifest["config"]
    entry = next(iter(best["models"].values()))
    return (
        f"Tuned vs default on {config['dataset']}"
        + (f" (ratings >= {config['min_rating']:g})" if config.get("min_rating") else "")
        + f": {budget_text(best)}; test = mean ± std over "
        + f"{len(entry.get('test_runs', []))} seed(s)."
    )


def budget_text(best: dict) -> str:
    """The search's budget in words: objective, trials, sampler, pruner, epoch cap."""
    entry = next(iter(best["models"].values()))
    budgets = sorted({e["budget"] for e in best["models"].values() if e["params"]})
    caps = sorted({e["fixed"]["epochs"] for e in best["models"].values() if "epochs" in e["fixed"]})
    pruners = sorted({PRUNING[e["pruner"]["name"]] for e in best["models"].values()})
    return (
        f"objective {entry['metric']} on the validation split, "
        + f"{'/'.join(map(str, budgets)) or 1} trials per model (TPE, sampler seed "
        + f"{entry['sampler']['seed']}, {' / '.join(pruners)}, the default configuration first"
        + (f", deep models capped at {'/'.join(map(str, caps))} epochs" if caps else "")
        + ")"
    )


def _mean_std(mean: float, std: float | None, n: int) -> str:
    return f"{mean:.4f} ± {std:.4f}" if n > 1 else f"{mean:.4f}"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
