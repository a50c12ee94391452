"""Stage 1's output, `models/labse/`: the model every later stage reads, whatever its source.

  config.json        EncoderConfig: the shapes, hidden_act, layer norm epsilon, do_lower_case
  vocab.txt          the token of each embedding row, one per line, never stripped
  source.json        what the model is and where its weights are: the source's kind, name and
                     fingerprint, its weight files, a Sentence Transformers source's layout,
                     a Hugging Face source's config.json
  tokenizer files    what the source's tokenizer saves (`base.Tokenizer.save`; source.json's
                     "tokenizer" names its kind): nothing for TF Hub's WordPiece (vocab.txt and
                     config.json's do_lower_case are it), tokenizer.json for a Hugging Face
                     source's (hf_tokenizer.py)
  model.safetensors  the weights under Hugging Face BertModel names: written for a TF Hub
                     source (and hard-linked into its Sentence Transformers export, one copy on
                     disk) or a source whose weights are pytorch_model.bin. A Hugging Face
                     source's own safetensors are read where they are, never copied: stage 3
                     refuses them if they changed since stage 1.
  dense.safetensors  a Sentence Transformers source's Dense module (its sentence head)

Weights are read lazily (safetensors_io): stage 3 gathers the kept embedding rows without
loading the table.
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional

from smaller_labse import atomic, files
from smaller_labse.formats import hf_bert, sources
from smaller_labse.formats import sentence_transformers as st_layout
from smaller_labse.tokenizers import base
from smaller_labse.tokenizers import vocab as vocab_lib
from smaller_labse.model.config import EncoderConfig
from smaller_labse.errors import InputError
from smaller_labse.formats.safetensors_io import write_safetensors

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
SOURCE_FILE = "source.json"
TOKENIZER_FILE = "tokenizer.json"
MODEL_FILE = hf_bert.MODEL_FILE
DENSE_FILE = "dense.safetensors"
_STAGE1 = "run save_as_weight_from_saved_model.py"


def source_json(model: sources.Model, fingerprint: Dict[str, object],
                weight_files: Optional[List[str]]) -> str:
  """The text of source.json. `weight_files`: the source's own files read in place (None: the
  store's model.safetensors)."""
  value = {"kind": model.kind, "name": model.name, "path": os.path.abspath(model.path),
           "fingerprint": fingerprint,
           "weights": None if weight_files is None else [
               sources.file_stamp(p) for p in weight_files],
           "tokenizer": model.tokenizer.kind,
           "layout": dataclasses.asdict(model.layout) if model.layout else None,
           "bert_config": model.bert_config}
  return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1) + "\n"


def reads_weights_in_place(model: sources.Model) -> bool:
  """Whether the store can read the source's weights where they are (safetensors)."""
  return model.kind != sources.TFHUB and all(p.endswith(".safetensors")
                                             for p in model.weight_files)


def write_store(store_dir: str, model: sources.Model, source_text: str,
                st_fingerprint: str) -> Optional[str]:
  """Writes the store of `model` into the new directory `store_dir`.

  Returns:
    The store's model.safetensors when it wrote one (its metadata carries `st_fingerprint`,
    so it can serve as the Sentence Transformers export's file), else None.
  """
  os.makedirs(store_dir, exist_ok=True)
  model.config.save(os.path.join(store_dir, CONFIG_FILE))
  vocab_lib.write_token_file(os.path.join(store_dir, VOCAB_FILE), model.tokens)
  model.tokenizer.save(store_dir)
  dense = model.dense
  if dense is not None:
    tensors = [("linear.weight", dense.weight.shape, iter([dense.weight]))]
    if dense.bias is not None:
      tensors.append(("linear.bias", dense.bias.shape, iter([dense.bias])))
    write_safetensors(os.path.join(store_dir, DENSE_FILE), tensors)
  written = None
  if not reads_weights_in_place(model):
    written = os.path.join(store_dir, MODEL_FILE)
    write_safetensors(written, hf_bert.bert_tensors(model.config, model.weights,
                                                      model.bert_pooler),
                      st_layout.safetensors_metadata(st_fingerprint))
  atomic.write_text(os.path.join(store_dir, SOURCE_FILE), source_text)
  return written


def holds(store_dir: str, source_text: str) -> bool:
  """Whether `store_dir` already holds the store of this source (a rerun)."""
  path = os.path.join(store_dir, SOURCE_FILE)
  return os.path.isfile(path) and files.read_bytes(path) == source_text.encode("utf-8")


def read_config_and_vocab(store_dir: str):
  """The store's EncoderConfig and the token of each row (checked to agree; its tokenizer
  checks its own special tokens)."""
  if not os.path.isdir(store_dir):
    raise InputError(f"{store_dir}: no such directory ({_STAGE1})")
  if os.path.isdir(os.path.join(store_dir, "weights")) and not os.path.isfile(
      os.path.join(store_dir, SOURCE_FILE)):
    raise InputError(f"{store_dir}: written by an earlier smaller-LaBSE (weights/*.npy): "
                     f"{_STAGE1} again")
  config = EncoderConfig.load(os.path.join(store_dir, CONFIG_FILE))
  vocab_path = os.path.join(store_dir, VOCAB_FILE)
  tokens = vocab_lib.read_token_file(vocab_path)
  if len(tokens) != config.vocab_size:
    raise InputError(f"{vocab_path}: {len(tokens)} tokens, but {CONFIG_FILE} says "
                     f"vocab_size={config.vocab_size}")
  return config, tokens


