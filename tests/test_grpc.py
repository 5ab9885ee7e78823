"""gRPC end to end: grpcio client -> TLS (ALPN h2, SNI) -> Http2Server -> Http2Upstream -> grpc_echo process.

The client trusts the local CA and names the service by SNI and
``:authority`` (``grpc.ssl_target_name_override`` / ``grpc.default_authority``),
as a client in a VPC does. The data plane runs on its own event loop in a
thread; the target is a real ``python -m latticework.targets.grpc_echo``
process. Requests reach the upstream both through ``proxy.handle`` (routing,
rules, the protocol-version matrix, Lattice's headers) and through a minimal
forwarding handler (one target group, one target), which isolates the front
end and the upstream from the proxy.
"""

from __future__ import annotations

import asyncio
import select
import socket
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from latticework.dataplane.exchange import Connection, Request, UpstreamError
from latticework.dataplane.http2 import Http2Server
from latticework.dataplane.plane import Limits, Plane
from latticework.dataplane.tls import CertificateAuthority, Certificates
from latticework.dataplane.upstream_http2 import Http2Upstream
from latticework.snapshot.model import (
    HTTPS, Forward, HealthCheck, Listener, Route, Rule, Service, ServiceNetwork, Snapshot, Target, TargetGroup,
    VpcView, WeightedTargetGroup,
)

LATTICE = "127.0.0.1"
KINDS = ["proxy", "direct"]
NAME = "greeter-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
DOWN = "down-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
ACCOUNT = "111122223333"


