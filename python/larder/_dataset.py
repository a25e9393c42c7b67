"""Datasets: directories made by ``larder convert``, each column a memory-mapped ``.npy``.

Every column's files are opened with :func:`larder.open` (read-only mappings); numbers,
datetimes, string offsets and bytes and categorical codes reach numpy, pandas and Arrow without
a copy. The only copies: Arrow's bit-packed validity (rows/8 bytes), bools (Arrow packs them),
pandas' inverted masks, and NaT written into datetimes with missing values for numpy-backed
pandas.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from . import _blocks, _larder
from ._array import PathLike, open
from .errors import FormatError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Rows per Arrow record batch of ``__arrow_c_stream__`` (bounded batches, whatever the size):
#: larder's default (``larder::arrow::DEFAULT_BATCH_ROWS``).
BATCH_ROWS = 65_536

_ARROW_TIME_UNITS = {"s", "ms", "us", "ns"}


class Column:
    """One column of a :class:`Dataset`: its values mapped, its validity and categories."""

    def __init__(self, dataset: Dataset, meta: dict[str, Any]) -> None:
        self._ds = dataset
        self._meta = meta

    @property
    def name(self) -> str:
        return str(self._meta["name"])

    @property
    def kind(self) -> str:
        """``number``, ``bool``, ``categorical``, ``datetime`` or ``string``."""
        return str(self._meta["kind"])

    def __len__(self) -> int:
        return len(self._ds)

    def __repr__(self) -> str:
        return f"larder.Column({self.name!r}, kind={self.kind!r}, rows={len(self)})"

    def _file(self, name: str) -> str:
        return os.path.join(self._ds.path, name)

    @cached_property
    def values(self) -> np.ndarray[Any, Any]:
        """The stored values as a zero-copy read-only numpy view: numbers, bools, datetimes,
        categorical codes; for a string column the UTF-8 bytes of all strings (see
        :attr:`offsets`). Missing rows hold placeholders (0, False, code 0, "")."""
        if self.kind == "string":
            return self._string_bytes
        return np.asarray(self._mapped[0])

    @cached_property
    def _mapped(self) -> tuple[_larder.RawArray | None, _larder.RawArray | None]:
        # Values and validity as larder maps them: one per row of the manifest, checked.
        return _larder.open_column(self._ds.path, self.name)

    @cached_property
    def validity(self) -> np.ndarray[Any, Any] | None:
        """``True`` where a row holds a value, zero-copy; ``None`` when no value is missing
        (floats mark missing values as NaN instead)."""
        valid = self._mapped[1]
        return None if valid is None else np.asarray(valid)

    @cached_property
    def offsets(self) -> np.ndarray[Any, Any] | None:
        """For a string column, the ``rows + 1`` int64 offsets into :attr:`values` (Arrow's
        large-string layout): string ``i`` is ``values[offsets[i]:offsets[i + 1]]``."""
        off = self._meta.get("offsets")
        if off is None:
            return None
        return self._checked_strings(self._meta["path"], self._file(off), len(self))[1]

    @cached_property
    def _string_bytes(self) -> np.ndarray[Any, Any]:
        off = self._meta.get("offsets")
        assert off is not None
        return self._checked_strings(self._meta["path"], self._file(off), len(self))[0]

    @staticmethod
    def _checked_strings(
        data: str, off: str, n: int
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """The bytes and the ``n + 1`` offsets of mapped strings, checked so that Arrow never
        reads outside the bytes: larder's checks (first 0, last the end of the bytes, one more
        offset than strings) and ascending offsets, read block by block from the file rather
        than through the mapping (which would leave every page of the offsets in RSS)."""
        _larder.check_strings(data, off, n)
        offsets = open(off).to_numpy()[: n + 1]
        values = open(data).to_numpy()
        if len(offsets) != n + 1 or (n and offsets[-1] > len(values)):
            raise FormatError(
                f"{off}: offsets end past the {len(values)} bytes of {data} "
                "(an append still under way?)"
            )
        if n:
            _blocks.check_offsets(off, n, len(values))
        return values, offsets

    @cached_property
    def categories(self) -> list[str] | None:
        """For a categorical column, the categories in code order."""
        if self._meta.get("categories") is not None:
            return list(self._meta["categories"])
        d = self._meta.get("dictionary")
        if d is None:
            return None
        arr = self._dictionary_arrow(d)
        return [str(s) for s in arr.to_pylist()]

    def _dictionary_arrow(self, d: dict[str, str]) -> pa.Array:
        import pyarrow as pa

        data, off = self._file(d["file"]), self._file(d["offsets"])
        n = max(open(off).shape[0] - 1, 0)
        values, offsets = self._checked_strings(data, off, n)
        return pa.Array.from_buffers(
            pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(values)]
        )

    # -- what the conversions derive from the validity and codes files ---------------------
    # Read block by block from the files, not through their mappings (see `_blocks`); a
    # column that is not a directory's (a group's, decoded into memory) overrides them.
    def _has_missing(self, start: int, stop: int) -> bool:
        valid = self._meta.get("valid")
        return valid is not None and _blocks.has_missing(self._file(valid), start, stop)

    def _missing_mask(self, start: int, stop: int) -> np.ndarray[Any, Any] | None:
        valid = self._meta.get("valid")
        return None if valid is None else _blocks.missing_mask(self._file(valid), start, stop)

    def _packed_validity(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        return _blocks.packed_bits(self._file(self._meta["valid"]), start, stop)

    def _packed_bools(self, start: int, stop: int) -> np.ndarray[Any, Any]:
        return _blocks.packed_bits(self._meta["path"], start, stop)

    def _pandas_codes(self, start: int, stop: int, categories: int) -> np.ndarray[Any, Any]:
        valid = self._meta.get("valid")
        return _blocks.pandas_codes(
            self._meta["path"],
            self.values,
            None if valid is None else self._file(valid),
            start,
            stop,
            categories,
            self.name,
        )

    # -- conversions ------------------------------------------------------------------------
    def to_numpy(self) -> np.ndarray[Any, Any]:
        """numpy values: the zero-copy view for numbers, bools, datetimes and codes (missing
        rows hold placeholders, see :attr:`validity`); an object array of ``str`` (``None`` where
        missing) for string columns, which is a copy."""
        if self.kind == "string":
            return np.array(self.to_arrow().to_pylist(), dtype=object)
        return self.values

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray[Any, Any]:
        a = self.to_numpy()
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a.copy() if copy else a

    def to_arrow(self, start: int = 0, stop: int | None = None) -> pa.Array:
        """The rows ``start:stop`` as a pyarrow array over the mapped buffers; missing values
        are null (in a float column without a validity file, NaN is missing: null)."""
        import pyarrow as pa

        stop = len(self) if stop is None else min(stop, len(self))
        start = min(start, stop)
        n = stop - start
        bitmap = None
        if self._has_missing(start, stop):
            bitmap = pa.py_buffer(self._packed_validity(start, stop))
        kind = self.kind
        if kind == "string":
            offsets = self.offsets
            assert offsets is not None
            return pa.Array.from_buffers(
                pa.large_string(),
                n,
                [bitmap, pa.py_buffer(offsets[start : stop + 1]), pa.py_buffer(self.values)],
            )
        if kind == "bool":
            packed = pa.py_buffer(self._packed_bools(start, stop))
            return pa.Array.from_buffers(pa.bool_(), n, [bitmap, packed])
        values = self.values[start:stop]
        if kind == "datetime":
            unit = np.datetime_data(values.dtype)[0]
            if unit not in _ARROW_TIME_UNITS:
                values = values.astype("M8[s]")
                unit = "s"
            return pa.Array.from_buffers(
                pa.timestamp(unit, tz=self._zone), n, [bitmap, pa.py_buffer(values)]
            )
        if kind == "categorical":
            codes = pa.Array.from_buffers(
                pa.from_numpy_dtype(values.dtype), n, [bitmap, pa.py_buffer(values)]
            )
            d = self._meta.get("dictionary")
            dictionary = (
                self._dictionary_arrow(d)
                if d is not None
                else pa.array(self._meta["categories"], type=pa.large_string())
            )
            return pa.DictionaryArray.from_arrays(codes, dictionary)
        if not values.dtype.isnative:
            values = values.astype(values.dtype.newbyteorder("="))
        if bitmap is None and self._nan_is_missing:
            # convert stores a missing float as NaN: null in Arrow, as larder's export does.
            nan = np.isnan(values)
            if nan.any():
                bitmap = pa.py_buffer(np.packbits(~nan, bitorder="little"))
        return pa.Array.from_buffers(
            pa.from_numpy_dtype(values.dtype), n, [bitmap, pa.py_buffer(values)]
        )

    @property
    def _zone(self) -> str | None:
        """``"UTC"`` for a date-time column read with an offset or a time zone (its format
        has ``%z`` or ``%Q``, or its ISO 8601 text carried offsets, which the manifest records
        as ``zone``: ``pd.read_csv`` gives tz-aware times), else ``None`` (naive: UTC wall
        times, as pandas gives text without an offset)."""
        if self.kind != "datetime":
            return None
        fmt = self._meta.get("format")
        if self._meta.get("zone") is not None or (fmt is not None and _larder.format_reads_zone(str(fmt))):
            return "UTC"
        return None

    @property
    def _nan_is_missing(self) -> bool:
        # A float column without a validity file: its NaN are its missing values (convert
        # writes none for floats); with one, NaN where a value is present stays NaN.
        return (
            self.kind == "number"
            and np.dtype(self._meta["dtype"]).kind == "f"
            and self._meta.get("valid") is None
        )

    def to_pandas(
        self, dtype_backend: str = "numpy_nullable", start: int = 0, stop: int | None = None
    ) -> pd.Series[Any]:
        """The column as a pandas Series, with ``pd.read_csv``'s missing-value semantics."""
        import pandas as pd

        if dtype_backend == "pyarrow":
            return pd.Series(
                pd.arrays.ArrowExtensionArray(self.to_arrow(start, stop)), name=self.name, copy=False
            )
        if dtype_backend != "numpy_nullable":
            raise ValueError(
                f"dtype_backend {dtype_backend!r}: use \"numpy_nullable\" or \"pyarrow\""
            )
        stop = len(self) if stop is None else min(stop, len(self))
        start = min(start, stop)
        kind, valid = self.kind, self._meta.get("valid")
        # A column with a validity file is nullable in every row range (the same dtype for
        # head() and for every dask partition). Its mask is made only where a row is missing
        # (read from the validity file, not through its mapping); else it is all False, and
        # np.zeros costs no memory until a page of it is touched.
        missing = None if valid is None else self._missing_mask(start, stop)
        mask = missing
        if valid is not None and mask is None:
            mask = np.zeros(stop - start, bool)
        if kind == "string":
            import pyarrow as pa  # noqa: F401  (the string dtype is Arrow-backed)

            return pd.Series(
                pd.arrays.ArrowStringArray(self.to_arrow(start, stop)), name=self.name, copy=False
            )
        if kind == "categorical":
            cats = self.categories or []
            # pandas wants signed codes with -1 for missing: the stored codes themselves where
            # no row is missing and their width is pandas' (checked against the categories
            # block by block), else a copy of the codes only.
            codes = self._pandas_codes(start, stop, len(cats))
            dtype = pd.CategoricalDtype(cats)
            cat = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
            return pd.Series(cat, name=self.name, copy=False)
        values = self.values[start:stop]
        if kind == "datetime":
            unit = np.datetime_data(values.dtype)[0]
            if unit not in _ARROW_TIME_UNITS:
                values = values.astype("M8[s]")
            if missing is not None:
                values = values.copy()
                values[missing] = np.datetime64("NaT")
            if self._zone is not None:
                return pd.Series(_zoned_times(values, self._zone), name=self.name, copy=False)
            return pd.Series(values, name=self.name, copy=False)
        if not values.dtype.isnative:
            values = values.astype(values.dtype.newbyteorder("="))
        if mask is None:
            return pd.Series(values, name=self.name, copy=False)
        if kind == "bool":
            return pd.Series(pd.arrays.BooleanArray(values, mask, copy=False), name=self.name, copy=False)
        if values.dtype.kind in "iu":
            return pd.Series(pd.arrays.IntegerArray(values, mask, copy=False), name=self.name, copy=False)
        return pd.Series(pd.arrays.FloatingArray(values, mask, copy=False), name=self.name, copy=False)

    @property
    def arrow_type(self) -> pa.DataType:
        """The pyarrow type :meth:`to_arrow` gives."""
        import pyarrow as pa

        kind = self.kind
        if kind == "string":
            return pa.large_string()
        if kind == "bool":
            return pa.bool_()
        dtype = np.dtype(self._meta["dtype"])
        if kind == "datetime":
            unit = np.datetime_data(dtype)[0]
            return pa.timestamp(unit if unit in _ARROW_TIME_UNITS else "s", tz=self._zone)
        if kind == "categorical":
            return pa.dictionary(pa.from_numpy_dtype(dtype), pa.large_string())
        return pa.from_numpy_dtype(dtype.newbyteorder("="))

    @property
    def pandas_dtype(self) -> Any:
        """The dtype :meth:`to_pandas` gives (numpy-nullable backend)."""
        import pandas as pd

        kind, nullable = self.kind, self._meta.get("valid") is not None
        dtype = np.dtype(self._meta["dtype"]) if kind != "string" else None
        if kind == "string":
            return pd.StringDtype("pyarrow")
        if kind == "categorical":
            return pd.CategoricalDtype(self.categories)
        assert dtype is not None
        if kind == "datetime":
            unit = np.datetime_data(dtype)[0]
            unit = unit if unit in _ARROW_TIME_UNITS else "s"
            if self._zone is not None:
                return pd.DatetimeTZDtype(unit, self._zone)
            return np.dtype(f"M8[{unit}]")
        if kind == "bool":
            return pd.BooleanDtype() if nullable else np.dtype(bool)
        native = dtype.newbyteorder("=")
        if not nullable:
            return native
        return pd.api.types.pandas_dtype(native.name.capitalize().replace("Uint", "UInt"))


