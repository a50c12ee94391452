"""An independent numpy reading of a Sentence Transformers export, to prove it equal.

Reads only the exported files (config.json, model.safetensors, modules.json, the Pooling
and Dense modules) and computes what Hugging Face's `BertModel` or `XLMRobertaModel` followed
by the Sentence Transformers modules computes, with their conventions (`nn.Linear` is
x @ W.T + b, activation named by config.json's `hidden_act`, RoBERTa's positions), in
float64. It
shares no code with the exporter or the TensorFlow encoder, so a wrong name,
transpose or reshape in the export shows up as an O(1) difference.

Shapes: B = batch, S = sequence length, D = hidden size, V' = rows read.
"""

import math
import os
from typing import Dict, List, Mapping, Optional

import numpy as np

from smaller_labse import files
from smaller_labse.errors import InputError
from smaller_labse.model.config import position_ids

# How far a float32 computation of one layer may be from this float64 one, relative to
# the layer's largest value: float32 rounds each product at 2^-24 (6e-8) and a dot product
# over n = 3,072 terms accumulates about sqrt(n) of those (3e-6); 1e-4 leaves a margin of
# 30 for the softmax, layer norm and GELU, while a mis-mapped weight is off by O(1).
LAYER_RTOL = 1e-4
_LAYOUTS = (["Transformer", "Pooling", "Dense", "Normalize"], ["Transformer", "Pooling", "Dense"],
            ["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"])
# Sentence Transformers' Dense activations (the torch class it writes) in float64.
_DENSE_ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": np.tanh,
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.ReLU": lambda x: np.maximum(x, 0.0),
    "torch.nn.modules.activation.GELU": lambda x: 0.5 * x * (
        1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0))),
    "torch.nn.modules.activation.Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "torch.nn.modules.activation.SiLU": lambda x: x / (1.0 + np.exp(-x)),
}
_OLD_POOLING = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
                "pooling_mode_max_tokens": "max",
                "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens"}


def _kind(module: Mapping[str, object]) -> str:
  """modules.json's type, 'sentence_transformers.models.Dense' or the 6.x module path -> 'Dense'."""
  return str(module.get("type", "")).rsplit(".", 1)[-1]


def _gelu(x: np.ndarray, kind: str) -> np.ndarray:
  if kind in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
  if kind in ("gelu", "gelu_python"):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
  if kind == "relu":
    return np.maximum(x, 0.0)
  raise InputError(f"hidden_act {kind!r} is not supported by the numpy check")


