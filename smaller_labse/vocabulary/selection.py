"""Which tokens to keep: the selection strategies (the fidelity report is fidelity.py).

Strategies (per language, from `token_counts.TokenCounts`):
- doc_frequency (the original method): keep the tokens that occur in at least
  `int(num_lines * threshold / 100)` of the lines counted (threshold in percent,
  0.005 by default; `>=`, the bound truncated to an integer, as the original
  `select_vocab.py` computes it). Needs line frequencies.
- vocab_size (a budget): the final vocab (special tokens + sorted union, as
  stage 3 builds it) gets exactly `vocab_size` tokens. Each token is scored by
  its largest relative frequency over the languages (line frequency / lines
  counted where line frequencies are known, else occurrences / tokens counted),
  so every language gets the tokens it uses most, whatever its corpus size; the
  best-scored tokens are kept. With character coverage, a single-character
  token scores at least the relative frequency of its character in that
  position (plain form: first character of a word; '##' form: any later
  character) summed over every counted token holding it, since it stands in
  for all of them once they are pruned. It therefore always ranks above every
  token it can replace, and a rare character still ranks below frequent words.
  Each language's file gets the kept tokens whose score in that language
  reaches the cut-off, so the union of the files is exactly the kept set.

Guaranteed character tokens (`keep_chars`; "used" by default, with every strategy), kept
before anything else:
- "used": every single-character token the counted text needs to spell each
  counted token one character at a time ('abc' needs 'a', '##b', '##c'): a
  word the counts saw cannot become [UNK] once its own token is pruned, in any
  budget that holds all of them (16,454 tokens with the original release's 16
  languages: 16,250 counted themselves, 204 only inside longer tokens). Each
  goes to the files of the languages that need it. (For a Unigram: both forms of every
  character its counted pieces hold, and '\u2581'.)
- "all": every single-character token of the full vocab that text can reach
  by the tokenizer's own character rules (`charset.analyze`; 21,346 of LaBSE's
  29,741): no word made of characters of the vocab can gain [UNK], in any
  language. Every language's file gets them.
The character forms ('x' / '##x', or '\u2581x' / 'x') and the special tokens are the
model's tokenizer's (`base.Tokenizer`): every function here takes it.
- "none": no guarantee; character tokens rank by their scores only (doc_frequency with "none"
  is the original release's method, exactly).
A budget too small for them keeps the best-scored ones (and says so).
"""

import collections
import dataclasses
from typing import Dict, List, Mapping, Sequence, Set, Tuple

from smaller_labse.errors import InputError
from smaller_labse.tokenizers.base import Tokenizer
from smaller_labse.vocabulary import charset
from smaller_labse.vocabulary.token_counts import TokenCounts

DEFAULT_THRESHOLD = 0.005  # percent of the lines counted
KEEP_CHARS_USED, KEEP_CHARS_ALL, KEEP_CHARS_NONE = "used", "all", "none"
KEEP_CHARS = (KEEP_CHARS_USED, KEEP_CHARS_ALL, KEEP_CHARS_NONE)


def doc_frequency_min_lines(num_lines: int, threshold: float = DEFAULT_THRESHOLD) -> int:
  """The original's bound: `int(num_long_lines * 0.005 / 100)` (truncated, compared with >=)."""
  return int(num_lines * threshold / 100)


def select_doc_frequency(counts: TokenCounts, threshold: float = DEFAULT_THRESHOLD,
                         source: str = "counts") -> List[str]:
  """Tokens whose line frequency is >= doc_frequency_min_lines(...), sorted by code point.

  Special tokens the corpus produced ('[UNK]') are kept as the original did;
  stage 3 puts every special token first anyway.

  Raises:
    InputError: the counts hold no line frequencies (the original release's files).
  """
  if counts.doc_freqs is None or counts.num_lines is None:
    raise InputError(f"{source}: no line frequencies (the original release's counts hold "
                     "occurrences only): --strategy=doc_frequency needs counts made by this "
                     "tool; use --vocab_size=N with these")
  bound = doc_frequency_min_lines(counts.num_lines, threshold)
  return sorted(t for t, lines in counts.doc_freqs.items() if lines >= bound)


