#!/usr/bin/env python3
"""Check .npy files written by larder against a manifest, using numpy.

Usage:  check_npy.py DIR

DIR/manifest.json has the same format as fixtures/npy/manifest.json; only its
"arrays" list is read. For every entry {"file", "descr", "shape",
"fortran_order", "bits", optionally "version"} this checks that:

  * np.load(path) and np.load(path, mmap_mode="r") both succeed;
  * the loaded dtype's .str equals "descr" (and so does the header's descr);
  * the shape equals "shape";
  * for arrays whose C and Fortran layouts differ (ndim >= 2 with at least
    two axes longer than 1), np.isfortran() and the header's fortran_order
    equal "fortran_order" (for other arrays the two layouts are the same
    bytes, so the flag is not checked);
  * if "version" is given, the file's format version equals it
    ("header_version" is ignored);
  * every element's bit pattern, in logical C order, equals "bits": bool 0/1
    (any other byte fails), ints as unsigned two's complement, floats as IEEE
    bits, complex as [real_bits, imag_bits].

Bytes after the array data are reported but do not fail the check.

Prints one line per file and a final "N passed, M failed" line; exits 1 if
anything failed, 2 if the manifest cannot be read.
"""

import ast
import json
import os
import struct
import sys
import traceback

import numpy as np


class Mismatch(Exception):
    pass


def read_header(path):
    """(version, header dict, data offset), parsed without numpy."""
    with open(path, "rb") as f:
        magic = f.read(6)
        if magic != b"\x93NUMPY":
            raise Mismatch("bad magic %r" % magic)
        ver = f.read(2)
        if len(ver) != 2:
            raise Mismatch("file too short for a header")
        major, minor = ver
        if major == 1:
            size_fmt, pre = "<H", 10
        elif major in (2, 3):
            size_fmt, pre = "<I", 12
        else:
            raise Mismatch("unknown format version %d.%d" % (major, minor))
        raw_len = f.read(struct.calcsize(size_fmt))
        if len(raw_len) != struct.calcsize(size_fmt):
            raise Mismatch("file too short for a header")
        (hlen,) = struct.unpack(size_fmt, raw_len)
        raw = f.read(hlen)
    if len(raw) != hlen:
        raise Mismatch("header length %d runs past end of file" % hlen)
    try:
        text = raw.decode("utf-8" if major >= 3 else "latin-1")
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError) as e:
        raise Mismatch("header is not a Python literal: %s: %r" % (e, raw))
    if not isinstance(header, dict):
        raise Mismatch("header is not a dict: %r" % (header,))
    return (major, minor), header, pre + hlen


def uint_dtype(nbytes, order="="):
    return np.dtype("%su%d" % (order, nbytes))


def element_bits(arr):
    """Bit patterns of all elements in logical C order, from raw bytes."""
    dt = arr.dtype
    flat = np.ascontiguousarray(arr).reshape(-1)
    order = dt.byteorder if dt.byteorder in "<>" else "="
    if dt.kind in "biuf":
        u = flat.view(uint_dtype(dt.itemsize, order if dt.itemsize > 1 else "|"))
        return [int(x) for x in u.astype(uint_dtype(dt.itemsize))]
    if dt.kind == "c":
        half = dt.itemsize // 2
        u = flat.view(uint_dtype(half, order)).astype(uint_dtype(half))
        return [[int(a), int(b)] for a, b in u.reshape(-1, 2)]
    raise Mismatch("dtype %s has no bit-pattern comparison" % dt.str)


def fmt_bits(v):
    if isinstance(v, list):
        return "[%s]" % ", ".join(fmt_bits(x) for x in v)
    if isinstance(v, int) and not isinstance(v, bool):
        return "%d (0x%x)" % (v, v)
    return repr(v)


