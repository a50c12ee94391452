"""Quiet by default: TensorFlow's log chatter only when absl's --verbosity/-v asks for it.

A user sees progress bars, results, warnings and errors. `--verbosity=0` (or `-v 0`) brings
back INFO logs, ours and TensorFlow's (C++ and Python), `--verbosity=1` adds debug logs.
TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is imported, so `quiet_before_import`
runs from `smaller_labse/__init__.py`, before any module of the package imports tensorflow;
`quiet_after_flags` runs in `errors.run_cli` once absl has parsed the flags.
"""

import logging
import os
import sys
from typing import Optional, Sequence

_VERBOSITY_FLAGS = ("--verbosity", "-verbosity", "--v", "-v")


def requested_verbosity(argv: Sequence[str]) -> Optional[int]:
  """absl's verbosity given in argv ('--verbosity=1', '-v 0', '-v=1'...), or None."""
  for i, arg in enumerate(argv[1:], start=1):
    if arg == "--":
      break
    name, equals, value = arg.partition("=")
    if name not in _VERBOSITY_FLAGS:
      continue
    if not equals:
      value = argv[i + 1] if i + 1 < len(argv) else ""
    try:
      return int(value)
    except ValueError:
      return None
  return None


def verbose(argv: Optional[Sequence[str]] = None) -> bool:
  """True when the command line asks for INFO logs or more (verbosity >= 0)."""
  level = requested_verbosity(sys.argv if argv is None else argv)
  return level is not None and level >= 0


def quiet_before_import() -> None:
  """Silences TensorFlow's C++ logs (INFO, warnings, the cuInit error of machines without a
  GPU) and its Python logger, unless the command line asks for logs. A TF_CPP_MIN_LOG_LEVEL
  already set by the user is kept."""
  if verbose():
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  logging.getLogger("tensorflow").setLevel(logging.ERROR)


def quiet_after_flags(verbosity_given: bool) -> None:
  """After absl parsed the flags: our absl logs at WARNING and TensorFlow's Python logger at
  ERROR, unless --verbosity/-v was given."""
  tf = sys.modules.get("tensorflow")
  if tf is not None:
    # Grappler's loop optimizer writes a C++ warning that no log level silences ("Skipping
    # loop optimization for Merge node with control input") for every function that holds the
    # preprocessor's RaggedConcat asserts. These graphs have no loops: the pass has nothing
    # to do, so it is turned off rather than its output hidden.
    tf.config.optimizer.set_experimental_options({"loop_optimization": False})
  if verbosity_given:
    logging.getLogger("tensorflow").setLevel(logging.NOTSET)
    return
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)
  logging.getLogger("tensorflow").setLevel(logging.ERROR)
