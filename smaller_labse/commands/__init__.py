"""The pipeline's command-line programs, one module a stage: its flags, its docstring (the --help
text) and `main(argv) -> int`.

Each command keeps its flags in its own `absl.flags.FlagValues` (`new_flags`), so the four
modules can be imported in one process (tests, the pipeline running its stages in-process) and
each `main` call starts from the defaults. Importing a command module imports no TensorFlow,
torch or transformers: the modules that compute are imported inside the code that computes, so
`--help` and input errors answer at once.
"""

import faulthandler
import sys
import textwrap
from types import ModuleType
from typing import Callable, Sequence, Tuple, Type

from absl import flags
from absl import logging as absl_logging

from smaller_labse import quiet
from smaller_labse.errors import InputError

# absl's help flags (and -h): --help, -?, --helpshort the command's flags, --helpfull all of them.
_SHORT_HELP = ("--help", "-help", "-h", "--h", "-?", "--?", "--helpshort", "-helpshort")
_FULL_HELP = ("--helpfull", "-helpfull")


def new_flags() -> flags.FlagValues:
  """A command's own flags, with absl's --verbosity/-v (the same flag objects as absl.logging's,
  so that parsing them sets the log level)."""
  flag_values = flags.FlagValues()
  verbosity = flags.FLAGS["verbosity"]  # also -v (its short name)
  flag_values["verbosity"] = verbosity
  flag_values.register_flag_by_module("absl.logging", verbosity)
  return flag_values


def _help_text(doc: str, flag_values: flags.FlagValues, module: str, prog: str,
               full: bool) -> str:
  """What absl's app.usage writes for --help (full: --helpfull), the docstring's '%s' being
  `prog`."""
  specifiers = doc.count("%") - 2 * doc.count("%%")
  try:
    doc %= (prog,) * specifiers
  except (OverflowError, TypeError, ValueError):
    pass  # The docstring as it is, as absl shows it.
  if full:
    flag_text = flag_values.get_help()
  else:
    for flag in flag_values.get_key_flags_for_module(module):
      flag_values.register_key_flag_for_module(prog, flag)
    flag_text = flag_values.module_help(prog)
  text = doc + (f"\nflags:\n{flag_text}" if flag_text else "") + "\n"
  return text if full else text + "\nTry --helpfull to get a list of all flags.\n"


def _asks_for_help(args: Sequence[str]) -> str:
  """'short' or 'full' when `args` (after the program name) ask for help before any `--`."""
  for arg in args:
    if arg == "--":
      break
    if arg in _SHORT_HELP:
      return "short"
    if arg in _FULL_HELP:
      return "full"
  return ""


def proof_errors() -> Tuple[Type[Exception], ...]:
  """The proofs' failures (conversion.VerificationError, st_export.StVerificationError), which
  stages 1 and 3 report as input errors: `except proof_errors()`. Their modules import
  TensorFlow, so only those already imported are named (an error of a module not imported
  cannot have been raised), and an input error found before them imports none."""
  modules = {"smaller_labse.stages.conversion": "VerificationError",
             "smaller_labse.formats.st_export": "StVerificationError"}
  return tuple(getattr(sys.modules[module], name) for module, name in modules.items()
               if module in sys.modules)


def run_main(command: ModuleType, flag_values: flags.FlagValues, argv: Sequence[str],
             body: Callable[[], None]) -> int:
  """Runs one command in this process: parses `argv` (argv[0]: the program's name) into
  `flag_values` from their defaults, then `body()`; never exits.

  Returns:
    0; 0 after printing --help (the command's docstring and flags) on stdout; 1 after absl's
    message for flags it cannot parse; 2 after one line `error: ...` on stderr for an
    InputError, positional arguments included.
  """
  argv = list(argv)
  prog = argv[0] if argv else command.__name__
  flag_values.unparse_flags()  # Each call starts from the defaults.
  wanted = _asks_for_help(argv[1:])
  if wanted:
    print(_help_text(command.__doc__ or "", flag_values, command.__name__, prog,
                     wanted == "full"), end="", flush=True)
    return 0
  try:
    rest = flag_values([prog, *argv[1:]])
  except flags.Error as e:  # absl's own words, as app.run writes them.
    message = str(e)
    if "\n" in message:
      sys.stderr.write(f"FATAL Flags parsing error:\n{textwrap.indent(message, '  ')}\n")
    else:
      sys.stderr.write(f"FATAL Flags parsing error: {message}\n")
    sys.stderr.write("Pass --helpshort or --helpfull to see help on flags.\n")
    sys.stderr.flush()
    return 1
  quiet.quiet_after_flags(flag_values["verbosity"].present > 0)
  try:
    if len(rest) > 1:
      raise InputError(f"unexpected arguments: {' '.join(rest[1:])}")
    body()
  except InputError as e:
    message = " ".join(str(e).split("\n"))
    sys.stdout.flush()
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 2
  sys.stdout.flush()
  return 0


def start_process() -> None:
  """What absl's app.run does before a program's main: absl's log handler (the logs' format and
  destination), absl's flags marked parsed, tracebacks on fatal signals."""
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  absl_logging.use_absl_handler()
  try:
    faulthandler.enable()
  except Exception:  # pylint: disable=broad-except  (as app.run: no fault handler, no harm)
    pass


def run(command: ModuleType) -> None:
  """Runs `command` as this process (the top-level scripts, `smaller-labse COMMAND`): exits with
  `command.main(sys.argv)`."""
  start_process()
  sys.exit(command.main(sys.argv))
