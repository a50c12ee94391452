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

# How positions are numbered (Hugging Face's model_type): BERT's 0..S-1, or RoBERTa's
# padding_idx + 1, + 2... over the tokens (create_position_ids_from_input_ids), so that
# XLM-R's 514 positions hold 512 tokens.
BERT, XLM_ROBERTA = "bert", "xlm-roberta"
MODEL_TYPES = (BERT, XLM_ROBERTA)

# The sentence head: Sentence Transformers' Pooling modes computed here, and the Dense
# module's activations by the torch class name sentence-transformers writes -> our name.
POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len_tokens")
DENSE_ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": "tanh",
    "torch.nn.modules.linear.Identity": "identity",
    "torch.nn.modules.activation.ReLU": "relu",
    "torch.nn.modules.activation.GELU": "gelu",  # nn.GELU(): the erf form.
    "torch.nn.modules.activation.Sigmoid": "sigmoid",
    "torch.nn.modules.activation.SiLU": "silu",
}
NO_DENSE = ""  # dense_activation of a head without a Dense module.


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
  # How positions are numbered (BERT or XLM_ROBERTA) and RoBERTa's padding_idx.
  model_type: str = BERT
  pad_token_id: int = 0
  # The sentence head (`pooled_output`): Pooling mode (POOLING_MODES), then a Dense module
  # (activation: a value of DENSE_ACTIVATIONS, or NO_DENSE; out features, 0 = hidden_size;
  # bias). LaBSE's: [CLS], tanh, D -> D with bias (its pooler).
  pooling: str = "cls"
  dense_activation: str = "tanh"
  dense_out_features: int = 0
  dense_bias: bool = True

  def __post_init__(self):
    if self.hidden_act not in GELU_ERF + GELU_TANH:
      raise InputError(f"hidden_act {self.hidden_act!r} is not supported (the encoder computes "
                       f"{', '.join(GELU_ERF + GELU_TANH)})")
    if self.model_type not in MODEL_TYPES:
      raise InputError(f"model_type {self.model_type!r} is not supported ({', '.join(MODEL_TYPES)})")
    if self.pooling not in POOLING_MODES:
      raise InputError(f"pooling mode {self.pooling!r} is not supported "
                       f"({', '.join(POOLING_MODES)})")
    if self.dense_activation not in set(DENSE_ACTIVATIONS.values()) | {NO_DENSE}:
      raise InputError(f"Dense activation {self.dense_activation!r} is not supported "
                       f"({', '.join(DENSE_ACTIVATIONS)})")

  @property
  def approximate_gelu(self) -> bool:
    """True for the tanh approximation of GELU, False for the exact erf form."""
    return self.hidden_act in GELU_TANH

  @property
  def head_size(self) -> int:
    return self.hidden_size // self.num_heads

  @property
  def has_dense(self) -> bool:
    """Whether the sentence head has a Dense module (`pooler_transform/*`)."""
    return self.dense_activation != NO_DENSE

  @property
  def sentence_size(self) -> int:
    """The width of `pooled_output`: the Dense module's out features, else hidden_size."""
    return (self.dense_out_features or self.hidden_size) if self.has_dense else self.hidden_size

  @property
  def max_tokens(self) -> int:
    """The longest packed line the position table holds (XLM-R: 514 positions, 512 tokens)."""
    if self.model_type == XLM_ROBERTA:
      return self.max_position_embeddings - self.pad_token_id - 1
    return self.max_position_embeddings

  @property
  def is_labse_head(self) -> bool:
    """Whether the sentence head is LaBSE's: tanh(Dense D -> D) on [CLS]."""
    return (self.pooling, self.dense_activation, self.sentence_size, self.dense_bias) == (
        "cls", "tanh", self.hidden_size, True)

  def head_description(self) -> str:
    """'mean pooling', '[CLS] + Dense (tanh)'..."""
    pooled = "[CLS]" if self.pooling == "cls" else f"{self.pooling} pooling"
    if not self.has_dense:
      return pooled
    return f"{pooled} + Dense ({self.dense_activation}, {self.hidden_size} -> {self.sentence_size})"

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
    head = (h * self.sentence_size + self.sentence_size * self.dense_bias if self.has_dense
            else 0)  # pooler_transform: the Dense module
    other = (self.max_position_embeddings * h + self.type_vocab_size * h + 2 * h  # embeddings
             + head)
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
    int of the same library: BERT's positions 0..S-1, [1, S] (broadcast over the batch; the
    mask's values are not used); XLM-R's (RoBERTa's create_position_ids_from_input_ids),
    [B, S]: padding_idx + 1, + 2... over the tokens, padding_idx on padding.

  transformers numbers RoBERTa positions from `input_ids != padding_idx`: the same as the
  mask, except for a `<pad>` token written literally inside a line's text.
  """
  if isinstance(config, EncoderConfig):
    model_type, pad = config.model_type, config.pad_token_id
  else:
    model_type, pad = config.get("model_type", BERT), config.get("pad_token_id", 0)
  if isinstance(mask, np.ndarray):
    if model_type == XLM_ROBERTA:
      mask = (mask != 0).astype(np.int64)
      return np.cumsum(mask, axis=1) * mask + pad
    return np.arange(mask.shape[1])[np.newaxis]
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if model_type == XLM_ROBERTA:
    mask = tf.cast(tf.not_equal(mask, 0), tf.int32)
    return tf.cumsum(mask, axis=1) * mask + pad
  return tf.range(tf.shape(mask)[1])[tf.newaxis]


def position_embeddings(config: object, table, seq_length, mask=None):
  """Each token's position embedding, in TensorFlow.

  Args:
    config: the encoder's EncoderConfig.
    table: float32 [P, D], the position embedding table.
    seq_length: int32 scalar, S (`tf.shape(word_ids)[1]`).
    mask: int32 [B, S] (1 = a token), or None (every position a token).

  Returns:
    float32 [1, S, D] (broadcast over the batch) for BERT's positions 0..S-1, taken as a slice
    of the table so that the exported graph stays what it always was; [B, S, D], the rows of
    `position_ids`, for XLM-R's ([1, S, D] without a mask).
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if config.model_type == BERT:  # Positions depend on neither the mask nor the batch.
    return table[tf.newaxis, :seq_length]
  if mask is None:
    mask = tf.ones([1, seq_length], tf.int32)
  return tf.gather(table, position_ids(config, mask))


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
  if config.has_dense:  # The sentence head's Dense module (LaBSE's pooler).
    shapes["pooler_transform/kernel"] = (d, config.sentence_size)
    shapes["pooler_transform/bias"] = (config.sentence_size,)
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
