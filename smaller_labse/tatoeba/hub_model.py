"""Tatoeba bitext retrieval: data, fast exact embeddings, blockwise scoring, tables.

The original method (`embed_original`) feeds each side of a pair through the
preprocessor's root call (every batch padded to 128) in batches of 32 in file
order, L2-normalises `default`/`pooled_output`, and takes the cosine nearest
neighbour in both directions (first maximum on ties, as `tf.argmax`).

`embed` computes the same embeddings (up to float32 rounding) much faster:
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

Shapes: B = batch, S = padded length, D = hidden size, N = heads, H = head size.
"""

import dataclasses
import json
import os
import time
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the preprocessor's ops)
from absl import logging
from tqdm import tqdm

from smaller_labse import atomic, files, languages, verification
from smaller_labse.encoder import WORD_EMBEDDINGS, PooledOutputEncoder
from smaller_labse.errors import InputError
from smaller_labse.hub_format import encoder_variables, load_saved_model

DEFAULT_DATA_DIR = "data/tatoeba/v1"
DEFAULT_MAX_SEQ_LENGTH = 128
DEFAULT_MAX_BATCH_TOKENS = 4096
ORIGINAL_BATCH_SIZE = 32
SCORINGS = ("cosine", "margin")
MARGIN_K = 4  # LASER's xsim: ratio margin over the 4 nearest neighbours.
# Two embeddings are "identical" across models when no coordinate differs by more than this.
IDENTICAL_ATOL = 1e-6
DIRECTIONS = ("en→xx", "xx→en")
_PROBE_SENTENCES = ["Hello world!", "Tatoeba est un site.", "这是一个句子。", "a"]


# ----------------------------------------------------------------------------- data

@dataclasses.dataclass(frozen=True)
class Pair:
  """One Tatoeba test set: line i of `xx` translates line i of `eng`."""
  lang: str
  eng: List[str]
  xx: List[str]

  def __len__(self) -> int:
    return len(self.eng)


def pair_paths(data_dir: str, lang: str) -> Tuple[str, str]:
  """(English side, other side) of LASER's `tatoeba.{lang}-eng.{eng,lang}`."""
  stem = os.path.join(data_dir, f"tatoeba.{lang}-eng")
  return stem + ".eng", f"{stem}.{lang}"


def read_lines(path: str) -> List[str]:
  """Lines as tf.data.TextLineDataset reads them: split on '\\n', one trailing '\\r' dropped."""
  lines = files.read_lines(path, "file",
                          hint="run ./download_tatoeba_dataset.sh, or give --data_dir")
  return [line[:-1] if line.endswith("\r") else line for line in lines]


def load_pair(data_dir: str, lang: str) -> Pair:
  """Reads and checks one language's pair of files."""
  eng_path, xx_path = pair_paths(data_dir, lang)
  eng, xx = read_lines(eng_path), read_lines(xx_path)
  if not eng:
    raise InputError(f"{eng_path}: empty file")
  if not xx:
    raise InputError(f"{xx_path}: empty file")
  if len(eng) != len(xx):
    raise InputError(f"{xx_path} has {len(xx)} lines but {eng_path} has {len(eng)}: "
                     "the two sides of a Tatoeba pair must be line-aligned")
  return Pair(lang, eng, xx)


def default_model_name(path: str) -> str:
  """'models/LaBSE_en-fr/1' -> 'LaBSE_en-fr'; 'downloads/labse-2' -> 'labse-2'."""
  parts = [p for p in os.path.normpath(os.path.abspath(path)).split(os.sep) if p]
  while len(parts) > 1 and parts[-1].isdigit():  # TF Hub version directory
    parts.pop()
  return parts[-1] if parts else path


# ----------------------------------------------------------------------------- models

@dataclasses.dataclass
class Model:
  """A loaded encoder + preprocessor pair.

  Attributes:
    name: the label of its rows in the results.
    encoder, preprocess: the SavedModels.
    output_key: 'default' when the encoder returns it, else 'pooled_output' (as the original).
    rebuilt: the fast graph, or None to call the SavedModel.
  """
  name: str
  encoder: object
  preprocess: object
  output_key: str
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


