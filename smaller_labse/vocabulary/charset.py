"""Character tokens of a WordPiece vocab: which ones text can reach, and what keeping them proves.

Greedy WordPiece (longest match first) fails on a word, giving `[UNK]`, only
when at some position no vocab token matches. A word whose first character `x`
has the token `x` and whose every later character `y` has `##y` therefore
never fails, whatever else the vocab holds: a smaller vocab that keeps those
single-character tokens turns no such word into `[UNK]`.

Which single-character tokens text can reach is decided by the basic
tokenizer that runs before WordPiece (`tensorflow_text.BertTokenizer`, what
LaBSE's preprocessor runs). Per character it does one of:
- "word": the character stays inside words (letters, marks, digits, and the
  non-ASCII spaces such as U+00A0, U+202F, U+3000, which RE2's `\\s` does not
  match): a word can start with it (needs `x`) or hold it later (`##x`);
- "split": punctuation and CJK ideographs become words of their own: only
  `x` is ever looked up, `##x` is unreachable;
- "dropped": ASCII whitespace, control and format characters (Cc, Cf) are
  separators: neither token is reachable;
- "changed" (only with `lower_case`): case folding / accent stripping turns the
  character into others; its tokens are kept (not proven unreachable).
The class is found by running the tokenizer itself on 'a' + x + 'a', so it
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
from typing import Dict, Iterable, List, Sequence, Set

from smaller_labse.tokenizers.vocab import is_special_token

SUFFIX = "##"
WORD, SPLIT, DROPPED, CHANGED = "word", "split", "dropped", "changed"


def char_token_body(token: str) -> str:
  """The character of a single-character token ('x' or '##x'), else ''."""
  if is_special_token(token):
    return ""
  if token.startswith(SUFFIX) and len(token) == len(SUFFIX) + 1:
    return token[-1]
  return token if len(token) == 1 else ""


def is_char_token(token: str) -> bool:
  """True for 'x' and '##x' (one code point after the optional '##')."""
  return bool(char_token_body(token))


def char_tokens(vocab: Iterable[str]) -> List[str]:
  """The single-character tokens of `vocab`, in vocab order."""
  return [t for t in vocab if is_char_token(t)]


def token_chars(token: str) -> List[str]:
  """The character tokens that spell `token` one character at a time.

  'abc' -> ['a', '##b', '##c']; '##bc' -> ['##b', '##c']; '##' -> ['#', '###'].
  """
  if token.startswith(SUFFIX) and len(token) > len(SUFFIX):
    return [SUFFIX + ch for ch in token[len(SUFFIX):]]
  return [ch if i == 0 else SUFFIX + ch for i, ch in enumerate(token)]


def classify_chars(chars: Sequence[str], lower_case: bool = False) -> Dict[str, str]:
  """Each character's fate in BertTokenizer's basic tokenizer: WORD, SPLIT, DROPPED or CHANGED."""
  if not chars:
    return {}
  import tensorflow as tf  # pylint: disable=import-outside-toplevel  (imported when used)
  from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer  # pylint: disable=import-outside-toplevel
  basic = BasicTokenizer(lower_case=lower_case)
  words = basic.tokenize(tf.constant([("a" + ch + "a").encode("utf-8") for ch in chars]))
  result = {}
  for ch, row in zip(chars, words.to_list()):
    got = [w.decode("utf-8") for w in row]
    if got == ["a" + ch + "a"]:
      result[ch] = WORD
    elif got == ["a", ch, "a"]:
      result[ch] = SPLIT
    elif got == ["a", "a"]:
      result[ch] = DROPPED
    else:
      result[ch] = CHANGED
  return result


@dataclasses.dataclass
class CharCoverage:
  """What a full vocab's single-character tokens can guarantee.

  reachable: the single-character tokens text can make WordPiece look up (vocab order).
  unreachable: the others ('##x' of split characters, both forms of dropped ones).
  gap_chars: word characters missing `x` or `##x` that longer tokens can still spell there.
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


def _spellable_elsewhere(vocab: Iterable[str]) -> Set[str]:
  """Character tokens ('x' / '##x') that some longer token spells in that position."""
  found: Set[str] = set()
  for token in vocab:
    if not is_special_token(token) and not is_char_token(token):
      found.update(token_chars(token))
  return found


def analyze(vocab: Sequence[str], lower_case: bool = False) -> CharCoverage:
  """Sorts `vocab`'s single-character tokens into reachable and unreachable, and finds gaps."""
  tokens = char_tokens(vocab)
  present = set(tokens)
  elsewhere = _spellable_elsewhere(vocab)
  # Characters of single-character tokens, and those only longer tokens hold.
  chars = sorted({char_token_body(t) for t in tokens} | {form[-1] for form in elsewhere})
  classes = classify_chars(chars, lower_case)
  reachable, unreachable = [], []
  for token in tokens:
    cls = classes[char_token_body(token)]
    if cls == DROPPED or (cls == SPLIT and token.startswith(SUFFIX)):
      unreachable.append(token)
    else:
      reachable.append(token)
  # Split characters are words of their own: a longer token can never match them.
  gap_chars = [ch for ch in chars if classes[ch] in (WORD, CHANGED) and any(
      form not in present and form in elsewhere for form in (ch, SUFFIX + ch))]
  return CharCoverage(reachable=reachable, unreachable=unreachable, gap_chars=gap_chars,
                      classes=classes)


def missing_reachable(coverage: CharCoverage, target_vocab: Iterable[str]) -> List[str]:
  """The reachable character tokens of the full vocab that `target_vocab` lacks."""
  kept = set(target_vocab)
  return [t for t in coverage.reachable if t not in kept]
