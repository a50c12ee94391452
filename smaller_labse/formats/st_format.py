"""The Sentence Transformers / Hugging Face format: LaBSE where PyTorch users load it.

A directory laid out as `sentence-transformers/LaBSE` is on the Hugging Face Hub,
loadable with `SentenceTransformer(path)` and with `transformers.AutoModel` /
`AutoTokenizer`:

  config.json                  BertConfig ("architectures": ["BertModel"])
  model.safetensors            BertModel's parameters under Hugging Face's names
  vocab.txt                    the WordPiece vocab, one token per line
  tokenizer.json               a `tokenizers` pipeline that reproduces the TF Hub
                               preprocessor's tokenization (see `tokenizer_json`)
  tokenizer_config.json, special_tokens_map.json
  modules.json                 Transformer -> 1_Pooling -> 2_Dense -> 3_Normalize
  sentence_bert_config.json    max_seq_length (128: the TF Hub preprocessor's), do_lower_case
  config_sentence_transformers.json   cosine similarity
  1_Pooling/config.json        the [CLS] token
  2_Dense/config.json, 2_Dense/model.safetensors   LaBSE's pooler: 768 -> 768, tanh
  3_Normalize/                 L2 normalisation (LaBSE's sentence embedding)
  README.md                    the model card (`model_card`), written once the export is proven

The pooler is stored twice (a few MB): as BertModel's `pooler.dense`, so that
`AutoModel(...).pooler_output` is LaBSE's `pooled_output` and loading reports no
missing weights, and as `2_Dense`, which is what Sentence Transformers applies.

Weights are streamed into model.safetensors tensor by tensor (row chunks for the
word embeddings), so exporting never holds a second copy of the 1.5 GB table.
"""

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping as MappingABC
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from smaller_labse import files
from smaller_labse.tokenizers import vocab as vocab_lib
from smaller_labse.model.config import WORD_EMBEDDINGS, EncoderConfig, weight_shapes
from smaller_labse.errors import InputError
from smaller_labse.formats.safetensors_io import SafetensorsFile, read_metadata, write_safetensors

WeightValue = Any  # A float32 np.ndarray, a tf.Variable or a row reader (`value[a:b]`).

DEFAULT_MAX_SEQ_LENGTH = 128  # What the TF Hub preprocessor packs to.
MODEL_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"  # Sharded weights.
TORCH_FILE = "pytorch_model.bin"
DENSE_DIR, POOLING_DIR, NORMALIZE_DIR = "2_Dense", "1_Pooling", "3_Normalize"
_METADATA_SOURCE = "smaller_labse_source"
_CHUNK_ROWS = 4096


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


def read_bert_config(path: str) -> Tuple[EncoderConfig, Dict[str, object]]:
  """A Hugging Face BertModel's config.json: our EncoderConfig, and the file's own values.

  do_lower_case is left False: the tokenizer says how it normalises text.

  Raises:
    InputError: not a BERT encoder this project computes (another model_type, relative
      positions, a decoder), a missing value, or an unsupported hidden_act.
  """
  values = files.read_json(path, "config.json")
  if not isinstance(values, dict):
    raise InputError(f"{path}: not a model config (not a JSON object)")
  model_type = values.get("model_type")
  if model_type != "bert":
    raise InputError(f"{path}: model_type {model_type!r} is not BERT; smaller-LaBSE reads "
                     "BERT encoders (LaBSE, LEALLA and models fine-tuned from them)")
  if values.get("position_embedding_type", "absolute") != "absolute":
    raise InputError(f"{path}: position_embedding_type {values['position_embedding_type']!r}: "
                     "only absolute position embeddings are supported")
  if values.get("is_decoder") or values.get("add_cross_attention"):
    raise InputError(f"{path}: a BERT decoder (is_decoder / add_cross_attention): only "
                     "encoders are supported")
  missing = [k for k in _REQUIRED_CONFIG if not isinstance(values.get(k), int)]
  if missing:
    raise InputError(f"{path}: {', '.join(missing)} missing or not an integer")
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
        hidden_act=str(values.get("hidden_act", "gelu")))
  except InputError as e:
    raise InputError(f"{path}: {e}") from None
  return config, values


