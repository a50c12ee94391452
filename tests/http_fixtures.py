"""Local HTTP mirrors for the download script tests (127.0.0.1 only).

`MirrorServer` serves in-memory files by exact path (query string included, as in
`/google/LaBSE/2?tf-hub-format=compressed`), answers HTTP Range requests, can
redirect (tfhub.dev -> Kaggle -> storage), and injects faults: a connection cut
halfway (with or without Content-Length), a reset before any byte, a stalled
transfer, a server that ignores Range, and any HTTP status (404, 500, 503...).
Every request is logged as (path, Range header) so tests can assert what curl
asked for (and as (method, path, headers) in `request_headers`), and the body bytes
sent per path (`bytes_sent`) so they can assert how much a client that stops early
downloaded.

`HubServer` is a Hugging Face hub speaking the protocol huggingface_hub uses to download a
model (listing, resolve, LFS redirects to a CDN), for download_model.sh's hub repositories.
"""

import dataclasses
import hashlib
import http.server
import json
import re
import socket
import threading
import time
import urllib.parse
from typing import Dict, FrozenSet, Iterable, List, Optional, Tuple, Union

# Faults: applied to one request each (`faults`) or to every request (`always`).
CUT = "cut"  # status + Content-Length of the whole (remaining) body, half of it, close
CUT_NO_LENGTH = "cut_no_length"  # 200 without Content-Length, half the body, close
RESET = "reset"  # close the connection without answering
STALL = "stall"  # send half the body, then nothing until the client gives up (or 30 s)
IGNORE_RANGE = "ignore_range"  # answer a Range request with 200 and the whole file
Fault = Union[str, int]  # or an HTTP status code such as 404, 503

_STALL_LIMIT_S = 30
_CHUNK = 64 * 1024


