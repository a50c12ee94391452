#!/usr/bin/env python3
"""Does the Sentence Transformers export's tokenizer give the TF Hub preprocessor's ids?

Builds the export's tokenizer.json for a vocab (smaller_labse.tokenizers.tf_hub_wordpiece) and
compares, line by line, the ids of `tokenizers.Tokenizer` (what AutoTokenizer runs)
with those of the TF Hub preprocessor's tokenizer (tensorflow_text.BertTokenizer,
smaller_labse.tokenizers.tf_hub_preprocessor.Preprocessor), on every line of the Tatoeba files and on
hard cases (no-break spaces, control and format characters, combining marks, CJK,
emoji, over-long words, empty lines).

  python bench/st_tokenizer_agreement.py --vocab=../shared/data/labse/cased_vocab.txt \
      --tatoeba='../shared/data/tatoeba_dev/tatoeba.*'
"""

import glob
import json
import os
import sys
from typing import Dict, List, Sequence, Tuple

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

EDGE_CASES = {
    "no-break spaces": ["100\xa0km", "Bonjour\u202f!", "Quoi\u202f?", "a\u3000b", "x\u2009y",
                        "a\u2028b\u2029c", "\xa0", "\u202f\u202f"],
    "control characters": ["a\x00b", "tab\there", "new\nline", "cr\rlf", "\x0bvt\x0cff",
                           "del\x7fete", "nel\x85x", "\x1b[31mred"],
    "format characters": ["zero\u200bwidth", "zw\u200cnj", "zw\u200dj", "soft\xadhyphen",
                          "\ufeffbom", "rtl\u200fmark", "\u2066isolate\u2069", "tag\U000e0001"],
    "combining marks": ["e\u0301", "cafe\u0301 noir", "n\u0303", "नमस्ते", "مَرْحَبًا",
                        "ภาษาไทย", "Ä\u0308"],
    "CJK": ["今天天气很好。", "𠀀𠀁𠀂", "日本語のテキストです", "한국어 문장", "兀豈", "々〆",
            "天下大勢，分久必合"],
    "emoji and symbols": ["😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "€5 ©2024 ±3°C", "bad\ufffdchar",
                          "\ue000", "\U0010ffff"],
    "punctuation": ["¿Qué?", "«citation»", "—dash—", "wait…", "a.b,c", "$5+6=11", "~^`|<>",
                    "Привет,мир!"],
    "over-long words": ["a" * 100, "a" * 101, "é" * 50, "é" * 51, "ж" * 60, "ไทย" * 12,
                        "😀" * 25, "😀" * 26, "x" * 300 + " ok"],
    "empty and blank": ["", " ", "\t\n", "   a   "],
    "special tokens as text": ["[CLS]", "[UNK] x", "[unused1]", "[MASK][SEP]", "[PAD]"],
}

flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The WordPiece vocab.")
flags.DEFINE_string("tatoeba", "../shared/data/tatoeba_dev/tatoeba.*",
                    "Glob of Tatoeba files (tatoeba.{xxx}-eng.{xxx,eng}).")
FLAGS = flags.FLAGS


def tf_ids(vocab_path: str, tokens: List[str], lines: Sequence[str]) -> List[List[int]]:
  """The TF Hub preprocessor's token ids of each line (no [CLS]/[SEP])."""
  import tensorflow as tf
  from smaller_labse.tokenizers import tf_hub_preprocessor
  pre = tf_hub_preprocessor.Preprocessor(vocab_path, tokens, lower_case=False)
  out: List[List[int]] = []
  for start in range(0, len(lines), 2048):
    batch = pre.tokenize(tf.constant(list(lines[start:start + 2048])))
    out += [[i for word in line for i in word] for line in batch.to_list()]
  return out


def hf_ids(tokens: List[str], lines: Sequence[str]) -> List[List[int]]:
  """The export's tokenizer.json, run by the tokenizers library (no [CLS]/[SEP])."""
  from tokenizers import Tokenizer
  from smaller_labse.tokenizers import tf_hub_wordpiece
  tokenizer = Tokenizer.from_str(json.dumps(tf_hub_wordpiece.tokenizer_json(tokens)))
  return [e.ids for e in tokenizer.encode_batch(list(lines), add_special_tokens=False)]


def stock_bert_ids(tokens: List[str], lines: Sequence[str]) -> List[List[int]]:
  """Hugging Face's own cased BertTokenizer pipeline (what the common LaBSE ports ship)."""
  from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
  tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]",
                                         max_input_chars_per_word=100))
  tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                    strip_accents=False, lowercase=False)
  tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  return [e.ids for e in tokenizer.encode_batch(list(lines), add_special_tokens=False)]


def compare(vocab_path: str, groups: Dict[str, List[str]], stock: bool = False
            ) -> List[Tuple[str, int, int, List[str], int]]:
  """Per group: (name, lines identical, lines, the differing lines, lines identical with
  the stock BertTokenizer (-1 unless `stock`))."""
  from smaller_labse.tokenizers import vocab
  tokens = vocab.read_vocab(vocab_path)
  names = list(groups)
  lines = [line for name in names for line in groups[name]]
  ours, theirs = hf_ids(tokens, lines), tf_ids(vocab_path, tokens, lines)
  bert = stock_bert_ids(tokens, lines) if stock else None
  rows, at = [], 0
  for name in names:
    n = len(groups[name])
    differ = [lines[at + i] for i in range(n) if ours[at + i] != theirs[at + i]]
    stock_same = sum(bert[at + i] == theirs[at + i] for i in range(n)) if bert else -1
    rows.append((name, n - len(differ), n, differ, stock_same))
    at += n
  return rows


def tatoeba_groups(pattern: str) -> Dict[str, List[str]]:
  groups: Dict[str, List[str]] = {}
  for path in sorted(glob.glob(pattern)):
    side = path.rsplit(".", 1)[1]
    pair = os.path.basename(path).split(".")[1]
    label = side if side != "eng" else f"eng ({pair})"
    with open(path, encoding="utf-8", newline="") as f:
      groups[label] = f.read().split("\n")[:-1]  # Lines as the evaluation reads them.
  return groups


def main(argv):
  del argv
  groups = {**tatoeba_groups(FLAGS.tatoeba), **EDGE_CASES}
  rows = compare(FLAGS.vocab, groups, stock=True)
  print("| lines | lines | identical ids: the export's tokenizer.json | "
        "Hugging Face's stock BertTokenizer |\n|---|---:|---:|---:|")
  total_same = total = total_stock = 0
  for name, same, n, differ, stock_same in rows:
    total_same, total, total_stock = total_same + same, total + n, total_stock + stock_same
    print(f"| {name} | {n:,} | {same:,} ({100 * same / max(n, 1):.2f}%) | "
          f"{stock_same:,} ({100 * stock_same / max(n, 1):.2f}%) |")
  print(f"| all | {total:,} | {total_same:,} ({100 * total_same / total:.2f}%) | "
        f"{total_stock:,} ({100 * total_stock / total:.2f}%) |")
  for name, _, _, differ, _ in rows:
    for line in differ[:5]:
      print(f"differs ({name}): {line!r}")


if __name__ == "__main__":
  app.run(main)
