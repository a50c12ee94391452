"""Checks downloaded SavedModels: LaBSE/2's encoder and its preprocessor.

Cheap: reads `saved_model.pb` (the object graph names every variable) and the
checkpoint index (shapes), never loads the graph or the weights.

  python -m smaller_labse.formats.tf_hub_check --encoder=downloads/labse-2 \\
      --preprocess=downloads/labse-2-preprocess --vocab_size=501153

Prints one `ok:` line per model; on a problem prints one `error:` line and
exits with status 2. Used by download_model.sh before it renames the unpacked
directories into place.
"""

import glob
import os
from typing import Dict, List, Optional, Sequence, Tuple

from absl import flags

from smaller_labse.tokenizers import vocab as vocab_lib
from smaller_labse.errors import InputError, run_cli

LABSE_VOCAB_SIZE = 501153

# Variables every LaBSE/2-style encoder has (see the TF Hub "Transformer Encoders" API).
REQUIRED_ENCODER_VARIABLES = (
    "word_embeddings/embeddings",
    "position_embedding/embeddings",
    "type_embeddings/embeddings",
    "transformer/layer_0/self_attention/query/kernel",
    "pooler_transform/kernel",
)

FLAGS = flags.FLAGS


def _define_flags() -> None:
  """The command line's flags (defined only when run as a script: select_vocab.py imports
  this module and has a --vocab_size of its own)."""
  flags.DEFINE_string("encoder", None, "Directory of the encoder SavedModel to check.")
  flags.DEFINE_string("preprocess", None, "Directory of the preprocessor SavedModel to check.")
  flags.DEFINE_integer("vocab_size", LABSE_VOCAB_SIZE,
                       "Expected vocabulary size (rows of word_embeddings/embeddings).")
  flags.DEFINE_string("encoder_source", None, "Where the encoder came from, named in errors.")
  flags.DEFINE_string("preprocess_source", None,
                      "Where the preprocessor came from, named in errors.")


def _where(path: str, source: str = None) -> str:
  return f"{path} (from {source})" if source else path


def _read_saved_model(path: str):
  """Parses `path/saved_model.pb`; InputError when it is not a SavedModel directory."""
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  from google.protobuf.message import DecodeError  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(path):
    raise InputError(f"{path}: not a directory")
  pb = os.path.join(path, "saved_model.pb")
  if not os.path.isfile(pb):
    raise InputError(f"{path}: not a SavedModel (no saved_model.pb)")
  proto = saved_model_pb2.SavedModel()
  try:
    with open(pb, "rb") as f:
      proto.ParseFromString(f.read())
  except DecodeError:
    raise InputError(f"{pb}: corrupt (cannot parse the SavedModel protocol buffer)") from None
  if not proto.meta_graphs:
    raise InputError(f"{pb}: a SavedModel without any MetaGraph")
  if not glob.glob(os.path.join(path, "variables", "variables.index")):
    raise InputError(f"{path}: not a SavedModel (no variables/variables.index)")
  return proto


def variable_shapes(path: str) -> Dict[str, List[int]]:
  """Maps each variable name of a TF2 SavedModel to the shape stored in its checkpoint.

  The SavedModel's object graph and the checkpoint's object graph list the same
  objects in the same order: the former gives the variable's name, the latter
  its checkpoint key.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.core.protobuf import trackable_object_graph_pb2  # pylint: disable=g-import-not-at-top
  proto = _read_saved_model(path)
  prefix = os.path.join(path, "variables", "variables")
  try:
    reader = tf.train.load_checkpoint(prefix)
    ckpt_graph = trackable_object_graph_pb2.TrackableObjectGraph()
    ckpt_graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
  except (tf.errors.OpError, ValueError) as e:
    message = str(e).split("\n")[0]
    raise InputError(f"{prefix}: unreadable checkpoint ({message})") from None
  shard_files = glob.glob(prefix + ".data-*")
  if not shard_files:
    raise InputError(f"{path}: no variables/variables.data-* file")
  shapes_by_key = reader.get_variable_to_shape_map()
  nodes = proto.meta_graphs[0].object_graph_def.nodes
  shapes = {}
  for i, node in enumerate(nodes):
    if node.WhichOneof("kind") != "variable" or i >= len(ckpt_graph.nodes):
      continue
    name = node.variable.name
    if name.endswith(":0"):
      name = name[:-2]
    for attribute in ckpt_graph.nodes[i].attributes:
      if attribute.name == "VARIABLE_VALUE" and attribute.checkpoint_key in shapes_by_key:
        shapes[name] = list(shapes_by_key[attribute.checkpoint_key])
  return shapes


def do_lower_case(path: str) -> Optional[bool]:
  """The encoder's `do_lower_case` variable, read from its checkpoint alone; None when absent."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.core.protobuf import trackable_object_graph_pb2  # pylint: disable=g-import-not-at-top
  proto = _read_saved_model(path)
  nodes = proto.meta_graphs[0].object_graph_def.nodes
  node_id = next((c.node_id for c in nodes[0].children if c.local_name == "do_lower_case"), None)
  if node_id is None:
    return None
  prefix = os.path.join(path, "variables", "variables")
  try:
    reader = tf.train.load_checkpoint(prefix)
    ckpt_graph = trackable_object_graph_pb2.TrackableObjectGraph()
    ckpt_graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    for attribute in ckpt_graph.nodes[node_id].attributes:
      if attribute.name == "VARIABLE_VALUE":
        return bool(reader.get_tensor(attribute.checkpoint_key))
  except (tf.errors.OpError, ValueError, IndexError) as e:
    message = str(e).split("\n")[0]
    raise InputError(f"{prefix}: unreadable checkpoint ({message})") from None
  return None


