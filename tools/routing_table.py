"""Makes and proves counting's routing table (smaller_labse/vocabulary/routing_table.py).

`tf_counting.Counter` tokenizes a line with FastBertTokenizer unless the line holds a code point
of the routing table; those lines go to BertTokenizer, what LaBSE's preprocessor runs. The
table is the union, over the Unicode tables of every `--unicode_tables` source (Python 3.10 to
3.13: Unicode 13.0, 14.0, 15.0, 15.1), of the code points of category Zs (but ' '), Zl, Zp,
Cc, Cf, Cn, Co, Cs, plus ALWAYS_ROUTED.
Which characters the two tokenizers treat differently is a property of TensorFlow Text, so
the table is committed, and counting does not depend on the running Python's tables.

The proof: for every code point the table does not route (`--code_points` narrows the set),
each of the 100 lines `left + code point + right`, with left and right each one of
NEIGHBOURS (nothing, a space, punctuation, CJK, letters, a combining mark), is tokenized by
both tokenizers with `--vocab_file`, and the ids must be equal. The tokenizers can only
disagree on how a character is classified (cased vocab: neither normalizes), and the
neighbours put each code point beside every class. `--include_routed` also checks the
routed code points and lists the ones on which the tokenizers do disagree.

  # Check the committed table (about 2 minutes on 2 cores with LaBSE's vocab):
  python tools/routing_table.py --vocab_file=../shared/data/labse/cased_vocab.txt
  # Make the table from Python 3.10 to 3.13's tables (interpreters, or directories holding
  # `pip install --target DIR unicodedata2==15.1.0`), prove it, write it:
  python tools/routing_table.py --write --unicode_tables=python3.10,python3.11,python3.12,python3.13

Exit status 0 when the tokenizers agree on every code point outside the table, 1 otherwise
(the disagreeing code points are printed), 2 on bad input.
"""

import os
import subprocess
import sys
import unicodedata
from typing import Iterable, List, Sequence, Tuple

from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from smaller_labse import atomic  # noqa: E402
from smaller_labse.vocabulary import routing_table, tf_counting  # noqa: E402
from smaller_labse.errors import InputError, run_cli  # noqa: E402
from smaller_labse.tokenizers.tf_bert_tokenizer import bert_tokenizer  # noqa: E402
from smaller_labse.tokenizers.vocab import read_vocab  # noqa: E402

import numpy as np  # noqa: E402  (after smaller_labse: it quiets TensorFlow first)
import tensorflow as tf  # noqa: E402
import tensorflow_text as tf_text  # noqa: E402
from tqdm import tqdm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_CODE_POINTS = 0x110000
RISKY_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs"})
# Unicode 16 additions on which the tokenizers differ (--include_routed lists them): unassigned
# (Cn) in Unicode 13.0 to 15.1, listed so that sources with newer tables still route them; and
# U+FFFD, what decoding invalid UTF-8 gives, routed as before (the proof finds no difference).
ALWAYS_ROUTED = ((0x1B4E, 0x1B4F), (0x1B7F, 0x1B7F), (0x10D6E, 0x10D6E), (0x113D4, 0x113D5),
                   (0x113D7, 0x113D8), (0x11BE1, 0x11BE1), (0x16D6D, 0x16D6F),
                   (0x1E5FF, 0x1E5FF), (0xFFFD, 0xFFFD))
NEIGHBOURS = ("", " ", ".", "\u201c", "-", "\u4e2d", "\u6587", "a", "b", "\u0301")
# Prints the Unicode version, then every code point's two-letter category.
_CATEGORIES_SCRIPT = """
import sys
if len(sys.argv) > 1:
  sys.path.insert(0, sys.argv[1])
  import unicodedata2 as unicodedata
else:
  import unicodedata
sys.stdout.write(unicodedata.unidata_version + "\\n")
sys.stdout.write("".join(unicodedata.category(chr(cp)) for cp in range(0x110000)))
"""

FLAGS = flags.FLAGS
flags.DEFINE_string("vocab_file", os.path.join(ROOT, "..", "shared", "data", "labse",
                                               "cased_vocab.txt"),
                    "WordPiece vocab the tokenizers run with (default: LaBSE's, in ../shared).")
