"""A Hugging Face source's WordPiece (BERT) tokenizer: as data, and as the tokenizers library
runs it.

A Sentence Transformers or Hugging Face BERT directory is tokenized by what
`transformers.AutoTokenizer.from_pretrained(dir)` builds (transformers 5.x),
which is also what `SentenceTransformer(dir).tokenizer` is:

- `tokenizer_class` "BertTokenizer" (tokenizer_config.json, else config.json's
  `tokenizer_class`, else its `model_type` "bert"): the WordPiece vocab comes
  from tokenizer.json's model when present, else from vocab.txt read as the
  tokenizers library reads it (each line's trailing Unicode whitespace trimmed,
  a later line winning a collision: LaBSE's `a\\xa0` takes the id of `a`); the
  rest is rebuilt from tokenizer_config.json: BertNormalizer(clean_text,
  handle_chinese_chars=tokenize_chinese_chars, strip_accents,
  lowercase=do_lower_case), BertPreTokenizer, WordPiece('##', 100 characters),
  and tokenizer.json's own normalizer is ignored;
- "PreTrainedTokenizerFast" / "TokenizersBackend": tokenizer.json as written.

Then the added and special tokens are added as transformers adds them. This
module does the same with the tokenizers library (tests/test_hf_tokenizer.py
compares the result with AutoTokenizer's on every layout it knows), and
refuses what it cannot reproduce in TensorFlow: other models (Unigram /
SentencePiece, BPE), other normalizers and pre-tokenizers, single-word added
tokens, missing special tokens.

`HfTokenizer` holds the result as data (vocab, normalizer settings, added
tokens), runs it in the tokenizers library (`encode`, `count_corpus`), derives
a smaller tokenizer (`with_vocab`), writes it for AutoTokenizer
(`hf_files`) and builds its TensorFlow twin (`tf_preprocessor`, see
hf_preprocessor.py).
"""

import collections
import concurrent.futures
import dataclasses
import functools
import itertools
import json
import operator
import os
import threading
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tokenizers
from tokenizers import AddedToken as LibraryAddedToken
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tqdm import tqdm

from smaller_labse import files
from smaller_labse.tokenizers import tf_hub_wordpiece
from smaller_labse.vocabulary import token_counts
from smaller_labse.errors import InputError

TOKENIZER_JSON = "tokenizer.json"
VOCAB_TXT = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
ADDED_TOKENS_JSON = "added_tokens.json"
CONFIG_JSON = "config.json"
FORMAT = "smaller_labse.tokenizers.hf_tokenizer/1"

# transformers' named special tokens, in its order (which decides the ids of missing ones).
_NAMED = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
          "mask_token")
_BERT_DEFAULTS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                  "cls_token": "[CLS]", "mask_token": "[MASK]"}
_REQUIRED = ("unk_token", "cls_token", "sep_token", "pad_token")
_JSON_CLASSES = ("PreTrainedTokenizer", "TokenizersBackend")
_ADDED_FIELDS = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")
# Rust's char::is_whitespace (Unicode White_Space), what the library trims and splits on.
RUST_WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                   "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def unreachable_token(row: int) -> str:
  """The placeholder of an embedding row no token maps to (never produced: it holds spaces)."""
  return f"[unreachable row {row}]"


@dataclasses.dataclass(frozen=True)
class AddedToken:
  """An entry of the library's added vocabulary: matched in the text before WordPiece runs.

  Non-`normalized` ones are found in the raw text, the others in the normalized
  text; `special` ones are not matched when `split_special_tokens` is set.
  """
  id: int
  content: str
  single_word: bool = False
  lstrip: bool = False
  rstrip: bool = False
  normalized: bool = True
  special: bool = False


@dataclasses.dataclass(frozen=True)
class BertNormalizer:
  """The tokenizers library's BertNormalizer settings."""
  clean_text: bool = True
  handle_chinese_chars: bool = True
  strip_accents: Optional[bool] = None
  lowercase: bool = True

  @property
  def strips_accents(self) -> bool:
    """Whether it runs NFD and drops nonspacing marks (strip_accents, else lowercase)."""
    return self.lowercase if self.strip_accents is None else self.strip_accents


