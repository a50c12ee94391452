"""Stage 2's fidelity report: what the smaller vocab keeps of the full one.

Per label (an --eval_files set), the lines whose tokenization the smaller vocab leaves identical
and those that gain an [UNK], with the model's own tokenizer over both vocabs; the character
guarantee the smaller vocab gives (`char_guarantee`, see selection.py's `keep_chars`); the
parameters before and after. Written as report.json and report.md.
"""

import dataclasses
import json
import os
from typing import Dict, Mapping, Optional, Sequence, Set, Tuple

from smaller_labse import atomic
from smaller_labse.model.config import EncoderConfig, parameter_table
from smaller_labse.tokenizers import base
from smaller_labse.tokenizers.base import Role, Tokenizer
from smaller_labse.vocabulary import charset
from smaller_labse.vocabulary.selection import KEEP_CHARS_ALL, KEEP_CHARS_NONE, KEEP_CHARS_USED


@dataclasses.dataclass
class LabelFidelity:
  """Fidelity on one label's lines. kept: lines whose every token the smaller vocab keeps;
  moved: those of them that the pruned tokenizer segments differently (none: pruning keeps
  what the full vocab chose wherever it can)."""
  lines: int
  identical: int
  gain_unk: int
  kept: int = 0
  moved: int = 0

  @property
  def identical_pct(self) -> float:
    return 100.0 * self.identical / self.lines if self.lines else 100.0


def compare_tokenizations(full, small, lines: Sequence[bytes],
                          batch_size: int = 4096, kept_rows: Optional[Set[int]] = None
                          ) -> LabelFidelity:
  """Counts the lines whose tokenization the smaller vocab keeps, and those gaining [UNK].

  Args:
    full, small: the model's tokenizer over the full vocab, and `full.pruned(rows)`.
    lines: UTF-8 lines (invalid bytes reach a Hugging Face tokenizer as U+FFFD).
    kept_rows: the full vocab's rows the smaller one keeps (`rows`): with them, the lines
      whose every token is kept, and how many of those the pruned tokenizer moves.

  A line 'gains an [UNK]' when the smaller vocab gives it more unknown tokens (Role.UNK)
  than the full vocab does. Every line is re-encoded by `small` itself.
  """
  tokens = full.row_tokens()
  unk = tokens[full.special_ids()[Role.UNK]]
  identical = gain_unk = kept = moved = 0
  for start in range(0, len(lines), batch_size):
    batch = list(lines[start:start + batch_size])
    for ids, b in zip(full.encode(batch), small.tokenize(batch)):
      a = [tokens[i] for i in ids]
      identical += a == b
      gain_unk += b.count(unk) > a.count(unk)
      if kept_rows is not None and all(i in kept_rows for i in ids):
        kept += 1
        moved += a != b
  return LabelFidelity(lines=len(lines), identical=identical, gain_unk=gain_unk, kept=kept,
                       moved=moved)


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
  elif used_missing == [] and tokenizer.word_boundary().word_start_marker:
    result["keep_chars"] = KEEP_CHARS_USED
    result["statement"] = (f"every single-character piece of the characters the counted text "
                           f"uses is kept, in both forms, with the word-start marker "
                           f"({len(used):,}; {len(missing):,} other reachable ones are not): a "
                           f"line made of those characters cannot gain an unknown token{gap}; "
                           "other lines can")
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
  rows = base.rows_of(target_vocab, full_vocab)
  small = full.pruned(rows)
  kept_rows = set(rows.tolist())
  per_label = {label: compare_tokenizations(full, small, lines, kept_rows=kept_rows)
               for label, lines in sorted(eval_sets.items())}
  total = LabelFidelity(*(sum(getattr(f, name) for f in per_label.values())
                          for name in ("lines", "identical", "gain_unk", "kept", "moved")))

  def row(f: LabelFidelity) -> Dict[str, object]:
    return {"lines": f.lines, "identical": f.identical,
            "identical_pct": round(f.identical_pct, 2), "gain_unk": f.gain_unk,
            "kept_lines": f.kept, "kept_lines_moved": f.moved}

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


def report_markdown(report: Mapping[str, object]) -> str:
  """The report as Markdown tables."""
  lines = parameter_table([(name, report[name]["parameters"], report[name]["vocab_size"])
                           for name in ("full", "smaller")], short=True)
  lines += ["", "| eval | lines | identical tokenization | lines gaining [UNK] |",
            "| --- | ---: | ---: | ---: |"]
  rows = list(report["per_label"].items()) + [("**all**", report["total"])]
  for label, r in rows:
    lines.append(f"| {label} | {r['lines']:,} | {r['identical_pct']:.2f}% | {r['gain_unk']:,} |")
  total = report["total"]
  if "kept_lines_moved" in total:
    moved = total["kept_lines_moved"]
    lines += ["", f"Re-encoded with the pruned tokenizer: of the {total['kept_lines']:,} lines "
              "whose every token the smaller vocab keeps, "
              + ("none is segmented differently." if not moved else
                 f"{moved:,} are segmented differently.")]
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
