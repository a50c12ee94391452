"""Small XLM-R-tokenizer sources, built the way their users build them, for
tests/test_xlmr_sources.py.

Run as a script (in its own process: PyTorch, no TensorFlow):

  python tests/xlmr_sources.py TOKENIZER_DIR OUT_DIR

over TOKENIZER_DIR (an XLM-R SentencePiece tokenizer as transformers saves it:
tests/test_hf_unigram.py's builders) writes, with random weights and tiny shapes:

  OUT_DIR/xlmr_hf        a plain XLMRobertaModel directory (save_pretrained): pooler_output
  OUT_DIR/xlmr_st        Sentence Transformers: XLMRobertaModel -> Pooling (mean) -> Normalize,
                         the prompts "query: " / "passage: " (multilingual-e5's layout)
  OUT_DIR/bert_st        Sentence Transformers: BertModel + the XLM-R tokenizer (multilingual
                         MiniLM, e5-small) -> Pooling (mean_sqrt_len_tokens) -> Dense (GELU,
                         32 -> 24) -> Normalize
  OUT_DIR/xlmr_max_st    XLMRobertaModel saved as XLMRobertaForMaskedLM would be ("roberta."
                         names) -> Pooling (max) -> Dense (Identity, no bias, 32 -> 32)
  OUT_DIR/xlmr_cls_st    XLMRobertaModel -> Pooling (cls) -> Normalize (bge-m3's layout)
"""

import json
import os
import shutil
import sys

SHAPE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
MAX_POSITIONS = 130  # pad_token_id 1: 128 tokens (the verification sentences need 91).
PROMPTS = {"query": "query: ", "passage": "passage: "}


def _tokenizer_files(tokenizer_dir: str, out: str) -> None:
  for name in os.listdir(tokenizer_dir):
    if name != "config.json":
      shutil.copy(os.path.join(tokenizer_dir, name), os.path.join(out, name))


def _vocab_size(tokenizer_dir: str) -> int:
  with open(os.path.join(tokenizer_dir, "tokenizer.json"), encoding="utf-8") as f:
    return len(json.load(f)["model"]["vocab"])


def save_encoder(path: str, tokenizer_dir: str, kind: str = "xlm-roberta", seed: int = 0,
                 extra_rows: int = 0) -> None:
  """A random XLMRobertaModel (or BertModel) over the tokenizer, saved with save_pretrained;
  norms and biases moved off 1 and 0 as training moves them."""
  import torch  # pylint: disable=import-outside-toplevel
  import transformers  # pylint: disable=import-outside-toplevel
  torch.manual_seed(seed)
  vocab_size = _vocab_size(tokenizer_dir) + extra_rows
  if kind == "xlm-roberta":
    config = transformers.XLMRobertaConfig(
        vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS, type_vocab_size=1,
        layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2, **SHAPE)
    model = transformers.XLMRobertaModel(config)
  else:  # multilingual MiniLM / e5-small: a BertModel whose config says pad_token_id 0.
    config = transformers.BertConfig(vocab_size=vocab_size, max_position_embeddings=128,
                                     pad_token_id=0, **SHAPE)
    model = transformers.BertModel(config)
  with torch.no_grad():  # Trained models' norms and biases are not 1 and 0.
    for name, param in model.named_parameters():
      if "LayerNorm" in name or name.endswith("bias"):
        param.add_(torch.randn_like(param) * 0.1)
  model.save_pretrained(path)
  _tokenizer_files(tokenizer_dir, path)


def save_st(path: str, encoder_dir: str, pooling: str, dense=None, normalize: bool = True,
            prompts=None, max_seq_length: int = 48) -> None:
  """A Sentence Transformers model over `encoder_dir`, saved with SentenceTransformer.save."""
  import torch  # pylint: disable=import-outside-toplevel
  from sentence_transformers import SentenceTransformer, models  # noqa: E501 pylint: disable=import-outside-toplevel
  transformer = models.Transformer(encoder_dir, max_seq_length=max_seq_length)
  dim = transformer.auto_model.config.hidden_size
  modules = [transformer, models.Pooling(dim, pooling_mode=pooling)]
  if dense is not None:
    out, activation, bias = dense
    torch.manual_seed(7)
    modules.append(models.Dense(dim, out, bias=bias, activation_function=activation))
    with torch.no_grad():
      modules[-1].linear.weight.mul_(3.0)
  if normalize:
    modules.append(models.Normalize())
  model = SentenceTransformer(modules=modules, device="cpu", prompts=prompts,
                              default_prompt_name="query" if prompts else None)
  model.save(path)


def main(tokenizer_dir: str, out: str) -> None:
  import torch  # pylint: disable=import-outside-toplevel
  join = lambda name: os.path.join(out, name)  # noqa: E731
  save_encoder(join("xlmr_hf"), tokenizer_dir)
  save_encoder(join("xlmr_model"), tokenizer_dir, seed=1)
  save_st(join("xlmr_st"), join("xlmr_model"), "mean", prompts=PROMPTS)
  save_encoder(join("bert_model"), tokenizer_dir, kind="bert", seed=2, extra_rows=5)
  save_st(join("bert_st"), join("bert_model"), "mean_sqrt_len_tokens",
          dense=(24, torch.nn.GELU(), True))
  save_encoder(join("xlmr_max_model"), tokenizer_dir, seed=3)
  save_st(join("xlmr_max_st"), join("xlmr_max_model"), "max",
          dense=(32, torch.nn.Identity(), False), normalize=False)
  save_encoder(join("xlmr_cls_model"), tokenizer_dir, seed=4)
  save_st(join("xlmr_cls_st"), join("xlmr_cls_model"), "cls")
  # The ...ForMaskedLM names ("roberta." prefix) in a Sentence Transformers directory's
  # Transformer module: written after saving, as a converted checkpoint has them.
  from safetensors.torch import load_file, save_file  # pylint: disable=import-outside-toplevel
  weights = join("xlmr_max_st/model.safetensors")
  save_file({"roberta." + k: v for k, v in load_file(weights).items()}, weights,
            metadata={"format": "pt"})


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2])
