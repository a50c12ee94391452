"""The `Tokenizer` protocol: everything stages 1-4 ask of the tokenizer a model runs.

A stage never asks which kind of tokenizer it holds. It asks the tokenizer:

  special_ids()        the special tokens by `Role` (pad, unk, start, end, mask) -> id
  special_rows()       every row a smaller vocab keeps first (the roles' and any other
                       reserved token, e.g. WordPiece's '[unused7]'), in row order
  smaller_vocab        the smaller vocab from stage 2's selections (specials first, then the
                       sorted union; a Unigram keeps its pieces' order)
  packing(), pack_ids  how a line is packed for the encoder, by role ([CLS] A [SEP], <s> A </s>)
  word_boundary()      how a piece continues ('##') or starts ('\\u2581') a word
  char_classes(chars)  what the tokenizer's own normalizer and pre-tokenizer do to each
                       character (WORD, SPLIT, DROPPED, CHANGED), hence `char_forms`: the
                       single-character pieces text can make it look up
  encode(lines)        each line's rows, no special tokens; count_corpus: stage 2's counts
  row_tokens()         the token of each row
  pruned(keep_rows)    the same tokenizer over rows `keep_rows` of this one, in that order,
                       every id it stores (unk, the template's, added tokens) remapped
  save(dir), load      its files in stage 1's weight store; `load(kind, dir)` by the "kind"
                       source.json records (`register` adds a kind)
  hf_files, tf_preprocessor  the exports: tokenizer.json & co.; the TF Hub preprocessor

Kinds: "tfhub" (TF Hub's WordPiece, tf_hub_wordpiece.py), "hf_wordpiece" (a Hugging Face
source's WordPiece, hf_tokenizer.py), "hf_unigram" (XLM-R's SentencePiece Unigram,
hf_unigram.py). A class may subclass `Tokenizer` to inherit the
methods written here in terms of the others (`tokenize`, `pack_ids`, `char_forms`,
`specials`, `producible`).
"""

import dataclasses
import enum
import importlib
from typing import (ClassVar, Dict, Iterable, List, Mapping, Optional, Protocol,
                    Sequence, Tuple, Union, runtime_checkable)

import numpy as np

from smaller_labse.errors import InputError


class Role(str, enum.Enum):
  """What a special token is for, whatever its name ('[CLS]', '<s>'...)."""
  PAD = "pad"
  UNK = "unk"
  START = "start"  # BERT's [CLS], XLM-R's <s>: first of every packed line.
  END = "end"  # BERT's [SEP], XLM-R's </s>: ends a segment.
  MASK = "mask"


TEXT = "A"  # The line's place in a packing template.


@dataclasses.dataclass(frozen=True)
class PackingTemplate:
  """How one line is packed: roles and TEXT in order ([CLS] A [SEP]: START, TEXT, END)."""
  single: Tuple[Union[Role, str], ...] = (Role.START, TEXT, Role.END)

  @property
  def num_special(self) -> int:
    return sum(1 for part in self.single if part != TEXT)

  def pack_ids(self, ids: Sequence[Sequence[int]], special_ids: Mapping[Role, int]
               ) -> Dict[str, np.ndarray]:
    """Each line's ids packed, padded with the PAD id to the longest.

    Args:
      ids: each line's rows, without special tokens.
      special_ids: the tokenizer's role -> id.

    Returns:
      'input_word_ids', 'input_mask', 'input_type_ids': int32 [B, longest + num_special].
    """
    length = max((len(x) for x in ids), default=0) + self.num_special
    word_ids = np.full((len(ids), length), special_ids[Role.PAD], np.int32)
    mask = np.zeros((len(ids), length), np.int32)
    for i, row in enumerate(ids):
      packed = [x for part in self.single
                for x in (row if part == TEXT else [special_ids[part]])]
      word_ids[i, :len(packed)] = packed
      mask[i, :len(packed)] = 1
    return {"input_word_ids": word_ids, "input_mask": mask,
            "input_type_ids": np.zeros_like(word_ids)}


BERT_PACKING = PackingTemplate((Role.START, TEXT, Role.END))


