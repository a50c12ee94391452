"""XLM-R SentencePiece Unigram tokenizers (smaller_labse.tokenizers.hf_unigram and its modules,
sentencepiece_model) against the real libraries: tokenizers, transformers.AutoTokenizer and
sentencepiece, on small tokenizers built here in exactly XLM-R's format (a sentencepiece
Unigram model trained with nmt_nfkc, converted and saved by transformers)."""

import glob
import json
import os
import random
import shutil

import pytest

from smaller_labse.demo import demo_data
from smaller_labse.errors import InputError
from smaller_labse.tokenizers import (hf_unigram, hf_unigram_pruning, hf_unigram_reading,
                                      hf_unigram_words)
from smaller_labse.tokenizers.hf_unigram import HfUnigramTokenizer, Role
from tests import helpers_unigram
from tests.helpers_vocab import SHARED_TATOEBA  # ../shared, when present

spm = pytest.importorskip("sentencepiece")  # requirements.txt; skipped only where not installed
tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

TATOEBA = sorted(glob.glob(os.path.join(SHARED_TATOEBA, "tatoeba.*")))

TRICKY = ["hello  world ", " leading space", "trailing   ", "", "   ", "tab\there",
          "ideographic\u3000space", "no\xa0break", "Ｆｕｌｌ ｗｉｄｔｈ", "e\u0301 \u0301x",
          "\u0600 x", "a <mask> b", "x<s>y </s>", "<unk>", "\u2581a \u2581\u2581b",
          "emoji 👍🏽 ok", "ﬁne ligature", "mixed Где ist 駅?", "Où est la gare\u202f?"]


# The builders live in tests/helpers_unigram.py (shared with the pipeline and sources tests);
# their old names stay for the modules that import them from here.
_corpus_lines = helpers_unigram.corpus_lines


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("xlmr"))
  saved = helpers_unigram.build_xlmr(root)
  return {"transformers": saved,
          "hub": helpers_unigram.hub_style(saved, os.path.join(root, "hub")),
          "as_written": helpers_unigram.hub_style(saved, os.path.join(root, "as_written"), "TokenizersBackend")}


def _auto(directory):
  return transformers.AutoTokenizer.from_pretrained(directory)


def _sentences():
  return _corpus_lines() + TRICKY


# --- The tokenizer transformers runs ---------------------------------------------------------

@pytest.mark.parametrize("layout", ["transformers", "hub", "as_written"])
def test_same_ids_as_autotokenizer(dirs, layout):
  ours = HfUnigramTokenizer.from_model_dir(dirs[layout])
  auto = _auto(dirs[layout])
  lines = _sentences()
  expected = [auto(l, add_special_tokens=False)["input_ids"] for l in lines]
  assert ours.encode_exact(lines) == expected
  assert ours.encode_batch(lines, word_cache=True) == expected
  assert ours.encode_batch(lines) == expected  # few lines: whole, without the cache
  assert [e.ids for e in ours.library().encode_batch(lines)] == [
      auto(l)["input_ids"] for l in lines]
  ids = ours.special_ids()
  assert ids == {Role.START: auto.cls_token_id, Role.END: auto.sep_token_id,
                 Role.PAD: auto.pad_token_id, Role.UNK: auto.unk_token_id,
                 Role.MASK: auto.mask_token_id}
  assert (ids[Role.START], ids[Role.PAD], ids[Role.END], ids[Role.UNK]) == (0, 1, 2, 3)
  assert ids[Role.MASK] == ours.num_ids - 1
  assert ours.word_boundary().word_start_marker == "\u2581"
  assert list(ours.packing().single) == [Role.START, "A", Role.END]


def test_trailing_space_differs_between_pipelines(dirs):
  """Why the class matters: tokenizer.json as written (Metaspace alone) gives a trailing '▁'
  that XLMRobertaTokenizer's WhitespaceSplit does not."""
  rebuilt = HfUnigramTokenizer.from_model_dir(dirs["hub"])
  as_written = HfUnigramTokenizer.from_model_dir(dirs["as_written"])
  assert rebuilt.tokenize(["word "])[0][-1] != "\u2581"
  assert as_written.tokenize(["word "])[0][-1] == "\u2581"
  assert not as_written.word_cache_exact() and rebuilt.word_cache_exact()


