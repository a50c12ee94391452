"""An XLM-R SentencePiece Unigram tokenizer (multilingual-e5, paraphrase-multilingual, bge-m3),
read from a Hugging Face / Sentence Transformers directory and run as transformers runs it.

`transformers.AutoTokenizer.from_pretrained(dir)` (transformers 5.x; also what
`SentenceTransformer(dir).tokenizer` is) builds, for `tokenizer_class` "XLMRobertaTokenizer"
(tokenizer_config.json, else config.json's `tokenizer_class`, else its `model_type`
"xlm-roberta"), a pipeline of its own around tokenizer.json's pieces:

- the Unigram pieces and scores of tokenizer.json, `unk_id` 3, no byte fallback;
- tokenizer.json's `Precompiled` normalizer alone (its `Replace(" {2,}", " ")` is dropped);
- `WhitespaceSplit` then `Metaspace("\\u2581", prepend_scheme="always")`;
- `<s> A </s>` (pairs `<s> A </s> </s> B </s>`) with the bos/eos ids;
- tokenizer.json's added tokens (`<mask>` with lstrip).

"TokenizersBackend" / "PreTrainedTokenizerFast" run tokenizer.json as written. This module
builds the same pipeline in the tokenizers library (tests/test_hf_unigram.py compares it with
AutoTokenizer), and refuses in one line what it is not: a BPE or byte-level tokenizer (GPT-2,
Llama), a WordPiece one, a Unigram with `byte_fallback`, another pre-tokenizer or normalizer.

`HfUnigramTokenizer` follows the `Tokenizer` protocol (smaller_labse/tokenizers/base.py, kind
"hf_unigram"): special ids by role, the `<s> A </s>` packing, the `\\u2581` word-start
marker, `char_rows` for the character guarantee, `encode_batch` (exact, with a word cache whose
equality to whole-line tokenization bench/bench_unigram_counting.py and the tests check),
`pruned(keep_rows)` and `save`/`load`.

Pruning and Unigram's `<unk>` penalty. The library (like sentencepiece) scores an `<unk>`
node `min(score) - 10` and adds one wherever no single-character piece starts; pruning that
raised the lowest score would make `<unk>` cheaper and could move the segmentation of a
line whose pieces were all kept. `required_rows()` therefore holds the lowest-scoring piece
beside the special tokens, and `pruned` refuses a selection without it. With the lowest
score kept, every path through the pruned lattice scores at most what its counterpart
scored before (an `<unk>` that replaces a dropped single-character piece `c` scores
`min - 10 < score(c)`), so the path the full vocabulary chose for a line whose pieces are all
kept stays the first best path (the library keeps the first of equal scores, and removing
nodes never reorders the others): the segmentation of every kept line is unchanged.
"""

import dataclasses
import itertools
import json
import operator
import os
import threading
import unicodedata
from typing import (Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple,
                    Union)

import numpy as np

from smaller_labse import atomic, files
from smaller_labse.errors import InputError

try:  # The Tokenizer protocol (branch `protocol`); stand-ins until it is merged.
  from smaller_labse.tokenizers import base as _base
  Role = _base.Role
  WordBoundary = _base.WordBoundary
  PackingTemplate = _base.PackingTemplate
  TEXT = _base.TEXT
except ImportError:  # pragma: no cover - main without base.py
  import enum
  _base = None

  class Role(str, enum.Enum):  # type: ignore[no-redef]
    PAD = "pad"
    UNK = "unk"
    START = "start"
    END = "end"
    MASK = "mask"

  TEXT = "A"

  @dataclasses.dataclass(frozen=True)
  class WordBoundary:  # type: ignore[no-redef]
    continuation_prefix: str = ""
    word_start_marker: str = ""

  @dataclasses.dataclass(frozen=True)
  class PackingTemplate:  # type: ignore[no-redef]
    single: Tuple[object, ...] = (Role.START, TEXT, Role.END)

KIND = "hf_unigram"
MARKER = "\u2581"  # SentencePiece's word-start marker (LOWER ONE EIGHTH BLOCK).
TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
CONFIG_JSON = "config.json"
SPM_MODEL = "sentencepiece.bpe.model"
XLMR_CLASS = "XLMRobertaTokenizer"
AS_WRITTEN_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")
XLMR_UNK_ID = 3  # transformers' XLMRobertaTokenizer builds Unigram(unk_id=3) whatever the file says.

# transformers' named special tokens -> role, and XLMRobertaTokenizer's defaults.
_NAMED_ROLES = (("cls_token", Role.START), ("bos_token", Role.START), ("sep_token", Role.END),
                ("eos_token", Role.END), ("pad_token", Role.PAD), ("unk_token", Role.UNK),
                ("mask_token", Role.MASK))
XLMR_DEFAULTS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                 "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
_UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY and sentencepiece's kUnkPenalty.


@dataclasses.dataclass(frozen=True)
class Piece:
  """One row of the vocabulary: its text, its score, whether it is a special token, and whether
  it starts a word (begins with the marker)."""
  text: str
  score: float
  special: bool
  starts_word: bool


# --- Reading ---------------------------------------------------------------------------------

def _read_optional_object(path: str) -> Optional[dict]:
  if not os.path.exists(path):
    return None
  value = files.read_json(path, "file")
  if not isinstance(value, dict):
    raise InputError(f"{path}: expected a JSON object")
  return value


