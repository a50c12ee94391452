"""Hugging Face and Sentence Transformers models as sources, run through every stage.

The sources are built by tests/hf_sources.py the way their users build them (transformers'
save_pretrained, a tokenizer saved by today's transformers, a Sentence Transformers model
fine-tuned for a few steps), and the results are checked with the real libraries:
transformers and sentence_transformers run in subprocesses (no TensorFlow there).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, run_command, shared_build, tiny_vocab
from smaller_labse.tokenizers import vocab

EN_FR = ["the", "weather", "is", "nice", "today", "where", "station", "il", "fait", "beau",
         "aujourd", "est", "la", "gare", "où", "##s"]
# Sentences whose every token survives the en+fr selection, and some that do not.
KEPT = ["the weather is nice today", "où est la gare ?", "il fait beau", "where is the station"]
PRUNED = ["сегодня хорошая погода", "the weather хорошая"]


@pytest.fixture(scope="session")
def hf_models(tmp_path_factory):
  """{'hf': a plain BertModel directory (erf GELU), 'st': a fine-tuned Sentence Transformers
  directory}, built once per session in a subprocess."""
  def build(path: str) -> None:
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hf_sources.py"), path],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
  root = shared_build(tmp_path_factory, "hf_models", build)
  return {"hf": os.path.join(root, "hf"), "st": os.path.join(root, "st")}


def _latin_chars():
  return [t for t in tiny_vocab() if (len(t) == 1 and t.isascii()) or
          (t.startswith("##") and len(t) == 3 and t[2:].isascii())]


def _run_stages(source: str, workdir) -> dict:
  """Stages 1 and 3 from `source`, as a user runs them; returns their results."""
  workdir.mkdir(exist_ok=True)
  stage1 = run_command("convert", f"--saved_model={source}",
                      cwd=str(workdir))
  assert stage1.returncode == 0, stage1.stderr[-3000:]
  for lang, tokens in (("en", EN_FR[:7]), ("fr", EN_FR[7:])):
    vocab.write_token_file(str(workdir / "selected_tokens" / f"selected_{lang}_tokens.txt"),
                           tokens + _latin_chars() + [".", "?"])
  stage3 = run_command("make", "--langs=en,fr", cwd=str(workdir))
  assert stage3.returncode == 0, stage3.stderr[-3000:]
  return {"stage1": stage1, "stage3": stage3}


@pytest.fixture(scope="module")
def st_run(hf_models, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("st_run")
  return workdir, _run_stages(hf_models["st"], workdir)


@pytest.fixture(scope="module")
def hf_run(hf_models, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("hf_run")
  return workdir, _run_stages(hf_models["hf"], workdir)


# What real sentence_transformers / transformers give, in a process without TensorFlow: for each
# request [kind, path, sentences, out] of the JSON list argv[1], in turn, one line of JSON.
_REAL = r"""
import json, sys, numpy as np, torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer
for kind, path, sentences, out in json.load(open(sys.argv[1], encoding="utf-8")):
  tokenizer = AutoTokenizer.from_pretrained(path)
  tokens = [tokenizer.convert_ids_to_tokens(tokenizer(s)["input_ids"]) for s in sentences]
  if kind == "st":
    model = SentenceTransformer(path, device="cpu")
    embeddings = model.encode(sentences, batch_size=len(sentences))
    length = model.max_seq_length
  else:
    bert = AutoModel.from_pretrained(path).eval()
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
      embeddings = torch.nn.functional.normalize(bert(**batch).pooler_output, dim=-1).numpy()
    length = 0
  np.save(out, embeddings)
  print(json.dumps({"tokens": tokens, "max_seq_length": length}), flush=True)
