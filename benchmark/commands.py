"""What every command shares: usage errors and bad input as one line on stderr with exit code
2, and the logging set-up. Imports neither torch nor a model."""

from __future__ import annotations

import argparse
import logging
import sys
import typing
from collections.abc import Callable

from protocols.errors import SeqrecError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def guarded(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Bad input and failed runs end with one line on stderr and exit code 2, no traceback."""

    def wrapper(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except SeqrecError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return wrapper


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
