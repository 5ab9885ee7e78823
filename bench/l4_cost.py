"""What one relayed connection costs the data plane, in instructions: the steady figure behind the ``l4`` rows.

    valgrind --tool=callgrind --callgrind-out-file=cg.%p python bench/l4_cost.py N
    python bench/l4_cost.py N --profile          # cProfile of the same run, by function

One process runs an interface endpoint's path as a data-plane worker does
(``Listeners._accept_relaying`` on the endpoint interface's socket ->
``Endpoints.connect`` -> ``nlb.Nodes.connect`` -> ``relay.start`` -> connect ->
splice both ways -> close), on uvloop, for N connections. The client (N
connections, 32 at a time, each sending one request line, reading the answer
and the end of stream) and the target (answers once, closes) are separate
processes, so callgrind counts the data plane's instructions only. Run it at
two values of N and divide the difference of callgrind's totals by the
difference of N: the start-up cancels out, what is left is one connection's
cost, repeatable to a percent or so on a busy machine where wall-clock rates
are not (the kernel's share, syscalls, is not in it: see ``strace -c``).
"""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import sys
import time

LOCAL = "127.0.0.1"
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"


def target() -> None:
    """Answers the first bytes of every connection once and closes it; prints its port first."""
    server = socket.create_server((LOCAL, 0), backlog=1024)
    print(server.getsockname()[1], flush=True)
    poll = selectors.DefaultSelector()
    poll.register(server, selectors.EVENT_READ)
    while True:
        for key, _ in poll.select():
            sock = key.fileobj
            if sock is server:
                conn, _ = server.accept()
                conn.setblocking(False)
                poll.register(conn, selectors.EVENT_READ)
                continue
            assert isinstance(sock, socket.socket)
            try:
                if sock.recv(4096):
                    sock.send(ANSWER)
            except OSError:
                pass
            poll.unregister(sock)
            sock.close()


def client(port: int, n: int, at_once: int) -> None:
    """``n`` connections to ``port``, ``at_once`` at a time: send the request, read to the end of stream."""
    poll = selectors.DefaultSelector()
    opened = done = 0

    def open_one() -> None:
        nonlocal opened
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex((LOCAL, port))
        opened += 1
        poll.register(sock, selectors.EVENT_WRITE, "connecting")

    for _ in range(min(at_once, n)):
        open_one()
    while done < n:
        for key, _ in poll.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if key.data == "connecting":
                sock.send(REQUEST)
                poll.modify(sock, selectors.EVENT_READ, "reading")
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                poll.unregister(sock)
                sock.close()
                done += 1
                if opened < n:
                    open_one()


async def relay_through_endpoint(n: int) -> None:
    """The worker's side: an interface endpoint to an NLB whose TCP listener forwards to the target."""
    from latticework.dataplane.balancer import Balancer  # the data plane, only in this process
    from latticework.dataplane.listeners import Listeners
    from latticework.dataplane.plane import Plane
    from latticework.dataplane.worker import HealthView
    from latticework.snapshot.model import (VPC_ENDPOINT, FabricInterface, HealthCheck, InterfaceEndpoint,
                                            NetworkLoadBalancer, Snapshot, Target, TargetGroup)

    peer = [sys.executable, __file__]
    the_target = await asyncio.create_subprocess_exec(*peer, "--target", stdout=asyncio.subprocess.PIPE)
    assert the_target.stdout is not None
    port = int(await the_target.stdout.readline())
    group = TargetGroup(id="tg", arn="arn", name="tg", account="1", region="r", type="IP", protocol="TCP",
                        protocol_version="", port=port, vpc_id="vpc-p", health_check=HealthCheck(enabled=True),
                        targets=(Target(key="tg/t", id="10.1.0.10", port=port, address=(LOCAL, port)),))
    snapshot = Snapshot(
        revision=1, nlb_groups={"tg": group},
        balancers={"lb": NetworkLoadBalancer(id="lb", arn="arn", vpc_id="vpc-p", listeners={80: "tg"})},
        interfaces={LOCAL: FabricInterface(id="eni-1", vpc_id="vpc-c", zone="z", private_ip="10.2.0.5",
                                           address=LOCAL, owner="vpce-1", owner_kind=VPC_ENDPOINT)},
        endpoints={"vpce-1": InterfaceEndpoint(id="vpce-1", vpc_id="vpc-c", service_id="vpce-svc-1", available=True,
                                               balancers=("lb",))})
    plane = Plane(snapshot=snapshot)
    plane.balancer = Balancer(HealthView())  # as a worker has it: health (here: none reported), round robin
    listeners = Listeners(plane)
    sock = socket.create_server((LOCAL, 0), backlog=1024)
    sock.setblocking(False)
    accepting = asyncio.create_task(listeners._accept_relaying(sock, LOCAL, 80))
    began = time.perf_counter()
    clients = await asyncio.create_subprocess_exec(*peer, "--client", str(sock.getsockname()[1]), str(n))
    await clients.wait()
    took = time.perf_counter() - began
    while listeners.nodes.relays:  # the last relays end as the loop turns
        await asyncio.sleep(0.01)
    accepting.cancel()
    the_target.kill()
    await the_target.wait()
    print(f"{n} connections in {took:.2f} s ({n / took:.0f}/s), {listeners.accepted} relayed", file=sys.stderr)


def main() -> None:
    if sys.argv[1] == "--target":
        return target()
    if sys.argv[1] == "--client":
        return client(int(sys.argv[2]), int(sys.argv[3]), 32)
    import uvloop  # the data plane's loop

    n = int(sys.argv[1])
    if "--profile" in sys.argv:
        import cProfile
        import pstats
        profile = cProfile.Profile()
        profile.runcall(uvloop.run, relay_through_endpoint(n))
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    else:
        uvloop.run(relay_through_endpoint(n))


if __name__ == "__main__":
    main()
