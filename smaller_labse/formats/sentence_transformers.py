"""The Sentence Transformers layout: LaBSE where PyTorch users load it.

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

The Transformer module is a BertModel directory (`hf_bert`: its config.json and weights,
streamed tensor by tensor).
"""

import dataclasses
import json
import os
import shutil
from typing import Dict, Mapping, Optional, Sequence, Tuple

from smaller_labse import files
from smaller_labse.errors import InputError
from smaller_labse.formats.hf_bert import (MODEL_FILE, SENTENCE_HEAD, TORCH_FILE, Dense,
                                           TensorFiles, WeightValue, bert_tensors, hf_layout)
from smaller_labse.formats.safetensors_io import read_metadata, write_safetensors
from smaller_labse.model.config import DENSE_ACTIVATIONS, NO_DENSE, POOLING_MODES, EncoderConfig
from smaller_labse.tokenizers import vocab as vocab_lib

DEFAULT_MAX_SEQ_LENGTH = 128  # What the TF Hub preprocessor packs to.
DENSE_DIR, POOLING_DIR, NORMALIZE_DIR = "2_Dense", "1_Pooling", "3_Normalize"
_METADATA_SOURCE = "smaller_labse_source"
_ST_MODULE = "sentence_transformers."


def _module_kind(module: Mapping[str, object]) -> str:
  """'sentence_transformers.models.Dense' (or the 6.x module path) -> 'Dense'."""
  kind = str(module.get("type", ""))
  return kind.rsplit(".", 1)[-1] if kind.startswith(_ST_MODULE) else kind


@dataclasses.dataclass(frozen=True)
class StLayout:
  """A Sentence Transformers model's modules: Transformer -> Pooling -> [Dense] ->
  [Normalize] (sentence-transformers/LaBSE: CLS pooling, a tanh Dense, Normalize).

  Attributes:
    modules: modules.json's entries, as written.
    files: relative path -> text of the module configuration files (sentence_bert_config.json,
      config_sentence_transformers.json (its prompts), the modules' config.json files).
    transformer_dir, dense_dir: the Transformer and Dense modules' folders ("" = the root;
      dense_dir None: no Dense module).
    max_seq_length: sentence_bert_config.json's.
    normalize: whether a Normalize module ends the model.
    pooling: the Pooling module's mode (config.POOLING_MODES).
  """
  modules: Tuple[Dict[str, object], ...]
  files: Dict[str, str]
  transformer_dir: str
  dense_dir: Optional[str]
  max_seq_length: int
  normalize: bool
  pooling: str = "cls"

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


def default_layout(config: EncoderConfig,
                   max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> StLayout:
  """LaBSE's layout: Transformer -> 1_Pooling (CLS) -> 2_Dense (tanh: the pooler) -> 3_Normalize.

  sentence_bert_config.json's do_lower_case is False: the tokenizer lower-cases where the
  model does, and Sentence Transformers must not do it again.
  """
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
  return StLayout(modules, texts, "", DENSE_DIR, max_seq_length, True)


def read_layout(source_dir: str, config: EncoderConfig) -> StLayout:
  """A Sentence Transformers source's modules: Transformer -> Pooling -> [Dense] ->
  [Normalize], the Pooling in a mode the encoder computes.

  Raises:
    InputError: another layout (no Pooling, several Dense, other modules...), a pooling mode
      that is not supported (named), a Dense module that is not (see `sentence_head`), or
      Sentence Transformers' own lower-casing.
  """
  path = os.path.join(source_dir, "modules.json")
  modules = files.read_json(path, "modules.json")
  kinds = [_module_kind(m) for m in modules] if isinstance(modules, list) else []
  if kinds not in _LAYOUTS:
    raise InputError(f"{path}: modules {kinds or modules!r}: smaller-LaBSE reads Transformer -> "
                     "Pooling -> [Dense] -> [Normalize]")
  folder = {kind: str(m.get("path", "")) for kind, m in zip(kinds, modules)}
  texts = {"modules.json": files.read_bytes(path).decode("utf-8")}
  for kind in kinds[1:]:  # Each module's configuration, kept as the source has it.
    name = os.path.join(folder[kind], "config.json")
    if os.path.isfile(os.path.join(source_dir, name)):
      texts[name] = files.read_bytes(os.path.join(source_dir, name)).decode("utf-8")
  pooling_path = os.path.join(source_dir, folder["Pooling"], "config.json")
  pooling = files.read_json(pooling_path, "Pooling config")
  mode = pooling_mode(pooling, pooling_path)
  width = pooling.get("embedding_dimension", pooling.get("word_embedding_dimension"))
  if width is not None and width != config.hidden_size:
    raise InputError(f"{pooling_path}: embedding dimension {width}, but the model's hidden size "
                     f"is {config.hidden_size}")
  if pooling.get("include_prompt", True) is not True:
    raise InputError(f"{pooling_path}: include_prompt false (pooling that leaves the prompt "
                     "out) is not supported")
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
  return StLayout(tuple(modules), texts, transformer, folder.get("Dense"),
                  _max_seq_length(source_dir, transformer, st_config, config),
                  "Normalize" in kinds, mode)


_LAYOUTS = ([k for k in ("Transformer", "Pooling", "Dense", "Normalize") if k not in drop]
            for drop in ((), ("Normalize",), ("Dense",), ("Dense", "Normalize")))
_LAYOUTS = tuple(_LAYOUTS)
# Sentence Transformers' older Pooling configuration: one boolean per mode.
_LEGACY_MODES = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                 "pooling_mode_mean_tokens": "mean",
                 "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                 "pooling_mode_weightedmean_tokens": "weightedmean",
                 "pooling_mode_lasttoken": "lasttoken"}


