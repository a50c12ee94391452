"""TF Hub encoders (LaBSE/2's SavedModel pair) as Tatoeba evaluates them: fast, exact.

The original method (`Model.embed_original`) feeds each side of a pair through the
preprocessor's root call (every batch padded to 128) in batches of 32 in file
order, L2-normalises `default`/`pooled_output`, and takes the cosine nearest
neighbour in both directions (first maximum on ties, as `tf.argmax`).

`Model.embed` computes the same embeddings (up to float32 rounding) much faster:
- every distinct sentence of every requested language is encoded once;
- sentences are sorted by token length and packed into batches of about
  `max_batch_tokens` tokens, each padded only to its own longest sentence through
  the preprocessor's `tokenize` and `bert_pack_inputs`;
- a LaBSE/BERT encoder is run by `encoder.PooledOutputEncoder` over the
  SavedModel's own variables (2-D matmuls, a fused QKV projection, a last layer
  that only computes the [CLS] position, the only one `pooled_output` reads).
  It serves an encoder only when stage 1's layer-by-layer proof holds for it
  (verification.py: each of its blocks, fed the SavedModel's own output of the block
  before, within float32 rounding of a float64 evaluation); any other encoder of the
  API is called as a SavedModel.

What "the original method's accuracies" means. A float32 embedding is exact only up to
rounding, and rounding differs with the CPU's kernels and the batch shapes, in the original
method as in ours. Let delta be the largest L2 distance between two evaluations' embeddings
of a sentence (here: fast vs original). A query's nearest neighbour is decided by float
noise only if its best two candidates score within 4 * delta in cosine (a near-tie;
|cos(q, a) - cos(q', a')| <= 2 * delta for unit vectors moved by delta each). On every
other query, which is all of them on real translations, the fast method picks the
original's candidate on every machine, so the accuracies are equal. Near-ties occur
between sentences whose embeddings are equal up to noise, in practice repeated sentences;
the fast method encodes each distinct sentence once, so a repeated candidate ties exactly,
and exact ties go to the first candidate (lowest line), as tf.argmax does. The original
method, which encodes repeats in different batches, may pick either.

Shapes: B = batch, S = padded length, D = hidden size.
"""

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the preprocessor's ops)
from absl import logging
from tqdm import tqdm

from smaller_labse.model import verification
from smaller_labse.model.config import WORD_EMBEDDINGS
from smaller_labse.model.encoder import PooledOutputEncoder
from smaller_labse.errors import InputError
from smaller_labse.formats.tf_hub import encoder_variables, load_saved_model
from smaller_labse.tatoeba.embedding import EmbedStats, SentenceEncoder, default_model_name

ORIGINAL_BATCH_SIZE = 32
_PROBE_SENTENCES = ["Hello world!", "Tatoeba est un site.", "这是一个句子。", "a"]


