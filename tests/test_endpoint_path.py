"""The interface endpoint's data path in one process, as a worker runs it: a listening socket of the endpoint's
interface (``Listeners._accept_relaying``) -> ``Endpoints.connect`` -> ``Nodes.connect`` -> ``relay.start`` ->
a real target on loopback. Checks the bookkeeping the relays report to as they end (``Relay.when_ended``): open
relays are filed under their target and their endpoint, ended ones are forgotten, and a snapshot in which the
endpoint is no longer available resets the open ones."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

from latticework.dataplane.listeners import Listeners
from latticework.dataplane.plane import Plane
from latticework.dataplane.relay import End
from latticework.snapshot.model import (VPC_ENDPOINT, FabricInterface, HealthCheck, InterfaceEndpoint,
                                        NetworkLoadBalancer, Snapshot, Target, TargetGroup)

LOCAL = "127.0.0.1"


def snapshot(target_port: int, available: bool = True) -> Snapshot:
    group = TargetGroup(id="tg", arn="arn", name="tg", account="1", region="r", type="IP", protocol="TCP",
                        protocol_version="", port=target_port, vpc_id="vpc-p", health_check=HealthCheck(enabled=False),
                        targets=(Target(key="tg/t", id="10.1.0.10", port=target_port, address=(LOCAL, target_port)),))
    return Snapshot(
        revision=1, nlb_groups={"tg": group},
        balancers={"lb": NetworkLoadBalancer(id="lb", arn="arn", vpc_id="vpc-p", listeners={80: "tg"})},
        interfaces={LOCAL: FabricInterface(id="eni-1", vpc_id="vpc-c", zone="z", private_ip="10.2.0.5",
                                           address=LOCAL, owner="vpce-1", owner_kind=VPC_ENDPOINT)},
        endpoints={"vpce-1": InterfaceEndpoint(id="vpce-1", vpc_id="vpc-c", service_id="vpce-svc-1",
                                               available=available, balancers=("lb",))})


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The target: answers each line with its upper case, and closes when the client does."""
    while line := await reader.readline():
        writer.write(line.upper())
    writer.close()


def test_relays_are_filed_while_open_forgotten_when_ended_and_cut_when_the_endpoint_goes():
    async def scenario():
        loop = asyncio.get_running_loop()
        target = await asyncio.start_server(_answer, LOCAL, 0)
        plane = Plane(snapshot=snapshot(target.sockets[0].getsockname()[1]))
        listeners = Listeners(plane)
        sock = socket.create_server((LOCAL, 0))
        sock.setblocking(False)
        accepting = asyncio.create_task(listeners._accept_relaying(sock, LOCAL, 80))

        async def exchange(close: bool = True) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            reader, writer = await asyncio.open_connection(*sock.getsockname())
            writer.write(b"ping\n")
            assert await asyncio.wait_for(reader.readline(), 10) == b"PING\n"
            if close:
                writer.write_eof()  # half-close: the target closes in turn, and the relay completes
                assert await asyncio.wait_for(reader.read(), 10) == b""
                writer.close()
            return reader, writer

        await asyncio.gather(*(exchange() for _ in range(20)))
        async with asyncio.timeout(10):
            while listeners.nodes.relays or listeners.endpoints.through:  # the last relays end as the loop turns
                await asyncio.sleep(0.01)
        assert listeners.accepted == 20

        reader, writer = await exchange(close=False)
        [(key, open_relays)] = listeners.nodes.relays.items()
        assert key == ("tg", "tg/t") and len(open_relays) == 1
        assert listeners.endpoints.through == {("vpce-1", LOCAL): open_relays}
        [relay] = open_relays
        plane.snapshot = dataclasses.replace(plane.snapshot, endpoints={
            "vpce-1": dataclasses.replace(plane.snapshot.endpoints["vpce-1"], available=False)})
        assert listeners.endpoints.cut(plane.snapshot) == 1
        assert relay.reason is End.CUT and await relay.wait() is End.CUT
        assert not listeners.nodes.relays and not listeners.endpoints.through
        try:
            async with asyncio.timeout(10):
                assert await reader.read() == b""
        except ConnectionResetError:
            pass  # the cut resets the client: either way, nothing more comes
        writer.close()

        accepting.cancel()
        await asyncio.gather(accepting, return_exceptions=True)
        assert sock.fileno() == -1  # the accept loop closes its socket when the port goes
        target.close()
        await target.wait_closed()

    asyncio.run(scenario())
