"""The TensorFlow twin of a Hugging Face BERT tokenizer, exportable as a TF Hub preprocessor.

`HfPreprocessor` has tf_hub_preprocessor.Preprocessor's interface (`tokenize`,
`bert_pack_inputs`, `special_ids`) and is made of TensorFlow and
tensorflow_text ops only, so tf_hub.export_preprocessor saves it as a
SavedModel. It tokenizes as the tokenizers library runs an `HfTokenizer`:

1. invalid UTF-8 becomes U+FFFD (as Python's errors='replace'; BertNormalizer then
   deletes it);
2. added tokens that are not `normalized` are cut out of the raw text, leftmost
   and longest first (special ones only without `split_special_tokens`);
3. BertNormalizer on the rest: clean_text (delete control, format and private-use
   characters, NUL and U+FFFD; every whitespace character becomes ' '), a space on
   each side of CJK ideographs, NFD and nonspacing marks deleted
   (strip_accents), lowercase one character at a time (Rust's, not ICU's: no
   final sigma);
4. `normalized` added tokens are cut out of the normalized text;
5. BertPreTokenizer: split on whitespace, each punctuation character a word;
6. WordPiece, greedy longest match with `continuing_subword_prefix`; a word of
   more than `max_input_chars_per_word` characters, or with no match at some
   position, is the unk token. An added token is one word of one piece.

The character classes are the library's own (hf_chars.py, probed from it), not
ICU's or Python's: they come from Unicode tables of different ages. Known
differences, none reachable from real text: a special token skipped under
`split_special_tokens` still hides overlapping added tokens in the library.
"""

import os
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf
import tensorflow_text as tf_text

from smaller_labse.tokenizers import tf_hub_preprocessor
from smaller_labse.tokenizers import base, hf_chars, vocab as vocab_lib
from smaller_labse.errors import InputError
from smaller_labse.tokenizers.vocab import unreachable_token
# Typed by the protocol: the tokenizer is an HfTokenizer, whose module imports this one.
from smaller_labse.tokenizers.base import Tokenizer


TEXT = -1  # The id of a piece of text still to tokenize (not an added token).


def char_class(spec: str) -> str:
  """The RE2 character class of hf_chars' ranges ('0300-036F 0483' -> '[\\x{0300}-...]')."""
  parts = []
  for item in spec.split():
    first, _, last = item.partition("-")
    parts.append(f"\\x{{{first}}}" + (f"-\\x{{{last}}}" if last else ""))
  return "[" + "".join(parts) + "]"


def literal(text: str) -> str:
  """`text` as an RE2 pattern matching exactly it."""
  return "".join(f"\\x{{{ord(c):X}}}" for c in text)


def lowercase_table() -> Dict[int, int]:
  """hf_chars' one-to-one lowercase mapping, code point -> code point."""
  return {cp: cp + delta for first, last, step, delta in hf_chars.LOWERCASE_RUNS
          for cp in range(first, last + 1, step)}


def _string_table(keys: Sequence[str], values: Sequence[int]) -> tf.lookup.StaticHashTable:
  if not keys:
    keys, values = ["\n"], [TEXT]  # No piece ever holds a line break (tables cannot be empty).
  return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
      tf.constant(list(keys), tf.string), tf.constant(list(values), tf.int64)), TEXT)


class _Matcher(tf.Module):
  """Cuts added tokens (literal strings) out of text: leftmost, longest first."""

  def __init__(self, tokens: Dict[str, int], name: str):
    super().__init__(name=name)
    # RE2 takes the first alternative that matches at the leftmost position: longest first.
    ordered = sorted(tokens, key=lambda t: (-len(t.encode("utf-8")), t))
    self.pattern = "|".join(literal(t) for t in ordered)
    self.table = _string_table(ordered, [tokens[t] for t in ordered])

  def split(self, texts: tf.Tensor, ids: tf.Tensor) -> Tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """texts, ids: [N] (ids TEXT where the unit is text) -> ragged [N, pieces] strings and ids."""
    return _split_text_units(texts, ids, lambda t: regex_split(t, self.pattern, self.pattern),
                             self.table.lookup)


