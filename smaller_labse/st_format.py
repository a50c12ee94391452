"""The Sentence Transformers / Hugging Face format: LaBSE where PyTorch users load it.

A directory laid out as `sentence-transformers/LaBSE` is on the Hugging Face Hub,
loadable with `SentenceTransformer(path)` and with `transformers.AutoModel` /
`AutoTokenizer`:

  config.json                  BertConfig ("architectures": ["BertModel"])
  model.safetensors            BertModel's parameters under Hugging Face's names
  vocab.txt                    the WordPiece vocab, one token per line
  tokenizer.json               a `tokenizers` pipeline that reproduces the TF Hub
                               preprocessor's tokenization (see `tokenizer_json`)
  tokenizer_config.json, special_tokens_map.json
  modules.json                 Transformer -> 1_Pooling -> 2_Dense -> 3_Normalize
  sentence_bert_config.json    max_seq_length (128: the TF Hub preprocessor's), do_lower_case
  config_sentence_transformers.json   cosine similarity
  1_Pooling/config.json        the [CLS] token
  2_Dense/config.json, 2_Dense/model.safetensors   LaBSE's pooler: 768 -> 768, tanh
  3_Normalize/                 L2 normalisation (LaBSE's sentence embedding)
  README.md                    the model card (`model_card`), written once the export is proven

The pooler is stored twice (a few MB): as BertModel's `pooler.dense`, so that
`AutoModel(...).pooler_output` is LaBSE's `pooled_output` and loading reports no
missing weights, and as `2_Dense`, which is what Sentence Transformers applies.

Weights are streamed into model.safetensors tensor by tensor (row chunks for the
word embeddings), so exporting never holds a second copy of the 1.5 GB table.
"""

import json
import os
import struct
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from smaller_labse import vocab as vocab_lib
from smaller_labse.config import EncoderConfig
from smaller_labse.encoder import WORD_EMBEDDINGS, weight_shapes
from smaller_labse.errors import InputError

WeightValue = Any  # A float32 np.ndarray, a tf.Variable or a row reader (`value[a:b]`).

DEFAULT_MAX_SEQ_LENGTH = 128  # What the TF Hub preprocessor packs to.
# LaBSE was trained and exported with TF Model Garden's "gelu", the tanh approximation.
# Hugging Face's "gelu" is the exact erf form (what the common LaBSE ports write, about
# 1e-3 away on single activations); "gelu_new" is the tanh form in every transformers version.
HIDDEN_ACT = "gelu_new"
MODEL_FILE = "model.safetensors"
DENSE_DIR, POOLING_DIR, NORMALIZE_DIR = "2_Dense", "1_Pooling", "3_Normalize"
_METADATA_SOURCE = "smaller_labse_source"
_CHUNK_ROWS = 4096


def hf_weight_names(config: EncoderConfig) -> Dict[str, Tuple[str, str]]:
  """Hugging Face BertModel parameter name -> (LaBSE/2 variable name, how to convert).

  Conversions: 'copy' (same layout), 'flatten' ([N, H] -> [D]), 'in_out' (kernel
  [in, out] or [in, N, H] -> nn.Linear weight [out, in]), 'heads_out' (kernel
  [N, H, out] -> [out, N*H]).
  """
  names = {
      "embeddings.word_embeddings.weight": (WORD_EMBEDDINGS, "copy"),
      "embeddings.position_embeddings.weight": ("position_embedding/embeddings", "copy"),
      "embeddings.token_type_embeddings.weight": ("type_embeddings/embeddings", "copy"),
      "embeddings.LayerNorm.weight": ("embeddings/layer_norm/gamma", "copy"),
      "embeddings.LayerNorm.bias": ("embeddings/layer_norm/beta", "copy"),
  }
  for i in range(config.num_layers):
    hf, tf_ = f"encoder.layer.{i}.", f"transformer/layer_{i}/"
    for projection in ("query", "key", "value"):
      names[hf + f"attention.self.{projection}.weight"] = (
          tf_ + f"self_attention/{projection}/kernel", "in_out")
      names[hf + f"attention.self.{projection}.bias"] = (
          tf_ + f"self_attention/{projection}/bias", "flatten")
    names[hf + "attention.output.dense.weight"] = (
        tf_ + "self_attention/attention_output/kernel", "heads_out")
    names[hf + "attention.output.dense.bias"] = (
        tf_ + "self_attention/attention_output/bias", "copy")
    names[hf + "attention.output.LayerNorm.weight"] = (tf_ + "self_attention_layer_norm/gamma",
                                                       "copy")
    names[hf + "attention.output.LayerNorm.bias"] = (tf_ + "self_attention_layer_norm/beta",
                                                     "copy")
    names[hf + "intermediate.dense.weight"] = (tf_ + "intermediate/kernel", "in_out")
    names[hf + "intermediate.dense.bias"] = (tf_ + "intermediate/bias", "copy")
    names[hf + "output.dense.weight"] = (tf_ + "output/kernel", "in_out")
    names[hf + "output.dense.bias"] = (tf_ + "output/bias", "copy")
    names[hf + "output.LayerNorm.weight"] = (tf_ + "output_layer_norm/gamma", "copy")
    names[hf + "output.LayerNorm.bias"] = (tf_ + "output_layer_norm/beta", "copy")
  names["pooler.dense.weight"] = ("pooler_transform/kernel", "in_out")
  names["pooler.dense.bias"] = ("pooler_transform/bias", "copy")
  return names


