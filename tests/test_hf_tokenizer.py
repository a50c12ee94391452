"""Hugging Face sources' tokenizers: smaller_labse.hf_tokenizer and its TF twin (hf_preprocessor).

The oracles are the real libraries: transformers' AutoTokenizer and sentence_transformers
(in a subprocess, tests/hf_oracle.py: no TensorFlow there), and the tokenizers library
itself. Tokenizer directories are written the ways they exist on the Hub: saved by today's
transformers, a vocab.txt with a tokenizer_config.json, a tokenizer.json serialized by the
tokenizers library (sentence-transformers/LaBSE's layout), with added tokens, lower-cased.
"""

import glob
import json
import os
import random
import re
import subprocess
import sys
import unicodedata
from typing import Dict, List

import pytest
import tensorflow as tf

from conftest import ROOT, SHARED, tiny_vocab
from smaller_labse import counting, hf_chars, hub_format
from smaller_labse.errors import InputError
from smaller_labse.hf_tokenizer import (HfTokenizer, RUST_WHITESPACE, count_corpus,
                                        unreachable_token)

tokenizers = pytest.importorskip("tokenizers")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

SENTENCES = [
    "the weather is nice today", "Où est la gare\u202f? 100\xa0km", "a\u3000b a\xa0b a",
    "zero\u200bwidth zw\u200dj soft\xadhyphen \ufeffbom rtl\u200fmark",
    "cafe\u0301 noir n\u0303 A\u0308\u0301\u0323", "今天天气很好。 日本語のテキスト 한국어",
    "ภาษาไทย นะครับ", "😀 👍🏽 👨\u200d👩\u200d👧 🇫🇷 🥰",
    "é" * 60 + " ok",  # 120 bytes but 60 characters: one word for the library.
    "x" * 101 + " ok", "ж" * 100 + " ok",
    "[CLS] the [MASK] x[SEP]y [UNK]a [PAD]", "", "   ", "\t\n",
    "a\x00b\x85c\x1cd\ufffde\x7ff", "tab\there\x0bvt\x0cff\u2028ls",
    "İstanbul ΣΑΣ Élan ǅemal ﬁne", "¿Qué? «citation» —dash— wait… a.b,c $5+6=11 ~^`|<>",
    "\U0002B820x \U0002B920y \u4E00z",  # CJK ranges: the library skips U+2B820-U+2B91F.
    "Zork zork ZORK <ent>wea <ent> zorkish", "\U000105c9 \u0958 \U000E0001tag \ue000pua",
    "ﾊﾝｶｸ ＦＵＬＬ ① ²",
]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
COLLIDING = ["a\xa0", "##s\u3000", "\u2002"]  # After 'a', '##s', '\xa0': they take their ids.


def _vocab(colliding: bool = True) -> List[str]:
  """tiny_vocab(), every character of SENTENCES (lower-cased and NFD too) as 'x' and '##x',
  a few words, then lines that collide with earlier ones once trailing whitespace is
  trimmed (not `colliding`: no token with trailing whitespace)."""
  texts = SENTENCES + [s.lower() for s in SENTENCES]
  texts += [unicodedata.normalize("NFD", s) for s in texts]
  chars = sorted({c for s in texts for c in s
                  if c not in RUST_WHITESPACE and not c.isspace() and ord(c) >= 0x20})
  words = ["the", "weather", "nice", "today", "caf", "gare", "今天", "Zork", "zork", "wea", "##ther",
           "ok", "km", "##ing", "ﬁ"]
  tokens = tiny_vocab() + chars + ["##" + c for c in chars] + words
  if not colliding:  # tiny_vocab's whitespace tokens collide too.
    return [t for t in dict.fromkeys(tokens) if t == t.rstrip(RUST_WHITESPACE)]
  return list(dict.fromkeys(tokens + COLLIDING))


