"""Shared by test_hf_tokenizer.py and test_hf_preprocessor.py: tokenizer directories of
Hugging Face BERT sources, written the ways they exist on the Hub (saved by today's transformers,
a vocab.txt with a tokenizer_config.json, a tokenizer.json serialized by the tokenizers library:
sentence-transformers/LaBSE's layout; with added tokens, lower-cased), hard sentences, and the
oracle (tests/hf_oracle.py: the real transformers and sentence_transformers, in a subprocess)."""

import json
import os
import subprocess
import sys
import unicodedata
from typing import Dict, List, Tuple

import pytest

from conftest import ROOT, SHARED, tiny_vocab
from smaller_labse.tokenizers.hf_loading import load_model_dir
from smaller_labse.tokenizers.hf_tokenizer import HfTokenizer
from smaller_labse.tokenizers.vocab import RUST_WHITESPACE

SENTENCES = [
    "the weather is nice today", "Où est la gare\u202f? 100\xa0km", "a\u3000b a\xa0b a",
    "zero\u200bwidth zw\u200dj soft\xadhyphen \ufeffbom rtl\u200fmark",
    "cafe\u0301 noir n\u0303 A\u0308\u0301\u0323", "今天天气很好。 日本語のテキスト 한국어",
    "ภาษาไทย นะครับ", "😀 👍🏽 👨\u200d👩\u200d👧 🇫🇷 🥰",
    "é" * 60 + " ok",  # 120 bytes but 60 characters: one word for the library.
    "x" * 101 + " ok", "ж" * 100 + " ok",
    "[CLS] the [MASK] x[SEP]y [UNK]a [PAD]", "", "   ", "\t\n",
    "a\x00b\x85c\x1cd\ufffde\x7ff", "tab\there\x0bvt\x0cff\u2028ls",
    "İstanbul ΣΑΣ Élan ǅemal ﬁne", "¿Qué? «citation» —dash— wait… a.b,c $5+6=11 ~^`|<>",
    "\U0002B820x \U0002B920y \u4E00z",  # CJK ranges: the library skips U+2B820-U+2B91F.
    "Zork zork ZORK <ent>wea <ent> zorkish", "\U000105c9 \u0958 \U000E0001tag \ue000pua",
    "ﾊﾝｶｸ ＦＵＬＬ ① ²",
]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
COLLIDING = ["a\xa0", "##s\u3000", "\u2002"]  # After 'a', '##s', '\xa0': they take their ids.


def layout_vocab(colliding: bool = True) -> List[str]:
  """tiny_vocab(), every character of SENTENCES (lower-cased and NFD too) as 'x' and '##x',
  a few words, then lines that collide with earlier ones once trailing whitespace is
  trimmed (not `colliding`: no token with trailing whitespace)."""
  texts = SENTENCES + [s.lower() for s in SENTENCES]
  texts += [unicodedata.normalize("NFD", s) for s in texts]
  chars = sorted({c for s in texts for c in s
                  if c not in RUST_WHITESPACE and not c.isspace() and ord(c) >= 0x20})
  words = ["the", "weather", "nice", "today", "caf", "gare", "今天", "Zork", "zork", "wea", "##ther",
           "ok", "km", "##ing", "ﬁ"]
  tokens = tiny_vocab() + chars + ["##" + c for c in chars] + words
  if not colliding:  # tiny_vocab's whitespace tokens collide too.
    return [t for t in dict.fromkeys(tokens) if t == t.rstrip(RUST_WHITESPACE)]
  return list(dict.fromkeys(tokens + COLLIDING))


