"""Benchmark of stage 4: the fast Tatoeba embedding vs the original method, full-size LaBSE.

  flock /tmp/bench.lock .venv/bin/python bench/bench_tatoeba.py

Builds (once, cached in --cache_dir) a random-weight model of LaBSE/2's full size and
format (the real 501,153-token vocab, 12 layers, hidden 768, 12 heads, intermediate 3072)
and measures, in the same run:
- the machine's fp32 matmul peak (best of several [4096, 4096] x [4096, 4096] tf.matmul);
- the original method (batches of 32 padded to 128 in file order) on a subset: the first
  --original_lines lines of both sides of the first --original_langs languages (every batch
  is padded to 128, so its cost per sentence does not depend on which sentences);
- the fast method (`tatoeba.embed`) on every sentence of every pair of --data_dir;
- the largest difference between the two methods' embeddings on the subset.

Utilisation counts the model FLOPs of real tokens only (no padding): for a sentence of n
tokens ([CLS] and [SEP] included), n * 2 * P + 4 * L * D * n^2, where P is the number of
transformer matmul weights (L * (4 D^2 + 2 D I) = 84.9M) and the second term is attention
(QK^T and PV over the sentence's own n keys). The fast method computes the last layer for
[CLS] only, so it executes fewer FLOPs than that; both figures are reported.
"""

import os
import sys
import time
from typing import List, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from smaller_labse import atomic, languages, tatoeba  # noqa: E402
from smaller_labse.formats import tf_hub  # noqa: E402
from smaller_labse.tokenizers import vocab as vocab_lib  # noqa: E402
from smaller_labse.model.config import EncoderConfig  # noqa: E402
from smaller_labse.model.encoder import Encoder  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "LaBSE's vocab.")
flags.DEFINE_string("data_dir", "../shared/data/tatoeba_dev", "Tatoeba pairs.")
flags.DEFINE_string("langs", ",".join(languages.DEFAULT_TATOEBA_LANGS), "Languages.")
flags.DEFINE_string("cache_dir", "/tmp/bench_models", "Where the full-size model is cached.")
flags.DEFINE_integer("original_lines", 32, "Lines per side per language for the original.")
flags.DEFINE_integer("original_langs", 4, "Languages for the original method.")
flags.DEFINE_integer("max_batch_tokens", tatoeba.DEFAULT_MAX_BATCH_TOKENS, "Fast batch size.")
flags.DEFINE_string("output", None, "Also write the Markdown here.")
flags.DEFINE_string("model", None, "An existing full-size encoder (e.g. bench_stages.py's "
                    "downloads/labse-2) instead of building one; needs --preprocess.")
flags.DEFINE_string("preprocess", None, "The preprocessor of --model.")

HIDDEN, LAYERS, HEADS, INTERMEDIATE = 768, 12, 12, 3072


def build_model(cache_dir: str, vocab_path: str) -> str:
  """The full-size random-weight model in LaBSE/2's format; returns its directory."""
  out = os.path.join(cache_dir, "labse_full_random")
  if os.path.isfile(os.path.join(out, "preprocess", "saved_model.pb")):
    return out
  tokens = vocab_lib.read_token_file(vocab_path)
  print(f"building a {len(tokens)}-token 12x768 random model in {out} (a few minutes)...",
        flush=True)
  encoder = Encoder(EncoderConfig(vocab_size=len(tokens), hidden_size=HIDDEN, num_layers=LAYERS,
                                  num_heads=HEADS, intermediate_size=INTERMEDIATE), seed=0)
  with atomic.atomic_path(out, is_dir=True) as tmp:
    tf_hub.export_encoder(encoder, tokens, os.path.join(tmp, "encoder"))
    tf_hub.export_preprocessor(tokens, os.path.join(tmp, "preprocess"))
  return out


class Clock:
  """Wall time and this process's CPU time (all threads) since creation."""

  def __init__(self):
    self.wall, self.cpu = time.perf_counter(), time.process_time()

  def elapsed(self):
    return time.perf_counter() - self.wall, time.process_time() - self.cpu


