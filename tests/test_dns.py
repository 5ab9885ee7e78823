"""Per-VPC DNS: the pure answer function over a hand-built snapshot, then real UDP and TCP
resolvers on loopback ephemeral ports, forwarding to a fake upstream server started here."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import pytest
from dnslib import EDNS0, QTYPE, RCODE, RR, TXT, A, DNSRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from latticework.dns.resolver import (
    FORWARD, TTL, Resolvers, Upstreams, VpcResolver, answer, framed, host_upstreams, is_generated, parse,
    read_framed,
)
from latticework.fabric import Fabric
from latticework.snapshot.model import Route, Service, ServiceNetwork, Snapshot, VpcView

ACCOUNT, REGION = "111122223333", "us-east-1"
ZONE = f"7d67968.vpc-lattice-svcs.{REGION}.on.aws"


def service(name: str, sid: str, custom: str | None = None) -> Service:
    return Service(id=sid, arn=f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:service/{sid}", name=name, account=ACCOUNT,
                   region=REGION, dns_name=f"{name}-{sid[4:]}.{ZONE}", custom_domain=custom, certificate_arn=None,
                   auth_type="NONE", idle_timeout=60.0)


NETWORK = ServiceNetwork(id="sn-0123456789abcdef0", arn=f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT}:servicenetwork/sn-0",
                         name="net", account=ACCOUNT, auth_type="NONE")
S = service("billing", "svc-0123456789abcdef0", custom="billing.example.internal")


def vpc(vpc_id: str, block: str, services: tuple[Service, ...]) -> VpcView:
    routes = {name: Route(s, NETWORK) for s in services for name in s.names()}
    return VpcView(vpc_id=vpc_id, arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vpc_id}", account=ACCOUNT, region=REGION,
                   resolver=f"{block}.2", lattice=f"{block}.10", routes=routes)


def snapshot(*views: VpcView, revision: int = 1) -> Snapshot:
    return Snapshot(revision=revision, vpcs={v.vpc_id: v for v in views},
                    by_address={a: v.vpc_id for v in views for a in (v.resolver, v.lattice)},
                    services={S.id: S})


REACHING = vpc("vpc-0aaaaaaaaaaaaaaaa", "127.127.251", (S,))
ISOLATED = vpc("vpc-0bbbbbbbbbbbbbbbb", "127.127.252", ())
SNAPSHOT = snapshot(REACHING, ISOLATED)


def q(name: str, qtype: str = "A", edns: bool = False) -> DNSRecord:
    record = DNSRecord.question(name, qtype)
    if edns:
        record.add_ar(EDNS0(udp_len=4096))
    return record


# -- the pure part ---------------------------------------------------------------------

def test_reachable_names_answer_the_vpcs_lattice_address():
    for name in (S.dns_name, S.dns_name.upper() + ".", "Billing.Example.Internal."):
        reply = answer(REACHING, q(name))
        assert reply.header.rcode == RCODE.NOERROR and reply.header.qr and reply.header.ra
        assert [(str(rr.rdata), rr.ttl, rr.rtype) for rr in reply.rr] == [("127.127.251.10", TTL, QTYPE.A)]
        assert str(reply.rr[0].rname) == str(q(name).q.qname)  # the name as asked, case kept


def test_other_types_of_reachable_names_are_empty():
    for qtype in ("AAAA", "TXT", "MX", "CNAME"):
        reply = answer(REACHING, q(S.dns_name, qtype))
        assert reply.header.rcode == RCODE.NOERROR and reply.rr == []


def test_generated_names_of_unreachable_services_do_not_exist():
    reply = answer(ISOLATED, q(S.dns_name))
    assert reply.header.rcode == RCODE.NXDOMAIN and reply.rr == []
    assert answer(REACHING, q(f"other-0fff.{ZONE}")).header.rcode == RCODE.NXDOMAIN
    assert answer(REACHING, q(f"x.vpc-lattice-rsc.{REGION}.on.aws", "AAAA")).header.rcode == RCODE.NXDOMAIN


def test_a_name_above_a_reachable_one_exists_without_records():
    assert answer(REACHING, q(ZONE)).header.rcode == RCODE.NOERROR
    assert answer(ISOLATED, q(ZONE)).header.rcode == RCODE.NXDOMAIN


def test_custom_names_of_unreachable_services_and_other_names_are_forwarded():
    assert answer(ISOLATED, q("billing.example.internal")) is FORWARD
    assert answer(REACHING, q("example.com")) is FORWARD
    assert answer(REACHING, q("on.aws")) is FORWARD


def test_a_vanished_vpc_refuses():
    assert answer(None, q(S.dns_name)).header.rcode == RCODE.REFUSED


def test_edns_is_answered_with_edns():
    reply = answer(REACHING, q(S.dns_name, edns=True))
    assert [rr.rtype for rr in reply.ar] == [QTYPE.OPT]
    assert answer(REACHING, q(S.dns_name)).ar == []


def test_parse_drops_garbage_and_responses_and_answers_formerr():
    assert parse(b"") is None and parse(b"\x12\x34\x01") is None
    assert parse(q("x.example").reply().pack()) is None  # a response
    bad_body = DNSRecord.parse(parse(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"))
    assert bad_body.header.id == 0x1234 and bad_body.header.rcode == RCODE.FORMERR and bad_body.header.qr
    no_question = DNSRecord.parse(parse(b"\x00\x07\x01\x00" + b"\x00" * 8))
    assert no_question.header.rcode == RCODE.FORMERR
    notify = q("x.example")
    notify.header.opcode = 4
    assert DNSRecord.parse(parse(notify.pack())).header.rcode == RCODE.NOTIMP


label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@st.composite
def names(draw) -> str:
    kind = draw(st.sampled_from(["route", "generated", "other"]))
    if kind == "route":
        base = draw(st.sampled_from(sorted(REACHING.routes)))
        return "".join(c.upper() if draw(st.booleans()) else c for c in base)
    labels = draw(st.lists(label, min_size=1, max_size=4))
    suffix = [ZONE] if kind == "generated" else []
    return ".".join(labels + suffix)


@settings(max_examples=300, deadline=None)
@given(name=names(), qtype=st.sampled_from(["A", "AAAA", "TXT", "ANY", "MX"]),
       view=st.sampled_from([REACHING, ISOLATED]), dot=st.booleans())
def test_every_answer_follows_the_rules(name, qtype, view, dot):
    reply = answer(view, q(name + ("." if dot else ""), qtype))
    key = name.lower()
    if key in view.routes:
        expected = [view.lattice] if qtype in ("A", "ANY") else []
        assert reply.header.rcode == RCODE.NOERROR and [str(rr.rdata) for rr in reply.rr] == expected
    elif is_generated(key):
        assert reply.header.rcode in (RCODE.NXDOMAIN, RCODE.NOERROR) and reply.rr == []
    else:
        assert reply is FORWARD


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=600))
def test_parse_never_raises(data):
    result = parse(data)
    assert result is None or isinstance(result, (bytes, DNSRecord))


def test_host_upstreams_skip_fabric_addresses(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch corp.example\nnameserver 127.64.0.2\nnameserver 10.0.0.2\n"
                    "nameserver 127.200.0.2\nnameserver not-an-address\nnameserver 2001:db8::53\n"
                    "nameserver 127.0.0.53\n")
    found = host_upstreams(str(conf), Fabric.parse("127.200.0.0/16"))
    assert found == [("10.0.0.2", 53), ("2001:db8::53", 53), ("127.0.0.53", 53)]
    assert host_upstreams(str(tmp_path / "missing")) == [("127.0.0.1", 53)]


# -- real sockets ------------------------------------------------------------------------

BIG_RECORDS = 60  # ~1 KB of A records: more than 512 bytes, less than 4096


class FakeUpstream:
    """A host resolver stand-in: ``*.example`` -> 192.0.2.1; ``big.example`` is truncated over UDP;
    ``slow.example`` is never answered."""

    def __init__(self):
        self.udp_queries: list[str] = []
        self.tcp_queries: list[str] = []

    async def start(self) -> int:
        """Listen on one free port for both UDP and TCP (another process may hold the TCP one: try again)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            self.udp, _ = await loop.create_datagram_endpoint(lambda: _UpstreamUdp(self), local_addr=("127.0.0.1", 0))
            self.port = self.udp.get_extra_info("sockname")[1]
            try:
                self.tcp = await asyncio.start_server(self._tcp, "127.0.0.1", self.port)
                return self.port
            except OSError:
                self.udp.close()
        raise RuntimeError("no port free for both UDP and TCP")

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()

    def reply(self, data: bytes, over_udp: bool) -> bytes | None:
        query = DNSRecord.parse(data)
        name = str(query.q.qname).rstrip(".")
        (self.udp_queries if over_udp else self.tcp_queries).append(name)
        if name == "slow.example":
            return None
        reply = query.reply()
        if name == "big.example":
            if over_udp:  # an upstream without EDNS: anything over 512 bytes is truncated
                reply.header.tc = 1
                return reply.pack()
            for i in range(BIG_RECORDS):
                reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(f"192.0.2.{i}"), ttl=30))
        elif name == "text.example":
            reply.add_answer(RR(query.q.qname, QTYPE.TXT, rdata=TXT("x" * 200), ttl=30))
        else:
            reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A("192.0.2.1"), ttl=30))
        return reply.pack()

    async def _tcp(self, reader, writer):
        while (data := await read_framed(reader)) is not None:
            reply = self.reply(data, over_udp=False)
            if reply is not None:
                writer.write(framed(reply))
        writer.close()


