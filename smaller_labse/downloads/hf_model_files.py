"""Which files of a Hugging Face hub repository a BERT / Sentence Transformers model needs, and
the check of a downloaded model directory.

`select_files` chooses from the repository's listing (hf_hub.py downloads them): config.json,
the tokenizer and Sentence Transformers files, the PyTorch weights (safetensors, sharded or
not; pytorch_model.bin only where a folder has no safetensors) and the folders modules.json
names; never the TF, Flax, ONNX, OpenVINO, Rust or Core ML copies. `check_model` reads a
directory as stage 1 will, so that a model the pipeline refuses is refused before it is put in
place. Neither imports TensorFlow or PyTorch.
"""

import contextlib
import fnmatch
import os
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from smaller_labse import files
from smaller_labse.errors import InputError
from smaller_labse.formats import hf_bert

# Files of the repository's top folder a BERT / Sentence Transformers model reads.
ROOT_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
              "special_tokens_map.json", "added_tokens.json", "modules.json",
              "sentence_bert_config.json", "config_sentence_transformers.json", "README.md")
WEIGHTS = hf_bert.WEIGHT_FILES  # A folder's weights, by preference: a file, or an index.
TOKENIZERS = ("tokenizer.json", "vocab.txt")
WEIGHT_ENDINGS = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json")
# Other frameworks' copies, never fetched (in a module folder, everything else is).
EXCLUDED = ("*.h5", "*.msgpack", "*.onnx", "*.onnx_data", "*.ot", "*.tflite", "*.mlmodel",
            "*.mlpackage/*", "onnx/*", "openvino/*", "coreml/*", "*/onnx/*", "*/openvino/*",
            "*/coreml/*", ".gitattributes")


class DownloadError(Exception):
  """A download that cannot complete: printed as one `error:` line, exit status 1. The
  message starts with the repository, the file or the URL concerned."""


def safe_path(path: str) -> bool:
  """A relative '/'-separated path that stays inside the directory it is written to."""
  parts = path.split("/")
  return not path.startswith("/") and "\\" not in path and all(
      p not in ("", ".", "..") for p in parts)


# ---------------------------------------------------------------- which files


def _in_folder(folder: str, names: Sequence[str]) -> List[str]:
  """The names inside `folder` ('' for the top), relative to it."""
  if not folder:
    return [n for n in names if "/" not in n]
  prefix = folder.rstrip("/") + "/"
  return [n[len(prefix):] for n in names if n.startswith(prefix)]


def weight_files(folder: str, names: Sequence[str],
                 read_json: Callable[[str], object]) -> List[str]:
  """The weights of `folder` ('' for the top): model.safetensors, else the safetensors index
  and the shards it names, else pytorch_model.bin, else its index and shards; [] if none."""
  prefix = folder.rstrip("/") + "/" if folder else ""
  inside = set(_in_folder(folder, names))
  for single, index in WEIGHTS:
    if single in inside:
      return [prefix + single]
    if index in inside:
      weight_map = read_json(prefix + index)
      weight_map = weight_map.get("weight_map") if isinstance(weight_map, dict) else None
      if not isinstance(weight_map, dict) or not weight_map:
        raise DownloadError(f"{prefix + index}: no weight_map")
      shards = sorted({prefix + str(s) for s in weight_map.values()})
      missing = [s for s in shards if s not in names]
      if missing:
        raise DownloadError(f"{prefix + index}: names {missing[0]}, which the repository "
                            "does not have")
      return [prefix + index] + shards
  return []


def _excluded(path: str) -> bool:
  return any(fnmatch.fnmatchcase(path, pattern) for pattern in EXCLUDED)


def module_files(folder: str, names: Sequence[str],
                 read_json: Callable[[str], object]) -> List[str]:
  """A Sentence Transformers module's folder: its files, less other frameworks' copies and
  the PyTorch weights `weight_files` does not choose."""
  weights = weight_files(folder, names, read_json)
  files = [f"{folder}/{n}" for n in _in_folder(folder, names)]
  return sorted({f for f in files if not _excluded(f) and not f.endswith(WEIGHT_ENDINGS)}
                | set(weights))


def _module_folders(read_json: Callable[[str], object]) -> List[str]:
  """The folders modules.json names (the Transformer module, at the top, has path '')."""
  modules = read_json("modules.json")
  if not isinstance(modules, list):
    raise DownloadError("modules.json: not a list of modules")
  folders = []
  for module in modules:
    folder = module.get("path", "") if isinstance(module, dict) else None
    if not isinstance(folder, str) or (folder and not safe_path(folder)):
      raise DownloadError(f"modules.json: a module with path {folder!r}")
    if folder:
      folders.append(folder.rstrip("/"))
  return folders


