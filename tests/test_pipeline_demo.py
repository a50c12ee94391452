"""The quick start's demo as a user installs and runs it: `pip install .` then `smaller-labse
demo` outside any checkout; ./run_pipeline.sh --demo on the same work directory; the README's
usage snippet and the notebook on the demo's models."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest

from conftest import ROOT
from helpers_docs import code_blocks, section

DEFAULT_MODEL = "LaBSE_en-fr-es-de-zh-ar-zh_classical-it-ja-ko-nl-pl-pt-th-tr-ru"
# The demo's tables (README): the same on every CPU, since every retrieval is decided by a
# cosine margin of at least 0.04.
DEMO_TABLES = """\
| Model                 |     fr |     de |     ru |    avg |
| --------------------- | -----: | -----: | -----: | -----: |
| LaBSE(en→xx)          | 100.00 | 100.00 | 100.00 | 100.00 |
| LaBSE(xx→en)          | 100.00 | 100.00 | 100.00 | 100.00 |
| LaBSE_en-fr-de(en→xx) | 100.00 | 100.00 |   2.50 |  67.50 |
| LaBSE_en-fr-de(xx→en) | 100.00 | 100.00 |   2.50 |  67.50 |
""", """\
| Identical embeddings (%) |     fr |     de |    ru |   all |
| ------------------------ | -----: | -----: | ----: | ----: |
| LaBSE_en-fr-de vs LaBSE  | 100.00 | 100.00 | 50.00 | 83.33 |
"""


def _user_env():
  """The environment of a user's shell: no PYTHONPATH to a checkout, TensorFlow's log level
  unset (the commands quiet it themselves)."""
  return {k: v for k, v in os.environ.items()
          if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONPATH", "SMALLER_LABSE_VENV")}


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
  """A fresh virtual environment where `pip install` put the project's wheel, offline: the
  dependencies are this environment's (a .pth file adds its site-packages), the package and
  the `smaller-labse` command are the wheel's. Returns the venv's bin/ directory."""
  venv = tmp_path_factory.mktemp("venv")
  subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
  python = str(venv / "bin" / "python")
  site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                        capture_output=True, text=True, check=True).stdout.strip()
  with open(os.path.join(site, "dependencies.pth"), "w") as f:
    f.write(sysconfig.get_path("purelib") + "\n")
  subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel],
                 check=True, capture_output=True, timeout=300)
  return venv / "bin"


@pytest.fixture(scope="module")
def demo(installed, tmp_path_factory):
  """`smaller-labse demo --workdir=work`, run from a directory outside any checkout."""
  outside = tmp_path_factory.mktemp("outside")
  result = subprocess.run([str(installed / "smaller-labse"), "demo", "--workdir=work"],
                          cwd=outside, capture_output=True, text=True, timeout=900,
                          env=_user_env())
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return outside / "work", result.stdout, result.stderr


def test_installed_demo_runs_outside_a_checkout(installed, demo):
  workdir, stdout, _ = demo
  for number, command in enumerate(("convert", "select", "make", "evaluate"), start=1):
    assert f"=== stage {number}: smaller-labse {command}" in stdout
  for table in DEMO_TABLES:
    assert table in stdout
  # The installed package ran, with the command's own Python: no project .venv was made.
  where = subprocess.run([str(installed / "python"), "-c",
                          "import smaller_labse; print(smaller_labse.__file__)"],
                         cwd=workdir.parent, env=_user_env(), capture_output=True, text=True)
  assert where.stdout.startswith(str(installed.parent)), where.stdout + where.stderr
  assert sorted(os.listdir(workdir.parent)) == ["work"]
  assert sorted(os.listdir(workdir)) == ["data", "downloads", "models", "results",
                                         "selected_tokens", "tokens_freqs"]


def test_demo_shows_no_log_chatter(demo):
  """Progress bars, results and errors only: TensorFlow's logs need --verbosity."""
  from helpers_quiet import assert_no_chatter
  _, stdout, stderr = demo
  assert_no_chatter(stdout + stderr)
  assert "demo vocab:" not in stderr  # The demo inputs' absl INFO line (test_quiet.py).


def test_demo_runs_every_stage_and_keeps_embeddings(demo):
  workdir, stdout, stderr = demo
  for stage in ("stage 1", "stage 2", "stage 3", "stage 4"):
    assert f"=== {stage}" in stdout
  assert "the demo model is not LaBSE" in stdout
  assert re.search(r"\| LaBSE_en-fr-de \| [\d,]+ \(\d+M\) \| [\d,]+ \(\d+M\) \|", stdout)
  assert "proof holds: every block within its float32 budget" in stdout  # Stage 1's proof.
  # Stages 1 and 3 prove their Sentence Transformers exports; the demo model maps sentences of
  # unknown words to a zero embedding, which must stay zero (not NaN) when normalised.
  assert len(re.findall(r"sentence embeddings max abs difference \d", stdout)) == 2, stdout
  assert "RuntimeWarning" not in stdout + stderr
  results = json.load(open(workdir / "results" / "tatoeba.json"))
  identical = results["identical_embeddings"]
  # French and German were kept: every sentence keeps its embedding. Russian was
  # dropped: only the English sides do.
  assert identical["fra"]["percent"] == 100.0 and identical["deu"]["percent"] == 100.0
  assert identical["rus"]["percent"] < 100.0
  assert {(r["model"], r["lang"], r["direction"]) for r in results["results"]} == {
      (m, lang, d) for m in ("LaBSE", "LaBSE_en-fr-de") for lang in ("fra", "deu", "rus")
      for d in ("en→xx", "xx→en")}
  accuracy = {(r["model"], r["lang"], r["direction"]): r["accuracy"] for r in results["results"]}
  chance = 100.0 / results["results"][0]["n"]
  for direction in ("en→xx", "xx→en"):
    # The dictionary-built demo model retrieves translations, far above chance...
    for lang in ("fra", "deu", "rus"):
      assert accuracy["LaBSE", lang, direction] > 20 * chance
    # ...kept languages keep every digit, and the dropped one loses it.
    for lang in ("fra", "deu"):
      assert accuracy["LaBSE_en-fr-de", lang, direction] == accuracy["LaBSE", lang, direction]
    assert accuracy["LaBSE_en-fr-de", "rus", direction] < accuracy["LaBSE", "rus", direction] - 50


