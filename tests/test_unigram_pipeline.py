"""Stages 1-4 on a source in exactly multilingual-e5-small's layout (tests/helpers_unigram.py:
BertModel + XLM-R's tokenizer.json, sentencepiece.bpe.model and tokenizer_config.json, 5 rows
beyond the tokenizer as e5-small holds 35, mean pooling + Normalize, the prompts "query: " and
"passage: "), trimmed for en, fr and de counted together, and checked with the real
tokenizers, transformers, sentencepiece and sentence_transformers.

Stages 1-3 run in-process through the API (`smaller_labse.trim`: the commands' own code);
the refusals run the commands as a user does (one line, exit status 2, nothing written)."""

import json
import os
import shutil

import numpy as np
import pytest

from smaller_labse import api, tatoeba
from smaller_labse.demo import demo_data
from smaller_labse.errors import InputError
from smaller_labse.formats import sources
from smaller_labse.tokenizers.hf_unigram import HfUnigramTokenizer
from smaller_labse.tokenizers.vocab import read_token_file
from tests import helpers_unigram
from tests.conftest import run_script

spm = pytest.importorskip("sentencepiece")
pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
sentence_transformers = pytest.importorskip("sentence_transformers")

LANGS = ["en", "fr", "de"]
EXPORT = "e5_small_en-fr-de_st"


def _eval_lines():
  """Lines the counts never saw: the demo's parallel sentences (all four languages)."""
  return [s for pairs in demo_data.PARALLEL.values() for pair in pairs for s in pair]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
  return helpers_unigram.build_e5_small(str(tmp_path_factory.mktemp("e5")))


@pytest.fixture(scope="module")
def trimmed(source, tmp_path_factory):
  """A work directory after stages 1-3 (default settings: doc_frequency, --keep_chars=used,
  the default formats), with the fidelity report on the parallel sentences."""
  work = str(tmp_path_factory.mktemp("work"))
  corpus = {}
  for lang in LANGS + ["ru"]:
    path = os.path.join(work, f"{lang}.txt")
    with open(path, "w", encoding="utf-8") as f:
      f.write("\n".join(demo_data.CORPORA[lang]) + "\n")
    corpus[lang] = path
  evals = os.path.join(work, "eval.txt")
  with open(evals, "w", encoding="utf-8") as f:
    f.write("\n".join(_eval_lines()) + "\n")
  result = api.trim(source, LANGS, work, corpus={l: corpus[l] for l in LANGS},
                    eval_files={"parallel": evals})
  return work, result


def _export(work):
  return os.path.join(work, "models", EXPORT)


def test_formats_default_to_the_st_directory(trimmed):
  work, result = trimmed
  assert result.model.encoder == "" and result.model.preprocess == ""
  assert result.model.st == _export(work)
  assert sorted(os.listdir(os.path.join(work, "models"))) == [EXPORT, "labse",
                                                              "vocab-en-fr-de.txt"]
  assert result.model.verification["pooled_output"] == 0.0  # bit-identical, our encoder


def test_specials_keep_their_ids_and_the_extra_rows_go(trimmed, source):
  work, _ = trimmed
  full = HfUnigramTokenizer.from_model_dir(source)
  small = HfUnigramTokenizer.from_model_dir(_export(work))
  n = small.num_ids
  assert list(small.pieces[:4]) == ["<s>", "<pad>", "</s>", "<unk>"]
  assert small.pieces[-1] == "<mask>"
  assert small.special_ids() == {"start": 0, "pad": 1, "end": 2, "unk": 3, "mask": n - 1}
  # The pieces keep their order and scores; the lowest score stays.
  rows = [full.token_to_id(p) for p in small.pieces]
  assert rows == sorted(rows)
  assert list(small.scores) == [full.scores[r] for r in rows]
  assert full.min_score_row() in rows
  config = json.load(open(os.path.join(_export(work), "config.json")))
  assert config["vocab_size"] == n == len(read_token_file(
      os.path.join(work, "models", "vocab-en-fr-de.txt")))
  source_rows = json.load(open(os.path.join(source, "config.json")))["vocab_size"]
  assert source_rows == full.num_ids + helpers_unigram.EXTRA_ROWS  # gone: n <= pieces
  with open(os.path.join(_export(work), "tokenizer.json"), encoding="utf-8") as f:
    data = json.load(f)
  assert data["model"]["vocab"] == [full.data["model"]["vocab"][r] for r in rows]