def _write(path: str, name: str, value) -> None:
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, name), "w", encoding="utf-8", newline="") as f:
    f.write(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def _vocab_text(tokens: List[str]) -> str:
  return "".join(t + "\n" for t in tokens)


def _library_tokenizer_json(tokens: List[str], lower_case: bool = False) -> str:
  """A BERT tokenizer.json as the tokenizers library serializes one (exact vocab, no trimming)."""
  from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors
  library = Tokenizer(models.WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
  library.normalizer = normalizers.BertNormalizer(lowercase=lower_case)
  library.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  library.post_processor = processors.TemplateProcessing(
      single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
      special_tokens=[("[CLS]", tokens.index("[CLS]")), ("[SEP]", tokens.index("[SEP]"))])
  library.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
  return library.to_str()


def _added_tokens_decoder(tokens: List[str]) -> Dict[str, object]:
  def entry(content, special, normalized, lstrip=False):
    return {"content": content, "lstrip": lstrip, "normalized": normalized, "rstrip": False,
            "single_word": False, "special": special}
  decoder = {str(tokens.index(t)): entry(t, True, False, lstrip=t == "[MASK]") for t in SPECIALS}
  decoder[str(len(tokens))] = entry("<ent>", True, False)
  decoder[str(len(tokens) + 1)] = entry("Zork", False, True)
  return decoder


BERT = {"tokenizer_class": "BertTokenizer"}
# name -> (files, or "save": BertTokenizerFast kwargs for transformers to save).
LAYOUTS = {
    "saved_cased": {"save": {"do_lower_case": False}},
    "saved_lower": {"save": {"do_lower_case": True}},
    "vocab_cased": {"tokenizer_config.json": {**BERT, "do_lower_case": False}},
    "vocab_lower_keep_accents": {"tokenizer_config.json": {
        "tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "strip_accents": False,
        "tokenize_chinese_chars": False}},
    "vocab_strip_accents": {"tokenizer_config.json": {**BERT, "do_lower_case": False,
                                                      "strip_accents": True}},
    "config_json_only": {"config.json": {"model_type": "bert"}},
    "library_json": {"tokenizer.json": "cased", "tokenizer_config.json": {
        **BERT, "do_lower_case": False, "tokenize_chinese_chars": True, "strip_accents": None},
        "special_tokens_map.json": {"cls_token": "[CLS]", "mask_token": "[MASK]",
                                    "pad_token": "[PAD]", "sep_token": "[SEP]",
                                    "unk_token": "[UNK]"}},
    "library_json_as_written": {"tokenizer.json": "lower", "tokenizer_config.json": {
        "tokenizer_class": "PreTrainedTokenizerFast", "cls_token": "[CLS]", "sep_token": "[SEP]",
        "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}},
    # Without collisions: transformers would give '<ent>' the id of a real row.
    "added_tokens": {"exact": True, "tokenizer_config.json": {
        **BERT, "do_lower_case": False, "added_tokens_decoder": "decoder"}},
    "added_tokens_lower": {"exact": True, "tokenizer_config.json": {
        **BERT, "do_lower_case": True, "added_tokens_decoder": "decoder"}},
    # The legacy files: special_tokens_map.json (a dict token) and added_tokens.json.
    "legacy_added_tokens": {
        "exact": True, "tokenizer_config.json": {**BERT, "do_lower_case": False},
        "special_tokens_map.json": {"mask_token": {
            "content": "[MASK]", "lstrip": True, "normalized": False, "rstrip": False,
            "single_word": False}},
        "added_tokens.json": "next"},
    "split_special_tokens": {"tokenizer_config.json": {**BERT, "do_lower_case": False,
                                                       "split_special_tokens": True}},
}


def _build_layout(path: str, spec: Dict[str, object]) -> None:
  tokens = _vocab(colliding=not spec.get("exact"))
  _write(path, "vocab.txt", _vocab_text(tokens))
  for name, value in spec.items():
    if name == "exact":
      continue
    if name == "tokenizer.json":
      value = _library_tokenizer_json(tokens, lower_case=value == "lower")
    elif value == "next":
      value = {"<ent>": len(tokens), "Zork": len(tokens) + 1}
    elif isinstance(value, dict) and value.get("added_tokens_decoder") == "decoder":
      value = {**value, "added_tokens_decoder": _added_tokens_decoder(tokens)}
    if name != "save":
      _write(path, name, value)


def run_oracle(request: Dict[str, object], tmp_dir: str) -> Dict[str, object]:
  """tests/hf_oracle.py's answer (real transformers and sentence_transformers)."""
  pytest.importorskip("transformers")
  path = os.path.join(tmp_dir, "oracle_request.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(request, f, ensure_ascii=False)
  env = dict(os.environ, TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error",
             HF_HUB_OFFLINE="1")
  result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hf_oracle.py"), path],
                          capture_output=True, text=True, env=env, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
  """name -> directory, and the oracle's answer for each."""
  root = tmp_path_factory.mktemp("hf_tokenizers")
  tokens = _vocab()
  dirs, save = {}, {}
  for name, spec in LAYOUTS.items():
    path = str(root / name)
    dirs[name] = path
    if "save" in spec:
      vocab_path = str(root / (name + "_vocab.txt"))
      _write(str(root), name + "_vocab.txt", _vocab_text(tokens))
      save[path] = {"vocab": vocab_path, **spec["save"]}
    else:
      _build_layout(path, spec)
  oracle = run_oracle({"save": save, "dirs": dirs, "sentences": SENTENCES}, str(root))
  return dirs, oracle


def _flat(ragged: tf.RaggedTensor) -> List[List[int]]:
  return [[i for word in line for i in word] for line in ragged.to_list()]


# --- Same tokenizer as AutoTokenizer ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_autotokenizer_builds_the_same_tokenizer(layouts, name):
  dirs, oracle = layouts
  expected = oracle[name]
  assert "error" not in expected, expected.get("error")
  ours = HfTokenizer.from_model_dir(dirs[name])
  assert ours.encode(SENTENCES) == expected["ids"]
  assert [e.ids for e in ours.library().encode_batch(SENTENCES)] == expected["ids_with_specials"]
  backend = json.loads(expected["backend"])
  assert ours.vocab == backend["model"]["vocab"]
  assert ours.tokenizer_json()["normalizer"] == backend["normalizer"]
  assert [(t.id, t.content, t.normalized, t.special, t.lstrip) for t in ours.added_tokens] == [
      (t["id"], t["content"], t["normalized"], t["special"], t["lstrip"])
      for t in backend["added_tokens"]]
  assert ours.split_special_tokens == expected["split_special_tokens"]
  assert [ours.token_to_id(t) for t in (ours.cls_token, ours.sep_token, ours.pad_token)] == [
      expected["cls_id"], expected["sep_id"], expected["pad_id"]]


def test_layouts_cover_the_quirks(layouts):
  """The cases above are the hard ones: collisions, lower-casing, added and split tokens."""
  dirs, oracle = layouts
  tokens = _vocab()
  vocab_dir = HfTokenizer.from_model_dir(dirs["vocab_cased"])
  # vocab.txt read as the library reads it: 'a\xa0' -> 'a', the later line wins.
  assert vocab_dir.vocab["a"] == tokens.index("a\xa0")
  rows = vocab_dir.row_tokens(len(tokens))
  for token in ("a", "\xa0", "\u3000", "##s"):
    assert rows[tokens.index(token)] == unreachable_token(tokens.index(token))
  assert rows[tokens.index("a\xa0")] == "a"
  # The library's serialization keeps the exact vocab.
  exact = HfTokenizer.from_model_dir(dirs["library_json"])
  assert exact.row_tokens(len(tokens)) == tokens
  # No tokenizer_config.json: transformers' BertTokenizer default lower-cases.
  assert HfTokenizer.from_model_dir(dirs["config_json_only"]).lower_case
  # Added tokens: '<ent>' gets the next id; 'Zork' (normalized) matches 'zork' when lower-cased.
  added = HfTokenizer.from_model_dir(dirs["added_tokens_lower"])
  exact_tokens = _vocab(colliding=False)
  assert added.token_to_id("<ent>") == len(exact_tokens)
  ids = oracle["added_tokens_lower"]["ids"][SENTENCES.index(
      "Zork zork ZORK <ent>wea <ent> zorkish")]
  assert ids.count(added.token_to_id("<ent>")) == 2
  assert ids.count(added.token_to_id("Zork")) == 4  # 'zorkish' holds it too.
  assert oracle["split_special_tokens"]["ids"][11] != oracle["vocab_cased"]["ids"][11]


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_tf_twin_tokenizes_as_the_library(layouts, name):
  ours = HfTokenizer.from_model_dir(layouts[0][name])
  twin = ours.tf_preprocessor()
  assert _flat(twin.tokenize(tf.constant(SENTENCES))) == ours.encode(SENTENCES)
  # Invalid UTF-8 reads as U+FFFD, which BertNormalizer deletes.
  assert _flat(twin.tokenize(tf.constant([b"caf\xffe\xe2\x82 ok"]))) == ours.encode(
      ["caf\ufffde\ufffd ok"])


def test_exported_tf_twin_is_a_tf_hub_preprocessor(layouts, tmp_path):
  """Exported by hub_format.export_preprocessor, loaded back with tf.saved_model.load (added
  tokens, lower-casing and accent stripping: the most graph there is)."""
  ours = HfTokenizer.from_model_dir(layouts[0]["added_tokens_lower"])
  rows = ours.row_tokens(ours.num_ids + 2)
  export_dir = str(tmp_path / "preprocess")
  hub_format.export_preprocessor(rows, export_dir, preprocessor=ours.tf_preprocessor)
  loaded = tf.saved_model.load(export_dir)
  expected = ours.encode(SENTENCES)
  assert _flat(loaded.tokenize(tf.constant(SENTENCES))) == expected
  special = {k: int(v) for k, v in loaded.tokenize.get_special_tokens_dict().items()}
  assert special == {"vocab_size": len(rows), "start_of_sequence_id": ours.token_to_id("[CLS]"),
                     "end_of_segment_id": ours.token_to_id("[SEP]"),
                     "padding_id": ours.token_to_id("[PAD]"),
                     "mask_id": ours.token_to_id("[MASK]")}
  packed = loaded(tf.constant(SENTENCES))
  cls, sep, pad = (ours.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
  for row, ids in zip(packed["input_word_ids"].numpy().tolist(), expected):
    body = [cls] + ids[:126] + [sep]
    assert row == body + [pad] * (128 - len(body))
  with open(os.path.join(export_dir, "assets", "cased_vocab.txt"), encoding="utf-8") as f:
    assert f.read() == _vocab_text(rows)


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
  from smaller_labse.hf_preprocessor import lowercase_table  # pylint: disable=import-outside-toplevel
  table = lowercase_table()
  expected = {cp: out for cp, out in probed["LOWERCASE"].items() if len(out) == 1}
  assert {cp: chr(table[cp]) for cp in cps if cp in table} == expected
  assert {cp: out for cp, out in probed["LOWERCASE"].items() if len(out) > 1} == {
      cp: out for cp, out in hf_chars.LOWERCASE_MULTI.items()}


@pytest.mark.parametrize("settings", [
    dict(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=False),
    dict(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True),
    dict(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False),
    dict(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=True)])
def test_twin_normalizes_every_code_point_as_the_library(settings):
  from tokenizers import normalizers
  from smaller_labse.hf_tokenizer import BertNormalizer  # pylint: disable=import-outside-toplevel
  tokenizer = HfTokenizer({t: i for i, t in enumerate(SPECIALS)}, BertNormalizer(**settings), [],
                          {"unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
                           "pad_token": "[PAD]"}, "[UNK]")
  twin = tokenizer.tf_preprocessor()
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
  tokenizer = HfTokenizer({t: i for i, t in enumerate(SPECIALS)}, None, [],
                          {"unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
                           "pad_token": "[PAD]"}, "[UNK]")
  twin = tokenizer.tf_preprocessor()
  texts_t = tf.constant(texts)
  words, _ = twin._words(texts_t, tf.fill(tf.shape(texts_t, out_type=tf.int64),  # pylint: disable=protected-access
                                          tf.constant(-1, tf.int64)))
  got = [[w.decode("utf-8") for w in row] for row in words.to_list()]
  expected = [[w for w, _ in library.pre_tokenize_str(t)] for t in texts]
  differ = [(t, g, e) for t, g, e in zip(texts, got, expected) if g != e]
  assert not differ, differ[:5]


# --- Data, round trips, a smaller vocab ----------------------------------------------------

def test_to_json_round_trips_deterministically(layouts):
  ours = HfTokenizer.from_model_dir(layouts[0]["added_tokens_lower"])
  text = ours.to_json()
  again = HfTokenizer.from_json(text, "tokenizer.json")
  assert again.to_json() == text == HfTokenizer.from_model_dir(
      layouts[0]["added_tokens_lower"]).to_json()
  assert again.encode(SENTENCES) == ours.encode(SENTENCES)
  assert again.row_tokens(ours.num_ids) == ours.row_tokens(ours.num_ids)
  # library() is tokenizer_json() as the library itself loads it.
  from tokenizers import Tokenizer
  assert ours.library().to_str() == Tokenizer.from_str(json.dumps(ours.tokenizer_json())).to_str()


def _smaller(ours: HfTokenizer, kept_sentences: List[str]) -> List[str]:
  """The specials, then every token of `kept_sentences`, sorted (as stage 3 builds a vocab)."""
  used = {t for line in ours.tokenize(kept_sentences) for t in line}
  specials = [t for t in ours.row_tokens(ours.num_ids) if t in ours.special_tokens.values()]
  return specials + sorted(used - set(specials))


def test_smaller_vocab_loads_in_transformers_and_sentence_transformers(layouts, tmp_path):
  """with_vocab + hf_files, for a cased source with added tokens and a lower-cased one saved
  by transformers; loaded by the real AutoTokenizer and SentenceTransformer."""
  kept = [s for s in SENTENCES if "ж" not in s and "ภ" not in s]
  exports, models, cases = {}, {}, {}
  for name in ("added_tokens", "saved_lower"):
    ours = HfTokenizer.from_model_dir(layouts[0][name])
    tokens = _smaller(ours, kept)
    smaller = ours.with_vocab(tokens)
    files = smaller.hf_files(max_seq_length=128)
    assert files == ours.with_vocab(tokens).hf_files(max_seq_length=128)  # Byte-identical.
    export = str(tmp_path / name)
    for file_name, text in files.items():
      _write(export, file_name, text)
    exports[name], models[export] = export, len(tokens)
    cases[name] = (ours, tokens, smaller)
  oracle = run_oracle({"models": models, "dirs": exports, "sentences": SENTENCES,
                       "sentence_transformers": list(exports)}, str(tmp_path))
  for name, (ours, tokens, smaller) in cases.items():
    rows = ours.row_tokens(ours.num_ids)
    expected = smaller.encode(SENTENCES)
    # Kept sentences: the source's tokens, under their new ids.
    for sentence, ids, new_ids in zip(SENTENCES, ours.encode(SENTENCES), expected):
      if sentence in kept:
        assert new_ids == [tokens.index(rows[i]) for i in ids], sentence
    assert oracle[name]["ids"] == expected
    cls, sep = smaller.token_to_id("[CLS]"), smaller.token_to_id("[SEP]")
    assert oracle["st:" + name]["tokenizer_ids"] == [[cls] + ids + [sep] for ids in expected]
    # SentenceTransformer.tokenize strips each text and truncates to 128 tokens.
    stripped = [[cls] + ids + [sep] for ids in smaller.encode([s.strip() for s in SENTENCES])]
    assert oracle["st:" + name]["ids"] == [ids[:127] + ids[-1:] if len(ids) > 128 else ids
                                           for ids in stripped]
    assert _flat(smaller.tf_preprocessor().tokenize(tf.constant(SENTENCES))) == expected


def test_with_vocab_refuses_what_it_cannot_keep(layouts):
  ours = HfTokenizer.from_model_dir(layouts[0]["vocab_cased"])
  with pytest.raises(InputError, match="not tokens of"):
    ours.with_vocab(SPECIALS + ["no such token"])
  with pytest.raises(InputError, match=r"lacks the special token '\[SEP\]'"):
    ours.with_vocab(["[PAD]", "[UNK]", "[CLS]", "[MASK]", "the"])
  with pytest.raises(InputError, match="duplicate"):
    ours.with_vocab(SPECIALS + ["the", "the"])


# --- Counting -----------------------------------------------------------------------------

def _python_loop_counts(tokenizer: HfTokenizer, paths, vocab, min_chars, max_sentences):
  """The oracle: TextLineDataset's lines, decoded with U+FFFD, one line at a time."""
  occurrences: Dict[str, int] = {}
  doc_freqs: Dict[str, int] = {}
  lines = counting.read_filtered_lines(paths, min_chars, max_sentences)
  for line in lines:
    ids = tokenizer.encode([line.decode("utf-8", errors="replace")])[0]
    for i in ids:
      occurrences[vocab[i]] = occurrences.get(vocab[i], 0) + 1
    for i in set(ids):
      doc_freqs[vocab[i]] = doc_freqs.get(vocab[i], 0) + 1
  return occurrences, doc_freqs, len(lines)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  """Two files: \\r\\n and lone \\r, long lines, invalid UTF-8, short lines, no final \\n."""
  root = tmp_path_factory.mktemp("hf_corpus")
  rng = random.Random(0)
  lines = [s.replace("\n", " ") for s in SENTENCES] + ["abc", "abcde", "abcdef"]
  body = []
  for i in range(400):
    line = " ".join(rng.choice(lines) for _ in range(rng.randint(1, 6))).encode("utf-8")
    if i % 17 == 0:
      line = line.replace(b"a", b"a\xff", 1) + b"\xe2\x82"  # Invalid UTF-8.
    if i % 13 == 0:
      line = line[:3] + b"\r" + line[3:]
    body.append(line + (b"\r\n" if i % 5 == 0 else b"\n"))
  first = str(root / "a.txt")
  with open(first, "wb") as f:
    f.write(b"".join(body[:250]))
  second = str(root / "b.txt")
  with open(second, "wb") as f:
    f.write(b"".join(body[250:]) + ("é" * 5000 + "  last line, no newline").encode("utf-8"))
  return [first, second]


@pytest.mark.parametrize("name", ["vocab_cased", "added_tokens_lower"])
def test_count_corpus_equals_a_python_loop(layouts, corpus, name):
  ours = HfTokenizer.from_model_dir(layouts[0][name])
  vocab = ours.row_tokens(ours.num_ids)
  for max_sentences in (10 ** 6, 333):
    occurrences, doc_freqs, num_lines = _python_loop_counts(ours, corpus, vocab, 5, max_sentences)
    for split_words in (True, False):
      counts = count_corpus(ours, corpus, vocab, min_chars=5, max_sentences=max_sentences,
                            batch_size=37, split_words=split_words)
      assert counts.num_lines == num_lines
      assert counts.occurrences == occurrences
      assert counts.doc_freqs == doc_freqs
      assert counts.meta["vocab_size"] == len(vocab) and counts.meta["lower_case"] == ours.lower_case
  assert num_lines == 333


def test_count_corpus_input_errors(layouts, corpus, tmp_path):
  ours = HfTokenizer.from_model_dir(layouts[0]["vocab_cased"])
  vocab = ours.row_tokens(ours.num_ids)
  with pytest.raises(InputError, match="corpus file not found"):
    count_corpus(ours, [str(tmp_path / "missing.txt")], vocab)
  short = str(tmp_path / "short.txt")
  _write(str(tmp_path), "short.txt", "abc\nde\n")
  with pytest.raises(InputError, match="no line longer than 5 characters"):
    count_corpus(ours, [short], vocab)
  with pytest.raises(InputError, match="does not fit the embedding table"):
    ours.row_tokens(10)


# --- Refused inputs: one line naming the file ---------------------------------------------

def _unigram_json() -> str:
  from tokenizers import Tokenizer, models
  return Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0)], unk_id=0)).to_str()


def _bpe_json() -> str:
  from tokenizers import Tokenizer, models
  return Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")])).to_str()


def _json_with(**changes) -> str:
  data = json.loads(_library_tokenizer_json(_vocab()))
  data.update(changes)
  return json.dumps(data)


PTF = {"tokenizer_class": "PreTrainedTokenizerFast"}
REFUSED = {
    "no_tokenizer_files": ({"tokenizer_config.json": BERT}, "no tokenizer.json nor vocab.txt"),
    "malformed_json": ({"tokenizer.json": '{"model": {"type": "WordPiece"', **{
        "tokenizer_config.json": BERT}}, "tokenizer.json: not valid JSON"),
    "sentencepiece": ({"tokenizer.json": _unigram_json(), "tokenizer_config.json": PTF},
                      "tokenizer.json: a Unigram (SentencePiece) tokenizer, not BERT's WordPiece"),
    "bpe": ({"tokenizer.json": _bpe_json(), "tokenizer_config.json": PTF},
            "tokenizer.json: a BPE tokenizer"),
    "xlm_roberta_config": ({"config.json": {"model_type": "xlm-roberta"}, "vocab.txt": "x\n"},
                           "config.json: model_type 'xlm-roberta': not a BERT model"),
    "xlm_roberta_class": ({"tokenizer_config.json": {"tokenizer_class": "XLMRobertaTokenizer"},
                           "vocab.txt": "x\n"},
                          "tokenizer_config.json: tokenizer_class 'XLMRobertaTokenizer'"),
    "missing_cls": ({"vocab.txt": "[PAD]\n[UNK]\n[SEP]\nthe\n", "tokenizer_config.json": BERT},
                    "vocab.txt: the special token '[CLS]' (cls_token) is not in the vocab"),
    "unsupported_normalizer": ({"tokenizer.json": _json_with(normalizer={"type": "NFKC"}),
                                "tokenizer_config.json": PTF},
                               "tokenizer.json: normalizer 'NFKC'"),
    "unsupported_pre_tokenizer": ({"tokenizer.json": _json_with(
        pre_tokenizer={"type": "Whitespace"}), "tokenizer_config.json": PTF},
        "tokenizer.json: pre-tokenizer 'Whitespace'"),
    "no_post_processor": ({"tokenizer.json": _json_with(post_processor=None),
                           "tokenizer_config.json": PTF},
                          "does not add [CLS] ... [SEP]"),
    "single_word": ({"vocab.txt": _vocab_text(SPECIALS + ["the"]), "tokenizer_config.json": {
        **BERT, "added_tokens_decoder": {"5": {"content": "the", "single_word": True,
                                               "special": False}}}}, "single_word"),
    "no_class": ({"vocab.txt": _vocab_text(SPECIALS)}, "says which tokenizer this is"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_tokenizers(name, tmp_path):
  files, message = REFUSED[name]
  path = str(tmp_path / name)
  os.makedirs(path)
  for file_name, value in files.items():
    _write(path, file_name, value)
  with pytest.raises(InputError, match=re.escape(message)) as error:
    HfTokenizer.from_model_dir(path)
  assert "\n" not in str(error.value) and path in str(error.value)


def test_refused_json_and_missing_directory(tmp_path):
  with pytest.raises(InputError, match="no such directory"):
    HfTokenizer.from_model_dir(str(tmp_path / "missing"))
  with pytest.raises(InputError, match="saved.json: not valid JSON"):
    HfTokenizer.from_json("{", "saved.json")
  with pytest.raises(InputError, match="saved.json: not a tokenizer written by smaller_labse"):
    HfTokenizer.from_json("{}", "saved.json")


# --- The real LaBSE vocab (../shared) -----------------------------------------------------

LABSE_VOCAB = os.path.join(SHARED, "data", "labse", "cased_vocab.txt")
needs_shared = pytest.mark.skipif(not os.path.exists(LABSE_VOCAB), reason="../shared not present")


@pytest.fixture(scope="module")
def labse(tmp_path_factory):
  """LaBSE's vocab.txt with sentence-transformers/LaBSE's tokenizer_config.json."""
  path = str(tmp_path_factory.mktemp("labse_hf"))
  with open(LABSE_VOCAB, encoding="utf-8") as f:
    _write(path, "vocab.txt", f.read())
  _write(path, "tokenizer_config.json", {**BERT, "do_lower_case": False,
                                         "tokenize_chinese_chars": True, "strip_accents": None})
  return HfTokenizer.from_model_dir(path)


@needs_shared
def test_real_labse_vocab_txt_collides_as_transformers_reads_it(labse):
  with open(LABSE_VOCAB, encoding="utf-8") as f:
    lines = f.read().split("\n")[:-1]
  assert len(lines) == 501_153 and len(labse.vocab) == 501_113  # 40 lines lose their id.
  trimmed: Dict[str, int] = {}
  for line in lines:
    key = line.rstrip(RUST_WHITESPACE)
    trimmed[key] = trimmed.get(key, 0) + 1
  assert sum(n for n in trimmed.values() if n > 1) == 47  # in 7 groups of colliding lines
  assert (lines.index("a"), labse.vocab["a"]) == (170, lines.index("a\xa0")) == (170, 332_924)
  rows = labse.row_tokens(len(lines))
  unreachable = [row for row, token in enumerate(rows) if token == unreachable_token(row)]
  assert len(unreachable) == 41  # the 40, and the row of '' (whitespace-only lines)
  assert {lines[row] for row in unreachable} >= {"a", "i", "\xa0", "\u202f", "\u3000"}


@needs_shared
def test_real_labse_twin_agrees_on_a_tatoeba_sample(labse):
  from st_tokenizer_agreement import EDGE_CASES  # pylint: disable=import-outside-toplevel
  rng = random.Random(0)
  lines = []
  for path in sorted(glob.glob(os.path.join(SHARED, "data", "tatoeba_dev", "tatoeba.*"))):
    with open(path, encoding="utf-8", newline="") as f:
      lines += rng.sample(f.read().split("\n")[:-1], 20)
  lines += [line for group in EDGE_CASES.values() for line in group]
  twin = labse.tf_preprocessor()
  assert _flat(twin.tokenize(tf.constant(lines))) == labse.encode(lines)