def _tokenizer_class(model_dir: str, config: Optional[dict], model_config: Optional[dict]
                     ) -> str:
  """transformers' tokenizer class (without 'Fast') for `model_dir`, as AutoTokenizer picks it."""
  for value in (config, model_config):
    if value and isinstance(value.get("tokenizer_class"), str):
      return value["tokenizer_class"].removesuffix("Fast")
  model_type = (model_config or {}).get("model_type")
  if model_type == "xlm-roberta":
    return XLMR_CLASS
  if model_type == "bert":
    return "BertTokenizer"
  return "TokenizersBackend"


def _describe(component: object) -> str:
  if not isinstance(component, dict):
    return repr(component)
  if component.get("type") == "Sequence":
    parts = (component.get("normalizers") or component.get("pretokenizers")
             or component.get("processors") or component.get("decoders") or [])
    return "Sequence[" + ", ".join(_describe(p) for p in parts) + "]"
  return str(component.get("type"))


def _contains_type(component: object, kind: str) -> bool:
  if isinstance(component, dict):
    return component.get("type") == kind or any(_contains_type(v, kind)
                                                for v in component.values())
  if isinstance(component, list):
    return any(_contains_type(v, kind) for v in component)
  return False


def _metaspace_ok(pre: dict) -> bool:
  """Metaspace('\\u2581') that prepends the marker to every word and splits on it."""
  if pre.get("type") != "Metaspace" or pre.get("replacement") != MARKER:
    return False
  scheme = pre.get("prepend_scheme", "always" if pre.get("add_prefix_space", True) else "never")
  return scheme == "always" and pre.get("split", True) is True


def _check_model(data: dict, path: str, name: str) -> None:
  """Refuses, in one line, a tokenizer.json that is not a SentencePiece Unigram without byte
  fallback (`name`: the model's family, for the message)."""
  model = data.get("model")
  if not isinstance(model, dict):
    raise InputError(f"{path}: no model in tokenizer.json")
  kind = model.get("type")
  if kind is None:  # Old serializations carry no type: guess it from the fields.
    kind = ("BPE" if "merges" in model else "WordPiece" if "continuing_subword_prefix" in model
            else "Unigram" if isinstance(model.get("vocab"), list) else "unknown")
  byte_level = _contains_type(data.get("pre_tokenizer"), "ByteLevel") or _contains_type(
      data.get("decoder"), "ByteLevel")
  if kind == "BPE":
    what = ("a byte-level BPE tokenizer" if byte_level else
            "a BPE tokenizer with byte fallback" if model.get("byte_fallback") else
            "a BPE tokenizer")
    raise InputError(f"{path}: {what} ({name}), not a SentencePiece Unigram; only XLM-R's "
                     "Unigram tokenizers are supported here")
  if kind != "Unigram":
    raise InputError(f"{path}: a {kind} tokenizer ({name}), not a SentencePiece Unigram")
  if model.get("byte_fallback"):
    raise InputError(f"{path}: a Unigram tokenizer with byte_fallback ({name}); not supported "
                     "(its byte pieces make every character producible)")
  vocab = model.get("vocab")
  if not isinstance(vocab, list) or not vocab or not all(
      isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
      and isinstance(v[1], (int, float)) and not isinstance(v[1], bool) for v in vocab):
    raise InputError(f"{path}: the Unigram vocab is not a list of [piece, score]")
  unk_id = model.get("unk_id")
  if type(unk_id) is not int or not 0 <= unk_id < len(vocab):
    raise InputError(f"{path}: Unigram unk_id {unk_id!r} is not a row of its "
                     f"{len(vocab)} pieces")


def _check_normalizer(normalizer: object, path: str) -> None:
  """Precompiled (SentencePiece's charsmap), optionally followed by Replace(' {2,}', ' ')."""
  parts = (normalizer.get("normalizers") if isinstance(normalizer, dict)
           and normalizer.get("type") == "Sequence" else [normalizer])
  ok = normalizer is None or (isinstance(parts, list) and all(
      isinstance(p, dict) and (p.get("type") == "Precompiled" or (
          p.get("type") == "Replace" and p.get("pattern") == {"Regex": " {2,}"}
          and p.get("content") == " ")) for p in parts))
  if not ok:
    raise InputError(f"{path}: normalizer {_describe(normalizer)} (only SentencePiece's "
                     "Precompiled, with Replace(' {2,}', ' '), is supported)")


def _precompiled_charsmap(normalizer: object) -> Optional[str]:
  """The base64 charsmap of the (first) Precompiled normalizer, as transformers finds it."""
  parts = (normalizer.get("normalizers") if isinstance(normalizer, dict)
           and normalizer.get("type") == "Sequence" else [normalizer])
  for part in parts or []:
    if isinstance(part, dict) and part.get("type") == "Precompiled" and isinstance(
        part.get("precompiled_charsmap"), str):
      return part["precompiled_charsmap"]
  return None


