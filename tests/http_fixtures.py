"""Local HTTP mirrors for the download script tests (127.0.0.1 only).

`MirrorServer` serves in-memory files by exact path (query string included, as in
`/google/LaBSE/2?tf-hub-format=compressed`), answers HTTP Range requests, can
redirect (tfhub.dev -> Kaggle -> storage), and injects faults: a connection cut
halfway (with or without Content-Length), a reset before any byte, a stalled
transfer, a server that ignores Range, and any HTTP status (404, 500, 503...).
Every request is logged as (path, Range header) so tests can assert what curl
asked for, and the body bytes sent per path (`bytes_sent`) so they can assert how
much a client that stops early downloaded.
"""

import http.server
import socket
import threading
import time
from typing import Dict, List, Optional, Tuple, Union

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
    range_header = self.headers.get("Range")
    with mirror.lock:
      mirror.requests.append((self.path, range_header))
      queue = mirror.faults.get(self.path)
      fault = queue.pop(0) if queue else mirror.always.get(self.path)
    if self.path in mirror.redirects:
      self.send_response(302)
      self.send_header("Location", mirror.redirects[self.path])
      self.send_header("Content-Length", "0")
      self.end_headers()
      return
    if fault == RESET:
      self.close_connection = True
      return
    if isinstance(fault, int):
      body = f"error {fault}\n".encode()
      self.send_response(fault)
      self.send_header("Content-Type", "text/plain")
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      self.wfile.write(body)
      return
    data = mirror.files.get(self.path)
    if data is None:
      body = b"<html>404 Not Found</html>\n"
      self.send_response(404)
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      self.wfile.write(body)
      return

    start = 0
    if range_header and fault != IGNORE_RANGE:
      spec = range_header.strip()
      if spec.startswith("bytes=") and spec.endswith("-") and spec[6:-1].isdigit():
        start = int(spec[6:-1])
      if start >= len(data):
        self.send_response(416)
        self.send_header("Content-Range", f"bytes */{len(data)}")
        self.send_header("Content-Length", "0")
        self.end_headers()
        return
    body = data[start:]
    self.send_response(206 if start else 200)
    if start:
      self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
    self.send_header("Accept-Ranges", "bytes")
    self.send_header("Content-Type", "application/octet-stream")
    if fault != CUT_NO_LENGTH:
      self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    if fault in (CUT, CUT_NO_LENGTH, STALL):
      self.wfile.write(body[:len(body) // 2])
      self.wfile.flush()
      if fault == STALL:
        deadline = time.monotonic() + _STALL_LIMIT_S
        while time.monotonic() < deadline and not self.server.stopping.is_set():
          time.sleep(0.05)
      self.close_connection = True
      return
    if self.command != "HEAD":
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

  do_HEAD = do_GET  # pylint: disable=invalid-name  (headers only: see the last write)


class _Server(http.server.ThreadingHTTPServer):
  daemon_threads = True
  allow_reuse_address = True

  def __init__(self, mirror: "MirrorServer"):
    self.mirror = mirror
    self.stopping = threading.Event()
    super().__init__(("127.0.0.1", 0), _Handler)

  def handle_error(self, request, client_address):  # a client hanging up is expected
    pass


class MirrorServer:
  """An HTTP server on 127.0.0.1 with a free port; use as a context manager."""

  def __init__(self):
    self.files: Dict[str, bytes] = {}
    self.redirects: Dict[str, str] = {}
    self.faults: Dict[str, List[Fault]] = {}
    self.always: Dict[str, Fault] = {}
    self.requests: List[Tuple[str, Optional[str]]] = []
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
