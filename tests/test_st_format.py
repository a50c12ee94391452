"""The Sentence Transformers / Hugging Face export: layout, weights, tokenizer, proofs.

Runs without PyTorch: the weights are proven by an independent float64 numpy reading
of the exported files (smaller_labse.model.numpy_reference), the tokenizer by the `tokenizers`
library (skipped where it is not installed). The tests that run the real
`sentence_transformers`, `transformers` and `torch` (requirements-dev.txt) in a subprocess,
among them the documented snippets, skip only where `sentence_transformers` is missing.
"""

import filecmp
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  (registers the preprocessor's ops)

from conftest import MODELGARDEN_STRESS, ROOT, SHARED, copy_tree, run_command, tiny_vocab
from helpers_docs import code_blocks, section
from smaller_labse.formats import st_export, store
from smaller_labse.model import numpy_reference, verification
from smaller_labse.stages import conversion
from smaller_labse.tokenizers import vocab

SENTENCES = ["the weather is nice today", "où est la gare\u202f?", "il fait beau",
             "where\xa0is the station", "сегодня хорошая погода", "", "[CLS] the [SEP]",
             "zero\u200bwidth soft\xadhyphen", "e\u0301 今天 😀", "x" * 101,
             " ".join(["the weather"] * 80)]  # 160 words: truncated to 128 tokens.
ST_FILES = ["1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
            "README.md", "config.json", "config_sentence_transformers.json", "model.safetensors",
            "modules.json", "sentence_bert_config.json", "special_tokens_map.json",
            "tokenizer.json", "tokenizer_config.json", "vocab.txt"]


def _st_dir(tiny_en_fr_dir):
  return tiny_en_fr_dir / "models" / "LaBSE_en-fr_st"


def _tf_hub(tiny_en_fr_dir):
  models = tiny_en_fr_dir / "models"
  return hub.load(str(models / "LaBSE_en-fr" / "1")), hub.load(
      str(models / "LaBSE_en-fr_preprocess" / "1"))


def _files(directory):
  return sorted(os.path.relpath(os.path.join(d, f), directory)
                for d, _, names in os.walk(directory) for f in names)


def test_layout_and_configs(tiny_en_fr_dir, tiny_en_fr_stdout):
  st = _st_dir(tiny_en_fr_dir)
  assert "verified the Sentence Transformers export on 21 sentences" in tiny_en_fr_stdout
  assert "wrote models/LaBSE_en-fr_st" in tiny_en_fr_stdout
  assert _files(st) == ST_FILES
  assert os.path.isdir(st / "3_Normalize")
  target = vocab.read_token_file(str(tiny_en_fr_dir / "models" / "vocab-en-fr.txt"))
  assert vocab.read_token_file(str(st / "vocab.txt")) == target
  config = json.load(open(st / "config.json"))
  assert config["architectures"] == ["BertModel"] and config["model_type"] == "bert"
  assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"],
          config["num_attention_heads"], config["intermediate_size"]) == (len(target), 32, 2, 4, 64)
  assert config["hidden_act"] == "gelu_new"  # LaBSE's tanh GELU, not HF's erf "gelu".
  modules = json.load(open(st / "modules.json"))
  assert [(m["path"], m["type"].rsplit(".", 1)[1]) for m in modules] == [
      ("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Dense", "Dense"),
      ("3_Normalize", "Normalize")]
  assert json.load(open(st / "sentence_bert_config.json")) == {"max_seq_length": 128,
                                                                "do_lower_case": False}
  assert json.load(open(st / "1_Pooling" / "config.json"))["pooling_mode_cls_token"] is True
  assert json.load(open(st / "2_Dense" / "config.json")) == {
      "in_features": 32, "out_features": 32, "bias": True,
      "activation_function": "torch.nn.modules.activation.Tanh"}
  tokenizer_config = json.load(open(st / "tokenizer_config.json"))
  assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
  assert tokenizer_config["do_lower_case"] is False
  card = open(st / "README.md", encoding="utf-8").read()
  assert f"| vocab size | {len(target)} |" in card and "en, fr" in card
  assert "max abs difference" in card


