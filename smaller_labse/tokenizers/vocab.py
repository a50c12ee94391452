"""Vocabulary files: reading, writing, the target vocab; WordPiece vocab files' conventions.

Token files are split on '\\n' only and never stripped: real LaBSE tokens
begin or end with whitespace ('\\xa0', '##\\u202f', '\\u3000').

A WordPiece vocab file (TF Hub's LaBSE, the original release) names its special tokens in
brackets ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[unused7]'): `read_vocab` and
`special_tokens` are that convention, which TF Hub's tokenizer (tf_hub_wordpiece.py) follows.
Every other tokenizer says which tokens are special itself (`base.Tokenizer.special_rows`).
"""

import os
import re
from typing import Dict, Iterable, List, Sequence

from smaller_labse import atomic, files
from smaller_labse.errors import InputError
# The original release's rule for a smaller vocab, kept under its old name here.
from smaller_labse.tokenizers.base import Role, build_target_vocab  # noqa: F401

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
REQUIRED_SPECIAL_TOKENS = (PAD, UNK, CLS, SEP)
_SPECIAL_TOKEN = re.compile(r"\[[A-Za-z0-9_]+\]")
# Rust's char::is_whitespace (Unicode White_Space): what the tokenizers library trims from
# vocab.txt's lines and splits on.
RUST_WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                   "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def unreachable_token(row: int) -> str:
  """The placeholder of an embedding row no token maps to (never produced: it holds spaces)."""
  return f"[unreachable row {row}]"


# A WordPiece vocab file's special tokens by role (BERT's and LaBSE's names).
ROLE_TOKENS = {Role.PAD: PAD, Role.UNK: UNK, Role.START: CLS, Role.END: SEP, Role.MASK: MASK}


def wordpiece_special_ids(tokens: Sequence[str]) -> Dict[Role, int]:
  """Role -> id of each of ROLE_TOKENS that `tokens` (a WordPiece vocab, in id order) holds."""
  present = set(tokens)
  return {role: tokens.index(t) for role, t in ROLE_TOKENS.items() if t in present}


def is_special_token(token: str) -> bool:
  """True for bracketed tokens such as '[PAD]', '[UNK]', '[unused7]' (a WordPiece vocab file's
  special tokens)."""
  return _SPECIAL_TOKEN.fullmatch(token) is not None


def read_token_file(path: str) -> List[str]:
  """Reads one token per line, splitting on '\\n' only (a final '\\n' ends the last line)."""
  return files.read_lines(path, "token file")


def read_vocab(path: str) -> List[str]:
  """Reads a WordPiece vocab and checks it is one: unique tokens, special tokens present."""
  tokens = read_token_file(path)
  missing = [t for t in REQUIRED_SPECIAL_TOKENS if t not in tokens]
  if missing:
    raise InputError(f"{path}: not a WordPiece vocab (missing {', '.join(missing)})")
  if len(set(tokens)) != len(tokens):
    seen = set()
    duplicate = next(t for t in tokens if t in seen or seen.add(t))
    raise InputError(f"{path}: not a WordPiece vocab (duplicate token {duplicate!r})")
  if "" in tokens:
    raise InputError(f"{path}: not a WordPiece vocab (empty token at line {tokens.index('') + 1})")
  return tokens


def write_token_file(path: str, tokens: Iterable[str]) -> None:
  """Writes one token per line, each ending in '\\n', atomically."""
  atomic.write_text(path, "".join(t + "\n" for t in tokens))


def special_tokens(vocab: Sequence[str]) -> List[str]:
  """Every bracketed special token of the WordPiece vocab `vocab`, in vocab order."""
  return [t for t in vocab if is_special_token(t)]


def vocab_file_name(langs: Sequence[str]) -> str:
  """'vocab-en-fr.txt' for ['en', 'fr'], the name stage 3 writes under models/."""
  return "vocab-" + "-".join(langs) + ".txt"


def selected_tokens_path(selected_dir: str, lang: str) -> str:
  """Where stage 2 writes, and stage 3 reads, one language's selection."""
  return os.path.join(selected_dir, f"selected_{lang}_tokens.txt")
