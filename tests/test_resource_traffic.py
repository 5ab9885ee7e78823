"""Resource configurations carry real TCP: a real PostgreSQL 15 server shared as a SINGLE resource configuration
through a resource gateway, and ``psql`` run inside consumer VPCs with ``latticework exec``.

PostgreSQL's own binaries (``/usr/lib/postgresql/15/bin``: ``initdb``, ``postgres``; ``psql`` on PATH) run
one server for the module, as the ``postgres`` user when the tests run as root (PostgreSQL refuses root), on
127.0.0.1 at a free port. The configuration's IP address is in the provider VPC's CIDR, so the data plane
maps it to 127.0.0.1 at the same port (the host-address rule of targets). The tests share the session's server,
whose data plane runs one worker per CPU (each binds every resource address).
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from conftest import _accounts, client_for
from test_ec2_endpoints import make_vpc
from latticework.dataplane import resources
from latticework.dns.resolver import FORWARD, answer
from latticework.snapshot.compile import _domain_matches
from latticework.snapshot.model import Resource, Route, Service, ServiceNetwork, Snapshot, VpcView
from test_privatelink_dns import interfaces_of, vpc_info

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PSQL = shutil.which("psql")
CUSTOM_DOMAIN = "orders-db.example.internal"

pytestmark = pytest.mark.skipif(not (PG_BIN / "postgres").exists() or PSQL is None,
                                reason="PostgreSQL 15 (postgresql-15: /usr/lib/postgresql/15/bin, psql) is not "
                                       "installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(condition, timeout: float = 15.0, what: str = "condition"):
    """Poll ``condition`` (a readiness probe) until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} not reached in time"
        time.sleep(0.05)
    return found


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on 127.0.0.1:<port> accepting any local client (trust); yields the port."""
    as_user = "postgres" if os.geteuid() == 0 else None
    data = Path(tempfile.mkdtemp(prefix="lw-pg-"))
    if as_user is not None:
        owner = pwd.getpwnam(as_user)
        os.chown(data, owner.pw_uid, owner.pw_gid)
    subprocess.run([str(PG_BIN / "initdb"), "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--no-sync"], check=True, capture_output=True, user=as_user, cwd=data)
    with open(data / "db" / "pg_hba.conf", "a") as hba:  # the gateway's fabric addresses connect over TCP
        hba.write("host all all 127.0.0.0/8 trust\n")
    port = free_port()
    server = subprocess.Popen([str(PG_BIN / "postgres"), "-D", str(data / "db"), "-p", str(port),
                               "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data}",
                               "-c", "fsync=off"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              user=as_user, cwd=data)
    try:
        until(lambda: _accepts("127.0.0.1", port) or server.poll() is not None, what="PostgreSQL to listen")
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else "postgres exited"
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def in_vpc(server, vpc: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "latticework", "exec", "--endpoint", server.url, "--vpc", vpc,
                           "--", *command], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PGCONNECT_TIMEOUT": "5"})


def psql(server, vpc: str, host: str, port: int, sql: str = "select inet_client_addr()") -> subprocess.CompletedProcess:
    assert PSQL is not None
    return in_vpc(server, vpc, PSQL, "-X", "-At", "-c", sql,
                  f"host={host} port={port} user=postgres dbname=postgres sslmode=disable")


def resolve(server, vpc_id: str, name: str) -> list[str]:
    """The A records of ``name`` from the VPC's resolver (an empty list: none, or NXDOMAIN)."""
    info = vpc_info(server, vpc_id)
    reply = DNSRecord.parse(DNSRecord.question(name, "A").send(info["resolver"], info["resolverPort"], timeout=5))
    return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A)


