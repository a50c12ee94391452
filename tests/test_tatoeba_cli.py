"""Stage 4 as users run it: evaluate_tatoeba.sh / evaluate_tatoeba.py, outputs, bad input."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run_command
from smaller_labse import languages, tatoeba
from helpers_tatoeba import same_retrieval, shared_models, write_tatoeba


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """A working directory as a user's: data/tatoeba/v1 for the 14 languages, two models."""
  root = str(tmp_path_factory.mktemp("stage4"))
  models = os.path.dirname(os.path.dirname(shared_models(tmp_path_factory)["original"][0]))
  shutil.copytree(models, os.path.join(root, "models"))
  write_tatoeba(os.path.join(root, "data", "tatoeba", "v1"), languages.DEFAULT_TATOEBA_LANGS,
                n=12)
  rel = {name: (f"models/{name}/1", f"models/{name}_preprocess/1")
         for name in ("original", "smaller")}
  return root, rel


def _model_flags(rel):
  return [f"--model={rel['smaller'][0]}", f"--preprocess={rel['smaller'][1]}",
          f"--baseline_model={rel['original'][0]}", f"--baseline_preprocess={rel['original'][1]}",
          "--name=small", "--baseline_name=LaBSE"]


@pytest.fixture(scope="module")
def all_languages(workdir):
  """evaluate_tatoeba.sh on the 14 languages, both models, --output=results/tatoeba.json."""
  root, rel = workdir
  env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([os.path.join(ROOT, "evaluate_tatoeba.sh"), *_model_flags(rel),
                         "--output=results/tatoeba.json"], cwd=root, env=env,
                        capture_output=True, text=True, timeout=300)


def test_shell_script_runs_the_14_languages_at_once(workdir, all_languages):
  root, _ = workdir
  proc = all_languages
  assert proc.returncode == 0, proc.stderr[-2000:]
  header = ("| Model       |     fr |     es |     de |     zh |     ar |     it |     ja |     ko "
            "|     nl |     pl |     pt |     th |     tr |     ru |    avg |")
  lines = proc.stdout.splitlines()
  table = [line for line in lines if line.startswith("| ")]
  assert table[0].split() == header.split()
  assert [row.split()[1] for row in table[2:6]] == [
      "LaBSE(en→xx)", "LaBSE(xx→en)", "small(en→xx)", "small(xx→en)"]
  assert any(line.startswith("| small vs LaBSE") for line in lines)
  data = json.load(open(os.path.join(root, "results", "tatoeba.json"), encoding="utf-8"))
  assert len(data["results"]) == 2 * 2 * 14
  assert {r["lang"] for r in data["results"]} == set(languages.DEFAULT_TATOEBA_LANGS)
  assert all(r["n"] == 12 for r in data["results"])
  assert set(data["identical_embeddings"]) == set(languages.DEFAULT_TATOEBA_LANGS)
  markdown = open(os.path.join(root, "results", "tatoeba.md"), encoding="utf-8").read()
  assert table[0] in markdown


def test_one_language_original_method_agrees(workdir, all_languages):
  """--lang (the original's form) with the original method gives the fast method's numbers."""
  root, rel = workdir
  assert all_languages.returncode == 0, all_languages.stderr[-2000:]
  proc = run_command("evaluate", "--lang=rus", "--method=original",
                    *_model_flags(rel)[:2], "--name=small", "--output=results/rus.json", cwd=root)
  assert proc.returncode == 0, proc.stderr[-2000:]
  rus = json.load(open(os.path.join(root, "results", "rus.json"), encoding="utf-8"))["results"]
  everything = json.load(open(os.path.join(root, "results", "tatoeba.json"),
                              encoding="utf-8"))["results"]
  fast = [r for r in everything if r["lang"] == "rus" and r["model"] == "small"]
  assert len(rus) == 2 and rus == fast
  # Proven equal, not by this CPU's last bits: no query of this pair is a near-tie.
  model = tatoeba.load_model(*(os.path.join(root, p) for p in rel["smaller"]))
  pair = tatoeba.load_pair(os.path.join(root, "data", "tatoeba", "v1"), "rus")
  assert same_retrieval(model, [pair]) == 0


@pytest.mark.parametrize("args, message", [
    (["--langs=fra,xyz"], "unknown Tatoeba language code 'xyz'"),
    (["--lang=fra", "--model=data"], "data: not a SavedModel"),
])
def test_bad_input_is_one_error_line(workdir, args, message):
  root, rel = workdir
  proc = run_command("evaluate", f"--preprocess={rel['original'][1]}",
                    f"--model={rel['original'][0]}", *args, cwd=root)
  assert proc.returncode == 2
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and message in last, proc.stderr[-1000:]


def test_help():
  proc = subprocess.run([os.path.join(ROOT, "evaluate_tatoeba.sh"), "--help"],
                        capture_output=True, text=True, timeout=60)
  assert proc.returncode == 0 and "fra spa deu cmn" in proc.stdout
