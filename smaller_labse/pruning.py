"""Stage 3: keep the selected vocabulary rows, export, and prove the result equal.

The word embedding rows of the kept tokens are gathered (never recomputed), so
a sentence whose tokenization survives the pruning gets a bit-identical
embedding from the smaller model.
"""

import contextlib
import dataclasses
import gc
import os
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from smaller_labse import atomic, hub_format, st_export, st_format, verification, weights
from smaller_labse import vocab as vocab_lib
from smaller_labse.config import EncoderConfig
from smaller_labse.conversion import VerificationError
from smaller_labse.encoder import Encoder
from smaller_labse.errors import InputError

PARAMETERS_FILE = "parameters.md"  # Beside the SavedModel's version directory.


@dataclasses.dataclass(frozen=True)
class OutputPaths:
  """Where stage 3 writes the model of one language set, as the original release named them."""
  vocab: str
  encoder: str
  preprocess: str
  st: str = ""  # The Sentence Transformers / Hugging Face directory.

  @classmethod
  def for_langs(cls, output_root: str, langs: Sequence[str]) -> "OutputPaths":
    joined = "-".join(langs)
    return cls(vocab=os.path.join(output_root, vocab_lib.vocab_file_name(langs)),
               encoder=os.path.join(output_root, f"LaBSE_{joined}", "1"),
               preprocess=os.path.join(output_root, f"LaBSE_{joined}_preprocess", "1"),
               st=os.path.join(output_root, f"LaBSE_{joined}_st"))


def read_selections(selected_dir: str, langs: Sequence[str], original: Sequence[str]
                    ) -> List[List[str]]:
  """Reads each language's selection, checking every token is in the original vocab."""
  known = set(original)
  selections = []
  for lang in langs:
    path = vocab_lib.selected_tokens_path(selected_dir, lang)
    if not os.path.isfile(path):
      raise InputError(f"{path}: selected tokens for {lang!r} not found (run select_vocab.py)")
    tokens = vocab_lib.read_token_file(path)
    unknown = [t for t in tokens if t not in known]
    if unknown:
      shown = ", ".join(repr(t) for t in unknown[:5])
      raise InputError(f"{path}: {len(unknown)} tokens are not in the original vocab, "
                       f"e.g. {shown}")
    selections.append(tokens)
  return selections


def parameter_table(rows: Sequence[Tuple[str, EncoderConfig]]) -> str:
  """The README's table: #param transformer / word embedding / model, vocab size."""
  lines = ["| Model | #param(transformer) | #param(word embedding) | #param(model) | vocab size |",
           "|---|---:|---:|---:|---:|"]
  for name, config in rows:
    counts = config.parameter_counts()
    cells = [f"{counts[k]:,} ({counts[k] / 1e6:.0f}M)"
             for k in ("transformer", "word_embedding", "model")]
    lines.append(f"| {name} | " + " | ".join(cells) + f" | {config.vocab_size:,} |")
  return "\n".join(lines) + "\n"


def _holds_vocab(saved_model_dir: str, tokens: Sequence[str]) -> bool:
  path = os.path.join(saved_model_dir, "assets", hub_format.VOCAB_ASSET)
  return os.path.isfile(path) and vocab_lib.read_token_file(path) == list(tokens)


def _token_strings(ids: tf.RaggedTensor, tokens: Sequence[str]) -> List[List[str]]:
  """int RaggedTensor [B, words, pieces] -> per sentence, its flat list of token strings."""
  return [[tokens[i] for word in sentence for i in word] for sentence in ids.to_list()]


def verify_smaller_model(model_dir: str, config: EncoderConfig, original: Sequence[str],
                         paths: OutputPaths, sentences: Sequence[str]
                         ) -> Dict[str, float]:
  """Checks the exported smaller model against the original weights.

  For each sentence whose tokenization is unchanged by the pruning, the smaller
  SavedModel (through its own preprocessor) must give the original encoder's
  pooled_output. The original is evaluated with only the embedding rows these
  sentences use, so the check never holds the full table in memory.

  Returns:
    {'sentences': number compared, 'pruned_sentences': number whose tokenization
     changed, 'pooled_output': max abs difference}.
  """
  small_tokens = vocab_lib.read_token_file(paths.vocab)
  full = hub_format.Preprocessor(os.path.join(model_dir, weights.VOCAB_FILE), list(original),
                                 config.do_lower_case)
  small_preprocess = hub_format.load_saved_model(paths.preprocess)
  batch = tf.constant(list(sentences))
  full_ids = full.tokenize(batch)
  same = [a == b for a, b in zip(_token_strings(full_ids, original),
                                 _token_strings(small_preprocess.tokenize(batch), small_tokens))]
  kept = [s for s, keep in zip(sentences, same) if keep]
  if not kept:
    raise VerificationError("no verification sentence keeps its tokenization: cannot verify")

  inputs = verification.pack_to_longest(full, kept)
  used = np.unique(inputs["input_word_ids"].numpy())
  reference = Encoder(config.with_vocab_size(len(used)),
                      weights.load_weights(model_dir, config, word_rows=used))
  remapped = dict(inputs, input_word_ids=tf.constant(
      np.searchsorted(used, inputs["input_word_ids"].numpy()).astype(np.int32)))
  # Graph mode, like the SavedModel: eager and graph kernels may round differently.
  expected = tf.function(reference.__call__)(remapped)["pooled_output"].numpy()
  del reference

  smaller = hub_format.load_saved_model(paths.encoder)
  small_inputs = verification.pack_to_longest(small_preprocess, kept)
  actual = smaller(small_inputs, training=False)["pooled_output"].numpy()
  return {"sentences": len(kept), "pruned_sentences": len(sentences) - len(kept),
          "pooled_output": verification.max_abs_diff(expected, actual)}