@pytest.fixture(scope="module")
def shared_db(postgres, server):
    """The database shared as a SINGLE resource configuration: a provider VPC with a resource gateway, a service
    network holding the configuration, a consumer VPC associated with it, and a VPC that is not."""
    n = next(_accounts)
    ec2, lattice = client_for(server, "ec2", n), client_for(server, "vpc-lattice", n)
    provider, provider_subnets = make_vpc(ec2, "10.1.0.0/16")
    consumer, _ = make_vpc(ec2, "10.0.0.0/16")
    other, _ = make_vpc(ec2, "10.2.0.0/16")
    gateway = lattice.create_resource_gateway(name="db-gateway", vpcIdentifier=provider,
                                              subnetIds=provider_subnets)
    # The domain is verified through the local "public DNS" file before the configuration names it.
    dv = lattice.start_domain_verification(domainName=CUSTOM_DOMAIN)
    assert dv["status"] == "PENDING"
    with (server.state.parent / "public-dns.txt").open("a") as zone:
        zone.write(f'{dv["txtMethodConfig"]["name"]} TXT "{dv["txtMethodConfig"]["value"]}"\n')
    rcfg = lattice.create_resource_configuration(
        name="orders-db", type="SINGLE", resourceGatewayIdentifier=gateway["id"], portRanges=[str(postgres)],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.1.0.50"}}, customDomainName=CUSTOM_DOMAIN,
        domainVerificationIdentifier=dv["id"])
    assert lattice.get_domain_verification(domainVerificationIdentifier=dv["id"])["status"] == "VERIFIED"
    network = lattice.create_service_network(name="db-net")
    snra = lattice.create_service_network_resource_association(
        resourceConfigurationIdentifier=rcfg["id"], serviceNetworkIdentifier=network["id"], privateDnsEnabled=True)
    snva = lattice.create_service_network_vpc_association(
        serviceNetworkIdentifier=network["id"], vpcIdentifier=consumer, privateDnsEnabled=True)
    name = lattice.get_service_network_resource_association(
        serviceNetworkResourceAssociationIdentifier=snra["id"])["dnsEntry"]["domainName"]
    until(lambda: resolve(server, consumer, name), what="the resource's name to resolve in the consumer VPC")
    return {"port": postgres, "name": name, "consumer": consumer, "other": other, "provider": provider,
            "gateway": gateway["id"], "rcfg": rcfg["id"], "rcfg_arn": rcfg["arn"], "lattice": lattice, "ec2": ec2,
            "network": network["id"], "snva": snva["id"]}


def test_psql_reaches_the_database_by_the_generated_name_from_the_gateways_address(server, shared_db):
    port, name, consumer = shared_db["port"], shared_db["name"], shared_db["consumer"]
    assert name.startswith("snra-") and f".{shared_db['rcfg']}.4232ccc.vpc-lattice-rsc.us-east-1.on.aws" in name
    (address,) = resolve(server, consumer, name)
    block = vpc_info(server, consumer)["resolver"].rsplit(".", 1)[0]
    assert address.rsplit(".", 1)[0] == block and int(address.rsplit(".", 1)[1]) >= 16  # in the consumer's block

    done = psql(server, consumer, name, port)
    assert done.returncode == 0, done.stderr
    # The database sees the connection come from one of the gateway's interfaces (its fabric addresses).
    gateway_addresses = interfaces_of(server, shared_db["provider"], shared_db["gateway"])
    assert len(gateway_addresses) == 2 and done.stdout.strip() in gateway_addresses


def test_psql_reaches_the_database_by_its_custom_domain_name(server, shared_db):
    consumer = shared_db["consumer"]
    assert resolve(server, consumer, CUSTOM_DOMAIN) == resolve(server, consumer, shared_db["name"])
    done = psql(server, consumer, CUSTOM_DOMAIN, shared_db["port"], "select 40 + 2")
    assert done.returncode == 0 and done.stdout.strip() == "42", done.stderr


def test_a_port_outside_the_configurations_ranges_is_refused(server, shared_db):
    consumer, port = shared_db["consumer"], shared_db["port"]
    (address,) = resolve(server, consumer, shared_db["name"])
    other_port = free_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, other_port), timeout=5).close()
    done = psql(server, consumer, shared_db["name"], other_port)
    assert done.returncode != 0 and "refused" in done.stderr
    assert _accepts(address, port)  # the configuration's own port listens there


