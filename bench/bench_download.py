"""Benchmark of download_dataset.sh: bytes and time with and without --max_lines.

  python bench/bench_download.py [--dump_lines=400000] [--max_lines=100000]
      [--tatoeba_dir=../shared/data/tatoeba_dev] [--counts_dir=../shared/data/wiki_token_counts]

1. Serves a synthetic Wikipedia-like dump `en.txt.gz` from a local HTTP server
   (tests/http_fixtures.MirrorServer on 127.0.0.1, no pacing) and runs
   `download_dataset.sh --max_lines=N` and `--full` against it with real curl,
   reporting the bytes the server sent, the bytes written to data/en.txt, and
   wall time. Paragraphs are Tatoeba sentences (from --tatoeba_dir, all
   languages mixed) glued 1 to 12 at a time, with 10% of lines of 5 characters
   or fewer, as stage 2 skips them; without Tatoeba, random words.
2. Estimates what the real default (1,000,000 long lines) downloads per
   language: tokens per counted line from the original release's counts (the
   first 1M Wikipedia lines longer than 5 characters), times bytes per token and
   gzip's compression ratio measured on that language's Tatoeba sentences
   (zh_classical: Chinese's). An estimate: Wikipedia paragraphs are not Tatoeba
   sentences, and the short lines between paragraphs are not counted.
"""

import glob
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tests.http_fixtures import MirrorServer  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("dump_lines", 400_000, "Lines of the synthetic dump.")
flags.DEFINE_integer("max_lines", 100_000, "--max_lines for the streamed run.")
flags.DEFINE_string("tatoeba_dir", os.path.join(ROOT, "..", "shared", "data", "tatoeba_dev"),
                    "Tatoeba files to build paragraphs from (and to estimate bytes per token).")
flags.DEFINE_string("counts_dir", os.path.join(ROOT, "..", "shared", "data", "wiki_token_counts"),
                    "The original release's counts, for the per-language estimate.")
flags.DEFINE_string("vocab", os.path.join(ROOT, "..", "shared", "data", "labse", "cased_vocab.txt"),
                    "The LaBSE vocab, for the per-language estimate.")

WIKI_TO_TATOEBA = {"en": "eng", "fr": "fra", "es": "spa", "de": "deu", "zh": "cmn", "ar": "ara",
                   "zh_classical": "cmn", "it": "ita", "ja": "jpn", "ko": "kor", "nl": "nld",
                   "pl": "pol", "pt": "por", "th": "tha", "tr": "tur", "ru": "rus"}


def tatoeba_sentences(tatoeba_dir: str) -> Dict[str, List[str]]:
  """Tatoeba code -> its sentences (English: the English sides of every pair)."""
  result: Dict[str, List[str]] = {}
  for path in sorted(glob.glob(os.path.join(tatoeba_dir, "tatoeba.*-eng.*"))):
    code = path.rsplit(".", 1)[-1]
    with open(path, encoding="utf-8") as f:
      result.setdefault(code, []).extend(line.rstrip("\n") for line in f if line.strip())
  return result


def synthetic_dump(lines: int, sentences: List[str], seed: int = 0) -> str:
  rng = random.Random(seed)
  out = []
  for _ in range(lines):
    if rng.random() < 0.1:
      out.append(rng.choice(["", "abc", "12345", "Notes"]))
    elif sentences:
      out.append(" ".join(rng.choice(sentences) for _ in range(rng.randint(1, 12))))
    else:
      out.append(" ".join(f"{rng.getrandbits(24):06x}" for _ in range(rng.randint(5, 80))))
  return "".join(line + "\n" for line in out)


