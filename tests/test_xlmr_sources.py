"""Sources with XLM-R's SentencePiece tokenizer: XLMRobertaModel (RoBERTa positions, one token
type, layer_norm_eps 1e-5) and BertModel (multilingual MiniLM, e5-small), behind Sentence
Transformers heads (Pooling cls / mean / max / mean_sqrt_len_tokens, an optional Dense of any
activation, an optional Normalize). Built with the real transformers and sentence_transformers
(tests/xlmr_sources.py, random weights, tiny shapes), proven by stage 1 layer by layer
against them, and exported (st_export) with a smaller vocab that sentence_transformers loads."""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from smaller_labse.errors import InputError
from smaller_labse.formats import sources, st_export
from smaller_labse.model import verification
from smaller_labse.model.encoder import Encoder, PooledOutputEncoder
from smaller_labse.stages import conversion
from smaller_labse.tokenizers.base import Role
from tests.helpers_unigram import build_xlmr as _build_xlmr, full_rows_pooled
from tests.helpers_unigram import hub_style as _hub_style  # XLM-R's tokenizer, built small

pytest.importorskip("torch")
pytest.importorskip("transformers")
sentence_transformers = pytest.importorskip("sentence_transformers")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ST_SOURCES = ("xlmr_st", "bert_st", "xlmr_max_st", "xlmr_cls_st")
HEADS = {"xlmr_hf": "pooler", "xlmr_st": "mean pooling", "xlmr_cls_st": "[CLS] pooling",
         "bert_st": "mean_sqrt_len + Dense (gelu)", "xlmr_max_st": "max + Dense (identity)"}
KEPT = ["the weather is nice today", "where is the station", "das Wetter ist schön",
        "il fait beau", "the station today", "où est la gare"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("xlmr_sources"))
  os.makedirs(os.path.join(root, "tok"))
  tokenizer = _hub_style(_build_xlmr(os.path.join(root, "tok")), os.path.join(root, "hub"))
  out = os.path.join(root, "src")
  subprocess.run([sys.executable, os.path.join(REPO, "tests", "xlmr_sources.py"), tokenizer, out],
                 check=True, cwd=REPO, capture_output=True)
  return out


def _encode(model, sentences):
  """Our TF encoder's sentence embedding (normalised where the source normalises)."""
  inputs = model.tokenizer.pack_ids(model.tokenizer.encode(sentences))
  ids = inputs["input_word_ids"]
  used, remapped = np.unique(ids, return_inverse=True)
  encoder = Encoder(model.config.with_vocab_size(len(used)), model.weights_for_rows(used))
  inputs = dict(inputs, input_word_ids=remapped.reshape(ids.shape).astype(np.int32))
  pooled = tf.function(lambda x: encoder(x)["pooled_output"])(
      {k: tf.constant(v) for k, v in inputs.items()}).numpy()
  if model.layout is not None and model.layout.normalize:
    pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
  return pooled


# --- Stage 1 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(HEADS))
def test_stage1_proves_against_transformers(built, name, tmp_path, capsys):
  proof = conversion.convert(os.path.join(built, name), str(tmp_path / "store"))
  out = capsys.readouterr().out
  assert proof.holds
  architecture = "BertModel" if name == "bert_st" else "XLMRobertaModel"
  assert f"each block is fed transformers' {architecture}'s own output" in out
  assert [c.name for c in proof.checks] == ["embeddings + layer_0", "layer_1", HEADS[name]]
  assert all(c.source == "transformers" for c in proof.checks)
  print(out)  # The proof lines, for the record (pytest -s).


def test_the_config_is_xlmr(built):
  model = sources.open_source(os.path.join(built, "xlmr_st"))
  config = model.config
  assert (config.model_type, config.pad_token_id, config.type_vocab_size,
          config.layer_norm_epsilon, config.max_position_embeddings, config.max_tokens) == (
              "xlm-roberta", 1, 1, 1e-5, 130, 128)
  assert (config.pooling, config.has_dense) == ("mean", False)
  assert model.tokenizer.special_ids()[Role.PAD] == 1
  bert = sources.open_source(os.path.join(built, "bert_st")).config
  assert (bert.model_type, bert.type_vocab_size, bert.pooling, bert.dense_activation,
          bert.sentence_size, bert.max_tokens) == ("bert", 2, "mean_sqrt_len_tokens", "gelu",
                                                   24, 128)
  # The 5 rows beyond the tokenizer (as mE5-small and MiniLM hold 35) are read, unreachable.
  assert bert.vocab_size == model.config.vocab_size + 5