def test_a_vpc_that_is_not_associated_can_neither_resolve_nor_connect(server, shared_db):
    other, name = shared_db["other"], shared_db["name"]
    assert resolve(server, other, name) == [] and resolve(server, other, CUSTOM_DOMAIN) == []
    done = psql(server, other, name, shared_db["port"])
    assert done.returncode != 0 and "could not translate host name" in done.stderr
    # Nothing listens for it anywhere in its block: the resource's address is the consumer's alone.
    block = vpc_info(server, other)["resolver"].rsplit(".", 1)[0]
    assert not any(_accepts(f"{block}.{host}", shared_db["port"]) for host in range(16, 24))


def test_a_resource_endpoint_reaches_the_database_by_its_name_and_the_custom_domain(server, shared_db):
    ec2 = shared_db["ec2"]
    vpc, subnets = make_vpc(ec2, "10.3.0.0/16")
    endpoint = ec2.create_vpc_endpoint(VpcEndpointType="Resource", VpcId=vpc, SubnetIds=subnets,
                                       ResourceConfigurationArn=shared_db["rcfg_arn"])["VpcEndpoint"]
    name = endpoint["DnsEntries"][0]["DnsName"]
    assert name.startswith(endpoint["VpcEndpointId"] + "." + shared_db["rcfg"])
    addresses = until(lambda: resolve(server, vpc, name), what="the endpoint's name to resolve")
    assert addresses == sorted(interfaces_of(server, vpc, endpoint["VpcEndpointId"])) and len(addresses) == 2
    assert resolve(server, vpc, CUSTOM_DOMAIN) == addresses  # private DNS is on by default, the domain verified
    for host in (name, CUSTOM_DOMAIN):
        done = psql(server, vpc, host, shared_db["port"], "select 6 * 7")
        assert done.returncode == 0 and done.stdout.strip() == "42", done.stderr

    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    until(lambda: not resolve(server, vpc, name), what="the deleted endpoint's name to go")
    assert not any(_accepts(a, shared_db["port"]) for a in addresses)


def test_an_unverified_custom_domain_resolves_only_where_the_consumer_takes_all_domains(server, shared_db):
    lattice, consumer, port = shared_db["lattice"], shared_db["consumer"], shared_db["port"]
    unverified = "unverified.example.internal"
    rcfg = lattice.create_resource_configuration(
        name="unverified-db", type="SINGLE", resourceGatewayIdentifier=shared_db["gateway"], portRanges=[str(port)],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.1.0.51"}}, customDomainName=unverified)
    snra = lattice.create_service_network_resource_association(
        resourceConfigurationIdentifier=rcfg["id"], serviceNetworkIdentifier=shared_db["network"],
        privateDnsEnabled=True)
    name = lattice.get_service_network_resource_association(
        serviceNetworkResourceAssociationIdentifier=snra["id"])["dnsEntry"]["domainName"]
    (address,) = until(lambda: resolve(server, consumer, name), what="the second configuration's name")
    assert address not in resolve(server, consumer, shared_db["name"])  # an address of its own
    assert resolve(server, consumer, unverified) == []  # VERIFIED_DOMAINS_ONLY, the default, leaves it out

    lattice.update_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=shared_db["snva"],
                                                   dnsOptions={"privateDnsPreference": "ALL_DOMAINS"})
    assert until(lambda: resolve(server, consumer, unverified), what="the unverified domain") == [address]
    done = psql(server, consumer, unverified, port, "select 1")
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr

    # The association deleted: the name goes, the address stops listening and an open connection is cut.
    held = socket.create_connection((address, port), timeout=10)
    held.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")  # SSLRequest: PostgreSQL answers N (no TLS here)
    assert held.recv(1) == b"N"  # the relay to the database is up
    lattice.delete_service_network_resource_association(serviceNetworkResourceAssociationIdentifier=snra["id"])
    until(lambda: not resolve(server, consumer, name), what="the deleted association's name to go")
    assert not _accepts(address, port)
    with held, pytest.raises(ConnectionResetError):
        held.recv(1)


