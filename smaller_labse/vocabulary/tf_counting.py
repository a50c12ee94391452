"""Exact, fast token counting with the TF Hub preprocessor's tokenizer (what it fills, and the
counts files: token_counts.py).

Counts are exactly what the LaBSE preprocessor's tokenizer produces:
`tensorflow_text.BertTokenizer(vocab, lower_case=...)`. For speed, lines are
tokenized by `FastBertTokenizer` (about 7x faster) unless they hold a character
on which the two may disagree; those lines go to `BertTokenizer` itself.

Why the routing is exact (cased vocabularies, `lower_case=False`): neither
tokenizer normalizes text then, so they can only disagree on how a character
is classified (whitespace, punctuation, CJK, dropped control). A line goes to
`BertTokenizer` when it holds a code point of `routing_table.RANGES`, or
invalid UTF-8 (which the routing pattern never matches). The table is the
union, over the Unicode tables of Python 3.10 to 3.13 (Unicode 13.0, 14.0,
15.0, 15.1), of the categories Zs (but ' '), Zl, Zp, Cc, Cf, Cn, Co and Cs,
plus U+FFFD and the Unicode 16 additions found to differ (unassigned, so
routed, in those tables). `tools/routing_table.py` makes it and proves it: on
every code point outside it, between every pair of neighbours in {start/end, ' ',
'.', '“', '-', '中', '文', 'a', 'b', U+0301}, with LaBSE's 501,153-token vocab,
the two tokenizers give the same ids. They differ on 31 code points, all
routed: the 16 non-ASCII spaces (Zs: '“\\xa0–' keeps '\\xa0' in BertTokenizer
only), U+2028, U+2029, and 13 Unicode 16 additions. Which
characters those are is a property of TensorFlow Text, not of the running
Python, whose own Unicode tables the routing does not read. Words over 100
bytes, combining marks, CJK and Thai tokenize identically in both (see
tests/test_counting.py). With `lower_case=True` the two normalize differently
(NFKC case folding vs NFD), so every line goes to `BertTokenizer`.

Counting follows the original `select_vocab.py`: lines as
`tf.data.TextLineDataset` reads them, kept when
`tf.strings.length(line, unit="UTF8_CHAR") > min_chars`, the first
`max_sentences` kept lines in file order.
"""

import functools
import os
from typing import Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from absl import logging
from tqdm import tqdm

from smaller_labse.vocabulary import routing_table
from smaller_labse.vocabulary.token_counts import (DEFAULT_BATCH_SIZE, DEFAULT_MAX_SENTENCES,
    DEFAULT_MIN_CHARS, TokenCounts, check_corpus_files, nonzero_counts)
from smaller_labse.errors import InputError
from smaller_labse.tokenizers.tf_bert_tokenizer import bert_tokenizer


@functools.lru_cache(maxsize=None)
def unsafe_ranges() -> Tuple[Tuple[int, int], ...]:
  """Code point ranges (inclusive) whose lines go to the exact tokenizer (routing_table.py)."""
  if tf_text.__version__ != routing_table.TENSORFLOW_TEXT_VERSION:
    logging.warning("tensorflow-text is %s; counting's routing was proven with %s "
                    "(python tools/routing_table.py proves it for this one)",
                    tf_text.__version__, routing_table.TENSORFLOW_TEXT_VERSION)
  return routing_table.RANGES


def fast_tokenizer(vocab: Sequence[str]) -> tf_text.FastBertTokenizer:
  """The tokenizer safe lines go to: int64 ids [n, tokens]."""
  return tf_text.FastBertTokenizer(list(vocab))


@functools.lru_cache(maxsize=None)
def safe_line_pattern() -> str:
  """RE2 pattern fully matching the lines FastBertTokenizer tokenizes exactly."""
  parts = []
  for lo, hi in unsafe_ranges():
    parts.append(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}")
  return "[^" + "".join(parts) + "]*"


