"""Datasets kept as Zarr groups (``larder copy DATASET out.zarr`` or ``s3://bucket/prefix``):
read-only, each column decoded from its chunks for the rows asked (nothing is mapped, so
nothing is zero-copy). The group's ``larder`` attribute holds the dataset's manifest and where
each column's values, validity mask or fill value, and large dictionary are stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _blocks, _larder
from ._dataset import BATCH_ROWS, Column, Dataset
from .errors import FormatError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def _kind(meta: dict[str, Any]) -> str:
    """The column's kind, from its manifest entry (as larder tells it for a directory)."""
    if meta.get("offsets") is not None:
        return "string"
    if meta.get("categories") is not None or meta.get("dictionary") is not None:
        return "categorical"
    dtype = np.dtype(meta["dtype"])
    if dtype.kind == "M":
        return "datetime"
    if dtype.kind == "b":
        return "bool"
    return "number"


class _Rows:
    """What a :class:`Column` needs of its dataset: a length and a path (for messages)."""

    def __init__(self, path: str, rows: int) -> None:
        self.path = path
        self._rows = rows

    def __len__(self) -> int:
        return self._rows


class GroupColumn(Column):
    """A column of a dataset group, rows ``lo:hi``: values decoded from the group's chunks
    (missing rows hold the directory's placeholders: 0, False, code 0, "")."""

    def __init__(
        self, group: _larder.RawGroup, meta: dict[str, Any], entry: dict[str, Any], lo: int, hi: int
    ) -> None:
        super().__init__(_Rows(group.path, hi - lo), meta)  # type: ignore[arg-type]
        self._group = group
        self._entry = entry
        self._lo, self._hi = lo, hi

    def _read(self, array: str) -> tuple[bytes, bytes | None]:
        return self._group.read(array, self._lo, self._hi)

    @cached_property
    def _decoded(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None, np.ndarray[Any, Any] | None]:
        # Values, validity, and string offsets, as a directory holds them.
        data, offsets = self._read(self._entry["array"])
        if self.kind == "string":
            values = np.frombuffer(data, dtype=np.uint8)
            off = np.frombuffer(offsets or b"", dtype=np.int64)
        else:
            values = np.frombuffer(data, dtype=np.dtype(self._meta["dtype"]).newbyteorder("="))
            off = None
        if len(values if off is None else off[:-1]) != len(self):
            raise FormatError(
                f"{self._group.path}: array {self._entry['array']!r} has "
                f"{len(values if off is None else off[:-1])} of the {len(self)} rows asked"
            )
        valid: np.ndarray[Any, Any] | None = None
        if self._entry.get("mask") is not None:
            valid = np.frombuffer(self._read(self._entry["mask"])[0], dtype=np.bool_)
        elif self._entry.get("fill") is not None and off is None:
            fill = np.frombuffer(bytes.fromhex(self._entry["fill"]), dtype=values.dtype)
            as_bits = np.dtype(f"u{values.dtype.itemsize}") if values.dtype.itemsize in (1, 2, 4, 8) else None
            if as_bits is not None:
                valid = values.view(as_bits) != fill.view(as_bits)[0]
            else:
                valid = values != fill[0]
        elif self._meta.get("valid") is not None:
            valid = np.ones(len(self), dtype=np.bool_)
        if valid is not None and off is None and not valid.all():
            # The directory's placeholder in missing rows (the group may hold a fill value).
            values = values.copy()
            values[~valid] = np.zeros(1, dtype=values.dtype)[0]
        return values, valid, off

    @cached_property
    def values(self) -> np.ndarray[Any, Any]:
        return self._decoded[0]

    @cached_property
    def validity(self) -> np.ndarray[Any, Any] | None:
        return self._decoded[1]

    @cached_property
    def offsets(self) -> np.ndarray[Any, Any] | None:
        return self._decoded[2]

    @cached_property
    def _dictionary(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        array = self._entry.get("dictionary")
        if array is None:
            raise FormatError(f"{self._group.path}: column {self.name!r}: no dictionary array")
        data, offsets = self._group.read(array, 0, 2**63 - 1)
        return np.frombuffer(data, dtype=np.uint8), np.frombuffer(offsets or b"\0" * 8, dtype=np.int64)

    @cached_property
    def categories(self) -> list[str] | None:
        if self._meta.get("categories") is not None:
            return list(self._meta["categories"])
        if self._meta.get("dictionary") is None:
            return None
        return [str(s) for s in self._dictionary_arrow(self._meta["dictionary"]).to_pylist()]

    def _dictionary_arrow(self, d: dict[str, str]) -> pa.Array:
        import pyarrow as pa

        data, offsets = self._dictionary
        n = max(len(offsets) - 1, 0)
        return pa.Array.from_buffers(
            pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )

    # The validity and codes are decoded into memory: what the conversions need of them is
    # taken from the arrays.
    def _has_missing(self, start: int, stop: int) -> bool:
        v = self.validity
        return v is not None and not bool(v[start:stop].all())

    def _missing_mask(self, start: int, stop: int) -> np.ndarray[Any, Any] | None:
        v = self.validity
        if v is None or v[start:stop].all():
            return None
        return ~v[start:stop]

    def _packed_validity(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        v = self.validity
        assert v is not None
        return np.packbits(v[start:stop], bitorder="little")

    def _packed_bools(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        return np.packbits(self.values[start:stop], bitorder="little")

    def _pandas_codes(self, start: int, stop: int, categories: int) -> np.ndarray[Any, Any]:
        codes = self.values[start:stop]
        missing = self._missing_mask(start, stop)
        bad = codes >= categories if missing is None else (codes >= categories) & ~missing
        if bad.any():
            row = start + int(np.argmax(bad))
            raise FormatError(
                f"{self._group.path}: column {self.name!r}, row {row}: code {int(codes[row - start])} "
                f"is past the {categories} categories"
            )
        out = codes.astype(_blocks.pandas_codes_dtype(categories))
        if missing is not None:
            out[missing] = -1
        return out

    def __repr__(self) -> str:
        return f"larder.GroupColumn({self.name!r}, kind={self.kind!r}, rows={len(self)})"


class GroupDataset(Dataset):
    """A dataset kept as a Zarr group, local or in object storage: read-only, columns decoded
    chunk by chunk for the rows asked. The same columns, dtypes and values as the directory it
    was copied from."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._raw = _larder.open_group(path)
        info = json.loads(self._raw.info())
        attr = info["attributes"].get("larder")
        if not isinstance(attr, dict) or "manifest" not in attr:
            at_node = ":/" in path.split("://", 1)[-1]
            raise FormatError(
                f"{path}: a Zarr group larder did not write from a dataset (no `larder` "
                "attribute); open its arrays with larder.open()"
                + ("" if at_node else ", or make a dataset of it with larder.copy(group, directory)")
            )
        self._manifest = json.loads(attr["manifest"])
        columns = self._manifest["columns"]
        entries = attr.get("columns", [])
        if len(entries) != len(columns):
            raise FormatError(
                f"{path}: the larder attribute lists {len(entries)} arrays for "
                f"{len(columns)} columns"
            )
        self._metas = []
        for meta, entry in zip(columns, entries):
            meta = dict(meta)
            meta["kind"] = _kind(meta)
            self._metas.append((meta, entry))
        self._columns = {m["name"]: self._column(m, e, 0, len(self)) for m, e in self._metas}

    def _column(self, meta: dict[str, Any], entry: dict[str, Any], lo: int, hi: int) -> Column:
        return GroupColumn(self._raw, meta, entry, lo, hi)

    def __repr__(self) -> str:
        return f"larder.GroupDataset({self._path!r}, rows={len(self)}, columns={self.columns})"

    def _window(self, columns: Sequence[str] | None, lo: int, hi: int) -> list[Column]:
        names = self.columns if columns is None else list(columns)
        for n in names:
            self[n]  # the error naming the columns there are
        by_name = {m["name"]: (m, e) for m, e in self._metas}
        return [self._column(*by_name[n], lo, hi) for n in names]

    def _disk_usage(self) -> str:
        return "disk usage: in the Zarr group (decoded as read)"

    @property
    def schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([self._field(n) for n in self.columns])

    def _field(self, name: str) -> pa.Field:
        """The column's Arrow field as larder's Arrow export of the directory makes it:
        nullable where the column has a validity file or holds floats (NaN exported as null),
        larder's kind and dtype as metadata."""
        import pyarrow as pa

        c = self[name]
        meta = {"larder.kind": c.kind, "larder.dtype": str(c._meta["dtype"])}
        nullable = c._meta.get("valid") is not None or c._nan_is_missing
        return pa.field(name, c.arrow_type, nullable=nullable, metadata=meta)

    def to_pandas(
        self,
        dtype_backend: str = "numpy_nullable",
        columns: Sequence[str] | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> pd.DataFrame:
        """As :meth:`Dataset.to_pandas`; only the chunks under rows ``start:stop`` are read."""
        import pandas as pd

        stop = len(self) if stop is None else min(stop, len(self))
        start = min(max(start, 0), stop)
        cols = self._window(columns, start, stop)
        data = {c.name: c.to_pandas(dtype_backend, 0, stop - start) for c in cols}
        index = pd.RangeIndex(start, stop)
        df = pd.DataFrame(data, copy=False) if data else pd.DataFrame(index=index)
        df.index = index
        return df

    def to_reader(
        self, batch_rows: int = BATCH_ROWS, columns: Sequence[str] | None = None
    ) -> pa.RecordBatchReader:
        """Record batches of at most ``batch_rows`` rows, each decoded as it is read."""
        import pyarrow as pa

        if batch_rows < 1:
            raise ValueError(f"batch_rows {batch_rows}: must be at least 1")
        names = self.columns if columns is None else list(columns)
        schema = pa.schema([self._field(n) for n in names])

        def batches() -> Iterator[pa.RecordBatch]:
            for lo in range(0, len(self), batch_rows):
                hi = min(lo + batch_rows, len(self))
                cols = self._window(names, lo, hi)
                yield pa.RecordBatch.from_arrays([c.to_arrow() for c in cols], schema=schema)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def __arrow_c_schema__(self) -> object:
        return self.schema.__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """A fresh stream per call, batches of :data:`BATCH_ROWS` rows decoded as read."""
        return self.to_reader(BATCH_ROWS).__arrow_c_stream__(requested_schema)