def test_a_dns_resource_is_resolved_when_a_connection_arrives(server, shared_db):
    """A DNS resource with PUBLIC resolution: its name is resolved by the host's resolver per connection
    (``localhost`` here); the consumer's own resource address and endpoint interfaces never collide."""
    lattice, ec2, consumer, port = shared_db["lattice"], shared_db["ec2"], shared_db["consumer"], shared_db["port"]
    rcfg = lattice.create_resource_configuration(
        name="by-name-db", type="SINGLE", resourceGatewayIdentifier=shared_db["gateway"], portRanges=[str(port)],
        resourceConfigurationDefinition={"dnsResource": {"domainName": "localhost", "ipAddressType": "IPV4"}})
    snra = lattice.create_service_network_resource_association(
        resourceConfigurationIdentifier=rcfg["id"], serviceNetworkIdentifier=shared_db["network"])
    name = lattice.get_service_network_resource_association(
        serviceNetworkResourceAssociationIdentifier=snra["id"])["dnsEntry"]["domainName"]
    (address,) = until(lambda: resolve(server, consumer, name), what="the DNS resource's name")
    done = psql(server, consumer, name, port)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in interfaces_of(server, shared_db["provider"], shared_db["gateway"])

    # An interface created in the consumer VPC later takes a host number no resource address holds.
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [consumer]}])["Subnets"][0]["SubnetId"]
    endpoint = ec2.create_vpc_endpoint(VpcEndpointType="Resource", VpcId=consumer, SubnetIds=[subnet],
                                       ResourceConfigurationArn=rcfg["arn"], PrivateDnsEnabled=False)["VpcEndpoint"]
    interfaces = until(lambda: interfaces_of(server, consumer, endpoint["VpcEndpointId"]), what="its interface")
    resource_addresses = {a for n in (name, shared_db["name"]) for a in resolve(server, consumer, n)}
    assert len(resource_addresses) == 2 and not resource_addresses & set(interfaces)
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    lattice.delete_service_network_resource_association(serviceNetworkResourceAssociationIdentifier=snra["id"])


def test_a_child_of_a_group_is_reached_by_its_own_name(server, shared_db):
    """A GROUP associated with the network brings its CHILD configurations along (managed associations); each
    child is reached by its own association's name, at an address of its own."""
    lattice, consumer, port = shared_db["lattice"], shared_db["consumer"], shared_db["port"]
    group = lattice.create_resource_configuration(name="db-group", type="GROUP",
                                                  resourceGatewayIdentifier=shared_db["gateway"])
    snra = lattice.create_service_network_resource_association(
        resourceConfigurationIdentifier=group["id"], serviceNetworkIdentifier=shared_db["network"])
    # A child created after the group joined the network joins it too.
    child = lattice.create_resource_configuration(
        name="db-child", type="CHILD", resourceConfigurationGroupIdentifier=group["id"], portRanges=[str(port)],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.1.0.60"}})
    managed = lattice.list_service_network_resource_associations(
        resourceConfigurationIdentifier=child["id"], includeChildren=True)["items"]
    (name,) = [m["dnsEntry"]["domainName"] for m in managed]
    (address,) = until(lambda: resolve(server, consumer, name), what="the child's name")
    done = psql(server, consumer, name, port, "select 'child'")
    assert done.returncode == 0 and done.stdout.strip() == "child", done.stderr

    # The child deleted: its name and address go; the group's association stays.
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=child["id"])
    until(lambda: not resolve(server, consumer, name), what="the deleted child's name to go")
    assert not _accepts(address, port)
    lattice.delete_service_network_resource_association(serviceNetworkResourceAssociationIdentifier=snra["id"])


# -- the pure parts ----------------------------------------------------------------------------

