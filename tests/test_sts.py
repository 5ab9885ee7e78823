"""STS AssumeRole and GetCallerIdentity through boto3 against the real server.

Callers are IAM users made through IAM (the accounts file's credentials are root users, which AWS
never lets assume a role). Sessions are then used as any AWS client uses them: GetCallerIdentity,
VPC Lattice calls in the role's account, chaining into another role. A session's expiry is tested
without waiting for it in ``test_identities.py`` (``sigv4.verify`` at a later ``now``); here a
session survives a restart of the server.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.exceptions import ClientError

import conftest
from conftest import account_id, client_for, error_code, start_server, status_of, write_accounts

ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def trust(*principals: str, action="sts:AssumeRole", **extra) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": action, **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def fails(code: str, status: int, call, **kwargs) -> str:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    assert (error_code(excinfo), status_of(excinfo)) == (code, status), excinfo.value.response["Error"]
    return excinfo.value.response["Error"]["Message"]


def session_client(server, service: str, credentials: dict, region: str = "us-east-1"):
    return boto3.client(service, endpoint_url=server.url, region_name=region,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


class Account:
    """An account nobody else uses, managed with its root credentials."""

    def __init__(self, server, n: int | None = None):
        self.n = next(conftest._accounts) if n is None else n
        self.id, self.server = account_id(self.n), server
        self.iam = client_for(server, "iam", self.n)

    def user(self, name: str, policy: dict | None = ASSUME):
        """An IAM user's STS client (with an inline policy, by default one allowing sts:AssumeRole)."""
        self.iam.create_user(UserName=name)
        if policy is not None:
            self.iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return client_for(self.server, "sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])

    def role(self, name: str, document: str, **kwargs) -> str:
        return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=document, **kwargs)["Role"]["Arn"]


@pytest.fixture
def account(server) -> Account:
    return Account(server)


def test_assume_role_issues_session_credentials(account, server):
    sts = account.user("dev")
    role_arn = account.role("deployer", trust(f"arn:aws:iam::{account.id}:root"), Path="/ci/")
    role_id = account.iam.get_role(RoleName="deployer")["Role"]["RoleId"]
    answer = sts.assume_role(RoleArn=role_arn, RoleSessionName="build-42", DurationSeconds=900)
    creds, user = answer["Credentials"], answer["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and creds["SessionToken"]
    assert 800 < (creds["Expiration"] - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 900
    assert user == {"AssumedRoleId": f"{role_id}:build-42",
                    "Arn": f"arn:aws:sts::{account.id}:assumed-role/deployer/build-42"}
    who = session_client(server, "sts", creds).get_caller_identity()
    assert (who["UserId"], who["Account"], who["Arn"]) == (f"{role_id}:build-42", account.id, user["Arn"])


def test_session_calls_vpc_lattice_in_the_roles_account(account, server):
    sts = account.user("dev")
    role_arn = account.role("net-admin", trust(f"arn:aws:iam::{account.id}:root"))
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    lattice = session_client(server, "vpc-lattice", creds)
    network = lattice.create_service_network(name="from-a-session")
    assert f":{account.id}:" in network["arn"]
    assert [n["name"] for n in client_for(server, "vpc-lattice", account.n).list_service_networks()["items"]] == \
        ["from-a-session"]


def test_trust_naming_the_user_needs_no_identity_policy(account):
    sts = account.user("named", policy=None)
    user_arn = account.iam.get_user(UserName="named")["User"]["Arn"]
    role_arn = account.role("r", trust(user_arn))
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")["AssumedRoleUser"]["Arn"].endswith("/r/s1")


def test_trust_naming_the_account_needs_the_users_own_permission(account):
    sts = account.user("plain", policy=None)
    role_arn = account.role("r", trust(account.id))
    user_arn = account.iam.get_user(UserName="plain")["User"]["Arn"]
    assert fails("AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1") == \
        f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    account.iam.attach_user_policy(UserName="plain", PolicyArn=ADMIN)
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]["AccessKeyId"]


def test_refusals(account, server):
    sts = account.user("dev")
    other = account.user("other", policy=None)
    other_arn = account.iam.get_user(UserName="other")["User"]["Arn"]
    role_arn = account.role("only-other", trust(other_arn))
    user_arn = account.iam.get_user(UserName="dev")["User"]["Arn"]
    assert fails("AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1") == \
        f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    ghost = f"arn:aws:iam::{account.id}:role/ghost"
    assert fails("AccessDenied", 403, sts.assume_role, RoleArn=ghost, RoleSessionName="s1") == \
        f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {ghost}"
    assert fails("AccessDenied", 403, client_for(server, "sts", account.n).assume_role, RoleArn=role_arn,
                 RoleSessionName="s1") == "Roles may not be assumed by root accounts."
    assert other.assume_role(RoleArn=role_arn, RoleSessionName="s1")


def test_duration_is_bounded_by_the_role(account, server):
    sts = account.user("dev")
    role_arn = account.role("r", trust(account.id), MaxSessionDuration=7200)
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=7200)
    assert fails("ValidationError", 400, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1",
                 DurationSeconds=7201) == \
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    unchecked = client_for(server, "sts", key=sts._request_signer._credentials.access_key,
                           secret=sts._request_signer._credentials.secret_key, parameter_validation=False)
    assert "Member must have value greater than or equal to 900" in fails(
        "ValidationError", 400, unchecked.assume_role, RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=60)


