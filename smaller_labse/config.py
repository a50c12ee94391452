"""The encoder's configuration: inferred from weight shapes, stored as config.json."""

import dataclasses
import json
from typing import Dict, Mapping, Sequence

from smaller_labse import atomic, files
from smaller_labse.errors import InputError

# The encoder's activation, by Hugging Face's names. "gelu" is the exact erf GELU; the others
# are the tanh approximation, which TF Model Garden's "gelu" (what LaBSE/2 computes) is.
GELU_ERF = ("gelu", "gelu_python")
GELU_TANH = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
TF_HUB_HIDDEN_ACT = "gelu_new"


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
