"""Which tokens to keep: selection strategies, and the fidelity report.

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

Guaranteed character tokens (`keep_chars`), kept before anything else:
- "used": every single-character token the counted text needs to spell each
  counted token one character at a time ('abc' needs 'a', '##b', '##c'): a
  word the counts saw cannot become [UNK] once its own token is pruned, in any
  budget that holds all of them (16,454 tokens with the original release's 16
  languages: 16,250 counted themselves, 204 only inside longer tokens). Each
  goes to the files of the languages that need it.
- "all": every single-character token of the full vocab that text can reach
  by the tokenizer's own character rules (`charset.analyze`; 21,346 of LaBSE's
  29,741): no word made of characters of the vocab can gain [UNK], in any
  language. Every language's file gets them.
The character forms ('x' / '##x', or '\u2581x' / 'x') and the special tokens are the
model's tokenizer's (`base.Tokenizer`): every function here takes it.
- "none": no guarantee; character tokens rank by their scores only.
A budget too small for them keeps the best-scored ones (and says so).
"""

import collections
import dataclasses
import json
import os
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from smaller_labse import atomic
from smaller_labse.tokenizers import base
from smaller_labse.tokenizers.base import Role, Tokenizer
from smaller_labse.vocabulary import charset
from smaller_labse.model.config import EncoderConfig
from smaller_labse.vocabulary.token_counts import TokenCounts
from smaller_labse.errors import InputError
from smaller_labse.tokenizers.vocab import build_target_vocab

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
  specials = set(tokenizer.special_tokens())
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
  """
  specials = set(tokenizer.special_tokens())
  boundary = tokenizer.word_boundary()
  needed: Set[str] = set()
  for token, value in counts.occurrences.items():
    if value > 0 and token not in specials and token in vocab:
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


# ---------------------------------------------------------------------------
# Fidelity report.

@dataclasses.dataclass
class LabelFidelity:
  """Fidelity on one label's lines."""
  lines: int
  identical: int
  gain_unk: int

  @property
  def identical_pct(self) -> float:
    return 100.0 * self.identical / self.lines if self.lines else 100.0


def compare_tokenizations(full, small, lines: Sequence[bytes],
                          batch_size: int = 4096) -> LabelFidelity:
  """Counts the lines whose tokenization the smaller vocab keeps, and those gaining [UNK].

  Args:
    full, small: the model's tokenizer over the full vocab, and `full.pruned(rows)`.
    lines: UTF-8 lines (invalid bytes reach a Hugging Face tokenizer as U+FFFD).

  A line 'gains an [UNK]' when the smaller vocab gives it more unknown tokens (Role.UNK)
  than the full vocab does.
  """
  unk = full.row_tokens()[full.special_ids()[Role.UNK]]
  identical = gain_unk = 0
  for start in range(0, len(lines), batch_size):
    batch = list(lines[start:start + batch_size])
    for a, b in zip(full.tokenize(batch), small.tokenize(batch)):
      identical += a == b
      gain_unk += b.count(unk) > a.count(unk)
  return LabelFidelity(lines=len(lines), identical=identical, gain_unk=gain_unk)


def char_guarantee(full_vocab: Sequence[str], target_vocab: Sequence[str],
                   used: Optional[Set[str]] = None, *, tokenizer: Tokenizer
                   ) -> Dict[str, object]:
  """Which character guarantee `target_vocab` gives, with the figures behind it.

  Args:
    used: the character tokens the counted text uses (`used_char_tokens`), when known.
    tokenizer: the model's, over `full_vocab`: its own character rules decide what text can
      reach.

  Returns:
    {'keep_chars': 'all' | 'used' | 'none', 'statement': one sentence, and counts}.
  """
  coverage = charset.analyze(tokenizer, full_vocab)
  missing = charset.missing_reachable(coverage, target_vocab)
  kept = set(target_vocab)
  result: Dict[str, object] = {
      "char_tokens_full": coverage.num_char_tokens,
      "char_tokens_reachable": len(coverage.reachable),
      "char_tokens_reachable_kept": len(coverage.reachable) - len(missing),
      "gap_chars": len(coverage.gap_chars),
  }
  gap = (f", except words holding one of the {len(coverage.gap_chars):,} characters the full "
         "vocab spells only inside longer tokens" if coverage.gap_chars else "")
  used_missing = None if used is None else sorted(used - kept)
  if used is not None:
    result["char_tokens_used"] = len(used)
    result["char_tokens_used_kept"] = len(used) - len(used_missing)
  if not missing:
    result["keep_chars"] = KEEP_CHARS_ALL
    result["statement"] = (f"every character token text can reach is kept "
                           f"({len(coverage.reachable):,}): no word made of characters of the "
                           f"vocab can gain [UNK]{gap}")
  elif used_missing == []:
    result["keep_chars"] = KEEP_CHARS_USED
    result["statement"] = (f"every character token the counted text uses is kept "
                           f"({len(used):,}; {len(missing):,} other reachable ones are not): a "
                           "word whose characters the counted text used in the same positions "
                           f"(first in a word, or later) cannot gain [UNK]{gap}; other words can")
  else:
    result["keep_chars"] = KEEP_CHARS_NONE
    of_used = (f", {len(used_missing):,} of them used by the counted text"
               if used_missing else "")
    result["statement"] = (f"no character guarantee: {len(missing):,} of the "
                           f"{len(coverage.reachable):,} character tokens text can reach are "
                           f"missing{of_used}; words holding those characters can gain [UNK]")
  return result


