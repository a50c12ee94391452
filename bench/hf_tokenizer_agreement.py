#!/usr/bin/env python3
"""Does the TF twin of a Hugging Face BERT tokenizer give the tokenizers library's ids?

Builds LaBSE's tokenizer the two ways a Hugging Face source holds it, reads each with
smaller_labse.tokenizers.hf_loading.load_model_dir (as transformers' AutoTokenizer
builds it), and compares, line by line, the ids of the tokenizers library with those of
the TF twin (smaller_labse.tokenizers.hf_preprocessor, what the exported TF Hub preprocessor runs)
on every line of the Tatoeba files and on the hard cases of
bench/st_tokenizer_agreement.py:

- "vocab.txt": vocab.txt + tokenizer_config.json (BertTokenizer, do_lower_case false),
  which the library reads by trimming each line's trailing whitespace;
- "tokenizer.json": the same with a tokenizer.json serialized by the tokenizers library
  from the exact vocab (the layout of sentence-transformers/LaBSE).

A last column compares the "tokenizer.json" source with LaBSE/2's own TF Hub
preprocessor (tensorflow_text's BertTokenizer): how often a Hugging Face LaBSE sees
other ids than the TF Hub one (no-break spaces, format characters, 100-byte words).

  python bench/hf_tokenizer_agreement.py --vocab=../shared/data/labse/cased_vocab.txt \\
      --tatoeba='../shared/data/tatoeba_dev/tatoeba.*'
"""

import json
import os
import sys
import tempfile
from typing import Dict, List, Sequence

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

# Its flags too: --vocab, --tatoeba.
from st_tokenizer_agreement import EDGE_CASES, tatoeba_groups  # noqa: E402

FLAGS = flags.FLAGS
_CONFIG = {"tokenizer_class": "BertTokenizer", "do_lower_case": False,
           "tokenize_chinese_chars": True, "strip_accents": None}


def write_sources(vocab_path: str, tmp: str) -> Dict[str, str]:
  """The two layouts of LaBSE's tokenizer (see the module docstring)."""
  from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers
  from smaller_labse.tokenizers import vocab as vocab_lib
  tokens = vocab_lib.read_token_file(vocab_path)
  dirs = {}
  for name in ("vocab.txt", "tokenizer.json"):
    path = os.path.join(tmp, name.replace(".", "_"))
    os.makedirs(path)
    vocab_lib.write_token_file(os.path.join(path, "vocab.txt"), tokens)
    with open(os.path.join(path, "tokenizer_config.json"), "w", encoding="utf-8") as f:
      json.dump(_CONFIG, f)
    dirs[name] = path
  library = Tokenizer(models.WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
  library.normalizer = normalizers.BertNormalizer(lowercase=False)
  library.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  library.add_special_tokens([AddedToken(t, special=True, normalized=False)
                              for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")])
  library.save(os.path.join(dirs["tokenizer.json"], "tokenizer.json"))
  return dirs


def twin_ids(twin, lines: Sequence[str]) -> List[List[int]]:
  import tensorflow as tf
  out: List[List[int]] = []
  for start in range(0, len(lines), 2048):
    batch = twin.tokenize(tf.constant(list(lines[start:start + 2048])))
    out += [[i for word in line for i in word] for line in batch.to_list()]
  return out


def main(argv):
  del argv
  from smaller_labse.tokenizers.hf_loading import load_model_dir
  from smaller_labse.tokenizers.vocab import unreachable_token
  groups = {**tatoeba_groups(FLAGS.tatoeba), **EDGE_CASES}
  names = list(groups)
  lines = [line for name in names for line in groups[name]]
  with tempfile.TemporaryDirectory() as tmp:
    dirs = write_sources(FLAGS.vocab, tmp)
    results = {}
    for source, path in dirs.items():
      tokenizer = load_model_dir(path)
      rows = tokenizer.row_tokens(tokenizer.num_ids)
      unreachable = sum(t == unreachable_token(i) for i, t in enumerate(rows))
      library, twin = tokenizer.encode(lines), twin_ids(tokenizer.tf_preprocessor(), lines)
      results[source] = (library, twin, len(tokenizer.vocab), unreachable)
    from st_tokenizer_agreement import tf_ids  # pylint: disable=import-outside-toplevel
    from smaller_labse.tokenizers import (vocab as vocab_lib)  # pylint: disable=import-outside-toplevel
    hub = tf_ids(FLAGS.vocab, vocab_lib.read_vocab(FLAGS.vocab), lines)
  print(f"| lines | lines | identical ids, TF twin vs tokenizers: {' | '.join(results)} | "
        "tokenizer.json vs the TF Hub preprocessor |")
  print("|---|---:|" + "---:|" * (len(results) + 1))
  columns = {source: (library, twin) for source, (library, twin, _, _) in results.items()}
  columns["hub"] = (results["tokenizer.json"][0], hub)
  at, totals = 0, {s: 0 for s in columns}
  for name in names:
    n = len(groups[name])
    cells = []
    for source, (first, second) in columns.items():
      same = sum(first[at + i] == second[at + i] for i in range(n))
      totals[source] += same
      cells.append(f"{same:,} ({100 * same / max(n, 1):.2f}%)")
    print(f"| {name} | {n:,} | {' | '.join(cells)} |")
    at += n
  print(f"| all | {len(lines):,} | " + " | ".join(
      f"{totals[s]:,} ({100 * totals[s] / len(lines):.2f}%)" for s in columns) + " |")
  print()
  for source, (library, twin, vocab_size, unreachable) in results.items():
    print(f"{source}: WordPiece vocab {vocab_size:,} tokens, {unreachable:,} unreachable rows")
    for line, a, b in zip(lines, library, twin):
      if a != b:
        print(f"  differs: {line!r}: tokenizers {a}, TF twin {b}")


if __name__ == "__main__":
  app.run(main)
