"""The TF twin of a Hugging Face BERT tokenizer (smaller_labse.tokenizers.hf_preprocessor): the same ids
as the tokenizers library on the tokenizer directories of hf_layouts.py, on every code point
(with hf_chars.py's tables checked against the library), and as an exported TF Hub preprocessor.
"""

import glob
import os
import random
import sys
from typing import List

import pytest
import tensorflow as tf

import hf_layouts as hl
from conftest import ROOT, SHARED
from smaller_labse.formats import tf_hub
from smaller_labse.tokenizers import hf_chars
from smaller_labse.tokenizers.hf_preprocessor import lowercase_table
from smaller_labse.tokenizers.hf_loading import load_model_dir
from smaller_labse.tokenizers.hf_tokenizer import BertNormalizer, HfTokenizer

tokenizers = pytest.importorskip("tokenizers")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "bench"))


@pytest.fixture(scope="module")
def layout_dirs(tmp_path_factory):
  """name -> directory (those that transformers writes are left out: same pipelines)."""
  return hl.build_layouts(str(tmp_path_factory.mktemp("hf_twin")), with_transformers=False)[0]


@pytest.mark.parametrize("name", sorted(n for n, s in hl.LAYOUTS.items() if "save" not in s))
def test_tf_twin_tokenizes_as_the_library(layout_dirs, name):
  ours = load_model_dir(layout_dirs[name])
  twin = ours.tf_preprocessor()
  assert hl.flat(twin.tokenize(tf.constant(hl.SENTENCES))) == ours.encode(hl.SENTENCES)
  # Invalid UTF-8 reads as U+FFFD, which BertNormalizer deletes.
  assert hl.flat(twin.tokenize(tf.constant([b"caf\xffe\xe2\x82 ok"]))) == ours.encode(
      ["caf\ufffde\ufffd ok"])


def test_exported_tf_twin_is_a_tf_hub_preprocessor(layout_dirs, tmp_path):
  """Exported by tf_hub.export_preprocessor, loaded back with tf.saved_model.load (added
  tokens, lower-casing and accent stripping: the most graph there is)."""
  ours = load_model_dir(layout_dirs["added_tokens_lower"])
  rows = ours.row_tokens(ours.num_ids + 2)
  export_dir = str(tmp_path / "preprocess")
  tf_hub.export_preprocessor(rows, export_dir, preprocessor=ours.tf_preprocessor)
  loaded = tf.saved_model.load(export_dir)
  expected = ours.encode(hl.SENTENCES)
  assert hl.flat(loaded.tokenize(tf.constant(hl.SENTENCES))) == expected
  special = {k: int(v) for k, v in loaded.tokenize.get_special_tokens_dict().items()}
  assert special == {"vocab_size": len(rows), "start_of_sequence_id": ours.token_to_id("[CLS]"),
                     "end_of_segment_id": ours.token_to_id("[SEP]"),
                     "padding_id": ours.token_to_id("[PAD]"),
                     "mask_id": ours.token_to_id("[MASK]")}
  packed = loaded(tf.constant(hl.SENTENCES))
  cls, sep, pad = (ours.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
  for row, ids in zip(packed["input_word_ids"].numpy().tolist(), expected):
    body = [cls] + ids[:126] + [sep]
    assert row == body + [pad] * (128 - len(body))
  with open(os.path.join(export_dir, "assets", "cased_vocab.txt"), encoding="utf-8") as f:
    assert f.read() == hl.vocab_text(rows)


# --- The character tables and the normalizer, every code point ---------------------------

def _probed_code_points(step: int = 1) -> List[int]:
  """Planes 0-3 and 14 (every assigned character; every `step`-th beyond the BMP), every
  61st of the others."""
  from hf_char_tables import code_points  # pylint: disable=import-outside-toplevel
  return [cp for cp in code_points() if cp < 0x10000 or cp % 61 == 0 or (
      (cp < 0x40000 or 0xE0000 <= cp < 0xF0000) and cp % step == 0)]


def _table_set(spec: str) -> set:
  out = set()
  for item in spec.split():
    first, _, last = item.partition("-")
    out.update(range(int(first, 16), int(last or first, 16) + 1))
  return out


def test_char_tables_are_the_installed_librarys():
  from hf_char_tables import RANGE_TABLES, probe  # pylint: disable=import-outside-toplevel
  cps = _probed_code_points()
  probed = probe(cps)
  for name, _ in RANGE_TABLES:
    table = _table_set(getattr(hf_chars, name))
    assert sorted(cp for cp in cps if cp in table) == probed[name], name
  table = lowercase_table()
  expected = {cp: out for cp, out in probed["LOWERCASE"].items() if len(out) == 1}
  assert {cp: chr(table[cp]) for cp in cps if cp in table} == expected
  assert {cp: out for cp, out in probed["LOWERCASE"].items() if len(out) > 1} == {
      cp: out for cp, out in hf_chars.LOWERCASE_MULTI.items()}


def _bare_twin(normalizer):
  """The twin of a tokenizer with only the special tokens and `normalizer`."""
  return HfTokenizer({t: i for i, t in enumerate(hl.SPECIALS)}, normalizer, [],
                     {"unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
                      "pad_token": "[PAD]"}, "[UNK]").tf_preprocessor()


@pytest.mark.parametrize("settings", [
    dict(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=False),
    dict(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True),
    dict(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False),
    dict(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=True)])
def test_twin_normalizes_every_code_point_as_the_library(settings):
  from tokenizers import normalizers
  twin = _bare_twin(BertNormalizer(**settings))
  library = normalizers.BertNormalizer(**settings)
  texts = ["a" + chr(cp) + "b" for cp in _probed_code_points(step=5)]
  texts += ["a\u0301\u0316b", "e\u0316\u0301", "\u1100\u1161\u11a8\uac00", "Ä\u0308\u0301\u0323",
            "\u0130\u0130i", "ΣΑΣ ς", "\U000105c9\u0301", "\u0f71\u0f72\u0f73"]
  got = [t.decode("utf-8") for t in twin.normalize(tf.constant(texts)).numpy()]
  expected = [library.normalize_str(t) for t in texts]
  differ = [(t, g, e) for t, g, e in zip(texts, got, expected) if g != e]
  assert not differ, differ[:5]


def test_twin_pre_tokenizes_every_code_point_as_the_library():
  from tokenizers import pre_tokenizers
  texts = ["a" + chr(cp) + "b" for cp in _probed_code_points(step=7)]
  library = pre_tokenizers.BertPreTokenizer()
  words = _bare_twin(None).pre_tokenize(tf.constant(texts))
  got = [[w.decode("utf-8") for w in row] for row in words.to_list()]
  expected = [[w for w, _ in library.pre_tokenize_str(t)] for t in texts]
  differ = [(t, g, e) for t, g, e in zip(texts, got, expected) if g != e]
  assert not differ, differ[:5]


@hl.needs_shared
def test_real_labse_twin_agrees_on_a_tatoeba_sample(tmp_path):
  labse = hl.labse_source(str(tmp_path))
  from st_tokenizer_agreement import EDGE_CASES  # pylint: disable=import-outside-toplevel
  rng = random.Random(0)
  lines = []
  for path in sorted(glob.glob(os.path.join(SHARED, "data", "tatoeba_dev", "tatoeba.*"))):
    with open(path, encoding="utf-8", newline="") as f:
      lines += rng.sample(f.read().split("\n")[:-1], 20)
  lines += [line for group in EDGE_CASES.values() for line in group]
  twin = labse.tf_preprocessor()
  assert hl.flat(twin.tokenize(tf.constant(lines))) == labse.encode(lines)
