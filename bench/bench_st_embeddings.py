#!/usr/bin/env python3
"""Embeddings of the Sentence Transformers export against the TF Hub model, per language.

For the first --per_file lines of each Tatoeba file: the TF Hub encoder's normalised
`default` output (through its preprocessor, padded to each batch's longest sentence),
the export run by real `sentence_transformers` (in a subprocess of --torch_python,
CPU), and the export's independent float64 numpy reading (smaller_labse.model.numpy_reference).
Prints the max abs difference of each against TF, per language.

  python bench/bench_st_embeddings.py --st_dir=/tmp/bench_stages9/models/labse_st \
      --encoder=/tmp/bench_stages9/downloads/labse-2 \
      --preprocess=/tmp/bench_stages9/downloads/labse-2-preprocess \
      --torch_python=/work/venv-st/bin/python
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

flags.DEFINE_string("st_dir", None, "The Sentence Transformers export.", required=True)
flags.DEFINE_string("encoder", None, "The TF Hub encoder it was made from.", required=True)
flags.DEFINE_string("preprocess", None, "Its TF Hub preprocessor.", required=True)
flags.DEFINE_string("tatoeba", "../shared/data/tatoeba_dev/tatoeba.*", "Tatoeba files.")
flags.DEFINE_integer("per_file", 20, "Lines per Tatoeba file.")
flags.DEFINE_string("torch_python", "", "Python with sentence_transformers; empty: skip it.")
FLAGS = flags.FLAGS

_ST_CHILD = r"""
import json, sys, numpy as np
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu")
lines = json.load(open(sys.argv[2], encoding="utf-8"))
np.save(sys.argv[3], model.encode(lines, batch_size=32))
"""


def main(argv):
  del argv
  import numpy as np
  import tensorflow_hub as hub
  import tensorflow_text  # noqa: F401  (registers the preprocessor's ops)
  from smaller_labse.model import numpy_reference, verification
  labels, lines = [], []
  for path in sorted(glob.glob(FLAGS.tatoeba)):
    with open(path, encoding="utf-8", newline="") as f:
      file_lines = f.read().split("\n")[:FLAGS.per_file]
    labels += [path.rsplit(".", 1)[1]] * len(file_lines)
    lines += file_lines
  preprocess, encoder = hub.load(FLAGS.preprocess), hub.load(FLAGS.encoder)
  tf_out, ids = [], []
  for start in range(0, len(lines), 32):
    inputs = verification.pack_to_longest(preprocess, lines[start:start + 32])
    pooled = encoder(inputs, training=False)["default"].numpy()
    tf_out.append(pooled / np.linalg.norm(pooled, axis=-1, keepdims=True))
    ids.append({k: v.numpy() for k, v in inputs.items()})
  reference = np.concatenate(tf_out)
  all_ids = np.concatenate([b["input_word_ids"].reshape(-1) for b in ids])
  model = numpy_reference.NumpyStModel(FLAGS.st_dir, token_ids=all_ids)
  ours = np.concatenate([model(b["input_word_ids"], b["input_mask"], b["input_type_ids"])[
      "sentence_embedding"] for b in ids])
  results = {"numpy (float64)": ours}
  if FLAGS.torch_python:
    with tempfile.TemporaryDirectory() as tmp:
      json.dump(lines, open(os.path.join(tmp, "lines.json"), "w", encoding="utf-8"))
      subprocess.run([FLAGS.torch_python, "-c", _ST_CHILD, FLAGS.st_dir,
                      os.path.join(tmp, "lines.json"), os.path.join(tmp, "st.npy")], check=True)
      results["sentence_transformers (CPU)"] = np.load(os.path.join(tmp, "st.npy"))
  names = list(results)
  print(f"{len(lines)} sentences, max abs difference of normalised embeddings vs TF Hub:")
  print("| language | sentences | " + " | ".join(names) + " |")
  print("|---|---:|" + "---:|" * len(names))
  labels_arr = np.array(labels)
  for label in list(dict.fromkeys(labels)) + ["all"]:
    rows = labels_arr == label if label != "all" else np.ones(len(labels), bool)
    cells = [f"{np.abs(results[n][rows] - reference[rows]).max():.2g}" for n in names]
    print(f"| {label} | {int(rows.sum())} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
  app.run(main)
