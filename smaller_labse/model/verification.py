"""Proofs that a rebuilt or pruned encoder computes what the original does."""

import dataclasses
import math
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

from smaller_labse.model.config import BUDGET_FACTOR, EncoderConfig, position_ids

# Short sentences in the 16 languages of the original release, plus hard cases:
# no-break spaces, a narrow no-break space before '?', a word over 100 bytes, empty text.
VERIFICATION_SENTENCES: List[str] = [
    "The weather is nice today.",
    "Where is the nearest train station?",
    "Il fait beau aujourd'hui\u202f!",
    "Où est la gare la plus proche\u202f?",
    "Hace buen tiempo hoy.",
    "Das Wetter ist heute schön.",
    "今天天气很好。",
    "الطقس جميل اليوم.",
    "天下大勢，分久必合。",
    "Oggi il tempo è bello.",
    "今日はいい天気です。",
    "오늘은 날씨가 좋습니다.",
    "Het weer is vandaag mooi.",
    "Dzisiaj jest ładna pogoda.",
    "O tempo está bom hoje.",
    "วันนี้อากาศดี",
    "Bugün hava güzel.",
    "Сегодня хорошая погода.",
    "100\xa0km in 2\u00a0hours, 3\u3000times",
    "Supercalifragilisticexpialidocious" * 4,
    "",
]


def pack_to_longest(preprocessor, sentences: Sequence[str]) -> Dict[str, tf.Tensor]:
  """Tokenizes and packs `sentences` to their longest length (not 128: less work, same values).

  Args:
    preprocessor: anything with LaBSE's `tokenize` and `bert_pack_inputs`.

  Returns:
    'input_word_ids', 'input_mask', 'input_type_ids': int32 [B, longest + 2].
  """
  tokenized = preprocessor.tokenize(tf.constant(list(sentences)))
  longest = int(tf.reduce_max(tokenized.merge_dims(-2, -1).row_lengths()))
  return preprocessor.bert_pack_inputs([tokenized], tf.constant(longest + 2, tf.int32))


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
  return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0


# ----------------------------------------------------------------------------- layer-wise proof
#
# An encoder is proven block by block: each block of the candidate (our float32 code) is fed the
# SavedModel's own output of the block before, and both the SavedModel's output of that block and
# the candidate's are compared with a float64 evaluation of the same block on the same input (the
# arbiter). Each must lie within the block's float32 error budget:
#
#   budget = BUDGET_FACTOR * max |rounding-model evaluation - float64 evaluation|
#
# The rounding-model evaluation is the float64 block with the errors float32 arithmetic makes at
# each operation injected (seeded, so every machine computes the same budget): relative
# U32 (the float32 unit roundoff) on every elementwise result, and on every inner product of
# length n, Higham & Mary's probabilistic bound sqrt(n) * U32 * (|a| . |b|) (SIAM J. Sci.
# Comput. 41(5), 2019). It is thus k * U32 * a magnitude measure: the sizes of the block's
# terms, propagated through the block's own conditioning (layer norm divides by small
# variances, softmax and GELU amplify or damp), rather than a constant. A correct float32
# evaluation on any CPU (any kernel, summation order or FMA use) stays within a few times
# this draw; an implementation that computes another function does not.

U32 = 2.0 ** -24  # float32 unit roundoff: |fl(x) - x| <= U32 |x|
# BUDGET_FACTOR (4.0) lives in config.py, which stage 1's --budget_factor reads without TensorFlow.
ROUNDING_SEED = 0


