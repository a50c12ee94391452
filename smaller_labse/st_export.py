"""Writing a Sentence Transformers export and proving it equal to the TensorFlow model.

Stage 1 exports the full LaBSE (`models/labse_st/`) from the SavedModel's own
variables (conversion.py calls `write_and_prove`), stage 3 the smaller one
(`models/LaBSE_{langs}_st/`) from stage 1's weight store (`export_from_store`). Both
write into a temporary directory, prove it with the independent numpy reading of
`st_numpy` against the TensorFlow encoder layer by layer, then write the model card
with the figures and rename the directory into place. Weights are streamed, one
tensor (or 4,096 embedding rows) at a time.
"""

import gc
import hashlib
import os
import tempfile
from collections.abc import Mapping
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from smaller_labse import atomic, hub_format, st_format, st_numpy, verification, weights
from smaller_labse import vocab as vocab_lib
from smaller_labse.config import EncoderConfig
from smaller_labse.encoder import WORD_EMBEDDINGS, Encoder, weight_shapes
from smaller_labse.errors import InputError

FORMATS = ("tfhub", "st")


class StVerificationError(Exception):
  """The export does not compute what the TensorFlow model computes."""


def parse_formats(value: str) -> Sequence[str]:
  """'tfhub,st' -> ('tfhub', 'st'); an unknown or empty name is an InputError."""
  names = [n.strip() for n in value.split(",") if n.strip()]
  unknown = [n for n in names if n not in FORMATS]
  if unknown or not names:
    raise InputError(f"--formats={value}: unknown format {', '.join(unknown) or '(none)'}; "
                     f"choose from {','.join(FORMATS)}")
  return tuple(dict.fromkeys(names))


def fingerprint(*parts: str) -> str:
  """A short SHA-256 of the text parts that identify an export's weights."""
  digest = hashlib.sha256()
  for part in parts:
    digest.update(part.encode("utf-8") + b"\0")
  return digest.hexdigest()


def reference_outputs(encoder, preprocessor, sentences: Sequence[str]
                      ) -> Dict[str, object]:
  """Runs a TF encoder on `sentences`: the inputs (numpy) and the outputs to compare."""
  inputs = verification.pack_to_longest(preprocessor, sentences)
  return _outputs(encoder, inputs, inputs)


def _outputs(encoder, inputs: Mapping[str, tf.Tensor], encoder_inputs: Mapping[str, tf.Tensor]
             ) -> Dict[str, object]:
  """`inputs` (numpy) and the encoder's outputs on `encoder_inputs` (the same, or with the
  ids remapped to the encoder's rows)."""
  outputs = tf.function(lambda x: encoder(x, training=False))(encoder_inputs)
  return {"inputs": {k: v.numpy() for k, v in inputs.items()},
          "encoder_outputs": [x.numpy() for x in outputs["encoder_outputs"]],
          "pooled_output": outputs["pooled_output"].numpy()}


def check(st_dir: str, reference: Mapping[str, object]) -> Dict[str, float]:
  """Proves the export in `st_dir` against `reference` (see `reference_outputs`)."""
  figures = st_numpy.compare_with_encoder(st_dir, reference["inputs"], reference)
  figures["sentences"] = len(reference["pooled_output"])
  if not figures["layers"] <= st_numpy.LAYER_RTOL:
    raise StVerificationError(f"{st_dir}: a layer of the Sentence Transformers export differs "
                              f"from the TF model by {figures['layers']:.3g} (relative) > "
                              f"{st_numpy.LAYER_RTOL}")
  if not figures["pooled_output"] <= st_numpy.LAYER_RTOL:
    raise StVerificationError(f"{st_dir}: the export's pooler differs from the TF model's by "
                              f"{figures['pooled_output']:.3g}")
  return figures


def summary(figures: Mapping[str, float]) -> str:
  """One line for the scripts' output."""
  return (f"verified the Sentence Transformers export on {figures['sentences']} sentences: "
          f"layers within {figures['layers']:.3g} (relative), sentence embeddings max abs "
          f"difference {figures['sentence_embedding']:.3g}")


