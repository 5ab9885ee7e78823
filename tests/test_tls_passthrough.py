"""TLS passthrough listeners: the ClientHello parser, and real TLS targets behind Lattice, black-box.

The parser (``dataplane.clienthello``) is checked against ClientHellos Python's own TLS stack writes and
against generated ones split over records at random (hypothesis). The black-box part starts TLS target
processes whose certificates come from a CA made here (not Latticework's), puts them behind services with
``TLS_PASSTHROUGH`` listeners on port 443 of a client VPC's Lattice address (beside a third service whose
HTTPS listener on the same port Latticework terminates), and connects as a client in the VPC would: the
name resolved through the VPC's resolver, the service's custom domain as SNI, the target's certificate
verified against that CA.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings, strategies as st

from dataplane_env import EchoTarget, Topology, forward, wait_for
from latticework.dataplane import clienthello, passthrough
from latticework.ownpaths_client import ca_pem, vpc_info
from latticework.vpcclient import VpcClient

# -- the ClientHello parser ---------------------------------------------------------------------------


def python_client_hello(server_name: str | None) -> bytes:
    """The first flight of Python's TLS client (OpenSSL's ClientHello), as it would go on the wire."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name, server_side=False) \
        if server_name else ssl._create_unverified_context().wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_python_client_hellos_parse_with_their_server_name_and_length():
    for name in ("secure.example.test", "A.Mixed.Case.Example"):
        data = python_client_hello(name)
        assert clienthello.parse(data) == clienthello.Hello(name.lower(), len(data))
        assert clienthello.parse(data + b"\x17\x03\x03") == clienthello.Hello(name.lower(), len(data))
    bare = python_client_hello(None)
    assert clienthello.parse(bare) == clienthello.Hello(None, len(bare))


def test_every_prefix_of_a_client_hello_asks_for_more_than_it_has():
    data = python_client_hello("secure.example.test")
    for cut in range(len(data)):
        wanted = clienthello.parse(data[:cut])
        assert isinstance(wanted, int) and cut < wanted <= len(data)


@pytest.mark.parametrize("data", [
    b"GET / HTTP/1.1\r\n\r\n",  # not TLS
    b"\x17\x03\x03\x00\x05hello",  # application data, not handshake
    b"\x16\x03\x01\x00\x00",  # an empty record
    b"\x16\x03\x01\x40\x01" + b"\x00" * 16385,  # a record over 2^14
    b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",  # a ServerHello
    b"\x16\x03\x01\x00\x04\x01\xff\xff\xff",  # a ClientHello announcing 16 MiB
])
def test_what_is_not_a_client_hello_is_refused(data):
    with pytest.raises(clienthello.NotClientHello):
        clienthello.parse(data)


def _vector(size: int, data: bytes) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _extension(kind: int, data: bytes) -> bytes:
    return kind.to_bytes(2, "big") + _vector(2, data)


def _sni(name: bytes) -> bytes:
    return _extension(0, _vector(2, b"\x00" + _vector(2, name)))


def _hello(extensions: list[bytes], session: bytes = b"", suites: bytes = b"\x13\x01") -> bytes:
    body = b"\x03\x03" + bytes(32) + _vector(1, session) + _vector(2, suites) + _vector(1, b"\x00") + \
        _vector(2, b"".join(extensions))
    return b"\x01" + len(body).to_bytes(3, "big") + body


def _records(message: bytes, sizes: list[int]) -> bytes:
    out, at, turn = b"", 0, 0
    while at < len(message):
        size = sizes[turn % len(sizes)] if sizes else len(message)
        turn += 1
        chunk = message[at:at + size]
        at += len(chunk)
        out += b"\x16\x03\x01" + _vector(2, chunk)
    return out


names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){1,3}", fullmatch=True)
other_extensions = st.lists(st.tuples(st.integers(1, 0xFFFF), st.binary(max_size=40)), max_size=5)


@settings(max_examples=200, deadline=None)
@given(name=st.none() | names, before=other_extensions, after=other_extensions,
       session=st.binary(max_size=32), sizes=st.lists(st.integers(1, 300), max_size=4))
