"""Downloads BERT / Sentence Transformers models from the Hugging Face hub for the pipeline.

  python -m smaller_labse.downloads.hf_hub --repo=sentence-transformers/LaBSE \\
      [--repo=setu4993/LEALLA-small ...] [--revision=main] [--output_dir=downloads]

(download_model.sh REPO... runs it.) Each repository `owner/name` becomes DIR/owner/name:

1. The repository is listed at REVISION with huggingface_hub (`HfApi.model_info`, with the
   files' metadata): one commit, and each file's size, git blob id and, for LFS files,
   SHA-256. Every file comes from that commit.
2. Only what a BERT / Sentence Transformers model needs is chosen (hf_model_files.py):
   config.json first, then the tokenizer and Sentence Transformers files, the PyTorch
   weights (safetensors, sharded or not; pytorch_model.bin only where a folder has no
   safetensors) and the folders modules.json names; never the TF, Flax, ONNX, OpenVINO,
   Rust or Core ML copies.
3. Each file is downloaded with huggingface_hub (`get_hf_file_metadata`: HEAD /resolve,
   then `http_get` from the location it gives, the CDN for LFS files) into
   DIR/owner/.name.partial/PATH.incomplete. That directory is kept across runs: an
   interrupted file resumes with a Range request (from its last whole 10 MiB,
   huggingface_hub's write unit). A complete file is checked against the listing (size;
   SHA-256 for LFS files, the git blob id for the others) before it takes its name; one
   that fails is downloaded once more from scratch, and a second failure is an error.
   (huggingface_hub's own `hf_hub_download` does neither: its `.incomplete` files have a
   name unique to the process and are deleted on failure, and it checks sizes only.)
4. The directory is checked to be a model the pipeline reads (`hf_model_files.check_model`),
   and only then renamed to DIR/owner/name. A directory already there is checked and kept:
   nothing is downloaded (delete it to download again).

HF_ENDPOINT (a mirror), HF_TOKEN (private and gated repositories), HF_HUB_ETAG_TIMEOUT and
HF_HUB_DOWNLOAD_TIMEOUT act as in huggingface_hub. Exit status: 0 when every model is
ready; 1 on a download problem (repository or revision not found, gated, a network or
server failure after the retries, a corrupt file, a model the pipeline cannot read), with
one `error:` line; 2 on bad arguments.
"""

import dataclasses
import fcntl
import hashlib
import os
import shutil
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar
from urllib.parse import urlsplit

import httpx2  # huggingface_hub's HTTP client: its network errors
from absl import flags
from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, OfflineModeIsEnabled,
                                    RemoteEntryNotFoundError, RepositoryNotFoundError,
                                    RevisionNotFoundError)
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import HFValidationError, build_hf_headers, validate_repo_id
from huggingface_hub.utils import logging as hf_logging

from smaller_labse.downloads.hf_model_files import (DownloadError, check_config, check_listing,
                                                   check_model, read_json_file, safe_path,
                                                   select_files)
from smaller_labse.errors import InputError, run_cli

PARTIAL_SUFFIX = ".partial"
INCOMPLETE_SUFFIX = ".incomplete"
TRANSIENT_STATUS = (408, 425, 429, 500, 502, 503, 504)
_HASH_CHUNK = 8 << 20

FLAGS = flags.FLAGS
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RemoteFile:
  """A file of the repository, as the hub lists it."""
  path: str  # relative to the repository, '/'-separated
  size: int  # bytes
  blob_id: str  # git object id (SHA-1 of "blob SIZE\0" + content, or of the LFS pointer)
  sha256: Optional[str]  # SHA-256 of the content, for LFS files

  def problem(self, local: str) -> Optional[str]:
    """Why the file at `local` is not this file (None when it is)."""
    size = os.path.getsize(local)
    if size != self.size:
      return f"{size} bytes where the hub lists {self.size}"
    if self.sha256:
      digest, want, what = hashlib.sha256(), self.sha256, "SHA-256"
    else:
      digest, want, what = hashlib.sha1(b"blob %d\0" % size), self.blob_id, "git blob id"
    with open(local, "rb") as f:
      for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
        digest.update(chunk)
    if digest.hexdigest() != want:
      return f"{what} {digest.hexdigest()} does not match the hub's {want}"
    return None


@dataclasses.dataclass(frozen=True)
class Retry:
  """Attempts per request and the backoff between them (doubled after each failure)."""
  attempts: int = 5
  delay: float = 2.0
  max_delay: float = 60.0


# ---------------------------------------------------------------- repository ids and listing


def parse_repo_id(value: str) -> Tuple[str, str]:
  """'owner/name' -> (owner, name); InputError for anything the hub would not accept."""
  try:
    validate_repo_id(value)
  except HFValidationError as e:
    raise InputError(f"{value}: not a hub repository id ({e})") from None
  owner, slash, name = value.partition("/")
  if not slash:
    raise InputError(f"{value}: a hub repository id is owner/name "
                     "(e.g. sentence-transformers/LaBSE)")
  return owner, name