def test_safetensors_hold_bert_names_and_exact_weights(tiny_en_fr_dir, tiny_en_fr_stdout, tiny_labse):
  """Read with the safetensors library itself; every value is LaBSE's, rearranged."""
  from safetensors.numpy import load_file
  tensors = load_file(str(_st_dir(tiny_en_fr_dir) / "model.safetensors"))
  expected = {"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
              "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
              "embeddings.LayerNorm.bias", "pooler.dense.weight", "pooler.dense.bias"}
  for i in range(2):
    for name in ("attention.self.query", "attention.self.key", "attention.self.value",
                 "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                 "output.dense", "output.LayerNorm"):
      expected |= {f"encoder.layer.{i}.{name}.weight", f"encoder.layer.{i}.{name}.bias"}
  assert set(tensors) == expected
  assert all(t.dtype == np.float32 for t in tensors.values())
  assert tensors["encoder.layer.1.intermediate.dense.weight"].shape == (64, 32)  # [out, in]
  assert tensors["encoder.layer.1.output.dense.weight"].shape == (32, 64)
  original = {v.name.split(":")[0]: v.numpy() for v in hub.load(tiny_labse[0]).variables}
  np.testing.assert_array_equal(
      tensors["encoder.layer.1.intermediate.dense.weight"],
      original["transformer/layer_1/intermediate/kernel"].T)
  np.testing.assert_array_equal(  # [D, N, H] -> [N*H, D]
      tensors["encoder.layer.0.attention.self.query.weight"],
      original["transformer/layer_0/self_attention/query/kernel"].reshape(32, 32).T)
  dense = load_file(str(_st_dir(tiny_en_fr_dir) / "2_Dense" / "model.safetensors"))
  assert set(dense) == {"linear.weight", "linear.bias"}
  np.testing.assert_array_equal(dense["linear.weight"], tensors["pooler.dense.weight"])
  target = vocab.read_token_file(str(tiny_en_fr_dir / "models" / "vocab-en-fr.txt"))
  rows = [tiny_vocab().index(t) for t in target]
  np.testing.assert_array_equal(tensors["embeddings.word_embeddings.weight"],
                                original["word_embeddings/embeddings"][rows])


def test_numpy_forward_pass_equals_the_tf_hub_model(tiny_en_fr_dir, tiny_en_fr_stdout):
  """HF BertModel conventions, float64, from the exported files only, vs TF float32."""
  encoder, preprocess = _tf_hub(tiny_en_fr_dir)
  inputs = preprocess(tf.constant(SENTENCES))
  outputs = encoder(inputs, training=False)
  model = numpy_reference.NumpyStModel(str(_st_dir(tiny_en_fr_dir)))
  ours = model(*(inputs[k].numpy() for k in ("input_word_ids", "input_mask", "input_type_ids")))
  pooled = outputs["pooled_output"].numpy()
  reference = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
  diff = np.abs(ours["sentence_embedding"] - reference).max()
  print(f"numpy (float64) vs TF Hub (float32), sentence embeddings: max abs difference {diff:.3g}")
  # A 2-layer network at BERT's initialisation: float32 rounding moves the embedding by
  # about 1e-7 (measured 1e-7); a mis-mapped weight moves it by 1e-2 or more.
  assert diff <= 1e-5
  assert np.abs(ours["pooler_output"] - pooled).max() <= 1e-5


def test_check_catches_a_transposed_weight(tiny_en_fr_dir, tiny_en_fr_stdout, tmp_path):
  from safetensors.numpy import load_file, save_file
  encoder, preprocess = _tf_hub(tiny_en_fr_dir)
  inputs = verification.pack_to_longest(preprocess, SENTENCES)
  outputs = encoder(inputs, training=False)
  reference = {"inputs": {k: v.numpy() for k, v in inputs.items()},
               "encoder_outputs": [x.numpy() for x in outputs["encoder_outputs"]],
               "pooled_output": outputs["pooled_output"].numpy()}
  good = st_export.check(str(_st_dir(tiny_en_fr_dir)), reference)
  assert good["layers"] <= numpy_reference.LAYER_RTOL and good["sentence_embedding"] <= 1e-5
  broken = tmp_path / "broken"
  shutil.copytree(_st_dir(tiny_en_fr_dir), broken)
  tensors = load_file(str(broken / "model.safetensors"))
  name = "encoder.layer.1.attention.self.value.weight"
  tensors[name] = np.ascontiguousarray(tensors[name].T)
  save_file(tensors, str(broken / "model.safetensors"))
  with pytest.raises(st_export.StVerificationError, match="a layer of the Sentence Transformers"):
    st_export.check(str(broken), reference)


def test_tokenizer_json_packs_as_the_tf_hub_preprocessor(tiny_en_fr_dir, tiny_en_fr_stdout):
  tokenizers = pytest.importorskip("tokenizers")
  tokenizer = tokenizers.Tokenizer.from_file(str(_st_dir(tiny_en_fr_dir) / "tokenizer.json"))
  tokenizer.enable_truncation(128)
  tokenizer.enable_padding(length=128, pad_id=0, pad_token="[PAD]")
  _, preprocess = _tf_hub(tiny_en_fr_dir)
  expected = preprocess(tf.constant(SENTENCES))
  encodings = tokenizer.encode_batch(SENTENCES)
  for key, hf_key in (("input_word_ids", "ids"), ("input_mask", "attention_mask"),
                      ("input_type_ids", "type_ids")):
    np.testing.assert_array_equal(np.array([getattr(e, hf_key) for e in encodings]),
                                  expected[key].numpy(), err_msg=key)
  assert sum(encodings[-1].attention_mask) == 128  # The long sentence is truncated.
  tokenizer.no_padding()
  ids = tokenizer.encode("où est la gare", add_special_tokens=False).ids
  assert tokenizer.decode(ids) == "où est la gare"  # Byte-level tokens decode to text.


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "data", "tatoeba_dev")),
                    reason="../shared not present")