def test_ports_served_are_the_ranges_first_ports_and_allows_follows_the_ranges():
    resource = Resource(id="rcfg-1", arn="arn", gateway_id="rgw-1", vpc_id="vpc-1", sources=(),
                        ports=((5432, 5432), (8000, 8002), (1, 65535)))
    narrow = dataclasses.replace(resource, ports=((5432, 5432), (8000, 8002)))
    assert resources.served_ports(narrow) == [5432, 8000, 8001, 8002]
    served = resources.served_ports(resource)
    assert len(served) == resources.MAX_PORTS and served[:6] == [5432, 8000, 8001, 8002, 1, 2]
    assert narrow.allows(8001) and narrow.allows(5432) and not narrow.allows(5433) and not narrow.allows(7999)


def test_specified_private_dns_domains_match_exactly_or_by_wildcard():
    assert _domain_matches("db.example.com", "db.example.com.") and _domain_matches("db.example.com", "*.example.com")
    assert not _domain_matches("example.com", "*.example.com") and not _domain_matches("db.example.org",
                                                                                        "*.example.com")


def test_resource_names_answer_only_in_their_vpc():
    view = VpcView("vpc-1", "arn", "111122223333", "us-east-1", "127.0.0.2", "127.0.0.10")
    name = "snra-0123456789abcdef0.rcfg-0123456789abcdef0.4232ccc.vpc-lattice-rsc.us-east-1.on.aws"
    names = {name: ("127.0.0.16",), "db.example.internal": ("127.0.0.16",)}
    for asked in (name, "DB.example.internal."):
        reply = answer(view, DNSRecord.question(asked, "A"), resources=names)
        assert [str(rr.rdata) for rr in reply.rr] == ["127.0.0.16"]
    # Another VPC has no resource names: the generated name is NXDOMAIN there, a custom one is forwarded.
    assert answer(view, DNSRecord.question(name, "A")).header.rcode == RCODE.NXDOMAIN
    assert answer(view, DNSRecord.question("db.example.internal", "A")) is FORWARD
    above = answer(view, DNSRecord.question(name.split(".", 1)[1], "A"), resources=names)
    assert above.header.rcode == RCODE.NOERROR and not above.rr  # an empty non-terminal, not NXDOMAIN


