"""Token counting throughput: smaller_labse.vocabulary.tf_counting vs the original select_vocab.py approach.

The original approach tokenizes with `BertTokenizer(token_out_type=tf.string)`
and decodes every token in a Python loop. Both run in the same process on the
same corpus file: ours on all of it, the original on its first
`--original_lines` lines (it is ~100x slower), and ours again on those lines to
check that the counts are identical.

Corpus: `--corpus` files, or by default Wikipedia-like lines built from
../shared/data/tatoeba_dev (every file, `--join` consecutive sentences per line,
the whole set repeated until `--tokens` tokens).

  flock /tmp/bench.lock .venv/bin/python bench/bench_counting.py
"""

import glob
import os
import resource
import sys
import tempfile
import time
from typing import List, Sequence

from absl import flags, logging

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from smaller_labse.vocabulary import tf_counting, token_counts  # noqa: E402
from smaller_labse.errors import InputError, run_cli  # noqa: E402
from smaller_labse.tokenizers.vocab import read_vocab  # noqa: E402
# The original approach, the baseline measured here, is the tests' oracle.
from tests.counting_oracle import read_filtered_lines, reference_counts  # noqa: E402

_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..",
                       "shared", "data")
FLAGS = flags.FLAGS
flags.DEFINE_string("vocab_file", os.path.join(_SHARED, "labse", "cased_vocab.txt"),
                    "WordPiece vocab (default: the real LaBSE vocab in ../shared).")
flags.DEFINE_list("corpus", None, "Corpus text files (default: built from ../shared tatoeba_dev).")
flags.DEFINE_integer("tokens", 6_000_000, "Approximate size of the built corpus, in tokens.")
flags.DEFINE_integer("join", 6, "Sentences per line in the built corpus.")
flags.DEFINE_integer("original_lines", 4000, "Lines the original approach counts.")
flags.DEFINE_integer("repeats", 3, "Runs of our counter; the best is reported.")


def build_corpus(path: str, tokens: int, join: int) -> None:
  """Writes Wikipedia-like lines from tatoeba_dev: `join` sentences of one file per line."""
  files = sorted(glob.glob(os.path.join(_SHARED, "tatoeba_dev", "tatoeba.*")))
  if not files:
    raise InputError(f"{os.path.join(_SHARED, 'tatoeba_dev')}: not found; pass --corpus")
  paragraphs: List[str] = []
  for name in files:
    with open(name, encoding="utf-8", newline="") as f:
      sentences = f.read().split("\n")
    paragraphs += [" ".join(sentences[i:i + join]) for i in range(0, len(sentences), join)]
  text = "\n".join(p for p in paragraphs if p) + "\n"
  approx_tokens = len(text.split())  # a rough lower bound, enough to size the repeats
  with open(path, "w", encoding="utf-8", newline="") as f:
    f.write(text * max(1, round(tokens / max(approx_tokens * 1.3, 1))))


def time_ours(counter: tf_counting.Counter, paths: Sequence[str], vocab: Sequence[str],
              max_sentences: int) -> tuple:
  start, cpu = time.perf_counter(), sum(os.times()[:2])
  counts = tf_counting.count_corpus(counter, paths, vocab, max_sentences=max_sentences,
                                 desc="ours")
  wall, cpu = time.perf_counter() - start, sum(os.times()[:2]) - cpu
  return counts, wall, cpu


def main(argv: Sequence[str]) -> None:
  del argv
  vocab = read_vocab(FLAGS.vocab_file)
  with tempfile.TemporaryDirectory() as tmp:
    paths = FLAGS.corpus
    if not paths:
      paths = [os.path.join(tmp, "corpus.txt")]
      build_corpus(paths[0], FLAGS.tokens, FLAGS.join)
    counter = tf_counting.Counter(vocab)
    # Warm-up (graph tracing, the routing pattern) on a few lines, not timed.
    tf_counting.count_corpus(counter, paths, vocab, max_sentences=100, desc="warm-up")
    best = None
    for _ in range(FLAGS.repeats):
      counts, wall, cpu = time_ours(counter, paths, vocab,
                                    token_counts.DEFAULT_MAX_SENTENCES * 1000)
      if best is None or wall < best[1]:
        best = (counts, wall, cpu)
    counts, wall, cpu = best
    ours_rate = counts.num_tokens / wall

    lines = read_filtered_lines(paths, max_sentences=FLAGS.original_lines)
    start = time.perf_counter()
    occurrences, doc_freqs = reference_counts(lines, vocab)
    original_wall = time.perf_counter() - start
    original_tokens = sum(occurrences.values())
    prefix = tf_counting.count_corpus(counter, paths, vocab, max_sentences=FLAGS.original_lines,
                                   desc="ours (prefix)")
    identical = prefix.occurrences == occurrences and prefix.doc_freqs == doc_freqs
  original_rate = original_tokens / original_wall
  peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print()
  print("## Token counting (stage 2)")
  print()
  print(f"Corpus: {counts.num_lines:,} lines, {counts.num_tokens:,} tokens"
        f"{' (' + ', '.join(FLAGS.corpus) + ')' if FLAGS.corpus else ' (tatoeba_dev, ' + str(FLAGS.join) + ' sentences per line, repeated)'}; "
        f"vocab {len(vocab):,} tokens; {os.cpu_count()} CPU cores.")
  print()
  print("| counter | tokens | wall s | tokens/s | CPU s / wall s |")
  print("| --- | ---: | ---: | ---: | ---: |")
  print(f"| original (BertTokenizer strings + Python loop) | {original_tokens:,} | "
        f"{original_wall:.2f} | {original_rate:,.0f} | - |")
  print(f"| smaller_labse.vocabulary.tf_counting (best of {FLAGS.repeats}) | {counts.num_tokens:,} | {wall:.2f} | "
        f"{ours_rate:,.0f} | {cpu / wall:.2f} |")
  print()
  print(f"Speed-up: {ours_rate / original_rate:.0f}x. Counts identical to the original approach "
        f"on the first {len(lines):,} lines (occurrences and line frequencies): "
        f"{'yes' if identical else 'NO'}. Peak RSS {peak_mb:,.0f} MB.")
  if not identical:
    sys.exit(1)


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  run_cli(main)
