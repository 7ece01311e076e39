"""Large CPU tensors without page faults on every training step.

glibc serves each allocation above its mmap threshold (dynamic, at most 32 MiB by default)
with a fresh mapping that the kernel zero-fills page by page on first touch and that is
unmapped again on free. A full-softmax step allocates logits of [positions, n_items] floats
(about 56 MB for 1,150 positions and 12,000 items) and their gradient, so on a CPU the page
faults cost about as much as the arithmetic (`bench/bench_memory.py`: 60 softmax steps took
8.2 to 8.8 s with freed blocks kept for reuse, 12.8 to 14.6 s without). Raising the
thresholds keeps them; the process holds on to its peak heap instead of returning it to the
system at once. `SEQREC_MALLOC=system` leaves glibc's defaults alone.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
LIMIT = 1 << 30  # allocations below 1 GiB come from (and return to) the heap


@functools.cache
def reuse_freed_memory() -> bool:
    """Ask glibc to keep freed large blocks for reuse; False where that is not possible
    (another C library, or a glibc that refuses the value). Process-wide, idempotent."""
    if not sys.platform.startswith("linux") or os.environ.get("SEQREC_MALLOC") == "system":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, LIMIT)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * LIMIT))