def run_download(server: MirrorServer, args: List[str], workdir: str
                 ) -> Tuple[float, int, dict, int]:
  """(wall seconds, bytes the server sent, the sidecar, gzip size of the file written) of one
  download_dataset.sh run."""
  shutil.rmtree(workdir, ignore_errors=True)
  os.makedirs(workdir)
  server.bytes_sent.clear()
  env = {k: v for k, v in os.environ.items()
         if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
  env.update(WIKI_BASE_URL=server.url, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
  start = time.perf_counter()
  subprocess.run([os.path.join(ROOT, "download_dataset.sh"), *args, "en"], cwd=workdir, env=env,
                 check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  wall = time.perf_counter() - start
  with open(os.path.join(workdir, "data", "en.txt.json")) as f:
    meta = json.load(f)
  with open(os.path.join(workdir, "data", "en.txt"), "rb") as f:
    needed = len(gzip.compress(f.read(), compresslevel=6, mtime=0))
  return wall, server.bytes_sent.get("/en.txt.gz", 0), meta, needed


def estimate_per_language(sentences: Dict[str, List[str]]) -> List[Tuple[str, float, float, float]]:
  """(lang, tokens per counted line, estimated MB of text, estimated MB gzip) per language."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from smaller_labse.vocabulary import token_counts  # pylint: disable=g-import-not-at-top
  from smaller_labse.tokenizers.tf_bert_tokenizer import bert_tokenizer  # pylint: disable=g-import-not-at-top
  from smaller_labse.tokenizers.vocab import read_vocab  # pylint: disable=g-import-not-at-top
  tokenizer = bert_tokenizer(read_vocab(FLAGS.vocab))
  rows = []
  for lang, code in WIKI_TO_TATOEBA.items():
    if (not os.path.exists(token_counts.freqs_path(FLAGS.counts_dir, lang))
        or code not in sentences):
      continue
    counts = token_counts.read_counts(FLAGS.counts_dir, lang)
    tokens_per_line = counts.num_tokens / 1_000_000
    text = "".join(s + "\n" for s in sentences[code]).encode()
    n_tokens = int(tokenizer.tokenize(tf.constant(sentences[code])).flat_values.shape[0])
    bytes_per_token = len(text) / n_tokens
    ratio = len(gzip.compress(text)) / len(text)
    text_mb = tokens_per_line * bytes_per_token  # MB for 1,000,000 lines
    rows.append((lang, tokens_per_line, text_mb, text_mb * ratio))
  return rows


def main(argv):
  del argv
  sentences = tatoeba_sentences(FLAGS.tatoeba_dir) if os.path.isdir(FLAGS.tatoeba_dir) else {}
  mixed = [s for code in sorted(sentences) for s in sentences[code]]
  text = synthetic_dump(FLAGS.dump_lines, mixed)
  data = gzip.compress(text.encode(), compresslevel=6, mtime=0)
  print(f"synthetic dump: {FLAGS.dump_lines:,} lines, {len(text.encode()) / 1e6:.1f} MB of text, "
        f"{len(data) / 1e6:.1f} MB gzip ({'Tatoeba paragraphs' if mixed else 'random words'})")
  print("| run | server sent | gzip of data/en.txt alone | data/en.txt | lines (long) | prefix | "
        "wall time |")
  print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
  work = tempfile.mkdtemp(prefix="bench_download_")
  with MirrorServer() as server:
    server.files["/en.txt.gz"] = data
    for args in ([f"--max_lines={FLAGS.max_lines}"], ["--full"]):
      wall, sent, meta, needed = run_download(server, args, os.path.join(work, "w"))
      print(f"| `{' '.join(args)}` | {sent / 1e6:.1f} MB | {needed / 1e6:.1f} MB | "
            f"{meta['bytes'] / 1e6:.1f} MB | "
            f"{meta['lines']:,} ({meta['long_lines']:,}) | {str(meta['prefix']).lower()} | "
            f"{wall:.2f} s |")
  shutil.rmtree(work, ignore_errors=True)
  if sentences and os.path.isdir(FLAGS.counts_dir) and os.path.exists(FLAGS.vocab):
    print("\nEstimate for the default --max_lines=1000000 (see the module docstring):")
    print("| lang | tokens per counted line | text (est.) | gzip downloaded (est.) |")
    print("| --- | ---: | ---: | ---: |")
    total = 0.0
    for lang, per_line, text_mb, gz_mb in estimate_per_language(sentences):
      total += gz_mb
      print(f"| {lang} | {per_line:.1f} | {text_mb:.0f} MB | {gz_mb:.0f} MB |")
    print(f"| all | | | {total:.0f} MB |")


if __name__ == "__main__":
  app.run(main)
