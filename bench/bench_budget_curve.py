"""How much training does a table need to rank the models as their converged runs do?

    PYTHONPATH=. python bench/bench_budget_curve.py results/ml-1m-r4-converged
    ... --epochs 5,10,20,40 --steps 1000,2000 --seconds 60,120,300
    ... --replay results/ml-100k-lr6e-3   # other runs' budgets against this order

Reads one folder of runs trained to early stopping with a constant learning rate (the default).
A run given less training takes the same steps up to its end (training is deterministic and the
rate does not depend on the budget), so its validation score is the best epoch of the converged
history within the budget: budgets are replayed here without training anything. For each budget
(an epoch cap; a cap in optimiser steps, the same work on every data set; or a cap on each
model's one-thread training seconds, as the converged runs measured them) it counts the pairs
that the converged runs separate by more than one standard error and that the capped table
orders the other way (`bench_capped_order.py`'s rule), and what the budget costs: the deep
models' training seconds summed, one thread. `--replay OTHER` replays the budgets on another
folder's runs to early stopping (other defaults: a faster learning rate, say) against the first
folder's order. Validation only: test scores are not recorded per epoch, and a budget is chosen
on validation anyway. A budget with an annealed rate (`lr_schedule=linear`) trains differently
and has to be run.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

from tabulate import tabulate

from bench.bench_capped_order import discordant_pairs, per_model, plain_runs
from seqmodels.train import batches_per_epoch, epoch_seconds


def histories(folder: Path) -> dict[str, list[tuple[list[dict], int]]]:
    """{model: (per-epoch history, optimiser steps an epoch) per seed} of the deep models' plain
    runs."""
    found = collections.defaultdict(list)
    for recs in plain_runs(folder):
        for rec in recs:
            if rec.training:
                steps = batches_per_epoch(
                    rec.training["training_sequences"], rec.params["batch_size"]
                )
                found[rec.model].append((rec.training["history"], steps))
    return dict(found)


def within_epochs(history: list[dict], steps: int, cap: int) -> list[dict]:
    return history[:cap]


def within_steps(history: list[dict], steps: int, cap: int) -> list[dict]:
    """The epochs whose last step is within `cap` steps (a budget's last, shortened epoch is not
    in the converged history, so it is left out: a slight underestimate)."""
    return history[: max(1, cap // steps)]


def within_seconds(history: list[dict], steps: int, cap: float) -> list[dict]:
    """The epochs finished within `cap` seconds (the first one always)."""
    kept, spent = [], 0.0
    for epoch in history:
        spent += epoch_seconds(epoch)
        if kept and spent > cap:
            break
        kept.append(epoch)
    return kept


def replay(converged: dict, runs: dict, truncate, cap) -> tuple[int, int, float, list]:
    """Discordant and separated pairs, training seconds, and the discordant pairs' rows."""
    capped, cost = {}, 0.0
    for model, conv in converged.items():
        if model not in runs:  # a baseline: not trained in epochs, the same at every budget
            capped[model] = conv.values.mean()
            continue
        kept = [truncate(history, steps, cap) for history, steps in runs[model]]
        capped[model] = sum(max(e["valid_NDCG@10"] for e in k) for k in kept) / len(kept)
        cost += sum(epoch_seconds(e) for k in kept for e in k) / len(kept)
    wrong, separated = discordant_pairs(capped, converged)
    return len(wrong), separated, cost, wrong


def most_involved(wrong: list, top: int = 3) -> str:
    counts = collections.Counter(m for row in wrong for m in row[:2])
    return ", ".join(f"{m} {n}" for m, n in counts.most_common(top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("converged", type=Path)
    parser.add_argument(
        "--replay",
        type=Path,
        help="replay the budgets on these runs (to early stopping, other parameters: a faster "
        "learning rate, say) and compare with CONVERGED; default CONVERGED itself",
    )
    parser.add_argument("--epochs", default="5,10,15,20,30,40,60")
    parser.add_argument("--steps", default="500,1000,2000,4000")
    parser.add_argument("--seconds", default="60,120,240,480")
    args = parser.parse_args()
    converged = per_model(args.converged, "NDCG@10", "full", "valid")
    runs = histories(args.replay or args.converged)
    full = replay(converged, runs, within_epochs, 10**9)
    budgets = [(f"{e} epochs", within_epochs, int(e)) for e in args.epochs.split(",")]
    budgets += [(f"{s} steps", within_steps, int(s)) for s in args.steps.split(",")]
    budgets += [(f"{s} s a model", within_seconds, float(s)) for s in args.seconds.split(",")]
    rows = []
    for label, truncate, cap in budgets:
        n_wrong, separated, cost, wrong = replay(converged, runs, truncate, cap)
        rows.append([label, f"{n_wrong} / {separated}", round(cost), most_involved(wrong)])
    rows.append(
        ["to early stopping", f"{full[0]} / {full[1]}", round(full[2]), most_involved(full[3])]
    )
    print(
        f"full NDCG@10 on valid, {args.replay or args.converged} replayed against {args.converged}\n"
    )
    header = ["budget", "discordant pairs", "training seconds (one thread)", "most in them"]
    print(tabulate(rows, header, tablefmt="github"))


if __name__ == "__main__":
    main()
