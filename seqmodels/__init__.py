"""Deep sequence models. Importing this package registers every model in it."""

from seqmodels import bert4rec, cnn, gru, losses, mlp, sasrec

__all__ = ["bert4rec", "cnn", "gru", "losses", "mlp", "sasrec"]
