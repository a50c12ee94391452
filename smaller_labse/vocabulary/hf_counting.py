"""Stage 2's counting with a Hugging Face source's tokenizer (the tokenizers library).

`count_corpus` reads the lines TF Hub's counter (tf_counting.py) reads and counts the ids the
source's `HfTokenizer` gives them, into the same `TokenCounts`. Exact and fast: each distinct
space-separated word is encoded once (`_Counter`), reading and encoding overlap on two
threads, and memory does not grow with the corpus. No TensorFlow.
"""

import collections
import concurrent.futures
import dataclasses
import itertools
import operator
import os
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tokenizers
from tqdm import tqdm

from smaller_labse.errors import InputError
from smaller_labse.tokenizers.vocab import RUST_WHITESPACE
from smaller_labse.vocabulary import token_counts
# Typed by the protocol: the tokenizer is an HfTokenizer, whose module imports this one.
from smaller_labse.tokenizers.base import Tokenizer


DEFAULT_BATCH_LINES = token_counts.DEFAULT_HF_BATCH_LINES
_READ_BYTES = 1 << 22
_MAX_CACHED_WORDS = 500_000  # Peak memory +160 MB, measured with made-up words.
_WORDS_PER_TEXT = 256  # New words encoded together (a text per word costs ~5x more).
_LINE_BREAK, _EMPTY = 0, 1  # Word codes of the line marker and of '' (two spaces in a row).


def _utf8_chars(line: bytes) -> int:
  """tf.strings.length(unit='UTF8_CHAR'): the bytes that do not continue a UTF-8 sequence."""
  return len(line) - sum(1 for b in line if 0x80 <= b < 0xC0)


def _kept_lines(block: bytes, min_chars: int) -> List[str]:
  """The lines of `block` ('\\n'-separated, no final '\\n') that count_corpus keeps, as str.

  As tf.data.TextLineDataset reads them: every '\\r' removed. Kept when longer than
  `min_chars` UTF-8 characters. Invalid UTF-8 is decoded with U+FFFD (errors='replace'),
  which BertNormalizer deletes; its length is TensorFlow's (each byte that does not
  continue a sequence is one character).
  """
  block = block.replace(b"\r", b"")
  try:
    return [line for line in block.decode("utf-8").split("\n") if len(line) > min_chars]
  except UnicodeDecodeError:
    kept = []
    for raw in block.split(b"\n"):
      try:
        line = raw.decode("utf-8")
        if len(line) > min_chars:
          kept.append(line)
      except UnicodeDecodeError:
        if _utf8_chars(raw) > min_chars:
          kept.append(raw.decode("utf-8", errors="replace"))
    return kept


def _read_kept_lines(paths: Sequence[str], min_chars: int) -> Iterator[Tuple[List[str], int]]:
  """(kept lines, bytes read) in file order, a few MB at a time; memory does not grow."""
  for path in paths:
    with open(path, "rb") as f:
      rest = b""
      while True:
        chunk = f.read(_READ_BYTES)
        if not chunk:
          break
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
          rest = data
          yield [], len(chunk)
          continue
        rest = data[cut + 1:]
        yield _kept_lines(data[:cut], min_chars), len(chunk)
      if rest:  # A last line without '\n'.
        yield _kept_lines(rest, min_chars), 0


