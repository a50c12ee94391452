"""Reading the project's Markdown as GitHub renders it: headings, their anchors, code blocks.

The tests that run documented commands and snippets verbatim take them from here, so a
snippet is found by the heading it sits under, whichever page it moves to.
"""

import os
import re
from typing import Dict, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")


def read(page: str) -> str:
  """The text of `page`, a path relative to the project root."""
  with open(os.path.join(ROOT, page), encoding="utf-8") as f:
    return f.read()


def lines_outside_code(text: str) -> List[Tuple[int, str]]:
  """(index, line) of every line not inside a fenced code block (nor a fence itself)."""
  out, fence = [], None
  for i, line in enumerate(text.split("\n")):
    match = _FENCE.match(line)
    if fence is None and match:
      fence = match[1]
    elif fence is not None and line.strip().startswith(fence):
      fence = None
    elif fence is None:
      out.append((i, line))
  return out


def headings(text: str) -> List[Tuple[int, int, str]]:
  """(line index, level, text) of every ATX heading outside code blocks."""
  out = []
  for i, line in lines_outside_code(text):
    match = _HEADING.match(line)
    if match:
      out.append((i, len(match[1]), match[2]))
  return out


def slug(heading: str) -> str:
  """GitHub's anchor for a heading: inline Markdown reduced to its text, lower case, every
  character that is not a letter, digit, '_', '-' or space dropped, spaces made '-'."""
  text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
  text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
  text = re.sub(r"[^\w\- ]", "", text.lower())
  return text.replace(" ", "-")


def anchors(text: str) -> Dict[str, int]:
  """Every heading's anchor in `text`, repeats numbered as GitHub does (x, x-1, x-2...)."""
  seen: Dict[str, int] = {}
  for _, _, heading in headings(text):
    base = slug(heading)
    name, n = base, 0
    while name in seen:
      n += 1
      name = f"{base}-{n}"
    seen[name] = 1
  return seen


def section(page: str, heading: str) -> str:
  """The text under `heading` in `page`, up to the next heading of the same or a higher level."""
  text = read(page)
  lines = text.split("\n")
  found = [(i, level) for i, level, h in headings(text) if h == heading]
  assert len(found) == 1, f"{page}: heading {heading!r} found {len(found)} times"
  start, level = found[0]
  end = next((i for i, lvl, _ in headings(text) if i > start and lvl <= level), len(lines))
  return "\n".join(lines[start + 1:end])


def code_blocks(text: str, language: str) -> List[str]:
  """The contents of the fenced blocks of `text` whose info string matches the regular
  expression `language` (e.g. "python", "sh|bash"), in order."""
  return re.findall(rf"^```(?:{language})\n(.*?)^```", text, re.S | re.M)
