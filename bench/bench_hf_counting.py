#!/usr/bin/env python3
"""Token counting throughput with a Hugging Face source's tokenizer, beside the TF counter.

One run, one process, the same corpus files: smaller_labse.vocabulary.tf_counting (the TF Hub
tokenizer, tensorflow_text) and smaller_labse.vocabulary.hf_counting.count_corpus (the tokenizers
library) with its word cache (split_words, the default) and without it (every line
encoded whole, on the first --exact_lines lines, which also checks that both ways give
identical counts).

Corpora: bench_counting.py's (Tatoeba sentences, --join per line, repeated to --tokens
tokens), and the same with a share --novel of its words made unique (a word plus a
number), which defeats the word cache as rare words and names do (how many words of a real
corpus are new to the cache depends on its size and language; ../shared has no Wikipedia
text to measure it).

  flock /tmp/bench.lock .venv/bin/python bench/bench_hf_counting.py
"""

import os
import random
import sys
import tempfile
import time
from typing import List, Sequence, Tuple

from absl import flags, logging

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))
from bench_counting import build_corpus  # noqa: E402  (and its flags: --tokens, --join...)
from smaller_labse.vocabulary import tf_counting  # noqa: E402
from smaller_labse.errors import run_cli  # noqa: E402
from smaller_labse.tokenizers.hf_loading import load_model_dir  # noqa: E402
from smaller_labse.tokenizers.hf_tokenizer import HfTokenizer  # noqa: E402
from smaller_labse.vocabulary.hf_counting import DEFAULT_BATCH_LINES, count_corpus  # noqa: E402
from smaller_labse.vocabulary.token_counts import DEFAULT_BATCH_SIZE  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("novel", ["0.05", "0.2"], "Shares of the words made unique, one corpus each.")
flags.DEFINE_integer("exact_lines", 30_000, "Lines counted without the word cache.")


def novel_corpus(source: str, path: str, share: float) -> None:
  """`source` with `share` of its space-separated words suffixed to be unique."""
  rng = random.Random(0)
  with open(source, encoding="utf-8", newline="") as f, \
      open(path, "w", encoding="utf-8", newline="") as out:
    for n, line in enumerate(f):
      words = line.rstrip("\n").split(" ")
      out.write(" ".join(w + f"{n:x}{i}" if rng.random() < share else w
                         for i, w in enumerate(words)) + "\n")


def hf_source(vocab_path: str, tmp: str) -> HfTokenizer:
  """LaBSE as sentence-transformers/LaBSE holds it (tokenizer.json from the exact vocab)."""
  from hf_tokenizer_agreement import write_sources  # pylint: disable=import-outside-toplevel
  return load_model_dir(write_sources(vocab_path, tmp)["tokenizer.json"])


def timed(function, *args, **kwargs) -> Tuple[object, float, float]:
  start, cpu = time.perf_counter(), sum(os.times()[:2])
  result = function(*args, **kwargs)
  return result, time.perf_counter() - start, sum(os.times()[:2]) - cpu


