"""Stage 1: read the source model, rebuild it in our code, prove it layer by layer, save weights.

  python save_as_weight_from_saved_model.py
  python save_as_weight_from_saved_model.py --saved_model=downloads/labse-2 --output_dir=models/labse
  python save_as_weight_from_saved_model.py --saved_model=downloads/sentence-transformers/LaBSE

The source is a TF Hub LaBSE/2-format SavedModel, a Sentence Transformers directory or a plain
Hugging Face BERT directory (LaBSE, LEALLA, models fine-tuned from them), told apart by its
files. For a TF Hub source, also writes the full model in the Sentence Transformers / Hugging
Face format (models/labse_st/, proven equal to the weights); --st_output_dir= skips it.

Installed with pip, `smaller-labse convert` is the same command.
"""

import os
import sys
from typing import Sequence

from absl import flags, logging

from smaller_labse import commands
from smaller_labse.errors import InputError
from smaller_labse.formats import sources
from smaller_labse.formats.sentence_transformers import DEFAULT_MAX_SEQ_LENGTH
from smaller_labse.model.config import BUDGET_FACTOR

FLAGS = commands.new_flags()

flags.DEFINE_string("saved_model", "downloads/labse-2",
                    "The source model: a TF Hub LaBSE/2-format encoder SavedModel, a Sentence "
                    "Transformers directory (modules.json) or a Hugging Face BERT directory "
                    "(config.json, model.safetensors or pytorch_model.bin, tokenizer.json or "
                    "vocab.txt).", flag_values=FLAGS)
flags.DEFINE_alias("source", "saved_model", flag_values=FLAGS)
flags.DEFINE_string("preprocess", "downloads/labse-2-preprocess",
                    "A TF Hub source's original preprocessor; when it exists, our tokenization "
                    "is checked against it.", flag_values=FLAGS)
flags.DEFINE_string("output_dir", "models/labse",
                    "Where to write the weight store (config.json, vocab.txt, source.json, the "
                    "weights as model.safetensors unless the source's own are read in place).",
                    flag_values=FLAGS)
flags.DEFINE_float("budget_factor", BUDGET_FACTOR,
                   "Each block's float32 error budget, in units of the rounding model's error "
                   "(see docs/proofs.md: the layer-by-layer proof).", flag_values=FLAGS)
flags.DEFINE_bool("overwrite", False, "Replace an output_dir that holds another model.",
                  flag_values=FLAGS)
flags.DEFINE_string("st_output_dir", "models/labse_st",
                    "For a TF Hub source: where to write the full model in the Sentence "
                    "Transformers / Hugging Face format (SentenceTransformer(path), AutoModel); "
                    "empty: do not write it. A Hugging Face source is already in that format.",
                    flag_values=FLAGS)
flags.DEFINE_integer("st_max_seq_length", DEFAULT_MAX_SEQ_LENGTH,
                     "The Sentence Transformers export's max_seq_length (the TF Hub "
                     "preprocessor packs to 128).", flag_values=FLAGS)


def main(argv: Sequence[str]) -> int:
  """Runs stage 1 with the command line `argv` (argv[0]: the program); returns the exit status
  (commands.run_main: 0, 2 after `error: ...` on stderr)."""
  return commands.run_main(sys.modules[__name__], FLAGS, argv, _convert)


def _convert() -> None:
  f = FLAGS
  sources.source_kind(f.saved_model)  # A missing or non-model directory: before TensorFlow.
  # The module that computes (TensorFlow, and transformers for a Hugging Face source's proof).
  from smaller_labse.stages import conversion  # pylint: disable=import-outside-toplevel

  preprocess = f.preprocess if os.path.isdir(f.preprocess) else None
  if preprocess is None:
    logging.info("%s not found: tokenization is not checked against it", f.preprocess)
  try:
    conversion.convert(f.saved_model, f.output_dir, preprocess, f.budget_factor, f.overwrite,
                       f.st_output_dir or None, f.st_max_seq_length)
  except commands.proof_errors() as e:
    raise InputError(str(e)) from None
  print(f"saved weights to {f.output_dir}")
  if f.st_output_dir and os.path.isfile(os.path.join(f.st_output_dir, "modules.json")):
    print(f"wrote {f.st_output_dir}")

