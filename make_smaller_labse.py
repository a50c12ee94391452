#!/usr/bin/env python3
"""Stage 3: slice the selected vocabulary rows and export a smaller LaBSE.

  python make_smaller_labse.py --langs=en,fr,es,de,zh,ar,zh_classical,it,ja,ko,nl,pl,pt,th,tr,ru

Writes models/vocab-{langs}.txt, models/LaBSE_{langs}/1 (encoder) and
models/LaBSE_{langs}_preprocess/1 (preprocessor), drop-in replacements for
google/LaBSE/2 and its preprocessor, and proves the smaller model gives the
original's embeddings on sentences whose tokenization the pruning keeps.
"""

from absl import flags

from smaller_labse import languages, pruning
from smaller_labse.conversion import VerificationError
from smaller_labse.errors import InputError, run_cli

flags.DEFINE_string("langs", ",".join(languages.DEFAULT_WIKI_LANGS),
                    "Comma-separated language codes whose selections are kept.")
flags.DEFINE_string("model_dir", "models/labse", "Stage 1's weights (config.json, vocab.txt, "
                    "weights/).")
flags.DEFINE_string("selected_tokens_dir", "selected_tokens",
                    "Stage 2's selected_{lang}_tokens.txt files.")
flags.DEFINE_string("output_dir", "models", "Where the vocab and the SavedModels are written.")
flags.DEFINE_bool("overwrite", False, "Replace outputs that hold another model.")
flags.DEFINE_float("tolerance", 1e-6, "Largest pooled_output difference accepted.")


def main(argv):
  if len(argv) > 1:
    raise InputError(f"unexpected arguments: {' '.join(argv[1:])}")
  f = flags.FLAGS
  langs = languages.parse_lang_list(f.langs, languages.corpus_langs())
  try:
    paths, table, figures = pruning.make_smaller_labse(
        f.model_dir, f.selected_tokens_dir, langs, f.output_dir, f.overwrite, f.tolerance)
  except VerificationError as e:
    raise InputError(str(e)) from None
  print(f"verified: {figures['sentences']} sentences with unchanged tokenization give the "
        f"original's pooled_output (max abs difference {figures['pooled_output']:.3g}); "
        f"{figures['pruned_sentences']} sentences change tokenization")
  print(table, end="")
  print(f"wrote {paths.vocab}\nwrote {paths.encoder}\nwrote {paths.preprocess}")


if __name__ == "__main__":
  run_cli(main)