def _check_preprocess(path: str, preprocess) -> None:
  for attr in ("tokenize", "bert_pack_inputs"):
    if not hasattr(preprocess, attr):
      raise InputError(f"{path}: not a BERT text preprocessor (no .{attr}; expected LaBSE's "
                       "preprocessor, e.g. downloads/labse-2-preprocess)")


def _check_vocab_sizes(encoder_path: str, encoder, preprocess_path: str, preprocess) -> None:
  """InputError when the preprocessor's vocab is not the encoder's (e.g. the smaller
  encoder with the original preprocessor): its ids would index the wrong rows."""
  rows = [v.shape[0] for v in getattr(encoder, "variables", [])
          if v.name.split(":")[0] == WORD_EMBEDDINGS]
  try:
    vocab_size = int(preprocess.tokenize.get_special_tokens_dict()["vocab_size"])
  except Exception:  # noqa: BLE001  (not every preprocessor exposes it)
    return
  if rows and rows[0] != vocab_size:
    raise InputError(f"{preprocess_path}: its vocab has {vocab_size} tokens but {encoder_path} "
                     f"has {rows[0]} word embeddings; give the encoder's own preprocessor")


def _probe(name: str, encoder_path: str, encoder, preprocess) -> Tuple[Dict[str, tf.Tensor], str]:
  """Runs the encoder once; returns (probe inputs, output key) or raises InputError."""
  try:
    inputs = preprocess(tf.constant(_PROBE_SENTENCES))
  except Exception as e:  # noqa: BLE001  (any failure means "not this API")
    raise InputError(f"preprocessor of {name}: cannot preprocess strings "
                     f"({type(e).__name__}: {str(e).strip().splitlines()[0][:150]})") from None
  try:
    outputs = encoder(dict(inputs), training=False)
  except Exception as e:  # noqa: BLE001
    raise InputError(f"{encoder_path}: not a text encoder of TF Hub's Transformer-encoder API "
                     f"({type(e).__name__}: {str(e).strip().splitlines()[0][:150]})") from None
  if not isinstance(outputs, Mapping):
    raise InputError(f"{encoder_path}: not a text encoder of TF Hub's Transformer-encoder API "
                     "(its call does not return a dict)")
  key = "default" if "default" in outputs else "pooled_output"
  if key not in outputs:
    raise InputError(f"{encoder_path}: the encoder returns neither 'default' nor "
                     f"'pooled_output' (it returns {sorted(outputs)})")
  return inputs, key


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
  _, key = _probe(name, encoder_path, encoder, preprocess)
  model = Model(name, encoder, preprocess, key)
  if engine != "savedmodel":
    model.rebuilt = _rebuild(encoder_path, encoder, preprocess)
    if model.rebuilt is None and engine == "rebuilt":
      raise InputError(f"{encoder_path}: not a LaBSE/BERT encoder the rebuilt graph reproduces")
  logging.info("%s: %s (%s), %s", name, encoder_path, key,
               "rebuilt graph" if model.rebuilt is not None else "SavedModel call")
  return model


def is_sentence_transformers_dir(path: str) -> bool:
  """True for a Sentence Transformers / HF export directory (it has modules.json)."""
  return os.path.isfile(os.path.join(path, "modules.json"))


@dataclasses.dataclass
class SentenceTransformerModel:
  """A Sentence Transformers export (e.g. models/LaBSE_{langs}_st/), evaluated like `Model`.

  Needs the optional `sentence-transformers` package (PyTorch), imported on first use.

  Attributes:
    name: the label of its rows in the results.
    path: the directory holding modules.json.
    device: 'cuda', 'cpu'... (None: Sentence Transformers picks).
    batch_size: sentences per batch.
  """
  name: str
  path: str
  device: Optional[str] = None
  batch_size: int = 128
  _model: object = dataclasses.field(default=None, repr=False)

  def encode(self, sentences: Sequence[str]) -> np.ndarray:
    """float32 [len(sentences), D], L2-normalised."""
    if self._model is None:
      try:
        from sentence_transformers import SentenceTransformer  # pylint: disable=import-outside-toplevel
      except ImportError:
        raise InputError(f"{self.path}: a Sentence Transformers model; evaluating it needs "
                         "`pip install sentence-transformers`") from None
      self._model = SentenceTransformer(self.path, device=self.device)
    embeddings = self._model.encode(list(sentences), batch_size=self.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=len(sentences) > self.batch_size)
    return np.asarray(embeddings, dtype=np.float32)


