"""The encoder's configuration (inferred from weight shapes, stored as config.json) and the names
and shapes of its weights, as LaBSE/2's variables have them. No TensorFlow here: the downloads
and the formats' readers use it too."""

import dataclasses
import json
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

from smaller_labse import atomic, files
from smaller_labse.errors import InputError

# The encoder's activation, by Hugging Face's names. "gelu" is the exact erf GELU; the others
# are the tanh approximation, which TF Model Garden's "gelu" (what LaBSE/2 computes) is.
GELU_ERF = ("gelu", "gelu_python")
GELU_TANH = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
TF_HUB_HIDDEN_ACT = "gelu_new"

# The layer-by-layer proof's float32 error budget, in units of the rounding model's error
# (verification.py); here, without TensorFlow, for stage 1's --budget_factor.
BUDGET_FACTOR = 4.0


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Shape of a BERT-style LaBSE encoder (LaBSE/2: 501153, 768, 12, 12, 3072, 512, 2)."""
  vocab_size: int
  hidden_size: int = 768
  num_layers: int = 12
  num_heads: int = 12
  intermediate_size: int = 3072
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  do_lower_case: bool = False
  # Not stored in the weights; BERT's defaults, used only in training mode.
  dropout_rate: float = 0.1
  attention_dropout_rate: float = 0.1
  layer_norm_epsilon: float = 1e-12
  hidden_act: str = TF_HUB_HIDDEN_ACT  # see GELU_ERF, GELU_TANH

  def __post_init__(self):
    if self.hidden_act not in GELU_ERF + GELU_TANH:
      raise InputError(f"hidden_act {self.hidden_act!r} is not supported (the encoder computes "
                       f"{', '.join(GELU_ERF + GELU_TANH)})")

  @property
  def approximate_gelu(self) -> bool:
    """True for the tanh approximation of GELU, False for the exact erf form."""
    return self.hidden_act in GELU_TANH

  @property
  def head_size(self) -> int:
    return self.hidden_size // self.num_heads

  def with_vocab_size(self, vocab_size: int) -> "EncoderConfig":
    return dataclasses.replace(self, vocab_size=vocab_size)

  def parameter_counts(self) -> Dict[str, int]:
    """Parameter counts as in the README table.

    Returns:
      'transformer': the transformer layers; 'word_embedding': the word
      embedding table; 'model': every parameter (the layers, all embeddings,
      embedding layer norm and pooler).
    """
    h, i = self.hidden_size, self.intermediate_size
    per_layer = (4 * (h * h + h)  # query, key, value, attention_output
                 + (h * i + i) + (i * h + h)  # intermediate, output
                 + 2 * 2 * h)  # two layer norms
    transformer = self.num_layers * per_layer
    word_embedding = self.vocab_size * h
    other = (self.max_position_embeddings * h + self.type_vocab_size * h + 2 * h  # embeddings
             + h * h + h)  # pooler_transform
    return {"transformer": transformer, "word_embedding": word_embedding,
            "model": transformer + word_embedding + other}

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

  def save(self, path: str) -> None:
    atomic.write_text(path, self.to_json())

  @classmethod
  def load(cls, path: str) -> "EncoderConfig":
    values = files.read_json(path)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown or "vocab_size" not in values:
      raise InputError(f"{path}: not an encoder config (keys {sorted(values)})")
    return cls(**values)


def parameter_table(rows: Sequence[Tuple[str, Mapping[str, int], int]],
                    short: bool = False) -> List[str]:
  """The Markdown lines of the README's parameter table, a row per (model name,
  `EncoderConfig.parameter_counts()`, vocab size). Cells are '85,054,464 (85M)'; `short`: '85.1M',
  under a '| --- |' rule (the fidelity report's tables)."""
  rule = "| --- | ---: | ---: | ---: | ---: |" if short else "|---|---:|---:|---:|---:|"
  lines = ["| Model | #param(transformer) | #param(word embedding) | #param(model) | vocab size |",
           rule]
  for name, counts, vocab_size in rows:
    cells = [f"{counts[k] / 1e6:.1f}M" if short else f"{counts[k]:,} ({counts[k] / 1e6:.0f}M)"
             for k in ("transformer", "word_embedding", "model")]
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {vocab_size:,} |")
  return lines


def position_ids(config: object, mask):
  """The position-embedding row of each token, from the input mask.

  Args:
    config: the encoder's EncoderConfig (or a Hugging Face config.json mapping).
    mask: int [B, S] (1 = a token, 0 = padding), a numpy array or a TF tensor.

  Returns:
    int [1, S] of the same library, broadcast over the batch: BERT's positions 0..S-1, the
    same for every line (the mask's values are not used).
  """
  del config  # Every supported encoder numbers positions as BERT does.
  if isinstance(mask, np.ndarray):
    return np.arange(mask.shape[1])[np.newaxis]
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  return tf.range(tf.shape(mask)[1])[tf.newaxis]


def infer_config(shapes: Mapping[str, Sequence[int]], do_lower_case: bool = False) -> EncoderConfig:
  """Infers the configuration from LaBSE/2 variable names and shapes.

  Args:
    shapes: variable name (without ':0') -> shape, e.g.
      'word_embeddings/embeddings' -> [501153, 768].
    do_lower_case: the model's `do_lower_case` flag.

  Raises:
    InputError: the variables are not those of a LaBSE/2-style encoder.
  """
  def shape(name: str) -> Sequence[int]:
    if name not in shapes:
      raise InputError(f"not a LaBSE/BERT encoder: no variable {name!r}")
    return list(shapes[name])

  vocab_size, hidden = shape("word_embeddings/embeddings")
  num_layers = 0
  while f"transformer/layer_{num_layers}/self_attention/query/kernel" in shapes:
    num_layers += 1
  if num_layers == 0:
    raise InputError("not a LaBSE/BERT encoder: no variable 'transformer/layer_0/...'")
  _, heads, _ = shape("transformer/layer_0/self_attention/query/kernel")
  _, intermediate = shape("transformer/layer_0/intermediate/kernel")
  positions, _ = shape("position_embedding/embeddings")
  type_vocab, _ = shape("type_embeddings/embeddings")
  return EncoderConfig(vocab_size=vocab_size, hidden_size=hidden, num_layers=num_layers,
                       num_heads=heads, intermediate_size=intermediate,
                       max_position_embeddings=positions, type_vocab_size=type_vocab,
                       do_lower_case=do_lower_case)


WORD_EMBEDDINGS = "word_embeddings/embeddings"


def weight_shapes(config: EncoderConfig) -> Dict[str, Tuple[int, ...]]:
  """LaBSE/2's variable names (without ':0') and shapes, in the SavedModel's order."""
  d, n, h, i = config.hidden_size, config.num_heads, config.head_size, config.intermediate_size
  shapes = {
      WORD_EMBEDDINGS: (config.vocab_size, d),
      "position_embedding/embeddings": (config.max_position_embeddings, d),
      "type_embeddings/embeddings": (config.type_vocab_size, d),
      "embeddings/layer_norm/gamma": (d,),
      "embeddings/layer_norm/beta": (d,),
  }
  for layer in range(config.num_layers):
    p = f"transformer/layer_{layer}/"
    for projection in ("query", "key", "value"):
      shapes[p + f"self_attention/{projection}/kernel"] = (d, n, h)
      shapes[p + f"self_attention/{projection}/bias"] = (n, h)
    shapes[p + "self_attention/attention_output/kernel"] = (n, h, d)
    shapes[p + "self_attention/attention_output/bias"] = (d,)
    shapes[p + "self_attention_layer_norm/gamma"] = (d,)
    shapes[p + "self_attention_layer_norm/beta"] = (d,)
    shapes[p + "intermediate/kernel"] = (d, i)
    shapes[p + "intermediate/bias"] = (i,)
    shapes[p + "output/kernel"] = (i, d)
    shapes[p + "output/bias"] = (d,)
    shapes[p + "output_layer_norm/gamma"] = (d,)
    shapes[p + "output_layer_norm/beta"] = (d,)
  shapes["pooler_transform/kernel"] = (d, d)
  shapes["pooler_transform/bias"] = (d,)
  return shapes


def random_weights(config: EncoderConfig, seed: int = 0) -> Dict[str, np.ndarray]:
  """BERT-style random initialisation: normal(0, 0.02) clipped at 2 sigma; norms 1, biases 0."""
  rng = np.random.default_rng(seed)
  weights = {}
  for name, shape in weight_shapes(config).items():
    if name.endswith("/gamma"):
      weights[name] = np.ones(shape, np.float32)
    elif name.endswith(("/beta", "/bias")):
      weights[name] = np.zeros(shape, np.float32)
    else:
      value = rng.standard_normal(shape, dtype=np.float32)  # float32: LaBSE's table is 1.5 GB.
      value *= 0.02
      weights[name] = np.clip(value, -0.04, 0.04, out=value)
  return weights