def test_tokenizer_json_agrees_on_every_tatoeba_line_and_hard_case():
  """The real 501,153-token vocab, all 13,548 Tatoeba lines and 72 hard cases."""
  pytest.importorskip("tokenizers")
  sys.path.insert(0, os.path.join(ROOT, "bench"))
  import st_tokenizer_agreement as agreement
  groups = {**agreement.tatoeba_groups(os.path.join(SHARED, "data", "tatoeba_dev", "tatoeba.*")),
            **agreement.EDGE_CASES}
  rows = agreement.compare(os.path.join(SHARED, "data", "labse", "cased_vocab.txt"), groups)
  assert sum(n for _, _, n, _, _ in rows) > 13_000
  assert [(name, differ) for name, _, _, differ, _ in rows if differ] == []


def test_formats_flag(tiny_en_fr_dir, tiny_en_fr_stdout, tmp_path):
  only_st = run_command("make", "--langs=en,fr", "--formats=st",
                       f"--output_dir={tmp_path / 'out'}", cwd=tiny_en_fr_dir)
  assert only_st.returncode == 0, only_st.stderr
  assert sorted(os.listdir(tmp_path / "out")) == ["LaBSE_en-fr_st", "vocab-en-fr.txt"]
  for name in _files(_st_dir(tiny_en_fr_dir)):  # Same inputs, byte-identical outputs.
    assert filecmp.cmp(_st_dir(tiny_en_fr_dir) / name, tmp_path / "out" / "LaBSE_en-fr_st" / name,
                       shallow=False), name
  bad = run_command("make", "--langs=en,fr", "--formats=tfhub,onnx",
                   f"--output_dir={tmp_path / 'bad'}", cwd=tiny_en_fr_dir)
  assert bad.returncode == 2
  assert bad.stderr.strip().split("\n")[-1] == (
      "error: --formats=tfhub,onnx: unknown format onnx; choose from tfhub,st")
  assert not (tmp_path / "bad").exists()


