"""Shared fixtures: tiny models in LaBSE/2's TF Hub format, built by the tests themselves."""

import contextlib
import fcntl
import importlib
import io
import os
import pathlib
import shutil
import subprocess
import sys
from typing import Callable, List

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
MODELGARDEN_TINY = os.path.join(SHARED, "fixtures", "modelgarden_tiny")
MODELGARDEN_STRESS = os.path.join(SHARED, "fixtures", "modelgarden_stress")

SPECIALS = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]",
                                                                    "[MASK]"]
# Whole words of three languages, single characters (plain and '##') and the
# whitespace tokens real LaBSE has, which must survive every file round trip.
WORDS = ["the", "weather", "is", "nice", "today", "where", "station", "il", "fait", "beau",
         "aujourd", "est", "la", "gare", "où", "сегодня", "хорошая", "погода", "##s", "##ing"]
WHITESPACE_TOKENS = ["\xa0", "##\u202f", "\u3000", "\u202f"]


def tiny_vocab() -> List[str]:
  chars = sorted(set("".join(WORDS).replace("#", "")) | set(".,!?'"))
  tokens = SPECIALS + chars + ["##" + c for c in chars] + WORDS + WHITESPACE_TOKENS
  return list(dict.fromkeys(tokens))


def run_script(script: str, *args: str, cwd: str) -> subprocess.CompletedProcess:
  """Runs one of the project's top-level scripts as a user would."""
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300)


TINY_SHAPE = dict(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64)


@contextlib.contextmanager
def _file_lock(path: str):
  with open(path, "w") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def shared_build(tmp_path_factory, name: str, build: Callable[[str], None]) -> str:
  """The directory `name`, built once per test session by `build(path)` and shared by every
  pytest-xdist worker (SavedModel exports take seconds each; read it, never write to it)."""
  root = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    root = root.parent  # the session's directory, common to the workers
  shared = os.path.join(str(root), "shared_builds")
  os.makedirs(shared, exist_ok=True)
  path, done = os.path.join(shared, name), os.path.join(shared, name + ".done")
  with _file_lock(os.path.join(shared, name + ".lock")):
    if not os.path.exists(done):
      shutil.rmtree(path, ignore_errors=True)
      os.makedirs(path)
      build(path)
      open(done, "w").close()
  return path


def tiny_preprocessor(tmp_path_factory) -> str:
  """The preprocessor SavedModel of tiny_vocab(), exported once per session."""
  from smaller_labse.formats import tf_hub
  return shared_build(tmp_path_factory, "tiny_preprocess",
                      lambda path: tf_hub.export_preprocessor(tiny_vocab(), path))


def copy_tree(source: str, target: str) -> str:
  shutil.copytree(source, target)
  return target


def _build_wheel(dist: str) -> None:
  """`pip wheel` of the project, offline, from a copy of its sources (an in-tree build would
  leave build/ and *.egg-info in the checkout; the copy follows smaller_labse/shell's links)."""
  src = os.path.join(os.path.dirname(dist), "wheel_src")
  shutil.rmtree(src, ignore_errors=True)
  os.makedirs(src)
  for name in ("pyproject.toml", "requirements.txt", "README.md"):
    shutil.copy(os.path.join(ROOT, name), src)
  shutil.copytree(os.path.join(ROOT, "smaller_labse"), os.path.join(src, "smaller_labse"),
                  ignore=shutil.ignore_patterns("__pycache__"))
  # Offline: the build backend comes from this environment, as --no-build-isolation says.
  result = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps",
                           "--no-build-isolation", "--no-index", "-q", "-w", dist],
                          cwd=src, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> str:
  """The project's wheel (smaller_labse-*.whl), built once per test session."""
  dist = shared_build(tmp_path_factory, "wheel", _build_wheel)
  (path,) = [os.path.join(dist, n) for n in os.listdir(dist) if n.endswith(".whl")]
  return path


@pytest.fixture(scope="session")
def demo_inputs(tmp_path_factory) -> str:
  """A work directory with the demo's inputs (smaller_labse.demo.prepare_workdir: downloads/,
  data/{lang}.txt, data/tatoeba/v1/), built once per session: copy it, never write to it."""
  from smaller_labse import demo
  return shared_build(tmp_path_factory, "demo_inputs", demo.prepare_workdir)


@pytest.fixture(scope="session")
def tiny_labse(tmp_path_factory):
  """A tiny random-weight LaBSE/2-format encoder + preprocessor: (encoder_dir, preprocess_dir),
  laid out as download_model.sh writes them (downloads/labse-2, downloads/labse-2-preprocess)."""
  from smaller_labse.formats import tf_hub
  from smaller_labse.model.config import EncoderConfig
  from smaller_labse.model.encoder import Encoder

  def build(downloads: str) -> None:
    config = EncoderConfig(vocab_size=len(tiny_vocab()), **TINY_SHAPE)
    tf_hub.export_encoder(Encoder(config, seed=1), tiny_vocab(),
                              os.path.join(downloads, "labse-2"))
    copy_tree(tiny_preprocessor(tmp_path_factory), os.path.join(downloads, "labse-2-preprocess"))

  downloads = shared_build(tmp_path_factory, "tiny_labse", build)
  return os.path.join(downloads, "labse-2"), os.path.join(downloads, "labse-2-preprocess")