class _UpstreamUdp(asyncio.DatagramProtocol):
    def __init__(self, upstream: FakeUpstream):
        self.upstream = upstream

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        reply = self.upstream.reply(data, over_udp=True)
        if reply is not None:
            self.transport.sendto(reply, addr)


class _Client(asyncio.DatagramProtocol):
    def __init__(self):
        self.replies: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.replies.put_nowait(data)


async def udp_exchange(port: int, payload: bytes, host: str = "127.0.0.1", timeout: float = 3.0) -> bytes | None:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(_Client, remote_addr=(host, port))
    try:
        transport.sendto(payload)
        return await asyncio.wait_for(client.replies.get(), timeout)
    except asyncio.TimeoutError:
        return None
    finally:
        transport.close()


async def udp_query(port: int, record: DNSRecord, host: str = "127.0.0.1") -> DNSRecord:
    """Ask as a stub resolver does: UDP may lose a datagram under load, so try again (glibc: attempts:2)."""
    for _ in range(3):
        data = await udp_exchange(port, record.pack(), host, timeout=1.5)
        if data is not None:
            return DNSRecord.parse(data)
    raise AssertionError(f"no reply to {record.q.qname}")


async def tcp_query(port: int, record: DNSRecord, host: str = "127.0.0.1") -> DNSRecord:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(framed(record.pack()))
        return DNSRecord.parse(await asyncio.wait_for(read_framed(reader), 3.0))
    finally:
        writer.close()