def _check_pre_tokenizer(pre: object, path: str) -> None:
  """Metaspace('\\u2581', always), alone or after WhitespaceSplit."""
  ok = isinstance(pre, dict) and (_metaspace_ok(pre) or (
      pre.get("type") == "Sequence" and isinstance(pre.get("pretokenizers"), list)
      and len(pre["pretokenizers"]) == 2
      and pre["pretokenizers"][0] == {"type": "WhitespaceSplit"}
      and isinstance(pre["pretokenizers"][1], dict) and _metaspace_ok(pre["pretokenizers"][1])))
  if not ok:
    raise InputError(f"{path}: pre-tokenizer {_describe(pre)} (only SentencePiece's Metaspace "
                     "with the '\\u2581' marker prepended to every word is supported)")


def _special_token_names(config: Optional[dict], special_map: Optional[dict], path: str
                         ) -> Dict[str, str]:
  """transformers' named special tokens: tokenizer_config.json, then special_tokens_map.json,
  then XLMRobertaTokenizer's defaults."""
  names = dict(XLMR_DEFAULTS)
  for source in (special_map, config):
    for name in XLMR_DEFAULTS:
      value = (source or {}).get(name)
      if isinstance(value, dict):
        value = value.get("content")
      if isinstance(value, str):
        names[name] = value
      elif name in (source or {}) and value is None and name == "mask_token":
        names.pop(name, None)
      elif name in (source or {}) and value is not None:
        raise InputError(f"{path}: {name} {value!r} is not a token")
  return names


_PROTOCOL_BASES = (_base.Tokenizer,) if _base is not None else ()  # its shared helpers


