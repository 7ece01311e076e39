"""What every command shares: usage errors and bad input as one line on stderr with exit code
2, and the logging set-up. Imports neither torch nor a model."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
import typing
from collections.abc import Callable

from protocols.errors import InputError, SeqrecError

# The exit code of a command that stopped at its --stop-after time with work left: nothing went
# wrong, and the same command resumes (sysexits' EX_TEMPFAIL, "try again later").
STOPPED = 75


def deadline_after(minutes: float | None) -> float | None:
    """The `time.time()` at which `--stop-after MINUTES` stops starting work (None: never)."""
    if minutes is None:
        return None
    if not minutes >= 0:
        raise InputError(f"--stop-after must be >= 0 minutes, got {minutes}")
    return time.time() + 60 * minutes


def past(deadline: float | None) -> bool:
    """Whether `deadline` (a `time.time()`; None: none) has passed (--stop-after)."""
    return deadline is not None and time.time() >= deadline


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def guarded(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Bad input and failed runs end with one line on stderr and exit code 2, no traceback."""

    def wrapper(argv: list[str] | None = None) -> int:
        previous = _interrupt_on_sigterm()
        try:
            return main(argv)
        except SeqrecError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def _interrupt_on_sigterm():
    """SIGTERM (`kill`, a session's end) stops a command as Ctrl-C does, so that what it wrote
    is recorded on the way out (provenance.json's entry, `finished: false`). Returns the
    handler it replaced, or None off the main thread (where handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    previous = signal.getsignal(signal.SIGTERM)  # None: set outside Python
    signal.signal(signal.SIGTERM, interrupt)
    return signal.SIG_DFL if previous is None else previous


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
