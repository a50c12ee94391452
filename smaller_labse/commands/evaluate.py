"""Stage 4: Tatoeba bitext retrieval accuracy of a LaBSE-format model, optionally beside a baseline.

  python evaluate_tatoeba.py --lang=spa
  python evaluate_tatoeba.py --langs=fra,deu \\
      --model=models/LaBSE_en-fr-de/1 --preprocess=models/LaBSE_en-fr-de_preprocess/1 \\
      --baseline_model=downloads/labse-2 --baseline_preprocess=downloads/labse-2-preprocess \\
      --output=results/tatoeba.json

Reads data/tatoeba/v1/tatoeba.{xxx}-eng.{xxx,eng} (./download_tatoeba_dataset.sh), encodes
every sentence once per model, and prints the accuracy (%) of the cosine nearest neighbour in
both directions (en→xx, xx→en) per language, with the average (docs/evaluation.md). The
accuracies equal those of the original method (batches of 32 padded to 128, in file order).

Installed with pip, `smaller-labse evaluate` is the same command.
"""

import sys
import time
from typing import Sequence

from absl import flags, logging

from smaller_labse import commands, languages, tatoeba  # tatoeba's modules: on first use
from smaller_labse.errors import InputError

FLAGS = commands.new_flags()
flags.DEFINE_string("langs", ",".join(languages.DEFAULT_TATOEBA_LANGS),
                    "Comma-separated Tatoeba languages (ISO 639-3 as in LASER's file names, "
                    "or ISO 639-1): any of the 112 of tatoeba/v1.", flag_values=FLAGS)
flags.DEFINE_string("lang", None, "One language, the original's form (--lang=spa); "
                    "same as --langs=spa.", flag_values=FLAGS)
flags.DEFINE_string("data_dir", tatoeba.DEFAULT_DATA_DIR,
                    "Directory of tatoeba.{xxx}-eng.{xxx,eng}.", flag_values=FLAGS)
flags.DEFINE_string("model", "downloads/labse-2", "Encoder SavedModel (LaBSE/2's TF Hub format), "
                    "or a Sentence Transformers / Hugging Face directory (then no --preprocess).",
                    flag_values=FLAGS)
flags.DEFINE_string("preprocess", "downloads/labse-2-preprocess",
                    "Preprocessor SavedModel of --model (its vocab must match the encoder's).",
                    flag_values=FLAGS)
flags.DEFINE_string("name", None, "Row label of --model (default: its directory name).",
                    flag_values=FLAGS)
flags.DEFINE_string("baseline_model", None, "Optional second encoder evaluated in the same run "
                    "(e.g. downloads/labse-2 when --model is the smaller one; or a Sentence "
                    "Transformers / Hugging Face directory).", flag_values=FLAGS)
flags.DEFINE_string("baseline_preprocess", None, "Preprocessor of --baseline_model.",
                    flag_values=FLAGS)
flags.DEFINE_string("baseline_name", None,
                    "Row label of --baseline_model (default: its directory name).",
                    flag_values=FLAGS)
flags.DEFINE_string("output", None, "Write the results to this .json file and the Markdown "
                    "tables beside it (same name, .md).", flag_values=FLAGS)
flags.DEFINE_integer("max_seq_length", tatoeba.DEFAULT_MAX_SEQ_LENGTH,
                     "Truncation length in tokens, [CLS] and [SEP] included (the "
                     "preprocessor's 128).", flag_values=FLAGS)
flags.DEFINE_enum("scoring", "cosine", tatoeba.SCORINGS, "cosine: the original's nearest "
                  "neighbour; margin: LASER's xsim ratio margin over k=4 neighbours.",
                  flag_values=FLAGS)
flags.DEFINE_integer("max_batch_tokens", tatoeba.DEFAULT_MAX_BATCH_TOKENS,
                     "Batch size x padded length of each batch (sentences sorted by length).",
                     flag_values=FLAGS)
flags.DEFINE_enum("engine", "auto", ["auto", "rebuilt", "savedmodel"],
                  "auto: run LaBSE/BERT encoders with the rebuilt fast graph (checked against "
                  "the SavedModel at load time), others as SavedModels.", flag_values=FLAGS)
flags.DEFINE_bool("allow_tf32", False, "Let GPUs that have it (Ampere and later) run float32 "
                  "matmuls in TF32: faster, but embeddings then differ from float32 by ~1e-3.",
                  flag_values=FLAGS)