def _erf(x: np.ndarray) -> np.ndarray:
  """erf, float64, elementwise: TensorFlow's float64 kernel (as verification.py's arbiter),
  a special function and no part of the model's reading; numpy has none, and math.erf one
  element at a time took a minute a 24-layer model (3.3 million calls a layer)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  return tf.math.erf(tf.constant(np.asarray(x, np.float64))).numpy()


def l2_normalize(x: np.ndarray) -> np.ndarray:
  """[..., D] -> unit rows; as Normalize (torch's normalize) and tf.math.l2_normalize, a zero
  row stays zero."""
  return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
  mean = x.mean(-1, keepdims=True)
  var = ((x - mean) ** 2).mean(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + eps) * weight + bias


class NumpyStModel:
  """A Sentence Transformers export of a BERT model, evaluated in float64 numpy.

  Attributes:
    config: config.json as a dict.
  """

  def __init__(self, st_dir: str, token_ids: Optional[np.ndarray] = None):
    """Reads the export's configuration; tensors are read when used.

    Args:
      st_dir: the exported directory.
      token_ids: the only word embedding rows to read (int [R], any order); None
        reads the whole table.
    """
    from safetensors import safe_open  # Reading needs no PyTorch: the numpy API.
    modules = files.read_json(os.path.join(st_dir, "modules.json"))
    kinds = [_kind(m) for m in modules]
    if kinds not in _LAYOUTS:
      raise InputError(f"{st_dir}/modules.json: expected modules {_LAYOUTS[0]}, got {kinds}")
    bert_dir = os.path.join(st_dir, modules[0].get("path", ""))
    self.config = files.read_json(os.path.join(bert_dir, "config.json"))
    self.normalize = "Normalize" in kinds
    pooling = files.read_json(os.path.join(st_dir, modules[1]["path"], "config.json"))
    mode = pooling.get("pooling_mode")
    if mode is None:
      mode = [m for k, m in _OLD_POOLING.items() if pooling.get(k)] or ["mean"]
    self.pooling = mode[0] if isinstance(mode, list) and len(mode) == 1 else mode
    if self.pooling not in ("cls", "mean", "max", "mean_sqrt_len_tokens"):
      raise InputError(f"{st_dir}: the numpy check does not compute pooling {self.pooling!r}")
    self._activation = None
    self.dense: Dict[str, np.ndarray] = {}
    if "Dense" in kinds:
      dense_dir = os.path.join(st_dir, modules[2]["path"])
      dense_config = files.read_json(os.path.join(dense_dir, "config.json"))
      activation = dense_config.get("activation_function", "torch.nn.modules.activation.Tanh")
      if activation not in _DENSE_ACTIVATIONS:
        raise InputError(f"{st_dir}: Dense activation {activation}")
      self._activation = _DENSE_ACTIVATIONS[activation]
      with safe_open(os.path.join(dense_dir, "model.safetensors"), framework="numpy") as f:
        self.dense = {name: f.get_tensor(name).astype(np.float64) for name in f.keys()}
    self._path = os.path.join(bert_dir, "model.safetensors")
    self._rows: Optional[Dict[int, int]] = None
    self._table: Optional[np.ndarray] = None  # Word embedding rows read, float32.
    word = "embeddings.word_embeddings.weight"
    with safe_open(self._path, framework="numpy") as f:
      self._names = set(f.keys())
      if token_ids is not None:
        ids = sorted({int(i) for i in np.asarray(token_ids).reshape(-1)})
        table = f.get_slice(word)
        self._table = np.stack([table[i:i + 1][0] for i in ids])
        self._rows = {token: row for row, token in enumerate(ids)}

  def _f64(self, name: str) -> np.ndarray:
    """One tensor of model.safetensors as float64, read when used (nothing is kept)."""
    from safetensors import safe_open
    if name not in self._names:
      raise InputError(f"{self._path}: no tensor {name!r}")
    with safe_open(self._path, framework="numpy") as f:
      return f.get_tensor(name).astype(np.float64)

  def _linear(self, x: np.ndarray, prefix: str) -> np.ndarray:
    """nn.Linear: x [..., in] -> x @ W.T + b [..., out]."""
    flat = x.reshape(-1, x.shape[-1])  # One 2-D BLAS product, not one per batch row.
    out = flat @ self._f64(prefix + ".weight").T + self._f64(prefix + ".bias")
    return out.reshape(x.shape[:-1] + (out.shape[-1],))

  def embeddings(self, input_ids: np.ndarray, token_type_ids: np.ndarray,
                 attention_mask: Optional[np.ndarray] = None) -> np.ndarray:
    """input_ids, token_type_ids, attention_mask (default: all tokens): int [B, S] -> [B, S, D]
    float64 (after the layer norm)."""
    ids = np.asarray(input_ids)
    if self._rows is not None:
      table = self._table.astype(np.float64)
      ids = np.vectorize(self._rows.__getitem__, otypes=[np.int64])(ids)
    else:
      table = self._f64("embeddings.word_embeddings.weight")
    positions = position_ids(self.config, np.ones_like(ids) if attention_mask is None
                             else np.asarray(attention_mask))
    x = (table[ids]
         + self._f64("embeddings.position_embeddings.weight")[positions]
         + self._f64("embeddings.token_type_embeddings.weight")[np.asarray(token_type_ids)])
    return _layer_norm(x, self._f64("embeddings.LayerNorm.weight"),
                       self._f64("embeddings.LayerNorm.bias"), self.config["layer_norm_eps"])

  def layer(self, i: int, x: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """BertLayer i. x: [B, S, D]; attention_mask: [B, S] 1 = token, 0 = padding."""
    p = f"encoder.layer.{i}."
    eps = self.config["layer_norm_eps"]
    heads = self.config["num_attention_heads"]
    batch, seq_length, hidden = x.shape
    head_size = hidden // heads

    def split(t: np.ndarray) -> np.ndarray:  # [B, S, D] -> [B, N, S, H]
      return t.reshape(batch, seq_length, heads, head_size).transpose(0, 2, 1, 3)

    q = split(self._linear(x, p + "attention.self.query"))
    k = split(self._linear(x, p + "attention.self.key"))
    v = split(self._linear(x, p + "attention.self.value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_size)
    scores = np.where(np.asarray(attention_mask)[:, None, None, :] > 0, scores, -np.inf)
    scores -= scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq_length, hidden)
    x = _layer_norm(x + self._linear(context, p + "attention.output.dense"),
                    self._f64(p + "attention.output.LayerNorm.weight"),
                    self._f64(p + "attention.output.LayerNorm.bias"), eps)
    hidden_states = _gelu(self._linear(x, p + "intermediate.dense"), self.config["hidden_act"])
    return _layer_norm(x + self._linear(hidden_states, p + "output.dense"),
                       self._f64(p + "output.LayerNorm.weight"),
                       self._f64(p + "output.LayerNorm.bias"), eps)

  def pooler(self, cls_rows: np.ndarray) -> np.ndarray:
    """BertModel's pooler_output: [B, D] -> tanh(x @ W.T + b) [B, D]."""
    return np.tanh(self._linear(cls_rows, "pooler.dense"))

  def sentence_embedding(self, last_layer: np.ndarray, attention_mask: np.ndarray
                         ) -> np.ndarray:
    """Pooling -> [Dense] -> [Normalize] on the last layer [B, S, D]: [B, D']."""
    x = self.head(last_layer, attention_mask)
    return l2_normalize(x) if self.normalize else x

  def head(self, last_layer: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """Pooling and the Dense module (Sentence Transformers' conventions): [B, S, D] -> [B, D']."""
    x = np.asarray(last_layer, np.float64)
    mask = np.asarray(attention_mask, np.float64)[:, :, None]
    if self.pooling == "cls":
      pooled = x[:, 0]
    elif self.pooling == "max":
      pooled = np.where(mask > 0, x, -np.inf).max(axis=1)
    else:
      count = np.maximum(mask.sum(axis=1), 1e-9)
      pooled = (x * mask).sum(axis=1) / (count if self.pooling == "mean" else np.sqrt(count))
    if self._activation is None:
      return pooled
    out = pooled @ self.dense["linear.weight"].T
    if "linear.bias" in self.dense:
      out = out + self.dense["linear.bias"]
    return self._activation(out)

  def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray,
               token_type_ids: np.ndarray) -> Dict[str, object]:
    """The whole model: 'layers' (one [B, S, D] per layer), 'sentence_embedding' [B, D] and,
    when BertModel has a pooler, 'pooler_output' [B, D]; float64."""
    x = self.embeddings(input_ids, token_type_ids, attention_mask)
    layers: List[np.ndarray] = []
    for i in range(self.config["num_hidden_layers"]):
      x = self.layer(i, x, attention_mask)
      layers.append(x)
    out = {"layers": layers, "sentence_embedding": self.sentence_embedding(x, attention_mask)}
    if "pooler.dense.weight" in self._names:
      out["pooler_output"] = self.pooler(x[:, 0])
    return out


def _relative(expected: np.ndarray, actual: np.ndarray) -> float:
  scale = float(np.max(np.abs(expected))) if expected.size else 0.0
  return float(np.max(np.abs(expected - actual))) / max(scale, 1e-30) if expected.size else 0.0


def compare_with_encoder(st_dir: str, inputs: Mapping[str, np.ndarray],
                         reference: Mapping[str, object], pooler_is_head: bool = True
                         ) -> Dict[str, float]:
  """Compares the export with a TensorFlow evaluation of the same model, layer by layer.

  Each layer of the export is fed the reference's output of the layer before (the
  first one the token ids), so float32 rounding does not compound over the depth.

  Args:
    st_dir: the export.
    inputs: 'input_word_ids', 'input_mask', 'input_type_ids': int [B, S], the ids in
      the export's vocab.
    reference: 'encoder_outputs' (one float32 [B, S, D] per layer) and
      'pooled_output' [B, D] of the TF model on `inputs`.

  Returns:
    'layers': the largest relative difference over the layers (max abs difference /
    the layer's max abs value, real tokens only); 'pooled_output': max abs difference
    of the sentence head (Pooling [+ Dense], and BertModel's pooler when `pooler_is_head`) fed the
    reference's last layer; 'sentence_embedding': max abs
    difference between this model's sentence embedding, computed from the ids alone,
    and the reference's normalised pooled_output.
  """
  ids = np.asarray(inputs["input_word_ids"])
  mask = np.asarray(inputs["input_mask"])
  types = np.asarray(inputs["input_type_ids"])
  model = NumpyStModel(st_dir, token_ids=ids)
  real = mask.astype(bool)
  ref_layers = [np.asarray(x, np.float64) for x in reference["encoder_outputs"]]
  worst = 0.0
  x = model.embeddings(ids, types, mask)
  for i, expected in enumerate(ref_layers):
    actual = model.layer(i, x, mask)
    worst = max(worst, _relative(expected[real], actual[real]))
    x = expected
  pooled_ref = np.asarray(reference["pooled_output"], np.float64)
  cls = ref_layers[-1][:, 0]
  heads = [model.head(ref_layers[-1], mask)] + ([model.pooler(cls)] if pooler_is_head else [])
  ours = model(ids, mask, types)["sentence_embedding"]
  expected = l2_normalize(pooled_ref) if model.normalize else pooled_ref
  return {"layers": worst,
          "pooled_output": max(float(np.max(np.abs(h - pooled_ref))) for h in heads),
          "sentence_embedding": float(np.max(np.abs(ours - expected)))}
