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

Then the added and special tokens are added as transformers adds them
(hf_loading.py does all this with the tokenizers library; tests/test_hf_tokenizer.py
compares the result with AutoTokenizer's on every layout it knows), and what
cannot be reproduced in TensorFlow is refused: other models (Unigram /
SentencePiece, BPE), other normalizers and pre-tokenizers, single-word added
tokens, missing special tokens.

`HfTokenizer`, here, is a `base.Tokenizer` (kind "hf_wordpiece"): it holds the
result as data (vocab, normalizer settings, added tokens), runs it in the
tokenizers library (`encode`; stage 2's counting is vocabulary/hf_counting.py),
says what its normalizer and pre-tokenizer do to each character (`char_classes`,
from hf_chars.py), derives a smaller tokenizer (`pruned`, `with_vocab`), saves
itself into stage 1's store (`save`: tokenizer.json, `load`), writes it for
AutoTokenizer (`hf_files`) and builds its TensorFlow twin (`tf_preprocessor`, see
hf_preprocessor.py). Its special tokens are transformers' named ones (whatever
their names: '<s>' may be the cls_token), its special added tokens, and any
bracketed token of the vocab ('[unused7]'), as in a WordPiece vocab file.
"""

import bisect
import dataclasses
import functools
import itertools
import json
import os
import threading
import unicodedata
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from tokenizers import AddedToken as LibraryAddedToken
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from smaller_labse import atomic, files
from smaller_labse.errors import InputError
from smaller_labse.tokenizers import base, hf_chars, tf_hub_wordpiece
from smaller_labse.tokenizers.base import Role
from smaller_labse.tokenizers.vocab import is_special_token, unreachable_token

if TYPE_CHECKING:
  from smaller_labse.vocabulary.token_counts import TokenCounts

TOKENIZER_JSON = "tokenizer.json"
VOCAB_TXT = "vocab.txt"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
ADDED_TOKENS_JSON = "added_tokens.json"
CONFIG_JSON = "config.json"
FORMAT = "smaller_labse.tokenizers.hf_tokenizer/1"

# transformers' named special tokens, in its order (which decides the ids of missing ones).
NAMED_SPECIAL_TOKENS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
          "mask_token")
BERT_DEFAULTS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                  "cls_token": "[CLS]", "mask_token": "[MASK]"}
REQUIRED_NAMES = ("unk_token", "cls_token", "sep_token", "pad_token")
JSON_CLASSES = ("PreTrainedTokenizer", "TokenizersBackend")
ADDED_FIELDS = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")


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


EXPORT_NOTE = """The tokenizer is the source model's own (`tokenizer.json`: the same normalizer,
pre-tokenizer and WordPiece settings) over the smaller vocabulary: a sentence whose tokens
were all kept is tokenized exactly as the source model tokenizes it."""


class HfTokenizer(base.Tokenizer):
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
  kind = "hf_wordpiece"  # source.json's "tokenizer" (base.py's registry)
  export_note = EXPORT_NOTE

  def __init__(self, vocab: Mapping[str, int], normalizer: Optional[BertNormalizer],
               added_tokens: Sequence[AddedToken], special_tokens: Mapping[str, str],
               unk_token: str, continuing_subword_prefix: str = "##",
               max_input_chars_per_word: int = 100, split_special_tokens: bool = False,
               source: str = "tokenizer"):
    self.vocab = dict(vocab)
    self.normalizer = normalizer
    self.added_tokens = tuple(sorted(added_tokens, key=lambda t: t.id))
    self.special_tokens = {k: special_tokens[k] for k in NAMED_SPECIAL_TOKENS if special_tokens.get(k)}
    self.special_tokens.update({k: v for k, v in special_tokens.items()
                                if k not in NAMED_SPECIAL_TOKENS and v})
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
  def from_json(cls, text: str, path: str) -> "HfTokenizer":
    """Reads `to_json`'s text; `path` names it in errors."""
    data = files.parse_json(text, path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
      raise InputError(f"{path}: not a tokenizer written by smaller_labse ({FORMAT})")
    try:
      model = data["tokenizer"]["model"]
      normalizer = data["tokenizer"]["normalizer"]
      return cls(
          vocab=model["vocab"],
          normalizer=None if normalizer is None else bert_normalizer(normalizer),
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

  def row_tokens(self, num_rows: Optional[int] = None) -> List[str]:
    """The token of each embedding row 0..num_rows-1 (default num_ids); `unreachable_token(row)`
    where none is.

    Raises:
      InputError: an id >= num_rows (a tokenizer whose vocab does not fit the embedding table).
    """
    id_tokens = self._id_tokens()
    num_rows = self.num_ids if num_rows is None else num_rows
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
    for name in REQUIRED_NAMES:
      token = self.special_tokens.get(name)
      if not token or self.token_to_id(token) is None:
        raise InputError(f"{self.source}: no {name} ({BERT_DEFAULTS[name]}) in the vocab")
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
    library.add_tokens([LibraryAddedToken(**{k: getattr(t, k) for k in ADDED_FIELDS})
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
        TOKENIZER_CONFIG: pretty_json(config),
        SPECIAL_TOKENS_MAP: pretty_json(special),
        VOCAB_TXT: "".join(t + "\n" for t in self.row_tokens(self.num_ids)),
    }

  # --- The Tokenizer protocol's view ------------------------------------------------------

  def special_ids(self) -> Dict[Role, int]:
    """Role -> id: the named pad, cls (START), sep (END) and mask tokens, and WordPiece's unk."""
    ids = {Role.PAD: self.token_to_id(self.pad_token), Role.UNK: self.vocab[self.unk_token],
           Role.START: self.token_to_id(self.cls_token),
           Role.END: self.token_to_id(self.sep_token)}
    if self.mask_token and self.token_to_id(self.mask_token) is not None:
      ids[Role.MASK] = self.token_to_id(self.mask_token)
    return ids

  def special_rows(self) -> List[int]:
    """The named special tokens, the special added tokens and the vocab's bracketed tokens."""
    rows = {self.token_to_id(t) for t in self.special_tokens.values()}
    rows.add(self.vocab[self.unk_token])
    rows.update(t.id for t in self.added_tokens if t.special)
    rows.update(i for i, t in self._id_tokens().items() if is_special_token(t))
    return sorted(r for r in rows if r is not None)

  def word_boundary(self) -> base.WordBoundary:
    return base.WordBoundary(continuation_prefix=self.continuing_subword_prefix)

  def char_classes(self, chars: Iterable[str]) -> Dict[str, str]:
    """What BertNormalizer (these settings) and BertPreTokenizer do to each character, from
    the library's own tables (hf_chars.py)."""
    return {c: self._char_class(c) for c in dict.fromkeys(chars)}

  def _char_class(self, char: str) -> str:
    cp, norm = ord(char), self.normalizer
    if norm is not None and norm.clean_text and (
        _in_table("CLEAN_DROPPED", cp) or _in_table("CLEAN_TO_SPACE", cp)):
      return base.DROPPED
    if _in_table("WHITESPACE", cp):
      return base.DROPPED
    if (norm is not None and norm.handle_chinese_chars and _in_table("CJK", cp)) or _in_table(
        "PUNCTUATION", cp):
      return base.SPLIT
    if norm is not None:
      if norm.lowercase and (cp in _lowercase_table() or cp in hf_chars.LOWERCASE_MULTI):
        return base.CHANGED
      if norm.strips_accents:
        if _in_table("NONSPACING_MARKS", cp):
          return base.DROPPED
        if unicodedata.normalize("NFD", char) != char and not _in_table("NFD_KEPT", cp):
          return base.CHANGED
    return base.WORD

  def pruned(self, keep_rows: Sequence[int]) -> "HfTokenizer":
    """with_vocab over the tokens of `keep_rows`."""
    base.check_pruning(self, keep_rows, self.num_ids)
    id_tokens = self._id_tokens()
    missing = [int(r) for r in keep_rows if int(r) not in id_tokens]
    if missing:
      raise InputError(f"{self.source}: row {missing[0]} holds no token (unreachable)")
    return self.with_vocab([id_tokens[int(r)] for r in keep_rows])

  def save(self, directory: str) -> List[str]:
    """tokenizer.json: `to_json` (this tokenizer as data, with its transformers names)."""
    path = os.path.join(directory, TOKENIZER_JSON)
    atomic.write_text(path, self.to_json())
    return [path]

  @classmethod
  def load(cls, directory: str, lower_case: Optional[bool] = None) -> "HfTokenizer":
    """What `save` wrote (`lower_case` is not a switch of this tokenizer: ignored)."""
    path = os.path.join(directory, TOKENIZER_JSON)
    return cls.from_json(files.read_bytes(path).decode("utf-8"), path)

  def count_corpus(self, paths: Sequence[str], vocab: Sequence[str], exact_only: bool = False,
                   **kwargs) -> "TokenCounts":
    """Stage 2's counts (hf_counting.count_corpus); exact_only encodes every line whole."""
    from smaller_labse.vocabulary import hf_counting  # pylint: disable=import-outside-toplevel
    return hf_counting.count_corpus(self, paths, vocab, split_words=not exact_only, **kwargs)

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


@functools.lru_cache(maxsize=None)
def _table(name: str) -> Tuple[List[int], List[int]]:
  """hf_chars' ranges `name` as (firsts, lasts), sorted."""
  firsts, lasts = [], []
  for item in getattr(hf_chars, name).split():
    first, _, last = item.partition("-")
    firsts.append(int(first, 16))
    lasts.append(int(last or first, 16))
  return firsts, lasts


def _in_table(name: str, cp: int) -> bool:
  firsts, lasts = _table(name)
  i = bisect.bisect_right(firsts, cp) - 1
  return i >= 0 and cp <= lasts[i]


@functools.lru_cache(maxsize=None)
def _lowercase_table() -> frozenset:
  return frozenset(cp for first, last, step, _ in hf_chars.LOWERCASE_RUNS
                   for cp in range(first, last + 1, step))


def pretty_json(value: object) -> str:
  return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def bert_normalizer(spec: Mapping[str, object]) -> BertNormalizer:
  if spec.get("type") != "BertNormalizer":
    raise ValueError(f"normalizer {spec.get('type')!r}")
  return BertNormalizer(clean_text=bool(spec["clean_text"]),
                        handle_chinese_chars=bool(spec["handle_chinese_chars"]),
                        strip_accents=spec["strip_accents"], lowercase=bool(spec["lowercase"]))

