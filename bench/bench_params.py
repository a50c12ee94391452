#!/usr/bin/env python3
"""Parameters before and after trimming, for LaBSE and the LEALLA family, on the real vocab.

The smaller vocab is built as make_smaller_labse.py builds it (every special token, then the
sorted union of the selections) from the original release's per-language selections, for its
16 languages and for en+de. Parameter counts depend on the shapes only (not on the weights or
the number of heads), so this needs no model:

  python bench/bench_params.py --vocab=../shared/data/labse/cased_vocab.txt \
      --selections=../shared/data/wiki_selected_tokens
"""

import os
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from smaller_labse import languages  # noqa: E402
from smaller_labse.tokenizers import vocab  # noqa: E402
from smaller_labse.model.config import EncoderConfig  # noqa: E402

flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The real LaBSE vocab.")
flags.DEFINE_string("selections", "../shared/data/wiki_selected_tokens",
                    "Directory of selected_{lang}_tokens.txt files.")
FLAGS = flags.FLAGS

# (layers, hidden, heads, intermediate); LEALLA's from setu4993/LEALLA-*'s config.json
# (large: hidden 256, head size 16 as small and base).
SHAPES = {"LaBSE": (12, 768, 12, 3072), "LEALLA-small": (24, 128, 8, 512),
          "LEALLA-base": (24, 192, 12, 768), "LEALLA-large": (24, 256, 16, 1024)}
LANG_SETS = {"16 languages of the original release": languages.DEFAULT_WIKI_LANGS,
             "en+de": ("en", "de")}


def main(argv):
  del argv
  tokens = vocab.read_vocab(os.path.abspath(FLAGS.vocab))
  sizes = {"full": len(tokens)}
  for name, langs in LANG_SETS.items():
    selections = [vocab.read_token_file(vocab.selected_tokens_path(FLAGS.selections, lang))
                  for lang in langs]
    sizes[name] = len(vocab.build_target_vocab(tokens, selections, vocab.special_tokens(tokens)))
  print("| model | vocab | vocab size | #param(model) | word embeddings | share |")
  print("|---|---|---:|---:|---:|---:|")
  for model, (layers, hidden, heads, intermediate) in SHAPES.items():
    for vocab_name, size in sizes.items():
      config = EncoderConfig(vocab_size=size, hidden_size=hidden, num_layers=layers,
                             num_heads=heads, intermediate_size=intermediate)
      counts = config.parameter_counts()
      print(f"| {model} | {vocab_name} | {size:,} | {counts['model'] / 1e6:.1f}M | "
            f"{counts['word_embedding'] / 1e6:.1f}M | "
            f"{100 * counts['word_embedding'] / counts['model']:.1f}% |")


if __name__ == "__main__":
  app.run(main)
