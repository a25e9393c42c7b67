"""A column's small files read block by block with ``read()``, not through the mapping.

What pandas needs beside the mapped values is derived from a column's other files: masks
(``True`` where a row is missing) from the validity file, signed codes with ``-1`` from a
categorical's codes, and the check that string offsets ascend. Reading those files through
their mappings leaves every page read mapped into the process (its RSS grows by the file,
and stays so while the mapping lives); reading them here, one block of at most
:data:`BLOCK_BYTES` at a time into one reused buffer, costs the buffer and what the caller
keeps. And what it keeps is only what pandas needs: a mask only where a row is missing,
signed codes only where they cannot be the stored codes themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import FormatError

#: Bytes read per block (and the size of the reused buffer).
BLOCK_BYTES = 1 << 20


def data_offset(path: str) -> int:
    """Where the data of the ``.npy`` file at ``path`` starts (after its header)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        else:
            np.lib.format.read_array_header_2_0(f)
        return f.tell()


def blocks(
    path: str, dtype: Any, start: int, stop: int, block_rows: int | None = None
) -> Iterator[tuple[int, np.ndarray[Any, Any]]]:
    """``(row - start, values)`` for consecutive blocks of rows ``start:stop`` of the 1-d
    ``.npy`` file at ``path`` holding ``dtype``; each block is read into the same buffer, so
    a block is valid only until the next one is read."""
    dtype = np.dtype(dtype)
    size = dtype.itemsize
    rows = block_rows or max(BLOCK_BYTES // size, 1)
    buf = np.empty(min(rows, max(stop - start, 0)), dtype)
    offset = data_offset(path)
    with open(path, "rb", buffering=0) as f:
        pos = start
        while pos < stop:
            n = min(rows, stop - pos)
            view = buf[:n]
            f.seek(offset + pos * size)
            got = f.readinto(view.view(np.uint8))
            if got != n * size:
                raise FormatError(
                    f"{path}: ends at byte {offset + pos * size + (got or 0)}, before the "
                    f"{stop} rows the manifest counts"
                )
            yield pos - start, view
            pos += n


def _check_bools(path: str, start: int, lo: int, b: np.ndarray[Any, Any]) -> None:
    raw = b.view(np.uint8)
    if raw.size and int(raw.max()) > 1:
        i = int(np.argmax(raw > 1))
        row = start + lo + i
        raise FormatError(
            f"{path}: byte {data_offset(path) + row}: bool of row {row} is {int(raw[i])}, "
            "not 0 or 1"
        )


def has_missing(valid: str, start: int, stop: int) -> bool:
    """Whether a row of ``start:stop`` is missing in the validity file ``valid`` (``|b1``,
    ``True`` where a value is present); a byte other than 0 or 1 is an error."""
    for lo, b in blocks(valid, np.uint8, start, stop):
        _check_bools(valid, start, lo, b)
        if not b.all():
            return True
    return False


def missing_mask(valid: str, start: int, stop: int) -> np.ndarray[Any, Any] | None:
    """pandas' mask of rows ``start:stop``: ``True`` where a row is missing, or ``None``
    when none is. Blocks before the first missing row are never written: their pages of the
    (zeroed) mask cost no memory until touched."""
    mask = None
    for lo, b in blocks(valid, np.uint8, start, stop):
        _check_bools(valid, start, lo, b)
        if mask is None:
            if b.all():
                continue
            mask = np.zeros(stop - start, bool)
        np.equal(b, 0, out=mask[lo : lo + len(b)])
    return mask


def packed_bits(path: str, start: int, stop: int) -> np.ndarray[Any, Any]:
    """Rows ``start:stop`` of a ``|b1`` file packed to bits, least significant first (Arrow's
    layout of bools and validity): ``(stop - start + 7) // 8`` bytes."""
    out = np.empty((max(stop - start, 0) + 7) // 8, np.uint8)
    # A multiple of 8 rows per block, so that each block packs into whole bytes.
    for lo, b in blocks(path, np.uint8, start, stop, block_rows=BLOCK_BYTES):
        _check_bools(path, start, lo, b)
        packed = np.packbits(b, bitorder="little")
        out[lo // 8 : lo // 8 + len(packed)] = packed
    return out


def pandas_codes_dtype(categories: int) -> np.dtype[Any]:
    """The signed codes pandas keeps for ``categories`` categories (its
    ``coerce_indexer_dtype``): the narrowest of int8/16/32/64 whose maximum exceeds it."""
    for t in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(t).max:
            return np.dtype(t)
    return np.dtype(np.int64)


def pandas_codes(
    codes: str,
    stored: np.ndarray[Any, Any],
    valid: str | None,
    start: int,
    stop: int,
    categories: int,
    column: str,
) -> np.ndarray[Any, Any]:
    """Codes for ``pd.Categorical.from_codes`` of rows ``start:stop``: ``-1`` where a row is
    missing, every other code checked to be below ``categories`` (an error names the file,
    the byte and the row). When no row is missing and the stored width is pandas' own, the
    stored codes themselves (``stored``, the mapped view of the whole file) viewed as signed:
    no copy; otherwise a new array."""
    dtype = pandas_codes_dtype(categories)
    n = stop - start
    copy = stored.dtype.itemsize != dtype.itemsize or (
        valid is not None and has_missing(valid, start, stop)
    )
    out = np.empty(n, dtype) if copy else None
    offset = data_offset(codes)
    per_block = BLOCK_BYTES // stored.dtype.itemsize
    vblocks = blocks(valid, np.uint8, start, stop, per_block) if valid else None
    for lo, c in blocks(codes, stored.dtype, start, stop, per_block):
        v = None
        if vblocks is not None and valid is not None:
            raw = next(vblocks)[1]
            _check_bools(valid, start, lo, raw)
            v = raw.view(bool)
        bad = c >= categories
        if v is not None:
            bad &= v
        if bad.any():
            i = int(np.argmax(bad))
            row = start + lo + i
            raise FormatError(
                f"{codes}: byte {offset + row * stored.dtype.itemsize}: row {row}: code "
                f"{int(c[i])} is past the {categories} categories of column {column!r}"
            )
        if out is not None:
            block = out[lo : lo + len(c)]
            block[:] = c
            if v is not None:
                block[~v] = -1
    if out is not None:
        return out
    return stored[start:stop].view(dtype)


def check_offsets(path: str, rows: int, nbytes: int) -> None:
    """The ``rows + 1`` offsets of the ``<i8`` file at ``path`` never decrease and stay
    inside the ``nbytes`` bytes they index (the first is 0, as larder checked); the first
    damage is an error naming the byte and the string."""
    prev = 0
    offset = data_offset(path)
    for lo, o in blocks(path, "<i8", 0, rows + 1):
        steps = np.empty(len(o), bool)
        steps[0] = o[0] < prev
        np.less(o[1:], o[:-1], out=steps[1:])
        if steps.any():
            i = int(np.argmax(steps))
            k = lo + i  # offset k is smaller than offset k - 1: string k - 1 is damaged
            raise FormatError(
                f"{path}: byte {offset + 8 * k}: offsets {k - 1} and {k} decrease; string "
                f"{k - 1} is damaged"
            )
        prev = int(o[-1])
    if prev > nbytes:
        raise FormatError(
            f"{path}: byte {offset + 8 * rows}: offsets end past the {nbytes} bytes of the "
            "strings (an append still under way?)"
        )
