"""TLS listeners on network load balancers through a real server: the node terminates TLS with a certificate
Latticework's CA issues for the load balancer's DNS name (the client verifies it against the CA) and relays the
plaintext to a TCP target, or re-encrypts it toward a TLS target; a failed handshake reaches no target's data."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from conftest import error_code
from dataplane_env import wait_for
from latticework.dataplane.tls import CertificateAuthority
from test_ec2_endpoints import make_vpc
from test_nlb_health import echo_processes  # noqa: F401 (a fixture)
from test_nlb_traffic import cross_zone, free_port
from test_privatelink_dns import interfaces_of
from test_tls import _user_certificate
from latticework.ownpaths_client import ca_pem

CERTIFICATE = "arn:aws:acm:us-east-1:{account}:certificate/0a1b2c3d-0000-4000-8000-000000000001"


def tls_exchange(context: ssl.SSLContext, node: str, port: int, name: str, payload: bytes) -> bytes:
    """Send ``payload`` over TLS to ``node:port`` (SNI and verification by ``name``) and read the answer."""
    with socket.create_connection((node, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as conn:
            conn.sendall(payload)
            return conn.recv(65536)


def _tls_listener(clients, cidr: str, name: str, group: str, protocol: str, target_port: int):
    """An NLB (cross-zone on) with a TLS listener on a free port forwarding to a ``protocol`` group whose one
    target (the VPC's ``.10``) is ``target_port``: (the load balancer, the group, the port, its nodes' addresses)."""
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    vpc, subnets = make_vpc(ec2, cidr)
    lb = elbv2.create_load_balancer(Name=name, Type="network", Scheme="internal", Subnets=subnets)["LoadBalancers"][0]
    cross_zone(elbv2, lb["LoadBalancerArn"])
    tg = elbv2.create_target_group(Name=group, Protocol=protocol, Port=7, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": cidr.rsplit(".", 2)[0] + ".0.10", "Port": target_port}])
    port = free_port()
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TLS", Port=port,
                          Certificates=[{"CertificateArn": CERTIFICATE.format(account=clients.account)}],
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    return lb, tg, port, sorted(interfaces_of(clients.server, vpc, lb["LoadBalancerArn"].rsplit("/", 1)[1]))


def test_a_tls_listener_terminates_tls_and_relays_plaintext(clients, echo_processes):
    elbv2 = clients.client("elbv2")
    echo, echo_port = echo_processes("plain")
    lb, tg, port, nodes = _tls_listener(clients, "10.41.0.0/16", "tls-lb", "tls-plain", "TCP", echo_port)

    trusting = ssl.create_default_context(cadata=ca_pem(clients.server.url))
    for node in nodes:
        assert tls_exchange(trusting, node, port, lb["DNSName"], b"secret") == b"plain:secret"

    # The certificate names the load balancer, nothing else; a client not trusting the CA refuses it.
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_exchange(trusting, nodes[0], port, "other.example.com", b"x")
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_exchange(ssl.create_default_context(), nodes[0], port, lb["DNSName"], b"x")
    # Plain TCP to a TLS listener gets no answer from the target, only the end of the connection.
    with socket.create_connection((nodes[0], port), timeout=10) as conn:
        conn.sendall(b"not tls\r\n" * 100)
        try:
            assert b"plain:" not in conn.recv(65536)
        except ConnectionResetError:
            pass

    # A certificate imported for a listener's ARN (the local stand-in for ACM) is the one served.
    imported = "0a1b2c3d-0000-4000-8000-0000000000ff"
    user_pem = _user_certificate(clients.server.state.parent / "certificates" / imported, ["tls.example.com"])
    other_port = free_port()
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TLS", Port=other_port,
                          Certificates=[{"CertificateArn": CERTIFICATE.format(account=clients.account)[:-36] + imported}],
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    trusting_user = ssl.create_default_context(cadata=user_pem)
    assert tls_exchange(trusting_user, nodes[0], other_port, "tls.example.com", b"mine") == b"plain:mine"

    # The target gone: the handshake completes, then the client's connection ends (it does not hang).
    echo.kill()
    echo.wait()
    try:
        assert tls_exchange(trusting, nodes[0], port, lb["DNSName"], b"anyone?") == b""
    except (ConnectionResetError, ssl.SSLError):
        pass


# A TLS echo target: its certificate from a CA of its own (the load balancer does not verify it); it answers
# each chunk with "tls:" first, so the client sees the bytes went through a TLS session with it.
TLS_ECHO = """
import socket, ssl, sys, threading
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1])
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(16)
print(server.getsockname()[1], flush=True)
def serve(raw):
    try:
        with context.wrap_socket(raw, server_side=True) as conn:
            print(conn.version(), flush=True)
            while data := conn.recv(65536):
                conn.sendall(b"tls:" + data)
    except (OSError, ssl.SSLError) as exc:
        print("failed", exc, flush=True)
while True:
    threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
