"""Hugging Face sources' tokenizers (smaller_labse.tokenizers.hf_tokenizer) against the real libraries.

The oracles: transformers' AutoTokenizer and sentence_transformers (in a subprocess,
tests/hf_oracle.py: no TensorFlow there) on the tokenizer directories of hf_layouts.py, and a
Python loop for the counts. The TF twin is tested in test_hf_preprocessor.py.
"""

import json
import os
import random
import re
from typing import Dict, List

import pytest
import tensorflow as tf

import hf_layouts as hl
from smaller_labse.tokenizers import tf_hub_wordpiece
from smaller_labse.vocabulary import fidelity
from smaller_labse.errors import InputError
from tests.counting_oracle import read_filtered_lines
from smaller_labse.tokenizers.hf_loading import load_model_dir
from smaller_labse.tokenizers.hf_tokenizer import HfTokenizer
from smaller_labse.tokenizers.vocab import RUST_WHITESPACE, unreachable_token
from smaller_labse.vocabulary.hf_counting import count_corpus

tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
  """name -> directory, and the oracle's answer for each."""
  root = str(tmp_path_factory.mktemp("hf_tokenizers"))
  dirs, save = hl.build_layouts(root, with_transformers=True)
  return dirs, hl.run_oracle({"save": save, "dirs": dirs, "sentences": hl.SENTENCES}, root)


# --- Same tokenizer as AutoTokenizer ------------------------------------------------------

@pytest.mark.parametrize("name", sorted(hl.LAYOUTS))
def test_autotokenizer_builds_the_same_tokenizer(layouts, name):
  dirs, oracle = layouts
  expected = oracle[name]
  assert "error" not in expected, expected.get("error")
  ours = load_model_dir(dirs[name])
  assert ours.encode(hl.SENTENCES) == expected["ids"]
  assert [e.ids for e in ours.library().encode_batch(hl.SENTENCES)] == expected["ids_with_specials"]
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
  tokens = hl.layout_vocab()
  vocab_dir = load_model_dir(dirs["vocab_cased"])
  # vocab.txt read as the library reads it: 'a\xa0' -> 'a', the later line wins.
  assert vocab_dir.vocab["a"] == tokens.index("a\xa0")
  rows = vocab_dir.row_tokens(len(tokens))
  for token in ("a", "\xa0", "\u3000", "##s"):
    assert rows[tokens.index(token)] == unreachable_token(tokens.index(token))
  assert rows[tokens.index("a\xa0")] == "a"
  # The library's serialization keeps the exact vocab.
  exact = load_model_dir(dirs["library_json"])
  assert exact.row_tokens(len(tokens)) == tokens
  # No tokenizer_config.json: transformers' BertTokenizer default lower-cases.
  assert load_model_dir(dirs["config_json_only"]).lower_case
  # Added tokens: '<ent>' gets the next id; 'Zork' (normalized) matches 'zork' when lower-cased.
  added = load_model_dir(dirs["added_tokens_lower"])
  exact_tokens = hl.layout_vocab(colliding=False)
  assert added.token_to_id("<ent>") == len(exact_tokens)
  ids = oracle["added_tokens_lower"]["ids"][hl.SENTENCES.index(
      "Zork zork ZORK <ent>wea <ent> zorkish")]
  assert ids.count(added.token_to_id("<ent>")) == 2
  assert ids.count(added.token_to_id("Zork")) == 4  # 'zorkish' holds it too.
  assert oracle["split_special_tokens"]["ids"][11] != oracle["vocab_cased"]["ids"][11]


# --- Data, round trips, a smaller vocab ----------------------------------------------------

