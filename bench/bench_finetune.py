#!/usr/bin/env python3
"""Fine-tuning memory, original vs smaller LaBSE: peak memory of Adam steps.

At LaBSE's full size (12 layers, hidden 768, random weights) for three vocabs: the
real 501,153 tokens, the first 205,000 of them, and the published 15-language vocab
(173,347). Each configuration runs in its own process: a few Adam steps on a batch of
32 sentences x 64 tokens, loss = mean squared error of the sentence embeddings against
fixed targets.
- TensorFlow: the TF Hub encoder through `hub.KerasLayer(trainable=True)` in a Keras 2
  model (`tf_keras`), as a TF Hub user fine-tunes LaBSE.
- PyTorch (when `--torch_python` has torch and sentence_transformers): the Sentence
  Transformers export, `SentenceTransformer(path)`, with `torch.optim.Adam`.
Memory is the process's peak RSS on CPU (/usr/bin/time), and the framework's peak
device memory when a GPU is present (TF: get_memory_info peak; PyTorch:
cuda.max_memory_allocated).

  python bench/bench_finetune.py --vocab=../shared/data/labse/cased_vocab.txt \
      --small_vocab=../shared/data/labse/smaller_LaBSE_15lang_vocab.txt \
      --workdir=/tmp/bench_finetune --torch_python=/work/venv-st/bin/python
"""

import json
import os
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import build_full_size_model, run_timed  # noqa: E402

flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The real LaBSE vocab.")
flags.DEFINE_string("small_vocab", "../shared/data/labse/smaller_LaBSE_15lang_vocab.txt",
                    "A smaller vocab (the published 15-language one: 173,347 tokens).")
flags.DEFINE_integer("mid_size", 205_000, "A third vocab: the first N tokens of --vocab.")
flags.DEFINE_string("workdir", "/tmp/bench_finetune", "Scratch directory (about 8 GB).")
flags.DEFINE_string("torch_python", sys.executable,
                    "Python with torch + sentence_transformers for the PyTorch rows.")
flags.DEFINE_list("frameworks", ["tf", "torch"], "tf and/or torch.")
flags.DEFINE_integer("steps", 3, "Adam steps per configuration.")
flags.DEFINE_integer("batch_size", 32, "Sentences per batch.")
flags.DEFINE_integer("seq_length", 64, "Tokens per sentence.")
# Internal: one configuration in a child process.
flags.DEFINE_string("child", None, "tf or torch: run one configuration (internal).")
flags.DEFINE_string("model", None, "The model directory of --child (internal).")
FLAGS = flags.FLAGS


def _batch(vocab_size: int, hidden_size: int, seed: int = 0):
  """Random token ids [B, S] (int32), an all-ones mask, zero type ids, targets [B, 768]."""
  import numpy as np
  rng = np.random.default_rng(seed)
  b, s = FLAGS.batch_size, FLAGS.seq_length
  ids = rng.integers(104, vocab_size, (b, s)).astype(np.int32)  # Past the special tokens.
  ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP], LaBSE's ids.
  targets = rng.standard_normal((b, hidden_size)).astype(np.float32) * 0.1
  return ids, np.ones_like(ids), np.zeros_like(ids), targets


def child_tf(model_dir: str) -> dict:
  import tensorflow as tf
  import tensorflow_hub as hub
  import tf_keras as keras
  encoder = hub.KerasLayer(os.path.join(model_dir, "downloads", "labse-2"), trainable=True)
  vocab_size, hidden_size = encoder.resolved_object.variables[0].shape
  ids, mask, types, targets = _batch(vocab_size, hidden_size)
  inputs = {name: keras.layers.Input(shape=(None,), dtype=tf.int32, name=name)
            for name in ("input_word_ids", "input_mask", "input_type_ids")}
  # Normalised, as the Sentence Transformers model (3_Normalize) returns it.
  model = keras.Model(inputs, tf.math.l2_normalize(encoder(inputs)["default"], axis=-1))
  model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="mse")
  x = {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}
  losses = [float(model.train_on_batch(x, targets)) for _ in range(FLAGS.steps)]
  result = {"vocab_size": int(vocab_size), "losses": losses}
  if tf.config.list_physical_devices("GPU"):
    result["gpu_peak_bytes"] = tf.config.experimental.get_memory_info("GPU:0")["peak"]
  return result


