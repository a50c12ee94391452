"""Reading an XLM-R SentencePiece Unigram tokenizer directory, and checking it, as
transformers 5 runs it (hf_unigram.py's `HfUnigramTokenizer` is built from what this reads).

`transformers.AutoTokenizer.from_pretrained(dir)` (transformers 5.x; also what
`SentenceTransformer(dir).tokenizer` is) builds, for `tokenizer_class` "XLMRobertaTokenizer"
(tokenizer_config.json, else config.json's `tokenizer_class`, else its `model_type`
"xlm-roberta"), a pipeline of its own around tokenizer.json's pieces:

- the Unigram pieces and scores of tokenizer.json, `unk_id` 3, no byte fallback;
- tokenizer.json's `Precompiled` normalizer alone (its `Replace(" {2,}", " ")` is dropped);
- `WhitespaceSplit` then `Metaspace("\\u2581", prepend_scheme="always")`;
- `<s> A </s>` (pairs `<s> A </s> </s> B </s>`) with the bos/eos ids;
- tokenizer.json's added tokens (`<mask>` with lstrip).

"TokenizersBackend" / "PreTrainedTokenizerFast" run tokenizer.json as written.
`transformers_pipeline` builds the same pipeline for the tokenizers library
(tests/test_hf_unigram.py compares it with AutoTokenizer), and `check_tokenizer` refuses in one
line what it is not: a BPE or byte-level tokenizer (GPT-2, Llama), a WordPiece one, a Unigram
with `byte_fallback`, another pre-tokenizer or normalizer.
"""

import dataclasses
import os
from typing import Dict, List, Mapping, Optional, Tuple

from smaller_labse import files
from smaller_labse.errors import InputError
from smaller_labse.tokenizers.base import Role

MARKER = "\u2581"  # SentencePiece's word-start marker (LOWER ONE EIGHTH BLOCK).
TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
CONFIG_JSON = "config.json"
SPM_MODEL = "sentencepiece.bpe.model"
XLMR_CLASS = "XLMRobertaTokenizer"
AS_WRITTEN_CLASSES = ("TokenizersBackend", "PreTrainedTokenizerFast")
# transformers' XLMRobertaTokenizer builds Unigram(unk_id=3) whatever the file says.
XLMR_UNK_ID = 3

# transformers' named special tokens -> role, and XLMRobertaTokenizer's defaults.
NAMED_ROLES = (("cls_token", Role.START), ("bos_token", Role.START), ("sep_token", Role.END),
               ("eos_token", Role.END), ("pad_token", Role.PAD), ("unk_token", Role.UNK),
               ("mask_token", Role.MASK))
XLMR_DEFAULTS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                 "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}


@dataclasses.dataclass
class TokenizerFiles:
  """A tokenizer directory's files as read (what `HfUnigramTokenizer` is built from).

  Attributes:
    data: tokenizer.json (the pieces are `data['model']['vocab']`).
    tokenizer_class: transformers' class ('XLMRobertaTokenizer' or 'TokenizersBackend'...).
    config: tokenizer_config.json, or None; special_tokens_map: special_tokens_map.json or None.
    spm_model: the bytes of sentencepiece.bpe.model, or None.
    source: tokenizer.json's path (for messages); model_name: config.json's model_type or ''.
  """
  data: dict
  tokenizer_class: str
  config: Optional[dict]
  special_tokens_map: Optional[dict]
  spm_model: Optional[bytes]
  source: str
  model_name: str


@dataclasses.dataclass
class CheckedVocab:
  """What `check_tokenizer` found: the pieces, their scores, piece -> first row, the added
  tokens and transformers' named special tokens (name -> piece)."""
  pieces: Tuple[str, ...]
  scores: Tuple[float, ...]
  ids: Dict[str, int]
  added_tokens: List[dict]
  names: Dict[str, str]


