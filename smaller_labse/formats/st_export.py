"""Writing a Sentence Transformers export and proving it equal to the TensorFlow model.

Stage 1 exports the full model of a TF Hub source (`models/labse_st/`), stage 3 the smaller
one of any source (`models/{name}_{langs}_st/`), both from a `sources.Model` (its weights read
lazily). The export is written into a temporary directory, proven with the independent numpy
reading of `st_numpy` against our TensorFlow encoder layer by layer (stage 1 proved that
encoder equal to the source), then gets its model card and is renamed into place. Weights are
streamed, one tensor (or 4,096 embedding rows) at a time.
"""

import hashlib
import os
from collections.abc import Mapping
from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from smaller_labse import atomic, files, memory
# Stage 3's --formats (formats/__init__.py, no TensorFlow), also named here.
from smaller_labse.formats import FORMATS, parse_formats, hf_bert  # noqa: F401
from smaller_labse.formats import sentence_transformers as st_layout
from smaller_labse.model import numpy_reference, verification
from smaller_labse.tokenizers.base import Role
from smaller_labse.model.config import WORD_EMBEDDINGS, EncoderConfig
from smaller_labse.model.encoder import Encoder


class StVerificationError(Exception):
  """The export does not compute what the TensorFlow model computes."""


def fingerprint(*parts: str) -> str:
  """A short SHA-256 of the text parts that identify an export's weights."""
  digest = hashlib.sha256()
  for part in parts:
    digest.update(part.encode("utf-8") + b"\0")
  return digest.hexdigest()


class RowsView(Mapping):
  """A model's weights with the word embeddings restricted to `rows` (read on demand): the
  export of a smaller vocab, without the whole table in memory. rows=None: all rows."""

  def __init__(self, weights: Mapping[str, object], rows: Optional[np.ndarray]):
    self._weights, self._rows = weights, rows

  def __getitem__(self, name: str):
    value = self._weights[name]
    if name != WORD_EMBEDDINGS or self._rows is None:
      return value
    return _SelectedRows(value, self._rows)

  def __iter__(self):
    return iter(self._weights)

  def __len__(self) -> int:
    return len(self._weights)


class _SelectedRows:
  """Rows `rows` of a [V, D] table (a row reader or a tf.Variable), read 4,096 at a time."""

  def __init__(self, table, rows: np.ndarray):
    self._table, self._rows = table, np.asarray(rows, np.int64)
    self.shape = (len(self._rows),) + tuple(table.shape[1:])

  def __getitem__(self, index: slice) -> np.ndarray:
    wanted = self._rows[index]
    if hasattr(self._table, "rows"):
      return self._table.rows(wanted)
    return tf.gather(self._table, wanted).numpy()


def reference_outputs(model, tokenizer, rows: Optional[np.ndarray] = None,
                      sentences: Sequence[str] = tuple(verification.VERIFICATION_SENTENCES)
                      ) -> Dict[str, object]:
  """Our TF encoder on `sentences`, tokenized by the export's `tokenizer` (ids in its vocab).

  Built with only the embedding rows the sentences use (`rows`: the model's row of each
  export token; None: the same vocab), so it never holds the whole table.

  Returns:
    'inputs' (int32 [B, S] numpy, export ids), 'encoder_outputs' (one [B, S, D] per layer),
    'pooled_output' [B, D] (the sentence head).
  """
  inputs = tokenizer.pack_ids(tokenizer.encode(list(sentences)))
  ids = inputs["input_word_ids"]
  used, remapped = np.unique(ids, return_inverse=True)
  stored = used if rows is None else np.asarray(rows)[used]
  encoder = Encoder(model.config.with_vocab_size(len(used)), model.weights_for_rows(stored))
  encoder_inputs = dict(inputs, input_word_ids=remapped.reshape(ids.shape).astype(np.int32))
  outputs = tf.function(lambda x: encoder(x, training=False))(
      {k: tf.constant(v) for k, v in encoder_inputs.items()})
  return {"inputs": inputs,
          "encoder_outputs": [x.numpy() for x in outputs["encoder_outputs"]],
          "pooled_output": outputs["pooled_output"].numpy()}


def check(st_dir: str, reference: Mapping[str, object], pooler_is_head: bool = True
          ) -> Dict[str, float]:
  """Proves the export in `st_dir` against `reference` (see `reference_outputs`).

  pooler_is_head: BertModel's pooler.dense must also compute the sentence head (False for a
  Sentence Transformers source, whose own pooler is kept as it was).
  """
  figures = numpy_reference.compare_with_encoder(st_dir, reference["inputs"], reference,
                                          pooler_is_head)
  figures["sentences"] = len(reference["pooled_output"])
  if not figures["layers"] <= numpy_reference.LAYER_RTOL:
    raise StVerificationError(f"{st_dir}: a layer of the Sentence Transformers export differs "
                              f"from the TF model by {figures['layers']:.3g} (relative) > "
                              f"{numpy_reference.LAYER_RTOL}")
  if not figures["pooled_output"] <= numpy_reference.LAYER_RTOL:
    raise StVerificationError(f"{st_dir}: the export's sentence head differs from the TF "
                              f"model's pooler by {figures['pooled_output']:.3g}")
  return figures


def summary(figures: Mapping[str, float]) -> str:
  """One line for the scripts' output."""
  return (f"verified the Sentence Transformers export on {figures['sentences']} sentences: "
          f"layers within {figures['layers']:.3g} (relative), sentence embeddings max abs "
          f"difference {figures['sentence_embedding']:.3g}")


