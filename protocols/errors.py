"""One error family: the command line prints any of them on one line and exits with code 2.

`SeqrecError` is the base; catch it to handle every expected failure (bad input, a failed run).
"""


class SeqrecError(Exception):
    """An expected failure with a message fit for one line on stderr."""


class InputError(SeqrecError, ValueError):
    """A missing or malformed data file, an impossible option, an unknown name or parameter."""


class TrainingError(SeqrecError, RuntimeError):
    """Training or scoring went wrong (a NaN loss or score, a wrong score shape): the message
    names the model (and the epoch where there is one)."""


def require(ok: bool, message: str) -> None:
    """Raise `InputError(message)` unless `ok`: a parameter check in a `Params.__post_init__`."""
    if not ok:
        raise InputError(message)