@pytest.mark.parametrize("name,change,block", [
    ("xlmr_st", {"model_type": "bert"}, "embeddings + layer_0"),  # positions 0..n-1
    ("xlmr_st", {"pad_token_id": 0}, "embeddings + layer_0"),
    ("xlmr_st", {"pooling": "cls"}, "[CLS] pooling"),
    ("bert_st", {"pooling": "mean"}, "mean + Dense (gelu)"),
    ("bert_st", {"dense_activation": "tanh"}, "mean_sqrt_len + Dense (tanh)"),
    ("xlmr_max_st", {"pooling": "mean"}, "mean + Dense (identity)"),
])
def test_the_proof_sees_wrong_positions_and_pooling(built, name, change, block):
  """The proof fails, naming the block, where the rebuild numbered positions as BERT does or
  pooled otherwise than the source's modules."""
  model = sources.open_source(os.path.join(built, name))
  model.config = dataclasses.replace(model.config, **change)
  with pytest.raises(verification.VerificationError, match=re.escape(f"block {block} differs")):
    conversion.prove_source(model)


@pytest.mark.parametrize("name", ["xlmr_st", "bert_st"])
def test_float64_fallback_without_torch(built, name, monkeypatch, capsys):
  monkeypatch.setattr(sources, "own_outputs", lambda model, inputs: None)
  proof = conversion.prove_source(sources.open_source(os.path.join(built, name)))
  out = capsys.readouterr().out
  assert proof.holds and "PyTorch or transformers is not installed" in out
  assert "|float64 - rebuilt|" in out


@pytest.mark.parametrize("name", ST_SOURCES)
def test_encoder_equals_sentence_transformers(built, name):
  """Our encoder's embedding is SentenceTransformer.encode's, the prompt included (xlmr_st's
  default prompt 'query: ' prefixes every input)."""
  path = os.path.join(built, name)
  theirs = sentence_transformers.SentenceTransformer(path, device="cpu").encode(
      KEPT, batch_size=len(KEPT), convert_to_numpy=True)
  model = sources.open_source(path)
  prompt = "query: " if name == "xlmr_st" else ""
  ours = _encode(model, [prompt + s for s in KEPT])
  assert theirs.shape == ours.shape
  assert np.max(np.abs(theirs - ours)) < 2e-6


@pytest.mark.parametrize("name", ["xlmr_st", "bert_st", "xlmr_max_st", "xlmr_cls_st"])
def test_fast_encoder_proven_against_transformers(built, name):
  """PooledOutputEncoder (stage 4's TF engine): its last layer computes every row unless the
  head pools [CLS]; proven block by block against transformers and the ST modules."""
  model = sources.open_source(os.path.join(built, name))
  inputs = model.tokenizer.pack_ids(model.tokenizer.encode(verification.VERIFICATION_SENTENCES))
  ids = inputs["input_word_ids"]
  used, remapped = np.unique(ids, return_inverse=True)
  config = model.config.with_vocab_size(len(used))
  weights = model.weights_for_rows(used)
  fast = PooledOutputEncoder(config, Encoder(config, weights).weights)
  assert fast.cls_only == (name == "xlmr_cls_st")
  ours = dict(inputs, input_word_ids=remapped.reshape(ids.shape).astype(np.int32))
  proof = verification.prove(sources.own_outputs(model, inputs), ours,
                             verification.PooledOutputBlocks(fast, config.num_layers), config,
                             weights)
  assert proof.holds, [c.line() for c in proof.checks]


def test_xlmr_hf_pooler_output_equals_automodel(built):
  import torch  # pylint: disable=import-outside-toplevel
  import transformers  # pylint: disable=import-outside-toplevel
  path = os.path.join(built, "xlmr_hf")
  auto = transformers.AutoModel.from_pretrained(path).eval()
  batch = transformers.AutoTokenizer.from_pretrained(path)(KEPT, padding=True,
                                                          return_tensors="pt")
  with torch.no_grad():
    theirs = auto(**batch).pooler_output.numpy()
  model = sources.open_source(path)
  assert np.max(np.abs(_encode(model, KEPT) - theirs)) < 2e-6


# --- The Sentence Transformers export, with a smaller vocab ----------------------------------

