"""The full-softmax step with and without glibc keeping freed blocks (`seqmodels/memory.py`).

    PYTHONPATH=. python bench/bench_memory.py [--steps 60 --positions 1150 --items 12102]

Runs the same forward and backward loop in fresh processes, alternately with
`SEQREC_MALLOC=system` (glibc's defaults) and without it, and prints each run's wall and
system seconds: the system time is the kernel zero-filling fresh mappings.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from tabulate import tabulate


def softmax_steps(steps: int, positions: int, items: int, dim: int = 64) -> None:
    import torch
    import torch.nn.functional as F

    from seqmodels.memory import reuse_freed_memory

    reuse_freed_memory()  # a no-op under SEQREC_MALLOC=system
    table = torch.randn(items, dim, requires_grad=True)
    for _ in range(steps):
        states = torch.randn(positions, dim, requires_grad=True)
        targets = torch.randint(1, items, (positions,))
        F.cross_entropy(states @ table.T, targets).backward()


def timed_child(argv: list[str], system_malloc: bool) -> tuple[float, float]:
    env = dict(os.environ)
    env.pop("SEQREC_MALLOC", None)
    if system_malloc:
        env["SEQREC_MALLOC"] = "system"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child", *argv], env=env, check=True)
    wall = time.perf_counter() - start
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--positions", type=int, default=1150)
    parser.add_argument("--items", type=int, default=12102)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        softmax_steps(args.steps, args.positions, args.items)
        return
    argv = ["--steps", str(args.steps), "--positions", str(args.positions)]
    argv += ["--items", str(args.items)]
    rows = []
    for _ in range(args.repeats):
        for system in (True, False):
            wall, sys_seconds = timed_child(argv, system)
            label = "glibc defaults" if system else "freed blocks kept"
            rows.append([label, f"{wall:.2f}", f"{sys_seconds:.2f}"])
    print(
        f"{args.steps} steps of softmax forward and backward, {args.positions} positions x "
        f"{args.items} items (process start included)\n"
    )
    print(tabulate(rows, ["allocator", "wall s", "system s"], tablefmt="github"))


if __name__ == "__main__":
    main()
