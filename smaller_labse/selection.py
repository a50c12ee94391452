"""Which tokens to keep: selection strategies, and the fidelity report.

Strategies (per language, from `counting.TokenCounts`):
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
  A '##' + character token the language uses at all scores at least
  SUFFIX_CHAR_FLOOR (1e-7), so large budgets keep every one of them.
  Each language's file gets the kept tokens whose score in that language
  reaches the cut-off, so the union of the files is exactly the kept set.
"""

import collections
import dataclasses
import json
import os
from typing import Dict, List, Mapping, Sequence, Tuple

import tensorflow as tf

from smaller_labse import atomic
from smaller_labse.config import EncoderConfig
from smaller_labse.counting import TokenCounts
from smaller_labse.errors import InputError
from smaller_labse.hub_format import bert_tokenizer
from smaller_labse.vocab import UNK, build_target_vocab, is_special_token, special_tokens

DEFAULT_THRESHOLD = 0.005  # percent of the lines counted
# With character coverage, every '##' + character token a language uses scores
# at least this (one in ten million). Such a token is the last way to spell any
# word holding that character mid-word: without it the whole word becomes
# [UNK]. The floor only acts once the budget reaches tokens this rare (with the
# original release's counts: at 205,000 tokens, not at 173,347), so small budgets
# still go to frequent tokens.
SUFFIX_CHAR_FLOOR = 1e-7
SUFFIX = "##"


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
  kept: every kept (non-special) token, best score first.
  cutoff: the lowest kept score.
  candidates: tokens that had a positive score.
  """
  per_lang: Dict[str, List[str]]
  kept: List[str]
  cutoff: float
  candidates: int


def _relative_freqs(counts: TokenCounts) -> Tuple[Dict[str, int], float]:
  """The counts the scores use, and what they are divided by."""
  if counts.doc_freqs is not None and counts.num_lines:
    return counts.doc_freqs, float(counts.num_lines)
  return counts.occurrences, float(max(1, sum(counts.occurrences.values())))


def language_scores(counts: TokenCounts, vocab: Mapping[str, int],
                    char_coverage: bool = True) -> Tuple[Dict[str, float], Dict[str, float]]:
  """One language's token scores: relative frequency, raised for character tokens.

  Returns:
    (scores, own): token -> score > 0, and token -> its own relative frequency
    (a tie-break: a word ranks before a character scoring the same through it);
    non-special tokens of `vocab` only.
  """
  freqs, norm = _relative_freqs(counts)
  own: Dict[str, float] = {}
  char_mass: Dict[str, int] = collections.defaultdict(int)
  for token, value in freqs.items():
    if value <= 0 or is_special_token(token) or token not in vocab:
      continue
    own[token] = value / norm
    if char_coverage:
      body, initial = (token[2:], False) if token.startswith(SUFFIX) and len(token) > 2 \
          else (token, True)
      for i, ch in enumerate(body):
        char_mass[ch if initial and i == 0 else SUFFIX + ch] += value
  scores = dict(own)
  for char_token, mass in char_mass.items():
    if char_token in vocab and not is_special_token(char_token):
      scores[char_token] = max(scores.get(char_token, 0.0), mass / norm)
  if char_coverage:
    for token in scores:
      if token.startswith(SUFFIX) and len(token) == len(SUFFIX) + 1:
        scores[token] = max(scores[token], SUFFIX_CHAR_FLOOR)
  return scores, own


def select_budget(counts_by_lang: Mapping[str, TokenCounts], vocab: Sequence[str],
                  vocab_size: int, char_coverage: bool = True) -> BudgetSelection:
  """Spends a final-vocab budget of `vocab_size` tokens across the languages.

  Raises:
    InputError: `vocab_size` leaves no room beside the special tokens.
  """
  specials = special_tokens(vocab)
  budget = vocab_size - len(specials)
  if budget < 1:
    raise InputError(f"--vocab_size={vocab_size} is too small: the vocab has {len(specials)} "
                     "special tokens, which the smaller vocab keeps, plus at least one token")
  index = {t: i for i, t in enumerate(vocab)}
  per_lang_scores = {}
  best: Dict[str, float] = {}
  best_own: Dict[str, float] = {}
  for lang, counts in counts_by_lang.items():
    scores, own = language_scores(counts, index, char_coverage)
    per_lang_scores[lang] = scores
    for token, score in scores.items():
      best[token] = max(best.get(token, 0.0), score)
      best_own[token] = max(best_own.get(token, 0.0), own.get(token, 0.0))
  # Best score first, then the token's own frequency, then vocab id (deterministic).
  ranked = sorted(best, key=lambda t: (-best[t], -best_own[t], index[t]))
  kept = ranked[:budget]
  cutoff = best[kept[-1]] if kept else 0.0
  kept_set = set(kept)
  per_lang = {lang: sorted(t for t, s in scores.items() if s >= cutoff and t in kept_set)
              for lang, scores in per_lang_scores.items()}
  return BudgetSelection(per_lang=per_lang, kept=kept, cutoff=cutoff, candidates=len(ranked))


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


def _count_unk(tokens: tf.RaggedTensor) -> tf.Tensor:
  """int64 [lines]: the [UNK] tokens of each row of string ragged [lines, tokens]."""
  is_unk = tf.ragged.map_flat_values(lambda t: tf.cast(tf.equal(t, UNK), tf.int64), tokens)
  return tf.reduce_sum(is_unk, axis=1)


def compare_tokenizations(full_vocab: Sequence[str], target_vocab: Sequence[str],
                          lines: Sequence[bytes], lower_case: bool = False,
                          batch_size: int = 4096) -> LabelFidelity:
  """Counts the lines whose tokenization the smaller vocab keeps, and those gaining [UNK].

  A line 'gains an [UNK]' when the smaller vocab gives it more [UNK] tokens than
  the full vocab does.
  """
  full = bert_tokenizer(full_vocab, lower_case, token_out_type=tf.string)
  small = bert_tokenizer(target_vocab, lower_case, token_out_type=tf.string)
  identical = gain_unk = 0
  for start in range(0, len(lines), batch_size):
    batch = tf.constant(list(lines[start:start + batch_size]), tf.string)
    a = full.tokenize(batch).merge_dims(1, 2)
    b = small.tokenize(batch).merge_dims(1, 2)
    # Tokens never hold '\n' (one token per vocab line) and are never empty, so
    # joined rows are equal exactly when the token lists are.
    same = tf.equal(tf.strings.reduce_join(a, axis=1, separator="\n"),
                    tf.strings.reduce_join(b, axis=1, separator="\n"))
    unk_a = _count_unk(a)
    unk_b = _count_unk(b)
    identical += int(tf.reduce_sum(tf.cast(same, tf.int64)))
    gain_unk += int(tf.reduce_sum(tf.cast(unk_b > unk_a, tf.int64)))
  return LabelFidelity(lines=len(lines), identical=identical, gain_unk=gain_unk)


def fidelity_report(full_vocab: Sequence[str], target_vocab: Sequence[str],
                    eval_sets: Mapping[str, Sequence[bytes]], config: EncoderConfig,
                    lower_case: bool = False, config_source: str = "") -> Dict[str, object]:
  """The report: sizes, parameters, and per label the lines kept identical / gaining [UNK]."""
  per_label = {label: compare_tokenizations(full_vocab, target_vocab, lines, lower_case)
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


def target_vocab(full_vocab: Sequence[str], selections: Sequence[Sequence[str]]) -> List[str]:
  """The smaller vocab stage 3 builds from these selections."""
  return build_target_vocab(full_vocab, selections)
