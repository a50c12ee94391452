"""Token counts: what stage 2 counts (TokenCounts), the corpus lines it reads, and the counts
files (`tokens_freqs/{lang}_freqs.json`, the original release's format, and our
`{lang}_doc_freqs.json` sidecar), written and read side by side.

Both counters fill a TokenCounts: tf_counting.py (TensorFlow Text, the TF Hub preprocessor's
tokenizer) and hf_counting.py (the tokenizers library, a Hugging Face source's). No TensorFlow
here.
"""

import dataclasses
import hashlib
import json
import os
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from smaller_labse import atomic, files
from smaller_labse.errors import InputError

DEFAULT_MIN_CHARS = 5
DEFAULT_MAX_SENTENCES = 1_000_000
# Lines per tokenizer call: tf_counting's and hf_counting's own (benchmarked) sizes, here with
# no TensorFlow for stage 2's --batch_size help; each counter uses its own unless one is given.
DEFAULT_BATCH_SIZE = 2048
DEFAULT_HF_BATCH_LINES = 16384


@dataclasses.dataclass
class TokenCounts:
  """One language's counts.

  occurrences: token -> number of times it was produced.
  doc_freqs: token -> number of lines it occurs in; None when unknown (the
    original release's files hold occurrences only).
  num_lines: lines counted; None when unknown.
  meta: how the counts were made (corpus, flags, vocab size), for provenance.
  """
  occurrences: Dict[str, int]
  doc_freqs: Optional[Dict[str, int]] = None
  num_lines: Optional[int] = None
  meta: Dict[str, object] = dataclasses.field(default_factory=dict)

  @property
  def num_tokens(self) -> int:
    return sum(self.occurrences.values())


def nonzero_counts(counts: np.ndarray, vocab: Sequence[str]) -> Dict[str, int]:
  """{token: count} for the tokens with a non-zero count (counts: int [len(vocab)])."""
  return {vocab[i]: int(counts[i]) for i in np.flatnonzero(counts)}


def check_corpus_files(paths: Sequence[str]) -> None:
  """Raises InputError naming the first corpus file that cannot be read."""
  if not paths:
    raise InputError("no corpus file given")
  for path in paths:
    if not os.path.exists(path):
      raise InputError(f"{path}: corpus file not found")
    if os.path.isdir(path):
      raise InputError(f"{path}: is a directory, expected a text file")
    if not os.access(path, os.R_OK):
      raise InputError(f"{path}: corpus file not readable")



def freqs_path(counts_dir: str, lang: str) -> str:
  """The original release's file: {token: occurrences}."""
  return os.path.join(counts_dir, f"{lang}_freqs.json")


def doc_freqs_path(counts_dir: str, lang: str) -> str:
  """The sidecar: line frequencies, lines counted, provenance."""
  return os.path.join(counts_dir, f"{lang}_doc_freqs.json")


def _dumps(obj: object) -> str:
  return json.dumps(obj, sort_keys=True) + "\n"


def write_counts(counts_dir: str, lang: str, counts: TokenCounts) -> None:
  """Writes `{lang}_freqs.json` and, when known, the `{lang}_doc_freqs.json` sidecar.

  Each file is written atomically. The sidecar records the SHA-256 of the
  freqs file it belongs to, so a sidecar left from another run is detected.
  """
  freqs_text = _dumps(counts.occurrences)
  atomic.write_text(freqs_path(counts_dir, lang), freqs_text)
  if counts.doc_freqs is None:
    return
  sidecar = dict(counts.meta)
  sidecar.update({"doc_freqs": counts.doc_freqs, "num_lines": counts.num_lines,
                  "num_tokens": counts.num_tokens,
                  "freqs_sha256": hashlib.sha256(freqs_text.encode("utf-8")).hexdigest()})
  atomic.write_text(doc_freqs_path(counts_dir, lang), _dumps(sidecar))


def _load_json(path: str) -> Tuple[object, bytes]:
  data = files.read_bytes(path, "JSON file")
  return files.parse_json(files.decode_utf8(path, data), path), data


def _check_count_map(path: str, value: object, what: str) -> Dict[str, int]:
  if not isinstance(value, dict):
    raise InputError(f"{path}: {what} must be a JSON object {{token: count}}")
  for token, count in value.items():
    if type(count) is not int or count < 0:  # bool is not a count
      raise InputError(f"{path}: {what}: count of {token!r} is {count!r}, "
                       "expected a non-negative integer")
  return value


def read_counts(counts_dir: str, lang: str) -> TokenCounts:
  """Reads one language's counts: ours, or the original release's (occurrences only).

  Raises:
    InputError: a file is missing, truncated or malformed, or the sidecar does
      not belong to the freqs file beside it.
  """
  path = freqs_path(counts_dir, lang)
  value, data = _load_json(path)
  occurrences = _check_count_map(path, value, "token counts")
  if not occurrences:
    raise InputError(f"{path}: no token counted")
  side_path = doc_freqs_path(counts_dir, lang)
  if not os.path.exists(side_path):
    return TokenCounts(occurrences=occurrences, meta={})
  side, _ = _load_json(side_path)
  if not isinstance(side, dict) or "doc_freqs" not in side or "num_lines" not in side:
    raise InputError(f"{side_path}: not a line-frequency file (keys doc_freqs, num_lines)")
  if side.get("freqs_sha256") != hashlib.sha256(data).hexdigest():
    raise InputError(f"{side_path}: does not belong to {path} (left from another run?): "
                     "count again")
  doc_freqs = _check_count_map(side_path, side["doc_freqs"], "doc_freqs")
  num_lines = side["num_lines"]
  if type(num_lines) is not int or num_lines <= 0:
    raise InputError(f"{side_path}: num_lines is {num_lines!r}, expected a positive integer")
  meta = {k: v for k, v in side.items()
          if k not in ("doc_freqs", "num_lines", "num_tokens", "freqs_sha256")}
  return TokenCounts(occurrences=occurrences, doc_freqs=doc_freqs, num_lines=num_lines, meta=meta)


def check_counts_vocab(path: str, counts: TokenCounts, vocab: Mapping[str, int]) -> None:
  """Raises InputError when counted tokens are not in `vocab` (counted with another vocab)."""
  unknown = sorted(t for t in counts.occurrences if t not in vocab)
  if unknown:
    shown = ", ".join(repr(t) for t in unknown[:5])
    raise InputError(f"{path}: {len(unknown)} counted tokens are not in the vocab "
                     f"(counted with another vocab?), e.g. {shown}")

