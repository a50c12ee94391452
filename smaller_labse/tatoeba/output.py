"""The results as the README's Markdown tables and as the --output JSON."""

import json
import os
from typing import Mapping, Sequence

from smaller_labse import atomic, languages
from smaller_labse.errors import InputError
from smaller_labse.tatoeba.evaluation import DIRECTIONS, IDENTICAL_ATOL, Result


def _fmt(value: float) -> str:
  return f"{value:.2f}"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
  """A Markdown table, columns padded like the README's (first left, others right)."""
  widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
  def line(cells: Sequence[str]) -> str:
    padded = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
    return "| " + " | ".join(padded) + " |"
  rule = "| " + " | ".join(["-" * widths[0]] + ["-" * (w - 1) + ":" for w in widths[1:]]) + " |"
  return "\n".join([line(header), rule, *[line(r) for r in rows]]) + "\n"


def results_table(results: Sequence[Result]) -> str:
  """The README's table: rows '{name}(en→xx)' / '{name}(xx→en)', a column per language, avg."""
  langs = list(dict.fromkeys(r.lang for r in results))
  header = ["Model"] + [languages.short_code(lang) for lang in langs] + ["avg"]
  rows = []
  for model in dict.fromkeys(r.model for r in results):
    for direction in DIRECTIONS:
      cells = {r.lang: r.accuracy for r in results if r.model == model and r.direction == direction}
      values = [cells[lang] for lang in langs]
      rows.append([f"{model}({direction})"] + [_fmt(v) for v in values]
                  + [_fmt(sum(values) / len(values))])
  return _markdown_table(header, rows)


def identical_table(identical: Mapping[str, Mapping[str, float]], model: str,
                    baseline: str) -> str:
  """One row: % of sentences with identical embeddings per language, and overall."""
  langs = list(identical)
  same = sum(identical[lang]["identical"] for lang in langs)
  total = sum(identical[lang]["sentences"] for lang in langs)
  header = ["Identical embeddings (%)"] + [languages.short_code(lang) for lang in langs] + ["all"]
  row = [f"{model} vs {baseline}"] + [_fmt(identical[lang]["percent"]) for lang in langs]
  return _markdown_table(header, [row + [_fmt(100.0 * same / total)]])


def to_json(results: Sequence[Result], identical: Mapping[str, Mapping[str, float]]) -> str:
  """The --output file: byte-identical for identical inputs (fixed key order and rounding)."""
  payload = {
      "results": [{"model": r.model, "lang": r.lang, "direction": r.direction,
                   "accuracy": round(r.accuracy, 4), "n": r.n} for r in results],
      "identical_embeddings": {lang: dict(v) for lang, v in identical.items()},
  }
  return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def markdown_report(results: Sequence[Result], identical: Mapping[str, Mapping[str, float]],
                    scoring: str, names: Sequence[str]) -> str:
  """The Markdown written beside the JSON: the results table and the identical-embeddings one."""
  text = (f"### Tatoeba\n\n{results_table(results)}\n"
          f"- *Accuracy(%) of {scoring} nearest-neighbour retrieval on the Tatoeba test sets.*\n")
  if identical:
    text += (f"\n{identical_table(identical, names[1], names[0])}\n"
             f"- *Sentences (both sides) whose embeddings agree within {IDENTICAL_ATOL:g}.*\n")
  return text


def write_outputs(path: str, results: Sequence[Result],
                  identical: Mapping[str, Mapping[str, float]], scoring: str,
                  names: Sequence[str]) -> str:
  """Writes PATH.json and PATH.md atomically; returns the Markdown path."""
  stem, ext = os.path.splitext(path)
  if ext != ".json":
    raise InputError(f"--output={path}: expected a path ending in .json")
  markdown_path = stem + ".md"
  atomic.write_text(path, to_json(results, identical))
  atomic.write_text(markdown_path, markdown_report(results, identical, scoring, names))
  return markdown_path
