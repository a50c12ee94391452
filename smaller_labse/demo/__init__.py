"""The offline demo's inputs, built by the project itself.

Writes, under a work directory, exactly what the download scripts would fetch
for a real run, in the same formats:
  downloads/labse-2              a tiny encoder in LaBSE/2's format (see dictionary_weights)
  downloads/labse-2-preprocess   its preprocessor
  data/{lang}.txt                small corpora (en, fr, de, ru; see demo_corpora)
  data/tatoeba/v1/tatoeba.{xxx}-eng.{xxx,eng}   parallel sentences (fra, deu, rus)

The demo model is not LaBSE and was not trained: it is a bag-of-words encoder in
LaBSE's shape whose word vectors come from a small hand-written dictionary
(`demo_data.DICTIONARY`), so that it retrieves translations and the tables show
what pruning does: kept languages keep every digit, the dropped one loses it.

  python -m smaller_labse.demo --workdir=demo_workdir
"""

import collections
import os
import re
from typing import Collection, Dict, Iterable, List, Optional, Sequence

import numpy as np
from absl import flags, logging

from smaller_labse import atomic, languages
from smaller_labse.demo import demo_data
from smaller_labse.formats import tf_hub
from smaller_labse.model.config import WORD_EMBEDDINGS, EncoderConfig, weight_shapes
from smaller_labse.model.encoder import Encoder

DEMO_CONFIG = dict(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64)
# LaBSE's own special tokens, in its order.
SPECIAL_TOKENS = (["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)]
                  + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])
_WORD_OR_PUNCT = re.compile(r"\w+|[^\w\s]")
# Word vectors of translations differ by this much noise (relative to the shared part).
TRANSLATION_NOISE = 0.3
POOLER_SCALE = 0.5


def build_vocab(lines: Iterable[str], min_count: int = 2,
                whole_words: Collection[str] = ()) -> List[str]:
  """A small WordPiece vocab for `lines`, shaped like a real one.

  Special tokens, every character (plain and '##'), words seen at least
  `min_count` times or whose lower case is in `whole_words`, and frequent word
  beginnings and endings, so that rarer words are split into pieces as WordPiece
  splits them. Tokens are sorted within each group: the same lines give the same vocab.
  """
  words: collections.Counter = collections.Counter()
  for line in lines:
    words.update(_WORD_OR_PUNCT.findall(line))
  chars = sorted({c for w in words for c in w})
  beginnings, endings = collections.Counter(), collections.Counter()
  for word, count in words.items():
    for n in (2, 3, 4):
      if len(word) > n:
        beginnings[word[:n]] += count
        endings[word[-n:]] += count
  tokens = (chars + ["##" + c for c in chars]
            + sorted(w for w, n in words.items()
                     if len(w) > 1 and (n >= min_count or w.lower() in whole_words))
            + sorted(b for b, n in beginnings.items() if n >= min_count)
            + sorted("##" + e for e, n in endings.items() if n >= min_count))
  return SPECIAL_TOKENS + list(dict.fromkeys(tokens))


MODEL_NOTE = ("the demo model is NOT LaBSE and was not trained: a bag-of-words encoder in "
              "LaBSE/2's format (2 layers, hidden 32) whose word vectors come from a "
              f"{len(demo_data.DICTIONARY)}-line hand-written en/fr/de/ru dictionary "
              "(smaller_labse/demo/demo_data.py), so that it retrieves translations")


def write_corpora(data_dir: str, corpora: Dict[str, Sequence[str]]) -> None:
  for lang, lines in corpora.items():
    atomic.write_text(os.path.join(data_dir, f"{lang}.txt"), "".join(l + "\n" for l in lines))


def write_tatoeba(tatoeba_dir: str, parallel: Dict[str, Sequence]) -> None:
  """LASER's layout: tatoeba.{xxx}-eng.{xxx} and .eng, line i translating line i."""
  for lang, pairs in parallel.items():
    stem = os.path.join(tatoeba_dir, f"tatoeba.{lang}-eng.")
    atomic.write_text(stem + lang, "".join(foreign + "\n" for foreign, _ in pairs))
    atomic.write_text(stem + "eng", "".join(english + "\n" for _, english in pairs))


def dictionary_meanings(dictionary: Sequence[str]) -> Dict[str, int]:
  """'en | fr | de | ru' lines (forms separated by commas) -> {lower-case form: line index}.

  Raises:
    ValueError: a form is listed under two meanings (one token has one vector).
  """
  meanings: Dict[str, int] = {}
  for index, line in enumerate(dictionary):
    for form in (f.strip() for part in line.split("|") for f in part.split(",")):
      if form and meanings.setdefault(form, index) != index:
        raise ValueError(f"dictionary: {form!r} has two meanings, lines {meanings[form]} and {index}")
  return meanings


