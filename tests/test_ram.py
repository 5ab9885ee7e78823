"""AWS RAM against a real server, driven by boto3 with several accounts of the accounts file.

The suite's accounts all belong to one organization (``conftest.ORGANIZATION``) whose sharing with AWS
Organizations is not enabled, so sharing between them goes through invitations, as it does in AWS for a
new organization; the default account (``test``) is in no organization, so it is external to them.
``test_organization_sharing`` starts a server of its own whose organization names a management account,
to enable sharing without touching the shared server's organization.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

import conftest
from conftest import ACCOUNTS, account_id, client_for, start_server
from latticework.api.context import RequestContext
from latticework.config import Credential, Directory
from latticework.records import ram as stored
from latticework.records.ram import covers
from latticework.services.ram.provider import RamProvider
from latticework.store import Record
from latticework.store.sql import SqlStore

DEFAULT_ACCOUNT = "000000000000"
SN_TYPE = "vpc-lattice:ServiceNetwork"


@dataclass
class Account:
    id: str
    ram: object
    lattice: object


def _account(server, n: int) -> Account:
    return Account(account_id(n), client_for(server, "ram", n), client_for(server, "vpc-lattice", n))


@pytest.fixture
def accounts(server, clients):
    """Three accounts of their own: A (``clients``'s), B and C (the next two)."""
    others = [next(conftest._accounts) for _ in range(2)]
    assert max(others) < ACCOUNTS
    return [_account(server, clients.n), *(_account(server, n) for n in others)]


def _code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def _status(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _network(account: Account, name: str = "shared") -> str:
    return account.lattice.create_service_network(name=name)["arn"]


def _principal_status(owner: Account, share_arn: str, principal: str) -> str:
    found = owner.ram.get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=[share_arn],
                                                      principal=principal)["resourceShareAssociations"]
    return found[0]["status"]


def _other_resources(account: Account) -> list[str]:
    return [r["arn"] for r in account.ram.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"]]


def test_share_a_service_network_through_an_invitation(accounts):
    a, b, c = accounts
    network = _network(a)
    share = a.ram.create_resource_share(name="partners")["resourceShare"]
    assert share["status"] == "ACTIVE" and share["owningAccountId"] == a.id and share["allowExternalPrincipals"]
    arn = share["resourceShareArn"]
    a.ram.associate_resource_share(resourceShareArn=arn, resourceArns=[network], principals=[b.id])

    invitations = b.ram.get_resource_share_invitations()["resourceShareInvitations"]
    assert [(i["resourceShareArn"], i["status"], i["senderAccountId"], i["receiverAccountId"]) for i in invitations] \
        == [(arn, "PENDING", a.id, b.id)]
    assert _principal_status(a, arn, b.id) == "ASSOCIATING"
    assert _other_resources(b) == []  # nothing before accepting

    accepted = b.ram.accept_resource_share_invitation(
        resourceShareInvitationArn=invitations[0]["resourceShareInvitationArn"])["resourceShareInvitation"]
    assert accepted["status"] == "ACCEPTED"
    assert _principal_status(a, arn, b.id) == "ASSOCIATED"
    resources = b.ram.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"]
    assert [(r["arn"], r["type"], r["resourceShareArn"], r["status"]) for r in resources] == \
        [(network, SN_TYPE, arn, "AVAILABLE")]
    shared = b.ram.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"]
    assert [s["resourceShareArn"] for s in shared] == [arn]
    assert [p["id"] for p in a.ram.list_principals(resourceOwner="SELF", resourceArn=network)["principals"]] == [b.id]
    a.ram.associate_resource_share(resourceShareArn=arn, principals=[DEFAULT_ACCOUNT])
    seen = b.ram.list_principals(resourceOwner="OTHER-ACCOUNTS")["principals"]
    assert [(p["id"], p["resourceShareArn"]) for p in seen] == [(b.id, arn)]  # not the share's other principal
    permissions = a.ram.list_resource_share_permissions(resourceShareArn=arn)["permissions"]
    assert [p["resourceType"] for p in permissions] == [SN_TYPE]

    # C was never invited: it sees nothing and cannot answer B's invitation.
    assert c.ram.get_resource_share_invitations()["resourceShareInvitations"] == []
    assert _other_resources(c) == []
    assert c.ram.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"] == []
    with pytest.raises(ClientError) as err:
        c.ram.accept_resource_share_invitation(resourceShareInvitationArn=invitations[0]["resourceShareInvitationArn"])
    assert _code(err) == "ResourceShareInvitationArnNotFoundException" and _status(err) == 400
    with pytest.raises(ClientError) as err:
        b.ram.accept_resource_share_invitation(resourceShareInvitationArn=invitations[0]["resourceShareInvitationArn"])
    assert _code(err) == "ResourceShareInvitationAlreadyAcceptedException"

    other = _network(a, "short-lived")
    a.ram.associate_resource_share(resourceShareArn=arn, resourceArns=[other])
    assert set(_other_resources(b)) == {network, other}
    a.lattice.delete_service_network(serviceNetworkIdentifier=other)
    assert _other_resources(b) == [network]  # a deleted network is no longer listed

    a.ram.disassociate_resource_share(resourceShareArn=arn, principals=[b.id])
    assert _principal_status(a, arn, b.id) == "DISASSOCIATED"
    assert _other_resources(b) == []

    assert a.ram.delete_resource_share(resourceShareArn=arn)["returnValue"] is True
    [deleted] = a.ram.get_resource_shares(resourceOwner="SELF", resourceShareArns=[arn])["resourceShares"]
    assert deleted["status"] == "DELETED"
    statuses = a.ram.get_resource_share_associations(associationType="RESOURCE",
                                                     resourceShareArns=[arn])["resourceShareAssociations"]
    assert [s["status"] for s in statuses] == ["DISASSOCIATED", "DISASSOCIATED"]
    with pytest.raises(ClientError) as err:
        a.ram.associate_resource_share(resourceShareArn=arn, principals=[c.id])
    assert _code(err) == "OperationNotPermittedException"


def test_a_receiver_rejects_or_leaves(accounts):
    a, b, c = accounts
    arn = a.ram.create_resource_share(name="two", resourceArns=[_network(a)],
                                      principals=[b.id, c.id])["resourceShare"]["resourceShareArn"]
    [for_b] = b.ram.get_resource_share_invitations(resourceShareArns=[arn])["resourceShareInvitations"]
    b.ram.reject_resource_share_invitation(resourceShareInvitationArn=for_b["resourceShareInvitationArn"])
    assert _principal_status(a, arn, b.id) == "DISASSOCIATED"
    with pytest.raises(ClientError) as err:
        b.ram.accept_resource_share_invitation(resourceShareInvitationArn=for_b["resourceShareInvitationArn"])
    assert _code(err) == "ResourceShareInvitationAlreadyRejectedException"

    [for_c] = c.ram.get_resource_share_invitations()["resourceShareInvitations"]
    c.ram.accept_resource_share_invitation(resourceShareInvitationArn=for_c["resourceShareInvitationArn"])
    with pytest.raises(ClientError) as err:  # a receiver may only remove itself
        c.ram.disassociate_resource_share(resourceShareArn=arn, principals=[b.id])
    assert _code(err) == "OperationNotPermittedException"
    c.ram.disassociate_resource_share(resourceShareArn=arn, principals=[c.id])
    assert _principal_status(a, arn, c.id) == "DISASSOCIATED"
    assert _other_resources(c) == []


def test_external_principals_refused_when_not_allowed(accounts):
    a, b, _ = accounts
    arn = a.ram.create_resource_share(name="inside", allowExternalPrincipals=False)["resourceShare"]["resourceShareArn"]
    with pytest.raises(ClientError) as err:  # the default account is in no organization
        a.ram.associate_resource_share(resourceShareArn=arn, principals=[DEFAULT_ACCOUNT])
    assert _code(err) == "OperationNotPermittedException" and _status(err) == 400
    a.ram.associate_resource_share(resourceShareArn=arn, principals=[b.id])  # same organization: allowed
    external = a.ram.create_resource_share(name="outside", principals=[DEFAULT_ACCOUNT])["resourceShare"]
    [association] = a.ram.get_resource_share_associations(
        associationType="PRINCIPAL", resourceShareArns=[external["resourceShareArn"]])["resourceShareAssociations"]
    assert association["external"] is True and association["status"] == "ASSOCIATING"
    a.ram.update_resource_share(resourceShareArn=arn, allowExternalPrincipals=True, name="renamed")
    a.ram.associate_resource_share(resourceShareArn=arn, principals=[DEFAULT_ACCOUNT])
    [renamed] = a.ram.get_resource_shares(resourceOwner="SELF", name="renamed")["resourceShares"]
    assert renamed["resourceShareArn"] == arn


def test_only_lattice_resources_are_shareable(accounts, server):
    a, b, _ = accounts
    arn = a.ram.create_resource_share(name="checks")["resourceShare"]["resourceShareArn"]
    vpc = client_for(server, "ec2", int(a.id) - 100000000000).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    cases = {
        f"arn:aws:ec2:us-east-1:{a.id}:vpc/{vpc}": "InvalidParameterException",
        "not-an-arn": "MalformedArnException",
        _network(b, "of-b"): "UnknownResourceException",  # another account's network
        f"arn:aws:vpc-lattice:us-east-1:{a.id}:servicenetwork/sn-0123456789abcdef0": "UnknownResourceException",
    }
    for resource, code in cases.items():
        with pytest.raises(ClientError) as err:
            a.ram.associate_resource_share(resourceShareArn=arn, resourceArns=[resource])
        assert (_code(err), _status(err)) == (code, 400), resource
    unshareable = a.lattice.create_service_network(name="private", sharingConfig={"enabled": False})["arn"]
    with pytest.raises(ClientError) as err:
        a.ram.associate_resource_share(resourceShareArn=arn, resourceArns=[unshareable])
    assert _code(err) == "OperationNotPermittedException"
    for principal, code in {"12345": "MalformedArnException", a.id: "InvalidParameterException",
                            f"arn:aws:iam::{b.id}:role/x": "InvalidParameterException"}.items():
        with pytest.raises(ClientError) as err:
            a.ram.associate_resource_share(resourceShareArn=arn, principals=[principal])
        assert _code(err) == code, principal
    with pytest.raises(ClientError) as err:
        a.ram.associate_resource_share(resourceShareArn=arn.replace(a.id, b.id), principals=[b.id])
    assert _code(err) == "UnknownResourceException"
    with pytest.raises(ClientError) as err:
        a.ram.get_resource_shares(resourceOwner="SELF", resourceShareArns=["arn:aws:ram:us-east-1:1:nope"])
    assert _code(err) == "MalformedArnException"
    with pytest.raises(ClientError) as err:
        a.ram.get_resource_shares(resourceOwner="SELF", nextToken="garbage!")
    assert _code(err) == "InvalidNextTokenException"


def test_managed_permissions_and_resource_types(accounts):
    a = accounts[0]
    types = {t["resourceType"] for t in a.ram.list_resource_types()["resourceTypes"]}
    assert types == {SN_TYPE, "vpc-lattice:Service", "vpc-lattice:ResourceConfiguration"}
    [summary] = a.ram.list_permissions(resourceType=SN_TYPE)["permissions"]
    assert summary["permissionType"] == "AWS_MANAGED" and summary["isResourceTypeDefault"]
    detail = a.ram.get_permission(permissionArn=summary["arn"])["permission"]
    assert "vpc-lattice:CreateServiceNetworkVpcAssociation" in json.loads(detail["permission"])["Action"]
    with pytest.raises(ClientError) as err:
        a.ram.get_permission(permissionArn="arn:aws:ram::aws:permission/AWSRAMDefaultPermissionNothing")
    assert _code(err) == "UnknownResourceException"


def test_tags_and_filters(accounts):
    a = accounts[0]
    arn = a.ram.create_resource_share(name="tagged", tags=[{"key": "team", "value": "red"}])["resourceShare"][
        "resourceShareArn"]
    a.ram.create_resource_share(name="plain")
    a.ram.tag_resource(resourceShareArn=arn, tags=[{"key": "env", "value": "dev"}])
    a.ram.untag_resource(resourceShareArn=arn, tagKeys=["team"])
    [found] = a.ram.get_resource_shares(resourceOwner="SELF",
                                        tagFilters=[{"tagKey": "env", "tagValues": ["dev"]}])["resourceShares"]
    assert found["resourceShareArn"] == arn and found["tags"] == [{"key": "env", "value": "dev"}]
    assert a.ram.get_resource_shares(resourceOwner="SELF", tagFilters=[{"tagKey": "team"}])["resourceShares"] == []
    with pytest.raises(ClientError) as err:
        a.ram.tag_resource(resourceShareArn=arn, tags=[{"key": f"k{n}", "value": "v"} for n in range(50)])
    assert _code(err) == "TagLimitExceededException"
    first = a.ram.get_resource_shares(resourceOwner="SELF", maxResults=1)
    assert len(first["resourceShares"]) == 1 and "nextToken" in first


def test_client_token_makes_a_write_idempotent(accounts):
    a, b, _ = accounts
    first = a.ram.create_resource_share(name="once", clientToken="token-1")["resourceShare"]
    again = a.ram.create_resource_share(name="once", clientToken="token-1")["resourceShare"]
    assert again["resourceShareArn"] == first["resourceShareArn"]
    assert len(a.ram.get_resource_shares(resourceOwner="SELF", name="once")["resourceShares"]) == 1
    with pytest.raises(ClientError) as err:
        a.ram.create_resource_share(name="other", clientToken="token-1")
    assert _code(err) == "IdempotentParameterMismatchException"


def test_a_receiver_looks_at_an_invitation_before_accepting(accounts):
    a, b, c = accounts
    network = _network(a, "offered")
    a.ram.create_resource_share(name="offer", resourceArns=[network], principals=[b.id])
    [invitation] = b.ram.get_resource_share_invitations()["resourceShareInvitations"]
    offered = b.ram.list_pending_invitation_resources(
        resourceShareInvitationArn=invitation["resourceShareInvitationArn"])["resources"]
    assert [(r["arn"], r["type"]) for r in offered] == [(network, SN_TYPE)]
    with pytest.raises(ClientError) as err:
        c.ram.list_pending_invitation_resources(resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
    assert _code(err) == "ResourceShareInvitationArnNotFoundException"
    with pytest.raises(ClientError) as err:
        b.ram.list_resources(resourceOwner="OTHER-ACCOUNTS", resourceType="ec2:Subnet")
    assert _code(err) == "InvalidResourceTypeException"


ORG = "o-ramtest0001"
ACCOUNTS_FILE = """\
[[organizations]]
id = "{org}"
root = "r-ram1"
management_account = "{manager}"
{accounts}
"""
MEMBER = """
[[accounts]]
id = "{id}"
{membership}
[[accounts.credentials]]
access_key_id = "AKIDRAM{n}"
secret_access_key = "secret-{n}"
"""


@pytest.fixture(scope="module")
def org_server(tmp_path_factory):
    """A server whose organization has a management account (0), members 1 and 2 (2 in an OU), and 3 outside."""
    base = tmp_path_factory.mktemp("ram-org")
    ids = [f"55555555555{n}" for n in range(4)]
    paths = ['', '', 'ou_path = ["ou-ram1-aaaaaaaa"]', None]
    members = "".join(MEMBER.format(id=i, n=n, membership="" if p is None else f'organization = "{ORG}"\n{p}')
                      for n, (i, p) in enumerate(zip(ids, paths)))
    config = base / "accounts.toml"
    config.write_text(ACCOUNTS_FILE.format(org=ORG, manager=ids[0], accounts=members))
    server = start_server(base / "state.db", config, workers=1)
    yield server, ids
    server.stop()


def _org_client(server, n: int, service: str = "ram"):
    return client_for(server, service, key=f"AKIDRAM{n}", secret=f"secret-{n}")


def test_organization_sharing(org_server):
    server, ids = org_server
    member, outsider = _org_client(server, 1), _org_client(server, 3)
    network = _org_client(server, 1, "vpc-lattice").create_service_network(name="org-shared")["arn"]
    org_arn = f"arn:aws:organizations::{ids[0]}:organization/{ORG}"
    ou_arn = f"arn:aws:organizations::{ids[0]}:ou/{ORG}/ou-ram1-aaaaaaaa"
    arn = member.create_resource_share(name="org", resourceArns=[network])["resourceShare"]["resourceShareArn"]
    with pytest.raises(ClientError) as err:  # not enabled yet
        member.associate_resource_share(resourceShareArn=arn, principals=[org_arn])
    assert _code(err) == "OperationNotPermittedException"
    with pytest.raises(ClientError) as err:  # only the management account enables it
        member.enable_sharing_with_aws_organization()
    assert _code(err) == "OperationNotPermittedException"
    assert _org_client(server, 0).enable_sharing_with_aws_organization()["returnValue"] is True

    member.associate_resource_share(resourceShareArn=arn, principals=[ou_arn, ids[0]])
    assert _org_client(server, 0).get_resource_share_invitations()["resourceShareInvitations"] == []
    statuses = {a["associatedEntity"]: a["status"] for a in member.get_resource_share_associations(
        associationType="PRINCIPAL", resourceShareArns=[arn])["resourceShareAssociations"]}
    assert statuses == {ou_arn: "ASSOCIATED", ids[0]: "ASSOCIATED"}
    in_unit = _org_client(server, 2).list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"]
    assert [r["arn"] for r in in_unit] == [network]  # through the OU, without an invitation
    assert [r["arn"] for r in _org_client(server, 0).list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"]] \
        == [network]
    assert outsider.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"] == []
    member.associate_resource_share(resourceShareArn=arn, principals=[org_arn])
    with pytest.raises(ClientError) as err:  # another organization's ARN
        member.associate_resource_share(resourceShareArn=arn,
                                        principals=[f"arn:aws:organizations::{ids[0]}:organization/o-otherorg01"])
    assert _code(err) == "UnknownResourceException"


# -- records.ram: the question VPC Lattice asks ---------------------------------------------

A, B, C = "111111111111", "222222222222", "333333333333"
NETWORK = f"arn:aws:vpc-lattice:us-east-1:{A}:servicenetwork/sn-0123456789abcdef0"


def test_shared_with_answers_from_the_store(tmp_path):
    """``shared_with``/``resources_shared_with`` over a store the provider wrote (no server: one transaction a call)."""

    store, provider, directory = SqlStore.sqlite(tmp_path / "state.db"), RamProvider(), Directory()

    def call(account: str, operation: str, **params):
        with store.transaction(account, "us-east-1", operation) as tx:
            ctx = RequestContext("ram", operation, account, "us-east-1", "id", Credential("k", "s", account),
                                 tx=tx, directory=directory)
            return getattr(provider, operation)(ctx, params)

    def ask(account: str) -> tuple[bool, list[str]]:
        tx = store.reader(account, "us-east-1", "ask")
        return stored.shared_with(tx, account, NETWORK), stored.resources_shared_with(tx, account, SN_TYPE)

    try:
        with store.transaction(A, "us-east-1", "seed") as tx:
            tx.put(Record("servicenetwork", "sn-0123456789abcdef0", A, "us-east-1", {"name": "n"}, arn=NETWORK))
        share = call(A, "create_resource_share", name="s", resourceArns=[NETWORK], principals=[B])["resourceShare"]
        assert ask(B) == (False, [])  # invited, not accepted yet
        [invitation] = call(B, "get_resource_share_invitations")["resourceShareInvitations"]
        call(B, "accept_resource_share_invitation", resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
        assert ask(B) == (True, [NETWORK])
        assert ask(C) == (False, [])
        call(A, "disassociate_resource_share", resourceShareArn=share["resourceShareArn"], resourceArns=[NETWORK])
        assert ask(B) == (False, [])
    finally:
        store.close()


def test_organization_and_unit_principals_cover_their_accounts():
    path = "o-abcdefghij/r-ab12/ou-ab12-11111111/ou-ab12-22222222/"
    org = "arn:aws:organizations::111111111111:organization/o-abcdefghij"
    unit = "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-22222222"
    assert covers(org, B, path) and covers(unit, B, path) and covers(B, B, None)
    assert not covers(org, B, None) and not covers(unit, B, "o-abcdefghij/r-ab12/")
    assert not covers("arn:aws:organizations::111111111111:organization/o-otherorg00", B, path)
    assert not covers(C, B, path)
