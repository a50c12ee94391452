"""Reading input files, with a one-line InputError naming the file for each way it can fail."""

import json
from typing import List

from smaller_labse.errors import InputError


def read_bytes(path: str, what: str = "file", hint: str = "") -> bytes:
  """The whole file. `what` names it in errors ('token file'); `hint` follows 'not found'."""
  try:
    with open(path, "rb") as f:
      return f.read()
  except FileNotFoundError:
    raise InputError(f"{path}: {what} not found{f' ({hint})' if hint else ''}") from None
  except IsADirectoryError:
    raise InputError(f"{path}: is a directory, expected a {what}") from None


def decode_utf8(path: str, data: bytes) -> str:
  try:
    return data.decode("utf-8")
  except UnicodeDecodeError as e:
    raise InputError(f"{path}: not UTF-8 (byte {e.start})") from None


def split_lines(data):
  """Splits str or bytes on '\\n' only; a final '\\n' ends the last line instead of starting one."""
  lines = data.split("\n" if isinstance(data, str) else b"\n")
  if lines and not lines[-1]:
    lines.pop()
  return lines


def read_lines(path: str, what: str = "file", hint: str = "") -> List[str]:
  """A UTF-8 file's lines, split on '\\n' only and never stripped."""
  return split_lines(decode_utf8(path, read_bytes(path, what, hint)))


def parse_json(text: str, path: str) -> object:
  """JSON text's value; `path` names it in errors."""
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    raise InputError(f"{path}: not valid JSON, truncated or corrupt ({e.msg} at line "
                     f"{e.lineno} column {e.colno})") from None


def read_json(path: str, what: str = "file") -> object:
  """A UTF-8 JSON file's value. `what` names it in errors ('file not found')."""
  return parse_json(decode_utf8(path, read_bytes(path, what)), path)


def json_text(value: object) -> str:
  """JSON as this project writes it for people to read: indented, UTF-8 as is, a final newline."""
  return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