def tf_hub_special_ids(special_ids: Mapping[Role, int], vocab_size: int) -> Dict[str, int]:
  """A TF Hub preprocessor's get_special_tokens_dict (TF Model Garden's names) from roles."""
  return {"vocab_size": vocab_size, "start_of_sequence_id": special_ids[Role.START],
          "end_of_segment_id": special_ids[Role.END], "padding_id": special_ids[Role.PAD],
          "mask_id": special_ids.get(Role.MASK, -1)}

# What a tokenizer's normalizer and pre-tokenizer do to a character between two letters
# (char_classes): kept inside the word; a word of its own; removed (a separator, deleted);
# turned into other characters (case folding, accent stripping: its pieces are kept, not
# proven unreachable).
WORD, SPLIT, DROPPED, CHANGED = "word", "split", "dropped", "changed"


@dataclasses.dataclass(frozen=True)
class WordBoundary:
  """How a piece marks its place in a word: one of the two is set.

  continuation_prefix: WordPiece's '##': a piece continuing a word starts with it.
  word_start_marker: SentencePiece's '\\u2581': a piece starting a word starts with it.
  """
  continuation_prefix: str = ""
  word_start_marker: str = ""

  def __post_init__(self):
    if bool(self.continuation_prefix) == bool(self.word_start_marker):
      raise ValueError("a WordBoundary has a continuation prefix or a word-start marker")

  def start_form(self, char: str) -> str:
    """The piece of `char` first in a word ('x' for WordPiece, '\\u2581x' for Unigram)."""
    return self.word_start_marker + char

  def continuation_form(self, char: str) -> str:
    """The piece of `char` later in a word ('##x' for WordPiece, 'x' for Unigram)."""
    return self.continuation_prefix + char

  def char_of(self, piece: str) -> str:
    """The character of a single-character piece, in either form; else ''."""
    mark = self.continuation_prefix or self.word_start_marker
    if piece.startswith(mark) and len(piece) == len(mark) + 1:
      return piece[-1]
    return piece if len(piece) == 1 and piece != mark else ""

  def is_continuation(self, piece: str) -> bool:
    """Whether `piece` continues a word (never first in one)."""
    if self.continuation_prefix:
      return piece.startswith(self.continuation_prefix) and len(piece) > len(
          self.continuation_prefix)
    return not piece.startswith(self.word_start_marker)

  def spell(self, piece: str) -> List[str]:
    """The single-character pieces that spell `piece` one character at a time, in the same
    place in a word: 'abc' -> ['a', '##b', '##c'], '##bc' -> ['##b', '##c'] (WordPiece);
    '\\u2581ab' -> ['\\u2581a', 'b'], 'ab' -> ['a', 'b'] (Unigram)."""
    prefix, marker = self.continuation_prefix, self.word_start_marker
    if prefix:
      if piece.startswith(prefix) and len(piece) > len(prefix):
        return [prefix + c for c in piece[len(prefix):]]
      return [c if i == 0 else prefix + c for i, c in enumerate(piece)]
    if piece.startswith(marker) and len(piece) > len(marker):
      return [marker + piece[len(marker)]] + list(piece[len(marker) + 1:])
    return list(piece)

  def forms(self, char: str, char_class: str) -> Tuple[str, ...]:
    """The pieces of `char` text can make a tokenizer look up, given its class."""
    if char_class == DROPPED:
      return ()
    if char_class == SPLIT:
      return (self.start_form(char),)
    return (self.start_form(char), self.continuation_form(char))


WORDPIECE = WordBoundary(continuation_prefix="##")


