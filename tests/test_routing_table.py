"""Counting's routing table: independent of the running Python's Unicode tables, covering
every risky character of them, and proven by tools/routing_table.py."""

import logging
import os
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
import tensorflow_text as tf_text

from smaller_labse.vocabulary import routing_table, tf_counting
from tests.helpers_vocab import ROOT, tiny_vocab, write_vocab

RISKY = {"Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs"}
TOOL = os.path.join(ROOT, "tools", "routing_table.py")
# No-break and other spaces, Balinese (with Unicode 16 additions), CJK punctuation, specials.
SLICE = "0-24F,1680,2000-206F,3000-303F,1B40-1B7F,FFF0-FFFF"
DIFFER = ["U+00A0 (Zs)", "U+1680 (Zs)", "U+1B4E (Cn)", "U+2000 (Zs)", "U+2028 (Zl)",
          "U+2029 (Zp)", "U+202F (Zs)", "U+3000 (Zs)"]
# Routed whatever the Unicode tables: the Unicode 16 additions the tokenizers differ on, U+FFFD.
ALWAYS_ROUTED = {0x1B4E, 0x1B4F, 0x1B7F, 0x10D6E, 0x113D4, 0x113D5, 0x113D7, 0x113D8, 0x11BE1,
                   0x16D6D, 0x16D6E, 0x16D6F, 0x1E5FF, 0xFFFD}


def routed_mask(ranges):
  mask = np.zeros(0x110000, dtype=bool)
  for lo, hi in ranges:
    mask[lo:hi + 1] = True
  return mask


def run_tool(tmp_path, *args):
  vocab_file = write_vocab(str(tmp_path / "vocab.txt"), tiny_vocab())
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, TOOL, f"--vocab_file={vocab_file}", *args], env=env,
                        capture_output=True, text=True, timeout=300)


@pytest.fixture
def fresh_ranges():
  tf_counting.unsafe_ranges.cache_clear()
  yield
  tf_counting.unsafe_ranges.cache_clear()


def test_every_risky_character_of_this_pythons_tables_is_routed():
  routed = routed_mask(tf_counting.unsafe_ranges())
  risky = [cp for cp in range(0x110000)
           if cp != 0x20 and unicodedata.category(chr(cp)) in RISKY]
  assert routed[risky].all()
  assert routed[sorted(ALWAYS_ROUTED)].all()
  assert not routed[[ord(c) for c in " a.“-中文\u0301é"]].any()


def test_the_table_is_recomputed_from_this_pythons_unicode_tables():
  """The running Python's tables are one of the table's sources: recomputed from them, the
  table routes every risky code point they have, and of the code points assigned since
  Unicode 3.2 (whose categories Unicode 13.0 to 15.1 agree on) nothing else. What remains is
  the code points assigned after one of the sources: unassigned (Cn) there, routed here."""
  if unicodedata.unidata_version not in routing_table.UNICODE_VERSIONS:
    pytest.skip(f"this Python's Unicode {unicodedata.unidata_version} is not a source")
  categories = [unicodedata.category(chr(cp)) for cp in range(0x110000)]
  here = np.isin(np.array(categories), sorted(RISKY))
  here[0x20] = False
  here[sorted(ALWAYS_ROUTED)] = True
  routed = routed_mask(routing_table.RANGES)
  missing = np.flatnonzero(here & ~routed)
  assert not missing.size, [f"U+{cp:04X}" for cp in missing[:10]]
  long_assigned = np.array([unicodedata.ucd_3_2_0.category(chr(cp)) != "Cn"
                            for cp in range(0x110000)])
  extra = np.flatnonzero(routed & ~here & long_assigned)
  assert not extra.size, [f"U+{cp:04X} ({categories[cp]})" for cp in extra[:10]]
  assert routing_table.UNICODE_VERSIONS == ("13.0.0", "14.0.0", "15.0.0", "15.1.0")


def test_an_unproven_tensorflow_text_warns(monkeypatch, caplog, fresh_ranges):
  monkeypatch.setattr(tf_text, "__version__", "9.9.9")
  with caplog.at_level(logging.WARNING):
    assert tf_counting.unsafe_ranges() == routing_table.RANGES
  (record,) = caplog.records
  assert "9.9.9" in record.getMessage()
  assert routing_table.TENSORFLOW_TEXT_VERSION in record.getMessage()


def test_the_proof_holds_and_finds_the_routed_differences(tmp_path):
  result = run_tool(tmp_path, f"--code_points={SLICE}", "--include_routed")
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.splitlines()
  assert lines[1].startswith("Not routed, checked in 100 contexts each: 717 code points")
  assert lines[1].endswith("the tokenizers differ on 0.")
  assert lines[2].startswith("Routed, checked likewise: 132 code points; the tokenizers "
                             "differ on 21: ")
  assert all(cp in lines[2] for cp in DIFFER)


def test_write_makes_the_table_of_the_given_unicode_tables(tmp_path):
  out = tmp_path / "table.py"
  result = run_tool(tmp_path, "--write", f"--unicode_tables={sys.executable}",
                    "--code_points=0-24F,2000-206F", f"--output={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  namespace = {}
  exec(out.read_text(), namespace)  # pylint: disable=exec-used
  assert namespace["UNICODE_VERSIONS"] == (unicodedata.unidata_version,)
  written = routed_mask(namespace["RANGES"])
  risky = np.array([cp != 0x20 and unicodedata.category(chr(cp)) in RISKY
                    for cp in range(0x110000)])
  assert written[risky].all()
  extra = set(np.flatnonzero(written & ~risky).tolist())
  assert 0xFFFD in extra and extra <= ALWAYS_ROUTED
  assert not (written & ~routed_mask(tf_counting.unsafe_ranges())).any()  # within the union


def test_a_table_that_misses_a_difference_fails_and_writes_nothing(tmp_path):
  """Unicode tables in which every code point is a letter: the table routes only the known
  differences, the no-break spaces are left to FastBertTokenizer, the proof fails."""
  fake = tmp_path / "fake_tables"
  fake.mkdir()
  (fake / "unicodedata2.py").write_text('unidata_version = "0.0.0"\n'
                                        'def category(ch):\n  return "Lo"\n')
  out = tmp_path / "table.py"
  result = run_tool(tmp_path, "--write", f"--unicode_tables={fake}", "--code_points=0-24F",
                    f"--output={out}")
  assert result.returncode == 1, result.stderr[-3000:]
  assert "the tokenizers differ on 1: U+00A0 (Zs)." in result.stdout
  assert sorted(os.listdir(tmp_path)) == ["fake_tables", "vocab.txt"]  # no table, no temporary
