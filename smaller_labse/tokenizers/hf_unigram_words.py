"""Encoding an XLM-R Unigram tokenizer's lines word by word: each distinct word encoded once
and cached, exactly what whole-line tokenization gives (hf_unigram.py's `encode_flat`; its
equality to whole lines on every shared Tatoeba line and the demo's corpora is checked by
tests/test_hf_unigram.py and bench/bench_unigram_counting.py)."""

import itertools
import operator
import unicodedata
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np

from smaller_labse.errors import InputError


def as_text(line: Union[str, bytes]) -> str:
  return line.decode("utf-8", "replace") if isinstance(line, bytes) else line


def flatten(ids: List[List[int]]) -> Tuple[np.ndarray, np.ndarray]:
  lengths = np.fromiter(map(len, ids), np.int64, count=len(ids))
  flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(lengths.sum()))
  return flat, lengths


def _expand(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """Concatenated ranges [start, start + length) (int64)."""
  offsets = np.cumsum(lengths) - lengths
  return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


# Characters that join a grapheme cluster with a space before them (Unicode's Extend, ZWJ and
# SpacingMark: marks, ZWNJ/ZWJ, halfwidth sound marks, emoji modifiers, tags, Thai/Lao AM) or
# after them (Prepend). The Precompiled normalizer works on grapheme clusters, so a word that
# starts (ends) with one is normalized with the space: its line is encoded whole.
_JOINS_PREVIOUS = frozenset(
    [0x200C, 0x200D, 0xFF9E, 0xFF9F, 0x0E33, 0x0EB3] + list(range(0x1F3FB, 0x1F400))
    + list(range(0xE0020, 0xE0080)))
_JOINS_NEXT = frozenset(
    list(range(0x0600, 0x0606)) + [0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x0D4E, 0x110BD,
                                    0x110CD, 0x111C2, 0x111C3, 0x1193F, 0x11941, 0x11A3A,
                                    0x11D46, 0x11F02] + list(range(0x11A84, 0x11A8A)))
_LINE_BREAK, _EMPTY = 0, 1  # Word codes of the line marker and of '' (two spaces in a row).
MAX_CACHED_WORDS = 1_000_000
_WORDS_PER_TEXT = 512


def word_is_separable(word: str) -> bool:
  """Whether `word`, between two spaces, normalizes as it does alone (no grapheme cluster
  reaches across the spaces)."""
  first, last = ord(word[0]), ord(word[-1])
  return not (unicodedata.category(word[0]) in ("Mn", "Me", "Mc") or first in _JOINS_PREVIOUS
              or last in _JOINS_NEXT)


class WordEncoder:
  """Lines cut at ' ' (U+0020), each distinct word encoded once; exact for the XLM-R pipeline.

  Why: WhitespaceSplit runs first, so after normalization each whitespace-separated chunk is
  tokenized on its own (Metaspace prepends '\\u2581' to every chunk: the pipeline holds no
  state from one chunk to the next); the Precompiled normalizer maps grapheme clusters one at
  a time, and the ' ' between two words begins no cluster and ends none unless the next word
  starts with a joining character or the previous one ends with a Prepend character
  (`word_is_separable`); added tokens are cut out of the raw text before normalization and,
  holding no whitespace (`word_cache_exact`), lie within one word. So a line's ids are its
  words' ids end to end, except for lines holding an inseparable word: those are encoded whole.

  New words are encoded _WORDS_PER_TEXT to a text, joined by '\\n' made an added special token
  of a private copy of the library tokenizer: the library cuts the text there before anything
  else, so each word is tokenized exactly as alone, and the separator's id marks the
  boundaries ('\\n' never occurs in a line). At most MAX_CACHED_WORDS words are kept; then the
  cache restarts.
  """

  def __init__(self, tokenizer):
    """`tokenizer`: an HfUnigramTokenizer (its `library()`, `pieces` and `source`)."""
    from tokenizers import AddedToken, Tokenizer  # pylint: disable=import-outside-toplevel
    self.library = tokenizer.library()
    self.words_library = Tokenizer.from_str(self.library.to_str())
    self.words_library.add_special_tokens([AddedToken("\n", special=True, normalized=False)])
    self.separator = self.words_library.token_to_id("\n")
    if self.separator is None or self.separator < len(tokenizer.pieces):
      raise InputError(f"{tokenizer.source}: '\\n' is a piece of the vocab (not supported)")
    self._reset()

  def _reset(self) -> None:
    self.codes: Dict[str, int] = {"\n": _LINE_BREAK, "": _EMPTY}
    self.starts = np.zeros(2, np.int64)
    self.lengths = np.zeros(2, np.int64)
    self.inseparable = np.zeros(2, bool)
    self.ids = np.zeros(0, np.int64)

  def _add_words(self, words: Sequence[str]) -> None:
    """Encodes new words and appends them to the cache (codes len(codes)-len(words)...)."""
    separable = np.fromiter(map(word_is_separable, words), bool, count=len(words))
    texts = ["\n".join(words[i:i + _WORDS_PER_TEXT])
             for i in range(0, len(words), _WORDS_PER_TEXT)]
    encodings = self.words_library.encode_batch_fast(texts, add_special_tokens=False)
    ids, lengths = [], []
    for encoding in encodings:
      flat = np.array(encoding.ids, np.int64)
      cuts = np.flatnonzero(flat == self.separator)
      bounds = np.concatenate([[-1], cuts, [len(flat)]])
      lengths.append(np.diff(bounds) - 1)
      ids.append(flat[flat != self.separator])
    lengths_all = np.concatenate(lengths)
    if len(lengths_all) != len(words):
      raise AssertionError("word separator lost")
    ids_all = np.concatenate(ids)
    self.starts = np.concatenate([self.starts, len(self.ids) + np.cumsum(lengths_all)
                                  - lengths_all])
    self.lengths = np.concatenate([self.lengths, lengths_all])
    self.inseparable = np.concatenate([self.inseparable, ~separable])
    self.ids = np.concatenate([self.ids, ids_all])

  def encode(self, lines: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    if not lines:
      return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if any("\n" in line for line in lines):
      raise InputError("a line holds a line break")
    if len(self.codes) > MAX_CACHED_WORDS:
      self._reset()
    codes_map = self.codes
    known = len(codes_map)
    words = "\n".join(lines).replace("\n", " \n ").split(" ")
    new_words = [w for w in dict.fromkeys(words) if w not in codes_map]
    for w in new_words:
      codes_map[w] = len(codes_map)
    if new_words:
      self._add_words(new_words)
    assert len(codes_map) == known + len(new_words) == len(self.lengths)
    codes = np.array(operator.itemgetter(*words)(codes_map) if len(words) > 1
                     else [codes_map[words[0]]], np.int64)
    line_of_word = np.cumsum(codes == _LINE_BREAK)
    lengths = self.lengths[codes]
    inseparable_lines = np.unique(line_of_word[self.inseparable[codes]])
    if inseparable_lines.size:
      lengths = np.where(np.isin(line_of_word, inseparable_lines), 0, lengths)
    tokens = self.ids[_expand(self.starts[codes], lengths)]
    line_lengths = np.bincount(line_of_word, weights=lengths, minlength=len(lines)).astype(
        np.int64)
    if not inseparable_lines.size:
      return tokens, line_lengths
    whole = [e.ids for e in self.library.encode_batch_fast(
        [lines[i] for i in inseparable_lines.tolist()], add_special_tokens=False)]
    whole_ids, whole_lengths = flatten(whole)
    line_lengths[inseparable_lines] = whole_lengths
    line_of_token = np.concatenate([np.repeat(line_of_word, lengths),
                                    np.repeat(inseparable_lines, whole_lengths)])
    order = np.argsort(line_of_token, kind="stable")
    return np.concatenate([tokens, whole_ids])[order], line_lengths
