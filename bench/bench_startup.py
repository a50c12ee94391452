"""Start-up: how long each entry point takes to answer --help or an input error, as a process.

  .venv/bin/python bench/bench_startup.py [--runs=5]
  .venv/bin/python bench/bench_startup.py --repo=/tmp/before --repo=. --runs=5

For each checkout given by --repo (default: this one), each entry point (a stage's top-level
script and `python -m smaller_labse STAGE`, which is what the installed `smaller-labse STAGE`
runs, each with --help and with one input error that needs no model; `run_pipeline.sh --help`,
`smaller-labse run|demo --help`) is run --runs times as a whole process, from an empty
directory, with PYTHONPATH=REPO and REPO/.venv/bin/python (run_pipeline.sh with its own
`python3`, as a user starts it). The time is wall time around `subprocess.run`
(time.perf_counter), the median of the runs; the checkouts' runs are interleaved, so that
load on the machine falls on all of them alike. Prints a Markdown table: one row an entry
point, per checkout its median seconds and exit status.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Sequence, Tuple

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("repo", [], "Checkouts to time (default: this one); each needs "
                          "REPO/.venv/bin/python.")
flags.DEFINE_integer("runs", 5, "Runs of each entry point per checkout (the median is shown).",
                     lower_bound=1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = [  # (subcommand, top-level script, an input error that needs no model)
    ("convert", "save_as_weight_from_saved_model.py", "--saved_model=missing_model"),
    ("select", "select_vocab.py", "--langs=xx"),
    ("make", "make_smaller_labse.py", "--langs=en"),  # No models/labse/ here.
    ("evaluate", "evaluate_tatoeba.py", "--langs=fra"),  # No Tatoeba files here.
]


def entry_points() -> List[Tuple[str, List[str]]]:
  """(label, argv with PYTHON and REPO placeholders) of every entry point timed."""
  points = []
  for command, script, error in STAGES:
    for arg, what in (("--help", "--help"), (error, f"error ({error})")):
      points.append((f"`{script}` {what}", ["PYTHON", f"REPO/{script}", arg]))
      points.append((f"`smaller-labse {command}` {what}",
                     ["PYTHON", "-m", "smaller_labse", command, arg]))
  points.append(("`run_pipeline.sh --help`", ["REPO/run_pipeline.sh", "--help"]))
  for command in ("run", "demo"):
    points.append((f"`smaller-labse {command} --help`",
                   ["PYTHON", "-m", "smaller_labse", command, "--help"]))
  return points


def run_once(repo: str, argv: Sequence[str], cwd: str) -> Tuple[float, int]:
  """(wall seconds, exit status) of one run of `argv` against the checkout `repo`."""
  python = os.path.join(repo, ".venv", "bin", "python")
  command = [python if a == "PYTHON" else a.replace("REPO", repo, 1) for a in argv]
  env = dict(os.environ, PYTHONPATH=repo)
  start = time.perf_counter()
  done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, check=False)
  return time.perf_counter() - start, done.returncode


def main(argv: Sequence[str]) -> None:
  del argv
  repos = [os.path.abspath(r) for r in FLAGS.repo] or [ROOT]
  points = entry_points()
  times = {(label, repo): [] for label, _ in points for repo in repos}
  status = {}
  with tempfile.TemporaryDirectory() as cwd:
    for label, command in points:
      for _ in range(FLAGS.runs):
        for repo in repos:
          seconds, code = run_once(repo, command, cwd)
          times[label, repo].append(seconds)
          status[label, repo] = code
      print(f"{label}: " + ", ".join(f"{statistics.median(times[label, r]):.2f} s"
                                     for r in repos), file=sys.stderr, flush=True)
  header = "| entry point | " + " | ".join(f"{r} (s, exit)" for r in repos) + " |"
  print(header)
  print("|---|" + "---:|" * len(repos))
  for label, _ in points:
    cells = [f"{statistics.median(times[label, r]):.2f} ({status[label, r]})" for r in repos]
    print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
  app.run(main)