def pooling_mode(pooling: Mapping[str, object], path: str = "Pooling config") -> str:
  """A Pooling module's mode as Sentence Transformers reads its config.json: "pooling_mode"
  (a name or a list), else the older booleans (none set: "mean").

  Raises:
    InputError: a mode the encoder does not compute, or several concatenated (named).
  """
  if "pooling_mode" in pooling:
    modes = pooling["pooling_mode"]
    modes = list(modes) if isinstance(modes, (list, tuple)) else [modes]
  else:
    modes = [mode for key, mode in _LEGACY_MODES.items() if pooling.get(key)] or ["mean"]
  if len(modes) != 1:
    raise InputError(f"{path}: pooling modes {', '.join(map(str, modes))} concatenated: only one "
                     f"pooling mode is supported ({', '.join(POOLING_MODES)})")
  if modes[0] not in POOLING_MODES:
    raise InputError(f"{path}: pooling mode {modes[0]!r} is not supported (supported: "
                     f"{', '.join(POOLING_MODES)})")
  return str(modes[0])


def is_cls_pooling(pooling: Mapping[str, object]) -> bool:
  """A Pooling module's config.json says CLS pooling: Sentence Transformers 6's
  "pooling_mode": "cls", or the older pooling_mode_cls_token alone."""
  if "pooling_mode" in pooling:
    return pooling["pooling_mode"] in ("cls", ["cls"])
  return bool(pooling.get("pooling_mode_cls_token")) and not any(
      v for k, v in pooling.items() if k.startswith("pooling_mode_")
      and k != "pooling_mode_cls_token")


def sentence_head(source_dir: str, layout: StLayout, config: EncoderConfig) -> EncoderConfig:
  """`config` with the sentence head the layout declares: its pooling mode and its Dense
  module (activation, out features, bias), or none.

  Raises:
    InputError: a Dense module whose input is not the pooled vector, an activation the
      encoder does not compute, a residual connection, other input/output names.
  """
  if layout.dense_dir is None:
    return dataclasses.replace(config, pooling=layout.pooling, dense_activation=NO_DENSE,
                               dense_out_features=0, dense_bias=True)
  dense_path = os.path.join(source_dir, layout.dense_dir, "config.json")
  dense = files.read_json(dense_path, "Dense config")
  d = config.hidden_size
  activation = dense.get("activation_function", "torch.nn.modules.activation.Tanh")
  out = dense.get("out_features")
  if dense.get("in_features") != d or not isinstance(out, int) or out < 1:
    raise InputError(f"{dense_path}: the Dense module must take the pooled {d} values, got "
                     f"in_features {dense.get('in_features')!r}, out_features {out!r}")
  if activation not in DENSE_ACTIVATIONS:
    raise InputError(f"{dense_path}: activation_function {activation!r} is not supported "
                     f"(supported: {', '.join(DENSE_ACTIVATIONS)})")
  if dense.get("use_residual", False) or dense.get("module_input_name", "sentence_embedding") \
      != "sentence_embedding" or dense.get("module_output_name") not in (None,
                                                                         "sentence_embedding"):
    raise InputError(f"{dense_path}: a Dense module with a residual or other inputs/outputs "
                     "is not supported")
  return dataclasses.replace(config, pooling=layout.pooling,
                             dense_activation=DENSE_ACTIVATIONS[activation],
                             dense_out_features=out, dense_bias=bool(dense.get("bias", True)))


