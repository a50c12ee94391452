"""`smaller-labse` (here `python -m smaller_labse`): the subcommands, their --help, bad input,
and `download` running the packaged script. The installed command runs the demo in
test_pipeline_demo.py."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from http_fixtures import MirrorServer

# Flags each stage's --help must list; every other stage's must be absent from it.
STAGE_FLAGS = {
    "convert": ("--saved_model", "--budget_factor", "--st_output_dir"),
    "select": ("--corpus", "--vocab_size", "--keep_chars"),
    "make": ("--selected_tokens_dir", "--formats", "--tolerance"),
    "evaluate": ("--baseline_model", "--scoring", "--max_batch_tokens"),
}


def _command(*args: str) -> list:
  return [sys.executable, "-m", "smaller_labse", *args]


def _env(**extra: str) -> dict:
  env = {k: v for k, v in os.environ.items()
         if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}  # 127.0.0.1 only
  return dict(env, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", **extra)


def run(*args: str, cwd, **env: str) -> subprocess.CompletedProcess:
  return subprocess.run(_command(*args), cwd=cwd, env=_env(**env), capture_output=True,
                        text=True, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
  assert result.returncode == 2, result.stderr
  (line,) = result.stderr.splitlines()
  assert line.startswith("error: ") and all(w in line for w in words), line


def test_help_lists_the_commands_and_bad_commands_fail(tmp_path):
  result = run("--help", cwd=tmp_path)
  assert result.returncode == 0
  listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
  assert listed == ["convert", "select", "make", "evaluate", "download", "run", "demo"]
  assert_one_line_error(run("bogus", cwd=tmp_path), "bogus", "unknown command")
  assert_one_line_error(run(cwd=tmp_path), "no command")
  assert_one_line_error(run("download", "weights", cwd=tmp_path), "weights")
  assert_one_line_error(run("demo", "--langs=en", cwd=tmp_path), "--langs=en")
  assert_one_line_error(run("run", "--bogus", cwd=tmp_path), "--bogus")
  # Languages are checked before anything is downloaded or written.
  result = run("run", "--langs=en,xx", "--workdir=work", cwd=tmp_path)
  assert_one_line_error(result, "'xx'")
  assert os.listdir(tmp_path) == []


def test_a_stage_shows_its_own_flags_as_its_script_does(tmp_path):
  # Stages 1 and 3 share flag names (--output_dir, --overwrite): each must show only its own.
  # Two of the four: every stage goes through the same dispatch, and each start is mostly
  # TensorFlow's import (run at once).
  runs = {name: subprocess.Popen(_command(name, "--help"), cwd=tmp_path, env=_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for name in ("convert", "make")}
  script = subprocess.Popen([sys.executable, os.path.join(ROOT, "make_smaller_labse.py"),
                             "--help"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            text=True)
  helps = {}
  for name, proc in runs.items():
    helps[name], stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
  for name, text in helps.items():
    assert text.startswith(f"Stage {list(STAGE_FLAGS).index(name) + 1}: ")
    assert f"smaller-labse {name}:\n" in text  # absl's heading of the command's own flags.
    for other, flags in STAGE_FLAGS.items():
      for flag in flags:
        assert (f"  {flag}:" in text) == (other == name), (name, flag)
  # The same docstring, flags, defaults and help texts as the top-level script's.
  script_help, _ = script.communicate(timeout=300)
  assert script.returncode == 0
  assert script_help.replace(os.path.join(ROOT, "make_smaller_labse.py") + ":\n",
                             "smaller-labse make:\n") == helps["make"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_download_runs_the_packaged_script(tmp_path):
  result = run("download", "tatoeba", "--help", cwd=tmp_path)
  assert result.returncode == 0 and result.stdout.startswith("Usage: download_tatoeba_dataset.sh")
  files = {f"tatoeba.fra-eng.{side}": f"{side} line {i}\n".encode() * 3
           for i, side in enumerate(("fra", "eng"))}
  with MirrorServer() as server:
    server.files.update({f"/v1/{name}": data for name, data in files.items()})
    result = run("download", "tatoeba", "fra", "--output_dir=out", cwd=tmp_path,
                 TATOEBA_BASE_URL=server.url + "/v1", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
  assert result.returncode == 0, result.stderr
  assert {name: (tmp_path / "out" / name).read_bytes() for name in files} == files
  assert sorted(os.listdir(tmp_path / "out")) == sorted(files)
