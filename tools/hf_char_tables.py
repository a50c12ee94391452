#!/usr/bin/env python3
"""Writes smaller_labse/tokenizers/hf_chars.py: what the tokenizers library's BERT pipeline does to each
code point, found by running the library itself on every one of them.

The library's classes come from three Unicode tables of different ages (Rust's
std for whitespace and lowercase, the `unicode_categories` crate for control,
punctuation and nonspacing marks, `unicode-normalization-alignments` for NFD),
so they are probed, not derived from Python's unicodedata. tests/test_hf_preprocessor.py
probes again and compares (`probe()`), so a new tokenizers version that moves a
character fails the tests instead of the TF twin.

  .venv/bin/python tools/hf_char_tables.py   # after upgrading tokenizers
"""

import os
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "smaller_labse", "hf_chars.py")
CHUNK = 4096
# hf_chars.py's tables of code point ranges, and what the library does to their characters.
RANGE_TABLES = (
    ("CLEAN_DROPPED",
     "BertNormalizer(clean_text): deleted (NUL, U+FFFD, control/format/private use)."),
    ("CLEAN_TO_SPACE", "BertNormalizer(clean_text): turned into ' '."),
    ("CJK", "BertNormalizer(handle_chinese_chars): surrounded by ' '."),
    ("NONSPACING_MARKS", "BertNormalizer(strip_accents): deleted after NFD."),
    ("NFD_KEPT", "Left as they are by the library's NFD, decomposed by ICU's (tensorflow_text)."),
    ("WHITESPACE", "BertPreTokenizer: split on and dropped."),
    ("PUNCTUATION", "BertPreTokenizer: a word of its own."),
)


def code_points() -> List[int]:
  """Every code point a Python string (and valid UTF-8) can hold."""
  return [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def _map_chars(function: Callable[[str], str], cps: Sequence[int], separator: str
               ) -> Dict[int, str]:
  """cp -> function(chr(cp)), calling `function` on chunks joined by `separator` (which it
  must keep, and no character's image may hold)."""
  result = {}
  for start in range(0, len(cps), CHUNK):
    chunk = [cp for cp in cps[start:start + CHUNK] if chr(cp) != separator]
    pieces = function(separator.join(chr(cp) for cp in chunk)).split(separator)
    if len(pieces) != len(chunk):
      raise AssertionError(f"separator {separator!r} lost near U+{chunk[0]:04X}")
    result.update(zip(chunk, pieces))
  return result


def _pre_tokenizer_classes(cps: Sequence[int]) -> Tuple[List[int], List[int]]:
  """(whitespace, punctuation) of BertPreTokenizer: dropped, or a word of its own, between 'a's."""
  from tokenizers import pre_tokenizers  # pylint: disable=import-outside-toplevel
  pre = pre_tokenizers.BertPreTokenizer()
  whitespace, punctuation = [], []
  for start in range(0, len(cps), CHUNK):
    chunk = [cp for cp in cps[start:start + CHUNK] if cp != ord("a")]
    covered = {}
    for word, (begin, end) in pre.pre_tokenize_str("a" + "a".join(chr(cp) for cp in chunk) + "a"):
      for position in range(begin, end):
        covered[position] = len(word) == 1 and word != "a"
    for i, cp in enumerate(chunk):
      position = 2 * i + 1
      if position not in covered:
        whitespace.append(cp)
      elif covered[position]:
        punctuation.append(cp)
  return whitespace, punctuation


def probe(cps: Optional[Sequence[int]] = None) -> Dict[str, object]:
  """Each table of hf_chars.py over `cps` (default: all), as sorted code point lists
  (LOWERCASE: {cp: image})."""
  from tokenizers import normalizers  # pylint: disable=import-outside-toplevel
  import tensorflow_text as tf_text  # pylint: disable=import-outside-toplevel
  cps = code_points() if cps is None else list(cps)
  clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                     strip_accents=False, lowercase=False).normalize_str
  cjk = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True,
                                   strip_accents=False, lowercase=False).normalize_str
  cleaned = _map_chars(clean, cps, "a")
  isolated = _map_chars(cjk, cps, "a")
  # BertNormalizer's own test (unicode_categories' Mn), not StripAccents' (is_combining_mark).
  strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                     strip_accents=True, lowercase=False).normalize_str
  lowered = _map_chars(normalizers.Lowercase().normalize_str, cps, "\x00")
  nfd = _map_chars(normalizers.NFD().normalize_str, cps, "\x00")
  # Only what NFD leaves can meet the mark filter: test those characters alone.
  stable = [cp for cp in cps if nfd.get(cp, chr(cp)) == chr(cp)]
  stripped = _map_chars(strip, stable, "a")
  whitespace, punctuation = _pre_tokenizer_classes(cps)
  icu = tf_text.normalize_utf8([chr(cp).encode("utf-8") for cp in cps], "NFD").numpy()
  icu_differs = [cp for cp, out in zip(cps, icu) if out.decode("utf-8") != nfd.get(cp, chr(cp))]
  unfixable = [cp for cp in icu_differs if nfd.get(cp) != chr(cp)]
  if unfixable:
    raise AssertionError(f"the library decomposes what ICU does not: {unfixable[:10]}")
  others = [cp for cp, out in cleaned.items() if out not in ("", " ", chr(cp))]
  if others:
    raise AssertionError(f"clean_text does something else to {others[:10]}")
  return {
      "CLEAN_DROPPED": sorted(cp for cp, out in cleaned.items() if out == ""),
      "CLEAN_TO_SPACE": sorted(cp for cp, out in cleaned.items() if out == " " and cp != 0x20),
      "CJK": sorted(cp for cp, out in isolated.items() if out == f" {chr(cp)} "),
      "NONSPACING_MARKS": sorted(cp for cp, out in stripped.items() if out == ""),
      "WHITESPACE": whitespace,
      "PUNCTUATION": punctuation,
      "NFD_KEPT": icu_differs,
      "LOWERCASE": {cp: out for cp, out in sorted(lowered.items()) if out != chr(cp)},
  }


