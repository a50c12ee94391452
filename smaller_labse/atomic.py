"""Atomic outputs: write to a temporary path next to the target, then rename.

A crash or an error never leaves a half-written file or directory where a
complete one is expected.
"""

import contextlib
import os
import shutil
import tempfile
from typing import Iterator

from smaller_labse.errors import InputError


@contextlib.contextmanager
def atomic_path(path: str, is_dir: bool = False) -> Iterator[str]:
  """Yields a temporary sibling path; on success renames it onto `path`.

  On an exception the temporary file or directory is removed and `path` is
  left as it was. An existing `path` is replaced (a directory is removed first).
  """
  path = os.path.abspath(path)
  parent = os.path.dirname(path)
  first_created = parent
  while not os.path.exists(os.path.dirname(first_created)):
    first_created = os.path.dirname(first_created)
  created_parent = not os.path.exists(parent)
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
    if created_parent:  # Leave no empty directories behind either.
      _remove_empty_dirs(parent, first_created)
    raise


def _remove_empty_dirs(path: str, top: str) -> None:
  """Removes `path` and its parents up to and including `top`, while empty."""
  while True:
    try:
      os.rmdir(path)
    except OSError:
      return
    if path == top:
      return
    path = os.path.dirname(path)


def write_text(path: str, text: str) -> None:
  """Writes UTF-8 `text` to `path` atomically, with '\\n' line endings untouched."""
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8", newline="") as f:
      f.write(text)


def check_replaceable(path: str, holds_same: bool, overwrite: bool, what: str = "model") -> None:
  """Refuses to replace an existing `path` that holds something else.

  Args:
    path: the output about to be written.
    holds_same: whether `path` already holds what would be written (a rerun).
    overwrite: the user asked to replace it anyway.
  """
  if os.path.exists(path) and not holds_same and not overwrite:
    raise InputError(f"{path}: already holds a different {what}; remove it or pass --overwrite")
