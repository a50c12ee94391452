"""Small vocabularies and corpora for the stage 2 tests (built here, no download)."""

import os
import random
from typing import List, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
SHARED_VOCAB = os.path.join(SHARED, "data", "labse", "cased_vocab.txt")
SHARED_TATOEBA = os.path.join(SHARED, "data", "tatoeba_dev")

SPECIALS = ["[PAD]", "[unused1]", "[unused2]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "weather", "is", "nice", "today", "where", "station", "il", "fait", "beau",
         "est", "la", "gare", "où", "quoi", "сегодня", "погода", "天", "気", "ภาษา", "ไทย",
         "été", "école", "élan", "##s", "##ing", "##ion", "##ai", "##а", "é", "##é", "e\u0301", "##\u0301"]
# Real LaBSE tokens that begin or end with whitespace.
WHITESPACE_TOKENS = ["\xa0", "##\xa0", "##\u202f", "\u202f", "\u3000"]
# Characters on which FastBertTokenizer and BertTokenizer are known to, or might, disagree.
HARD_CHARS = ("\xa0", "\u202f", "\u3000", "\u2009", "\u1680", "\u2028", "\x01", "\x7f", "\t",
              "\r", "\u200b", "\u00ad", "\ufeff", "\u0301", "\u0308", "\ue000", "\ufffd",
              "“", "–", "?", "!", ".", "天", "気", "ภ", "า", "ษ", "\U0001F600", "\u1b4e")


def tiny_vocab() -> List[str]:
  """specials + every character of WORDS and HARD_CHARS (plain and '##') + WORDS + whitespace."""
  chars = sorted(set("".join(WORDS).replace("#", "")) | set("abcdefghijklmnopqrstuvwxyz.,!?'“–"))
  tokens = SPECIALS + chars + ["##" + c for c in chars] + WORDS + WHITESPACE_TOKENS
  return list(dict.fromkeys(tokens))


def write_lines(path: str, lines: Sequence[str]) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8", newline="") as f:
    f.write("".join(line + "\n" for line in lines))
  return path


def write_vocab(path: str, vocab: Sequence[str]) -> str:
  return write_lines(path, vocab)


def hard_lines(seed: int = 0, n: int = 300) -> List[bytes]:
  """Lines full of the cases where the fast tokenizer might differ (as UTF-8 bytes, some invalid)."""
  fixed = ["“Quoi\xa0?”\xa0– «\u202fOui\u202f»", "il fait beau\u202f!", "天気\u3000天気",
           "a\x01b\x7fc\u200bd\u00ade", "e\u0301te\u0301 e\u0308", "ภาษาไทย ภาษา ไทย",
           "x" * 120, "é" * 60, "where" * 21, "", "      ", "the\tweather\r", "\ue000 \ufffd",
           "\U0001F600 the \u1b4e", "1\xa0000\xa0000", "\u1680the\u2028is\u2009nice"]
  lines = [s.encode("utf-8") for s in fixed]
  lines += [b"caf\xc3\xa9\xff the", b"\xed\xa0\x80 nice", b"\xc3 today is", b"ok \xf4\x90\x80\x80"]
  rng = random.Random(seed)
  alphabet = list(HARD_CHARS) + list("abcdeilostw ") * 3 + ["the ", "weather ", "où ", "##"]
  for _ in range(n):
    lines.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))).encode("utf-8"))
  return lines


def compare_vocabs(full: Sequence[str], small: Sequence[str], lines: Sequence[bytes]):
  """fidelity.compare_tokenizations with LaBSE/2's tokenizer (BertTokenizer) on both vocabs."""
  from smaller_labse.tokenizers import tf_hub_wordpiece  # pylint: disable=import-outside-toplevel
  from smaller_labse.vocabulary import fidelity  # pylint: disable=import-outside-toplevel
  return fidelity.compare_tokenizations(tf_hub_wordpiece.TfHubTokenizer(full),
                                         tf_hub_wordpiece.TfHubTokenizer(small), lines)