def test_word_cache_equals_whole_lines(dirs):
  """The word cache against whole-line encoding: the demo corpora, the tricky lines, random
  mixtures of their words with odd spacing, and every shared Tatoeba line when present."""
  ours = HfUnigramTokenizer.from_model_dir(dirs["hub"])
  rng = random.Random(0)
  words = " ".join(_sentences()).split(" ") + ["\u0301x", "x\u0600", "\u200dx", "\u0e33"]
  mixtures = [rng.choice(["", " ", "  "]).join(rng.sample(words, rng.randint(1, 12)))
              for _ in range(3000)]
  lines = _sentences() + mixtures
  for path in TATOEBA:
    lines += open(path, encoding="utf-8").read().split("\n")
  assert len(lines) >= hf_unigram.WORD_CACHE_MIN_LINES  # the default starts the cache
  for batch in (lines, lines[::-1], lines[:7]):  # cold and warm cache
    assert ours.encode_batch(batch) == ours.encode_exact(batch)
  assert ours._words is not None
  ids, lengths = ours.encode_flat([l.encode("utf-8") for l in lines[:50]])
  assert lengths.tolist() == [len(x) for x in ours.encode_exact(lines[:50])]


def test_inseparable_words_are_encoded_whole():
  assert not hf_unigram_words.word_is_separable("\u0301x")
  assert not hf_unigram_words.word_is_separable("x\u0600")
  assert not hf_unigram_words.word_is_separable("\u200dx")
  assert hf_unigram_words.word_is_separable("x\u0301")


# --- Pruning -----------------------------------------------------------------------------------

def _split_halves(lines):
  """(the lines a selection counts: half of the en and de corpora; every other line)"""
  first = demo_data.CORPORA["en"][::2] + demo_data.CORPORA["de"][::2]
  return first, [l for l in lines if l not in set(first)]


def _selection(tok, lines):
  """Every piece the lines use, the single-character pieces of their characters, the
  required rows."""
  rows = set(tok.required_rows())
  for ids in tok.encode_batch(lines):
    rows.update(ids)
  rows.update(tok.char_rows(tok.normalized_chars(lines)))
  return sorted(rows)


@pytest.fixture(scope="module")
def pruned_dir(dirs, tmp_path_factory):
  tok = HfUnigramTokenizer.from_model_dir(dirs["hub"])
  first, second = _split_halves(_sentences())
  rows = _selection(tok, first)
  assert len(rows) < tok.num_ids - 50
  out = str(tmp_path_factory.mktemp("pruned"))
  small = tok.pruned(rows)
  written = small.save(out)
  assert sorted(os.path.basename(p) for p in written) == [
      "sentencepiece.bpe.model", "tokenizer.json", "tokenizer_config.json"]
  return tok, rows, out, second


def test_pruning_moves_no_segmentation_of_a_kept_line(pruned_dir):
  tok, rows, out, lines = pruned_dir
  new_id = {old: new for new, old in enumerate(rows)}
  old_ids = tok.encode_exact(lines)
  kept = [i for i, ids in enumerate(old_ids) if all(x in new_id for x in ids)]
  assert 0 < len(kept) < len(lines)  # Some lines lose pieces, the others must not move.
  expected = [[new_id[x] for x in old_ids[i]] for i in kept]
  kept_lines = [lines[i] for i in kept]
  small = HfUnigramTokenizer.from_model_dir(out)
  assert small.encode_exact(kept_lines) == expected
  assert small.encode_batch(kept_lines, word_cache=True) == expected
  auto = _auto(out)
  assert [auto(l, add_special_tokens=False)["input_ids"] for l in kept_lines] == expected
  assert [auto(l)["input_ids"] for l in kept_lines] == [[0] + e + [2] for e in expected]
  # sentencepiece on the pruned proto: the same pieces as on the full one.
  old_sp = spm.SentencePieceProcessor(model_proto=tok.spm_model)
  new_sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "sentencepiece.bpe.model"))
  assert [new_sp.encode(l, out_type=str) for l in kept_lines] == [
      old_sp.encode(l, out_type=str) for l in kept_lines]
  # HF id = spm id + 1 in the pruned pair too (where sentencepiece has no <unk>).
  for line, ids in zip(kept_lines, expected):
    spm_ids = new_sp.encode(line)
    if 0 not in spm_ids and old_sp.encode(line, out_type=str) == tok.tokenize([line])[0]:
      assert [i + 1 for i in spm_ids] == ids


