"""Every model on every pair, in both directions, and the embeddings two models share."""

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from smaller_labse.errors import InputError
from smaller_labse.tatoeba.data import Pair
from smaller_labse.tatoeba.embedding import (DEFAULT_MAX_BATCH_TOKENS, DEFAULT_MAX_SEQ_LENGTH,
                                             EmbedStats, SentenceEncoder)
from smaller_labse.tatoeba.scoring import retrieval_correct

# Two embeddings are "identical" across models when no coordinate differs by more than this.
IDENTICAL_ATOL = 1e-6
DIRECTIONS = ("en→xx", "xx→en")


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


def embed_pairs(model: SentenceEncoder, pairs: Sequence[Pair], max_seq_length: int,
                max_batch_tokens: int, stats: Optional[EmbedStats] = None
                ) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
  """Embeds every sentence of every pair in one sorted pass: lang -> (eng [n, D], xx [n, D])."""
  sentences = [s for pair in pairs for s in pair.eng + pair.xx]
  embeddings = model.embed(sentences, max_seq_length, max_batch_tokens, stats)
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


def evaluate(models: Sequence[SentenceEncoder], pairs: Sequence[Pair], scoring: str = "cosine",
             max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
             max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS, method: str = "fast",
             stats: Optional[List[EmbedStats]] = None
             ) -> Tuple[List[Result], Dict[str, Dict[str, float]]]:
  """Evaluates each model on every pair (one encoding pass per model).

  Args:
    models: any kinds (hub_model.Model, st_model.SentenceTransformerModel...).
    method: 'fast' (`embed`), or 'original' (`embed_original`, TF Hub models only: each
      side in batches of 32 padded to the preprocessor's own length; `max_seq_length`
      must be 128).
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
      embedded = {p.lang: (model.embed_original(p.eng), model.embed_original(p.xx))
                  for p in tqdm(pairs, desc=model.name, unit="lang")}
    else:
      embedded = embed_pairs(model, pairs, max_seq_length, max_batch_tokens, model_stats)
    if stats is not None:
      stats.append(model_stats)
    embeddings.append(embedded)
    results.extend(score_pairs(model.name, embedded, scoring))
  identical = identical_share(embeddings[0], embeddings[1]) if len(models) == 2 else {}
  return results, identical
