"""The download scripts against local HTTP mirrors (127.0.0.1) in the real layouts, with real curl.

Each test starts its own `MirrorServer`, runs a script from a temporary working
directory (so paths are relative to the cwd) with short retry delays, and checks
the files left behind: complete and verified, or none at all.
"""

import gzip
import io
import json
import os
import random
import shutil
import signal
import subprocess
import tarfile
import time

import pytest

from tests import http_fixtures
from tests.helpers_downloads import (ENCODER_PATH, PREPROCESS_PATH, REPO, all_files, error_lines,
                                     run_download_script, tar_gz)
from tests.http_fixtures import MirrorServer

SHARED_FIXTURE = os.path.join(REPO, "..", "shared", "fixtures", "modelgarden_tiny")

WIKI_PREFIX = "/repository/xmlui/bitstream/handle/11234/1-2735"
TATOEBA_PREFIX = ("/facebookresearch/LASER/2aa9cf8242f1030282be23a9cfa906fd011c4b2d"
                  "/data/tatoeba/v1")
TATOEBA_LANGS = "fra spa deu cmn ara ita jpn kor nld pol por tha tur rus".split()
pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def make_text(seed, lines=400):
  rng = random.Random(seed)
  words = ["alpha", "beta", "gamma", "delta", "épée", "naïve", "数据", "日本語", "\u00a0x", "?"]
  return "".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "\n"
                 for _ in range(lines))


# ---------------------------------------------------------------- Wikipedia dumps


@pytest.fixture
def wiki():
  """A LINDAT-like mirror with en/fr/zh_classical dumps; yields (server, texts)."""
  texts = {lang: make_text(lang) for lang in ("en", "fr", "zh_classical")}
  with MirrorServer() as server:
    for lang, text in texts.items():
      server.files[f"{WIKI_PREFIX}/{lang}.txt.gz"] = gzip.compress(text.encode(), mtime=0)
    yield server, texts


def run_wiki(server, args, cwd, **env):
  return run_download_script("download_dataset.sh", args, cwd, WIKI_BASE_URL=server.url + WIKI_PREFIX, **env)


