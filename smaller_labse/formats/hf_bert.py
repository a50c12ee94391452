"""Hugging Face BERT checkpoints: BertModel's parameters under LaBSE/2's names, read and written.

A BertModel directory (`save_pretrained`, or the Transformer module of a Sentence Transformers
model) holds config.json and its weights: model.safetensors, its shards with
model.safetensors.index.json, or pytorch_model.bin (read with PyTorch). Here:

  hf_weight_names       Hugging Face parameter name -> LaBSE/2 variable name and conversion
  read_bert_config      config.json -> EncoderConfig
  find_weight_files     which weight files a directory has
  BertWeights           the weights under LaBSE/2's names, read when used (word embeddings
                        as a RowReader: rows on demand)
  bert_config, bert_tensors   what a BertModel directory is written with

Weights are streamed tensor by tensor (row chunks for the word embeddings), so that writing
never holds a second copy of the 1.5 GB table.
"""

import dataclasses
import os
from collections.abc import Mapping as MappingABC
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from smaller_labse import files
from smaller_labse.errors import InputError
from smaller_labse.formats.safetensors_io import SafetensorsFile
from smaller_labse.model.config import WORD_EMBEDDINGS, EncoderConfig, weight_shapes

WeightValue = Any  # A float32 np.ndarray, a tf.Variable or a row reader (`value[a:b]`).

MODEL_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"  # Sharded weights.
TORCH_FILE = "pytorch_model.bin"
TORCH_INDEX_FILE = "pytorch_model.bin.index.json"
# A directory's weights, by preference: a file, or an index naming its shards.
WEIGHT_FILES = ((MODEL_FILE, INDEX_FILE), (TORCH_FILE, TORCH_INDEX_FILE))
_CHUNK_ROWS = 4096
_WORD = "embeddings.word_embeddings.weight"


def hf_weight_names(config: EncoderConfig) -> Dict[str, Tuple[str, str]]:
  """Hugging Face BertModel parameter name -> (LaBSE/2 variable name, how to convert).

  Conversions: 'copy' (same layout), 'flatten' ([N, H] -> [D]), 'in_out' (kernel
  [in, out] or [in, N, H] -> nn.Linear weight [out, in]), 'heads_out' (kernel
  [N, H, out] -> [out, N*H]).
  """
  names = {
      "embeddings.word_embeddings.weight": (WORD_EMBEDDINGS, "copy"),
      "embeddings.position_embeddings.weight": ("position_embedding/embeddings", "copy"),
      "embeddings.token_type_embeddings.weight": ("type_embeddings/embeddings", "copy"),
      "embeddings.LayerNorm.weight": ("embeddings/layer_norm/gamma", "copy"),
      "embeddings.LayerNorm.bias": ("embeddings/layer_norm/beta", "copy"),
  }
  for i in range(config.num_layers):
    hf, tf_ = f"encoder.layer.{i}.", f"transformer/layer_{i}/"
    for projection in ("query", "key", "value"):
      names[hf + f"attention.self.{projection}.weight"] = (
          tf_ + f"self_attention/{projection}/kernel", "in_out")
      names[hf + f"attention.self.{projection}.bias"] = (
          tf_ + f"self_attention/{projection}/bias", "flatten")
    names[hf + "attention.output.dense.weight"] = (
        tf_ + "self_attention/attention_output/kernel", "heads_out")
    names[hf + "attention.output.dense.bias"] = (
        tf_ + "self_attention/attention_output/bias", "copy")
    names[hf + "attention.output.LayerNorm.weight"] = (tf_ + "self_attention_layer_norm/gamma",
                                                       "copy")
    names[hf + "attention.output.LayerNorm.bias"] = (tf_ + "self_attention_layer_norm/beta",
                                                     "copy")
    names[hf + "intermediate.dense.weight"] = (tf_ + "intermediate/kernel", "in_out")
    names[hf + "intermediate.dense.bias"] = (tf_ + "intermediate/bias", "copy")
    names[hf + "output.dense.weight"] = (tf_ + "output/kernel", "in_out")
    names[hf + "output.dense.bias"] = (tf_ + "output/bias", "copy")
    names[hf + "output.LayerNorm.weight"] = (tf_ + "output_layer_norm/gamma", "copy")
    names[hf + "output.LayerNorm.bias"] = (tf_ + "output_layer_norm/beta", "copy")
  names["pooler.dense.weight"] = ("pooler_transform/kernel", "in_out")
  names["pooler.dense.bias"] = ("pooler_transform/bias", "copy")
  return names


