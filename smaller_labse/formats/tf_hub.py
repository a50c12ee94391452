"""LaBSE/2's TF Hub formats: reading the encoder, exporting encoder and preprocessor.

Both follow TF Hub's common SavedModel API "Text embeddings with Transformer
Encoders" exactly as google/LaBSE/2 and its preprocessor
(universal-sentence-encoder-cmlm/multilingual-preprocess/2) do:

- encoder(inputs, training=False) with inputs a dict of int32 [B, S]
  'input_word_ids', 'input_mask', 'input_type_ids', returning 'pooled_output'
  and 'default' [B, D], 'sequence_output' [B, S, D], 'encoder_outputs' (one
  [B, S, D] per layer); `variables`, `trainable_variables`,
  `regularization_losses` for fine-tuning with hub.KerasLayer(trainable=True);
  a `do_lower_case` bool variable and `vocab_file` asset (assets/cased_vocab.txt).
- preprocessor(strings [B]) -> the three int32 [B, 128] inputs;
  preprocessor.tokenize(strings) -> int32 RaggedTensor [B, words, wordpieces];
  preprocessor.bert_pack_inputs([segments...], seq_length=N) -> the three inputs.
"""

import os
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

import tensorflow as tf
import tensorflow_text as text

from smaller_labse.tokenizers import tf_hub_preprocessor
from smaller_labse.tokenizers import vocab as vocab_lib
from smaller_labse.model.config import WORD_EMBEDDINGS, EncoderConfig, infer_config, weight_shapes
from smaller_labse.model.encoder import Encoder
from smaller_labse.errors import InputError

VOCAB_ASSET = "cased_vocab.txt"
DEFAULT_SEQ_LENGTH = 128
_INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")


def _input_specs() -> Dict[str, tf.TensorSpec]:
  return {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in _INPUT_NAMES}


def check_saved_model_dir(path: str) -> None:
  """Raises InputError unless `path` is a directory holding a SavedModel."""
  if not os.path.exists(path):
    raise InputError(f"{path}: no such directory")
  if not os.path.isdir(path):
    raise InputError(f"{path}: not a directory (expected a SavedModel directory)")
  if not os.path.isfile(os.path.join(path, "saved_model.pb")):
    raise InputError(f"{path}: not a SavedModel (no saved_model.pb)")


def load_saved_model(path: str):
  """tf.saved_model.load with a one-line InputError for anything unreadable."""
  check_saved_model_dir(path)
  try:
    return tf.saved_model.load(path)
  except Exception as e:  # TF raises many types for corrupt models.
    first_line = str(e).strip().split("\n")[0][:200]
    raise InputError(f"{path}: cannot load the SavedModel ({type(e).__name__}: {first_line})")


def encoder_variables(model, path: str) -> Tuple[EncoderConfig, Dict[str, tf.Variable]]:
  """A loaded encoder SavedModel's config and float variables by LaBSE name (not copies).

  Raises:
    InputError: the SavedModel is not a LaBSE/BERT encoder (names or shapes differ).
  """
  variables = {v.name.split(":")[0]: v for v in getattr(model, "variables", [])
               if v.dtype == tf.float32}
  if WORD_EMBEDDINGS not in variables:
    raise InputError(f"{path}: not a LaBSE/BERT encoder (no variable {WORD_EMBEDDINGS!r})")
  do_lower_case = bool(model.do_lower_case.numpy()) if hasattr(model, "do_lower_case") else False
  try:
    config = infer_config({k: v.shape.as_list() for k, v in variables.items()}, do_lower_case)
  except InputError as e:
    raise InputError(f"{path}: {e}") from None
  for name, shape in weight_shapes(config).items():
    if name not in variables or tuple(variables[name].shape) != shape:
      raise InputError(f"{path}: not a LaBSE/BERT encoder (variable {name!r} missing or "
                       f"not of shape {shape})")
  return config, variables


def load_encoder(path: str) -> Tuple[object, EncoderConfig, Dict[str, tf.Variable], List[str]]:
  """Loads a LaBSE/2-format encoder SavedModel.

  Returns:
    (the loaded SavedModel object, its inferred config, its float variables by
    LaBSE name — the SavedModel's own variables, not copies —, its vocab).

  Raises:
    InputError: not a SavedModel, not a LaBSE/BERT encoder, or its vocab does
      not match the word embedding table.
  """
  model = load_saved_model(path)
  config, variables = encoder_variables(model, path)
  vocab_path = os.path.join(path, "assets", VOCAB_ASSET)
  tokens = vocab_lib.read_vocab(vocab_path)
  if len(tokens) != config.vocab_size:
    raise InputError(f"{vocab_path}: {len(tokens)} tokens, but the word embedding table "
                     f"has {config.vocab_size} rows")
  return model, config, variables, tokens