def test_prompt_pieces_are_kept(trimmed, source):
  work, _ = trimmed
  full = HfUnigramTokenizer.from_model_dir(source)
  kept = set(read_token_file(os.path.join(work, "models", "vocab-en-fr-de.txt")))
  for prompt in ("query: ", "passage: "):
    assert set(full.tokenize([prompt])[0]) <= kept, prompt


def test_no_kept_line_gains_unk_and_kept_lines_do_not_move(trimmed, source):
  work, result = trimmed
  full = HfUnigramTokenizer.from_model_dir(source)
  small = HfUnigramTokenizer.from_model_dir(_export(work))
  new_id = {full.token_to_id(p): i for i, p in enumerate(small.pieces)}
  counted = [l for lang in LANGS for l in demo_data.CORPORA[lang] if len(l) > 5]  # min_chars
  chars = full.normalized_chars(counted)
  lines = _eval_lines() + counted
  before, after = full.encode_exact(lines), small.encode_exact(lines)
  auto = transformers.AutoTokenizer.from_pretrained(_export(work))
  assert [auto(l, add_special_tokens=False)["input_ids"] for l in lines] == after
  kept = 0
  for line, a, b in zip(lines, before, after):
    if full.normalized_chars([line]) <= chars:  # made of characters the languages use
      assert b.count(3) <= a.count(3), line
    if all(i in new_id for i in a):
      kept += 1
      assert b == [new_id[i] for i in a], line
  assert 0 < kept < len(lines)
  report = result.selection.report
  assert report["total"]["kept_lines_moved"] == 0 and report["total"]["kept_lines"] > 0
  assert report["guarantee"]["keep_chars"] == "used"
  with open(os.path.join(work, "selected_tokens", "report.md"), encoding="utf-8") as f:
    assert "none is segmented differently" in f.read()


def test_pruned_sentencepiece_model_loads_and_agrees(trimmed, source):
  from smaller_labse.tokenizers import sentencepiece_model
  work, _ = trimmed
  path = os.path.join(_export(work), "sentencepiece.bpe.model")
  small = HfUnigramTokenizer.from_model_dir(_export(work))
  data = open(path, "rb").read()
  proto = sentencepiece_model.parse(data)
  assert sentencepiece_model.drop_field(data, sentencepiece_model.SELF_TEST_DATA) == data
  assert [p.piece for p in proto.pieces[3:]] == list(small.pieces[4:-1])
  old = spm.SentencePieceProcessor(model_file=os.path.join(source, "sentencepiece.bpe.model"))
  new = spm.SentencePieceProcessor(model_file=path)
  lines = [l for lang in LANGS for l in demo_data.CORPORA[lang]]
  same = [l for l in lines if small.tokenize([l])[0] == HfUnigramTokenizer.from_model_dir(
      source).tokenize([l])[0]]
  assert same
  assert [new.encode(l, out_type=str) for l in same] == [old.encode(l, out_type=str)
                                                         for l in same]


def _kept_sentences(work, source):
  full = HfUnigramTokenizer.from_model_dir(source)
  small = HfUnigramTokenizer.from_model_dir(_export(work))
  lines = [l for l in _eval_lines() if l]
  kept = [l for l, a, b in zip(lines, full.tokenize(lines), small.tokenize(lines)) if a == b]
  assert len(kept) > 10
  return kept


def test_kept_sentences_get_the_sources_embedding(trimmed, source):
  """Bit-identical through our encoder (same tokens, same batch), prompts included, and within
  1e-6 through the real SentenceTransformer, with each prompt."""
  work, _ = trimmed
  kept = _kept_sentences(work, source)
  prompted = kept + ["query: " + s for s in kept] + ["passage: " + s for s in kept]
  original, smaller = sources.open_source(source), sources.open_source(_export(work))
  assert smaller.config.vocab_size < original.config.vocab_size
  assert np.array_equal(helpers_unigram.full_rows_pooled(original, prompted),
                        helpers_unigram.full_rows_pooled(smaller, prompted))
  theirs = sentence_transformers.SentenceTransformer(source, device="cpu")
  ours = sentence_transformers.SentenceTransformer(_export(work), device="cpu")
  assert ours.prompts == theirs.prompts and ours.max_seq_length == theirs.max_seq_length
  for prompt_name in (None, "query", "passage"):
    a, b = (m.encode(kept, batch_size=len(kept), prompt_name=prompt_name) for m in (theirs, ours))
    assert np.max(np.abs(a - b)) <= 1e-6, prompt_name


