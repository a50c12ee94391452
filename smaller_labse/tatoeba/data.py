"""Tatoeba test sets as LASER ships them: `tatoeba.{lang}-eng.{eng,lang}`, line-aligned."""

import dataclasses
import os
from typing import List, Tuple

from smaller_labse import files
from smaller_labse.errors import InputError

DEFAULT_DATA_DIR = "data/tatoeba/v1"


@dataclasses.dataclass(frozen=True)
class Pair:
  """One Tatoeba test set: line i of `xx` translates line i of `eng`."""
  lang: str
  eng: List[str]
  xx: List[str]

  def __len__(self) -> int:
    return len(self.eng)


def pair_paths(data_dir: str, lang: str) -> Tuple[str, str]:
  """(English side, other side) of LASER's `tatoeba.{lang}-eng.{eng,lang}`."""
  stem = os.path.join(data_dir, f"tatoeba.{lang}-eng")
  return stem + ".eng", f"{stem}.{lang}"


def read_lines(path: str) -> List[str]:
  """Lines as tf.data.TextLineDataset reads them: split on '\\n', one trailing '\\r' dropped."""
  lines = files.read_lines(path, "file",
                          hint="run ./download_tatoeba_dataset.sh, or give --data_dir")
  return [line[:-1] if line.endswith("\r") else line for line in lines]


def load_pair(data_dir: str, lang: str) -> Pair:
  """Reads and checks one language's pair of files."""
  eng_path, xx_path = pair_paths(data_dir, lang)
  eng, xx = read_lines(eng_path), read_lines(xx_path)
  if not eng:
    raise InputError(f"{eng_path}: empty file")
  if not xx:
    raise InputError(f"{xx_path}: empty file")
  if len(eng) != len(xx):
    raise InputError(f"{xx_path} has {len(xx)} lines but {eng_path} has {len(eng)}: "
                     "the two sides of a Tatoeba pair must be line-aligned")
  return Pair(lang, eng, xx)
