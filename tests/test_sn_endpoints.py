"""Service-network endpoints carry traffic, black-box: a VPC with no association reaches a network's services
through a ``ServiceNetwork`` VPC endpoint.

Two services with HTTP listeners on port 80, each with a real echo target, and one with a TLS passthrough
listener on 443 to a real TLS target, in one network; a consumer VPC with a service-network endpoint to it (two
subnets, two interfaces) and no association. The endpoint-specific names resolve in that VPC to the endpoint's
interfaces, requests there reach the service the Host (or SNI) names, and deleting the endpoint takes the names
and the sockets away.
"""

from __future__ import annotations

import json
import socket
import ssl

import pytest

from conftest import make_network
from dataplane_env import EchoTarget, Topology, forward, wait_for
from latticework.ownpaths_client import vpc_info
from latticework.vpcclient import NameNotFound, VpcClient
from test_privatelink_dns import interfaces_of
from test_tls_passthrough import TlsTarget, make_ca, tcp_group

SECURE = "sne.passthrough.test"


def endpoint_name(endpoint_id: str, association_id: str, service: dict) -> str:
    """The documented-by-analogy form: ``<vpce-id>-<snsa-id>.<hash>.vpc-lattice-svcs.<region>.on.aws``."""
    return f"{endpoint_id}-{association_id}." + service["dnsEntry"]["domainName"].split(".", 1)[1]


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    ca, issued = make_ca(tmp_path_factory.mktemp("sne-ca"), SECURE)
    targets = [EchoTarget("sne-web"), EchoTarget("sne-api"), TlsTarget("sne-tls", *issued[SECURE])]
    try:  # the targets are stopped even when building the topology fails
        topo = Topology.fresh(server).one_service("sne-web")
        provider = topo.client_vpc
        services, names = [], {}
        for target, service in zip(targets, (topo.service, topo.lattice.create_service(name="sne-api"))):
            topo.service = service
            topo.listener("http", "HTTP", 80, forward((topo.group("g", [target], provider), 1)))
            association = topo.lattice.create_service_network_service_association(
                serviceNetworkIdentifier=topo.network["id"], serviceIdentifier=service["id"])
            services.append((service, association["id"]))
        topo.service = topo.lattice.create_service(name="sne-tls", customDomainName=SECURE)
        topo.listener("tls", "TLS_PASSTHROUGH", 443, forward((tcp_group(topo, "tcp", targets[2]), 1)))
        topo.lattice.create_service_network_service_association(serviceNetworkIdentifier=topo.network["id"],
                                                                serviceIdentifier=topo.service["id"])
        consumer = make_network(topo.ec2, "10.20.0.0/16")
        endpoint = topo.ec2.create_vpc_endpoint(
            VpcEndpointType="ServiceNetwork", VpcId=consumer.vpc_id, ServiceNetworkArn=topo.network["arn"],
            SubnetIds=consumer.subnet_ids, SecurityGroupIds=consumer.sg_ids[:1], PrivateDnsEnabled=False)["VpcEndpoint"]
        vpce = endpoint["VpcEndpointId"]
        # The names the API shows for the endpoint's services are the ones that resolve (and of the documented form).
        shown = {a["AssociatedResourceArn"]: a.get("DnsEntry", {}).get("DnsName")
                 for a in topo.ec2.describe_vpc_endpoint_associations(VpcEndpointIds=[vpce])["VpcEndpointAssociations"]}
        for (service, association), target in zip(services, targets):
            assert shown[service["arn"]] == endpoint_name(vpce, association, service)
            names[target.name] = (shown[service["arn"]], service)
        client = VpcClient(vpc_info(topo.endpoint, consumer.vpc_id))
        topo.ca = ca  # the TLS target's CA
        yield topo, consumer, vpce, names, client, targets
    finally:
        for target in targets:
            target.stop()


def test_endpoint_names_resolve_to_the_endpoints_interfaces_and_the_host_picks_the_service(world, server):
    topo, consumer, vpce, names, client, _ = world
    interfaces = interfaces_of(server, consumer.vpc_id, vpce)
    assert len(interfaces) == 2  # one per subnet
    for target_name, (name, service) in names.items():
        address = client.resolve(name)
        assert address in interfaces and address != client.info.lattice
        answer = client.get(f"http://{name}/through/endpoint")
        assert answer.status == 200
        seen = answer.json()
        assert seen["target"] == target_name and seen["path"] == "/through/endpoint"
        headers = {n.lower(): v for n, v in seen["headers"]}
        assert headers["x-amzn-source-vpc"] == consumer.vpc_id
        assert f"ServiceArn={service['arn']}" in headers["x-amzn-lattice-target"]
        assert f"ServiceNetworkArn={topo.network['arn']}" in headers["x-amzn-lattice-target"]


def test_every_interface_answers_and_the_host_alone_decides(world, server):
    topo, consumer, vpce, names, client, _ = world
    for address in interfaces_of(server, consumer.vpc_id, vpce):
        for target_name, (name, service) in names.items():
            for host in (name, service["dnsEntry"]["domainName"]):
                answer = _get(address, host)
                assert answer["target"] == target_name
        assert _status(address, "nobody.example.test") == 404


def test_a_passthrough_listener_answers_at_the_endpoint_by_sni(world, server):
    topo, consumer, vpce, _, _, _ = world
    context = ssl.create_default_context(cadata=topo.ca)
    for address in interfaces_of(server, consumer.vpc_id, vpce):
        with socket.create_connection((address, 443), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=SECURE) as tls:
                tls.sendall(b"knock\n")
                assert tls.makefile("rb").readline() == f"sne-tls heard knock via {SECURE}\n".encode()


def test_a_vpc_without_the_endpoint_cannot_resolve_its_names(world):
    topo, _, _, names, _, _ = world
    stranger = VpcClient(vpc_info(topo.endpoint, topo.vpc("10.30.0.0/16")))
    for name, _ in names.values():
        with pytest.raises(NameNotFound):
            stranger.resolve(name)


def test_deleting_the_endpoint_takes_its_names_and_sockets_away(world, server):
    topo, consumer, vpce, names, client, _ = world
    addresses = list(interfaces_of(server, consumer.vpc_id, vpce))
    topo.ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])
    name = next(iter(names.values()))[0]
    wait_for(lambda: _gone(client, name), what="the endpoint's names to go")
    for address in addresses:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, 80), timeout=5).close()


def _gone(client: VpcClient, name: str) -> bool:
    try:
        client.resolve(name)
    except NameNotFound:
        return True
    return False


def _request(address: str, host: str) -> tuple[int, bytes]:
    with socket.create_connection((address, 80), timeout=10) as sock:
        sock.sendall(f"GET /direct HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _get(address: str, host: str) -> dict:
    status, body = _request(address, host)
    assert status == 200, body
    return json.loads(body)


def _status(address: str, host: str) -> int:
    return _request(address, host)[0]