def read_model_dir(model_dir: str) -> TokenizerFiles:
  """The files AutoTokenizer.from_pretrained(model_dir) reads (module docstring).

  Raises:
    InputError: no tokenizer.json, or a malformed file (one line naming it).
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
  return TokenizerFiles(data, tokenizer_class(config, model_config), config, special_map,
                        spm_model, source=path,
                        model_name=str((model_config or {}).get("model_type") or ""))


def _read_optional_object(path: str) -> Optional[dict]:
  if not os.path.exists(path):
    return None
  value = files.read_json(path, "file")
  if not isinstance(value, dict):
    raise InputError(f"{path}: expected a JSON object")
  return value


def tokenizer_class(config: Optional[dict], model_config: Optional[dict]) -> str:
  """transformers' tokenizer class (without 'Fast'), as AutoTokenizer picks it from
  tokenizer_config.json (`config`) and config.json (`model_config`)."""
  for value in (config, model_config):
    if value and isinstance(value.get("tokenizer_class"), str):
      return value["tokenizer_class"].removesuffix("Fast")
  model_type = (model_config or {}).get("model_type")
  if model_type == "xlm-roberta":
    return XLMR_CLASS
  if model_type == "bert":
    return "BertTokenizer"
  return "TokenizersBackend"


# --- Checking -------------------------------------------------------------------------------

def check_tokenizer(data: dict, tokenizer_class_name: str, config: Optional[dict],
                    special_tokens_map: Optional[dict], source: str, model_name: str = ""
                    ) -> CheckedVocab:
  """Checks tokenizer.json and its configs as transformers would run them; returns the vocab.

  Raises:
    InputError: not an XLM-R Unigram (one line, naming `source` and what it is), a class
      transformers would not run this way, a duplicated piece, an added token off its row, a
      named special token that is not a piece, or bos/eos that are not XLM-R's `<s> A </s>`.
  """
  _check_model(data, source, model_name or tokenizer_class_name)
  if tokenizer_class_name not in (XLMR_CLASS,) + AS_WRITTEN_CLASSES:
    raise InputError(f"{source}: tokenizer class {tokenizer_class_name!r} (only "
                     f"{XLMR_CLASS} and {AS_WRITTEN_CLASSES[0]} Unigram tokenizers are "
                     "supported)")
  _check_normalizer(data.get("normalizer"), source)
  if tokenizer_class_name == XLMR_CLASS:
    if data["model"]["unk_id"] != XLMR_UNK_ID:
      raise InputError(f"{source}: Unigram unk_id {data['model']['unk_id']} but "
                       f"transformers' {XLMR_CLASS} uses {XLMR_UNK_ID}")
    if (config or {}).get("add_prefix_space", True) is not True:
      raise InputError(f"{source}: add_prefix_space false (not supported)")
  else:
    _check_pre_tokenizer(data.get("pre_tokenizer"), source)
  vocab = data["model"]["vocab"]
  pieces = tuple(p for p, _ in vocab)
  scores = tuple(float(s) for _, s in vocab)
  ids = {p: i for i, p in reversed(list(enumerate(pieces)))}
  if len(ids) != len(pieces):
    dup = next(p for i, p in enumerate(pieces) if ids[p] != i)
    raise InputError(f"{source}: piece {dup!r} appears twice in the Unigram vocab")
  added_tokens = [dict(t) for t in data.get("added_tokens") or []]
  for token in added_tokens:
    if ids.get(token.get("content")) != token.get("id"):
      raise InputError(f"{source}: added token {token.get('content')!r} has id "
                       f"{token.get('id')!r}, not its piece's row")
  names = special_token_names(config, special_tokens_map, source)
  for name, token in names.items():
    if token not in ids:
      raise InputError(f"{source}: {name} {token!r} is not a piece of the vocab")
  if names["unk_token"] != pieces[data["model"]["unk_id"]]:
    raise InputError(f"{source}: unk_token {names['unk_token']!r} is not the Unigram's "
                     f"unk piece {pieces[data['model']['unk_id']]!r}")
  if names["bos_token"] != names["cls_token"] or names["eos_token"] != names["sep_token"]:
    raise InputError(f"{source}: bos/cls or eos/sep tokens differ (not XLM-R's <s> A </s>)")
  return CheckedVocab(pieces, scores, ids, added_tokens, names)


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


def _normalizer_parts(normalizer: object) -> object:
  return (normalizer.get("normalizers") if isinstance(normalizer, dict)
          and normalizer.get("type") == "Sequence" else [normalizer])


def _check_normalizer(normalizer: object, path: str) -> None:
  """Precompiled (SentencePiece's charsmap), optionally followed by Replace(' {2,}', ' ')."""
  parts = _normalizer_parts(normalizer)
  ok = normalizer is None or (isinstance(parts, list) and all(
      isinstance(p, dict) and (p.get("type") == "Precompiled" or (
          p.get("type") == "Replace" and p.get("pattern") == {"Regex": " {2,}"}
          and p.get("content") == " ")) for p in parts))
  if not ok:
    raise InputError(f"{path}: normalizer {_describe(normalizer)} (only SentencePiece's "
                     "Precompiled, with Replace(' {2,}', ' '), is supported)")


def _precompiled_charsmap(normalizer: object) -> Optional[str]:
  """The base64 charsmap of the (first) Precompiled normalizer, as transformers finds it."""
  for part in _normalizer_parts(normalizer) or []:
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


def special_token_names(config: Optional[dict], special_map: Optional[dict], path: str
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


# --- The pipeline transformers builds --------------------------------------------------------

def transformers_pipeline(data: dict, tokenizer_class_name: str, names: Mapping[str, str],
                          ids: Mapping[str, int]) -> dict:
  """The tokenizers-library serialization of the pipeline transformers runs for tokenizer.json
  `data` (module docstring; `names`: named special tokens, `ids`: piece -> row)."""
  if tokenizer_class_name != XLMR_CLASS:
    return data
  out = dict(data)
  charsmap = _precompiled_charsmap(data.get("normalizer"))
  out["normalizer"] = (None if charsmap is None else
                       {"type": "Precompiled", "precompiled_charsmap": charsmap})
  metaspace = {"type": "Metaspace", "replacement": MARKER, "prepend_scheme": "always",
               "split": True}
  out["pre_tokenizer"] = {"type": "Sequence",
                          "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]}
  out["decoder"] = dict(metaspace)
  out["model"] = {"type": "Unigram", "unk_id": XLMR_UNK_ID, "vocab": data["model"]["vocab"],
                  "byte_fallback": False}
  out["post_processor"] = xlmr_template(names["bos_token"], ids[names["bos_token"]],
                                        names["eos_token"], ids[names["eos_token"]])
  return out


def xlmr_template(bos: str, bos_id: int, eos: str, eos_id: int) -> dict:
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