# -- the target process --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def echo_target():
    process = subprocess.Popen([sys.executable, "-m", "latticework.targets.grpc_echo", "--port", "0",
                                "--name", "blue"], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("ready blue on "), f"grpc_echo did not start: {line!r}"
        host, port = line.split()[-1].rsplit(":", 1)
        yield host, int(port)
    finally:
        process.terminate()
        process.wait(10)


def _free_port() -> int:
    """A port nothing listens on (bound, then released) for the unreachable target."""
    with socket.socket() as s:
        s.bind((LATTICE, 0))
        return s.getsockname()[1]


# -- the snapshot the data plane serves ---------------------------------------------------------

def _group(gid: str, address: tuple[str, int]) -> TargetGroup:
    target = Target(key=f"{gid}-t1", id=address[0], port=address[1], address=address)
    return TargetGroup(id=gid, arn=f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:targetgroup/{gid}", name=gid,
                       account=ACCOUNT, region="us-east-1", type="IP", protocol="HTTP", protocol_version="GRPC",
                       port=address[1], vpc_id="vpc-1", health_check=HealthCheck(enabled=False),
                       targets=(target,), used=True)


def _service(sid: str, name: str, gid: str, ports: list[int]) -> Service:
    rule = Rule(id=f"rule-{sid}", arn="arn:rule", name="default", priority=None, match=None,
                action=Forward((WeightedTargetGroup(gid, 100),)), is_default=True)
    listeners = {port: Listener(id=f"listener-{sid}-{port}", arn=f"arn:listener-{sid}-{port}", name=f"grpc-{port}",
                                protocol=HTTPS, port=port, rules=(rule,)) for port in ports}
    return Service(id=sid, arn=f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:service/{sid}", name=sid, account=ACCOUNT,
                   region="us-east-1", dns_name=name, custom_domain=None, certificate_arn=None, auth_type="NONE",
                   idle_timeout=60.0, listeners=listeners)


def snapshot(target: tuple[str, int], ports: list[int]) -> Snapshot:
    """Two services with an HTTPS listener on each of ``ports``: one reaches the echo target, one nothing."""
    groups = {"tg-echo": _group("tg-echo", target), "tg-down": _group("tg-down", (LATTICE, _free_port()))}
    services = {"svc-echo": _service("svc-echo", NAME, "tg-echo", ports),
                "svc-down": _service("svc-down", DOWN, "tg-down", ports)}
    network = ServiceNetwork(id="sn-1", arn=f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:servicenetwork/sn-1",
                             name="net", account=ACCOUNT, auth_type="NONE")
    vpc = VpcView(vpc_id="vpc-1", arn=f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-1", account=ACCOUNT,
                  region="us-east-1", resolver="127.0.0.2", lattice=LATTICE,
                  routes={s.dns_name: Route(s, network) for s in services.values()})
    return Snapshot(revision=1, vpcs={"vpc-1": vpc}, by_address={LATTICE: "vpc-1"}, services=services,
                    target_groups=groups)


# -- handlers: a minimal forwarder, and the proxy --------------------------------------------------

async def forward_directly(plane: Plane, conn: Connection, request: Request, responder) -> None:
    """Service by :authority, its default rule's single group and target, straight to the upstream."""
    from latticework.dataplane.router import route_for
    service = route_for(conn.vpc, request.authority).service
    group = plane.snapshot.target_groups[service.listeners[conn.port].rules[0].action.groups[0].target_group_id]
    try:
        await plane.upstream_for(group.protocol_version).forward(group.targets[0], group, request, responder, 10.0)
    except UpstreamError as exc:
        await responder.start(exc.status, [("content-length", "0")])
        await responder.end()


class _AllHealthy:
    generation = 0

    def state(self, group_id: str, target_key: str) -> str:
        return "UNAVAILABLE"


def _handler(kind: str):
    if kind == "direct":
        return forward_directly
    from latticework.dataplane import proxy
    return proxy.handle


class DataPlane:
    """An event loop in a thread serving HTTPS (h2) on ephemeral ports, the way the listeners would.

    One port per handler kind; the services have an HTTPS listener on each, so
    the proxy finds the listener of the port a connection arrived on.
    """

    def __init__(self, tmp: Path, target: tuple[str, int]):
        self.ca = CertificateAuthority.load_or_create(tmp / "ca")
        sockets = {kind: socket.create_server((LATTICE, 0)) for kind in KINDS}
        self.ports = {kind: sock.getsockname()[1] for kind, sock in sockets.items()}
        self.plane = Plane(snapshot=snapshot(target, list(self.ports.values())), limits=Limits(),
                           certificates=Certificates(self.ca, tmp / "user"))
        self.plane.upstreams = {"HTTP2": Http2Upstream(self.plane.limits)}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers = [self.call(self._serve(kind, sock)) for kind, sock in sockets.items()]

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _serve(self, kind: str, sock: socket.socket) -> asyncio.AbstractServer:
        if kind == "proxy":
            from latticework.dataplane.balancer import Balancer
            self.plane.balancer = Balancer(_AllHealthy())
        routes = self.plane.snapshot.vpcs["vpc-1"].routes
        context = self.plane.certificates.listener_context(
            lambda name: routes[name].service if name in routes else None)
        handler = _handler(kind)
        return await self.loop.create_server(lambda: _Accept(self.plane, handler), sock=sock, ssl=context)

    def port(self, kind: str) -> int:
        return self.ports[kind]

    def close(self) -> None:
        for server in self.servers:
            self.loop.call_soon_threadsafe(server.close)
        self.call(self.plane.upstreams["HTTP2"].close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class _Accept(asyncio.Protocol):
    def __init__(self, plane: Plane, handler):
        self.plane, self.handler = plane, handler

    def connection_made(self, transport: asyncio.Transport) -> None:
        tls = transport.get_extra_info("ssl_object")
        assert tls.selected_alpn_protocol() == "h2"
        conn = Connection(vpc=self.plane.snapshot.vpcs["vpc-1"], client=transport.get_extra_info("peername")[:2],
                          local=transport.get_extra_info("sockname")[:2], scheme="https",
                          sni=getattr(tls, "lattice_sni", None), alpn="h2",
                          opened=asyncio.get_running_loop().time())
        server = Http2Server(self.plane, conn, self.handler)
        transport.set_protocol(server)
        server.connection_made(transport)


@pytest.fixture(scope="module")
def dataplane(tmp_path_factory, echo_target):
    plane = DataPlane(tmp_path_factory.mktemp("grpc"), echo_target)
    yield plane
    plane.close()




@pytest.fixture(params=KINDS)
def channel(request, dataplane):
    yield from _channel(dataplane, request.param, NAME)


def _channel(dataplane: DataPlane, kind: str, name: str):
    credentials = grpc.ssl_channel_credentials(root_certificates=dataplane.ca.pem.encode())
    options = [("grpc.ssl_target_name_override", name), ("grpc.default_authority", name)]
    with grpc.secure_channel(f"{LATTICE}:{dataplane.port(kind)}", credentials, options=options) as channel:
        yield channel


# -- the calls -----------------------------------------------------------------------------------

def test_unary_call_reaches_the_target_with_metadata(channel):
    say = channel.unary_unary("/latticework.Echo/Say")
    answer, call = say.with_call(b"hello", metadata=[("x-caller", "test")], timeout=10)
    first, *lines = answer.split(b"\n")
    assert first == b"blue:hello"
    echoed = dict(line.decode().split("=", 1) for line in lines)
    assert echoed["x-caller"] == "test"
    assert call.code() == grpc.StatusCode.OK
    assert ("x-echo-name", "blue") in [(m.key, m.value) for m in call.trailing_metadata()]


def test_lattice_headers_reach_the_grpc_target(dataplane):
    for channel in _channel(dataplane, "proxy", NAME):
        answer = channel.unary_unary("/latticework.Echo/Say")(b"hi", timeout=10)
    echoed = dict(line.decode().split("=", 1) for line in answer.split(b"\n")[1:])
    assert echoed["x-forwarded-for"] == LATTICE
    assert echoed["x-forwarded-proto"] == "https"
    assert echoed["x-amzn-source-vpc"] == "vpc-1"
    assert "ServiceArn=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-echo" in echoed["x-amzn-lattice-target"]


def test_server_streaming(channel):
    stream = channel.unary_stream("/latticework.Echo/Stream")
    answers = list(stream(b"tick", metadata=[("x-echo-count", "25")], timeout=10))
    assert answers == [f"blue:{i}:tick".encode() for i in range(25)]


def test_client_streaming_with_a_large_body(channel):
    collect = channel.stream_unary("/latticework.Echo/Collect")
    parts = [bytes([i]) * 50_000 for i in range(40)]  # 2 MB: many flow-control windows
    answer = collect(iter(parts), timeout=20)
    assert answer == b"blue:40:" + b"".join(parts)


def test_status_code_and_trailers_of_a_trailers_only_answer(channel):
    say = channel.unary_unary("/latticework.Echo/Say")
    with pytest.raises(grpc.RpcError) as failure:
        say(b"x", metadata=[("x-echo-status", "NOT_FOUND"), ("x-echo-message", "no such greeting")], timeout=10)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert failure.value.details() == "no such greeting"
    assert ("x-echo-name", "blue") in [(m.key, m.value) for m in failure.value.trailing_metadata()]


def test_status_code_after_streamed_messages(channel):
    stream = channel.unary_stream("/latticework.Echo/Stream")
    call = stream(b"s", metadata=[("x-echo-count", "2"), ("x-echo-status", "RESOURCE_EXHAUSTED")], timeout=10)
    received = []
    with pytest.raises(grpc.RpcError) as failure:
        for message in call:
            received.append(message)
    assert received == [b"blue:0:s", b"blue:1:s"]
    assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_concurrent_calls_share_one_target_connection(channel, dataplane):
    say = channel.unary_unary("/latticework.Echo/Say")
    with futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: say(str(i).encode(), timeout=10).split(b"\n")[0], range(64)))
    assert answers == [f"blue:{i}".encode() for i in range(64)]
    upstream = dataplane.plane.upstreams["HTTP2"]
    open_connections = dataplane.call(_open_connections(upstream))
    assert open_connections == 1


