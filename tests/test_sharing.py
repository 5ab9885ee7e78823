"""What a RAM share changes in VPC Lattice, black-box with three accounts of one server.

A owns a service network, a service and a resource configuration and shares them with B (B accepts the
invitation); C is never shared anything. B then sees A's resources in its List calls with A's ARNs, reads them
by ARN (a bare id names only one's own resources), associates its own VPC and its own service with A's network
by ARN, and creates a Resource endpoint to A's configuration; C gets AWS's 404 (or EC2's error) for each.
Removing the share refuses new associations; existing ones stay (docs/aws-defaults.md). A's
``GetResourcePolicy`` answers RAM's policy naming B while the share holds.

Traffic (real echo targets, clients in B's VPCs): A's service through A's network, with an auth policy on A's
network conditioned on ``vpc-lattice-svcs:SourceVpcOwnerAccount`` that lets B's client in only while it names B;
A's network through B's ServiceNetwork endpoint; A's shared service through B's own network; A's shared
resource configuration through B's Resource endpoint and through B's own network, and in C's VPC none of its
names resolves.

Across accounts also: B's signed IAM users pass A's network only when B's identity policy and A's auth policy
both allow; A's endpoint service lets in the role and then the account of B's it allows, and never C; a share to
an organization (sharing with it enabled) reaches a member at once (a server of its own, test_ram's).
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass

import boto3
import pytest
from botocore.exceptions import ClientError

import conftest
from conftest import ACCOUNTS, account_id, client_for
from dataplane_env import EchoTarget, forward, wait_for
from latticework.ownpaths_client import vpc_info
from latticework.policy import parse_policy
from latticework.services.lattice.policies import principal_statements
from latticework.vpcclient import NameNotFound, VpcClient
from test_auth_dataplane import ALLOW_ALL, INVOKE, assume, policy as auth_policy, sign, user as iam_user
from test_ec2_endpoints import allow, interface_endpoint, make_vpc
from test_ram import ORG, _org_client, org_server  # noqa: F401 (org_server is a fixture)


@dataclass
class Account:
    n: int
    id: str
    ram: object
    lattice: object
    ec2: object


@pytest.fixture(scope="module")
def accounts(server):
    """A (owner), B (shared with) and C (never shared with): accounts no other test uses."""
    numbers = [next(conftest._accounts) for _ in range(3)]
    assert max(numbers) < ACCOUNTS
    return [Account(n, account_id(n), client_for(server, "ram", n), client_for(server, "vpc-lattice", n),
                    client_for(server, "ec2", n)) for n in numbers]


def _error(excinfo) -> tuple[str, int]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _refused(call, code: str, status: int) -> None:
    with pytest.raises(ClientError) as err:
        call()
    assert _error(err) == (code, status)


def share(owner: Account, receiver: Account, name: str, *arns: str) -> str:
    """Share ``arns`` from ``owner`` with ``receiver``, who accepts; answer the share's ARN."""
    arn = owner.ram.create_resource_share(name=name, resourceArns=list(arns),
                                          principals=[receiver.id])["resourceShare"]["resourceShareArn"]
    [invitation] = receiver.ram.get_resource_share_invitations(resourceShareArns=[arn])["resourceShareInvitations"]
    receiver.ram.accept_resource_share_invitation(resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
    return arn


def _arns(items: list[dict]) -> list[str]:
    return [i["arn"] for i in items]


def test_a_shared_network_is_seen_and_joined_by_arn_only_by_whom_it_is_shared_with(accounts):
    a, b, c = accounts
    network = a.lattice.create_service_network(name="partner-net")
    service = a.lattice.create_service(name="partner-svc")
    arn = network["arn"]
    get = lambda who, identifier: who.lattice.get_service_network(serviceNetworkIdentifier=identifier)  # noqa: E731
    _refused(lambda: get(b, arn), "ResourceNotFoundException", 404)  # not before a share
    assert "policy" not in a.lattice.get_resource_policy(resourceArn=arn)
    share_arn = share(a, b, "partners", arn, service["arn"])
    # RAM's resource policy on the owner's network names B and the managed permission's actions.
    [statement] = json.loads(a.lattice.get_resource_policy(resourceArn=arn)["policy"])["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{b.id}:root"]} and statement["Resource"] == arn
    assert "vpc-lattice:CreateServiceNetworkVpcAssociation" in statement["Action"]

    assert arn in _arns(b.lattice.list_service_networks()["items"])
    listed = {i["arn"]: i for i in b.lattice.list_service_networks()["items"]}[arn]
    assert (listed["id"], listed["name"]) == (network["id"], "partner-net") and arn.split(":")[4] == a.id
    assert get(b, arn)["arn"] == arn and get(b, arn)["sharingConfig"] == {"enabled": True}
    assert service["arn"] in _arns(b.lattice.list_services()["items"])
    assert b.lattice.get_service(serviceIdentifier=service["arn"])["name"] == "partner-svc"
    _refused(lambda: get(b, network["id"]), "ResourceNotFoundException", 404)  # a bare id is one's own
    for who in (c,):
        _refused(lambda: get(who, arn), "ResourceNotFoundException", 404)
        _refused(lambda: who.lattice.get_service(serviceIdentifier=service["arn"]), "ResourceNotFoundException", 404)
        assert arn not in _arns(who.lattice.list_service_networks()["items"])
        assert service["arn"] not in _arns(who.lattice.list_services()["items"])
    assert _arns(a.lattice.list_service_networks()["items"]).count(arn) == 1  # the owner lists it once

    # B joins its own VPC to A's network by ARN: the association is B's, and both accounts list it.
    vpc_b = b.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    joined = b.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=arn, vpcIdentifier=vpc_b)
    assert joined["arn"].split(":")[4] == b.id and joined["createdBy"] == b.id
    owner_view = a.lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=network["id"])["items"]
    assert [(i["id"], i["vpcId"]) for i in owner_view] == [(joined["id"], vpc_b)]
    mine = b.lattice.list_service_network_vpc_associations(vpcIdentifier=vpc_b)["items"]
    assert [(i["id"], i["serviceNetworkArn"]) for i in mine] == [(joined["id"], arn)]
    assert get(a, network["id"])["numberOfAssociatedVPCs"] == 1

    # C can reference nothing of A's.
    vpc_c = c.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    _refused(lambda: c.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=arn,
                                                                     vpcIdentifier=vpc_c),
             "ResourceNotFoundException", 404)
    own_c = c.lattice.create_service_network(name="c-net")
    _refused(lambda: c.lattice.create_service_network_service_association(serviceNetworkIdentifier=own_c["id"],
                                                                         serviceIdentifier=service["arn"]),
             "ResourceNotFoundException", 404)

    # B's own service joins A's network; A's service joins B's network; both shared to B is refused.
    svc_b = b.lattice.create_service(name="b-svc")
    assoc = b.lattice.create_service_network_service_association(serviceNetworkIdentifier=arn,
                                                                 serviceIdentifier=svc_b["id"])
    assert assoc["arn"].split(":")[4] == b.id
    own_b = b.lattice.create_service_network(name="b-net")
    into_b = b.lattice.create_service_network_service_association(serviceNetworkIdentifier=own_b["id"],
                                                                  serviceIdentifier=service["arn"])
    # The service's owner sees the association made in B's account, and can read it by id.
    seen = a.lattice.list_service_network_service_associations(serviceIdentifier=service["id"])["items"]
    assert [(i["id"], i["serviceNetworkArn"]) for i in seen] == [(into_b["id"], own_b["arn"])]
    assert a.lattice.get_service_network_service_association(
        serviceNetworkServiceAssociationIdentifier=into_b["id"])["createdBy"] == b.id
    _refused(lambda: c.lattice.get_service_network_service_association(
        serviceNetworkServiceAssociationIdentifier=into_b["arn"]), "ResourceNotFoundException", 404)
    _refused(lambda: b.lattice.create_service_network_service_association(serviceNetworkIdentifier=arn,
                                                                         serviceIdentifier=service["arn"]),
             "AccessDeniedException", 403)

    # Removing the share: no new associations; the existing one stays (and either side may delete it).
    a.ram.disassociate_resource_share(resourceShareArn=share_arn, principals=[b.id])
    _refused(lambda: get(b, arn), "ResourceNotFoundException", 404)
    assert "policy" not in a.lattice.get_resource_policy(resourceArn=arn)
    assert arn not in _arns(b.lattice.list_service_networks()["items"])
    other_b = b.ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    _refused(lambda: b.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=arn,
                                                                     vpcIdentifier=other_b),
             "ResourceNotFoundException", 404)
    assert [i["id"] for i in b.lattice.list_service_network_vpc_associations(vpcIdentifier=vpc_b)["items"]] \
        == [joined["id"]]
    _refused(lambda: c.lattice.delete_service_network_vpc_association(
        serviceNetworkVpcAssociationIdentifier=joined["arn"]), "ResourceNotFoundException", 404)
    a.lattice.delete_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=joined["id"])
    assert b.lattice.list_service_network_vpc_associations(vpcIdentifier=vpc_b)["items"] == []


