"""Pruning an XLM-R Unigram tokenizer to the kept rows, remapping every id its files store, and
writing its files (tokenizer.json, tokenizer_config.json, special_tokens_map.json,
sentencepiece.bpe.model) for hf_unigram.py's `HfUnigramTokenizer`.

Pruning and Unigram's `<unk>` penalty. The library (like sentencepiece) scores an `<unk>`
node `min(score) - 10` and adds one wherever no single-character piece starts; pruning that
raised the lowest score would make `<unk>` cheaper and could move the segmentation of a
line whose pieces were all kept. `HfUnigramTokenizer.required_rows()` therefore holds the
lowest-scoring piece beside the special tokens, and `pruned_files` refuses a selection without
it. With the lowest score kept, every path through the pruned lattice scores at most what its
counterpart scored before (an `<unk>` that replaces a dropped single-character piece `c` scores
`min - 10 < score(c)`), so the path the full vocabulary chose for a line whose pieces are all
kept stays the first best path (the library keeps the first of equal scores, and removing
nodes never reorders the others): the segmentation of every kept line is unchanged.
"""

import json
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from smaller_labse import atomic, files
from smaller_labse.errors import InputError
from smaller_labse.tokenizers.hf_unigram_reading import (SPECIAL_TOKENS_MAP, SPM_MODEL,
                                                         TOKENIZER_CONFIG, TOKENIZER_JSON)

UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY and sentencepiece's kUnkPenalty.


def pruned_files(tokenizer, keep_rows: Sequence[int]
                 ) -> Tuple[dict, Optional[dict], Optional[bytes]]:
  """tokenizer.json, tokenizer_config.json and sentencepiece.bpe.model (or None) of
  `tokenizer` (an HfUnigramTokenizer) over the pieces of `keep_rows` (increasing: the pieces
  keep their order and scores, the special tokens their ids; row i of the result is
  keep_rows[i]). Every stored id is remapped by `remap_ids`; sentencepiece.bpe.model is
  pruned to match (sentencepiece_model.py).

  Raises:
    InputError: rows not increasing or outside the vocab, or a required row (a special
      token, the lowest-scoring piece: required_rows) missing.
  """
  rows = [int(r) for r in keep_rows]
  pieces = tokenizer.pieces
  if any(b <= a for a, b in zip(rows, rows[1:])):
    raise InputError("the kept rows of a Unigram tokenizer must be increasing (its pieces "
                     "keep their order)")
  if rows and (rows[0] < 0 or rows[-1] >= len(pieces)):
    bad = next(r for r in rows if not 0 <= r < len(pieces))
    raise InputError(f"row {bad} is not a piece of {tokenizer.source} ({len(pieces)} pieces)")
  kept = set(rows)
  missing = [r for r in tokenizer.required_rows() if r not in kept]
  if missing:
    what = ("the lowest-scoring piece" if missing[0] == tokenizer.min_score_row()
            and missing[0] not in tokenizer.special_rows() else "the special token")
    raise InputError(f"the smaller vocab lacks {what} {pieces[missing[0]]!r} "
                     f"(row {missing[0]})")
  new_id = {old: new for new, old in enumerate(rows)}
  data, config = remap_ids(tokenizer.data, tokenizer.config, new_id)
  spm_model = None
  if tokenizer.spm_model is not None:
    from smaller_labse.tokenizers import sentencepiece_model  # pylint: disable=import-outside-toplevel
    spm_model = sentencepiece_model.prune_xlmr(tokenizer.spm_model,
                                               tokenizer.data["model"]["vocab"], rows,
                                               source=tokenizer.source)
  return data, config, spm_model


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


# --- Writing ---------------------------------------------------------------------------------

def tokenizer_json_text(data: dict) -> str:
  """tokenizer.json as written: the source's JSON (key order kept), compact, UTF-8 as is; the
  same data always gives the same bytes."""
  return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_files(tokenizer, max_seq_length: Optional[int] = None
                 ) -> Dict[str, Union[str, bytes]]:
  """File name -> content (str or bytes) of `tokenizer`'s files (an HfUnigramTokenizer) in an
  export directory; `max_seq_length` becomes tokenizer_config.json's `model_max_length`."""
  config = dict(tokenizer.config) if tokenizer.config is not None else {
      "tokenizer_class": tokenizer.tokenizer_class, **tokenizer.names}
  if max_seq_length is not None:
    config["model_max_length"] = max_seq_length
  out: Dict[str, Union[str, bytes]] = {
      TOKENIZER_JSON: tokenizer_json_text(tokenizer.data),
      TOKENIZER_CONFIG: files.json_text(config)}
  if tokenizer.special_tokens_map is not None:
    out[SPECIAL_TOKENS_MAP] = files.json_text(tokenizer.special_tokens_map)
  if tokenizer.spm_model is not None:
    out[SPM_MODEL] = tokenizer.spm_model
  return out


def write_files(contents: Mapping[str, Union[str, bytes]], directory: str) -> List[str]:
  """Writes each file of `contents` (name -> str or bytes) into `directory` atomically;
  returns the paths, sorted by name."""
  paths = []
  for name, content in sorted(contents.items()):
    path = os.path.join(directory, name)
    if isinstance(content, bytes):
      with atomic.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
          f.write(content)
    else:
      atomic.write_text(path, content)
    paths.append(path)
  return paths