def regex_split(texts: tf.Tensor, delimiters: str, kept: str) -> tf.RaggedTensor:
  """tensorflow_text.regex_split, NUL characters included (it stops at the first one).

  texts: [N] string -> ragged [N, pieces]. NUL is read as U+0001 (the same class
  in every pattern here) to find the pieces, which are then cut from `texts`.
  """
  masked = tf.strings.regex_replace(texts, "\\x00", "\x01")
  _, begin, end = tf_text.regex_split_with_offsets(masked, delimiters, kept)
  rows = tf.gather(texts, begin.value_rowids())
  return begin.with_flat_values(tf.strings.substr(rows, begin.flat_values,
                                                  end.flat_values - begin.flat_values))


def _split_text_units(texts, ids, split, lookup) -> Tuple[tf.RaggedTensor, tf.RaggedTensor]:
  """Splits the TEXT units with `split` (-> ragged pieces, ids by `lookup`), keeps the others."""
  is_text = tf.equal(ids, TEXT)
  pieces = split(tf.where(is_text, texts, ""))  # A unit that is not text gets no piece.
  piece_ids = tf.ragged.map_flat_values(lookup, pieces)
  kept = tf.cast(~is_text, tf.int64)
  kept_texts = tf.RaggedTensor.from_row_lengths(tf.boolean_mask(texts, ~is_text), kept)
  kept_ids = tf.RaggedTensor.from_row_lengths(tf.boolean_mask(ids, ~is_text), kept)
  # Each row is either all pieces or its one kept unit, so concatenating keeps the order.
  return tf.concat([pieces, kept_texts], axis=1), tf.concat([piece_ids, kept_ids], axis=1)


