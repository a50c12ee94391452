"""TF Hub's preprocessing in TensorFlow ops: tensorflow_text's BertTokenizer on a WordPiece vocab
and BERT packing by role, what LaBSE/2's preprocessor SavedModel runs (formats/tf_hub.py exports
it; `pack_inputs` also packs the Hugging Face tokenizers' TF twins)."""

from typing import Dict, List

import tensorflow as tf
import tensorflow_text as text

from smaller_labse.tokenizers import base
from smaller_labse.tokenizers import vocab as vocab_lib


class Preprocessor(tf.Module):
  """The preprocessor's computation: BertTokenizer + BERT packing, usable in-process."""

  def __init__(self, vocab_path: str, tokens: List[str], lower_case: bool):
    super().__init__(name="preprocessor")
    initializer = tf.lookup.TextFileInitializer(
        vocab_path, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
        tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
    self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)
    self.tokenizer = text.BertTokenizer(self.table, token_out_type=tf.int64,
                                        lower_case=lower_case, unknown_token=vocab_lib.UNK)
    self.special_ids = base.tf_hub_special_ids(vocab_lib.wordpiece_special_ids(tokens),
                                               len(tokens))

  def tokenize(self, sentences: tf.Tensor) -> tf.RaggedTensor:
    """sentences: [B] string -> int32 RaggedTensor [B, words, wordpieces]."""
    return tf.cast(self.tokenizer.tokenize(sentences), tf.int32)

  def bert_pack_inputs(self, segments: List[tf.RaggedTensor], seq_length: tf.Tensor
                       ) -> Dict[str, tf.Tensor]:
    """See `pack_inputs`."""
    return pack_inputs(segments, seq_length, self.special_ids)


def pack_inputs(segments: List[tf.RaggedTensor], seq_length: tf.Tensor,
                special_ids: Dict[str, int]) -> Dict[str, tf.Tensor]:
  """Packs 1 or 2 segments as [CLS] a [SEP] (b [SEP]), round-robin truncated.

  Args:
    segments: int32 RaggedTensors [B, words, wordpieces] or [B, wordpieces].
    seq_length: scalar int32, the padded length.
    special_ids: a preprocessor's special_ids (start_of_sequence_id, end_of_segment_id,
      padding_id).

  Returns:
    'input_word_ids', 'input_mask', 'input_type_ids': int32 [B, seq_length].
  """
  flat = [s.merge_dims(-2, -1) if s.ragged_rank > 1 else s for s in segments]
  trimmer = text.RoundRobinTrimmer(seq_length - (len(flat) + 1))
  trimmed = trimmer.trim(flat)
  word_ids, type_ids = text.combine_segments(
      trimmed, start_of_sequence_id=special_ids["start_of_sequence_id"],
      end_of_segment_id=special_ids["end_of_segment_id"])
  input_word_ids, input_mask = text.pad_model_inputs(
      word_ids, seq_length, pad_value=special_ids["padding_id"])
  input_type_ids, _ = text.pad_model_inputs(type_ids, seq_length, pad_value=0)
  return {"input_word_ids": input_word_ids, "input_mask": input_mask,
          "input_type_ids": input_type_ids}
