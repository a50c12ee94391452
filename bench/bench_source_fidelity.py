#!/usr/bin/env python3
"""The trimmed model against its Hugging Face source, with the real libraries, on Tatoeba lines.

Run after bench_sources.py (same --workdir): for each Hugging Face source kind, over every
line of ../shared/data/tatoeba_dev, the source run by its own library (SentenceTransformer for
the Sentence Transformers source, AutoModel's normalised pooler_output for the plain one)
against

  - the trimmed Sentence Transformers / Hugging Face export, run the same way, and
  - the trimmed TF Hub pair (its preprocessor, then the encoder's normalised `default`),

on the lines whose tokens all survive the trimming: how many, whether their tokenization is
identical, and the largest embedding difference.

  python bench/bench_source_fidelity.py --workdir=/tmp/bench_lealla
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

flags.DEFINE_string("workdir", "/tmp/bench_sources", "bench_sources.py's work directory.")
flags.DEFINE_string("tatoeba", "../shared/data/tatoeba_dev/tatoeba.*", "Tatoeba files.")
flags.DEFINE_list("kinds", ["st", "hf"], "Source kinds.")
FLAGS = flags.FLAGS

# The real libraries, in a process without TensorFlow.
_TORCH = r"""
import json, sys, numpy as np, torch
from transformers import AutoModel, AutoTokenizer
kind, path, lines_file, out = sys.argv[1:5]
lines = json.load(open(lines_file, encoding="utf-8"))
tokenizer = AutoTokenizer.from_pretrained(path)
ids = [tokenizer(line)["input_ids"] for line in lines]
if kind == "st":
  from sentence_transformers import SentenceTransformer
  embeddings = SentenceTransformer(path, device="cpu").encode(lines, batch_size=64)
else:
  bert = AutoModel.from_pretrained(path).eval()
  order = np.argsort([len(x) for x in ids])
  embeddings = np.zeros((len(lines), bert.config.hidden_size), np.float32)
  with torch.no_grad():
    for start in range(0, len(lines), 64):
      rows = order[start:start + 64]
      batch = tokenizer([lines[i] for i in rows], padding=True, return_tensors="pt")
      embeddings[rows] = torch.nn.functional.normalize(bert(**batch).pooler_output, dim=-1)
np.save(out, embeddings)
json.dump([tokenizer.convert_ids_to_tokens(x) for x in ids], open(out + ".json", "w"))
"""


def torch_run(kind: str, path: str, lines_file: str, scratch: str):
  import numpy as np  # pylint: disable=import-outside-toplevel
  out = os.path.join(scratch, f"{kind}_{len(os.listdir(scratch))}.npy")
  subprocess.run([sys.executable, "-c", _TORCH, kind, path, lines_file, out], check=True)
  return json.load(open(out + ".json")), np.load(out)


def tf_hub_run(encoder_dir: str, preprocess_dir: str, lines):
  """The TF Hub pair's tokens and normalised `default` embeddings."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  import tensorflow_text  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  from smaller_labse.model import verification  # pylint: disable=import-outside-toplevel
  from smaller_labse.tokenizers import vocab  # pylint: disable=import-outside-toplevel
  tokens = vocab.read_token_file(os.path.join(encoder_dir, "assets", "cased_vocab.txt"))
  encoder, preprocess = tf.saved_model.load(encoder_dir), tf.saved_model.load(preprocess_dir)
  ids = preprocess.tokenize(tf.constant(lines)).merge_dims(1, 2).to_list()
  order = np.argsort([len(x) for x in ids])
  out = np.zeros((len(lines), 0), np.float32)
  for start in range(0, len(lines), 64):
    rows = order[start:start + 64]
    inputs = verification.pack_to_longest(preprocess, [lines[i] for i in rows])
    pooled = encoder(inputs, training=False)["default"].numpy()
    if not out.shape[1]:
      out = np.zeros((len(lines), pooled.shape[1]), np.float32)
    out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
  return [["[CLS]"] + [tokens[i] for i in row] + ["[SEP]"] for row in ids], out


def main(argv):
  del argv
  import numpy as np  # pylint: disable=import-outside-toplevel
  from smaller_labse import languages  # pylint: disable=import-outside-toplevel
  from smaller_labse.tokenizers import vocab  # pylint: disable=import-outside-toplevel
  lines = []
  for path in sorted(glob.glob(FLAGS.tatoeba)):
    with open(path, encoding="utf-8", newline="") as f:
      lines += f.read().split("\n")[:-1]
  print("| source | compared with | lines | lines whose tokens survive | identical "
        "tokenization | max abs d(embedding) |\n|---|---|---:|---:|---:|---:|")
  with tempfile.TemporaryDirectory() as scratch:
    lines_file = os.path.join(scratch, "lines.json")
    json.dump(lines, open(lines_file, "w", encoding="utf-8"))
    for kind in FLAGS.kinds:
      work = os.path.join(FLAGS.workdir, kind)
      source = json.load(open(os.path.join(work, "models", "labse", "source.json")))["path"]
      tf_dir = os.path.join(work, "models", "bench_" + "-".join(languages.DEFAULT_WIKI_LANGS))
      st_dir = tf_dir + "_st"
      kept = set(vocab.read_token_file(os.path.join(st_dir, "vocab.txt")))
      src_tokens, src_emb = torch_run(kind, source, lines_file, scratch)
      survive = np.array([all(t in kept for t in row) for row in src_tokens])
      runs = {"trimmed export (same library)": torch_run(kind, st_dir, lines_file, scratch),
              "trimmed TF Hub pair": tf_hub_run(os.path.join(tf_dir, "1"),
                                                tf_dir + "_preprocess/1", lines)}
      for name, (tokens, emb) in runs.items():
        same = [a == b for a, b, s in zip(src_tokens, tokens, survive) if s]
        diff = float(np.abs(emb[survive] - src_emb[survive]).max())
        print(f"| {kind} | {name} | {len(lines):,} | {int(survive.sum()):,} | "
              f"{sum(same):,} | {diff:.3g} |", flush=True)


if __name__ == "__main__":
  app.run(main)