@pytest.mark.parametrize("name", ST_SOURCES)
def test_smaller_export_keeps_embeddings_modules_and_prompts(built, name, tmp_path):
  source = os.path.join(built, name)
  model = sources.open_source(source)
  tokenizer = model.tokenizer
  prompted = [p + s for p in ("", "query: ", "passage: ") for s in KEPT]
  rows = sorted(set(tokenizer.required_rows()) | {
      i for ids in tokenizer.encode(prompted) for i in ids})
  tokens = [model.tokens[r] for r in rows]
  out = str(tmp_path / "export")
  figures = st_export.export(out, model, "fingerprint", "small", "test", tokens,
                             np.array(rows), ["en", "de", "fr"])
  assert figures["layers"] <= 1e-4 and figures["pooled_output"] <= 1e-4
  for name_ in ("modules.json", "config_sentence_transformers.json",
                "sentence_bert_config.json", "1_Pooling/config.json"):
    with open(os.path.join(source, name_), "rb") as a, open(os.path.join(out, name_), "rb") as b:
      assert a.read() == b.read(), name_
  config = json.load(open(os.path.join(out, "config.json")))
  assert config["vocab_size"] == len(rows)
  assert config["model_type"] == model.bert_config["model_type"]
  if model.config.model_type == "xlm-roberta":
    assert config["pad_token_id"] == 1
  small, original = (sentence_transformers.SentenceTransformer(p, device="cpu")
                     for p in (out, source))
  assert small.max_seq_length == original.max_seq_length
  assert small.prompts == original.prompts
  assert small.default_prompt_name == original.default_prompt_name
  for prompt_name in [None] + sorted(original.prompts):
    a, b = (m.encode(KEPT, batch_size=len(KEPT), prompt_name=prompt_name) for m in (small, original))
    assert np.max(np.abs(a - b)) <= 1e-6
  # Our encoder: bit-identical on the kept sentences, in the same batch.
  smaller = dataclasses.replace(model, tokenizer=tokenizer.pruned(rows), tokens=tokens,
                                weights=st_export.RowsView(model.weights, np.array(rows)),
                                config=model.config.with_vocab_size(len(rows)))
  assert np.array_equal(full_rows_pooled(smaller, KEPT), full_rows_pooled(model, KEPT))


def _variant(built, tmp_path, name, edit_config=None, edit_file=None):
  target = str(tmp_path / "variant")
  shutil.copytree(os.path.join(built, name), target)
  if edit_config:
    path = os.path.join(target, "config.json")
    values = json.load(open(path))
    edit_config(values)
    json.dump(values, open(path, "w"))
  if edit_file:
    path = os.path.join(target, edit_file[0])
    values = json.load(open(path))
    values.update(edit_file[1])
    json.dump(values, open(path, "w"))
  return target


@pytest.mark.parametrize("name,edit_config,edit_file,message", [
    ("xlmr_hf", lambda c: c.update(model_type="distilbert", architectures=["DistilBertModel"]),
     None, r"model_type 'distilbert' \(DistilBertModel\) is not supported"),
    ("xlmr_hf", lambda c: c.update(model_type="roberta", architectures=["RobertaModel"]),
     None, r"model_type 'roberta' \(RobertaModel\) is not supported"),
    ("xlmr_hf", lambda c: c.update(pad_token_id=0), None,
     r"pad_token_id 0 \('<s>'\) is not the tokenizer's padding token \(id 1\)"),
    ("xlmr_hf", lambda c: c.update(vocab_size=c["vocab_size"] - 10), None,
     r"does not fit an embedding table of \d+ rows"),
    ("xlmr_st", None, ("1_Pooling/config.json", {"pooling_mode": "lasttoken"}),
     r"pooling mode 'lasttoken' is not supported"),
    ("xlmr_st", None, ("1_Pooling/config.json", {"pooling_mode": "weightedmean"}),
     r"pooling mode 'weightedmean' is not supported"),
    ("xlmr_st", None, ("1_Pooling/config.json", {"pooling_mode": ["mean", "max"]}),
     r"pooling modes mean, max concatenated"),
    ("xlmr_st", None, ("1_Pooling/config.json", {"include_prompt": False}),
     r"include_prompt false"),
    ("bert_st", None, ("2_Dense/config.json",
                       {"activation_function": "torch.nn.modules.activation.Softplus"}),
     r"activation_function 'torch.nn.modules.activation.Softplus' is not supported"),
])
def test_bad_sources_are_refused(built, tmp_path, name, edit_config, edit_file, message):
  path = _variant(built, tmp_path, name, edit_config, edit_file)
  with pytest.raises(InputError, match=message) as error:
    sources.open_source(path)
  assert "\n" not in str(error.value)


def test_legacy_weightedmean_is_refused_by_the_command(built, tmp_path):
  """As a user meets it: one line, exit status 2, nothing written."""
  path = _variant(built, tmp_path, "xlmr_st", edit_file=("1_Pooling/config.json", {
      "pooling_mode_weightedmean_tokens": True, "pooling_mode_mean_tokens": False}))
  pooling = os.path.join(path, "1_Pooling", "config.json")
  values = json.load(open(pooling))
  del values["pooling_mode"]
  json.dump(values, open(pooling, "w"))
  store = str(tmp_path / "store")
  run = subprocess.run([sys.executable, os.path.join(REPO, "save_as_weight_from_saved_model.py"),
                        f"--source={path}", f"--output_dir={store}", "--st_output_dir="],
                       cwd=str(tmp_path), capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3"))
  assert run.returncode == 2, run.stderr
  errors = [l for l in run.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "pooling mode 'weightedmean' is not supported" in errors[0]
  assert not os.path.exists(store)