def test_a_service_network_endpoint_reaches_the_networks_resources(server, shared_db):
    ec2 = shared_db["ec2"]
    vpc, subnets = make_vpc(ec2, "10.4.0.0/16")
    network_arn = shared_db["lattice"].get_service_network(serviceNetworkIdentifier=shared_db["network"])["arn"]
    endpoint = ec2.create_vpc_endpoint(VpcEndpointType="ServiceNetwork", VpcId=vpc, SubnetIds=subnets,
                                       ServiceNetworkArn=network_arn)["VpcEndpoint"]
    associations = ec2.describe_vpc_endpoint_associations(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    (name,) = [a["DnsEntry"]["DnsName"] for a in associations["VpcEndpointAssociations"]
               if a.get("AssociatedResourceArn") == shared_db["rcfg_arn"]]
    assert name.startswith(endpoint["VpcEndpointId"] + "-snra-")
    (address,) = until(lambda: resolve(server, vpc, name), what="the endpoint's resource name")
    assert address not in interfaces_of(server, vpc, endpoint["VpcEndpointId"])  # an address of its own
    assert resolve(server, vpc, CUSTOM_DOMAIN) == [address]  # private DNS, the domain verified
    for host in (name, CUSTOM_DOMAIN):
        done = psql(server, vpc, host, shared_db["port"], "select 'sn endpoint'")
        assert done.returncode == 0 and done.stdout.strip() == "sn endpoint", done.stderr

    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    until(lambda: not resolve(server, vpc, name), what="the deleted endpoint's names to go")
    assert not _accepts(address, shared_db["port"])


def test_in_vpc_resolution_answers_from_the_gateway_vpcs_view():
    service = Service(id="svc-1", arn="arn", name="orders", account="1", region="us-east-1",
                      dns_name="orders-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws", custom_domain=None,
                      certificate_arn=None, auth_type="NONE", idle_timeout=60.0)
    network = ServiceNetwork(id="sn-1", arn="arn", name="n", account="1", auth_type="NONE")
    view = VpcView("vpc-1", "arn", "1", "us-east-1", "127.0.0.2", "127.0.0.10",
                   routes={service.dns_name: Route(service, network)}, names={"db.private.internal": ("127.0.0.17",)})
    snapshot = Snapshot(revision=1, vpcs={"vpc-1": view}, names={"nlb.elb.amazonaws.com": ("127.0.0.18",)},
                        resource_names={"vpc-1": {"other-db.internal": ("127.0.0.19",)}})
    assert resources.in_vpc_addresses(snapshot, "vpc-1", service.dns_name.upper()) == ("127.0.0.10",)
    assert resources.in_vpc_addresses(snapshot, "vpc-1", "db.private.internal.") == ("127.0.0.17",)
    assert resources.in_vpc_addresses(snapshot, "vpc-1", "nlb.elb.amazonaws.com") == ("127.0.0.18",)
    assert resources.in_vpc_addresses(snapshot, "vpc-1", "other-db.internal") == ("127.0.0.19",)
    assert resources.in_vpc_addresses(snapshot, "vpc-1", "localhost") is None  # the host's resolver answers
    assert resources.in_vpc_addresses(snapshot, "vpc-2", "db.private.internal") is None


def test_no_private_custom_domain_where_the_in_vpc_gateway_already_resolves_it(server, shared_db):
    """A gateway in the consumer's own VPC resolving IN_VPC, whose DNS resource lies under the custom domain: AWS
    makes no private hosted zone for that VPC (the name already resolves there); another VPC gets one."""
    lattice, ec2, consumer = shared_db["lattice"], shared_db["ec2"], shared_db["consumer"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [consumer]}])["Subnets"]]
    gateway = lattice.create_resource_gateway(name="local-gw", vpcIdentifier=consumer, subnetIds=subnets,
                                              resourceConfigDnsResolution="IN_VPC")
    rcfg = lattice.create_resource_configuration(
        name="local-db", type="SINGLE", resourceGatewayIdentifier=gateway["id"], portRanges=["5432"],
        customDomainName="local.example.internal",
        resourceConfigurationDefinition={"dnsResource": {"domainName": "db.local.example.internal",
                                                         "ipAddressType": "IPV4"}})
    snra = lattice.create_service_network_resource_association(
        resourceConfigurationIdentifier=rcfg["id"], serviceNetworkIdentifier=shared_db["network"],
        privateDnsEnabled=True)
    lattice.update_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=shared_db["snva"],
                                                   dnsOptions={"privateDnsPreference": "ALL_DOMAINS"})
    name = lattice.get_service_network_resource_association(
        serviceNetworkResourceAssociationIdentifier=snra["id"])["dnsEntry"]["domainName"]
    until(lambda: resolve(server, consumer, name), what="the local configuration's name")
    assert resolve(server, consumer, "local.example.internal") == []

    vpc, others = make_vpc(ec2, "10.5.0.0/16")
    endpoint = ec2.create_vpc_endpoint(VpcEndpointType="Resource", VpcId=vpc, SubnetIds=others,
                                       ResourceConfigurationArn=rcfg["arn"],
                                       DnsOptions={"PrivateDnsPreference": "ALL_DOMAINS"})["VpcEndpoint"]
    addresses = until(lambda: resolve(server, vpc, "local.example.internal"), what="the custom domain elsewhere")
    assert addresses == sorted(interfaces_of(server, vpc, endpoint["VpcEndpointId"]))
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    lattice.delete_service_network_resource_association(serviceNetworkResourceAssociationIdentifier=snra["id"])


PARTNER_DOMAIN = "orders.partner-a.example"