def list_repo(repo_id: str, revision: str, retry: Retry) -> Tuple[str, Dict[str, RemoteFile]]:
  """The commit REVISION points at and the repository's files there."""
  url = f"{constants.ENDPOINT}/api/models/{repo_id}/revision/{revision}"
  try:
    info = with_retries(url, retry, lambda: HfApi().model_info(
        repo_id, revision=revision, files_metadata=True, timeout=constants.HF_HUB_ETAG_TIMEOUT),
                        repo_id=repo_id, revision=revision)
  except (ValueError, KeyError, TypeError) as e:  # JSON, but not the hub's
    raise DownloadError(f"{url}: not a hub's answer ({_one_line(e)}); is HF_ENDPOINT a "
                        "hub?") from None
  if not info.sha or info.siblings is None:
    raise DownloadError(f"{url}: the answer has no commit or file list (is HF_ENDPOINT a hub?)")
  files = {}
  for sibling in info.siblings:
    if not safe_path(sibling.rfilename):
      raise DownloadError(f"{url}: the hub lists an unsafe path: {sibling.rfilename!r}")
    if sibling.size is None or not sibling.blob_id:
      raise DownloadError(f"{url}: no size or blob id for {sibling.rfilename} (the hub or "
                          "mirror does not answer ?blobs=true)")
    files[sibling.rfilename] = RemoteFile(sibling.rfilename, sibling.size, sibling.blob_id,
                                          sibling.lfs.sha256 if sibling.lfs else None)
  return info.sha, files


# ---------------------------------------------------------------- HTTP, retries, errors


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
  parts = urlsplit(url)
  return parts.scheme, (parts.hostname or "").lower(), parts.port


def _hub_problem(error: Exception, repo_id: Optional[str],
                 revision: Optional[str]) -> Optional[str]:
  """The one-line explanation of a hub error that no retry can fix, or None."""
  if isinstance(error, GatedRepoError):
    return (f"a gated repository: accept its conditions on {constants.ENDPOINT}/{repo_id} and "
            "set HF_TOKEN to a token of that account")
  if isinstance(error, RepositoryNotFoundError):
    return (f"repository not found on {constants.ENDPOINT} (a private repository needs "
            "HF_TOKEN)")
  if isinstance(error, RevisionNotFoundError):
    return f"revision {revision!r} not found"
  return None


def _transient(error: Exception) -> Optional[str]:
  """Why a failed request is worth retrying (a network or server failure), or None."""
  if isinstance(error, HfHubHTTPError):
    status = error.response.status_code if error.response is not None else None
    return f"HTTP {status}" if status in TRANSIENT_STATUS else None
  if isinstance(error, httpx2.TimeoutException):
    return f"timed out ({type(error).__name__})"
  if isinstance(error, (httpx2.NetworkError, httpx2.RemoteProtocolError)):
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
  if type(error) is OSError and error.errno is None:  # pylint: disable=unidiomatic-typecheck
    return "incomplete transfer"  # http_get's size check ("Consistency check failed")
  return None


def with_retries(label: str, retry: Retry, action: Callable[[], T], repo_id: Optional[str] = None,
                 revision: Optional[str] = None) -> T:
  """Runs `action`, retrying network and server failures with backoff; DownloadError
  ('LABEL: problem') for any failure of huggingface_hub that retries do not fix."""
  delay = retry.delay
  for attempt in range(1, retry.attempts + 1):
    try:
      return action()
    except OfflineModeIsEnabled:
      raise DownloadError(f"{label}: huggingface_hub is in offline mode (HF_HUB_OFFLINE)") from None
    except (HfHubHTTPError, httpx2.HTTPError, OSError) as error:
      if isinstance(error, RemoteEntryNotFoundError):
        raise DownloadError(f"{label}: not found (HTTP 404), although the hub lists it") from None
      if isinstance(error, HfHubHTTPError):
        problem = _hub_problem(error, repo_id, revision)
        if problem:
          raise DownloadError(f"{repo_id or label}: {problem}") from None
      reason = _transient(error)
      if reason is None:
        raise DownloadError(f"{label}: {_permanent(error)}") from None
      if attempt == retry.attempts:
        raise DownloadError(f"{label}: giving up after {attempt} attempts (last: "
                            f"{reason})") from None
      print(f"{label}: {reason}; retrying in {delay:g}s (attempt {attempt + 1} of "
            f"{retry.attempts})", file=sys.stderr, flush=True)
      time.sleep(delay)
      delay = min(delay * 2, retry.max_delay)
  raise AssertionError("unreachable")


