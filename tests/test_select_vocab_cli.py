"""select_vocab.py end to end, run as a user would, from a work directory."""

import json
import os

from smaller_labse.model.config import EncoderConfig
from conftest import run_command
from tests.helpers_vocab import tiny_vocab, write_lines, write_vocab

EN = ["the weather is nice today", "where is the station", "the weather is nice", "today"] * 30
FR = ["il fait beau", "où est la gare\u202f?", "quoi\u202f? il fait beau", "la gare"] * 30


def _workdir(tmp_path):
  work = str(tmp_path / "work")
  write_vocab(os.path.join(work, "models", "labse", "vocab.txt"), tiny_vocab())
  EncoderConfig(vocab_size=len(tiny_vocab()), hidden_size=8, num_layers=1, num_heads=2,
                intermediate_size=16, max_position_embeddings=16).save(
                    os.path.join(work, "models", "labse", "config.json"))
  write_lines(os.path.join(work, "data", "en.txt"), EN)
  write_lines(os.path.join(work, "data", "fr.txt"), FR)
  return work


def _files(root):
  out = {}
  for d, _, names in os.walk(root):
    for n in names:
      with open(os.path.join(d, n), "rb") as f:
        out[os.path.relpath(os.path.join(d, n), root)] = f.read()
  return out


def test_default_run_then_budget_from_counts_with_report(tmp_path):
  work = _workdir(tmp_path)
  r = run_command("select", "--langs=en,fr", cwd=work)
  assert r.returncode == 0, r.stderr
  outputs = {k: v for k, v in _files(work).items() if not k.startswith(("data", "models"))}
  assert sorted(outputs) == sorted([
      "tokens_freqs/en_freqs.json", "tokens_freqs/en_doc_freqs.json",
      "tokens_freqs/fr_freqs.json", "tokens_freqs/fr_doc_freqs.json",
      "selected_tokens/selected_en_tokens.txt", "selected_tokens/selected_fr_tokens.txt"])
  fr = outputs["selected_tokens/selected_fr_tokens.txt"].decode().split("\n")
  assert "##\u202f" in fr and "gare" in fr  # whitespace tokens survive, never stripped
  assert json.loads(outputs["tokens_freqs/fr_freqs.json"])["il"] == 60

  # (Same inputs give byte-identical files: tests/test_counting.py and test_selection.py.)
  eval_file = write_lines(os.path.join(work, "eval", "tatoeba.fra-eng.fra"),
                          ["il fait beau\u202f!", "la gare"])
  n_special = 7
  r = run_command("select", "--langs=en,fr", "--from_counts", f"--vocab_size={n_special + 12}",
                 f"--eval_files={eval_file},eng:{os.path.join(work, 'data', 'en.txt')}", cwd=work)
  assert r.returncode == 0, r.stderr
  report = json.loads(open(os.path.join(work, "selected_tokens", "report.json")).read())
  assert report["smaller"]["vocab_size"] == n_special + 12
  assert sorted(report["per_label"]) == ["eng", "fra"]
  assert report["per_label"]["eng"]["lines"] == len(EN)
  assert os.path.exists(os.path.join(work, "selected_tokens", "report.md"))
  assert "identical tokenization" in r.stdout


BAD_CASES = ["missing_corpus", "no_long_line", "bad_vocab", "small_budget", "truncated_counts",
             "no_vocab"]


