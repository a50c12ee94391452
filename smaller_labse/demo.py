"""The offline demo's inputs, built by the project itself.

Writes, under a work directory, exactly what the download scripts would fetch
for a real run, in the same formats:
  downloads/labse-2              a tiny random-weight encoder in LaBSE/2's format
  downloads/labse-2-preprocess   its preprocessor
  data/{lang}.txt                small corpora (en, fr, de, ru)
  data/tatoeba/v1/tatoeba.{xxx}-eng.{xxx,eng}   parallel sentences (fra, deu, rus)

The weights are random: the demo shows the pipeline and its guarantees
(identical embeddings where tokenization is kept), not LaBSE's quality.

  python -m smaller_labse.demo --workdir=demo_workdir
"""

import collections
import os
import re
from typing import Dict, Iterable, List, Sequence

from absl import flags, logging

from smaller_labse import atomic, demo_data, hub_format
from smaller_labse import vocab as vocab_lib
from smaller_labse.config import EncoderConfig
from smaller_labse.encoder import Encoder
from smaller_labse.errors import InputError, run_cli

DEMO_CONFIG = dict(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64)
# LaBSE's own special tokens, in its order.
SPECIAL_TOKENS = (["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)]
                  + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])
_WORD_OR_PUNCT = re.compile(r"\w+|[^\w\s]")


def build_vocab(lines: Iterable[str], min_count: int = 1) -> List[str]:
  """A WordPiece vocab for `lines`: special tokens, every character (plain and '##'),
  whole words seen at least `min_count` times, and frequent word endings.

  Tokens are sorted within each group, so the same lines give the same vocab.
  """
  words: collections.Counter = collections.Counter()
  for line in lines:
    words.update(_WORD_OR_PUNCT.findall(line))
  chars = sorted({c for w in words for c in w})
  endings = collections.Counter(w[-3:] for w in words if len(w) > 5)
  tokens = (chars + ["##" + c for c in chars]
            + sorted(w for w, n in words.items() if n >= min_count and len(w) > 1)
            + sorted("##" + e for e, n in endings.items() if n >= 3))
  unique = list(dict.fromkeys(tokens))
  return SPECIAL_TOKENS + unique


def write_corpora(data_dir: str, corpora: Dict[str, Sequence[str]]) -> None:
  for lang, lines in corpora.items():
    atomic.write_text(os.path.join(data_dir, f"{lang}.txt"), "".join(l + "\n" for l in lines))


def write_tatoeba(tatoeba_dir: str, parallel: Dict[str, Sequence]) -> None:
  """LASER's layout: tatoeba.{xxx}-eng.{xxx} and .eng, line i translating line i."""
  for lang, pairs in parallel.items():
    stem = os.path.join(tatoeba_dir, f"tatoeba.{lang}-eng.")
    atomic.write_text(stem + lang, "".join(foreign + "\n" for foreign, _ in pairs))
    atomic.write_text(stem + "eng", "".join(english + "\n" for _, english in pairs))


def write_demo_model(downloads_dir: str, tokens: List[str], seed: int = 0) -> None:
  """A random-weight encoder + preprocessor pair in LaBSE/2's TF Hub format."""
  config = EncoderConfig(vocab_size=len(tokens), **DEMO_CONFIG)
  encoder = Encoder(config, seed=seed)
  with atomic.atomic_path(os.path.join(downloads_dir, "labse-2"), is_dir=True) as tmp:
    os.rmdir(tmp)
    hub_format.export_encoder(encoder, tokens, tmp)
  with atomic.atomic_path(os.path.join(downloads_dir, "labse-2-preprocess"), is_dir=True) as tmp:
    os.rmdir(tmp)
    hub_format.export_preprocessor(tokens, tmp)


def prepare_workdir(workdir: str) -> None:
  """Writes the demo's model, corpora and Tatoeba files under `workdir`."""
  corpus_lines = [l for lines in demo_data.CORPORA.values() for l in lines]
  tokens = build_vocab(corpus_lines)
  logging.info("demo vocab: %d tokens", len(tokens))
  write_demo_model(os.path.join(workdir, "downloads"), tokens)
  write_corpora(os.path.join(workdir, "data"), demo_data.CORPORA)
  write_tatoeba(os.path.join(workdir, "data", "tatoeba", "v1"), demo_data.PARALLEL)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise InputError(f"unexpected arguments: {' '.join(argv[1:])}")
  prepare_workdir(flags.FLAGS.workdir)
  print(f"demo inputs written to {flags.FLAGS.workdir} (random weights, vocab built from "
        f"the demo corpora)")


if __name__ == "__main__":
  flags.DEFINE_string("workdir", "demo_workdir", "Where to write the demo's inputs.")
  run_cli(main)