def kill_wiki_download_midway(server, path: str, args, tmp_path, partial) -> None:
  """Starts download_dataset.sh ARGS against a server that stalls on `path`, waits until the
  file `partial` has bytes, and kills the script and its children (SIGKILL: no cleanup)."""
  server.faults[path] = [http_fixtures.STALL]
  env = {k: v for k, v in os.environ.items()
         if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
  env.update(WIKI_BASE_URL=server.url + WIKI_PREFIX, DOWNLOAD_STALL_SECONDS="60")
  process = subprocess.Popen([os.path.join(REPO, "download_dataset.sh"), *args], cwd=tmp_path,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
  try:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not (partial.exists() and partial.stat().st_size > 0):
      time.sleep(0.05)
    assert partial.exists() and partial.stat().st_size > 0, "the download never started"
  finally:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def read(path):
  with open(path, encoding="utf-8", newline="") as f:
    return f.read()


def test_wiki_downloads_decompresses_and_skips_when_complete(wiki, tmp_path):
  server, texts = wiki
  result = run_wiki(server, ["--langs=en,fr", "zh_classical"], tmp_path)
  assert result.returncode == 0, result.stderr
  for lang, text in texts.items():
    assert read(tmp_path / "data" / f"{lang}.txt") == text
  # Only the outputs and their sidecars remain: no .part, .gz or temporary file.
  assert all_files(tmp_path) == ["data/en.txt", "data/en.txt.json", "data/fr.txt",
                                 "data/fr.txt.json", "data/zh_classical.txt",
                                 "data/zh_classical.txt.json"]
  meta = json.loads(read(tmp_path / "data/en.txt.json"))
  assert meta == {"url": f"{server.url}{WIKI_PREFIX}/en.txt.gz", "lines": 400, "long_lines": 400,
                  "min_chars": 5, "bytes": len(texts["en"].encode()), "prefix": False,
                  "max_lines": 1000000}

  n_requests = len(server.requests)
  again = run_wiki(server, ["en", "fr"], tmp_path)
  assert again.returncode == 0, again.stderr
  assert len(server.requests) == n_requests, "a complete file was downloaded again"
  assert "already complete" in again.stderr


def test_wiki_data_dir_flag_and_keep_gz(wiki, tmp_path):
  server, texts = wiki
  result = run_wiki(server, ["--langs", "fr", "--data_dir", "out/wiki", "--full", "--keep_gz"],
                    tmp_path)
  assert result.returncode == 0, result.stderr
  assert read(tmp_path / "out/wiki/fr.txt") == texts["fr"]
  assert all_files(tmp_path) == ["out/wiki/fr.txt", "out/wiki/fr.txt.gz", "out/wiki/fr.txt.json"]
  meta = json.loads(read(tmp_path / "out/wiki/fr.txt.json"))
  assert (meta["prefix"], meta["max_lines"], meta["lines"]) == (False, None, 400)


@pytest.mark.parametrize("fault", [http_fixtures.CUT, http_fixtures.STALL, http_fixtures.RESET,
                                   503, 500, 429])
def test_wiki_retries_transient_failures_and_resumes(wiki, tmp_path, fault):
  server, texts = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  server.faults[path] = [fault, fault]
  result = run_wiki(server, ["--full", "en"], tmp_path, DOWNLOAD_STALL_SECONDS=1)
  assert result.returncode == 0, result.stderr
  assert read(tmp_path / "data/en.txt") == texts["en"]
  ranges = server.requests_for(path)
  assert len(ranges) == 3
  if fault in (http_fixtures.CUT, http_fixtures.STALL):
    # The second and third requests resumed where the cut left the .part file.
    assert ranges[0] is None
    assert ranges[1] is not None and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
    assert "retrying" in result.stderr
  assert all_files(tmp_path) == ["data/en.txt", "data/en.txt.json"]


def test_wiki_resumes_a_partial_from_an_earlier_run(wiki, tmp_path):
  server, texts = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  data = server.files[path]
  (tmp_path / "data").mkdir()
  (tmp_path / "data/en.txt.gz.part").write_bytes(data[:len(data) // 3])
  result = run_wiki(server, ["--full", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert server.requests_for(path) == [f"bytes={len(data) // 3}-"]
  assert read(tmp_path / "data/en.txt") == texts["en"]
  assert "resuming" in result.stderr


def test_wiki_partial_already_complete_is_used(wiki, tmp_path):
  """A .part holding the whole file (killed before the rename): the server answers 416."""
  server, texts = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  (tmp_path / "data").mkdir()
  (tmp_path / "data/en.txt.gz.part").write_bytes(server.files[path])
  result = run_wiki(server, ["--full", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert read(tmp_path / "data/en.txt") == texts["en"]
  assert len(server.requests_for(path)) == 1


def test_wiki_server_without_range_support_restarts(wiki, tmp_path):
  server, texts = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  data = server.files[path]
  (tmp_path / "data").mkdir()
  (tmp_path / "data/en.txt.gz.part").write_bytes(data[:100])
  server.always[path] = http_fixtures.IGNORE_RANGE
  result = run_wiki(server, ["--full", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert read(tmp_path / "data/en.txt") == texts["en"]
  assert "cannot resume" in result.stderr


def test_wiki_stale_partial_is_replaced(wiki, tmp_path):
  """A .part from another file: the resumed result fails gzip -t, downloaded again from 0."""
  server, texts = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  (tmp_path / "data").mkdir()
  (tmp_path / "data/en.txt.gz.part").write_bytes(b"garbage" * 50)
  result = run_wiki(server, ["--full", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert read(tmp_path / "data/en.txt") == texts["en"]
  assert server.requests_for(path) == ["bytes=350-", None]


def test_wiki_truncation_without_content_length_is_caught(wiki, tmp_path):
  """A cut curl cannot see (no Content-Length): gzip -t catches it, the file is fetched again."""
  server, texts = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  server.faults[path] = [http_fixtures.CUT_NO_LENGTH]
  result = run_wiki(server, ["--full", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert read(tmp_path / "data/en.txt") == texts["en"]
  assert "failed verification" in result.stderr


def test_wiki_404_fails_at_once_naming_the_url(wiki, tmp_path):
  server, texts = wiki
  result = run_wiki(server, ["en", "xx"], tmp_path)
  assert result.returncode == 1
  url = f"{server.url}{WIKI_PREFIX}/xx.txt.gz"
  [line] = error_lines(result)
  assert url in line and "404" in line
  assert len(server.requests_for(f"{WIKI_PREFIX}/xx.txt.gz")) == 1, "a 404 must not be retried"
  assert read(tmp_path / "data/en.txt") == texts["en"]
  assert [f for f in all_files(tmp_path) if "xx" in f] == []


def test_wiki_corrupt_gzip_fails_and_leaves_nothing(wiki, tmp_path):
  server, _ = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  good = server.files[path]
  server.files[path] = good[:len(good) // 2] + bytes(len(good) // 2)  # complete but corrupt
  result = run_wiki(server, ["en"], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert f"{server.url}{path}" in line and "corrupt" in line
  assert len(server.requests_for(path)) == 2  # once more from scratch, then give up
  assert all_files(tmp_path) == []


def test_wiki_gives_up_after_the_configured_retries(wiki, tmp_path):
  server, _ = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  server.always[path] = 503
  start = time.monotonic()
  result = run_wiki(server, ["en"], tmp_path, DOWNLOAD_RETRIES=3)
  assert time.monotonic() - start < 20
  assert result.returncode == 1
  [line] = error_lines(result)
  assert f"{server.url}{path}" in line and "3 attempts" in line and "503" in line
  assert len(server.requests_for(path)) == 3
  assert not (tmp_path / "data/en.txt").exists()


def test_wiki_connection_refused_is_retried_then_fails(tmp_path):
  with MirrorServer() as server:
    url = server.url
  result = run_download_script("download_dataset.sh", ["en"], tmp_path, WIKI_BASE_URL=url,
                      DOWNLOAD_RETRIES=2)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert f"{url}/en.txt.gz" in line and "2 attempts" in line


@pytest.mark.parametrize("script", ["download_dataset.sh", "download_tatoeba_dataset.sh",
                                    "download_model.sh"])
def test_help_and_bad_arguments(script, tmp_path):
  result = run_download_script(script, ["--help"], tmp_path)
  assert result.returncode == 0
  assert result.stdout.startswith(f"Usage: {script}")
  assert "BASE_URL" in result.stdout
  bad = run_download_script(script, ["--no-such-flag"], tmp_path)
  assert bad.returncode == 2 and len(error_lines(bad)) == 1
  assert all_files(tmp_path) == []


def test_bad_language_codes(tmp_path):
  for script, code in [("download_dataset.sh", "en/../x"), ("download_tatoeba_dataset.sh", "eng"),
                       ("download_tatoeba_dataset.sh", "fr")]:
    result = run_download_script(script, [f"--langs={code}"], tmp_path)
    assert result.returncode == 2 and code in error_lines(result)[0], (script, result.stderr)


# ---------------------------------------------------------------- Tatoeba


@pytest.fixture
def tatoeba():
  """A raw.githubusercontent-like mirror of LASER's data/tatoeba/v1 for the 14 languages."""
  with MirrorServer() as server:
    for lang in TATOEBA_LANGS:
      for side in (lang, "eng"):
        server.files[f"{TATOEBA_PREFIX}/tatoeba.{lang}-eng.{side}"] = (
            make_text(lang + side, lines=50).encode())
    yield server


def run_tatoeba(server, args, cwd, **env):
  return run_download_script("download_tatoeba_dataset.sh", args, cwd,
                    TATOEBA_BASE_URL=server.url + TATOEBA_PREFIX, **env)


def test_tatoeba_default_languages_and_skip(tatoeba, tmp_path):
  result = run_tatoeba(tatoeba, [], tmp_path)
  assert result.returncode == 0, result.stderr
  expected = sorted(f"data/tatoeba/v1/tatoeba.{lang}-eng.{side}"
                    for lang in TATOEBA_LANGS for side in (lang, "eng"))
  assert all_files(tmp_path) == expected
  for lang in TATOEBA_LANGS:
    name = f"tatoeba.{lang}-eng.{lang}"
    assert (tmp_path / "data/tatoeba/v1" / name).read_bytes() == (
        tatoeba.files[f"{TATOEBA_PREFIX}/{name}"])
  n_requests = len(tatoeba.requests)
  again = run_tatoeba(tatoeba, ["--langs=fra,deu"], tmp_path)
  assert again.returncode == 0 and len(tatoeba.requests) == n_requests


def test_tatoeba_cut_is_resumed(tatoeba, tmp_path):
  path = f"{TATOEBA_PREFIX}/tatoeba.fra-eng.eng"
  tatoeba.faults[path] = [http_fixtures.CUT]
  result = run_tatoeba(tatoeba, ["fra", "--output_dir=tat"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert (tmp_path / "tat/tatoeba.fra-eng.eng").read_bytes() == tatoeba.files[path]
  assert tatoeba.requests_for(path)[1].startswith("bytes=")
  assert all_files(tmp_path) == ["tat/tatoeba.fra-eng.eng", "tat/tatoeba.fra-eng.fra"]


def test_tatoeba_line_count_mismatch_leaves_no_file(tatoeba, tmp_path):
  path = f"{TATOEBA_PREFIX}/tatoeba.deu-eng.deu"
  tatoeba.files[path] += b"one line too many\n"
  result = run_tatoeba(tatoeba, ["fra", "deu"], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert "tatoeba.deu-eng" in line and "51 lines" in line and "50" in line
  assert tatoeba.url + path in line
  assert all_files(tmp_path) == ["data/tatoeba/v1/tatoeba.fra-eng.eng",
                                 "data/tatoeba/v1/tatoeba.fra-eng.fra"]


def test_tatoeba_404_on_one_side_leaves_no_half_pair(tatoeba, tmp_path):
  path = f"{TATOEBA_PREFIX}/tatoeba.kor-eng.eng"
  del tatoeba.files[path]
  result = run_tatoeba(tatoeba, ["kor"], tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert tatoeba.url + path in line and "404" in line
  assert all_files(tmp_path) == []


def test_tatoeba_half_pair_from_an_interrupted_run_is_redone(tatoeba, tmp_path):
  out = tmp_path / "data/tatoeba/v1"
  out.mkdir(parents=True)
  (out / "tatoeba.ita-eng.ita").write_text("stale\n")
  result = run_tatoeba(tatoeba, ["ita"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert (out / "tatoeba.ita-eng.ita").read_bytes() == (
      tatoeba.files[f"{TATOEBA_PREFIX}/tatoeba.ita-eng.ita"])


# ---------------------------------------------------------------- TF Hub models


def _save_tiny_models(root, vocab_size):
  """A tiny encoder in LaBSE/2's variable layout and a tiny preprocessor, as SavedModels."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u00a0", "##\u202f"]
  vocab += [f"tok{i}" for i in range(vocab_size - len(vocab))]
  vocab_file = os.path.join(root, "cased_vocab.txt")
  with open(vocab_file, "w", encoding="utf-8", newline="") as f:
    f.write("".join(t + "\n" for t in vocab))

  def module(variables):
    m = tf.Module()
    m.vocab_file = tf.saved_model.Asset(vocab_file)
    m.variables_list = [tf.Variable(tf.zeros(shape), name=name) for name, shape in variables]
    return m

  hidden = 4
  encoder = module([("word_embeddings/embeddings", [vocab_size, hidden]),
                    ("position_embedding/embeddings", [16, hidden]),
                    ("type_embeddings/embeddings", [2, hidden]),
                    ("transformer/layer_0/self_attention/query/kernel", [hidden, 2, 2]),
                    ("pooler_transform/kernel", [hidden, hidden])])
  encoder.do_lower_case = tf.Variable(False, trainable=False, name="do_lower_case")
  tf.saved_model.save(encoder, os.path.join(root, "encoder"))
  not_labse = module([("embeddings/weights", [vocab_size, hidden])])
  tf.saved_model.save(not_labse, os.path.join(root, "not_labse"))
  preprocess = module([("save_counter", [])])
  tf.saved_model.save(preprocess, os.path.join(root, "preprocess"))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("tiny_models"))
  _save_tiny_models(root, vocab_size=30)
  return root


def hub_mirror(tfhub, kaggle, encoder_archive, preprocess_archive):
  """tfhub.dev-like handles redirecting to a Kaggle-like server, which redirects to storage."""
  for handle, archive, name in [(ENCODER_PATH, encoder_archive, "labse"),
                                (PREPROCESS_PATH, preprocess_archive, "preprocess")]:
    api = f"/api/v1/models/google/{name}/tensorFlow2/{name}/2/download"
    tfhub.redirects[handle] = kaggle.url + api
    kaggle.redirects[api] = f"/storage/{name}.tar.gz?signature=x"
    kaggle.files[f"/storage/{name}.tar.gz?signature=x"] = archive


def run_model(tfhub, cwd, vocab_size=30, args=(), **env):
  return run_download_script("download_model.sh", list(args), cwd, TFHUB_BASE_URL=tfhub.url,
                    LABSE_VOCAB_SIZE=vocab_size, **env)


def test_model_download_redirect_cut_resume_and_skip(tiny_models, tmp_path):
  with MirrorServer() as tfhub, MirrorServer() as kaggle:
    hub_mirror(tfhub, kaggle, tar_gz(os.path.join(tiny_models, "encoder")),
               tar_gz(os.path.join(tiny_models, "preprocess"), prefix="preprocess-2/"))
    kaggle.faults["/storage/labse.tar.gz?signature=x"] = [http_fixtures.CUT]
    result = run_model(tfhub, tmp_path)
    assert result.returncode == 0, result.stderr
    assert kaggle.requests_for("/storage/labse.tar.gz?signature=x")[1].startswith("bytes=")
    assert "ok: " in result.stderr
    files = all_files(tmp_path)
    assert "downloads/labse-2/saved_model.pb" in files
    assert "downloads/labse-2/assets/cased_vocab.txt" in files
    assert "downloads/labse-2/variables/variables.index" in files
    assert "downloads/labse-2-preprocess/saved_model.pb" in files
    assert all(f.startswith(("downloads/labse-2/", "downloads/labse-2-preprocess/"))
               for f in files), files  # no archive, .part or temporary directory left
    assert (tmp_path / "downloads/labse-2/assets/cased_vocab.txt").read_bytes() == (
        open(os.path.join(tiny_models, "encoder/assets/cased_vocab.txt"), "rb").read())

    n_requests = len(tfhub.requests)
    again = run_model(tfhub, tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(tfhub.requests) == n_requests, "an existing model was downloaded again"


def test_model_wrong_vocab_size_fails_and_leaves_nothing(tiny_models, tmp_path):
  with MirrorServer() as tfhub, MirrorServer() as kaggle:
    hub_mirror(tfhub, kaggle, tar_gz(os.path.join(tiny_models, "encoder")),
               tar_gz(os.path.join(tiny_models, "preprocess")))
    result = run_model(tfhub, tmp_path, vocab_size=501153)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert "30 rows" in line and "501153" in line and tfhub.url + ENCODER_PATH in line
  # No model directory; the complete archives stay for a rerun with the right setting.
  assert all_files(tmp_path) == ["downloads/labse-2-preprocess.tar.gz", "downloads/labse-2.tar.gz"]
  assert "note: kept downloads/labse-2.tar.gz" in result.stderr


def test_model_check_rejects_a_savedmodel_that_is_not_labse(tiny_models):
  """In process (the script-level path is the same as for a wrong vocab size, tested above)."""
  from smaller_labse.formats import tf_hub_check  # pylint: disable=g-import-not-at-top
  from smaller_labse.errors import InputError  # pylint: disable=g-import-not-at-top
  not_labse = os.path.join(tiny_models, "not_labse")
  with pytest.raises(InputError, match="not a LaBSE encoder.*word_embeddings/embeddings"):
    tf_hub_check.check_encoder(not_labse, 30)
  with pytest.raises(InputError, match="not a directory"):
    tf_hub_check.check_encoder(os.path.join(tiny_models, "missing"), 30)
  with pytest.raises(InputError, match="no saved_model.pb"):
    tf_hub_check.check_encoder(tiny_models, 30)
  shapes = tf_hub_check.variable_shapes(os.path.join(tiny_models, "encoder"))
  assert shapes["word_embeddings/embeddings"] == [30, 4]
  summary, warnings = tf_hub_check.check_preprocess(
      os.path.join(tiny_models, "preprocess"), 31)
  assert "vocab 30" in summary and "31" in warnings[0]


def test_model_existing_directory_that_is_not_a_model_is_reported(tiny_models, tmp_path):
  (tmp_path / "downloads/labse-2").mkdir(parents=True)
  (tmp_path / "downloads/labse-2/readme.txt").write_text("not a model\n")
  with MirrorServer() as tfhub, MirrorServer() as kaggle:
    hub_mirror(tfhub, kaggle, b"", tar_gz(os.path.join(tiny_models, "preprocess")))
    result = run_model(tfhub, tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  assert "downloads/labse-2" in line and "saved_model.pb" in line and "delete it" in line
  assert all_files(tmp_path) == ["downloads/labse-2/readme.txt"]
  assert not tfhub.requests


@pytest.mark.parametrize("problem", ["truncated", "unsafe_path", "no_saved_model", "404"])
def test_model_bad_archives_fail_before_unpacking(tiny_models, tmp_path, problem):
  good = tar_gz(os.path.join(tiny_models, "encoder"))
  if problem == "truncated":
    archive = good[:len(good) // 2]
  else:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
      member = tarfile.TarInfo("../evil.txt" if problem == "unsafe_path" else "readme.txt")
      member.size = 3
      tar.addfile(member, io.BytesIO(b"hi\n"))
    archive = buffer.getvalue()
  with MirrorServer() as tfhub, MirrorServer() as kaggle:
    hub_mirror(tfhub, kaggle, archive, tar_gz(os.path.join(tiny_models, "preprocess")))
    if problem == "404":
      del kaggle.files["/storage/labse.tar.gz?signature=x"]
    result = run_model(tfhub, tmp_path)
  assert result.returncode == 1
  [line] = error_lines(result)
  expected = {"truncated": "gzip", "unsafe_path": "../evil.txt",
              "no_saved_model": "no saved_model.pb", "404": "404"}[problem]
  assert expected in line and (tfhub.url + ENCODER_PATH in line or "404" in line), line
  assert all_files(tmp_path) == []
  assert not (tmp_path.parent / "evil.txt").exists()


@pytest.mark.skipif(not os.path.isdir(SHARED_FIXTURE), reason="../shared fixture not present")
def test_model_garden_export_is_accepted(tmp_path):
  """The tiny pair exported by TF Model Garden's own exporter, served as TF Hub archives."""
  with MirrorServer() as tfhub, MirrorServer() as kaggle:
    hub_mirror(tfhub, kaggle, tar_gz(os.path.join(SHARED_FIXTURE, "encoder")),
               tar_gz(os.path.join(SHARED_FIXTURE, "preprocess")))
    result = run_model(tfhub, tmp_path, vocab_size=44918)
  assert result.returncode == 0, result.stderr
  assert "vocab 44918" in result.stderr and "2 layers" in result.stderr
  assert (tmp_path / "downloads/labse-2-preprocess/assets/cased_vocab.txt").is_file()


def test_wiki_list_sizes_downloads_nothing(wiki, tmp_path):
  server, _ = wiki
  result = run_wiki(server, ["--list_sizes", "en", "xx"], tmp_path)
  assert result.returncode == 0, result.stderr
  size = len(server.files[f"{WIKI_PREFIX}/en.txt.gz"])
  lines = result.stdout.splitlines()
  assert lines[0].split()[:3] == ["en", str(size), "bytes"]
  assert lines[1].split()[:2] == ["xx", "unknown"]
  assert lines[2].split()[:2] == ["total", str(size)]
  assert all_files(tmp_path) == []


def test_wiki_killed_mid_download_leaves_only_the_part_and_resumes(wiki, tmp_path):
  """The user's Ctrl-C / a crash: no data/en.txt, and the next run resumes the .part."""
  server, _ = wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  # Large enough (incompressible) that curl writes part of it past its stdio buffer.
  rng = random.Random(7)
  text = "".join(f"{rng.getrandbits(64 * 8):x}\n" for _ in range(3000))
  server.files[path] = gzip.compress(text.encode(), mtime=0)
  part = tmp_path / "data/en.txt.gz.part"
  kill_wiki_download_midway(server, path, ["--full", "en"], tmp_path, part)
  assert all_files(tmp_path) == ["data/en.txt.gz.part"]
  kept = part.stat().st_size
  result = run_wiki(server, ["--full", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert server.requests_for(path)[-1] == f"bytes={kept}-"
  assert read(tmp_path / "data/en.txt") == text
  assert all_files(tmp_path) == ["data/en.txt", "data/en.txt.json"]


# ---------------------------------------------------------------- Wikipedia dumps, streamed


def wiki_like_text(seed, lines):
  """Paragraph lines (incompressible hex words), with the lines stage 2 skips or may miscount:
  empty, short, 5 characters in 15 bytes, '\\r\\n' endings, invalid UTF-8 (as latin-1 chars)."""
  rng = random.Random(seed)
  out = []
  for _ in range(lines):
    kind = rng.random()
    if kind < 0.1:
      out.append("")
    elif kind < 0.2:
      out.append(rng.choice(["abcde", "日本語の文", "ab\r", "x", "abcde\r", "\xff\xfeabc"]))
    else:
      words = [f"{rng.getrandbits(32):08x}" for _ in range(rng.randint(3, 20))]
      out.append(" ".join(words) + ("\r" if kind > 0.95 else ""))
  return "".join(line + "\n" for line in out)


def _count_long(text, min_chars=5):
  """select_vocab.py's long lines of `text`, counted in Python (checked against TF below)."""
  lines = [line[:-1] if line.endswith(b"\r") else line for line in text.encode().split(b"\n")]
  return sum(sum(b & 0xC0 != 0x80 for b in line) > min_chars for line in lines)


def _long_lines(path, max_sentences):
  """The lines select_vocab.py counts (TextLineDataset, UTF-8 characters), as it reads them."""
  from tests.counting_oracle import read_filtered_lines  # pylint: disable=g-import-not-at-top
  return read_filtered_lines([str(path)], max_sentences=max_sentences)


@pytest.fixture(scope="module")
def big_dump():
  text = wiki_like_text(3, 120_000)
  return text, gzip.compress(text.encode(), mtime=0)


@pytest.fixture
def big_wiki(big_dump):
  """A dump far larger than what --max_lines=1000 needs, served at a paced rate."""
  text, data = big_dump
  with MirrorServer() as server:
    server.files[f"{WIKI_PREFIX}/en.txt.gz"] = data
    server.chunk_delay = 0.002
    yield server, text


def test_wiki_stream_stops_after_max_lines(big_wiki, tmp_path):
  server, text = big_wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  result = run_wiki(server, ["--max_lines=1000", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  got = read(tmp_path / "data/en.txt")
  assert text.startswith(got) and got.endswith("\n") and len(got) < len(text) // 10
  # Stage 2 reads exactly the same 1,000 lines from the prefix as from the whole dump.
  (tmp_path / "whole.txt").write_text(text, encoding="utf-8", newline="")
  assert _long_lines(tmp_path / "data/en.txt", 1000) == _long_lines(tmp_path / "whole.txt", 1000)
  assert len(_long_lines(tmp_path / "data/en.txt", 10**6)) == 1000  # and not one line more
  assert _count_long(got) == 1000
  meta = json.loads(read(tmp_path / "data/en.txt.json"))
  assert meta == {"url": f"{server.url}{path}", "lines": got.count("\n"), "long_lines": 1000,
                  "min_chars": 5, "bytes": len(got.encode()), "prefix": True, "max_lines": 1000}
  assert all_files(tmp_path) == ["data/en.txt", "data/en.txt.json", "whole.txt"]
  # The transfer stopped early: far fewer bytes were sent than the dump holds.
  assert server.bytes_sent[path] < len(server.files[path]) // 4, server.bytes_sent[path]

  # Reruns: a prefix of 1,000 serves 500; 2,000 or --full download again.
  n = len(server.requests_for(path))
  again = run_wiki(server, ["--max_lines=500", "en"], tmp_path)
  assert again.returncode == 0 and "already complete" in again.stderr
  assert len(server.requests_for(path)) == n
  more = run_wiki(server, ["--max_lines=2000", "en"], tmp_path)
  assert more.returncode == 0, more.stderr
  assert len(server.requests_for(path)) == n + 1
  assert json.loads(read(tmp_path / "data/en.txt.json"))["long_lines"] == 2000
  whole = run_wiki(server, ["--full", "en"], tmp_path)
  assert whole.returncode == 0, whole.stderr
  assert read(tmp_path / "data/en.txt") == text
  meta = json.loads(read(tmp_path / "data/en.txt.json"))
  assert (meta["prefix"], meta["max_lines"], meta["lines"]) == (False, None, 120_000)
  # The whole dump serves any request.
  n = len(server.requests_for(path))
  assert run_wiki(server, ["--max_lines=5000000", "en"], tmp_path).returncode == 0
  assert len(server.requests_for(path)) == n


def test_wiki_stream_dump_shorter_than_max_lines_is_whole(wiki, tmp_path):
  server, texts = wiki
  result = run_wiki(server, ["--max_lines=401", "fr"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert read(tmp_path / "data/fr.txt") == texts["fr"]
  meta = json.loads(read(tmp_path / "data/fr.txt.json"))
  assert (meta["prefix"], meta["lines"], meta["long_lines"], meta["max_lines"]) == (
      False, 400, 400, 401)
  assert "the whole dump" in result.stderr


@pytest.mark.parametrize("fault", [http_fixtures.CUT, http_fixtures.CUT_NO_LENGTH,
                                   http_fixtures.RESET, 503])
def test_wiki_stream_cut_starts_the_language_over(big_wiki, tmp_path, fault):
  server, text = big_wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  server.faults[path] = [fault]
  # The faults send half of the dump at most: 80,000 long lines are not in it.
  result = run_wiki(server, ["--max_lines=80000", "en"], tmp_path, DOWNLOAD_STALL_SECONDS=1)
  assert result.returncode == 0, result.stderr
  assert server.requests_for(path) == [None, None]  # from the first byte again, no Range
  assert "starting over" in result.stderr
  got = read(tmp_path / "data/en.txt")
  assert text.startswith(got) and _count_long(got) == 80000
  assert all_files(tmp_path) == ["data/en.txt", "data/en.txt.json"]


def test_wiki_stream_cut_after_the_lines_needed_is_success(big_wiki, tmp_path):
  """curl fails (the cut), gzip fails (truncated input): enough whole lines were read first."""
  server, text = big_wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  server.faults[path] = [http_fixtures.CUT]
  result = run_wiki(server, ["--max_lines=100", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert len(server.requests_for(path)) == 1
  assert _count_long(read(tmp_path / "data/en.txt")) == 100
  assert text.startswith(read(tmp_path / "data/en.txt"))


def test_wiki_stream_file_without_sidecar_is_kept_and_bad_flags(wiki, tmp_path):
  server, _ = wiki
  (tmp_path / "data").mkdir()
  (tmp_path / "data/en.txt").write_text("cut by hand\n")
  result = run_wiki(server, ["en"], tmp_path)
  assert result.returncode == 0 and "without a sidecar" in result.stderr
  assert server.requests == [] and read(tmp_path / "data/en.txt") == "cut by hand\n"
  # A sidecar that does not describe the file beside it: downloaded again.
  (tmp_path / "data/en.txt.json").write_text('{\n  "bytes": 3,\n  "prefix": false,\n  "url": "x"\n}\n')
  result = run_wiki(server, ["en"], tmp_path)
  assert result.returncode == 0 and "does not match its sidecar" in result.stderr
  for args in (["--max_lines=0"], ["--max_lines=x"], ["--full", "--max_lines=5"], ["--keep_gz"],
               ["--min_chars=-1"]):
    bad = run_wiki(server, args + ["fr"], tmp_path)
    assert bad.returncode == 2 and len(error_lines(bad)) == 1, (args, bad.stderr)
  assert not (tmp_path / "data/fr.txt").exists()


def test_wiki_stream_killed_midway_leaves_no_text_and_reruns_cleanly(big_wiki, tmp_path):
  server, text = big_wiki
  path = f"{WIKI_PREFIX}/en.txt.gz"
  kill_wiki_download_midway(server, path, ["--max_lines=70000", "en"], tmp_path,
                            tmp_path / "data/.en.txt.tmp")
  assert not (tmp_path / "data/en.txt").exists() and not (tmp_path / "data/en.txt.json").exists()
  result = run_wiki(server, ["--max_lines=70000", "en"], tmp_path)
  assert result.returncode == 0, result.stderr
  assert text.startswith(read(tmp_path / "data/en.txt"))
  assert _count_long(read(tmp_path / "data/en.txt")) == 70000
  assert all_files(tmp_path) == ["data/en.txt", "data/en.txt.json"]