async def _open_connections(upstream: Http2Upstream) -> int:
    return sum(1 for pool in upstream._pools.values() for c in pool if not c.closed)


@pytest.mark.parametrize("kind", KINDS)
def test_unreachable_target_is_unavailable(dataplane, kind):
    for channel in _channel(dataplane, kind, DOWN):
        say = channel.unary_unary("/latticework.Echo/Say")
        with pytest.raises(grpc.RpcError) as failure:
            say(b"x", timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE


# -- through the real server -------------------------------------------------------------------

def greeter(server, echo_target, label: str):
    """boto3 builds a service with an HTTPS listener and a GRPC target group, joined to a client VPC:
    (lattice client, service, the VPC, channel address, credentials, options)."""
    from conftest import _accounts, client_for
    from latticework.ownpaths_client import ca_pem, vpc_info

    n = next(_accounts)
    lattice, ec2 = client_for(server, "vpc-lattice", n), client_for(server, "ec2", n)
    client_vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    provider_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    address = vpc_info(server.url, client_vpc).lattice
    with socket.socket() as probe:  # a port free on the VPC's Lattice address, for the listener
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    network = lattice.create_service_network(name=f"{label}-net")
    service = lattice.create_service(name=label)
    group = lattice.create_target_group(name=f"{label}-grpc", type="IP", config={
        "port": echo_target[1], "protocol": "HTTP", "protocolVersion": "GRPC", "vpcIdentifier": provider_vpc,
        "healthCheck": {"enabled": False}})["id"]
    lattice.register_targets(targetGroupIdentifier=group, targets=[{"id": echo_target[0], "port": echo_target[1]}])
    lattice.create_listener(serviceIdentifier=service["id"], name="grpc", protocol="HTTPS", port=port,
                            defaultAction={"forward": {"targetGroups": [{"targetGroupIdentifier": group}]}})
    lattice.create_service_network_service_association(serviceNetworkIdentifier=network["id"],
                                                       serviceIdentifier=service["id"])
    lattice.create_service_network_vpc_association(serviceNetworkIdentifier=network["id"], vpcIdentifier=client_vpc)
    name = service["dnsEntry"]["domainName"]
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem(server.url).encode())
    options = [("grpc.ssl_target_name_override", name), ("grpc.default_authority", name)]
    return lattice, service, client_vpc, f"{address}:{port}", credentials, options