def matmul_peak(size: int = 4096, repeats: int = 4, rounds: int = 3):
  """Best fp32 tf.matmul throughput: (FLOP per wall second, FLOP per CPU second)."""
  a = tf.random.normal([size, size], seed=1)
  b = tf.random.normal([size, size], seed=2)
  tf.matmul(a, b).numpy()
  best_wall = best_cpu = 0.0
  for _ in range(rounds):
    clock = Clock()
    for _ in range(repeats):
      c = tf.matmul(a, b)
    c.numpy()
    wall, cpu = clock.elapsed()
    best_wall = max(best_wall, repeats * 2 * size ** 3 / wall)
    best_cpu = max(best_cpu, repeats * 2 * size ** 3 / cpu)
  return best_wall, best_cpu


def time_original(model: tatoeba.Model, subset: Sequence[str]):
  """(embeddings, (wall seconds, CPU seconds)) of the original method on `subset`."""
  clock = Clock()
  embeddings = np.concatenate([model.embed_original(subset[i:i + 64])
                               for i in range(0, len(subset), 64)])
  return embeddings, clock.elapsed()


def real_token_flops(lengths: np.ndarray, last_layer_cls_only: bool = False) -> float:
  """Model FLOPs of sentences of `lengths` real tokens (see the module docstring)."""
  weights = 4 * HIDDEN * HIDDEN + 2 * HIDDEN * INTERMEDIATE  # matmul weights per layer
  n = lengths.astype(np.float64)
  per_layer = n * 2 * weights + 4 * HIDDEN * n * n
  if not last_layer_cls_only:
    return float(np.sum(LAYERS * per_layer))
  # Last layer: K and V for every token, Q / attention / output / FFN for [CLS] only.
  last = n * 2 * 2 * HIDDEN * HIDDEN + 2 * (2 * HIDDEN * HIDDEN + 2 * HIDDEN * INTERMEDIATE) \
      + 4 * HIDDEN * n
  return float(np.sum((LAYERS - 1) * per_layer + last))


