"""Quiet by default: TensorFlow's log chatter only when absl's --verbosity/-v asks for it.

A user sees progress bars, results, warnings and errors. `--verbosity=0` (or `-v 0`) brings
back INFO logs, ours and TensorFlow's (C++ and Python), `--verbosity=1` adds debug logs.
TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, when it is imported, so `quiet_before_import`
runs from `smaller_labse/__init__.py`, before any module of the package imports tensorflow;
`quiet_after_flags` runs once absl has parsed the flags (`errors.run_cli`,
`commands.run_main`); TensorFlow's graph options are set then, or when TensorFlow is imported
later (the commands import it only once they compute).
"""

import importlib.abc
import importlib.util
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
    _graph_options(tf)
  elif not any(isinstance(f, _AfterTensorFlowImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterTensorFlowImport())
  if verbosity_given:
    logging.getLogger("tensorflow").setLevel(logging.NOTSET)
    return
  from absl import logging as absl_logging
  absl_logging.set_verbosity(absl_logging.WARNING)
  logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _graph_options(tf) -> None:
  """Grappler's loop optimizer writes a C++ warning that no log level silences ("Skipping loop
  optimization for Merge node with control input") for every function that holds the
  preprocessor's RaggedConcat asserts. These graphs have no loops: the pass has nothing to do,
  so it is turned off rather than its output hidden. (The option is also written into the
  SavedModels' call ops: set before anything is exported.)"""
  tf.config.optimizer.set_experimental_options({"loop_optimization": False})


class _AfterTensorFlowImport(importlib.abc.MetaPathFinder):
  """Sets `_graph_options` as soon as `import tensorflow` has run, then leaves sys.meta_path."""

  def find_spec(self, fullname, path, target=None):  # pylint: disable=unused-argument
    if fullname != "tensorflow":
      return None
    sys.meta_path.remove(self)
    spec = importlib.util.find_spec(fullname)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
      return spec
    exec_module = spec.loader.exec_module

    def exec_then_set_options(module) -> None:
      exec_module(module)
      _graph_options(module)

    spec.loader.exec_module = exec_then_set_options
    return spec
