"""The LaBSE encoder, rebuilt in plain TensorFlow and readable in one sitting.

A BERT encoder (post-layer-norm Transformer, GELU (tanh approximation, or erf when the
source declares it), tanh pooler on the first token) whose weights carry exactly the variable names of google/LaBSE/2, so the
TF Hub SavedModel's variables map one to one onto `Encoder.weights`.

Shapes: B = batch, S = sequence length, D = hidden size, N = heads,
H = head size (D / N), I = intermediate size, V = vocab size.
"""

import math
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from smaller_labse.model.config import (WORD_EMBEDDINGS, EncoderConfig, position_embeddings,
                                        random_weights, weight_shapes)

WeightValue = Union[np.ndarray, tf.Variable]

def _layer_norm(x: tf.Tensor, gamma: tf.Variable, beta: tf.Variable, epsilon: float) -> tf.Tensor:
  """Layer norm over the last axis. x: [..., D] float32."""
  mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
  return tf.nn.batch_normalization(x, mean, variance, beta, gamma, epsilon)


def attention_bias(input_mask: tf.Tensor) -> tf.Tensor:
  """input_mask: [B, S] (1 = real token) -> float32 [B, 1, 1, S], added to attention scores.

  Padding keys get a large negative score; exp() of it is exactly 0.
  """
  return (1.0 - tf.cast(input_mask, tf.float32))[:, tf.newaxis, tf.newaxis, :] * -1e9


def _gelu(x: tf.Tensor, approximate: bool = True) -> tf.Tensor:
  """GELU: the tanh approximation (TF Model Garden's "gelu", which LaBSE/2 computes) or, for
  sources that declare Hugging Face's "gelu", the exact erf form."""
  return tf.nn.gelu(x, approximate=approximate)


_ACTIVATIONS = {"tanh": tf.tanh, "identity": tf.identity, "relu": tf.nn.relu,
                "gelu": lambda x: tf.nn.gelu(x, approximate=False), "sigmoid": tf.sigmoid,
                "silu": tf.nn.silu}


def pool_tokens(x: tf.Tensor, mask: Optional[tf.Tensor], mode: str) -> tf.Tensor:
  """Sentence Transformers' Pooling: x [B, S, D] (for "cls" also the first rows [B, D]) and
  the input mask [B, S] -> [B, D]. "mean": the mean over the tokens; "mean_sqrt_len_tokens":
  their sum / sqrt(count); "max": the largest value over the tokens, per dimension."""
  if mode == "cls":
    return x if x.shape.rank == 2 else x[:, 0]
  m = tf.cast(mask, x.dtype)[:, :, tf.newaxis]
  if mode == "max":
    return tf.reduce_max(tf.where(m > 0, x, tf.constant(-np.inf, x.dtype)), axis=1)
  total = tf.reduce_sum(x * m, axis=1)
  count = tf.maximum(tf.reduce_sum(m, axis=1), 1e-9)
  return total / (count if mode == "mean" else tf.sqrt(count))


def sentence_head(config: EncoderConfig, x: tf.Tensor, mask: Optional[tf.Tensor],
                  kernel: Optional[tf.Tensor], bias: Optional[tf.Tensor]) -> tf.Tensor:
  """The sentence head `pooled_output`: Pooling, then the Dense module when there is one
  (activation(pooled @ kernel + bias))."""
  pooled = pool_tokens(x, mask, config.pooling)
  if not config.has_dense:
    return pooled
  return _ACTIVATIONS[config.dense_activation](tf.nn.bias_add(tf.matmul(pooled, kernel), bias))


