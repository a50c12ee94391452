"""The original select_vocab.py's counting, written plainly: the oracle counting.py must equal.

bench/bench_counting.py also runs it, as the baseline it measures counting.py against.
"""

from typing import Dict, List, Sequence, Tuple

import tensorflow as tf

from smaller_labse.vocabulary.token_counts import DEFAULT_MAX_SENTENCES, DEFAULT_MIN_CHARS
from smaller_labse.tokenizers.tf_bert_tokenizer import bert_tokenizer


def reference_counts(lines: Sequence[bytes], vocab: Sequence[str],
                     lower_case: bool = False) -> Tuple[Dict[str, int], Dict[str, int]]:
  """The original approach on already-filtered lines: BertTokenizer strings, a Python loop.

  Slow (about 14k tokens/s).

  Returns:
    ({token: occurrences}, {token: lines holding it}).
  """
  tokenizer = bert_tokenizer(vocab, lower_case, token_out_type=tf.string)
  occurrences: Dict[str, int] = {}
  doc_freqs: Dict[str, int] = {}
  for start in range(0, len(lines), 1000):
    for line in tokenizer.tokenize(tf.constant(list(lines[start:start + 1000]), tf.string)):
      tokens = [token.decode("utf8") for token in line.flat_values.numpy()]
      for token in tokens:
        occurrences[token] = occurrences.get(token, 0) + 1
      for token in set(tokens):
        doc_freqs[token] = doc_freqs.get(token, 0) + 1
  return occurrences, doc_freqs


def read_filtered_lines(paths: Sequence[str], min_chars: int = DEFAULT_MIN_CHARS,
                        max_sentences: int = DEFAULT_MAX_SENTENCES) -> List[bytes]:
  """The lines the original counted, read as it did."""
  ds = (tf.data.TextLineDataset(list(paths))
        .filter(lambda x: tf.strings.length(x, unit="UTF8_CHAR") > min_chars)
        .take(max_sentences))
  return [line.numpy() for line in ds]