def labse_layout(array: np.ndarray, how: str, shape: Sequence[int]) -> np.ndarray:
  """The inverse of `hf_layout`: a Hugging Face tensor in the LaBSE layout `shape`, float32."""
  if how in ("in_out", "heads_out"):  # nn.Linear weight [out, in] -> kernel [in, ...].
    array = array.T
  return np.ascontiguousarray(array, np.float32).reshape(tuple(shape))


def _as_numpy(value: WeightValue) -> np.ndarray:
  return np.asarray(value.numpy() if hasattr(value, "numpy") else value, np.float32)


def _rows(value: WeightValue, start: int, stop: int) -> np.ndarray:
  """Rows start:stop of a 2-D array, row reader or tf.Variable (a gather: no full read)."""
  if hasattr(value, "sparse_read"):
    return value.sparse_read(np.arange(start, stop)).numpy()
  return np.asarray(value[start:stop], np.float32)


def hf_layout(weights: Mapping[str, WeightValue], name: str, how: str) -> Iterator[np.ndarray]:
  """Yields the Hugging Face layout of the LaBSE tensor `name`, float32, in row chunks.

  The tensor is looked up only when the first chunk is asked for, so a lazy `weights`
  holds one tensor at a time.
  """
  value = weights[name]
  if how == "copy" and len(value.shape) == 2:
    for start in range(0, value.shape[0], _CHUNK_ROWS):
      yield _rows(value, start, min(start + _CHUNK_ROWS, value.shape[0]))
    return
  array = _as_numpy(value)
  if how == "flatten":
    array = array.reshape(-1)
  elif how == "in_out":  # [in, out] or [in, N, H]: nn.Linear computes x @ W.T + b.
    array = array.reshape(array.shape[0], -1).T
  elif how == "heads_out":  # [N, H, out] -> [out, N*H].
    array = array.reshape(-1, array.shape[-1]).T
  yield np.ascontiguousarray(array)


def hf_shape(shape: Sequence[int], how: str) -> Tuple[int, ...]:
  shape = tuple(int(s) for s in shape)
  if how == "flatten":
    return (int(np.prod(shape)),)
  if how == "in_out":
    return (int(np.prod(shape[1:])), shape[0])
  if how == "heads_out":
    return (shape[-1], int(np.prod(shape[:-1])))
  return shape


# --- Reading a Hugging Face BERT directory --------------------------------------------------

_REQUIRED_CONFIG = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                    "intermediate_size", "max_position_embeddings", "type_vocab_size")


# The architectures read, by config.json's model_type (the same parameter names; XLM-R numbers
# positions from padding_idx + 1 and has one token type).
ARCHITECTURES = {"bert": "BertModel", "xlm-roberta": "XLMRobertaModel"}
# Where a model saved inside another one (BertForMaskedLM, XLMRobertaForMaskedLM...) keeps them.
_PREFIXES = ("bert.", "roberta.")


