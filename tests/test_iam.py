"""IAM through boto3 against the real server: users, access keys, roles, inline and managed policies, tags.

Every test works in an account of its own (``clients``). IAM is global, so the clients are made in any
Region; ARNs name none. Policy documents come back URL-encoded on the wire, as from AWS, and boto3
decodes them into dicts (the assertions compare dicts).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import conftest
from conftest import client_for, error_code, status_of

TRUST_ACCOUNT = "arn:aws:iam::{account}:root"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ_LATTICE = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["vpc-lattice:Get*", "vpc-lattice:List*"], "Resource": "*"}]}


def trust(*principals: str, **extra) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole", **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def iam(clients):
    return clients.client("iam")


def fails(code: str, status: int, call, **kwargs) -> str:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    assert (error_code(excinfo), status_of(excinfo)) == (code, status), excinfo.value.response["Error"]
    return excinfo.value.response["Error"]["Message"]


# -- users and access keys -------------------------------------------------------------------

def test_user_lifecycle(iam, clients):
    created = iam.create_user(UserName="alice", Path="/team/", Tags=[{"Key": "env", "Value": "dev"}])["User"]
    assert created["Arn"] == f"arn:aws:iam::{clients.account}:user/team/alice"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    assert created["Tags"] == [{"Key": "env", "Value": "dev"}]
    got = iam.get_user(UserName="ALICE")["User"]  # names are found whatever their case
    assert (got["UserName"], got["Path"], got["UserId"]) == ("alice", "/team/", created["UserId"])
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["alice"]
    assert iam.list_users(PathPrefix="/other/")["Users"] == []
    assert "Tags" not in iam.list_users()["Users"][0]
    message = fails("EntityAlreadyExists", 409, iam.create_user, UserName="Alice")
    assert message == "User with name Alice already exists."
    iam.delete_user(UserName="alice")
    assert fails("NoSuchEntity", 404, iam.get_user, UserName="alice") == "The user with name alice cannot be found."


def test_user_names_follow_the_model(iam):
    fails("ValidationError", 400, iam.create_user, UserName="bad name!")


def _user_with_key(iam, name: str = "app", policy: dict | None = None) -> dict:
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="main", PolicyDocument=json.dumps(policy))
    return iam.create_access_key(UserName=name)["AccessKey"]


def _client_of(server, service: str, key: dict, **kwargs):
    return client_for(server, service, key=key["AccessKeyId"], secret=key["SecretAccessKey"], **kwargs)


def test_access_key_signs_for_its_user(iam, clients):
    key = _user_with_key(iam)
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    who = _client_of(clients.server, "sts", key).get_caller_identity()
    user = iam.get_user(UserName="app")["User"]
    assert who == {**who, "UserId": user["UserId"], "Account": clients.account, "Arn": user["Arn"]}
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="app")["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    assert _client_of(clients.server, "iam", key).get_user()["User"]["UserName"] == "app"


def test_inactive_and_deleted_keys_are_refused_like_unknown_ones(iam, clients):
    key = _user_with_key(iam)
    sts = _client_of(clients.server, "sts", key)
    iam.update_access_key(UserName="app", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert fails("InvalidClientTokenId", 403, sts.get_caller_identity) == \
        "The security token included in the request is invalid."
    iam.update_access_key(UserName="app", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Account"] == clients.account
    iam.delete_access_key(UserName="app", AccessKeyId=key["AccessKeyId"])
    fails("InvalidClientTokenId", 403, sts.get_caller_identity)
    fails("UnrecognizedClientException", 403, _client_of(clients.server, "vpc-lattice", key).list_services)


def test_a_user_holds_two_keys_and_cannot_go_while_it_has_any(iam):
    _user_with_key(iam)
    second = iam.create_access_key(UserName="app")["AccessKey"]
    assert fails("LimitExceeded", 409, iam.create_access_key, UserName="app") == \
        "Cannot exceed quota for AccessKeysPerUser: 2"
    assert fails("DeleteConflict", 409, iam.delete_user, UserName="app") == \
        "Cannot delete entity, must delete access keys first."
    fails("NoSuchEntity", 404, iam.delete_access_key, UserName="app", AccessKeyId="AKIAUNKNOWNKEY000000")
    for k in iam.list_access_keys(UserName="app")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="app", AccessKeyId=k["AccessKeyId"])
    assert second["AccessKeyId"] not in [k["AccessKeyId"] for k in iam.list_access_keys(UserName="app")["AccessKeyMetadata"]]
    iam.delete_user(UserName="app")


def test_get_user_of_the_account_credentials_is_the_root_user(iam, clients):
    root = iam.get_user()["User"]
    assert (root["UserId"], root["Arn"]) == (clients.account, f"arn:aws:iam::{clients.account}:root")


# -- roles -------------------------------------------------------------------------------------------

def test_role_lifecycle(iam, clients):
    document = trust(TRUST_ACCOUNT.format(account=clients.account))
    role = iam.create_role(RoleName="app-role", Path="/svc/", AssumeRolePolicyDocument=document,
                           Description="the app", Tags=[{"Key": "team", "Value": "pay"}])["Role"]
    assert role["Arn"] == f"arn:aws:iam::{clients.account}:role/svc/app-role"
    assert role["RoleId"].startswith("AROA") and role["MaxSessionDuration"] == 3600
    assert role["AssumeRolePolicyDocument"] == json.loads(document)  # boto3 decodes the URL-encoded document
    got = iam.get_role(RoleName="App-Role")["Role"]
    assert (got["Description"], got["Tags"]) == ("the app", [{"Key": "team", "Value": "pay"}])
    listed = iam.list_roles(PathPrefix="/svc/")["Roles"]
    assert [r["RoleName"] for r in listed] == ["app-role"] and "Tags" not in listed[0]
    assert iam.list_instance_profiles_for_role(RoleName="app-role")["InstanceProfiles"] == []
    iam.update_role(RoleName="app-role", MaxSessionDuration=7200, Description="changed")
    got = iam.get_role(RoleName="app-role")["Role"]
    assert (got["MaxSessionDuration"], got["Description"]) == (7200, "changed")
    assert iam.update_role_description(RoleName="app-role", Description="again")["Role"]["Description"] == "again"
    narrower = trust(f"arn:aws:iam::{clients.account}:root", Condition={"StringEquals": {"sts:ExternalId": "x"}})
    iam.update_assume_role_policy(RoleName="app-role", PolicyDocument=narrower)
    assert iam.get_role(RoleName="app-role")["Role"]["AssumeRolePolicyDocument"] == json.loads(narrower)
    iam.delete_role(RoleName="app-role")
    assert fails("NoSuchEntity", 404, iam.get_role, RoleName="app-role") == \
        "The role with name app-role cannot be found."
    fails("NoSuchEntity", 404, iam.list_instance_profiles_for_role, RoleName="app-role")


def test_role_errors(iam, clients):
    document = trust(clients.account)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=document)
    assert fails("EntityAlreadyExists", 409, iam.create_role, RoleName="R", AssumeRolePolicyDocument=document) == \
        "Role with name R already exists."
    unchecked = clients.client("iam", parameter_validation=False)  # boto3 checks the range itself
    assert "Member must have value greater than or equal to 3600" in fails(
        "ValidationError", 400, unchecked.create_role, RoleName="long", AssumeRolePolicyDocument=document,
        MaxSessionDuration=100)
    with_resource = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": clients.account}, "Action": "sts:AssumeRole", "Resource": "*"}]})
    assert fails("MalformedPolicyDocument", 400, iam.create_role, RoleName="x",
                 AssumeRolePolicyDocument=with_resource) == "Has prohibited field Resource"
    ghost = f"arn:aws:iam::{clients.account}:role/ghost"
    assert fails("MalformedPolicyDocument", 400, iam.create_role, RoleName="x",
                 AssumeRolePolicyDocument=trust(ghost)) == f'Invalid principal in policy: "AWS":"{ghost}"'
    fails("MalformedPolicyDocument", 400, iam.create_role, RoleName="x", AssumeRolePolicyDocument="{not json")
    fails("MalformedPolicyDocument", 400, iam.create_role, RoleName="x", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": clients.account},
                                                 "Action": "s3:GetObject"}]}))


def test_role_with_policies_cannot_be_deleted(iam, clients):
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust(clients.account))
    iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=json.dumps(READ_LATTICE))
    assert fails("DeleteConflict", 409, iam.delete_role, RoleName="r") == \
        "Cannot delete entity, must delete policies first."
    iam.delete_role_policy(RoleName="r", PolicyName="p")
    iam.attach_role_policy(RoleName="r", PolicyArn="arn:aws:iam::aws:policy/VPCLatticeReadOnlyAccess")
    assert fails("DeleteConflict", 409, iam.delete_role, RoleName="r") == \
        "Cannot delete entity, must detach all policies first."
    iam.detach_role_policy(RoleName="r", PolicyArn="arn:aws:iam::aws:policy/VPCLatticeReadOnlyAccess")
    iam.delete_role(RoleName="r")


def test_tags_of_users_roles_and_policies(iam, clients):
    iam.create_user(UserName="u")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust(clients.account))
    arn = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(READ_LATTICE))["Policy"]["Arn"]
    for tag, untag, listing, ident in ((iam.tag_user, iam.untag_user, iam.list_user_tags, {"UserName": "u"}),
                                       (iam.tag_role, iam.untag_role, iam.list_role_tags, {"RoleName": "r"}),
                                       (iam.tag_policy, iam.untag_policy, iam.list_policy_tags, {"PolicyArn": arn})):
        tag(**ident, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        tag(**ident, Tags=[{"Key": "A", "Value": "3"}])  # keys are unique whatever their case
        assert listing(**ident)["Tags"] == [{"Key": "A", "Value": "3"}, {"Key": "b", "Value": "2"}]
        untag(**ident, TagKeys=["a"])
        listed = listing(**ident)
        assert (listed["Tags"], listed["IsTruncated"]) == ([{"Key": "b", "Value": "2"}], False)
        fails("InvalidInput", 400, tag, **ident, Tags=[{"Key": "aws:x", "Value": "1"}])
    assert iam.get_role(RoleName="r")["Role"]["Tags"] == [{"Key": "b", "Value": "2"}]


# -- inline policies ----------------------------------------------------------------------------

def test_inline_policies_of_users_and_roles(iam, clients):
    iam.create_user(UserName="u")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust(clients.account))
    for put, get, listing, delete, ident, member in (
            (iam.put_user_policy, iam.get_user_policy, iam.list_user_policies, iam.delete_user_policy,
             {"UserName": "u"}, "UserName"),
            (iam.put_role_policy, iam.get_role_policy, iam.list_role_policies, iam.delete_role_policy,
             {"RoleName": "r"}, "RoleName")):
        put(**ident, PolicyName="b", PolicyDocument=json.dumps(READ_LATTICE))
        put(**ident, PolicyName="a", PolicyDocument=json.dumps(ALLOW_ALL))
        put(**ident, PolicyName="a", PolicyDocument=json.dumps(READ_LATTICE))  # again: replaced
        assert listing(**ident)["PolicyNames"] == ["a", "b"]
        got = get(**ident, PolicyName="a")
        assert (got[member], got["PolicyName"], got["PolicyDocument"]) == (ident[member], "a", READ_LATTICE)
        delete(**ident, PolicyName="a")
        noun = "user" if member == "UserName" else "role"
        assert fails("NoSuchEntity", 404, get, **ident, PolicyName="a") == \
            f"The {noun} policy with name a cannot be found."
        fails("NoSuchEntity", 404, delete, **ident, PolicyName="a")


def test_identity_policies_are_checked(iam):
    iam.create_user(UserName="u")
    with_principal = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice:*", "Resource": "*"}]}
    assert fails("MalformedPolicyDocument", 400, iam.put_user_policy, UserName="u", PolicyName="p",
                 PolicyDocument=json.dumps(with_principal)) == "Policy document should not specify a principal."
    assert fails("MalformedPolicyDocument", 400, iam.put_user_policy, UserName="u", PolicyName="p",
                 PolicyDocument="{oops") == "This policy contains invalid Json"
    fails("MalformedPolicyDocument", 400, iam.put_user_policy, UserName="u", PolicyName="p",
          PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}))
    fails("NoSuchEntity", 404, iam.put_user_policy, UserName="nobody", PolicyName="p",
          PolicyDocument=json.dumps(READ_LATTICE))
    big = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"vpc-lattice:Get{'x' * 40}{n}" for n in range(60)], "Resource": "*"}]}
    fails("LimitExceeded", 409, iam.put_user_policy, UserName="u", PolicyName="p", PolicyDocument=json.dumps(big))


# -- managed policies ----------------------------------------------------------------------------

def test_aws_managed_policies_exist_with_their_documents(iam):
    for name in ("VPCLatticeServicesInvokeAccess", "VPCLatticeFullAccess", "VPCLatticeReadOnlyAccess",
                 "AdministratorAccess", "ReadOnlyAccess"):
        arn = f"arn:aws:iam::aws:policy/{name}"
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        assert (policy["PolicyName"], policy["Arn"], policy["IsAttachable"]) == (name, arn, True)
        version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        assert version["IsDefaultVersion"] and version["Document"]["Statement"]
    invoke = iam.get_policy_version(PolicyArn="arn:aws:iam::aws:policy/VPCLatticeServicesInvokeAccess",
                                    VersionId="v1")["PolicyVersion"]["Document"]
    assert invoke == {"Version": "2012-10-17",
                      "Statement": [{"Effect": "Allow", "Action": ["vpc-lattice-svcs:Invoke"], "Resource": "*"}]}
    listed = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {"AdministratorAccess", "VPCLatticeFullAccess"} <= listed
    fails("InvalidInput", 400, iam.delete_policy, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")


def test_managed_policy_versions(iam, clients):
    policy = iam.create_policy(PolicyName="reader", Path="/p/", Description="reads",
                               PolicyDocument=json.dumps(READ_LATTICE))["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{clients.account}:policy/p/reader"
    assert (policy["DefaultVersionId"], policy["AttachmentCount"], policy["PolicyId"][:4]) == ("v1", 0, "ANPA")
    assert fails("EntityAlreadyExists", 409, iam.create_policy, PolicyName="READER",
                 PolicyDocument=json.dumps(READ_LATTICE)) == \
        "A policy called READER already exists. Duplicate names are not allowed."
    for n in range(2, 6):
        version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ALLOW_ALL),
                                            SetAsDefault=n == 3)["PolicyVersion"]
        assert version["VersionId"] == f"v{n}"
    fails("LimitExceeded", 409, iam.create_policy_version, PolicyArn=arn, PolicyDocument=json.dumps(ALLOW_ALL))
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == \
        [("v5", False), ("v4", False), ("v3", True), ("v2", False), ("v1", False)]
    assert "Document" not in versions[0]
    assert fails("DeleteConflict", 409, iam.delete_policy_version, PolicyArn=arn, VersionId="v3") == \
        "Cannot delete the default version of a policy."
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"] == READ_LATTICE
    fails("DeleteConflict", 409, iam.delete_policy, PolicyArn=arn)  # other versions remain
    for n in range(2, 6):
        iam.delete_policy_version(PolicyArn=arn, VersionId=f"v{n}")
    fails("NoSuchEntity", 404, iam.get_policy_version, PolicyArn=arn, VersionId="v2")
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ALLOW_ALL))["PolicyVersion"][
        "VersionId"] == "v6"  # version numbers are never reused
    iam.delete_policy_version(PolicyArn=arn, VersionId="v6")
    iam.delete_policy(PolicyArn=arn)
    assert fails("NoSuchEntity", 404, iam.get_policy, PolicyArn=arn) == f"Policy {arn} was not found."


def test_attaching_managed_policies(iam, clients):
    arn = iam.create_policy(PolicyName="reader", PolicyDocument=json.dumps(READ_LATTICE))["Policy"]["Arn"]
    aws = "arn:aws:iam::aws:policy/VPCLatticeServicesInvokeAccess"
    iam.create_user(UserName="u")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust(clients.account))
    iam.attach_user_policy(UserName="u", PolicyArn=arn)
    iam.attach_role_policy(RoleName="r", PolicyArn=arn)
    iam.attach_role_policy(RoleName="r", PolicyArn=aws)
    assert iam.list_attached_role_policies(RoleName="r")["AttachedPolicies"] == [
        {"PolicyName": "reader", "PolicyArn": arn}, {"PolicyName": "VPCLatticeServicesInvokeAccess", "PolicyArn": aws}]
    assert iam.list_attached_user_policies(UserName="u")["AttachedPolicies"] == [{"PolicyName": "reader", "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["u"]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["r"]
    assert iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")["PolicyUsers"] == []
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]] == ["reader"]
    assert fails("DeleteConflict", 409, iam.delete_policy, PolicyArn=arn) == \
        "Cannot delete a policy attached to entities."
    missing = f"arn:aws:iam::{clients.account}:policy/nope"
    assert fails("NoSuchEntity", 404, iam.attach_role_policy, RoleName="r", PolicyArn=missing) == \
        f"Policy {missing} does not exist or is not attachable."
    iam.detach_user_policy(UserName="u", PolicyArn=arn)
    iam.detach_role_policy(RoleName="r", PolicyArn=arn)
    assert fails("NoSuchEntity", 404, iam.detach_role_policy, RoleName="r", PolicyArn=arn) == \
        f"Policy {arn} was not attached."
    iam.delete_policy(PolicyArn=arn)


def test_lists_page_with_markers(iam):
    for n in range(5):
        iam.create_user(UserName=f"user-{n}")
    first = iam.list_users(MaxItems=2)
    assert first["IsTruncated"] and len(first["Users"]) == 2
    second = iam.list_users(MaxItems=10, Marker=first["Marker"])
    assert not second["IsTruncated"] and "Marker" not in second
    assert [u["UserName"] for u in first["Users"] + second["Users"]] == [f"user-{n}" for n in range(5)]
    names = [u["UserName"] for page in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2})
             for u in page["Users"]]
    assert names == [f"user-{n}" for n in range(5)]


def test_iam_is_global(clients):
    east, west = clients.client("iam", region="us-east-1"), clients.client("iam", region="eu-west-1")
    east.create_user(UserName="everywhere")
    assert west.get_user(UserName="everywhere")["User"]["Arn"] == \
        f"arn:aws:iam::{clients.account}:user/everywhere"


def test_accounts_do_not_see_each_others_iam(iam, server):
    iam.create_user(UserName="mine")
    n = next(conftest._accounts)
    theirs = client_for(server, "iam", n)
    fails("NoSuchEntity", 404, theirs.get_user, UserName="mine")
    theirs.create_user(UserName="mine")  # the same name in another account