def test_stage4_uses_the_models_query_prompt(trimmed, source, tmp_path):
  work, _ = trimmed
  data = tmp_path / "tatoeba"
  data.mkdir()
  for lang in ("fra", "deu"):
    pairs = demo_data.PARALLEL[lang]
    (data / f"tatoeba.{lang}-eng.{lang}").write_text("".join(a + "\n" for a, _ in pairs))
    (data / f"tatoeba.{lang}-eng.eng").write_text("".join(b + "\n" for _, b in pairs))
  models = [tatoeba.load_pytorch_model(source, "e5_small"),
            tatoeba.load_pytorch_model(_export(work), "smaller")]
  assert [m.prompt() for m in models] == ["query: ", "query: "]  # no default: e5's "query"
  pairs = [tatoeba.load_pair(str(data), lang) for lang in ("fra", "deu")]
  results, identical = tatoeba.evaluate(models, pairs, "cosine", 128, 4096)
  assert {r.model for r in results} == {"e5_small", "smaller"}
  assert identical  # original beside smaller: the share of identical embeddings
  sentence = pairs[0].xx[0]
  st = sentence_transformers.SentenceTransformer(_export(work), device="cpu")
  assert np.allclose(models[1].embed([sentence]), st.encode(["query: " + sentence]), atol=1e-6)
  none = tatoeba.load_pytorch_model(_export(work), "smaller", prompt_name="")
  assert none.prompt() == ""
  with pytest.raises(InputError, match=r"--prompt_name=title: not one of the model's prompts"):
    tatoeba.load_pytorch_model(_export(work), prompt_name="title").prompt()


# --- Refused: one line, exit status 2, nothing written ------------------------------------------

def _one_line_error(result, match):
  assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and match in errors[0], result.stderr[-2000:]


def test_formats_tfhub_is_refused(trimmed, tmp_path):
  work, _ = trimmed
  out = str(tmp_path / "models")
  result = run_script("make_smaller_labse.py", "--langs=en,fr,de", "--formats=tfhub",
                      f"--model_dir={os.path.join(work, 'models', 'labse')}",
                      f"--selected_tokens_dir={os.path.join(work, 'selected_tokens')}",
                      f"--output_dir={out}", cwd=str(tmp_path))
  _one_line_error(result, "--formats=tfhub: ")
  assert "has no TF Hub preprocessor" in result.stderr
  assert not os.path.exists(out)
  with pytest.raises(InputError, match="--formats=st, its default"):
    api.make(os.path.join(work, "models", "labse"), LANGS, out,
             os.path.join(work, "selected_tokens"), formats=["tfhub", "st"])
  assert not os.path.exists(out)


def _variant(source, tmp_path, name, tokenizer=None, config=None):
  target = str(tmp_path / name)
  shutil.copytree(source, target)
  for file, edit in (("tokenizer.json", tokenizer), ("config.json", config)):
    if edit:
      path = os.path.join(target, file)
      with open(path, encoding="utf-8") as f:
        data = json.load(f)
      edit(data)
      with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
  return target


def _byte_level_bpe(data):
  data["model"] = {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}
  data["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False}


def _llama_bpe(data):
  data["model"] = {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [], "byte_fallback": True}
  data["pre_tokenizer"] = None


BAD = {
    "byte_level_bpe": (_byte_level_bpe, None, "a byte-level BPE tokenizer"),
    "llama_bpe": (_llama_bpe, None, "a BPE tokenizer with byte fallback"),
    "byte_fallback": (lambda d: d["model"].update(byte_fallback=True), None,
                      "a Unigram tokenizer with byte_fallback"),
    "pad_not_held": (None, lambda c: c.update(pad_token_id=100_000),
                     "pad_token_id 100000 is not a token of the tokenizer"),
    "table_too_small": (None, lambda c: c.update(vocab_size=100), "does not fit an embedding "
                        "table of 100 rows"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_sources_are_refused_in_one_line(source, tmp_path, name):
  tokenizer, config, message = BAD[name]
  path = _variant(source, tmp_path, name, tokenizer, config)
  with pytest.raises(InputError, match=message) as error:
    sources.open_source(path)
  assert "\n" not in str(error.value)


def test_the_command_refuses_a_byte_level_bpe(source, tmp_path):
  path = _variant(source, tmp_path, "bpe", _byte_level_bpe)
  store = str(tmp_path / "store")
  result = run_script("save_as_weight_from_saved_model.py", f"--source={path}",
                      f"--output_dir={store}", "--st_output_dir=", cwd=str(tmp_path))
  _one_line_error(result, "tokenizer.json: a byte-level BPE tokenizer")
  assert not os.path.exists(store)
