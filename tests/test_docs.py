"""The documentation: a short README, links and anchors that resolve, documented commands that run."""

import glob
import json
import os
import re
import shlex
from typing import List

from helpers_docs import ROOT, anchors, code_blocks, lines_outside_code, read, section, slug
from conftest import COMMAND_SCRIPTS, run_command
from helpers_vocab import tiny_vocab, write_lines, write_vocab
from smaller_labse.model.config import EncoderConfig

MAX_README_LINES = 300
_LINK = re.compile(r"(?<!!)\[(?:[^\]]*)\]\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _pages() -> List[str]:
  """The pages whose links are checked (docs/pending/ holds drafts, not pages)."""
  pages = ["README.md", "BENCHMARKS.md"] + sorted(
      os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
  return [p for p in pages if os.path.exists(os.path.join(ROOT, p))]


def broken_links(root: str, page: str) -> List[str]:
  """'page: target (why)' for every relative link of `page` (under `root`) that does not
  resolve: a missing file, or an #anchor that is no heading's anchor in the target."""
  with open(os.path.join(root, page), encoding="utf-8") as f:
    text = f.read()
  prose = _CODE_SPAN.sub("", "\n".join(line for _, line in lines_outside_code(text)))
  broken = []
  for target in _LINK.findall(prose):  # link texts may wrap onto the next line
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
      continue
    path, _, anchor = target.partition("#")
    file = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
    if not os.path.exists(os.path.join(root, file)):
      broken.append(f"{page}: {target} (no file {file})")
    elif anchor and not file.endswith(".md"):
      broken.append(f"{page}: {target} (an anchor into a file that is not Markdown)")
    elif anchor:
      with open(os.path.join(root, file), encoding="utf-8") as f:
        if anchor not in anchors(f.read()):
          broken.append(f"{page}: {target} (no heading with anchor #{anchor} in {file})")
  return broken


def test_readme_is_short():
  lines = read("README.md").splitlines()
  assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


def test_slugs_are_githubs():
  # Anchors GitHub gives these headings (punctuation dropped, each space a hyphen).
  assert slug("The Sentence Transformers / Hugging Face format") == \
      "the-sentence-transformers--hugging-face-format"
  assert slug("1. Save the weights: `save_as_weight_from_saved_model.py`") == \
      "1-save-the-weights-save_as_weight_from_saved_modelpy"
  assert slug("Downloads: `download_dataset.sh` with and without `--max_lines`") == \
      "downloads-download_datasetsh-with-and-without---max_lines"
  assert list(anchors("# A\n```sh\n# not a heading\n```\n## A\n### A b\n")) == ["a", "a-1", "a-b"]


def test_the_link_checker_finds_broken_links(tmp_path):
  write_lines(str(tmp_path / "docs" / "a.md"), [
      "# Page A", "## Some section", "[ok](b.md#other-page) [ok](#some-section) [ok](../README.md)",
      "[bad](b.md#no-such-heading) [bad](missing.md) [bad, its text", "wrapped](#nope)",
      "`[not a link](x.md)`",
      "```", "[inside code](y.md)", "```", "[web](https://example.com/x.md)"])
  write_lines(str(tmp_path / "docs" / "b.md"), ["# Other page"])
  write_lines(str(tmp_path / "README.md"), ["# Readme"])
  assert broken_links(str(tmp_path), os.path.join("docs", "a.md")) == [
      "docs/a.md: b.md#no-such-heading (no heading with anchor #no-such-heading in docs/b.md)",
      "docs/a.md: missing.md (no file docs/missing.md)",
      "docs/a.md: #nope (no heading with anchor #nope in docs/a.md)"]


def test_every_relative_link_resolves():
  pages = _pages()
  assert "docs/pipeline.md" in pages and "docs/proofs.md" in pages
  broken = [b for page in pages for b in broken_links(ROOT, page)]
  assert not broken, "\n".join(broken)


def test_the_readme_links_every_docs_page():
  readme = read("README.md")
  for page in glob.glob(os.path.join(ROOT, "docs", "*.md")):
    name = os.path.relpath(page, ROOT)
    assert f"]({name})" in readme or name == os.path.join("docs", "README.md"), name


def test_the_readme_has_the_notebooks_colab_badge():
  # Colab is how users evaluate: the badge is on the front page, as docs/evaluation.md has it.
  badge = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/"
                     r"colab-badge\.svg\)\]\((https://colab\.research\.google\.com/github/"
                     r"[^)]+/notebooks/evaluate_tatoeba\.ipynb)\)")
  in_docs = badge.findall(read("docs/evaluation.md"))
  assert in_docs and badge.findall(read("README.md")) == in_docs[:1]


def test_own_corpus_command_runs_verbatim(tmp_path):
  """The README's 'Your own corpus' command (also docs/vocabulary.md's first example)."""
  blocks = code_blocks(section("README.md", "Your own corpus"), "sh|bash")
  (command,) = [line for block in blocks for line in block.split("\n")
                if line.startswith("python select_vocab.py")]
  assert command in read(os.path.join("docs", "vocabulary.md"))
  work = str(tmp_path / "work")
  write_vocab(os.path.join(work, "models", "labse", "vocab.txt"), tiny_vocab())
  EncoderConfig(vocab_size=len(tiny_vocab()), hidden_size=8, num_layers=1, num_heads=2,
                intermediate_size=16, max_position_embeddings=16).save(
                    os.path.join(work, "models", "labse", "config.json"))
  write_lines(os.path.join(work, "my_fr.txt"), ["il fait beau", "où est la gare\u202f?"] * 5)
  write_lines(os.path.join(work, "a.txt"), ["the weather is nice"] * 5)
  write_lines(os.path.join(work, "b.txt"), ["where is the station"] * 3)
  python, script, *args = shlex.split(command)
  assert python == "python"
  (name,) = [n for n, s in COMMAND_SCRIPTS.items() if s == script]
  result = run_command(name, *args, cwd=work)
  assert result.returncode == 0, result.stderr[-3000:]
  counts = {lang: json.load(open(os.path.join(work, "tokens_freqs", f"{lang}_freqs.json")))
            for lang in ("en", "fr")}
  assert counts["en"]["weather"] == 5 and counts["en"]["station"] == 3  # a.txt, then b.txt
  assert counts["fr"]["gare"] == 5 and "weather" not in counts["fr"]
  for lang, word in (("en", "station"), ("fr", "gare")):
    selected = open(os.path.join(work, "selected_tokens", f"selected_{lang}_tokens.txt"),
                    encoding="utf-8").read().split("\n")
    assert word in selected, lang
  assert sorted(os.listdir(os.path.join(work, "selected_tokens"))) == [
      "selected_en_tokens.txt", "selected_fr_tokens.txt"]  # the --corpus languages, no others