def export_encoder(encoder: Encoder, tokens: List[str], export_dir: str) -> None:
  """Writes `encoder` as a LaBSE/2-format SavedModel into the new directory `export_dir`.

  Args:
    encoder: the model; its variables keep their LaBSE/2 names.
    tokens: its vocab (len == config.vocab_size), saved as assets/cased_vocab.txt.
    export_dir: a new or empty directory (callers write to a temporary path).
  """
  if len(tokens) != encoder.config.vocab_size:
    raise ValueError(f"{len(tokens)} tokens for a vocab size of {encoder.config.vocab_size}")
  with tempfile.TemporaryDirectory() as tmp:
    vocab_path = os.path.join(tmp, VOCAB_ASSET)
    vocab_lib.write_token_file(vocab_path, tokens)
    root = tf.train.Checkpoint()
    root.encoder = encoder
    root.vocab_file = tf.saved_model.Asset(vocab_path)
    root.do_lower_case = tf.Variable(encoder.config.do_lower_case, trainable=False)
    root.variables = encoder.ordered_variables + [root.do_lower_case]
    root.trainable_variables = encoder.ordered_variables
    root.regularization_losses = []

    # autograph=False: the encoder has no Python control flow on tensors (faster tracing).
    call = tf.function(lambda inputs, training=False: encoder(inputs, training=training),
                       autograph=False)
    for training in (False, True):
      call.get_concrete_function(_input_specs(), training=training)
    root.__call__ = call

    @tf.function(input_signature=[_input_specs()], autograph=False)
    def serving_default(inputs):
      outputs = encoder(inputs, training=False)
      flat = {k: outputs[k] for k in ("pooled_output", "default", "sequence_output")}
      for i, layer_output in enumerate(outputs["encoder_outputs"]):
        flat[f"encoder_outputs_{i}"] = layer_output
      return flat

    tf.saved_model.save(root, export_dir, signatures={"serving_default": serving_default})


def export_preprocessor(tokens: List[str], export_dir: str, lower_case: bool = False,
                        seq_length: int = DEFAULT_SEQ_LENGTH,
                        preprocessor: Optional[Callable[[str, List[str]], tf.Module]] = None
                        ) -> None:
  """Writes a preprocessor SavedModel for `tokens` into the new directory `export_dir`.

  `preprocessor(vocab_path, tokens)` builds the module to export (a file holding
  `tokens`, saved as assets/cased_vocab.txt); default: `tf_hub_preprocessor.Preprocessor`, which
  tokenizes as tensorflow_text's BertTokenizer with `lower_case`.
  """
  with tempfile.TemporaryDirectory() as tmp:
    vocab_path = os.path.join(tmp, VOCAB_ASSET)
    vocab_lib.write_token_file(vocab_path, tokens)
    if preprocessor is None:
      pre = tf_hub_preprocessor.Preprocessor(vocab_path, tokens, lower_case)
    else:
      pre = preprocessor(vocab_path, tokens)
    string_spec = tf.TensorSpec([None], tf.string, name="sentences")

    root = tf.train.Checkpoint()
    root.preprocessor = pre
    root.variables, root.trainable_variables, root.regularization_losses = [], [], []

    # autograph=False: this code has no Python control flow on tensors, and autograph's
    # conversion is most of the tracing time (the export is traced a dozen times).
    @tf.function(input_signature=[string_spec], autograph=False)
    def preprocess(sentences):
      return pre.bert_pack_inputs([pre.tokenize(sentences)], tf.constant(seq_length, tf.int32))

    root.__call__ = preprocess

    root.tokenize = tf.train.Checkpoint()
    root.tokenize.__call__ = tf.function(pre.tokenize, input_signature=[string_spec],
                                         autograph=False)
    root.tokenize.get_special_tokens_dict = tf.function(
        lambda: {k: tf.constant(v, tf.int32) for k, v in pre.special_ids.items()},
        input_signature=[], autograph=False)

    root.bert_pack_inputs = tf.train.Checkpoint()
    root.bert_pack_inputs.__call__ = tf.function(pre.bert_pack_inputs, autograph=False)
    length_spec = tf.TensorSpec([], tf.int32, name="seq_length")
    for num_segments in (1, 2):
      for ragged_rank in (1, 2):
        shape = [None] * (ragged_rank + 1)
        spec = tf.RaggedTensorSpec(shape, tf.int32, ragged_rank, tf.int64)
        root.bert_pack_inputs.__call__.get_concrete_function([spec] * num_segments, length_spec)

    tf.saved_model.save(root, export_dir,
                        signatures={"serving_default": preprocess.get_concrete_function()})