def _as_numpy(value: WeightValue) -> np.ndarray:
  return np.asarray(value.numpy() if hasattr(value, "numpy") else value, np.float32)


def _rows(value: WeightValue, start: int, stop: int) -> np.ndarray:
  """Rows start:stop of a 2-D array, row reader or tf.Variable (a gather: no full read)."""
  if hasattr(value, "sparse_read"):
    return value.sparse_read(np.arange(start, stop)).numpy()
  return np.asarray(value[start:stop], np.float32)


def _converted(weights: Mapping[str, WeightValue], name: str, how: str) -> Iterator[np.ndarray]:
  """Yields the Hugging Face layout of the LaBSE tensor `name`, float32, in row chunks.

  The tensor is looked up only when the first chunk is asked for, so a lazy `weights`
  holds one tensor at a time.
  """
  value = weights[name]
  if how == "copy" and len(value.shape) == 2:
    for start in range(0, value.shape[0], _CHUNK_ROWS):
      yield _rows(value, start, min(start + _CHUNK_ROWS, value.shape[0]))
    return
  array = _as_numpy(value)
  if how == "flatten":
    array = array.reshape(-1)
  elif how == "in_out":  # [in, out] or [in, N, H]: nn.Linear computes x @ W.T + b.
    array = array.reshape(array.shape[0], -1).T
  elif how == "heads_out":  # [N, H, out] -> [out, N*H].
    array = array.reshape(-1, array.shape[-1]).T
  yield np.ascontiguousarray(array)


def _converted_shape(shape: Sequence[int], how: str) -> Tuple[int, ...]:
  shape = tuple(int(s) for s in shape)
  if how == "flatten":
    return (int(np.prod(shape)),)
  if how == "in_out":
    return (int(np.prod(shape[1:])), shape[0])
  if how == "heads_out":
    return (shape[-1], int(np.prod(shape[:-1])))
  return shape


def write_safetensors(path: str, tensors: Sequence[Tuple[str, Tuple[int, ...], Iterator]],
                      metadata: Optional[Mapping[str, str]] = None) -> None:
  """Writes float32 tensors in the safetensors format, streaming each tensor's chunks.

  Args:
    path: the file to write.
    tensors: (name, shape, iterator of float32 chunks whose rows concatenate to the
      tensor), in file order.
    metadata: string -> string, stored as the header's "__metadata__".
  """
  header: Dict[str, object] = {}
  if metadata:
    header["__metadata__"] = dict(metadata)
  offset = 0
  for name, shape, _ in tensors:
    size = int(np.prod(shape)) * 4
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
    offset += size
  encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
  encoded += b" " * (-len(encoded) % 8)  # Tensor data 8-byte aligned, as the library does.
  with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(encoded)))
    f.write(encoded)
    for name, shape, chunks in tensors:
      written = 0
      for chunk in chunks:
        data = np.ascontiguousarray(chunk, dtype="<f4").tobytes()
        f.write(data)
        written += len(data)
      if written != int(np.prod(shape)) * 4:
        raise ValueError(f"{name}: wrote {written} bytes for shape {shape}")