def model_card(name: str, config: EncoderConfig, how_made: str, figures: Mapping[str, float],
               langs: Optional[Sequence[str]] = None, max_seq_length: int = 128,
               embedding: str = "", tokenizer_note: str = "") -> str:
  """README.md of the export: what it is, how it was made, how close it is, how to use it.
  `tokenizer_note`: the exported tokenizer's paragraph (`Tokenizer.export_note`)."""
  counts = config.parameter_counts()
  languages = ", ".join(langs) if langs else "every language of the original model"
  yaml_langs = "".join(f"- {lang}\n" for lang in (langs or []) if len(lang) == 2)
  if config.approximate_gelu:
    activation = (f"`hidden_act` is `{config.hidden_act}`, the tanh approximation of GELU that "
                  "LaBSE was trained and exported with (Hugging Face's `gelu` is the exact erf "
                  "form).")
  else:
    activation = (f"`hidden_act` is `{config.hidden_act}`, the exact erf GELU, as the source "
                  "model declares (TF Hub's LaBSE/2 computes the tanh approximation).")
  tokenizer = tokenizer_note
  return f"""---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags:
- sentence-transformers
- feature-extraction
- LaBSE
{"language:" + chr(10) + yaml_langs if yaml_langs else ""}---

# {name}

A LaBSE-family sentence encoder in the Sentence Transformers / Hugging Face format, made by
smaller-LaBSE.

| | |
|---|---|
| languages | {languages} |
| vocab size | {config.vocab_size:,} |
| parameters | {counts['model']:,} ({counts['word_embedding']:,} in the word embeddings, {counts['transformer']:,} in the transformer layers) |
| layers, hidden size, heads | {config.num_layers}, {config.hidden_size}, {config.num_heads} |
| max_seq_length | {max_seq_length} |
| sentence embedding | {embedding or "the Dense (tanh) module on [CLS], normalised"} |

## How it was made

{how_made}

## Fidelity

Proved when it was written, on {figures['sentences']} sentences in 16 languages (no-break
spaces, an over-long word and an empty line included), against smaller-LaBSE's TensorFlow
encoder (itself proven equal to the source model layer by layer), by an independent float64
numpy evaluation of these files with Hugging Face's `BertModel` conventions:
- each transformer layer, fed the TF model's previous layer: largest difference
  {figures['layers']:.2g} relative to the layer's largest value (float32 rounding);
- the sentence head (`2_Dense`): max abs difference {figures['pooled_output']:.2g};
- the sentence embedding from the token ids alone against the TF model's normalised
  `default` output: max abs difference {figures['sentence_embedding']:.2g}.

{activation}

{tokenizer}

## Usage

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("path/to/this/directory")
embeddings = model.encode(["Hello, world!", "Bonjour tout le monde\\u202f!"])
print(model.similarity(embeddings, embeddings))
```
"""


def export(st_dir: str, model, source: str, name: str, how_made: str,
           tokens: Optional[Sequence[str]] = None, rows: Optional[np.ndarray] = None,
           langs: Optional[Sequence[str]] = None, max_seq_length: Optional[int] = None,
           bert_file: Optional[str] = None) -> Dict[str, float]:
  """Writes `model` (or its smaller vocab `tokens`) into the new directory `st_dir`, proves it,
  then writes its model card.

  Args:
    st_dir: a new or empty directory (callers write to a temporary path).
    model: a `sources.Model` (a source, or stage 1's store read back).
    source: identifies the weights (see st_layout.holds_same_model).
    name, how_made, langs: for the model card.
    tokens: the export's vocab (tokens of `model.tokenizer`, at `rows`); None: the model's.
    rows: int [len(tokens)], the model's row of each token; None: all rows in order.
    max_seq_length: None: a Sentence Transformers source's own, else 128.
    bert_file: a model.safetensors already holding these BertModel tensors (stage 1's store).

  Returns:
    The figures of `check`.

  Raises:
    StVerificationError: the export does not compute what the TF encoder computes.
  """
  tokenizer = model.tokenizer if tokens is None else model.tokenizer.pruned(rows)
  config = model.config.with_vocab_size(len(tokens) if tokens is not None else len(model.tokens))
  if max_seq_length is None:
    max_seq_length = (model.layout.max_seq_length if model.layout
                      else st_layout.DEFAULT_MAX_SEQ_LENGTH)
  layout = (model.layout.with_max_seq_length(max_seq_length) if model.layout
            else st_layout.default_layout(config, max_seq_length))
  pad_id = tokenizer.special_ids()[Role.PAD]
  text_files = {"config.json": files.json_text(hf_bert.bert_config(config, pad_id,
                                                                     model.bert_config)),
                **tokenizer.hf_files(max_seq_length)}
  reference = reference_outputs(model, tokenizer, rows)
  memory.release()  # The reference encoder (its tf.function holds cycles), given back.
  st_layout.write_st_model(st_dir, config, RowsView(model.weights, rows), text_files, layout,
                           source, model.bert_pooler, bert_file)
  figures = check(st_dir, reference, model.bert_pooler is hf_bert.SENTENCE_HEAD)
  atomic.write_text(os.path.join(st_dir, "README.md"),
                    model_card(name, config, how_made, figures, langs, max_seq_length,
                               model.embedding, tokenizer.export_note))
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
