"""Quiet output: TensorFlow's log chatter only with absl's --verbosity/-v."""

import os
import re
import subprocess
import sys

from conftest import ROOT
from smaller_labse import quiet

CHATTER = ["Sharding callback duration", "Assets written to", "which will be renamed",
           "cuInit", "Writing fingerprint", "oneDNN", "INFO:tensorflow", "WARNING:tensorflow"]
# glog/absl C++ lines ('I1126 09:04:42.41 ...', 'W0000 00:00:...') and TF's C++ lines
# ('2026-11-26 09:04:39.27: I tensorflow/...').
LOG_LINE = re.compile(r"^([IWE]\d{4} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] )",
                      re.M)


def assert_no_chatter(output: str) -> None:
  found = [c for c in CHATTER if c in output] + LOG_LINE.findall(output)
  assert not found, (found, output[-3000:])


def test_requested_verbosity_reads_absl_forms():
  assert quiet.requested_verbosity(["x", "--verbosity=1"]) == 1
  assert quiet.requested_verbosity(["x", "--workdir=w", "-v", "0"]) == 0
  assert quiet.requested_verbosity(["x", "-v=-1"]) == -1
  assert quiet.requested_verbosity(["x", "--v=2"]) == 2
  assert quiet.requested_verbosity(["x", "--workdir=v", "--", "-v", "1"]) is None
  assert quiet.requested_verbosity(["x", "--verbose_name=1"]) is None
  assert not quiet.verbose(["x"]) and not quiet.verbose(["x", "-v", "-1"])
  assert quiet.verbose(["x", "--verbosity=0"])


def _demo_inputs(tmp_path, *args):
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  env["PYTHONPATH"] = ROOT
  return subprocess.run([sys.executable, "-m", "smaller_labse.demo",
                         f"--workdir={tmp_path / 'w'}", *args], env=env, capture_output=True,
                        text=True, timeout=300)


def test_verbosity_brings_the_logs_back(tmp_path):
  """The demo's inputs (two SavedModel exports): chatter with --verbosity=1, none without
  (the whole demo pipeline's quietness is test_pipeline_demo.py's)."""
  result = _demo_inputs(tmp_path, "--verbosity=1")
  assert result.returncode == 0, result.stderr[-3000:]
  for line in ("Sharding callback duration", "Assets written to", "which will be renamed",
               "demo vocab:"):
    assert line in result.stderr
  assert LOG_LINE.search(result.stderr)
