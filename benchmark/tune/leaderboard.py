"""The tuned leaderboard: one study file, one command, the tables to commit.

    python -m benchmark.tune.leaderboard studies/leaderboard.toml              # make leaderboard
    python -m benchmark.tune.leaderboard studies/leaderboard.toml --estimate   # its cost first
    python -m benchmark.tune.leaderboard studies/leaderboard.toml --only s3rec-lastfm --jobs 2

The file names the data sets (`[[datasets]]`, each with a `name` and the data options of
`benchmark.tune`), and for all of them the models, the budget (`trials`, `epochs`, `pruner`) and
the `seeds` of the test runs; any other key is a `benchmark.tune` option too. For each data set in
turn, `benchmark.tune` searches every model on validation into OUT/<name> and fits each model's
chosen configuration once per seed; finished trials and test runs are never redone, so an
interrupted leaderboard resumes with the same command. Then OUT/<name>/leaderboard.md/.csv: the
chosen configurations on test (mean ± sd over the seeds, significance against the best
baseline) and, where `published.csv` has figures for that data version, the papers' beside ours.
Every data set, model and option of the file is checked before anything runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Any

from benchmark import records
from benchmark.commands import (
    STOPPED,
    OneLineParser,
    deadline_after,
    guarded,
    past,
    setup_logging,
)
from benchmark.experiment import read_toml
from benchmark.report.published import render_comparison
from benchmark.report.render import csv_text, markdown
from benchmark.report.tables import MAIN_COLUMNS, TIDY_HEADER, build_tables
from benchmark.tune.best import all_test_runs, read_best, search_seconds
from benchmark.tune.tables import budget_text, existing_records
from protocols.errors import InputError

LEADERBOARD = "leaderboard"
log = logging.getLogger("benchmark.tune.leaderboard")


def read_study(path: Path) -> dict[str, Any]:
    study = read_toml(path, str(path))
    datasets = study.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise InputError(f"{path}: no [[datasets]] (each with a name and a dataset)")
    names = [d.get("name") for d in datasets]
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise InputError(f"{path}: every [[datasets]] entry needs its own `name`")
    if "seeds" in study and not list(study["seeds"]):
        raise InputError(f"{path}: `seeds` is empty; give at least one")
    return study


def chosen(entries: list[dict[str, Any]], only: str | None, path: Path) -> list[dict[str, Any]]:
    """The [[datasets]] entries `--only` names, in the file's order (all without it)."""
    if only is None:
        return entries
    wanted = [n for n in only.split(",") if n]
    unknown = sorted(set(wanted) - {e["name"] for e in entries})
    if unknown or not wanted:
        names = ", ".join(e["name"] for e in entries)
        raise InputError(f"--only {only}: not a data set of {path} (it has {names})")
    return [e for e in entries if e["name"] in wanted]


def tune_argv(study: dict[str, Any], entry: dict[str, Any], out: Path) -> list[str]:
    """The `benchmark.tune` command line of one data set: the file's options, the entry's
    data options over them, OUT/<name> as the output folder."""
    options = {k: v for k, v in study.items() if k not in ("datasets", "out")}
    options.update({k: v for k, v in entry.items() if k != "name"})
    argv = []
    for key, value in options.items():
        if isinstance(value, bool):
            argv += [f"--{key.replace('_', '-')}"] if value else []
            continue
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        argv += [f"--{key.replace('_', '-')}", text]
    return [*argv, "--out", str(out / entry["name"])]


def check(argv: list[str]) -> None:
    """Everything `benchmark.tune` would refuse, refused now: options, models, budget, seeds,
    data (each file read and fingerprinted). Writes nothing."""
    from benchmark.experiment import early_options
    from benchmark.tune import command

    args = command.parser().parse_args(argv)
    values = command.options(args, early_options(argv))
    command.identified(command.build_searches(args, values))


def leaderboard_parts(folder: Path) -> tuple[list[str], list[dict], dict]:
    """One tuned data set's leaderboard: ([the budget and cost in words, the chosen
    configurations' test table], its tidy rows, the published figures beside ours as
    `render_comparison` returns them). A row is named by its model alone: each model
    has one (chosen) configuration here, its parameters in the folder's tuning.md."""
    best = read_best(folder)
    tests = existing_records(folder, all_test_runs(best))  # the chosen's and the defaults'
    recs = chosen_records(best, tests)
    if not recs:
        raise InputError(f"{folder}: no tuned test runs to tabulate")
    parts, tidy = [_about(folder, best, tests)], []
    for name, table, rows in build_tables(recs, MAIN_COLUMNS, "test"):
        if name == "table":  # the main table; cost and the others stay in tuning's folder
            parts.append(markdown(table))
            tidy += rows
    return parts, tidy, render_comparison(recs, MAIN_COLUMNS[:2])