class HfPreprocessor(tf.Module):
  """An HfTokenizer's tokenization + BERT packing in TensorFlow ops (see the module docstring).

  Args:
    tokenizer: the tokenizer to reproduce.
    vocab_path: a file holding `tokens`, one per line (the SavedModel's
      assets/cased_vocab.txt), or None to write them to a temporary file.
    tokens: the token of each id, as tokenizer.row_tokens gives them (default:
      row_tokens(num_ids)).
  """

  def __init__(self, tokenizer: Tokenizer, vocab_path: Optional[str] = None,
               tokens: Optional[Sequence[str]] = None):
    super().__init__(name="preprocessor")
    self._tmp = tempfile.TemporaryDirectory()  # Lives as long as the module (tables read it).
    tokens = list(tokens) if tokens is not None else tokenizer.row_tokens(tokenizer.num_ids)
    if vocab_path is None:
      vocab_path = self._write_vocab("vocab.txt", tokens)
    self.vocab_table = _file_table(vocab_path)
    self.wordpiece_table = self.vocab_table
    wordpiece_rows = [t if tokenizer.vocab.get(t) == row else unreachable_token(row)
                      for row, t in enumerate(tokens)]
    if wordpiece_rows != tokens:  # Rows of added tokens that WordPiece itself does not know.
      self.wordpiece_table = _file_table(self._write_vocab("wordpiece_vocab.txt", wordpiece_rows))
    self.wordpiece = tf_text.WordpieceTokenizer(
        self.wordpiece_table, suffix_indicator=tokenizer.continuing_subword_prefix,
        max_bytes_per_word=4 * tokenizer.max_input_chars_per_word,
        token_out_type=tf.int64, unknown_token=tokenizer.unk_token)
    self._unk_token = tokenizer.unk_token
    self._max_chars = tokenizer.max_input_chars_per_word
    self._normalizer = tokenizer.normalizer
    self.raw_matcher, self.normalized_matcher = _matchers(tokenizer)
    self.lowercase = None
    if self._normalizer is not None and self._normalizer.lowercase:
      table = lowercase_table()
      self.lowercase = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
          tf.constant(list(table), tf.int64), tf.constant(list(table.values()), tf.int64)), -1)
    self._classes = {name: char_class(getattr(hf_chars, name)) for name in (
        "CLEAN_DROPPED", "CLEAN_TO_SPACE", "CJK", "NONSPACING_MARKS", "NFD_KEPT", "WHITESPACE",
        "PUNCTUATION")}
    self.special_ids = base.tf_hub_special_ids(tokenizer.special_ids(), len(tokens))

  def _write_vocab(self, name: str, tokens: Sequence[str]) -> str:
    path = os.path.join(self._tmp.name, name)
    vocab_lib.write_token_file(path, tokens)
    return path

  def normalize(self, texts: tf.Tensor) -> tf.Tensor:
    """BertNormalizer on strings [N] (valid UTF-8) -> [N]."""
    spec, classes = self._normalizer, self._classes
    if spec is None:
      return texts
    if spec.clean_text:
      texts = tf.strings.regex_replace(texts, classes["CLEAN_DROPPED"], "")
      texts = tf.strings.regex_replace(texts, classes["CLEAN_TO_SPACE"], " ")
    if spec.handle_chinese_chars:
      texts = tf.strings.regex_replace(texts, "(" + classes["CJK"] + ")", r" \1 ")
    if spec.strips_accents:
      texts = tf.strings.regex_replace(self._nfd(texts), classes["NONSPACING_MARKS"], "")
    if spec.lowercase:
      texts = self._lower(texts)
    return texts

  def _nfd(self, texts: tf.Tensor) -> tf.Tensor:
    """NFD, except for the characters the library's (older) tables do not decompose."""
    kept = self._classes["NFD_KEPT"]
    if kept == "[]":
      return tf_text.normalize_utf8(texts, "NFD")
    # They are starters: decomposing the text between them is decomposing the whole.
    pieces = regex_split(texts, kept, kept)
    keep = tf.strings.regex_full_match(pieces.flat_values, kept)
    flat = tf.where(keep, pieces.flat_values, tf_text.normalize_utf8(pieces.flat_values, "NFD"))
    return tf.strings.reduce_join(pieces.with_flat_values(flat), axis=-1)

  def _lower(self, texts: tf.Tensor) -> tf.Tensor:
    """Rust's char::to_lowercase on each character."""
    for cp, image in sorted(hf_chars.LOWERCASE_MULTI.items()):
      texts = tf.strings.regex_replace(texts, literal(chr(cp)), image)
    cps = tf.strings.unicode_decode(texts, "UTF-8")
    flat = tf.cast(cps.flat_values, tf.int64)
    lowered = self.lowercase.lookup(flat)
    flat = tf.where(lowered >= 0, lowered, flat)
    return tf.strings.unicode_encode(cps.with_flat_values(tf.cast(flat, tf.int32)), "UTF-8")

  def pre_tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
    """BertPreTokenizer: strings [N] -> ragged [N, words]."""
    return self._words(texts, tf.fill(tf.shape(texts, out_type=tf.int64),
                                      tf.constant(TEXT, tf.int64)))[0]

  def _words(self, texts: tf.Tensor, ids: tf.Tensor) -> Tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """BertPreTokenizer on the TEXT units: ragged [N, words] strings and ids."""
    punctuation = self._classes["PUNCTUATION"]
    delimiters = self._classes["WHITESPACE"] + "+|" + punctuation
    return _split_text_units(
        texts, ids, lambda t: regex_split(t, delimiters, punctuation),
        lambda pieces: tf.fill(tf.shape(pieces, out_type=tf.int64), tf.constant(TEXT, tf.int64)))

  def tokenize(self, sentences: tf.Tensor) -> tf.RaggedTensor:
    """sentences: [B] string -> int32 RaggedTensor [B, words, wordpieces]."""
    texts = tf.strings.unicode_transcode(sentences, "UTF-8", "UTF-8", errors="replace",
                                         replacement_char=0xFFFD)
    units = tf.RaggedTensor.from_row_lengths(texts, tf.ones_like(texts, tf.int64))
    ids = units.with_flat_values(tf.fill(tf.shape(texts, out_type=tf.int64),
                                         tf.constant(TEXT, tf.int64)))
    if self.raw_matcher is not None:
      units, ids = self._deepen(units, ids, self.raw_matcher.split)
    flat_ids = ids.flat_values
    normalized = self.normalize(units.flat_values)
    units = units.with_flat_values(tf.where(tf.equal(flat_ids, TEXT), normalized,
                                            units.flat_values))
    if self.normalized_matcher is not None:
      units, ids = self._deepen(units, ids, self.normalized_matcher.split)
    words, word_ids = self._deepen(units, ids, self._words)
    words, word_ids = words.merge_dims(1, -1), word_ids.merge_dims(1, -1)
    return tf.cast(words.with_flat_values(self._wordpiece(words.flat_values,
                                                         word_ids.flat_values)), tf.int32)

  @staticmethod
  def _deepen(units: tf.RaggedTensor, ids: tf.RaggedTensor, split):
    """Applies `split` (flat texts, ids -> ragged pieces, ids) under units' innermost level."""
    pieces, piece_ids = split(units.flat_values, ids.flat_values)
    return units.with_flat_values(pieces), ids.with_flat_values(piece_ids)

  def _wordpiece(self, words: tf.Tensor, word_ids: tf.Tensor) -> tf.RaggedTensor:
    """words, word_ids [W] -> int64 ragged [W, pieces]: added tokens as their id, the rest by
    WordPiece (the unk token for words over the character limit)."""
    is_text = tf.equal(word_ids, TEXT)
    too_long = tf.strings.length(words, unit="UTF8_CHAR") > self._max_chars
    # The unk token's string is one piece, its own id; added tokens then get theirs.
    words = tf.where(is_text & ~too_long, words, self._unk_token)
    pieces = self.wordpiece.tokenize(words)
    added = tf.where(~is_text)
    positions = tf.gather(pieces.row_starts(), added)
    flat = tf.tensor_scatter_nd_update(pieces.flat_values, positions,
                                       tf.gather_nd(word_ids, added))
    return pieces.with_flat_values(flat)

  def bert_pack_inputs(self, segments: List[tf.RaggedTensor], seq_length: tf.Tensor
                       ) -> Dict[str, tf.Tensor]:
    """As tf_hub_preprocessor.Preprocessor.bert_pack_inputs."""
    return tf_hub_preprocessor.pack_inputs(segments, seq_length, self.special_ids)


def _file_table(path: str) -> tf.lookup.StaticHashTable:
  """line -> line number of a vocab file (a SavedModel asset once exported)."""
  return tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
      path, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
      tf.lookup.TextFileIndex.LINE_NUMBER), default_value=-1)


def _matchers(tokenizer: Tokenizer) -> Tuple[Optional[_Matcher], Optional[_Matcher]]:
  """The added tokens matched in the raw text, and those matched in the normalized text
  (by their normalized form, as the library computes it)."""
  normalizer = tokenizer.library().normalizer
  raw: Dict[str, int] = {}
  normalized: Dict[str, int] = {}
  for token in tokenizer.added_tokens:
    if token.special and tokenizer.split_special_tokens:
      continue
    if token.normalized:
      form = normalizer.normalize_str(token.content) if normalizer else token.content
      target = normalized
    else:
      form, target = token.content, raw
    if not form:
      continue  # The library never matches an empty pattern.
    if target.setdefault(form, token.id) != token.id:
      raise InputError(f"{tokenizer.source}: added tokens {target[form]} and {token.id} both "
                       f"match {form!r}")
  return (_Matcher(raw, "raw_added_tokens") if raw else None,
          _Matcher(normalized, "normalized_added_tokens") if normalized else None)