def load_sentence_transformer(path: str, name: Optional[str] = None, device: Optional[str] = None,
                              batch_size: int = 128) -> SentenceTransformerModel:
  """Checks that `path` is a Sentence Transformers directory; the model loads on first use."""
  if not is_sentence_transformers_dir(path):
    raise InputError(f"{path}: not a Sentence Transformers model (no modules.json)")
  return SentenceTransformerModel(name or default_model_name(path), path, device, batch_size)


# ----------------------------------------------------------------------------- embeddings

def normalize(x: tf.Tensor) -> np.ndarray:
  """[B, D] -> L2-normalised float32 numpy [B, D], with the original's op."""
  return tf.nn.l2_normalize(x, axis=-1).numpy()


def embed_original(model: Model, sentences: Sequence[str],
                   batch_size: int = ORIGINAL_BATCH_SIZE) -> np.ndarray:
  """The original method: root preprocessor call (pads to its own 128), file order.

  Returns:
    float32 [len(sentences), D], L2-normalised.
  """
  chunks = []
  for start in tqdm(range(0, len(sentences), batch_size), desc=f"{model.name} (original)",
                    unit="batch", leave=False, disable=len(sentences) <= batch_size):
    inputs = model.preprocess(tf.constant(list(sentences[start:start + batch_size])))
    chunks.append(normalize(model.encoder(dict(inputs), training=False)[model.output_key]))
  return np.concatenate(chunks, axis=0)


def tokenize(model: Model, sentences: Sequence[str], chunk: int = 1024
             ) -> Tuple[np.ndarray, np.ndarray]:
  """Word pieces of each sentence, with the preprocessor's own `tokenize`.

  Returns:
    (values int32 [total pieces], row_lengths int64 [len(sentences)]).
  """
  values, lengths = [np.zeros([0], np.int32)], [np.zeros([0], np.int64)]
  for start in range(0, len(sentences), chunk):
    chunk_values, chunk_lengths = model.tokenize(sentences[start:start + chunk])
    values.append(chunk_values)
    lengths.append(chunk_lengths)
  return np.concatenate(values), np.concatenate(lengths)


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


@dataclasses.dataclass
class EmbedStats:
  """What `embed` computed: sentences encoded, real and padded token positions."""
  sentences: int = 0
  real_tokens: int = 0
  padded_tokens: int = 0
  batches: int = 0
  seconds: float = 0.0

  @property
  def sentences_per_second(self) -> float:
    return self.sentences / self.seconds if self.seconds > 0 else 0.0


def embed(model: Model, sentences: Sequence[str], max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
          max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
          stats: Optional[EmbedStats] = None) -> np.ndarray:
  """The original method's embeddings (up to float32 rounding, see the module docstring),
  sorted, packed and deduplicated.

  Args:
    sentences: any strings; repeats are encoded once and get the same embedding.
    max_seq_length: the truncation length, [CLS] and [SEP] included (128 as the original).
    max_batch_tokens: padded tokens per batch.
    stats: filled in when given.

  Returns:
    float32 [len(sentences), D], L2-normalised.
  """
  if max_seq_length < 3:
    raise InputError(f"--max_seq_length={max_seq_length}: must be at least 3")
  start_time = time.perf_counter()
  unique, inverse = np.unique(np.asarray(sentences, dtype=object), return_inverse=True)
  if isinstance(model, SentenceTransformerModel):  # It tokenizes, truncates and batches itself.
    out = model.encode(list(unique))
    if stats is not None:
      stats.sentences += len(unique)
      stats.seconds += time.perf_counter() - start_time
    return out[inverse.reshape(-1)]
  values, lengths = tokenize(model, list(unique))
  starts = np.concatenate([[0], np.cumsum(lengths)])
  packed_lengths = np.minimum(lengths, max_seq_length - 2) + 2
  out = None
  for batch in tqdm(plan_batches(packed_lengths, max_batch_tokens), desc=model.name,
                    unit="batch", leave=False):
    rows = [values[starts[i]:starts[i + 1]] for i in batch]
    seq_length = int(packed_lengths[batch].max())
    inputs = model.pack(np.concatenate(rows), lengths[batch], seq_length)
    embeddings = normalize(model.pooled(inputs))
    if out is None:
      out = np.zeros([len(unique), embeddings.shape[1]], np.float32)
    out[batch] = embeddings
    if stats is not None:
      stats.sentences += len(batch)
      stats.real_tokens += int(packed_lengths[batch].sum())
      stats.padded_tokens += len(batch) * seq_length
      stats.batches += 1
  if stats is not None:
    stats.seconds += time.perf_counter() - start_time
  return out[inverse.reshape(-1)]