def child_torch(model_dir: str) -> dict:
  import torch
  from sentence_transformers import SentenceTransformer
  device = "cuda" if torch.cuda.is_available() else "cpu"
  model = SentenceTransformer(os.path.join(model_dir, "models", "labse_st"), device=device)
  model.train()
  config = model[0].auto_model.config
  vocab_size = config.vocab_size
  ids, mask, types, targets = (torch.from_numpy(a).to(device)
                               for a in _batch(vocab_size, config.hidden_size))
  features = {"input_ids": ids.long(), "attention_mask": mask.long(),
              "token_type_ids": types.long()}
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
  losses = []
  for _ in range(FLAGS.steps):
    optimizer.zero_grad()
    embeddings = model(dict(features))["sentence_embedding"]
    loss = torch.nn.functional.mse_loss(embeddings, targets)
    loss.backward()
    optimizer.step()
    losses.append(float(loss.detach()))
  result = {"vocab_size": int(vocab_size), "losses": losses}
  if device == "cuda":
    result["gpu_peak_bytes"] = torch.cuda.max_memory_allocated()
  return result


def _run(command, cwd=None) -> tuple:
  """Runs `command` under /usr/bin/time -v: (stdout, wall seconds, peak RSS bytes)."""
  return run_timed(command, dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"), cwd=cwd)


def build(model_dir: str, tokens) -> None:
  """A full-size random-weight TF Hub model for `tokens`, then stage 1 (weights + ST export)."""
  if not os.path.isfile(os.path.join(model_dir, "downloads", "labse-2", "saved_model.pb")):
    print(f"building a {len(tokens):,}-token full-size model in {model_dir} ...", flush=True)
    build_full_size_model(os.path.join(model_dir, "downloads"), tokens)
  if not os.path.isfile(os.path.join(model_dir, "models", "labse_st", "model.safetensors")):
    _run([sys.executable, os.path.join(ROOT, "save_as_weight_from_saved_model.py")],
         cwd=model_dir)


def main(argv):
  del argv
  if FLAGS.child:
    result = child_tf(FLAGS.model) if FLAGS.child == "tf" else child_torch(FLAGS.model)
    print("RESULT " + json.dumps(result))
    return
  from smaller_labse.tokenizers import vocab
  full = vocab.read_vocab(os.path.abspath(FLAGS.vocab))
  vocabs = {"full": full, "mid": full[:FLAGS.mid_size],
            "small": vocab.read_vocab(os.path.abspath(FLAGS.small_vocab))}
  work = os.path.abspath(FLAGS.workdir)
  rows = []
  for name, tokens in vocabs.items():
    model_dir = os.path.join(work, name)
    build(model_dir, tokens)
    for framework in FLAGS.frameworks:
      python = FLAGS.torch_python if framework == "torch" else sys.executable
      stdout, seconds, rss = _run([python, os.path.abspath(__file__), f"--child={framework}",
                                   f"--model={model_dir}", f"--steps={FLAGS.steps}",
                                   f"--batch_size={FLAGS.batch_size}",
                                   f"--seq_length={FLAGS.seq_length}"])
      result = json.loads(stdout.split("RESULT ", 1)[1])
      rows.append((framework, result, seconds, rss))
      print(framework, json.dumps(result), f"{seconds:.1f} s", f"{rss / 2**30:.2f} GiB",
            flush=True)
  print(f"\n{FLAGS.steps} Adam steps, batch {FLAGS.batch_size} x {FLAGS.seq_length} tokens, "
        "LaBSE's shape (12 x 768), random weights")
  print("| framework | vocab size | CPU peak RSS | GPU peak | wall time |\n|---|---:|---:|---:|---:|")
  for framework, result, seconds, rss in rows:
    gpu = result.get("gpu_peak_bytes")
    label = "TF (hub.KerasLayer)" if framework == "tf" else "PyTorch (SentenceTransformer)"
    print(f"| {label} | {result['vocab_size']:,} | {rss / 2**30:.2f} GiB | "
          f"{f'{gpu / 2**30:.2f} GiB' if gpu else '-'} | {seconds:.0f} s |")


if __name__ == "__main__":
  app.run(main)
