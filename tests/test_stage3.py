"""Stage 3: the smaller model is a drop-in replacement that keeps the original's embeddings."""

import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text as text

from conftest import EN_FR, SPECIALS, copy_tree, latin_chars, run_command, tiny_vocab
from smaller_labse.formats import tf_hub
from smaller_labse.stages import pruning
from smaller_labse.tokenizers import vocab
from smaller_labse.errors import InputError

KEPT = ["the weather is nice today", "où est la gare\u202f?", "il fait beau", "where\xa0is"]
PRUNED = ["сегодня хорошая погода", "the weather\u3000today"]


def _token_strings(tokenized, tokens):
  return [[tokens[i] for word in sentence for i in word] for sentence in tokenized.to_list()]


def test_outputs_and_vocab(tiny_en_fr_dir, tiny_en_fr_stdout):
  target = vocab.read_token_file(str(tiny_en_fr_dir / "models" / "vocab-en-fr.txt"))
  assert target[:len(SPECIALS)] == SPECIALS
  body = target[len(SPECIALS):]
  assert body == sorted(set(EN_FR) | set(latin_chars()))
  assert "##\u202f" in body and "\xa0" in body  # Never stripped.
  for path in ("LaBSE_en-fr/1", "LaBSE_en-fr_preprocess/1"):
    assert vocab.read_token_file(str(tiny_en_fr_dir / "models" / path / "assets" / "cased_vocab.txt")) \
        == target
  assert "| LaBSE_en-fr |" in tiny_en_fr_stdout and "#param(word embedding)" in tiny_en_fr_stdout
  assert "max abs difference 0" in tiny_en_fr_stdout
  small_config = tf_hub.load_encoder(str(tiny_en_fr_dir / "models" / "LaBSE_en-fr" / "1"))[1]
  assert small_config.vocab_size == len(target)


def test_embedding_rows_are_gathered(tiny_en_fr_dir, tiny_en_fr_stdout, tiny_labse):
  _, _, original_vars, original = tf_hub.load_encoder(tiny_labse[0])
  _, _, small_vars, target = tf_hub.load_encoder(str(tiny_en_fr_dir / "models" / "LaBSE_en-fr" / "1"))
  rows = [original.index(t) for t in target]
  np.testing.assert_array_equal(small_vars["word_embeddings/embeddings"].numpy(),
                                original_vars["word_embeddings/embeddings"].numpy()[rows])
  for name in original_vars:
    if name != "word_embeddings/embeddings":
      np.testing.assert_array_equal(small_vars[name].numpy(), original_vars[name].numpy())


def test_kept_sentences_get_identical_embeddings(tiny_en_fr_dir, tiny_en_fr_stdout, tiny_labse):
  original_encoder, original_preprocess = (hub.load(p) for p in tiny_labse)
  small_encoder = hub.load(str(tiny_en_fr_dir / "models" / "LaBSE_en-fr" / "1"))
  small_preprocess = hub.load(str(tiny_en_fr_dir / "models" / "LaBSE_en-fr_preprocess" / "1"))
  batch = tf.constant(KEPT)
  expected = original_encoder(original_preprocess(batch))["pooled_output"].numpy()
  actual = small_encoder(small_preprocess(batch))["pooled_output"].numpy()
  # Same tokens, same batch, same graph: bit-identical (across different batch shapes, float32
  # results may differ in the last bits; the guarantee is per batch composition).
  np.testing.assert_array_equal(expected, actual)


def test_pruned_sentences_get_the_smaller_vocab_tokenization(tiny_en_fr_dir, tiny_en_fr_stdout, tiny_labse):
  target = vocab.read_token_file(str(tiny_en_fr_dir / "models" / "vocab-en-fr.txt"))
  small_preprocess = hub.load(str(tiny_en_fr_dir / "models" / "LaBSE_en-fr_preprocess" / "1"))
  original_preprocess = hub.load(tiny_labse[1])
  reference = text.BertTokenizer(tf.lookup.StaticVocabularyTable(
      tf.lookup.KeyValueTensorInitializer(target, tf.range(len(target), dtype=tf.int64)), 1),
      lower_case=False, token_out_type=tf.int64)
  batch = tf.constant(PRUNED)
  small = _token_strings(small_preprocess.tokenize(batch), target)
  assert small == _token_strings(reference.tokenize(batch), target)
  assert small != _token_strings(original_preprocess.tokenize(batch), tiny_vocab())
  assert "[UNK]" in small[0]  # Cyrillic was not selected.


def test_rerun_is_allowed_but_another_model_is_refused(tiny_en_fr, tmp_path):
  tiny_en_fr_dir = pathlib.Path(copy_tree(tiny_en_fr, str(tmp_path / "work")))
  again = run_command("make", "--langs=en,fr", cwd=tiny_en_fr_dir)
  assert again.returncode == 0, again.stderr
  other = tiny_en_fr_dir / "other_selection"
  vocab.write_token_file(str(other / "selected_en_tokens.txt"), ["the"])
  vocab.write_token_file(str(other / "selected_fr_tokens.txt"), ["la"])
  before = vocab.read_token_file(str(tiny_en_fr_dir / "models" / "vocab-en-fr.txt"))
  with pytest.raises(InputError, match="already holds a different model"):
    pruning.make_smaller_labse(str(tiny_en_fr_dir / "models" / "labse"), str(other), ["en", "fr"],
                               str(tiny_en_fr_dir / "models"))
  assert vocab.read_token_file(str(tiny_en_fr_dir / "models" / "vocab-en-fr.txt")) == before


@pytest.mark.parametrize("selections,message", [
    ({"en": ["the"]}, "selected_fr_tokens.txt: selected tokens for 'fr' not found"),
    ({"en": ["the", "zzzunknown"], "fr": ["la"]},
     "selected_en_tokens.txt: 1 tokens are not in the original vocab, e.g. 'zzzunknown'"),
    ({"en": [], "fr": ["[UNK]"]}, "the selection is empty"),
])
def test_bad_selections_write_nothing(tiny_en_fr_dir, tmp_path, selections, message):
  for lang, tokens in selections.items():
    vocab.write_token_file(str(tmp_path / "sel" / f"selected_{lang}_tokens.txt"), tokens)
  out = tmp_path / "out"
  with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
    pruning.make_smaller_labse(str(tiny_en_fr_dir / "models" / "labse"), str(tmp_path / "sel"),
                               ["en", "fr"], str(out))
  assert not out.exists()


def test_vocab_not_matching_the_weights(tiny_en_fr_dir, tmp_path):
  broken = tmp_path / "labse"
  shutil.copytree(tiny_en_fr_dir / "models" / "labse", broken)
  with open(broken / "vocab.txt", "a", encoding="utf-8") as f:
    f.write("extra\n")
  with pytest.raises(InputError, match="tokens, but config.json says vocab_size="):
    pruning.make_smaller_labse(str(broken), str(tiny_en_fr_dir / "selected_tokens"), ["en"],
                               str(tmp_path / "out"))


def test_cli_unknown_language_one_line_error(tiny_en_fr_dir):
  result = run_command("make", "--langs=en,xx", cwd=tiny_en_fr_dir)
  assert result.returncode == 2
  assert result.stderr.strip().split("\n")[-1].startswith("error: unknown language code 'xx'")
