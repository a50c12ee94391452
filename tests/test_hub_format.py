"""LaBSE/2's TF Hub formats: export, read back, call as TF Hub users do."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text as text
import tf_keras

from conftest import MODELGARDEN_TINY, tiny_vocab
from smaller_labse.formats import tf_hub
from smaller_labse.model import verification
from smaller_labse.model.config import weight_shapes
from smaller_labse.model.encoder import Encoder
from smaller_labse.errors import InputError

SENTENCES = ["the weather is nice today.", "où est la gare\u202f?", "сегодня хорошая погода",
             "100\xa0km\u3000x", ""]


def test_export_reads_back_exactly(tiny_labse):
  encoder_dir, _ = tiny_labse
  model, config, variables, tokens = tf_hub.load_encoder(encoder_dir)
  assert (config.vocab_size, config.hidden_size, config.num_layers, config.num_heads,
          config.intermediate_size, config.max_position_embeddings,
          config.type_vocab_size) == (len(tiny_vocab()), 32, 2, 4, 64, 512, 2)
  assert tokens == tiny_vocab()  # Whitespace tokens survive: never stripped.
  assert list(variables) == list(weight_shapes(config))
  assert [v.name for v in model.variables][-1] == "Variable:0"  # do_lower_case, as in LaBSE/2
  assert model.do_lower_case.numpy() == False  # noqa: E712
  assert not model.do_lower_case.trainable
  with open(os.path.join(encoder_dir, "assets", "cased_vocab.txt"), encoding="utf-8",
            newline="") as f:
    assert f.read() == "".join(t + "\n" for t in tiny_vocab())


def test_encoder_api(tiny_labse):
  encoder_dir, preprocess_dir = tiny_labse
  encoder, preprocessor = hub.load(encoder_dir), hub.load(preprocess_dir)
  inputs = preprocessor(tf.constant(SENTENCES))
  outputs = encoder(inputs)
  assert outputs["pooled_output"].shape == (5, 32)
  assert outputs["sequence_output"].shape == (5, 128, 32)
  assert len(outputs["encoder_outputs"]) == 2
  np.testing.assert_array_equal(outputs["default"], outputs["pooled_output"])
  np.testing.assert_array_equal(outputs["encoder_outputs"][-1], outputs["sequence_output"])
  np.testing.assert_array_equal(encoder(inputs, training=False)["pooled_output"],
                                outputs["pooled_output"])
  assert not np.allclose(encoder(inputs, training=True)["sequence_output"],
                         outputs["sequence_output"])  # Dropout in training mode.
  signature = encoder.signatures["serving_default"](**inputs)
  assert set(signature) == {"pooled_output", "default", "sequence_output", "encoder_outputs_0",
                            "encoder_outputs_1"}
  np.testing.assert_allclose(signature["pooled_output"], outputs["pooled_output"], atol=1e-6)


def test_preprocessor_api(tiny_labse):
  _, preprocess_dir = tiny_labse
  preprocessor = hub.load(preprocess_dir)
  vocab = tiny_vocab()
  reference = text.BertTokenizer(
      tf.lookup.StaticVocabularyTable(tf.lookup.KeyValueTensorInitializer(
          vocab, tf.range(len(vocab), dtype=tf.int64)), 1), lower_case=False,
      token_out_type=tf.int64)
  tokens = preprocessor.tokenize(tf.constant(SENTENCES))
  assert tokens.dtype == tf.int32 and tokens.shape.rank == 3
  assert tokens.to_list() == reference.tokenize(tf.constant(SENTENCES)).to_list()
  assert vocab.index("##\u202f") in tokens.to_list()[1][-2]  # '\u202f?' keeps its token.

  packed = preprocessor(tf.constant(SENTENCES))
  assert {k: (v.shape, v.dtype) for k, v in packed.items()} == {
      k: ((5, 128), tf.int32) for k in ("input_word_ids", "input_mask", "input_type_ids")}
  first = packed["input_word_ids"].numpy()[0]
  flat = [i for word in tokens.to_list()[0] for i in word]
  assert list(first[:len(flat) + 2]) == [vocab.index("[CLS]")] + flat + [vocab.index("[SEP]")]

  pair = preprocessor.bert_pack_inputs([tokens, tokens], seq_length=tf.constant(9))
  assert pair["input_word_ids"].shape == (5, 9)
  assert pair["input_type_ids"].numpy()[0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]
  specials = {k: int(v) for k, v in preprocessor.tokenize.get_special_tokens_dict().items()}
  assert specials == {"vocab_size": len(vocab), "start_of_sequence_id": 101,
                      "end_of_segment_id": 102, "padding_id": 0, "mask_id": 103}


def test_keras_layer_fine_tunes(tiny_labse):
  encoder_dir, preprocess_dir = tiny_labse
  encoder = hub.KerasLayer(encoder_dir, trainable=True)
  preprocessor = hub.KerasLayer(preprocess_dir)
  sentences = tf_keras.layers.Input(shape=(), dtype=tf.string)
  model = tf_keras.Model(sentences, encoder(preprocessor(sentences))["default"])
  assert len(encoder.trainable_weights) == len(weight_shapes(
      tf_hub.load_encoder(encoder_dir)[1]))
  before = {w.name: w.numpy().copy() for w in model.trainable_weights}
  model.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss="mse")
  batch = tf.constant(SENTENCES[:3])
  model.fit(batch, tf.ones((3, 32)), epochs=1, verbose=0)
  changed = [w.name for w in model.trainable_weights if not np.array_equal(before[w.name], w)]
  assert "pooler_transform/kernel:0" in changed
  assert "word_embeddings/embeddings:0" in changed


def test_rebuilt_encoder_matches_saved_model(tiny_labse):
  encoder_dir, preprocess_dir = tiny_labse
  model, config, variables, _ = tf_hub.load_encoder(encoder_dir)
  ours = Encoder(config, {k: v.numpy() for k, v in variables.items()})
  inputs = hub.load(preprocess_dir)(tf.constant(SENTENCES))
  # Every block within float32 rounding of a float64 evaluation (see verification.py).
  proof = verification.prove(model(inputs), inputs, verification.EncoderBlocks(ours), config,
                             variables)
  assert proof.holds, [c.line() for c in proof.checks]


@pytest.mark.skipif(not os.path.isdir(MODELGARDEN_TINY), reason="../shared not present")
def test_compatible_with_model_garden_export(tmp_path):
  """TF Model Garden (the tool LaBSE/2 was published with) and our code agree."""
  mg_encoder = os.path.join(MODELGARDEN_TINY, "encoder")
  mg_preprocess = tf.saved_model.load(os.path.join(MODELGARDEN_TINY, "preprocess"))
  model, config, variables, tokens = tf_hub.load_encoder(mg_encoder)
  tf_hub.export_preprocessor(tokens, str(tmp_path / "pre"))
  ours = tf.saved_model.load(str(tmp_path / "pre"))
  sentences = tf.constant(SENTENCES + ["Hello world! " * 80, "Ça va\u202f? Très\xa0bien."])
  a, b = mg_preprocess.tokenize(sentences), ours.tokenize(sentences)
  assert a.to_list() == b.to_list()
  for segments, length in (([a], 6), ([a, a[::-1]], 9)):  # Both truncate.
    expected = mg_preprocess.bert_pack_inputs(segments, seq_length=length)
    actual = ours.bert_pack_inputs(segments, seq_length=length)
    for key in expected:
      np.testing.assert_array_equal(expected[key], actual[key])
  inputs = mg_preprocess(sentences)
  proof = verification.prove(model(inputs, training=False), inputs,
                             verification.EncoderBlocks(Encoder(config, variables)), config,
                             variables)
  assert proof.holds, [c.line() for c in proof.checks]


def test_load_encoder_rejects_bad_input(tmp_path, tiny_labse):
  encoder_dir, _ = tiny_labse
  with pytest.raises(InputError, match="no such directory"):
    tf_hub.load_encoder(str(tmp_path / "missing"))
  (tmp_path / "empty").mkdir()
  with pytest.raises(InputError, match="not a SavedModel"):
    tf_hub.load_encoder(str(tmp_path / "empty"))
  other = tf.Module()
  other.kernel = tf.Variable(tf.ones([2, 2]), name="dense/kernel")
  tf.saved_model.save(other, str(tmp_path / "other"))
  with pytest.raises(InputError, match="not a LaBSE/BERT encoder"):
    tf_hub.load_encoder(str(tmp_path / "other"))
  bad_vocab = tmp_path / "bad_vocab"
  shutil.copytree(encoder_dir, bad_vocab)
  with open(bad_vocab / "assets" / "cased_vocab.txt", "a", encoding="utf-8") as f:
    f.write("extra\n")
  with pytest.raises(InputError, match=r"\d+ tokens, but the word embedding table has \d+ rows"):
    tf_hub.load_encoder(str(bad_vocab))