# The commands as a user runs them, and their scripts (smaller_labse.stages.pipeline).
COMMAND_SCRIPTS = {"convert": "save_as_weight_from_saved_model.py", "select": "select_vocab.py",
                   "make": "make_smaller_labse.py", "evaluate": "evaluate_tatoeba.py"}


def run_command(name: str, *args: str, cwd) -> subprocess.CompletedProcess:
  """`smaller-labse NAME ARGS` run from `cwd` in this process: the command module's
  main(argv), its stdout and stderr captured (Python's streams; TensorFlow's C++ logs are not).
  Returns its exit status and output as a CompletedProcess. An exception the command does not
  turn into an exit status propagates (a real process would print it and exit 1).
  tests/test_startup.py runs each entry point once as a process: the real exit status, the
  one-line stderr."""
  module = importlib.import_module(f"smaller_labse.commands.{name}")
  out, err = io.StringIO(), io.StringIO()
  with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    status = module.main([COMMAND_SCRIPTS[name], *args])
  return subprocess.CompletedProcess([COMMAND_SCRIPTS[name], *args], status, out.getvalue(),
                                     err.getvalue())


# Stage 2's selection for en and fr on tiny_vocab(), shared by the stage 3 tests: whole words of
# both languages, a '##' suffix, whitespace tokens (never stripped), and the Latin characters.
EN_FR = ["the", "weather", "is", "nice", "today", "where", "station", "il", "fait", "beau",
         "aujourd", "est", "la", "gare", "où", "##s", "\xa0", "##\u202f"]


def latin_chars() -> List[str]:
  """The single-character tokens (plain and '##') of tiny_vocab(), minus Cyrillic."""
  vocab_set = set(tiny_vocab())
  chars = [t for t in tiny_vocab() if len(t) == 1 and t.isascii() or t in "àèéêùç"]
  return [c for c in chars if c in vocab_set] + ["##" + c for c in chars if "##" + c in vocab_set]


def write_en_fr_selection(selected_dir: str) -> None:
  from smaller_labse.tokenizers import vocab
  vocab.write_token_file(os.path.join(selected_dir, "selected_en_tokens.txt"),
                         EN_FR[:7] + latin_chars() + ["\xa0"])
  vocab.write_token_file(os.path.join(selected_dir, "selected_fr_tokens.txt"),
                         EN_FR[7:] + latin_chars())


def _run_into(path: str, name: str, *args: str) -> None:
  """Runs command `name` from `path` (shared_build's directory); keeps its stdout in
  `name`.stdout there. A failure is the fixture's error."""
  result = run_command(name, *args, cwd=path)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  with open(os.path.join(path, f"{name}.stdout"), "w", encoding="utf-8") as f:
    f.write(result.stdout)


@pytest.fixture(scope="session")
def tiny_stage1(tiny_labse, tmp_path_factory):
  """A work directory after stage 1, run once per session as a user runs it (no flags, from a
  directory holding downloads/labse-2, the tiny LaBSE): models/labse, models/labse_st; the
  command's stdout is convert.stdout. Read it or copy it, never write to it."""
  def build(path: str) -> None:
    os.makedirs(os.path.join(path, "downloads"))
    os.symlink(tiny_labse[0], os.path.join(path, "downloads", "labse-2"))
    _run_into(path, "convert")
  return shared_build(tmp_path_factory, "tiny_stage1", build)


@pytest.fixture(scope="session")
def tiny_en_fr(tiny_stage1, tmp_path_factory):
  """A work directory after stages 1, 2 (write_en_fr_selection) and 3 (`make --langs=en,fr`,
  default formats, run once per session): models/labse, selected_tokens/, models/LaBSE_en-fr
  (+ _preprocess, _st), models/vocab-en-fr.txt; stage 3's stdout is make.stdout. Read it or
  copy it (copy_tree), never write to it."""
  def build(path: str) -> None:
    shutil.copytree(os.path.join(tiny_stage1, "models", "labse"),
                    os.path.join(path, "models", "labse"))
    write_en_fr_selection(os.path.join(path, "selected_tokens"))
    _run_into(path, "make", "--langs=en,fr")
  return shared_build(tmp_path_factory, "tiny_en_fr", build)


@pytest.fixture
def tiny_en_fr_dir(tiny_en_fr):
  """The session's work directory after stages 1-3 for en, fr (conftest.tiny_en_fr): read only."""
  return pathlib.Path(tiny_en_fr)


@pytest.fixture
def tiny_en_fr_stdout(tiny_en_fr):
  """Stage 3's stdout (make_smaller_labse.py --langs=en,fr, the default formats, run as a user would)."""
  return (pathlib.Path(tiny_en_fr) / "make.stdout").read_text(encoding="utf-8")