def find_weight_files(bert_dir: str) -> List[str]:
  """A BertModel directory's weights: model.safetensors, its shards, or pytorch_model.bin."""
  single, index = os.path.join(bert_dir, MODEL_FILE), os.path.join(bert_dir, INDEX_FILE)
  if os.path.isfile(single):
    return [single]
  if os.path.isfile(index):
    weight_map = files.read_json(index, "weights index").get("weight_map", {})
    return [os.path.join(bert_dir, f) for f in sorted(set(weight_map.values()))]
  if os.path.isfile(os.path.join(bert_dir, TORCH_FILE)):
    return [os.path.join(bert_dir, TORCH_FILE)]
  raise InputError(f"{bert_dir}: no weights ({MODEL_FILE}, {INDEX_FILE} or {TORCH_FILE})")


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


class _TensorFiles:
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

  def __init__(self, tensors: _TensorFiles, name: str, rows: Optional[np.ndarray] = None):
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
  """A Sentence Transformers Dense module (tanh, bias): weight [out, in], bias [out], float32."""
  weight: np.ndarray
  bias: np.ndarray


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
    self._tensors = _TensorFiles(paths)
    names = set(self._tensors.names())
    # A BertModel saved inside another model (BertForMaskedLM ...) has its names under "bert.".
    prefix = "bert." if f"bert.{_WORD}" in names and _WORD not in names else ""
    self._hf = {labse: (prefix + hf, how) for hf, (labse, how) in hf_weight_names(config).items()}
    shapes = weight_shapes(config)
    has_pooler = prefix + "pooler.dense.weight" in names
    for labse, (hf, how) in self._hf.items():
      if labse.startswith("pooler_transform/") and (dense is not None or not has_pooler):
        continue
      if hf not in names:
        raise InputError(f"{self.files[0]}: no tensor {hf!r}: not the weights of a BertModel "
                         f"of {config_path}")
      want = hf_shape(shapes[labse], how)
      if tuple(self._tensors.shape(hf)) != want:
        raise InputError(f"{self._tensors.where(hf)}: tensor {hf!r} has shape "
                         f"{tuple(self._tensors.shape(hf))}, but {config_path} gives {want}")
    if dense is None and not has_pooler:
      raise InputError(f"{self.files[0]}: the BertModel has no pooler (pooler.dense), and no "
                       "Sentence Transformers Dense module gives the sentence embedding")
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
      return labse_layout(value, "in_out" if name.endswith("kernel") else "copy", shape)
    hf, how = self._hf[name]
    return labse_layout(self._tensors.tensor(hf), how, shape)

  def __iter__(self):
    return iter(weight_shapes(self.config))

  def __len__(self) -> int:
    return len(self._hf)

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

  def with_word_rows(self, rows: np.ndarray) -> Dict[str, np.ndarray]:
    """Every weight as a float32 array, the word embeddings only rows `rows` (int [R])."""
    return {name: (self[name].rows(rows) if name == WORD_EMBEDDINGS else self[name])
            for name in self}


_WORD = "embeddings.word_embeddings.weight"
_ST_MODULE = "sentence_transformers."


def _module_kind(module: Mapping[str, object]) -> str:
  """'sentence_transformers.models.Dense' (or the 6.x module path) -> 'Dense'."""
  kind = str(module.get("type", ""))
  return kind.rsplit(".", 1)[-1] if kind.startswith(_ST_MODULE) else kind


@dataclasses.dataclass(frozen=True)
class StLayout:
  """A Sentence Transformers model's modules: Transformer -> Pooling (CLS) -> Dense (tanh)
  -> [Normalize], as sentence-transformers/LaBSE has them.

  Attributes:
    modules: modules.json's entries, as written.
    files: relative path -> text of the module configuration files (sentence_bert_config.json,
      config_sentence_transformers.json, the modules' config.json files).
    transformer_dir, dense_dir: the Transformer and Dense modules' folders ("" = the root).
    max_seq_length: sentence_bert_config.json's.
    normalize: whether a Normalize module ends the model.
  """
  modules: Tuple[Dict[str, object], ...]
  files: Dict[str, str]
  transformer_dir: str
  dense_dir: str
  max_seq_length: int
  normalize: bool

  def with_max_seq_length(self, max_seq_length: int) -> "StLayout":
    """The same layout truncating at `max_seq_length` (sentence_bert_config.json keeps it only
    where the source's did; the tokenizer's model_max_length always carries it)."""
    if max_seq_length == self.max_seq_length:
      return self
    path = os.path.join(self.transformer_dir, "sentence_bert_config.json")
    config = json.loads(self.files[path])
    if "max_seq_length" in config:
      config["max_seq_length"] = max_seq_length
    return dataclasses.replace(self, max_seq_length=max_seq_length,
                               files=dict(self.files, **{path: files.json_text(config)}))


