"""Sentence Transformers exports (e.g. models/LaBSE_{langs}_st/) as Tatoeba evaluates them."""

import dataclasses
import os
from typing import Optional, Sequence

import numpy as np

from smaller_labse.errors import InputError
from smaller_labse.tatoeba.embedding import EmbedStats, SentenceEncoder, default_model_name


def is_sentence_transformers_dir(path: str) -> bool:
  """True for a Sentence Transformers / HF export directory (it has modules.json)."""
  return os.path.isfile(os.path.join(path, "modules.json"))


@dataclasses.dataclass
class SentenceTransformerModel(SentenceEncoder):
  """A Sentence Transformers export, evaluated like a TF Hub `Model`.

  Needs the optional `sentence-transformers` package (PyTorch), imported on first use. It
  tokenizes, truncates (to the export's own max_seq_length) and batches itself.

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

  def _loaded(self):
    """The SentenceTransformer, loaded on first use."""
    if self._model is None:
      try:
        from sentence_transformers import SentenceTransformer  # pylint: disable=import-outside-toplevel
      except ImportError:
        raise InputError(f"{self.path}: a Sentence Transformers model; evaluating it needs "
                         "`pip install sentence-transformers`") from None
      self._model = SentenceTransformer(self.path, device=self.device)
    return self._model

  def embed_distinct(self, sentences: Sequence[str], max_seq_length: int,
                     max_batch_tokens: int, stats: Optional[EmbedStats]) -> np.ndarray:
    """float32 [len(sentences), D], L2-normalised (batches of `batch_size` sentences)."""
    model = self._loaded()
    if not sentences:
      # Sentence Transformers 6 renamed get_sentence_embedding_dimension (5.x's name).
      dimension = getattr(model, "get_embedding_dimension",
                          getattr(model, "get_sentence_embedding_dimension", None))
      return np.zeros([0, dimension()], np.float32)
    embeddings = model.encode(list(sentences), batch_size=self.batch_size,
                              normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=len(sentences) > self.batch_size)
    return np.asarray(embeddings, dtype=np.float32)

  def embed_original(self, sentences: Sequence[str]) -> np.ndarray:
    raise InputError(f"{self.path}: --method=original needs a TF Hub encoder")


def load_sentence_transformer(path: str, name: Optional[str] = None, device: Optional[str] = None,
                              batch_size: int = 128) -> SentenceTransformerModel:
  """Checks that `path` is a Sentence Transformers directory; the model loads on first use."""
  if not is_sentence_transformers_dir(path):
    raise InputError(f"{path}: not a Sentence Transformers model (no modules.json)")
  return SentenceTransformerModel(name or default_model_name(path), path, device, batch_size)