class HfTokenizer:
  """A source's Hugging Face WordPiece (BERT) tokenizer, as data and as the library runs it.

  Attributes:
    vocab: WordPiece's vocab, token -> id (ids may have holes: collisions).
    normalizer: BertNormalizer settings, or None (no normalizer).
    added_tokens: the added vocabulary, by id.
    special_tokens: transformers' named special tokens that are set ('cls_token' -> '[CLS]'...).
    unk_token, cls_token, sep_token, pad_token: their strings; mask_token: str or None.
    continuing_subword_prefix, max_input_chars_per_word: WordPiece's settings (characters).
    split_special_tokens: special tokens in the text are tokenized as text.
    source: where it was read (for messages).
  """
  kind = "huggingface"  # tf_hub_wordpiece.py: the model runs the tokenizers library

  def __init__(self, vocab: Mapping[str, int], normalizer: Optional[BertNormalizer],
               added_tokens: Sequence[AddedToken], special_tokens: Mapping[str, str],
               unk_token: str, continuing_subword_prefix: str = "##",
               max_input_chars_per_word: int = 100, split_special_tokens: bool = False,
               source: str = "tokenizer"):
    self.vocab = dict(vocab)
    self.normalizer = normalizer
    self.added_tokens = tuple(sorted(added_tokens, key=lambda t: t.id))
    self.special_tokens = {k: special_tokens[k] for k in _NAMED if special_tokens.get(k)}
    self.special_tokens.update({k: v for k, v in special_tokens.items()
                                if k not in _NAMED and v})
    self.unk_token = unk_token
    self.continuing_subword_prefix = continuing_subword_prefix
    self.max_input_chars_per_word = max_input_chars_per_word
    self.split_special_tokens = split_special_tokens
    self.source = source
    self._lock = threading.Lock()
    self._library = None
    self._id_token_map: Optional[Dict[int, str]] = None
    self._validate()

  # --- Reading -----------------------------------------------------------------------------

  @classmethod
  def from_model_dir(cls, model_dir: str) -> "HfTokenizer":
    """The tokenizer AutoTokenizer.from_pretrained(model_dir) builds (see the module docstring).

    Raises:
      InputError: no tokenizer files, malformed ones, or a tokenizer this project
        cannot reproduce (one line naming the file).
    """
    return _load_model_dir(model_dir)

  @classmethod
  def from_json(cls, text: str, path: str) -> "HfTokenizer":
    """Reads `to_json`'s text; `path` names it in errors."""
    try:
      data = json.loads(text)
    except json.JSONDecodeError as e:
      raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
      raise InputError(f"{path}: not a tokenizer written by smaller_labse ({FORMAT})")
    try:
      model = data["tokenizer"]["model"]
      normalizer = data["tokenizer"]["normalizer"]
      return cls(
          vocab=model["vocab"],
          normalizer=None if normalizer is None else _bert_normalizer(normalizer),
          added_tokens=[AddedToken(**t) for t in data["tokenizer"]["added_tokens"]],
          special_tokens=data["special_tokens"], unk_token=model["unk_token"],
          continuing_subword_prefix=model["continuing_subword_prefix"],
          max_input_chars_per_word=model["max_input_chars_per_word"],
          split_special_tokens=data["split_special_tokens"], source=path)
    except (KeyError, TypeError, ValueError) as e:
      raise InputError(f"{path}: malformed tokenizer ({type(e).__name__}: {e})") from None

  def to_json(self) -> str:
    """This tokenizer as deterministic JSON text (`from_json` reads it back)."""
    data = {"format": FORMAT, "tokenizer": self.tokenizer_json(),
            "special_tokens": self.special_tokens,
            "split_special_tokens": self.split_special_tokens}
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"

  # --- As data -------------------------------------------------------------------------------

  @property
  def lower_case(self) -> bool:
    return bool(self.normalizer and self.normalizer.lowercase)

  @property
  def cls_token(self) -> str:
    return self.special_tokens["cls_token"]

  @property
  def sep_token(self) -> str:
    return self.special_tokens["sep_token"]

  @property
  def pad_token(self) -> str:
    return self.special_tokens["pad_token"]

  @property
  def mask_token(self) -> Optional[str]:
    return self.special_tokens.get("mask_token")

  @property
  def num_ids(self) -> int:
    """1 + the largest id this tokenizer can produce."""
    return 1 + max(itertools.chain(self.vocab.values(), (t.id for t in self.added_tokens)))

  def token_to_id(self, token: str) -> Optional[int]:
    """The id the library gives `token` (an added token's first, as it does)."""
    for added in self.added_tokens:
      if added.content == token:
        return added.id
    return self.vocab.get(token)

  def _id_tokens(self) -> Dict[int, str]:
    """id -> its token string (the empty token a trimmed whitespace line leaves is unreachable)."""
    if self._id_token_map is None:
      tokens = {i: t for t, i in self.vocab.items() if t}
      tokens.update({t.id: t.content for t in self.added_tokens})
      self._id_token_map = tokens
    return self._id_token_map

  def row_tokens(self, num_rows: int) -> List[str]:
    """The token of each embedding row 0..num_rows-1; `unreachable_token(row)` where none is.

    Raises:
      InputError: an id >= num_rows (a tokenizer whose vocab does not fit the embedding table).
    """
    id_tokens = self._id_tokens()
    too_big = [i for i in self.vocab.values() if i >= num_rows] + [
        t.id for t in self.added_tokens if t.id >= num_rows]
    if too_big:
      row = max(too_big)
      raise InputError(f"{self.source}: a tokenizer whose vocab does not fit the embedding table "
                       f"(id {row}, {id_tokens.get(row, '')!r}, but the table has {num_rows} rows)")
    return [id_tokens.get(row, unreachable_token(row)) for row in range(num_rows)]

  def tokenizer_json(self) -> Dict[str, object]:
    """The tokenizers library's serialization (tokenizer.json) of this tokenizer."""
    cls, sep = self.cls_token, self.sep_token
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [dataclasses.asdict(t) for t in self.added_tokens],
        "normalizer": None if self.normalizer is None else {
            "type": "BertNormalizer", **dataclasses.asdict(self.normalizer)},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": tf_hub_wordpiece.bert_post_processor(
            cls, self.token_to_id(cls), sep, self.token_to_id(sep)),
        "decoder": {"type": "WordPiece", "prefix": self.continuing_subword_prefix, "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": self.unk_token,
                  "continuing_subword_prefix": self.continuing_subword_prefix,
                  "max_input_chars_per_word": self.max_input_chars_per_word,
                  "vocab": dict(sorted(self.vocab.items(), key=lambda item: (item[1], item[0])))},
    }

  def _validate(self) -> None:
    """Raises InputError for what the TF twin or the export cannot reproduce."""
    for name in _REQUIRED:
      token = self.special_tokens.get(name)
      if not token or self.token_to_id(token) is None:
        raise InputError(f"{self.source}: no {name} ({_BERT_DEFAULTS[name]}) in the vocab")
    if self.unk_token not in self.vocab:
      raise InputError(f"{self.source}: WordPiece's unk_token {self.unk_token!r} is not in "
                       "its vocab")
    if not self.continuing_subword_prefix:
      raise InputError(f"{self.source}: WordPiece without a continuing_subword_prefix")
    owners: Dict[int, str] = {}
    for token, i in itertools.chain(self.vocab.items(),
                                    ((t.content, t.id) for t in self.added_tokens)):
      if type(i) is not int or i < 0:
        raise InputError(f"{self.source}: token {token!r} has id {i!r}")
      if "\n" in token:
        raise InputError(f"{self.source}: token {token!r} holds a line break (vocab.txt cannot)")
      if token and owners.setdefault(i, token) != token:  # '' is unreachable (a trimmed line).
        raise InputError(f"{self.source}: tokens {owners[i]!r} and {token!r} share id {i}")
    for added in self.added_tokens:
      if added.single_word:
        raise InputError(f"{self.source}: added token {added.content!r} is single_word "
                         "(not supported)")
      if not added.content:
        raise InputError(f"{self.source}: an empty added token (id {added.id})")

  # --- Running -----------------------------------------------------------------------------

  def library(self):
    """This tokenizer as a `tokenizers.Tokenizer` (shared; thread-safe for encoding)."""
    with self._lock:
      if self._library is None:
        self._library = self._build_library()
      return self._library

  def _build_library(self):
    """tokenizer_json() as the library loads it (built through its API: faster)."""
    library = Tokenizer(models.WordPiece(
        self.vocab, unk_token=self.unk_token,
        continuing_subword_prefix=self.continuing_subword_prefix,
        max_input_chars_per_word=self.max_input_chars_per_word))
    if self.normalizer is not None:
      library.normalizer = normalizers.BertNormalizer(**dataclasses.asdict(self.normalizer))
    library.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = self.cls_token, self.sep_token
    library.post_processor = processors.TemplateProcessing(
        single=[cls, "$A", sep], pair=[cls, "$A", sep, "$B:1", f"{sep}:1"],
        special_tokens=[(cls, self.token_to_id(cls)), (sep, self.token_to_id(sep))])
    library.decoder = decoders.WordPiece(prefix=self.continuing_subword_prefix)
    # As the library loads tokenizer.json's added_tokens: in order, ids found or appended.
    library.add_tokens([LibraryAddedToken(**{k: getattr(t, k) for k in _ADDED_FIELDS})
                        for t in self.added_tokens])
    library.encode_special_tokens = self.split_special_tokens
    for added in self.added_tokens:
      # The library gives an added token not in WordPiece's vocab the next free id itself.
      if library.token_to_id(added.content) != added.id:
        raise InputError(f"{self.source}: added token {added.content!r} would get id "
                         f"{library.token_to_id(added.content)}, not {added.id}")
    return library

  def encode(self, lines: Sequence[Union[str, bytes]]) -> List[List[int]]:
    """Each line's ids, without [CLS]/[SEP]; UTF-8 bytes are decoded, invalid bytes as U+FFFD."""
    texts = [l.decode("utf-8", "replace") if isinstance(l, bytes) else l for l in lines]
    encodings = self.library().encode_batch_fast(texts, add_special_tokens=False)
    return [e.ids for e in encodings]

  def tokenize(self, lines: Sequence[str]) -> List[List[str]]:
    """Each line's tokens (the vocab's string of each id), without [CLS]/[SEP]."""
    id_tokens = self._id_tokens()
    return [[id_tokens[i] for i in ids] for ids in self.encode(lines)]

  # --- A smaller tokenizer, written out ----------------------------------------------------

  def with_vocab(self, tokens: Sequence[str]) -> "HfTokenizer":
    """The same pipeline over the smaller vocab `tokens` (id i = tokens[i]).

    Every token must be one of this tokenizer's; the named special tokens must be
    kept. Added tokens that are kept keep their options (dropped ones are no
    longer matched: only text holding them tokenizes differently). An added
    token that is not in WordPiece's vocab and would not keep its id (the
    library numbers those after the vocab) becomes a WordPiece token too.
    """
    index = {t: i for i, t in enumerate(tokens)}
    if len(index) != len(tokens):
      duplicate = next(t for i, t in enumerate(tokens) if index[t] != i)
      raise InputError(f"duplicate token {duplicate!r} in the smaller vocab")
    known = set(self._id_tokens().values())
    unknown = [t for t in tokens if t not in known]
    if unknown:
      raise InputError(f"{len(unknown)} tokens of the smaller vocab are not tokens of "
                       f"{self.source}, e.g. {unknown[0]!r}")
    missing = [t for t in self.special_tokens.values() if t not in index]
    if missing or self.unk_token not in index:
      raise InputError(f"the smaller vocab lacks the special token "
                       f"{(missing or [self.unk_token])[0]!r}")
    vocab = {t: index[t] for t in self.vocab if t in index}
    added = [dataclasses.replace(t, id=index[t.content]) for t in self.added_tokens
             if t.content in index]
    added_only = [t for t in added if t.content not in vocab]
    if any(t.id < len(vocab) for t in added_only):
      vocab.update({t.content: t.id for t in added_only})
    return HfTokenizer(vocab, self.normalizer, added, self.special_tokens, self.unk_token,
                       self.continuing_subword_prefix, self.max_input_chars_per_word,
                       self.split_special_tokens, source=f"{self.source} (smaller vocab)")

  def transformers_class(self) -> str:
    """'BertTokenizer' when transformers' BertTokenizer rebuilds exactly this pipeline from
    tokenizer_config.json, else 'PreTrainedTokenizerFast' (tokenizer.json as written)."""
    bert = (self.normalizer is not None and self.normalizer.clean_text
            and self.continuing_subword_prefix == "##" and self.max_input_chars_per_word == 100
            and self.unk_token == self.special_tokens["unk_token"])
    return "BertTokenizer" if bert else "PreTrainedTokenizerFast"

  def hf_files(self, max_seq_length: int) -> Dict[str, str]:
    """File name -> text of the tokenizer files of an export directory.

    tokenizer.json, tokenizer_config.json, special_tokens_map.json and vocab.txt
    (the token of each id, in id order) that AutoTokenizer and SentenceTransformer
    load into this exact tokenizer.
    """
    special = dict(self.special_tokens)
    config: Dict[str, object] = {"tokenizer_class": self.transformers_class()}
    if self.normalizer is not None:
      config.update({"do_lower_case": self.normalizer.lowercase,
                     "strip_accents": self.normalizer.strip_accents,
                     "tokenize_chinese_chars": self.normalizer.handle_chinese_chars})
    if "mask_token" not in special:
      config["mask_token"] = None  # BertTokenizer would add its default '[MASK]'.
    config.update({"model_max_length": max_seq_length,
                   "split_special_tokens": self.split_special_tokens,
                   "clean_up_tokenization_spaces": True,
                   "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
                   **special})
    return {
        TOKENIZER_JSON: json.dumps(self.tokenizer_json(), ensure_ascii=False,
                                   separators=(",", ":")) + "\n",
        TOKENIZER_CONFIG: _pretty_json(config),
        SPECIAL_TOKENS_MAP: _pretty_json(special),
        VOCAB_TXT: "".join(t + "\n" for t in self.row_tokens(self.num_ids)),
    }

  def special_ids(self) -> Dict[str, int]:
    """'cls', 'sep', 'pad' -> id (how a sentence is packed)."""
    return {"cls": self.token_to_id(self.cls_token), "sep": self.token_to_id(self.sep_token),
            "pad": self.token_to_id(self.pad_token)}

  def count_corpus(self, paths: Sequence[str], vocab: Sequence[str], exact_only: bool = False,
                   **kwargs) -> token_counts.TokenCounts:
    """Stage 2's counts (the module's count_corpus); exact_only encodes every line whole."""
    return count_corpus(self, paths, vocab, split_words=not exact_only, **kwargs)

  def tf_preprocessor(self, vocab_path: Optional[str] = None,
                      tokens: Optional[Sequence[str]] = None):
    """The TensorFlow twin: hub_format.Preprocessor's interface, this tokenizer's ids.

    Args:
      vocab_path: a file holding `tokens` one per line (the SavedModel's
        assets/cased_vocab.txt; hub_format.export_preprocessor passes it), or None
        to write row_tokens(num_ids) to a private temporary file.
      tokens: the rows of `vocab_path` (default: row_tokens(num_ids)).

    Returns:
      hf_preprocessor.HfPreprocessor, a tf.Module.
    """
    from smaller_labse.tokenizers import hf_preprocessor  # pylint: disable=import-outside-toplevel
    return hf_preprocessor.HfPreprocessor(self, vocab_path, tokens)