flags.DEFINE_string("prompt_name", None, "A Sentence Transformers model's prompt put before "
                    "every sentence (config_sentence_transformers.json's prompts: e.g. query for "
                    "multilingual-e5's 'query: '), for each such model. Default: the model's own "
                    "for queries (its default_prompt_name, else 'query' where it has one); "
                    "--prompt_name= for none.", flag_values=FLAGS)
flags.DEFINE_enum("method", "fast", ["fast", "original"],
                  "original: the original's batches of 32 padded to 128 in file order (slow; "
                  "for checking).", flag_values=FLAGS)


def _langs() -> Sequence[str]:
  if FLAGS.lang is not None:
    if FLAGS["langs"].present:
      raise InputError("give either --lang or --langs, not both")
    return languages.parse_tatoeba_langs(FLAGS.lang)
  return languages.parse_tatoeba_langs(FLAGS.langs)


def _model_specs():
  """[(encoder, preprocess, name)] in table order: the baseline (when given) first."""
  specs = []
  if FLAGS.baseline_model or FLAGS.baseline_preprocess:
    pytorch = bool(FLAGS.baseline_model) and tatoeba.is_pytorch_model_dir(FLAGS.baseline_model)
    if not (FLAGS.baseline_model and (FLAGS.baseline_preprocess or pytorch)):
      missing = "--baseline_preprocess" if FLAGS.baseline_model else "--baseline_model"
      raise InputError(f"{missing} is needed with "
                       f"{'--baseline_model' if FLAGS.baseline_model else '--baseline_preprocess'}")
    specs.append((FLAGS.baseline_model, FLAGS.baseline_preprocess,
                  FLAGS.baseline_name or tatoeba.default_model_name(FLAGS.baseline_model)))
  specs.append((FLAGS.model, FLAGS.preprocess,
                FLAGS.name or tatoeba.default_model_name(FLAGS.model)))
  if len(specs) == 2 and specs[0][2] == specs[1][2]:
    raise InputError(f"both models are named {specs[0][2]!r}: give --name or --baseline_name")
  return specs


def main(argv: Sequence[str]) -> int:
  """Runs stage 4 with the command line `argv` (argv[0]: the program); returns the exit status
  (commands.run_main: 0, 2 after `error: ...` on stderr)."""
  return commands.run_main(sys.modules[__name__], FLAGS, argv, _evaluate)


def _evaluate() -> None:
  if FLAGS.max_seq_length < 3:
    raise InputError(f"--max_seq_length={FLAGS.max_seq_length}: must be at least 3")
  if FLAGS.max_batch_tokens < 1:
    raise InputError(f"--max_batch_tokens={FLAGS.max_batch_tokens}: must be positive")
  if FLAGS.output and not FLAGS.output.endswith(".json"):
    raise InputError(f"--output={FLAGS.output}: expected a path ending in .json")
  specs = _model_specs()
  pairs = [tatoeba.load_pair(FLAGS.data_dir, lang) for lang in _langs()]
  import tensorflow as tf  # pylint: disable=import-outside-toplevel  (once the inputs are read)
  # TensorFlow enables TF32 on such GPUs by default; exact float32 keeps the original's numbers.
  tf.config.experimental.enable_tensor_float_32_execution(FLAGS.allow_tf32)
  logging.info("Tatoeba: %s", ", ".join(f"{p.lang} ({len(p)} pairs)" for p in pairs))
  models = [tatoeba.load_pytorch_model(enc, name, prompt_name=FLAGS.prompt_name)
            if tatoeba.is_pytorch_model_dir(enc)
            else tatoeba.load_model(enc, pre, name, FLAGS.engine) for enc, pre, name in specs]
  start = time.perf_counter()
  results, identical = tatoeba.evaluate(models, pairs, FLAGS.scoring, FLAGS.max_seq_length,
                                        FLAGS.max_batch_tokens, FLAGS.method)
  logging.info("evaluated in %.1f s", time.perf_counter() - start)
  names = [m.name for m in models]
  if FLAGS.output:  # written first: a closed stdout must not lose the results
    markdown_path = tatoeba.write_outputs(FLAGS.output, results, identical, FLAGS.scoring, names)
    print(f"wrote {FLAGS.output} and {markdown_path}", file=sys.stderr, flush=True)
  print(tatoeba.markdown_report(results, identical, FLAGS.scoring, names), end="", flush=True)