def _read_source(store_dir: str) -> Dict[str, object]:
  path = os.path.join(store_dir, SOURCE_FILE)
  value = files.read_json(path, "source.json")
  if not isinstance(value, dict) or "kind" not in value:
    raise InputError(f"{path}: written by an earlier smaller-LaBSE: {_STAGE1} again")
  return value


def _weight_files(store_dir: str, source: Dict[str, object]) -> List[str]:
  """The weight files, each checked to be the one stage 1 proved."""
  if source.get("weights") is None:
    return [os.path.join(store_dir, MODEL_FILE)]
  paths = []
  for stamp in source["weights"]:
    path = stamp["path"]
    if not os.path.isfile(path):
      raise InputError(f"{path}: the source's weights are gone (moved or deleted since stage 1): "
                       f"{_STAGE1} again")
    if sources.file_stamp(path) != stamp:
      raise InputError(f"{path}: changed since stage 1 proved it (size, modification time or "
                       f"content differ): {_STAGE1} again")
    paths.append(path)
  return paths


def _tokenizer(store_dir: str, source: Dict[str, object],
               lower_case: Optional[bool] = None) -> base.Tokenizer:
  """The store's tokenizer, of the kind source.json records."""
  return base.load(str(source.get("tokenizer")), store_dir, lower_case)


def open_tokenizer(vocab_file: str, lower_case: Optional[bool] = None) -> base.Tokenizer:
  """The tokenizer that runs on `vocab_file`: the store's own when it is a store's vocab.txt
  (source.json beside it), else TF Hub's BertTokenizer on a WordPiece vocab (a SavedModel's
  assets/cased_vocab.txt, the original release's vocab files). `lower_case`: stage 2's
  --lower_case, where the tokenizer has such a switch (None: the model's own).

  Raises:
    InputError: not a WordPiece vocab (a file that is no store's), or a store's tokenizer that
      does not read.
  """
  store_dir = os.path.dirname(vocab_file)
  if (os.path.basename(vocab_file) == VOCAB_FILE
      and os.path.isfile(os.path.join(store_dir, SOURCE_FILE))):
    return _tokenizer(store_dir, _read_source(store_dir), lower_case)
  from smaller_labse.tokenizers.tf_hub_wordpiece import TfHubTokenizer  # pylint: disable=import-outside-toplevel
  return TfHubTokenizer(vocab_lib.read_vocab(vocab_file), bool(lower_case))


def read_vocab_file(vocab_file: str) -> List[str]:
  """The token of each row of `vocab_file`: a store's vocab.txt as written (its tokenizer
  checks its special tokens), else a WordPiece vocab (vocab.read_vocab's checks)."""
  store_dir = os.path.dirname(vocab_file)
  if (os.path.basename(vocab_file) == VOCAB_FILE
      and os.path.isfile(os.path.join(store_dir, SOURCE_FILE))):
    return vocab_lib.read_token_file(vocab_file)
  return vocab_lib.read_vocab(vocab_file)


def open_store(store_dir: str) -> sources.Model:
  """Reads a store back into the `Model` of its source (weights read lazily)."""
  config, tokens = read_config_and_vocab(store_dir)
  source = _read_source(store_dir)
  kind = source["kind"]
  tokenizer = _tokenizer(store_dir, source)
  layout = None
  if source.get("layout"):
    fields = dict(source["layout"])
    layout = st_layout.StLayout(**dict(fields, modules=tuple(fields["modules"])))
  dense = None
  if os.path.isfile(os.path.join(store_dir, DENSE_FILE)):
    dense = st_layout.read_dense_file(os.path.join(store_dir, DENSE_FILE))
  weight_files = _weight_files(store_dir, source)
  weights = hf_bert.BertWeights(config, weight_files, os.path.join(store_dir, CONFIG_FILE),
                                  dense)
  bert_pooler = (weights.bert_pooler if kind == sources.SENTENCE_TRANSFORMERS
                 else hf_bert.SENTENCE_HEAD)
  return sources.Model(path=store_dir, kind=kind, name=source.get("name") or "LaBSE",
                       config=config, tokenizer=tokenizer, tokens=tokens, weights=weights,
                       bert_pooler=bert_pooler, layout=layout,
                       bert_config=source.get("bert_config"), weight_files=weight_files)


def store_text(store_dir: str) -> str:
  """source.json's text ('' when absent): with the vocab, it identifies exports of the store."""
  path = os.path.join(store_dir, SOURCE_FILE)
  return files.read_bytes(path).decode("utf-8") if os.path.isfile(path) else ""


def source_prompts(vocab_file: str) -> Dict[str, str]:
  """The prompts (name -> text) of the Sentence Transformers source whose store holds
  `vocab_file` (config_sentence_transformers.json's, as stage 1 recorded its layout); {} for
  another vocab file, a source without prompts or another kind."""
  store_dir = os.path.dirname(vocab_file)
  if (os.path.basename(vocab_file) != VOCAB_FILE
      or not os.path.isfile(os.path.join(store_dir, SOURCE_FILE))):
    return {}
  layout = _read_source(store_dir).get("layout") or {}
  text = (layout.get("files") or {}).get("config_sentence_transformers.json")
  if not text:
    return {}
  prompts = json.loads(text).get("prompts") or {}
  return {str(k): v for k, v in prompts.items() if isinstance(v, str)} if isinstance(
      prompts, dict) else {}
