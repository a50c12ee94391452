"""TF Hub's WordPiece: `tensorflow_text.BertTokenizer` on a vocab, what LaBSE/2's preprocessor
runs, as a `base.Tokenizer` (kind "tfhub"); and its exact twin in the tokenizers library
(`tokenizer_json`), which the exports write.

Its special tokens are the vocab's bracketed ones ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]',
'[unused7]'...), its roles those named '[PAD]', '[UNK]', '[CLS]', '[SEP]' and '[MASK]'; words
continue with '##'. In stage 1's store it is the store's vocab.txt and config.json's
do_lower_case: `save` writes nothing else.
"""

import json
import os
from typing import Dict, Iterable, List, Optional, Sequence, Union

from smaller_labse import files
from smaller_labse.tokenizers import base
from smaller_labse.tokenizers import vocab as vocab_lib
from smaller_labse.tokenizers.base import Role

TFHUB = "tfhub"  # source.json's "tokenizer" for TfHubTokenizer
EXPORT_NOTE = """The tokenizer (`tokenizer.json`, loaded by `AutoTokenizer` as a `PreTrainedTokenizerFast`)
reproduces the TF Hub preprocessor (`tensorflow_text.BertTokenizer`, cased): control and
format characters become spaces, words split at ASCII whitespace only (no-break spaces stay
in words, as LaBSE's vocab expects), around punctuation and CJK ideographs, and a word of
more than 100 UTF-8 bytes is `[UNK]`. WordPiece runs on byte-level strings (GPT-2's byte
table), which is what makes that limit count bytes: `tokenizer.convert_ids_to_tokens` shows
tokens in that form (`vocab.txt` has them as text), and `tokenizer.decode` gives text back.
Hugging Face's `BertTokenizer` (`use_fast=False`, or the class named explicitly) tokenizes
differently and should not be used with this model."""

class TfHubTokenizer(base.Tokenizer):
  """tensorflow_text.BertTokenizer on a WordPiece vocab: what LaBSE/2's preprocessor runs.

  Attributes:
    tokens: the vocab, in id order.
    lower_case: the model's do_lower_case.
  """
  kind = TFHUB
  export_note = EXPORT_NOTE
  unk_token = vocab_lib.UNK

  def __init__(self, tokens: Sequence[str], lower_case: bool = False):
    self.tokens = list(tokens)
    self.lower_case = lower_case
    self._tokenizer = None
    self._special_ids: Optional[Dict[Role, int]] = None
    self._special_rows: Optional[List[int]] = None

  # --- Rows and special tokens ------------------------------------------------------------

  def row_tokens(self, num_rows: Optional[int] = None) -> List[str]:
    """The vocab (one token a row, whatever `num_rows`: the caller checks the sizes agree)."""
    return self.tokens

  def special_ids(self) -> Dict[Role, int]:
    if self._special_ids is None:
      self._special_ids = vocab_lib.wordpiece_special_ids(self.tokens)
    return dict(self._special_ids)

  def special_rows(self) -> List[int]:
    if self._special_rows is None:
      self._special_rows = [i for i, t in enumerate(self.tokens) if vocab_lib.is_special_token(t)]
    return list(self._special_rows)

  def word_boundary(self) -> base.WordBoundary:
    return base.WORDPIECE

  def char_classes(self, chars: Iterable[str]) -> Dict[str, str]:
    """Found by running BertTokenizer's basic tokenizer on 'a' + c + 'a' (TensorFlow's
    Unicode tables, not Python's)."""
    chars = list(dict.fromkeys(chars))
    if not chars:
      return {}
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer  # pylint: disable=import-outside-toplevel
    basic = BasicTokenizer(lower_case=self.lower_case)
    words = basic.tokenize(tf.constant([("a" + ch + "a").encode("utf-8") for ch in chars]))
    result = {}
    for ch, row in zip(chars, words.to_list()):
      got = [w.decode("utf-8") for w in row]
      if got == ["a" + ch + "a"]:
        result[ch] = base.WORD
      elif got == ["a", ch, "a"]:
        result[ch] = base.SPLIT
      elif got == ["a", "a"]:
        result[ch] = base.DROPPED
      else:
        result[ch] = base.CHANGED
    return result

  # --- Running ---------------------------------------------------------------------------

  def _ragged(self, lines: Sequence[Union[str, bytes]]):
    from smaller_labse.tokenizers.tf_bert_tokenizer import bert_tokenizer  # TensorFlow, when used.
    import tensorflow as tf
    if self._tokenizer is None:
      self._tokenizer = bert_tokenizer(self.tokens, self.lower_case)
    return self._tokenizer.tokenize(tf.constant(list(lines), tf.string)).merge_dims(1, 2)

  def encode(self, lines: Sequence[Union[str, bytes]]) -> List[List[int]]:
    """Token ids of each line, no special tokens."""
    return self._ragged(lines).to_list() if len(lines) else []

  def count_corpus(self, paths: Sequence[str], vocab: Sequence[str], exact_only: bool = False,
                   **kwargs):
    """Stage 2's counts (tf_counting.count_corpus with this tokenizer)."""
    from smaller_labse.vocabulary import tf_counting
    counter = tf_counting.Counter(self.tokens, lower_case=self.lower_case, exact_only=exact_only)
    return tf_counting.count_corpus(counter, paths, vocab, **kwargs)

  # --- Smaller, saved, exported ----------------------------------------------------------

  def pruned(self, keep_rows: Sequence[int]) -> "TfHubTokenizer":
    base.check_pruning(self, keep_rows, len(self.tokens))
    return TfHubTokenizer([self.tokens[int(r)] for r in keep_rows], self.lower_case)

  def save(self, directory: str) -> List[str]:
    """Nothing: the store's vocab.txt and config.json's do_lower_case are this tokenizer."""
    return []

  @classmethod
  def load(cls, directory: str, lower_case: Optional[bool] = None) -> "TfHubTokenizer":
    """The store's vocab.txt (a WordPiece vocab) and do_lower_case (config.json), unless
    `lower_case` is given."""
    tokens = vocab_lib.read_vocab(os.path.join(directory, "vocab.txt"))
    if lower_case is None:
      config = files.read_json(os.path.join(directory, "config.json"), "config.json")
      lower_case = bool(config.get("do_lower_case", False)) if isinstance(config, dict) else False
    return cls(tokens, lower_case)

  def hf_files(self, max_seq_length: int) -> Dict[str, str]:
    """tokenizer.json (an exact twin in the tokenizers library, see `tokenizer_json`),
    tokenizer_config.json, special_tokens_map.json and vocab.txt."""
    files = _tokenizer_files(self.tokens, self.lower_case, max_seq_length)
    files["vocab.txt"] = "".join(t + "\n" for t in self.tokens)
    return files

  def tf_preprocessor(self, vocab_path: str, tokens: Optional[Sequence[str]] = None):
    """The TF Hub preprocessor's computation over `vocab_path` (`tokens`, default this vocab,
    one per line)."""
    from smaller_labse.tokenizers.tf_hub_preprocessor import Preprocessor
    return Preprocessor(vocab_path, list(self.tokens if tokens is None else tokens),
                        self.lower_case)


