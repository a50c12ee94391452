"""Commands that answer at once (issue 19): --help and input errors import no TensorFlow, torch
or transformers, and each command's `main(argv)` runs in process.

One subprocess per entry point (tests/startup_probe.py, in a fresh process since other tests
import TensorFlow) proves the real exit status, the one-line stderr and the modules imported;
the in-process tests call `main(argv)` of the four command modules, imported side by side.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

from smaller_labse import cli
from smaller_labse.commands import convert, evaluate, make, select
from smaller_labse.stages import pipeline

PROBE = os.path.join(ROOT, "tests", "startup_probe.py")
COMMANDS = {"convert": convert, "select": select, "make": make, "evaluate": evaluate}
SCRIPTS = {"convert": "save_as_weight_from_saved_model.py", "select": "select_vocab.py",
           "make": "make_smaller_labse.py", "evaluate": "evaluate_tatoeba.py"}


def _probe(tmp_path, *argv: str) -> tuple:
  """(the process, the heavy modules it imported) for `python argv...` run from `tmp_path`."""
  out = tmp_path / "imported.json"
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  done = subprocess.run([sys.executable, PROBE, str(out), *argv], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=120)
  return done, json.loads(out.read_text())


def _script(command: str) -> str:
  return os.path.join(ROOT, SCRIPTS[command])


# (entry point, expected exit status, a word of stderr's one line, or of stdout for --help)
ENTRY_POINTS = [
    ((_script("convert"), "--saved_model=missing"), 2, "missing: no such directory"),
    ((_script("select"), "--langs=xx"), 2, "'xx'"),
    ((_script("make"), "--langs=en"), 2, "models/labse: no such directory"),
    ((_script("evaluate"), "--langs=fra"), 2, "tatoeba.fra-eng"),
    ((_script("make"), "--help"), 0, "--selected_tokens_dir"),
    (("-m", "smaller_labse", "convert", "--help"), 0, "--budget_factor"),
    (("-m", "smaller_labse", "convert", "extra"), 2, "unexpected arguments: extra"),
    (("-m", "smaller_labse", "select", "--corpus=bad"), 2, "--corpus='bad'"),
    (("-m", "smaller_labse", "make", "--formats=bad"), 2, "--formats=bad"),
    (("-m", "smaller_labse", "evaluate", "--max_seq_length=2"), 2, "--max_seq_length=2"),
    (("-m", "smaller_labse", "evaluate", "-h"), 0, "--baseline_model"),
    (("-m", "smaller_labse", "run", "--help"), 0, "--source="),
    (("-m", "smaller_labse", "demo", "--help"), 0, "--workdir"),
    (("-m", "smaller_labse", "run", "--langs=en,xx"), 2, "'xx'"),
    (("-m", "smaller_labse.stages.pipeline", "--help"), 0, "--full_dumps"),
]


@pytest.mark.parametrize("argv,status,word", ENTRY_POINTS,
                         ids=[" ".join(os.path.basename(a) for a in e[0]) for e in ENTRY_POINTS])
def test_entry_point_answers_without_tensorflow(tmp_path, argv, status, word):
  done, heavy = _probe(tmp_path, *argv)
  assert done.returncode == status, done.stderr[-3000:]
  if status == 0:
    assert word in done.stdout and not done.stderr, done.stderr[-3000:]
  else:
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and word in line, line
  assert heavy == [], f"{' '.join(argv)} imported {heavy}"


def test_stage2_of_a_plain_vocab_checks_its_corpus_without_tensorflow(tmp_path):
  """Stage 2 reads the vocab (and the selection and character modules) before it finds the
  corpus missing: none of that imports TensorFlow."""
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n##b\n", encoding="utf-8")
  done, heavy = _probe(tmp_path, _script("select"), f"--vocab_file={vocab}", "--langs=en")
  assert done.returncode == 2, done.stderr[-3000:]
  (line,) = done.stderr.splitlines()
  assert line.startswith("error: ") and "en.txt" in line, line
  assert heavy == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_main_help_in_process(name, capsys):
  module = COMMANDS[name]
  assert module.main([f"smaller-labse {name}", "--help"]) == 0
  out = capsys.readouterr().out
  first_line = module.__doc__.splitlines()[0]
  assert out.startswith(first_line)
  assert f"\nflags:\n\nsmaller-labse {name}:\n" in out
  assert out.endswith("\nTry --helpfull to get a list of all flags.\n")
  own = module.FLAGS.get_key_flags_for_module(module.__name__)
  assert own and all(f"--{f.name}:" in out or f"--[no]{f.name}:" in out for f in own)
  assert "--verbosity" not in out  # absl's, shown by --helpfull
  assert module.main(["prog", "--helpfull"]) == 0
  assert "--verbosity" in capsys.readouterr().out


@pytest.mark.parametrize("name,argv,words", [
    ("convert", ["--saved_model=nowhere"], ["nowhere: no such directory"]),
    ("select", ["--langs=en,xx"], ["'xx'"]),
    ("make", ["--formats=tfhub,bad"], ["--formats=tfhub,bad", "choose from tfhub,st"]),
    ("evaluate", ["--output=x.txt"], ["--output=x.txt", ".json"]),
    ("evaluate", ["--lang=fra", "--langs=deu"], ["either --lang or --langs"]),
    ("make", ["leftover", "args"], ["unexpected arguments: leftover args"]),
])
def test_main_input_error_in_process(tmp_path, monkeypatch, capsys, name, argv, words):
  monkeypatch.chdir(tmp_path)
  assert COMMANDS[name].main(["prog", *argv]) == 2
  err = capsys.readouterr().err
  (line,) = err.splitlines()
  assert line.startswith("error: ") and all(w in line for w in words), line


def test_main_starts_from_the_defaults_each_call(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  assert make.main(["prog", "--formats=bad", "--name=x"]) == 2
  assert "--formats=bad" in capsys.readouterr().err
  # --formats is back to its default: the next error is the missing model directory.
  assert make.main(["prog", "--langs=en"]) == 2
  assert "models/labse: no such directory" in capsys.readouterr().err
  assert make.FLAGS.formats is None and make.FLAGS.name is None  # None: by the source
  assert not make.FLAGS["langs"].using_default_value


def test_main_flag_errors_and_verbosity(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  assert select.main(["prog", "--no_such_flag=1"]) == 1  # absl's message, as app.run writes it
  err = capsys.readouterr().err
  assert err.startswith("FATAL Flags parsing error: Unknown command line flag 'no_such_flag'")
  assert convert.main(["prog", "--budget_factor=x"]) == 1
  capsys.readouterr()
  # absl's -v/--verbosity is every command's, and parsed like any flag.
  assert make.main(["prog", "-v", "0", "--formats=bad"]) == 2
  assert make.FLAGS["verbosity"].value == 0
  assert evaluate.main(["prog", "--verbosity=1", "--max_batch_tokens=0"]) == 2
  assert "--max_batch_tokens=0" in capsys.readouterr().err


def test_cli_main_returns_the_status(tmp_path, monkeypatch, capsys):
  monkeypatch.chdir(tmp_path)
  assert cli.main(["smaller-labse", "--help"]) == 0
  assert cli.main(["smaller-labse"]) == 2
  assert cli.main(["smaller-labse", "bogus"]) == 2
  assert cli.main(["smaller-labse", "make", "--help"]) == 0
  assert "smaller-labse make:" in capsys.readouterr().out
  assert cli.main(["smaller-labse", "make", "--formats=x"]) == 2
  assert cli.main(["smaller-labse", "download", "--help"]) == 0
  assert cli.main(["smaller-labse", "run", "--help"]) == 0
  assert cli.main(["smaller-labse", "demo", "--langs=en"]) == 2
  assert pipeline.main(["--bogus"]) == 2
  assert os.listdir(tmp_path) == []


def test_graph_options_are_set_when_tensorflow_comes_after_the_flags(tmp_path):
  """The commands import TensorFlow after parsing their flags; quiet.py's graph options, which
  SavedModels record (stage 3's bytes), must be set all the same."""
  code = ("from smaller_labse import quiet\n"
          "quiet.quiet_after_flags(verbosity_given=False)\n"
          "import tensorflow as tf\n"
          "print(tf.config.optimizer.get_experimental_options().get('loop_optimization'))\n")
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.split() == ["False"]
