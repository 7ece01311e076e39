"""The data package: one registry of data sets (`registry`), one table of own-file formats
(`formats`), download and verification (`download`), and `python -m benchmark.datasets`.

Data flows one way: a file is read (`files`, `formats`, `dumps`), a registered set is located,
verified and preprocessed (`movielens`, `recipes`), and `load.load_raw` returns `RawData`.
"""

from benchmark.datasets.load import data_root, dataset_names, load_raw
from benchmark.datasets.registry import DATASETS

__all__ = ["DATASETS", "data_root", "dataset_names", "load_raw"]