flags.DEFINE_list("code_points", ["0-10FFFF"],
                  "Hexadecimal code points or ranges (LO-HI) to check.")
flags.DEFINE_bool("include_routed", False,
                  "Also check the routed code points; list those on which the tokenizers differ.")
flags.DEFINE_bool("write", False, "Make the table from --unicode_tables, prove it, write it.")
flags.DEFINE_list("unicode_tables", None,
                  "With --write: Python interpreters, or directories holding unicodedata2, "
                  "whose Unicode tables the table covers.")
flags.DEFINE_string("output",
                    os.path.join(ROOT, "smaller_labse", "vocabulary", "routing_table.py"),
                    "With --write: the module written.")
flags.DEFINE_integer("chunk", 1000, "Code points tokenized per batch (x 100 lines).")


def to_ranges(mask: np.ndarray) -> Tuple[Tuple[int, int], ...]:
  """bool [n] -> the inclusive (lo, hi) ranges of its True runs."""
  edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.view(np.int8), [0]])))
  return tuple((int(lo), int(hi) - 1) for lo, hi in zip(edges[::2], edges[1::2]))


def to_mask(ranges: Iterable[Tuple[int, int]]) -> np.ndarray:
  """Inclusive ranges -> bool [0x110000]."""
  mask = np.zeros(NUM_CODE_POINTS, dtype=bool)
  for lo, hi in ranges:
    mask[lo:hi + 1] = True
  return mask


def parse_code_points(specs: Sequence[str]) -> np.ndarray:
  """['41-5A', 'A0'] -> bool [0x110000]."""
  ranges = []
  for spec in specs:
    try:
      lo, _, hi = spec.partition("-")
      ranges.append((int(lo, 16), int(hi or lo, 16)))
    except ValueError:
      raise InputError(f"--code_points={spec}: expected hexadecimal LO-HI or a code point") from None
    if not 0 <= ranges[-1][0] <= ranges[-1][1] < NUM_CODE_POINTS:
      raise InputError(f"--code_points={spec}: not a range of code points (0 to 10FFFF)")
  return to_mask(ranges)


def unicode_categories(source: str) -> Tuple[str, List[str]]:
  """(Unicode version, category of every code point) of a Python interpreter's unicodedata,
  or of the unicodedata2 installed in a directory."""
  command = ([sys.executable, "-c", _CATEGORIES_SCRIPT, source] if os.path.isdir(source)
             else [source, "-c", _CATEGORIES_SCRIPT])
  try:
    result = subprocess.run(command, capture_output=True, text=True, check=True)
  except (OSError, subprocess.CalledProcessError) as e:
    raise InputError(f"--unicode_tables={source}: cannot read its Unicode tables ({e})") from None
  version, categories = result.stdout.split("\n", 1)
  return version, [categories[i:i + 2] for i in range(0, len(categories), 2)]


def risky(categories: Sequence[str]) -> np.ndarray:
  """bool [0x110000]: the code points of RISKY_CATEGORIES, but ' '."""
  mask = np.isin(np.array(categories), sorted(RISKY_CATEGORIES))
  mask[0x20] = False
  return mask


def make_table(sources: Sequence[str]) -> Tuple[Tuple[str, ...], Tuple[Tuple[int, int], ...]]:
  """(the sources' Unicode versions, the routing table's ranges)."""
  mask, versions = to_mask(ALWAYS_ROUTED), []
  for source in sources:
    version, categories = unicode_categories(source)
    print(f"{source}: Unicode {version}", flush=True)
    versions.append(version)
    mask |= risky(categories)
  return tuple(sorted(set(versions), key=lambda v: tuple(map(int, v.split("."))))), to_ranges(mask)