def read_bert_config(path: str) -> Tuple[EncoderConfig, Dict[str, object]]:
  """A Hugging Face BertModel's or XLMRobertaModel's config.json: our EncoderConfig, and the
  file's own values.

  do_lower_case is left False: the tokenizer says how it normalises text. The sentence head
  is left LaBSE's (the pooler); a Sentence Transformers layout sets its own.

  Raises:
    InputError: not an encoder this project computes (another model_type, relative
      positions, a decoder), a missing value, or an unsupported hidden_act.
  """
  values = files.read_json(path, "config.json")
  if not isinstance(values, dict):
    raise InputError(f"{path}: not a model config (not a JSON object)")
  model_type = values.get("model_type")
  if model_type not in ARCHITECTURES:
    architectures = values.get("architectures")
    named = (f" ({', '.join(map(str, architectures))})" if isinstance(architectures, list)
             and architectures else "")
    raise InputError(f"{path}: model_type {model_type!r}{named} is not supported: smaller-LaBSE "
                     "reads BertModel (LaBSE, LEALLA, multilingual MiniLM and e5-small) and "
                     "XLMRobertaModel (multilingual-e5, bge-m3) encoders")
  if values.get("position_embedding_type", "absolute") != "absolute":
    raise InputError(f"{path}: position_embedding_type {values['position_embedding_type']!r}: "
                     "only absolute position embeddings are supported")
  if values.get("is_decoder") or values.get("add_cross_attention"):
    raise InputError(f"{path}: a BERT decoder (is_decoder / add_cross_attention): only "
                     "encoders are supported")
  missing = [k for k in _REQUIRED_CONFIG if not isinstance(values.get(k), int)]
  if missing:
    raise InputError(f"{path}: {', '.join(missing)} missing or not an integer")
  pad = values.get("pad_token_id", 1 if model_type == "xlm-roberta" else 0)
  if model_type == "xlm-roberta" and not (isinstance(pad, int) and 0 <= pad
                                          and pad + 2 <= values["max_position_embeddings"]):
    raise InputError(f"{path}: pad_token_id {pad!r}: XLMRobertaModel numbers positions from "
                     f"pad_token_id + 1, which needs an integer below max_position_embeddings - 1")
  if values["hidden_size"] % values["num_attention_heads"]:
    raise InputError(f"{path}: hidden_size {values['hidden_size']} is not a multiple of "
                     f"num_attention_heads {values['num_attention_heads']}")
  try:
    config = EncoderConfig(
        vocab_size=values["vocab_size"], hidden_size=values["hidden_size"],
        num_layers=values["num_hidden_layers"], num_heads=values["num_attention_heads"],
        intermediate_size=values["intermediate_size"],
        max_position_embeddings=values["max_position_embeddings"],
        type_vocab_size=values["type_vocab_size"],
        dropout_rate=float(values.get("hidden_dropout_prob", 0.1)),
        attention_dropout_rate=float(values.get("attention_probs_dropout_prob", 0.1)),
        layer_norm_epsilon=float(values.get("layer_norm_eps", 1e-12)),
        hidden_act=str(values.get("hidden_act", "gelu")),
        model_type=model_type, pad_token_id=pad if isinstance(pad, int) else 0)
  except InputError as e:
    raise InputError(f"{path}: {e}") from None
  return config, values


def find_weight_files(bert_dir: str) -> List[str]:
  """A BertModel directory's weight files, as WEIGHT_FILES prefers: model.safetensors, else
  the shards its index names, else pytorch_model.bin, else the shards of its index.

  Raises:
    InputError: no weights, an index without a weight_map, or a shard that is not there
      (naming the index).
  """
  for single, index in WEIGHT_FILES:
    if os.path.isfile(os.path.join(bert_dir, single)):
      return [os.path.join(bert_dir, single)]
    index_path = os.path.join(bert_dir, index)
    if os.path.isfile(index_path):
      weight_map = files.read_json(index_path, "weights index")
      weight_map = weight_map.get("weight_map") if isinstance(weight_map, dict) else None
      shards = sorted({str(s) for s in weight_map.values()}) if isinstance(weight_map, dict) else []
      if not shards:
        raise InputError(f"{index_path}: no weight_map")
      missing = [s for s in shards if not os.path.isfile(os.path.join(bert_dir, s))]
      if missing:
        raise InputError(f"{index_path}: {missing[0]} is missing")
      return [os.path.join(bert_dir, s) for s in shards]
  raise InputError(f"{os.path.join(bert_dir, MODEL_FILE)}: missing (no {MODEL_FILE}, "
                   f"{TORCH_FILE} or their index)")


def read_torch_file(path: str) -> Dict[str, np.ndarray]:
  """A pytorch_model.bin's tensors as float32 numpy arrays (needs PyTorch)."""
  try:
    import torch  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise InputError(f"{path}: reading pytorch_model.bin needs PyTorch (pip install torch), or "
                     "give the model with model.safetensors") from None
  try:
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
  except Exception as e:  # torch raises many types for a corrupt file.
    raise InputError(f"{path}: cannot read ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
                     ) from None
  return {name: value.float().numpy() for name, value in state.items()
          if hasattr(value, "float") and value.is_floating_point()}


