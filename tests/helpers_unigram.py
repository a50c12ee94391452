"""XLM-R SentencePiece Unigram tokenizers and sources built small, in exactly the layouts the
hub's models have, for tests/test_hf_unigram.py, tests/test_unigram_pipeline.py and
tests/test_xlmr_sources.py.

- `build_xlmr(root)`: a sentencepiece Unigram model (nmt_nfkc) trained on the demo's corpora and
  saved by transformers as XLM-R's tokenizer (tokenizer.json, tokenizer_config.json, and
  sentencepiece.bpe.model beside them);
- `hub_style(source, target)`: the same tokenizer as the hub's XLM-R repositories write it;
- `build_e5_small(root)`: multilingual-e5-small's layout: a Sentence Transformers directory,
  BertModel (35 rows beyond the tokenizer there, EXTRA_ROWS here) + that tokenizer, mean pooling,
  Normalize, the prompts "query: " / "passage: " (built by tests/xlmr_sources.py in its own
  process: PyTorch, no TensorFlow).
"""

import json
import os
import shutil
import subprocess
import sys

from smaller_labse.demo import demo_data

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPTS = {"query": "query: ", "passage": "passage: "}
EXTRA_ROWS = 5  # multilingual-e5-small and MiniLM: 250,037 rows, 250,002 pieces


def corpus_lines():
  """The demo's en/fr/de/ru corpora and parallel sentences (lines of more than 5 characters)."""
  lines = []
  for lang in ("en", "fr", "de", "ru"):
    lines += [l for l in demo_data.CORPORA[lang] if len(l) > 5]
  for pairs in demo_data.PARALLEL.values():
    lines += [a for a, _ in pairs] + [b for _, b in pairs]
  return lines


def build_xlmr(root: str, vocab_size: int = 700) -> str:
  """A sentencepiece Unigram model (nmt_nfkc) saved by transformers as XLM-R's tokenizer:
  tokenizer.json + tokenizer_config.json, and sentencepiece.bpe.model beside them."""
  import sentencepiece as spm  # pylint: disable=import-outside-toplevel
  import transformers  # pylint: disable=import-outside-toplevel
  lines = corpus_lines()
  train = os.path.join(root, "train.txt")
  with open(train, "w", encoding="utf-8") as f:
    f.write("\n".join(lines[::2]) + "\n")  # Every other line: the rest has unseen words.
  spm.SentencePieceTrainer.train(input=train, model_prefix=os.path.join(root, "m"),
                                 vocab_size=vocab_size, model_type="unigram",
                                 normalization_rule_name="nmt_nfkc", character_coverage=0.9995,
                                 minloglevel=2)
  spm_dir = os.path.join(root, "spm")
  os.makedirs(spm_dir)
  shutil.copy(os.path.join(root, "m.model"), os.path.join(spm_dir, "sentencepiece.bpe.model"))
  out = os.path.join(root, "xlmr")
  transformers.XLMRobertaTokenizer.from_pretrained(spm_dir).save_pretrained(out)
  shutil.copy(os.path.join(root, "m.model"), os.path.join(out, "sentencepiece.bpe.model"))
  return out


def hub_style(source: str, target: str, tokenizer_class: str = "XLMRobertaTokenizer") -> str:
  """The same tokenizer as the hub's XLM-R repositories write it: Precompiled + Replace
  normalizer, Metaspace alone, <mask> lstrip, added_tokens_decoder in tokenizer_config.json."""
  shutil.copytree(source, target)
  path = os.path.join(target, "tokenizer.json")
  with open(path, encoding="utf-8") as f:
    data = json.load(f)
  data["normalizer"] = {"type": "Sequence", "normalizers": [
      data["normalizer"], {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
  data["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581",
                           "prepend_scheme": "always", "split": True}
  for token in data["added_tokens"]:
    token["lstrip"] = token["content"] == "<mask>"
  with open(path, "w", encoding="utf-8") as f:
    json.dump(data, f, ensure_ascii=False, indent=2)
  config = {"tokenizer_class": tokenizer_class, "model_max_length": 512,
            "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
            "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
            "added_tokens_decoder": {str(t["id"]): t for t in data["added_tokens"]}}
  with open(os.path.join(target, "tokenizer_config.json"), "w") as f:
    json.dump(config, f, indent=2)
  return target


def build_sources(root: str) -> str:
  """tests/xlmr_sources.py's sources over a hub-style XLM-R tokenizer, in `root`/src (its own
  process: PyTorch, no TensorFlow). Returns that directory."""
  os.makedirs(os.path.join(root, "tok"), exist_ok=True)
  tokenizer = hub_style(build_xlmr(os.path.join(root, "tok")), os.path.join(root, "hub"))
  out = os.path.join(root, "src")
  subprocess.run([sys.executable, os.path.join(REPO, "tests", "xlmr_sources.py"), tokenizer,
                  out], check=True, cwd=REPO, capture_output=True)
  return out


def build_e5_small(root: str) -> str:
  """multilingual-e5-small's layout over a hub-style XLM-R tokenizer built in `root`: returns
  the Sentence Transformers directory (its own process builds it: PyTorch, no TensorFlow)."""
  os.makedirs(os.path.join(root, "tok"), exist_ok=True)
  tokenizer = hub_style(build_xlmr(os.path.join(root, "tok")), os.path.join(root, "hub"))
  out = os.path.join(root, "e5_small")
  subprocess.run([sys.executable, os.path.abspath(__file__), tokenizer, out], check=True,
                 cwd=REPO, capture_output=True, env=dict(os.environ, PYTHONPATH=REPO))
  return out


def _save_e5_small(tokenizer_dir: str, out: str) -> None:
  from tests import xlmr_sources  # pylint: disable=import-outside-toplevel
  encoder = out + "_bert"
  xlmr_sources.save_encoder(encoder, tokenizer_dir, kind="bert", seed=5, extra_rows=EXTRA_ROWS)
  xlmr_sources.save_st(out, encoder, "mean", normalize=True, prompts=PROMPTS,
                       max_seq_length=64)
  # As on the hub: sentencepiece.bpe.model beside tokenizer.json, and no default prompt
  # (users pass prompt_name="query" / "passage").
  shutil.copy(os.path.join(tokenizer_dir, "sentencepiece.bpe.model"), out)
  path = os.path.join(out, "config_sentence_transformers.json")
  with open(path, encoding="utf-8") as f:
    st_config = json.load(f)
  st_config["default_prompt_name"] = None
  with open(path, "w", encoding="utf-8") as f:
    json.dump(st_config, f, indent=2)



def full_rows_pooled(model, sentences):
  """Our encoder over every row of `model`, on `sentences` (one batch)."""
  # pylint: disable=import-outside-toplevel  (TensorFlow only for the tests that compute)
  import numpy as np
  import tensorflow as tf
  from smaller_labse.model.config import WORD_EMBEDDINGS
  from smaller_labse.model.encoder import Encoder
  inputs = model.tokenizer.pack_ids(model.tokenizer.encode(sentences))
  weights = {k: model.weights[k] for k in model.weights}
  weights[WORD_EMBEDDINGS] = np.asarray(weights[WORD_EMBEDDINGS][0:model.config.vocab_size])
  encoder = Encoder(model.config, weights)
  return tf.function(lambda x: encoder(x)["pooled_output"])(
      {k: tf.constant(v) for k, v in inputs.items()}).numpy()


if __name__ == "__main__":
  _save_e5_small(sys.argv[1], sys.argv[2])
