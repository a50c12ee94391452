"""Stage 1: LaBSE/2 SavedModel -> our encoder, proven equal, -> weight store."""

import hashlib
import json
import os
from typing import Dict, Optional

import tensorflow as tf
from absl import logging

from smaller_labse import atomic, files, hub_format, st_export, st_format, verification, weights
from smaller_labse.encoder import Encoder
from smaller_labse.errors import InputError

SOURCE_FILE = "source.json"


class VerificationError(Exception):
  """The rebuilt or pruned model does not reproduce the original.

  Attributes:
    proof: stage 1's failed `verification.Proof`, when the error comes from it.
  """

  def __init__(self, message: str, proof: Optional[verification.Proof] = None):
    super().__init__(message)
    self.proof = proof


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


def proof_failure_message(saved_model_dir: str, check: verification.BlockCheck) -> str:
  """One line naming the first block that differs, and which side is off."""
  if check.savedmodel_error > check.budget:
    who = (f"the SavedModel's output is {check.savedmodel_error:.3g} from a float64 evaluation "
           "of LaBSE's architecture on its own input")
  else:
    who = (f"the rebuilt encoder's output is {check.candidate_error:.3g} from a float64 "
           "evaluation")
  return (f"{saved_model_dir}: block {check.name} differs: {who}, beyond the float32 budget "
          f"{check.budget:.3g}; it does not compute LaBSE's encoder on its variables")


def convert_saved_model(saved_model_dir: str, output_dir: str,
                        preprocess_dir: Optional[str] = None,
                        budget_factor: float = verification.BUDGET_FACTOR,
                        overwrite: bool = False, st_dir: Optional[str] = None,
                        st_max_seq_length: int = 128) -> verification.Proof:
  """Rebuilds the SavedModel's encoder in our code, proves it equal layer by layer, saves it.

  Args:
    saved_model_dir: a LaBSE/2-format encoder SavedModel.
    output_dir: the weight store to write (see weights.py).
    preprocess_dir: the original preprocessor; when given, our tokenization is
      checked against it.
    budget_factor: each block's float32 error budget, in units of the rounding
      model's error (see verification.py).
    overwrite: replace an `output_dir` (or `st_dir`) that holds another model.
    st_dir: when given, also write the model there in the Sentence Transformers /
      Hugging Face format (st_export), from the SavedModel's own variables.
    st_max_seq_length: that export's max_seq_length.

  Returns:
    The proof: one check per block, and the end-to-end comparison.

  Raises:
    InputError: bad input. VerificationError: a block differs beyond its float32 budget
      (the message names the first one).
  """
  model, config, variables, tokens = hub_format.load_encoder(saved_model_dir)
  source = _source_fingerprint(saved_model_dir)
  source_text = json.dumps(source, sort_keys=True) + "\n"  # source.json
  old_source = os.path.join(output_dir, SOURCE_FILE)
  holds_same = os.path.isfile(old_source) and files.read_bytes(old_source) == source_text.encode()
  atomic.check_replaceable(output_dir, holds_same, overwrite)
  if st_dir:
    st_source = st_export.store_fingerprint_of(source_text, tokens)
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
  outputs = model(inputs, training=False)
  if "encoder_outputs" not in outputs:
    raise InputError(f"{saved_model_dir}: the encoder does not return 'encoder_outputs' (one "
                     "output per layer, as LaBSE/2 does): cannot prove it layer by layer")
  print(f"Layer-by-layer proof on {len(verification.VERIFICATION_SENTENCES)} sentences "
        f"(inputs {inputs['input_word_ids'].shape[0]} x {inputs['input_word_ids'].shape[1]}); "
        "each block is fed the SavedModel's own output of the block before:", flush=True)
  proof = verification.prove(outputs, inputs, verification.EncoderBlocks(ours), config,
                             variables, budget_factor,
                             end_to_end_candidate=lambda: ours(inputs)["pooled_output"])
  for check in proof.checks:
    print("  " + check.line(), flush=True)
  print(proof.end_to_end.line(), flush=True)
  failure = proof.first_failure()
  if failure is not None:
    raise VerificationError(proof_failure_message(saved_model_dir, failure), proof)
  print(f"proof holds: every block within its float32 budget ({len(proof.checks)} blocks)")

  with atomic.atomic_path(output_dir, is_dir=True) as tmp:
    weights.save_model(tmp, config, tokens, variables)
    atomic.write_text(os.path.join(tmp, SOURCE_FILE), source_text)
  logging.info("wrote %s", output_dir)
  if st_dir:  # Streamed from the SavedModel's variables, proven against `ours` on them.
    reference = st_export.reference_outputs(ours, preprocessor,
                                            verification.VERIFICATION_SENTENCES)
    with atomic.atomic_path(st_dir, is_dir=True) as tmp:
      figures = st_export.write_and_prove(tmp, config, tokens, variables, reference, st_source,
                                          "LaBSE", st_export.STAGE1_HOW,
                                          max_seq_length=st_max_seq_length)
    print(st_export.summary(figures))
  return proof
