"""Stage 1: SavedModel -> rebuilt encoder, proven equal -> weight store."""

import json
import os
import pathlib

import numpy as np
import pytest

from conftest import run_command, tiny_vocab
from smaller_labse.formats import store, tf_hub
from smaller_labse.model import verification
from smaller_labse.stages import conversion
from smaller_labse.model.config import EncoderConfig
from smaller_labse.model.encoder import Encoder
from smaller_labse.errors import InputError


def test_convert_saves_exact_weights(tiny_labse, tmp_path):
  encoder_dir, preprocess_dir = tiny_labse
  out = str(tmp_path / "models" / "labse")
  proof = conversion.convert(encoder_dir, out, preprocess_dir)
  assert proof.holds and [c.name for c in proof.checks] == [
      "embeddings + layer_0", "layer_1", "pooler"]
  _, config, variables, tokens = tf_hub.load_encoder(encoder_dir)
  assert EncoderConfig.load(os.path.join(out, "config.json")) == config
  assert store.read_config_and_vocab(out) == (config, tiny_vocab())
  model = store.open_store(out)
  assert (model.kind, model.name, model.tokens) == ("tfhub", "LaBSE", tiny_vocab())
  rows = np.array([7, 3, len(tokens) - 1, 3])
  stored = model.weights_for_rows(rows)
  assert set(stored) == set(variables)
  for name, variable in variables.items():
    want = variable.numpy()[rows] if name == "word_embeddings/embeddings" else variable.numpy()
    np.testing.assert_array_equal(stored[name], want, err_msg=name)
  assert sorted(os.listdir(tmp_path / "models")) == ["labse"]  # No temporary left behind.


def test_rerun_replaces_same_model_but_refuses_another(tiny_labse, tmp_path):
  encoder_dir, _ = tiny_labse
  out = str(tmp_path / "labse")
  conversion.convert(encoder_dir, out)
  conversion.convert(encoder_dir, out)  # A rerun on the same model is fine.
  _, config, _, tokens = tf_hub.load_encoder(encoder_dir)
  other = str(tmp_path / "other")
  tf_hub.export_encoder(Encoder(config, seed=2), tokens, other)
  before = open(os.path.join(out, "source.json")).read()
  with pytest.raises(InputError, match="already holds a different model"):
    conversion.convert(other, out)
  assert open(os.path.join(out, "source.json")).read() == before
  conversion.convert(other, out, overwrite=True)
  assert open(os.path.join(out, "source.json")).read() != before


def test_verification_failure_writes_nothing(tiny_labse, tmp_path):
  encoder_dir, _ = tiny_labse
  with pytest.raises(verification.VerificationError):
    conversion.convert(encoder_dir, str(tmp_path / "labse"), budget_factor=0.0)
  assert os.listdir(tmp_path) == []


def test_cli_from_another_directory(tiny_stage1):
  """conftest.tiny_stage1: the command with no flags, from a directory with downloads/labse-2."""
  lines = (pathlib.Path(tiny_stage1) / "convert.stdout").read_text(encoding="utf-8").splitlines()
  assert lines[0].startswith("Layer-by-layer proof on 21 sentences")
  assert [l.split()[0] for l in lines[1:4]] == ["embeddings", "layer_1", "pooler"]
  assert all(l.rstrip().endswith(" ok") for l in lines[1:4])
  assert lines[4].startswith("end to end, pooled_output: ")
  assert "proof holds" in lines[5]
  config = pathlib.Path(tiny_stage1) / "models" / "labse" / "config.json"
  assert json.load(open(config))["num_layers"] == 2


@pytest.mark.parametrize("make_input,message", [
    (lambda d: str(d / "nope"), "no such directory"),
    (lambda d: (d / "empty").mkdir() or str(d / "empty"), "not a model: expected a TF Hub"),
])
def test_cli_bad_input_one_line_error(tmp_path, make_input, message):
  path = make_input(tmp_path)
  result = run_command("convert", f"--saved_model={path}", cwd=tmp_path)
  assert result.returncode == 2
  lines = result.stderr.strip().split("\n")
  assert lines[-1].startswith(f"error: {path}: ") and message in lines[-1]
  assert not any("Traceback" in l for l in lines)
  assert not os.path.exists(tmp_path / "models")
