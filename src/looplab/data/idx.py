"""The IDX file format of MNIST: a magic number, the dimensions, then the values, big-endian.

An IDX file starts with two zero bytes, a type byte (``0x08`` unsigned byte) and the number of
dimensions; then each dimension as a big-endian uint32; then the values in row-major order.
MNIST's images are ``(count, 28, 28)`` unsigned bytes and its labels ``(count,)``. The files are
usually gzipped (``*.gz``); :func:`read_idx` reads either.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from looplab.errors import DataError

# type byte -> numpy dtype (big-endian), as the format defines them
_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_CODES = {np.dtype(v).str.lstrip("<>|"): k for k, v in _TYPES.items()}


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """The array an IDX file's bytes hold (gzipped or not), in native byte order; a DataError
    names what is wrong."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{name} is a damaged gzip file ({exc}); download it again") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _TYPES:
        raise DataError(f"{name} is not an IDX file (it does not start with an IDX header)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name} is cut short: its header is incomplete")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{name} holds {len(raw) - header} bytes of values but its header {shape} says "
            f"{expected}; the file is cut short or damaged, download it again"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=False)  # native order, as torch needs


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) into an array of its shape."""
    return parse_idx(path.read_bytes(), repr(str(path)))


def idx_bytes(array: np.ndarray, compress: bool = True) -> bytes:
    """An array as IDX bytes (gzipped with ``compress``): the inverse of :func:`parse_idx`."""
    code = _CODES.get(array.dtype.str.lstrip("<>|"))
    if code is None:
        raise ValueError(f"IDX has no type for {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = np.ascontiguousarray(array, dtype=_TYPES[code]).tobytes()
    raw = header + body
    return gzip.compress(raw, mtime=0) if compress else raw