def test_no_kept_character_line_gains_unk(pruned_dir):
  tok, rows, out, lines = pruned_dir
  small = HfUnigramTokenizer.from_model_dir(out)
  kept_chars = {small.pieces[r][-1] for r in range(small.num_ids) if len(
      small.pieces[r].lstrip("\u2581")) == 1}
  candidates = [l for l in lines if tok.normalized_chars([l]) <= kept_chars]
  assert len(candidates) > 100
  new_id = {old: new for new, old in enumerate(rows)}
  assert any(not all(x in new_id for x in ids) for ids in tok.encode_exact(candidates))
  for before, after in zip(tok.encode_exact(candidates), small.encode_exact(candidates)):
    assert after.count(small.unk_id) <= before.count(tok.unk_id)


def test_ids_remapped(pruned_dir, dirs):
  tok, rows, out, _ = pruned_dir
  data = json.load(open(os.path.join(out, "tokenizer.json"), encoding="utf-8"))
  n = len(rows)
  assert data["model"]["unk_id"] == 3 and len(data["model"]["vocab"]) == n
  assert data["model"]["vocab"] == [tok.data["model"]["vocab"][r] for r in rows]
  assert {t["content"]: t["id"] for t in data["added_tokens"]} == {
      "<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": n - 1}
  config = json.load(open(os.path.join(out, "tokenizer_config.json")))
  assert sorted(config["added_tokens_decoder"], key=int) == ["0", "1", "2", "3", str(n - 1)]
  assert config["added_tokens_decoder"][str(n - 1)]["content"] == "<mask>"
  # Every post-processor kind, and padding.
  source = dict(tok.data, padding={"pad_id": 1, "pad_token": "<pad>"},
                post_processor={"type": "Sequence", "processors": [
                    {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]},
                    tok.data["post_processor"]
                    or hf_unigram_reading.xlmr_template("<s>", 0, "</s>", 2)]})
  new_id = {old: new for new, old in enumerate(rows)}
  new_id[2], new_id[0] = 20, 10  # Made-up targets: each stored id must follow.
  remapped, _ = hf_unigram_pruning.remap_ids(source, None, new_id)
  roberta, template = remapped["post_processor"]["processors"]
  assert roberta["sep"] == ["</s>", 20] and roberta["cls"] == ["<s>", 10]
  assert template["special_tokens"]["</s>"]["ids"] == [20]
  assert template["special_tokens"]["<s>"]["ids"] == [10]
  assert remapped["padding"]["pad_id"] == new_id[1]


def test_tokenizer_json_is_byte_deterministic(pruned_dir, tmp_path):
  tok, rows, out, _ = pruned_dir
  again = tok.pruned(rows)
  again.save(str(tmp_path))
  for name in ("tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model"):
    assert open(os.path.join(out, name), "rb").read() == open(
        os.path.join(str(tmp_path), name), "rb").read()
  everything = tok.pruned(range(tok.num_ids))
  assert everything.data == tok.data
  assert everything.spm_model == spm_model_without_self_test(tok.spm_model, tok.num_ids - 2)


def spm_model_without_self_test(data, size):
  from smaller_labse.tokenizers import sentencepiece_model
  proto = sentencepiece_model.parse(data)
  proto.trainer_spec.vocab_size = size
  return sentencepiece_model.drop_field(proto.SerializeToString(deterministic=True), 4)