def _pretty_json(value: object) -> str:
  return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _bert_normalizer(spec: Mapping[str, object]) -> BertNormalizer:
  if spec.get("type") != "BertNormalizer":
    raise ValueError(f"normalizer {spec.get('type')!r}")
  return BertNormalizer(clean_text=bool(spec["clean_text"]),
                        handle_chinese_chars=bool(spec["handle_chinese_chars"]),
                        strip_accents=spec["strip_accents"], lowercase=bool(spec["lowercase"]))


# --- Loading a model directory as transformers does ------------------------------------------

def _read_json_file(path: str) -> Optional[object]:
  """A JSON file's value, None when the file does not exist."""
  if not os.path.exists(path):
    return None
  value = files.read_json(path, "file")
  return value


def _read_object(path: str) -> Optional[Dict[str, object]]:
  value = _read_json_file(path)
  if value is not None and not isinstance(value, dict):
    raise InputError(f"{path}: expected a JSON object")
  return value


def _tokenizer_class(model_dir: str, config: Optional[dict], model_config: Optional[dict]
                     ) -> Tuple[str, str]:
  """(transformers' tokenizer class without 'Fast', the file that decides it)."""
  for name, value in ((TOKENIZER_CONFIG, config), (CONFIG_JSON, model_config)):
    if value and isinstance(value.get("tokenizer_class"), str):
      return value["tokenizer_class"].removesuffix("Fast"), os.path.join(model_dir, name)
  if model_config and model_config.get("model_type") == "bert":
    return "BertTokenizer", os.path.join(model_dir, CONFIG_JSON)
  if os.path.exists(os.path.join(model_dir, TOKENIZER_JSON)):
    return "TokenizersBackend", os.path.join(model_dir, TOKENIZER_JSON)
  raise InputError(f"{model_dir}: neither {TOKENIZER_CONFIG} nor {CONFIG_JSON} says which "
                   "tokenizer this is")


