"""Shared fixtures: tiny models in LaBSE/2's TF Hub format, built by the tests themselves."""

import os
import subprocess
import sys
from typing import List

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


@pytest.fixture(scope="session")
def tiny_labse(tmp_path_factory):
  """A tiny random-weight LaBSE/2-format encoder + preprocessor: (encoder_dir, preprocess_dir)."""
  from smaller_labse.demo import write_demo_model
  downloads = str(tmp_path_factory.mktemp("downloads"))
  write_demo_model(downloads, tiny_vocab(), seed=1)
  return os.path.join(downloads, "labse-2"), os.path.join(downloads, "labse-2-preprocess")
