#!/usr/bin/env python3
"""Stages 1 and 3 at full LaBSE size: wall time and peak RSS of each, as a user runs them.

Each stage runs twice: as a user runs it (both formats: TF Hub and the Sentence
Transformers export) and without the Sentence Transformers export, so the table
shows what that export costs.

Builds a random-weight encoder + preprocessor in LaBSE/2's exact format with the
real 501,153-token vocab (12 layers, hidden 768), then times
`save_as_weight_from_saved_model.py` and `make_smaller_labse.py` (default 16
languages, the original release's selections) with /usr/bin/time.

  python bench/bench_stages.py --vocab=../shared/data/labse/cased_vocab.txt \
      --selections=../shared/data/wiki_selected_tokens --workdir=/tmp/bench_stages
  # the badly conditioned case: stage 1's proof must still accept it
  python bench/bench_stages.py --init_scale=0.5 --nostage3 --workdir=/tmp/bench_stages_05
"""

import os
import shutil
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import build_full_size_model, run_timed  # noqa: E402

flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The real LaBSE vocab.")
flags.DEFINE_string("selections", "../shared/data/wiki_selected_tokens",
                    "Directory of selected_{lang}_tokens.txt files.")
flags.DEFINE_string("workdir", "/tmp/bench_stages", "Scratch directory (several GB).")
flags.DEFINE_float("init_scale", 0.02, "Standard deviation of the random weight matrices "
                   "(BERT's 0.02; 0.5 gives a deep, badly conditioned network whose float32 "
                   "rounding moves pooled_output by ~0.3 end to end).")
flags.DEFINE_bool("stage3", True, "Also time make_smaller_labse.py.")
FLAGS = flags.FLAGS


def timed(script: str, *args: str, cwd: str):
  """Runs a stage under /usr/bin/time -v; returns (wall seconds, peak RSS bytes, stdout)."""
  stdout, seconds, rss = run_timed([sys.executable, os.path.join(ROOT, script), *args],
                                   dict(os.environ, PYTHONPATH=ROOT), cwd=cwd, name=script)
  return seconds, rss, stdout


def main(argv):
  del argv
  work = os.path.abspath(FLAGS.workdir)
  downloads = os.path.join(work, "downloads")
  if not os.path.isfile(os.path.join(downloads, "labse-2", "saved_model.pb")):
    print(f"building a full-size random-weight LaBSE/2-format model (init {FLAGS.init_scale}) "
          "...", flush=True)
    from smaller_labse.tokenizers import vocab  # pylint: disable=import-outside-toplevel
    build_full_size_model(downloads, vocab.read_vocab(os.path.abspath(FLAGS.vocab)),
                          FLAGS.init_scale)
  shutil.rmtree(os.path.join(work, "models"), ignore_errors=True)
  shutil.rmtree(os.path.join(work, "selected_tokens"), ignore_errors=True)
  shutil.copytree(os.path.abspath(FLAGS.selections), os.path.join(work, "selected_tokens"))

  runs = [("1", "save_as_weight_from_saved_model.py --st_output_dir= (no Sentence Transformers "
           "export)", timed("save_as_weight_from_saved_model.py", "--st_output_dir=", cwd=work)),
          ("1", "save_as_weight_from_saved_model.py",
           timed("save_as_weight_from_saved_model.py", "--overwrite", cwd=work))]
  if FLAGS.stage3:
    runs.append(("3", "make_smaller_labse.py --formats=tfhub (16 languages)",
                 timed("make_smaller_labse.py", "--formats=tfhub", cwd=work)))
    runs.append(("3", "make_smaller_labse.py (16 languages)",
                 timed("make_smaller_labse.py", "--overwrite", cwd=work)))
  print("".join(run[2][2] for run in runs))
  print(f"init {FLAGS.init_scale}")
  print("| stage | command | wall time | peak RSS |\n|---|---|---:|---:|")
  for name, command, (seconds, rss, _) in runs:
    print(f"| {name} | `{command}` | {seconds:.1f} s | {rss / 2**30:.2f} GiB |")


if __name__ == "__main__":
  app.run(main)
