"""The download scripts, shipped in the package so that an installed `smaller-labse download`
and the pipeline run them without a checkout.

They are bash (download_model.sh, download_dataset.sh, download_tatoeba_dataset.sh and their
tools/download_lib.sh); smaller_labse/shell/ holds them (in a checkout, links to the top-level
files: one copy). download_model.sh checks the models it unpacks with the Python named by
SMALLER_LABSE_PYTHON, which defaults here to the Python running this code: no project .venv.
"""

import os
import sys
from typing import List, Sequence

SHELL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shell")
SCRIPTS = {"model": "download_model.sh", "dataset": "download_dataset.sh",
           "tatoeba": "download_tatoeba_dataset.sh"}


def script(kind: str) -> str:
  """The path of the download script of `kind`: 'model', 'dataset' or 'tatoeba'."""
  return os.path.join(SHELL_DIR, SCRIPTS[kind])


def command(kind: str, args: Sequence[str]) -> List[str]:
  """The command line running that script with `args` (through bash: installed package data
  may lose its executable bit). Sets SMALLER_LABSE_PYTHON, unless given, for it."""
  os.environ.setdefault("SMALLER_LABSE_PYTHON", sys.executable)
  return ["bash", script(kind), *args]