class Encoder(tf.Module):
  """LaBSE's BERT encoder.

  Attributes:
    config: the shape of the model.
    weights: variable name (LaBSE/2's, e.g. 'transformer/layer_0/intermediate/kernel')
      -> tf.Variable, in `weight_shapes` order.
  """

  def __init__(self, config: EncoderConfig, weights: Optional[Mapping[str, WeightValue]] = None,
               seed: int = 0):
    """Creates the encoder's variables.

    Args:
      config: the model's shape.
      weights: name -> value. A tf.Variable is used as is (shared, not copied),
        an array becomes a new variable. None: random weights from `seed`.
      seed: seed of the random weights.
    """
    super().__init__(name="encoder")
    self.config = config
    if weights is None:
      weights = random_weights(config, seed)
    self.weights: Dict[str, tf.Variable] = {}
    for name, shape in weight_shapes(config).items():
      if name not in weights:
        raise ValueError(f"missing weight {name!r}")
      value = weights[name]
      if tuple(value.shape) != shape:
        raise ValueError(f"weight {name!r} has shape {tuple(value.shape)}, expected {shape}")
      if isinstance(value, tf.Variable):
        self.weights[name] = value
      else:
        self.weights[name] = tf.Variable(value, name=name, dtype=tf.float32)

  @property
  def ordered_variables(self) -> List[tf.Variable]:
    """The weights in LaBSE/2's order (tf.Module.variables sorts them by attribute)."""
    return list(self.weights.values())

  def _w(self, name: str) -> tf.Variable:
    return self.weights[name]

  def _dropout(self, x: tf.Tensor, rate: float, training: bool) -> tf.Tensor:
    return tf.nn.dropout(x, rate=rate) if training and rate > 0 else x

  def embed(self, word_ids: tf.Tensor, type_ids: tf.Tensor, training: bool,
            mask: Optional[tf.Tensor] = None) -> tf.Tensor:
    """word_ids, type_ids, mask (default: all tokens): [B, S] int32 -> [B, S, D] float32."""
    seq_length = tf.shape(word_ids)[1]
    x = (tf.gather(self._w(WORD_EMBEDDINGS), word_ids)
         + position_embeddings(self.config, self._w("position_embedding/embeddings"), seq_length,
                               mask)
         + tf.gather(self._w("type_embeddings/embeddings"), type_ids))
    x = _layer_norm(x, self._w("embeddings/layer_norm/gamma"),
                    self._w("embeddings/layer_norm/beta"), self.config.layer_norm_epsilon)
    return self._dropout(x, self.config.dropout_rate, training)

  def attention(self, x: tf.Tensor, attention_bias: tf.Tensor, layer: int,
                training: bool) -> tf.Tensor:
    """Multi-head self-attention. x: [B, S, D]; attention_bias: [B, 1, 1, S] -> [B, S, D]."""
    p = f"transformer/layer_{layer}/self_attention/"
    q = tf.einsum("bsd,dnh->bsnh", x, self._w(p + "query/kernel")) + self._w(p + "query/bias")
    k = tf.einsum("bsd,dnh->bsnh", x, self._w(p + "key/kernel")) + self._w(p + "key/bias")
    v = tf.einsum("bsd,dnh->bsnh", x, self._w(p + "value/kernel")) + self._w(p + "value/bias")
    q = q * (1.0 / math.sqrt(self.config.head_size))
    scores = tf.einsum("btnh,bsnh->bnst", k, q) + attention_bias  # [B, N, S_query, S_key]
    probs = self._dropout(tf.nn.softmax(scores, axis=-1), self.config.attention_dropout_rate,
                          training)
    context = tf.einsum("bnst,btnh->bsnh", probs, v)
    return (tf.einsum("bsnh,nhd->bsd", context, self._w(p + "attention_output/kernel"))
            + self._w(p + "attention_output/bias"))

  def transformer_layer(self, x: tf.Tensor, attention_bias: tf.Tensor, layer: int,
                        training: bool) -> tf.Tensor:
    """One post-layer-norm Transformer block. x: [B, S, D] -> [B, S, D]."""
    p = f"transformer/layer_{layer}/"
    eps = self.config.layer_norm_epsilon
    attended = self._dropout(self.attention(x, attention_bias, layer, training),
                             self.config.dropout_rate, training)
    x = _layer_norm(x + attended, self._w(p + "self_attention_layer_norm/gamma"),
                    self._w(p + "self_attention_layer_norm/beta"), eps)
    hidden = _gelu(tf.einsum("bsd,di->bsi", x, self._w(p + "intermediate/kernel"))
                   + self._w(p + "intermediate/bias"), self.config.approximate_gelu)
    out = self._dropout(tf.einsum("bsi,id->bsd", hidden, self._w(p + "output/kernel"))
                        + self._w(p + "output/bias"), self.config.dropout_rate, training)
    return _layer_norm(x + out, self._w(p + "output_layer_norm/gamma"),
                       self._w(p + "output_layer_norm/beta"), eps)

  def pool(self, sequence_output: tf.Tensor, mask: Optional[tf.Tensor] = None) -> tf.Tensor:
    """The sentence head: the last layer [B, S, D] (for [CLS] pooling also its first rows
    [B, D]) and the input mask [B, S] -> pooled_output [B, D'] (LaBSE's: tanh(CLS @ kernel +
    bias), the pooler)."""
    dense = self.config.has_dense
    return sentence_head(self.config, sequence_output, mask,
                         self._w("pooler_transform/kernel") if dense else None,
                         self._w("pooler_transform/bias") if dense else None)

  def __call__(self, inputs: Mapping[str, tf.Tensor], training: bool = False
               ) -> Dict[str, Union[tf.Tensor, List[tf.Tensor]]]:
    """Encodes a batch, with the outputs of TF Hub's Transformer-encoder API.

    Args:
      inputs: 'input_word_ids', 'input_mask', 'input_type_ids': [B, S] int32.
      training: applies dropout when True.

    Returns:
      'sequence_output': [B, S, D] float32, the last layer;
      'encoder_outputs': list of [B, S, D], one per layer;
      'pooled_output' and 'default': [B, D'], the sentence head (LaBSE's: tanh(first token @
      pooler)).
    """
    word_ids = tf.cast(inputs["input_word_ids"], tf.int32)
    type_ids = tf.cast(inputs["input_type_ids"], tf.int32)
    bias = attention_bias(inputs["input_mask"])
    x = self.embed(word_ids, type_ids, training, inputs["input_mask"])
    encoder_outputs = []
    for layer in range(self.config.num_layers):
      x = self.transformer_layer(x, bias, layer, training)
      encoder_outputs.append(x)
    pooled = self.pool(x, inputs["input_mask"])
    return {"sequence_output": x, "encoder_outputs": encoder_outputs,
            "pooled_output": pooled, "default": pooled}


