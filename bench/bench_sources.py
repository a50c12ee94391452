#!/usr/bin/env python3
"""Stages 1 and 3 from each kind of source, at full size: wall time and peak RSS, as users run them.

Builds, with the real 501,153-token vocab and random weights (BERT's initialisation):
  tfhub  LaBSE/2's TF Hub format (our exporter, as bench_stages.py),
  hf     a Hugging Face BertModel directory (transformers' save_pretrained, erf GELU as the
         Hugging Face LaBSE ports declare, the tokenizer as transformers builds it from vocab.txt),
  st     a Sentence Transformers directory over it (sentence-transformers/LaBSE's layout),
then times `save_as_weight_from_saved_model.py --saved_model=SOURCE` and
`make_smaller_labse.py` (16 languages: the original release's selections, restricted to the
tokens the source's tokenizer has) with /usr/bin/time, each in a work directory of its own.

  python bench/bench_sources.py --workdir=/tmp/bench_sources            # LaBSE's shape
  python bench/bench_sources.py --shape=lealla-small --workdir=/tmp/bench_lealla
"""

import os
import shutil
import subprocess
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import LABSE_SHAPE, build_full_size_model, run_timed  # noqa: E402

SHAPES = {"labse": LABSE_SHAPE,
          "lealla-small": dict(hidden_size=128, num_layers=24, num_heads=8, intermediate_size=512)}
flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The real LaBSE vocab.")
flags.DEFINE_string("selections", "../shared/data/wiki_selected_tokens",
                    "Directory of selected_{lang}_tokens.txt files.")
flags.DEFINE_string("workdir", "/tmp/bench_sources", "Scratch directory (several GB).")
flags.DEFINE_enum("shape", "labse", list(SHAPES), "The encoder's shape.")
flags.DEFINE_list("kinds", ["tfhub", "st", "hf"], "Source kinds to time.")
FLAGS = flags.FLAGS

# Builds the Hugging Face sources in a process of their own (PyTorch, no TensorFlow).
_BUILD = r"""
import json, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
import hf_sources
out, vocab_path, shape = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
with open(vocab_path, encoding="utf-8", newline="") as f:
  tokens = f.read().split("\n")[:-1]
hf_sources.save_bert(os.path.join(out, "hf"), tokens, shape=shape)
hf_sources.save_sentence_transformer(os.path.join(out, "st"), os.path.join(out, "hf"), steps=0)
"""


def build_sources(work: str, tokens, shape) -> dict:
  sources = os.path.join(work, "sources")
  paths = {"tfhub": os.path.join(sources, "labse-2"), "hf": os.path.join(sources, "hf"),
           "st": os.path.join(sources, "st")}
  if not os.path.isfile(os.path.join(paths["tfhub"], "saved_model.pb")):
    print("building the TF Hub source ...", flush=True)
    build_full_size_model(sources, tokens, shape=shape)
  if not os.path.isfile(os.path.join(paths["st"], "modules.json")):
    print("building the Hugging Face and Sentence Transformers sources ...", flush=True)
    import json  # pylint: disable=import-outside-toplevel
    subprocess.run([sys.executable, "-c", _BUILD, ROOT, sources, os.path.abspath(FLAGS.vocab),
                    json.dumps(shape)], check=True)
  return paths


def timed(script: str, *args: str, cwd: str):
  stdout, seconds, rss = run_timed([sys.executable, os.path.join(ROOT, script), *args],
                                   dict(os.environ, PYTHONPATH=ROOT), cwd=cwd, name=script)
  return seconds, rss, stdout


def copy_selections(work: str) -> None:
  """The original release's selections, less tokens the store's vocab lacks (a Hugging Face
  tokenizer built from vocab.txt merges 47 of LaBSE's tokens: stage 2 would never select them)."""
  from smaller_labse.tokenizers import vocab  # pylint: disable=import-outside-toplevel
  known = set(vocab.read_token_file(os.path.join(work, "models", "labse", "vocab.txt")))
  target = os.path.join(work, "selected_tokens")
  os.makedirs(target, exist_ok=True)
  for name in sorted(os.listdir(FLAGS.selections)):
    tokens = vocab.read_token_file(os.path.join(FLAGS.selections, name))
    vocab.write_token_file(os.path.join(target, name), [t for t in tokens if t in known])


def main(argv):
  del argv
  from smaller_labse.tokenizers import vocab  # pylint: disable=import-outside-toplevel
  work = os.path.abspath(FLAGS.workdir)
  shape = SHAPES[FLAGS.shape]
  paths = build_sources(work, vocab.read_vocab(os.path.abspath(FLAGS.vocab)), shape)
  rows, outputs = [], []
  for kind in FLAGS.kinds:
    run_dir = os.path.join(work, kind)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    seconds, rss, out = timed("save_as_weight_from_saved_model.py",
                              f"--saved_model={paths[kind]}", cwd=run_dir)
    rows.append((kind, "1", seconds, rss))
    outputs.append(out)
    copy_selections(run_dir)
    seconds, rss, out = timed("make_smaller_labse.py", "--name=bench", cwd=run_dir)
    rows.append((kind, "3", seconds, rss))
    outputs.append(out)
  print("".join(outputs))
  print(f"shape {FLAGS.shape}: {shape}")
  print("| source | stage | wall time | peak RSS |\n|---|---|---:|---:|")
  for kind, stage, seconds, rss in rows:
    print(f"| {kind} | {stage} | {seconds:.1f} s | {rss / 2**30:.2f} GiB |")


if __name__ == "__main__":
  app.run(main)
