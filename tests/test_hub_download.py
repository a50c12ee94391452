"""download_model.sh OWNER/NAME against a local Hugging Face hub (tests/http_fixtures.HubServer).

The hub speaks the protocol huggingface_hub 2.4 uses (repository listing with the files'
metadata, HEAD/GET /resolve with X-Repo-Commit / ETag / X-Linked-* headers, LFS files
redirected to a CDN on another origin, Range requests) and serves repositories the tests
build in the real layouts: sentence-transformers/LaBSE's (a BERT with its tokenizer, the
Sentence Transformers modules, and the TF / Flax / ONNX / OpenVINO / Rust copies that must
not be fetched) and setu4993/LEALLA's (sharded safetensors beside pytorch_model.bin,
tf_model.h5 and flax_model.msgpack). The weights are a complete BertModel state dict
written with safetensors; the LaBSE-like one is large enough (25 MiB) for huggingface_hub
to write a whole 10 MiB block before a cut, so that resuming is observable.
"""

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors

from smaller_labse.downloads import hf_hub
from smaller_labse.errors import InputError
from tests import http_fixtures
from tests.http_fixtures import HubServer, MirrorServer
from tests.helpers_downloads import REPO, all_files, error_lines, run_download_script

LABSE = "sentence-transformers/LaBSE"
LEALLA = "setu4993/LEALLA-small"
HF_BLOCK = 10 * 1024 * 1024  # huggingface_hub's http_get writes whole blocks of this size
LFS_ENDINGS = (".safetensors", ".bin", ".h5", ".msgpack", ".onnx", ".ot", "tokenizer.json")

# What a download of each keeps: everything a BERT / Sentence Transformers model reads.
LABSE_FILES = ["1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
               "3_Normalize/config.json", "README.md", "config.json",
               "config_sentence_transformers.json", "model.safetensors", "modules.json",
               "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json",
               "tokenizer_config.json", "vocab.txt"]
LEALLA_FILES = ["README.md", "config.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
                "vocab.txt"]


# ---------------------------------------------------------------- repositories in real layouts


def _json(value) -> bytes:
  return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def bert_shapes(vocab: int, hidden: int, layers: int, intermediate: int, positions: int):
  """BertModel's state dict: name -> shape (Hugging Face's names, [out, in] kernels)."""
  shapes = {"embeddings.word_embeddings.weight": (vocab, hidden),
            "embeddings.position_embeddings.weight": (positions, hidden),
            "embeddings.token_type_embeddings.weight": (2, hidden),
            "embeddings.LayerNorm.weight": (hidden,), "embeddings.LayerNorm.bias": (hidden,),
            "pooler.dense.weight": (hidden, hidden), "pooler.dense.bias": (hidden,)}
  for i in range(layers):
    dense = {"attention.self.query": (hidden, hidden), "attention.self.key": (hidden, hidden),
             "attention.self.value": (hidden, hidden),
             "attention.output.dense": (hidden, hidden),
             "intermediate.dense": (intermediate, hidden), "output.dense": (hidden, intermediate)}
    for name, shape in dense.items():
      shapes[f"encoder.layer.{i}.{name}.weight"] = shape
      shapes[f"encoder.layer.{i}.{name}.bias"] = shape[:1]
    for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
      shapes[f"encoder.layer.{i}.{norm}.weight"] = (hidden,)
      shapes[f"encoder.layer.{i}.{norm}.bias"] = (hidden,)
  return shapes