def _library_added_token(value: object, path: str, special: Optional[bool] = None):
  """A tokenizers.AddedToken from transformers' serializations (a string or a dict)."""
  if isinstance(value, str):
    return value if special is None else LibraryAddedToken(value, special=special)
  if isinstance(value, dict) and isinstance(value.get("content"), str):
    fields = {k: value[k] for k in _ADDED_FIELDS if k in value}
    if special is not None:
      fields["special"] = special
    return LibraryAddedToken(**fields)
  raise InputError(f"{path}: {value!r} is not a token")


def _load_json_tokenizer(path: str, build: bool):
  """(tokenizer.json's data, the library's tokenizer from it if `build`, else None)."""
  text = files.decode_utf8(path, files.read_bytes(path, "tokenizer file"))
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise InputError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
  model = data.get("model") if isinstance(data, dict) else None
  model_type = model.get("type") if isinstance(model, dict) else None
  if model_type != "WordPiece":
    kind = {"Unigram": "a Unigram (SentencePiece) tokenizer", "BPE": "a BPE tokenizer"}.get(
        model_type, f"model type {model_type!r}")
    raise InputError(f"{path}: {kind}, not BERT's WordPiece")
  if not build:
    return data, None
  try:
    return data, Tokenizer.from_str(text)
  except Exception as e:  # The library raises bare Exceptions for malformed files.
    raise InputError(f"{path}: not a tokenizers file ({str(e).splitlines()[0][:200]})") from None