def encoder_vocab_file(path: str) -> str:
  """The vocabulary asset of the SavedModel at `path` (assets/cased_vocab.txt for LaBSE/2)."""
  assets = _vocab_assets(path, _read_saved_model(path))
  if not assets:
    raise InputError(f"{path}: no vocabulary asset (expected assets/cased_vocab.txt)")
  return assets[0]


def _vocab_assets(path: str, proto) -> List[str]:
  """Paths of the SavedModel's vocabulary assets (files named *vocab*)."""
  names = [a.filename for a in proto.meta_graphs[0].asset_file_def]
  if not names and os.path.isdir(os.path.join(path, "assets")):
    names = sorted(os.listdir(os.path.join(path, "assets")))
  names.sort(key=lambda n: n != "cased_vocab.txt")  # LaBSE's own name first
  return [os.path.join(path, "assets", n) for n in names if "vocab" in n.lower()]


def check_encoder(path: str, vocab_size: int, source: str = None) -> str:
  """Checks a LaBSE/2-style encoder; returns a one-line summary."""
  where = _where(path, source)
  proto = _read_saved_model(path)
  shapes = variable_shapes(path)
  missing = [v for v in REQUIRED_ENCODER_VARIABLES if v not in shapes]
  if missing:
    raise InputError(f"{where}: not a LaBSE encoder SavedModel (no variable "
                     f"{', '.join(missing)}; it has {len(shapes)} variables)")
  rows, hidden = (shapes["word_embeddings/embeddings"] + [0, 0])[:2]
  if rows != vocab_size:
    raise InputError(f"{where}: word_embeddings/embeddings has {rows} rows, expected a vocab of "
                     f"{vocab_size} (set LABSE_VOCAB_SIZE for another model)")
  assets = _vocab_assets(path, proto)
  if not assets:
    raise InputError(f"{where}: no vocabulary asset (expected assets/cased_vocab.txt)")
  tokens = vocab_lib.read_token_file(assets[0])
  if len(tokens) != rows:
    raise InputError(f"{where}: {assets[0]} has {len(tokens)} tokens but "
                     f"word_embeddings/embeddings has {rows} rows")
  layers = 0
  while f"transformer/layer_{layers}/self_attention/query/kernel" in shapes:
    layers += 1
  return (f"{path}: encoder SavedModel, vocab {rows} ({os.path.basename(assets[0])}), "
          f"hidden {hidden}, {layers} layers")


def check_preprocess(path: str, vocab_size: int, source: str = None,
                     encoder_vocab: Sequence[str] = None) -> Tuple[str, List[str]]:
  """Checks the preprocessor: a SavedModel with a vocab asset. Returns (summary, warnings)."""
  where = _where(path, source)
  proto = _read_saved_model(path)
  assets = _vocab_assets(path, proto)
  if not assets:
    raise InputError(f"{where}: not a text preprocessor SavedModel (no vocabulary asset)")
  tokens = vocab_lib.read_token_file(assets[0])
  warnings = []
  if len(tokens) != vocab_size:
    warnings.append(f"{assets[0]}: {len(tokens)} tokens, the encoder expects {vocab_size}")
  elif encoder_vocab is not None and list(encoder_vocab) != tokens:
    warnings.append(f"{assets[0]}: differs from the encoder's vocabulary")
  return f"{path}: preprocessor SavedModel, vocab {len(tokens)}", warnings


def _with_source(check, path: str, source: str, *args):
  """Runs `check`; an InputError about `path` also says where the directory came from."""
  try:
    return check(path, *args)
  except InputError as e:
    message = str(e)
    if source and source not in message:
      message = f"{message} (from {source})"
    raise InputError(message) from None


def main(argv: Sequence[str]) -> None:
  del argv  # run_cli rejects arguments left after the flags
  if not FLAGS.encoder and not FLAGS.preprocess:
    raise InputError("nothing to check: give --encoder and/or --preprocess")
  encoder_vocab = None
  if FLAGS.encoder:
    summary = _with_source(check_encoder, FLAGS.encoder, FLAGS.encoder_source,
                           FLAGS.vocab_size, FLAGS.encoder_source)
    print("ok: " + summary, flush=True)
    proto = _read_saved_model(FLAGS.encoder)
    encoder_vocab = vocab_lib.read_token_file(_vocab_assets(FLAGS.encoder, proto)[0])
  if FLAGS.preprocess:
    summary, warnings = _with_source(check_preprocess, FLAGS.preprocess,
                                     FLAGS.preprocess_source, FLAGS.vocab_size,
                                     FLAGS.preprocess_source, encoder_vocab)
    for warning in warnings:
      print(f"warning: {warning}", flush=True)
    print("ok: " + summary, flush=True)


if __name__ == "__main__":
  _define_flags()
  run_cli(main)
