"""Where a model comes from, behind one interface: what every stage reads of a model.

Three kinds of source, told apart by their files:

| kind | files | configuration | tokenizer | sentence embedding |
|---|---|---|---|---|
| `tfhub` | saved_model.pb (LaBSE/2's format) | inferred from variable shapes | BertTokenizer on assets/cased_vocab.txt | pooled_output |
| `sentence-transformers` | modules.json | config.json (+ sentence_bert_config.json) | tokenizer.json (else vocab.txt) | Pooling [+ Dense] [+ Normalize] |
| `huggingface` | config.json (a BertModel or XLMRobertaModel) | config.json | tokenizer.json (else vocab.txt) | normalised pooler_output |

`open_source` reads any of them into a `Model`; stage 1's weight store (store.py) reads
back into the same `Model`, so stages 2-4 do not care where a model came from. A
`Model`'s `pooler_transform/*` weights are always its sentence head: the Sentence
Transformers Dense module for such a source, the pooler otherwise.
"""

import contextlib
import dataclasses
import hashlib
import importlib
import os
import re
from collections.abc import Mapping
from typing import Dict, List, Optional

import numpy as np

from smaller_labse import files
from smaller_labse.formats import hf_bert
from smaller_labse.formats import sentence_transformers as st_layout
from smaller_labse.tokenizers import tf_hub_wordpiece
from smaller_labse.tokenizers.base import Role, Tokenizer
from smaller_labse.model.config import WORD_EMBEDDINGS, EncoderConfig
from smaller_labse.errors import InputError

TFHUB, SENTENCE_TRANSFORMERS, HUGGING_FACE = "tfhub", "sentence-transformers", "huggingface"
EMBEDDING = {TFHUB: "pooled_output (LaBSE/2's; normalise it for similarity)",
             SENTENCE_TRANSFORMERS: "Dense (tanh) on [CLS], normalised (the source's modules)",
             HUGGING_FACE: "pooler_output, normalised"}


@dataclasses.dataclass
class Model:
  """A model as the stages see it.

  Attributes:
    path: where it was read from (the source, or stage 1's weight store).
    kind: TFHUB, SENTENCE_TRANSFORMERS or HUGGING_FACE: the source's kind.
    name: the default name of its outputs ("LaBSE" for TF Hub's; a directory's name).
    config: the encoder's shape and activation; do_lower_case from the tokenizer.
    tokenizer: the tokenizer it runs (`base.Tokenizer`: TF Hub's WordPiece, a Hugging Face
      source's own...).
    tokens: the token of each embedding row (len == config.vocab_size).
    weights: LaBSE/2 variable name -> float32 array, tf.Variable or (word embeddings) a row
      reader; `pooler_transform/*` is the sentence head.
    bert_pooler: what a Hugging Face export stores as BertModel's `pooler.dense`:
      hf_bert.SENTENCE_HEAD, a Sentence Transformers source's own pooler (Hugging Face
      arrays: after fine-tuning it is stale, as Sentence Transformers never runs it), or None.
    layout: a Sentence Transformers source's modules (None for the other kinds).
    bert_config: a Hugging Face source's config.json values (None for TF Hub).
    weight_files: a Hugging Face source's weight files.
    saved_model: a TF Hub source's loaded SavedModel (None otherwise).
  """
  path: str
  kind: str
  name: str
  config: EncoderConfig
  tokenizer: Tokenizer
  tokens: List[str]
  weights: Mapping[str, object]
  bert_pooler: object = hf_bert.SENTENCE_HEAD
  layout: Optional[st_layout.StLayout] = None
  bert_config: Optional[Dict[str, object]] = None
  weight_files: List[str] = dataclasses.field(default_factory=list)
  saved_model: object = None

  @property
  def dense(self) -> Optional[hf_bert.Dense]:
    """A Sentence Transformers source's Dense module (its sentence head), else None."""
    return getattr(self.weights, "dense", None)

  @property
  def is_tf_hub(self) -> bool:
    """A TF Hub SavedModel: stage 1 writes its Sentence Transformers copy and can check its
    preprocessor's tokenization (the other kinds are already in that format)."""
    return self.kind == TFHUB

  @property
  def description(self) -> str:
    """How the smaller model's card names where it was cut from."""
    return ("google/LaBSE/2 (TF Hub)" if self.is_tf_hub
            else f"the {self.kind} model {self.name!r}")

  @property
  def embedding(self) -> str:
    """What the source's users call its sentence embedding."""
    if self.kind == SENTENCE_TRANSFORMERS and self.layout is not None:
      normalised = ", normalised" if self.layout.normalize else ""
      return f"{self.config.head_description()}{normalised} (the source's modules)"
    return EMBEDDING[self.kind]

  def weights_for_rows(self, rows: np.ndarray) -> "WeightsForRows":
    """The weights with only the word embedding rows `rows` (int [R]), for a small encoder:
    each read when looked up, so that an encoder built from them holds one copy."""
    return WeightsForRows(self.weights, rows)