"""


def _real(requests, tmp_path):
  """(tokens, embeddings, max_seq_length) for each request (kind 'st' or 'hf', path,
  sentences), all answered by one process (importing torch and the libraries takes seconds)."""
  outs = [str(tmp_path / f"real_{i}.npy") for i in range(len(requests))]
  (tmp_path / "real.json").write_text(
      json.dumps([[kind, str(path), list(sentences), out]
                  for (kind, path, sentences), out in zip(requests, outs)]), encoding="utf-8")
  result = subprocess.run([sys.executable, "-c", _REAL, str(tmp_path / "real.json")],
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  infos = [json.loads(line) for line in result.stdout.strip().split("\n")[-len(requests):]]
  return [(info["tokens"], np.load(out), info["max_seq_length"]) for info, out in zip(infos, outs)]


def test_stage1_proves_a_sentence_transformers_source_against_transformers(st_run):
  workdir, runs = st_run
  assert "already in the Sentence Transformers" in runs["stage1"].stdout
  lines = runs["stage1"].stdout.splitlines()
  lines = lines[next(i for i, l in enumerate(lines) if l.startswith("Layer-by-layer proof")):]
  assert "each block is fed transformers' BertModel's own output" in lines[0]
  blocks = [l.split()[0] for l in lines[1:4]]
  assert blocks == ["embeddings", "layer_1", "pooler"] and all(
      l.rstrip().endswith(" ok") and "|transformers - rebuilt|" in l for l in lines[1:4])
  assert any("proof holds" in l for l in lines)
  store = workdir / "models" / "labse"
  source = json.loads((store / "source.json").read_text())
  assert source["kind"] == "sentence-transformers"
  # The source's safetensors are read in place: no second copy of the weights.
  assert not (store / "model.safetensors").exists() and (store / "dense.safetensors").exists()
  assert not (workdir / "models" / "labse_st").exists()


def test_trimmed_sentence_transformer_keeps_the_source_embeddings(hf_models, st_run, tmp_path):
  workdir, _ = st_run
  trimmed = workdir / "models" / "st_en-fr_st"
  source_modules = json.loads(open(os.path.join(hf_models["st"], "modules.json")).read())
  assert json.loads((trimmed / "modules.json").read_text()) == source_modules  # its own layout
  sentences = KEPT + PRUNED
  (src_tokens, src_emb, src_len), (new_tokens, new_emb, new_len) = _real(
      [("st", hf_models["st"], sentences), ("st", trimmed, sentences)], tmp_path)
  assert new_len == src_len == 256  # the source's max_seq_length
  kept = len(KEPT)
  assert new_tokens[:kept] == src_tokens[:kept]
  assert all(a != b for a, b in zip(new_tokens[kept:], src_tokens[kept:]))
  diff = np.abs(new_emb[:kept] - src_emb[:kept]).max()
  print(f"sentence_transformers, source vs trimmed, surviving sentences: max |d| {diff:.3g}")
  assert diff <= 1e-6  # Same ids, same weights: only batch-level float32 rounding.


def test_sentence_transformers_dense_is_kept_apart_from_the_stale_pooler(hf_models, st_run):
  from safetensors.numpy import load_file
  workdir, _ = st_run
  trimmed = workdir / "models" / "st_en-fr_st"
  src = load_file(os.path.join(hf_models["st"], "model.safetensors"))
  new = load_file(str(trimmed / "model.safetensors"))
  dense = load_file(str(trimmed / "2_Dense" / "model.safetensors"))
  src_dense = load_file(os.path.join(hf_models["st"], "2_Dense", "model.safetensors"))
  np.testing.assert_array_equal(new["pooler.dense.weight"], src["pooler.dense.weight"])
  np.testing.assert_array_equal(dense["linear.weight"], src_dense["linear.weight"])
  # Fine-tuning moved the Dense module away from the pooler it started from.
  assert np.abs(src_dense["linear.weight"] - src["pooler.dense.weight"]).max() > 1e-3


def test_tf_hub_pair_from_a_sentence_transformers_source(hf_models, st_run, tmp_path):
  import tensorflow as tf
  import tensorflow_hub as hub  # noqa: F401
  import tensorflow_text  # noqa: F401
  workdir, runs = st_run
  assert "verified: " in runs["stage3"].stdout
  encoder = tf.saved_model.load(str(workdir / "models" / "st_en-fr" / "1"))
  preprocess = tf.saved_model.load(str(workdir / "models" / "st_en-fr_preprocess" / "1"))
  ((src_tokens, src_emb, _),) = _real([("st", hf_models["st"], KEPT)], tmp_path)
  tokens = vocab.read_token_file(str(workdir / "models" / "vocab-en-fr.txt"))
  ids = preprocess.tokenize(tf.constant(KEPT)).merge_dims(1, 2).to_list()
  assert [["[CLS]"] + [tokens[i] for i in row] + ["[SEP]"] for row in ids] == src_tokens
  pooled = encoder(preprocess(tf.constant(KEPT)), training=False)["default"].numpy()
  ours = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
  diff = np.abs(ours - src_emb).max()
  print(f"TF Hub pair vs sentence_transformers on the source: max |d| {diff:.3g}")
  assert diff <= 1e-5  # TF vs PyTorch float32 on a 2-layer network: ~1e-7.


def test_plain_hugging_face_source_keeps_pooler_output(hf_models, hf_run, tmp_path):
  workdir, runs = hf_run
  config = json.loads((workdir / "models" / "labse" / "config.json").read_text())
  assert config["hidden_act"] == "gelu"  # the source's exact erf GELU
  trimmed = workdir / "models" / "hf_en-fr_st"
  modules = [m["path"] for m in json.loads((trimmed / "modules.json").read_text())]
  assert modules == ["", "1_Pooling", "2_Dense", "3_Normalize"]
  assert json.loads((trimmed / "config.json").read_text())["hidden_act"] == "gelu"
  (src_tokens, src_emb, _), (new_tokens, new_emb, _), (_, st_emb, _) = _real(
      [("hf", hf_models["hf"], KEPT), ("hf", trimmed, KEPT), ("st", trimmed, KEPT)], tmp_path)
  assert new_tokens == src_tokens
  assert np.abs(new_emb - src_emb).max() <= 1e-6  # AutoModel(...).pooler_output, normalised
  assert np.abs(st_emb - src_emb).max() <= 1e-6  # SentenceTransformer: CLS -> Dense -> Normalize


def test_stage1_without_torch_proves_against_float64(hf_models, tmp_path):
  blocker = tmp_path / "no_torch"
  (blocker / "torch").mkdir(parents=True)
  (blocker / "torch" / "__init__.py").write_text("raise ImportError('no torch here')\n")
  env = dict(os.environ, PYTHONPATH=f"{blocker}:{ROOT}", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, os.path.join(ROOT, "save_as_weight_from_saved_model.py"),
                           f"--saved_model={hf_models['hf']}"], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "PyTorch or transformers is not installed" in result.stdout
  assert "|float64 - rebuilt|" in result.stdout and "proof holds" in result.stdout


def _broken_source(hf_models, tmp_path, change) -> str:
  path = tmp_path / "broken"
  shutil.copytree(hf_models["hf"], path)
  change(path)
  return str(path)


def _edit_json(name, **values):
  def change(path):
    data = json.loads((path / name).read_text())
    data.update(values)
    (path / name).write_text(json.dumps(data))
  return change


@pytest.mark.parametrize("change,message", [
    (_edit_json("config.json", model_type="distilbert", architectures=["DistilBertModel"]),
     "model_type 'distilbert' (DistilBertModel) is not supported"),
    (_edit_json("config.json", hidden_act="swish"), "hidden_act 'swish' is not supported"),
    (_edit_json("config.json", intermediate_size=48), "intermediate.dense.weight' has shape"),
    (_edit_json("config.json", vocab_size=100), "does not fit the embedding table"),
])
def test_bad_sources_one_line_error(hf_models, tmp_path, change, message):
  source = _broken_source(hf_models, tmp_path, change)
  result = run_command("convert", f"--saved_model={source}",
                      cwd=str(tmp_path))
  assert result.returncode == 2
  last = result.stderr.strip().split("\n")[-1]
  assert last.startswith("error: ") and message in last, last
  assert "Traceback" not in result.stderr
  assert not (tmp_path / "models").exists()


def test_stage3_refuses_a_source_changed_since_stage1(hf_models, tmp_path):
  source = _broken_source(hf_models, tmp_path, lambda path: None)
  assert run_command("convert", f"--saved_model={source}",
                    cwd=str(tmp_path)).returncode == 0
  weights = os.path.join(source, "model.safetensors")
  data = bytearray(open(weights, "rb").read())
  data[-4:] = b"\0\0\0\0"
  open(weights, "wb").write(bytes(data))
  os.utime(weights, ns=(0, 0))
  vocab.write_token_file(str(tmp_path / "selected_tokens" / "selected_en_tokens.txt"), EN_FR)
  result = run_command("make", "--langs=en", cwd=str(tmp_path))
  assert result.returncode == 2
  assert "changed since stage 1" in result.stderr.strip().split("\n")[-1]


def test_pytorch_bin_source(hf_models, tmp_path):
  """A source with pytorch_model.bin: stage 1 converts it into the store's model.safetensors
  (PyTorch reads it); without PyTorch, one line says what is missing."""
  def to_bin(path):
    from safetensors.numpy import load_file
    import torch
    tensors = {k: torch.from_numpy(v) for k, v in load_file(str(path / "model.safetensors")).items()}
    torch.save(tensors, str(path / "pytorch_model.bin"))
    (path / "model.safetensors").unlink()
  source = _broken_source(hf_models, tmp_path, to_bin)
  result = run_command("convert", f"--saved_model={source}",
                      cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr[-3000:]
  assert "proof holds" in result.stdout
  assert (tmp_path / "models" / "labse" / "model.safetensors").is_file()

  blocker = tmp_path / "no_torch"
  (blocker / "torch").mkdir(parents=True)
  (blocker / "torch" / "__init__.py").write_text("raise ImportError('no torch here')\n")
  env = dict(os.environ, PYTHONPATH=f"{blocker}:{ROOT}", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, os.path.join(ROOT, "save_as_weight_from_saved_model.py"),
                           f"--saved_model={source}", "--output_dir=other"], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 2
  assert result.stderr.strip().split("\n")[-1] == (
      f"error: {source}/pytorch_model.bin: reading pytorch_model.bin needs PyTorch "
      "(pip install torch), or give the model with model.safetensors")
  assert not (tmp_path / "other").exists()


def test_stage2_counts_with_the_source_tokenizer(hf_run, tmp_path):
  """The store of a Hugging Face source counts with its tokenizer: a no-break space splits
  words there (transformers' BertNormalizer), where TF Hub's BertTokenizer keeps it."""
  workdir, _ = hf_run
  corpus = tmp_path / "corpus.txt"
  corpus.write_text("the\xa0weather is nice today\n" * 3, encoding="utf-8")
  result = run_command("select", f"--corpus=en:{corpus}", f"--counts_dir={tmp_path}/c",
                      f"--selected_dir={tmp_path}/s", cwd=str(workdir))
  assert result.returncode == 0, result.stderr[-3000:]
  counts = json.loads((tmp_path / "c" / "en_freqs.json").read_text())
  assert counts == {"the": 3, "weather": 3, "is": 3, "nice": 3, "today": 3}


# Parallel sentences for the pipeline test: every word is in tiny_vocab() and in the corpora.
_PAIRS = [("the weather is nice today", "il fait beau aujourd"),
          ("where is the station", "où est la gare"), ("the station", "la gare"),
          ("is the weather nice", "est la gare")]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_pipeline_from_a_hub_repository(hf_models, tmp_path):
  """./run_pipeline.sh --source=OWNER/NAME: the Sentence Transformers model comes from a (local)
  Hugging Face hub, the corpora and Tatoeba from mirrors; stage 4 compares the trimmed export
  with the source, both run by sentence_transformers."""
  import gzip
  from http_fixtures import HubServer, MirrorServer
  files = {}
  for root, _, names in os.walk(hf_models["st"]):
    for name in names:
      path = os.path.join(root, name)
      files[os.path.relpath(path, hf_models["st"])] = open(path, "rb").read()
  corpus = {"en": [a for a, _ in _PAIRS] * 3, "fr": [b for _, b in _PAIRS] * 3}
  with MirrorServer() as cdn, HubServer(cdn) as hub, MirrorServer() as wiki, \
      MirrorServer() as tatoeba:
    hub.add_repo("acme/tiny-st", files, lfs=[p for p in files if p.endswith(".safetensors")])
    for lang, lines in corpus.items():
      wiki.files[f"/{lang}.txt.gz"] = gzip.compress("".join(l + "\n" for l in lines).encode())
    tatoeba.files["/tatoeba.fra-eng.fra"] = "".join(b + "\n" for _, b in _PAIRS).encode()
    tatoeba.files["/tatoeba.fra-eng.eng"] = "".join(a + "\n" for a, _ in _PAIRS).encode()
    env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf_home"), HF_TOKEN="",
               WIKI_BASE_URL=wiki.url, TATOEBA_BASE_URL=tatoeba.url, NO_PROXY="127.0.0.1",
               no_proxy="127.0.0.1", DOWNLOAD_RETRY_DELAY="0.05", PYTHONPATH=ROOT,
               SMALLER_LABSE_PYTHON=sys.executable)
    work = tmp_path / "work"
    result = subprocess.run([sys.executable, "-m", "smaller_labse.stages.pipeline",
                             "--source=acme/tiny-st", "--langs=en,fr", f"--workdir={work}"],
                            env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert (work / "downloads" / "acme" / "tiny-st" / "modules.json").is_file()
  assert json.loads((work / "models" / "labse" / "source.json").read_text())["kind"] == \
      "sentence-transformers"
  assert "| tiny-st_en-fr |" in result.stdout
  results = json.loads((work / "results" / "tatoeba.json").read_text())
  assert results["identical_embeddings"]["fra"]["percent"] == 100.0


@pytest.mark.parametrize("source, message", [
    ("nope", "no such directory, nor a hub repository id OWNER/NAME"),
    ("empty", "not a model: expected a TF Hub SavedModel (saved_model.pb), a Sentence "
              "Transformers directory (modules.json) or a Hugging Face BERT directory "
              "(config.json)"),
    ("tfhub", "a TF Hub SavedModel; --source takes a Hugging Face / Sentence Transformers model "
              "(LaBSE/2 is the default source; for another TF Hub export run the stages with "
              "--saved_model=DIR)"),
])
def test_pipeline_source_that_is_not_a_hugging_face_model(tmp_path, monkeypatch, capsys, source,
                                                          message):
  from smaller_labse.stages import pipeline
  os.makedirs(tmp_path / "empty")
  os.makedirs(tmp_path / "tfhub")
  (tmp_path / "tfhub" / "saved_model.pb").write_bytes(b"")
  monkeypatch.chdir(tmp_path)
  status = pipeline.main([f"--source={source}", f"--workdir={tmp_path / 'work'}"])
  assert status == 2
  assert capsys.readouterr().err.strip() == f"error: --source={source}: {message}"
  assert not (tmp_path / "work").exists()


def test_this_projects_own_export_as_a_source(tiny_stage1, tmp_path):
  """A Sentence Transformers export of ours (or a fine-tune of one) runs TF Hub's BertTokenizer
  (its tokenizer.json is that tokenizer's twin): read back as such, and proven. The export is
  stage 1's of the tiny LaBSE (conftest.tiny_stage1)."""
  export = os.path.join(tiny_stage1, "models", "labse_st")
  again = run_command("convert", f"--saved_model={export}",
                     "--output_dir=b/labse", cwd=str(tmp_path))
  assert again.returncode == 0, again.stderr[-3000:]
  assert "|transformers - rebuilt|" in again.stdout and "proof holds" in again.stdout
  source = json.loads((tmp_path / "b" / "labse" / "source.json").read_text())
  assert (source["kind"], source["tokenizer"]) == ("sentence-transformers", "tfhub")
  assert vocab.read_token_file(str(tmp_path / "b" / "labse" / "vocab.txt")) == tiny_vocab()
