"""Arrays: ``larder.open`` and what it returns."""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _larder
from .errors import ArgumentError, SelectionError

PathLike = str | os.PathLike[str]


class Array:
    """An array larder opened: a memory-mapped ``.npy`` (lent to numpy without a copy) or a
    Zarr/HDF5/object-storage array (read chunk by chunk as it is indexed)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: _larder.RawArray) -> None:
        self._raw = raw

    # -- what it is -------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The location it was opened from."""
        return self._raw.path

    @property
    def mode(self) -> str:
        """``"r"``, ``"r+"`` or ``"c"``."""
        return self._raw.mode

    @property
    def format(self) -> str:
        """``"npy"``, ``"zarr"`` or ``"hdf5"``."""
        return self._raw.format

    @property
    def shape(self) -> tuple[int, ...]:
        return self._raw.shape

    @property
    def ndim(self) -> int:
        return len(self._raw.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self._raw.shape:
            n *= d
        return n

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype (a mapped ``.npy`` keeps its file's byte order)."""
        return np.dtype(self._raw.typestr)

    @property
    def chunks(self) -> tuple[int, ...]:
        """The storage chunk shape (the whole shape for a mapped ``.npy``)."""
        return self._raw.chunks

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def resident_bytes(self) -> int:
        """Bytes of the mapping in RAM now (0 for arrays that are decoded, not mapped)."""
        return self._raw.resident_bytes()

    @property
    def dirty_bytes(self) -> int:
        """For a copy-on-write array (mode ``"c"``): bytes of the pages written since it was
        opened, the memory it owns. 0 in the other modes."""
        return self._raw.dirty_bytes()

    def address_range(self) -> tuple[int, int]:
        """``(address, length)`` of the mapped data, to check that a view lies inside it."""
        return self._raw.address_range()

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __repr__(self) -> str:
        return (
            f"larder.Array({self.path!r}, format={self.format!r}, mode={self.mode!r}, "
            f"shape={self.shape}, dtype={self.dtype})"
        )

    # -- data ---------------------------------------------------------------------------------
    def to_numpy(self) -> np.ndarray[Any, Any]:
        """The whole array as numpy: a zero-copy view of the mapping for ``.npy`` (read-only in
        mode ``"r"``), a decoded copy for the other formats."""
        if self._raw.format == "npy":
            return np.asarray(self._raw)
        return self[...]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray[Any, Any]:
        if copy is False and self._raw.format != "npy":
            raise ValueError(f"{self.path}: a {self.format} array cannot be lent without a copy")
        a = self.to_numpy()
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a.copy() if copy else a

    def __getitem__(self, key: Any) -> Any:
        """numpy indexing. A mapped ``.npy`` is indexed by numpy over the zero-copy view; other
        formats read only the chunks under the selection (ints, slices, ``...`` and ``None``)."""
        if self._raw.format == "npy":
            return self.to_numpy()[key]
        items = _items(key)
        try:
            data, typestr, shape = self._raw.read(items)
        except ArgumentError as e:
            raise SelectionError(str(e)) from None
        a = np.frombuffer(data, dtype=np.dtype(typestr)).reshape(shape)
        return a if a.ndim else a[()]

    # -- copy-on-write ----------------------------------------------------------------------
    def save_delta(self, path: PathLike) -> dict[str, int]:
        """Saves the pages written to a copy-on-write array as a delta file; returns
        ``{"pages", "bytes", "depth"}``."""
        return self._raw.save_delta(os.fspath(path))

    def materialize(self, path: PathLike) -> dict[str, Any]:
        """Writes the array as stored (the file with its deltas) to a plain ``.npy``."""
        return self._raw.materialize(os.fspath(path))

    def flush(self) -> None:
        """Writes an ``"r+"`` array's changes to the file now."""
        self._raw.flush()


def _items(key: Any) -> list[Any]:
    parts = key if isinstance(key, tuple) else (key,)
    items: list[Any] = []
    for k in parts:
        if k is None or k is Ellipsis:
            items.append(k)
        elif isinstance(k, slice):
            items.append(tuple(None if v is None else operator.index(v) for v in (k.start, k.stop, k.step)))
        elif isinstance(k, (bool, np.bool_)):
            raise SelectionError("boolean indexes read the whole array: use np.asarray(arr)[mask]")
        else:
            try:
                items.append(operator.index(k))
            except TypeError:
                raise SelectionError(
                    f"larder selections take ints, slices, ... and None, not {type(k).__name__}; "
                    "for fancy indexing read the region first (arr[a:b][idx])"
                ) from None
    return items


def open(path: PathLike, mode: str = "r", deltas: Sequence[PathLike] = ()) -> Array:  # noqa: A001
    """Opens the array at ``path``: an ``.npy`` file (mapped), a Zarr array (``x.zarr``,
    ``x.zarr:/group/name``), an HDF5 dataset (``x.h5:/name``) or an ``s3://`` location.

    ``mode`` is numpy's ``mmap_mode``: ``"r"`` read-only, ``"r+"`` writes reach the file,
    ``"c"`` copy-on-write (writes stay in memory). ``deltas`` are delta files saved by
    :meth:`Array.save_delta`, applied in order over an ``.npy``.
    """
    return Array(_larder.open_array(os.fspath(path), mode, [os.fspath(d) for d in deltas]))


def materialize(base: PathLike, deltas: Sequence[PathLike], out: PathLike) -> dict[str, Any]:
    """Writes ``base`` with ``deltas`` applied to the plain ``.npy`` ``out``."""
    return _larder.materialize(os.fspath(base), [os.fspath(d) for d in deltas], os.fspath(out))


def copy(
    src: PathLike,
    dst: PathLike,
    *,
    chunks: Sequence[int] | None = None,
    codec: str | None = None,
    shard: Sequence[int] | None = None,
    deltas: Sequence[PathLike] = (),
    resume: bool = False,
    progress: Callable[[dict[str, int]], object] | None = None,
) -> dict[str, int]:
    """Copies an array (or a dataset) as ``larder copy`` does; the destination's format
    follows its name (``.npy``, ``.zarr``, ``.h5``). ``codec``: ``"zstd"``, ``"zstd:5"``,
    ``"gzip:9"``, ``"none"``. Returns ``{"elements", "bytes"}``.

    Ctrl-C raises ``KeyboardInterrupt`` within a block's work and leaves no temporary file
    (``resume=True`` continues a copy into object storage). ``progress``, if given, is called
    at most every 0.2 s with ``{"bytes_done", "bytes_total", "chunks_done", "chunks_total",
    "chunks_skipped"}`` for copies into object storage (the copies larder reports progress
    of); an exception it raises stops the copy and propagates."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress: expected a callable, not {type(progress).__name__} (not callable)")
    return _larder.copy(
        os.fspath(src),
        os.fspath(dst),
        None if chunks is None else list(chunks),
        codec,
        None if shard is None else list(shard),
        [os.fspath(d) for d in deltas],
        resume,
        progress,
    )