def _load_model_dir(model_dir: str) -> HfTokenizer:
  """HfTokenizer.from_model_dir's work."""
  if not os.path.isdir(model_dir):
    raise InputError(f"{model_dir}: no such directory")
  join = functools.partial(os.path.join, model_dir)
  config = _read_object(join(TOKENIZER_CONFIG)) or {}
  model_config = _read_object(join(CONFIG_JSON))
  model_type = (model_config or {}).get("model_type")
  if model_type is not None and model_type != "bert":
    raise InputError(f"{join(CONFIG_JSON)}: model_type {model_type!r}: not a BERT model")
  class_name, class_path = _tokenizer_class(model_dir, config, model_config)
  json_path = join(TOKENIZER_JSON)
  has_json = os.path.exists(json_path)
  json_data, json_library = (_load_json_tokenizer(json_path, class_name != "BertTokenizer")
                             if has_json else (None, None))
  kwargs = dict(config)
  decoder = _added_tokens_decoder(model_dir, kwargs, json_data)
  if class_name == "BertTokenizer":
    if has_json:
      vocab = json_data["model"]["vocab"]
      if isinstance(vocab, list):
        vocab = {t[0] if isinstance(t, list) else t: i for i, t in enumerate(vocab)}
      vocab_source = json_path
    elif os.path.exists(join(VOCAB_TXT)):
      vocab_source = join(VOCAB_TXT)
      try:
        vocab = models.WordPiece.read_file(vocab_source)
      except Exception as e:  # Rust I/O and UTF-8 errors.
        raise InputError(f"{vocab_source}: cannot read ({e})") from None
    else:
      raise InputError(f"{model_dir}: no {TOKENIZER_JSON} nor {VOCAB_TXT}")
    for name, default in _BERT_DEFAULTS.items():
      kwargs.setdefault(name, default)
    unk = kwargs["unk_token"]
    unk = unk if isinstance(unk, str) else unk.get("content") if isinstance(unk, dict) else None
    library = Tokenizer(models.WordPiece(vocab, unk_token=str(unk)))
    library.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=bool(kwargs.get("tokenize_chinese_chars", True)),
        strip_accents=kwargs.get("strip_accents"),
        lowercase=bool(kwargs.get("do_lower_case", True)))
    library.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    path = vocab_source
  elif class_name in _JSON_CLASSES:
    if not has_json:
      raise InputError(f"{class_path}: tokenizer_class {class_name} needs {json_path}")
    library, path = json_library, json_path
  else:
    raise InputError(f"{class_path}: tokenizer_class {class_name!r}: not a BERT WordPiece "
                     "tokenizer")
  named = _named_special_tokens(kwargs, decoder, class_path)
  specials = {k: str(v) for k, v in named.items()}
  if class_name != "BertTokenizer":
    _check_post_processor(json_data, path)
    # Undeclared ones (a bare tokenizer.json): BERT's names where the vocab has them.
    for name in _REQUIRED + ("mask_token",):
      if name not in specials and library.token_to_id(_BERT_DEFAULTS[name]) is not None:
        specials[name] = _BERT_DEFAULTS[name]
  _check_declared(specials, library, decoder, path)
  _add_tokens_as_transformers(library, decoder, named, kwargs, class_path)
  return _from_library(library, specials, bool(kwargs.get("split_special_tokens", False)), path,
                       vocab if class_name == "BertTokenizer" else None)


def _added_tokens_decoder(model_dir: str, kwargs: Dict[str, object],
                          json_data: Optional[dict]) -> Dict[int, object]:
  """transformers' added_tokens_decoder: tokenizer_config.json's, else the legacy files'
  (special_tokens_map.json's values then override the config's special tokens)."""
  path = os.path.join(model_dir, TOKENIZER_CONFIG)
  decoder: Dict[int, object] = {}
  if "added_tokens_decoder" in kwargs:
    value = kwargs["added_tokens_decoder"]
    if not isinstance(value, dict):
      raise InputError(f"{path}: added_tokens_decoder is not a JSON object")
    for index, token in value.items():
      try:
        decoder[int(index)] = _library_added_token(token, path)
      except ValueError:
        raise InputError(f"{path}: added_tokens_decoder id {index!r}") from None
    return decoder
  special_map = _read_object(os.path.join(model_dir, SPECIAL_TOKENS_MAP)) or {}
  for key, value in special_map.items():
    if isinstance(value, dict) and key != "extra_special_tokens":
      value = _library_added_token(value, os.path.join(model_dir, SPECIAL_TOKENS_MAP), True)
    kwargs[key] = value
  added_path = os.path.join(model_dir, ADDED_TOKENS_JSON)
  added = _read_object(added_path) or {}
  if added:
    specials = {_content(kwargs.get(k)) for k in _NAMED if kwargs.get(k)}
    for token, index in added.items():
      if type(index) is not int:
        raise InputError(f"{added_path}: id of {token!r} is {index!r}")
      is_special = token in specials
      decoder[index] = LibraryAddedToken(token, normalized=not is_special, special=is_special)
  for token in (json_data or {}).get("added_tokens") or []:
    fields = {k: v for k, v in token.items() if k != "id"}
    decoder[token["id"]] = _library_added_token(fields, os.path.join(model_dir, TOKENIZER_JSON))
  return decoder


def _content(value: object) -> Optional[str]:
  if value is None:
    return None
  return value if isinstance(value, str) else getattr(value, "content", None) or (
      value.get("content") if isinstance(value, dict) else None)


