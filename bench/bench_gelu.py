#!/usr/bin/env python3
"""How far the exact (erf) GELU moves LaBSE's sentence embeddings from the tanh approximation.

TF Hub's LaBSE/2 computes the tanh approximation (TF Model Garden's "gelu"); the Hugging
Face ports declare `hidden_act: "gelu"`, which transformers computes as the exact erf form.
This runs one full-size encoder (LaBSE's shape, the real vocab, BERT's random initialisation:
LaBSE's trained weights cannot be downloaded here) both ways on every line of
../shared/data/tatoeba_dev and compares the normalised embeddings.

  python bench/bench_gelu.py
"""

import dataclasses
import glob
import math
import os
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import LABSE_SHAPE  # noqa: E402

flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The real LaBSE vocab.")
flags.DEFINE_string("tatoeba", "../shared/data/tatoeba_dev/tatoeba.*", "Tatoeba files.")
flags.DEFINE_integer("batch_size", 64, "Sentences per batch (sorted by length).")
FLAGS = flags.FLAGS


def embed(encoder, ids, order, tokenizer, batch_size):
  """Normalised pooled_output [N, D] of every line (`PooledOutputEncoder`, the same network
  laid out for inference), in batches of similar length."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  out = None
  for start in range(0, len(ids), batch_size):
    rows = order[start:start + batch_size]
    inputs = tokenizer.pack_ids([ids[i][:126] for i in rows])
    pooled = encoder.pooled_output(*(tf.constant(inputs[k]) for k in (
        "input_word_ids", "input_mask", "input_type_ids"))).numpy()
    if out is None:
      out = np.zeros((len(ids), pooled.shape[1]), np.float32)
    out[rows] = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
  return out


def main(argv):
  del argv
  import numpy as np  # pylint: disable=import-outside-toplevel
  from smaller_labse.tokenizers import (tf_hub_wordpiece, vocab)  # pylint: disable=import-outside-toplevel
  from smaller_labse.model.config import (EncoderConfig, random_weights)  # pylint: disable=import-outside-toplevel
  from smaller_labse.model.encoder import (Encoder, PooledOutputEncoder)  # pylint: disable=import-outside-toplevel
  tokens = vocab.read_vocab(os.path.abspath(FLAGS.vocab))
  lines = []
  for path in sorted(glob.glob(FLAGS.tatoeba)):
    with open(path, encoding="utf-8", newline="") as f:
      lines += f.read().split("\n")[:-1]
  tokenizer = tf_hub_wordpiece.TfHubTokenizer(tokens)
  ids = tokenizer.encode(lines)
  order = np.argsort([len(x) for x in ids], kind="stable")
  tanh_config = EncoderConfig(vocab_size=len(tokens), **LABSE_SHAPE)
  weights = Encoder(tanh_config, random_weights(tanh_config, seed=0)).weights  # tf.Variables
  tanh = PooledOutputEncoder(tanh_config, weights)
  erf = PooledOutputEncoder(dataclasses.replace(tanh_config, hidden_act="gelu"), weights)
  a = embed(tanh, ids, order, tokenizer, FLAGS.batch_size)
  b = embed(erf, ids, order, tokenizer, FLAGS.batch_size)
  diff = np.abs(a - b)
  distance = 1.0 - np.sum(a.astype(np.float64) * b, axis=-1)  # cosine distance
  x = np.linspace(-8, 8, 160001)
  erf_gelu = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
  tanh_gelu = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
  gap = np.abs(erf_gelu - tanh_gelu)
  print(f"{len(lines):,} tatoeba_dev lines, LaBSE's shape, random weights (BERT init 0.02)")
  print("| | value |\n|---|---:|")
  print(f"| max abs difference, normalised embeddings | {diff.max():.3g} |")
  print(f"| mean abs difference | {diff.mean():.3g} |")
  print(f"| max cosine distance (1 - cos) | {distance.max():.3g} |")
  print(f"| mean cosine distance | {distance.mean():.3g} |")
  print(f"| the two functions: max abs difference on [-8, 8] | {gap.max():.3g} at x = "
        f"{x[gap.argmax()]:.2f} |")


if __name__ == "__main__":
  app.run(main)
