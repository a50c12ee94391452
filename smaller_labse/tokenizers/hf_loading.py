"""Loading a Hugging Face source's tokenizer directory as transformers does.

`load_model_dir(dir)` is the tokenizer `transformers.AutoTokenizer.from_pretrained(dir)` builds
(transformers 5.x), as an `HfTokenizer` (see hf_tokenizer.py's docstring for the rules:
which class, where the vocab comes from, how added and special tokens are added). What this
project cannot reproduce in TensorFlow is refused in one line naming the file.
"""

import functools
import itertools
import json
import os
from typing import Dict, Mapping, Optional, Tuple

from tokenizers import AddedToken as LibraryAddedToken
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from smaller_labse import files
from smaller_labse.errors import InputError
from smaller_labse.tokenizers.hf_tokenizer import (
    ADDED_FIELDS, ADDED_TOKENS_JSON, BERT_DEFAULTS, CONFIG_JSON, JSON_CLASSES,
    NAMED_SPECIAL_TOKENS, REQUIRED_NAMES, SPECIAL_TOKENS_MAP, TOKENIZER_CONFIG,
    TOKENIZER_JSON, VOCAB_TXT, AddedToken, HfTokenizer, bert_normalizer)


def _read_object(path: str) -> Optional[Dict[str, object]]:
  """A JSON file's object, None when the file does not exist."""
  if not os.path.exists(path):
    return None
  value = files.read_json(path)
  if not isinstance(value, dict):
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
    fields = {k: value[k] for k in ADDED_FIELDS if k in value}
    if special is not None:
      fields["special"] = special
    return LibraryAddedToken(**fields)
  raise InputError(f"{path}: {value!r} is not a token")


def _load_json_tokenizer(path: str, build: bool):
  """(tokenizer.json's data, the library's tokenizer from it if `build`, else None)."""
  text = files.decode_utf8(path, files.read_bytes(path, "tokenizer file"))
  data = files.parse_json(text, path)
  check_wordpiece_json(data, path)
  if not build:
    return data, None
  try:
    return data, Tokenizer.from_str(text)
  except Exception as e:  # The library raises bare Exceptions for malformed files.
    raise InputError(f"{path}: not a tokenizers file ({str(e).splitlines()[0][:200]})") from None


def check_wordpiece_json(data: object, path: str) -> None:
  """Refuses, in one line naming what it is, a tokenizer.json whose model is not WordPiece (a
  byte-level BPE such as GPT-2's or RoBERTa's, a BPE with byte fallback such as Llama's, a
  Unigram that is not XLM-R's)."""
  model = data.get("model") if isinstance(data, dict) else None
  model_type = model.get("type") if isinstance(model, dict) else None
  if model_type == "WordPiece":
    return
  if model_type == "BPE":
    byte_level = "ByteLevel" in json.dumps([data.get("pre_tokenizer"), data.get("decoder")])
    kind = ("a byte-level BPE tokenizer (GPT-2's, RoBERTa's kind)" if byte_level else
            "a BPE tokenizer with byte fallback (Llama's kind)" if model.get("byte_fallback")
            else "a BPE tokenizer")
  elif model_type == "Unigram":  # Here only when it is not XLM-R's (sources.py reads those).
    raise InputError(f"{path}: a Unigram (SentencePiece) tokenizer, not BERT's WordPiece")
  else:
    kind = f"model type {model_type!r}"
  raise InputError(f"{path}: {kind}, neither BERT's WordPiece nor XLM-R's SentencePiece "
                   "Unigram: not supported")


def load_model_dir(model_dir: str) -> HfTokenizer:
  """The tokenizer AutoTokenizer.from_pretrained(model_dir) builds (see the module docstring).

  Raises:
    InputError: no tokenizer files, malformed ones, or a tokenizer this project
      cannot reproduce (one line naming the file).
  """
  if not os.path.isdir(model_dir):
    raise InputError(f"{model_dir}: no such directory")
  join = functools.partial(os.path.join, model_dir)
  config = _read_object(join(TOKENIZER_CONFIG)) or {}
  model_config = _read_object(join(CONFIG_JSON))
  model_type = (model_config or {}).get("model_type")
  if model_type is not None and model_type != "bert" and os.path.exists(join(TOKENIZER_JSON)):
    # Name the tokenizer first: an XLMRobertaModel with a BPE tokenizer is refused for it.
    check_wordpiece_json(files.parse_json(files.decode_utf8(
        join(TOKENIZER_JSON), files.read_bytes(join(TOKENIZER_JSON), "tokenizer file")),
        join(TOKENIZER_JSON)), join(TOKENIZER_JSON))
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
    for name, default in BERT_DEFAULTS.items():
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
  elif class_name in JSON_CLASSES:
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
    for name in REQUIRED_NAMES + ("mask_token",):
      if name not in specials and library.token_to_id(BERT_DEFAULTS[name]) is not None:
        specials[name] = BERT_DEFAULTS[name]
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
    specials = {_content(kwargs.get(k)) for k in NAMED_SPECIAL_TOKENS if kwargs.get(k)}
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
    if key in NAMED_SPECIAL_TOKENS or (key.endswith("_token") and isinstance(value, (str, dict))):
      if value is None:
        continue
      token = _library_added_token(value, path) if isinstance(value, dict) else value
      if key in NAMED_SPECIAL_TOKENS:
        token = by_content.get(str(token), token)
      named[key] = token
  return {**{k: named[k] for k in NAMED_SPECIAL_TOKENS if k in named},
          **{k: v for k, v in named.items() if k not in NAMED_SPECIAL_TOKENS}}


def _check_declared(specials: Dict[str, str], library, decoder: Dict[int, object],
                    path: str) -> None:
  """The required special tokens must already be tokens (transformers would append them)."""
  added = {str(t) for t in decoder.values()}
  for name in REQUIRED_NAMES:
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
  added = [AddedToken(id=i, **{k: getattr(t, k) for k in ADDED_FIELDS})
           for i, t in sorted(library.get_added_tokens_decoder().items())]
  if vocab is None:
    vocab = library.get_vocab(with_added_tokens=False)
  return HfTokenizer(vocab=vocab,
                     normalizer=None if normalizer is None else bert_normalizer(normalizer),
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