class HfUnigramTokenizer(*_PROTOCOL_BASES):
  """A source's XLM-R Unigram tokenizer: its files as data, and the pipeline transformers runs.

  Attributes:
    data: tokenizer.json as read (the pieces are `data['model']['vocab']`).
    tokenizer_class: transformers' class ('XLMRobertaTokenizer' or 'TokenizersBackend'...).
    config: tokenizer_config.json, or None; special_tokens_map: special_tokens_map.json or None.
    spm_model: the bytes of sentencepiece.bpe.model, or None.
    source: where it was read (for messages).
  """
  kind = KIND
  lower_case = False
  tf_hub_export = False  # No TF Hub preprocessor: stage 3 writes the ST directory only.
  export_note = ("Its tokenizer is the source's XLM-R SentencePiece Unigram, pruned to the kept "
                 "pieces in their original order with their scores (tokenizer.json and "
                 "sentencepiece.bpe.model).")

  def __init__(self, data: dict, tokenizer_class: str = XLMR_CLASS,
               config: Optional[dict] = None, special_tokens_map: Optional[dict] = None,
               spm_model: Optional[bytes] = None, source: str = TOKENIZER_JSON,
               model_name: str = ""):
    self.data = data
    self.tokenizer_class = tokenizer_class
    self.config = config
    self.special_tokens_map = special_tokens_map
    self.spm_model = spm_model
    self.source = source
    self._lock = threading.Lock()
    self._library = None
    self._words: Optional[_WordEncoder] = None
    name = model_name or tokenizer_class
    _check_model(data, source, name)
    if tokenizer_class not in (XLMR_CLASS,) + AS_WRITTEN_CLASSES:
      raise InputError(f"{source}: tokenizer class {tokenizer_class!r} (only "
                       f"{XLMR_CLASS} and {AS_WRITTEN_CLASSES[0]} Unigram tokenizers are "
                       "supported)")
    _check_normalizer(data.get("normalizer"), source)
    if tokenizer_class == XLMR_CLASS:
      if data["model"]["unk_id"] != XLMR_UNK_ID:
        raise InputError(f"{source}: Unigram unk_id {data['model']['unk_id']} but "
                         f"transformers' {XLMR_CLASS} uses {XLMR_UNK_ID}")
      if (config or {}).get("add_prefix_space", True) is not True:
        raise InputError(f"{source}: add_prefix_space false (not supported)")
    else:
      _check_pre_tokenizer(data.get("pre_tokenizer"), source)
    vocab = data["model"]["vocab"]
    self.pieces: Tuple[str, ...] = tuple(p for p, _ in vocab)
    self.scores: Tuple[float, ...] = tuple(float(s) for _, s in vocab)
    self._ids = {p: i for i, p in reversed(list(enumerate(self.pieces)))}
    if len(self._ids) != len(self.pieces):
      dup = next(p for i, p in enumerate(self.pieces) if self._ids[p] != i)
      raise InputError(f"{source}: piece {dup!r} appears twice in the Unigram vocab")
    self.added_tokens = [dict(t) for t in data.get("added_tokens") or []]
    for token in self.added_tokens:
      if self._ids.get(token.get("content")) != token.get("id"):
        raise InputError(f"{source}: added token {token.get('content')!r} has id "
                         f"{token.get('id')!r}, not its piece's row")
    self.names = _special_token_names(config, special_tokens_map, source)
    for name, token in self.names.items():
      if token not in self._ids:
        raise InputError(f"{source}: {name} {token!r} is not a piece of the vocab")
    if self.names["unk_token"] != self.pieces[data["model"]["unk_id"]]:
      raise InputError(f"{source}: unk_token {self.names['unk_token']!r} is not the Unigram's "
                       f"unk piece {self.pieces[data['model']['unk_id']]!r}")
    if self.names["bos_token"] != self.names["cls_token"] or (
        self.names["eos_token"] != self.names["sep_token"]):
      raise InputError(f"{source}: bos/cls or eos/sep tokens differ (not XLM-R's <s> A </s>)")

  # --- Reading a directory -------------------------------------------------------------------

  @classmethod
  def from_model_dir(cls, model_dir: str) -> "HfUnigramTokenizer":
    """The tokenizer AutoTokenizer.from_pretrained(model_dir) builds (module docstring).

    Raises:
      InputError: no tokenizer.json, malformed files, or a tokenizer that is not an XLM-R
        Unigram (one line, naming the file and what it is).
    """
    path = os.path.join(model_dir, TOKENIZER_JSON)
    if not os.path.isfile(path):
      raise InputError(f"{model_dir}: no {TOKENIZER_JSON}")
    data = files.read_json(path, "tokenizer file")
    if not isinstance(data, dict):
      raise InputError(f"{path}: expected a JSON object")
    config = _read_optional_object(os.path.join(model_dir, TOKENIZER_CONFIG))
    special_map = _read_optional_object(os.path.join(model_dir, SPECIAL_TOKENS_MAP))
    model_config = _read_optional_object(os.path.join(model_dir, CONFIG_JSON))
    spm_path = os.path.join(model_dir, SPM_MODEL)
    spm_model = files.read_bytes(spm_path) if os.path.isfile(spm_path) else None
    name = str((model_config or {}).get("model_type") or "")
    return cls(data, _tokenizer_class(model_dir, config, model_config), config, special_map,
               spm_model, source=path, model_name=name)

  @classmethod
  def load(cls, directory: str, lower_case: Optional[bool] = None) -> "HfUnigramTokenizer":
    """What `save` wrote (`lower_case`: not a switch of this tokenizer, ignored)."""
    del lower_case
    return cls.from_model_dir(directory)

  # --- As data -------------------------------------------------------------------------------

  @property
  def unk_id(self) -> int:
    return self.data["model"]["unk_id"]

  @property
  def num_ids(self) -> int:
    return len(self.pieces)

  def token_to_id(self, token: str) -> Optional[int]:
    return self._ids.get(token)

  def row_tokens(self, num_rows: Optional[int] = None) -> List[str]:
    """The piece of each row; `num_rows` beyond the vocab is an InputError (a table smaller
    than the tokenizer), rows beyond it within `num_rows` are not asked for here."""
    if num_rows is None:
      return list(self.pieces)
    if num_rows < len(self.pieces):
      raise InputError(f"{self.source}: a tokenizer of {len(self.pieces)} pieces does not fit "
                       f"an embedding table of {num_rows} rows")
    return list(self.pieces) + [f"[unreachable row {r}]" for r in range(len(self.pieces),
                                                                         num_rows)]

  def special_ids(self) -> Dict[Role, int]:
    """Role -> id: <s> START, </s> END, <pad> PAD, <unk> UNK, <mask> MASK."""
    ids = {}
    for name, role in _NAMED_ROLES:
      if name in self.names:
        ids.setdefault(role, self._ids[self.names[name]])
    return ids

  def special_rows(self) -> List[int]:
    """The rows of the named special tokens and the special added tokens, in row order (XLM-R:
    0, 1, 2, 3 and <mask> last; pruning keeps them in that order, not first)."""
    rows = {self._ids[t] for t in self.names.values()}
    rows.update(t["id"] for t in self.added_tokens if t.get("special"))
    return sorted(rows)

  def min_score_row(self) -> int:
    """The first row with the lowest score (what the `<unk>` penalty is measured from)."""
    return int(np.argmin(np.array(self.scores, np.float64)))

  def required_rows(self) -> List[int]:
    """The rows every pruning keeps: special_rows() and min_score_row() (module docstring)."""
    return sorted(set(self.special_rows()) | {self.min_score_row()})

  def smaller_vocab(self, full_vocab: Sequence[str], selections: Sequence[Sequence[str]]
                    ) -> List[str]:
    """The pieces of `required_rows()` and of the selections, in their original order: the
    special tokens keep their ids (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask> last), every piece
    its score, and the lowest score stays (the `<unk>` penalty: module docstring). Rows of
    `full_vocab` beyond the pieces (an embedding table larger than the tokenizer) are never
    kept.

    Raises:
      InputError: a selected token is not a piece, or nothing is selected.
    """
    selected = set()
    for tokens in selections:
      selected.update(tokens)
    unknown = sorted(t for t in selected if t not in self._ids)
    if unknown:
      shown = ", ".join(repr(t) for t in unknown[:5])
      raise InputError(f"{len(unknown)} selected tokens are not in the original vocab, e.g. "
                       f"{shown}")
    required = set(self.required_rows())
    rows = {self._ids[t] for t in selected} | required
    if not rows - required:
      raise InputError("the selection is empty: no token to keep besides the special tokens")
    if list(full_vocab[:len(self.pieces)]) != list(self.pieces):
      raise InputError(f"{self.source}: the vocab is not this tokenizer's pieces")
    return [self.pieces[r] for r in sorted(rows)]

  def word_boundary(self) -> WordBoundary:
    return WordBoundary(word_start_marker=MARKER)

  def packing(self) -> PackingTemplate:
    """<s> A </s>."""
    return PackingTemplate((Role.START, TEXT, Role.END))

  def piece(self, row: int) -> Piece:
    text = self.pieces[row]
    return Piece(text, self.scores[row], row in set(self.special_rows()),
                 text.startswith(MARKER))

  def normalized_chars(self, lines: Iterable[str]) -> Set[str]:
    """The characters of `lines` after this tokenizer's normalizer, without whitespace (the
    characters whose pieces the character guarantee keeps)."""
    normalizer = self.library().normalizer
    chars: Set[str] = set()
    for line in lines:
      chars.update(normalizer.normalize_str(line) if normalizer is not None else line)
    return {c for c in chars if not c.isspace()}

  def char_rows(self, chars: Iterable[str]) -> FrozenSet[int]:
    """The rows of the single-character pieces `c` and `\\u2581c` of each of `chars` (and of
    the characters the normalizer turns it into), and of `\\u2581` itself: kept, no line made
    of these characters gains an `<unk>` (the lattice has a single-character node at every
    position)."""
    normalizer = self.library().normalizer
    rows = set()
    if MARKER in self._ids:
      rows.add(self._ids[MARKER])
    for char in set(chars):
      forms = {char}
      if normalizer is not None:
        forms.update(normalizer.normalize_str(char))
      for c in forms:
        for piece in (c, MARKER + c):
          if piece in self._ids:
            rows.add(self._ids[piece])
    return frozenset(rows)

  def char_classes(self, chars: Iterable[str]) -> Dict[str, str]:
    """The protocol's classes: whitespace is dropped, a character the normalizer changes is
    CHANGED, every other character stays in its word (WORD); the marker is WORD (the
    pre-tokenizer writes it, whatever text holds)."""
    normalizer = self.library().normalizer
    classes = {}
    for char in dict.fromkeys(chars):
      if char == MARKER:
        classes[char] = "word"
        continue
      normalized = normalizer.normalize_str(char) if normalizer is not None else char
      classes[char] = ("dropped" if not normalized.strip() else
                       "word" if normalized == char else "changed")
    return classes

  # --- Running -------------------------------------------------------------------------------

  def library_json(self) -> dict:
    """The tokenizers-library serialization of the pipeline transformers runs."""
    if self.tokenizer_class != XLMR_CLASS:
      return self.data
    data = dict(self.data)
    charsmap = _precompiled_charsmap(self.data.get("normalizer"))
    data["normalizer"] = (None if charsmap is None else
                          {"type": "Precompiled", "precompiled_charsmap": charsmap})
    metaspace = {"type": "Metaspace", "replacement": MARKER, "prepend_scheme": "always",
                 "split": True}
    data["pre_tokenizer"] = {"type": "Sequence",
                             "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]}
    data["decoder"] = dict(metaspace)
    data["model"] = {"type": "Unigram", "unk_id": XLMR_UNK_ID, "vocab": self.data["model"]["vocab"],
                     "byte_fallback": False}
    data["post_processor"] = _xlmr_template(self.names["bos_token"],
                                            self._ids[self.names["bos_token"]],
                                            self.names["eos_token"],
                                            self._ids[self.names["eos_token"]])
    return data

  def library(self):
    """This tokenizer as a `tokenizers.Tokenizer` (shared; thread-safe for encoding)."""
    with self._lock:
      if self._library is None:
        from tokenizers import Tokenizer  # pylint: disable=import-outside-toplevel
        try:
          self._library = Tokenizer.from_str(json.dumps(self.library_json()))
        except Exception as e:  # The library's own message, in one line.
          raise InputError(f"{self.source}: the tokenizers library refuses it "
                           f"({' '.join(str(e).split())})") from None
      return self._library

  def encode_exact(self, lines: Sequence[Union[str, bytes]]) -> List[List[int]]:
    """Each line's ids without <s>/</s>, every line encoded whole by the library."""
    texts = [_text(l) for l in lines]
    return [e.ids for e in self.library().encode_batch_fast(texts, add_special_tokens=False)]

  def word_cache_exact(self) -> bool:
    """Whether lines may be encoded word by word (see _WordEncoder): the pre-tokenizer splits
    on whitespace first and no added token holds whitespace."""
    pre = self.library_json().get("pre_tokenizer") or {}
    splits = (pre.get("type") == "Sequence" and pre["pretokenizers"][0] == {
        "type": "WhitespaceSplit"})
    return splits and not any(any(c.isspace() for c in t["content"]) for t in self.added_tokens)

  def encode_flat(self, lines: Sequence[Union[str, bytes]]) -> Tuple[np.ndarray, np.ndarray]:
    """(every line's ids without specials, concatenated: int64; each line's number of ids)."""
    texts = [_text(l) for l in lines]
    if not self.word_cache_exact():
      return _flatten(self.encode_exact(texts))
    if self._words is None:
      words = _WordEncoder(self)  # Outside the lock: library() takes it.
      with self._lock:
        if self._words is None:
          self._words = words
    with self._lock:  # The cache grows as it encodes: one batch at a time.
      return self._words.encode(texts)

  def encode_batch(self, lines: Sequence[Union[str, bytes]]) -> List[List[int]]:
    """Each line's ids without <s>/</s> (the word cache where exact; equal to encode_exact)."""
    ids, lengths = self.encode_flat(lines)
    flat = ids.tolist()
    ends = np.cumsum(lengths).tolist()
    return [flat[start:end] for start, end in zip([0] + ends[:-1], ends)]

  def encode(self, lines: Sequence[Union[str, bytes]]) -> List[List[int]]:
    """The protocol's name for encode_batch."""
    return self.encode_batch(lines)

  def tokenize(self, lines: Sequence[Union[str, bytes]]) -> List[List[str]]:
    return [[self.pieces[i] for i in ids] for ids in self.encode_batch(lines)]

  def count_corpus(self, paths: Sequence[str], vocab: Sequence[str], exact_only: bool = False,
                   **kwargs):
    """Stage 2's counts (hf_counting.count_corpus's lines and TokenCounts), each line encoded
    as `encode_flat` does (the word cache, equal to whole lines); exact_only encodes every line
    whole. kwargs: min_chars, max_sentences, batch_size (None: hf_counting's), desc."""
    from smaller_labse.vocabulary import hf_counting  # pylint: disable=import-outside-toplevel
    encode = (lambda lines: _flatten(self.encode_exact(lines))) if exact_only else self.encode_flat
    return hf_counting.count_corpus(self, paths, vocab, encode=encode, **kwargs)

  # --- Pruning -------------------------------------------------------------------------------

  def pruned(self, keep_rows: Sequence[int]) -> "HfUnigramTokenizer":
    """The same tokenizer over the pieces of `keep_rows` (increasing: the pieces keep their
    order and scores, the special tokens their ids; row i of the result is keep_rows[i]).

    Every id the files store is remapped by `remap_ids`; sentencepiece.bpe.model is pruned to
    match (sentencepiece_model.py).

    Raises:
      InputError: rows not increasing or outside the vocab, or a required row (a special
        token, the lowest-scoring piece: required_rows) missing.
    """
    rows = [int(r) for r in keep_rows]
    if any(b <= a for a, b in zip(rows, rows[1:])):
      raise InputError("the kept rows of a Unigram tokenizer must be increasing (its pieces "
                       "keep their order)")
    if rows and (rows[0] < 0 or rows[-1] >= len(self.pieces)):
      bad = next(r for r in rows if not 0 <= r < len(self.pieces))
      raise InputError(f"row {bad} is not a piece of {self.source} ({len(self.pieces)} pieces)")
    kept = set(rows)
    missing = [r for r in self.required_rows() if r not in kept]
    if missing:
      what = ("the lowest-scoring piece" if missing[0] == self.min_score_row()
              and missing[0] not in self.special_rows() else "the special token")
      raise InputError(f"the smaller vocab lacks {what} {self.pieces[missing[0]]!r} "
                       f"(row {missing[0]})")
    new_id = {old: new for new, old in enumerate(rows)}
    data, config = remap_ids(self.data, self.config, new_id)
    spm_model = None
    if self.spm_model is not None:
      from smaller_labse.tokenizers import sentencepiece_model  # pylint: disable=import-outside-toplevel
      spm_model = sentencepiece_model.prune_xlmr(self.spm_model, self.data["model"]["vocab"],
                                                 rows, source=self.source)
    return HfUnigramTokenizer(data, self.tokenizer_class, config, self.special_tokens_map,
                              spm_model, source=f"{self.source} (pruned)")

  # --- Writing -------------------------------------------------------------------------------

  def tokenizer_json_text(self) -> str:
    """tokenizer.json as written: the source's JSON (key order kept) with this vocab,
    compact, UTF-8 as is; the same tokenizer always gives the same bytes."""
    return json.dumps(self.data, ensure_ascii=False, separators=(",", ":")) + "\n"

  def hf_files(self, max_seq_length: Optional[int] = None) -> Dict[str, Union[str, bytes]]:
    """File name -> content (str or bytes) of the tokenizer files of an export directory."""
    config = dict(self.config) if self.config is not None else {
        "tokenizer_class": self.tokenizer_class, **self.names}
    if max_seq_length is not None:
      config["model_max_length"] = max_seq_length
    out: Dict[str, Union[str, bytes]] = {
        TOKENIZER_JSON: self.tokenizer_json_text(), TOKENIZER_CONFIG: files.json_text(config)}
    if self.special_tokens_map is not None:
      out[SPECIAL_TOKENS_MAP] = files.json_text(self.special_tokens_map)
    if self.spm_model is not None:
      out[SPM_MODEL] = self.spm_model
    return out

  def save(self, directory: str) -> List[str]:
    """Writes hf_files() into `directory` (each file atomically); returns the paths."""
    paths = []
    for name, content in sorted(self.hf_files().items()):
      path = os.path.join(directory, name)
      if isinstance(content, bytes):
        with atomic.atomic_path(path) as tmp:
          with open(tmp, "wb") as f:
            f.write(content)
      else:
        atomic.write_text(path, content)
      paths.append(path)
    return paths

  def tf_preprocessor(self, vocab_path: Optional[str] = None, tokens=None):
    raise InputError(f"{self.source}: a SentencePiece Unigram tokenizer has no TF Hub "
                     "preprocessor here (export the Sentence Transformers directory)")


if _base is not None:  # pragma: no branch
  HfUnigramTokenizer = _base.register(HfUnigramTokenizer)


def _xlmr_template(bos: str, bos_id: int, eos: str, eos_id: int) -> dict:
  """<s> $A </s> (pairs: <s> $A </s> </s> $B </s>), as XLMRobertaTokenizer builds it."""
  def special(token):
    return {"SpecialToken": {"id": token, "type_id": 0}}

  def sequence(name):
    return {"Sequence": {"id": name, "type_id": 0}}
  return {"type": "TemplateProcessing",
          "single": [special(bos), sequence("A"), special(eos)],
          "pair": [special(bos), sequence("A"), special(eos), special(eos), sequence("B"),
                   special(eos)],
          "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]}
                             for t, i in sorted({bos: bos_id, eos: eos_id}.items())}}