class Float64Blocks:
  """LaBSE's blocks in numpy float64 over an encoder's variables, optionally with the rounding
  model. Same blocks as `EncoderBlocks`; outputs are full [B, S, D] (pooler: [B, D])."""

  def __init__(self, config: EncoderConfig, variables: Mapping[str, object],
               rounding_seed: Optional[int] = None):
    self.config = config
    self._variables = variables
    self._rng = None if rounding_seed is None else np.random.default_rng(rounding_seed)

  def _w(self, name: str) -> np.ndarray:
    value = self._variables[name]
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, np.float64)

  def _round(self, x: np.ndarray) -> np.ndarray:
    """An elementwise result rounded to float32 (model: relative error up to U32)."""
    if self._rng is None:
      return x
    return x * (1.0 + U32 * self._rng.uniform(-1.0, 1.0, x.shape))

  def _einsum(self, subscripts: str, a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """An inner product of length n per output element, with its float32 rounding."""
    exact = np.einsum(subscripts, a, b, optimize=True)
    if self._rng is None:
      return exact
    size = np.einsum(subscripts, np.abs(a), np.abs(b), optimize=True)
    return exact + math.sqrt(n) * U32 * size * self._rng.uniform(-1.0, 1.0, exact.shape)

  def _sum(self, x: np.ndarray) -> np.ndarray:
    """Sum over the last axis (keepdims), an inner product with ones."""
    n = x.shape[-1]
    return self._einsum("...i,i->...", x, np.ones([n]), n)[..., np.newaxis]

  def _layer_norm(self, x: np.ndarray, prefix: str) -> np.ndarray:
    d = x.shape[-1]
    centered = self._round(x - self._sum(x) / d)
    variance = self._sum(centered * centered) / d
    inv = self._round(1.0 / np.sqrt(variance + self.config.layer_norm_epsilon))
    return self._round(centered * inv * self._w(prefix + "gamma") + self._w(prefix + "beta"))

  def _gelu(self, x: np.ndarray) -> np.ndarray:
    if self.config.approximate_gelu:
      inner = self._round(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3))
      return self._round(0.5 * x * (1.0 + self._round(np.tanh(inner))))
    erf = tf.math.erf(tf.constant(self._round(x / math.sqrt(2.0)), tf.float64)).numpy()
    return self._round(0.5 * x * (1.0 + self._round(erf)))

  def first(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Embeddings + layer 0: int32 inputs [B, S] -> [B, S, D] (layer 0's output)."""
    word_ids = np.asarray(inputs["input_word_ids"])
    rows, index = np.unique(word_ids, return_inverse=True)  # only the rows used
    table = np.asarray(tf.gather(self._variables["word_embeddings/embeddings"], rows), np.float64)
    positions = position_ids(self.config, np.asarray(inputs["input_mask"]))
    x = (table[index.reshape(word_ids.shape)] + self._w("position_embedding/embeddings")[positions]
         + self._w("type_embeddings/embeddings")[np.asarray(inputs["input_type_ids"])])
    x = self._layer_norm(self._round(x), "embeddings/layer_norm/")
    return self.layer(0, x, inputs)

  def layer(self, layer: int, x: np.ndarray, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Transformer layer `layer`: [B, S, D] float -> [B, S, D] float64.

    Computed on the real tokens only (input_mask 1): a padded position is masked out of every
    real token's attention, so the real rows are what they are over all positions, and the
    products cost the real tokens' share (a quarter for the verification sentences). A padded
    row of the output is its input's, passed through (no check reads it).
    """
    p = f"transformer/layer_{layer}/"
    x = np.asarray(x, np.float64)
    d, h, i = self.config.hidden_size, self.config.head_size, self.config.intermediate_size
    w = lambda name: self._w(p + name)  # noqa: E731
    mask = np.asarray(inputs["input_mask"], np.float64)
    real = mask > 0
    xr = x[real]  # [T, D]

    def padded(t: np.ndarray) -> np.ndarray:  # [T, N, H] -> [B, S, N, H], zeros at padding
      out = np.zeros(real.shape + t.shape[1:])
      out[real] = t
      return out
    q, k, v = (self._einsum("td,dnh->tnh", xr, w(f"self_attention/{kind}/kernel"), d)
               + w(f"self_attention/{kind}/bias") for kind in ("query", "key", "value"))
    q = self._round(q / math.sqrt(h))
    scores = (self._einsum("bsnh,btnh->bnst", padded(q), padded(k), h)
              + (1.0 - mask)[:, None, None, :] * -1e9)
    e = self._round(np.exp(scores - scores.max(axis=-1, keepdims=True)))
    probs = self._round(e / self._sum(e))
    context = self._einsum("bnst,btnh->bsnh", probs, padded(v), x.shape[1])[real]
    attended = (self._einsum("tnh,nhd->td", context, w("self_attention/attention_output/kernel"),
                             d) + w("self_attention/attention_output/bias"))
    xr = self._layer_norm(self._round(xr + attended), p + "self_attention_layer_norm/")
    hidden = self._gelu(self._round(self._einsum("td,di->ti", xr, w("intermediate/kernel"), d)
                                    + w("intermediate/bias")))
    out = self._einsum("ti,id->td", hidden, w("output/kernel"), i) + w("output/bias")
    result = x.copy()
    result[real] = self._layer_norm(self._round(xr + out), p + "output_layer_norm/")
    return result

  def pool(self, sequence_output: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The sentence head: the last layer [B, S, D] and the input mask [B, S] -> [B, D']
    (Pooling, then the Dense module when there is one; LaBSE's: the pooler)."""
    x = np.asarray(sequence_output, np.float64)
    mode = self.config.pooling
    if mode == "cls":
      pooled = x[:, 0]
    else:
      m = np.asarray(mask, np.float64)
      if mode == "max":
        pooled = np.where(m[:, :, None] > 0, x, -np.inf).max(axis=1)
      else:
        total = self._einsum("bsd,bs->bd", x, m, x.shape[1])
        count = np.maximum(m.sum(axis=1, keepdims=True), 1e-9)
        pooled = self._round(total / (count if mode == "mean" else self._round(np.sqrt(count))))
    if not self.config.has_dense:
      return pooled
    pre = self._round(self._einsum("bd,de->be", pooled, self._w("pooler_transform/kernel"),
                                   pooled.shape[-1]) + self._w("pooler_transform/bias"))
    return self._round(self._activation(pre))

  def _activation(self, x: np.ndarray) -> np.ndarray:
    """The Dense module's activation, float64 (rounded where the rounding model applies)."""
    kind = self.config.dense_activation
    if kind == "tanh":
      return np.tanh(x)
    if kind == "identity":
      return x
    if kind == "relu":
      return np.maximum(x, 0.0)
    if kind == "sigmoid":
      return 1.0 / (1.0 + np.exp(-x))
    if kind == "silu":
      return x / (1.0 + np.exp(-x))
    if kind == "gelu":
      erf = tf.math.erf(tf.constant(x / math.sqrt(2.0), tf.float64)).numpy()
      return 0.5 * x * (1.0 + erf)
    raise ValueError(f"Dense activation {kind!r}")


class EncoderBlocks:
  """`encoder.Encoder`'s blocks (float32), same interface as `Float64Blocks`."""

  def __init__(self, encoder):
    self._encoder = encoder

  def first(self, inputs: Mapping[str, tf.Tensor]) -> np.ndarray:
    from smaller_labse.model.encoder import attention_bias
    x = self._encoder.embed(tf.cast(inputs["input_word_ids"], tf.int32),
                            tf.cast(inputs["input_type_ids"], tf.int32), training=False,
                            mask=tf.cast(inputs["input_mask"], tf.int32))
    return self._encoder.transformer_layer(x, attention_bias(inputs["input_mask"]), 0,
                                           training=False).numpy()

  def layer(self, layer: int, x: np.ndarray, inputs: Mapping[str, tf.Tensor]) -> np.ndarray:
    from smaller_labse.model.encoder import attention_bias
    return self._encoder.transformer_layer(tf.constant(x, tf.float32),
                                           attention_bias(inputs["input_mask"]), layer,
                                           training=False).numpy()

  def pool(self, sequence_output: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return self._encoder.pool(tf.constant(sequence_output, tf.float32),
                              tf.constant(np.asarray(mask), tf.int32)).numpy()


class PooledOutputBlocks:
  """`encoder.PooledOutputEncoder`'s blocks. For [CLS] pooling its last layer computes the
  [CLS] rows only, so that block returns [B, D] and is compared on those rows."""

  def __init__(self, encoder, num_layers: int):
    self._encoder = encoder
    self._num_layers = num_layers

  def _layer(self, layer: int, x: tf.Tensor, inputs: Mapping[str, tf.Tensor]) -> np.ndarray:
    from smaller_labse.model.encoder import attention_bias
    mask = inputs["input_mask"]
    batch = tf.shape(mask)[0]
    out = self._encoder.layer(tf.reshape(x, [-1, x.shape[-1]]), attention_bias(mask), batch,
                              layer).numpy()
    if layer == self._num_layers - 1 and self._encoder.cls_only:
      return out
    return out.reshape(tuple(mask.shape) + (-1,))

  def first(self, inputs: Mapping[str, tf.Tensor]) -> np.ndarray:
    x = self._encoder.embed(tf.cast(inputs["input_word_ids"], tf.int32),
                            tf.cast(inputs["input_type_ids"], tf.int32),
                            tf.cast(inputs["input_mask"], tf.int32))
    return self._layer(0, x, inputs)

  def layer(self, layer: int, x: np.ndarray, inputs: Mapping[str, tf.Tensor]) -> np.ndarray:
    return self._layer(layer, tf.constant(x, tf.float32), inputs)

  def pool(self, sequence_output: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return self._encoder.pool(tf.constant(sequence_output, tf.float32),
                              tf.constant(np.asarray(mask), tf.int32)).numpy()


@dataclasses.dataclass(frozen=True)
class BlockCheck:
  """One block of the proof. Differences are max abs over the compared values.

  Attributes:
    name: 'embeddings + layer_0', 'layer_3', 'pooler'.
    difference: SavedModel vs candidate (both float32).
    savedmodel_error, candidate_error: each vs the float64 evaluation.
    budget: the float32 error budget of this block.
  """
  name: str
  difference: float
  savedmodel_error: float
  candidate_error: float
  budget: float
  source: str = "SavedModel"  # who computed the source's outputs (sources.PROOF_*)

  @property
  def ok(self) -> bool:
    return (bool(np.isfinite(self.difference)) and self.savedmodel_error <= self.budget
            and self.candidate_error <= self.budget)

  def line(self) -> str:
    verdict = "ok" if self.ok else "DIFFERS"
    return (f"{self.name:<22} |{self.source} - rebuilt| {self.difference:9.3g}   vs float64: "
            f"{self.source} {self.savedmodel_error:9.3g}, rebuilt {self.candidate_error:9.3g}   "
            f"float32 budget {self.budget:9.3g}  {verdict}")


def _rows(x: np.ndarray, real: np.ndarray) -> np.ndarray:
  """[B, S, D] -> the real tokens' rows [T, D]; a [B, D] block output is taken as is."""
  x = np.asarray(x)
  return x[real] if x.ndim == 3 else x


def _check(name: str, savedmodel: np.ndarray, candidate: np.ndarray, exact: np.ndarray,
           rounded: np.ndarray, real: np.ndarray, budget_factor: float) -> BlockCheck:
  """Compares one block's outputs (candidate [B, D] outputs against the [CLS] rows)."""
  if np.ndim(candidate) == 2 and np.ndim(savedmodel) == 3:
    savedmodel, exact, rounded = (np.asarray(a)[:, 0] for a in (savedmodel, exact, rounded))
  s, c, e, r = (_rows(a, real).astype(np.float64) for a in (savedmodel, candidate, exact, rounded))
  return BlockCheck(name, max_abs_diff(s, c), max_abs_diff(s, e), max_abs_diff(c, e),
                    budget_factor * max_abs_diff(r, e))


def prove_layerwise(savedmodel_outputs: Mapping[str, object], inputs: Mapping[str, tf.Tensor],
                    candidate, config, variables: Mapping[str, object],
                    budget_factor: float = BUDGET_FACTOR) -> List[BlockCheck]:
  """The layer-by-layer proof that `candidate` computes what the SavedModel computes.

  Args:
    savedmodel_outputs: the SavedModel's outputs on `inputs`: 'encoder_outputs' (one
      [B, S, D] per layer), 'sequence_output' [B, S, D], 'pooled_output' [B, D].
    inputs: the three int32 [B, S] inputs.
    candidate: `EncoderBlocks` or `PooledOutputBlocks`.
    config, variables: the SavedModel's inferred config and its variables by LaBSE name.
    budget_factor: k in budget = k * (rounding model's max error).

  Returns:
    One BlockCheck per block, in order: embeddings + layer_0, layer_1.., pooler.
    The proof holds when every check is ok.
  """
  layers = [np.asarray(x) for x in savedmodel_outputs["encoder_outputs"]]
  sequence_output = np.asarray(savedmodel_outputs["sequence_output"])
  if len(layers) != config.num_layers:
    raise ValueError(f"{len(layers)} encoder_outputs for {config.num_layers} layers")
  real = np.asarray(inputs["input_mask"]).astype(bool)
  exact, rounded = Float64Blocks(config, variables), Float64Blocks(config, variables,
                                                                   ROUNDING_SEED)
  checks = [_check("embeddings + layer_0", layers[0], candidate.first(inputs),
                   exact.first(inputs), rounded.first(inputs), real, budget_factor)]
  for i in range(1, config.num_layers):
    checks.append(_check(f"layer_{i}", layers[i], candidate.layer(i, layers[i - 1], inputs),
                         exact.layer(i, layers[i - 1], inputs),
                         rounded.layer(i, layers[i - 1], inputs), real, budget_factor))
  # sequence_output must be the last layer's output itself.
  last = checks[-1]
  extra = float(np.max(np.abs(sequence_output[real] - layers[-1][real]))) if real.any() else 0.0
  if extra > last.budget:
    checks.append(BlockCheck("sequence_output", extra, extra, 0.0, last.budget))
  mask = np.asarray(inputs["input_mask"])
  checks.append(_check(head_name(config), savedmodel_outputs["pooled_output"],
                       candidate.pool(sequence_output, mask), exact.pool(sequence_output, mask),
                       rounded.pool(sequence_output, mask), real, budget_factor))
  return checks


def head_name(config) -> str:
  """The sentence head's block name: 'pooler' (LaBSE's), else e.g. 'mean + Dense (relu)'."""
  if config.is_labse_head:
    return "pooler"
  name = "[CLS]" if config.pooling == "cls" else config.pooling.replace("_tokens", "")
  return f"{name} + Dense ({config.dense_activation})" if config.has_dense else f"{name} pooling"




@dataclasses.dataclass(frozen=True)
class EndToEnd:
  """pooled_output end to end, for the record (the verdict is the layer-wise proof's).

  Attributes:
    difference: |SavedModel - candidate|, both float32.
    savedmodel_error, candidate_error: each vs a float64 evaluation of the whole network.
    rounding: |rounding-model evaluation - float64|: what float32 rounding alone does.
    budget_factor: the proof's (--budget_factor): errors within budget_factor * rounding are
      explained by float32 rounding.
  """
  difference: float
  savedmodel_error: float
  candidate_error: float
  rounding: float
  source: str = "SavedModel"
  budget_factor: float = BUDGET_FACTOR

  def line(self) -> str:
    explained = (max(self.savedmodel_error, self.candidate_error)
                 <= self.budget_factor * self.rounding)
    return (f"end to end, pooled_output: |{self.source} - rebuilt| {self.difference:.3g}; vs a "
            f"float64 evaluation: {self.source} {self.savedmodel_error:.3g}, rebuilt "
            f"{self.candidate_error:.3g}; float32 rounding alone (rounding model) "
            f"{self.rounding:.3g}: " + ("explained by float32 rounding" if explained
                                       else "NOT explained by float32 rounding"))


def end_to_end(savedmodel_pooled: np.ndarray, candidate_pooled: np.ndarray,
               inputs: Mapping[str, tf.Tensor], config, variables,
               budget_factor: float = BUDGET_FACTOR) -> EndToEnd:
  """Compares pooled_output [B, D] end to end, with a float64 and a rounding-model run
  (`budget_factor`: what the record's line calls explained by float32 rounding)."""
  def run(blocks: Float64Blocks) -> np.ndarray:
    x = blocks.first(inputs)
    for i in range(1, config.num_layers):
      x = blocks.layer(i, x, inputs)
    return blocks.pool(x, np.asarray(inputs["input_mask"]))
  exact = run(Float64Blocks(config, variables))
  rounded = run(Float64Blocks(config, variables, ROUNDING_SEED))
  s, c = (np.asarray(a, np.float64) for a in (savedmodel_pooled, candidate_pooled))
  return EndToEnd(max_abs_diff(s, c), max_abs_diff(s, exact), max_abs_diff(c, exact),
                  max_abs_diff(rounded, exact), budget_factor=budget_factor)


@dataclasses.dataclass(frozen=True)
class Proof:
  """The layer-wise checks, and (when computed) the end-to-end comparison."""
  checks: List[BlockCheck]
  end_to_end: Optional[EndToEnd] = None

  @property
  def holds(self) -> bool:
    return all(c.ok for c in self.checks)

  def first_failure(self) -> Optional[BlockCheck]:
    """The first block whose check fails, or None."""
    return next((c for c in self.checks if not c.ok), None)


class VerificationError(Exception):
  """The rebuilt or pruned model does not reproduce the original.

  Attributes:
    proof: stage 1's failed `Proof`, when the error comes from it.
  """

  def __init__(self, message: str, proof: Optional[Proof] = None):
    super().__init__(message)
    self.proof = proof


def prove(savedmodel_outputs: Mapping[str, object], inputs: Mapping[str, tf.Tensor], candidate,
          config, variables: Mapping[str, object], budget_factor: float = BUDGET_FACTOR,
          end_to_end_candidate: Optional[Callable[[], tf.Tensor]] = None,
          source: str = "SavedModel") -> Proof:
  """`prove_layerwise`, plus the end-to-end record when `end_to_end_candidate` (a function
  returning the candidate's pooled_output [B, D] on `inputs`) is given. `source` names who
  computed `savedmodel_outputs` in the printed lines."""
  checks = [dataclasses.replace(c, source=source) for c in prove_layerwise(
      savedmodel_outputs, inputs, candidate, config, variables, budget_factor)]
  record = None
  if end_to_end_candidate is not None:
    record = dataclasses.replace(end_to_end(
        np.asarray(savedmodel_outputs["pooled_output"]), np.asarray(end_to_end_candidate()),
        inputs, config, variables, budget_factor), source=source)
  return Proof(checks, record)