def _expand(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """Concatenated ranges [start, start + length) (int64)."""
  total = int(lengths.sum())
  offsets = np.cumsum(lengths) - lengths
  return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


@dataclasses.dataclass
class _Batch:
  """A batch of kept lines, prepared on the reading thread."""
  num_lines: int
  lines: Optional[List[str]] = None  # Without word splitting: the lines.
  codes: Optional[np.ndarray] = None  # With it: int64 word codes, _LINE_BREAK between lines.
  new_words: Sequence[str] = ()  # The words first seen in this batch, in code order.
  reset: bool = False  # The word cache restarts with this batch.


class _Counter:
  """Occurrences and line frequencies of token ids, batch by batch.

  With `split_words`, lines are cut at ' ' (U+0020) and each distinct word is
  encoded once by the library: exact, because every step of a BERT pipeline
  treats ' ' as a boundary that nothing crosses (BertNormalizer works one
  character at a time and NFD never reorders across a space; the pre-tokenizer
  splits there; added tokens without whitespace cannot span one). The words'
  ids are cached (at most _MAX_CACHED_WORDS; then the cache restarts).

  `prepare` (words -> codes) runs on the reading thread, `count` (the library,
  numpy) on a worker thread, so both cores work: the library and numpy's sort
  release the GIL.
  """

  def __init__(self, tokenizer: Tokenizer, vocab_size: int, split_words: bool,
               encode: Optional[Callable[[List[str]], Tuple[np.ndarray, np.ndarray]]] = None):
    self.library = tokenizer.library()
    self.encode_lines = encode
    self.vocab_size = vocab_size
    self.split_words = split_words
    self.occurrences = np.zeros(vocab_size, np.int64)
    self.doc_freqs = np.zeros(vocab_size, np.int64)
    self.num_lines = self.num_tokens = 0
    self._codes: Dict[str, int] = {}
    self._new_codes()
    self._reset_ids()

  def _new_codes(self) -> None:
    self._codes = collections.defaultdict(itertools.count().__next__)
    assert self._codes["\n"] == _LINE_BREAK and self._codes[""] == _EMPTY

  def _reset_ids(self) -> None:
    self._starts = np.zeros(2, np.int64)
    self._lengths = np.zeros(2, np.int64)
    self._ids = np.zeros(0, np.int64)

  def prepare(self, lines: List[str]) -> _Batch:
    """Reading thread: the batch's word codes (new words get the next codes)."""
    if not self.split_words:
      return _Batch(num_lines=len(lines), lines=lines)
    reset = len(self._codes) > _MAX_CACHED_WORDS
    if reset:
      self._new_codes()
    known = len(self._codes)
    words = "\n".join(lines).replace("\n", " \n ").split(" ")
    codes = np.array(operator.itemgetter(*words)(self._codes) if len(words) > 1
                     else [self._codes[words[0]]], np.int64)
    new_words = list(itertools.islice(self._codes, known, None))
    return _Batch(num_lines=len(lines), codes=codes, new_words=new_words, reset=reset)

  def _encode(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """(ids of every text concatenated, int64; each text's number of ids)."""
    if self.encode_lines is not None:
      return self.encode_lines(list(texts))
    ids = [e.ids for e in self.library.encode_batch_fast(list(texts), add_special_tokens=False)]
    lengths = np.fromiter(map(len, ids), np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(lengths.sum()))
    return flat, lengths

  def _encode_words(self, words: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """As _encode, for words without ' ': encoded _WORDS_PER_TEXT at a time, joined by ' '
    (a boundary, see the class docstring), each token given to the word that holds the last
    character of its span (an added token's lstrip/rstrip spans reach into the spaces)."""
    texts = [" ".join(words[i:i + _WORDS_PER_TEXT])
             for i in range(0, len(words), _WORDS_PER_TEXT)]
    encodings = self.library.encode_batch(texts, add_special_tokens=False)
    ids, owners = [], []
    for first, encoding in zip(range(0, len(words), _WORDS_PER_TEXT), encodings):
      chunk = words[first:first + _WORDS_PER_TEXT]
      starts = np.cumsum([0] + [len(w) + 1 for w in chunk[:-1]])
      last_chars = np.array([end - 1 for _, end in encoding.offsets], np.int64)
      owners.append(first + np.searchsorted(starts, last_chars, side="right") - 1)
      ids.append(np.array(encoding.ids, np.int64))
    owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    return (np.concatenate(ids) if ids else np.zeros(0, np.int64),
            np.bincount(owner, minlength=len(words)).astype(np.int64))

  def count(self, batch: _Batch) -> None:
    """Worker thread: tokenizes and counts one prepared batch (batches in order)."""
    if batch.num_lines == 0:
      return
    if batch.lines is not None:
      tokens, lengths = self._encode(batch.lines)
      line_of_token = np.repeat(np.arange(batch.num_lines, dtype=np.int64), lengths)
    else:
      tokens, line_of_token = self._word_ids(batch)
    if tokens.size and int(tokens.max()) >= self.vocab_size:
      raise InputError(f"the tokenizer produced id {int(tokens.max())} for a vocab of "
                       f"{self.vocab_size} rows")
    self.occurrences += np.bincount(tokens, minlength=self.vocab_size)
    pairs = np.unique(line_of_token * self.vocab_size + tokens)
    self.doc_freqs += np.bincount(pairs % self.vocab_size, minlength=self.vocab_size)
    self.num_lines += batch.num_lines
    self.num_tokens += int(tokens.size)

  def _word_ids(self, batch: _Batch) -> Tuple[np.ndarray, np.ndarray]:
    """(token ids of the batch's lines in order, the line of each) via the cached words."""
    if batch.reset:
      self._reset_ids()
    if batch.new_words:
      ids, lengths = self._encode_words(batch.new_words)
      self._starts = np.concatenate([self._starts, len(self._ids) + np.cumsum(lengths) - lengths])
      self._lengths = np.concatenate([self._lengths, lengths])
      self._ids = np.concatenate([self._ids, ids])
    codes = batch.codes
    line_of_word = np.cumsum(codes == _LINE_BREAK)
    lengths = self._lengths[codes]
    tokens = self._ids[_expand(self._starts[codes], lengths)]
    return tokens, np.repeat(line_of_word, lengths)


def can_split_words(tokenizer: Tokenizer) -> bool:
  """Whether counting may cut lines at ' ' (no matched added token holds whitespace)."""
  return not any(any(c in RUST_WHITESPACE for c in t.content) for t in tokenizer.added_tokens
                 if not (t.special and tokenizer.split_special_tokens))


def count_corpus(tokenizer: Tokenizer, paths: Sequence[str], vocab: Sequence[str],
                 min_chars: int = token_counts.DEFAULT_MIN_CHARS,
                 max_sentences: int = token_counts.DEFAULT_MAX_SENTENCES,
                 batch_size: Optional[int] = None, desc: str = "counting",
                 split_words: bool = True,
                 encode: Optional[Callable[[List[str]], Tuple[np.ndarray, np.ndarray]]] = None
                 ) -> token_counts.TokenCounts:
  """Stage 2 with the source's tokenizer: counting.count_corpus's lines, its TokenCounts.

  The lines are those counting.count_corpus (tf.data.TextLineDataset) reads:
  split on '\\n', every '\\r' removed, kept when longer than `min_chars` UTF-8
  characters, the first `max_sentences` kept ones in file order (invalid UTF-8:
  see `_kept_lines`). Each is tokenized by the tokenizers library as
  `tokenizer.encode` does (no [CLS]/[SEP]).

  Args:
    vocab: the token of each id (tokenizer.row_tokens(rows)); counts are keyed by it.
    batch_size: lines per batch (memory: a few batches, the word cache, and two
      int64 [len(vocab)] arrays; it does not grow with the corpus); None: DEFAULT_BATCH_LINES.
    split_words: encode each distinct space-separated word once (exact, see
      `_Counter`); False encodes every line whole (slower, for checks).
    encode: lines -> (their ids concatenated, int64; each line's number of ids), the
      tokenizer's own exact encoding of whole lines (e.g. the Unigram's word cache,
      hf_unigram_words.py); given, it replaces the library call and `split_words`.

  Raises:
    InputError: a file is missing or unreadable, or no line is long enough.
  """
  token_counts.check_corpus_files(paths)
  batch_size = batch_size or DEFAULT_BATCH_LINES
  counter = _Counter(tokenizer, len(vocab), encode is None and split_words
                     and can_split_words(tokenizer), encode)
  total_bytes = sum(os.path.getsize(p) for p in paths)
  with tqdm(total=total_bytes, unit="B", unit_scale=True, desc=desc, leave=True) as bar, \
      concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
    in_flight: Optional[concurrent.futures.Future] = None

    def submit(lines: List[str]) -> None:
      nonlocal in_flight
      batch = counter.prepare(lines)  # Overlaps the worker's previous batch.
      if in_flight is not None:
        in_flight.result()
        bar.set_postfix(lines=counter.num_lines, tokens=counter.num_tokens, refresh=False)
      in_flight = worker.submit(counter.count, batch)

    pending: List[str] = []
    kept = 0
    try:
      for lines, nbytes in _read_kept_lines(paths, min_chars):
        lines = lines[:max_sentences - kept]
        kept += len(lines)
        pending.extend(lines)
        while len(pending) >= batch_size:
          submit(pending[:batch_size])
          del pending[:batch_size]
        bar.update(nbytes)
        if kept >= max_sentences:
          break
    except OSError as e:
      raise InputError(f"{', '.join(paths)}: cannot read ({e})") from None
    submit(pending)
    in_flight.result()
    bar.set_postfix(lines=counter.num_lines, tokens=counter.num_tokens, refresh=True)
  if counter.num_lines == 0:
    raise InputError(f"{', '.join(paths)}: no line longer than {min_chars} characters")
  return token_counts.TokenCounts(
      occurrences=token_counts.nonzero_counts(counter.occurrences, vocab),
      doc_freqs=token_counts.nonzero_counts(counter.doc_freqs, vocab),
      num_lines=counter.num_lines,
      meta={"corpus": list(paths), "min_chars": min_chars, "max_sentences": max_sentences,
            "lower_case": tokenizer.lower_case, "vocab_size": len(vocab),
            "tokenizer": "tokenizers " + _library_version()})


def _library_version() -> str:
  return tokenizers.__version__