class _Handler(http.server.BaseHTTPRequestHandler):
  server: "_Server"

  def log_message(self, *args):  # keep test output quiet
    pass

  def do_GET(self):  # pylint: disable=invalid-name
    mirror = self.server.mirror
    fault = self._record()
    if self.path in mirror.redirects:
      self._send_headers(302, {"Location": mirror.redirects[self.path], "Content-Length": "0"})
      return
    if self._send_fault(fault):
      return
    data = mirror.files.get(self.path)
    if data is None:
      self._send_status(404, b"<html>404 Not Found</html>\n", {})
      return
    self._send_data(data, fault)

  do_HEAD = do_GET  # pylint: disable=invalid-name  (headers only: see _send_data)

  def _record(self) -> Optional[Fault]:
    """Logs the request; returns the fault to apply to it (None for none)."""
    mirror = self.server.mirror
    with mirror.lock:
      mirror.requests.append((self.path, self.headers.get("Range")))
      mirror.request_headers.append((self.command, self.path,
                                     {k.lower(): v for k, v in self.headers.items()}))
      queue = mirror.faults.get(self.path)
      return queue.pop(0) if queue else mirror.always.get(self.path)

  def _send_headers(self, status: int, headers: Dict[str, str]) -> None:
    self.send_response(status)
    for name, value in headers.items():
      self.send_header(name, value)
    self.end_headers()

  def _send_status(self, status: int, body: bytes, headers: Dict[str, str]) -> None:
    """A complete answer with a small body (an error page)."""
    self._send_headers(status, {**headers, "Content-Length": str(len(body))})
    if self.command != "HEAD":
      self.wfile.write(body)

  def _send_fault(self, fault: Optional[Fault]) -> bool:
    """Answers a RESET or HTTP status fault; False for none (or a fault of the body)."""
    if fault == RESET:
      self.close_connection = True
      return True
    if isinstance(fault, int):
      self._send_status(fault, f"error {fault}\n".encode(), {"Content-Type": "text/plain"})
      return True
    return False

  def _send_data(self, data: bytes, fault: Optional[Fault],
                 headers: Optional[Dict[str, str]] = None) -> None:
    """Answers with `data` (206 and its tail for a Range request), applying a body fault."""
    range_header = self.headers.get("Range")
    start = 0
    if range_header and fault != IGNORE_RANGE:
      spec = range_header.strip()
      if spec.startswith("bytes=") and spec.endswith("-") and spec[6:-1].isdigit():
        start = int(spec[6:-1])
      if start >= len(data):
        self._send_headers(416, {"Content-Range": f"bytes */{len(data)}", "Content-Length": "0"})
        return
    body = data[start:]
    headers = {**(headers or {}), "Accept-Ranges": "bytes",
               "Content-Type": "application/octet-stream"}
    if start:
      headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
    if fault != CUT_NO_LENGTH:
      headers["Content-Length"] = str(len(body))
    self._send_headers(206 if start else 200, headers)
    if self.command == "HEAD":
      return
    if fault in (CUT, CUT_NO_LENGTH, STALL):
      self.wfile.write(body[:len(body) // 2])
      self.wfile.flush()
      if fault == STALL:
        deadline = time.monotonic() + _STALL_LIMIT_S
        while time.monotonic() < deadline and not self.server.stopping.is_set():
          time.sleep(0.05)
      self.close_connection = True
      return
    self._write_body(body)

  def _write_body(self, body: bytes) -> None:
    """Writes `body` in chunks (paced by `mirror.chunk_delay`), logging the bytes sent."""
    mirror = self.server.mirror
    if mirror.chunk_delay:
      # A fixed, small send buffer (no autotuning): what was sent but not read stays small
      # however slowly the client reads.
      self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _CHUNK)
    for start in range(0, len(body), _CHUNK):
      try:
        self.wfile.write(body[start:start + _CHUNK])
        self.wfile.flush()
      except OSError:  # the client hung up (e.g. it had all the lines it needed)
        self.close_connection = True
        return
      with mirror.lock:
        mirror.bytes_sent[self.path] = mirror.bytes_sent.get(self.path, 0) + len(
            body[start:start + _CHUNK])
      if mirror.chunk_delay:
        time.sleep(mirror.chunk_delay)


class _Server(http.server.ThreadingHTTPServer):
  daemon_threads = True
  allow_reuse_address = True

  def __init__(self, mirror: "MirrorServer"):
    self.mirror = mirror
    self.stopping = threading.Event()
    super().__init__(("127.0.0.1", 0), mirror.handler)

  def handle_error(self, request, client_address):  # a client hanging up is expected
    pass


class MirrorServer:
  """An HTTP server on 127.0.0.1 with a free port; use as a context manager."""

  handler = _Handler

  def __init__(self):
    self.files: Dict[str, bytes] = {}
    self.redirects: Dict[str, str] = {}
    self.faults: Dict[str, List[Fault]] = {}
    self.always: Dict[str, Fault] = {}
    self.requests: List[Tuple[str, Optional[str]]] = []
    # (method, path, headers with lower-case names)
    self.request_headers: List[Tuple[str, str, Dict[str, str]]] = []
    # Body bytes the server wrote to the socket per path (what the kernel accepted: at most
    # its socket buffers more than the client read), and a pause after each 64 KiB chunk
    # (a slower link, so that those buffers stay nearly empty).
    self.bytes_sent: Dict[str, int] = {}
    self.chunk_delay = 0.0
    self.lock = threading.Lock()
    self._server: Optional[_Server] = None
    self._thread: Optional[threading.Thread] = None

  @property
  def url(self) -> str:
    host, port = self._server.server_address[:2]
    return f"http://{host}:{port}"

  def requests_for(self, path: str) -> List[Optional[str]]:
    """The Range headers (None when absent) of the requests for `path`."""
    with self.lock:
      return [r for p, r in self.requests if p == path]

  def __enter__(self) -> "MirrorServer":
    self._server = _Server(self)
    self._thread = threading.Thread(target=self._server.serve_forever,
                                    kwargs={"poll_interval": 0.05}, daemon=True)
    self._thread.start()
    return self

  def __exit__(self, *exc) -> None:
    self._server.stopping.set()
    self._server.shutdown()
    self._server.server_close()
    self._thread.join(timeout=5)


# ---------------------------------------------------------------- a Hugging Face hub


def git_blob_id(data: bytes) -> str:
  """The git object id of a file: what the hub lists as `blobId` and sends as its ETag."""
  return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
  """The git-lfs pointer file git stores in place of `data`."""
  return (f"version https://git-lfs.github.com/spec/v1\noid sha256:"
          f"{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n").encode()


@dataclasses.dataclass
class HubRepo:
  """A model repository at one commit (also its `main` revision)."""
  files: Dict[str, bytes]
  lfs: FrozenSet[str]  # the paths stored with git-lfs: redirected to the CDN
  commit: str
  token: Optional[str] = None  # a gated repository: files need "Authorization: Bearer TOKEN"

  def sibling(self, path: str) -> Dict[str, object]:
    """The entry of `path` in /api/models/...?blobs=true, as the hub writes it."""
    data = self.files[path]
    if path not in self.lfs:
      return {"rfilename": path, "blobId": git_blob_id(data), "size": len(data)}
    pointer = lfs_pointer(data)
    return {"rfilename": path, "blobId": git_blob_id(pointer), "size": len(data),
            "lfs": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                    "pointerSize": len(pointer)}}