def _permanent(error: Exception) -> str:
  """A failure no retry fixes, in a few words."""
  if isinstance(error, HfHubHTTPError) and error.response is not None:
    message = error.response.headers.get("X-Error-Message")
    return f"HTTP {error.response.status_code}" + (f" ({message})" if message else "")
  return _one_line(error)


def _one_line(error: Exception) -> str:
  text = " ".join(str(error).split())
  return f"{type(error).__name__}: {text}" if text else type(error).__name__


# ---------------------------------------------------------------- one repository


@dataclasses.dataclass
class _Partial:
  """DIR/owner/.name.partial: the files of one repository at one commit, each verified before
  it takes its name; `.incomplete` files are resumed by the next run."""
  repo_id: str
  commit: str
  files: Dict[str, RemoteFile]  # the repository's, by path
  path: str
  retry: Retry

  def local(self, rel: str) -> str:
    return os.path.join(self.path, *rel.split("/"))

  def fetch(self, rel: str) -> str:
    """Makes `rel` a verified file of the directory; returns its path."""
    remote, target = self.files[rel], self.local(rel)
    if os.path.isfile(target) and remote.problem(target) is None:
      return target
    part = target + INCOMPLETE_SUFFIX
    os.makedirs(os.path.dirname(part), exist_ok=True)
    if os.path.isfile(target):  # from an earlier commit: its bytes are no use
      os.remove(target)
    problem = None
    for _ in range(2):
      self._download(remote, part)
      problem = remote.problem(part)
      if problem is None:
        os.replace(part, target)
        return target
      os.remove(part)  # a stale or corrupt partial: once more from scratch
    raise DownloadError(f"{self.repo_id}: {rel}: {problem} (corrupt download, deleted)")

  def _download(self, remote: RemoteFile, part: str) -> None:
    """Downloads (the rest of) `remote` into `part` with huggingface_hub, with retries."""
    url = hf_hub_url(self.repo_id, remote.path, revision=self.commit)

    def attempt() -> None:
      if os.path.isfile(part) and os.path.getsize(part) > remote.size:
        os.remove(part)
      resume = os.path.getsize(part) if os.path.isfile(part) else 0
      if resume == remote.size:  # complete (killed before its check): nothing to ask
        return
      meta = get_hf_file_metadata(url, timeout=constants.HF_HUB_ETAG_TIMEOUT)
      if meta.commit_hash != self.commit:
        raise DownloadError(f"{url}: the server answers for commit {meta.commit_hash}, not "
                            f"{self.commit} (is HF_ENDPOINT a hub?)")
      headers = build_hf_headers()
      headers["Accept-Encoding"] = "identity"  # Range counts the bytes stored
      if _origin(meta.location) != _origin(url):
        headers.pop("authorization", None)  # the token stays on the hub, off the CDN
      with open(part, "ab") as f:
        http_get(meta.location, f, resume_size=resume, headers=headers,
                 expected_size=remote.size, displayed_filename=remote.path)

    with_retries(url, self.retry, attempt, repo_id=self.repo_id)

  def prune(self, keep: Sequence[str]) -> None:
    """Removes every file but `keep` (stale files of another commit, leftovers)."""
    wanted = {self.local(rel) for rel in keep}
    for dirpath, dirnames, filenames in os.walk(self.path, topdown=False):
      for name in filenames:
        if os.path.join(dirpath, name) not in wanted:
          os.remove(os.path.join(dirpath, name))
      for name in dirnames:
        if not os.listdir(os.path.join(dirpath, name)):
          os.rmdir(os.path.join(dirpath, name))


def _holds_files(directory: str) -> bool:
  return any(files for _, _, files in os.walk(directory))


def _remove_empty_dirs(path: str, top: str) -> None:
  """Removes `path` and its parents below `top` while they are empty."""
  top = os.path.abspath(top)
  path = os.path.abspath(path)
  while path != top and path.startswith(top + os.sep):
    try:
      os.rmdir(path)
    except OSError:
      return
    path = os.path.dirname(path)


def _lock(directory: str) -> int:
  """An exclusive lock on `directory` (one download per repository at a time)."""
  fd = os.open(directory, os.O_RDONLY)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(fd)
    raise DownloadError(f"{directory}: another download of this repository is running") from None
  return fd


def _check_space(partial: _Partial, selected: Sequence[str]) -> None:
  needed = sum(partial.files[rel].size for rel in selected
               if not os.path.isfile(partial.local(rel)))
  free = shutil.disk_usage(partial.path).free
  if needed > free:
    raise DownloadError(f"{partial.path}: {needed / 1e9:.2f} GB to download, "
                        f"{free / 1e9:.2f} GB free")


def _human(size: int) -> str:
  for unit in ("B", "KB", "MB"):
    if size < 1000:
      return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
    size /= 1000
  return f"{size:.2f} GB"


