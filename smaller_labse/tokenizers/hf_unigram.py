"""An XLM-R SentencePiece Unigram tokenizer (multilingual-e5, paraphrase-multilingual, bge-m3),
read from a Hugging Face / Sentence Transformers directory and run as transformers runs it.

`HfUnigramTokenizer` follows the `Tokenizer` protocol (smaller_labse/tokenizers/base.py, kind
"hf_unigram"): special ids by role, the `<s> A </s>` packing, the `\\u2581` word-start
marker, `char_rows` for the character guarantee, `encode_batch` (exact, with a word cache whose
equality to whole-line tokenization bench/bench_unigram_counting.py and the tests check),
`pruned(keep_rows)` and `save`/`load`. Its parts, one concern a module:

  hf_unigram_reading.py  the directory read and checked as transformers 5 runs it, and the
                         pipeline transformers builds (`library_json`)
  hf_unigram_words.py    encoding word by word: the word cache (`encode_flat`)
  hf_unigram_pruning.py  pruning with the lowest score kept (why: its docstring), every stored
                         id remapped, the files written
"""

import dataclasses
import json
import threading
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from smaller_labse.errors import InputError
from smaller_labse.tokenizers import base
from smaller_labse.tokenizers import hf_unigram_pruning as pruning
from smaller_labse.tokenizers import hf_unigram_reading as reading
from smaller_labse.tokenizers.base import TEXT, PackingTemplate, Role, WordBoundary
from smaller_labse.tokenizers.hf_unigram_reading import MARKER, TOKENIZER_JSON, XLMR_CLASS
from smaller_labse.tokenizers.hf_unigram_words import WordEncoder, as_text, flatten

KIND = "hf_unigram"
# The word cache starts with the first batch of at least this many lines: fewer (stage 1's and
# stage 3's verification sentences) are encoded whole, without the cache's private copy of the
# library (about 0.3 GB and a second for XLM-R's 250,002 pieces).
WORD_CACHE_MIN_LINES = 1000


@dataclasses.dataclass(frozen=True)
class Piece:
  """One row of the vocabulary: its text, its score, whether it is a special token, and whether
  it starts a word (begins with the marker)."""
  text: str
  score: float
  special: bool
  starts_word: bool