@runtime_checkable
class Tokenizer(Protocol):
  """The tokenizer a model runs, as every stage sees it (see the module docstring).

  Attributes:
    kind: its registry name, recorded in stage 1's store (source.json's "tokenizer").
    export_note: the Sentence Transformers export's model card paragraph on its tokenizer.
    tf_hub_export: whether it has a TF Hub preprocessor (`tf_preprocessor`): stage 3 exports
      the TF Hub pair only then (default formats: both; else the Sentence Transformers
      directory alone).
    lower_case: whether it lower-cases (the encoder config's do_lower_case).
  """
  kind: ClassVar[str]
  export_note: ClassVar[str]
  tf_hub_export: ClassVar[bool] = True
  lower_case: bool

  # --- Rows and special tokens --------------------------------------------------------------

  def row_tokens(self, num_rows: Optional[int] = None) -> List[str]:
    """The token of each row 0..num_rows-1 (default: every row it can produce)."""

  def special_ids(self) -> Dict[Role, int]:
    """Role -> id, for the roles it has (PAD, UNK, START and END at least)."""

  def special_rows(self) -> List[int]:
    """The rows every smaller vocab keeps, first and in this order (its special tokens)."""

  def word_boundary(self) -> WordBoundary:
    """How its pieces mark a word's start or continuation."""

  def packing(self) -> PackingTemplate:
    """How a line is packed for the encoder."""
    return BERT_PACKING

  def char_classes(self, chars: Iterable[str]) -> Dict[str, str]:
    """Each character's fate between two letters in its own normalizer and pre-tokenizer:
    WORD, SPLIT, DROPPED or CHANGED."""

  # --- Running -------------------------------------------------------------------------------

  def encode(self, lines: Sequence[Union[str, bytes]]) -> List[List[int]]:
    """Each line's rows, without special tokens (UTF-8 bytes: invalid bytes as U+FFFD)."""

  def count_corpus(self, paths: Sequence[str], vocab: Sequence[str], exact_only: bool = False,
                   **kwargs):
    """Stage 2's token_counts.TokenCounts of the corpus files `paths`, keyed by `vocab` (the
    token of each row). kwargs: min_chars, max_sentences, batch_size, desc."""

  # --- Smaller, saved, exported --------------------------------------------------------------

  def pruned(self, keep_rows: Sequence[int]) -> "Tokenizer":
    """The same tokenizer over rows `keep_rows` (its row i is this one's keep_rows[i]).

    Raises:
      InputError: a special row is not kept, or a row is not one of its tokens.
    """

  def save(self, directory: str) -> List[str]:
    """Writes what `load` needs beside the store's vocab.txt and config.json; returns the
    paths written."""

  @classmethod
  def load(cls, directory: str, lower_case: Optional[bool] = None) -> "Tokenizer":
    """Reads back what `save` wrote into stage 1's store `directory`. `lower_case`: a
    lower-casing switch the caller sets (stage 2's --lower_case), where it has one."""

  def hf_files(self, max_seq_length: int) -> Dict[str, str]:
    """File name -> text: tokenizer.json & co. that transformers loads into this tokenizer."""

  def tf_preprocessor(self, vocab_path: str, tokens: Optional[Sequence[str]] = None):
    """The TF Hub preprocessor's computation (a tf.Module: tokenize, bert_pack_inputs,
    special_ids) over `vocab_path` (holding `tokens`, default row_tokens(), one per line)."""

  # --- Given by the methods above ------------------------------------------------------------

  def tokenize(self, lines: Sequence[Union[str, bytes]]) -> List[List[str]]:
    """Each line's token strings, without special tokens."""
    tokens = self.row_tokens()
    return [[tokens[i] for i in ids] for ids in self.encode(lines)]

  def pack_ids(self, ids: Sequence[Sequence[int]]) -> Dict[str, np.ndarray]:
    """`packing().pack_ids` with this tokenizer's special ids: int32 [B, S] numpy arrays."""
    return self.packing().pack_ids(ids, self.special_ids())

  def specials(self) -> List[str]:
    """The tokens of `special_rows()`."""
    tokens = self.row_tokens()
    return [tokens[row] for row in self.special_rows()]

  def smaller_vocab(self, full_vocab: Sequence[str], selections: Sequence[Sequence[str]]
                    ) -> List[str]:
    """The smaller vocab stage 3 builds from the per-language `selections` (tokens of
    `full_vocab`, this tokenizer's rows): by default its special tokens first, then the union
    of the selections sorted by code point, as the original release built it. A tokenizer
    whose rows must keep their order (a Unigram's) overrides it.

    Raises:
      InputError: a selected token is not in `full_vocab`, or nothing is selected.
    """
    return build_target_vocab(full_vocab, selections, self.specials())

  def char_forms(self, chars: Iterable[str]) -> Dict[str, Tuple[str, ...]]:
    """Each character's single-character pieces that text can make it look up ('x' and '##x'
    for a WordPiece word character, 'x' alone for a split one, none for a dropped one;
    '\\u2581x' and 'x' for Unigram): what the character guarantee keeps."""
    boundary = self.word_boundary()
    return {c: boundary.forms(c, cls) for c, cls in self.char_classes(chars).items()}

  def producible(self, token: str) -> bool:
    """False for a token no text can produce: a piece holding a character its own rules drop
    (a selection made for another tokenizer over the same vocab may name one)."""
    boundary = self.word_boundary()
    body = (token[len(boundary.continuation_prefix):]
            if boundary.continuation_prefix and boundary.is_continuation(token) else token)
    return DROPPED not in self.char_classes(set(body)).values()