def _disagreeing(fast, exact, code_points: Sequence[int]) -> List[int]:
  """The code points of one batch on which the tokenizers' ids differ in some context."""
  contexts = len(NEIGHBOURS) ** 2
  lines = tf.constant([left + chr(cp) + right for cp in code_points
                       for left in NEIGHBOURS for right in NEIGHBOURS])
  a, b = fast.tokenize(lines), exact.tokenize(lines).merge_dims(1, 2)
  if (np.array_equal(a.row_lengths().numpy(), b.row_lengths().numpy())
      and np.array_equal(a.flat_values.numpy(), b.flat_values.numpy())):
    return []
  rows_a, rows_b = a.to_list(), b.to_list()
  return [cp for i, cp in enumerate(code_points)
          if rows_a[i * contexts:(i + 1) * contexts] != rows_b[i * contexts:(i + 1) * contexts]]


def disagreements(vocab: Sequence[str], checked: np.ndarray, chunk: int) -> List[int]:
  """The code points of `checked` (bool [0x110000]) on which FastBertTokenizer and BertTokenizer,
  as tf_counting.Counter builds them, give different ids in some NEIGHBOURS context."""
  fast, exact = tf_counting.fast_tokenizer(vocab), bert_tokenizer(vocab)
  code_points = np.flatnonzero(checked).tolist()
  found = []
  for start in tqdm(range(0, len(code_points), chunk), desc="code points", unit="batch"):
    found += _disagreeing(fast, exact, code_points[start:start + chunk])
  return found


def describe(code_points: Sequence[int]) -> str:
  return ", ".join(f"U+{cp:04X} ({unicodedata.category(chr(cp))})" for cp in code_points)


def module_text(versions: Sequence[str], ranges: Sequence[Tuple[int, int]]) -> str:
  """The text of smaller_labse/vocabulary/routing_table.py (the same for the same table)."""
  cells = [f"(0x{lo:04X}, 0x{hi:04X})," for lo, hi in ranges]
  rows = ["    " + " ".join(cells[i:i + 5]) for i in range(0, len(cells), 5)]
  return (f'"""Generated by tools/routing_table.py (do not edit): the code points whose lines '
          f"tf_counting.Counter\nsends to BertTokenizer, proven with tensorflow-text "
          f"{tf_text.__version__} (see the tool).\n\"\"\"\n\n"
          f"UNICODE_VERSIONS = {tuple(versions)!r}\n"
          f"TENSORFLOW_TEXT_VERSION = {tf_text.__version__!r}\n"
          f"# Inclusive (lo, hi) code point ranges.\nRANGES = (\n" + "\n".join(rows) + "\n)\n")


def main(argv: Sequence[str]) -> None:
  del argv
  if FLAGS.write and not FLAGS.unicode_tables:
    raise InputError("--write needs --unicode_tables")
  if FLAGS.chunk < 1:
    raise InputError(f"--chunk={FLAGS.chunk}: must be positive")
  vocab = read_vocab(FLAGS.vocab_file)
  if FLAGS.write:
    versions, ranges = make_table(FLAGS.unicode_tables)
  else:
    versions, ranges = routing_table.UNICODE_VERSIONS, routing_table.RANGES
  routed, wanted = to_mask(ranges), parse_code_points(FLAGS.code_points)
  wanted[0xD800:0xE000] = False  # surrogates: they cannot occur in UTF-8 text
  bad = disagreements(vocab, wanted & ~routed, FLAGS.chunk)
  print(f"Table: {len(ranges)} ranges, {int(routed.sum()):,} code points routed (Unicode "
        f"{', '.join(versions)}); tensorflow-text {tf_text.__version__}; vocab "
        f"{FLAGS.vocab_file} ({len(vocab):,} tokens).")
  print(f"Not routed, checked in {len(NEIGHBOURS) ** 2} contexts each: "
        f"{int((wanted & ~routed).sum()):,} code points; the tokenizers differ on "
        f"{len(bad)}{': ' + describe(bad) if bad else ''}.")
  if FLAGS.include_routed:
    differ = disagreements(vocab, wanted & routed, FLAGS.chunk)
    print(f"Routed, checked likewise: {int((wanted & routed).sum()):,} code points; the "
          f"tokenizers differ on {len(differ)}{': ' + describe(differ) if differ else ''}.")
  if bad:
    sys.exit(1)
  if FLAGS.write:
    atomic.write_text(FLAGS.output, module_text(versions, ranges))
    print(f"wrote {FLAGS.output}")


if __name__ == "__main__":
  run_cli(main)