def test_grpc_through_the_server(server, echo_target):
    """boto3 builds a service with an HTTPS listener and a GRPC target group; grpcio calls it from a VPC."""
    _, _, client_vpc, address, credentials, options = greeter(server, echo_target, "greeter")
    # The association's answer came once the data plane served it: the listener is up already.
    with grpc.secure_channel(address, credentials, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        answer = channel.unary_unary("/latticework.Echo/Say")(b"from a vpc", timeout=10)
        assert answer.split(b"\n")[0] == b"blue:from a vpc"
        assert f"x-amzn-source-vpc={client_vpc}".encode() in answer
        streamed = list(channel.unary_stream("/latticework.Echo/Stream")(b"s", timeout=10))
        assert streamed == [b"blue:0:s", b"blue:1:s", b"blue:2:s"]
        with pytest.raises(grpc.RpcError) as failure:
            channel.unary_unary("/latticework.Echo/Say")(b"x", metadata=[("x-echo-status", "PERMISSION_DENIED")],
                                                        timeout=10)
        assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_auth_policies_read_the_grpc_method_as_the_path(server, echo_target):
    """The resource of a gRPC call is the service's ARN and ``/package.Service/Method``; a denial is HTTP 403,
    which gRPC clients read as PERMISSION_DENIED."""
    import json
    lattice, service, _, address, credentials, options = greeter(server, echo_target, "guarded-greeter")
    allow = {"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke",
             "Resource": f"{service['arn']}/latticework.Echo/*",
             "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "POST",
                                            "vpc-lattice-svcs:RequestPath": "/latticework.Echo/Say"},
                           "Bool": {"aws:SecureTransport": "true"}}}
    lattice.put_auth_policy(resourceIdentifier=service["id"],
                            policy=json.dumps({"Version": "2012-10-17", "Statement": [allow]}))
    lattice.update_service(serviceIdentifier=service["id"], authType="AWS_IAM")
    with grpc.secure_channel(address, credentials, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        assert channel.unary_unary("/latticework.Echo/Say")(b"hi", timeout=10).startswith(b"blue:hi")
        with pytest.raises(grpc.RpcError) as failure:
            list(channel.unary_stream("/latticework.Echo/Stream")(b"s", timeout=10))
        assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
