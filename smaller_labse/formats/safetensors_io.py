"""The safetensors file format: streamed writing, and lazy reading of tensors and rows.

A safetensors file is an 8-byte little-endian header length, a JSON header
({name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}) and the
tensors' bytes. Writing streams each tensor in row chunks, so a 1.5 GB embedding
table is never held twice; reading copies only what is asked for (a tensor, or some rows of
one) out of the file, converted to float32.
"""

import json
import os
import struct
from typing import Dict, Iterator, Mapping, Optional, Sequence, Tuple

import numpy as np

from smaller_labse.errors import InputError

_MAX_HEADER = 100_000_000
# Floating-point dtypes a source may store; BF16 has no numpy type and is widened by hand.
_DTYPES = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
           "BF16": np.dtype("<u2")}


def write_safetensors(path: str, tensors: Sequence[Tuple[str, Tuple[int, ...], Iterator]],
                      metadata: Optional[Mapping[str, str]] = None) -> None:
  """Writes float32 tensors in the safetensors format, streaming each tensor's chunks.

  Args:
    path: the file to write.
    tensors: (name, shape, iterator of float32 chunks whose rows concatenate to the
      tensor), in file order.
    metadata: string -> string, stored as the header's "__metadata__".
  """
  header: Dict[str, object] = {}
  if metadata:
    header["__metadata__"] = dict(metadata)
  offset = 0
  for name, shape, _ in tensors:
    size = int(np.prod(shape)) * 4
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
    offset += size
  encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
  encoded += b" " * (-len(encoded) % 8)  # Tensor data 8-byte aligned, as the library does.
  with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(encoded)))
    f.write(encoded)
    for name, shape, chunks in tensors:
      written = 0
      for chunk in chunks:
        data = np.ascontiguousarray(chunk, dtype="<f4").tobytes()
        f.write(data)
        written += len(data)
      if written != int(np.prod(shape)) * 4:
        raise ValueError(f"{name}: wrote {written} bytes for shape {shape}")


def _read_header(path: str) -> Tuple[Dict[str, object], int]:
  """The JSON header and the offset of the data; InputError for a file that is not one."""
  try:
    with open(path, "rb") as f:
      raw = f.read(8)
      (length,) = struct.unpack("<Q", raw) if len(raw) == 8 else (-1,)
      if not 0 < length <= _MAX_HEADER:
        raise InputError(f"{path}: not a safetensors file (header length {length})")
      header = json.loads(f.read(length))
  except FileNotFoundError:
    raise InputError(f"{path}: weights file not found") from None
  except (UnicodeDecodeError, json.JSONDecodeError):
    raise InputError(f"{path}: not a safetensors file (unreadable header)") from None
  if not isinstance(header, dict):
    raise InputError(f"{path}: not a safetensors file (header is not an object)")
  return header, 8 + length


def read_metadata(path: str) -> Dict[str, str]:
  """The "__metadata__" of a safetensors file's header ({} if absent or unreadable)."""
  try:
    header, _ = _read_header(path)
  except InputError:
    return {}
  metadata = header.get("__metadata__", {})
  return dict(metadata) if isinstance(metadata, dict) else {}


class SafetensorsFile:
  """A safetensors file opened for lazy reads: tensors and rows come back as float32 copies.

  Attributes:
    path: the file.
    metadata: the header's "__metadata__".
  """

  def __init__(self, path: str):
    self.path = path
    header, self._data_start = _read_header(path)
    self.metadata = dict(header.pop("__metadata__", None) or {})
    size = os.path.getsize(path)
    self._entries: Dict[str, Tuple[np.dtype, Tuple[int, ...], int]] = {}
    for name, entry in header.items():
      try:
        dtype, shape, (start, stop) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
      except (TypeError, KeyError, ValueError):
        raise InputError(f"{path}: not a safetensors file (bad entry {name!r})") from None
      if dtype not in _DTYPES:
        raise InputError(f"{path}: tensor {name!r} has dtype {dtype}; expected a float type "
                         f"({', '.join(_DTYPES)})")
      nbytes = int(np.prod(shape)) * _DTYPES[dtype].itemsize
      if stop - start != nbytes or self._data_start + stop > size:
        raise InputError(f"{path}: truncated or corrupt (tensor {name!r} does not fit the file)")
      self._entries[name] = (dtype, shape, self._data_start + start)

  def keys(self) -> Sequence[str]:
    return list(self._entries)

  def __contains__(self, name: str) -> bool:
    return name in self._entries

  def shape(self, name: str) -> Tuple[int, ...]:
    return self._entries[name][1]

  # Reads copy bytes out of the file (pread), never map it: a mapped file's touched pages
  # count in the process's memory for as long as it stays mapped.
  def _read(self, fd: int, offset: int, count: int, dtype: np.dtype) -> np.ndarray:
    """`count` values of `dtype` at byte `offset` of the open file `fd`."""
    data = os.pread(fd, count * dtype.itemsize, offset)
    if len(data) != count * dtype.itemsize:
      raise InputError(f"{self.path}: truncated (changed while being read?)")
    return np.frombuffer(data, dtype)

  @staticmethod
  def _float32(values: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":  # The upper half of a float32.
      return (values.astype(np.uint32) << 16).view(np.float32)
    return values.astype(np.float32)

  def tensor(self, name: str) -> np.ndarray:
    """The whole tensor, float32."""
    dtype, shape, start = self._entries[name]
    with open(self.path, "rb") as f:
      values = self._read(f.fileno(), start, int(np.prod(shape)), _DTYPES[dtype])
    return self._float32(values.reshape(shape), dtype)

  def rows(self, name: str, rows: np.ndarray) -> np.ndarray:
    """Rows `rows` (int [R], any order) of a tensor, float32 [R, ...]: only they are read, one
    read per run of consecutive rows."""
    dtype, shape, start = self._entries[name]
    rows = np.asarray(rows, np.int64).reshape(-1)
    if rows.size and (rows.min() < 0 or rows.max() >= shape[0]):
      raise ValueError(f"row index out of range for {name!r} with {shape[0]} rows")
    row_size = int(np.prod(shape[1:]))
    itemsize = _DTYPES[dtype].itemsize
    out = np.empty((len(rows), row_size), _DTYPES[dtype])
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    breaks = np.flatnonzero(np.diff(ordered) > 1) + 1  # Runs of consecutive (or equal) rows.
    with open(self.path, "rb") as f:
      for lo, hi in zip(np.concatenate([[0], breaks]), np.concatenate([breaks, [len(rows)]])):
        if lo == hi:
          continue
        first, last = int(ordered[lo]), int(ordered[hi - 1])
        run = self._read(f.fileno(), start + first * row_size * itemsize,
                         (last - first + 1) * row_size, _DTYPES[dtype]).reshape(-1, row_size)
        out[order[lo:hi]] = run[ordered[lo:hi] - first]
    return self._float32(out.reshape((len(rows),) + tuple(shape[1:])), dtype)