def _reach(server, vpc: str, name: str, port: int) -> dict:
    """What the echo target behind ``name``:``port`` saw of a request from a client in ``vpc``."""
    client = VpcClient(vpc_info(server.url, vpc))
    answer = wait_for(lambda: _try(client, f"http://{name}:{port}/"), what=f"{name} to answer in {vpc}")
    assert answer.status == 200, answer.body
    return answer.json()


def _try(client: VpcClient, url: str):
    try:
        return client.get(url)
    except (NameNotFound, OSError):
        return None


def test_a_shared_resource_configuration_is_reached_through_the_consumers_endpoint_and_network(accounts, server):
    a, b, c = accounts
    target = EchoTarget("shared-db")
    try:
        vpc_a, subnets_a = make_vpc(a.ec2, "10.20.0.0/16")
        gateway = a.lattice.create_resource_gateway(name="share-gw", vpcIdentifier=vpc_a, subnetIds=subnets_a[:1])
        rc = a.lattice.create_resource_configuration(
            name="share-db", type="SINGLE", resourceGatewayIdentifier=gateway["id"], portRanges=[str(target.port)],
            allowAssociationToShareableServiceNetwork=False,
            resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.20.0.10"}})
        share(a, b, "db", rc["arn"])
        assert rc["arn"] in _arns(b.lattice.list_resource_configurations()["items"])
        assert rc["arn"] not in _arns(c.lattice.list_resource_configurations()["items"])
        assert b.lattice.get_resource_configuration(resourceConfigurationIdentifier=rc["arn"])["name"] == "share-db"

        # B's own Resource endpoint to A's configuration carries B's connections to A's resource.
        vpc_b, subnets_b = make_vpc(b.ec2, "10.30.0.0/16")
        endpoint = b.ec2.create_vpc_endpoint(VpcEndpointType="Resource", VpcId=vpc_b, SubnetIds=subnets_b[:1],
                                             ResourceConfigurationArn=rc["arn"])["VpcEndpoint"]
        seen = a.lattice.list_resource_endpoint_associations(resourceConfigurationIdentifier=rc["id"])["items"]
        assert [(i["vpcEndpointId"], i["vpcEndpointOwner"]) for i in seen] == [(endpoint["VpcEndpointId"], b.id)]
        assert _reach(server, vpc_b, endpoint["DnsEntries"][0]["DnsName"], target.port)["target"] == "shared-db"
        vpc_c, subnets_c = make_vpc(c.ec2, "10.40.0.0/16")
        _refused(lambda: c.ec2.create_vpc_endpoint(VpcEndpointType="Resource", VpcId=vpc_c, SubnetIds=subnets_c[:1],
                                                   ResourceConfigurationArn=rc["arn"]), "InvalidParameter", 400)

        # The owner keeps it out of shareable networks, B's included; B's private network takes it, and a
        # VPC of B's associated with that network reaches it.
        shareable = b.lattice.create_service_network(name="b-shareable")
        _refused(lambda: b.lattice.create_service_network_resource_association(
            serviceNetworkIdentifier=shareable["id"], resourceConfigurationIdentifier=rc["arn"]),
            "ValidationException", 400)
        private = b.lattice.create_service_network(name="b-private", sharingConfig={"enabled": False})
        joined = b.lattice.create_service_network_resource_association(serviceNetworkIdentifier=private["id"],
                                                                       resourceConfigurationIdentifier=rc["arn"])
        assert joined["arn"].split(":")[4] == b.id
        vpc_b2 = b.ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
        b.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=private["id"], vpcIdentifier=vpc_b2)
        name = b.lattice.get_service_network_resource_association(
            serviceNetworkResourceAssociationIdentifier=joined["id"])["dnsEntry"]["domainName"]
        assert _reach(server, vpc_b2, name, target.port)["target"] == "shared-db"

        # Never shared with C: in C's VPC none of those names resolves and nothing answers on the port.
        c_info = vpc_info(server.url, vpc_c)
        client_c = VpcClient(c_info)
        for unknown in (endpoint["DnsEntries"][0]["DnsName"], name):
            with pytest.raises(NameNotFound):
                client_c.resolve(unknown)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((c_info.lattice, target.port), timeout=5).close()
        b.ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    finally:
        target.stop()


