"""Shared by the benchmarks: a full-size model in LaBSE/2's format, and running a command
under /usr/bin/time -v for its wall time and peak RSS."""

import re
import subprocess
from typing import List, Mapping, Optional, Sequence, Tuple

LABSE_SHAPE = dict(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072)


def build_full_size_model(downloads: str, tokens: Sequence[str], init_scale: float = 0.02,
                          shape: Optional[Mapping[str, int]] = None) -> None:
  """downloads/labse-2 and labse-2-preprocess for `tokens` at LaBSE's size (or `shape`): BERT's
  random init (seed 0) with matrices of standard deviation `init_scale` (clipped at 2 sigma),
  exported by our own exporter."""
  shape = dict(shape or LABSE_SHAPE)
  import numpy as np  # pylint: disable=import-outside-toplevel
  from smaller_labse.model.config import (EncoderConfig, random_weights)  # pylint: disable=import-outside-toplevel
  from smaller_labse.demo import write_demo_model  # pylint: disable=import-outside-toplevel
  weights = None  # the encoder's own random init, BERT's 0.02
  if init_scale != 0.02:
    weights = random_weights(EncoderConfig(vocab_size=len(tokens), **shape), seed=0)
    for value in weights.values():
      if value.ndim >= 2:
        value *= np.float32(init_scale / 0.02)
  write_demo_model(downloads, list(tokens), seed=0, shape=shape, weights=weights)


def run_timed(command: List[str], env: Mapping[str, str], cwd: Optional[str] = None,
              name: Optional[str] = None) -> Tuple[str, float, int]:
  """Runs `command` under /usr/bin/time -v: (stdout, wall seconds, peak RSS bytes).

  Exits with the tail of its stderr, headed by `name` (default: the command), if it fails.
  """
  result = subprocess.run(["/usr/bin/time", "-v", *command], cwd=cwd, env=dict(env),
                          capture_output=True, text=True)
  if result.returncode != 0:
    raise SystemExit(f"{name or ' '.join(command)} failed:\n{result.stderr[-3000:]}")
  wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr)[1]
  seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
  rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)[1]) * 1024
  return result.stdout, seconds, rss