class Dataset:
    """A dataset directory made by ``larder convert``: columns of equal length, each mapped."""

    def __init__(self, path: PathLike) -> None:
        self._path = os.fspath(path)
        self._manifest: dict[str, Any] = json.loads(_larder.dataset_manifest(self._path))
        self._columns = {c["name"]: Column(self, c) for c in self._manifest["columns"]}

    @property
    def path(self) -> str:
        return self._path

    @property
    def manifest(self) -> dict[str, Any]:
        """``manifest.json``, as larder checked it."""
        return self._manifest

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def __len__(self) -> int:
        return int(self._manifest["rows"])

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __getitem__(self, name: str) -> Column:
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(
                f"{self._path}: no column {name!r}; columns: {', '.join(self._columns)}"
            ) from None

    def __repr__(self) -> str:
        return f"larder.Dataset({self._path!r}, rows={len(self)}, columns={self.columns})"

    def _pick(self, columns: Sequence[str] | None) -> list[Column]:
        return [self[c] for c in (self.columns if columns is None else columns)]

    @property
    def dtypes(self) -> pd.Series[Any]:
        """The pandas dtypes :meth:`to_pandas` gives, as ``DataFrame.dtypes`` shows them."""
        import pandas as pd

        return pd.Series({c.name: c.pandas_dtype for c in self._columns.values()}, dtype=object)

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of :meth:`to_arrow` and of the C stream (larder's Arrow export;
        each field's metadata carries larder's kind and stored dtype)."""
        import pyarrow as pa

        return pa.schema(_Capsules(self._path, None))

    # -- pandas ---------------------------------------------------------------------------
    def to_pandas(
        self,
        dtype_backend: str = "numpy_nullable",
        columns: Sequence[str] | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> pd.DataFrame:
        """A pandas DataFrame over the mapped columns (rows ``start:stop``), with
        ``pd.read_csv``'s missing values: nullable ``Int64``/``boolean`` where a column has
        missing values, NaN in floats, ``<NA>`` in strings, ``category`` for categoricals,
        ``datetime64`` with NaT: ``datetime64[unit, UTC]`` for a column read with an offset
        or a time zone (``%z``, ``%Q``), naive (UTC wall times) otherwise."""
        import pandas as pd

        cols = self._pick(columns)
        stop = len(self) if stop is None else min(stop, len(self))
        start = min(max(start, 0), stop)
        data = {c.name: c.to_pandas(dtype_backend, start, stop) for c in cols}
        index = pd.RangeIndex(start, stop)
        df = pd.DataFrame(data, copy=False) if data else pd.DataFrame(index=index)
        df.index = index
        return df

    def filter(
        self, expr: str, out: PathLike | None = None, columns: Sequence[str] | None = None
    ) -> Dataset:
        """The rows where the SQL condition ``expr`` holds (``"region = 'eu' AND x > 2"``;
        NULL and NaN rules in docs/compute.md), as a new :class:`Dataset`, as
        ``df.query(expr)`` gives a new frame: its ``to_pandas()`` and Arrow export hold only
        those rows, mapped from disk. The rows are written once, as ``larder filter`` writes
        them, to ``out`` (which must not exist), or else to a temporary directory removed when
        the returned Dataset is garbage-collected. A bad expression raises ``ValueError``
        marking the position."""
        import shutil
        import tempfile
        import weakref

        tmp = None
        if out is None:
            tmp = tempfile.mkdtemp(prefix="larder-filter-")
            out = os.path.join(tmp, "rows")
        try:
            keep = None if columns is None else list(columns)
            _larder.filter(self._path, expr, os.fspath(out), keep)
            result = Dataset(out)
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        if tmp is not None:
            weakref.finalize(result, shutil.rmtree, tmp, True)
        return result

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` rows as a pandas DataFrame."""
        return self.to_pandas(stop=n)

    def info(self, buf: TextIO | None = None) -> None:
        """A summary as ``DataFrame.info()`` prints it: columns, non-null counts, dtypes, and
        the bytes on disk. The counts read the validity files, and float columns (whose missing
        values are NaN); nothing else."""
        out = buf or sys.stdout
        lines = [
            "<class 'larder.Dataset'>",
            f"RangeIndex: {len(self)} entries, 0 to {max(len(self) - 1, 0)}",
            f"Data columns (total {len(self._columns)} columns):",
        ]
        width = max([len("Column")] + [len(c) for c in self._columns])
        lines.append(f" #   {'Column':<{width}}  Non-Null Count  Dtype")
        lines.append(f"---  {'-' * width}  --------------  -----")
        counts: dict[str, int] = {}
        for i, c in enumerate(self._columns.values()):
            v = c.validity
            non_null = len(self) if v is None else int(np.count_nonzero(v))
            if c.kind == "number" and np.dtype(c._meta["dtype"]).kind == "f":
                non_null -= int(np.count_nonzero(np.isnan(c.values)))
            dtype = str(c.pandas_dtype)
            counts[dtype] = counts.get(dtype, 0) + 1
            lines.append(f" {i:<3} {c.name:<{width}}  {non_null} non-null{'':<{max(0, 6 - len(str(non_null)))}}{dtype}")
        lines.append("dtypes: " + ", ".join(f"{k}({v})" for k, v in sorted(counts.items())))
        lines.append(self._disk_usage())
        print("\n".join(lines), file=out)

    def _disk_usage(self) -> str:
        disk = 0
        for c in self._columns.values():
            for key in ("file", "valid", "offsets"):
                if c._meta.get(key):
                    disk += os.path.getsize(os.path.join(self._path, c._meta[key]))
        return f"disk usage: {disk / 2**20:.1f} MB (mapped, not in memory)"

    # -- Arrow ----------------------------------------------------------------------------
    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """A pyarrow Table over the mapped buffers (larder's Arrow export, read in batches of
        :data:`BATCH_ROWS` rows: numbers, datetimes, string offsets and bytes and categorical
        codes are not copied). Made once per Dataset (see :meth:`__arrow_c_stream__`); a
        choice of columns selects from it. Ctrl-C stops it between batches."""
        table = self._table
        return table if columns is None else table.select([c.name for c in self._pick(columns)])

    @cached_property
    def _table(self) -> pa.Table:
        # Every column exported once: strings and codes checked and validity packed to bits
        # (rows/8 bytes per column with a validity file, the only memory it holds); every other
        # buffer is the mapping. Later exports share it instead of checking and packing again.
        # The columns are exported side by side, one stream each (larder's stream runs without
        # the GIL), so the checks of a long string column overlap those of the others; every
        # column has the same batches of BATCH_ROWS rows, so the table's chunks line up.
        # Batches are taken one by one from Python (not `read_all`), so that Ctrl-C stops the
        # export between batches: the workers see `stop` and end at their next batch.
        import pyarrow as pa

        names = self.columns
        if len(names) < 2 or len(self) <= BATCH_ROWS or (os.cpu_count() or 1) < 2:
            reader = self.to_reader(BATCH_ROWS)
            return pa.Table.from_batches(list(reader), schema=reader.schema)
        import threading
        from concurrent.futures import ThreadPoolExecutor, wait

        stop = threading.Event()

        def one(name: str) -> pa.Table:
            reader = self.to_reader(BATCH_ROWS, [name])
            batches = []
            for batch in reader:
                if stop.is_set():
                    raise KeyboardInterrupt
                batches.append(batch)
            return pa.Table.from_batches(batches, schema=reader.schema)

        with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
            futures = [pool.submit(one, n) for n in names]
            try:
                wait(futures)
            except BaseException:
                stop.set()
                for f in futures:
                    f.cancel()
                raise
            parts = [f.result() for f in futures]
        return pa.Table.from_arrays([t.column(0) for t in parts], schema=self.schema)

    def to_reader(
        self, batch_rows: int = BATCH_ROWS, columns: Sequence[str] | None = None
    ) -> pa.RecordBatchReader:
        """A fresh pyarrow RecordBatchReader of batches of at most ``batch_rows`` rows, made as
        they are read; a damaged batch (bad string offsets, a code past the categories) is an
        error of that batch."""
        import pyarrow as pa

        if batch_rows < 1:
            raise ValueError(f"batch_rows {batch_rows}: must be at least 1")
        return pa.RecordBatchReader.from_stream(_Capsules(self._path, columns, batch_rows))

    def batches(
        self, batch_rows: int = BATCH_ROWS, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of at most ``batch_rows`` rows, made as they are consumed."""
        yield from self.to_reader(batch_rows, columns)

    def __arrow_c_schema__(self) -> object:
        """The Arrow PyCapsule interface: the schema."""
        return _larder.arrow_schema(self._path, None)

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow PyCapsule interface: ``pa.table(ds)``, ``pl.DataFrame(ds)``, DuckDB. Each
        call makes a fresh stream from the first row, in batches of at most
        :data:`BATCH_ROWS` rows.

        With pyarrow installed, the stream is that of :meth:`to_arrow`'s table, made on the
        first call over the mapped buffers: the strings and codes are checked once per
        Dataset, not once per consumer, so a second DuckDB query over ``ds`` costs the query
        alone; ``requested_schema`` is then applied by pyarrow (a cast where asked). Without
        pyarrow, larder's own stream (made batch by batch as it is read; ``requested_schema``
        is not applied, as the interface allows)."""
        try:
            table = self._table
        except ImportError:
            return _larder.arrow_stream(self._path, None, BATCH_ROWS)
        return table.__arrow_c_stream__(requested_schema)

    def to_polars(self, columns: Sequence[str] | None = None) -> Any:
        """A polars DataFrame (through Arrow; numbers and strings are not copied by larder)."""
        import polars as pl

        return pl.from_arrow(self.to_arrow(columns))

    # -- dask -----------------------------------------------------------------------------
    def to_dask(self, partition_rows: int = 1_000_000, columns: Sequence[str] | None = None) -> Any:
        """A dask DataFrame whose partitions each open the dataset and map their own row
        range: no data goes through the scheduler, only the path and the range."""
        import dask.dataframe as dd

        if partition_rows < 1:
            raise ValueError(f"partition_rows {partition_rows}: must be at least 1")
        cols = None if columns is None else list(columns)
        ranges = [(lo, min(lo + partition_rows, len(self))) for lo in range(0, len(self), partition_rows)] or [(0, 0)]
        meta = self.to_pandas(columns=cols, stop=0)
        divisions = [r[0] for r in ranges] + [max(ranges[-1][1] - 1, 0)]
        return dd.from_map(
            _partition,
            ranges,
            path=self._path,
            columns=cols,
            meta=meta,
            divisions=divisions,
            enforce_metadata=False,
        )


class _Capsules:
    """The Arrow PyCapsule interface over some columns of a dataset."""

    def __init__(self, path: str, columns: Sequence[str] | None, batch_rows: int = BATCH_ROWS) -> None:
        self._args = (path, None if columns is None else list(columns))
        self._batch_rows = batch_rows

    def __arrow_c_schema__(self) -> object:
        return _larder.arrow_schema(*self._args)

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return _larder.arrow_stream(*self._args, self._batch_rows)


def _zoned_times(values: np.ndarray[Any, Any], zone: str) -> Any:
    """``values`` (``datetime64``, UTC) as a pandas ``datetime64[unit, zone]`` array over the
    same buffer: instants in UTC are what a tz-aware array stores, so nothing needs converting;
    ``tz_localize`` would copy them."""
    import pandas as pd

    dtype = pd.DatetimeTZDtype(np.datetime_data(values.dtype)[0], zone)
    simple_new = getattr(pd.arrays.DatetimeArray, "_simple_new", None)
    if simple_new is None:  # pragma: no cover (a pandas without it: a copy)
        return pd.Series(values).dt.tz_localize(zone).array
    return simple_new(values, dtype=dtype)


def _partition(bounds: tuple[int, int], path: str, columns: list[str] | None) -> pd.DataFrame:
    lo, hi = bounds
    # A group's partition reads its own rows from the group (in object storage, from there).
    return open_dataset(path).to_pandas(columns=columns, start=lo, stop=hi)


def open_dataset(path: PathLike) -> Dataset:
    """Opens a dataset: a directory made by ``larder convert`` (columns mapped), or a Zarr
    group made from one by ``larder copy`` (``x.zarr``, or ``s3://bucket/prefix``; read-only,
    decoded as read), also inside a hierarchy, named as the command line names a node
    (``x.zarr:/a/b``, ``s3://bucket/x.zarr:/a/b``)."""
    p = os.fspath(path)
    if _is_group(p):
        from ._group import GroupDataset

        return GroupDataset(p)
    store, node = _split_node(p)
    if node is not None and os.path.exists(os.path.join(store, "manifest.json")):
        raise FormatError(
            f"{p}: {store} is a dataset directory, which holds no nodes; its column is "
            f"open_dataset({store!r})[{node.strip('/')!r}]"
        )
    return Dataset(p)


def _split_node(path: str) -> tuple[str, str | None]:
    """``(store, "/node")`` for a local ``STORE:/node`` whose store is a directory and whose
    whole text names nothing (as the command line splits it), else ``(path, None)``."""
    store, sep, node = path.rpartition(":/")
    if sep and not os.path.exists(path) and os.path.isdir(store):
        return store, "/" + node
    return path, None


def _is_group(path: str) -> bool:
    if "://" in path:
        return True
    store, node = _split_node(path)
    return (
        os.path.isdir(store)
        and not os.path.exists(os.path.join(store, "manifest.json"))
        and os.path.exists(os.path.join(store, "zarr.json"))
    )
