"""smaller_labse.tatoeba.notebook: where models and their preprocessors come from, and how they embed."""

import os
import shutil
import sys

import numpy as np
import pytest

from smaller_labse import tatoeba
from smaller_labse.tatoeba import notebook
from smaller_labse.errors import InputError

SENTENCES = ["the weather is nice today", "où est la gare\u202f?", "il fait beau",
             "the weather is nice today"]


@pytest.fixture
def st_export(tiny_stage1):
  """Stage 1's Sentence Transformers export of the tiny LaBSE (models/labse_st): read only."""
  return os.path.join(tiny_stage1, "models", "labse_st")


def test_default_preprocess_follows_the_projects_layouts(tmp_path):
  (tmp_path / "models" / "LaBSE_en-fr_preprocess" / "1").mkdir(parents=True)
  (tmp_path / "downloads" / "labse-2-preprocess").mkdir(parents=True)
  assert notebook.default_preprocess(str(tmp_path / "models" / "LaBSE_en-fr" / "1")) == \
      str(tmp_path / "models" / "LaBSE_en-fr_preprocess" / "1")
  assert notebook.default_preprocess(str(tmp_path / "downloads" / "labse-2")) == \
      str(tmp_path / "downloads" / "labse-2-preprocess")
  assert notebook.default_preprocess(str(tmp_path / "models" / "elsewhere" / "1")) is None
  assert notebook.default_preprocess("https://tfhub.dev/google/LaBSE/2") == \
      notebook.LABSE_PREPROCESS_HANDLE
  assert notebook.default_preprocess("https://tfhub.dev/jeongukjae/smaller_LaBSE_15lang/1/") == \
      "https://tfhub.dev/jeongukjae/smaller_LaBSE_15lang_preprocess/1"


def test_load_without_a_preprocessor_is_one_clear_error(tmp_path):
  with pytest.raises(InputError, match="give its preprocessor"):
    notebook.load(str(tmp_path / "models" / "LaBSE_x" / "1"))


def test_a_sentence_transformers_directory_is_loaded_as_one(tmp_path, monkeypatch):
  (tmp_path / "LaBSE_en-fr_st").mkdir()
  (tmp_path / "LaBSE_en-fr_st" / "modules.json").write_text("[]")
  model = notebook.load(str(tmp_path / "LaBSE_en-fr_st"), torch_device="cpu")
  assert isinstance(model, tatoeba.SentenceTransformerModel)
  assert (model.name, model.device) == ("LaBSE_en-fr_st", "cpu")
  with pytest.raises(InputError, match="no modules.json"):
    tatoeba.load_sentence_transformer(str(tmp_path))
  monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
  with pytest.raises(InputError, match="pip install sentence-transformers"):
    tatoeba.embed(model, ["a sentence"])


def test_a_sentence_transformers_export_embeds_as_its_tf_hub_model(tiny_labse, st_export):
  """The real sentence_transformers client, beside the TF Hub model it was exported from."""
  st = notebook.load(st_export, torch_device="cpu")
  hub = notebook.load(tiny_labse[0])  # its preprocessor found beside it
  got = tatoeba.embed(st, SENTENCES)
  assert got.dtype == np.float32 and got.shape == (4, 32)
  np.testing.assert_array_equal(got[0], got[3])
  # Two float32 implementations of a 2-layer network: a few dozen roundings apart.
  np.testing.assert_allclose(got, tatoeba.embed(hub, SENTENCES), rtol=0,
                             atol=64 * np.finfo(np.float32).eps)
  for model in (st, hub):
    empty = tatoeba.embed(model, [])
    assert empty.shape == (0, 32) and empty.dtype == np.float32


def test_fetch_tatoeba_skips_complete_pairs_offline(tmp_path):
  if shutil.which("curl") is None:
    pytest.skip("needs curl")
  (tmp_path / "tatoeba.fra-eng.fra").write_text("Bonjour.\n")
  (tmp_path / "tatoeba.fra-eng.eng").write_text("Hello.\n")
  notebook.fetch_tatoeba(["fra"], str(tmp_path))  # No server: it must not download.
  assert tatoeba.load_pair(str(tmp_path), "fra").xx == ["Bonjour."]