def test_to_json_round_trips_deterministically(layouts):
  ours = load_model_dir(layouts[0]["added_tokens_lower"])
  text = ours.to_json()
  again = HfTokenizer.from_json(text, "tokenizer.json")
  assert again.to_json() == text == load_model_dir(
      layouts[0]["added_tokens_lower"]).to_json()
  assert again.encode(hl.SENTENCES) == ours.encode(hl.SENTENCES)
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
  kept = [s for s in hl.SENTENCES if "ж" not in s and "ภ" not in s]
  exports, models, cases = {}, {}, {}
  for name in ("added_tokens", "saved_lower"):
    ours = load_model_dir(layouts[0][name])
    tokens = _smaller(ours, kept)
    smaller = ours.with_vocab(tokens)
    files = smaller.hf_files(max_seq_length=128)
    assert files == ours.with_vocab(tokens).hf_files(max_seq_length=128)  # Byte-identical.
    export = str(tmp_path / name)
    for file_name, text in files.items():
      hl.write(export, file_name, text)
    exports[name], models[export] = export, len(tokens)
    cases[name] = (ours, tokens, smaller)
  oracle = hl.run_oracle({"models": models, "dirs": exports, "sentences": hl.SENTENCES,
                       "sentence_transformers": list(exports)}, str(tmp_path))
  for name, (ours, tokens, smaller) in cases.items():
    rows = ours.row_tokens(ours.num_ids)
    expected = smaller.encode(hl.SENTENCES)
    # Kept sentences: the source's tokens, under their new ids.
    for sentence, ids, new_ids in zip(hl.SENTENCES, ours.encode(hl.SENTENCES), expected):
      if sentence in kept:
        assert new_ids == [tokens.index(rows[i]) for i in ids], sentence
    assert oracle[name]["ids"] == expected
    cls, sep = smaller.token_to_id("[CLS]"), smaller.token_to_id("[SEP]")
    assert oracle["st:" + name]["tokenizer_ids"] == [[cls] + ids + [sep] for ids in expected]
    # SentenceTransformer.tokenize strips each text and truncates to 128 tokens.
    stripped = [[cls] + ids + [sep] for ids in smaller.encode([s.strip() for s in hl.SENTENCES])]
    assert oracle["st:" + name]["ids"] == [ids[:127] + ids[-1:] if len(ids) > 128 else ids
                                           for ids in stripped]
    assert hl.flat(smaller.tf_preprocessor().tokenize(tf.constant(hl.SENTENCES))) == expected


def test_with_vocab_refuses_what_it_cannot_keep(layouts):
  ours = load_model_dir(layouts[0]["vocab_cased"])
  with pytest.raises(InputError, match="not tokens of"):
    ours.with_vocab(hl.SPECIALS + ["no such token"])
  with pytest.raises(InputError, match=r"lacks the special token '\[SEP\]'"):
    ours.with_vocab(["[PAD]", "[UNK]", "[CLS]", "[MASK]", "the"])
  with pytest.raises(InputError, match="duplicate"):
    ours.with_vocab(hl.SPECIALS + ["the", "the"])


# --- Counting -----------------------------------------------------------------------------

def _python_loop_counts(tokenizer: HfTokenizer, paths, vocab, min_chars, max_sentences):
  """The oracle: TextLineDataset's lines, decoded with U+FFFD, one line at a time."""
  occurrences: Dict[str, int] = {}
  doc_freqs: Dict[str, int] = {}
  lines = read_filtered_lines(paths, min_chars, max_sentences)
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
  lines = [s.replace("\n", " ") for s in hl.SENTENCES] + ["abc", "abcde", "abcdef"]
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
  ours = load_model_dir(layouts[0][name])
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
  ours = load_model_dir(layouts[0]["vocab_cased"])
  vocab = ours.row_tokens(ours.num_ids)
  with pytest.raises(InputError, match="corpus file not found"):
    count_corpus(ours, [str(tmp_path / "missing.txt")], vocab)
  short = str(tmp_path / "short.txt")
  hl.write(str(tmp_path), "short.txt", "abc\nde\n")
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
  data = json.loads(hl.library_tokenizer_json(hl.layout_vocab()))
  data.update(changes)
  return json.dumps(data)