def test_a_different_model_in_the_st_directory_is_refused(tiny_en_fr_dir, tiny_en_fr_stdout, tmp_path):
  out = tmp_path / "models"
  shutil.copytree(_st_dir(tiny_en_fr_dir), out / "LaBSE_en-fr_st")
  with open(out / "LaBSE_en-fr_st" / "vocab.txt", "a", encoding="utf-8") as f:
    f.write("another\n")
  before = {n: open(out / "LaBSE_en-fr_st" / n, "rb").read() for n in ST_FILES}
  result = run_command("make", "--langs=en,fr", f"--output_dir={out}",
                      cwd=tiny_en_fr_dir)
  assert result.returncode == 2
  assert result.stderr.strip().split("\n")[-1] == (
      f"error: {out}/LaBSE_en-fr_st: already holds a different model; remove it or pass "
      "--overwrite")
  assert sorted(os.listdir(out)) == ["LaBSE_en-fr_st"]  # Nothing else written.
  assert {n: open(out / "LaBSE_en-fr_st" / n, "rb").read() for n in ST_FILES} == before


def test_stage1_writes_the_full_model(tiny_stage1, tmp_path):
  assert "verified the Sentence Transformers export" in \
      (pathlib.Path(tiny_stage1) / "convert.stdout").read_text(encoding="utf-8")
  st = pathlib.Path(tiny_stage1) / "models" / "labse_st"
  assert _files(st) == ST_FILES
  assert vocab.read_token_file(str(st / "vocab.txt")) == tiny_vocab()
  work = copy_tree(tiny_stage1, str(tmp_path / "work"))
  again = run_command("convert", "--st_output_dir=", "--output_dir=models/labse2", cwd=work)
  assert again.returncode == 0, again.stderr
  assert sorted(os.listdir(tmp_path / "work" / "models")) == ["labse", "labse2", "labse_st"]
  bad = run_command("convert", "--st_max_seq_length=513", "--overwrite", cwd=work)
  assert bad.returncode == 2
  assert bad.stderr.strip().split("\n")[-1] == (
      "error: max_seq_length 513: must be between 3 and the model's 512 positions")


@pytest.mark.skipif(not os.path.isdir(MODELGARDEN_STRESS), reason="../shared not present")
def test_layer_check_holds_on_a_badly_conditioned_model(tmp_path):
  """modelgarden_stress (init 0.5): end to end, float32 rounding alone moves outputs by
  1e-4; layer by layer the export is still within LAYER_RTOL of the TF model."""
  conversion.convert(os.path.join(MODELGARDEN_STRESS, "encoder"), str(tmp_path / "labse"))
  model = store.open_store(str(tmp_path / "labse"))
  (tmp_path / "labse_st").mkdir()
  figures = st_export.export(str(tmp_path / "labse_st"), model, "stress", "stress", "")
  print(figures)
  assert figures["layers"] <= numpy_reference.LAYER_RTOL


_ST_SCRIPT = r"""
import json, sys, numpy as np
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer
import torch
path, sentences, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
model = SentenceTransformer(path, device="cpu")
tokenizer = AutoTokenizer.from_pretrained(path)
bert, info = AutoModel.from_pretrained(path, output_loading_info=True)
batch = tokenizer(sentences, padding="max_length", truncation=True, max_length=128,
                  return_tensors="pt")
with torch.no_grad():
    pooler = bert.eval()(**batch).pooler_output.numpy()
np.savez(out, st=model.encode(sentences), ids=batch["input_ids"].numpy(), pooler=pooler,
         max_seq_length=model.max_seq_length)
print(json.dumps({k: sorted(v) for k, v in info.items()}))
"""


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None,
                    reason="sentence_transformers not installed")
