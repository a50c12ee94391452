"""Test oracle: what the real transformers / sentence_transformers make of tokenizer directories.

Run in a subprocess (no TensorFlow there), as `python tests/hf_oracle.py REQUEST.json`:

  {"save": {path: {"vocab": vocab.txt, **BertTokenizerFast kwargs}},
   "models": {path: vocab size}, "dirs": {name: path}, "sentences": [...],
   "sentence_transformers": [names]}

First writes each "save" directory as today's transformers saves a BertTokenizerFast
built from a vocab file, and a tiny random BertModel into each "models" directory; then

prints {name: {"ids": [...], "ids_with_specials": [...], "backend": tokenizer.json text,
"class": class name, "cls_id", "sep_id", "pad_id"} or {"error": "..."}, and for each
name in "sentence_transformers" "st:" + name: {"ids": SentenceTransformer(path).tokenize's
input_ids}}.
"""

import json
import sys


def _auto(path, sentences):
  from transformers import AutoTokenizer  # pylint: disable=import-outside-toplevel
  try:
    tokenizer = AutoTokenizer.from_pretrained(path)
  except Exception as e:  # pylint: disable=broad-except
    return {"error": f"{type(e).__name__}: {e}"}
  return {
      "ids": [tokenizer(s, add_special_tokens=False)["input_ids"] for s in sentences],
      "ids_with_specials": [tokenizer(s)["input_ids"] for s in sentences],
      "backend": tokenizer.backend_tokenizer.to_str(),
      "split_special_tokens": tokenizer.backend_tokenizer.encode_special_tokens,
      "class": type(tokenizer).__name__,
      "cls_id": tokenizer.cls_token_id, "sep_id": tokenizer.sep_token_id,
      "pad_id": tokenizer.pad_token_id,
  }


def _sentence_transformers(path, sentences):
  from sentence_transformers import SentenceTransformer  # pylint: disable=import-outside-toplevel
  model = SentenceTransformer(path, device="cpu")
  features = model.tokenize(list(sentences))
  mask = features["attention_mask"].tolist()
  ids = features["input_ids"].tolist()
  return {"ids": [[i for i, m in zip(row, row_mask) if m] for row, row_mask in zip(ids, mask)],
          "tokenizer_ids": [model.tokenizer(s)["input_ids"] for s in sentences]}


def _save(path, spec):
  from transformers import BertTokenizerFast  # pylint: disable=import-outside-toplevel
  kwargs = dict(spec)
  # transformers 5 ignores `vocab_file=` here (it builds a 5-token vocab): the file goes as
  # `vocab`, which the tokenizers library reads (and trims) itself.
  BertTokenizerFast(vocab=kwargs.pop("vocab"), **kwargs).save_pretrained(path)


def _model(path, vocab_size):
  from transformers import BertConfig, BertModel  # pylint: disable=import-outside-toplevel
  config = BertConfig(vocab_size=vocab_size, hidden_size=8, num_hidden_layers=1,
                      num_attention_heads=1, intermediate_size=8, max_position_embeddings=512)
  BertModel(config).save_pretrained(path)


def main() -> None:
  with open(sys.argv[1], encoding="utf-8") as f:
    request = json.load(f)
  for path, spec in request.get("save", {}).items():
    _save(path, spec)
  for path, vocab_size in request.get("models", {}).items():
    _model(path, vocab_size)
  sentences = request["sentences"]
  result = {name: _auto(path, sentences) for name, path in request["dirs"].items()}
  for name in request.get("sentence_transformers", []):
    result["st:" + name] = _sentence_transformers(request["dirs"][name], sentences)
  json.dump(result, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
  main()
