"""Atomic outputs: write to a temporary path next to the target, then rename.

A crash or an error never leaves a half-written file or directory where a
complete one is expected.
"""

import contextlib
import os
import shutil
import tempfile
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str, is_dir: bool = False) -> Iterator[str]:
  """Yields a temporary sibling path; on success renames it onto `path`.

  On an exception the temporary file or directory is removed and `path` is
  left as it was. An existing `path` is replaced (a directory is removed first).
  """
  path = os.path.abspath(path)
  parent = os.path.dirname(path)
  os.makedirs(parent, exist_ok=True)
  prefix = "." + os.path.basename(path) + ".tmp-"
  if is_dir:
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
  else:
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=parent)
    os.close(fd)
  try:
    yield tmp
    if is_dir and os.path.isdir(path):
      shutil.rmtree(path)
    os.replace(tmp, path)
  except BaseException:
    if os.path.isdir(tmp):
      shutil.rmtree(tmp, ignore_errors=True)
    elif os.path.exists(tmp):
      os.remove(tmp)
    raise


def write_text(path: str, text: str) -> None:
  """Writes UTF-8 `text` to `path` atomically, with '\\n' line endings untouched."""
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8", newline="") as f:
      f.write(text)