def model_card(name: str, config: EncoderConfig, how_made: str, figures: Mapping[str, float],
               langs: Optional[Sequence[str]] = None, max_seq_length: int = 128) -> str:
  """README.md of the export: what it is, how it was made, how close it is, how to use it."""
  counts = config.parameter_counts()
  languages = ", ".join(langs) if langs else "the 109 languages of LaBSE"
  yaml_langs = "".join(f"- {lang}\n" for lang in (langs or []) if len(lang) == 2)
  return f"""---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags:
- sentence-transformers
- feature-extraction
- LaBSE
{"language:" + chr(10) + yaml_langs if yaml_langs else ""}---

# {name}

LaBSE (Language-agnostic BERT Sentence Embedding, google/LaBSE/2) in the Sentence
Transformers / Hugging Face format, made by smaller-LaBSE.

| | |
|---|---|
| languages | {languages} |
| vocab size | {config.vocab_size:,} |
| parameters | {counts['model']:,} ({counts['word_embedding']:,} in the word embeddings, {counts['transformer']:,} in the transformer layers) |
| layers, hidden size, heads | {config.num_layers}, {config.hidden_size}, {config.num_heads} |
| max_seq_length | {max_seq_length} (the TF Hub preprocessor's) |

## How it was made

{how_made}

## Fidelity

Proved when it was written, on {figures['sentences']} sentences in 16 languages (no-break
spaces, an over-long word and an empty line included), against the TensorFlow model, by
an independent float64 numpy evaluation of these files with Hugging Face's `BertModel`
conventions:
- each transformer layer, fed the TF model's previous layer: largest difference
  {figures['layers']:.2g} relative to the layer's largest value (float32 rounding);
- the pooler (`pooler_output`, `2_Dense`): max abs difference {figures['pooled_output']:.2g};
- the sentence embedding from the token ids alone against the TF model's normalised
  `default` output: max abs difference {figures['sentence_embedding']:.2g}.

`hidden_act` is `gelu_new`, the tanh approximation of GELU that LaBSE was trained and
exported with (Hugging Face's `gelu` is the exact erf form).

The tokenizer (`tokenizer.json`, loaded by `AutoTokenizer` as a `PreTrainedTokenizerFast`)
reproduces the TF Hub preprocessor (`tensorflow_text.BertTokenizer`, cased): control and
format characters become spaces, words split at ASCII whitespace only (no-break spaces stay
in words, as LaBSE's vocab expects), around punctuation and CJK ideographs, and a word of
more than 100 UTF-8 bytes is `[UNK]`. WordPiece runs on byte-level strings (GPT-2's byte
table), which is what makes that limit count bytes: `tokenizer.convert_ids_to_tokens` shows
tokens in that form (`vocab.txt` has them as text), and `tokenizer.decode` gives text back.
Hugging Face's `BertTokenizer` (`use_fast=False`, or the class named explicitly) tokenizes
differently and should not be used with this model.

## Usage

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("path/to/this/directory")
embeddings = model.encode(["Hello, world!", "Bonjour tout le monde\\u202f!"])
print(model.similarity(embeddings, embeddings))
```

```python
import torch
from transformers import AutoModel, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("path/to/this/directory")
model = AutoModel.from_pretrained("path/to/this/directory").eval()
batch = tokenizer(["Hello, world!"], padding=True, truncation=True, max_length={max_seq_length},
                  return_tensors="pt")
with torch.no_grad():
    embeddings = torch.nn.functional.normalize(model(**batch).pooler_output, dim=-1)
```
"""


class _StoredRows:
  """Rows of a weight-store tensor, read on demand: exporting the 1.5 GB word embedding
  table never holds it, nor maps it into memory, whole.

  Row i is row `rows[i]` of the stored tensor (all rows in order when `rows` is None).
  """

  def __init__(self, path: str, shape: Tuple[int, ...], rows: Optional[np.ndarray] = None):
    self.path, self.rows = path, rows
    self.shape = shape if rows is None else (len(rows),) + tuple(shape[1:])

  def __getitem__(self, index: slice) -> np.ndarray:
    start, stop, _ = index.indices(self.shape[0])
    wanted = np.arange(start, stop) if self.rows is None else self.rows[start:stop]
    return weights.read_weight(self.path, wanted)


class _LazyStore(Mapping):
  """Stage 1's weights by LaBSE name, each read from its .npy when looked up (the word
  embeddings, rows `rows`, as `_StoredRows`): the export holds one tensor at a time."""

  def __init__(self, model_dir: str, config: EncoderConfig, rows: Optional[np.ndarray]):
    self._dir, self._shapes, self._rows = model_dir, weight_shapes(config), rows

  def __getitem__(self, name: str) -> object:
    path, shape = weights.weight_path(self._dir, name), self._shapes[name]
    if name == WORD_EMBEDDINGS:
      return _StoredRows(path, shape, self._rows)
    value = weights.read_weight(path)
    if value.shape != shape:
      raise InputError(f"{path}: shape {value.shape}, expected {shape}")
    return value

  def __iter__(self):
    return iter(self._shapes)

  def __len__(self) -> int:
    return len(self._shapes)


def _reference(model_dir: str, config: EncoderConfig, tokens: Sequence[str],
               rows: Optional[np.ndarray]) -> Dict[str, object]:
  """The TF encoder's outputs on the proof's sentences, tokenized with `tokens`.

  Built from the weight store with only the word embedding rows the sentences use
  (stage 1 proved this encoder equal to the SavedModel; stage 3 proves the smaller
  SavedModel equal to these weights), so the proof never holds the whole table.
  """
  with tempfile.TemporaryDirectory() as scratch:
    vocab_path = os.path.join(scratch, weights.VOCAB_FILE)
    vocab_lib.write_token_file(vocab_path, tokens)
    preprocessor = hub_format.Preprocessor(vocab_path, list(tokens), config.do_lower_case)
    inputs = verification.pack_to_longest(preprocessor, verification.VERIFICATION_SENTENCES)
  ids = inputs["input_word_ids"].numpy()
  used = np.unique(ids)  # Ids in `tokens`.
  stored = used if rows is None else rows[used]  # Rows of the store.
  encoder = Encoder(config.with_vocab_size(len(used)),
                    weights.load_weights(model_dir, config, word_rows=stored))
  remapped = dict(inputs, input_word_ids=tf.constant(np.searchsorted(used, ids).astype(np.int32)))
  return _outputs(encoder, inputs, remapped)