def compare_bits(label, got, want, shape):
    if not isinstance(want, list):
        raise Mismatch("manifest 'bits' is not a list")
    if len(got) != len(want):
        raise Mismatch("%s: %d elements, manifest lists %d"
                       % (label, len(got), len(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            where = "flat index %d" % i
            if len(shape) > 1:
                where += " = index %s" % (tuple(int(x) for x in
                                                np.unravel_index(i, shape)),)
            raise Mismatch("%s: first mismatch at %s: got %s, expected %s"
                           % (label, where, fmt_bits(g), fmt_bits(w)))


def layout_matters(shape):
    """True when C and Fortran order put the elements at different places."""
    return sum(1 for s in shape if s > 1) >= 2


def check_entry(directory, entry):
    notes = []
    name = entry.get("file")
    if not isinstance(name, str):
        raise Mismatch("entry has no 'file': %r" % (entry,))
    for key in ("descr", "shape", "fortran_order", "bits"):
        if key not in entry:
            raise Mismatch("manifest entry lacks %r" % key)
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        raise Mismatch("file does not exist: %s" % path)
    want_descr = entry["descr"]
    want_shape = tuple(entry["shape"])
    want_fortran = bool(entry["fortran_order"])

    version, header, offset = read_header(path)
    if "version" in entry and list(version) != list(entry["version"]):
        raise Mismatch("format version %d.%d, manifest says %s"
                       % (version[0], version[1], entry["version"]))
    if header.get("descr") != want_descr:
        raise Mismatch("header descr %r, manifest says %r"
                       % (header.get("descr"), want_descr))
    if tuple(header.get("shape", ())) != want_shape:
        raise Mismatch("header shape %r, manifest says %r"
                       % (header.get("shape"), list(want_shape)))
    if layout_matters(want_shape) and header.get("fortran_order") != want_fortran:
        raise Mismatch("header fortran_order %r, manifest says %r"
                       % (header.get("fortran_order"), want_fortran))

    for mode in (None, "r"):
        label = "np.load(mmap_mode=%r)" % mode if mode else "np.load()"
        try:
            arr = np.load(path, mmap_mode=mode)
        except Exception as e:
            raise Mismatch("%s failed: %s: %s" % (label, type(e).__name__, e))
        try:
            if arr.dtype.str != want_descr:
                raise Mismatch("%s: dtype %s, manifest says %s"
                               % (label, arr.dtype.str, want_descr))
            if arr.shape != want_shape:
                raise Mismatch("%s: shape %s, manifest says %s"
                               % (label, list(arr.shape), list(want_shape)))
            if arr.ndim >= 2 and layout_matters(arr.shape):
                if bool(np.isfortran(arr)) != want_fortran:
                    raise Mismatch("%s: np.isfortran is %s, manifest says "
                                   "fortran_order %s"
                                   % (label, bool(np.isfortran(arr)), want_fortran))
            compare_bits(label, element_bits(arr), entry["bits"], want_shape)
            nbytes = arr.nbytes
        finally:
            del arr

    size = os.path.getsize(path)
    if size > offset + nbytes:
        notes.append("%d bytes after the data" % (size - offset - nbytes))
    return "v%d.%d %s %s%s" % (version[0], version[1], want_descr,
                               list(want_shape), " F" if want_fortran else "") + \
        ("" if not notes else " (note: %s)" % "; ".join(notes))


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    directory = argv[0]
    manifest_path = os.path.join(directory, "manifest.json")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        arrays = manifest["arrays"]
        if not isinstance(arrays, list):
            raise TypeError("'arrays' is not a list")
    except Exception as e:
        print("cannot read %s: %s: %s" % (manifest_path, type(e).__name__, e),
              file=sys.stderr)
        return 2

    passed = failed = 0
    failures = []
    for i, entry in enumerate(arrays):
        name = entry.get("file", "<entry %d>" % i) if isinstance(entry, dict) \
            else "<entry %d>" % i
        try:
            if not isinstance(entry, dict):
                raise Mismatch("entry is not an object: %r" % (entry,))
            summary = check_entry(directory, entry)
        except Mismatch as e:
            failed += 1
            failures.append((name, str(e)))
            print("FAIL %s: %s" % (name, e), flush=True)
        except Exception as e:
            failed += 1
            failures.append((name, "%s: %s" % (type(e).__name__, e)))
            print("FAIL %s: unexpected %s: %s" % (name, type(e).__name__, e),
                  flush=True)
            traceback.print_exc(file=sys.stderr)
        else:
            passed += 1
            print("ok   %s: %s" % (name, summary), flush=True)

    if failures:
        print("", file=sys.stderr)
        print("check_npy: %d file(s) in %s FAILED:" % (len(failures), directory),
              file=sys.stderr)
        for name, msg in failures:
            print("  %s: %s" % (name, msg), file=sys.stderr)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