def _named_special_tokens(kwargs: Dict[str, object], decoder: Dict[int, object],
                          path: str) -> Dict[str, object]:
  """transformers' special tokens map: name -> str or tokenizers.AddedToken, in its order."""
  by_content = {str(t): t for t in decoder.values()}
  named: Dict[str, object] = {}
  for key, value in kwargs.items():
    if key in _NAMED or (key.endswith("_token") and isinstance(value, (str, dict))):
      if value is None:
        continue
      token = _library_added_token(value, path) if isinstance(value, dict) else value
      if key in _NAMED:
        token = by_content.get(str(token), token)
      named[key] = token
  return {**{k: named[k] for k in _NAMED if k in named},
          **{k: v for k, v in named.items() if k not in _NAMED}}


def _check_declared(specials: Dict[str, str], library, decoder: Dict[int, object],
                    path: str) -> None:
  """The required special tokens must already be tokens (transformers would append them)."""
  added = {str(t) for t in decoder.values()}
  for name in _REQUIRED:
    token = specials.get(name)
    if token is None:
      raise InputError(f"{path}: no {name} declared")
    if library.token_to_id(token) is None and token not in added:
      raise InputError(f"{path}: the special token {token!r} ({name}) is not in the vocab")


def _add_tokens_as_transformers(library, decoder: Dict[int, object], named: Dict[str, object],
                                kwargs: Dict[str, object], path: str) -> None:
  """What TokenizersBackend.__init__ adds: added_tokens_decoder's tokens by id, then the
  named and extra special tokens that are not there yet (as special tokens)."""
  existing = library.get_added_tokens_decoder().values()
  existing_reprs = {repr(t) for t in existing}
  to_add = [t for _, t in sorted(decoder.items()) if repr(t) not in existing_reprs]
  encoder = [t.content for t in existing] + [str(t) for t in to_add]
  extra = kwargs.get("extra_special_tokens", kwargs.get("additional_special_tokens")) or []
  if not isinstance(extra, list):
    raise InputError(f"{path}: extra_special_tokens is not a list")
  extra = [_library_added_token(t, path) if isinstance(t, dict) else t for t in extra]
  for token in itertools.chain(named.values(), extra):
    if str(token) not in encoder and token not in to_add:
      to_add.append(token)
  named_contents = {str(t) for t in named.values()}
  tokens = []
  for token in to_add:
    if isinstance(token, str):
      token = LibraryAddedToken(token, special=True)
    elif not token.special and token.content in named_contents:
      token.special = True
    tokens.append(token)
  if tokens:
    library.add_tokens(tokens)


def _check_post_processor(json_data: dict, path: str) -> None:
  """A tokenizer.json run as written must add [CLS] A [SEP] (B [SEP]) as BERT does."""
  post = json_data.get("post_processor")
  kind = post.get("type") if isinstance(post, dict) else None
  if kind == "BertProcessing":
    return
  if kind == "TemplateProcessing":
    def shape(items):
      return [("S", 0) if "SpecialToken" in x else ("A" if x["Sequence"]["id"] == "A" else "B",
                                                    x["Sequence"]["type_id"]) for x in items]
    single, pair = shape(post["single"]), shape(post["pair"])
    if single == [("S", 0), ("A", 0), ("S", 0)] and pair[:3] == single and pair[3:] == [
        ("B", 1), ("S", 0)]:
      return
  raise InputError(f"{path}: its post-processor does not add [CLS] ... [SEP] as BERT does")


def _from_library(library, specials: Dict[str, str], split_special_tokens: bool, path: str,
                  vocab: Optional[Mapping[str, int]] = None) -> HfTokenizer:
  """Reads the built library tokenizer back as data (`vocab`: its WordPiece vocab, when the
  caller has it), refusing what is not reproducible."""
  def state(component) -> Optional[dict]:
    return None if component is None else json.loads(component.__getstate__())

  model = library.model
  if type(model).__name__ != "WordPiece":
    raise InputError(f"{path}: a {type(model).__name__} model, not BERT's WordPiece")
  normalizer = state(library.normalizer)
  if normalizer is not None and normalizer.get("type") != "BertNormalizer":
    raise InputError(f"{path}: normalizer {_describe(normalizer)} (only BertNormalizer is "
                     "supported)")
  pre = state(library.pre_tokenizer)
  if not isinstance(pre, dict) or pre.get("type") != "BertPreTokenizer":
    raise InputError(f"{path}: pre-tokenizer {_describe(pre)} (only BertPreTokenizer is "
                     "supported)")
  added = [AddedToken(id=i, **{k: getattr(t, k) for k in _ADDED_FIELDS})
           for i, t in sorted(library.get_added_tokens_decoder().items())]
  if vocab is None:
    vocab = library.get_vocab(with_added_tokens=False)
  return HfTokenizer(vocab=vocab,
                     normalizer=None if normalizer is None else _bert_normalizer(normalizer),
                     added_tokens=added, special_tokens=specials, unk_token=model.unk_token,
                     continuing_subword_prefix=model.continuing_subword_prefix,
                     max_input_chars_per_word=model.max_input_chars_per_word,
                     split_special_tokens=split_special_tokens, source=path)


def _describe(component: object) -> str:
  if not isinstance(component, dict):
    return repr(component)
  if component.get("type") == "Sequence":
    parts = component.get("normalizers") or component.get("pretokenizers") or []
    return "Sequence[" + ", ".join(_describe(p) for p in parts) + "]"
  return repr(component.get("type"))


# --- Counting (stage 2) -------------------------------------------------------------------

DEFAULT_BATCH_LINES = 16384
_READ_BYTES = 1 << 22
_MAX_CACHED_WORDS = 500_000  # Peak memory +160 MB, measured with made-up words.
_WORDS_PER_TEXT = 256  # New words encoded together (a text per word costs ~5x more).
_LINE_BREAK, _EMPTY = 0, 1  # Word codes of the line marker and of '' (two spaces in a row).


