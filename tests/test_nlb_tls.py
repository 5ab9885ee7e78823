"""TLS listeners on network load balancers through a real server: the node terminates TLS with a certificate
Latticework's CA issues for the load balancer's DNS name (the client verifies it against the CA) and relays the
plaintext to a TCP target; a failed handshake reaches no target's data."""

from __future__ import annotations

import socket
import ssl

import pytest

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


def test_a_tls_listener_terminates_tls_and_relays_plaintext(clients, echo_processes):
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    echo, echo_port = echo_processes("plain")
    vpc, subnets = make_vpc(ec2, "10.41.0.0/16")
    lb = elbv2.create_load_balancer(Name="tls-lb", Type="network", Scheme="internal",
                                    Subnets=subnets)["LoadBalancers"][0]
    cross_zone(elbv2, lb["LoadBalancerArn"])
    tg = elbv2.create_target_group(Name="tls-plain", Protocol="TCP", Port=7, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.41.0.10", "Port": echo_port}])
    port = free_port()
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TLS", Port=port,
                          Certificates=[{"CertificateArn": CERTIFICATE.format(account=clients.account)}],
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    nodes = sorted(interfaces_of(clients.server, vpc, lb["LoadBalancerArn"].rsplit("/", 1)[1]))

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