"""


@pytest.fixture
def tls_echo(tmp_path):
    cert_pem, key_pem = CertificateAuthority.load_or_create(tmp_path / "target-ca").issue(["target.internal"])
    (tmp_path / "target.pem").write_text(key_pem + cert_pem)
    proc = subprocess.Popen([sys.executable, "-c", TLS_ECHO, str(tmp_path / "target.pem")], stdout=subprocess.PIPE,
                            text=True)
    try:
        yield proc, int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()


def test_a_tls_listener_re_encrypts_toward_a_tls_target_group(clients, tls_echo):
    echo, echo_port = tls_echo
    lb, tg, port, nodes = _tls_listener(clients, "10.42.0.0/16", "tls-tls", "tls-tls", "TLS", echo_port)

    trusting = ssl.create_default_context(cadata=ca_pem(clients.server.url))
    wait_for(lambda: _answers(trusting, nodes[0], port, lb["DNSName"]), what="the TLS listener to answer")
    for node in nodes:
        assert tls_exchange(trusting, node, port, lb["DNSName"], b"secret") == b"tls:secret"
    # The target completed TLS handshakes with the node (its TCP health checks are the failed ones).
    assert any(echo.stdout.readline().strip() in ("TLSv1.2", "TLSv1.3") for _ in range(10))

    # A target that is gone: the client's connection ends (it does not hang).
    echo.kill()
    echo.wait()
    try:
        assert tls_exchange(trusting, nodes[0], port, lb["DNSName"], b"anyone?") == b""
    except (ConnectionResetError, ssl.SSLError):
        pass


def _answers(context: ssl.SSLContext, node: str, port: int, name: str) -> bool:
    try:
        return tls_exchange(context, node, port, name, b"ready?") == b"tls:ready?"
    except (OSError, ssl.SSLError):
        return False


def handshake(context: ssl.SSLContext, node: str, port: int, name: str) -> tuple[str | None, str | None]:
    """(TLS version, ALPN protocol) of a handshake with ``node:port`` by ``name``."""
    with socket.create_connection((node, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=name) as conn:
            return conn.version(), conn.selected_alpn_protocol()


def test_a_tls_listener_applies_its_policies_and_chooses_certificates_by_sni(clients, echo_processes):
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    _, echo_port = echo_processes("plain")
    vpc, subnets = make_vpc(ec2, "10.43.0.0/16", zones=("a",))
    lb = elbv2.create_load_balancer(Name="tls-policies", Type="network", Scheme="internal",
                                    Subnets=subnets)["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="tls-policies", Protocol="TCP", Port=7, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.43.0.10", "Port": echo_port}])
    port = free_port()
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TLS", Port=port, SslPolicy="ELBSecurityPolicy-TLS13-1-3-2021-06",
        AlpnPolicy=["HTTP2Preferred"], Certificates=[{"CertificateArn": CERTIFICATE.format(account=clients.account)}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
    [node] = interfaces_of(clients.server, vpc, lb["LoadBalancerArn"].rsplit("/", 1)[1])
    trusting = ssl.create_default_context(cadata=ca_pem(clients.server.url))
    trusting.set_alpn_protocols(["http/1.1", "h2"])
    wait_for(lambda: _answers_plain(trusting, node, port, lb["DNSName"]), what="the TLS listener to answer")

    # TLS 1.3 only, and HTTP/2 first whatever the client's order.
    assert handshake(trusting, node, port, lb["DNSName"]) == ("TLSv1.3", "h2")
    upto_12 = ssl.create_default_context(cadata=ca_pem(clients.server.url))
    upto_12.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        handshake(upto_12, node, port, lb["DNSName"])

    # TLS 1.2 only (and HTTP/1.1 preferred) after ModifyListener.
    elbv2.modify_listener(ListenerArn=listener, SslPolicy="ELBSecurityPolicy-TLS-1-2-2017-01",
                          AlpnPolicy=["HTTP2Optional"])
    wait_for(lambda: _version(trusting, node, port, lb["DNSName"]) == "TLSv1.2", what="the new policy")
    assert handshake(trusting, node, port, lb["DNSName"]) == ("TLSv1.2", "http/1.1")

    # A second certificate answers the names it carries; any other name gets the default one.
    imported = "0a1b2c3d-0000-4000-8000-0000000000ee"
    other_arn = CERTIFICATE.format(account=clients.account)[:-36] + imported
    user_pem = _user_certificate(clients.server.state.parent / "certificates" / imported, ["other.example.com"])
    added = elbv2.add_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": other_arn}])
    assert added["Certificates"] == [{"CertificateArn": other_arn, "IsDefault": False}]
    listed = elbv2.describe_listener_certificates(ListenerArn=listener)["Certificates"]
    assert listed == [{"CertificateArn": CERTIFICATE.format(account=clients.account), "IsDefault": True},
                      {"CertificateArn": other_arn, "IsDefault": False}]
    trusting_user = ssl.create_default_context(cadata=user_pem)
    wait_for(lambda: _version(trusting_user, node, port, "other.example.com") == "TLSv1.2", what="the SNI choice")
    assert handshake(trusting, node, port, lb["DNSName"])[0] == "TLSv1.2"  # still the CA's for the LB's name

    with pytest.raises(ClientError) as excinfo:
        elbv2.remove_listener_certificates(ListenerArn=listener, Certificates=[
            {"CertificateArn": CERTIFICATE.format(account=clients.account)}])
    assert error_code(excinfo) == "OperationNotPermitted"
    with pytest.raises(ClientError) as excinfo:
        elbv2.add_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": other_arn,
                                                                             "IsDefault": True}])
    assert error_code(excinfo) == "ValidationError"
    elbv2.remove_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": other_arn}])
    with pytest.raises(ClientError) as excinfo:
        elbv2.remove_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": other_arn}])
    assert error_code(excinfo) == "CertificateNotFound"
    wait_for(lambda: _version(trusting_user, node, port, "other.example.com") is None, what="the SNI choice gone")


def _answers_plain(context: ssl.SSLContext, node: str, port: int, name: str) -> bool:
    try:
        return tls_exchange(context, node, port, name, b"ready?") == b"plain:ready?"
    except (OSError, ssl.SSLError):
        return False


def _version(context: ssl.SSLContext, node: str, port: int, name: str) -> str | None:
    try:
        return handshake(context, node, port, name)[0]
    except (OSError, ssl.SSLError):
        return None