def _utf8_chars(line: bytes) -> int:
  """tf.strings.length(unit='UTF8_CHAR'): the bytes that do not continue a UTF-8 sequence."""
  return len(line) - sum(1 for b in line if 0x80 <= b < 0xC0)


def _kept_lines(block: bytes, min_chars: int) -> List[str]:
  """The lines of `block` ('\\n'-separated, no final '\\n') that count_corpus keeps, as str.

  As tf.data.TextLineDataset reads them: every '\\r' removed. Kept when longer than
  `min_chars` UTF-8 characters. Invalid UTF-8 is decoded with U+FFFD (errors='replace'),
  which BertNormalizer deletes; its length is TensorFlow's (each byte that does not
  continue a sequence is one character).
  """
  block = block.replace(b"\r", b"")
  try:
    return [line for line in block.decode("utf-8").split("\n") if len(line) > min_chars]
  except UnicodeDecodeError:
    kept = []
    for raw in block.split(b"\n"):
      try:
        line = raw.decode("utf-8")
        if len(line) > min_chars:
          kept.append(line)
      except UnicodeDecodeError:
        if _utf8_chars(raw) > min_chars:
          kept.append(raw.decode("utf-8", errors="replace"))
    return kept


def _read_kept_lines(paths: Sequence[str], min_chars: int) -> Iterator[Tuple[List[str], int]]:
  """(kept lines, bytes read) in file order, a few MB at a time; memory does not grow."""
  for path in paths:
    with open(path, "rb") as f:
      rest = b""
      while True:
        chunk = f.read(_READ_BYTES)
        if not chunk:
          break
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
          rest = data
          yield [], len(chunk)
          continue
        rest = data[cut + 1:]
        yield _kept_lines(data[:cut], min_chars), len(chunk)
      if rest:  # A last line without '\n'.
        yield _kept_lines(rest, min_chars), 0


