"""Non-neural baselines. Importing this package registers every model in it."""

from baselines import itemknn, mf, personal_topk, popularity

__all__ = ["itemknn", "mf", "personal_topk", "popularity"]
