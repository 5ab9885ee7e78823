"""An HTTP/1.1 echo target: answers every request with a picture of what it received.

    python -m latticework.targets.echo --port P [--host 127.0.0.1] --name NAME [--health-status N]

Once listening it prints one line, ``ready NAME on HOST:PORT`` (port 0 picks a
free port; the line names it). Connections are kept alive (HTTP/1.1), chunked
request bodies are decoded. Every request is answered with JSON::

    {"target": NAME, "method": ..., "path": ...,
     "headers": [[name, value], ...],      # as received, in order, names as sent
     "body_length": ..., "body_sha256": ...,
     "count": N,                           # the Nth request this process answered
     "health_checks": M,                   # GET /health requests answered so far
     "peer": [host, port]}                 # the connection it came on (connection reuse shows here)

``count`` goes up only once a request has been read in full, so a request
whose body never arrived completely is not counted (nor are health checks):
tests use it to prove a request did or did not reach the target.

Query parameters change the answer: ``status=N`` answers status N,
``delay=S`` waits S seconds first (drain and timeout tests), ``stream=N``
answers N bytes of body in chunked encoding instead of the JSON.
``GET /health`` answers ``ok`` with 200, or the ``--health-status`` given.
SIGTERM and SIGINT stop the server cleanly (exit status 0).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from urllib.parse import parse_qs, urlsplit

STREAM_PIECE = 64 * 1024


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], name: str, health_status: int):
        super().__init__(address, EchoHandler)
        self.name = name
        self.health_status = health_status
        self._count = 0
        self.health_checks = 0
        self._lock = threading.Lock()

    def next_count(self) -> int:
        with self._lock:
            self._count += 1
            return self._count

    def handle_error(self, request, client_address) -> None:
        """A client that goes away mid-request is routine for a target; stay quiet."""


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: with Nagle's algorithm the second waits for the
    # peer's delayed ACK (40 ms on Linux) on every kept-alive request.
    disable_nagle_algorithm = True
    server: EchoServer

    def __getattr__(self, name: str):
        # BaseHTTPRequestHandler dispatches to do_<METHOD>: answer every method, custom ones too.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args) -> None:
        """No access log: nobody reads a target's stderr, and a full pipe would block it."""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, ConnectionError):
            self.close_connection = True
            return
        url = urlsplit(self.path)
        if url.path == "/health" and self.command == "GET":
            with self.server._lock:
                self.server.health_checks += 1
            return self._send(self.server.health_status, b"ok", "text/plain")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        count = self.server.next_count()
        if "delay" in query:
            time.sleep(float(query["delay"]))
        status = int(query.get("status", 200))
        if "stream" in query:
            return self._stream(status, int(query["stream"]))
        self._send(status, json.dumps(self._picture(body, count)).encode(), "application/json")

    def _picture(self, body: bytes, count: int) -> dict:
        return {"target": self.server.name, "method": self.command, "path": self.path,
                "headers": [[n, v] for n, v in self.headers.items()], "body_length": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(), "count": count,
                "health_checks": self.server.health_checks, "peer": list(self.client_address[:2])}

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) != length:
            raise ConnectionError("request body cut short")
        return body

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._line().split(b";", 1)[0], 16):
            parts.append(self.rfile.read(size))
            if len(parts[-1]) != size or self._line() != b"":
                raise ValueError("malformed chunk")
        while self._line():  # trailers
            pass
        return b"".join(parts)

    def _line(self) -> bytes:
        line = self.rfile.readline(65537)
        if not line.endswith(b"\n"):
            raise ConnectionError("connection closed inside a chunked body")
        return line.rstrip(b"\r\n")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _stream(self, status: int, size: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.command == "HEAD":
            return
        for start in range(0, size, STREAM_PIECE):
            piece = _pattern(start, min(STREAM_PIECE, size - start))
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")


_PERIOD = bytes(range(251)) * (STREAM_PIECE // 251 + 2)


def _pattern(start: int, length: int) -> bytes:
    """Deterministic bytes, so a client can check a streamed body: byte i is i mod 251."""
    if length > STREAM_PIECE:
        return b"".join(_pattern(s, min(STREAM_PIECE, start + length - s)) for s in range(start, start + length,
                                                                                          STREAM_PIECE))
    return _PERIOD[start % 251:start % 251 + length]


def stream_body(size: int) -> bytes:
    """The body ``?stream=size`` answers."""
    return _pattern(0, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latticework.targets.echo", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--name", required=True)
    parser.add_argument("--health-status", type=int, default=200)
    args = parser.parse_args(argv)
    server = EchoServer((args.host, args.port), args.name, args.health_status)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, which runs in this very thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    assert isinstance(host, str)  # an IP server: (host, port, ...)
    print(f"ready {args.name} on {host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