def export_from_store(model_dir: str, st_dir: str, source: str, name: str, how_made: str,
                      tokens: Optional[Sequence[str]] = None, rows: Optional[np.ndarray] = None,
                      langs: Optional[Sequence[str]] = None,
                      max_seq_length: int = st_format.DEFAULT_MAX_SEQ_LENGTH
                      ) -> Dict[str, float]:
  """Writes the model of a weight store (models/labse) into the new directory `st_dir`.

  Args:
    model_dir: stage 1's weight store.
    st_dir: a new or empty directory (callers write to a temporary path).
    source: identifies the weights (see st_format.holds_same_model).
    name, how_made, langs: for the model card.
    tokens: the export's vocab; None: the store's.
    rows: int [len(tokens)], the store's row of each token; None: all rows in order.
    max_seq_length: the Sentence Transformers model's.

  Returns:
    The figures of `check`.

  Raises:
    StVerificationError: the export does not compute what the TF encoder computes.
  """
  store_config, store_tokens = weights.load_config_and_vocab(model_dir)
  tokens = store_tokens if tokens is None else list(tokens)
  config = store_config.with_vocab_size(len(tokens))
  st_format.check_max_seq_length(max_seq_length, config)
  reference = _reference(model_dir, store_config, tokens, rows)
  gc.collect()  # The reference encoder (its tf.function holds cycles).
  return write_and_prove(st_dir, config, tokens, _LazyStore(model_dir, store_config, rows),
                         reference, source, name, how_made, langs, max_seq_length)


def write_and_prove(st_dir: str, config: EncoderConfig, tokens: Sequence[str],
                    weight_values: Mapping[str, object], reference: Mapping[str, object],
                    source: str, name: str, how_made: str,
                    langs: Optional[Sequence[str]] = None,
                    max_seq_length: int = st_format.DEFAULT_MAX_SEQ_LENGTH) -> Dict[str, float]:
  """Writes the export into the new directory `st_dir`, proves it against `reference`
  (see `reference_outputs`), then writes its model card. Returns the figures."""
  st_format.write_st_model(st_dir, config, tokens, weight_values, source, max_seq_length)
  figures = check(st_dir, reference)
  atomic.write_text(os.path.join(st_dir, "README.md"),
                    model_card(name, config, how_made, figures, langs, max_seq_length))
  _share_permissions(st_dir)
  return figures


def _share_permissions(directory: str) -> None:
  """Temporary files and directories are private (0600/0700); a model directory meant to be
  shared or uploaded gets the permissions of an ordinary one (umask applied)."""
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(directory, 0o777 & ~umask)
  for root, dirs, names in os.walk(directory):
    for d in dirs:
      os.chmod(os.path.join(root, d), 0o777 & ~umask)
    for n in names:
      os.chmod(os.path.join(root, n), 0o666 & ~umask)


STAGE1_HOW = ("Converted from the TF Hub SavedModel google/LaBSE/2 by smaller-LaBSE's stage 1 "
              "(`save_as_weight_from_saved_model.py`), without TF Model Garden: the encoder is "
              "rebuilt in the project's own code, proven equal to the SavedModel, and its "
              "weights are written under Hugging Face's BERT names.")


def export_weight_store(model_dir: str, st_dir: str, overwrite: bool = False,
                        max_seq_length: int = st_format.DEFAULT_MAX_SEQ_LENGTH,
                        name: str = "LaBSE") -> Dict[str, float]:
  """Stage 1's export of the whole weight store `model_dir` (models/labse) to `st_dir`.

  Refuses an `st_dir` that holds another model unless `overwrite`. Returns the figures.
  """
  config, tokens = weights.load_config_and_vocab(model_dir)
  st_format.check_max_seq_length(max_seq_length, config)
  source = store_fingerprint(model_dir, tokens)
  atomic.check_replaceable(st_dir, st_format.holds_same_model(st_dir, tokens, source), overwrite)
  with atomic.atomic_path(st_dir, is_dir=True) as tmp:
    return export_from_store(model_dir, tmp, source, name, STAGE1_HOW,
                             max_seq_length=max_seq_length)


def store_fingerprint(model_dir: str, tokens: Sequence[str]) -> str:
  """Identifies an export of the store `model_dir` with vocab `tokens`: stage 1's source
  checksum (source.json) and the tokens."""
  path = os.path.join(model_dir, "source.json")
  return store_fingerprint_of(open(path, encoding="utf-8").read() if os.path.isfile(path)
                              else "", tokens)


def store_fingerprint_of(source_json: str, tokens: Sequence[str]) -> str:
  """`store_fingerprint` from the text of source.json."""
  return fingerprint(source_json, *tokens)