class WeightsForRows(Mapping):
  """A model's weights with only the word embedding rows `rows`, each read when looked up
  (`Encoder(config, weights)` then reads one tensor at a time: a 24-layer model's 1.2 GB of
  layers are never held twice)."""

  def __init__(self, weights: Mapping[str, object], rows: np.ndarray):
    self._weights, self._rows = weights, rows

  def __getitem__(self, name: str):
    value = self._weights[name]
    if name == WORD_EMBEDDINGS:
      value = (value.rows(self._rows) if hasattr(value, "rows")
               else np.asarray(_gather(value, self._rows), np.float32))
    return value

  def __iter__(self):
    return iter(self._weights)

  def __len__(self) -> int:
    return len(self._weights)


def _gather(value, rows: np.ndarray):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  return tf.gather(value, rows).numpy()


def source_kind(path: str) -> str:
  """TFHUB, SENTENCE_TRANSFORMERS or HUGGING_FACE, from the files in `path`."""
  if not os.path.exists(path):
    raise InputError(f"{path}: no such directory")
  if not os.path.isdir(path):
    raise InputError(f"{path}: not a directory (expected a model directory)")
  if os.path.isfile(os.path.join(path, "saved_model.pb")):
    return TFHUB
  if st_layout.is_sentence_transformers_dir(path):
    return SENTENCE_TRANSFORMERS
  if os.path.isfile(os.path.join(path, "config.json")):
    return HUGGING_FACE
  raise InputError(f"{path}: not a model: expected a TF Hub SavedModel (saved_model.pb), a "
                   "Sentence Transformers directory (modules.json) or a Hugging Face BERT "
                   "directory (config.json)")


def open_source(path: str) -> Model:
  """Reads a source of any kind (see the module docstring).

  Raises:
    InputError: not a model this project reads (not BERT, another Sentence Transformers layout,
      a SentencePiece tokenizer...), shapes that disagree, a tokenizer whose vocab does not fit
      the embedding table, an unsupported hidden_act.
  """
  kind = source_kind(path)
  if kind == TFHUB:
    return _open_tfhub(path)
  return _open_hugging_face(path, kind)


def _open_tfhub(path: str) -> Model:
  from smaller_labse.formats import tf_hub  # pylint: disable=import-outside-toplevel
  saved_model, config, variables, tokens = tf_hub.load_encoder(path)
  return Model(path=path, kind=TFHUB, name="LaBSE", config=config,
               tokenizer=tf_hub_wordpiece.TfHubTokenizer(tokens, config.do_lower_case),
               tokens=tokens, weights=variables, saved_model=saved_model)