def _allow_owner(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*",
        "Condition": {"StringEquals": {"vpc-lattice-svcs:SourceVpcOwnerAccount": account}}}]})


def _served(owner: Account, network: dict, service: dict, target: EchoTarget, cidr: str) -> None:
    """``service`` of ``owner`` in ``network``, forwarding HTTP on port 80 to ``target`` (in a VPC of ``cidr``)."""
    vpc = owner.ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    group = owner.lattice.create_target_group(name=f"{service['name']}-tg", type="IP", config={
        "port": 80, "protocol": "HTTP", "vpcIdentifier": vpc})["id"]
    owner.lattice.register_targets(targetGroupIdentifier=group, targets=[{"id": "127.0.0.1", "port": target.port}])
    owner.lattice.create_listener(serviceIdentifier=service["id"], name="http", protocol="HTTP", port=80,
                                  defaultAction=forward((group, 1)))
    owner.lattice.create_service_network_service_association(serviceNetworkIdentifier=network["id"],
                                                              serviceIdentifier=service["id"])


def test_a_client_in_the_consumers_vpc_calls_the_owners_service(accounts, server):
    a, b, c = accounts
    network = a.lattice.create_service_network(name="traffic-net", authType="AWS_IAM")
    service = a.lattice.create_service(name="traffic-svc")
    target = EchoTarget("shared")
    try:
        _served(a, network, service, target, "10.50.0.0/16")
        a.lattice.put_auth_policy(resourceIdentifier=network["id"], policy=_allow_owner(b.id))
        network_share = share(a, b, "traffic", network["arn"])
        vpc_b = b.ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
        b.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=network["arn"], vpcIdentifier=vpc_b)

        client = VpcClient(vpc_info(server.url, vpc_b))
        url, host = f"http://{service['dnsEntry']['domainName']}/", service["dnsEntry"]["domainName"]
        answer = client.request("GET", url, headers={"Host": service["dnsEntry"]["domainName"]})
        assert answer.status == 200, answer.body
        headers = {n.lower(): v for n, v in json.loads(answer.body)["headers"]}
        assert headers["x-amzn-source-vpc"] == vpc_b
        assert headers["x-amzn-lattice-network"] == f"SourceVpcArn=arn:aws:ec2:us-east-1:{b.id}:vpc/{vpc_b}"
        assert f"ServiceNetworkArn={network['arn']}" in headers["x-amzn-lattice-target"]

        a.lattice.put_auth_policy(resourceIdentifier=network["id"], policy=_allow_owner(c.id))
        denied = client.request("GET", url, headers={"Host": service["dnsEntry"]["domainName"]})
        assert denied.status == 403

        # A's service, shared, joins B's own network and serves B's clients there.
        share(a, b, "service", service["arn"])
        own = b.lattice.create_service_network(name="b-traffic-net")
        b.lattice.create_service_network_service_association(serviceNetworkIdentifier=own["id"],
                                                             serviceIdentifier=service["arn"])
        vpc_b2 = b.ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
        b.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=own["id"], vpcIdentifier=vpc_b2)
        answer = VpcClient(vpc_info(server.url, vpc_b2)).request("GET", url, headers={"Host": host})
        assert answer.status == 200 and {n.lower(): v for n, v in json.loads(answer.body)["headers"]}[
            "x-amzn-source-vpc"] == vpc_b2

        # Unsharing the network refuses new associations, and the existing one keeps serving (our decision).
        a.ram.disassociate_resource_share(resourceShareArn=network_share, principals=[b.id])
        a.lattice.put_auth_policy(resourceIdentifier=network["id"], policy=_allow_owner(b.id))
        assert client.request("GET", url, headers={"Host": host}).status == 200

        # A ServiceNetwork endpoint names a shared network only while it is shared.
        vpc_b3, subnets_b3 = make_vpc(b.ec2, "10.62.0.0/16")
        _refused(lambda: b.ec2.create_vpc_endpoint(VpcEndpointType="ServiceNetwork", VpcId=vpc_b3,
                                                   SubnetIds=subnets_b3[:1], ServiceNetworkArn=network["arn"]),
                 "InvalidParameter", 400)
        network_share = share(a, b, "again", network["arn"])
        endpoint = b.ec2.create_vpc_endpoint(VpcEndpointType="ServiceNetwork", VpcId=vpc_b3, SubnetIds=subnets_b3[:1],
                                             ServiceNetworkArn=network["arn"])["VpcEndpoint"]
        listed = a.lattice.list_service_network_vpc_endpoint_associations(serviceNetworkIdentifier=network["id"])
        assert [(i["vpcEndpointId"], i["vpcEndpointOwnerId"]) for i in listed["items"]] == \
            [(endpoint["VpcEndpointId"], b.id)]
        members = b.ec2.describe_vpc_endpoint_associations(
            VpcEndpointIds=[endpoint["VpcEndpointId"]])["VpcEndpointAssociations"]
        [through] = [m["DnsEntry"]["DnsName"] for m in members if m["AssociatedResourceArn"] == service["arn"]]
        seen = _reach(server, vpc_b3, through, 80)  # the network's auth policy names B: B's endpoint VPC passes
        assert {n.lower(): v for n, v in seen["headers"]}["x-amzn-source-vpc"] == vpc_b3
        b.ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint["VpcEndpointId"]])
    finally:
        target.stop()


