"""The expected time of a tuning study (`benchmark.tune --estimate`), from `benchmark.cost`'s
measurements: each search's remaining trials and its test runs."""

from __future__ import annotations

import dataclasses
from statistics import fmean as mean

from benchmark import cost, records
from benchmark.tune import search as tuning
from benchmark.tune.best import read_best

# Configurations drawn at random from a search space and timed beside the default: a trial's
# cost is their mean, since the search samples its configurations from the same space (the
# ML-100K leaderboard's trials took 2.6 and 3.0 times the default's seconds per epoch for cnn
# and esasrec, 0.8 times for gsasrec).
DRAWN = 3


@dataclasses.dataclass(frozen=True)
class Timed:
    """One configuration as the estimate measured it."""

    fit: cost.FitCost
    valid_scoring: float  # seconds to score the validation users (a trial's evaluation)
    scoring: float  # seconds to score validation and test users (a test run's evaluation)

    @property
    def trial(self) -> float:
        return self.fit.seconds + self.valid_scoring


def estimate_searches(
    searches: list[tuning.Search],
    prepared: dict,
    seeds: list[int],
    default_seeds: list[int],
    jobs: int,
) -> dict:
    """The estimate of `benchmark.tune`: each search's remaining trials (the default, then
    configurations of the space, priced at the mean of `DRAWN` timed ones, validation only; for
    a model trained in epochs, at the share of its epochs the pruner let such searches train,
    `TRAINED_SHARE`) and its test runs (the chosen configuration on `seeds`, timed once it is
    known, the default on `default_seeds`; never pruned, less those recorded)."""
    models: dict[str, dict] = {}
    trial_work, test_units = 0.0, []
    with cost.worker_threads(jobs):
        for s in searches:
            entry, test_costs = search_entry(s, prepared, seeds, default_seeds)
            models[s.base.model.name] = entry
            trial_work += entry["search_seconds"]
            test_units += test_costs
    # trials of every model share the workers; the test runs follow as units
    wall = trial_work / max(jobs, 1) + cost.wall_seconds(test_units, jobs)
    device = searches[0].base.device if searches else "cpu"
    return {**cost.summary("tune", models, [], jobs, device), "wall_seconds": wall}


def search_entry(
    s: tuning.Search, prepared: dict, seeds: list[int], default_seeds: list[int]
) -> tuple[dict, list[float]]:
    """(One search's estimate, the seconds of each of its test runs)."""
    name = s.base.model.name
    study = tuning.existing_study(s.out, name)
    done = 0 if study is None else sum(t.state in tuning.COUNTED for t in study.trials)
    remaining = max(s.trials - done, 0)
    defaults_left = int(done == 0 and remaining > 0)  # the default is trial 0
    chosen = read_best(s.out)["models"].get(name, {}).get("params")
    default = timed(s, {}, prepared)
    drawn = []
    if s.space and (remaining > defaults_left or chosen is None):
        drawn = [timed(s, params, prepared) for params in drawn_params(s.space, s.seed)]
    sampled = drawn or [default]
    trials = defaults_left * default.trial
    trials += (remaining - defaults_left) * mean(t.trial for t in sampled)
    prunable = default.fit.epochs is not None and remaining > 1  # one trial alone: never pruned
    share = tuning.TRAINED_SHARE[s.pruner] if prunable else 1.0

    (tests, reused), (chosen_tests, chosen_reused) = tests_left(s, chosen, seeds, default_seeds)
    if chosen is None:  # a configuration of the space, not known yet
        fit = dataclasses.replace(default.fit, seconds=mean(t.fit.seconds for t in sampled))
        picked = Timed(
            fit, mean(t.valid_scoring for t in sampled), mean(t.scoring for t in sampled)
        )
    elif chosen_tests and not is_default(s, chosen):
        picked = timed(s, chosen, prepared)
    else:
        picked = default
    test_costs = run_costs(default, tests, reused) + run_costs(picked, chosen_tests, chosen_reused)

    entry = cost.new_entry()
    cost.add_fit(entry, default.fit, True)
    entry.update(trials=remaining, trained_share=share, drawn=len(drawn))
    entry["trial_seconds"] = trials / remaining if remaining else default.trial
    entry["default_trial_seconds"] = default.trial
    entry["default_scoring_seconds"] = default.scoring
    entry["drawn_trial_seconds"] = [t.trial for t in drawn]
    entry.update(test_runs=tests + chosen_tests, reused_test_runs=reused + chosen_reused)
    entry["test_fit_seconds"], entry["test_scoring_seconds"] = picked.fit.seconds, picked.scoring
    entry["search_seconds"] = trials * share
    entry["test_seconds"] = sum(test_costs)
    entry["seconds"] = entry["search_seconds"] + entry["test_seconds"]
    return entry, test_costs


def timed(s: tuning.Search, params: dict, prepared: dict) -> Timed:
    """The search's configuration `params` fitted as `cost.fit_cost` times it, and scored."""
    from benchmark.pipeline import prepared_key

    config = tuning.trial_config(s.base, params)
    ready = prepared[prepared_key(config)]
    model, fit = cost.fit_cost(config, ready, cost.history_folders(s.out))
    per_user = cost.seconds_per_user(config, model, ready)
    valid = per_user * cost.users_ranked(ready, ("valid",))
    return Timed(fit, valid, per_user * cost.users_ranked(ready))


def is_default(s: tuning.Search, params: dict) -> bool:
    return tuning.trial_config(s.base, params) == tuning.trial_config(s.base, {})


def drawn_params(space: dict, seed: int) -> list[dict]:
    """`DRAWN` configurations drawn at random from `space`, as the search's start-up trials are."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [tuning.suggest(study.ask(), space) for _ in range(DRAWN)]


def run_costs(config: Timed, runs: int, reused: int) -> list[float]:
    """Seconds of `runs` test runs of one configuration, `reused` of them scoring a trial's model."""
    return [config.scoring] * reused + [config.fit.seconds + config.scoring] * (runs - reused)


def tests_left(
    s: tuning.Search, chosen: dict | None, seeds: list[int], default_seeds: list[int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Test runs of a search without a record, as (runs, those on the search's seed, where the
    trial's model is scored and nothing is fitted): the default's on `default_seeds`, then the
    chosen configuration's on `seeds` (`chosen`: its parameters, None while it is not chosen
    yet, then counted as its own; none beyond the default's when it is the default)."""
    defaults = missing(tuning.test_configs(s, {}, default_seeds), s.out)
    if chosen is None:
        unknown = seeds if s.space else []
        return counted(defaults, s.seed), (len(unknown), unknown.count(s.seed))
    picked = missing(tuning.test_configs(s, chosen, seeds), s.out)
    own = {run_id: c for run_id, c in picked.items() if run_id not in defaults}
    return counted(defaults, s.seed), counted(own, s.seed)


def missing(configs: list, out) -> dict:
    return {c.run_id(): c for c in configs if not records.record_path(out, c.run_id()).exists()}


def counted(configs: dict, seed: int) -> tuple[int, int]:
    return len(configs), sum(c.seed == seed for c in configs.values())