def _open_hugging_face(path: str, kind: str) -> Model:
  from smaller_labse.tokenizers import hf_loading  # pylint: disable=import-outside-toplevel
  layout = None
  bert_dir = path
  if kind == SENTENCE_TRANSFORMERS:
    # The Transformer module's folder holds config.json: read its shape first.
    modules_path = os.path.join(path, "modules.json")
    modules = files.read_json(modules_path, "modules.json")
    transformer = next((str(m.get("path", "")) for m in modules if isinstance(m, dict)
                        and str(m.get("type", "")).endswith("Transformer")), "") \
        if isinstance(modules, list) else ""
    bert_dir = os.path.join(path, transformer)
  config_path = os.path.join(bert_dir, "config.json")
  config, values = hf_bert.read_bert_config(config_path)
  # This project's own exports (and their fine-tunes) run TF Hub's BertTokenizer.
  tokenizer = (tf_hub_wordpiece.read_tfhub_twin(bert_dir) or _unigram_tokenizer(bert_dir)
               or hf_loading.load_model_dir(bert_dir))
  config = dataclasses.replace(config, do_lower_case=tokenizer.lower_case)
  tokens = tokenizer.row_tokens(config.vocab_size)
  if len(tokens) != config.vocab_size:
    raise InputError(f"{bert_dir}/vocab.txt: {len(tokens)} tokens, but {config_path} says "
                     f"vocab_size={config.vocab_size}")
  _check_pad(config, tokenizer, config_path)
  _check_pad_held(values, tokenizer, config_path)
  dense = None
  if kind == SENTENCE_TRANSFORMERS:
    layout = st_layout.read_layout(path, config)
    config = st_layout.sentence_head(path, layout, config)
    dense = st_layout.read_dense(path, layout)
  weight_files = hf_bert.find_weight_files(bert_dir)
  weights = hf_bert.BertWeights(config, weight_files, config_path, dense)
  bert_pooler = weights.bert_pooler if kind == SENTENCE_TRANSFORMERS else hf_bert.SENTENCE_HEAD
  return Model(path=path, kind=kind, name=os.path.basename(os.path.normpath(path)) or "model",
               config=config, tokenizer=tokenizer, tokens=tokens, weights=weights,
               bert_pooler=bert_pooler, layout=layout, bert_config=values,
               weight_files=weight_files)


def _unigram_tokenizer(model_dir: str) -> Optional[Tokenizer]:
  """A SentencePiece Unigram tokenizer.json's tokenizer (XLM-R's), else None."""
  path = os.path.join(model_dir, "tokenizer.json")
  if not os.path.isfile(path):
    return None
  with open(path, "rb") as f:  # The model's type, without parsing 10 MB twice for WordPiece.
    if not re.search(rb'"type"\s*:\s*"Unigram"', f.read()):
      return None
  from smaller_labse.tokenizers.hf_unigram import HfUnigramTokenizer  # pylint: disable=import-outside-toplevel
  return HfUnigramTokenizer.from_model_dir(model_dir)


def _check_pad(config: EncoderConfig, tokenizer: Tokenizer, config_path: str) -> None:
  """An XLMRobertaModel numbers positions from its pad_token_id: it must be the tokenizer's
  padding token, which marks the padding the positions skip."""
  if config.model_type != "xlm-roberta":
    return
  pad = tokenizer.special_ids().get(Role.PAD)
  if config.pad_token_id != pad:
    tokens = tokenizer.row_tokens(config.vocab_size)
    held = (repr(tokens[config.pad_token_id]) if 0 <= config.pad_token_id < len(tokens)
            else "no token")
    raise InputError(f"{config_path}: pad_token_id {config.pad_token_id} ({held}) is not the "
                     f"tokenizer's padding token (id {pad}): XLMRobertaModel's positions would "
                     "not skip the padding")


def _check_pad_held(values: Mapping[str, object], tokenizer: Tokenizer, config_path: str) -> None:
  """config.json's pad_token_id, where it declares one, must be a token of the tokenizer (the
  rows beyond it, as multilingual-e5-small's 35, are never produced: a smaller vocab drops
  them)."""
  pad = values.get("pad_token_id")
  if pad is None:
    return
  held = len(tokenizer.row_tokens())
  if type(pad) is not int or not 0 <= pad < held:
    raise InputError(f"{config_path}: pad_token_id {pad!r} is not a token of the tokenizer "
                     f"({held:,} tokens)")


def fingerprint(model: Model) -> Dict[str, object]:
  """What identifies a source's content, for reruns and for stage 3 to detect a changed source.

  TF Hub: the checksum of variables.index (it holds a checksum of every tensor). Hugging
  Face: each file's SHA-256, the weight files' size, modification time and header's SHA-256
  (hashing gigabytes would cost more than the stage).
  """
  if model.kind == TFHUB:
    with open(os.path.join(model.path, "variables", "variables.index"), "rb") as f:
      return {"variables_index_sha256": hashlib.sha256(f.read()).hexdigest()}
  return {"weights": [file_stamp(p) for p in model.weight_files]}


