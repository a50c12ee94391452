"""Tatoeba models and data the stage 4 tests share (test_tatoeba.py, test_tatoeba_cli.py): tiny
encoders in stage 3's layout, LASER-layout pairs, and the fast method checked against the
original."""

import os
import shutil

import numpy as np

from conftest import shared_build, tiny_preprocessor, tiny_vocab
from smaller_labse import tatoeba
from smaller_labse.formats import tf_hub
from smaller_labse.model.config import WORD_EMBEDDINGS, EncoderConfig, random_weights
from smaller_labse.model.encoder import Encoder


CYRILLIC_WORDS = ["сегодня", "хорошая", "погода"]


def smaller_vocab(tokens):
  """The tiny vocab without Cyrillic and '\\u3000': Russian sentences get [UNK]s."""
  return [t for t in tokens
          if not any("\u0400" <= c <= "\u04ff" for c in t) and "\u3000" not in t]


def write_model(tokens, root, name, weights, preprocessor=None):
  """Exports an encoder (hidden 32, 2 layers) + preprocessor in stage 3's layout,
  root/{name}/1 and root/{name}_preprocess/1 (a copy of `preprocessor` when given, the
  preprocessor of `tokens`); returns (encoder, preprocess)."""
  config = EncoderConfig(vocab_size=len(tokens), hidden_size=32, num_layers=2, num_heads=4,
                         intermediate_size=64)
  encoder_dir = os.path.join(root, name, "1")
  preprocess_dir = os.path.join(root, f"{name}_preprocess", "1")
  tf_hub.export_encoder(Encoder(config, weights=weights), tokens, encoder_dir)
  if preprocessor:
    shutil.copytree(preprocessor, preprocess_dir)
  else:
    tf_hub.export_preprocessor(tokens, preprocess_dir)
  return encoder_dir, preprocess_dir


def build_models(root, tiny_preprocess=None):
  """A tiny 'original' and a 'smaller' model whose embedding rows are gathered from it.

  Weights are 5x BERT's init so that random sentences get well-separated embeddings.
  Returns {'original': (encoder, preprocess), 'smaller': (encoder, preprocess)}.
  """
  tokens = tiny_vocab()
  config = EncoderConfig(vocab_size=len(tokens), hidden_size=32, num_layers=2, num_heads=4,
                         intermediate_size=64)
  weights = {k: (v * 5 if not k.endswith(("gamma", "beta")) else v)
             for k, v in random_weights(config, seed=3).items()}
  kept = smaller_vocab(tokens)
  small_weights = dict(weights)
  small_weights[WORD_EMBEDDINGS] = weights[WORD_EMBEDDINGS][[tokens.index(t) for t in kept]]
  return {"original": write_model(tokens, root, "original", weights, tiny_preprocess),
          "smaller": write_model(kept, root, "smaller", small_weights)}


ENGLISH = ["the", "weather", "is", "nice", "today", "where", "station", "train", "rain", "sun",
           "house", "water", "night", "green", "small", "road"]
FOREIGN = {"fra": ["il", "fait", "beau", "aujourd", "est", "la", "gare", "où"],
           "rus": CYRILLIC_WORDS}


def make_pairs(rng, lang, n, long_every=0):
  """n parallel sentences with real structure: distinct English sentences of random words,
  and for each a 'translation' that keeps most of its words and replaces some by `lang`'s,
  so each side retrieves its own pair by a clear margin, not by float noise.

  Every `long_every`-th pair is over 128 tokens long (truncated); ENGLISH[:7] are whole
  tokens of the tiny vocab, the other words split into pieces.
  """
  foreign = FOREIGN.get(lang, FOREIGN["fra"])
  eng, xx, seen = [], [], set()
  while len(eng) < n:
    long = long_every and len(eng) % long_every == long_every - 1
    count = 150 if long else int(rng.integers(4, 9))
    # Long sentences: whole-word tokens only (one word piece per word).
    words = list(rng.choice(ENGLISH[:7] if long else ENGLISH, count))
    end = str(rng.choice([".", "!", "?"]))
    if " ".join(words) in seen:
      continue
    seen.add(" ".join(words))
    translated = list(words)
    for i in rng.choice(count, max(1, count // 4), replace=False):
      translated[i] = str(rng.choice(foreign))
    eng.append(" ".join(words) + end)
    xx.append(" ".join(translated) + (" ?" if lang == "fra" and end == "?" else end)
              .replace(" ?", "\u202f?"))
  return eng, xx


def write_tatoeba(data_dir, langs=("fra", "rus"), n=40, seed=0):
  """LASER-layout pairs (make_pairs) under data_dir."""
  rng = np.random.default_rng(seed)
  os.makedirs(data_dir, exist_ok=True)
  for lang in langs:
    eng, xx = make_pairs(rng, lang, n, long_every=17)
    for side, lines in (("eng", eng), (lang, xx)):
      with open(os.path.join(data_dir, f"tatoeba.{lang}-eng.{side}"), "w",
                encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
  return data_dir


def top2_gaps(queries, candidates):
  """Per query, cosine of its best candidate minus its second best (float64)."""
  sims = np.sort(queries.astype(np.float64) @ candidates.astype(np.float64).T, axis=1)
  return sims[:, -1] - sims[:, -2]


def shared_models(tmp_path_factory):
  """build_models() once per test session, for every worker (test_tatoeba_cli.py uses them too)."""
  root = shared_build(tmp_path_factory, "tatoeba_models",
                      lambda path: build_models(path, tiny_preprocessor(tmp_path_factory)))
  return {name: (os.path.join(root, name, "1"), os.path.join(root, f"{name}_preprocess", "1"))
          for name in ("original", "smaller")}


def same_retrieval(model, pairs):
  """Checks the fast method against the original on `pairs`, as tatoeba.py defines it.

  The embeddings agree up to float32 rounding (delta = largest L2 distance). A nearest
  neighbour can only change where the best two candidates score within 4 * delta (a
  near-tie): every other query must retrieve the same line in both methods.

  Returns:
    The number of near-tie queries (both directions, all pairs).
  """
  fast = tatoeba.embed_pairs(model, pairs, 128, 256)
  original = {p.lang: (model.embed_original(p.eng), model.embed_original(p.xx))
              for p in pairs}
  delta = max(float(np.max(np.linalg.norm(f - o, axis=1)))
              for lang in original for f, o in zip(fast[lang], original[lang]))
  assert delta < 1e-5  # float32 rounding of a 2-layer network
  near_ties = 0
  for lang, (eng, xx) in original.items():
    (_, fast_rows), (_, fast_cols) = tatoeba.nearest_neighbours(*fast[lang], 1)
    (_, rows), (_, cols) = tatoeba.nearest_neighbours(eng, xx, 1)
    for queries, candidates, got, expected in ((eng, xx, fast_rows, rows),
                                               (xx, eng, fast_cols, cols)):
      decided = top2_gaps(queries, candidates) > 4 * delta
      np.testing.assert_array_equal(got[decided, 0], expected[decided, 0])
      near_ties += int(np.sum(~decided))
  return near_ties
