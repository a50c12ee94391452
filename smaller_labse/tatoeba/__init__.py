"""Tatoeba bitext retrieval (stage 4): one front door to the modules that each own a concern.

- data.py: the test sets (`load_pair`);
- embedding.py: what every model kind provides, `SentenceEncoder.embed` (and `embed`);
- hub_model.py: TF Hub encoders (`load_model`), embedded fast and exactly;
- st_model.py: PyTorch models: Sentence Transformers and Hugging Face directories
  (`load_pytorch_model`);
- scoring.py: blockwise nearest neighbours, cosine or ratio margin;
- evaluation.py: every model on every pair (`evaluate`), identical-embedding shares;
- output.py: the Markdown tables and the JSON.
"""

import importlib

# Each name is imported from its module on first use (`tatoeba.load_model`): importing the
# package, as stage 4's --help and input errors do, imports no TensorFlow nor torch.
_MODULES = {  # module -> the names it gives the package
    "data": ("DEFAULT_DATA_DIR", "Pair", "load_pair", "pair_paths", "read_lines"),
    "embedding": ("DEFAULT_MAX_BATCH_TOKENS", "DEFAULT_MAX_SEQ_LENGTH", "EmbedStats",
                  "SentenceEncoder", "default_model_name", "embed"),
    "evaluation": ("DIRECTIONS", "IDENTICAL_ATOL", "Result", "embed_pairs", "evaluate",
                   "identical_share", "score_pairs"),
    "hub_model": ("ORIGINAL_BATCH_SIZE", "Model", "load_model", "normalize", "plan_batches"),
    "output": ("identical_table", "markdown_report", "results_table", "to_json", "write_outputs"),
    "scoring": ("MARGIN_K", "SCORINGS", "nearest_neighbours", "retrieval_correct"),
    "st_model": ("SentenceTransformerModel", "TransformersModel", "is_pytorch_model_dir",
                 "is_sentence_transformers_dir", "load_pytorch_model", "load_sentence_transformer"),
}
_SUBMODULES = (*_MODULES, "notebook")
_NAMES = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [name for names in _MODULES.values() for name in names]


def __getattr__(name: str):
  """A name of __all__ (from the module that defines it), or a submodule, imported on first use."""
  module = _NAMES.get(name)
  if module is not None:
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
  if name in _SUBMODULES:
    return importlib.import_module(f"{__name__}.{name}")
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + __all__)
