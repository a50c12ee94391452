"""Pruning an XLM-R `sentencepiece.bpe.model` (a sentencepiece ModelProto) to match a pruned
tokenizer.json.

XLM-R's fairseq layout: the proto holds `<unk>` 0, `<s>` 1, `</s>` 2, then the ordinary pieces;
Hugging Face's vocab is `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3, then the same ordinary pieces
(HF id = spm id + 1) and `<mask>` last (`<pad>` and `<mask>` are not in the proto). The pruned
proto keeps its three control pieces and the ordinary pieces whose HF rows are kept, in order,
with their scores and types, so HF id = spm id + 1 still holds; `self_test_data` (samples of the
full vocab's segmentation) is cleared and `trainer_spec.vocab_size` is the new size. The rest
(normalizer spec and charsmap, trainer settings) is kept byte for byte.

The proto is read with sentencepiece's own `sentencepiece_model_pb2` (protobuf); the result
loads in `sentencepiece.SentencePieceProcessor` and segments every kept line as before (the
lowest score is kept: hf_unigram_pruning.py's docstring).
"""

from typing import Sequence

from smaller_labse.errors import InputError

# HF rows of XLM-R's special tokens and the spm ids they come from.
_HF_TO_SPM_SPECIALS = {0: 1, 2: 2, 3: 0}  # <s>, </s>, <unk>; <pad> (1) and <mask> have none.
SELF_TEST_DATA = 4  # ModelProto's field number of self_test_data.


def _model_pb2():
  try:
    from sentencepiece import sentencepiece_model_pb2  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise InputError("pruning sentencepiece.bpe.model needs the sentencepiece package "
                     "(pip install sentencepiece)") from None
  return sentencepiece_model_pb2


def parse(data: bytes, source: str = "sentencepiece.bpe.model"):
  """The ModelProto of `data`.

  Raises:
    InputError: not a sentencepiece model.
  """
  pb2 = _model_pb2()
  proto = pb2.ModelProto()
  try:
    proto.ParseFromString(data)
  except Exception as e:  # protobuf's DecodeError
    raise InputError(f"{source}: not a sentencepiece model ({' '.join(str(e).split())})") from None
  if not proto.pieces:
    raise InputError(f"{source}: a sentencepiece model without pieces")
  return proto


def check_xlmr_layout(proto, hf_vocab: Sequence[Sequence[object]], source: str) -> None:
  """Raises InputError unless `proto` is XLM-R's fairseq layout of `hf_vocab` (tokenizer.json's
  [piece, score] list): spm <unk> <s> </s> first, then HF rows 4..n-2 as spm 3..n-3 with the
  same pieces and scores (float32), and HF's last row not in the proto (<mask>)."""
  pb2 = _model_pb2()
  kinds = pb2.ModelProto.SentencePiece
  pieces = proto.pieces
  if len(pieces) != len(hf_vocab) - 2:
    raise InputError(f"{source}: {len(pieces)} pieces, but tokenizer.json's "
                     f"{len(hf_vocab)} need {len(hf_vocab) - 2} in XLM-R's layout")
  if [p.type for p in pieces[:3]] != [kinds.UNKNOWN, kinds.CONTROL, kinds.CONTROL] or [
      pieces[s].piece for s in (1, 2, 0)] != [hf_vocab[h][0] for h in (0, 2, 3)]:
    raise InputError(f"{source}: does not start with <unk> <s> </s> as XLM-R's does")
  import numpy as np  # pylint: disable=import-outside-toplevel
  for spm_id in range(3, len(pieces)):
    piece, score = hf_vocab[spm_id + 1]
    if pieces[spm_id].piece != piece or np.float32(pieces[spm_id].score) != np.float32(score):
      raise InputError(f"{source}: piece {spm_id} ({pieces[spm_id].piece!r}, "
                       f"{pieces[spm_id].score}) is not tokenizer.json's row {spm_id + 1} "
                       f"({piece!r}, {score})")


def prune_xlmr(data: bytes, hf_vocab: Sequence[Sequence[object]], keep_rows: Sequence[int],
               source: str = "sentencepiece.bpe.model") -> bytes:
  """The proto `data` pruned to the HF rows `keep_rows` (increasing; holding 0, 2 and 3).

  Returns:
    The serialized pruned ModelProto (deterministic: fields in number order).

  Raises:
    InputError: `data` is not XLM-R's layout of `hf_vocab`, or a special row is not kept.
  """
  proto = parse(data, source)
  check_xlmr_layout(proto, hf_vocab, source)
  kept = set(int(r) for r in keep_rows)
  missing = [h for h in _HF_TO_SPM_SPECIALS if h not in kept]
  if missing:
    raise InputError(f"the smaller vocab lacks {hf_vocab[missing[0]][0]!r}, which "
                     f"{source} holds")
  last = len(hf_vocab) - 1
  spm_keep = [0, 1, 2] + [h - 1 for h in sorted(kept) if 4 <= h < last]
  pruned = type(proto)()
  pruned.CopyFrom(proto)
  del pruned.pieces[:]
  pruned.pieces.extend(proto.pieces[i] for i in spm_keep)
  pruned.trainer_spec.vocab_size = len(spm_keep)
  return drop_field(pruned.SerializeToString(deterministic=True), SELF_TEST_DATA)


def _varint(data: bytes, pos: int):
  value = shift = 0
  while True:
    if pos >= len(data):
      raise InputError("a truncated sentencepiece model")
    byte = data[pos]
    pos += 1
    value |= (byte & 0x7F) << shift
    shift += 7
    if not byte & 0x80:
      return value, pos


def drop_field(data: bytes, number: int) -> bytes:
  """A serialized message without its top-level field `number` (protobuf's wire format;
  sentencepiece 0.2's own ModelProto no longer declares self_test_data, so protobuf keeps it
  as an unknown field that ClearField cannot name)."""
  out, pos = bytearray(), 0
  while pos < len(data):
    start = pos
    key, pos = _varint(data, pos)
    wire = key & 7
    if wire == 0:
      _, pos = _varint(data, pos)
    elif wire == 1:
      pos += 8
    elif wire == 2:
      length, pos = _varint(data, pos)
      pos += length
    elif wire == 5:
      pos += 4
    else:
      raise InputError(f"a sentencepiece model with wire type {wire} (not supported)")
    if pos > len(data):
      raise InputError("a truncated sentencepiece model")
    if key >> 3 != number:
      out += data[start:pos]
  return bytes(out)