def test_sentence_transformers_loads_the_export(tiny_en_fr_dir, tiny_en_fr_stdout, tmp_path):
  """Real sentence_transformers and transformers (in a subprocess: no TF in that process)."""
  out = tmp_path / "st.npz"
  result = subprocess.run([sys.executable, "-c", _ST_SCRIPT, str(_st_dir(tiny_en_fr_dir)),
                           json.dumps(SENTENCES), str(out)], capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  info = json.loads(result.stdout.strip().split("\n")[-1])
  assert all(not v for v in info.values()), info  # No missing/unexpected weights.
  for word in ("newly initialized", "not used", "MISSING", "UNEXPECTED", "not initialized"):
    assert word not in result.stderr
  got = np.load(out)
  encoder, preprocess = _tf_hub(tiny_en_fr_dir)
  inputs = preprocess(tf.constant(SENTENCES))
  pooled = encoder(inputs, training=False)["pooled_output"].numpy()
  np.testing.assert_array_equal(got["ids"], inputs["input_word_ids"].numpy())
  assert int(got["max_seq_length"]) == 128
  reference = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
  diff = np.abs(got["st"] - reference).max()
  print(f"sentence_transformers vs TF Hub: max abs difference {diff:.3g}")
  assert diff <= 1e-5  # float32 against float32, two implementations: about 1e-7.
  assert np.abs(got["pooler"] - pooled).max() <= 1e-5


DEFAULT_MODEL = "LaBSE_en-fr-es-de-zh-ar-zh_classical-it-ja-ko-nl-pl-pt-th-tr-ru"


def _doc_snippets(page: str, heading: str):
  """The Python snippets under `heading` in `page` (README.md, docs/...), as documented."""
  return code_blocks(section(page, heading), "python")


def _models_view(tiny_en_fr_dir, cwd) -> None:
  """`cwd`/models names the default model's directories after the en-fr model of `workdir`
  (links: the shared work directory is not written)."""
  models = pathlib.Path(cwd) / "models"
  models.mkdir(parents=True, exist_ok=True)
  for suffix in ("", "_preprocess", "_st"):
    os.symlink(tiny_en_fr_dir / "models" / f"LaBSE_en-fr{suffix}", models / f"{DEFAULT_MODEL}{suffix}")


# Runs each snippet of the JSON list argv[1] in turn, each in fresh globals as `python -c` would,
# after a line naming it.
_RUN_EACH = r"""
import json, sys
for i, snippet in enumerate(json.load(open(sys.argv[1], encoding="utf-8"))):
  print(f"=== snippet {i}", flush=True)
  exec(compile(snippet, f"<snippet {i}>", "exec"), {"__name__": "__main__"})
"""


def test_documented_tensorflow_fine_tuning_example_runs(tiny_en_fr_dir, tmp_path, monkeypatch, capsys):
  """Run in this process (TensorFlow is loaded here), from a directory of the test's own."""
  tf_example = _doc_snippets("docs/fine-tuning.md", "Fine-tuning")[0]
  assert "hub.KerasLayer" in tf_example and f'model = "models/{DEFAULT_MODEL}"' in tf_example
  _models_view(tiny_en_fr_dir, tmp_path)
  monkeypatch.chdir(tmp_path)
  capsys.readouterr()
  exec(compile(tf_example, "docs/fine-tuning.md", "exec"), {"__name__": "__main__"})  # pylint: disable=exec-used
  stdout = capsys.readouterr().out
  losses = [float(line.split("loss ")[1]) for line in stdout.split("\n") if "loss" in line]
  assert len(losses) == 2 and all(np.isfinite(losses))


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is None,
                    reason="sentence_transformers not installed")
def test_documented_pytorch_examples_run(tiny_en_fr_dir, tmp_path):
  """The PyTorch snippets, verbatim, in one process without TensorFlow (as their users run
  them), one after the other, each in fresh globals."""
  readme = [snippet for snippet in _doc_snippets("README.md", "Using the smaller model")
            if "sentence_transformers" in snippet]
  snippets = _doc_snippets("docs/formats.md", "The Sentence Transformers / Hugging Face format")
  torch_example = _doc_snippets("docs/fine-tuning.md", "Fine-tuning")[1]
  assert len(readme) == 1 and "SentenceTransformer(" in readme[0]
  assert "SentenceTransformer(" in snippets[0] and "AutoModel" in snippets[1]
  assert "torch.optim.Adam" in torch_example
  distinct = list(dict.fromkeys(readme + snippets + [torch_example]))  # each distinct one once
  _models_view(tiny_en_fr_dir, tmp_path)
  (tmp_path / "snippets.json").write_text(json.dumps(distinct), encoding="utf-8")
  result = subprocess.run([sys.executable, "-c", _RUN_EACH, str(tmp_path / "snippets.json")],
                          cwd=tmp_path, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  outputs = result.stdout.split("=== snippet ")[1:]
  assert len(outputs) == len(distinct)  # every snippet ran to its end
  assert outputs[-1].count("loss") == 2  # the fine-tuning example's two steps