def test_generated_client_hellos_split_over_records_parse(name, before, after, session, sizes):
    extensions = [_extension(k, d) for k, d in before] + ([_sni(name.encode())] if name else []) + \
        [_extension(k, d) for k, d in after]
    data = _records(_hello(extensions, session), sizes)
    assert clienthello.parse(data) == clienthello.Hello(name, len(data))
    for cut in range(0, len(data), 7):
        assert clienthello.parse(data[:cut]) > cut


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_break_the_parser(data):
    try:
        found = clienthello.parse(b"\x16\x03\x01" + data)
    except clienthello.NotClientHello:
        return
    assert isinstance(found, (int, clienthello.Hello))


def test_two_server_names_or_a_non_ascii_one_are_refused():
    with pytest.raises(clienthello.NotClientHello):
        clienthello.parse(_records(_hello([_sni(b"a.example"), _sni(b"b.example")]), []))
    with pytest.raises(clienthello.NotClientHello):
        clienthello.parse(_records(_hello([_sni("é.example".encode())]), []))


# -- reading the ClientHello off a socket without consuming it ----------------------------------------

def _with_socket_pair(scenario):
    """Run ``scenario(client, accepted)`` over a real loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as client:
            accepted, _ = server.accept()
            with accepted:
                accepted.setblocking(False)
                return asyncio.run(scenario(client, accepted))


async def _started(task: asyncio.Task) -> None:
    for _ in range(5):  # let the reader reach its wait on the socket
        await asyncio.sleep(0)
    assert not task.done()


def test_read_hello_waits_for_the_rest_and_leaves_every_byte_unread():
    data = python_client_hello("piece.passthrough.test")

    async def scenario(client, accepted):
        client.sendall(data[:3])
        reading = asyncio.create_task(passthrough.read_hello(accepted, 5))
        await _started(reading)
        client.sendall(data[3:200])
        await _started(reading)
        client.sendall(data[200:])
        assert await reading == clienthello.Hello("piece.passthrough.test", len(data))
        assert accepted.recv(len(data) + 10) == data  # still there for the relay to carry
    _with_socket_pair(scenario)


def test_read_hello_gives_up_on_a_client_that_stops_or_sends_no_tls():
    data = python_client_hello("gone.passthrough.test")

    async def stops(client, accepted):
        client.sendall(data[:50])
        client.shutdown(socket.SHUT_WR)
        assert await passthrough.read_hello(accepted, 5) is None

    async def not_tls(client, accepted):
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(clienthello.NotClientHello):
            await passthrough.read_hello(accepted, 5)

    async def silent(client, accepted):
        with pytest.raises(asyncio.TimeoutError):
            await passthrough.read_hello(accepted, 0.2)

    for scenario in (stops, not_tls, silent):
        _with_socket_pair(scenario)


# -- black box: real TLS targets behind Lattice --------------------------------------------------------

TLS_TARGET = textwrap.dedent("""
    import socket, ssl, sys, threading
    name, cert, key = sys.argv[1:4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    heard = threading.local()  # the server name of this thread's connection's ClientHello
    context.sni_callback = lambda tls, server_name, _: setattr(heard, "name", server_name)
    listener = socket.create_server(("127.0.0.1", 0))
    print(f"ready {name} on 127.0.0.1:{listener.getsockname()[1]}", flush=True)

    def serve(conn):
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                line = tls.makefile("rb").readline()
                if line.startswith(b"GET /health "):  # Lattice's health check (HTTPS, HTTP1)
                    tls.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
                    return
                tls.sendall(f"{name} heard {line.decode().strip()} via {heard.name}\\n".encode())
        except (OSError, ssl.SSLError):
            pass

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
""")


class TlsTarget(EchoTarget):
    """A real TLS server process with its own certificate: answers one line per connection (and an HTTP
    ``GET /health`` with 200)."""

    def __init__(self, name: str, cert: Path, key: Path):
        self.cert, self.key = cert, key
        super().__init__(name)

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", TLS_TARGET, self.name, str(self.cert), str(self.key)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        assert line.startswith("ready"), line
        self.port = int(line.rsplit(":", 1)[1])


def make_ca(folder: Path, *names: str) -> tuple[str, dict[str, tuple[Path, Path]]]:
    """A CA of the test's own, and a certificate and key per name, signed by it (files in ``folder``)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "passthrough test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    issued = {}
    for name in names:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        issued[name] = (cert_path, key_path)
    return ca.public_bytes(serialization.Encoding.PEM).decode(), issued


SECURE, OTHER, CHECKED = "secure.passthrough.test", "other.passthrough.test", "checked.passthrough.test"
PORT = 443


@dataclass
class World:
    topo: Topology
    ca: str  # the targets' CA
    client: VpcClient
    services: dict[str, dict]
    https_name: str  # a service whose HTTPS listener on PORT Latticework terminates
    other_vpc: str  # a VPC joined to the same network
    issued: dict[str, tuple[Path, Path]]  # certificate and key files by name

    def address(self, name: str, vpc: str | None = None) -> str:
        client = self.client if vpc is None else VpcClient(vpc_info(self.topo.endpoint, vpc))
        return client.resolve(name)

    def talk(self, name: str, line: str = "hello", vpc: str | None = None, ca: str | None = None) -> tuple[str, dict]:
        """Connect to ``name`` as a client in the VPC would (SNI ``name``, the peer verified against ``ca``,
        the targets' by default), send ``line``, and return the answer and the peer's certificate."""
        context = ssl.create_default_context(cadata=ca or self.ca)
        with socket.create_connection((self.address(name, vpc), PORT), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(line.encode() + b"\n")
                answer = tls.makefile("rb").readline().decode().strip()
                return answer, tls.getpeercert()


def tcp_group(topo: Topology, label: str, *targets: TlsTarget, **health) -> str:
    config = {"port": 443, "protocol": "TCP", "vpcIdentifier": topo.client_vpc,
              **({"healthCheck": health} if health else {})}
    group = topo.lattice.create_target_group(name=f"{label}-{topo.suffix()}", type="IP", config=config)["id"]
    topo.lattice.register_targets(targetGroupIdentifier=group,
                                  targets=[{"id": "127.0.0.1", "port": t.port} for t in targets])
    topo.groups[label] = group
    return group


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    ca, issued = make_ca(tmp_path_factory.mktemp("passthrough-ca"), SECURE, OTHER, CHECKED)
    targets = {name: TlsTarget(name.split(".")[0], *issued[name]) for name in (SECURE, OTHER)}
    echo = EchoTarget("terminated")
    topo = Topology.fresh(server).one_service("passthrough-home")
    lattice, network = topo.lattice, topo.network["id"]
    services = {}
    for name, target in targets.items():
        service = lattice.create_service(name=name.split(".")[0] + "-tls", customDomainName=name)
        topo.service = service
        lattice.create_listener(serviceIdentifier=service["id"], name="tls", protocol="TLS_PASSTHROUGH", port=PORT,
                                defaultAction=forward((tcp_group(topo, "tcp", target), 1)))
        lattice.create_service_network_service_association(serviceNetworkIdentifier=network,
                                                            serviceIdentifier=service["id"])
        services[name] = service
    topo.service = lattice.create_service(name="passthrough-https")
    topo.listener("https", "HTTPS", PORT, forward((topo.group("web", [echo], topo.client_vpc), 1)))
    topo.join()
    other_vpc = topo.vpc("10.9.0.0/16")
    lattice.create_service_network_vpc_association(serviceNetworkIdentifier=network, vpcIdentifier=other_vpc)
    world = World(topo, ca, VpcClient(vpc_info(topo.endpoint, topo.client_vpc)), services, topo.name, other_vpc,
                  issued)
    wait_for(lambda: _reaches(world, SECURE), what="the passthrough listener to serve")
    yield world
    for target in (*targets.values(), echo):
        target.stop()


def _reaches(world: World, name: str) -> bool:
    try:
        return world.talk(name)[0].endswith(f"via {name}")
    except OSError:
        return False


def test_the_client_verifies_the_targets_own_certificate_through_the_listener(world):
    answer, cert = world.talk(SECURE, "ping")
    assert answer == f"secure heard ping via {SECURE}"  # the target did the handshake, with the client's SNI
    assert dict(x[0] for x in cert["subject"])["commonName"] == SECURE
    assert dict(x[0] for x in cert["issuer"])["commonName"] == "passthrough test CA"


def test_a_second_service_on_the_same_port_is_chosen_by_sni(world):
    assert world.address(SECURE) == world.address(OTHER)  # one address: only the server name tells them apart
    answer, cert = world.talk(OTHER, "pong")
    assert answer == f"other heard pong via {OTHER}"
    assert dict(x[0] for x in cert["subject"])["commonName"] == OTHER


def test_an_https_listener_of_another_service_on_the_port_still_terminates_tls(world):
    client = VpcClient(vpc_info(world.topo.endpoint, world.topo.client_vpc), ca=ca_pem(world.topo.endpoint))
    answer = client.get(f"https://{world.https_name}:{PORT}/hi")
    assert answer.status == 200 and json.loads(answer.body)["path"] == "/hi"


def test_a_server_name_no_passthrough_listener_has_fails_the_handshake(world):
    context = ssl.create_default_context(cadata=world.ca)
    with socket.create_connection((world.address(SECURE), PORT), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="nobody.passthrough.test")
    # the generated name of a passthrough service does not match: only its custom domain name does
    generated = world.services[SECURE]["dnsEntry"]["domainName"]
    with socket.create_connection((world.address(SECURE), PORT), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname=generated)


def _closed(world: World, name: str, vpc: str | None = None) -> bool:
    try:
        world.talk(name, vpc=vpc)
    except (ssl.SSLError, ConnectionError):
        return True
    return False


CONNECT = "vpc-lattice-svcs:Connect"


def test_connect_is_checked_with_network_level_conditions_and_a_denial_closes(world):
    lattice, service = world.topo.lattice, world.services[SECURE]
    only_client_vpc = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": CONNECT, "Resource": service["arn"],
        "Condition": {"StringEquals": {"vpc-lattice-svcs:SourceVpc": world.topo.client_vpc,
                                       "aws:PrincipalType": "Anonymous"},
                      "NumericEquals": {"vpc-lattice-svcs:Port": PORT}}}]})
    lattice.put_auth_policy(resourceIdentifier=service["id"], policy=only_client_vpc)
    lattice.update_service(serviceIdentifier=service["id"], authType="AWS_IAM")
    try:
        wait_for(lambda: _closed(world, SECURE, world.other_vpc), what="the other VPC to be refused")
        assert world.talk(SECURE)[0].startswith("secure heard")  # the allowed VPC still connects
        assert world.talk(OTHER, vpc=world.other_vpc)[0].startswith("other heard")  # no auth on the other service
        invoke_only = only_client_vpc.replace(CONNECT, "vpc-lattice-svcs:Invoke")
        lattice.put_auth_policy(resourceIdentifier=service["id"], policy=invoke_only)
        wait_for(lambda: _closed(world, SECURE), what="Invoke alone not to allow a passthrough connection")
    finally:
        lattice.update_service(serviceIdentifier=service["id"], authType="NONE")
    wait_for(lambda: _reaches(world, SECURE), what="the service to open again")


