"""./run_pipeline.sh without --demo: downloads from (local) mirrors, then every stage."""

import gzip
import json
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import ROOT
from http_fixtures import MirrorServer
from smaller_labse.demo import demo_data
from helpers_downloads import ENCODER_PATH, PREPROCESS_PATH, tar_gz

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def test_full_run_from_mirrors(tmp_path, demo_inputs):
  source = pathlib.Path(demo_inputs)  # What the real servers would serve, in their formats.
  with MirrorServer() as tfhub, MirrorServer() as wiki, MirrorServer() as tatoeba:
    tfhub.files[ENCODER_PATH] = tar_gz(str(source / "downloads" / "labse-2"))
    tfhub.files[PREPROCESS_PATH] = tar_gz(str(source / "downloads" / "labse-2-preprocess"))
    for lang in ("en", "fr", "de"):
      wiki.files[f"/{lang}.txt.gz"] = gzip.compress((source / "data" / f"{lang}.txt").read_bytes())
    for name in os.listdir(source / "data" / "tatoeba" / "v1"):
      tatoeba.files["/" + name] = (source / "data" / "tatoeba" / "v1" / name).read_bytes()
    vocab_size = len(open(source / "downloads" / "labse-2" / "assets" / "cased_vocab.txt",
                          encoding="utf-8").read().split("\n")) - 1
    env = dict(os.environ, TFHUB_BASE_URL=tfhub.url, WIKI_BASE_URL=wiki.url,
               TATOEBA_BASE_URL=tatoeba.url, LABSE_VOCAB_SIZE=str(vocab_size),
               NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", DOWNLOAD_RETRY_DELAY="0.05")
    work = tmp_path / "work"
    result = subprocess.run([os.path.join(ROOT, "run_pipeline.sh"), "--langs=en,fr,de",
                             f"--workdir={work}"], env=env, capture_output=True, text=True,
                            timeout=900)
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  assert sorted(os.listdir(work / "data")) == ["de.txt", "de.txt.json", "en.txt", "en.txt.json",
                                               "fr.txt", "fr.txt.json", "tatoeba"]
  # Streamed: each dump holds fewer than 1,000,000 long lines, so each file is the whole dump.
  meta = json.load(open(work / "data" / "en.txt.json"))
  assert (meta["prefix"], meta["max_lines"]) == (False, 1000000)
  assert sorted(os.listdir(work / "data" / "tatoeba" / "v1")) == [
      "tatoeba.deu-eng.deu", "tatoeba.deu-eng.eng", "tatoeba.fra-eng.eng", "tatoeba.fra-eng.fra"]
  assert "| LaBSE_en-fr-de |" in result.stdout
  results = json.load(open(work / "results" / "tatoeba.json"))
  assert {r["lang"] for r in results["results"]} == {"fra", "deu"}
  assert {k: v["percent"] for k, v in results["identical_embeddings"].items()} == {
      "fra": 100.0, "deu": 100.0}
  assert len(demo_data.PARALLEL["fra"]) == results["results"][0]["n"]
