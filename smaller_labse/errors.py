"""User-facing errors and the CLI wrapper that turns them into one-line messages."""

import sys
from typing import Callable, Sequence

from absl import app, flags

from smaller_labse import quiet


class InputError(Exception):
  """Bad user input: a missing/corrupt file, an unknown flag value.

  The message is printed as one line (`error: <message>`) and the script exits
  with status 2; it should name the offending file or value and the problem.
  """


def run_cli(main: Callable[[Sequence[str]], None]) -> None:
  """Runs an absl `main`, turning `InputError` into one line on stderr + exit 2.

  Arguments left after the flags are an InputError. Logs are quiet unless
  --verbosity/-v is given (see quiet.py).
  """

  def wrapped(argv: Sequence[str]) -> None:
    quiet.quiet_after_flags(flags.FLAGS["verbosity"].present)
    try:
      if len(argv) > 1:
        raise InputError(f"unexpected arguments: {' '.join(argv[1:])}")
      main(argv)
    except InputError as e:
      message = " ".join(str(e).split("\n"))
      print(f"error: {message}", file=sys.stderr, flush=True)
      sys.exit(2)

  try:
    app.run(wrapped)
  except SystemExit as e:
    # absl exits with status 1 after printing --help; asking for help is not an error.
    if e.code == 1 and any(a in ("--help", "-h", "--helpshort", "--helpfull", "-?")
                           for a in sys.argv[1:]):
      sys.exit(0)
    raise