@dataclasses.dataclass
class BudgetSelection:
  """The result of select_budget.

  per_lang: lang -> its kept tokens, sorted by code point.
  kept: every kept (non-special) token, guaranteed character tokens first, then best score first.
  cutoff: the lowest kept score among the tokens not guaranteed (inf when none was kept).
  candidates: tokens that had a positive score or were guaranteed.
  guaranteed: the character tokens `keep_chars` guarantees (kept or not: see `guaranteed_kept`).
  guaranteed_kept: how many of them the budget held.
  """
  per_lang: Dict[str, List[str]]
  kept: List[str]
  cutoff: float
  candidates: int
  guaranteed: int = 0
  guaranteed_kept: int = 0


def _relative_freqs(counts: TokenCounts) -> Tuple[Dict[str, int], float]:
  """The counts the scores use, and what they are divided by."""
  if counts.doc_freqs is not None and counts.num_lines:
    return counts.doc_freqs, float(counts.num_lines)
  return counts.occurrences, float(max(1, sum(counts.occurrences.values())))


def language_scores(counts: TokenCounts, vocab: Mapping[str, int], char_coverage: bool = True,
                    *, tokenizer: Tokenizer) -> Tuple[Dict[str, float], Dict[str, float]]:
  """One language's token scores: relative frequency, raised for character tokens.

  Returns:
    (scores, own): token -> score > 0, and token -> its own relative frequency
    (a tie-break: a word ranks before a character scoring the same through it);
    non-special tokens of `vocab` only.
  """
  freqs, norm = _relative_freqs(counts)
  specials = set(tokenizer.specials())
  boundary = tokenizer.word_boundary()
  own: Dict[str, float] = {}
  char_mass: Dict[str, int] = collections.defaultdict(int)
  for token, value in freqs.items():
    if value <= 0 or token in specials or token not in vocab:
      continue
    own[token] = value / norm
    if char_coverage:
      for char_token in boundary.spell(token):
        char_mass[char_token] += value
  scores = dict(own)
  for char_token, mass in char_mass.items():
    if char_token in vocab and char_token not in specials:
      scores[char_token] = max(scores.get(char_token, 0.0), mass / norm)
  return scores, own


def used_char_tokens(counts: TokenCounts, vocab: Mapping[str, int], tokenizer: Tokenizer
                     ) -> Set[str]:
  """The single-character tokens of `vocab` that spell the counted tokens one character at a time.

  'abc' counted needs 'a', '##b', '##c' (where `vocab` has them; the tokenizer's
  `word_boundary().spell`); a counted single-character token needs itself.

  A tokenizer whose pieces mark a word's start ('\u2581', SentencePiece's Unigram) needs both
  forms of every character the counted pieces hold ('\u2581x' and 'x', `char_forms`) and the
  marker itself: its lattice then holds a single-character path through any word made of
  these characters, wherever they stand, so no line made of them gains an <unk>.
  """
  specials = set(tokenizer.specials())
  boundary = tokenizer.word_boundary()
  counted = [token for token, value in counts.occurrences.items()
             if value > 0 and token not in specials and token in vocab]
  needed: Set[str] = set()
  marker = boundary.word_start_marker
  if marker:
    chars = set().union(*(t.replace(marker, "") for t in counted)) if counted else set()
    needed.update(f for forms in tokenizer.char_forms(chars).values() for f in forms
                  if f in vocab)
    if marker in vocab and counted:
      needed.add(marker)
    return needed
  for token in counted:
    needed.update(t for t in boundary.spell(token) if t in vocab)
  return needed


