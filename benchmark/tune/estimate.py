"""The expected time of a tuning study (`benchmark.tune --estimate`), from `benchmark.cost`'s
measurements: each search's remaining trials and its test runs."""

from __future__ import annotations

from benchmark import cost, records
from benchmark.tune import search as tuning
from benchmark.tune.best import read_best


def estimate_searches(
    searches: list[tuning.Search],
    prepared: dict,
    seeds: list[int],
    default_seeds: list[int],
    jobs: int,
) -> dict:
    """The estimate of `benchmark.tune`: each search's remaining trials (timed at the default
    configuration, validation only; a sampled configuration may cost more or less; for a model
    trained in epochs, at the share of its epochs the pruner let such searches train,
    `TRAINED_SHARE`) and its test runs (the chosen configuration on `seeds`, the default on
    `default_seeds`, never pruned, less those recorded)."""
    from benchmark.pipeline import prepared_key

    models: dict[str, dict] = {}
    trial_work, test_units = 0.0, []
    with cost.worker_threads(jobs):
        for s in searches:
            name = s.base.model.name
            config = tuning.trial_config(s.base, {})
            ready = prepared[prepared_key(config)]
            model, fit = cost.fit_cost(config, ready, cost.history_folders(s.out))
            per_user = cost.seconds_per_user(config, model, ready)
            trial = fit.seconds + per_user * cost.users_ranked(ready, ("valid",))
            study = tuning.existing_study(s.out, name)
            done = 0 if study is None else sum(t.state in tuning.COUNTED for t in study.trials)
            remaining = max(s.trials - done, 0)
            prunable = fit.epochs is not None and remaining > 1  # one trial alone is never pruned
            share = tuning.TRAINED_SHARE[s.pruner] if prunable else 1.0
            scoring = per_user * cost.users_ranked(ready)
            tests, reused = tests_left(s, seeds, default_seeds)
            test_costs = [scoring] * reused + [fit.seconds + scoring] * (tests - reused)
            entry = models.setdefault(name, cost.new_entry())
            cost.add_fit(entry, fit, True)
            entry.update(trials=remaining, trial_seconds=trial, trained_share=share)
            entry.update(test_runs=tests, reused_test_runs=reused, test_scoring_seconds=scoring)
            entry["search_seconds"] = remaining * trial * share
            entry["test_seconds"] = sum(test_costs)
            entry["seconds"] = entry["search_seconds"] + entry["test_seconds"]
            trial_work += entry["search_seconds"]
            test_units += test_costs
    # trials of every model share the workers; the test runs follow as units
    wall = trial_work / max(jobs, 1) + cost.wall_seconds(test_units, jobs)
    device = searches[0].base.device if searches else "cpu"
    return {**cost.summary("tune", models, [], jobs, device), "wall_seconds": wall}


def tests_left(s: tuning.Search, seeds: list[int], default_seeds: list[int]) -> tuple[int, int]:
    """(Test runs of a search without a record: the default's on `default_seeds`, and the
    chosen configuration's on `seeds`, counted as its own while it is not chosen yet, none
    beyond the default's when it is the default; how many of them are on the search's seed,
    where the trial's model is scored and nothing is fitted)."""
    chosen = read_best(s.out)["models"].get(s.base.model.name, {}).get("params")
    configs = tuning.test_configs(s, {}, default_seeds) + (
        tuning.test_configs(s, chosen, seeds) if chosen is not None else []
    )
    missing = {
        c.run_id(): c for c in configs if not records.record_path(s.out, c.run_id()).exists()
    }
    unknown = seeds if s.space and chosen is None else []
    reused = sum(c.seed == s.seed for c in missing.values()) + unknown.count(s.seed)
    return len(missing) + len(unknown), reused
