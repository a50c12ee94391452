"""TF Hub's BertTokenizer (tensorflow_text) over an in-memory WordPiece vocab.

What LaBSE/2's preprocessor runs, built without a vocab file: `TfHubTokenizer` runs it,
stage 2's counter (vocabulary/tf_counting.py) checks its fast path against it. Imports
TensorFlow; nothing of this package but the vocab's constants.
"""

from typing import Sequence

import tensorflow as tf
import tensorflow_text as text

from smaller_labse.tokenizers import vocab as vocab_lib


def bert_tokenizer(vocab: Sequence[str], lower_case: bool = False,
                   token_out_type: tf.DType = tf.int64) -> text.BertTokenizer:
  """The LaBSE preprocessor's tokenizer (BertTokenizer, '[UNK]' for unknown words) on an
  in-memory vocab; ids (int64) or, with token_out_type=tf.string, the token strings."""
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(tf.constant(list(vocab)),
                                          tf.range(len(vocab), dtype=tf.int64)), -1)
  return text.BertTokenizer(table, lower_case=lower_case, token_out_type=token_out_type,
                            unknown_token=vocab_lib.UNK)