def _bad_case(work, case):
  """Breaks `work` as `case` says; returns (extra args, what the error line must name)."""
  if case == "missing_corpus":
    os.remove(os.path.join(work, "data", "fr.txt"))
    return [], os.path.join("data", "fr.txt")
  if case == "no_long_line":
    write_lines(os.path.join(work, "data", "fr.txt"), ["oui", "non", ""])
    return [], os.path.join("data", "fr.txt")
  if case == "bad_vocab":
    write_lines(os.path.join(work, "models", "labse", "vocab.txt"), ["hello", "world"])
    return [], os.path.join("models", "labse", "vocab.txt")
  if case == "no_vocab":  # neither stage 1's vocab nor a downloaded model to read it from
    os.remove(os.path.join(work, "models", "labse", "vocab.txt"))
    return [], "download_model.sh"
  if case == "small_budget":
    return ["--vocab_size=5"], "--vocab_size=5"
  write_lines(os.path.join(work, "tokens_freqs", "en_freqs.json"), ['{"the": 3, "is'])
  write_lines(os.path.join(work, "tokens_freqs", "fr_freqs.json"), ['{"il": 3}'])
  return ["--from_counts", "--vocab_size=12"], os.path.join("tokens_freqs", "en_freqs.json")


def test_bad_input_one_line_error_no_output(tmp_path):
  for case in BAD_CASES:
    work = _workdir(tmp_path / case)
    args, named = _bad_case(work, case)
    before = _files(work)
    result = run_command("select", "--langs=en,fr", *args, cwd=work)
    assert result.returncode == 2, (case, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and named in errors[0], (case, result.stderr)
    assert "Traceback" not in result.stderr, case
    assert _files(work) == before, case  # nothing written, no temporary file left
  help_run = run_command("select", "--help", cwd=tmp_path)
  assert help_run.returncode == 0  # absl's --help exits 1; the command's main returns 0
  for flag in ("--corpus", "--min_chars", "--max_sentences", "--threshold", "--vocab_size",
               "--from_counts", "--eval_files", "--vocab_file", "--langs", "--keep_chars"):
    assert flag in help_run.stdout


def test_keep_chars_and_the_guarantee_in_the_report(tmp_path):
  work = _workdir(tmp_path)
  assert run_command("select", "--langs=en,fr", cwd=work).returncode == 0
  eval_file = write_lines(os.path.join(work, "eval", "x.txt"), ["il fait beau\u202f!", "zebra"])
  n_vocab = len(tiny_vocab())
  for kc in ("all", "used"):
    result = run_command("select", "--langs=en,fr", "--from_counts", f"--vocab_size={n_vocab - 20}",
                         f"--keep_chars={kc}", f"--eval_files={eval_file}",
                         f"--report_dir=report_{kc}", f"--selected_dir=sel_{kc}", cwd=work)
    stdout = result.stdout
    assert result.returncode == 0, result.stderr
    report = json.loads(open(os.path.join(work, f"report_{kc}", "report.json")).read())
    assert report["guarantee"]["keep_chars"] == kc, report["guarantee"]
    assert report["smaller"]["vocab_size"] <= n_vocab - 20  # (used: fewer candidates)
    assert f"--keep_chars={kc}:" in stdout
    md = open(os.path.join(work, f"report_{kc}", "report.md"), encoding="utf-8").read()
    assert f"Character guarantee (`{kc}`): every character token" in md
  sel = open(os.path.join(work, "sel_all", "selected_en_tokens.txt"), encoding="utf-8").read()
  assert "z\n" in sel and "##z\n" in sel  # never counted, kept by --keep_chars=all


def test_vocab_from_the_downloaded_model_before_stage_1(tmp_path):
  from smaller_labse.demo import DEMO_CONFIG, write_demo_model
  work = str(tmp_path / "work")
  write_demo_model(os.path.join(work, "downloads"), tiny_vocab(),
                   shape={**DEMO_CONFIG, "do_lower_case": True})
  write_lines(os.path.join(work, "data", "en.txt"), ["The Weather is nice Today"] * 10)
  r = run_command("select", "--langs=en", cwd=work)
  assert r.returncode == 0, r.stderr
  vocab_asset = os.path.join("downloads", "labse-2", "assets", "cased_vocab.txt")
  assert vocab_asset in r.stdout and "do_lower_case=True" in r.stdout
  freqs = json.loads(open(os.path.join(work, "tokens_freqs", "en_freqs.json")).read())
  assert freqs["the"] == 10 and freqs["today"] == 10  # lower-cased, as the model does
  assert not os.path.exists(os.path.join(work, "models"))
