"""Exact, fast token counting, and the counts files stage 2 writes and reads.

Counts are exactly what the LaBSE preprocessor's tokenizer produces:
`tensorflow_text.BertTokenizer(vocab, lower_case=...)`. For speed, lines are
tokenized by `FastBertTokenizer` (about 7x faster) unless they hold a character
on which the two may disagree; those lines go to `BertTokenizer` itself.

Why the routing is exact (cased vocabularies, `lower_case=False`): neither
tokenizer normalizes text then, so they can only disagree on how a character
is classified (whitespace, punctuation, CJK, dropped control). Every assigned
code point outside the categories below was checked, between every pair of
neighbours in {start/end, ' ', '.', '“', '-', '中', '文', 'a', 'b', U+0301},
with LaBSE's 501,153-token vocab: the two tokenizers agreed on all of them.
They disagree on no-break and other non-ASCII spaces (Zs: '“\\xa0–' keeps
'\\xa0' in BertTokenizer only) and on code points unassigned in Python's
Unicode tables but assigned in TensorFlow's (Cn). So a line goes to
`BertTokenizer` when it holds a character of category Zs (except ' '), Zl, Zp,
Cc, Cf, Cn, Co or Cs, U+FFFD, or invalid UTF-8 (which the routing pattern
never matches). Words over 100 bytes, combining marks, CJK and Thai tokenize
identically in both (see tests/test_counting.py). With `lower_case=True` the
two normalize differently (NFKC case folding vs NFD), so every line goes to
`BertTokenizer`.

Counting follows the original `select_vocab.py`: lines as
`tf.data.TextLineDataset` reads them, kept when
`tf.strings.length(line, unit="UTF8_CHAR") > min_chars`, the first
`max_sentences` kept lines in file order.
"""

import dataclasses
import functools
import hashlib
import json
import os
import unicodedata
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from absl import logging
from tqdm import tqdm

from smaller_labse import atomic, files
from smaller_labse.errors import InputError
from smaller_labse.hub_format import bert_tokenizer

# Categories on which FastBertTokenizer may disagree with BertTokenizer.
_UNSAFE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs"})
# Found to differ (Unicode 16 additions, Cn in Python 3.11's tables): listed so
# that a Python with newer Unicode tables still routes them.
_KNOWN_DIFFERENT = ((0x1B4E, 0x1B4F), (0x1B7F, 0x1B7F), (0x10D6E, 0x10D6E), (0x113D4, 0x113D5),
                    (0x113D7, 0x113D8), (0x11BE1, 0x11BE1), (0x16D6D, 0x16D6F),
                    (0x1E5FF, 0x1E5FF), (0xFFFD, 0xFFFD))
_VERIFIED_UNIDATA_VERSION = "14.0.0"

DEFAULT_MIN_CHARS = 5
DEFAULT_MAX_SENTENCES = 1_000_000
DEFAULT_BATCH_SIZE = 2048


@dataclasses.dataclass
class TokenCounts:
  """One language's counts.

  occurrences: token -> number of times it was produced.
  doc_freqs: token -> number of lines it occurs in; None when unknown (the
    original release's files hold occurrences only).
  num_lines: lines counted; None when unknown.
  meta: how the counts were made (corpus, flags, vocab size), for provenance.
  """
  occurrences: Dict[str, int]
  doc_freqs: Optional[Dict[str, int]] = None
  num_lines: Optional[int] = None
  meta: Dict[str, object] = dataclasses.field(default_factory=dict)

  @property
  def num_tokens(self) -> int:
    return sum(self.occurrences.values())


@functools.lru_cache(maxsize=None)
def unsafe_ranges() -> Tuple[Tuple[int, int], ...]:
  """Code point ranges (inclusive) whose lines go to the exact tokenizer."""
  if unicodedata.unidata_version != _VERIFIED_UNIDATA_VERSION:
    logging.warning("Python's Unicode tables are %s, the routing was verified with %s",
                    unicodedata.unidata_version, _VERIFIED_UNIDATA_VERSION)
  unsafe = np.zeros(0x110000, dtype=bool)
  for cp in range(0x110000):
    if cp != 0x20 and unicodedata.category(chr(cp)) in _UNSAFE_CATEGORIES:
      unsafe[cp] = True
  for lo, hi in _KNOWN_DIFFERENT:
    unsafe[lo:hi + 1] = True
  edges = np.flatnonzero(np.diff(np.concatenate([[0], unsafe.view(np.int8), [0]])))
  return tuple((int(lo), int(hi) - 1) for lo, hi in zip(edges[::2], edges[1::2]))


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
    self._fast = None if self.exact_only else tf_text.FastBertTokenizer(list(vocab))
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


def check_corpus_files(paths: Sequence[str]) -> None:
  """Raises InputError naming the first corpus file that cannot be read."""
  if not paths:
    raise InputError("no corpus file given")
  for path in paths:
    if not os.path.exists(path):
      raise InputError(f"{path}: corpus file not found")
    if os.path.isdir(path):
      raise InputError(f"{path}: is a directory, expected a text file")
    if not os.access(path, os.R_OK):
      raise InputError(f"{path}: corpus file not readable")


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
  return TokenCounts(occurrences=_to_dict(occurrences, vocab), doc_freqs=_to_dict(doc_freqs, vocab),
                     num_lines=num_lines,
                     meta={"corpus": list(paths), "min_chars": min_chars,
                           "max_sentences": max_sentences, "lower_case": counter.lower_case,
                           "vocab_size": counter.vocab_size})