def addresses(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]


def run(scenario, timeout: float = 0.5, view: VpcView | None = REACHING, idle_timeout: float = 10.0):
    """Run ``scenario(resolver_port, upstream)`` against a resolver of ``view`` on 127.0.0.1."""
    async def main():
        upstream = FakeUpstream()
        await upstream.start()
        resolver = VpcResolver("127.0.0.1", 0, lambda: view, Upstreams([("127.0.0.1", upstream.port)], timeout),
                               idle_timeout=idle_timeout)
        port = await resolver.start()
        try:
            await scenario(port, upstream)
        finally:
            await resolver.close()
            upstream.close()
    asyncio.run(main())


def test_answers_from_the_vpc_view_over_udp_and_tcp():
    async def scenario(port, upstream):
        for ask in (udp_query, tcp_query):
            assert addresses(await ask(port, q(S.dns_name))) == ["127.127.251.10"]
            assert (await ask(port, q(f"nope.{ZONE}"))).header.rcode == RCODE.NXDOMAIN
            assert (await ask(port, q(S.dns_name, "AAAA"))).rr == []
        assert upstream.udp_queries == [] and upstream.tcp_queries == []
    run(scenario)


def test_other_names_are_forwarded_to_the_host_resolver():
    async def scenario(port, upstream):
        record = q("www.example")
        reply = await udp_query(port, record)
        assert reply.header.id == record.header.id and addresses(reply) == ["192.0.2.1"]
        assert addresses(await tcp_query(port, q("api.example"))) == ["192.0.2.1"]
        assert upstream.udp_queries == ["www.example", "api.example"] and upstream.tcp_queries == []
    run(scenario)


