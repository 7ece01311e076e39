"""The one exception type for bad input: the command line prints its message on one line and exits 2."""


class InputError(ValueError):
    """A missing or malformed data file, an impossible option, an unknown name."""


class TrainingError(RuntimeError):
    """Training went wrong (a NaN loss, say); the message names the model and the epoch."""
