"""Giving memory back between big models in one process.

glibc keeps the heap memory a freed model's arrays held (a 24-layer model's 1.2 GB of layers,
read by numpy or PyTorch) instead of returning it to the system, and TensorFlow's variables
built next do not reuse it: stage 1 at bge-m3's shape held 1.2 GB of freed memory beside our
encoder. `release()` collects garbage, then asks glibc to return its free pages
(`malloc_trim`); elsewhere (no glibc) it only collects.
"""

import ctypes
import ctypes.util
import gc
from typing import Optional

_libc: Optional[object] = None
_looked_up = False


def _malloc_trim():
  global _libc, _looked_up  # pylint: disable=global-statement
  if not _looked_up:
    _looked_up = True
    try:
      libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
      _libc = libc if hasattr(libc, "malloc_trim") else None
    except OSError:
      _libc = None
  return None if _libc is None else _libc.malloc_trim


def release() -> None:
  """gc.collect(), then glibc's malloc_trim(0) where there is one."""
  gc.collect()
  trim = _malloc_trim()
  if trim is not None:
    trim(0)
