"""`smaller-labse`: the command `pip install` gives (also `python -m smaller_labse`).

One subcommand a stage, with the flags and defaults of the top-level script that runs the same
code, the downloads, the whole pipeline and the offline demo. Each subcommand imports only its
own module, which imports TensorFlow (or torch) only once it computes: --help and input errors
answer at once. `main(argv)` returns the exit status (the console script exits with it).
"""

import importlib
import os
import sys
from typing import Optional, Sequence

PROG = "smaller-labse"
# Subcommand (a module of smaller_labse.commands) -> what it does.
STAGES = {
    "convert": "stage 1: a TF Hub / Sentence Transformers / Hugging Face model -> proven weight "
               "store "
               "(save_as_weight_from_saved_model.py)",
    "select": "stage 2: count each language's tokens, select the vocabulary (select_vocab.py)",
    "make": "stage 3: the smaller model, exported and proven (make_smaller_labse.py)",
    "evaluate": "stage 4: Tatoeba retrieval accuracy beside a baseline (evaluate_tatoeba.py)",
}
OTHERS = {
    "download": "model|dataset|tatoeba [options]: LaBSE/2, Wikipedia dumps, Tatoeba "
                "(download_*.sh)",
    "run": "the whole pipeline, downloads included (run_pipeline.sh)",
    "demo": "the offline demo on a tiny model, not LaBSE (run_pipeline.sh --demo)",
}


def usage() -> str:
  width = max(map(len, [*STAGES, *OTHERS]))
  lines = [f"  {name:<{width}}  {what}" for name, what in [*STAGES.items(), *OTHERS.items()]]
  return (f"usage: {PROG} COMMAND [flags]   ({PROG} COMMAND --help: the command's flags)\n\n"
          "Cuts LaBSE's vocabulary down to the languages you need. Commands:\n"
          + "\n".join(lines) + "\n\n"
          "Paths are relative to the current directory, laid out as the pipeline's work "
          "directory\n(downloads/ data/ tokens_freqs/ selected_tokens/ models/ results/).\n")


def download_usage() -> str:
  from smaller_labse import downloads  # pylint: disable=import-outside-toplevel
  return (f"usage: {PROG} download {'|'.join(downloads.SCRIPTS)} [options]\n\n"
          + "".join(f"  {kind:<8} runs {script} ({PROG} download {kind} --help: its options)\n"
                    for kind, script in downloads.SCRIPTS.items()))


def _fail(message: str) -> int:
  print(f"error: {message}", file=sys.stderr)
  return 2


def _download(args: Sequence[str]) -> int:
  """Runs the download script in place of this process (returns only on bad arguments)."""
  from smaller_labse import downloads  # pylint: disable=import-outside-toplevel
  if not args:
    return _fail(f"download: say what to download: {'|'.join(downloads.SCRIPTS)} (see {PROG} "
                 "download --help)")
  if args[0] in ("-h", "--help"):
    print(download_usage(), end="")
    return 0
  if args[0] not in downloads.SCRIPTS:
    return _fail(f"{args[0]}: unknown download (expected {', '.join(downloads.SCRIPTS)})")
  command = downloads.command(args[0], args[1:])
  sys.stdout.flush()
  os.execvp(command[0], command)
  return 0  # Not reached.


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs `smaller-labse COMMAND ...` (argv default: sys.argv) and returns its exit status:
  a stage runs in this process (commands.run_main); `download` replaces the process with its
  script; `run` and `demo` exit with the pipeline's status."""
  process = argv is None  # The program itself (the console script, python -m smaller_labse).
  argv = list(sys.argv if argv is None else argv)
  if len(argv) < 2:
    return _fail(f"no command given (see {PROG} --help)")
  if argv[1] in ("-h", "--help", "help"):
    print(usage(), end="")
    return 0
  command, args = argv[1], argv[2:]
  if command in STAGES:
    from smaller_labse import commands  # pylint: disable=import-outside-toplevel
    if process:
      commands.start_process()
    module = importlib.import_module(f"smaller_labse.commands.{command}")
    return module.main([f"{PROG} {command}", *args])  # The name --help shows.
  if command == "download":
    return _download(args)
  if command in ("run", "demo"):
    from smaller_labse.stages import pipeline  # pylint: disable=import-outside-toplevel
    return pipeline.main(args, prog=f"{PROG} {command}", demo_only=command == "demo")
  return _fail(f"{command}: unknown command (see {PROG} --help)")


if __name__ == "__main__":
  sys.exit(main())
