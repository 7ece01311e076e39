"""Deep sequence models. Importing this package registers every model in it."""

from seqmodels import (
    bert4rec,
    caser,
    cl4srec,
    cnn,
    duorec,
    esasrec,
    fmlprec,
    gru,
    gsasrec,
    hstu,
    losses,
    mlp,
    narm,
    per_position,
    sasrec,
)

__all__ = [
    "bert4rec",
    "caser",
    "cl4srec",
    "cnn",
    "duorec",
    "esasrec",
    "fmlprec",
    "gru",
    "gsasrec",
    "hstu",
    "losses",
    "mlp",
    "narm",
    "per_position",
    "sasrec",
]
