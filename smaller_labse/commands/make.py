"""Stage 3: slice the selected vocabulary rows and export a smaller LaBSE.

  python make_smaller_labse.py --langs=en,fr,es,de,zh,ar,zh_classical,it,ja,ko,nl,pl,pt,th,tr,ru

Writes models/vocab-{langs}.txt, models/{name}_{langs}/1 (encoder) and
models/{name}_{langs}_preprocess/1 (preprocessor), in google/LaBSE/2's TF Hub format, and
models/{name}_{langs}_st/ (Sentence Transformers / Hugging Face), and proves the smaller model
gives the original's embeddings on sentences whose tokenization the pruning keeps, and the two
formats equal. {name} is LaBSE for TF Hub's LaBSE/2, else the source directory's name
(--name changes it); the source is whatever stage 1 read.

Installed with pip, `smaller-labse make` is the same command.
"""

import sys
from typing import Sequence

from absl import flags

from smaller_labse import commands, languages
from smaller_labse.errors import InputError
from smaller_labse.formats import parse_formats
from smaller_labse.stages import pruning  # TensorFlow: imported once the inputs are checked

FLAGS = commands.new_flags()

flags.DEFINE_string("langs", ",".join(languages.DEFAULT_WIKI_LANGS),
                    "Comma-separated language codes whose selections are kept.", flag_values=FLAGS)
flags.DEFINE_string("model_dir", "models/labse", "Stage 1's weight store (config.json, vocab.txt, "
                    "source.json, ...).", flag_values=FLAGS)
flags.DEFINE_string("selected_tokens_dir", "selected_tokens",
                    "Stage 2's selected_{lang}_tokens.txt files.", flag_values=FLAGS)
flags.DEFINE_string("output_dir", "models", "Where the vocab and the SavedModels are written.",
                    flag_values=FLAGS)
flags.DEFINE_bool("overwrite", False, "Replace outputs that hold another model.", flag_values=FLAGS)
flags.DEFINE_float("tolerance", 1e-6, "Largest pooled_output difference accepted.",
                   flag_values=FLAGS)
flags.DEFINE_string("formats", None,
                    "Comma-separated output formats: tfhub (encoder + preprocessor "
                    "SavedModels, LaBSE/2's format), st (Sentence Transformers / Hugging Face "
                    "directory models/{name}_{langs}_st). Default: tfhub,st; st alone for a "
                    "source whose tokenizer has no TF Hub preprocessor (XLM-R's SentencePiece: "
                    "multilingual-e5, paraphrase-multilingual, bge-m3), which refuses tfhub.",
                    flag_values=FLAGS)
flags.DEFINE_integer("st_max_seq_length", None,
                     "The Sentence Transformers export's max_seq_length. Default: a Sentence "
                     "Transformers source's own, else 128 (what the TF Hub preprocessor packs to).",
                     flag_values=FLAGS)
flags.DEFINE_string("name", None, "The smaller model's name, {name}_{langs}. Default: the "
                    "source's (LaBSE for TF Hub's LaBSE/2, else the source directory's name).",
                    flag_values=FLAGS)


def main(argv: Sequence[str]) -> int:
  """Runs stage 3 with the command line `argv` (argv[0]: the program); returns the exit status
  (commands.run_main: 0, 2 after `error: ...` on stderr)."""
  return commands.run_main(sys.modules[__name__], FLAGS, argv, _make)


def _make() -> None:
  f = FLAGS
  formats = None if f.formats is None else parse_formats(f.formats)
  langs = languages.parse_lang_list(f.langs, languages.corpus_langs())
  try:
    paths, table, figures, st_figures = pruning.make_smaller_labse(
        f.model_dir, f.selected_tokens_dir, langs, f.output_dir, f.overwrite, f.tolerance,
        formats, f.st_max_seq_length, f.name)
  except commands.proof_errors() as e:
    raise InputError(str(e)) from None
  from smaller_labse.formats import st_export  # pylint: disable=import-outside-toplevel
  print(f"verified: {figures['sentences']} sentences with unchanged tokenization give the "
        f"original's pooled_output (max abs difference {figures['pooled_output']:.3g}); "
        f"{figures['pruned_sentences']} sentences change tokenization")
  if st_figures:
    print(st_export.summary(st_figures))
  print(table, end="")
  written = [paths.vocab] + [p for p in (paths.encoder, paths.preprocess) if p]
  print("".join(f"wrote {path}\n" for path in written + ([paths.st] if st_figures else [])),
        end="")