def file_stamp(path: str) -> Dict[str, object]:
  """A large file's identity: absolute path, size, modification time, SHA-256 of its first MiB."""
  stat = os.stat(path)
  with open(path, "rb") as f:
    head = hashlib.sha256(f.read(1 << 20)).hexdigest()
  return {"path": os.path.abspath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
          "head_sha256": head}


# --- The source's own outputs, for the layer-by-layer proof --------------------------------

# Who computed a source's outputs for the proof: short labels, and how the output says it.
PROOF_SAVEDMODEL, PROOF_TRANSFORMERS, PROOF_FLOAT64 = "SavedModel", "transformers", "float64"
PROOF_BY = {PROOF_SAVEDMODEL: "the SavedModel", PROOF_TRANSFORMERS: "transformers' BertModel",
            PROOF_FLOAT64: "a float64 evaluation of the source's weights"}


def proof_by(model: Model, by: str) -> str:
  """Who computed the proof's reference outputs, in words (naming transformers' class)."""
  if by == PROOF_TRANSFORMERS:
    return f"transformers' {hf_bert.ARCHITECTURES[model.bert_config['model_type']]}"
  return PROOF_BY[by]


def own_outputs(model: Model, inputs: Mapping[str, np.ndarray]
                ) -> Optional[Dict[str, object]]:
  """The source run by its own library on `inputs` (int32 [B, S] 'input_word_ids' = rows,
  'input_mask', 'input_type_ids').

  Returns:
    'encoder_outputs' (one float32 [B, S, D] per layer), 'sequence_output' [B, S, D],
    'pooled_output' [B, D] (the sentence head's output, before any normalisation) and 'by'
    (who computed them: PROOF_SAVEDMODEL or PROOF_TRANSFORMERS); None for a Hugging Face
    source when PyTorch or transformers is not installed.
  """
  if model.kind == TFHUB:
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    outputs = model.saved_model({k: tf.constant(v) for k, v in inputs.items()}, training=False)
    if "encoder_outputs" not in outputs:
      raise InputError(f"{model.path}: the encoder does not return 'encoder_outputs' (one "
                       "output per layer, as LaBSE/2 does): cannot prove it layer by layer")
    return {"encoder_outputs": [np.asarray(x) for x in outputs["encoder_outputs"]],
            "sequence_output": np.asarray(outputs["sequence_output"]),
            "pooled_output": np.asarray(outputs["pooled_output"]), "by": PROOF_SAVEDMODEL}
  try:
    import torch  # pylint: disable=import-outside-toplevel
    import transformers  # pylint: disable=import-outside-toplevel
  except ImportError:
    return None
  ids = np.asarray(inputs["input_word_ids"])
  mask = torch.from_numpy(np.asarray(inputs["input_mask"], np.int64))
  used = np.unique(ids)
  # The source's own config.json decides (not the rebuild's reading of it).
  if model.bert_config.get("model_type") == "xlm-roberta":  # Positions skip the pad id: keep its row.
    used = np.union1d(used, [int(model.bert_config.get("pad_token_id", 1))])
  remapped = np.searchsorted(used, ids)
  encoder = _transformers_model(model, used, torch, transformers)
  with torch.no_grad():
    out = encoder(input_ids=torch.from_numpy(remapped.astype(np.int64)), attention_mask=mask,
                  token_type_ids=torch.from_numpy(np.asarray(inputs["input_type_ids"], np.int64)),
                  output_hidden_states=True)
    pooled = (out.pooler_output if model.layout is None
              else _sentence_transformers_head(model, out.last_hidden_state, mask, torch))
  return {"encoder_outputs": [h.numpy() for h in out.hidden_states[1:]],
          "sequence_output": out.last_hidden_state.numpy(), "pooled_output": pooled.numpy(),
          "by": PROOF_TRANSFORMERS}