def _download_into(partial: _Partial) -> Tuple[List[str], str]:
  """Fills the locked partial directory; returns the files chosen and the model summary."""
  def read_json(rel: str) -> object:
    return read_json_file(partial.fetch(rel), f"{partial.repo_id}: {rel}")

  # config.json first: the cheapest way to refuse another architecture.
  check_config(partial.fetch("config.json"), f"{partial.repo_id}: config.json")
  try:
    selected = select_files(sorted(partial.files), read_json)
  except DownloadError as e:
    raise DownloadError(f"{partial.repo_id}: {e}") from None
  _check_space(partial, selected)
  for rel in sorted(selected, key=lambda r: (partial.files[r].size, r)):
    partial.fetch(rel)
  partial.prune(selected)
  return selected, check_model(partial.path, partial.repo_id)


def download_repo(repo_id: str, revision: str, output_dir: str, retry: Retry) -> str:
  """Makes OUTPUT_DIR/owner/name a checked copy of the repository at `revision`; returns a
  one-line report. DownloadError or InputError (a bad model) otherwise."""
  owner, name = parse_repo_id(repo_id)
  final = os.path.join(output_dir, owner, name)
  if os.path.lexists(final):
    try:
      summary = check_model(final)
    except InputError as e:
      raise DownloadError(f"{e}; {final} is not a model the pipeline reads: delete it to "
                          "download again") from None
    return f"ok: {final} (already downloaded; delete it to download again): {summary}"
  commit, files = list_repo(repo_id, revision, retry)
  try:
    check_listing(sorted(files))
  except DownloadError as e:
    raise DownloadError(f"{repo_id}: {e}") from None
  path = os.path.join(output_dir, owner, "." + name + PARTIAL_SUFFIX)
  os.makedirs(path, exist_ok=True)
  fd = _lock(path)
  partial = _Partial(repo_id, commit, files, path, retry)
  try:
    selected, summary = _download_into(partial)
    try:
      os.rename(path, final)
    except OSError as e:
      raise DownloadError(f"{final}: cannot rename {path} into place ({e.strerror})") from None
  except InputError as e:  # the model itself is unusable: keep nothing
    shutil.rmtree(path, ignore_errors=True)
    _remove_empty_dirs(os.path.dirname(path), output_dir)
    raise DownloadError(str(e)) from None
  except BaseException as e:
    if not _holds_files(path):
      shutil.rmtree(path, ignore_errors=True)
      _remove_empty_dirs(os.path.dirname(path), output_dir)
    elif isinstance(e, DownloadError):
      raise DownloadError(f"{e}; rerun to resume: the checked files are kept in {path}") from None
    raise
  finally:
    os.close(fd)
  size = sum(files[rel].size for rel in selected)
  return (f"ok: {final} ({repo_id} at {commit[:12]}: {len(selected)} files, {_human(size)}): "
          f"{summary}")


# ---------------------------------------------------------------- command line


def _define_flags() -> None:
  flags.DEFINE_multi_string("repo", [], "A hub repository, owner/name (repeat for more).")
  flags.DEFINE_string("revision", "main", "Branch, tag or commit of every repository.")
  flags.DEFINE_string("output_dir", "downloads", "Models go to OUTPUT_DIR/owner/name.")
  flags.DEFINE_integer("retries", 5, "Attempts per request before giving up.", lower_bound=1)
  flags.DEFINE_float("retry_delay", 2.0, "First backoff delay in seconds (doubled after each "
                     "failure).", lower_bound=0.0)
  flags.DEFINE_float("retry_max_delay", 60.0, "Upper bound of the backoff delay in seconds.",
                     lower_bound=0.0)


def main(argv: Sequence[str]) -> None:
  del argv
  if not FLAGS["verbosity"].present:
    hf_logging.set_verbosity_error()  # its retry warnings: ours say it in one line
  if not FLAGS.revision:
    raise InputError("--revision: empty")
  if not FLAGS.output_dir:
    raise InputError("--output_dir: empty")
  if not FLAGS.repo:
    raise InputError("--repo: give at least one hub repository (owner/name)")
  for repo_id in FLAGS.repo:
    parse_repo_id(repo_id)
  retry = Retry(FLAGS.retries, FLAGS.retry_delay, FLAGS.retry_max_delay)
  try:
    for repo_id in FLAGS.repo:
      print(download_repo(repo_id, FLAGS.revision, FLAGS.output_dir, retry), file=sys.stderr,
            flush=True)
  except DownloadError as e:
    print(f"error: {' '.join(str(e).split())}", file=sys.stderr, flush=True)
    sys.exit(1)
  except KeyboardInterrupt:
    print("interrupted: the partial download is kept and resumes on the next run",
          file=sys.stderr, flush=True)
    sys.exit(130)


if __name__ == "__main__":
  _define_flags()
  run_cli(main)