@dataclasses.dataclass
class Model(SentenceEncoder):
  """A loaded encoder + preprocessor pair.

  Attributes:
    name: the label of its rows in the results.
    encoder, preprocess: the SavedModels.
    output_key: 'default' when the encoder returns it, else 'pooled_output' (as the original).
    dim: the embedding size D.
    rebuilt: the fast graph, or None to call the SavedModel.
  """
  name: str
  encoder: object
  preprocess: object
  output_key: str
  dim: int
  rebuilt: Optional[PooledOutputEncoder] = None

  def __post_init__(self):
    # Calling the restored functions eagerly re-optimises their graphs on every call
    # (~0.25 s per batch); inside one traced function that happens once.
    preprocess = self.preprocess

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(sentences):
      pieces = preprocess.tokenize(sentences)
      pieces = pieces.merge_dims(-2, -1) if pieces.ragged_rank > 1 else pieces
      return pieces.flat_values, pieces.row_lengths()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([None], tf.int64), tf.TensorSpec([], tf.int32)])
    def pack(values, row_lengths, seq_length):
      ragged = tf.RaggedTensor.from_row_lengths(values, row_lengths)
      return preprocess.bert_pack_inputs([ragged], seq_length=seq_length)

    self._tokenize, self._pack = tokenize, pack

  def tokenize(self, sentences: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """The preprocessor's word pieces: (int32 [total pieces], int64 row lengths [B])."""
    values, row_lengths = self._tokenize(tf.constant(list(sentences), tf.string))
    return values.numpy().astype(np.int32), row_lengths.numpy().astype(np.int64)

  def pooled(self, inputs: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """The three int32 [B, S] inputs -> the un-normalised sentence embedding [B, D]."""
    if self.rebuilt is not None:
      return self.rebuilt.pooled_output(inputs["input_word_ids"], inputs["input_mask"],
                                        inputs["input_type_ids"])
    return self.encoder(dict(inputs), training=False)[self.output_key]

  def pack(self, values: np.ndarray, row_lengths: np.ndarray, seq_length: int
           ) -> Dict[str, tf.Tensor]:
    """Word pieces (int32 [total], int64 [B]) -> '[CLS] pieces [SEP]' inputs, int32
    [B, seq_length], truncated by the preprocessor's `bert_pack_inputs`."""
    return self._pack(values, row_lengths, tf.constant(seq_length, tf.int32))

  def embed_distinct(self, sentences: Sequence[str], max_seq_length: int,
                     max_batch_tokens: int, stats: Optional[EmbedStats]) -> np.ndarray:
    """Sorted by length, packed into batches of about `max_batch_tokens` padded tokens.

    Returns:
      float32 [len(sentences), D], L2-normalised.
    """
    values, lengths = self._word_pieces(sentences)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    packed_lengths = np.minimum(lengths, max_seq_length - 2) + 2
    out = np.zeros([len(sentences), self.dim], np.float32)
    for batch in tqdm(plan_batches(packed_lengths, max_batch_tokens), desc=self.name,
                      unit="batch", leave=False):
      rows = [values[starts[i]:starts[i + 1]] for i in batch]
      seq_length = int(packed_lengths[batch].max())
      out[batch] = normalize(self.pooled(self.pack(np.concatenate(rows), lengths[batch],
                                                   seq_length)))
      if stats is not None:
        stats.real_tokens += int(packed_lengths[batch].sum())
        stats.padded_tokens += len(batch) * seq_length
        stats.batches += 1
    return out

  def embed_original(self, sentences: Sequence[str],
                     batch_size: int = ORIGINAL_BATCH_SIZE) -> np.ndarray:
    """The original method: root preprocessor call (pads to its own 128), file order.

    Returns:
      float32 [len(sentences), D], L2-normalised.
    """
    chunks = [np.zeros([0, self.dim], np.float32)]
    for start in tqdm(range(0, len(sentences), batch_size), desc=f"{self.name} (original)",
                      unit="batch", leave=False, disable=len(sentences) <= batch_size):
      inputs = self.preprocess(tf.constant(list(sentences[start:start + batch_size])))
      chunks.append(normalize(self.encoder(dict(inputs), training=False)[self.output_key]))
    return np.concatenate(chunks, axis=0)

  def _word_pieces(self, sentences: Sequence[str], chunk: int = 1024
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """`tokenize` a chunk at a time: (values int32 [total pieces], row_lengths int64 [n])."""
    values, lengths = [np.zeros([0], np.int32)], [np.zeros([0], np.int64)]
    for start in range(0, len(sentences), chunk):
      chunk_values, chunk_lengths = self.tokenize(sentences[start:start + chunk])
      values.append(chunk_values)
      lengths.append(chunk_lengths)
    return np.concatenate(values), np.concatenate(lengths)


def normalize(x: tf.Tensor) -> np.ndarray:
  """[B, D] -> L2-normalised float32 numpy [B, D], with the original's op."""
  return tf.nn.l2_normalize(x, axis=-1).numpy()


def plan_batches(lengths: np.ndarray, max_batch_tokens: int) -> List[np.ndarray]:
  """Groups sentences of similar length.

  Args:
    lengths: int [n], packed lengths (tokens + [CLS] + [SEP], truncated).
    max_batch_tokens: bound on batch size x padded length (a longer sentence gets a
      batch of its own).

  Returns:
    Index arrays, in increasing length; together they hold each index once.
  """
  order = np.argsort(lengths, kind="stable")
  batches, start = [], 0
  while start < len(order):
    end = start + 1
    while end < len(order) and (end - start + 1) * lengths[order[end]] <= max_batch_tokens:
      end += 1
    batches.append(order[start:end])
    start = end
  return batches


def _check_preprocess(path: str, preprocess) -> None:
  for attr in ("tokenize", "bert_pack_inputs"):
    if not hasattr(preprocess, attr):
      raise InputError(f"{path}: not a BERT text preprocessor (no .{attr}; expected LaBSE's "
                       "preprocessor, e.g. downloads/labse-2-preprocess)")


def _preprocess_vocab_size(path: str, preprocess) -> Optional[int]:
  """The vocab size the preprocessor's `tokenize.get_special_tokens_dict()` reports (LaBSE's
  does), or None where it reports none."""
  special_tokens = getattr(preprocess.tokenize, "get_special_tokens_dict", None)
  if special_tokens is None:
    return None
  try:
    vocab_size = special_tokens().get("vocab_size")
  except tf.errors.OpError as e:
    raise InputError(f"{path}: its tokenize.get_special_tokens_dict() fails "
                     f"({type(e).__name__}: {e.message.strip().splitlines()[0][:150]})") from None
  return None if vocab_size is None else int(vocab_size)


def _check_vocab_sizes(encoder_path: str, encoder, preprocess_path: str, preprocess) -> None:
  """InputError when the preprocessor's vocab is not the encoder's (e.g. the smaller
  encoder with the original preprocessor): its ids would index the wrong rows."""
  rows = [v.shape[0] for v in getattr(encoder, "variables", [])
          if v.name.split(":")[0] == WORD_EMBEDDINGS]
  vocab_size = _preprocess_vocab_size(preprocess_path, preprocess)
  if rows and vocab_size is not None and rows[0] != vocab_size:
    raise InputError(f"{preprocess_path}: its vocab has {vocab_size} tokens but {encoder_path} "
                     f"has {rows[0]} word embeddings; give the encoder's own preprocessor")


# What calling a SavedModel of another API raises: no matching signature (ValueError), other
# arguments (TypeError), other keys (KeyError), other shapes or dtypes at run time. Anything else
# (out of memory, a bug) is not the user's input and propagates.
_NOT_THIS_API = (TypeError, ValueError, KeyError, tf.errors.InvalidArgumentError)


def _probe(name: str, encoder_path: str, encoder, preprocess) -> Tuple[str, int]:
  """Runs the encoder once; returns (output key, embedding size D) or raises InputError."""
  try:
    inputs = preprocess(tf.constant(_PROBE_SENTENCES))
  except _NOT_THIS_API as e:
    raise InputError(f"preprocessor of {name}: cannot preprocess strings "
                     f"({type(e).__name__}: {str(e).strip().splitlines()[0][:150]})") from None
  try:
    outputs = encoder(dict(inputs), training=False)
  except _NOT_THIS_API as e:
    raise InputError(f"{encoder_path}: not a text encoder of TF Hub's Transformer-encoder API "
                     f"({type(e).__name__}: {str(e).strip().splitlines()[0][:150]})") from None
  if not isinstance(outputs, Mapping):
    raise InputError(f"{encoder_path}: not a text encoder of TF Hub's Transformer-encoder API "
                     "(its call does not return a dict)")
  key = "default" if "default" in outputs else "pooled_output"
  if key not in outputs:
    raise InputError(f"{encoder_path}: the encoder returns neither 'default' nor "
                     f"'pooled_output' (it returns {sorted(outputs)})")
  return key, int(outputs[key].shape[-1])


def _rebuild(encoder_path: str, encoder, preprocess) -> Optional[PooledOutputEncoder]:
  """A PooledOutputEncoder over `encoder`'s variables when stage 1's layer-by-layer proof
  (verification.py) holds for it on `verification.VERIFICATION_SENTENCES`, else None."""
  try:
    config, variables = encoder_variables(encoder, encoder_path)
  except InputError:
    return None
  inputs = verification.pack_to_longest(preprocess, verification.VERIFICATION_SENTENCES)
  outputs = encoder(dict(inputs), training=False)
  if not isinstance(outputs, Mapping) or "encoder_outputs" not in outputs:
    logging.warning("%s: no 'encoder_outputs' to prove the rebuilt encoder against; calling the "
                    "SavedModel instead (slower)", encoder_path)
    return None
  rebuilt = PooledOutputEncoder(config, variables)
  proof = verification.prove(outputs, inputs,
                             verification.PooledOutputBlocks(rebuilt, config.num_layers),
                             config, variables)
  failure = proof.first_failure()
  if failure is not None:
    logging.warning("%s: the layer-by-layer proof fails at block %s; calling the SavedModel "
                    "instead (slower): %s", encoder_path, failure.name, failure.line())
    return None
  for check in proof.checks:
    logging.info("%s: %s", encoder_path, check.line())
  return rebuilt


def load_model(encoder_path: str, preprocess_path: str, name: Optional[str] = None,
               engine: str = "auto") -> Model:
  """Loads and checks an encoder/preprocessor pair.

  Args:
    engine: 'auto' (the rebuilt graph when it applies), 'savedmodel' (always call the
      SavedModel), or 'rebuilt' (fail unless the rebuilt graph applies).

  Raises:
    InputError: a path is not a SavedModel, the preprocessor lacks tokenize /
      bert_pack_inputs, or the encoder does not implement the API.
  """
  name = name or default_model_name(encoder_path)
  encoder = load_saved_model(encoder_path)
  preprocess = load_saved_model(preprocess_path)
  _check_preprocess(preprocess_path, preprocess)
  _check_vocab_sizes(encoder_path, encoder, preprocess_path, preprocess)
  key, dim = _probe(name, encoder_path, encoder, preprocess)
  model = Model(name, encoder, preprocess, key, dim)
  if engine != "savedmodel":
    model.rebuilt = _rebuild(encoder_path, encoder, preprocess)
    if model.rebuilt is None and engine == "rebuilt":
      raise InputError(f"{encoder_path}: not a LaBSE/BERT encoder the rebuilt graph reproduces")
  logging.info("%s: %s (%s), %s", name, encoder_path, key,
               "rebuilt graph" if model.rebuilt is not None else "SavedModel call")
  return model