# ----------------------------------------------------------------------------- scoring

def _merge_top_k(best_sims: np.ndarray, best_ids: np.ndarray, sims: np.ndarray, ids: np.ndarray,
                 k: int) -> Tuple[np.ndarray, np.ndarray]:
  """Merges two per-row top-k lists; on ties the earlier list (lower index) wins."""
  all_sims = np.concatenate([best_sims, sims], axis=1)
  all_ids = np.concatenate([best_ids, ids], axis=1)
  order = np.argsort(-all_sims, axis=1, kind="stable")[:, :k]
  return np.take_along_axis(all_sims, order, 1), np.take_along_axis(all_ids, order, 1)


def nearest_neighbours(queries: np.ndarray, candidates: np.ndarray, k: int = 1,
                       block_size: int = 4096
                       ) -> Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]:
  """Top-k cosine neighbours in both directions, computed block by block.

  Memory stays at one [block_size, block_size] similarity block. Ties go to the lower
  index, as tf.argmax does; with at most `block_size` rows and columns the block is the
  original's tf.tensordot of the whole matrices.

  Args:
    queries: float32 [n, D], candidates: float32 [m, D], both L2-normalised.

  Returns:
    ((sims [n, k], ids [n, k]) of each query among the candidates,
     (sims [m, k], ids [m, k]) of each candidate among the queries), best first
     (k is capped at m and n).
  """
  n, m = len(queries), len(candidates)
  k_row, k_col = min(k, m), min(k, n)
  row_sims, row_ids = np.full([n, k_row], -np.inf, np.float32), np.zeros([n, k_row], np.int64)
  col_sims, col_ids = np.full([m, k_col], -np.inf, np.float32), np.zeros([m, k_col], np.int64)
  for r in range(0, n, block_size):
    rs = slice(r, min(r + block_size, n))
    for c in range(0, m, block_size):
      cs = slice(c, min(c + block_size, m))
      sims = tf.tensordot(queries[rs], candidates[cs], axes=[[1], [1]])
      top = tf.math.top_k(sims, k=min(k_row, cs.stop - c))
      row_sims[rs], row_ids[rs] = _merge_top_k(row_sims[rs], row_ids[rs], top.values.numpy(),
                                               top.indices.numpy() + c, k_row)
      top = tf.math.top_k(tf.transpose(sims), k=min(k_col, rs.stop - r))
      col_sims[cs], col_ids[cs] = _merge_top_k(col_sims[cs], col_ids[cs], top.values.numpy(),
                                               top.indices.numpy() + r, k_col)
  return (row_sims, row_ids), (col_sims, col_ids)


def _margin_pick(sims: np.ndarray, ids: np.ndarray, own_mean: np.ndarray,
                 other_mean: np.ndarray) -> np.ndarray:
  """LASER's ratio margin: among the k cosine candidates, the best cos / mean of k-NN means."""
  scores = sims / ((own_mean[:, np.newaxis] + other_mean[ids]) / 2)
  return ids[np.arange(len(ids)), np.argmax(scores, axis=1)]


def retrieval_correct(eng: np.ndarray, xx: np.ndarray, scoring: str = "cosine",
                      block_size: int = 4096) -> Tuple[int, int]:
  """Correct nearest neighbours (line i should retrieve line i).

  Args:
    eng, xx: float32 [n, D], L2-normalised, line-aligned.
    scoring: 'cosine' (the original), or 'margin' (LASER's xsim ratio margin, k=4).

  Returns:
    (correct en→xx, correct xx→en).
  """
  if scoring not in SCORINGS:
    raise InputError(f"unknown scoring {scoring!r} (known: {', '.join(SCORINGS)})")
  k = 1 if scoring == "cosine" else MARGIN_K
  (e2x_sims, e2x_ids), (x2e_sims, x2e_ids) = nearest_neighbours(eng, xx, k, block_size)
  if scoring == "cosine":
    e2x, x2e = e2x_ids[:, 0], x2e_ids[:, 0]
  else:
    e2x_mean, x2e_mean = e2x_sims.mean(axis=1), x2e_sims.mean(axis=1)
    e2x = _margin_pick(e2x_sims, e2x_ids, e2x_mean, x2e_mean)
    x2e = _margin_pick(x2e_sims, x2e_ids, x2e_mean, e2x_mean)
  answer = np.arange(len(eng))
  return int(np.sum(e2x == answer)), int(np.sum(x2e == answer[:len(xx)]))


