"""Stage 1: LaBSE/2 SavedModel -> our encoder, proven equal, -> weight store."""

import hashlib
import json
import os
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from smaller_labse import atomic, files, hub_format, st_export, st_format, verification, weights
from smaller_labse.encoder import Encoder
from smaller_labse.errors import InputError

SOURCE_FILE = "source.json"


class VerificationError(Exception):
  """The rebuilt or pruned model does not reproduce the original."""


def _source_fingerprint(saved_model_dir: str) -> Dict[str, str]:
  # variables.index holds a checksum of every tensor: it identifies the weights.
  with open(os.path.join(saved_model_dir, "variables", "variables.index"), "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
  return {"variables_index_sha256": digest}


def _check_tokenization(preprocess_dir: str, ours: hub_format.Preprocessor,
                        sentences: tf.Tensor) -> None:
  original = hub_format.load_saved_model(preprocess_dir)
  if not hasattr(original, "tokenize"):
    raise InputError(f"{preprocess_dir}: not a BERT preprocessor (no tokenize)")
  if original.tokenize(sentences).to_list() != ours.tokenize(sentences).to_list():
    raise VerificationError(f"{preprocess_dir}: tokenizes the verification sentences "
                            "differently from BertTokenizer on the encoder's vocab")
  logging.info("tokenization matches the original preprocessor %s", preprocess_dir)


def convert_saved_model(saved_model_dir: str, output_dir: str,
                        preprocess_dir: Optional[str] = None, tolerance: float = 1e-5,
                        overwrite: bool = False, st_dir: Optional[str] = None,
                        st_max_seq_length: int = 128) -> Dict[str, float]:
  """Rebuilds the SavedModel's encoder in our code, proves it equal, saves its weights.

  Args:
    saved_model_dir: a LaBSE/2-format encoder SavedModel.
    output_dir: the weight store to write (see weights.py).
    preprocess_dir: the original preprocessor; when given, our tokenization is
      checked against it.
    tolerance: the largest max-abs difference accepted.
    overwrite: replace an `output_dir` (or `st_dir`) that holds another model.
    st_dir: when given, also write the model there in the Sentence Transformers /
      Hugging Face format (st_export), from the SavedModel's own variables.
    st_max_seq_length: that export's max_seq_length.

  Returns:
    Max abs differences {'pooled_output': ..., 'sequence_output': ...}.

  Raises:
    InputError: bad input. VerificationError: outputs differ by more than `tolerance`.
  """
  model, config, variables, tokens = hub_format.load_encoder(saved_model_dir)
  source = _source_fingerprint(saved_model_dir)
  old_source = os.path.join(output_dir, SOURCE_FILE)
  holds_same = os.path.isfile(old_source) and json.loads(files.read_bytes(old_source)) == source
  atomic.check_replaceable(output_dir, holds_same, overwrite)
  if st_dir:
    st_source = st_export.store_fingerprint_of(json.dumps(source, sort_keys=True) + "\n", tokens)
    st_format.check_max_seq_length(st_max_seq_length, config)
    atomic.check_replaceable(st_dir, st_format.holds_same_model(st_dir, tokens, st_source),
                             overwrite)
  logging.info("%s: %s", saved_model_dir, config)

  ours = Encoder(config, variables)  # Shares the SavedModel's variables: no copy.
  preprocessor = hub_format.Preprocessor(
      os.path.join(saved_model_dir, "assets", hub_format.VOCAB_ASSET), tokens,
      config.do_lower_case)
  sentences = tf.constant(verification.VERIFICATION_SENTENCES)
  if preprocess_dir:
    _check_tokenization(preprocess_dir, preprocessor, sentences)
  inputs = verification.pack_to_longest(preprocessor, verification.VERIFICATION_SENTENCES)
  diffs = verification.compare_outputs(model(inputs, training=False), ours(inputs),
                                       inputs["input_mask"].numpy())
  for key, diff in diffs.items():
    print(f"max abs difference, {key}: {diff:.3g} (SavedModel vs rebuilt encoder, "
          f"{len(verification.VERIFICATION_SENTENCES)} sentences)")
  if not all(np.isfinite(d) and d <= tolerance for d in diffs.values()):
    raise VerificationError(f"the rebuilt encoder differs from {saved_model_dir} by more "
                            f"than {tolerance}: {diffs}")

  with atomic.atomic_path(output_dir, is_dir=True) as tmp:
    weights.save_model(tmp, config, tokens, variables)
    atomic.write_text(os.path.join(tmp, SOURCE_FILE), json.dumps(source, sort_keys=True) + "\n")
  logging.info("wrote %s", output_dir)
  if st_dir:  # Streamed from the SavedModel's variables, proven against `ours` on them.
    reference = st_export.reference_outputs(ours, preprocessor,
                                            verification.VERIFICATION_SENTENCES)
    with atomic.atomic_path(st_dir, is_dir=True) as tmp:
      figures = st_export.write_and_prove(tmp, config, tokens, variables, reference, st_source,
                                          "LaBSE", st_export.STAGE1_HOW,
                                          max_seq_length=st_max_seq_length)
    print(st_export.summary(figures))
  return diffs