def is_sentence_transformers_dir(path: str) -> bool:
  return os.path.isfile(os.path.join(path, "modules.json"))


def default_layout(config: EncoderConfig, lower_case: bool,
                   max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> StLayout:
  """LaBSE's layout: Transformer -> 1_Pooling (CLS) -> 2_Dense (tanh: the pooler) -> 3_Normalize."""
  d = config.hidden_size
  modules = (
      {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
      {"idx": 1, "name": "1", "path": POOLING_DIR, "type": "sentence_transformers.models.Pooling"},
      {"idx": 2, "name": "2", "path": DENSE_DIR, "type": "sentence_transformers.models.Dense"},
      {"idx": 3, "name": "3", "path": NORMALIZE_DIR,
       "type": "sentence_transformers.models.Normalize"},
  )
  pooling = {"word_embedding_dimension": d, "pooling_mode_cls_token": True,
             "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
             "pooling_mode_mean_sqrt_len_tokens": False,
             "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False,
             "include_prompt": True}
  dense = {"in_features": d, "out_features": d, "bias": True,
           "activation_function": "torch.nn.modules.activation.Tanh"}
  texts = {
      "modules.json": files.json_text(list(modules)),
      "sentence_bert_config.json": files.json_text({"max_seq_length": max_seq_length,
                                                    "do_lower_case": False}),
      "config_sentence_transformers.json": files.json_text(
          {"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}),
      os.path.join(POOLING_DIR, "config.json"): files.json_text(pooling),
      os.path.join(DENSE_DIR, "config.json"): files.json_text(dense),
  }
  del lower_case  # The tokenizer lower-cases itself; Sentence Transformers must not do it again.
  return StLayout(modules, texts, "", DENSE_DIR, max_seq_length, True)


def read_layout(source_dir: str, config: EncoderConfig) -> StLayout:
  """A Sentence Transformers source's modules, checked to be LaBSE's layout.

  Raises:
    InputError: another layout (mean pooling, no Dense, several Dense ...), a Dense that is not
      D -> D with bias and tanh, or Sentence Transformers' own lower-casing.
  """
  path = os.path.join(source_dir, "modules.json")
  modules = files.read_json(path, "modules.json")
  kinds = [_module_kind(m) for m in modules] if isinstance(modules, list) else []
  if kinds not in (["Transformer", "Pooling", "Dense", "Normalize"],
                   ["Transformer", "Pooling", "Dense"]):
    raise InputError(f"{path}: modules {kinds or modules!r}: smaller-LaBSE reads LaBSE's layout, "
                     "Transformer -> Pooling (CLS) -> Dense (tanh) [-> Normalize]")
  folder = {kind: str(m.get("path", "")) for kind, m in zip(kinds, modules)}
  texts = {"modules.json": files.read_bytes(path).decode("utf-8")}
  for kind in kinds[1:]:  # Each module's configuration, kept as the source has it.
    name = os.path.join(folder[kind], "config.json")
    if os.path.isfile(os.path.join(source_dir, name)):
      texts[name] = files.read_bytes(os.path.join(source_dir, name)).decode("utf-8")
  pooling_path, dense_path = (os.path.join(source_dir, folder[k], "config.json")
                              for k in ("Pooling", "Dense"))
  if not is_cls_pooling(files.read_json(pooling_path, "Pooling config")):
    raise InputError(f"{pooling_path}: only CLS pooling is supported (LaBSE's)")
  dense = files.read_json(dense_path, "Dense config")
  d = config.hidden_size
  activation = dense.get("activation_function", "torch.nn.modules.activation.Tanh")
  if (dense.get("in_features"), dense.get("out_features"), dense.get("bias", True),
      activation, dense.get("use_residual", False)) != (
          d, d, True, "torch.nn.modules.activation.Tanh", False):
    raise InputError(f"{dense_path}: the Dense module must be {d} -> {d} with a bias and tanh "
                     f"(LaBSE's pooler), got {dense}")
  transformer = folder["Transformer"]
  st_config_name = os.path.join(transformer, "sentence_bert_config.json")
  st_config = files.read_json(os.path.join(source_dir, st_config_name), "sentence_bert_config.json")
  if st_config.get("do_lower_case"):
    raise InputError(f"{os.path.join(source_dir, st_config_name)}: do_lower_case: Sentence "
                     "Transformers' own lower-casing is not supported (the tokenizer's is)")
  texts[st_config_name] = files.read_bytes(os.path.join(source_dir, st_config_name)).decode()
  extra = os.path.join(source_dir, "config_sentence_transformers.json")
  if os.path.isfile(extra):
    texts["config_sentence_transformers.json"] = files.read_bytes(extra).decode("utf-8")
  return StLayout(tuple(modules), texts, transformer, folder["Dense"],
                  _max_seq_length(source_dir, transformer, st_config, config),
                  "Normalize" in kinds)


def is_cls_pooling(pooling: Mapping[str, object]) -> bool:
  """A Pooling module's config.json says CLS pooling: Sentence Transformers 6's
  "pooling_mode": "cls", or the older pooling_mode_cls_token alone."""
  if "pooling_mode" in pooling:
    return pooling["pooling_mode"] in ("cls", ["cls"])
  return bool(pooling.get("pooling_mode_cls_token")) and not any(
      v for k, v in pooling.items() if k.startswith("pooling_mode_")
      and k != "pooling_mode_cls_token")


def _max_seq_length(source_dir: str, transformer: str, st_config: Mapping[str, object],
                    config: EncoderConfig) -> int:
  """What Sentence Transformers truncates to: sentence_bert_config.json's max_seq_length
  (older saves), else the tokenizer's model_max_length, at most the model's positions."""
  value = st_config.get("max_seq_length")
  tokenizer_config = os.path.join(source_dir, transformer, "tokenizer_config.json")
  if value is None and os.path.isfile(tokenizer_config):
    value = files.read_json(tokenizer_config).get("model_max_length")
  if not isinstance(value, int) or value > config.max_position_embeddings:
    value = config.max_position_embeddings
  return value


def read_dense(source_dir: str, layout: StLayout) -> Dense:
  """The Dense module's weights (model.safetensors, or pytorch_model.bin with PyTorch)."""
  folder = os.path.join(source_dir, layout.dense_dir)
  paths = [p for p in (os.path.join(folder, MODEL_FILE), os.path.join(folder, TORCH_FILE))
           if os.path.isfile(p)]
  if not paths:
    raise InputError(f"{folder}: no weights ({MODEL_FILE} or {TORCH_FILE})")
  return read_dense_file(paths[0])


def read_dense_file(path: str) -> Dense:
  """A Dense module's weights file (safetensors, or a torch file with PyTorch)."""
  tensors = _TensorFiles([path])
  for name in ("linear.weight", "linear.bias"):
    if name not in tensors.names():
      raise InputError(f"{path}: no tensor {name!r}: not a Dense module's weights")
  return Dense(tensors.tensor("linear.weight"), tensors.tensor("linear.bias"))


# --- Writing --------------------------------------------------------------------------------

SENTENCE_HEAD = "sentence head"  # write_st_model's bert_pooler: the pooler is the sentence head


def bert_config(config: EncoderConfig, pad_id: int,
                base: Optional[Mapping[str, object]] = None) -> Dict[str, object]:
  """config.json: the source's own (`base`) with the new vocab size, or LaBSE's."""
  if base is not None:
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


def check_max_seq_length(max_seq_length: int, config: EncoderConfig) -> None:
  """Raises InputError unless [CLS] + at least one token + [SEP] fit the positions."""
  if not 2 < max_seq_length <= config.max_position_embeddings:
    raise InputError(f"max_seq_length {max_seq_length}: must be between 3 and the model's "
                     f"{config.max_position_embeddings} positions")


def holds_same_model(st_dir: str, tokens: Sequence[str], source: str,
                     layout: Optional[StLayout] = None) -> bool:
  """Whether `st_dir` already holds the export of these weights (`source`) and vocab."""
  folder = os.path.join(st_dir, layout.transformer_dir if layout else "")
  vocab_path = os.path.join(folder, "vocab.txt")
  if not os.path.isfile(vocab_path):
    return False
  stored = read_metadata(os.path.join(folder, MODEL_FILE)).get(_METADATA_SOURCE)
  return stored == source and vocab_lib.read_token_file(vocab_path) == list(tokens)


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
    if hf.startswith("pooler.") and bert_pooler is not SENTENCE_HEAD:
      if bert_pooler is not None:
        value = bert_pooler[hf.split(".")[-1]]
        tensors.append((hf, tuple(value.shape), iter([value])))
      continue
    tensors.append((hf, hf_shape(shapes[name], how), hf_layout(weights, name, how)))
  return tensors


def write_st_model(st_dir: str, config: EncoderConfig, weights: Mapping[str, WeightValue],
                   text_files: Mapping[str, str], layout: StLayout, source: str,
                   bert_pooler: object = SENTENCE_HEAD, bert_file: Optional[str] = None) -> None:
  """Writes a Sentence Transformers directory into the new directory `st_dir`.

  Args:
    st_dir: a new or empty directory (callers write to a temporary path).
    config: the encoder's shape.
    weights: LaBSE/2 variable name -> float32 array, tf.Variable or row reader (as in
      encoder.py); read one at a time, so it may be a lazy mapping. pooler_transform is the
      sentence head, written as the Dense module.
    text_files: the Transformer module's files: config.json, the tokenizer's files
      (tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.txt).
    layout: the modules (`default_layout` or a source's `read_layout`).
    source: a fingerprint of the weights, kept in the safetensors metadata to
      recognise a rerun (see `holds_same_model`).
    bert_pooler: see `bert_tensors`.
    bert_file: an existing model.safetensors holding exactly these BertModel tensors (stage 1's
      weight store): hard-linked (or copied) instead of written again.
  """
  check_max_seq_length(layout.max_seq_length, config)
  transformer = os.path.join(st_dir, layout.transformer_dir)
  for module in layout.modules:
    os.makedirs(os.path.join(st_dir, str(module.get("path", ""))), exist_ok=True)
  target = os.path.join(transformer, MODEL_FILE)
  if bert_file:
    _link_or_copy(bert_file, target)
  else:
    write_safetensors(target, bert_tensors(config, weights, bert_pooler),
                      {"format": "pt", _METADATA_SOURCE: source})
  d = config.hidden_size
  write_safetensors(os.path.join(st_dir, layout.dense_dir, MODEL_FILE), [
      ("linear.weight", (d, d), hf_layout(weights, "pooler_transform/kernel", "in_out")),
      ("linear.bias", (d,), hf_layout(weights, "pooler_transform/bias", "copy"))],
      {"format": "pt"})
  texts = dict(layout.files)
  texts.update({os.path.join(layout.transformer_dir, name): text
                for name, text in text_files.items()})
  for name, text in texts.items():
    with open(os.path.join(st_dir, name), "w", encoding="utf-8", newline="") as f:
      f.write(text)


def metadata_source(path: str) -> str:
  """The fingerprint `write_st_model` keeps in a model.safetensors ('' if none)."""
  return read_metadata(path).get(_METADATA_SOURCE, "")


def safetensors_metadata(source: str) -> Dict[str, str]:
  """The metadata of a BertModel file written for the fingerprint `source`."""
  return {"format": "pt", _METADATA_SOURCE: source}


def _link_or_copy(src: str, dst: str) -> None:
  """A hard link (the same bytes, no second copy on disk), or a copy across file systems."""
  try:
    os.link(src, dst)
  except OSError:
    shutil.copyfile(src, dst)