def read_tfhub_twin(model_dir: str) -> Optional[TfHubTokenizer]:
  """The TfHubTokenizer of a directory whose tokenizer.json is `tokenizer_json`'s twin of TF
  Hub's BertTokenizer (this project's exports, and models fine-tuned from them), else None."""
  paths = [os.path.join(model_dir, name) for name in ("tokenizer.json", "vocab.txt")]
  if not all(os.path.isfile(p) for p in paths):
    return None
  try:
    written = json.loads(files.read_bytes(paths[0]).decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError):
    return None
  if not isinstance(written, dict) or (written.get("decoder") or {}).get("type") != "Sequence":
    return None
  tokens = vocab_lib.read_token_file(paths[1])
  for lower_case in (False, True):
    twin = tokenizer_json(tokens, lower_case)
    # What tokenizes ordinary text; a re-save may add the special tokens as added_tokens.
    if all(written.get(k) == twin[k] for k in ("normalizer", "pre_tokenizer", "model")):
      return TfHubTokenizer(tokens, lower_case)
  return None


# --- TF Hub's tokenization as a tokenizer.json --------------------------------------------
# tensorflow_text.BertTokenizer(lower_case=False), which the LaBSE preprocessor runs:
#   1. every control or format character (\p{Cc}, \p{Cf}) becomes a space;
#   2. words are split at ASCII whitespace only (RE2's \s is [\t\n\f\r ]: no-break
#      spaces U+00A0/U+202F, U+3000 etc. stay inside words, and LaBSE's vocab has
#      tokens such as '##\u202f' for them), and around every punctuation character
#      and CJK ideograph;
#   3. WordPiece, greedy longest match, '[UNK]' for a word longer than 100 *bytes*.
# Hugging Face's BertTokenizer differs on all three (it deletes format characters,
# splits at every Unicode space, and counts 100 *characters*), so the export writes its
# own tokenizer.json. Step 3's byte count is exact because words are mapped to bytes
# (GPT-2's byte-to-character table) before WordPiece, and the vocab with them.
_TF_WHITESPACE = r"[\t\n\f\r ]+"
_TF_PUNCTUATION_AND_CJK = "|".join([
    r"[!-/]", r"[:-@]", r"[\[-`]", r"[{-~]", r"[\p{P}]",
    r"[\x{4E00}-\x{9FFF}]", r"[\x{3400}-\x{4DBF}]", r"[\x{20000}-\x{2A6DF}]",
    r"[\x{2A700}-\x{2B73F}]", r"[\x{2B740}-\x{2B81F}]", r"[\x{2B820}-\x{2CEAF}]",
    r"[\x{F900}-\x{FAFF}]", r"[\x{2F800}-\x{2FA1F}]"])
MAX_BYTES_PER_WORD = 100