def test_custom_domain_of_an_unreachable_service_is_forwarded():
    async def scenario(port, upstream):
        assert addresses(await udp_query(port, q("billing.example.internal"))) == ["192.0.2.1"]
        assert (await udp_query(port, q(S.dns_name))).header.rcode == RCODE.NXDOMAIN
    run(scenario, view=ISOLATED)


def test_truncated_upstream_replies_are_asked_again_over_tcp():
    async def scenario(port, upstream):
        full = await tcp_query(port, q("big.example"))
        assert len(addresses(full)) == BIG_RECORDS and not full.header.tc
        assert upstream.udp_queries == ["big.example"] and upstream.tcp_queries == ["big.example"]
        roomy = await udp_query(port, q("big.example", edns=True))  # 4096 bytes fit the whole answer
        assert len(addresses(roomy)) == BIG_RECORDS and not roomy.header.tc
        classic = await udp_query(port, q("big.example"))  # 512 bytes: TC, the client asks again over TCP
        assert classic.header.tc and classic.rr == [] and str(classic.q.qname) == "big.example."
    run(scenario)


def test_an_upstream_that_does_not_answer_means_servfail():
    async def scenario(port, upstream):
        started = asyncio.get_running_loop().time()
        for ask in (udp_query, tcp_query):
            assert (await ask(port, q("slow.example"))).header.rcode == RCODE.SERVFAIL
        assert asyncio.get_running_loop().time() - started < 2.0
        assert addresses(await udp_query(port, q("fast.example"))) == ["192.0.2.1"]
    run(scenario, timeout=0.3)


def test_no_upstream_listening_means_servfail():
    async def scenario(port, upstream):
        upstream.close()
        assert (await udp_query(port, q("www.example"))).header.rcode == RCODE.SERVFAIL
    run(scenario, timeout=2.0)


