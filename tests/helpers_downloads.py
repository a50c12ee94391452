"""What the download tests share (test_downloads.py, test_hub_download.py, test_pipeline_real.py):
running a download script against local mirrors, its error lines and files, TF Hub's handles
and archives."""

import io
import os
import subprocess
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENCODER_PATH = "/google/LaBSE/2?tf-hub-format=compressed"
PREPROCESS_PATH = ("/google/universal-sentence-encoder-cmlm/multilingual-preprocess/2"
                   "?tf-hub-format=compressed")


def run_download_script(script, args, cwd, **env_overrides):
  """Runs a repo script from `cwd`; returns the CompletedProcess."""
  env = {k: v for k, v in os.environ.items()
         if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
  env.update(NO_PROXY="127.0.0.1", no_proxy="127.0.0.1",
             DOWNLOAD_RETRIES="4", DOWNLOAD_RETRY_DELAY="0.05", DOWNLOAD_RETRY_MAX_DELAY="0.2",
             DOWNLOAD_CONNECT_TIMEOUT="5", DOWNLOAD_STALL_SECONDS="5",
             SMALLER_LABSE_PYTHON=sys.executable)
  env.update({k: str(v) for k, v in env_overrides.items()})
  return subprocess.run([os.path.join(REPO, script), *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=120, check=False)


def error_lines(result):
  return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def all_files(root):
  """Every file under `root`, relative, sorted (hidden temporaries included)."""
  found = []
  for dirpath, _, names in os.walk(root):
    found += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
  return sorted(found)


def tar_gz(directory, prefix="./"):
  """The directory as a TF Hub compressed archive (members named ./saved_model.pb, ...)."""
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
    for name in sorted(os.listdir(directory)):
      tar.add(os.path.join(directory, name), arcname=prefix + name)
  return buffer.getvalue()