def test_health_checks_of_a_tcp_group_keep_connections_off_a_stopped_target(world):
    """TCP groups are not checked by default; with checks on (HTTPS, HTTP1) a target that fails them gets no
    new connection while another is healthy."""
    topo = world.topo
    running, stopped = (TlsTarget(f"checked-{x}", *world.issued[CHECKED]) for x in "ab")
    try:
        topo.service = service = topo.lattice.create_service(name="checked-tls", customDomainName=CHECKED)
        group = tcp_group(topo, "checked", running, stopped, enabled=True, protocol="HTTPS", protocolVersion="HTTP1",
                          path="/health", healthCheckIntervalSeconds=5, healthCheckTimeoutSeconds=2,
                          healthyThresholdCount=2, unhealthyThresholdCount=2)
        stopped.stop()
        topo.listener("checked", "TLS_PASSTHROUGH", PORT, forward((group, 1)))
        topo.lattice.create_service_network_service_association(serviceNetworkIdentifier=topo.network["id"],
                                                                serviceIdentifier=service["id"])
        wait_for(lambda: topo.states("checked") == {running.port: "HEALTHY", stopped.port: "UNHEALTHY"},
                 what="one target healthy, the stopped one unhealthy")
        answers = {world.talk(CHECKED, str(n))[0].split()[0] for n in range(6)}
        assert answers == {"checked-a"}  # round robin over the healthy target only: no connection reset
    finally:
        running.stop()
