"""Proofs that a rebuilt or pruned encoder computes what the original does."""

from typing import Dict, List, Mapping, Sequence

import numpy as np
import tensorflow as tf

# Short sentences in the 16 languages of the original release, plus hard cases:
# no-break spaces, a narrow no-break space before '?', a word over 100 bytes, empty text.
VERIFICATION_SENTENCES: List[str] = [
    "The weather is nice today.",
    "Where is the nearest train station?",
    "Il fait beau aujourd'hui\u202f!",
    "Où est la gare la plus proche\u202f?",
    "Hace buen tiempo hoy.",
    "Das Wetter ist heute schön.",
    "今天天气很好。",
    "الطقس جميل اليوم.",
    "天下大勢，分久必合。",
    "Oggi il tempo è bello.",
    "今日はいい天気です。",
    "오늘은 날씨가 좋습니다.",
    "Het weer is vandaag mooi.",
    "Dzisiaj jest ładna pogoda.",
    "O tempo está bom hoje.",
    "วันนี้อากาศดี",
    "Bugün hava güzel.",
    "Сегодня хорошая погода.",
    "100\xa0km in 2\u00a0hours, 3\u3000times",
    "Supercalifragilisticexpialidocious" * 4,
    "",
]


def pack_to_longest(preprocessor, sentences: Sequence[str]) -> Dict[str, tf.Tensor]:
  """Tokenizes and packs `sentences` to their longest length (not 128: less work, same values).

  Args:
    preprocessor: anything with LaBSE's `tokenize` and `bert_pack_inputs`.

  Returns:
    'input_word_ids', 'input_mask', 'input_type_ids': int32 [B, longest + 2].
  """
  tokenized = preprocessor.tokenize(tf.constant(list(sentences)))
  longest = int(tf.reduce_max(tokenized.merge_dims(-2, -1).row_lengths()))
  return preprocessor.bert_pack_inputs([tokenized], tf.constant(longest + 2, tf.int32))


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
  return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0


def compare_outputs(expected: Mapping[str, tf.Tensor], actual: Mapping[str, tf.Tensor],
                    input_mask: np.ndarray) -> Dict[str, float]:
  """Max abs differences of 'pooled_output' [B, D] and 'sequence_output' [B, S, D].

  The sequence output is compared on real tokens only (input_mask [B, S] == 1):
  what an encoder computes at padding positions is not part of its contract.
  """
  real = np.asarray(input_mask).astype(bool)
  return {
      "pooled_output": max_abs_diff(expected["pooled_output"], actual["pooled_output"]),
      "sequence_output": max_abs_diff(np.asarray(expected["sequence_output"])[real],
                                      np.asarray(actual["sequence_output"])[real]),
  }