# ----------------------------------------------------------------------------- evaluation

@dataclasses.dataclass(frozen=True)
class Result:
  """One cell of the table: `correct` of `n` pairs for `model`, `lang`, `direction`."""
  model: str
  lang: str
  direction: str
  correct: int
  n: int

  @property
  def accuracy(self) -> float:
    return 100.0 * self.correct / self.n


def embed_pairs(model: Model, pairs: Sequence[Pair], max_seq_length: int,
                max_batch_tokens: int, stats: Optional[EmbedStats] = None
                ) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
  """Embeds every sentence of every pair in one sorted pass: lang -> (eng [n, D], xx [n, D])."""
  sentences = [s for pair in pairs for s in pair.eng + pair.xx]
  embeddings = embed(model, sentences, max_seq_length, max_batch_tokens, stats)
  out, start = {}, 0
  for pair in pairs:
    n = len(pair)
    out[pair.lang] = (embeddings[start:start + n], embeddings[start + n:start + 2 * n])
    start += 2 * n
  return out


def score_pairs(model_name: str, embeddings: Mapping[str, Tuple[np.ndarray, np.ndarray]],
                scoring: str) -> List[Result]:
  """Both directions of every language, in `embeddings`' order."""
  results = []
  for lang, (eng, xx) in embeddings.items():
    e2x, x2e = retrieval_correct(eng, xx, scoring)
    results.append(Result(model_name, lang, DIRECTIONS[0], e2x, len(eng)))
    results.append(Result(model_name, lang, DIRECTIONS[1], x2e, len(eng)))
  return results


def identical_share(a: Mapping[str, Tuple[np.ndarray, np.ndarray]],
                    b: Mapping[str, Tuple[np.ndarray, np.ndarray]],
                    atol: float = IDENTICAL_ATOL) -> Dict[str, Dict[str, float]]:
  """Per language, the sentences (both sides) whose embeddings agree within `atol`.

  Returns:
    lang -> {'identical': count, 'sentences': count, 'percent': share in %}.
  """
  out = {}
  for lang in a:
    ea, eb = np.concatenate(a[lang]), np.concatenate(b[lang])
    same = 0
    if ea.shape == eb.shape:
      same = int(np.sum(np.max(np.abs(ea - eb), axis=1) <= atol))
    out[lang] = {"identical": same, "sentences": len(ea),
                 "percent": round(100.0 * same / len(ea), 2)}
  return out


# ----------------------------------------------------------------------------- output

def _fmt(value: float) -> str:
  return f"{value:.2f}"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
  """A Markdown table, columns padded like the README's (first left, others right)."""
  widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
  def line(cells: Sequence[str]) -> str:
    padded = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
    return "| " + " | ".join(padded) + " |"
  rule = "| " + " | ".join(["-" * widths[0]] + ["-" * (w - 1) + ":" for w in widths[1:]]) + " |"
  return "\n".join([line(header), rule, *[line(r) for r in rows]]) + "\n"


def results_table(results: Sequence[Result]) -> str:
  """The README's table: rows '{name}(en→xx)' / '{name}(xx→en)', a column per language, avg."""
  langs = list(dict.fromkeys(r.lang for r in results))
  header = ["Model"] + [languages.short_code(lang) for lang in langs] + ["avg"]
  rows = []
  for model in dict.fromkeys(r.model for r in results):
    for direction in DIRECTIONS:
      cells = {r.lang: r.accuracy for r in results if r.model == model and r.direction == direction}
      values = [cells[lang] for lang in langs]
      rows.append([f"{model}({direction})"] + [_fmt(v) for v in values]
                  + [_fmt(sum(values) / len(values))])
  return _markdown_table(header, rows)


