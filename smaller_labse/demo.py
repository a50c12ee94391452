"""The offline demo's inputs, built by the project itself.

Writes, under a work directory, exactly what the download scripts would fetch
for a real run, in the same formats:
  downloads/labse-2              a tiny random-weight encoder in LaBSE/2's format
  downloads/labse-2-preprocess   its preprocessor
  data/{lang}.txt                small corpora (en, fr, de, ru; see demo_corpora)
  data/tatoeba/v1/tatoeba.{xxx}-eng.{xxx,eng}   parallel sentences (fra, deu, rus)

The weights are random: the demo shows the pipeline and its guarantees
(identical embeddings where tokenization is kept), not LaBSE's quality.

  python -m smaller_labse.demo --workdir=demo_workdir
"""

import collections
import os
import re
from typing import Dict, Iterable, List, Optional, Sequence

from absl import flags, logging

from smaller_labse import atomic, demo_data, hub_format, languages
from smaller_labse.config import EncoderConfig
from smaller_labse.encoder import Encoder
from smaller_labse.errors import InputError, run_cli

DEMO_CONFIG = dict(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64)
# LaBSE's own special tokens, in its order.
SPECIAL_TOKENS = (["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)]
                  + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])
_WORD_OR_PUNCT = re.compile(r"\w+|[^\w\s]")


def build_vocab(lines: Iterable[str], min_count: int = 2) -> List[str]:
  """A small WordPiece vocab for `lines`, shaped like a real one.

  Special tokens, every character (plain and '##'), words seen at least
  `min_count` times, and frequent word beginnings and endings, so that rarer
  words are split into pieces as WordPiece splits them. Tokens are sorted within
  each group: the same lines give the same vocab.
  """
  words: collections.Counter = collections.Counter()
  for line in lines:
    words.update(_WORD_OR_PUNCT.findall(line))
  chars = sorted({c for w in words for c in w})
  beginnings, endings = collections.Counter(), collections.Counter()
  for word, count in words.items():
    for n in (2, 3, 4):
      if len(word) > n:
        beginnings[word[:n]] += count
        endings[word[-n:]] += count
  tokens = (chars + ["##" + c for c in chars]
            + sorted(w for w, n in words.items() if n >= min_count and len(w) > 1)
            + sorted(b for b, n in beginnings.items() if n >= min_count)
            + sorted("##" + e for e, n in endings.items() if n >= min_count))
  return SPECIAL_TOKENS + list(dict.fromkeys(tokens))


def write_corpora(data_dir: str, corpora: Dict[str, Sequence[str]]) -> None:
  for lang, lines in corpora.items():
    atomic.write_text(os.path.join(data_dir, f"{lang}.txt"), "".join(l + "\n" for l in lines))


def write_tatoeba(tatoeba_dir: str, parallel: Dict[str, Sequence]) -> None:
  """LASER's layout: tatoeba.{xxx}-eng.{xxx} and .eng, line i translating line i."""
  for lang, pairs in parallel.items():
    stem = os.path.join(tatoeba_dir, f"tatoeba.{lang}-eng.")
    atomic.write_text(stem + lang, "".join(foreign + "\n" for foreign, _ in pairs))
    atomic.write_text(stem + "eng", "".join(english + "\n" for _, english in pairs))


def write_demo_model(downloads_dir: str, tokens: List[str], seed: int = 0,
                     shape: Optional[Dict[str, int]] = None) -> None:
  """A random-weight encoder + preprocessor pair in LaBSE/2's TF Hub format.

  Args:
    downloads_dir: gets labse-2/ and labse-2-preprocess/, as download_model.sh writes them.
    tokens: the vocab.
    seed: of the random weights.
    shape: EncoderConfig fields (hidden_size, num_layers...); default the demo's tiny one.
  """
  config = EncoderConfig(vocab_size=len(tokens), **(shape or DEMO_CONFIG))
  encoder = Encoder(config, seed=seed)
  with atomic.atomic_path(os.path.join(downloads_dir, "labse-2"), is_dir=True) as tmp:
    hub_format.export_encoder(encoder, tokens, tmp)
  del encoder  # At LaBSE's size, free 1.9 GB before exporting the preprocessor.
  with atomic.atomic_path(os.path.join(downloads_dir, "labse-2-preprocess"), is_dir=True) as tmp:
    hub_format.export_preprocessor(tokens, tmp)


def demo_corpora() -> Dict[str, List[str]]:
  """The demo's corpora: each language's lines, then its side of the parallel sentences.

  A real 1M-line Wikipedia sample uses nearly every token of Tatoeba's short
  sentences; 60 lines do not, so the demo adds them to show the guarantee
  (kept tokenization, identical embedding) on every kept language.
  """
  corpora = {lang: list(lines) for lang, lines in demo_data.CORPORA.items()}
  for tatoeba_lang, pairs in demo_data.PARALLEL.items():
    corpora[languages.TATOEBA_LANGS[tatoeba_lang][0]] += [foreign for foreign, _ in pairs]
    corpora["en"] += [english for _, english in pairs]
  return corpora


def prepare_workdir(workdir: str) -> None:
  """Writes the demo's model, corpora and Tatoeba files under `workdir`."""
  corpora = demo_corpora()
  tokens = build_vocab(line for lines in corpora.values() for line in lines)
  logging.info("demo vocab: %d tokens", len(tokens))
  write_demo_model(os.path.join(workdir, "downloads"), tokens)
  write_corpora(os.path.join(workdir, "data"), corpora)
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