def bert_files(vocab_size: int, hidden: int, seed: int, model_type: str = "bert"):
  """config.json, the weights (as a name -> array dict) and the tokenizer files of a BERT."""
  from tokenizers import BertWordPieceTokenizer  # pylint: disable=g-import-not-at-top
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  tokens += [f"tok{i}" for i in range(vocab_size - len(tokens))]
  config = {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1,
            "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": hidden,
            "initializer_range": 0.02, "intermediate_size": 2 * hidden,
            "layer_norm_eps": 1e-12, "max_position_embeddings": 64, "model_type": model_type,
            "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 0,
            "type_vocab_size": 2, "vocab_size": vocab_size}
  rng = np.random.default_rng(seed)
  weights = {name: rng.standard_normal(shape, dtype=np.float32)
             for name, shape in bert_shapes(vocab_size, hidden, 2, 2 * hidden, 64).items()}
  tokenizer = BertWordPieceTokenizer({t: i for i, t in enumerate(tokens)}, lowercase=False)
  files = {"config.json": _json(config),
           "vocab.txt": "".join(t + "\n" for t in tokens).encode(),
           "tokenizer.json": tokenizer.to_str().encode(),
           "tokenizer_config.json": _json({"do_lower_case": False,
                                           "tokenizer_class": "BertTokenizer"}),
           "special_tokens_map.json": _json({"cls_token": "[CLS]", "mask_token": "[MASK]",
                                             "pad_token": "[PAD]", "sep_token": "[SEP]",
                                             "unk_token": "[UNK]"}),
           "README.md": b"---\nlibrary_name: sentence-transformers\n---\n# A test model\n"}
  return files, weights


def labse_like_repo():
  """sentence-transformers/LaBSE's layout; model.safetensors is 25 MiB."""
  files, weights = bert_files(vocab_size=22000, hidden=256, seed=1)
  rng = np.random.default_rng(2)
  dense = {"linear.weight": rng.standard_normal((256, 256), dtype=np.float32),
           "linear.bias": rng.standard_normal((256,), dtype=np.float32)}
  modules = [{"idx": i, "name": str(i), "path": path,
              "type": f"sentence_transformers.models.{kind}"}
             for i, (path, kind) in enumerate([("", "Transformer"), ("1_Pooling", "Pooling"),
                                               ("2_Dense", "Dense"),
                                               ("3_Normalize", "Normalize")])]
  files.update({
      "model.safetensors": save_safetensors(weights, {"format": "pt"}),
      "modules.json": _json(modules),
      "sentence_bert_config.json": _json({"do_lower_case": False, "max_seq_length": 256}),
      "config_sentence_transformers.json": _json({
          "__version__": {"sentence_transformers": "2.0.0"}, "similarity_fn_name": "cosine"}),
      "1_Pooling/config.json": _json({"pooling_mode_cls_token": True,
                                      "word_embedding_dimension": 256}),
      "2_Dense/config.json": _json({"activation_function": "torch.nn.modules.activation.Tanh",
                                    "bias": True, "in_features": 256, "out_features": 256}),
      "2_Dense/model.safetensors": save_safetensors(dense, {"format": "pt"}),
      "3_Normalize/config.json": b"{}\n",
      # Copies for other frameworks, and weights that safetensors make redundant: never fetched.
      "pytorch_model.bin": b"torch pickle " * 1000,
      "2_Dense/pytorch_model.bin": b"torch pickle " * 100,
      "tf_model.h5": b"\x89HDF\r\n" * 1000,
      "flax_model.msgpack": b"msgpack" * 1000,
      "rust_model.ot": b"ot" * 1000,
      "onnx/model.onnx": b"onnx" * 1000,
      "onnx/config.json": b"{}\n",
      "openvino/openvino_model.xml": b"<xml/>\n",
      "openvino/openvino_model.bin": b"ov" * 1000,
      ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
  })
  return files