def _expand(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """Concatenated ranges [start, start + length) (int64)."""
  total = int(lengths.sum())
  offsets = np.cumsum(lengths) - lengths
  return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


@dataclasses.dataclass
class _Batch:
  """A batch of kept lines, prepared on the reading thread."""
  num_lines: int
  lines: Optional[List[str]] = None  # Without word splitting: the lines.
  codes: Optional[np.ndarray] = None  # With it: int64 word codes, _LINE_BREAK between lines.
  new_words: Sequence[str] = ()  # The words first seen in this batch, in code order.
  reset: bool = False  # The word cache restarts with this batch.


class _Counter:
  """Occurrences and line frequencies of token ids, batch by batch.

  With `split_words`, lines are cut at ' ' (U+0020) and each distinct word is
  encoded once by the library: exact, because every step of a BERT pipeline
  treats ' ' as a boundary that nothing crosses (BertNormalizer works one
  character at a time and NFD never reorders across a space; the pre-tokenizer
  splits there; added tokens without whitespace cannot span one). The words'
  ids are cached (at most _MAX_CACHED_WORDS; then the cache restarts).

  `prepare` (words -> codes) runs on the reading thread, `count` (the library,
  numpy) on a worker thread, so both cores work: the library and numpy's sort
  release the GIL.
  """

  def __init__(self, tokenizer: HfTokenizer, vocab_size: int, split_words: bool):
    self.library = tokenizer.library()
    self.vocab_size = vocab_size
    self.split_words = split_words
    self.occurrences = np.zeros(vocab_size, np.int64)
    self.doc_freqs = np.zeros(vocab_size, np.int64)
    self.num_lines = self.num_tokens = 0
    self._codes: Dict[str, int] = {}
    self._new_codes()
    self._reset_ids()

  def _new_codes(self) -> None:
    self._codes = collections.defaultdict(itertools.count().__next__)
    assert self._codes["\n"] == _LINE_BREAK and self._codes[""] == _EMPTY

  def _reset_ids(self) -> None:
    self._starts = np.zeros(2, np.int64)
    self._lengths = np.zeros(2, np.int64)
    self._ids = np.zeros(0, np.int64)

  def prepare(self, lines: List[str]) -> _Batch:
    """Reading thread: the batch's word codes (new words get the next codes)."""
    if not self.split_words:
      return _Batch(num_lines=len(lines), lines=lines)
    reset = len(self._codes) > _MAX_CACHED_WORDS
    if reset:
      self._new_codes()
    known = len(self._codes)
    words = "\n".join(lines).replace("\n", " \n ").split(" ")
    codes = np.array(operator.itemgetter(*words)(self._codes) if len(words) > 1
                     else [self._codes[words[0]]], np.int64)
    new_words = list(itertools.islice(self._codes, known, None))
    return _Batch(num_lines=len(lines), codes=codes, new_words=new_words, reset=reset)

  def _encode(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """(ids of every text concatenated, int64; each text's number of ids)."""
    ids = [e.ids for e in self.library.encode_batch_fast(list(texts), add_special_tokens=False)]
    lengths = np.fromiter(map(len, ids), np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(lengths.sum()))
    return flat, lengths

  def _encode_words(self, words: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """As _encode, for words without ' ': encoded _WORDS_PER_TEXT at a time, joined by ' '
    (a boundary, see the class docstring), each token given to the word that holds the last
    character of its span (an added token's lstrip/rstrip spans reach into the spaces)."""
    texts = [" ".join(words[i:i + _WORDS_PER_TEXT])
             for i in range(0, len(words), _WORDS_PER_TEXT)]
    encodings = self.library.encode_batch(texts, add_special_tokens=False)
    ids, owners = [], []
    for first, encoding in zip(range(0, len(words), _WORDS_PER_TEXT), encodings):
      chunk = words[first:first + _WORDS_PER_TEXT]
      starts = np.cumsum([0] + [len(w) + 1 for w in chunk[:-1]])
      last_chars = np.array([end - 1 for _, end in encoding.offsets], np.int64)
      owners.append(first + np.searchsorted(starts, last_chars, side="right") - 1)
      ids.append(np.array(encoding.ids, np.int64))
    owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    return (np.concatenate(ids) if ids else np.zeros(0, np.int64),
            np.bincount(owner, minlength=len(words)).astype(np.int64))

  def count(self, batch: _Batch) -> None:
    """Worker thread: tokenizes and counts one prepared batch (batches in order)."""
    if batch.num_lines == 0:
      return
    if batch.lines is not None:
      tokens, lengths = self._encode(batch.lines)
      line_of_token = np.repeat(np.arange(batch.num_lines, dtype=np.int64), lengths)
    else:
      tokens, line_of_token = self._word_ids(batch)
    if tokens.size and int(tokens.max()) >= self.vocab_size:
      raise InputError(f"the tokenizer produced id {int(tokens.max())} for a vocab of "
                       f"{self.vocab_size} rows")
    self.occurrences += np.bincount(tokens, minlength=self.vocab_size)
    pairs = np.unique(line_of_token * self.vocab_size + tokens)
    self.doc_freqs += np.bincount(pairs % self.vocab_size, minlength=self.vocab_size)
    self.num_lines += batch.num_lines
    self.num_tokens += int(tokens.size)

  def _word_ids(self, batch: _Batch) -> Tuple[np.ndarray, np.ndarray]:
    """(token ids of the batch's lines in order, the line of each) via the cached words."""
    if batch.reset:
      self._reset_ids()
    if batch.new_words:
      ids, lengths = self._encode_words(batch.new_words)
      self._starts = np.concatenate([self._starts, len(self._ids) + np.cumsum(lengths) - lengths])
      self._lengths = np.concatenate([self._lengths, lengths])
      self._ids = np.concatenate([self._ids, ids])
    codes = batch.codes
    line_of_word = np.cumsum(codes == _LINE_BREAK)
    lengths = self._lengths[codes]
    tokens = self._ids[_expand(self._starts[codes], lengths)]
    return tokens, np.repeat(line_of_word, lengths)


def can_split_words(tokenizer: HfTokenizer) -> bool:
  """Whether counting may cut lines at ' ' (no matched added token holds whitespace)."""
  return not any(any(c in RUST_WHITESPACE for c in t.content) for t in tokenizer.added_tokens
                 if not (t.special and tokenizer.split_special_tokens))


def count_corpus(tokenizer: HfTokenizer, paths: Sequence[str], vocab: Sequence[str],
                 min_chars: int = token_counts.DEFAULT_MIN_CHARS,
                 max_sentences: int = token_counts.DEFAULT_MAX_SENTENCES,
                 batch_size: int = DEFAULT_BATCH_LINES, desc: str = "counting",
                 split_words: bool = True) -> token_counts.TokenCounts:
  """Stage 2 with the source's tokenizer: counting.count_corpus's lines, its TokenCounts.

  The lines are those counting.count_corpus (tf.data.TextLineDataset) reads:
  split on '\\n', every '\\r' removed, kept when longer than `min_chars` UTF-8
  characters, the first `max_sentences` kept ones in file order (invalid UTF-8:
  see `_kept_lines`). Each is tokenized by the tokenizers library as
  `tokenizer.encode` does (no [CLS]/[SEP]).

  Args:
    vocab: the token of each id (tokenizer.row_tokens(rows)); counts are keyed by it.
    batch_size: lines per batch (memory: a few batches, the word cache, and two
      int64 [len(vocab)] arrays; it does not grow with the corpus).
    split_words: encode each distinct space-separated word once (exact, see
      `_Counter`); False encodes every line whole (slower, for checks).

  Raises:
    InputError: a file is missing or unreadable, or no line is long enough.
  """
  token_counts.check_corpus_files(paths)
  counter = _Counter(tokenizer, len(vocab), split_words and can_split_words(tokenizer))
  total_bytes = sum(os.path.getsize(p) for p in paths)
  with tqdm(total=total_bytes, unit="B", unit_scale=True, desc=desc, leave=True) as bar, \
      concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
    in_flight: Optional[concurrent.futures.Future] = None

    def submit(lines: List[str]) -> None:
      nonlocal in_flight
      batch = counter.prepare(lines)  # Overlaps the worker's previous batch.
      if in_flight is not None:
        in_flight.result()
        bar.set_postfix(lines=counter.num_lines, tokens=counter.num_tokens, refresh=False)
      in_flight = worker.submit(counter.count, batch)

    pending: List[str] = []
    kept = 0
    try:
      for lines, nbytes in _read_kept_lines(paths, min_chars):
        lines = lines[:max_sentences - kept]
        kept += len(lines)
        pending.extend(lines)
        while len(pending) >= batch_size:
          submit(pending[:batch_size])
          del pending[:batch_size]
        bar.update(nbytes)
        if kept >= max_sentences:
          break
    except OSError as e:
      raise InputError(f"{', '.join(paths)}: cannot read ({e})") from None
    submit(pending)
    in_flight.result()
    bar.set_postfix(lines=counter.num_lines, tokens=counter.num_tokens, refresh=True)
  if counter.num_lines == 0:
    raise InputError(f"{', '.join(paths)}: no line longer than {min_chars} characters")
  return token_counts.TokenCounts(
      occurrences=token_counts.nonzero_counts(counter.occurrences, vocab),
      doc_freqs=token_counts.nonzero_counts(counter.doc_freqs, vocab),
      num_lines=counter.num_lines,
      meta={"corpus": list(paths), "min_chars": min_chars, "max_sentences": max_sentences,
            "lower_case": tokenizer.lower_case, "vocab_size": len(vocab),
            "tokenizer": "tokenizers " + _library_version()})


def _library_version() -> str:
  return tokenizers.__version__