def test_external_id_condition(account):
    sts = account.user("dev")
    role_arn = account.role("r", trust(account.id, Condition={"StringEquals": {"sts:ExternalId": "secret-1"}}))
    fails("AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1")
    fails("AccessDenied", 403, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", ExternalId="wrong-1")
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", ExternalId="secret-1")


def test_session_tags_need_tag_session(account, server):
    sts = account.user("dev")
    tags = [{"Key": "project", "Value": "blue"}]
    plain = account.role("plain", trust(account.id))
    user_arn = account.iam.get_user(UserName="dev")["User"]["Arn"]
    assert fails("AccessDenied", 403, sts.assume_role, RoleArn=plain, RoleSessionName="s1", Tags=tags) == \
        f"User: {user_arn} is not authorized to perform: sts:TagSession on resource: {plain}"
    account.iam.put_user_policy(UserName="dev", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
                                                 "Resource": "*"}]}))
    tagging = account.role("tagging", trust(account.id, action=["sts:AssumeRole", "sts:TagSession"]))
    answer = sts.assume_role(RoleArn=tagging, RoleSessionName="s1", Tags=tags)
    assert answer["PackedPolicySize"] >= 0


def test_role_chaining_is_limited_to_an_hour(account, server):
    sts = account.user("dev")
    first = account.role("first", trust(account.id))
    account.iam.put_role_policy(RoleName="first", PolicyName="p", PolicyDocument=json.dumps(ASSUME))
    second = account.role("second", trust(first))
    creds = sts.assume_role(RoleArn=first, RoleSessionName="one")["Credentials"]
    chained = session_client(server, "sts", creds)
    assert fails("ValidationError", 400, chained.assume_role, RoleArn=second, RoleSessionName="two",
                 DurationSeconds=3601) == \
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    creds = chained.assume_role(RoleArn=second, RoleSessionName="two")["Credentials"]
    assert session_client(server, "sts", creds).get_caller_identity()["Arn"].endswith(":assumed-role/second/two")


def test_session_policy_is_checked(account):
    sts = account.user("dev")
    role_arn = account.role("r", trust(account.id))
    fails("MalformedPolicyDocument", 400, sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", Policy="{nope")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "vpc-lattice:List*", "Resource": "*"}]})
    assert sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", Policy=policy)["PackedPolicySize"] > 0


def test_cross_account_assume_role(server):
    home, away = Account(server), Account(server)
    sts = home.user("dev")
    open_role = away.role("shared", trust(f"arn:aws:iam::{home.id}:root"))
    closed = away.role("closed", trust(away.id))
    creds = sts.assume_role(RoleArn=open_role, RoleSessionName="visit")["Credentials"]
    who = session_client(server, "sts", creds).get_caller_identity()
    assert (who["Account"], who["Arn"]) == (away.id, f"arn:aws:sts::{away.id}:assumed-role/shared/visit")
    fails("AccessDenied", 403, sts.assume_role, RoleArn=closed, RoleSessionName="visit")
    # Across accounts the caller's own policies must allow it too, even when the trust names the user.
    named = home.user("named", policy=None)
    named_arn = home.iam.get_user(UserName="named")["User"]["Arn"]
    by_name = away.role("by-name", trust(named_arn))
    fails("AccessDenied", 403, named.assume_role, RoleArn=by_name, RoleSessionName="s1")


def test_accounts_file_user_may_assume_roles(tmp_path):
    config = tmp_path / "accounts.toml"
    config.write_text('[[accounts]]\nid = "111111111111"\n[[accounts.credentials]]\naccess_key_id = "ROOTKEY"\n'
                      'secret_access_key = "root"\n[[accounts.credentials]]\naccess_key_id = "ALICEKEY"\n'
                      'secret_access_key = "alice"\nuser = "alice"\n')
    srv = start_server(tmp_path / "state.db", config, extra=["--no-dataplane"])
    try:
        root = client_for(srv, "iam", key="ROOTKEY", secret="root")
        role = root.create_role(RoleName="r", AssumeRolePolicyDocument=trust("111111111111"))["Role"]["Arn"]
        alice = client_for(srv, "sts", key="ALICEKEY", secret="alice")
        assert alice.assume_role(RoleArn=role, RoleSessionName="s1")["AssumedRoleUser"]["Arn"] == \
            "arn:aws:sts::111111111111:assumed-role/r/s1"
    finally:
        srv.stop()


def test_users_keys_and_sessions_survive_a_restart(tmp_path):
    config = write_accounts(tmp_path / "accounts.toml", count=1)
    state = tmp_path / "state.db"
    srv = start_server(state, config, workers=1)
    try:
        home = Account(srv, n=0)
        sts = home.user("dev")
        role = home.role("r", trust(home.id))
        creds = sts.assume_role(RoleArn=role, RoleSessionName="s1")["Credentials"]
    finally:
        srv.stop()
    srv = start_server(state, config, workers=1)
    try:
        assert session_client(srv, "sts", creds).get_caller_identity()["Arn"].endswith("assumed-role/r/s1")
        signer = sts._request_signer._credentials  # the user's key, against the restarted server's port
        user_sts = client_for(srv, "sts", key=signer.access_key, secret=signer.secret_key)
        assert user_sts.get_caller_identity()["Arn"].endswith(":user/dev")
    finally:
        srv.stop()
