"""Small Hugging Face / Sentence Transformers sources, built the way their users build them.

Run as a script (in its own process: PyTorch, no TensorFlow):

  python tests/hf_sources.py OUT_DIR

writes OUT_DIR/hf (a plain BertModel directory: `save_pretrained`, erf GELU as the Hugging
Face LaBSE ports declare, the tokenizer as today's transformers saves it from a vocab.txt)
and OUT_DIR/st (a Sentence Transformers model in sentence-transformers/LaBSE's layout,
Transformer -> Pooling (CLS) -> Dense (tanh) -> Normalize, fine-tuned for a few steps so that
its Dense module differs from BertModel's stale pooler), both over tiny_vocab().
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from conftest import TINY_SHAPE, tiny_vocab  # noqa: E402

PAIRS = [("the weather is nice today", "il fait beau aujourd"),
         ("where is the station", "où est la gare"),
         ("the station", "la gare"), ("today", "aujourd")]


def write_tokenizer(path: str, tokens, lower_case: bool = False) -> None:
  """vocab.txt + tokenizer_config.json, loaded and saved again by transformers: the
  tokenizer.json it writes is the one today's transformers builds from a vocab.txt."""
  import transformers  # pylint: disable=import-outside-toplevel
  with open(os.path.join(path, "vocab.txt"), "w", encoding="utf-8", newline="") as f:
    f.write("".join(t + "\n" for t in tokens))
  with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
    json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": lower_case,
               "tokenize_chinese_chars": True, "strip_accents": None}, f)
  transformers.AutoTokenizer.from_pretrained(path).save_pretrained(path)


def save_bert(path: str, tokens, hidden_act: str = "gelu", seed: int = 0,
              shape=None) -> None:
  """A random BertModel (BERT's own initialisation) saved with save_pretrained.

  shape: hidden_size, num_layers, num_heads, intermediate_size (default: the tests' tiny one).
  """
  import torch  # pylint: disable=import-outside-toplevel
  import transformers  # pylint: disable=import-outside-toplevel
  shape = shape or TINY_SHAPE
  torch.manual_seed(seed)
  config = transformers.BertConfig(
      vocab_size=len(tokens), hidden_size=shape["hidden_size"],
      num_hidden_layers=shape["num_layers"], num_attention_heads=shape["num_heads"],
      intermediate_size=shape["intermediate_size"], hidden_act=hidden_act, pad_token_id=0)
  transformers.BertModel(config).save_pretrained(path)
  write_tokenizer(path, tokens)


def save_sentence_transformer(path: str, bert_dir: str, steps: int = 3) -> None:
  """sentence-transformers/LaBSE's layout over `bert_dir`, its Dense module initialised from
  the pooler (as LaBSE's is) and then trained for `steps` steps of in-batch contrastive loss,
  as a user's fine-tuning does: the Dense module moves, BertModel's pooler does not."""
  import torch  # pylint: disable=import-outside-toplevel
  from sentence_transformers import SentenceTransformer, models  # noqa: E501 pylint: disable=import-outside-toplevel
  transformer = models.Transformer(bert_dir, max_seq_length=256)
  dim = transformer.auto_model.config.hidden_size
  bert = transformer.auto_model
  dense = models.Dense(dim, dim, activation_function=torch.nn.Tanh(),
                       init_weight=bert.pooler.dense.weight.detach().clone(),
                       init_bias=bert.pooler.dense.bias.detach().clone())
  model = SentenceTransformer(modules=[transformer, models.Pooling(dim, pooling_mode="cls"),
                                       dense, models.Normalize()], device="cpu")
  tokenize = getattr(model, "preprocess", None) or model.tokenize  # 6.x renamed it
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
  model.train()
  for _ in range(steps):
    left = model(tokenize([a for a, _ in PAIRS]))["sentence_embedding"]
    right = model(tokenize([b for _, b in PAIRS]))["sentence_embedding"]
    loss = torch.nn.functional.cross_entropy(left @ right.T * 20.0, torch.arange(len(PAIRS)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
  model.eval()
  model.save(path)


def main(out: str) -> None:
  save_bert(os.path.join(out, "hf"), tiny_vocab())
  save_sentence_transformer(os.path.join(out, "st"), os.path.join(out, "hf"))


if __name__ == "__main__":
  main(sys.argv[1])