def test_malformed_packets_never_stop_the_resolver():
    async def scenario(port, upstream):
        assert await udp_exchange(port, b"\x01", timeout=0.2) is None  # no header: dropped
        assert await udp_exchange(port, q("x.example").reply().pack(), timeout=0.2) is None  # a response
        formerr = await udp_exchange(port, b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01")
        assert DNSRecord.parse(formerr).header.rcode == RCODE.FORMERR and formerr[:2] == b"\xab\xcd"
        for junk in (os.urandom(n) for n in (12, 40, 300, 1400)):
            await udp_exchange(port, junk, timeout=0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(framed(b"\x00\x01garbage"))  # too short for a header: the resolver hangs up
        assert await asyncio.wait_for(reader.read(), 3.0) == b""
        writer.close()
        assert addresses(await udp_query(port, q(S.dns_name))) == ["127.127.251.10"]
        assert addresses(await tcp_query(port, q(S.dns_name))) == ["127.127.251.10"]
    run(scenario)


def test_a_stalled_tcp_client_blocks_no_one_and_is_dropped():
    async def scenario(port, upstream):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\xff\xff\x00\x00")  # promises 65535 bytes, sends two
        for ask in (udp_query, tcp_query):
            assert addresses(await ask(port, q(S.dns_name))) == ["127.127.251.10"]
        assert await asyncio.wait_for(reader.read(), 3.0) == b""  # closed after the idle timeout
        writer.close()
    run(scenario, idle_timeout=0.3)


def test_many_concurrent_queries_are_all_answered():
    async def scenario(port, upstream):
        asks = [udp_query(port, q(S.dns_name if i % 2 else f"n{i}.example")) for i in range(300)]
        asks += [tcp_query(port, q(S.dns_name if i % 2 else f"t{i}.example")) for i in range(40)]
        asks += [udp_query(port, q("slow.example")) for _ in range(20)]
        replies = await asyncio.gather(*asks)
        for i, reply in enumerate(replies[:300]):
            assert addresses(reply) == (["127.127.251.10"] if i % 2 else ["192.0.2.1"])
        for i, reply in enumerate(replies[300:340]):
            assert addresses(reply) == (["127.127.251.10"] if i % 2 else ["192.0.2.1"])
        assert all(r.header.rcode == RCODE.SERVFAIL for r in replies[340:])
    run(scenario, timeout=0.5)


def test_resolvers_follow_the_applied_snapshots(caplog):
    """One resolver per VPC at its own address; answers follow the newest snapshot; gone VPCs stop listening."""
    async def main():
        upstream = FakeUpstream()
        await upstream.start()
        resolvers = Resolvers(port=0, upstreams=[("127.0.0.1", upstream.port)], timeout=0.5)
        try:
            await resolvers.apply(SNAPSHOT)
            a, b = resolvers.port_of(REACHING.resolver), resolvers.port_of(ISOLATED.resolver)
            assert addresses(await udp_query(a, q(S.dns_name), REACHING.resolver)) == [REACHING.lattice]
            assert (await tcp_query(b, q(S.dns_name), ISOLATED.resolver)).header.rcode == RCODE.NXDOMAIN
            # S joins B's networks and leaves A's: the same sockets answer the other way round.
            await resolvers.apply(snapshot(vpc(REACHING.vpc_id, "127.127.251", ()),
                                           vpc(ISOLATED.vpc_id, "127.127.252", (S,)), revision=2))
            assert resolvers.port_of(REACHING.resolver) == a
            assert (await udp_query(a, q(S.dns_name), REACHING.resolver)).header.rcode == RCODE.NXDOMAIN
            assert addresses(await udp_query(b, q(S.dns_name), ISOLATED.resolver)) == [ISOLATED.lattice]
            await resolvers.apply(snapshot(REACHING, revision=3))
            assert resolvers.port_of(ISOLATED.resolver) is None
            with pytest.raises(OSError):
                await asyncio.open_connection(ISOLATED.resolver, b)
            assert addresses(await udp_query(a, q(S.dns_name), REACHING.resolver)) == [REACHING.lattice]
        finally:
            await resolvers.close()
            upstream.close()
    asyncio.run(main())


def test_a_resolver_that_cannot_listen_is_reported_and_the_others_serve(caplog):
    async def main():
        taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        taken.bind(("127.127.253.2", 0))
        port = taken.getsockname()[1]
        blocked = vpc("vpc-0cccccccccccccccc", "127.127.253", (S,))
        serving = vpc("vpc-0dddddddddddddddd", "127.127.254", (S,))
        resolvers = Resolvers(port=port, upstreams=[])
        try:
            with caplog.at_level(logging.WARNING, logger="latticework.dns"):
                await resolvers.apply(snapshot(blocked, serving))
            assert resolvers.port_of(blocked.resolver) is None and "127.127.253.2" in caplog.text
            assert addresses(await udp_query(port, q(S.dns_name), serving.resolver)) == [serving.lattice]
            taken.close()  # the next snapshot tries again
            await resolvers.apply(snapshot(blocked, serving, revision=2))
            assert addresses(await tcp_query(port, q(S.dns_name), blocked.resolver)) == [blocked.lattice]
        finally:
            taken.close()
            await resolvers.close()
    asyncio.run(main())


def test_a_closed_resolver_frees_its_port():
    async def main():
        resolver = VpcResolver("127.0.0.1", 0, lambda: REACHING, Upstreams([]))
        port = await resolver.start()
        await resolver.close()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", port))
    asyncio.run(main())