def test_pruned_sentencepiece_model(pruned_dir):
  from smaller_labse.tokenizers import sentencepiece_model
  tok, rows, out, _ = pruned_dir
  proto = sentencepiece_model.parse(open(os.path.join(out, "sentencepiece.bpe.model"),
                                         "rb").read())
  assert proto.trainer_spec.vocab_size == len(rows) - 2
  assert proto.trainer_spec.vocab_size == len(proto.pieces) == len(rows) - 2
  assert [p.piece for p in proto.pieces[:3]] == ["<unk>", "<s>", "</s>"]
  hf = [tok.pieces[r] for r in rows]
  assert [p.piece for p in proto.pieces[3:]] == hf[4:-1]
  assert [p.score for p in proto.pieces[3:]] == pytest.approx([tok.scores[r] for r in rows[4:-1]])


# --- The <unk> penalty: why the lowest score is kept ------------------------------------------

def _hand_made(pieces):
  """A tokenizer.json in XLM-R's layout over `pieces` ([piece, score], between the four
  specials and <mask>), no normalizer."""
  vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]] + pieces + [
      ["<mask>", 0.0]]
  added = [{"id": i, "content": p, "single_word": False, "lstrip": p == "<mask>",
            "rstrip": False, "normalized": False, "special": True}
           for i, (p, _) in enumerate(vocab) if p.startswith("<")]
  return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
          "normalizer": None, "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
                                                "prepend_scheme": "always", "split": True},
          "post_processor": hf_unigram_reading.xlmr_template("<s>", 0, "</s>", 2),
          "decoder": None, "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab,
                                     "byte_fallback": False}}


def test_lowest_score_decides_unk_penalty():
  """'q' has no piece of its own. 'xq' segments as '▁' 'xq' (-24) while <unk> costs
  min - 10 = -40 ('▁x' + <unk>: -41). Dropping the lowest piece 'z' (-30), which 'xq' does not
  use, would make <unk> cost -22 and '▁x' + <unk> (-23) win: a line whose pieces are all kept
  would move (and gain an <unk>). Pruning refuses a selection without it."""
  pieces = [["\u2581", -12.0], ["\u2581x", -1.0], ["xq", -12.0]]
  tok = HfUnigramTokenizer(_hand_made(pieces + [["z", -30.0]]))
  assert tok.min_score_row() == 7 and tok.required_rows() == [0, 1, 2, 3, 7, 8]
  assert tok.tokenize(["xq"]) == [["\u2581", "xq"]]
  without_z = HfUnigramTokenizer(_hand_made(pieces))
  assert without_z.tokenize(["xq"]) == [["\u2581x", "<unk>"]]  # what ignoring it would do
  with pytest.raises(InputError, match="lowest-scoring piece 'z'"):
    tok.pruned([0, 1, 2, 3, 4, 5, 6, 8])
  small = tok.pruned([0, 1, 2, 3, 4, 5, 6, 7, 8])
  assert small.tokenize(["xq", "x xq"]) == tok.tokenize(["xq", "x xq"])
  assert small.pruned(range(small.num_ids)).data == small.data


def test_char_rows(dirs):
  tok = HfUnigramTokenizer.from_model_dir(dirs["hub"])
  rows = tok.char_rows("aé")
  pieces = {tok.pieces[r] for r in rows}
  assert "\u2581" in pieces and "a" in pieces and "é" in pieces
  assert pieces <= {"\u2581", "a", "\u2581a", "é", "\u2581é"}
  full_width = {tok.pieces[r] for r in tok.char_rows("ａ")}  # normalized to 'a'
  assert "a" in full_width


# --- Bad input: one line each --------------------------------------------------------------

def _write(directory, data, config=None, model_type=None):
  os.makedirs(directory)
  json.dump(data, open(os.path.join(directory, "tokenizer.json"), "w"))
  if config is not None:
    json.dump(config, open(os.path.join(directory, "tokenizer_config.json"), "w"))
  if model_type is not None:
    json.dump({"model_type": model_type}, open(os.path.join(directory, "config.json"), "w"))
  return directory


def _library_json(model, pre_tokenizer=None):
  tok = tokenizers.Tokenizer(model)
  if pre_tokenizer is not None:
    tok.pre_tokenizer = pre_tokenizer
  return json.loads(tok.to_str())


