"""Stage 1's weight store: one .npy file per LaBSE variable, read one tensor at a time.

Layout of a model directory (`models/labse/`):
  config.json                      EncoderConfig
  vocab.txt                        the vocab, one token per line, model order
  weights/<variable name>.npy      float32, e.g. weights/transformer/layer_0/output/kernel.npy

Tensors are written and read in row chunks, so neither saving the 1.5 GB word
embedding table nor gathering a subset of its rows needs a second full copy in
memory.
"""

import os
from typing import Dict, Iterator, Optional, Tuple, Union

import numpy as np
import tensorflow as tf

from smaller_labse import vocab as vocab_lib
from smaller_labse.config import EncoderConfig
from smaller_labse.encoder import WORD_EMBEDDINGS, weight_shapes
from smaller_labse.errors import InputError

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.txt"
WEIGHTS_DIR = "weights"
_CHUNK_ROWS = 4096  # 12 MB of LaBSE embedding rows.


def weight_path(model_dir: str, name: str) -> str:
  return os.path.join(model_dir, WEIGHTS_DIR, name + ".npy")


def _row_chunks(value: Union[tf.Variable, np.ndarray]) -> Iterator[np.ndarray]:
  """Yields `value` as float32 numpy chunks of at most _CHUNK_ROWS rows."""
  rows = value.shape[0] if len(value.shape) else 1
  if len(value.shape) < 2 or rows <= _CHUNK_ROWS:
    yield np.asarray(value.numpy() if isinstance(value, tf.Variable) else value, np.float32)
    return
  for start in range(0, rows, _CHUNK_ROWS):
    stop = min(start + _CHUNK_ROWS, rows)
    if isinstance(value, tf.Variable):
      yield tf.gather(value, tf.range(start, stop)).numpy()
    else:
      yield np.asarray(value[start:stop], np.float32)


def write_weight(path: str, value: Union[tf.Variable, np.ndarray]) -> None:
  """Writes one float32 tensor as .npy, chunk by chunk."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
            "fortran_order": False, "shape": tuple(value.shape)}
  with open(path, "wb") as f:
    np.lib.format.write_array_header_1_0(f, header)
    for chunk in _row_chunks(value):
      f.write(np.ascontiguousarray(chunk, np.float32).tobytes())


def _open_npy(path: str) -> Tuple[object, Tuple[int, ...], int]:
  """Opens a float32 .npy; returns (file, shape, data offset)."""
  try:
    f = open(path, "rb")
  except FileNotFoundError:
    raise InputError(f"{path}: weight file not found") from None
  try:
    version = np.lib.format.read_magic(f)
    shape, fortran, dtype = np.lib.format._read_array_header(f, version)  # noqa: SLF001
  except ValueError as e:
    f.close()
    raise InputError(f"{path}: not a .npy file ({e})") from None
  if dtype != np.float32 or fortran:
    f.close()
    raise InputError(f"{path}: expected a C-order float32 array, got {dtype}")
  return f, shape, f.tell()


def read_weight(path: str, rows: Optional[np.ndarray] = None) -> np.ndarray:
  """Reads a float32 tensor, or only the given rows of it.

  Args:
    path: a .npy written by `write_weight`.
    rows: optional int array [R] of row indices (any order).

  Returns:
    The tensor, or its rows `rows` ([R, ...]), float32.
  """
  f, shape, offset = _open_npy(path)
  with f:
    row_size = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    expected = offset + int(np.prod(shape)) * 4
    if os.fstat(f.fileno()).st_size != expected:
      raise InputError(f"{path}: truncated (expected {expected} bytes)")
    if rows is None:
      return np.fromfile(f, np.float32, count=int(np.prod(shape))).reshape(shape)
    rows = np.asarray(rows, np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= shape[0]):
      raise ValueError(f"row index out of range for {path} with {shape[0]} rows")
    out = np.empty((len(rows),) + tuple(shape[1:]), np.float32)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    for start in range(0, shape[0], _CHUNK_ROWS):
      lo, hi = np.searchsorted(sorted_rows, [start, start + _CHUNK_ROWS])
      if lo == hi:
        continue
      n = min(_CHUNK_ROWS, shape[0] - start)
      f.seek(offset + start * row_size * 4)
      chunk = np.fromfile(f, np.float32, count=n * row_size)
      chunk = chunk.reshape((n,) + tuple(shape[1:]))
      out[order[lo:hi]] = chunk[sorted_rows[lo:hi] - start]
    return out


def save_model(model_dir: str, config: EncoderConfig, tokens, weights) -> None:
  """Writes config.json, vocab.txt and weights/ into `model_dir` (a fresh directory)."""
  config.save(os.path.join(model_dir, CONFIG_FILE))
  vocab_lib.write_token_file(os.path.join(model_dir, VOCAB_FILE), tokens)
  for name in weight_shapes(config):
    write_weight(weight_path(model_dir, name), weights[name])


def load_config_and_vocab(model_dir: str) -> Tuple[EncoderConfig, list]:
  """Reads a stage-1 model directory's config and vocab, checking they agree."""
  if not os.path.isdir(model_dir):
    raise InputError(f"{model_dir}: no such directory (run save_as_weight_from_saved_model.py)")
  config = EncoderConfig.load(os.path.join(model_dir, CONFIG_FILE))
  vocab_path = os.path.join(model_dir, VOCAB_FILE)
  tokens = vocab_lib.read_vocab(vocab_path)
  if len(tokens) != config.vocab_size:
    raise InputError(f"{vocab_path}: {len(tokens)} tokens, but {CONFIG_FILE} says "
                     f"vocab_size={config.vocab_size}")
  return config, tokens


def load_weights(model_dir: str, config: EncoderConfig,
                 word_rows: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
  """Reads every weight; with `word_rows`, only those rows of the word embeddings.

  Args:
    model_dir: a stage-1 model directory.
    config: its config.
    word_rows: optional int array [V'] of original token ids to keep, in the
      new vocab's order.

  Returns:
    name -> float32 array, shapes as in `weight_shapes(config)` except the word
    embeddings, which are [V', D] when `word_rows` is given.
  """
  weights = {}
  for name, shape in weight_shapes(config).items():
    rows = word_rows if name == WORD_EMBEDDINGS else None
    value = read_weight(weight_path(model_dir, name), rows)
    want = shape if rows is None else (len(rows),) + shape[1:]
    if value.shape != want:
      raise InputError(f"{weight_path(model_dir, name)}: shape {value.shape}, expected {want}")
    weights[name] = value
  return weights