class TensorFiles:
  """Tensors by name over safetensors files (read lazily) or a torch file (read whole)."""

  def __init__(self, paths: Sequence[str]):
    self.paths = list(paths)
    self._where: Dict[str, object] = {}
    for path in paths:
      if path.endswith(".bin"):
        arrays = read_torch_file(path)
        self._where.update({name: arrays for name in arrays})
      else:
        opened = SafetensorsFile(path)
        self._where.update({name: opened for name in opened.keys()})

  def names(self) -> List[str]:
    return list(self._where)

  def shape(self, name: str) -> Tuple[int, ...]:
    where = self._where[name]
    return where.shape(name) if isinstance(where, SafetensorsFile) else where[name].shape

  def tensor(self, name: str) -> np.ndarray:
    where = self._where[name]
    return where.tensor(name) if isinstance(where, SafetensorsFile) else where[name]

  def rows(self, name: str, rows: np.ndarray) -> np.ndarray:
    where = self._where[name]
    return (where.rows(name, rows) if isinstance(where, SafetensorsFile)
            else where[name][np.asarray(rows, np.int64)])

  def where(self, name: str) -> str:
    where = self._where[name]
    return where.path if isinstance(where, SafetensorsFile) else self.paths[0]


class RowReader:
  """Rows of a stored [V, D] table, read on demand (never the whole table).

  Attributes:
    shape: (rows, D), after the row selection.
  """

  def __init__(self, tensors: TensorFiles, name: str, rows: Optional[np.ndarray] = None):
    self._tensors, self._name = tensors, name
    self._selection = None if rows is None else np.asarray(rows, np.int64)
    full = tensors.shape(name)
    self.shape = full if rows is None else (len(self._selection),) + tuple(full[1:])

  def _stored(self, rows: np.ndarray) -> np.ndarray:
    return rows if self._selection is None else self._selection[rows]

  def rows(self, rows: np.ndarray) -> np.ndarray:
    """Rows `rows` (int [R]) of this table, float32 [R, D]."""
    return self._tensors.rows(self._name, self._stored(np.asarray(rows, np.int64)))

  def __getitem__(self, index: slice) -> np.ndarray:
    start, stop, _ = index.indices(self.shape[0])
    return self.rows(np.arange(start, stop))


@dataclasses.dataclass(frozen=True)
class Dense:
  """A Sentence Transformers Dense module: weight [out, in], bias [out] (None without one),
  float32.

  The sentence head a `BertWeights` serves as `pooler_transform/*` when one is given.
  """
  weight: np.ndarray
  bias: Optional[np.ndarray]


class BertWeights(MappingABC):
  """A Hugging Face BertModel's weights under LaBSE/2's names and layouts, read when used.

  `pooler_transform/*` is the sentence head: the Sentence Transformers Dense module when one
  is given, else BertModel's pooler. The word embeddings come back as a `RowReader`.

  Attributes:
    files: the weight files.
    bert_pooler: BertModel's own pooler {"weight": [D, D], "bias": [D]} (Hugging Face
      layout), or None when the model has none.
  """

  def __init__(self, config: EncoderConfig, paths: Sequence[str], config_path: str,
               dense: Optional[Dense] = None):
    self.config = config
    self.files = list(paths)
    self._tensors = TensorFiles(paths)
    names = set(self._tensors.names())
    # A model saved inside another one (BertForMaskedLM...) has its names under "bert.".
    prefix = "" if _WORD in names else next(
        (p for p in _PREFIXES if p + _WORD in names), "")
    self._hf = {labse: (prefix + hf, how) for hf, (labse, how) in hf_weight_names(config).items()}
    shapes = weight_shapes(config)
    has_pooler = prefix + "pooler.dense.weight" in names
    for labse, (hf, how) in self._hf.items():
      if labse.startswith("pooler_transform/") and (dense is not None or not has_pooler
                                                    or not config.has_dense):
        continue
      if hf not in names:
        raise InputError(f"{self.files[0]}: no tensor {hf!r}: not the weights of a BertModel "
                         f"of {config_path}")
      want = hf_shape(shapes[labse], how)
      if tuple(self._tensors.shape(hf)) != want:
        raise InputError(f"{self._tensors.where(hf)}: tensor {hf!r} has shape "
                         f"{tuple(self._tensors.shape(hf))}, but {config_path} gives {want}")
    if config.has_dense and dense is None and not has_pooler:
      raise InputError(f"{self.files[0]}: the BertModel has no pooler (pooler.dense), and no "
                       "Sentence Transformers Dense module gives the sentence embedding")
    if dense is not None and tuple(dense.weight.shape) != hf_shape(
        shapes["pooler_transform/kernel"], "in_out"):
      raise InputError(f"{self.files[0]}: the Dense module's weight has shape "
                       f"{tuple(dense.weight.shape)}, but its config gives "
                       f"{hf_shape(shapes['pooler_transform/kernel'], 'in_out')}")
    self.dense = dense
    self._prefix = prefix
    self.bert_pooler = ({"weight": self._tensors.tensor(prefix + "pooler.dense.weight"),
                         "bias": self._tensors.tensor(prefix + "pooler.dense.bias")}
                        if has_pooler else None)

  def __getitem__(self, name: str):
    shape = weight_shapes(self.config)[name]
    if name == WORD_EMBEDDINGS:
      return RowReader(self._tensors, self._hf[name][0])
    if name.startswith("pooler_transform/") and self.dense is not None:
      value = self.dense.weight if name.endswith("kernel") else self.dense.bias
      if value is None:  # A Dense module without a bias: zeros.
        return np.zeros(shape, np.float32)
      return labse_layout(value, "in_out" if name.endswith("kernel") else "copy", shape)
    hf, how = self._hf[name]
    return labse_layout(self._tensors.tensor(hf), how, shape)

  def __iter__(self):
    return iter(weight_shapes(self.config))

  def __len__(self) -> int:
    return len(weight_shapes(self.config))

  def hf_state(self, word_rows: np.ndarray) -> Dict[str, np.ndarray]:
    """BertModel's state dict as stored (Hugging Face names and layouts, float32), with only
    the word embedding rows `word_rows` (int [R]); `pooler.dense` is BertModel's own, if any."""
    state = {}
    for labse, (hf, _) in self._hf.items():
      if labse.startswith("pooler_transform/"):
        continue
      state[hf[len(self._prefix):]] = (self._tensors.rows(hf, word_rows) if labse == WORD_EMBEDDINGS
                                       else self._tensors.tensor(hf))
    if self.bert_pooler is not None:
      state.update({f"pooler.dense.{k}": v for k, v in self.bert_pooler.items()})
    return state


