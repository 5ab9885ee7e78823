"""A TCP front end on latticework.dataplane.relay, for the ``l4`` section: accept, relay to one target.

    python bench/relay_harness.py LISTEN_PORT TARGET_PORT [--processes N] [--copy] [--idle-timeout S]

Listens on 127.0.0.1:LISTEN_PORT and relays every connection to
127.0.0.1:TARGET_PORT, in N processes (default: one per CPU, as the data
plane's workers) that each bind the port with SO_REUSEPORT and run uvloop, as
the data plane does. ``--copy`` forces the buffered path instead of splice.
Prints ``ready`` once every process listens; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys

import uvloop

from latticework.dataplane.relay import start


async def serve(listen: int, target: int, splice: bool, idle_timeout: float, ready) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", listen))
    sock.listen(1024)
    sock.setblocking(False)
    address = ("127.0.0.1", target)

    def accept() -> None:
        for _ in range(64):  # what the backlog holds, a bounded batch per wake-up
            try:
                client, _ = sock.accept()
            except BlockingIOError:
                return
            start(client, address, idle_timeout=idle_timeout, splice=splice)

    loop.add_reader(sock.fileno(), accept)
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    ready()
    await stop


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("listen", type=int)
    parser.add_argument("target", type=int)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--copy", action="store_true", help="the buffered path, not splice")
    parser.add_argument("--idle-timeout", type=float, default=350.0)
    args = parser.parse_args()
    children = []
    reader, writer = os.pipe()
    for _ in range(args.processes):
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            uvloop.run(serve(args.listen, args.target, not args.copy, args.idle_timeout,
                             lambda: os.write(writer, b".")))
            os._exit(0)
        children.append(pid)
    os.close(writer)
    got = 0
    while got < args.processes:
        chunk = os.read(reader, 64)
        if not chunk:
            return 1
        got += len(chunk)
    print("ready", flush=True)

    def forward(signum, _frame) -> None:
        for pid in children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
    return 0


if __name__ == "__main__":
    sys.exit(main())
