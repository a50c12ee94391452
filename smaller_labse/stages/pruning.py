"""Stage 3: keep the selected vocabulary rows, export, and prove the result equal.

The word embedding rows of the kept tokens are gathered (never recomputed), so
a sentence whose tokenization survives the pruning gets a bit-identical
embedding from the smaller model.
"""

import contextlib
import dataclasses
import os
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from absl import logging

from smaller_labse import atomic, memory
from smaller_labse.formats import FORMATS, sources, store
from smaller_labse.formats import sentence_transformers as st_layout
from smaller_labse.tokenizers import base
from smaller_labse.tokenizers import vocab as vocab_lib
from smaller_labse.tokenizers.base import Tokenizer
from smaller_labse.model.config import parameter_table
from smaller_labse.errors import InputError

# TensorFlow and the modules that use it (tf_hub, verification, encoder, st_export, conversion)
# are imported where the model is built: the inputs are checked first, without them.

PARAMETERS_FILE = "parameters.md"  # Beside the SavedModel's version directory.


@dataclasses.dataclass(frozen=True)
class OutputPaths:
  """Where stage 3 writes the model of one language set, as the original release named them."""
  vocab: str
  encoder: str
  preprocess: str
  st: str = ""  # The Sentence Transformers / Hugging Face directory.

  @classmethod
  def for_name(cls, output_root: str, langs: Sequence[str], name: str) -> "OutputPaths":
    """Paths of the model `name` ('LaBSE_en-fr': {source name}_{langs})."""
    return cls(vocab=os.path.join(output_root, vocab_lib.vocab_file_name(langs)),
               encoder=os.path.join(output_root, name, "1"),
               preprocess=os.path.join(output_root, f"{name}_preprocess", "1"),
               st=os.path.join(output_root, f"{name}_st"))


def read_selections(selected_dir: str, langs: Sequence[str], original: Sequence[str],
                    tokenizer: Tokenizer) -> List[List[str]]:
  """Reads each language's selection, checking every token is in the original vocab.

  A token the model's tokenizer can never produce (`Tokenizer.producible`: e.g. '\\xa0' and
  '##\\xa0' of the original release's selections, for a Hugging Face port of LaBSE whose
  tokenizer strips them) is dropped, and one line says so; any other unknown token is an error.
  """
  known = set(original)
  selections = []
  for lang in langs:
    path = vocab_lib.selected_tokens_path(selected_dir, lang)
    if not os.path.isfile(path):
      raise InputError(f"{path}: selected tokens for {lang!r} not found (run select_vocab.py)")
    tokens = vocab_lib.read_token_file(path)
    unknown = [t for t in tokens if t not in known]
    unproducible = {t for t in unknown if not tokenizer.producible(t)}
    unknown = [t for t in unknown if t not in unproducible]
    if unknown:
      shown = ", ".join(repr(t) for t in unknown[:5])
      raise InputError(f"{path}: {len(unknown)} tokens are not in the original vocab, "
                       f"e.g. {shown}")
    if unproducible:
      shown = ", ".join(repr(t) for t in sorted(unproducible)[:5])
      print(f"{path}: dropped {len(unproducible)} tokens the model's tokenizer can never "
            f"produce ({shown})", flush=True)
      tokens = [t for t in tokens if t not in unproducible]
    selections.append(tokens)
  return selections


def _holds_vocab(saved_model_dir: str, tokens: Sequence[str]) -> bool:
  from smaller_labse.formats import tf_hub  # pylint: disable=import-outside-toplevel
  path = os.path.join(saved_model_dir, "assets", tf_hub.VOCAB_ASSET)
  return os.path.isfile(path) and vocab_lib.read_token_file(path) == list(tokens)


def _token_strings(ids: "tf.RaggedTensor", tokens: Sequence[str]) -> List[List[str]]:
  """int RaggedTensor [B, words, pieces] -> per sentence, its flat list of token strings."""
  return [[tokens[i] for word in sentence for i in word] for sentence in ids.to_list()]


