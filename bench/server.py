"""Serve a benchmark corpus on 127.0.0.1 the way a real news site does.

Each ``ok`` or ``broken`` feed has a stable ``ETag`` and ``Last-Modified`` and answers a
matching conditional GET with 304; ``error`` feeds answer 503; ``timeout`` feeds hold the
request for ``hang`` seconds before answering nothing useful.  ``latency`` seconds are added
to every request (a distant server), without using CPU: each request has its own thread.
"""

from __future__ import annotations

import hashlib
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from corpus import Corpus, Feed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # thousands of feeds asked for at once must not be refused


class FeedServer:
    """The corpus at ``http://127.0.0.1:<port>/feeds/<i>.xml``, in background threads."""

    def __init__(self, corpus: Corpus, *, latency: float = 0.0, hang: float = 30.0) -> None:
        self.serve(corpus.feeds)
        self.requests = 0
        self.not_modified = 0
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add 40 ms to every response, which no real server does.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server_self.requests += 1
                if latency:
                    time.sleep(latency)
                feeds, etags, modified = server_self.documents  # one version of the corpus
                feed = feeds.get(self.path)
                if feed is None:
                    self._send(404, b"not found")
                    return
                if feed.kind == "error":
                    self._send(503, b"unavailable")
                    return
                if feed.kind == "timeout":
                    time.sleep(hang)
                    self._send(504, b"late")
                    return
                etag = etags[self.path]
                if self.headers.get("If-None-Match") == etag or (
                    self.headers.get("If-Modified-Since") == modified[self.path]
                    and "If-None-Match" not in self.headers
                ):
                    server_self.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send(200, feed.body, etag=etag, modified=modified[self.path])

            def _send(
                self, status: int, body: bytes, etag: str | None = None, modified: str | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if etag:
                    self.send_header("ETag", etag)
                if modified:
                    self.send_header("Last-Modified", modified)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, feeds: tuple[Feed, ...]) -> None:
        """Serve ``feeds`` from now on (``Corpus.later``: a poll interval later).  A feed whose
        body changed gets a new ``ETag`` and ``Last-Modified``, as a real server's would."""
        documents = {feed.path: feed for feed in feeds}
        etags = {p: '"' + hashlib.sha1(f.body).hexdigest()[:16] + '"' for p, f in documents.items()}
        before = getattr(self, "documents", None)
        stamp = formatdate(time.time() - (3600 if before is None else 0), usegmt=True)
        modified = {
            path: before[2][path] if before and before[1].get(path) == etag else stamp
            for path, etag in etags.items()
        }
        self.documents = (documents, etags, modified)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