def remap_ids(data: dict, config: Optional[dict], new_id: Mapping[int, int]
              ) -> Tuple[dict, Optional[dict]]:
  """tokenizer.json and tokenizer_config.json over the kept rows (`new_id`: old row -> new).

  Every place an id is stored: the Unigram's pieces and `unk_id`; `added_tokens[].id` (dropped
  when not kept); the post-processor's ids (TemplateProcessing `special_tokens[].ids`,
  RobertaProcessing / BertProcessing `cls` and `sep`, inside a Sequence too); `padding.pad_id`;
  tokenizer_config.json's `added_tokens_decoder` keys.

  Raises:
    InputError: an id the files store (other than a dropped added token's) is not kept.
  """
  def remap(old: object, where: str) -> int:
    if old not in new_id:
      raise InputError(f"{where} holds id {old!r}, which the smaller vocab does not keep")
    return new_id[old]

  vocab = data["model"]["vocab"]
  rows = sorted(new_id, key=new_id.__getitem__)
  out = dict(data)
  out["model"] = dict(data["model"], vocab=[list(vocab[r]) for r in rows],
                      unk_id=remap(data["model"]["unk_id"], "the Unigram's unk_id"))
  out["added_tokens"] = [dict(t, id=new_id[t["id"]]) for t in data.get("added_tokens") or []
                         if t["id"] in new_id]
  out["post_processor"] = _remap_processor(data.get("post_processor"), remap)
  if isinstance(data.get("padding"), dict) and "pad_id" in data["padding"]:
    out["padding"] = dict(data["padding"], pad_id=remap(data["padding"]["pad_id"],
                                                        "padding.pad_id"))
  new_config = config
  if config is not None and isinstance(config.get("added_tokens_decoder"), dict):
    decoder = {}
    for key, value in config["added_tokens_decoder"].items():
      if int(key) in new_id:
        decoder[str(new_id[int(key)])] = value
    new_config = dict(config, added_tokens_decoder=decoder)
  return out, new_config