class PooledOutputEncoder(tf.Module):
  """`Encoder`'s computation for `pooled_output` only, laid out for inference throughput.

  Same network and weights as `Encoder` (shared, not copied): activations are 2-D
  [B*S, D] so every projection is one large matmul, Q/K/V are one [D, 3D] matmul,
  and, for [CLS] pooling, the last layer computes attention, feed-forward and norms for the
  [CLS] row only (the only one the pooler reads). No dropout: inference only.
  """

  def __init__(self, config: EncoderConfig, weights: Mapping[str, tf.Variable]):
    super().__init__(name="pooled_output_encoder")
    self._v = dict(weights)
    self._config = config
    self._num_layers = config.num_layers
    self._num_heads = config.num_heads
    self._hidden = config.hidden_size
    self._eps = config.layer_norm_epsilon
    self._approximate_gelu = config.approximate_gelu
    self._layers = [self._layer_weights(i) for i in range(config.num_layers)]

  def _layer_weights(self, layer: int) -> Dict[str, tf.Tensor]:
    d = self._hidden
    def w(name: str) -> tf.Tensor:
      return self._v[f"transformer/layer_{layer}/{name}"]
    def proj(kind: str) -> Tuple[tf.Tensor, tf.Tensor]:
      return (tf.reshape(w(f"self_attention/{kind}/kernel"), [d, d]),
              tf.reshape(w(f"self_attention/{kind}/bias"), [d]))
    (wq, bq), (wk, bk), (wv, bv) = proj("query"), proj("key"), proj("value")
    return {
        "qkv_kernel": tf.concat([wq, wk, wv], 1), "qkv_bias": tf.concat([bq, bk, bv], 0),
        "q_kernel": wq, "q_bias": bq,
        "kv_kernel": tf.concat([wk, wv], 1), "kv_bias": tf.concat([bk, bv], 0),
        "out_kernel": tf.reshape(w("self_attention/attention_output/kernel"), [d, d]),
        "out_bias": w("self_attention/attention_output/bias"),
        "ln1_gamma": w("self_attention_layer_norm/gamma"),
        "ln1_beta": w("self_attention_layer_norm/beta"),
        "ffn_in_kernel": w("intermediate/kernel"), "ffn_in_bias": w("intermediate/bias"),
        "ffn_out_kernel": w("output/kernel"), "ffn_out_bias": w("output/bias"),
        "ln2_gamma": w("output_layer_norm/gamma"), "ln2_beta": w("output_layer_norm/beta"),
    }

  def _layer_norm(self, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) -> tf.Tensor:
    return _layer_norm(x, gamma, beta, self._eps)

  def _heads(self, x: tf.Tensor, batch: tf.Tensor, parts: int) -> tf.Tensor:
    """[B*S, parts*D] -> [parts, B, N, S, H]."""
    n = self._num_heads
    x = tf.reshape(x, [batch, -1, parts, n, self._hidden // n])
    return tf.transpose(x, [2, 0, 3, 1, 4])

  def embed(self, word_ids: tf.Tensor, type_ids: tf.Tensor,
            mask: Optional[tf.Tensor] = None) -> tf.Tensor:
    """word_ids, type_ids, mask (default: all tokens): int32 [B, S] -> the embedding layer's
    output, float32 [B*S, D]."""
    v = self._v
    seq_length = tf.shape(word_ids)[1]
    x = (tf.gather(v[WORD_EMBEDDINGS], word_ids)
         + position_embeddings(self._config, v["position_embedding/embeddings"], seq_length,
                               mask)
         + tf.gather(v["type_embeddings/embeddings"], type_ids))
    x = self._layer_norm(x, v["embeddings/layer_norm/gamma"], v["embeddings/layer_norm/beta"])
    return tf.reshape(x, [-1, self._hidden])

  def layer(self, x: tf.Tensor, bias: tf.Tensor, batch: tf.Tensor, layer: int) -> tf.Tensor:
    """Transformer layer `layer`. x: [B*S, D]; bias: `attention_bias` [B, 1, 1, S].

    Returns [B*S, D], or for the last layer of a [CLS]-pooling model only the [CLS] rows,
    [B, D].
    """
    return self._layer(x, bias, batch, self._layers[layer],
                       self.cls_only and layer == self._num_layers - 1)

  @property
  def cls_only(self) -> bool:
    """Whether the last layer computes the [CLS] rows only (the head reads nothing else)."""
    return self._config.pooling == "cls"

  def pool(self, sequence_output: tf.Tensor, mask: Optional[tf.Tensor] = None) -> tf.Tensor:
    """The sentence head: [B, D] ([CLS] rows) or [B, S, D] and the mask -> [B, D']."""
    dense = self._config.has_dense
    return sentence_head(self._config, sequence_output, mask,
                         self._v["pooler_transform/kernel"] if dense else None,
                         self._v["pooler_transform/bias"] if dense else None)

  def _layer(self, x: tf.Tensor, attention_bias: tf.Tensor, batch: tf.Tensor,
             w: Dict[str, tf.Tensor], cls_only: bool) -> tf.Tensor:
    """x: [B*S, D] -> [B*S, D], or [B, D] (the [CLS] rows) when `cls_only`."""
    scale = 1.0 / math.sqrt(self._hidden // self._num_heads)
    if cls_only:
      k, v = tf.unstack(self._heads(tf.nn.bias_add(tf.matmul(x, w["kv_kernel"]), w["kv_bias"]),
                                    batch, 2))
      x = tf.reshape(x, [batch, -1, self._hidden])[:, 0]
      q = self._heads(tf.nn.bias_add(tf.matmul(x, w["q_kernel"]), w["q_bias"]), batch, 1)[0]
    else:
      q, k, v = tf.unstack(self._heads(
          tf.nn.bias_add(tf.matmul(x, w["qkv_kernel"]), w["qkv_bias"]), batch, 3))
    probs = tf.nn.softmax(tf.matmul(q * scale, k, transpose_b=True) + attention_bias, axis=-1)
    context = tf.reshape(tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3]), [-1, self._hidden])
    attended = tf.nn.bias_add(tf.matmul(context, w["out_kernel"]), w["out_bias"])
    x = self._layer_norm(x + attended, w["ln1_gamma"], w["ln1_beta"])
    hidden = _gelu(tf.nn.bias_add(tf.matmul(x, w["ffn_in_kernel"]), w["ffn_in_bias"]),
                   self._approximate_gelu)
    out = tf.nn.bias_add(tf.matmul(hidden, w["ffn_out_kernel"]), w["ffn_out_bias"])
    return self._layer_norm(x + out, w["ln2_gamma"], w["ln2_beta"])

  @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 3)
  def pooled_output(self, word_ids: tf.Tensor, mask: tf.Tensor, type_ids: tf.Tensor
                    ) -> tf.Tensor:
    """word_ids, mask, type_ids: int32 [B, S] -> pooled_output float32 [B, D']."""
    batch = tf.shape(word_ids)[0]
    x = self.embed(word_ids, type_ids, mask)
    bias = attention_bias(mask)
    for layer in range(self._num_layers):
      x = self.layer(x, bias, batch, layer)
    if not self.cls_only:
      x = tf.reshape(x, [batch, -1, self._hidden])
    return self.pool(x, mask)