def write(path: str, name: str, value) -> None:
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, name), "w", encoding="utf-8", newline="") as f:
    f.write(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def vocab_text(tokens: List[str]) -> str:
  return "".join(t + "\n" for t in tokens)


def library_tokenizer_json(tokens: List[str], lower_case: bool = False) -> str:
  """A BERT tokenizer.json as the tokenizers library serializes one (exact vocab, no trimming)."""
  from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors
  library = Tokenizer(models.WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]"))
  library.normalizer = normalizers.BertNormalizer(lowercase=lower_case)
  library.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
  library.post_processor = processors.TemplateProcessing(
      single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
      special_tokens=[("[CLS]", tokens.index("[CLS]")), ("[SEP]", tokens.index("[SEP]"))])
  library.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
  return library.to_str()


def added_tokens_decoder(tokens: List[str]) -> Dict[str, object]:
  def entry(content, special, normalized, lstrip=False):
    return {"content": content, "lstrip": lstrip, "normalized": normalized, "rstrip": False,
            "single_word": False, "special": special}
  decoder = {str(tokens.index(t)): entry(t, True, False, lstrip=t == "[MASK]") for t in SPECIALS}
  decoder[str(len(tokens))] = entry("<ent>", True, False)
  decoder[str(len(tokens) + 1)] = entry("Zork", False, True)
  return decoder


BERT = {"tokenizer_class": "BertTokenizer"}
# name -> (files, or "save": BertTokenizerFast kwargs for transformers to save).
LAYOUTS = {
    "saved_cased": {"save": {"do_lower_case": False}},
    "saved_lower": {"save": {"do_lower_case": True}},
    "vocab_cased": {"tokenizer_config.json": {**BERT, "do_lower_case": False}},
    "vocab_lower_keep_accents": {"tokenizer_config.json": {
        "tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "strip_accents": False,
        "tokenize_chinese_chars": False}},
    "vocab_strip_accents": {"tokenizer_config.json": {**BERT, "do_lower_case": False,
                                                      "strip_accents": True}},
    "config_json_only": {"config.json": {"model_type": "bert"}},
    "library_json": {"tokenizer.json": "cased", "tokenizer_config.json": {
        **BERT, "do_lower_case": False, "tokenize_chinese_chars": True, "strip_accents": None},
        "special_tokens_map.json": {"cls_token": "[CLS]", "mask_token": "[MASK]",
                                    "pad_token": "[PAD]", "sep_token": "[SEP]",
                                    "unk_token": "[UNK]"}},
    "library_json_as_written": {"tokenizer.json": "lower", "tokenizer_config.json": {
        "tokenizer_class": "PreTrainedTokenizerFast", "cls_token": "[CLS]", "sep_token": "[SEP]",
        "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}},
    # Without collisions: transformers would give '<ent>' the id of a real row.
    "added_tokens": {"exact": True, "tokenizer_config.json": {
        **BERT, "do_lower_case": False, "added_tokens_decoder": "decoder"}},
    "added_tokens_lower": {"exact": True, "tokenizer_config.json": {
        **BERT, "do_lower_case": True, "added_tokens_decoder": "decoder"}},
    # The legacy files: special_tokens_map.json (a dict token) and added_tokens.json.
    "legacy_added_tokens": {
        "exact": True, "tokenizer_config.json": {**BERT, "do_lower_case": False},
        "special_tokens_map.json": {"mask_token": {
            "content": "[MASK]", "lstrip": True, "normalized": False, "rstrip": False,
            "single_word": False}},
        "added_tokens.json": "next"},
    "split_special_tokens": {"tokenizer_config.json": {**BERT, "do_lower_case": False,
                                                       "split_special_tokens": True}},
}


def build_layout(path: str, spec: Dict[str, object]) -> None:
  tokens = layout_vocab(colliding=not spec.get("exact"))
  write(path, "vocab.txt", vocab_text(tokens))
  for name, value in spec.items():
    if name == "exact":
      continue
    if name == "tokenizer.json":
      value = library_tokenizer_json(tokens, lower_case=value == "lower")
    elif value == "next":
      value = {"<ent>": len(tokens), "Zork": len(tokens) + 1}
    elif isinstance(value, dict) and value.get("added_tokens_decoder") == "decoder":
      value = {**value, "added_tokens_decoder": added_tokens_decoder(tokens)}
    if name != "save":
      write(path, name, value)


def run_oracle(request: Dict[str, object], tmp_dir: str) -> Dict[str, object]:
  """tests/hf_oracle.py's answer (real transformers and sentence_transformers)."""
  pytest.importorskip("transformers")
  path = os.path.join(tmp_dir, "oracle_request.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(request, f, ensure_ascii=False)
  env = dict(os.environ, TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error",
             HF_HUB_OFFLINE="1")
  result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hf_oracle.py"), path],
                          capture_output=True, text=True, env=env, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout)


LABSE_VOCAB = os.path.join(SHARED, "data", "labse", "cased_vocab.txt")
needs_shared = pytest.mark.skipif(not os.path.exists(LABSE_VOCAB), reason="../shared not present")


def labse_source(path: str) -> HfTokenizer:
  """LaBSE's vocab.txt with sentence-transformers/LaBSE's tokenizer_config.json, in `path`."""
  with open(LABSE_VOCAB, encoding="utf-8") as f:
    write(path, "vocab.txt", f.read())
  write(path, "tokenizer_config.json", {**BERT, "do_lower_case": False,
                                        "tokenize_chinese_chars": True, "strip_accents": None})
  return load_model_dir(path)


def build_layouts(root: str, with_transformers: bool) -> Tuple[Dict[str, str], Dict[str, dict]]:
  """LAYOUTS under `root`: (name -> directory, run_oracle's "save" request for those that
  transformers writes; without `with_transformers` they are left out)."""
  dirs, save = {}, {}
  for name, spec in LAYOUTS.items():
    path = os.path.join(root, name)
    if "save" in spec:
      if not with_transformers:
        continue
      vocab_path = os.path.join(root, name + "_vocab.txt")
      write(root, name + "_vocab.txt", vocab_text(layout_vocab()))
      save[path] = {"vocab": vocab_path, **spec["save"]}
    else:
      build_layout(path, spec)
    dirs[name] = path
  return dirs, save


def flat(ragged) -> List[List[int]]:
  """A tokenize() result [B, words, wordpieces] as lists of ids."""
  return [[i for word in line for i in word] for line in ragged.to_list()]