def _remap_processor(post: object, remap) -> object:
  if not isinstance(post, dict):
    return post
  kind = post.get("type")
  if kind == "TemplateProcessing":
    return dict(post, special_tokens={
        name: dict(spec, ids=[remap(i, f"the post-processor's {name!r}") for i in spec["ids"]])
        for name, spec in post["special_tokens"].items()})
  if kind in ("RobertaProcessing", "BertProcessing"):
    return dict(post, **{k: [post[k][0], remap(post[k][1], f"the post-processor's {k}")]
                         for k in ("cls", "sep")})
  if kind == "Sequence":
    return dict(post, processors=[_remap_processor(p, remap) for p in post["processors"]])
  return post


# --- Encoding word by word ---------------------------------------------------------------------

def _text(line: Union[str, bytes]) -> str:
  return line.decode("utf-8", "replace") if isinstance(line, bytes) else line


def _flatten(ids: List[List[int]]) -> Tuple[np.ndarray, np.ndarray]:
  lengths = np.fromiter(map(len, ids), np.int64, count=len(ids))
  flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(lengths.sum()))
  return flat, lengths


def _expand(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """Concatenated ranges [start, start + length) (int64)."""
  offsets = np.cumsum(lengths) - lengths
  return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


# Characters that join a grapheme cluster with a space before them (Unicode's Extend, ZWJ and
# SpacingMark: marks, ZWNJ/ZWJ, halfwidth sound marks, emoji modifiers, tags, Thai/Lao AM) or
# after them (Prepend). The Precompiled normalizer works on grapheme clusters, so a word that
# starts (ends) with one is normalized with the space: its line is encoded whole.
_JOINS_PREVIOUS = frozenset(
    [0x200C, 0x200D, 0xFF9E, 0xFF9F, 0x0E33, 0x0EB3] + list(range(0x1F3FB, 0x1F400))
    + list(range(0xE0020, 0xE0080)))
_JOINS_NEXT = frozenset(
    list(range(0x0600, 0x0606)) + [0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x0D4E, 0x110BD,
                                    0x110CD, 0x111C2, 0x111C3, 0x1193F, 0x11941, 0x11A3A,
                                    0x11D46, 0x11F02] + list(range(0x11A84, 0x11A8A)))
_LINE_BREAK, _EMPTY = 0, 1  # Word codes of the line marker and of '' (two spaces in a row).
MAX_CACHED_WORDS = 1_000_000
_WORDS_PER_TEXT = 512


def word_is_separable(word: str) -> bool:
  """Whether `word`, between two spaces, normalizes as it does alone (no grapheme cluster
  reaches across the spaces)."""
  first, last = ord(word[0]), ord(word[-1])
  return not (unicodedata.category(word[0]) in ("Mn", "Me", "Mc") or first in _JOINS_PREVIOUS
              or last in _JOINS_NEXT)


class _WordEncoder:
  """Lines cut at ' ' (U+0020), each distinct word encoded once; exact for the XLM-R pipeline.

  Why: WhitespaceSplit runs first, so after normalization each whitespace-separated chunk is
  tokenized on its own (Metaspace prepends '\\u2581' to every chunk: the pipeline holds no
  state from one chunk to the next); the Precompiled normalizer maps grapheme clusters one at
  a time, and the ' ' between two words begins no cluster and ends none unless the next word
  starts with a joining character or the previous one ends with a Prepend character
  (`word_is_separable`); added tokens are cut out of the raw text before normalization and,
  holding no whitespace (`word_cache_exact`), lie within one word. So a line's ids are its
  words' ids end to end, except for lines holding an inseparable word: those are encoded whole.

  New words are encoded _WORDS_PER_TEXT to a text, joined by '\\n' made an added special token
  of a private copy of the library tokenizer: the library cuts the text there before anything
  else, so each word is tokenized exactly as alone, and the separator's id marks the
  boundaries ('\\n' never occurs in a line). At most MAX_CACHED_WORDS words are kept; then the
  cache restarts.
  """

  def __init__(self, tokenizer: HfUnigramTokenizer):
    from tokenizers import AddedToken, Tokenizer  # pylint: disable=import-outside-toplevel
    self.library = tokenizer.library()
    self.words_library = Tokenizer.from_str(self.library.to_str())
    self.words_library.add_special_tokens([AddedToken("\n", special=True, normalized=False)])
    self.separator = self.words_library.token_to_id("\n")
    if self.separator is None or self.separator < len(tokenizer.pieces):
      raise InputError(f"{tokenizer.source}: '\\n' is a piece of the vocab (not supported)")
    self._reset()

  def _reset(self) -> None:
    self.codes: Dict[str, int] = {"\n": _LINE_BREAK, "": _EMPTY}
    self.starts = np.zeros(2, np.int64)
    self.lengths = np.zeros(2, np.int64)
    self.inseparable = np.zeros(2, bool)
    self.ids = np.zeros(0, np.int64)

  def _add_words(self, words: Sequence[str]) -> None:
    """Encodes new words and appends them to the cache (codes len(codes)-len(words)...)."""
    separable = np.fromiter(map(word_is_separable, words), bool, count=len(words))
    texts = ["\n".join(words[i:i + _WORDS_PER_TEXT])
             for i in range(0, len(words), _WORDS_PER_TEXT)]
    encodings = self.words_library.encode_batch_fast(texts, add_special_tokens=False)
    ids, lengths = [], []
    for encoding in encodings:
      flat = np.array(encoding.ids, np.int64)
      cuts = np.flatnonzero(flat == self.separator)
      bounds = np.concatenate([[-1], cuts, [len(flat)]])
      lengths.append(np.diff(bounds) - 1)
      ids.append(flat[flat != self.separator])
    lengths_all = np.concatenate(lengths)
    if len(lengths_all) != len(words):
      raise AssertionError("word separator lost")
    ids_all = np.concatenate(ids)
    self.starts = np.concatenate([self.starts, len(self.ids) + np.cumsum(lengths_all)
                                  - lengths_all])
    self.lengths = np.concatenate([self.lengths, lengths_all])
    self.inseparable = np.concatenate([self.inseparable, ~separable])
    self.ids = np.concatenate([self.ids, ids_all])

  def encode(self, lines: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    if not lines:
      return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if any("\n" in line for line in lines):
      raise InputError("a line holds a line break")
    if len(self.codes) > MAX_CACHED_WORDS:
      self._reset()
    codes_map = self.codes
    known = len(codes_map)
    words = "\n".join(lines).replace("\n", " \n ").split(" ")
    new_words = [w for w in dict.fromkeys(words) if w not in codes_map]
    for w in new_words:
      codes_map[w] = len(codes_map)
    if new_words:
      self._add_words(new_words)
    assert len(codes_map) == known + len(new_words) == len(self.lengths)
    codes = np.array(operator.itemgetter(*words)(codes_map) if len(words) > 1
                     else [codes_map[words[0]]], np.int64)
    line_of_word = np.cumsum(codes == _LINE_BREAK)
    lengths = self.lengths[codes]
    inseparable_lines = np.unique(line_of_word[self.inseparable[codes]])
    if inseparable_lines.size:
      lengths = np.where(np.isin(line_of_word, inseparable_lines), 0, lengths)
    tokens = self.ids[_expand(self.starts[codes], lengths)]
    line_lengths = np.bincount(line_of_word, weights=lengths, minlength=len(lines)).astype(
        np.int64)
    if not inseparable_lines.size:
      return tokens, line_lengths
    whole = [e.ids for e in self.library.encode_batch_fast(
        [lines[i] for i in inseparable_lines.tolist()], add_special_tokens=False)]
    whole_ids, whole_lengths = _flatten(whole)
    line_lengths[inseparable_lines] = whole_lengths
    line_of_token = np.concatenate([np.repeat(line_of_word, lengths),
                                    np.repeat(inseparable_lines, whole_lengths)])
    order = np.argsort(line_of_token, kind="stable")
    return np.concatenate([tokens, whole_ids])[order], line_lengths