def main(argv: Sequence[str]) -> None:
  del argv
  from smaller_labse.tokenizers.vocab import read_vocab  # pylint: disable=import-outside-toplevel
  tf_vocab = read_vocab(FLAGS.vocab_file)
  rows: List[str] = []
  with tempfile.TemporaryDirectory() as tmp:
    tokenizer, load_s, _ = timed(hf_source, FLAGS.vocab_file, tmp)
    rows = tokenizer.row_tokens(len(tf_vocab))
    _, library_s, _ = timed(tokenizer.library)
    plain = os.path.join(tmp, "corpus.txt")
    build_corpus(plain, FLAGS.tokens, FLAGS.join)
    corpora = [("Tatoeba, repeated", plain)]
    for share in FLAGS.novel:
      corpora.append((f"the same, {float(share):.0%} of words unique",
                      os.path.join(tmp, f"novel_{share}.txt")))
      novel_corpus(plain, corpora[-1][1], float(share))
    tf_counter = tf_counting.Counter(tf_vocab)
    tf_counting.count_corpus(tf_counter, [plain], tf_vocab, max_sentences=100, desc="warm-up")
    table = []
    for name, path in corpora:
      tf_counts, tf_wall, tf_cpu = timed(tf_counting.count_corpus, tf_counter, [path], tf_vocab,
                                         max_sentences=10 ** 9, desc="TF")
      hf_counts, hf_wall, hf_cpu = timed(count_corpus, tokenizer, [path], rows,
                                         max_sentences=10 ** 9, desc="HF")
      # Stage 2 counted a Hugging Face source in TF counting's batches before issue 19.
      small, sm_wall, sm_cpu = timed(count_corpus, tokenizer, [path], rows,
                                     max_sentences=10 ** 9, batch_size=DEFAULT_BATCH_SIZE,
                                     desc="HF, small batches")
      exact, ex_wall, ex_cpu = timed(count_corpus, tokenizer, [path], rows,
                                     max_sentences=FLAGS.exact_lines, split_words=False,
                                     desc="HF, lines whole")
      prefix = count_corpus(tokenizer, [path], rows, max_sentences=FLAGS.exact_lines,
                            desc="HF, prefix")
      identical = (prefix.occurrences, prefix.doc_freqs) == (exact.occurrences, exact.doc_freqs)
      differ = sum(abs(tf_counts.occurrences.get(t, 0) - hf_counts.occurrences.get(t, 0))
                   for t in set(tf_counts.occurrences) | set(hf_counts.occurrences))
      table.append((name, tf_counts, tf_wall, tf_cpu, hf_counts, hf_wall, hf_cpu, small, sm_wall,
                    sm_cpu, exact, ex_wall, ex_cpu, identical, differ))
  print()
  print("## Token counting with a Hugging Face source's tokenizer (stage 2)")
  print()
  print(f"LaBSE's tokenizer as sentence-transformers/LaBSE holds it (tokenizer.json, "
        f"{len(tokenizer.vocab):,} tokens): read in {load_s:.1f} s, the library built in "
        f"{library_s:.1f} s. {os.cpu_count()} CPU cores. Corpus: bench_counting.py's "
        f"({FLAGS.join} Tatoeba sentences a line).")
  print()
  print("| corpus | counter | lines | tokens | wall s | tokens/s | CPU s / wall s | "
        "tokens / CPU s |")
  print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  for (name, tf_counts, tf_wall, tf_cpu, hf_counts, hf_wall, hf_cpu, small, sm_wall, sm_cpu,
       exact, ex_wall, ex_cpu, _, _) in table:
    for counter, counts, wall, cpu in (
        ("TF Hub tokenizer (tf_counting.py)", tf_counts, tf_wall, tf_cpu),
        (f"tokenizers, word cache, batches of {DEFAULT_BATCH_LINES:,} lines (stage 2's default)",
         hf_counts, hf_wall, hf_cpu),
        (f"tokenizers, word cache, batches of {DEFAULT_BATCH_SIZE:,} lines (stage 2's before "
         "issue 19)", small, sm_wall, sm_cpu),
        ("tokenizers, every line whole (split_words=False)", exact, ex_wall, ex_cpu)):
      print(f"| {name} | {counter} | {counts.num_lines:,} | {counts.num_tokens:,} | "
            f"{wall:.2f} | {counts.num_tokens / wall:,.0f} | {cpu / wall:.2f} | "
            f"{counts.num_tokens / cpu:,.0f} |")
  print()
  for name, tf_counts, *_, identical, differ in table:
    print(f"{name}: word cache and whole lines give identical counts on the first "
          f"{FLAGS.exact_lines:,} lines: {'yes' if identical else 'NO'}; the two tokenizers' "
          f"occurrences differ by {differ:,} of {tf_counts.num_tokens:,} tokens.")
  if not all(row[-2] for row in table):
    sys.exit(1)


if __name__ == "__main__":
  logging.set_verbosity(logging.WARNING)
  run_cli(main)
