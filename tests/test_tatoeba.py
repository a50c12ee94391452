"""Stage 4 library: exact-to-the-original fast embeddings, blockwise scoring, tables, bad input."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import MODELGARDEN_STRESS, MODELGARDEN_TINY, SHARED, tiny_vocab
from helpers_tatoeba import same_retrieval, shared_models, smaller_vocab, write_tatoeba
from smaller_labse import tatoeba
from smaller_labse.formats import tf_hub
from smaller_labse.model import verification
from smaller_labse.errors import InputError


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("tatoeba"))
  paths = shared_models(tmp_path_factory)
  data_dir = write_tatoeba(os.path.join(root, "data"))
  models = {name: tatoeba.load_model(*p, name=name) for name, p in paths.items()}
  pairs = [tatoeba.load_pair(data_dir, lang) for lang in ("fra", "rus")]
  return {"paths": paths, "models": models, "pairs": pairs, "data_dir": data_dir}


# ----------------------------------------------------------------------------- exactness

def test_fast_equals_original_method(setup):
  """Same accuracies to the last pair, for both models, on every CPU: no query of this data
  is a near-tie, so the equality is proven by same_retrieval, not by this CPU's last bits."""
  for model in setup["models"].values():
    assert model.rebuilt is not None
    assert same_retrieval(model, setup["pairs"]) == 0
    assert (tatoeba.evaluate([model], setup["pairs"], max_batch_tokens=256)
            == tatoeba.evaluate([model], setup["pairs"], method="original"))
  # The data exercises truncation, and retrieval is decided by its structure, not by chance.
  assert any(len(s.split()) > 128 for s in setup["pairs"][0].eng)
  results, _ = tatoeba.evaluate([setup["models"]["original"]], setup["pairs"])
  assert all(r.correct >= r.n // 2 for r in results), results  # chance: 1 in 40


def test_exact_ties_go_to_the_first_candidate(setup):
  """A repeated sentence is encoded once, so its copies tie exactly; the first one wins
  (tf.argmax's rule) on every CPU. Here query 5 ties between candidates 2 and 5."""
  model = setup["models"]["original"]
  pair = setup["pairs"][0]
  eng, xx = list(pair.eng[:8]), list(pair.xx[:8])
  eng[5], xx[5] = eng[2], xx[2]
  e, x = tatoeba.embed(model, eng), tatoeba.embed(model, xx)
  np.testing.assert_array_equal(x[5], x[2])
  (_, rows), (_, cols) = tatoeba.nearest_neighbours(e, x, 1, block_size=3)
  assert rows[5, 0] == rows[2, 0] == 2 and cols[5, 0] == cols[2, 0] == 2
  e2x, x2e = tatoeba.retrieval_correct(e, x)
  assert e2x == int(np.sum(rows[:, 0] == np.arange(8))) and x2e == int(
      np.sum(cols[:, 0] == np.arange(8)))
  assert rows[5, 0] != 5  # the copy at line 5 counts as wrong, deterministically


def test_savedmodel_engine_equals_rebuilt(setup):
  paths = setup["paths"]["original"]
  slow = tatoeba.load_model(*paths, engine="savedmodel")
  assert slow.rebuilt is None
  sentences = setup["pairs"][0].eng
  np.testing.assert_allclose(tatoeba.embed(slow, sentences),
                             tatoeba.embed(setup["models"]["original"], sentences),
                             atol=1e-5, rtol=0)


def test_repeated_sentences_get_identical_embeddings(setup):
  sentences = list(setup["pairs"][0].eng)
  sentences[len(sentences) // 2] = sentences[1]
  embeddings = tatoeba.embed(setup["models"]["original"], sentences, max_batch_tokens=64)
  np.testing.assert_array_equal(embeddings[1], embeddings[len(sentences) // 2])


def test_no_sentence_gives_an_empty_float32_array(setup):
  for model in setup["models"].values():
    stats = tatoeba.EmbedStats()
    empty = tatoeba.embed(model, [], stats=stats)
    assert empty.shape == (0, tatoeba.embed(model, ["the weather"]).shape[1]) == (0, 32)
    assert empty.dtype == np.float32
    assert (stats.sentences, stats.batches) == (0, 0)
    assert model.embed_original([]).shape == (0, 32)


class Lookup(tatoeba.SentenceEncoder):
  """A model kind defined here: each sentence embeds as a given unit vector."""

  def __init__(self, name, vectors):
    self.name, self.vectors, self.calls = name, vectors, []

  def embed_distinct(self, sentences, max_seq_length, max_batch_tokens, stats):
    self.calls.append(list(sentences))
    return np.array([self.vectors[s] for s in sentences], np.float32).reshape(-1, 3)

  def embed_original(self, sentences):
    raise InputError(f"{self.name}: no original method")


def test_any_sentence_encoder_is_evaluated():
  """evaluate() asks each model kind only for `embed`: a kind it has never seen works."""
  basis = np.eye(3, dtype=np.float32)
  pair = tatoeba.Pair("fra", ["a", "b", "c"], ["x", "a", "z"])
  vectors = {"a": basis[0], "b": basis[1], "c": basis[2], "x": basis[0], "z": basis[2]}
  model = Lookup("lookup", vectors)
  results, identical = tatoeba.evaluate([model], [pair])
  assert model.calls == [["a", "b", "c", "x", "z"]]  # each distinct sentence once, sorted
  # en→xx: 'a' finds 'x' (tie with 'a', first wins), 'b' finds 'x' (all 0), 'c' finds 'z'.
  assert [(r.direction, r.correct) for r in results] == [("en→xx", 2), ("xx→en", 2)]
  assert identical == {}
  with pytest.raises(InputError, match="lookup: no original method"):
    tatoeba.evaluate([model], [pair], method="original")


def test_max_seq_length_truncates(setup):
  model = setup["models"]["original"]
  long = setup["pairs"][0].eng[16]
  full = tatoeba.embed(model, [long, long + " the the"], max_seq_length=128)
  np.testing.assert_array_equal(full[0], full[1])  # both cut at 126 word pieces
  short = tatoeba.embed(model, [long], max_seq_length=8)
  assert np.max(np.abs(short[0] - full[0])) > 1e-3
  inputs = model.preprocess(tf.constant([" ".join(long.split()[:6])]))
  np.testing.assert_allclose(short[0], tatoeba.normalize(model.pooled(
      {k: v[:, :8] for k, v in inputs.items()}))[0], atol=1e-5, rtol=0)


@pytest.mark.skipif(not os.path.isdir(MODELGARDEN_TINY), reason="../shared not present")
def test_modelgarden_fixture_fast_equals_original():
  """TF Model Garden's own export of LaBSE/2's format, on real Tatoeba sentences. Its weights
  are random, so near-ties can occur: those may go either way, every other query must not."""
  model = tatoeba.load_model(os.path.join(MODELGARDEN_TINY, "encoder"),
                             os.path.join(MODELGARDEN_TINY, "preprocess"))
  assert model.rebuilt is not None
  data_dir = os.path.join(SHARED, "data", "tatoeba_dev")
  pairs = [tatoeba.load_pair(data_dir, lang) for lang in ("fra", "cmn")]
  pairs = [tatoeba.Pair(p.lang, p.eng[:192], p.xx[:192]) for p in pairs]
  near_ties = same_retrieval(model, pairs)
  fast = tatoeba.evaluate([model], pairs)[0]
  original = tatoeba.evaluate([model], pairs, method="original")[0]
  assert sum(abs(f.correct - o.correct) for f, o in zip(fast, original)) <= near_ties


@pytest.mark.skipif(not os.path.isdir(MODELGARDEN_STRESS), reason="../shared not present")
def test_fast_path_serves_every_export_stage_1_accepts():
  """modelgarden_stress: whole-network float32 differences of 1e-4, each block within its
  float32 budget: the layer-by-layer proof lets PooledOutputEncoder serve it, and what it
  serves is as close to a float64 evaluation as float32 rounding explains."""
  encoder_dir = os.path.join(MODELGARDEN_STRESS, "encoder")
  model = tatoeba.load_model(encoder_dir, os.path.join(MODELGARDEN_STRESS, "preprocess"))
  assert model.rebuilt is not None
  inputs = verification.pack_to_longest(model.preprocess, verification.VERIFICATION_SENTENCES)
  config, variables = tf_hub.encoder_variables(model.encoder, encoder_dir)
  record = verification.end_to_end(
      model.encoder(dict(inputs), training=False)["pooled_output"].numpy(),
      model.pooled(inputs).numpy(), inputs, config, variables)
  assert record.candidate_error <= verification.BUDGET_FACTOR * record.rounding, record.line()
  assert record.difference > 0  # the rebuilt graph served, not the SavedModel


def test_fast_path_refuses_an_encoder_that_differs(setup, tmp_path):
  """An encoder computing another function (exact-erf GELU) does not get the fast path
  (engine='auto' calls it as a SavedModel; 'rebuilt' refuses it)."""
  from proof_variants import Variant, export_variant
  encoder_dir = export_variant(tmp_path / "encoder", Variant(exact_gelu=True))
  preprocess_dir = setup["paths"]["original"][1]  # same tiny vocab
  with pytest.raises(InputError, match="not a LaBSE/BERT encoder the rebuilt graph reproduces"):
    tatoeba.load_model(encoder_dir, preprocess_dir, engine="rebuilt")


# ----------------------------------------------------------------------------- batching

def test_plan_batches_sorted_within_budget():
  lengths = np.array([5, 3, 130, 3, 7, 5, 2, 9, 3])
  batches = tatoeba.plan_batches(lengths, 12)
  flat = np.concatenate(batches)
  assert sorted(flat.tolist()) == list(range(len(lengths)))
  assert np.all(np.diff(lengths[flat]) >= 0)
  for batch in batches:
    assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 12
  assert [len(b) for b in batches] == [4, 2, 1, 1, 1]  # 2,3,3,3 | 5,5 | 7 | 9 | 130


# ----------------------------------------------------------------------------- scoring

def _ints(rng, n, d=8):
  """Integer-valued vectors: every dot product is exact in float32 whatever the kernel or
  summation order, so ties are exact ties and the expected answers hold on every CPU."""
  return rng.integers(-3, 4, size=[n, d]).astype(np.float32)


def test_blockwise_argmax_equals_tf_argmax_with_ties():
  rng = np.random.default_rng(0)
  eng, xx = _ints(rng, 23), _ints(rng, 23)
  xx[3] = xx[7] = 3 * eng[0]  # query 0: exact tie between candidates 3 and 7, 3 wins
  eng[5] = eng[12] = 3 * xx[1]  # and the other way round: 5 wins
  sims = tf.tensordot(eng, xx, axes=[[1], [1]])
  for block in (4, 5, 23, 4096):
    (_, rows), (_, cols) = tatoeba.nearest_neighbours(eng, xx, 1, block_size=block)
    np.testing.assert_array_equal(rows[:, 0], tf.argmax(sims, axis=-1).numpy())
    np.testing.assert_array_equal(cols[:, 0], tf.argmax(tf.transpose(sims), axis=-1).numpy())
  assert 7 not in rows[:, 0] and 12 not in cols[:, 0]
  assert rows[0, 0] == 3 and cols[1, 0] == 5  # the ties are really decided here


def test_blockwise_top_k():
  rng = np.random.default_rng(1)
  a, b = _ints(rng, 17), _ints(rng, 11)
  sims = a @ b.T
  (row_sims, row_ids), (col_sims, col_ids) = tatoeba.nearest_neighbours(a, b, 4, block_size=3)
  np.testing.assert_array_equal(row_ids, np.argsort(-sims, axis=1, kind="stable")[:, :4])
  np.testing.assert_array_equal(col_ids, np.argsort(-sims.T, axis=1, kind="stable")[:, :4])
  np.testing.assert_array_equal(row_sims, np.sort(sims, axis=1)[:, ::-1][:, :4])
  np.testing.assert_array_equal(col_sims, np.sort(sims.T, axis=1)[:, ::-1][:, :4])


def _xsim_margin(x, y, k=4):
  """LASER's xsim (ratio margin) written out directly: x -> y nearest neighbours."""
  sims = x @ y.T
  x2y_ind = np.argsort(-sims, axis=1, kind="stable")[:, :k]
  x2y_mean = np.sort(sims, axis=1)[:, ::-1][:, :k].mean(axis=1)
  y2x_mean = np.sort(sims.T, axis=1)[:, ::-1][:, :k].mean(axis=1)
  best = []
  for i in range(len(x)):
    scores = [sims[i, j] / ((x2y_mean[i] + y2x_mean[j]) / 2) for j in x2y_ind[i]]
    best.append(x2y_ind[i][int(np.argmax(scores))])
  return np.array(best)


def test_margin_scoring_matches_xsim():
  rng = np.random.default_rng(2)
  eng = _ints(rng, 30, 4)
  xx = 2 * eng + _ints(rng, 30, 4)  # related, with noise; exact dot products (see _ints)
  correct = tatoeba.retrieval_correct(eng, xx, "margin", block_size=7)
  answer = np.arange(30)
  assert correct == (int(np.sum(_xsim_margin(eng, xx) == answer)),
                     int(np.sum(_xsim_margin(xx, eng) == answer)))
  cosine = tatoeba.retrieval_correct(eng, xx, "cosine")
  assert cosine == (int(np.sum(np.argmax(eng @ xx.T, 1) == answer)),
                    int(np.sum(np.argmax(xx @ eng.T, 1) == answer)))


# ----------------------------------------------------------------------------- comparison

def _token_strings(model, tokens, sentence):
  ids = model.preprocess.tokenize(tf.constant([sentence])).flat_values.numpy()
  return [tokens[i] for i in ids]


def test_identical_share_counts_unchanged_tokenizations(setup):
  """A sentence tokenized alike by both vocabs gets the same embedding; others do not."""
  original, smaller = setup["models"]["original"], setup["models"]["smaller"]
  results, identical = tatoeba.evaluate([original, smaller], setup["pairs"])
  assert [r.model for r in results] == ["original"] * 4 + ["smaller"] * 4
  full, kept = tiny_vocab(), smaller_vocab(tiny_vocab())
  for pair in setup["pairs"]:
    sentences = pair.eng + pair.xx
    same = sum(_token_strings(original, full, s) == _token_strings(smaller, kept, s)
               for s in sentences)
    assert identical[pair.lang] == {"identical": same, "sentences": len(sentences),
                                    "percent": round(100 * same / len(sentences), 2)}
  assert identical["fra"]["percent"] == 100.0  # no Cyrillic: every sentence kept
  assert identical["rus"]["identical"] == len(setup["pairs"][1])  # only the English side


# ----------------------------------------------------------------------------- output

def _results():
  r = tatoeba.Result
  return [r("LaBSE", "fra", "en→xx", 959, 1000), r("LaBSE", "fra", "xx→en", 960, 1000),
          r("LaBSE", "tha", "en→xx", 454, 548), r("LaBSE", "tha", "xx→en", 458, 548),
          r("small", "fra", "en→xx", 952, 1000), r("small", "fra", "xx→en", 954, 1000),
          r("small", "tha", "en→xx", 454, 548), r("small", "tha", "xx→en", 458, 548)]


def test_results_table_is_the_readmes():
  assert tatoeba.results_table(_results()) == (
      "| Model        |    fr |    th |   avg |\n"
      "| ------------ | ----: | ----: | ----: |\n"
      "| LaBSE(en→xx) | 95.90 | 82.85 | 89.37 |\n"
      "| LaBSE(xx→en) | 96.00 | 83.58 | 89.79 |\n"
      "| small(en→xx) | 95.20 | 82.85 | 89.02 |\n"
      "| small(xx→en) | 95.40 | 83.58 | 89.49 |\n")


def test_json_shape_and_determinism(tmp_path):
  identical = {"fra": {"identical": 1900, "sentences": 2000, "percent": 95.0},
               "tha": {"identical": 1096, "sentences": 1096, "percent": 100.0}}
  path = str(tmp_path / "out.json")
  md = tatoeba.write_outputs(path, _results(), identical, "cosine", ["LaBSE", "small"])
  first = open(path, "rb").read(), open(md, "rb").read()
  tatoeba.write_outputs(path, _results(), identical, "cosine", ["LaBSE", "small"])
  assert (open(path, "rb").read(), open(md, "rb").read()) == first
  data = json.loads(first[0])
  assert set(data) == {"results", "identical_embeddings"}
  assert data["results"][0] == {"model": "LaBSE", "lang": "fra", "direction": "en→xx",
                                "accuracy": 95.9, "n": 1000}
  assert data["results"][2]["accuracy"] == 82.8467
  assert data["identical_embeddings"] == identical
  text = first[1].decode("utf-8")
  assert "| LaBSE(en→xx) | 95.90 |" in text and "| small vs LaBSE" in text
  with pytest.raises(InputError, match="ending in .json"):
    tatoeba.write_outputs(str(tmp_path / "out.txt"), _results(), {}, "cosine", ["a"])


def test_default_model_name():
  assert tatoeba.default_model_name("models/LaBSE_en-fr/1") == "LaBSE_en-fr"
  assert tatoeba.default_model_name("models/LaBSE_en-fr/1/") == "LaBSE_en-fr"
  assert tatoeba.default_model_name("downloads/labse-2") == "labse-2"


# ----------------------------------------------------------------------------- bad input

def _write(path, text):
  with open(path, "w", encoding="utf-8", newline="") as f:
    f.write(text)


def test_read_lines_like_text_line_dataset(tmp_path):
  path = str(tmp_path / "f")
  _write(path, "a\r\nb\n\nc")
  expected = [t.decode("utf-8") for t in tf.data.TextLineDataset([path]).as_numpy_iterator()]
  assert tatoeba.read_lines(path) == expected == ["a", "b", "", "c"]


@pytest.mark.parametrize("eng, xx, message", [
    (None, "a\n", "tatoeba.fra-eng.eng: file not found"),
    ("a\n", None, "tatoeba.fra-eng.fra: file not found"),
    ("", "a\n", "tatoeba.fra-eng.eng: empty file"),
    ("a\nb\n", "a\n", "has 1 lines but .* has 2"),
    ("a\n", b"\xff\n", "not UTF-8"),
])
def test_bad_pairs(tmp_path, eng, xx, message):
  for side, content in (("eng", eng), ("fra", xx)):
    if content is not None:
      path = tmp_path / f"tatoeba.fra-eng.{side}"
      path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
  with pytest.raises(InputError, match=message):
    tatoeba.load_pair(str(tmp_path), "fra")


def test_bad_models(setup, tmp_path):
  original, smaller = setup["paths"]["original"], setup["paths"]["smaller"]
  with pytest.raises(InputError, match="no such directory"):
    tatoeba.load_model(str(tmp_path / "nope"), original[1])
  with pytest.raises(InputError, match="not a text encoder"):
    tatoeba.load_model(original[1], original[1])  # the preprocessor given as the encoder
  with pytest.raises(InputError, match="no .tokenize"):
    tatoeba.load_model(original[0], original[0])
  with pytest.raises(InputError, match="give the encoder's own preprocessor"):
    tatoeba.load_model(smaller[0], original[1])


def test_probe_refuses_only_what_means_another_api():
  # A model of another API is an InputError; a failure of ours or of the machine is not.
  from smaller_labse.tatoeba import hub_model  # pylint: disable=import-outside-toplevel

  def raising(error):
    def call(*args, **kwargs):
      raise error
    return call

  def preprocess(sentences):
    return {"input_word_ids": tf.zeros([len(sentences), 4], tf.int32)}

  mismatch = tf.errors.InvalidArgumentError(None, None, "expected int32")
  with pytest.raises(InputError, match="cannot preprocess strings"):
    hub_model._probe("m", "encoder", preprocess, raising(TypeError("takes 1 argument")))
  with pytest.raises(InputError, match="not a text encoder"):
    hub_model._probe("m", "encoder", raising(mismatch), preprocess)
  with pytest.raises(RuntimeError, match="a bug"):
    hub_model._probe("m", "encoder", preprocess, raising(RuntimeError("a bug")))
  with pytest.raises(MemoryError):
    hub_model._probe("m", "encoder", raising(MemoryError()), preprocess)
  exhausted = tf.errors.ResourceExhaustedError(None, None, "OOM")
  with pytest.raises(tf.errors.ResourceExhaustedError):
    hub_model._probe("m", "encoder", raising(exhausted), preprocess)


def _preprocess_reporting(special_tokens):
  """A stand-in preprocessor whose tokenize.get_special_tokens_dict is `special_tokens`."""
  import types
  tokenize = types.SimpleNamespace()
  if special_tokens is not None:
    tokenize.get_special_tokens_dict = special_tokens
  return types.SimpleNamespace(tokenize=tokenize)


def test_vocab_size_check_lets_unexpected_errors_surface(setup):
  from smaller_labse.tatoeba import hub_model
  encoder = setup["models"]["original"].encoder
  check = lambda preprocess: hub_model._check_vocab_sizes(  # noqa: E731
      "enc", encoder, "pre", preprocess)
  check(_preprocess_reporting(None))  # not every preprocessor reports its vocab size
  check(_preprocess_reporting(lambda: {"start_of_sequence_id": 101}))
  check(_preprocess_reporting(lambda: {"vocab_size": tf.constant(len(tiny_vocab()))}))
  with pytest.raises(InputError, match="pre: its vocab has 7 tokens but enc has"):
    check(_preprocess_reporting(lambda: {"vocab_size": tf.constant(7)}))

  def fails():
    raise tf.errors.InvalidArgumentError(None, None, "table not initialized\nmore")
  with pytest.raises(InputError, match=r"^pre: its tokenize.get_special_tokens_dict\(\) fails "
                                       r"\(InvalidArgumentError: table not initialized\)$"):
    check(_preprocess_reporting(fails))

  def bug():
    raise RuntimeError("a bug")
  with pytest.raises(RuntimeError, match="a bug"):
    check(_preprocess_reporting(bug))
