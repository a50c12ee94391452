"""Encoders that differ from LaBSE's in exactly one way, for the proof's refusal tests.

Each is `Encoder` with one deliberate change, exported in LaBSE/2's TF Hub format like a
correct model, so stage 1 sees a SavedModel with LaBSE's variables that computes something else.
"""

import dataclasses
import math
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from conftest import tiny_vocab
from smaller_labse.formats import tf_hub
from smaller_labse.model import encoder as encoder_lib
from smaller_labse.model.config import EncoderConfig, random_weights
from smaller_labse.model.encoder import Encoder


@dataclasses.dataclass(frozen=True)
class Variant:
  """One deviation (all off: the correct LaBSE encoder)."""
  exact_gelu: bool = False                # erf GELU instead of the tanh approximation
  scale_attention: bool = True            # False: scores not divided by sqrt(head size)
  swap_heads: Optional[int] = None        # in this layer, heads 0 and 1 swapped before output
  pre_layer_norm: Optional[int] = None    # this layer is a pre-layer-norm block
  weight_offset: Optional[Tuple[str, tuple, float]] = None  # computes with weight + delta


class VariantEncoder(Encoder):
  """`Encoder` with the changes of `variant` (its variables stay LaBSE's)."""

  def __init__(self, config, weights, variant: Variant):
    super().__init__(config, weights)
    self.variant = variant

  def _w(self, name):
    offset = self.variant.weight_offset
    if offset is not None and offset[0] == name:
      delta = np.zeros(self.weights[name].shape, np.float32)
      delta[offset[1]] = offset[2]
      return self.weights[name] + delta
    return self.weights[name]

  def attention(self, x, attention_bias, layer, training):
    p = f"transformer/layer_{layer}/self_attention/"
    q = tf.einsum("bsd,dnh->bsnh", x, self._w(p + "query/kernel")) + self._w(p + "query/bias")
    k = tf.einsum("bsd,dnh->bsnh", x, self._w(p + "key/kernel")) + self._w(p + "key/bias")
    v = tf.einsum("bsd,dnh->bsnh", x, self._w(p + "value/kernel")) + self._w(p + "value/bias")
    if self.variant.scale_attention:
      q = q * (1.0 / math.sqrt(self.config.head_size))
    probs = tf.nn.softmax(tf.einsum("btnh,bsnh->bnst", k, q) + attention_bias, axis=-1)
    context = tf.einsum("bnst,btnh->bsnh", probs, v)
    if self.variant.swap_heads == layer:
      n = self.config.num_heads
      context = tf.gather(context, [1, 0] + list(range(2, n)), axis=2)
    return (tf.einsum("bsnh,nhd->bsd", context, self._w(p + "attention_output/kernel"))
            + self._w(p + "attention_output/bias"))

  def transformer_layer(self, x, attention_bias, layer, training):
    p = f"transformer/layer_{layer}/"
    eps = self.config.layer_norm_epsilon
    norm = lambda y, name: encoder_lib._layer_norm(  # noqa: E731
        y, self._w(p + name + "/gamma"), self._w(p + name + "/beta"), eps)
    gelu = ((lambda y: tf.nn.gelu(y, approximate=False)) if self.variant.exact_gelu
            else encoder_lib._gelu)
    ffn = lambda y: (tf.einsum("bsi,id->bsd", gelu(  # noqa: E731
        tf.einsum("bsd,di->bsi", y, self._w(p + "intermediate/kernel"))
        + self._w(p + "intermediate/bias")), self._w(p + "output/kernel"))
        + self._w(p + "output/bias"))
    if self.variant.pre_layer_norm == layer:
      x = x + self.attention(norm(x, "self_attention_layer_norm"), attention_bias, layer, False)
      return x + ffn(norm(x, "output_layer_norm"))
    x = norm(x + self.attention(x, attention_bias, layer, False), "self_attention_layer_norm")
    return norm(x + ffn(x), "output_layer_norm")


CONFIG = EncoderConfig(vocab_size=0, hidden_size=32, num_layers=3, num_heads=4,
                       intermediate_size=64)


def scaled_weights(config: EncoderConfig, scale: float, embedding_scale: Optional[float] = None,
                   seed: int = 5):
  """BERT's random init with every matrix at `scale` (0.02: BERT's own) instead of 0.02."""
  weights = random_weights(config, seed)
  for name, value in weights.items():
    if value.ndim >= 2 and "embeddings" not in name:
      weights[name] = value * np.float32(scale / 0.02)
    elif value.ndim >= 2:
      weights[name] = value * np.float32((embedding_scale or scale) / 0.02)
  return weights


def export_variant(path, variant=Variant(), scale=0.2, embedding_scale=None, config=CONFIG):
  """Exports a VariantEncoder (tiny vocab) in LaBSE/2's format; returns the directory."""
  tokens = tiny_vocab()
  config = dataclasses.replace(config, vocab_size=len(tokens))
  weights = scaled_weights(dataclasses.replace(config, layer_norm_epsilon=1e-12), scale,
                           embedding_scale)
  tf_hub.export_encoder(VariantEncoder(config, weights, variant), tokens, str(path))
  return str(path)
