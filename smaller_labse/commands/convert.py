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

from absl import flags, logging

from smaller_labse.formats import st_export
from smaller_labse.formats import sentence_transformers as st_layout
from smaller_labse.model import verification
from smaller_labse.stages import conversion
from smaller_labse.errors import InputError

flags.DEFINE_string("saved_model", "downloads/labse-2",
                    "The source model: a TF Hub LaBSE/2-format encoder SavedModel, a Sentence "
                    "Transformers directory (modules.json) or a Hugging Face BERT directory "
                    "(config.json, model.safetensors or pytorch_model.bin, tokenizer.json or "
                    "vocab.txt).")
flags.DEFINE_alias("source", "saved_model")
flags.DEFINE_string("preprocess", "downloads/labse-2-preprocess",
                    "A TF Hub source's original preprocessor; when it exists, our tokenization "
                    "is checked against it.")
flags.DEFINE_string("output_dir", "models/labse",
                    "Where to write the weight store (config.json, vocab.txt, source.json, the "
                    "weights as model.safetensors unless the source's own are read in place).")
flags.DEFINE_float("budget_factor", verification.BUDGET_FACTOR,
                   "Each block's float32 error budget, in units of the rounding model's error "
                   "(see docs/proofs.md: the layer-by-layer proof).")
flags.DEFINE_bool("overwrite", False, "Replace an output_dir that holds another model.")
flags.DEFINE_string("st_output_dir", "models/labse_st",
                    "For a TF Hub source: where to write the full model in the Sentence "
                    "Transformers / Hugging Face format (SentenceTransformer(path), AutoModel); "
                    "empty: do not write it. A Hugging Face source is already in that format.")
flags.DEFINE_integer("st_max_seq_length", st_layout.DEFAULT_MAX_SEQ_LENGTH,
                     "The Sentence Transformers export's max_seq_length (the TF Hub "
                     "preprocessor packs to 128).")


def main(argv):
  del argv  # run_cli rejects arguments left after the flags
  f = flags.FLAGS
  preprocess = f.preprocess if os.path.isdir(f.preprocess) else None
  if preprocess is None:
    logging.info("%s not found: tokenization is not checked against it", f.preprocess)
  try:
    conversion.convert(f.saved_model, f.output_dir, preprocess, f.budget_factor, f.overwrite,
                       f.st_output_dir or None, f.st_max_seq_length)
  except (conversion.VerificationError, st_export.StVerificationError) as e:
    raise InputError(str(e)) from None
  print(f"saved weights to {f.output_dir}")
  if f.st_output_dir and os.path.isfile(os.path.join(f.st_output_dir, "modules.json")):
    print(f"wrote {f.st_output_dir}")