def verify_smaller_model(model: sources.Model, target: Sequence[str], paths: OutputPaths,
                         sentences: Sequence[str], rows: Optional[np.ndarray] = None
                         ) -> Dict[str, float]:
  """Checks the exported smaller TF Hub pair against the model it was cut from.

  A sentence's tokenization survives the pruning when the model's tokenizer gives it the same
  tokens over the smaller vocab as over the full one. For each such sentence, the smaller
  preprocessor must give those tokens (else VerificationError: it does not tokenize as the
  source does), and the smaller SavedModel the original encoder's pooled_output. The original
  is evaluated with only the embedding rows these sentences use, so the check never holds the
  full table in memory.

  Args:
    rows: the model's row of each token of `target` (default: found in model.tokens).

  Returns:
    {'sentences': number compared, 'pruned_sentences': number whose tokenization
     changed, 'pooled_output': max abs difference}.
  """
  # pylint: disable=import-outside-toplevel
  import tensorflow as tf
  from smaller_labse.formats import tf_hub
  from smaller_labse.model import verification
  from smaller_labse.model.encoder import Encoder
  from smaller_labse.model.verification import VerificationError

  if rows is None:
    rows = base.rows_of(target, model.tokens)
  full = model.tokenizer.tokenize(list(sentences))
  survives = [a == b for a, b in zip(full, model.tokenizer.pruned(rows).tokenize(
      list(sentences)))]
  small_preprocess = tf_hub.load_saved_model(paths.preprocess)
  exported = _token_strings(small_preprocess.tokenize(tf.constant(list(sentences))), target)
  for sentence, survive, theirs, ours in zip(sentences, survives, full, exported):
    if survive and theirs != ours:
      raise VerificationError(f"{paths.preprocess}: tokenizes {sentence!r} as {ours[:10]}, "
                              f"the model's own tokenizer as {theirs[:10]}")
  kept = [s for s, keep in zip(sentences, survives) if keep]
  if not kept:
    raise VerificationError("no verification sentence keeps its tokenization: cannot verify")

  inputs = model.tokenizer.pack_ids(model.tokenizer.encode(kept))
  ids = inputs["input_word_ids"]
  used, remapped = np.unique(ids, return_inverse=True)
  reference = Encoder(model.config.with_vocab_size(len(used)), model.weights_for_rows(used))
  remapped_inputs = {k: tf.constant(v) for k, v in inputs.items()}
  remapped_inputs["input_word_ids"] = tf.constant(remapped.reshape(ids.shape).astype(np.int32))
  # Graph mode, like the SavedModel: eager and graph kernels may round differently.
  expected = tf.function(reference.__call__)(remapped_inputs)["pooled_output"].numpy()
  del reference

  smaller = tf_hub.load_saved_model(paths.encoder)
  small_inputs = verification.pack_to_longest(small_preprocess, kept)
  actual = smaller(small_inputs, training=False)["pooled_output"].numpy()
  return {"sentences": len(kept), "pruned_sentences": len(sentences) - len(kept),
          "pooled_output": verification.max_abs_diff(expected, actual)}


def resolve_formats(model: sources.Model, formats: Optional[Sequence[str]]) -> Tuple[str, ...]:
  """The formats stage 3 writes: `formats`, or by default both where the model's tokenizer has
  a TF Hub preprocessor (`Tokenizer.tf_hub_export`) and the Sentence Transformers directory
  alone where it has none (XLM-R's SentencePiece Unigram).

  Raises:
    InputError: 'tfhub' asked of a model whose tokenizer has no TF Hub preprocessor.
  """
  if formats is None:
    return tuple(FORMATS) if model.tokenizer.tf_hub_export else ("st",)
  if "tfhub" in formats and not model.tokenizer.tf_hub_export:
    raise InputError(f"{model.path}: --formats=tfhub: {model.name}'s tokenizer "
                     f"({model.tokenizer.kind}) has no TF Hub preprocessor here; this source is "
                     "exported as a Sentence Transformers / Hugging Face directory (--formats=st, "
                     "its default)")
  return tuple(formats)