class Counter:
  """Counts token ids of string batches, exactly as BertTokenizer would tokenize them.

  Args:
    vocab: the WordPiece vocab, in id order.
    lower_case: the model's `do_lower_case`.
    exact_only: tokenize every line with BertTokenizer (for checks; slower).
  """

  def __init__(self, vocab: Sequence[str], lower_case: bool = False, exact_only: bool = False):
    self.vocab_size = len(vocab)
    self.lower_case = lower_case
    self.exact_only = exact_only or lower_case
    self._exact = bert_tokenizer(vocab, lower_case)
    self._fast = None if self.exact_only else fast_tokenizer(vocab)
    self._pattern = safe_line_pattern() if self._fast else None

  def token_ids(self, lines: tf.Tensor) -> Tuple[tf.RaggedTensor, tf.Tensor]:
    """Tokenizes lines.

    Args:
      lines: string [n].

    Returns:
      ids: int64 ragged [n, tokens], rows in an order of their own (routed
        lines come last); exact_lines: int64 scalar, lines sent to BertTokenizer.
    """
    if self._fast is None:
      ids = self._exact.tokenize(lines).merge_dims(1, 2)
      return ids, tf.size(lines, out_type=tf.int64)
    safe = tf.strings.regex_full_match(lines, self._pattern)
    fast_ids = self._fast.tokenize(tf.boolean_mask(lines, safe))
    exact_ids = self._exact.tokenize(tf.boolean_mask(lines, ~safe)).merge_dims(1, 2)
    ids = tf.concat([tf.cast(fast_ids, tf.int64), exact_ids], axis=0)
    return ids, tf.reduce_sum(tf.cast(~safe, tf.int64))

  def count_lines(self, lines: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Counts one batch of already-filtered lines.

    Args:
      lines: string [n].

    Returns:
      'ids': int64 [k] token ids, one per distinct (line, token) pair;
      'counts': int64 [k] occurrences of that token in that line;
      'lines', 'exact_lines': int64 scalars.
    """
    ids, exact_lines = self.token_ids(lines)
    # One key per (line, token) pair: its distinct values give line frequencies,
    # their counts the occurrences.
    keys = ids.value_rowids() * self.vocab_size + ids.flat_values
    pairs, _, counts = tf.unique_with_counts(keys, out_idx=tf.int64)
    return {"ids": pairs % self.vocab_size, "counts": counts,
            "lines": tf.size(lines, out_type=tf.int64), "exact_lines": exact_lines}


def count_corpus(counter: Counter, paths: Sequence[str], vocab: Sequence[str],
                 min_chars: int = DEFAULT_MIN_CHARS,
                 max_sentences: int = DEFAULT_MAX_SENTENCES,
                 batch_size: int = DEFAULT_BATCH_SIZE, desc: str = "counting") -> TokenCounts:
  """Counts the tokens of the first `max_sentences` lines longer than `min_chars` characters.

  Memory does not grow with the corpus: two int64 [vocab_size] arrays plus a
  few batches in flight. Both cores work (a parallel, ordered tf.data map).

  Raises:
    InputError: a file is missing or unreadable, or no line is long enough.
  """
  check_corpus_files(paths)
  min_chars_t = tf.constant(min_chars, tf.int32)

  def keep_long(raw: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    nbytes = tf.reduce_sum(tf.cast(tf.strings.length(raw), tf.int64) + 1)
    return tf.boolean_mask(raw, tf.strings.length(raw, unit="UTF8_CHAR") > min_chars_t), nbytes

  def count_batch(raw: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor, Dict[str, tf.Tensor]]:
    lines, nbytes = keep_long(raw)
    return lines, nbytes, counter.count_lines(lines)

  ds = (tf.data.TextLineDataset(list(paths)).batch(batch_size)
        # One batch per core; AUTOTUNE ramps up too slowly to use both cores here.
        .map(count_batch, num_parallel_calls=os.cpu_count() or 2, deterministic=True)
        .prefetch(2))
  occurrences = np.zeros(counter.vocab_size, np.int64)
  doc_freqs = np.zeros(counter.vocab_size, np.int64)
  num_lines = num_tokens = exact_lines = 0
  total_bytes = sum(os.path.getsize(p) for p in paths)
  with tqdm(total=total_bytes, unit="B", unit_scale=True, desc=desc, leave=True) as bar:
    try:
      for lines, nbytes, result in ds:
        if num_lines + int(result["lines"]) > max_sentences:
          # The cap falls inside this batch: count its first lines only (file order).
          result = counter.count_lines(lines[:max_sentences - num_lines])
        ids, pair_counts = result["ids"].numpy(), result["counts"].numpy()
        occurrences += np.bincount(ids, weights=pair_counts, minlength=counter.vocab_size
                                   ).astype(np.int64)
        doc_freqs += np.bincount(ids, minlength=counter.vocab_size)
        num_lines += int(result["lines"])
        num_tokens += int(pair_counts.sum())
        exact_lines += int(result["exact_lines"])
        bar.update(int(nbytes))
        bar.set_postfix(lines=num_lines, tokens=num_tokens, refresh=False)
        if num_lines >= max_sentences:
          break
    except tf.errors.OpError as e:
      raise InputError(f"{', '.join(paths)}: cannot read ({e.message.splitlines()[0]})") from None
  if num_lines == 0:
    raise InputError(f"{', '.join(paths)}: no line longer than {min_chars} characters")
  logging.info("%s: %d lines, %d tokens, %d lines (%.2f%%) via the exact tokenizer", desc,
               num_lines, num_tokens, exact_lines, 100.0 * exact_lines / num_lines)
  return TokenCounts(occurrences=nonzero_counts(occurrences, vocab),
                     doc_freqs=nonzero_counts(doc_freqs, vocab),
                     num_lines=num_lines,
                     meta={"corpus": list(paths), "min_chars": min_chars,
                           "max_sentences": max_sentences, "lower_case": counter.lower_case,
                           "vocab_size": counter.vocab_size})
