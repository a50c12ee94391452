"""Stage 1: any source -> our encoder, proven equal to the source layer by layer -> weight store."""

from typing import Dict, Mapping, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from smaller_labse import atomic, memory
from smaller_labse.formats import sources, st_export, store, tf_hub
from smaller_labse.formats import sentence_transformers as st_layout
from smaller_labse.model import verification
from smaller_labse.model.verification import VerificationError  # Raised here; commands catch it.
from smaller_labse.tokenizers.base import Tokenizer
from smaller_labse.model.encoder import Encoder
from smaller_labse.errors import InputError


def _check_tokenization(preprocess_dir: str, tokenizer: Tokenizer) -> None:
  """A TF Hub source's own preprocessor must tokenize as BertTokenizer on its vocab does."""
  original = tf_hub.load_saved_model(preprocess_dir)
  if not hasattr(original, "tokenize"):
    raise InputError(f"{preprocess_dir}: not a BERT preprocessor (no tokenize)")
  sentences = verification.VERIFICATION_SENTENCES
  theirs = original.tokenize(tf.constant(sentences)).merge_dims(1, 2).to_list()
  if theirs != tokenizer.encode(sentences):
    raise VerificationError(f"{preprocess_dir}: tokenizes the verification sentences "
                            "differently from BertTokenizer on the encoder's vocab")
  logging.info("tokenization matches the original preprocessor %s", preprocess_dir)


def proof_failure_message(path: str, check: verification.BlockCheck,
                          model: Optional[sources.Model] = None) -> str:
  """One line naming the first block that differs, and which side is off."""
  if check.savedmodel_error > check.budget:
    by = (sources.proof_by(model, check.source) if model is not None
          else sources.PROOF_BY[check.source])
    who = (f"{by}'s output is {check.savedmodel_error:.3g} from a float64 evaluation "
           "of LaBSE's architecture on its own input")
  else:
    who = (f"the rebuilt encoder's output is {check.candidate_error:.3g} from a float64 "
           "evaluation")
  return (f"{path}: block {check.name} differs: {who}, beyond the float32 budget "
          f"{check.budget:.3g}; it does not compute LaBSE's encoder on its variables")


def _float64_outputs(config, weights: Mapping[str, object],
                     inputs: Mapping[str, np.ndarray]) -> Dict[str, object]:
  """The source's outputs, when its library cannot run here: a float64 evaluation of its
  weights (each block then checks our float32 rebuild against float64 arithmetic)."""
  blocks = verification.Float64Blocks(config, weights)
  layers = [blocks.first(inputs)]
  for i in range(1, config.num_layers):
    layers.append(blocks.layer(i, layers[-1], inputs))
  return {"encoder_outputs": layers, "sequence_output": layers[-1],
          "pooled_output": blocks.pool(layers[-1], np.asarray(inputs["input_mask"])),
          "by": sources.PROOF_FLOAT64}


def prove_source(model: sources.Model, budget_factor: float = verification.BUDGET_FACTOR
                 ) -> verification.Proof:
  """Rebuilds `model` in our code on the verification sentences' embedding rows and proves it,
  block by block, equal to the source as its own library runs it (`sources.own_outputs`).

  Prints one line per block and the verdict. Raises VerificationError naming the first block
  that differs.
  """
  sentences = verification.VERIFICATION_SENTENCES
  inputs = model.tokenizer.pack_ids(model.tokenizer.encode(sentences))
  ids = inputs["input_word_ids"]
  used, remapped = np.unique(ids, return_inverse=True)
  # The source's own run first, and its model freed, before our encoder is built: a 24-layer
  # model's layers are held once at a time (stage 1 at bge-m3's shape within 3 GiB).
  reference = sources.own_outputs(model, inputs)
  memory.release()
  # Our encoder holds only the rows these sentences use; its ids are positions in `used`. Its
  # variables are the weights every check reads (the float64 arbiter's too): one copy.
  config = model.config.with_vocab_size(len(used))
  ours = Encoder(config, model.weights_for_rows(used))
  weights = ours.weights
  ours_inputs = dict(inputs, input_word_ids=remapped.reshape(ids.shape).astype(np.int32))
  if reference is None:
    print(f"{model.path}: PyTorch or transformers is not installed: each block is proven "
          "against a float64 evaluation of the source's weights, not against transformers "
          "itself (pip install torch transformers for that proof)", flush=True)
    reference = _float64_outputs(config, weights, ours_inputs)
  by = reference["by"]
  print(f"Layer-by-layer proof on {len(sentences)} sentences (inputs {ids.shape[0]} x "
        f"{ids.shape[1]}); each block is fed {sources.proof_by(model, by)}'s own output of the block "
        "before:", flush=True)
  proof = verification.prove(reference, ours_inputs, verification.EncoderBlocks(ours), config,
                             weights, budget_factor,
                             end_to_end_candidate=lambda: ours(ours_inputs)["pooled_output"],
                             source=by)
  for check in proof.checks:
    print("  " + check.line(), flush=True)
  print(proof.end_to_end.line(), flush=True)
  failure = proof.first_failure()
  if failure is not None:
    raise VerificationError(proof_failure_message(model.path, failure, model), proof)
  print(f"proof holds: every block within its float32 budget ({len(proof.checks)} blocks)")
  return proof