def read_safetensors_metadata(path: str) -> Dict[str, str]:
  """The "__metadata__" of a safetensors file's header ({} if absent or unreadable)."""
  try:
    with open(path, "rb") as f:
      (length,) = struct.unpack("<Q", f.read(8))
      if length > 100_000_000:
        return {}
      return dict(json.loads(f.read(length)).get("__metadata__", {}))
  except (OSError, ValueError, struct.error, AttributeError):
    return {}


# --- Tokenizer ---------------------------------------------------------------------------
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


def _special_ids(tokens: Sequence[str]) -> Dict[str, int]:
  return {t: tokens.index(t) for t in (vocab_lib.PAD, vocab_lib.UNK, vocab_lib.CLS,
                                       vocab_lib.SEP, vocab_lib.MASK) if t in tokens}


def tokenizer_json(tokens: Sequence[str], lower_case: bool = False) -> Dict[str, object]:
  """The tokenizers library's serialization (tokenizer.json) of LaBSE's tokenization.

  `lower_case` models get Lowercase + NFD + accent stripping, close to but not
  exactly tensorflow_text's ICU case folding; LaBSE is cased.
  """
  table = _byte_to_char()
  vocab = {"".join(table[b] for b in t.encode("utf-8")): i for i, t in enumerate(tokens)}
  ids = _special_ids(tokens)
  normalizers: List[Dict[str, object]] = []
  if lower_case:
    normalizers += [{"type": "Lowercase"}, {"type": "NFD"},
                    {"type": "Replace", "pattern": {"Regex": r"\p{Mn}"}, "content": ""}]
  normalizers.append({"type": "Replace", "pattern": {"Regex": r"[\p{Cc}\p{Cf}]"},
                      "content": " "})

  def special(token: str, type_id: int) -> Dict[str, object]:
    return {"SpecialToken": {"id": token, "type_id": type_id}}

  def sequence(name: str, type_id: int) -> Dict[str, object]:
    return {"Sequence": {"id": name, "type_id": type_id}}

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
      "post_processor": {
          "type": "TemplateProcessing",
          "single": [special(cls, 0), sequence("A", 0), special(sep, 0)],
          "pair": [special(cls, 0), sequence("A", 0), special(sep, 0), sequence("B", 1),
                   special(sep, 1)],
          "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in (cls, sep)}},
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


def _json(value: object) -> str:
  return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


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
      "tokenizer_config.json": _json(config),
      "special_tokens_map.json": _json(special),
  }


def _bert_config(config: EncoderConfig, pad_id: int) -> Dict[str, object]:
  return {
      "architectures": ["BertModel"],
      "model_type": "bert",
      "vocab_size": config.vocab_size,
      "hidden_size": config.hidden_size,
      "num_hidden_layers": config.num_layers,
      "num_attention_heads": config.num_heads,
      "intermediate_size": config.intermediate_size,
      "hidden_act": HIDDEN_ACT,
      "hidden_dropout_prob": config.dropout_rate,
      "attention_probs_dropout_prob": config.attention_dropout_rate,
      "max_position_embeddings": config.max_position_embeddings,
      "type_vocab_size": config.type_vocab_size,
      "initializer_range": 0.02,
      "layer_norm_eps": config.layer_norm_epsilon,
      "pad_token_id": pad_id,
      "position_embedding_type": "absolute",
      "torch_dtype": "float32",
  }


