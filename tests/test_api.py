"""The Python API (smaller_labse.trim, .evaluate): the README's example, run as written."""

import ast
import os
import re
import shutil
import subprocess
import sys

from conftest import ROOT
from helpers_docs import code_blocks, section


def documented_example() -> str:
  """The Python block of the README's "The Python API" section."""
  (block,) = code_blocks(section("README.md", "The Python API"), "python")
  return block


def test_the_reference_page_shows_the_readmes_example():
  # docs/command.md repeats the example beside its output: it must be the block that is run.
  assert code_blocks(section(os.path.join("docs", "command.md"), "The Python API"),
                     "python")[0] == documented_example()


def test_importing_the_package_does_not_import_tensorflow():
  code = "import sys, smaller_labse; print(sorted(sys.modules)); print(smaller_labse.__all__)"
  result = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  modules, names = map(ast.literal_eval, result.stdout.splitlines())
  assert "smaller_labse" in modules and not any(m.split(".")[0] == "tensorflow" for m in modules)
  assert {"trim", "evaluate"} <= set(names)


def test_documented_example_on_the_demo_inputs(demo_inputs, tmp_path, monkeypatch, capfd):
  """The example as written, run in this process (the API imports no command-line machinery),
  from a copy of the demo's inputs; its output read at the file descriptors."""
  workdir = tmp_path / "work"
  shutil.copytree(demo_inputs, workdir)
  monkeypatch.chdir(workdir)
  capfd.readouterr()
  exec(compile(documented_example(), "README.md (The Python API)", "exec"),  # pylint: disable=exec-used
       {"__name__": "__main__"})
  out, err = capfd.readouterr()
  assert "Skipping loop optimization" not in err  # Quiet, as the commands are.
  printed = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in out.splitlines()
             if line.startswith(("proof holds: ", "verified: ", "fra lines tokenized"))}
  assert printed["proof holds"] == "True"
  verified = ast.literal_eval(printed["verified"])
  assert verified["sentences"] > 0 and verified["pooled_output"] <= 1e-6
  fra = ast.literal_eval(printed["fra lines tokenized as before"])
  assert fra["identical"] == fra["lines"] == 40  # French was kept: every line tokenizes as before.
  kept = re.search(r"kept (\d+) tokens; parameters: (.*)", out)
  parameters = ast.literal_eval(kept[2])
  assert parameters["smaller"]["vocab_size"] == int(kept[1]) < parameters["original"]["vocab_size"]
  assert parameters["smaller"]["model"] < parameters["original"]["model"]
  # Every path printed was written, relative to the work directory.
  paths = [line for line in out.splitlines() if line.startswith("work/")]
  assert len(paths) == 8 and all(os.path.exists(workdir / p) for p in paths)
  # The demo's tables (README), under the names given: kept languages keep every digit.
  assert "| smaller(en→xx) | 100.00 | 100.00 |   2.50 |  67.50 |" in out
  assert "| smaller vs LaBSE         | 100.00 | 100.00 | 50.00 | 83.33 |" in out