def _byte_to_char() -> Dict[int, str]:
  """GPT-2's byte -> printable character table (what tokenizers' ByteLevel uses)."""
  printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
               + list(range(ord("®"), ord("ÿ") + 1)))
  table, extra = {}, 0
  for b in range(256):
    if b in printable:
      table[b] = chr(b)
    else:
      table[b] = chr(256 + extra)
      extra += 1
  return table


def bert_post_processor(cls: str, cls_id: int, sep: str, sep_id: int) -> Dict[str, object]:
  """tokenizer.json's post_processor for BERT: [CLS] A [SEP] (B [SEP]), type ids 0 and 1."""
  def special(token: str, type_id: int) -> Dict[str, object]:
    return {"SpecialToken": {"id": token, "type_id": type_id}}

  def sequence(name: str, type_id: int) -> Dict[str, object]:
    return {"Sequence": {"id": name, "type_id": type_id}}

  return {
      "type": "TemplateProcessing",
      "single": [special(cls, 0), sequence("A", 0), special(sep, 0)],
      "pair": [special(cls, 0), sequence("A", 0), special(sep, 0), sequence("B", 1),
               special(sep, 1)],
      "special_tokens": {cls: {"id": cls, "ids": [cls_id], "tokens": [cls]},
                         sep: {"id": sep, "ids": [sep_id], "tokens": [sep]}}}


def tokenizer_json(tokens: Sequence[str], lower_case: bool = False) -> Dict[str, object]:
  """The tokenizers library's serialization (tokenizer.json) of LaBSE's tokenization.

  `lower_case` models get Lowercase + NFD + accent stripping, close to but not
  exactly tensorflow_text's ICU case folding; LaBSE is cased.
  """
  table = _byte_to_char()
  vocab = {"".join(table[b] for b in t.encode("utf-8")): i for i, t in enumerate(tokens)}
  ids = TfHubTokenizer(tokens, lower_case).special_ids()
  normalizers: List[Dict[str, object]] = []
  if lower_case:
    normalizers += [{"type": "Lowercase"}, {"type": "NFD"},
                    {"type": "Replace", "pattern": {"Regex": r"\p{Mn}"}, "content": ""}]
  normalizers.append({"type": "Replace", "pattern": {"Regex": r"[\p{Cc}\p{Cf}]"},
                      "content": " "})

  cls, sep = vocab_lib.CLS, vocab_lib.SEP
  return {
      "version": "1.0",
      "truncation": None,
      "padding": None,
      # No added tokens: text such as "[CLS]" is tokenized as text, as the TF Hub
      # preprocessor does (transformers registers the special tokens itself).
      "added_tokens": [],
      "normalizer": {"type": "Sequence", "normalizers": normalizers},
      "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
          {"type": "Split", "pattern": {"Regex": _TF_WHITESPACE}, "behavior": "Removed",
           "invert": False},
          {"type": "Split", "pattern": {"Regex": _TF_PUNCTUATION_AND_CJK},
           "behavior": "Isolated", "invert": False},
          {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
           "use_regex": False}]},
      "post_processor": bert_post_processor(cls, ids[Role.START], sep, ids[Role.END]),
      # Undo WordPiece's '##', mark word breaks as the byte-level space, then bytes -> text.
      "decoder": {"type": "Sequence", "decoders": [
          {"type": "WordPiece", "prefix": "##", "cleanup": False},
          {"type": "Replace", "pattern": {"String": " "}, "content": table[ord(" ")]},
          {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
           "use_regex": False}]},
      "model": {"type": "WordPiece", "unk_token": vocab_lib.UNK,
                "continuing_subword_prefix": "##",
                "max_input_chars_per_word": MAX_BYTES_PER_WORD, "vocab": vocab},
  }




def _tokenizer_files(tokens: Sequence[str], lower_case: bool,
                     max_seq_length: int) -> Dict[str, str]:
  special = {"unk_token": vocab_lib.UNK, "sep_token": vocab_lib.SEP, "pad_token": vocab_lib.PAD,
             "cls_token": vocab_lib.CLS}
  if vocab_lib.MASK in tokens:
    special["mask_token"] = vocab_lib.MASK
  config = {
      # The generic fast tokenizer loads tokenizer.json as written; "BertTokenizer" would
      # rebuild Hugging Face's own BERT pipeline, which tokenizes differently (see above).
      "tokenizer_class": "PreTrainedTokenizerFast",
      "do_lower_case": lower_case, "strip_accents": lower_case or None,
      "tokenize_chinese_chars": True,
      "model_max_length": max_seq_length,
      # Text such as "[CLS]" is tokenized as text, as the TF Hub preprocessor does.
      "split_special_tokens": True,
      "clean_up_tokenization_spaces": False,
      "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
      **special,
  }
  return {
      "tokenizer.json": json.dumps(tokenizer_json(tokens, lower_case), ensure_ascii=False,
                                   separators=(",", ":")) + "\n",
      "tokenizer_config.json": files.json_text(config),
      "special_tokens_map.json": files.json_text(special),
  }