def make_smaller_labse(model_dir: str, selected_dir: str, langs: Sequence[str],
                       output_root: str, overwrite: bool = False,
                       tolerance: float = 1e-6, formats: Sequence[str] = st_export.FORMATS,
                       st_max_seq_length: int = st_format.DEFAULT_MAX_SEQ_LENGTH,
                       ) -> Tuple[OutputPaths, str, Dict[str, float], Optional[Dict[str, float]]]:
  """Builds, exports and verifies the smaller LaBSE for `langs`.

  Args:
    model_dir: stage 1's weight store (models/labse).
    selected_dir: stage 2's selections (selected_tokens/).
    langs: language codes; their selections are merged.
    output_root: where the vocab and the models go (models/).
    overwrite: replace outputs that hold another model.
    tolerance: the largest pooled_output difference accepted.
    formats: 'tfhub' (encoder + preprocessor SavedModels) and/or 'st' (Sentence
      Transformers / Hugging Face directory). Without 'tfhub' the SavedModels are
      still made, in a temporary directory, for the proofs.
    st_max_seq_length: the Sentence Transformers export's max_seq_length.

  Returns:
    (output paths, the parameter table, the verification figures, the Sentence
    Transformers export's figures or None).
  """
  config, original = weights.load_config_and_vocab(model_dir)
  st_format.check_max_seq_length(st_max_seq_length, config)
  target = vocab_lib.build_target_vocab(original, read_selections(selected_dir, langs, original))
  paths = OutputPaths.for_langs(output_root, langs)
  if "tfhub" in formats:
    atomic.check_replaceable(paths.encoder, _holds_vocab(paths.encoder, target), overwrite)
    atomic.check_replaceable(paths.preprocess, _holds_vocab(paths.preprocess, target), overwrite)
  st_source = st_export.store_fingerprint(model_dir, target)
  if "st" in formats:
    atomic.check_replaceable(paths.st, st_format.holds_same_model(paths.st, target, st_source),
                             overwrite)
  small_config = config.with_vocab_size(len(target))
  logging.info("keeping %d of %d tokens", len(target), len(original))

  index = {token: i for i, token in enumerate(original)}
  rows = np.array([index[t] for t in target], np.int64)
  name = f"LaBSE_{'-'.join(langs)}"
  st_figures = None
  with contextlib.ExitStack() as stack:
    tmp_vocab = stack.enter_context(atomic.atomic_path(paths.vocab))
    if "tfhub" in formats:
      tmp_encoder = stack.enter_context(atomic.atomic_path(paths.encoder, is_dir=True))
      tmp_preprocess = stack.enter_context(atomic.atomic_path(paths.preprocess, is_dir=True))
    else:
      scratch = stack.enter_context(tempfile.TemporaryDirectory())
      tmp_encoder, tmp_preprocess = (os.path.join(scratch, n) for n in ("encoder", "preprocess"))
    vocab_lib.write_token_file(tmp_vocab, target)
    encoder = Encoder(small_config, weights.load_weights(model_dir, config, word_rows=rows))
    hub_format.export_encoder(encoder, target, tmp_encoder)
    del encoder
    hub_format.export_preprocessor(target, tmp_preprocess, lower_case=config.do_lower_case)
    figures = verify_smaller_model(model_dir, config, original,
                                   OutputPaths(tmp_vocab, tmp_encoder, tmp_preprocess),
                                   verification.VERIFICATION_SENTENCES)
    if not figures["pooled_output"] <= tolerance:
      raise VerificationError(f"the smaller model's pooled_output differs from the original's "
                              f"by {figures['pooled_output']:.3g} > {tolerance}")
    if "st" in formats:  # From the weight store: the SavedModels are no longer in memory.
      gc.collect()
      tmp_st = stack.enter_context(atomic.atomic_path(paths.st, is_dir=True))
      how = (f"Made by smaller-LaBSE's `make_smaller_labse.py --langs={','.join(langs)}` from "
             f"google/LaBSE/2: it keeps the {len(target):,} vocabulary rows these languages use "
             f"(of {len(original):,}) and copies them, and every other weight, unchanged. A "
             f"sentence whose tokenization the smaller vocab keeps gets the original model's "
             f"embedding.")
      st_figures = st_export.export_from_store(model_dir, tmp_st, st_source, name, how, target,
                                               rows, langs, st_max_seq_length)
  table = parameter_table([("LaBSE", config), (name, small_config)])
  if "tfhub" in formats:
    atomic.write_text(os.path.join(os.path.dirname(paths.encoder), PARAMETERS_FILE), table)
  return paths, table, figures, st_figures
