"""larder's exceptions.

Every error larder raises is a :class:`LarderError`; where Python has a built-in for the same
situation the class also derives from it, so ``except FileNotFoundError`` and
``except larder.LarderError`` both catch a missing file. The message is the one the ``larder``
command prints.
"""

from __future__ import annotations

__all__ = [
    "LarderError",
    "FormatError",
    "DTypeError",
    "NotViewableError",
    "ReadOnlyError",
    "DeltaError",
    "ConversionError",
    "ArgumentError",
    "SelectionError",
    "StorageError",
    "RemoteError",
    "UnsupportedError",
    "LarderIOError",
    "LarderFileNotFoundError",
    "LarderPermissionError",
    "LarderIsADirectoryError",
    "LarderNotADirectoryError",
    "LockedError",
]


class LarderError(Exception):
    """Base class of every error larder raises."""


class FormatError(LarderError, ValueError):
    """A file is not what it claims to be: a bad header, a truncated file, a damaged delta."""


class DTypeError(FormatError):
    """A file holds another element type than the one asked for."""


class NotViewableError(LarderError, ValueError):
    """Data cannot be lent in place (e.g. writable views of the other byte order)."""


class ReadOnlyError(LarderError, ValueError):
    """A write to an array opened read-only."""


class DeltaError(LarderError, ValueError):
    """A delta file does not apply to the file below it."""


class ConversionError(LarderError, ValueError):
    """A CSV conversion stopped at records it could not convert."""


class ArgumentError(LarderError, ValueError):
    """An argument larder cannot use (an unknown option value, a selection out of bounds)."""


class StorageError(LarderError, OSError):
    """A store (Zarr, HDF5) could not be read or written."""


class RemoteError(LarderError, OSError):
    """Object storage (``s3://``) failed after its retries."""


class UnsupportedError(LarderError, NotImplementedError):
    """Not supported on this platform or in this build."""


class LarderIOError(LarderError, OSError):
    """A file system error."""


class LarderFileNotFoundError(LarderIOError, FileNotFoundError):
    """A file or directory that does not exist."""


class LarderPermissionError(LarderIOError, PermissionError):
    """A file or directory that may not be read or written."""


class LarderIsADirectoryError(LarderIOError, IsADirectoryError):
    """A directory where a file is needed."""


class LarderNotADirectoryError(LarderIOError, NotADirectoryError):
    """A file where a directory is needed."""


class SelectionError(ArgumentError, IndexError):
    """A selection that does not fit the array (an index past the end, a zero step)."""


class LockedError(LarderError, BlockingIOError):
    """A file another handle holds locked for writing (in this process or another); the
    message says which."""