def _max_seq_length(source_dir: str, transformer: str, st_config: Mapping[str, object],
                    config: EncoderConfig) -> int:
  """What Sentence Transformers truncates to: sentence_bert_config.json's max_seq_length
  (older saves), else the tokenizer's model_max_length, at most the model's positions."""
  value = st_config.get("max_seq_length")
  tokenizer_config = os.path.join(source_dir, transformer, "tokenizer_config.json")
  if value is None and os.path.isfile(tokenizer_config):
    value = files.read_json(tokenizer_config).get("model_max_length")
  if not isinstance(value, int) or value > config.max_tokens:
    value = config.max_tokens
  return value


def read_dense(source_dir: str, layout: StLayout) -> Optional[Dense]:
  """The Dense module's weights (model.safetensors, or pytorch_model.bin with PyTorch); None
  without a Dense module."""
  if layout.dense_dir is None:
    return None
  folder = os.path.join(source_dir, layout.dense_dir)
  paths = [p for p in (os.path.join(folder, MODEL_FILE), os.path.join(folder, TORCH_FILE))
           if os.path.isfile(p)]
  if not paths:
    raise InputError(f"{folder}: no weights ({MODEL_FILE} or {TORCH_FILE})")
  return read_dense_file(paths[0])


def read_dense_file(path: str) -> Dense:
  """A Dense module's weights file (safetensors, or a torch file with PyTorch)."""
  tensors = TensorFiles([path])
  if "linear.weight" not in tensors.names():
    raise InputError(f"{path}: no tensor 'linear.weight': not a Dense module's weights")
  return Dense(tensors.tensor("linear.weight"),
               tensors.tensor("linear.bias") if "linear.bias" in tensors.names() else None)


# --- Writing --------------------------------------------------------------------------------

def check_max_seq_length(max_seq_length: int, config: EncoderConfig) -> None:
  """Raises InputError unless [CLS] + at least one token + [SEP] fit the positions."""
  if not 2 < max_seq_length <= config.max_tokens:
    held = (f"{config.max_position_embeddings} positions" if config.max_tokens
            == config.max_position_embeddings else f"{config.max_position_embeddings} "
            f"positions, which hold {config.max_tokens} tokens")
    raise InputError(f"max_seq_length {max_seq_length}: must be between 3 and the model's "
                     f"{held}")


def holds_same_model(st_dir: str, tokens: Sequence[str], source: str,
                     layout: Optional[StLayout] = None) -> bool:
  """Whether `st_dir` already holds the export of these weights (`source`) and vocab."""
  folder = os.path.join(st_dir, layout.transformer_dir if layout else "")
  vocab_path = os.path.join(folder, "vocab.txt")
  if not os.path.isfile(vocab_path):
    return False
  stored = read_metadata(os.path.join(folder, MODEL_FILE)).get(_METADATA_SOURCE)
  return stored == source and vocab_lib.read_token_file(vocab_path) == list(tokens)


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
  if layout.dense_dir is not None:  # The sentence head's Dense module (LaBSE's pooler).
    d, out = config.hidden_size, config.sentence_size
    tensors = [("linear.weight", (out, d),
                hf_layout(weights, "pooler_transform/kernel", "in_out"))]
    if config.dense_bias:
      tensors.append(("linear.bias", (out,), hf_layout(weights, "pooler_transform/bias", "copy")))
    write_safetensors(os.path.join(st_dir, layout.dense_dir, MODEL_FILE), tensors,
                      {"format": "pt"})
  texts = dict(layout.files)
  texts.update({os.path.join(layout.transformer_dir, name): text
                for name, text in text_files.items()})
  for name, text in texts.items():
    if isinstance(text, bytes):  # sentencepiece.bpe.model
      with open(os.path.join(st_dir, name), "wb") as f:
        f.write(text)
      continue
    with open(os.path.join(st_dir, name), "w", encoding="utf-8", newline="") as f:
      f.write(text)


def safetensors_metadata(source: str) -> Dict[str, str]:
  """The metadata of a BertModel file written for the fingerprint `source`."""
  return {"format": "pt", _METADATA_SOURCE: source}


def _link_or_copy(src: str, dst: str) -> None:
  """A hard link (the same bytes, no second copy on disk), or a copy across file systems."""
  try:
    os.link(src, dst)
  except OSError:
    shutil.copyfile(src, dst)