def _transformers_model(model: Model, used: np.ndarray, torch, transformers):
  """transformers' BertModel or XLMRobertaModel of the source's config.json and weights, with
  only the word embedding rows `used` (its ids are positions in `used`; an XLM-R pad id
  too): the whole computation is the library's own, without the gigabyte-sized table."""
  values = dict(model.bert_config, vocab_size=len(used))
  if values.get("model_type") == "xlm-roberta":
    values["pad_token_id"] = int(np.searchsorted(used, values.get("pad_token_id", 1)))
    config = transformers.XLMRobertaConfig.from_dict(values)
    cls = transformers.XLMRobertaModel
  else:
    config = transformers.BertConfig.from_dict(values)
    cls = transformers.BertModel
  with _no_init_weights():  # Every weight is loaded next: no random init (time, memory).
    encoder = cls(config, add_pooling_layer=model.bert_pooler is not None)
  state = {name: torch.from_numpy(np.ascontiguousarray(value))
           for name, value in model.weights.hf_state(used).items()
           if name.startswith("pooler.") <= (model.bert_pooler is not None)}
  # assign: the model's parameters become the arrays just read (one copy of the weights).
  missing, unexpected = encoder.load_state_dict(state, strict=False, assign=True)
  del state
  missing = [m for m in missing if not m.endswith(("position_ids", "token_type_ids"))]
  if missing or unexpected:
    raise InputError(f"{model.path}: transformers' {cls.__name__} does not take these weights "
                     f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
  return encoder.eval()


def _no_init_weights():
  """transformers' context that skips weight initialisation (transformers 5's
  `initialization.no_init_weights`, 4.x's `modeling_utils.no_init_weights`), or a context
  that does nothing where neither exists."""
  for module in ("transformers.initialization", "transformers.modeling_utils"):
    try:
      return getattr(importlib.import_module(module), "no_init_weights")()
    except (ImportError, AttributeError):
      continue
  return contextlib.nullcontext()


def _sentence_transformers_head(model: Model, token_embeddings, mask, torch):
  """The source's Pooling and Dense modules on the last layer, as Sentence Transformers runs
  them (its Normalize is left out: pooled_output is the head before it)."""
  layout = model.layout
  try:  # Sentence Transformers 6's module paths, else the older ones.
    from sentence_transformers.base.modules import Dense  # pylint: disable=import-outside-toplevel
    from sentence_transformers.sentence_transformer.modules import Pooling  # pylint: disable=import-outside-toplevel
  except ImportError:
    try:
      from sentence_transformers.models import Dense, Pooling  # pylint: disable=import-outside-toplevel
    except ImportError:
      return _torch_head(model, token_embeddings, mask, torch)
  pooling = next(str(m.get("path", "")) for m in layout.modules
                 if str(m.get("type", "")).endswith("Pooling"))
  features = {"token_embeddings": token_embeddings, "attention_mask": mask}
  features = Pooling.load(os.path.join(model.path, pooling))(features)
  if layout.dense_dir is not None:
    features = Dense.load(os.path.join(model.path, layout.dense_dir))(features)
  return features["sentence_embedding"]


def _torch_head(model: Model, x, mask, torch):
  """Sentence Transformers' Pooling and Dense, written in torch, when it is not installed."""
  config = model.config
  m = mask.unsqueeze(-1).to(x.dtype)
  if config.pooling == "cls":
    pooled = x[:, 0]
  elif config.pooling == "max":
    pooled = x.masked_fill(m == 0, float("-inf")).max(dim=1).values
  else:
    count = torch.clamp(m.sum(dim=1), min=1e-9)
    pooled = (x * m).sum(dim=1) / (count if config.pooling == "mean" else torch.sqrt(count))
  if not config.has_dense:
    return pooled
  dense = model.weights.dense
  bias = None if dense.bias is None else torch.from_numpy(dense.bias)
  linear = torch.nn.functional.linear(pooled, torch.from_numpy(dense.weight), bias)
  return {"tanh": torch.tanh, "identity": lambda t: t, "relu": torch.relu,
          "gelu": torch.nn.functional.gelu, "sigmoid": torch.sigmoid,
          "silu": torch.nn.functional.silu}[config.dense_activation](linear)