def _one_line_error(directory, match):
  with pytest.raises(InputError, match=match) as e:
    HfUnigramTokenizer.from_model_dir(directory)
  assert "\n" not in str(e.value)


def test_bad_tokenizers_are_refused_in_one_line(tmp_path, dirs):
  from tokenizers import models, pre_tokenizers
  root = str(tmp_path)
  gpt2 = _library_json(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")]),
                       pre_tokenizers.ByteLevel())
  _one_line_error(_write(os.path.join(root, "gpt2"), gpt2, model_type="gpt2"),
                  r"byte-level BPE tokenizer \(gpt2\)")
  llama = _library_json(models.BPE({"<unk>": 0, "a": 1, "b": 2, "ab": 3}, [("a", "b")],
                                   unk_token="<unk>", byte_fallback=True))
  _one_line_error(_write(os.path.join(root, "llama"), llama, model_type="llama"),
                  r"BPE tokenizer with byte fallback \(llama\)")
  wordpiece = _library_json(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
  _one_line_error(_write(os.path.join(root, "bert"), wordpiece, model_type="bert"),
                  "a WordPiece tokenizer")
  fallback = _hand_made([["\u2581", -1.0]])
  fallback["model"]["byte_fallback"] = True
  _one_line_error(_write(os.path.join(root, "fallback"), fallback), "byte_fallback")
  _one_line_error(_write(os.path.join(root, "t5"), _hand_made([["\u2581", -1.0]]),
                         {"tokenizer_class": "T5Tokenizer"}), "tokenizer class 'T5Tokenizer'")
  no_pad = _hand_made([["\u2581", -1.0]])
  _one_line_error(_write(os.path.join(root, "pad"), no_pad, {"pad_token": "[PAD]"}),
                  "pad_token '\\[PAD\\]' is not a piece")
  unk5 = _hand_made([["\u2581", -1.0], ["x", -2.0]])
  unk5["model"]["unk_id"] = 5
  _one_line_error(_write(os.path.join(root, "unk5"), unk5, {"tokenizer_class": "XLMRobertaTokenizer"}),
                  "unk_id 5")
  bert_pre = _hand_made([["\u2581", -1.0]])
  bert_pre["pre_tokenizer"] = {"type": "BertPreTokenizer"}
  _one_line_error(_write(os.path.join(root, "pre"), bert_pre,
                         {"tokenizer_class": "TokenizersBackend"}), "pre-tokenizer BertPre")
  _one_line_error(os.path.join(root, "missing"), "no tokenizer.json")
  bad_spm = os.path.join(root, "bad_spm")
  shutil.copytree(dirs["hub"], bad_spm)
  with open(os.path.join(bad_spm, "sentencepiece.bpe.model"), "wb") as f:
    f.write(open(os.path.join(dirs["hub"], "sentencepiece.bpe.model"), "rb").read()[:-40] + b"x")
  tok = HfUnigramTokenizer.from_model_dir(bad_spm)
  with pytest.raises(InputError, match="sentencepiece") as e:
    tok.pruned(tok.required_rows())
  assert "\n" not in str(e.value)


def test_bad_keep_rows(dirs):
  tok = HfUnigramTokenizer.from_model_dir(dirs["hub"])
  required = tok.required_rows()
  with pytest.raises(InputError, match="special token '<pad>'"):
    tok.pruned([r for r in required if r != 1])
  with pytest.raises(InputError, match="increasing"):
    tok.pruned(required[::-1])
  with pytest.raises(InputError, match=f"row {tok.num_ids} is not a piece"):
    tok.pruned(required + [tok.num_ids])
  with pytest.raises(InputError, match="does not fit"):
    tok.row_tokens(tok.num_ids - 1)
  assert len(tok.row_tokens(tok.num_ids + 35)) == tok.num_ids + 35


def test_char_classes(dirs):
  tok = HfUnigramTokenizer.from_model_dir(dirs["hub"])
  assert tok.char_classes(["a", " ", "\u3000", "ａ", "\u2581"]) == {
      "a": "word", " ": "dropped", "\u3000": "dropped", "ａ": "changed", "\u2581": "word"}