class _HubHandler(_Handler):
  """The hub's endpoints huggingface_hub 2.4 uses to download a model: the repository listing
  (`HfApi.model_info`), and HEAD/GET of /{repo}/resolve/{revision}/{path} with the headers
  `get_hf_file_metadata` reads (X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size). LFS files
  redirect (302) to the CDN; the others are served here, with Range support."""

  _API = re.compile(r"/api/models/([^/?]+)/([^/?]+)(?:/revision/([^/?]+))?")
  _RESOLVE = re.compile(r"/([^/?]+)/([^/?]+)/resolve/([^/?]+)/([^?]+)")

  def do_GET(self):  # pylint: disable=invalid-name
    hub: HubServer = self.server.mirror
    fault = self._record()
    if self._send_fault(fault):
      return
    split = urllib.parse.urlsplit(self.path)
    api, resolve = self._API.fullmatch(split.path), self._RESOLVE.fullmatch(split.path)
    match = api or resolve
    if match is None:
      self._error(404, None, "Not Found")
      return
    owner, name, revision = (urllib.parse.unquote(g or "main") for g in match.groups()[:3])
    repo = hub.repos.get(f"{owner}/{name}")
    if repo is None:
      self._error(hub.missing_repo_status, "RepoNotFound", "Repository not found")
    elif revision not in ("main", repo.commit):
      self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
    elif api:
      blobs = urllib.parse.parse_qs(split.query).get("blobs") == ["true"]
      self._model_info(f"{owner}/{name}", repo, blobs)
    else:
      self._resolve(f"{owner}/{name}", repo, urllib.parse.unquote(resolve.group(4)), fault)

  do_HEAD = do_GET  # pylint: disable=invalid-name

  def _error(self, status: int, code: Optional[str], message: str,
             headers: Optional[Dict[str, str]] = None) -> None:
    extra = {"X-Error-Code": code, "X-Error-Message": message} if code else {}
    self._send_status(status, json.dumps({"error": message}).encode(),
                      {**extra, **(headers or {}), "Content-Type": "application/json"})

  def _model_info(self, repo_id: str, repo: HubRepo, blobs: bool) -> None:
    siblings = [repo.sibling(p) if blobs else {"rfilename": p} for p in sorted(repo.files)]
    info = {"_id": repo.commit[:24], "id": repo_id, "modelId": repo_id, "author":
            repo_id.split("/")[0], "sha": repo.commit, "lastModified": "2024-01-01T00:00:00.000Z",
            "private": False, "gated": "manual" if repo.token else False, "disabled": False,
            "tags": ["transformers", "bert"], "library_name": "sentence-transformers",
            "siblings": siblings}
    body = json.dumps(info).encode()
    self._send_status(200, body, {"Content-Type": "application/json"})

  def _resolve(self, repo_id: str, repo: HubRepo, path: str, fault: Optional[Fault]) -> None:
    hub: HubServer = self.server.mirror
    commit = {"X-Repo-Commit": repo.commit}
    if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
      self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have "
                  "access to it and be authenticated to access it. Please log in.", commit)
      return
    if path not in repo.files:
      self._error(404, "EntryNotFound", "Entry not found", commit)
      return
    entry = repo.sibling(path)
    if path in repo.lfs:
      sha256 = entry["lfs"]["sha256"]
      self._send_headers(302, {**commit, "Location": hub.cdn.url + hub.cdn_path(sha256),
                               "ETag": f'"{entry["blobId"]}"', "X-Linked-Etag": f'"{sha256}"',
                               "X-Linked-Size": str(entry["size"]), "Content-Length": "0"})
      return
    self._send_data(repo.files[path], fault, {**commit, "ETag": f'"{entry["blobId"]}"'})


class HubServer(MirrorServer):
  """A Hugging Face hub on 127.0.0.1 (point HF_ENDPOINT at `url`) serving `repos`; its LFS
  files are on `cdn`, a MirrorServer on another port (another origin, as cdn-lfs.hf.co and
  cas-bridge.xethub.hf.co are), where the faults of MirrorServer apply to them. The hub's own
  `faults`/`always` apply to its paths (query strings included)."""

  handler = _HubHandler

  def __init__(self, cdn: MirrorServer):
    super().__init__()
    self.cdn = cdn
    self.repos: Dict[str, HubRepo] = {}
    self.missing_repo_status = 404  # the hub answers 401 to anonymous requests

  @staticmethod
  def cdn_path(sha256: str) -> str:
    return f"/repos/{sha256[:2]}/{sha256[2:4]}/{sha256}?Expires=1700000000&Signature=x"

  def add_repo(self, repo_id: str, files: Dict[str, bytes], lfs: Iterable[str] = (),
               token: Optional[str] = None) -> HubRepo:
    """Publishes `files` as `repo_id` (replacing it: a new commit); `lfs` on the CDN."""
    listing = json.dumps(sorted((p, git_blob_id(d)) for p, d in files.items())).encode()
    repo = HubRepo(dict(files), frozenset(lfs), hashlib.sha1(listing).hexdigest(), token)
    for path in repo.lfs:
      self.cdn.files[self.cdn_path(hashlib.sha256(files[path]).hexdigest())] = files[path]
    self.repos[repo_id] = repo
    return repo

  def api_path(self, repo_id: str, revision: str = "main") -> str:
    return f"/api/models/{repo_id}/revision/{revision}?blobs=true"

  def resolve_path(self, repo_id: str, path: str) -> str:
    return f"/{repo_id}/resolve/{self.repos[repo_id].commit}/{path}"
