"""Bitext retrieval scores: blockwise nearest neighbours, cosine or LASER's ratio margin."""

from typing import Tuple

import numpy as np

from smaller_labse.errors import InputError

SCORINGS = ("cosine", "margin")
MARGIN_K = 4  # LASER's xsim: ratio margin over the 4 nearest neighbours.


def _merge_top_k(best_sims: np.ndarray, best_ids: np.ndarray, sims: np.ndarray, ids: np.ndarray,
                 k: int) -> Tuple[np.ndarray, np.ndarray]:
  """Merges two per-row top-k lists; on ties the earlier list (lower index) wins."""
  all_sims = np.concatenate([best_sims, sims], axis=1)
  all_ids = np.concatenate([best_ids, ids], axis=1)
  order = np.argsort(-all_sims, axis=1, kind="stable")[:, :k]
  return np.take_along_axis(all_sims, order, 1), np.take_along_axis(all_ids, order, 1)


def nearest_neighbours(queries: np.ndarray, candidates: np.ndarray, k: int = 1,
                       block_size: int = 4096
                       ) -> Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]:
  """Top-k cosine neighbours in both directions, computed block by block.

  Memory stays at one [block_size, block_size] similarity block. Ties go to the lower
  index, as tf.argmax does; with at most `block_size` rows and columns the block is the
  original's tf.tensordot of the whole matrices.

  Args:
    queries: float32 [n, D], candidates: float32 [m, D], both L2-normalised.

  Returns:
    ((sims [n, k], ids [n, k]) of each query among the candidates,
     (sims [m, k], ids [m, k]) of each candidate among the queries), best first
     (k is capped at m and n).
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel  (imported when used)
  n, m = len(queries), len(candidates)
  k_row, k_col = min(k, m), min(k, n)
  row_sims, row_ids = np.full([n, k_row], -np.inf, np.float32), np.zeros([n, k_row], np.int64)
  col_sims, col_ids = np.full([m, k_col], -np.inf, np.float32), np.zeros([m, k_col], np.int64)
  for r in range(0, n, block_size):
    rs = slice(r, min(r + block_size, n))
    for c in range(0, m, block_size):
      cs = slice(c, min(c + block_size, m))
      sims = tf.tensordot(queries[rs], candidates[cs], axes=[[1], [1]])
      top = tf.math.top_k(sims, k=min(k_row, cs.stop - c))
      row_sims[rs], row_ids[rs] = _merge_top_k(row_sims[rs], row_ids[rs], top.values.numpy(),
                                               top.indices.numpy() + c, k_row)
      top = tf.math.top_k(tf.transpose(sims), k=min(k_col, rs.stop - r))
      col_sims[cs], col_ids[cs] = _merge_top_k(col_sims[cs], col_ids[cs], top.values.numpy(),
                                               top.indices.numpy() + r, k_col)
  return (row_sims, row_ids), (col_sims, col_ids)


def _margin_pick(sims: np.ndarray, ids: np.ndarray, own_mean: np.ndarray,
                 other_mean: np.ndarray) -> np.ndarray:
  """LASER's ratio margin: among the k cosine candidates, the best cos / mean of k-NN means."""
  scores = sims / ((own_mean[:, np.newaxis] + other_mean[ids]) / 2)
  return ids[np.arange(len(ids)), np.argmax(scores, axis=1)]


def retrieval_correct(eng: np.ndarray, xx: np.ndarray, scoring: str = "cosine",
                      block_size: int = 4096) -> Tuple[int, int]:
  """Correct nearest neighbours (line i should retrieve line i).

  Args:
    eng, xx: float32 [n, D], L2-normalised, line-aligned.
    scoring: 'cosine' (the original), or 'margin' (LASER's xsim ratio margin, k=4).

  Returns:
    (correct en→xx, correct xx→en).
  """
  if scoring not in SCORINGS:
    raise InputError(f"unknown scoring {scoring!r} (known: {', '.join(SCORINGS)})")
  k = 1 if scoring == "cosine" else MARGIN_K
  (e2x_sims, e2x_ids), (x2e_sims, x2e_ids) = nearest_neighbours(eng, xx, k, block_size)
  if scoring == "cosine":
    e2x, x2e = e2x_ids[:, 0], x2e_ids[:, 0]
  else:
    e2x_mean, x2e_mean = e2x_sims.mean(axis=1), x2e_sims.mean(axis=1)
    e2x = _margin_pick(e2x_sims, e2x_ids, e2x_mean, x2e_mean)
    x2e = _margin_pick(x2e_sims, x2e_ids, x2e_mean, e2x_mean)
  answer = np.arange(len(eng))
  return int(np.sum(e2x == answer)), int(np.sum(x2e == answer[:len(xx)]))
