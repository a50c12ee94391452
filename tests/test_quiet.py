"""Quiet output: TensorFlow's log chatter only with absl's --verbosity/-v."""

import os
import re
import subprocess
import sys

from conftest import ROOT
from helpers_quiet import LOG_LINE
from smaller_labse import quiet

def test_requested_verbosity_reads_absl_forms():
  assert quiet.requested_verbosity(["x", "--verbosity=1"]) == 1
  assert quiet.requested_verbosity(["x", "--workdir=w", "-v", "0"]) == 0
  assert quiet.requested_verbosity(["x", "-v=-1"]) == -1
  assert quiet.requested_verbosity(["x", "--v=2"]) == 2
  assert quiet.requested_verbosity(["x", "--workdir=v", "--", "-v", "1"]) is None
  assert quiet.requested_verbosity(["x", "--verbose_name=1"]) is None
  assert not quiet.verbose(["x"]) and not quiet.verbose(["x", "-v", "-1"])
  assert quiet.verbose(["x", "--verbosity=0"])


def _start_demo_inputs(workdir, *args):
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = ROOT
  return subprocess.Popen([sys.executable, "-m", "smaller_labse.demo", f"--workdir={workdir}",
                           *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def test_logs_with_verbosity(tmp_path):
  """The demo's inputs (two SavedModel exports) with --verbosity=1 show TensorFlow's and absl's
  logs. Without it they show none: test_pipeline_demo.py's test_demo_shows_no_log_chatter, on
  the whole demo (these inputs included), run in a user's environment as this run is."""
  verbose = _start_demo_inputs(tmp_path / "verbose", "--verbosity=1")
  _, verbose_err = verbose.communicate(timeout=300)
  assert verbose.returncode == 0, verbose_err[-3000:]
  for line in ("Sharding callback duration", "Assets written to", "which will be renamed",
               "demo vocab:"):
    assert line in verbose_err
  assert LOG_LINE.search(verbose_err)