def _sentence_transformers_files(config: EncoderConfig, lower_case: bool,
                                 max_seq_length: int) -> Dict[str, str]:
  d = config.hidden_size
  modules = [
      {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
      {"idx": 1, "name": "1", "path": POOLING_DIR, "type": "sentence_transformers.models.Pooling"},
      {"idx": 2, "name": "2", "path": DENSE_DIR, "type": "sentence_transformers.models.Dense"},
      {"idx": 3, "name": "3", "path": NORMALIZE_DIR,
       "type": "sentence_transformers.models.Normalize"},
  ]
  pooling = {"word_embedding_dimension": d, "pooling_mode_cls_token": True,
             "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False,
             "pooling_mode_mean_sqrt_len_tokens": False,
             "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False,
             "include_prompt": True}
  dense = {"in_features": d, "out_features": d, "bias": True,
           "activation_function": "torch.nn.modules.activation.Tanh"}
  return {
      "modules.json": _json(modules),
      "sentence_bert_config.json": _json({"max_seq_length": max_seq_length,
                                          "do_lower_case": lower_case}),
      "config_sentence_transformers.json": _json({"prompts": {}, "default_prompt_name": None,
                                                  "similarity_fn_name": "cosine"}),
      os.path.join(POOLING_DIR, "config.json"): _json(pooling),
      os.path.join(DENSE_DIR, "config.json"): _json(dense),
  }


def check_max_seq_length(max_seq_length: int, config: EncoderConfig) -> None:
  """Raises InputError unless [CLS] + at least one token + [SEP] fit the positions."""
  if not 2 < max_seq_length <= config.max_position_embeddings:
    raise InputError(f"max_seq_length {max_seq_length}: must be between 3 and the model's "
                     f"{config.max_position_embeddings} positions")


def holds_same_model(st_dir: str, tokens: Sequence[str], source: str) -> bool:
  """Whether `st_dir` already holds the export of these weights (`source`) and vocab."""
  vocab_path = os.path.join(st_dir, "vocab.txt")
  if not os.path.isfile(vocab_path):
    return False
  stored = read_safetensors_metadata(os.path.join(st_dir, MODEL_FILE)).get(_METADATA_SOURCE)
  return stored == source and vocab_lib.read_token_file(vocab_path) == list(tokens)


def write_st_model(st_dir: str, config: EncoderConfig, tokens: Sequence[str],
                   weights: Mapping[str, WeightValue], source: str,
                   max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> None:
  """Writes the Sentence Transformers directory into the new directory `st_dir`.

  Args:
    st_dir: a new or empty directory (callers write to a temporary path).
    config: the encoder's shape; config.vocab_size == len(tokens).
    tokens: the vocab in model order.
    weights: LaBSE/2 variable name -> float32 array, tf.Variable or row reader (as in
      encoder.py); read one at a time, so it may be a lazy mapping.
    source: a fingerprint of the weights, kept in the safetensors metadata to
      recognise a rerun (see `holds_same_model`).
    max_seq_length: tokens per sentence, [CLS] and [SEP] included.
  """
  if len(tokens) != config.vocab_size:
    raise ValueError(f"{len(tokens)} tokens for a vocab size of {config.vocab_size}")
  check_max_seq_length(max_seq_length, config)
  os.makedirs(os.path.join(st_dir, NORMALIZE_DIR), exist_ok=True)
  os.makedirs(os.path.join(st_dir, POOLING_DIR), exist_ok=True)
  os.makedirs(os.path.join(st_dir, DENSE_DIR), exist_ok=True)
  shapes = weight_shapes(config)
  tensors = [(hf, _converted_shape(shapes[name], how), _converted(weights, name, how))
             for hf, (name, how) in hf_weight_names(config).items()]
  write_safetensors(os.path.join(st_dir, MODEL_FILE), tensors,
                    {"format": "pt", _METADATA_SOURCE: source})
  d = config.hidden_size
  write_safetensors(os.path.join(st_dir, DENSE_DIR, MODEL_FILE), [
      ("linear.weight", (d, d), _converted(weights, "pooler_transform/kernel", "in_out")),
      ("linear.bias", (d,), _converted(weights, "pooler_transform/bias", "copy"))],
      {"format": "pt"})
  pad_id = tokens.index(vocab_lib.PAD)
  files = {"config.json": _json(_bert_config(config, pad_id)),
           **_tokenizer_files(tokens, config.do_lower_case, max_seq_length),
           **_sentence_transformers_files(config, config.do_lower_case, max_seq_length)}
  for name, text in files.items():
    with open(os.path.join(st_dir, name), "w", encoding="utf-8", newline="") as f:
      f.write(text)
  vocab_lib.write_token_file(os.path.join(st_dir, "vocab.txt"), tokens)