def test_rerun_skips_finished_stages(demo, tmp_path):
  # In a copy (files keep their times): the demo's workdir is shared by the other tests.
  workdir = tmp_path / "work"
  shutil.copytree(demo[0], workdir)
  before = (workdir / "results" / "tatoeba.json").read_bytes()
  # The checkout's script runs the same pipeline: it finds the installed command's outputs.
  result = subprocess.run([os.path.join(ROOT, "run_pipeline.sh"), "--demo",
                           f"--workdir={workdir}"], capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.count("up to date") == 4  # Inputs and stages 1-3.
  assert "=== stage 1: save_as_weight_from_saved_model.py" in result.stdout
  assert (workdir / "results" / "tatoeba.json").read_bytes() == before  # Stage 4 reran.


def test_readme_results_are_the_demos(demo):
  """The README's demo tables are the ones the demo writes (results/tatoeba.md)."""
  workdir, _, _ = demo
  written = {" ".join(line.split()) for line in
             (workdir / "results" / "tatoeba.md").read_text(encoding="utf-8").splitlines()}
  rows = [" ".join(line.split()) for line in section("README.md", "Results").splitlines()
          if line.startswith(("| LaBSE(", "| LaBSE_en-fr-de(", "| LaBSE_en-fr-de vs LaBSE"))]
  assert len(rows) == 5 and all(row in written for row in rows), rows


def test_readme_snippet_runs_verbatim(demo, tmp_path, monkeypatch, capsys):
  workdir, _, _ = demo
  snippet = code_blocks(section("README.md", "Using the smaller model"), "python")[0]
  assert f'model = "models/{DEFAULT_MODEL}"' in snippet
  # The snippet names the default 16-language model; point that name at the demo's model, in
  # a directory of this test's own (the demo's workdir is shared: it is left as it is).
  (tmp_path / "models").mkdir()
  for suffix in ("", "_preprocess"):
    os.symlink(workdir / "models" / f"LaBSE_en-fr-de{suffix}",
               tmp_path / "models" / f"{DEFAULT_MODEL}{suffix}")
  # Run in this process (TensorFlow is loaded here), from that directory.
  monkeypatch.chdir(tmp_path)
  capsys.readouterr()
  exec(compile(snippet, "README.md", "exec"), {"__name__": "__main__"})  # pylint: disable=exec-used
  assert capsys.readouterr().out.startswith("(2, 32)")  # The demo model's hidden size.


def test_notebook_runs_headless_on_the_demo(demo):
  """notebooks/evaluate_tatoeba.ipynb, run as Jupyter would (cwd notebooks/), with its
  parameters set as papermill sets them: a cell after the one tagged 'parameters'."""
  nbformat = pytest.importorskip("nbformat")
  nbclient = pytest.importorskip("nbclient")
  workdir, _, _ = demo
  notebook = nbformat.read(os.path.join(ROOT, "notebooks", "evaluate_tatoeba.ipynb"), 4)
  assert all(not cell.get("outputs") for cell in notebook.cells)  # Saved without outputs.
  (index,) = [i for i, cell in enumerate(notebook.cells)
              if "parameters" in cell.metadata.get("tags", [])]
  parameters = (f"ORIGINAL = {str(workdir / 'downloads' / 'labse-2')!r}\n"
                "SMALLER = 'models/LaBSE_en-fr-de/1'\nLANGS = 'fra,deu,rus'\n"
                f"WORKDIR = {str(workdir)!r}\nDOWNLOAD = {shutil.which('curl') is not None}\n"
                # The kernel must be this test's Python (the project's environment).
                f"import os, sys; assert os.path.realpath(sys.executable) == "
                f"{os.path.realpath(sys.executable)!r}, sys.executable\n")
  notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(parameters))
  nbclient.NotebookClient(notebook, kernel_name="python3", timeout=300,
                          resources={"metadata": {"path": os.path.join(ROOT, "notebooks")}}
                          ).execute()
  text, images = "", 0
  for cell in notebook.cells:
    for output in cell.get("outputs", []):
      text += output.get("text", "") + output.get("data", {}).get("text/markdown", "")
      images += "image/png" in output.get("data", {})
  assert images == 2  # The accuracy chart and the heat map.
  results = json.load(open(workdir / "results" / "tatoeba.json"))
  # The README's table, with the numbers evaluate_tatoeba.py wrote for the same models.
  for model, label in (("LaBSE", "LaBSE"), ("LaBSE_en-fr-de", "LaBSE_en-fr-de")):
    for direction in ("en→xx", "xx→en"):
      cells = [f"{r['accuracy']:.2f}" for r in results["results"]
               if r["model"] == model and r["direction"] == direction]
      assert re.search(rf"\| {re.escape(label)}\({direction}\) +\| +" + r" +\| +".join(cells),
                       text), (model, direction)
  assert re.search(r"\| LaBSE_en-fr-de vs LaBSE +\| +100\.00 \| +100\.00 \| +50\.00 \|", text)
  assert re.search(r"LaBSE: 160 distinct sentences in [\d.]+ s, [\d,]+ sentences/s", text)
  assert "device: CPU" in text or "device: GPU" in text
