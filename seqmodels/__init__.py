"""Deep sequence models. Importing this package registers every model in it."""

from seqmodels import cnn, gru, mlp, sasrec

__all__ = ["cnn", "gru", "mlp", "sasrec"]
