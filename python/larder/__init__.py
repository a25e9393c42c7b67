"""larder: numeric arrays and CSV-converted datasets kept on disk, opened from numpy, pandas,
polars and DuckDB without copying them into memory.

>>> import larder
>>> a = larder.open("prices.npy")            # doctest: +SKIP
>>> view = a.to_numpy()                      # zero-copy, read-only view of the mapping
>>> ds = larder.open_dataset("log")          # doctest: +SKIP
>>> df = ds.to_pandas()

See docs/python.md for every function, the type mapping and what is zero-copy.
"""

from __future__ import annotations

from ._array import Array, copy, materialize, open
from ._dataset import Column, Dataset, open_dataset
from ._group import GroupColumn, GroupDataset
from ._ops import convert, groupby, stats
from ._larder import __version__
from .errors import (
    ArgumentError,
    ConversionError,
    DeltaError,
    DTypeError,
    FormatError,
    LarderError,
    NotViewableError,
    ReadOnlyError,
    RemoteError,
    SelectionError,
    LockedError,
    StorageError,
    UnsupportedError,
)

__all__ = [
    "Array",
    "Column",
    "Dataset",
    "GroupColumn",
    "GroupDataset",
    "ArgumentError",
    "ConversionError",
    "DTypeError",
    "DeltaError",
    "FormatError",
    "LarderError",
    "LockedError",
    "NotViewableError",
    "ReadOnlyError",
    "RemoteError",
    "SelectionError",
    "StorageError",
    "UnsupportedError",
    "__version__",
    "convert",
    "copy",
    "groupby",
    "materialize",
    "open",
    "open_dataset",
    "stats",
]
