"""smaller_labse.notebook: where models and their preprocessors come from."""

import importlib.util
import shutil

import pytest

from smaller_labse import notebook, tatoeba
from smaller_labse.errors import InputError


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


def test_a_sentence_transformers_directory_is_loaded_as_one(tmp_path):
  (tmp_path / "LaBSE_en-fr_st").mkdir()
  (tmp_path / "LaBSE_en-fr_st" / "modules.json").write_text("[]")
  model = notebook.load(str(tmp_path / "LaBSE_en-fr_st"), torch_device="cpu")
  assert isinstance(model, tatoeba.SentenceTransformerModel)
  assert (model.name, model.device) == ("LaBSE_en-fr_st", "cpu")
  with pytest.raises(InputError, match="no modules.json"):
    tatoeba.load_sentence_transformer(str(tmp_path))
  if importlib.util.find_spec("sentence_transformers") is None:
    with pytest.raises(InputError, match="pip install sentence-transformers"):
      tatoeba.embed(model, ["a sentence"])


def test_fetch_tatoeba_skips_complete_pairs_offline(tmp_path):
  if shutil.which("curl") is None:
    pytest.skip("needs curl")
  (tmp_path / "tatoeba.fra-eng.fra").write_text("Bonjour.\n")
  (tmp_path / "tatoeba.fra-eng.eng").write_text("Hello.\n")
  notebook.fetch_tatoeba(["fra"], str(tmp_path))  # No server: it must not download.
  assert tatoeba.load_pair(str(tmp_path), "fra").xx == ["Bonjour."]