def test_ram_policy_statements_cover_organizations_and_units():
    network = "arn:aws:vpc-lattice:us-east-1:111111111111:servicenetwork/sn-0123456789abcdef0"
    org = "arn:aws:organizations::111111111111:organization/o-abc"
    unit = "arn:aws:organizations::111111111111:ou/o-abc/ou-ab12-cdef"
    statements = principal_statements(["222222222222", org, unit], ["vpc-lattice:GetServiceNetwork"], network, "aws")
    assert [(s["Principal"], s.get("Condition")) for s in statements] == [
        ({"AWS": ["arn:aws:iam::222222222222:root"]}, None),
        ("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}),
        ("*", {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc/*/ou-ab12-cdef/*"}})]
    parse_policy(json.dumps({"Version": "2012-10-17", "Statement": statements}))  # a valid document


def test_a_consumers_association_of_a_shared_group_takes_the_groups_new_children(accounts):
    a, b, _ = accounts
    vpc_a, subnets_a = make_vpc(a.ec2, "10.70.0.0/16")
    gateway = a.lattice.create_resource_gateway(name="group-gw", vpcIdentifier=vpc_a, subnetIds=subnets_a[:1])
    group = a.lattice.create_resource_configuration(name="dbs", type="GROUP", resourceGatewayIdentifier=gateway["id"])

    def child(name: str, address: str) -> dict:
        return a.lattice.create_resource_configuration(
            name=name, type="CHILD", resourceConfigurationGroupIdentifier=group["id"], portRanges=["5432"],
            resourceConfigurationDefinition={"ipResource": {"ipAddress": address}})

    first = child("db-one", "10.70.0.11")
    owners = a.lattice.create_service_network(name="a-group-net")
    share(a, b, "group", group["arn"], owners["arn"])
    _refused(lambda: b.lattice.create_service_network_resource_association(  # B owns neither side
        serviceNetworkIdentifier=owners["arn"], resourceConfigurationIdentifier=group["arn"]),
        "AccessDeniedException", 403)
    network = b.lattice.create_service_network(name="b-group-net")
    joined = b.lattice.create_service_network_resource_association(serviceNetworkIdentifier=network["id"],
                                                                   resourceConfigurationIdentifier=group["arn"])

    def managed() -> dict[str, tuple[str, str]]:
        items = b.lattice.list_service_network_resource_associations(serviceNetworkIdentifier=network["id"],
                                                                     includeChildren=True)["items"]
        return {i["resourceConfigurationId"]: (i["arn"].split(":")[4], i["createdBy"])
                for i in items if i["isManagedAssociation"]}

    assert managed() == {first["id"]: (b.id, b.id)}
    second = child("db-two", "10.70.0.12")  # A adds a child: B's network gets it, in B's account
    assert managed() == {first["id"]: (b.id, b.id), second["id"]: (b.id, b.id)}
    # The group's owner may end B's association: the managed ones (in B's account) go with it.
    a.lattice.delete_service_network_resource_association(serviceNetworkResourceAssociationIdentifier=joined["id"])
    assert b.lattice.list_service_network_resource_associations(serviceNetworkIdentifier=network["id"],
                                                                includeChildren=True)["items"] == []


def test_a_signed_caller_of_another_account_needs_its_own_identity_policy_and_the_owners_auth_policy(
        accounts, server):
    """IAM's cross-account rule on the data plane: B's user is let in only when B's identity-based policy and
    A's auth policy both allow (policy/lattice.py); each refusal is Lattice's 403 naming the layer."""
    a, b, _ = accounts
    network = a.lattice.create_service_network(name="iam-net", authType="AWS_IAM")
    service = a.lattice.create_service(name="iam-svc")
    target = EchoTarget("iam")
    try:
        _served(a, network, service, target, "10.70.0.0/16")
        names_b = {**ALLOW_ALL, "Principal": {"AWS": f"arn:aws:iam::{b.id}:root"}}
        a.lattice.put_auth_policy(resourceIdentifier=network["id"], policy=auth_policy(names_b))
        share(a, b, "iam", network["arn"])
        vpc_b = b.ec2.create_vpc(CidrBlock="10.71.0.0/16")["Vpc"]["VpcId"]
        b.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=network["arn"], vpcIdentifier=vpc_b)

        iam_b = client_for(server, "iam", b.n)
        invoker, invoker_arn = iam_user(iam_b, "partner-invoker", {},
                                        [{"Effect": "Allow", "Action": INVOKE, "Resource": "*"}])
        bare, bare_arn = iam_user(iam_b, "partner-bare", {}, [])
        host = service["dnsEntry"]["domainName"]
        client = VpcClient(vpc_info(server.url, vpc_b))

        def call(caller):
            return client.request("GET", f"http://{host}/", headers=sign(caller, "GET", f"http://{host}/",
                                                                          {"Host": host}, None))

        def refusal(user: str, why: str) -> str:
            return (f"AccessDeniedException: User: {user} is not authorized to perform: {INVOKE} on resource: "
                    f"{service['arn']}/ {why}")

        allowed = call(invoker)
        assert allowed.status == 200, allowed.body
        seen = {n.lower(): v for n, v in allowed.json()["headers"]}
        assert f"Principal={invoker_arn}" in seen["x-amzn-lattice-identity"]
        # Without an identity policy in B, A's auth policy naming B's account is not enough.
        without = call(bare)
        assert (without.status, without.body.decode().rstrip("\n")) == (
            403, refusal(bare_arn, "because no identity-based policy allows the vpc-lattice-svcs:Invoke action"))
        # With it, A's auth policy must still name B: one naming only A refuses B's user.
        a.lattice.put_auth_policy(resourceIdentifier=network["id"], policy=auth_policy(
            {**ALLOW_ALL, "Principal": {"AWS": a.id}}))
        elsewhere = call(invoker)
        assert (elsewhere.status, elsewhere.body.decode().rstrip("\n")) == (
            403, refusal(invoker_arn, "because no network-based policy allows the vpc-lattice-svcs:Invoke action"))
        # An explicit deny for B's user in A's policy wins over B's own allow.
        a.lattice.put_auth_policy(resourceIdentifier=network["id"], policy=auth_policy(
            names_b, {**ALLOW_ALL, "Effect": "Deny", "Principal": {"AWS": invoker_arn}}))
        denied = call(invoker)
        assert (denied.status, denied.body.decode().rstrip("\n")) == (
            403, refusal(invoker_arn, "with an explicit deny in a network-based policy"))
    finally:
        target.stop()


def test_an_endpoint_service_lets_in_the_principals_it_allows_across_accounts(accounts, server):
    """PrivateLink across accounts: A's endpoint service allows a role of B's, then B's account. A session of
    that role sees the service and creates an interface endpoint through which B's VPC reaches A's NLB; B's
    other principals only once the account is allowed; C never (``InvalidServiceName``, EC2's error)."""
    a, b, c = accounts
    target = EchoTarget("behind-nlb")
    try:
        vpc_a, subnets_a = make_vpc(a.ec2, "10.80.0.0/16", zones=("a",))
        elbv2 = client_for(server, "elbv2", a.n)
        lb = elbv2.create_load_balancer(Name="share-nlb", Type="network", Scheme="internal",
                                        Subnets=subnets_a)["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elbv2.create_target_group(Name="share-nlb", Protocol="TCP", Port=80, VpcId=vpc_a,
                                       TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": "10.80.0.10", "Port": target.port}])
        elbv2.create_listener(LoadBalancerArn=lb, Protocol="TCP", Port=target.port,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        service = a.ec2.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[lb], AcceptanceRequired=False)["ServiceConfiguration"]
        name = service["ServiceName"]

        iam_b = client_for(server, "iam", b.n)
        everything = [{"Effect": "Allow", "Action": ["ec2:*", "sts:AssumeRole"], "Resource": "*"}]
        person, _ = iam_user(iam_b, "endpoint-admin", {}, everything)
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": b.id},
                                                         "Action": "sts:AssumeRole"}]}
        role_arn = iam_b.create_role(RoleName="endpoint-maker", Path="/net/",
                                     AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam_b.put_role_policy(RoleName="endpoint-maker", PolicyName="ec2", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": everything}))
        session, _ = assume(server, person, role_arn, "maker")
        as_role = boto3.client("ec2", endpoint_url=server.url, region_name="us-east-1",
                               aws_access_key_id=session.key, aws_secret_access_key=session.secret,
                               aws_session_token=session.token)
        as_person = client_for(server, "ec2", key=person.key, secret=person.secret)

        vpc_b, subnets_b = make_vpc(b.ec2, "10.81.0.0/16", zones=("a",))
        vpc_c, subnets_c = make_vpc(c.ec2, "10.82.0.0/16", zones=("a",))
        for who in (as_role, as_person, c.ec2):
            _refused(lambda: interface_endpoint(who, name, vpc_b if who is not c.ec2 else vpc_c,
                                                subnets_b if who is not c.ec2 else subnets_c),
                     "InvalidServiceName", 400)

        a.ec2.modify_vpc_endpoint_service_permissions(ServiceId=service["ServiceId"],
                                                      AddAllowedPrincipals=[f"arn:aws:iam::{b.id}:role/endpoint-maker"])
        assert name in as_role.describe_vpc_endpoint_services()["ServiceNames"]
        assert name not in as_person.describe_vpc_endpoint_services()["ServiceNames"]
        _refused(lambda: interface_endpoint(as_person, name, vpc_b, subnets_b), "InvalidServiceName", 400)
        created = interface_endpoint(as_role, name, vpc_b, subnets_b)
        assert created["State"] == "available"
        answer = _reach(server, vpc_b, created["DnsEntries"][0]["DnsName"], target.port)
        assert answer["target"] == "behind-nlb"

        allow(a.ec2, service["ServiceId"], b.id)  # the whole account: B's other principals too
        assert name in as_person.describe_vpc_endpoint_services()["ServiceNames"]
        assert name not in c.ec2.describe_vpc_endpoint_services()["ServiceNames"]
        _refused(lambda: interface_endpoint(c.ec2, name, vpc_c, subnets_c), "InvalidServiceName", 400)
        b.ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])
    finally:
        target.stop()


def test_a_share_to_the_organization_reaches_its_members_without_invitations(org_server):
    """With sharing with AWS Organizations enabled, a share to the organization's ARN lets every member see the
    network and associate its VPC by ARN at once (no invitation); an account outside gets the 404."""
    org, ids = org_server
    owner, member, outsider = (lambda s: _org_client(org, 1, s)), (lambda s: _org_client(org, 2, s)), \
        (lambda s: _org_client(org, 3, s))
    _org_client(org, 0).enable_sharing_with_aws_organization()
    network = owner("vpc-lattice").create_service_network(name="org-net")
    owner("ram").create_resource_share(name="org-net", resourceArns=[network["arn"]],
                                       principals=[f"arn:aws:organizations::{ids[0]}:organization/{ORG}"])
    assert member("ram").get_resource_share_invitations()["resourceShareInvitations"] == []
    assert network["arn"] in _arns(member("vpc-lattice").list_service_networks()["items"])
    vpc = member("ec2").create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    joined = member("vpc-lattice").create_service_network_vpc_association(serviceNetworkIdentifier=network["arn"],
                                                                          vpcIdentifier=vpc)
    assert joined["arn"].split(":")[4] == ids[2]
    seen = owner("vpc-lattice").list_service_network_vpc_associations(serviceNetworkIdentifier=network["id"])["items"]
    assert [(i["id"], i["vpcId"]) for i in seen] == [(joined["id"], vpc)]

    assert network["arn"] not in _arns(outsider("vpc-lattice").list_service_networks()["items"])
    elsewhere = outsider("ec2").create_vpc(CidrBlock="10.91.0.0/16")["Vpc"]["VpcId"]
    _refused(lambda: outsider("vpc-lattice").create_service_network_vpc_association(
        serviceNetworkIdentifier=network["arn"], vpcIdentifier=elsewhere), "ResourceNotFoundException", 404)