def main(argv: Sequence[str]) -> None:
  del argv
  if FLAGS.model:
    encoder_dir, preprocess_dir = FLAGS.model, FLAGS.preprocess
  else:
    model_dir = build_model(FLAGS.cache_dir, FLAGS.vocab)
    encoder_dir = os.path.join(model_dir, "encoder")
    preprocess_dir = os.path.join(model_dir, "preprocess")
  langs = languages.parse_tatoeba_langs(FLAGS.langs)
  pairs = [tatoeba.load_pair(FLAGS.data_dir, lang) for lang in langs]
  sentences = [s for p in pairs for s in p.eng + p.xx]
  subset = [s for p in pairs[:FLAGS.original_langs]
            for s in p.eng[:FLAGS.original_lines] + p.xx[:FLAGS.original_lines]]
  load = Clock()
  model = tatoeba.load_model(encoder_dir, preprocess_dir, "LaBSE-size")
  load_s = load.elapsed()[0]
  assert model.rebuilt is not None, "the rebuilt graph should apply to this model"
  peak_before = matmul_peak()

  # Warm-up (tracing) outside the timings.
  model.embed_original(subset[:32])
  tatoeba.embed(model, subset[:64], max_batch_tokens=FLAGS.max_batch_tokens)

  # Other work on the machine slows whichever phase it overlaps: the original method runs
  # before and after the fast one and its best time is kept (which favours the original).
  original, (original_s, original_cpu) = time_original(model, subset)
  stats = tatoeba.EmbedStats()
  clock = Clock()
  fast = tatoeba.embed(model, sentences, max_batch_tokens=FLAGS.max_batch_tokens, stats=stats)
  fast_s, fast_cpu = clock.elapsed()
  _, (again_s, again_cpu) = time_original(model, subset)
  original_s, original_cpu = min(original_s, again_s), min(original_cpu, again_cpu)
  peak_after = matmul_peak()
  peak, peak_cpu = max(peak_before[0], peak_after[0]), max(peak_before[1], peak_after[1])

  index = {s: i for i, s in enumerate(sentences)}
  diff = float(np.max(np.abs(fast[[index[s] for s in subset]] - original)))
  _, lengths = model.tokenize(sorted(set(sentences)))
  lengths = np.minimum(lengths, tatoeba.DEFAULT_MAX_SEQ_LENGTH - 2) + 2
  model_flops = real_token_flops(lengths)
  executed_flops = real_token_flops(lengths, last_layer_cls_only=True)
  cpu_speedup = (len(sentences) / fast_cpu) / (len(subset) / original_cpu)
  original_rate = len(subset) / original_s
  fast_rate = len(sentences) / fast_s
  rows: List[List[str]] = [
      ["original (32 per batch, padded to 128, file order)",
       f"{len(subset)} (first {FLAGS.original_lines} lines of both sides of "
       f"{', '.join(langs[:FLAGS.original_langs])})",
       f"{original_s:.1f}", f"{original_rate:.1f}", "1.0x", "-"],
      [f"fast (dedup, sorted, {FLAGS.max_batch_tokens}-token batches, rebuilt graph)",
       f"{len(sentences)} (all {len(pairs)} pairs; {stats.sentences} distinct)",
       f"{fast_s:.1f}", f"{fast_rate:.1f}", f"{fast_rate / original_rate:.1f}x",
       f"{100 * model_flops / fast_s / peak:.0f}% ({100 * executed_flops / fast_s / peak:.0f}%)"],
  ]
  header = ["method", "sentences", "seconds", "sentences/s", "speedup",
            "% of matmul peak on real tokens (executed)"]
  widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
  fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
  lines = [
      "### Tatoeba evaluation (stage 4), full-size LaBSE, random weights",
      "",
      f"Model: LaBSE/2 format, 501,153-token vocab, {LAYERS} layers x {HIDDEN} "
      f"(built by bench/bench_tatoeba.py); data: {FLAGS.data_dir}; "
      f"{os.cpu_count()} CPU cores; TF {tf.__version__}; "
      f"GPU: {'yes' if tf.config.list_physical_devices('GPU') else 'no'}.",
      "",
      fmt(header), "| " + " | ".join("-" * w for w in widths) + " |", fmt(rows[0]), fmt(rows[1]),
      "",
      f"- fp32 matmul peak (best [4096,4096]x[4096,4096] tf.matmul): {peak / 1e9:.0f} GFLOP/s "
      f"(before: {peak_before[0] / 1e9:.0f}, after: {peak_after[0] / 1e9:.0f}); the original's "
      f"time is the best of two runs (before and after the fast one).",
      f"- Measured in CPU time instead (process time of all threads, which other work on the "
      f"machine does not inflate): speedup {cpu_speedup:.1f}x; "
      f"matmul peak {peak_cpu / 1e9:.0f} GFLOP per CPU-second, the fast method "
      f"{model_flops / fast_cpu / 1e9:.0f} on real tokens = "
      f"{100 * model_flops / fast_cpu / peak_cpu:.0f}% "
      f"({100 * executed_flops / fast_cpu / peak_cpu:.0f}% executed).",
      f"- Real tokens ([CLS]/[SEP] included) of the distinct sentences: {int(lengths.sum())}; "
      f"padded positions computed: {stats.padded_tokens} "
      f"({100 * (1 - stats.real_tokens / stats.padded_tokens):.1f}% padding) in "
      f"{stats.batches} batches.",
      f"- Model FLOPs on real tokens: sum over sentences of n*2*P + 4*L*D*n^2 with "
      f"P = L*(4D^2 + 2DI) = 84.9M: {model_flops / 1e12:.2f} TFLOP "
      f"({model_flops / fast_s / 1e9:.0f} GFLOP/s); executed (last layer for [CLS] only): "
      f"{executed_flops / 1e12:.2f} TFLOP ({executed_flops / fast_s / 1e9:.0f} GFLOP/s).",
      f"- Largest |fast - original| over the subset's normalised embeddings: {diff:.2e}.",
      f"- Model: {encoder_dir}; loading it, with the layer-by-layer proof that gives it the "
      f"fast path, took {load_s:.1f} s.",
  ]
  text = "\n".join(lines) + "\n"
  print(text, flush=True)
  if FLAGS.output:
    atomic.write_text(FLAGS.output, text)


if __name__ == "__main__":
  app.run(main)