def convert(source_path: str, output_dir: str, preprocess_dir: Optional[str] = None,
            budget_factor: float = verification.BUDGET_FACTOR, overwrite: bool = False,
            st_dir: Optional[str] = None, st_max_seq_length: Optional[int] = None
            ) -> verification.Proof:
  """Stage 1: reads a source, proves our encoder equal to it layer by layer, writes the store.

  Args:
    source_path: a TF Hub LaBSE/2-format SavedModel, a Sentence Transformers directory or a
      Hugging Face BERT directory (sources.py).
    output_dir: the weight store to write (store.py).
    preprocess_dir: a TF Hub source's original preprocessor; when given, our tokenization is
      checked against it.
    budget_factor: each block's float32 error budget, in units of the rounding
      model's error (see verification.py).
    overwrite: replace an `output_dir` (or `st_dir`) that holds another model.
    st_dir: for a TF Hub source, also write the model there in the Sentence Transformers /
      Hugging Face format (a Hugging Face source already is in that format).
    st_max_seq_length: that export's max_seq_length (default 128, the TF Hub preprocessor's).

  Returns:
    The proof: one check per block, and the end-to-end comparison.

  Raises:
    InputError: bad input. VerificationError: a block differs beyond its float32 budget
      (the message names the first one).
  """
  model = sources.open_source(source_path)
  in_place = store.reads_weights_in_place(model)
  source_text = store.source_json(model, sources.fingerprint(model),
                                  model.weight_files if in_place else None)
  atomic.check_replaceable(output_dir, store.holds(output_dir, source_text), overwrite)
  st_fingerprint = st_export.fingerprint(source_text, *model.tokens)
  export_st = bool(st_dir) and model.is_tf_hub
  if st_dir and not export_st:
    print(f"{source_path} is a {model.kind} model: it is already in the Sentence Transformers "
          f"/ Hugging Face format, so no copy is written to {st_dir}")
  if export_st:
    st_max_seq_length = st_max_seq_length or st_layout.DEFAULT_MAX_SEQ_LENGTH
    st_layout.check_max_seq_length(st_max_seq_length, model.config)
    atomic.check_replaceable(st_dir, st_layout.holds_same_model(st_dir, model.tokens,
                                                                st_fingerprint), overwrite)
  logging.info("%s (%s): %s", source_path, model.kind, model.config)
  if preprocess_dir and model.is_tf_hub:
    _check_tokenization(preprocess_dir, model.tokenizer)
  proof = prove_source(model, budget_factor)

  with atomic.atomic_path(output_dir, is_dir=True) as tmp:
    weights_file = store.write_store(tmp, model, source_text, st_fingerprint)
    if export_st:  # The store's model.safetensors is the export's, hard-linked: one copy.
      figures = _export_stage1(model, st_dir, st_fingerprint, weights_file, st_max_seq_length)
  if export_st:
    print(st_export.summary(figures))
  logging.info("wrote %s", output_dir)
  return proof


def _export_stage1(model: sources.Model, st_dir: str, st_fingerprint: str, weights_file: str,
                   max_seq_length: int) -> Dict[str, float]:
  with atomic.atomic_path(st_dir, is_dir=True) as tmp:
    return st_export.export(tmp, model, st_fingerprint, "LaBSE", st_export.STAGE1_HOW,
                            max_seq_length=max_seq_length, bert_file=weights_file)