def verify_smaller_encoder(model: sources.Model, target: Sequence[str], rows: np.ndarray,
                           sentences: Sequence[str]) -> Dict[str, float]:
  """verify_smaller_model without the TF Hub pair (a tokenizer with no TF Hub preprocessor):
  for each sentence whose tokenization survives, the smaller model (its own pruned tokenizer,
  our encoder over the kept rows, the ids renumbered) must give the original's pooled_output.
  Both are built by the same code in graph mode on the same batch: the difference is 0 where
  the gathered rows are the same.

  Returns:
    {'sentences', 'pruned_sentences', 'pooled_output'}, as verify_smaller_model.
  """
  # pylint: disable=import-outside-toplevel
  import tensorflow as tf
  from smaller_labse.model import verification
  from smaller_labse.model.encoder import Encoder
  from smaller_labse.model.verification import VerificationError

  small_tokenizer = model.tokenizer.pruned(rows)
  full_ids = model.tokenizer.encode(list(sentences))
  small_ids = small_tokenizer.encode(list(sentences))
  row_of = [int(r) for r in rows]
  survives = [[row_of[i] for i in b] == a for a, b in zip(full_ids, small_ids)]
  kept = [i for i, keep in enumerate(survives) if keep]
  if not kept:
    raise VerificationError("no verification sentence keeps its tokenization: cannot verify")

  def pooled(tokenizer, ids, table_rows, vocab_size):
    inputs = tokenizer.pack_ids([ids[i] for i in kept])
    config = model.config.with_vocab_size(vocab_size)
    encoder = Encoder(config, model.weights_for_rows(table_rows))
    return tf.function(encoder.__call__)(
        {k: tf.constant(v) for k, v in inputs.items()})["pooled_output"].numpy()

  used = np.unique([i for k in kept for i in full_ids[k]] + [
      model.tokenizer.special_ids()[r] for r in model.tokenizer.special_ids()])
  renumber = {int(r): i for i, r in enumerate(used)}
  expected = pooled(_Renumbered(model.tokenizer, renumber), full_ids, used, len(used))
  memory.release()  # The first encoder, given back before the second is built.
  actual = pooled(small_tokenizer, small_ids, rows, len(rows))
  memory.release()
  return {"sentences": len(kept), "pruned_sentences": len(sentences) - len(kept),
          "pooled_output": verification.max_abs_diff(expected, actual)}


class _Renumbered:
  """A tokenizer's packing with its ids renumbered (an encoder holding only some rows)."""

  def __init__(self, tokenizer: Tokenizer, renumber: Dict[int, int]):
    self._tokenizer, self._renumber = tokenizer, renumber

  def pack_ids(self, ids):
    special = {role: self._renumber[i] for role, i in self._tokenizer.special_ids().items()}
    return self._tokenizer.packing().pack_ids(
        [[self._renumber[int(i)] for i in line] for line in ids], special)


