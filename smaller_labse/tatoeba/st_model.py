"""PyTorch models as Tatoeba evaluates them: Sentence Transformers directories (e.g.
models/LaBSE_{langs}_st/, sentence-transformers/LaBSE) and plain Hugging Face BERT directories
(setu4993/LaBSE, LEALLA: normalised `pooler_output`, as their model cards say)."""

import dataclasses
from typing import Optional, Sequence

import numpy as np

from smaller_labse.errors import InputError
from smaller_labse.formats import sources
from smaller_labse.formats.sentence_transformers import is_sentence_transformers_dir
from smaller_labse.tatoeba.embedding import EmbedStats, SentenceEncoder, default_model_name


@dataclasses.dataclass
class PyTorchModel(SentenceEncoder):
  """A model directory run in PyTorch, loaded on first use (`_loaded`).

  Attributes:
    name: the label of its rows in the results.
    path: the model directory.
    device: 'cuda', 'cpu'... (None: the library picks, CUDA when there is one).
    batch_size: sentences per batch.
  """
  name: str
  path: str
  device: Optional[str] = None
  batch_size: int = 128
  _model: object = dataclasses.field(default=None, repr=False)

  def embed_original(self, sentences: Sequence[str]) -> np.ndarray:
    raise InputError(f"{self.path}: --method=original needs a TF Hub encoder")


@dataclasses.dataclass
class SentenceTransformerModel(PyTorchModel):
  """A Sentence Transformers export (`path` holds modules.json), evaluated like a TF Hub `Model`.

  Needs the optional `sentence-transformers` package (PyTorch), imported on first use. It
  tokenizes, truncates (to the export's own max_seq_length) and batches itself.

  prompt_name: the model's prompt put before every sentence (config_sentence_transformers.json:
  multilingual-e5's "query" -> "query: "); None: the model's own for queries (its
  default_prompt_name, else "query" where it has one, else none); "": no prompt.
  """
  prompt_name: Optional[str] = None

  def prompt(self) -> str:
    """The text put before every sentence ('' for none)."""
    model = self._loaded()
    prompts = dict(getattr(model, "prompts", None) or {})
    name = self.prompt_name
    if name is None:
      name = getattr(model, "default_prompt_name", None) or ("query" if prompts.get("query")
                                                             else "")
    if name and name not in prompts:
      known = ", ".join(sorted(prompts)) or "none"
      raise InputError(f"{self.path}: --prompt_name={name}: not one of the model's prompts "
                       f"(config_sentence_transformers.json: {known})")
    return prompts.get(name, "") if name else ""

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
    embeddings = model.encode(list(sentences), prompt=self.prompt(), batch_size=self.batch_size,
                              normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=len(sentences) > self.batch_size)
    return np.asarray(embeddings, dtype=np.float32)


def load_sentence_transformer(path: str, name: Optional[str] = None, device: Optional[str] = None,
                              batch_size: int = 128, prompt_name: Optional[str] = None
                              ) -> SentenceTransformerModel:
  """Checks that `path` is a Sentence Transformers directory; the model loads on first use.
  prompt_name: see SentenceTransformerModel."""
  if not is_sentence_transformers_dir(path):
    raise InputError(f"{path}: not a Sentence Transformers model (no modules.json)")
  return SentenceTransformerModel(name or default_model_name(path), path, device, batch_size,
                                  prompt_name=prompt_name)


@dataclasses.dataclass
class TransformersModel(PyTorchModel):
  """A plain Hugging Face BertModel directory: its tokenizer, then the normalised pooler_output.

  Needs PyTorch and transformers, imported on first use.
  """

  def _loaded(self):
    """(tokenizer, BertModel, device), loaded on first use."""
    if self._model is None:
      try:
        import torch  # pylint: disable=import-outside-toplevel
        from transformers import AutoModel, AutoTokenizer  # pylint: disable=import-outside-toplevel
      except ImportError:
        raise InputError(f"{self.path}: a Hugging Face model; evaluating it needs "
                         "`pip install torch transformers`") from None
      device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
      model = AutoModel.from_pretrained(self.path).to(device).eval()
      self._model = (AutoTokenizer.from_pretrained(self.path), model, device)
    return self._model

  def embed_distinct(self, sentences: Sequence[str], max_seq_length: int,
                     max_batch_tokens: int, stats: Optional[EmbedStats]) -> np.ndarray:
    """float32 [len(sentences), D], L2-normalised pooler_output, batches of similar length."""
    import torch  # pylint: disable=import-outside-toplevel
    tokenizer, model, device = self._loaded()
    out = np.zeros([len(sentences), model.config.hidden_size], np.float32)
    order = np.argsort([len(s) for s in sentences], kind="stable")
    with torch.no_grad():
      for start in range(0, len(sentences), self.batch_size):
        rows = order[start:start + self.batch_size]
        batch = tokenizer([sentences[i] for i in rows], padding=True, truncation=True,
                          max_length=max_seq_length, return_tensors="pt").to(device)
        pooled = model(**batch).pooler_output
        out[rows] = torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()
    return out


def is_pytorch_model_dir(path: str) -> bool:
  """A Sentence Transformers or Hugging Face directory (not a TF Hub SavedModel): the kinds
  `sources.source_kind` tells from the files."""
  try:
    return sources.source_kind(path) != sources.TFHUB
  except InputError:  # Not a model directory.
    return False


def load_pytorch_model(path: str, name: Optional[str] = None, device: Optional[str] = None,
                       batch_size: int = 128, prompt_name: Optional[str] = None
                       ) -> SentenceEncoder:
  """A Sentence Transformers directory (`prompt_name`: see SentenceTransformerModel), or a
  plain Hugging Face directory."""
  if is_sentence_transformers_dir(path):
    return load_sentence_transformer(path, name, device, batch_size, prompt_name)
  if not is_pytorch_model_dir(path):
    raise InputError(f"{path}: not a Sentence Transformers or Hugging Face model directory")
  return TransformersModel(name or default_model_name(path), path, device, batch_size)
