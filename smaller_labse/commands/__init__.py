"""The pipeline's command-line programs, one module a stage: its absl flags, its docstring (the
--help text) and `main(argv)`.

absl flags are global, and the stages define flags of the same names (--output_dir, --langs,
--overwrite): a process imports exactly one of these modules, through the top-level script or
the `smaller-labse` subcommand that runs it.
"""

import sys
from types import ModuleType

from absl import flags

from smaller_labse.errors import run_cli


def run(command: ModuleType) -> None:
  """Runs `command.main` as the program (errors.run_cli); --help shows the command's docstring
  and flags, whatever module is __main__."""
  sys.modules["__main__"].__doc__ = command.__doc__
  for flag in flags.FLAGS.get_key_flags_for_module(command.__name__):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  run_cli(command.main)
