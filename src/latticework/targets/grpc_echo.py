"""A gRPC echo target: ``python -m latticework.targets.grpc_echo --port P --name NAME``.

A plaintext grpcio server (what a GRPC target group with protocol ``HTTP``
reaches) with one service, ``latticework.Echo``, served by a generic handler:
messages are raw bytes, so no protobuf code generation is needed, and any
client can call it with ``channel.unary_unary("/latticework.Echo/Say")``.

=====================  =============  ===================================================
method                 kind           answer
=====================  =============  ===================================================
``Say``                unary          ``NAME:`` + request, then one line per request
                                      metadata entry (``key=value``, sorted) — so a
                                      caller sees the headers Lattice added
``Stream``             server stream  ``x-echo-count`` messages (default 3):
                                      ``NAME:<i>:`` + request
``Collect``            client stream  ``NAME:<n>:`` + the n request messages joined
=====================  =============  ===================================================

Every method sets the trailing metadata ``x-echo-name: NAME``. When the request
carries ``x-echo-status: <gRPC status name>`` (and optionally
``x-echo-message``), the call ends with that status instead (``Stream`` after
its messages): so status codes and trailers can be checked end to end.

Prints ``ready NAME on HOST:PORT`` once serving (``--port 0`` picks a free
port) and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from concurrent import futures
from typing import Iterable, Iterator

import grpc

SERVICE = "latticework.Echo"
DEFAULT_COUNT = 3


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata():
        found[key] = value.hex() if isinstance(value, bytes) else value
    return found


class Echo:
    """The three methods; ``name`` tells which target answered."""

    def __init__(self, name: str):
        self.name = name

    def say(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        metadata = self._begin(context)
        self._maybe_fail(metadata, context)
        lines = "".join(f"\n{k}={v}" for k, v in sorted(metadata.items()))
        return f"{self.name}:".encode() + request + lines.encode()

    def stream(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        metadata = self._begin(context)
        for i in range(int(metadata.get("x-echo-count", DEFAULT_COUNT))):
            yield f"{self.name}:{i}:".encode() + request
        self._maybe_fail(metadata, context)

    def collect(self, requests: Iterable[bytes], context: grpc.ServicerContext) -> bytes:
        metadata = self._begin(context)
        received = list(requests)
        self._maybe_fail(metadata, context)
        return f"{self.name}:{len(received)}:".encode() + b"".join(received)

    def _begin(self, context: grpc.ServicerContext) -> dict[str, str]:
        context.set_trailing_metadata((("x-echo-name", self.name),))
        return _metadata(context)

    @staticmethod
    def _maybe_fail(metadata: dict[str, str], context: grpc.ServicerContext) -> None:
        wanted = metadata.get("x-echo-status")
        if wanted and wanted.upper() != "OK":
            code = grpc.StatusCode[wanted.upper()]
            context.abort(code, metadata.get("x-echo-message", f"asked for {code.name}"))


class EchoHandler(grpc.GenericRpcHandler):
    """Maps ``/latticework.Echo/<Method>`` to ``Echo``; bytes in, bytes out (no serializers)."""

    def __init__(self, echo: Echo):
        self.methods: dict[str, grpc.RpcMethodHandler] = {
            f"/{SERVICE}/Say": grpc.unary_unary_rpc_method_handler(echo.say),
            f"/{SERVICE}/Stream": grpc.unary_stream_rpc_method_handler(echo.stream),
            f"/{SERVICE}/Collect": grpc.stream_unary_rpc_method_handler(echo.collect),
        }

    def service(self, handler_call_details: grpc.HandlerCallDetails):
        return self.methods.get(handler_call_details.method)


def serve(host: str, port: int, name: str, workers: int = 16) -> tuple[grpc.Server, int]:
    """Start the server; returns it and the port it listens on."""
    # so_reuseport off: a second server on a taken port must fail, not share it silently.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((EchoHandler(Echo(name)),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latticework.targets.grpc_echo", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: a free one)")
    parser.add_argument("--name", default="grpc-echo", help="names this target in every answer")
    args = parser.parse_args(argv)
    try:
        server, port = serve(args.host, args.port, args.name)
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"ready {args.name} on {args.host}:{port}", flush=True)
    stop.wait()
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