def check_listing(names: Sequence[str]) -> None:
  """DownloadError when the repository's top folder lacks config.json, PyTorch weights or a
  tokenizer (checked before anything is downloaded)."""
  top = set(_in_folder("", names))
  if "config.json" not in top:
    raise DownloadError("no config.json at the top of the repository (not a Transformers "
                        "model)")
  if not any(f in top for pair in WEIGHTS for f in pair):
    others = sorted(n for n in top if _excluded(n) and not n.startswith("."))
    raise DownloadError("no PyTorch weights (model.safetensors or pytorch_model.bin) at the "
                        "top of the repository" + (f"; it has {', '.join(others)}" if others
                                                   else ""))
  if not any(t in top for t in TOKENIZERS):
    raise DownloadError("no tokenizer (tokenizer.json or vocab.txt) at the top of the "
                        "repository")


def select_files(names: Sequence[str], read_json: Callable[[str], object]) -> List[str]:
  """The files of a repository (its `names`) that a BERT / Sentence Transformers model needs,
  sorted. `read_json(path)` gives a small file's parsed JSON: modules.json, weight indexes."""
  names = list(names)
  check_listing(names)
  top = set(_in_folder("", names))
  chosen = [f for f in ROOT_FILES if f in top] + weight_files("", names, read_json)
  if "modules.json" in top:
    for folder in _module_folders(read_json):
      chosen += module_files(folder, names, read_json)
  return sorted(set(chosen))


# ---------------------------------------------------------------- the model check


@contextlib.contextmanager
def _named(path: str, label: Optional[str]) -> Iterator[None]:
  """InputErrors raised inside name `label` where they named `path`, a file or a directory
  (whose files become 'LABEL: FILE'): a temporary directory's name means nothing to the user."""
  try:
    yield
  except InputError as e:
    if not label:
      raise
    message = str(e).replace(os.path.join(path, ""), f"{label}: ").replace(path, label)
    raise InputError(message) from None


def read_json_file(path: str, label: str) -> object:
  """A JSON file's value; InputError naming it as `label`."""
  with _named(path, label):
    return files.read_json(path)


def check_config(path: str, label: Optional[str] = None) -> Dict[str, object]:
  """config.json of a BERT encoder stage 1 reads (hf_bert.read_bert_config: model_type bert,
  absolute positions, a supported hidden_act...); InputError naming it (as `label`) otherwise."""
  if not os.path.isfile(path):
    raise InputError(f"{label or path}: missing")
  with _named(path, label):
    return hf_bert.read_bert_config(path)[1]


def _weights_summary(directory: str) -> str:
  """'model.safetensors', or 'model.safetensors.index.json (2 shards)' (hf_bert's choice)."""
  found = [os.path.basename(p) for p in hf_bert.find_weight_files(directory)]
  if found[0] in (hf_bert.MODEL_FILE, hf_bert.TORCH_FILE):
    return found[0]
  index = hf_bert.INDEX_FILE if found[0].endswith(".safetensors") else hf_bert.TORCH_INDEX_FILE
  return f"{index} ({len(found)} shards)"


def check_model(directory: str, label: Optional[str] = None) -> str:
  """Checks that `directory` is a model the pipeline reads; returns a one-line summary.

  A BERT config.json, weights (model.safetensors, pytorch_model.bin, or an index whose
  shards are all there) and a tokenizer (tokenizer.json or vocab.txt). Errors are
  InputErrors naming the file: 'LABEL: FILE: problem', or 'DIRECTORY/FILE: problem'.
  """
  from smaller_labse.formats import sources  # pylint: disable=import-outside-toplevel
  with _named(directory, label):
    config = check_config(os.path.join(directory, "config.json"))
    weights = _weights_summary(directory)
    tokenizer = next((t for t in TOKENIZERS if os.path.isfile(os.path.join(directory, t))), None)
    if tokenizer is None:
      raise InputError(f"{os.path.join(directory, 'tokenizer.json')}: missing (no "
                       "tokenizer.json or vocab.txt)")
    # Read as stage 1 will (its layout, tokenizer, weight shapes), so that a model stage 1
    # refuses is refused before it is put in place.
    kind = sources.open_source(directory).kind
  return (f"bert, {config.get('num_hidden_layers')} layers, hidden {config.get('hidden_size')}, "
          f"vocab {config.get('vocab_size')}; {weights}, {tokenizer}; a {kind} source")