PTF = {"tokenizer_class": "PreTrainedTokenizerFast"}
REFUSED = {
    "no_tokenizer_files": ({"tokenizer_config.json": hl.BERT}, "no tokenizer.json nor vocab.txt"),
    "malformed_json": ({"tokenizer.json": '{"model": {"type": "WordPiece"', **{
        "tokenizer_config.json": hl.BERT}}, "tokenizer.json: not valid JSON"),
    "sentencepiece": ({"tokenizer.json": _unigram_json(), "tokenizer_config.json": PTF},
                      "tokenizer.json: a Unigram (SentencePiece) tokenizer, not BERT's WordPiece"),
    "bpe": ({"tokenizer.json": _bpe_json(), "tokenizer_config.json": PTF},
            "tokenizer.json: a BPE tokenizer"),
    "xlm_roberta_config": ({"config.json": {"model_type": "xlm-roberta"}, "vocab.txt": "x\n"},
                           "config.json: model_type 'xlm-roberta': not a BERT model"),
    "xlm_roberta_class": ({"tokenizer_config.json": {"tokenizer_class": "XLMRobertaTokenizer"},
                           "vocab.txt": "x\n"},
                          "tokenizer_config.json: tokenizer_class 'XLMRobertaTokenizer'"),
    "missing_cls": ({"vocab.txt": "[PAD]\n[UNK]\n[SEP]\nthe\n", "tokenizer_config.json": hl.BERT},
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
    "single_word": ({"vocab.txt": hl.vocab_text(hl.SPECIALS + ["the"]), "tokenizer_config.json": {
        **hl.BERT, "added_tokens_decoder": {"5": {"content": "the", "single_word": True,
                                               "special": False}}}}, "single_word"),
    "no_class": ({"vocab.txt": hl.vocab_text(hl.SPECIALS)}, "says which tokenizer this is"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_tokenizers(name, tmp_path):
  files, message = REFUSED[name]
  path = str(tmp_path / name)
  os.makedirs(path)
  for file_name, value in files.items():
    hl.write(path, file_name, value)
  with pytest.raises(InputError, match=re.escape(message)) as error:
    load_model_dir(path)
  assert "\n" not in str(error.value) and path in str(error.value)


def test_refused_json_and_missing_directory(tmp_path):
  with pytest.raises(InputError, match="no such directory"):
    load_model_dir(str(tmp_path / "missing"))
  with pytest.raises(InputError, match="saved.json: not valid JSON"):
    HfTokenizer.from_json("{", "saved.json")
  with pytest.raises(InputError, match="saved.json: not a tokenizer written by smaller_labse"):
    HfTokenizer.from_json("{}", "saved.json")


# --- The real LaBSE vocab (../shared) -----------------------------------------------------

@pytest.fixture(scope="module")
def labse(tmp_path_factory):
  return hl.labse_source(str(tmp_path_factory.mktemp("labse_hf")))


@hl.needs_shared
def test_real_labse_vocab_txt_collides_as_transformers_reads_it(labse):
  with open(hl.LABSE_VOCAB, encoding="utf-8") as f:
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


def test_a_library_written_tokenizer_json_is_not_taken_for_tf_hubs_twin(layouts):
  # The tokenizers library writes "decoder": null when none is set; such a source is read
  # through the library, not as this project's TF Hub twin.
  dirs, _ = layouts
  assert json.load(open(os.path.join(dirs["library_json"], "tokenizer.json")))["decoder"] is None
  assert tf_hub_wordpiece.read_tfhub_twin(dirs["library_json"]) is None


def test_fidelity_report_lines_are_utf8_bytes(layouts):
  # Stage 2's --eval_files lines are bytes; an invalid byte reaches the library as U+FFFD.
  dirs, _ = layouts
  ours = load_model_dir(dirs["vocab_cased"])
  texts = hl.SENTENCES + ["caf\ufffd a"]
  lines = [s.encode("utf-8") for s in hl.SENTENCES] + [b"caf\xff a"]
  assert ours.encode(lines) == ours.encode(texts)
  used = sorted({t for tokens in ours.tokenize(texts) for t in tokens} - set(hl.SPECIALS))
  smaller = ours.with_vocab(hl.SPECIALS + used[::2])
  kept = fidelity.compare_tokenizations(ours, smaller, lines)
  assert kept == fidelity.compare_tokenizations(ours, smaller, texts)
  assert kept.lines == len(lines) and 0 < kept.identical < len(lines)


def test_stage2_counts_a_hugging_face_source_in_its_own_batch_size(layouts, corpus, monkeypatch):
  """Stage 2's default batch size is the tokenizer's own (16,384 lines for the tokenizers
  library, the size benchmarked), not TF counting's 2,048; --batch_size still wins."""
  from smaller_labse.stages import vocab_selection
  from smaller_labse.vocabulary import hf_counting
  ours = load_model_dir(layouts[0]["vocab_cased"])
  vocab = ours.row_tokens(ours.num_ids)
  seen, real = [], hf_counting.count_corpus

  def spy(*args, batch_size=hf_counting.DEFAULT_BATCH_LINES, **kwargs):
    seen.append(batch_size)
    return real(*args, batch_size=batch_size, **kwargs)

  monkeypatch.setattr(hf_counting, "count_corpus", spy)
  default = vocab_selection.count_all(vocab_selection.Settings(), ["en"], {"en": corpus}, vocab,
                                      ours)
  given = vocab_selection.count_all(vocab_selection.Settings(batch_size=37), ["en"],
                                    {"en": corpus}, vocab, ours)
  assert seen == [hf_counting.DEFAULT_BATCH_LINES, 37] and hf_counting.DEFAULT_BATCH_LINES == 16384
  assert default["en"].occurrences == given["en"].occurrences and default["en"].num_lines > 0