def identical_table(identical: Mapping[str, Mapping[str, float]], model: str,
                    baseline: str) -> str:
  """One row: % of sentences with identical embeddings per language, and overall."""
  langs = list(identical)
  same = sum(identical[lang]["identical"] for lang in langs)
  total = sum(identical[lang]["sentences"] for lang in langs)
  header = ["Identical embeddings (%)"] + [languages.short_code(lang) for lang in langs] + ["all"]
  row = [f"{model} vs {baseline}"] + [_fmt(identical[lang]["percent"]) for lang in langs]
  return _markdown_table(header, [row + [_fmt(100.0 * same / total)]])


def to_json(results: Sequence[Result], identical: Mapping[str, Mapping[str, float]]) -> str:
  """The --output file: byte-identical for identical inputs (fixed key order and rounding)."""
  payload = {
      "results": [{"model": r.model, "lang": r.lang, "direction": r.direction,
                   "accuracy": round(r.accuracy, 4), "n": r.n} for r in results],
      "identical_embeddings": {lang: dict(v) for lang, v in identical.items()},
  }
  return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def markdown_report(results: Sequence[Result], identical: Mapping[str, Mapping[str, float]],
                    scoring: str, names: Sequence[str]) -> str:
  """The Markdown written beside the JSON: the results table and the identical-embeddings one."""
  text = (f"### Tatoeba\n\n{results_table(results)}\n"
          f"- *Accuracy(%) of {scoring} nearest-neighbour retrieval on the Tatoeba test sets.*\n")
  if identical:
    text += (f"\n{identical_table(identical, names[1], names[0])}\n"
             f"- *Sentences (both sides) whose embeddings agree within {IDENTICAL_ATOL:g}.*\n")
  return text


def write_outputs(path: str, results: Sequence[Result],
                  identical: Mapping[str, Mapping[str, float]], scoring: str,
                  names: Sequence[str]) -> str:
  """Writes PATH.json and PATH.md atomically; returns the Markdown path."""
  stem, ext = os.path.splitext(path)
  if ext != ".json":
    raise InputError(f"--output={path}: expected a path ending in .json")
  markdown_path = stem + ".md"
  atomic.write_text(path, to_json(results, identical))
  atomic.write_text(markdown_path, markdown_report(results, identical, scoring, names))
  return markdown_path


def evaluate(models: Sequence[Model], pairs: Sequence[Pair], scoring: str = "cosine",
             max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
             max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS, method: str = "fast",
             stats: Optional[List[EmbedStats]] = None
             ) -> Tuple[List[Result], Dict[str, Dict[str, float]]]:
  """Evaluates each model on every pair (one encoding pass per model).

  Args:
    models: `Model`s, or `SentenceTransformerModel`s (method 'fast' only).
    method: 'fast' (`embed`), or 'original' (`embed_original`: each side in batches of
      32 padded to the preprocessor's own length; `max_seq_length` must be 128).
    stats: when given, gets one EmbedStats per model (sentences encoded, seconds).

  Returns:
    (results of every model in order, identical-embedding shares of models[1] vs
     models[0] when there are two models, else {}).
  """
  if method == "original" and max_seq_length != DEFAULT_MAX_SEQ_LENGTH:
    raise InputError(f"--max_seq_length={max_seq_length}: the original method always uses "
                     f"the preprocessor's {DEFAULT_MAX_SEQ_LENGTH}")
  embeddings, results = [], []
  for model in models:
    model_stats = EmbedStats()
    if method == "original":
      if isinstance(model, SentenceTransformerModel):
        raise InputError(f"{model.path}: --method=original needs a TF Hub encoder")
      embedded = {p.lang: (embed_original(model, p.eng), embed_original(model, p.xx))
                  for p in tqdm(pairs, desc=model.name, unit="lang")}
    else:
      embedded = embed_pairs(model, pairs, max_seq_length, max_batch_tokens, model_stats)
    if stats is not None:
      stats.append(model_stats)
    embeddings.append(embedded)
    results.extend(score_pairs(model.name, embedded, scoring))
  identical = identical_share(embeddings[0], embeddings[1]) if len(models) == 2 else {}
  return results, identical