def _to_dict(counts: np.ndarray, vocab: Sequence[str]) -> Dict[str, int]:
  """{token: count} for the tokens with a non-zero count."""
  return {vocab[i]: int(counts[i]) for i in np.flatnonzero(counts)}


# ---------------------------------------------------------------------------
# Counts files.

def freqs_path(counts_dir: str, lang: str) -> str:
  """The original release's file: {token: occurrences}."""
  return os.path.join(counts_dir, f"{lang}_freqs.json")


def doc_freqs_path(counts_dir: str, lang: str) -> str:
  """The sidecar: line frequencies, lines counted, provenance."""
  return os.path.join(counts_dir, f"{lang}_doc_freqs.json")


def _dumps(obj: object) -> str:
  return json.dumps(obj, sort_keys=True) + "\n"


def write_counts(counts_dir: str, lang: str, counts: TokenCounts) -> None:
  """Writes `{lang}_freqs.json` and, when known, the `{lang}_doc_freqs.json` sidecar.

  Each file is written atomically. The sidecar records the SHA-256 of the
  freqs file it belongs to, so a sidecar left from another run is detected.
  """
  freqs_text = _dumps(counts.occurrences)
  atomic.write_text(freqs_path(counts_dir, lang), freqs_text)
  if counts.doc_freqs is None:
    return
  sidecar = dict(counts.meta)
  sidecar.update({"doc_freqs": counts.doc_freqs, "num_lines": counts.num_lines,
                  "num_tokens": counts.num_tokens,
                  "freqs_sha256": hashlib.sha256(freqs_text.encode("utf-8")).hexdigest()})
  atomic.write_text(doc_freqs_path(counts_dir, lang), _dumps(sidecar))


def _load_json(path: str) -> Tuple[object, bytes]:
  data = files.read_bytes(path, "JSON file")
  try:
    return json.loads(files.decode_utf8(path, data)), data
  except json.JSONDecodeError as e:
    raise InputError(f"{path}: not valid JSON, truncated or corrupt ({e.msg} at line "
                     f"{e.lineno} column {e.colno})") from None


def _check_count_map(path: str, value: object, what: str) -> Dict[str, int]:
  if not isinstance(value, dict):
    raise InputError(f"{path}: {what} must be a JSON object {{token: count}}")
  for token, count in value.items():
    if type(count) is not int or count < 0:  # bool is not a count
      raise InputError(f"{path}: {what}: count of {token!r} is {count!r}, "
                       "expected a non-negative integer")
  return value


def read_counts(counts_dir: str, lang: str) -> TokenCounts:
  """Reads one language's counts: ours, or the original release's (occurrences only).

  Raises:
    InputError: a file is missing, truncated or malformed, or the sidecar does
      not belong to the freqs file beside it.
  """
  path = freqs_path(counts_dir, lang)
  value, data = _load_json(path)
  occurrences = _check_count_map(path, value, "token counts")
  if not occurrences:
    raise InputError(f"{path}: no token counted")
  side_path = doc_freqs_path(counts_dir, lang)
  if not os.path.exists(side_path):
    return TokenCounts(occurrences=occurrences, meta={})
  side, _ = _load_json(side_path)
  if not isinstance(side, dict) or "doc_freqs" not in side or "num_lines" not in side:
    raise InputError(f"{side_path}: not a line-frequency file (keys doc_freqs, num_lines)")
  if side.get("freqs_sha256") != hashlib.sha256(data).hexdigest():
    raise InputError(f"{side_path}: does not belong to {path} (left from another run?): "
                     "count again")
  doc_freqs = _check_count_map(side_path, side["doc_freqs"], "doc_freqs")
  num_lines = side["num_lines"]
  if type(num_lines) is not int or num_lines <= 0:
    raise InputError(f"{side_path}: num_lines is {num_lines!r}, expected a positive integer")
  meta = {k: v for k, v in side.items()
          if k not in ("doc_freqs", "num_lines", "num_tokens", "freqs_sha256")}
  return TokenCounts(occurrences=occurrences, doc_freqs=doc_freqs, num_lines=num_lines, meta=meta)


def check_counts_vocab(path: str, counts: TokenCounts, vocab: Mapping[str, int]) -> None:
  """Raises InputError when counted tokens are not in `vocab` (counted with another vocab)."""
  unknown = sorted(t for t in counts.occurrences if t not in vocab)
  if unknown:
    shown = ", ".join(repr(t) for t in unknown[:5])
    raise InputError(f"{path}: {len(unknown)} counted tokens are not in the vocab "
                     f"(counted with another vocab?), e.g. {shown}")


def reference_counts(lines: Sequence[bytes], vocab: Sequence[str],
                     lower_case: bool = False) -> Tuple[Dict[str, int], Dict[str, int]]:
  """The original approach on already-filtered lines: BertTokenizer strings, a Python loop.

  Slow (about 14k tokens/s); for tests and the benchmark.

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
  """The lines the original counted, read as it did (for tests and the benchmark)."""
  ds = (tf.data.TextLineDataset(list(paths))
        .filter(lambda x: tf.strings.length(x, unit="UTF8_CHAR") > min_chars)
        .take(max_sentences))
  return [line.numpy() for line in ds]