def make_smaller_labse(model_dir: str, selected_dir: str, langs: Sequence[str],
                       output_root: str, overwrite: bool = False,
                       tolerance: float = 1e-6, formats: Optional[Sequence[str]] = None,
                       st_max_seq_length: Optional[int] = None, name: Optional[str] = None,
                       ) -> Tuple[OutputPaths, str, Dict[str, float], Optional[Dict[str, float]]]:
  """Builds, exports and verifies the smaller model for `langs`.

  Args:
    model_dir: stage 1's weight store (models/labse), of any source.
    selected_dir: stage 2's selections (selected_tokens/).
    langs: language codes; their selections are merged.
    output_root: where the vocab and the models go (models/).
    overwrite: replace outputs that hold another model.
    tolerance: the largest pooled_output difference accepted.
    formats: 'tfhub' (encoder + preprocessor SavedModels) and/or 'st' (Sentence
      Transformers / Hugging Face directory); None: `resolve_formats`'s default. Without
      'tfhub' the SavedModels are still made, in a temporary directory, for the proofs,
      where the tokenizer has a TF Hub preprocessor (else `verify_smaller_encoder`).
    st_max_seq_length: the Sentence Transformers export's max_seq_length (None: a Sentence
      Transformers source's own, else 128).
    name: the outputs' name ({name}_{langs}); None: the source's ("LaBSE" for TF Hub's).

  Returns:
    (output paths (encoder and preprocess '' where not written), the parameter table, the
    verification figures, the Sentence Transformers export's figures or None).
  """
  model = store.open_store(model_dir)
  formats = resolve_formats(model, formats)
  config, original = model.config, model.tokens
  if st_max_seq_length is not None:
    st_layout.check_max_seq_length(st_max_seq_length, config)
  target = model.tokenizer.smaller_vocab(
      original, read_selections(selected_dir, langs, original, model.tokenizer))
  name = f"{name or model.name}_{'-'.join(langs)}"
  paths = OutputPaths.for_name(output_root, langs, name)
  # pylint: disable=import-outside-toplevel
  from smaller_labse.formats import st_export, tf_hub
  from smaller_labse.model import verification
  from smaller_labse.model.encoder import Encoder
  from smaller_labse.stages.conversion import VerificationError
  if "tfhub" in formats:
    atomic.check_replaceable(paths.encoder, _holds_vocab(paths.encoder, target), overwrite)
    atomic.check_replaceable(paths.preprocess, _holds_vocab(paths.preprocess, target), overwrite)
  st_source = st_export.fingerprint(store.store_text(model_dir), *target)
  if "st" in formats:
    atomic.check_replaceable(paths.st, st_layout.holds_same_model(paths.st, target, st_source,
                                                                  model.layout), overwrite)
  small_config = config.with_vocab_size(len(target))
  rows = base.rows_of(target, original)
  small_tokenizer = model.tokenizer.pruned(rows)
  logging.info("keeping %d of %d tokens", len(target), len(original))

  st_figures = None
  with contextlib.ExitStack() as stack:
    tmp_vocab = stack.enter_context(atomic.atomic_path(paths.vocab))
    tf_hub_pair = model.tokenizer.tf_hub_export
    if "tfhub" in formats:
      tmp_encoder = stack.enter_context(atomic.atomic_path(paths.encoder, is_dir=True))
      tmp_preprocess = stack.enter_context(atomic.atomic_path(paths.preprocess, is_dir=True))
    elif tf_hub_pair:
      scratch = stack.enter_context(tempfile.TemporaryDirectory())
      tmp_encoder, tmp_preprocess = (os.path.join(scratch, n) for n in ("encoder", "preprocess"))
    vocab_lib.write_token_file(tmp_vocab, target)
    if tf_hub_pair:
      encoder = Encoder(small_config, model.weights_for_rows(rows))
      tf_hub.export_encoder(encoder, target, tmp_encoder)
      del encoder
      tf_hub.export_preprocessor(target, tmp_preprocess,
                                 preprocessor=small_tokenizer.tf_preprocessor)
      figures = verify_smaller_model(model, target,
                                     OutputPaths(tmp_vocab, tmp_encoder, tmp_preprocess),
                                     verification.VERIFICATION_SENTENCES, rows)
    else:
      figures = verify_smaller_encoder(model, target, rows, verification.VERIFICATION_SENTENCES)
    if not figures["pooled_output"] <= tolerance:
      raise VerificationError(f"the smaller model's pooled_output differs from the original's "
                              f"by {figures['pooled_output']:.3g} > {tolerance}")
    if "st" in formats:  # From the weight store: the SavedModels are no longer in memory.
      memory.release()
      tmp_st = stack.enter_context(atomic.atomic_path(paths.st, is_dir=True))
      how = (f"Made by smaller-LaBSE's `make_smaller_labse.py --langs={','.join(langs)}` from "
             f"{model.description}: it keeps the {len(target):,} vocabulary rows these "
             f"languages use (of {len(original):,}) and copies them, and every other weight, "
             "unchanged. A sentence whose tokenization the smaller vocab keeps gets the "
             "original model's embedding.")
      st_figures = st_export.export(tmp_st, model, st_source, name, how, target, rows, langs,
                                    st_max_seq_length)
  table = "\n".join(parameter_table([(n, c.parameter_counts(), c.vocab_size) for n, c in
                                     ((model.name, config), (name, small_config))])) + "\n"
  if "tfhub" in formats:
    atomic.write_text(os.path.join(os.path.dirname(paths.encoder), PARAMETERS_FILE), table)
  else:
    paths = dataclasses.replace(paths, encoder="", preprocess="")
  return paths, table, figures, st_figures

