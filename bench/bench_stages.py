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
"""

import os
import re
import shutil
import subprocess
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The real LaBSE vocab.")
flags.DEFINE_string("selections", "../shared/data/wiki_selected_tokens",
                    "Directory of selected_{lang}_tokens.txt files.")
flags.DEFINE_string("workdir", "/tmp/bench_stages", "Scratch directory (several GB).")
FLAGS = flags.FLAGS
LABSE_SHAPE = dict(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072)


def build_full_size_model(downloads: str, vocab_path: str) -> None:
  from smaller_labse import vocab
  from smaller_labse.demo import write_demo_model
  write_demo_model(downloads, vocab.read_vocab(vocab_path), seed=0, shape=LABSE_SHAPE)


def timed(script: str, *args: str, cwd: str):
  """Runs a stage under /usr/bin/time -v; returns (wall seconds, peak RSS bytes, stdout)."""
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run(["/usr/bin/time", "-v", sys.executable, os.path.join(ROOT, script),
                           *args], cwd=cwd, env=env, capture_output=True, text=True)
  if result.returncode != 0:
    raise SystemExit(f"{script} failed:\n{result.stderr[-3000:]}")
  wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr)[1]
  seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
  rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)[1]) * 1024
  return seconds, rss, result.stdout


def main(argv):
  del argv
  work = os.path.abspath(FLAGS.workdir)
  downloads = os.path.join(work, "downloads")
  if not os.path.isfile(os.path.join(downloads, "labse-2", "saved_model.pb")):
    print("building a full-size random-weight LaBSE/2-format model ...", flush=True)
    build_full_size_model(downloads, os.path.abspath(FLAGS.vocab))
  shutil.rmtree(os.path.join(work, "models"), ignore_errors=True)
  shutil.rmtree(os.path.join(work, "selected_tokens"), ignore_errors=True)
  shutil.copytree(os.path.abspath(FLAGS.selections), os.path.join(work, "selected_tokens"))

  s1_tf = timed("save_as_weight_from_saved_model.py", "--st_output_dir=", cwd=work)
  s1 = timed("save_as_weight_from_saved_model.py", "--overwrite", cwd=work)
  s3_tf = timed("make_smaller_labse.py", "--formats=tfhub", cwd=work)
  s3 = timed("make_smaller_labse.py", "--overwrite", cwd=work)
  print(s1[2] + s3[2])
  print("| stage | command | wall time | peak RSS |\n|---|---|---:|---:|")
  for name, command, (seconds, rss, _) in (
      ("1", "save_as_weight_from_saved_model.py", s1),
      ("1", "save_as_weight_from_saved_model.py --st_output_dir= (no Sentence Transformers "
       "export)", s1_tf),
      ("3", "make_smaller_labse.py (16 languages)", s3),
      ("3", "make_smaller_labse.py --formats=tfhub (16 languages)", s3_tf)):
    print(f"| {name} | `{command}` | {seconds:.1f} s | {rss / 2**30:.2f} GiB |")


if __name__ == "__main__":
  app.run(main)