@base.register
class HfUnigramTokenizer(base.Tokenizer):
  """A source's XLM-R Unigram tokenizer: its files as data, and the pipeline transformers runs.

  Attributes:
    data: tokenizer.json as read (the pieces are `data['model']['vocab']`).
    tokenizer_class: transformers' class ('XLMRobertaTokenizer' or 'TokenizersBackend'...).
    config: tokenizer_config.json, or None; special_tokens_map: special_tokens_map.json or None.
    spm_model: the bytes of sentencepiece.bpe.model, or None.
    source: where it was read (for messages).
  """
  kind = KIND
  lower_case = False
  tf_hub_export = False  # No TF Hub preprocessor: stage 3 writes the ST directory only.
  export_note = ("Its tokenizer is the source's XLM-R SentencePiece Unigram, pruned to the kept "
                 "pieces in their original order with their scores (tokenizer.json and "
                 "sentencepiece.bpe.model).")

  def __init__(self, data: dict, tokenizer_class: str = XLMR_CLASS,
               config: Optional[dict] = None, special_tokens_map: Optional[dict] = None,
               spm_model: Optional[bytes] = None, source: str = TOKENIZER_JSON,
               model_name: str = ""):
    self.data = data
    self.tokenizer_class = tokenizer_class
    self.config = config
    self.special_tokens_map = special_tokens_map
    self.spm_model = spm_model
    self.source = source
    self._lock = threading.Lock()
    self._library = None
    self._words: Optional[WordEncoder] = None
    checked = reading.check_tokenizer(data, tokenizer_class, config, special_tokens_map, source,
                                      model_name)
    self.pieces: Tuple[str, ...] = checked.pieces
    self.scores: Tuple[float, ...] = checked.scores
    self._ids = checked.ids
    self.added_tokens = checked.added_tokens
    self.names = checked.names

  # --- Reading a directory -------------------------------------------------------------------

  @classmethod
  def from_model_dir(cls, model_dir: str) -> "HfUnigramTokenizer":
    """The tokenizer AutoTokenizer.from_pretrained(model_dir) builds (hf_unigram_reading.py's
    docstring).

    Raises:
      InputError: no tokenizer.json, malformed files, or a tokenizer that is not an XLM-R
        Unigram (one line, naming the file and what it is).
    """
    f = reading.read_model_dir(model_dir)
    return cls(f.data, f.tokenizer_class, f.config, f.special_tokens_map, f.spm_model,
               source=f.source, model_name=f.model_name)

  @classmethod
  def load(cls, directory: str, lower_case: Optional[bool] = None) -> "HfUnigramTokenizer":
    """What `save` wrote (`lower_case`: not a switch of this tokenizer, ignored)."""
    del lower_case
    return cls.from_model_dir(directory)

  # --- As data -------------------------------------------------------------------------------

  @property
  def unk_id(self) -> int:
    return self.data["model"]["unk_id"]

  @property
  def num_ids(self) -> int:
    return len(self.pieces)

  def token_to_id(self, token: str) -> Optional[int]:
    return self._ids.get(token)

  def row_tokens(self, num_rows: Optional[int] = None) -> List[str]:
    """The piece of each row; `num_rows` beyond the vocab is an InputError (a table smaller
    than the tokenizer), rows beyond it within `num_rows` are not asked for here."""
    if num_rows is None:
      return list(self.pieces)
    if num_rows < len(self.pieces):
      raise InputError(f"{self.source}: a tokenizer of {len(self.pieces)} pieces does not fit "
                       f"an embedding table of {num_rows} rows")
    return list(self.pieces) + [f"[unreachable row {r}]" for r in range(len(self.pieces),
                                                                         num_rows)]

  def special_ids(self) -> Dict[Role, int]:
    """Role -> id: <s> START, </s> END, <pad> PAD, <unk> UNK, <mask> MASK."""
    ids = {}
    for name, role in reading.NAMED_ROLES:
      if name in self.names:
        ids.setdefault(role, self._ids[self.names[name]])
    return ids

  def special_rows(self) -> List[int]:
    """The rows of the named special tokens and the special added tokens, in row order (XLM-R:
    0, 1, 2, 3 and <mask> last; pruning keeps them in that order, not first)."""
    rows = {self._ids[t] for t in self.names.values()}
    rows.update(t["id"] for t in self.added_tokens if t.get("special"))
    return sorted(rows)

  def min_score_row(self) -> int:
    """The first row with the lowest score (what the `<unk>` penalty is measured from)."""
    return int(np.argmin(np.array(self.scores, np.float64)))

  def required_rows(self) -> List[int]:
    """The rows every pruning keeps: special_rows() and min_score_row() (why:
    hf_unigram_pruning.py's docstring)."""
    return sorted(set(self.special_rows()) | {self.min_score_row()})

  def smaller_vocab(self, full_vocab: Sequence[str], selections: Sequence[Sequence[str]]
                    ) -> List[str]:
    """The pieces of `required_rows()` and of the selections, in their original order: the
    special tokens keep their ids (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask> last), every piece
    its score, and the lowest score stays (the `<unk>` penalty: hf_unigram_pruning.py's
    docstring). Rows of `full_vocab` beyond the pieces (an embedding table larger than the
    tokenizer) are never kept.

    Raises:
      InputError: a selected token is not a piece, or nothing is selected.
    """
    selected = set()
    for tokens in selections:
      selected.update(tokens)
    unknown = sorted(t for t in selected if t not in self._ids)
    if unknown:
      shown = ", ".join(repr(t) for t in unknown[:5])
      raise InputError(f"{len(unknown)} selected tokens are not in the original vocab, e.g. "
                       f"{shown}")
    required = set(self.required_rows())
    rows = {self._ids[t] for t in selected} | required
    if not rows - required:
      raise InputError("the selection is empty: no token to keep besides the special tokens")
    if list(full_vocab[:len(self.pieces)]) != list(self.pieces):
      raise InputError(f"{self.source}: the vocab is not this tokenizer's pieces")
    return [self.pieces[r] for r in sorted(rows)]

  def word_boundary(self) -> WordBoundary:
    return WordBoundary(word_start_marker=MARKER)

  def packing(self) -> PackingTemplate:
    """<s> A </s>."""
    return PackingTemplate((Role.START, TEXT, Role.END))

  def piece(self, row: int) -> Piece:
    text = self.pieces[row]
    return Piece(text, self.scores[row], row in set(self.special_rows()),
                 text.startswith(MARKER))

  def normalized_chars(self, lines: Iterable[str]) -> Set[str]:
    """The characters of `lines` after this tokenizer's normalizer, without whitespace (the
    characters whose pieces the character guarantee keeps)."""
    normalizer = self.library().normalizer
    chars: Set[str] = set()
    for line in lines:
      chars.update(normalizer.normalize_str(line) if normalizer is not None else line)
    return {c for c in chars if not c.isspace()}

  def char_rows(self, chars: Iterable[str]) -> FrozenSet[int]:
    """The rows of the single-character pieces `c` and `\\u2581c` of each of `chars` (and of
    the characters the normalizer turns it into), and of `\\u2581` itself: kept, no line made
    of these characters gains an `<unk>` (the lattice has a single-character node at every
    position)."""
    normalizer = self.library().normalizer
    rows = set()
    if MARKER in self._ids:
      rows.add(self._ids[MARKER])
    for char in set(chars):
      forms = {char}
      if normalizer is not None:
        forms.update(normalizer.normalize_str(char))
      for c in forms:
        for piece in (c, MARKER + c):
          if piece in self._ids:
            rows.add(self._ids[piece])
    return frozenset(rows)

  def char_classes(self, chars: Iterable[str]) -> Dict[str, str]:
    """The protocol's classes: whitespace is dropped, a character the normalizer changes is
    CHANGED, every other character stays in its word (WORD); the marker is WORD (the
    pre-tokenizer writes it, whatever text holds)."""
    normalizer = self.library().normalizer
    classes = {}
    for char in dict.fromkeys(chars):
      if char == MARKER:
        classes[char] = "word"
        continue
      normalized = normalizer.normalize_str(char) if normalizer is not None else char
      classes[char] = ("dropped" if not normalized.strip() else
                       "word" if normalized == char else "changed")
    return classes

  # --- Running -------------------------------------------------------------------------------

  def library_json(self) -> dict:
    """The tokenizers-library serialization of the pipeline transformers runs."""
    return reading.transformers_pipeline(self.data, self.tokenizer_class, self.names, self._ids)

  def library(self):
    """This tokenizer as a `tokenizers.Tokenizer` (shared; thread-safe for encoding)."""
    with self._lock:
      if self._library is None:
        from tokenizers import Tokenizer  # pylint: disable=import-outside-toplevel
        try:
          self._library = Tokenizer.from_str(json.dumps(self.library_json()))
        except Exception as e:  # The library's own message, in one line.
          raise InputError(f"{self.source}: the tokenizers library refuses it "
                           f"({' '.join(str(e).split())})") from None
      return self._library

  def encode_exact(self, lines: Sequence[Union[str, bytes]]) -> List[List[int]]:
    """Each line's ids without <s>/</s>, every line encoded whole by the library."""
    texts = [as_text(l) for l in lines]
    return [e.ids for e in self.library().encode_batch_fast(texts, add_special_tokens=False)]

  def word_cache_exact(self) -> bool:
    """Whether lines may be encoded word by word (hf_unigram_words.WordEncoder): the
    pre-tokenizer splits on whitespace first and no added token holds whitespace."""
    pre = self.library_json().get("pre_tokenizer") or {}
    splits = (pre.get("type") == "Sequence" and pre["pretokenizers"][0] == {
        "type": "WhitespaceSplit"})
    return splits and not any(any(c.isspace() for c in t["content"]) for t in self.added_tokens)

  def encode_flat(self, lines: Sequence[Union[str, bytes]], word_cache: Optional[bool] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """(every line's ids without specials, concatenated: int64; each line's number of ids).

    word_cache: where the cache is exact (word_cache_exact), True encodes through it; None
    (default) too, once it exists or for a batch of WORD_CACHE_MIN_LINES lines or more;
    False encodes every line whole. The ids are the same.
    """
    texts = [as_text(l) for l in lines]
    if word_cache is None:
      word_cache = self._words is not None or len(texts) >= WORD_CACHE_MIN_LINES
    if not word_cache or not self.word_cache_exact():
      return flatten(self.encode_exact(texts))
    if self._words is None:
      words = WordEncoder(self)  # Outside the lock: library() takes it.
      with self._lock:
        if self._words is None:
          self._words = words
    with self._lock:  # The cache grows as it encodes: one batch at a time.
      return self._words.encode(texts)

  def encode_batch(self, lines: Sequence[Union[str, bytes]], word_cache: Optional[bool] = None
                   ) -> List[List[int]]:
    """Each line's ids without <s>/</s> (the word cache as encode_flat uses it; equal to
    encode_exact)."""
    ids, lengths = self.encode_flat(lines, word_cache)
    flat = ids.tolist()
    ends = np.cumsum(lengths).tolist()
    return [flat[start:end] for start, end in zip([0] + ends[:-1], ends)]

  def encode(self, lines: Sequence[Union[str, bytes]]) -> List[List[int]]:
    """The protocol's name for encode_batch."""
    return self.encode_batch(lines)

  def tokenize(self, lines: Sequence[Union[str, bytes]]) -> List[List[str]]:
    return [[self.pieces[i] for i in ids] for ids in self.encode_batch(lines)]

  def count_corpus(self, paths: Sequence[str], vocab: Sequence[str], exact_only: bool = False,
                   **kwargs):
    """Stage 2's counts (hf_counting.count_corpus's lines and TokenCounts), each line encoded
    as `encode_flat` does (the word cache, equal to whole lines); exact_only encodes every line
    whole. kwargs: min_chars, max_sentences, batch_size (None: hf_counting's), desc."""
    from smaller_labse.vocabulary import hf_counting  # pylint: disable=import-outside-toplevel
    encode = (lambda lines: flatten(self.encode_exact(lines))) if exact_only else self.encode_flat
    return hf_counting.count_corpus(self, paths, vocab, encode=encode, **kwargs)

  # --- Pruning -------------------------------------------------------------------------------

  def pruned(self, keep_rows: Sequence[int]) -> "HfUnigramTokenizer":
    """The same tokenizer over the pieces of `keep_rows` (increasing: the pieces keep their
    order and scores, the special tokens their ids; row i of the result is keep_rows[i]).

    Every id the files store is remapped by hf_unigram_pruning.remap_ids;
    sentencepiece.bpe.model is pruned to match (sentencepiece_model.py).

    Raises:
      InputError: rows not increasing or outside the vocab, or a required row (a special
        token, the lowest-scoring piece: required_rows) missing.
    """
    data, config, spm_model = pruning.pruned_files(self, keep_rows)
    return HfUnigramTokenizer(data, self.tokenizer_class, config, self.special_tokens_map,
                              spm_model, source=f"{self.source} (pruned)")

  # --- Writing -------------------------------------------------------------------------------

  def tokenizer_json_text(self) -> str:
    """tokenizer.json as written: the source's JSON (key order kept) with this vocab,
    compact, UTF-8 as is; the same tokenizer always gives the same bytes."""
    return pruning.tokenizer_json_text(self.data)

  def hf_files(self, max_seq_length: Optional[int] = None) -> Dict[str, Union[str, bytes]]:
    """File name -> content (str or bytes) of the tokenizer files of an export directory."""
    return pruning.export_files(self, max_seq_length)

  def save(self, directory: str) -> List[str]:
    """Writes hf_files() into `directory` (each file atomically); returns the paths."""
    return pruning.write_files(self.hf_files(), directory)

  def tf_preprocessor(self, vocab_path: Optional[str] = None, tokens=None):
    raise InputError(f"{self.source}: a SentencePiece Unigram tokenizer has no TF Hub "
                     "preprocessor here (export the Sentence Transformers directory)")
