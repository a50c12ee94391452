"""Character tokens of a vocab: which ones text can reach, and what keeping them proves.

The tokenizer says how its pieces mark words (`base.WordBoundary`: WordPiece's 'x' / '##x',
Unigram's '\u2581x' / 'x') and what its own normalizer and pre-tokenizer do to each
character (`Tokenizer.char_classes`); this module only counts. For WordPiece:

Greedy WordPiece (longest match first) fails on a word, giving `[UNK]`, only
when at some position no vocab token matches. A word whose first character `x`
has the token `x` and whose every later character `y` has `##y` therefore
never fails, whatever else the vocab holds: a smaller vocab that keeps those
single-character tokens turns no such word into `[UNK]`.

Which single-character tokens text can reach is decided by what runs before
WordPiece (for TF Hub's tokenizer, `tensorflow_text.BertTokenizer`'s basic
tokenizer; for a Hugging Face source, its BertNormalizer and BertPreTokenizer,
hf_chars.py). Per character it does one of:
- "word": the character stays inside words (letters, marks, digits, and the
  non-ASCII spaces such as U+00A0, U+202F, U+3000, which RE2's `\\s` does not
  match): a word can start with it (needs `x`) or hold it later (`##x`);
- "split": punctuation and CJK ideographs become words of their own: only
  `x` is ever looked up, `##x` is unreachable;
- "dropped": ASCII whitespace, control and format characters (Cc, Cf) are
  separators: neither token is reachable;
- "changed" (only with `lower_case`): case folding / accent stripping turns the
  character into others; its tokens are kept (not proven unreachable).
TF Hub's tokenizer finds the class by running itself on 'a' + x + 'a', so it
follows TensorFlow's Unicode tables, not Python's.

Outside the guarantee are only "gap" characters: a word character with `x`
but no `##x` (or `##x` but no `x`) that a longer token of the full vocab can
still spell in that position; the full vocab may then tokenize a word the
smaller one cannot. Where the full vocab cannot spell a character in a
position at all, both vocabs give `[UNK]` and nothing is lost. LaBSE's vocab
(501,153 tokens) has 29,741 single-character tokens over 14,871 characters:
6,475 word characters, each with `x` and `##x`, and 8,396 split characters,
all with `x` (8,395 also with the unreachable `##x`); no gap character, and no
character that appears only inside longer tokens.
"""

import dataclasses
from typing import Dict, Iterable, List, Optional, Sequence, Set

from smaller_labse.tokenizers.base import CHANGED, DROPPED, SPLIT, WORD, Tokenizer, WordBoundary

__all__ = ["WORD", "SPLIT", "DROPPED", "CHANGED", "CharCoverage", "analyze", "char_tokens",
           "is_char_token", "missing_reachable"]


def is_char_token(token: str, boundary: WordBoundary) -> bool:
  """True for a single-character piece in either form ('x' and '##x' for WordPiece)."""
  return bool(boundary.char_of(token))


def char_tokens(vocab: Iterable[str], boundary: WordBoundary,
                specials: Iterable[str] = ()) -> List[str]:
  """The single-character tokens of `vocab` that are not `specials`, in vocab order."""
  specials = set(specials)
  return [t for t in vocab if boundary.char_of(t) and t not in specials]


@dataclasses.dataclass
class CharCoverage:
  """What a full vocab's single-character tokens can guarantee.

  reachable: the single-character tokens text can make the tokenizer look up (vocab order).
  unreachable: the others ('##x' of split characters, both forms of dropped ones).
  gap_chars: word characters missing a form that longer tokens can still spell there.
  classes: character -> WORD / SPLIT / DROPPED / CHANGED, for every character of a
    single-character token or held by a longer one.
  """
  reachable: List[str]
  unreachable: List[str]
  gap_chars: List[str]
  classes: Dict[str, str]

  @property
  def num_char_tokens(self) -> int:
    return len(self.reachable) + len(self.unreachable)


def analyze(tokenizer: Tokenizer, vocab: Optional[Sequence[str]] = None) -> CharCoverage:
  """Sorts the single-character tokens of `vocab` (default: the tokenizer's rows) into
  reachable and unreachable by the tokenizer's own character rules, and finds gaps."""
  vocab = tokenizer.row_tokens() if vocab is None else vocab
  boundary = tokenizer.word_boundary()
  specials = set(tokenizer.specials())
  tokens = char_tokens(vocab, boundary, specials)
  present = set(tokens)
  # Character tokens that some longer token spells in that position.
  elsewhere: Set[str] = set()
  for token in vocab:
    if token not in specials and not boundary.char_of(token):
      elsewhere.update(boundary.spell(token))
  chars = sorted({boundary.char_of(t) for t in tokens} | {form[-1] for form in elsewhere})
  classes = tokenizer.char_classes(chars)
  forms = {ch: boundary.forms(ch, cls) for ch, cls in classes.items()}
  reachable, unreachable = [], []
  for token in tokens:
    (reachable if token in forms[boundary.char_of(token)] else unreachable).append(token)
  # Split characters are words of their own: a longer token can never match them.
  gap_chars = [ch for ch in chars if classes[ch] in (WORD, CHANGED) and any(
      form not in present and form in elsewhere for form in forms[ch])]
  return CharCoverage(reachable=reachable, unreachable=unreachable, gap_chars=gap_chars,
                      classes=classes)


def missing_reachable(coverage: CharCoverage, target_vocab: Iterable[str]) -> List[str]:
  """The reachable character tokens of the full vocab that `target_vocab` lacks."""
  kept = set(target_vocab)
  return [t for t in coverage.reachable if t not in kept]