def guaranteed_tokens(keep_chars: str, counts_by_lang: Mapping[str, TokenCounts],
                      vocab: Sequence[str], tokenizer: Tokenizer
                      ) -> Tuple[Set[str], Dict[str, Set[str]]]:
  """The character tokens `keep_chars` guarantees: (all of them, lang -> those its file gets)."""
  if keep_chars not in KEEP_CHARS:
    raise InputError(f"--keep_chars={keep_chars!r}: expected one of {', '.join(KEEP_CHARS)}")
  if keep_chars == KEEP_CHARS_NONE:
    return set(), {lang: set() for lang in counts_by_lang}
  if keep_chars == KEEP_CHARS_ALL:
    reachable = set(charset.analyze(tokenizer, vocab).reachable)
    return reachable, {lang: reachable for lang in counts_by_lang}
  index = {t: i for i, t in enumerate(vocab)}
  per_lang = {lang: used_char_tokens(counts, index, tokenizer)
              for lang, counts in counts_by_lang.items()}
  return set().union(*per_lang.values()), per_lang


def select_budget(counts_by_lang: Mapping[str, TokenCounts], vocab: Sequence[str],
                  vocab_size: int, char_coverage: bool = True,
                  keep_chars: str = KEEP_CHARS_USED, *, tokenizer: Tokenizer) -> BudgetSelection:
  """Spends a final-vocab budget of `vocab_size` tokens across the languages.

  The character tokens `keep_chars` guarantees come first (best-scored first
  when the budget cannot hold them all), then every other token by score.

  Raises:
    InputError: `vocab_size` leaves no room beside the special tokens.
  """
  specials = tokenizer.special_rows()
  budget = vocab_size - len(specials)
  if budget < 1:
    raise InputError(f"--vocab_size={vocab_size} is too small: the vocab has {len(specials)} "
                     "special tokens, which the smaller vocab keeps, plus at least one token")
  index = {t: i for i, t in enumerate(vocab)}
  guaranteed, guaranteed_per_lang = guaranteed_tokens(keep_chars, counts_by_lang, vocab,
                                                      tokenizer)
  per_lang_scores = {}
  best: Dict[str, float] = {t: 0.0 for t in guaranteed}
  best_own: Dict[str, float] = {}
  for lang, counts in counts_by_lang.items():
    scores, own = language_scores(counts, index, char_coverage, tokenizer=tokenizer)
    per_lang_scores[lang] = scores
    for token, score in scores.items():
      best[token] = max(best.get(token, 0.0), score)
      best_own[token] = max(best_own.get(token, 0.0), own.get(token, 0.0))
  # Guaranteed first, then best score, then the token's own frequency, then vocab id.
  ranked = sorted(best, key=lambda t: (t not in guaranteed, -best[t], -best_own.get(t, 0.0),
                                       index[t]))
  kept = ranked[:budget]
  free = [t for t in kept if t not in guaranteed]
  cutoff = best[free[-1]] if free else float("inf")
  kept_set = set(kept)
  per_lang = {}
  for lang, scores in per_lang_scores.items():
    mine = {t for t, s in scores.items() if s >= cutoff and t not in guaranteed}
    mine.update(guaranteed_per_lang[lang])
    per_lang[lang] = sorted(mine & kept_set)
  return BudgetSelection(per_lang=per_lang, kept=kept, cutoff=cutoff, candidates=len(ranked),
                         guaranteed=len(guaranteed), guaranteed_kept=len(kept) - len(free))


def add_guaranteed(selections: Mapping[str, List[str]], keep_chars: str,
                   counts_by_lang: Mapping[str, TokenCounts], vocab: Sequence[str],
                   *, tokenizer: Tokenizer) -> Tuple[Dict[str, List[str]], int]:
  """doc_frequency + keep_chars: each language's selection plus its guaranteed character tokens.

  Returns:
    (lang -> sorted tokens, the number of guaranteed tokens).
  """
  guaranteed, per_lang = guaranteed_tokens(keep_chars, counts_by_lang, vocab, tokenizer)
  return ({lang: sorted(set(tokens) | per_lang[lang]) for lang, tokens in selections.items()},
          len(guaranteed))


def target_vocab(full_vocab: Sequence[str], selections: Sequence[Sequence[str]],
                 tokenizer: Tokenizer) -> List[str]:
  """The smaller vocab stage 3 builds from these selections (`Tokenizer.smaller_vocab`: the
  special tokens first, then the sorted union; a Unigram's pieces in their order)."""
  return tokenizer.smaller_vocab(full_vocab, selections)
