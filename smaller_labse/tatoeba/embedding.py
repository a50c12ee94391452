"""What every model kind Tatoeba evaluates provides: `SentenceEncoder.embed`, one front door.

A kind (a TF Hub SavedModel pair, hub_model.py; a Sentence Transformers export,
st_model.py) implements `embed_distinct` on distinct sentences and `embed_original`;
`embed` validates, encodes each distinct sentence once, times, and puts repeats back.
"""

import abc
import dataclasses
import os
import time
from typing import Optional, Sequence

import numpy as np

from smaller_labse.errors import InputError

DEFAULT_MAX_SEQ_LENGTH = 128
DEFAULT_MAX_BATCH_TOKENS = 4096


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


class SentenceEncoder(abc.ABC):
  """A model Tatoeba evaluates. Subclasses have a `name` (the label of its rows)."""

  name: str

  def embed(self, sentences: Sequence[str], max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
            max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
            stats: Optional[EmbedStats] = None) -> np.ndarray:
    """Sentence embeddings, each distinct sentence encoded once.

    Args:
      sentences: any strings, none at all included; repeats get the same embedding.
      max_seq_length: the truncation length, [CLS] and [SEP] included (128 as the original).
      max_batch_tokens: padded tokens per batch (where the kind batches by tokens).
      stats: filled in when given.

    Returns:
      float32 [len(sentences), D], L2-normalised.
    """
    if max_seq_length < 3:
      raise InputError(f"--max_seq_length={max_seq_length}: must be at least 3")
    start = time.perf_counter()
    unique, inverse = np.unique(np.asarray(list(sentences), dtype=object), return_inverse=True)
    out = self.embed_distinct(unique.tolist(), max_seq_length, max_batch_tokens, stats)
    if stats is not None:
      stats.sentences += len(unique)
      stats.seconds += time.perf_counter() - start
    return out[inverse.reshape(-1)]

  @abc.abstractmethod
  def embed_distinct(self, sentences: Sequence[str], max_seq_length: int,
                     max_batch_tokens: int, stats: Optional[EmbedStats]) -> np.ndarray:
    """`embed` on distinct sentences: float32 [len(sentences), D], L2-normalised."""

  @abc.abstractmethod
  def embed_original(self, sentences: Sequence[str]) -> np.ndarray:
    """The original method's embeddings (float32 [len(sentences), D]), or InputError where
    the kind has no original method."""


def embed(model: SentenceEncoder, sentences: Sequence[str],
          max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
          max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
          stats: Optional[EmbedStats] = None) -> np.ndarray:
  """`model.embed(...)`: float32 [len(sentences), D], L2-normalised (see SentenceEncoder)."""
  return model.embed(sentences, max_seq_length, max_batch_tokens, stats)


def default_model_name(path: str) -> str:
  """'models/LaBSE_en-fr/1' -> 'LaBSE_en-fr'; 'downloads/labse-2' -> 'labse-2'."""
  parts = [p for p in os.path.normpath(os.path.abspath(path)).split(os.sep) if p]
  while len(parts) > 1 and parts[-1].isdigit():  # TF Hub version directory
    parts.pop()
  return parts[-1] if parts else path