def test_a_partner_account_reaches_a_shared_database_with_psql(server, postgres):
    """README's partner walkthrough, call for call: account A shares its database (a resource configuration
    behind a resource gateway, in a service network) with account B through RAM; B accepts, then reaches it
    with psql both ways: its VPC associated with A's network by ARN, and its own Resource endpoint."""
    a, b = next(_accounts), next(_accounts)
    ec2_a, lattice_a, ram_a = (client_for(server, s, a) for s in ("ec2", "vpc-lattice", "ram"))
    ec2_b, lattice_b, ram_b = (client_for(server, s, b) for s in ("ec2", "vpc-lattice", "ram"))
    b_id = client_for(server, "sts", b).get_caller_identity()["Account"]

    # Account A: the database's VPC, a resource gateway, the configuration, a network holding it, the share.
    db_vpc, db_subnets = make_vpc(ec2_a, "10.9.0.0/16", zones=("a",))
    gateway = lattice_a.create_resource_gateway(name="partner-gw", vpcIdentifier=db_vpc, subnetIds=db_subnets)
    dv = lattice_a.start_domain_verification(domainName=PARTNER_DOMAIN)
    with (server.state.parent / "public-dns.txt").open("a") as zone:  # A publishes the TXT record
        zone.write(f'{dv["txtMethodConfig"]["name"]} TXT "{dv["txtMethodConfig"]["value"]}"\n')
    rcfg = lattice_a.create_resource_configuration(
        name="partner-db", type="SINGLE", resourceGatewayIdentifier=gateway["id"], portRanges=[str(postgres)],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.9.0.50"}},
        customDomainName=PARTNER_DOMAIN, domainVerificationIdentifier=dv["id"])
    network = lattice_a.create_service_network(name="partner-net")
    lattice_a.create_service_network_resource_association(serviceNetworkIdentifier=network["id"],
                                                          resourceConfigurationIdentifier=rcfg["id"],
                                                          privateDnsEnabled=True)
    share = ram_a.create_resource_share(name="partner-db", resourceArns=[network["arn"], rcfg["arn"]],
                                        principals=[b_id])["resourceShare"]["resourceShareArn"]

    # Account B: accept the invitation, then associate a VPC with A's network by its ARN.
    [invitation] = ram_b.get_resource_share_invitations(resourceShareArns=[share])["resourceShareInvitations"]
    assert invitation["status"] == "PENDING"
    ram_b.accept_resource_share_invitation(resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
    assert network["arn"] in [n["arn"] for n in lattice_b.list_service_networks()["items"]]
    app_vpc, _ = make_vpc(ec2_b, "10.9.0.0/16", zones=())
    lattice_b.create_service_network_vpc_association(serviceNetworkIdentifier=network["arn"], vpcIdentifier=app_vpc,
                                                     privateDnsEnabled=True)
    until(lambda: resolve(server, app_vpc, PARTNER_DOMAIN), what="the shared database's name to resolve in B's VPC")
    done = psql(server, app_vpc, PARTNER_DOMAIN, postgres, "select 'through the network'")
    assert done.returncode == 0 and done.stdout.strip() == "through the network", done.stderr

    # Or B's own Resource endpoint to the shared configuration, in another VPC of B's.
    other_vpc, other_subnets = make_vpc(ec2_b, "10.10.0.0/16", zones=("a",))
    endpoint = ec2_b.create_vpc_endpoint(VpcEndpointType="Resource", VpcId=other_vpc, SubnetIds=other_subnets,
                                         ResourceConfigurationArn=rcfg["arn"])["VpcEndpoint"]
    through = endpoint["DnsEntries"][0]["DnsName"]
    until(lambda: resolve(server, other_vpc, through), what="B's endpoint name to resolve")
    for host in (through, PARTNER_DOMAIN):
        done = psql(server, other_vpc, host, postgres, "select 'through the endpoint'")
        assert done.returncode == 0 and done.stdout.strip() == "through the endpoint", done.stderr
    ec2_b.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
