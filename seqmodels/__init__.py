"""Deep sequence models. Importing this package registers every model in it."""

from seqmodels import bert4rec, cnn, fmlprec, gru, gsasrec, losses, mlp, narm, sasrec

__all__ = [
    "bert4rec",
    "cnn",
    "fmlprec",
    "gru",
    "gsasrec",
    "losses",
    "mlp",
    "narm",
    "sasrec",
]