def dictionary_weights(config: EncoderConfig, tokens: Sequence[str],
                       dictionary: Sequence[str], seed: int = 0) -> Dict[str, np.ndarray]:
  """Weights of a bag-of-words encoder in LaBSE's shape that retrieves translations.

  The word vector of a token whose lower case is in `dictionary` is its meaning's random
  vector plus TRANSLATION_NOISE of its own; every other token (function words, pieces,
  [CLS], [UNK]...) gets a constant row, which the embedding layer norm maps to exactly 0.
  Positions and types are 0. The first layer's attention is uniform (query and key 0,
  value and output the identity), so [CLS] becomes the layer norm of the mean word
  vector; everything else is the identity or 0, and the pooler is tanh(0.5 x). A
  sentence without a dictionary word therefore gets the embedding 0.

  Built in float64 from a seeded numpy generator, then rounded to float32: the same
  weights on every machine.

  Returns:
    name -> float32 array, every name of `weight_shapes(config)`.
  """
  d, n, h = config.hidden_size, config.num_heads, config.head_size
  meanings = dictionary_meanings(dictionary)
  rng = np.random.default_rng(seed)
  meaning_vectors = rng.standard_normal((len(dictionary), d))
  own = rng.standard_normal((len(tokens), d))
  words = np.ones((len(tokens), d))
  for row, token in enumerate(tokens):
    meaning = meanings.get(token.lower())
    if meaning is not None and not token.startswith("##"):
      words[row] = meaning_vectors[meaning] + TRANSLATION_NOISE * own[row]
  weights = {name: np.zeros(shape) for name, shape in weight_shapes(config).items()}
  weights[WORD_EMBEDDINGS] = words
  for name in weights:
    if name.endswith("/gamma"):
      weights[name] = np.ones(weights[name].shape)
  weights["transformer/layer_0/self_attention/value/kernel"] = np.eye(d).reshape(d, n, h)
  weights["transformer/layer_0/self_attention/attention_output/kernel"] = (
      np.eye(d).reshape(n, h, d))
  weights["pooler_transform/kernel"] = POOLER_SCALE * np.eye(d)
  return {name: value.astype(np.float32) for name, value in weights.items()}


def write_demo_model(downloads_dir: str, tokens: List[str], seed: int = 0,
                     shape: Optional[Dict[str, int]] = None,
                     weights: Optional[Dict[str, np.ndarray]] = None) -> None:
  """An encoder + preprocessor pair in LaBSE/2's TF Hub format (random weights by default).

  Args:
    downloads_dir: gets labse-2/ and labse-2-preprocess/, as download_model.sh writes them.
    tokens: the vocab.
    seed: of the random weights.
    shape: EncoderConfig fields (hidden_size, num_layers...); default the demo's tiny one.
    weights: name -> array (e.g. `dictionary_weights`) instead of random weights.
  """
  config = EncoderConfig(vocab_size=len(tokens), **(shape or DEMO_CONFIG))
  encoder = Encoder(config, weights=weights, seed=seed)
  with atomic.atomic_path(os.path.join(downloads_dir, "labse-2"), is_dir=True) as tmp:
    tf_hub.export_encoder(encoder, tokens, tmp)
  del encoder  # At LaBSE's size, free 1.9 GB before exporting the preprocessor.
  with atomic.atomic_path(os.path.join(downloads_dir, "labse-2-preprocess"), is_dir=True) as tmp:
    tf_hub.export_preprocessor(tokens, tmp)


def demo_corpora() -> Dict[str, List[str]]:
  """The demo's corpora: each language's lines, then its side of the parallel sentences.

  A real 1M-line Wikipedia sample uses nearly every token of Tatoeba's short
  sentences; 60 lines do not, so the demo adds them to show the guarantee
  (kept tokenization, identical embedding) on every kept language.
  """
  corpora = {lang: list(lines) for lang, lines in demo_data.CORPORA.items()}
  for tatoeba_lang, pairs in demo_data.PARALLEL.items():
    corpora[languages.TATOEBA_LANGS[tatoeba_lang][0]] += [foreign for foreign, _ in pairs]
    corpora["en"] += [english for _, english in pairs]
  return corpora


def demo_vocab() -> List[str]:
  """The demo model's vocab: built from the corpora, every dictionary word a whole token."""
  corpora = demo_corpora()
  return build_vocab((line for lines in corpora.values() for line in lines),
                     whole_words=dictionary_meanings(demo_data.DICTIONARY))


def prepare_workdir(workdir: str) -> None:
  """Writes the demo's model, corpora and Tatoeba files under `workdir`."""
  corpora = demo_corpora()
  tokens = demo_vocab()
  logging.info("demo vocab: %d tokens", len(tokens))
  config = EncoderConfig(vocab_size=len(tokens), **DEMO_CONFIG)
  write_demo_model(os.path.join(workdir, "downloads"), tokens,
                   weights=dictionary_weights(config, tokens, demo_data.DICTIONARY))
  write_corpora(os.path.join(workdir, "data"), corpora)
  write_tatoeba(os.path.join(workdir, "data", "tatoeba", "v1"), demo_data.PARALLEL)


def write_inputs(workdir: str) -> None:
  """`python -m smaller_labse.demo --workdir=DIR`: the demo's inputs, and a line that says so."""
  prepare_workdir(workdir)
  print(f"demo inputs written to {workdir}: {MODEL_NOTE}", flush=True)


def main(argv: Sequence[str]) -> None:
  del argv  # run_cli rejects arguments left after the flags
  write_inputs(flags.FLAGS.workdir)
