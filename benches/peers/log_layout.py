"""Writes Arrow columns the way `larder convert` lays out a dataset, for the request-log peers.

Numbers, bools and timestamps become `NAME.npy` (timestamps as numpy `datetime64`, missing
values as 0 or NaT); strings use Arrow's large-string layout (`NAME.npy` the UTF-8 bytes,
`NAME.offsets.npy` the int64 offsets, rows + 1 of them); dictionary-encoded columns their codes;
a column with missing values gets `NAME.valid.npy` (`True` where present). Every peer writes
through this one function, so the peers differ only in how they read the CSV.
"""
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def save_column(out: str, name: str, col) -> None:
    """Saves one column (a pyarrow Array or ChunkedArray) into directory `out`."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    path = os.path.join(out, name)
    if col.null_count:
        np.save(f"{path}.valid.npy", pc.is_valid(col).to_numpy(zero_copy_only=False))
    t = col.type
    if pa.types.is_dictionary(t):
        np.save(f"{path}.npy", col.indices.fill_null(0).to_numpy())
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        a = col.cast(pa.large_string())
        _, offsets, data = a.buffers()
        o = np.frombuffer(offsets, dtype=np.int64)[a.offset:a.offset + len(a) + 1]
        np.save(f"{path}.offsets.npy", o - o[0])
        np.save(f"{path}.npy", np.frombuffer(data, dtype=np.uint8)[o[0]:o[-1]])
    elif pa.types.is_timestamp(t):
        np.save(f"{path}.npy", col.cast(pa.timestamp(t.unit)).to_numpy(zero_copy_only=False))
    else:
        if col.null_count:
            col = col.fill_null(pa.scalar(0, type=t) if not pa.types.is_boolean(t) else False)
        np.save(f"{path}.npy", col.to_numpy(zero_copy_only=False))