# --- The registry: kind -> class -----------------------------------------------------------

_KINDS: Dict[str, Union[type, str]] = {
    "tfhub": "smaller_labse.tokenizers.tf_hub_wordpiece:TfHubTokenizer",
    "hf_wordpiece": "smaller_labse.tokenizers.hf_tokenizer:HfTokenizer",
    "hf_unigram": "smaller_labse.tokenizers.hf_unigram:HfUnigramTokenizer",
    # What stores written before the protocol record for a Hugging Face source's tokenizer.
    "tokenizer.json": "smaller_labse.tokenizers.hf_tokenizer:HfTokenizer",
}


def register(cls: type) -> type:
  """Registers a tokenizer class under its `kind` (a class decorator)."""
  _KINDS[cls.kind] = cls
  return cls


def tokenizer_class(kind: str) -> type:
  """The class registered as `kind` (imported when first asked for: no TensorFlow before).

  Raises:
    InputError: no tokenizer of that kind.
  """
  found = _KINDS.get(kind)
  if found is None:
    raise InputError(f"unknown tokenizer kind {kind!r} (known: {', '.join(sorted(_KINDS))})")
  if isinstance(found, str):
    module, _, name = found.partition(":")
    found = getattr(importlib.import_module(module), name)
  return found


def load(kind: str, directory: str, lower_case: Optional[bool] = None) -> Tokenizer:
  """The tokenizer of kind `kind` that `save` wrote into `directory`."""
  return tokenizer_class(kind).load(directory, lower_case)


def rows_of(tokens: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
  """The row of each of `tokens` in `vocab` (int64 [len(tokens)]).

  Raises:
    InputError: a token is not in `vocab`.
  """
  index = {t: i for i, t in enumerate(vocab)}
  missing = [t for t in tokens if t not in index]
  if missing:
    raise InputError(f"{len(missing)} tokens are not in the vocab, e.g. {missing[0]!r}")
  return np.array([index[t] for t in tokens], np.int64)


def check_pruning(tokenizer: Tokenizer, keep_rows: Sequence[int], num_rows: int) -> None:
  """Raises InputError unless `keep_rows` are distinct rows < num_rows holding every special
  row of `tokenizer`."""
  kept = set(int(r) for r in keep_rows)
  if len(kept) != len(keep_rows):
    raise InputError("a row is kept twice in the smaller vocab")
  outside = [r for r in kept if not 0 <= r < num_rows]
  if outside:
    raise InputError(f"row {outside[0]} is not a row of the tokenizer ({num_rows} rows)")
  missing = [r for r in tokenizer.special_rows() if r not in kept]
  if missing:
    raise InputError(f"the smaller vocab lacks the special token "
                     f"{tokenizer.row_tokens()[missing[0]]!r}")


def build_target_vocab(original_vocab: Sequence[str], selections: Sequence[Sequence[str]],
                       specials: Sequence[str]) -> List[str]:
  """The smaller model's vocab, built as the original release did.

  Args:
    original_vocab: the full vocab, in model order.
    selections: per-language selected tokens.
    specials: the tokenizer's special tokens (`Tokenizer.specials()`), in row order.

  Returns:
    `specials`, then the union of the selected (non-special) tokens sorted by code point.

  Raises:
    InputError: a selected token is not in `original_vocab`, or nothing is selected.
  """
  known = set(original_vocab)
  selected = set()
  for tokens in selections:
    selected.update(tokens)
  unknown = sorted(selected - known)
  if unknown:
    shown = ", ".join(repr(t) for t in unknown[:5])
    raise InputError(f"{len(unknown)} selected tokens are not in the original vocab, e.g. {shown}")
  specials = list(specials)
  body = sorted(selected - set(specials))
  if not body:
    raise InputError("the selection is empty: no token to keep besides the special tokens")
  return specials + body