def lealla_like_repo(model_type="bert"):
  """setu4993/LEALLA-small's layout with the weights in two safetensors shards."""
  files, weights = bert_files(vocab_size=300, hidden=32, seed=3, model_type=model_type)
  names = sorted(weights)
  shards = {"model-00001-of-00002.safetensors": names[:len(names) // 2],
            "model-00002-of-00002.safetensors": names[len(names) // 2:]}
  for shard, shard_names in shards.items():
    files[shard] = save_safetensors({n: weights[n] for n in shard_names}, {"format": "pt"})
  files["model.safetensors.index.json"] = _json({
      "metadata": {"total_size": sum(w.nbytes for w in weights.values())},
      "weight_map": {n: shard for shard, shard_names in shards.items() for n in shard_names}})
  files.update({"pytorch_model.bin": b"torch pickle " * 100, "tf_model.h5": b"\x89HDF" * 100,
                "flax_model.msgpack": b"msgpack" * 100, ".gitattributes": b"*.h5 filter=lfs\n"})
  return files


def publish(hub, repo_id, files, token=None):
  return hub.add_repo(repo_id, files, lfs=[p for p in files if p.endswith(LFS_ENDINGS)],
                      token=token)


@pytest.fixture(scope="module")
def labse_files():
  return labse_like_repo()


@pytest.fixture
def hub(labse_files):
  """A hub holding the LaBSE-like and LEALLA-like repositories; yields (hub, cdn)."""
  with MirrorServer() as cdn, HubServer(cdn) as server:
    publish(server, LABSE, labse_files)
    publish(server, LEALLA, lealla_like_repo())
    yield server, cdn


def run_hub(server, args, tmp_path, **env):
  """download_model.sh ARGS from tmp_path/work, against `server`, with no token or cache of
  the user's (HF_HOME in tmp_path)."""
  work = tmp_path / "work"
  work.mkdir(exist_ok=True)
  env = {"HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf_home"), "HF_TOKEN": "",
         "HUGGING_FACE_HUB_TOKEN": "", "HF_HUB_OFFLINE": "0", "HF_HUB_DOWNLOAD_TIMEOUT": "5",
         **env}
  return run_download_script("download_model.sh", list(args), work, **env)


def cdn_path(files, path):
  return HubServer.cdn_path(hashlib.sha256(files[path]).hexdigest())


def hub_paths_requested(server):
  """The repository files the hub was asked for (HEAD or GET /resolve)."""
  return {p.split("/resolve/", 1)[1].split("/", 1)[1] for _, p, _ in server.request_headers
          if "/resolve/" in p}


def assert_same_files(directory, files, expected):
  assert all_files(directory) == expected
  for rel in expected:
    assert (directory / rel).read_bytes() == files[rel], rel


# ---------------------------------------------------------------- downloads


def test_downloads_exactly_the_model_files_and_rerun_downloads_nothing(hub, labse_files,
                                                                       tmp_path):
  server, cdn = hub
  result = run_hub(server, ["--output_dir=models", LABSE, LEALLA], tmp_path)
  assert result.returncode == 0, result.stderr
  work = tmp_path / "work"
  assert_same_files(work / "models" / LABSE, labse_files, LABSE_FILES)
  assert_same_files(work / "models" / LEALLA, server.repos[LEALLA].files, LEALLA_FILES)
  # Nothing else: no partial directory, no huggingface_hub metadata.
  assert sorted(os.listdir(work / "models")) == ["sentence-transformers", "setu4993"]
  assert os.listdir(work / "models/setu4993") == ["LEALLA-small"]
  # The other frameworks' copies and the redundant weights were never asked for.
  assert hub_paths_requested(server) == set(LABSE_FILES) | set(LEALLA_FILES)
  for path in ("pytorch_model.bin", "tf_model.h5", "onnx/model.onnx", "rust_model.ot"):
    assert not cdn.requests_for(cdn_path(labse_files, path)), path
  # Files come from the commit the listing gave.
  commit = server.repos[LABSE].commit
  assert all(f"/resolve/{commit}/" in p for _, p, _ in server.request_headers
             if p.startswith(f"/{LABSE}/resolve/"))
  ok = [line for line in result.stderr.splitlines() if line.startswith("ok: ")]
  assert len(ok) == 2 and f"models/{LABSE} ({LABSE} at {commit[:12]}: 14 files" in ok[0]
  assert "vocab 22000" in ok[0] and "model.safetensors.index.json (2 shards)" in ok[1]
  assert not error_lines(result)

  n_hub, n_cdn = len(server.requests), len(cdn.requests)
  again = run_hub(server, ["--output_dir", "models", LEALLA, LABSE], tmp_path)
  assert again.returncode == 0, again.stderr
  assert (len(server.requests), len(cdn.requests)) == (n_hub, n_cdn)
  assert again.stderr.count("already downloaded") == 2


def test_default_output_dir_and_revision(hub, tmp_path):
  server, _ = hub
  commit = server.repos[LEALLA].commit
  result = run_hub(server, [f"--revision={commit}", LEALLA], tmp_path,
                   LABSE_DOWNLOAD_DIR="hf_models")
  assert result.returncode == 0, result.stderr
  assert all_files(tmp_path / "work") == [f"hf_models/{LEALLA}/{f}" for f in LEALLA_FILES]
  assert f"/api/models/{LEALLA}/revision/{commit}?blobs=true" in [p for p, _ in server.requests]

  missing = run_hub(server, ["--revision", "v9", LABSE], tmp_path)
  assert missing.returncode == 1
  [line] = error_lines(missing)
  assert line == f"error: {LABSE}: revision 'v9' not found"
  assert not (tmp_path / "work/downloads").exists()


def test_a_cut_transfer_resumes_with_a_range_request(hub, labse_files, tmp_path):
  server, cdn = hub
  weights = cdn_path(labse_files, "model.safetensors")
  cdn.faults[weights] = [http_fixtures.CUT]
  result = run_hub(server, [LABSE], tmp_path)
  assert result.returncode == 0, result.stderr
  # The cut came after one whole block; the rest was asked for from there.
  assert cdn.requests_for(weights) == [None, f"bytes={HF_BLOCK}-"]
  assert_same_files(tmp_path / "work/downloads" / LABSE, labse_files, LABSE_FILES)


def test_a_killed_download_resumes_on_the_next_run(hub, labse_files, tmp_path):
  """The user's Ctrl-C or a crash: no model directory, and the next run resumes the file."""
  server, cdn = hub
  weights = cdn_path(labse_files, "model.safetensors")
  cdn.faults[weights] = [http_fixtures.STALL]
  partial = tmp_path / "work/downloads/sentence-transformers/.LaBSE.partial"
  incomplete = partial / "model.safetensors.incomplete"
  work = tmp_path / "work"
  work.mkdir()
  env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
  env.update(HF_ENDPOINT=server.url, HF_HOME=str(tmp_path / "hf_home"), NO_PROXY="127.0.0.1",
             SMALLER_LABSE_PYTHON=sys.executable)
  process = subprocess.Popen([os.path.join(REPO, "download_model.sh"), LABSE], cwd=work, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
  try:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        incomplete.exists() and incomplete.stat().st_size >= HF_BLOCK):
      time.sleep(0.05)
  finally:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
  assert incomplete.stat().st_size == HF_BLOCK
  assert not (tmp_path / "work/downloads" / LABSE).exists()
  # The smaller files were done (and checked) before the largest one.
  assert sorted(os.listdir(partial)) == sorted(
      {f.split("/")[0] for f in LABSE_FILES if f != "model.safetensors"}
      | {"model.safetensors.incomplete"})

  result = run_hub(server, [LABSE], tmp_path)
  assert result.returncode == 0, result.stderr
  assert cdn.requests_for(weights)[-1] == f"bytes={HF_BLOCK}-"
  assert len(hub_paths_requested(server)) == len(LABSE_FILES)  # the rest was not fetched again
  assert_same_files(tmp_path / "work/downloads" / LABSE, labse_files, LABSE_FILES)
  assert os.listdir(tmp_path / "work/downloads/sentence-transformers") == ["LaBSE"]


def test_a_stale_partial_is_downloaded_again_from_scratch(hub, labse_files, tmp_path):
  """Partial files of another commit: a resumed file that fails its check starts over."""
  server, cdn = hub
  partial = tmp_path / "work/downloads/sentence-transformers/.LaBSE.partial"
  (partial / "2_Dense").mkdir(parents=True)
  (partial / "config.json").write_bytes(b'{"model_type": "bert", "older": 1}\n')
  (partial / "2_Dense/unused.txt").write_bytes(b"left over\n")
  (partial / "model.safetensors.incomplete").write_bytes(b"\0" * 1000)
  result = run_hub(server, [LABSE], tmp_path)
  assert result.returncode == 0, result.stderr
  assert cdn.requests_for(cdn_path(labse_files, "model.safetensors")) == ["bytes=1000-", None]
  assert_same_files(tmp_path / "work/downloads" / LABSE, labse_files, LABSE_FILES)


def test_a_partial_is_restarted_when_the_server_ignores_range(hub, labse_files, tmp_path):
  server, cdn = hub
  weights = cdn_path(labse_files, "model.safetensors")
  partial = tmp_path / "work/downloads/sentence-transformers/.LaBSE.partial"
  partial.mkdir(parents=True)
  (partial / "model.safetensors.incomplete").write_bytes(labse_files["model.safetensors"][:1000])
  cdn.faults[weights] = [http_fixtures.IGNORE_RANGE]
  result = run_hub(server, [LABSE], tmp_path)
  assert result.returncode == 0, result.stderr
  assert cdn.requests_for(weights) == ["bytes=1000-"]  # answered with the whole file
  assert_same_files(tmp_path / "work/downloads" / LABSE, labse_files, LABSE_FILES)


def test_one_download_of_a_repository_at_a_time(hub, tmp_path):
  server, _ = hub
  partial = tmp_path / "work/downloads/sentence-transformers/.LaBSE.partial"
  partial.mkdir(parents=True)
  fd = os.open(partial, os.O_RDONLY)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running download holds it
    result = run_hub(server, [LABSE], tmp_path)
  finally:
    os.close(fd)
  assert result.returncode == 1
  assert error_lines(result) == [f"error: {partial.relative_to(tmp_path / 'work')}: another "
                                 "download of this repository is running"]
  assert not hub_paths_requested(server)


def test_a_server_that_is_not_a_hub(tmp_path):
  with MirrorServer() as website:
    website.files[f"/api/models/{LABSE}/revision/main?blobs=true"] = b"<html>hello</html>"
    result = run_hub(website, [LABSE], tmp_path)
    missing = run_hub(website, [LEALLA], tmp_path)
  assert result.returncode == 1 and missing.returncode == 1
  [line] = error_lines(result)
  assert line.startswith(f"error: {website.url}/api/models/{LABSE}/revision/main: not a hub's "
                         "answer (JSONDecodeError")
  assert error_lines(missing) == [
      f"error: {website.url}/api/models/{LEALLA}/revision/main: HTTP 404"]
  assert os.listdir(tmp_path / "work") == []


def test_a_corrupt_lfs_file_is_refused_and_nothing_is_in_place(hub, labse_files, tmp_path):
  server, cdn = hub
  path = cdn_path(labse_files, "model.safetensors")
  corrupt = bytearray(labse_files["model.safetensors"])
  corrupt[len(corrupt) // 2] ^= 0x01  # same size, one bit off
  cdn.files[path] = bytes(corrupt)
  result = run_hub(server, [LABSE], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  want = hashlib.sha256(labse_files["model.safetensors"]).hexdigest()
  assert line.startswith(f"error: {LABSE}: model.safetensors: SHA-256 ") and want in line
  assert line.endswith("(corrupt download, deleted); rerun to resume: the checked files are "
                       "kept in downloads/sentence-transformers/.LaBSE.partial")
  assert cdn.requests_for(path) == [None, None]  # once more from scratch, then refused
  files = all_files(tmp_path / "work")
  assert not (tmp_path / "work/downloads" / LABSE).exists()
  assert not any("model.safetensors" in f and "2_Dense" not in f for f in files), files


@pytest.mark.parametrize("status", [404, 401])
def test_a_missing_repository_is_one_error_and_writes_nothing(hub, tmp_path, status):
  server, _ = hub
  server.missing_repo_status = status  # 401: what the hub answers without a token
  result = run_hub(server, ["sentence-transformers/no-such-model"], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert line.startswith("error: sentence-transformers/no-such-model: repository not found on "
                         f"{server.url}")
  assert "HF_TOKEN" in line and len(result.stderr.splitlines()) == 1
  assert os.listdir(tmp_path / "work") == []


def test_a_gated_repository_needs_its_token_which_stays_off_the_cdn(hub, tmp_path):
  server, cdn = hub
  files = lealla_like_repo()
  publish(server, "google/gated-bert", files, token="hf_secret")
  refused = run_hub(server, ["google/gated-bert"], tmp_path)
  assert refused.returncode == 1
  [line] = error_lines(refused)
  assert line.startswith("error: google/gated-bert: a gated repository") and "HF_TOKEN" in line
  assert all_files(tmp_path / "work") == []

  before = len(server.request_headers)
  result = run_hub(server, ["google/gated-bert"], tmp_path, HF_TOKEN="hf_secret")
  assert result.returncode == 0, result.stderr
  assert_same_files(tmp_path / "work/downloads/google/gated-bert", files, LEALLA_FILES)
  hub_auth = {h.get("authorization") for _, p, h in server.request_headers[before:]
              if p.startswith("/google/gated-bert/resolve/")}
  assert hub_auth == {"Bearer hf_secret"}
  assert cdn.request_headers and not any("authorization" in h for _, _, h in cdn.request_headers)


def test_a_model_that_is_not_bert_is_refused_before_its_weights(hub, tmp_path):
  server, cdn = hub
  # XLMRobertaModel is read since issue 20; DistilBERT is not.
  publish(server, "distilbert/distilbert-tiny", lealla_like_repo(model_type="distilbert"))
  n_cdn = len(cdn.requests)
  result = run_hub(server, ["distilbert/distilbert-tiny"], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert line.startswith("error: distilbert/distilbert-tiny: config.json: model_type "
                         "'distilbert'")
  assert hub_paths_requested(server) == {"config.json"} and len(cdn.requests) == n_cdn
  assert all_files(tmp_path / "work") == []


def test_a_repository_without_pytorch_weights_is_refused_at_once(hub, tmp_path):
  server, _ = hub
  files = {k: v for k, v in lealla_like_repo().items() if "safetensors" not in k
           and k != "pytorch_model.bin"}
  publish(server, "someone/tf-only", files)
  result = run_hub(server, ["someone/tf-only"], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert line == ("error: someone/tf-only: no PyTorch weights (model.safetensors or "
                  "pytorch_model.bin) at the top of the repository; it has "
                  "flax_model.msgpack, tf_model.h5")
  assert not hub_paths_requested(server)
  assert os.listdir(tmp_path / "work") == []


def test_server_failures_are_retried_then_one_error_and_the_partial_resumes(hub, labse_files,
                                                                            tmp_path):
  server, cdn = hub
  weights = cdn_path(labse_files, "model.safetensors")
  cdn.always[weights] = 503
  result = run_hub(server, [LABSE], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert line == (f"error: {server.url}/{LABSE}/resolve/{server.repos[LABSE].commit}/"
                  "model.safetensors: giving up after 4 attempts (last: HTTP 503); rerun to "
                  "resume: the checked files are kept in "
                  "downloads/sentence-transformers/.LaBSE.partial")
  assert len(cdn.requests_for(weights)) == 4
  assert result.stderr.count("retrying in") == 3
  assert not (tmp_path / "work/downloads" / LABSE).exists()

  # The files already checked are kept for the next run, which fetches only the rest.
  del cdn.always[weights]
  before = len(server.request_headers)
  again = run_hub(server, [LABSE], tmp_path)
  assert again.returncode == 0, again.stderr
  assert {p.rsplit("/", 1)[1] for _, p, _ in server.request_headers[before:]
          if "/resolve/" in p} == {"model.safetensors"}
  assert_same_files(tmp_path / "work/downloads" / LABSE, labse_files, LABSE_FILES)


def test_an_unreachable_hub_is_retried_then_one_error(tmp_path):
  with MirrorServer() as closed:
    url = closed.url
  result = run_hub(closed, [LABSE], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert line.startswith(f"error: {url}/api/models/{LABSE}/revision/main: giving up after 4 "
                         "attempts (last: ConnectError")
  assert os.listdir(tmp_path / "work") == []


def test_an_existing_directory_is_checked_not_downloaded(hub, tmp_path):
  server, _ = hub
  target = tmp_path / "work/downloads" / LABSE
  target.mkdir(parents=True)
  (target / "config.json").write_text('{"model_type": "bert"}\n')
  result = run_hub(server, [LABSE], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  # Its config.json is read as stage 1 reads it: the shapes are missing.
  assert line == (f"error: downloads/{LABSE}/config.json: vocab_size, hidden_size, "
                  "num_hidden_layers, num_attention_heads, intermediate_size, "
                  "max_position_embeddings, type_vocab_size missing or not an integer; "
                  f"downloads/{LABSE} is not a model the pipeline reads: delete it to download "
                  "again")
  assert not server.requests


@pytest.mark.parametrize("args, message", [
    (["not-a-repo"], "not-a-repo: a hub repository id is owner/name"),
    (["owner/na..me"], "owner/na..me: not a hub repository id"),
    (["a/b/c"], "a/b/c: not a hub repository id"),
    (["--revision=v1"], "--revision goes with hub repositories"),
    (["--revision=", LABSE], "--revision is empty"),
])
def test_bad_arguments(tmp_path, args, message):
  with MirrorServer() as server:
    result = run_hub(server, args, tmp_path)
  assert result.returncode == 2
  [line] = error_lines(result)
  assert line.startswith(f"error: {message}"), line
  assert not server.requests and os.listdir(tmp_path / "work") == []


def test_help_describes_hub_repositories(tmp_path):
  result = run_download_script("download_model.sh", ["--help"], tmp_path)
  assert result.returncode == 0
  assert "OWNER/NAME" in result.stdout and "HF_ENDPOINT" in result.stdout
  assert "HF_TOKEN" in result.stdout and "--revision=REV" in result.stdout


# ---------------------------------------------------------------- the choice of files and the check


def test_fixture_blob_ids_are_git_object_ids(tmp_path):
  """The oracle of the non-LFS checks: git's own object id."""
  data = b"config\n\xc3\xa9\0binary"
  git = subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True,
                       check=True)
  assert http_fixtures.git_blob_id(data) == git.stdout.decode().strip()
  local = tmp_path / "f"
  local.write_bytes(data)
  remote = hf_hub.RemoteFile("f", len(data), git.stdout.decode().strip(), None)
  assert remote.problem(str(local)) is None
  local.write_bytes(data[:-1] + b"?")
  assert "git blob id" in remote.problem(str(local))
  local.write_bytes(data + b"!")
  assert remote.problem(str(local)) == f"{len(data) + 1} bytes where the hub lists {len(data)}"


def _select(names, jsons=None):
  return hf_hub.select_files(names, lambda rel: (jsons or {})[rel])


def test_select_prefers_safetensors_and_falls_back_to_pytorch_bin():
  base = ["config.json", "vocab.txt", "tf_model.h5", "flax_model.msgpack", "rust_model.ot"]
  assert _select(base + ["pytorch_model.bin", "model.safetensors"]) == [
      "config.json", "model.safetensors", "vocab.txt"]
  assert _select(base + ["pytorch_model.bin"]) == ["config.json", "pytorch_model.bin",
                                                   "vocab.txt"]
  index = {"weight_map": {"a": "pytorch_model-00001-of-00002.bin",
                          "b": "pytorch_model-00002-of-00002.bin"}}
  sharded = base + ["pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin",
                    "pytorch_model-00002-of-00002.bin"]
  assert _select(sharded, {"pytorch_model.bin.index.json": index}) == [
      "config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
      "pytorch_model.bin.index.json", "vocab.txt"]
  with pytest.raises(hf_hub.DownloadError, match="names pytorch_model-00002"):
    _select(sharded[:-1], {"pytorch_model.bin.index.json": index})


def test_select_takes_the_module_folders_modules_json_names():
  modules = [{"path": ""}, {"path": "1_Pooling"}, {"path": "2_Dense"}]
  names = ["config.json", "model.safetensors", "tokenizer.json", "modules.json",
           "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/pytorch_model.bin",
           "2_Dense/model.safetensors", "2_Dense/onnx/model.onnx", "2_Dense/tf_model.h5",
           "4_Unlisted/config.json", "onnx/model.onnx", "openvino/openvino_model.bin",
           "coreml/model.mlpackage/Data/weights.bin", "train_script.py", "data_config.json"]
  assert _select(names, {"modules.json": modules}) == [
      "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
      "config.json", "model.safetensors", "modules.json", "tokenizer.json"]
  only_bin = [n for n in names if n != "2_Dense/model.safetensors"]
  assert "2_Dense/pytorch_model.bin" in _select(only_bin, {"modules.json": modules})
  with pytest.raises(hf_hub.DownloadError, match="path '../x'"):
    _select(names, {"modules.json": [{"path": "../x"}]})


def test_check_model_names_the_file_at_fault(tmp_path):
  for name, data in lealla_like_repo().items():
    (tmp_path / name).write_bytes(data)
  assert hf_hub.check_model(str(tmp_path)).startswith(
      "bert, 2 layers, hidden 32, vocab 300; model.safetensors.index.json (2 shards), "
      "tokenizer.json")
  os.remove(tmp_path / "model-00002-of-00002.safetensors")
  with pytest.raises(InputError, match="index.json: model-00002-of-00002.safetensors is missing"):
    hf_hub.check_model(str(tmp_path))
  (tmp_path / "pytorch_model.bin").write_bytes(b"x")
  os.remove(tmp_path / "model.safetensors.index.json")
  os.remove(tmp_path / "tokenizer.json")
  # Read as stage 1 reads it (sources.open_source): a pytorch_model.bin that is not one is refused.
  with pytest.raises(InputError, match=r"pytorch_model.bin: cannot read \("):
    hf_hub.check_model(str(tmp_path))
  os.remove(tmp_path / "vocab.txt")
  with pytest.raises(InputError, match=r"^repo: tokenizer.json: missing"):
    hf_hub.check_model(str(tmp_path), "repo")
  (tmp_path / "config.json").write_text('{"model_type": "distilbert"}')
  with pytest.raises(InputError, match=f"^{tmp_path}/config.json: model_type 'distilbert'"):
    hf_hub.check_model(str(tmp_path))
  (tmp_path / "config.json").write_text("{")
  with pytest.raises(InputError, match="config.json: not valid JSON"):
    hf_hub.check_model(str(tmp_path))


def test_checking_a_download_imports_no_tensorflow(labse_files, tmp_path):
  # A download is read as stage 1 reads it (layout, tokenizer, weight shapes), without paying
  # TensorFlow's start-up: nothing on that path needs it.
  for name, data in labse_files.items():
    if name in LABSE_FILES:
      os.makedirs(os.path.dirname(tmp_path / name), exist_ok=True)
      (tmp_path / name).write_bytes(data)
  code = ("import sys; from smaller_labse.downloads import hf_model_files; "
          "print(hf_model_files.check_model(sys.argv[1])); "
          "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'torch'}))")
  result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=REPO))
  assert result.returncode == 0, result.stderr
  summary, imported = result.stdout.splitlines()
  assert summary.endswith("a sentence-transformers source") and "vocab 22000" in summary
  assert imported == "[]"