def fidelity_report(full_vocab: Sequence[str], target_vocab: Sequence[str],
                    eval_sets: Mapping[str, Sequence[bytes]], config: EncoderConfig,
                    config_source: str = "", used: Optional[Set[str]] = None, *,
                    tokenizer: Tokenizer) -> Dict[str, object]:
  """The report: sizes, parameters, the character guarantee, and per label the lines kept
  identical / gaining [UNK]. `used`: see `char_guarantee`. `tokenizer`: the model's, over
  `full_vocab`."""
  full = tokenizer
  small = full.pruned(base.rows_of(target_vocab, full_vocab))
  per_label = {label: compare_tokenizations(full, small, lines)
               for label, lines in sorted(eval_sets.items())}
  total = LabelFidelity(lines=sum(f.lines for f in per_label.values()),
                        identical=sum(f.identical for f in per_label.values()),
                        gain_unk=sum(f.gain_unk for f in per_label.values()))

  def row(f: LabelFidelity) -> Dict[str, object]:
    return {"lines": f.lines, "identical": f.identical,
            "identical_pct": round(f.identical_pct, 2), "gain_unk": f.gain_unk}

  return {
      "full": {"vocab_size": len(full_vocab),
               "parameters": config.with_vocab_size(len(full_vocab)).parameter_counts()},
      "smaller": {"vocab_size": len(target_vocab),
                  "parameters": config.with_vocab_size(len(target_vocab)).parameter_counts()},
      "config": config_source,
      "guarantee": char_guarantee(full_vocab, target_vocab, used, tokenizer=tokenizer),
      "per_label": {label: row(f) for label, f in per_label.items()},
      "total": row(total),
  }


def _millions(n: int) -> str:
  return f"{n / 1e6:.1f}M"


def report_markdown(report: Mapping[str, object]) -> str:
  """The report as Markdown tables."""
  lines = ["| Model | #param(transformer) | #param(word embedding) | #param(model) | vocab size |",
           "| --- | ---: | ---: | ---: | ---: |"]
  for name in ("full", "smaller"):
    p = report[name]["parameters"]
    lines.append(f"| {name} | {_millions(p['transformer'])} | {_millions(p['word_embedding'])} | "
                 f"{_millions(p['model'])} | {report[name]['vocab_size']:,} |")
  lines += ["", "| eval | lines | identical tokenization | lines gaining [UNK] |",
            "| --- | ---: | ---: | ---: |"]
  rows = list(report["per_label"].items()) + [("**all**", report["total"])]
  for label, r in rows:
    lines.append(f"| {label} | {r['lines']:,} | {r['identical_pct']:.2f}% | {r['gain_unk']:,} |")
  if report.get("guarantee"):
    lines += ["", f"Character guarantee (`{report['guarantee']['keep_chars']}`): "
              f"{report['guarantee']['statement']}."]
  if report.get("config"):
    lines += ["", f"Parameters for the encoder shape of {report['config']}."]
  return "\n".join(lines) + "\n"


def write_report(report_dir: str, report: Mapping[str, object]) -> Tuple[str, str]:
  """Writes report.json and report.md atomically; returns their paths."""
  json_path = os.path.join(report_dir, "report.json")
  md_path = os.path.join(report_dir, "report.md")
  atomic.write_text(json_path, json.dumps(report, indent=2, sort_keys=True) + "\n")
  atomic.write_text(md_path, report_markdown(report))
  return json_path, md_path


def target_vocab(full_vocab: Sequence[str], selections: Sequence[Sequence[str]],
                 tokenizer: Tokenizer) -> List[str]:
  """The smaller vocab stage 3 builds from these selections (the tokenizer's special tokens
  first)."""
  return build_target_vocab(full_vocab, selections, tokenizer.special_tokens())