def ranges(cps: Sequence[int]) -> List[Tuple[int, int]]:
  """Sorted code points as inclusive ranges."""
  out: List[List[int]] = []
  for cp in cps:
    if out and out[-1][1] == cp - 1:
      out[-1][1] = cp
    else:
      out.append([cp, cp])
  return [(a, b) for a, b in out]


def lowercase_runs(mapping: Dict[int, str]) -> Tuple[List[Tuple[int, int, int, int]], Dict]:
  """Single-character images as runs (first, last, step, delta): cp -> cp + delta for cp in
  range(first, last + 1, step); and the multi-character images."""
  single = sorted((cp, ord(out) - cp) for cp, out in mapping.items() if len(out) == 1)
  runs: List[List[int]] = []
  for cp, delta in single:
    if runs:
      first, last, step, run_delta = runs[-1]
      if run_delta == delta and (cp - last == step or (first == last and cp - last in (1, 2))):
        runs[-1][1:3] = [cp, cp - first if first == last else step]
        continue
    runs.append([cp, cp, 1, delta])
  multi = {cp: out for cp, out in mapping.items() if len(out) != 1}
  return [tuple(r) for r in runs], multi


def _format_ranges(name: str, cps: Sequence[int]) -> str:
  items = [f"{a:04X}" if a == b else f"{a:04X}-{b:04X}" for a, b in ranges(cps)]
  lines, line = [], ""
  for item in items:
    if len(line) + len(item) + 1 > 90:
      lines.append(line)
      line = ""
    line += (" " if line else "") + item
  lines.append(line)
  body = "\n".join(f'    "{line} "' for line in lines)
  return f"{name} = (\n{body})\n"


def render(tables: Dict[str, object]) -> str:
  import tokenizers  # pylint: disable=import-outside-toplevel
  runs, multi = lowercase_runs(tables["LOWERCASE"])
  parts = [f'"""What the tokenizers library ({tokenizers.__version__})\'s BERT pipeline does to '
           "each code point.\n\nGenerated by tools/hf_char_tables.py, which runs the library on "
           "every code point;\ntests/test_hf_preprocessor.py checks it against the installed "
           'library. Do not edit.\n\nRanges are hexadecimal code points, inclusive, separated '
           'by spaces.\n"""\n',
           f'TOKENIZERS_VERSION = "{tokenizers.__version__}"\n',
           *(f"# {comment}\n" + _format_ranges(name, tables[name])
             for name, comment in RANGE_TABLES),
           "# BertNormalizer(lowercase), one character to one: (first, last, step, delta): "
           "cp -> cp + delta\n# for cp in range(first, last + 1, step).",
           "LOWERCASE_RUNS = (\n" + "".join(
               f"    (0x{a:04X}, 0x{b:04X}, {s}, {d}),\n" for a, b, s, d in runs) + ")\n",
           "# BertNormalizer(lowercase), one character to several.",
           "LOWERCASE_MULTI = {\n" + "".join(
               f"    0x{cp:04X}: {out!r},\n" for cp, out in sorted(multi.items())) + "}\n"]
  return "\n".join(parts)


def main() -> None:
  sys.path.insert(0, ROOT)
  text = render(probe())
  with open(OUTPUT, "w", encoding="utf-8") as f:
    f.write(text)
  print(f"wrote {OUTPUT}")


if __name__ == "__main__":
  main()