# --- Writing --------------------------------------------------------------------------------

SENTENCE_HEAD = "sentence head"  # bert_tensors' bert_pooler: the pooler is the sentence head


def bert_config(config: EncoderConfig, pad_id: int,
                base: Optional[Mapping[str, object]] = None) -> Dict[str, object]:
  """config.json: the source's own (`base`) with the new vocab size, or LaBSE's. An
  XLMRobertaModel's pad_token_id (its positions' padding_idx) stays the source's."""
  if base is not None:
    if config.model_type == "xlm-roberta":
      pad_id = config.pad_token_id
    return dict(base, vocab_size=config.vocab_size, pad_token_id=pad_id)
  return {
      "architectures": ["BertModel"],
      "model_type": "bert",
      "vocab_size": config.vocab_size,
      "hidden_size": config.hidden_size,
      "num_hidden_layers": config.num_layers,
      "num_attention_heads": config.num_heads,
      "intermediate_size": config.intermediate_size,
      "hidden_act": config.hidden_act,
      "hidden_dropout_prob": config.dropout_rate,
      "attention_probs_dropout_prob": config.attention_dropout_rate,
      "max_position_embeddings": config.max_position_embeddings,
      "type_vocab_size": config.type_vocab_size,
      "initializer_range": 0.02,
      "layer_norm_eps": config.layer_norm_epsilon,
      "pad_token_id": pad_id,
      "position_embedding_type": "absolute",
      "torch_dtype": "float32",
  }


def bert_tensors(config: EncoderConfig, weights: Mapping[str, WeightValue],
                 bert_pooler: object = SENTENCE_HEAD
                 ) -> List[Tuple[str, Tuple[int, ...], Iterator[np.ndarray]]]:
  """BertModel's tensors for `write_safetensors`: (Hugging Face name, shape, chunks).

  `bert_pooler`: SENTENCE_HEAD (pooler.dense = pooler_transform), Hugging Face arrays
  {"weight", "bias"} (a Sentence Transformers source's own, left as it was), or None (none).
  """
  shapes = weight_shapes(config)
  tensors = []
  for hf, (name, how) in hf_weight_names(config).items():
    if hf.startswith("pooler.") and (bert_pooler is not SENTENCE_HEAD or not config.has_dense):
      if bert_pooler is not None and bert_pooler is not SENTENCE_HEAD:
        value = bert_pooler[hf.split(".")[-1]]
        tensors.append((hf, tuple(value.shape), iter([value])))
      continue
    tensors.append((hf, hf_shape(shapes[name], how), hf_layout(weights, name, how)))
  return tensors