def write_leaderboard(folder: Path) -> str:
    """leaderboard.md/.csv (and published.csv) of one tuned data set."""
    parts, tidy, comparison = leaderboard_parts(folder)
    text = "\n".join([*parts, comparison["md"]])
    records.write_text(folder / f"{LEADERBOARD}.md", text)
    records.write_text(folder / f"{LEADERBOARD}.csv", csv_text(tidy, TIDY_HEADER))
    if "csv" in comparison:
        records.write_text(folder / "published.csv", comparison["csv"])
    return text


def chosen_records(best: dict, tests: list[records.RunRecord]) -> list[records.RunRecord]:
    """The chosen configurations' test runs among `tests` (best.json's `best`), each named by
    its model alone."""
    chosen = {i for e in best["models"].values() for i in e.get("test_runs", [])}
    return [_named_by_model(r) for r in tests if r.run_id in chosen]


def _named_by_model(record: records.RunRecord) -> records.RunRecord:
    model = dataclasses.replace(record.config.model, changed=())
    return dataclasses.replace(record, config=dataclasses.replace(record.config, model=model))


def _about(folder: Path, best: dict, fits: list[records.RunRecord]) -> str:
    """How the configurations were chosen, and what the whole study cost (`fits`: its test
    runs)."""
    searched = sum(search_seconds(e) for e in best["models"].values())
    tested = sum(r.timings["fit_seconds"] + r.timings["eval_seconds"] for r in fits)
    tests = {r.run_id for r in fits}
    wrote = [e for e in records.read_provenance(folder) if tests & set(e["runs"])]
    devices = " / ".join(sorted({e["device"] for e in wrote})) or "an unrecorded device"
    return (
        f"Every model tuned with the same budget: {budget_text(best)}; each chosen "
        f"configuration fitted once per seed and scored on test (its parameters, the default's "
        f"test scores and the search's cost per model in tuning.md). Cost on {devices}: the "
        f"searches {searched / 60:.1f} min, the {len(fits)} test runs (chosen and default "
        f"configurations) {tested / 60:.1f} min.\n"
    )


@guarded
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m benchmark.tune.leaderboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("study", type=Path, help="the study file (TOML)")
    parser.add_argument("--estimate", action="store_true", help="print each data set's cost only")
    parser.add_argument(
        "--only", metavar="NAME[,NAME]", help="these data sets of the file (their `name`s) only"
    )
    parser.add_argument(
        "--jobs", type=int, help="trials and test runs at once (the file's `jobs`, else 1)"
    )
    parser.add_argument(
        "--stop-after",
        type=float,
        metavar="MINUTES",
        help="start no trial or test run after MINUTES (those running finish; exit code 75; "
        "the same command resumes); 0 starts nothing and only scores the kept fitted models",
    )
    parser.add_argument(
        "--restart",
        metavar="MODEL[,MODEL]",
        default="",
        help="discard these models' searches and search them again, as benchmark.tune --restart "
        "(after their code or space changed); this sitting only: a resumed one must not repeat it",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    stop_at = deadline_after(args.stop_after)
    setup_logging(args.verbose)
    study = read_study(args.study)
    if args.jobs is not None:  # N workers share each search (TPE then samples with fewer
        study["jobs"] = args.jobs  # trials finished, so it may choose otherwise than one)
    out = Path(study.get("out", "results/leaderboard"))
    entries = chosen(study["datasets"], args.only, args.study)
    restart = ["--restart", args.restart] if args.restart else []
    runs = [(entry["name"], [*tune_argv(study, entry, out), *restart]) for entry in entries]
    for _, tune_args in runs:  # all of it checked before anything runs
        check(tune_args)
    from benchmark.tune.command import main as tune

    stopped = False
    for name, tune_args in runs:
        if stop_at is not None and not args.estimate:  # what is left of it, for this data set
            if past(stop_at) and not (out / name).exists():  # nothing of it to score either
                log.warning("stopped at --stop-after before %s; the same command resumes", name)
                stopped = True
                continue
            # past the time, a begun data set still scores its kept models (nothing starts)
            tune_args = [*tune_args, "--stop-after", str(max(0.0, stop_at - time.time()) / 60)]
        code = tune([*tune_args, "--estimate"] if args.estimate else tune_args)
        if code == STOPPED:
            stopped = True
            continue
        if code != 0:
            return code
        if not args.estimate:
            print(write_leaderboard(out / name))
    return STOPPED if stopped else 0


if __name__ == "__main__":
    sys.exit(main())
