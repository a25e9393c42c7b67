"""Operations over files: CSV conversion."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from . import _larder
from ._array import PathLike


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
) -> dict[str, Any]:
    """Converts CSV files into the dataset directory ``dst`` as ``larder convert`` does (the
    same options, by the same names), with the GIL released; returns the summary:
    ``rows``, ``rejected``, ``rows_read``, ``columns``, ``resumed``, ``notes``, …

    ``types`` maps column names to types (``"int64"``, ``"category"``,
    ``"datetime:%d/%m/%Y %H:%M"``, …); ``fill`` maps column names to the value stored for a
    missing one; ``na`` replaces the tokens read as missing; ``strict=True`` stops at the first
    bad record (as ``max_rejects=0``). ``resume=True`` finishes an interrupted conversion;
    ``append=True`` adds the files' rows to the existing dataset ``dst``.
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
    return _larder.convert(sources, os.fspath(dst), options)
