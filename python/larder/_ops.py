"""Operations over files: CSV conversion, statistics, group-by. Each runs with the GIL
released and stops on Ctrl-C (``KeyboardInterrupt``) within a block's work."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _larder
from ._array import PathLike

if TYPE_CHECKING:
    import pandas as pd


def convert(
    src: PathLike | Sequence[PathLike],
    dst: PathLike,
    *,
    delimiter: str | None = None,
    header: bool | None = None,
    infer_rows: int | None = None,
    schema: PathLike | None = None,
    types: Mapping[str, str] | None = None,
    fill: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    na: Sequence[str] | None = None,
    shrink: bool | None = None,
    max_rejects: int | None = None,
    strict: bool = False,
    resume: bool | None = None,
    append: bool | None = None,
    skip_loaded: bool | None = None,
    progress: Callable[[dict[str, Any]], object] | None = None,
) -> dict[str, Any]:
    """Converts CSV files into the dataset directory ``dst`` as ``larder convert`` does (the
    same options, by the same names), with the GIL released; returns the summary:
    ``rows``, ``rejected``, ``rows_read``, ``columns``, ``resumed``, ``notes``, …

    ``types`` maps column names to types (``"int64"``, ``"category"``,
    ``"datetime:%d/%m/%Y %H:%M"``, …); ``fill`` maps column names to the value stored for a
    missing one; ``na`` replaces the tokens read as missing; ``strict=True`` stops at the first
    bad record (as ``max_rejects=0``). ``resume=True`` finishes an interrupted conversion;
    ``append=True`` adds the files' rows to the existing dataset ``dst``.

    ``progress``, if given, is called from this thread (with the GIL) at most every 0.2 s
    while the conversion runs, with ``{"bytes_read", "total_bytes" (None when unknown),
    "rows_read", "rejected", "bytes_this_run", "compressed_bytes_read"}``; an exception it
    raises stops the conversion (as Ctrl-C does) and propagates. Ctrl-C raises
    ``KeyboardInterrupt`` within a block's work; ``resume=True`` then finishes the conversion.
    """
    sources = [os.fspath(src)] if isinstance(src, (str, os.PathLike)) else [os.fspath(s) for s in src]
    options: dict[str, Any] = {}
    given = {
        "delimiter": delimiter,
        "header": header,
        "infer_rows": infer_rows,
        "schema": None if schema is None else os.fspath(schema),
        "types": None if types is None else list(types.items()),
        "fill": None if fill is None else list(fill.items()),
        "columns": None if columns is None else list(columns),
        "na": None if na is None else list(na),
        "shrink": shrink,
        "max_rejects": 0 if strict else max_rejects,
        "resume": resume,
        "append": append,
        "skip_loaded": skip_loaded,
    }
    for key, value in given.items():
        if value is not None:
            options[key] = value
    _check_callable(progress)
    return _larder.convert(sources, os.fspath(dst), options, progress)


def _check_callable(progress: object) -> None:
    if progress is not None and not callable(progress):
        raise TypeError(f"progress: expected a callable, not {type(progress).__name__} (not callable)")


def stats(
    path: PathLike,
    *,
    bins: int | None = None,
    range: tuple[float, float] | None = None,  # noqa: A002  (numpy's name for it)
    quantiles: Sequence[float] = (),
    std: bool = True,
) -> dict[str, Any]:
    """Statistics of an array or a dataset column's file, as ``larder stats --json``: count,
    sum, mean, std, min, max, NaN count in one pass (missing values left out), and on request
    a histogram of ``bins`` equal bins (over ``range``) and ``quantiles`` (numpy's linear
    method). Datetimes give count, mean, min and max as ISO 8601 text."""
    text = _larder.stats(
        os.fspath(path), bins, None if range is None else (float(range[0]), float(range[1])),
        [float(q) for q in quantiles], std,
    )
    result: dict[str, Any] = json.loads(text)
    return result


def groupby(
    dataset: PathLike,
    by: str,
    agg: Sequence[str] = ("count",),
    *,
    every: str | None = None,
) -> pd.DataFrame:
    """A group-by over a dataset, as ``larder groupby``: one row per non-empty group, indexed by
    the key (a category label, an integer, or a time bucket's start with ``every="1h"`` etc.),
    one column per aggregate: ``count``, ``count:COL``, ``sum:COL``, ``mean:COL``,
    ``min:COL``, ``max:COL``. Returns a pandas DataFrame."""
    import pandas as pd

    r = json.loads(_larder.groupby(os.fspath(dataset), by, list(agg), every))
    keys = r["keys"]
    # JSON has no NaN or infinities: larder writes them as the strings "NaN", "inf", "-inf".
    data = {
        name: [float(v) if isinstance(v, str) else v for v in values]
        for name, values in r["aggregates"].items()
    }
    index = pd.Index(keys, name=r.get("by", by))
    if every is not None:
        index = pd.DatetimeIndex(pd.to_datetime(keys), name=r.get("by", by))
    return pd.DataFrame(data, index=index)
