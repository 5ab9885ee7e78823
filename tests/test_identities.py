"""Identities from records, without a server: what each access key signs for, and until when.

``Identities`` is fed records as the snapshot compiler feeds it (``updated``), and read as the API and
the data plane read it (``credential``). Session expiry is tested here with ``sigv4.verify`` at a
chosen ``now`` (a session lives at least 15 minutes: no test waits for one). The trust evaluation
(``services.iam.access``) and the accounts file's organizations are unit-tested here too.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from latticework import sigv4
from latticework.config import ConfigError, Credential, Directory, Identity, Membership, Organization, load_directory
from latticework.records import iam
from latticework.snapshot import KINDS
from latticework.snapshot.compile import Compiler
from latticework.snapshot.identities import IDENTITY_KINDS, FollowedIdentities, Identities
from latticework.services.iam import access
from latticework.store import Record, StoreView
from latticework.store.sql import SqlStore

A, B = "111122223333", "444455556666"
NOW = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
READ = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "vpc-lattice:Get*",
                                                           "Resource": "*"}]})
MANAGED = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*",
                                                              "Resource": "*"}]})
INVOKE = "arn:aws:iam::aws:policy/VPCLatticeServicesInvokeAccess"


def directory() -> Directory:
    found = Directory()
    found.add(A, "a", [Credential("ROOTKEY", "root-secret", A), Credential("ALICEKEY", "alice", A, user="alice")])
    found.add(B, "b", [Credential("BKEY", "b-secret", B)])
    found.organizations = {"o-abcdefghij": Organization("o-abcdefghij", "r-ab12")}
    found.memberships = {A: Membership("o-abcdefghij", ("ou-ab12-11111111",))}
    return found


def user(name: str = "dev", account: str = A, policies: dict | None = None, attached: list | None = None,
         tags: list | None = None) -> Record:
    body = {"UserName": name, "UserId": "AIDA" + name.upper().ljust(17, "X"), "Path": "/",
            "Arn": f"arn:aws:iam::{account}:user/{name}", "Tags": tags or []}
    return Record(iam.USER, body["UserId"], account, iam.GLOBAL, body, name=name, arn=body["Arn"],
                  internal={"Policies": policies or {}, "Attached": attached or []})


def key(owner: Record, key_id: str = "AKIAUNIT000000000001", status: str = "Active") -> Record:
    return Record(iam.ACCESS_KEY, key_id, owner.account, iam.GLOBAL,
                  {"UserName": owner.body["UserName"], "AccessKeyId": key_id, "Status": status},
                  parent=owner.id, internal={"Secret": "key-secret"})


def role(name: str = "app", account: str = A, policies: dict | None = None, attached: list | None = None) -> Record:
    body = {"RoleName": name, "RoleId": "AROA" + name.upper().ljust(17, "X"), "Path": "/",
            "Arn": f"arn:aws:iam::{account}:role/{name}", "AssumeRolePolicyDocument": "{}",
            "Tags": [{"Key": "team", "Value": "role"}, {"Key": "tier", "Value": "1"}]}
    return Record(iam.ROLE, body["RoleId"], account, iam.GLOBAL, body, name=name, arn=body["Arn"],
                  internal={"Policies": policies or {}, "Attached": attached or []})


def session(of: Record, key_id: str = "ASIAUNIT000000000001", expires: dt.datetime = NOW,
            policy: str | None = None) -> Record:
    name = of.body["RoleName"]
    body = {"AssumedRoleUser": {"AssumedRoleId": f"{of.id}:s1", "Arn": f"arn:aws:sts::{of.account}:assumed-role/{name}/s1"},
            "Expiration": expires.isoformat().replace("+00:00", "Z")}
    return Record(iam.SESSION, key_id, of.account, iam.GLOBAL, body, parent=of.id,
                  internal={"Secret": "session-secret", "Token": "token-1", "SessionName": "s1", "RoleArn": of.arn,
                            "Policy": policy, "Tags": [["team", "session"]]})


def policy(arn: str = f"arn:aws:iam::{A}:policy/describe", default: str = "v2") -> Record:
    versions = [{"VersionId": "v1", "Document": READ, "CreateDate": "x"},
                {"VersionId": "v2", "Document": MANAGED, "CreateDate": "x"}]
    return Record(iam.POLICY, "ANPAUNIT0000000000001", A, iam.GLOBAL, {"Arn": arn, "DefaultVersionId": default},
                  name="describe", arn=arn, internal={"Versions": versions})


def fed(*records: Record, base: Identities | None = None) -> Identities:
    return (base or Identities(directory())).updated({(r.kind, r.id): r for r in records})


# -- the accounts file --------------------------------------------------------------------------

def test_account_credentials_act_for_their_account_with_its_organization():
    found = Identities(directory()).credential("ROOTKEY")
    assert found is not None and found.secret_key == "root-secret"
    assert found.identity == Identity(f"arn:aws:iam::{A}:root", "Account", A, A, org_id="o-abcdefghij",
                                      org_path="o-abcdefghij/r-ab12/ou-ab12-11111111/")
    assert found.identity.acts_as_account
    alice = Identities(directory()).credential("ALICEKEY")
    assert alice.principal_arn == f"arn:aws:iam::{A}:user/alice" and alice.identity.type == "Account"
    assert Identities(directory()).credential("BKEY").identity.org_id is None


def test_a_directory_crosses_processes_as_data():
    again = Identities.from_accounts(json.loads(json.dumps(directory().to_json())))
    assert again.credential("ROOTKEY") == Identities(directory()).credential("ROOTKEY")
    assert Identities.from_accounts(None).credential("ROOTKEY") is None


# -- IAM users --------------------------------------------------------------------------------

def test_a_users_key_signs_for_the_user_with_its_policies():
    dev = user(policies={"inline": READ}, attached=[f"arn:aws:iam::{A}:policy/describe", INVOKE],
               tags=[{"Key": "team", "Value": "blue"}])
    found = fed(dev, key(dev), policy()).credential("AKIAUNIT000000000001")
    assert (found.secret_key, found.account_id, found.session_token, found.expires) == ("key-secret", A, None, None)
    identity = found.identity
    assert (identity.arn, identity.type, identity.user_id) == (dev.arn, "User", dev.id)
    assert identity.tags == (("team", "blue"),) and identity.org_id == "o-abcdefghij"
    assert identity.policies[:2] == (READ, MANAGED)  # inline, then the managed policy's default version
    assert json.loads(identity.policies[2])["Statement"][0]["Action"] == ["vpc-lattice-svcs:Invoke"]


def test_inactive_keys_and_keys_of_deleted_users_sign_for_nobody():
    dev = user()
    assert fed(dev, key(dev, status="Inactive")).credential("AKIAUNIT000000000001") is None
    live = fed(dev, key(dev))
    assert live.credential("AKIAUNIT000000000001") is not None
    assert live.updated({(iam.USER, dev.id): None}).credential("AKIAUNIT000000000001") is None
    assert live.updated({(iam.ACCESS_KEY, "AKIAUNIT000000000001"): None}).credential("AKIAUNIT000000000001") is None
    assert live.credential("AKIAUNIT000000000001") is not None  # the older object stays as it was


def test_a_managed_policy_change_reaches_its_holders():
    dev = user(attached=[f"arn:aws:iam::{A}:policy/describe"])
    before = fed(dev, key(dev), policy(default="v2"))
    after = before.updated({(iam.POLICY, "ANPAUNIT0000000000001"): policy(default="v1")})
    assert before.credential("AKIAUNIT000000000001").identity.policies == (MANAGED,)
    assert after.credential("AKIAUNIT000000000001").identity.policies == (READ,)
    gone = after.updated({(iam.POLICY, "ANPAUNIT0000000000001"): None})
    assert gone.credential("AKIAUNIT000000000001").identity.policies == ()


def test_unrelated_changes_keep_the_same_object():
    base = fed(user())
    assert base.updated({("service", "svc-1"): None}) is base


# -- sessions ----------------------------------------------------------------------------------

def test_a_session_signs_for_its_role_until_it_expires():
    app = role(policies={"inline": READ})
    limit = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "vpc-lattice:GetService",
                                                                 "Resource": "*"}]})
    found = fed(app, session(app, policy=limit)).credential("ASIAUNIT000000000001")
    assert (found.session_token, found.expires, found.account_id) == ("token-1", NOW, A)
    identity = found.identity
    assert (identity.type, identity.arn, identity.user_id) == ("AssumedRole", f"arn:aws:sts::{A}:assumed-role/app/s1",
                                                               f"{app.id}:s1")
    assert (identity.role_arn, identity.session_name, identity.policies) == (app.arn, "s1", (READ,))
    assert identity.session_policy == limit
    assert dict(identity.tags) == {"team": "session", "tier": "1"}  # session tags win over the role's


def test_a_session_of_a_deleted_role_keeps_signing_with_no_policies():
    app = role(policies={"inline": READ})
    identities = fed(app, session(app)).updated({(iam.ROLE, app.id): None})
    found = identities.credential("ASIAUNIT000000000001")
    assert found is not None and found.identity.policies == ()


def _signed(credential: Credential) -> dict[str, str]:
    """Headers of a request botocore signs now with ``credential``."""
    request = AWSRequest(method="GET", url="http://127.0.0.1:4599/services", headers={})
    SigV4Auth(Credentials(credential.access_key, credential.secret_key, credential.session_token),
              "vpc-lattice", "us-east-1").add_auth(request)
    return {"host": "127.0.0.1:4599", **{k.lower(): v for k, v in request.prepare().headers.items()}}


def test_sigv4_refuses_a_session_past_its_expiry():
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    app = role()
    identities = fed(app, session(app, expires=now + dt.timedelta(minutes=15)))
    credential = identities.credential("ASIAUNIT000000000001")
    headers = _signed(credential)
    assert sigv4.verify(identities, "GET", "/services", "", headers, b"", now=now).credential == credential
    with pytest.raises(sigv4.SignatureError) as refused:  # the same request, once the session is over
        sigv4.verify(identities, "GET", "/services", "", headers, b"", now=now + dt.timedelta(minutes=15))
    assert refused.value.code == "ExpiredTokenException"


# -- following the store, and the snapshot -------------------------------------------------------

def test_followed_identities_follow_the_store(tmp_path: Path):
    store = SqlStore.sqlite(tmp_path / "state.db")
    try:
        followed = FollowedIdentities(store, directory())
        assert followed.credential("AKIAUNIT000000000001") is None
        dev = user()
        with store.transaction(A, iam.GLOBAL, "CreateUser") as tx:
            tx.put(dev)
            tx.put(key(dev))
        assert followed.credential("AKIAUNIT000000000001").identity.arn == dev.arn
        with store.transaction(A, iam.GLOBAL, "DeleteAccessKey") as tx:
            tx.delete(iam.ACCESS_KEY, "AKIAUNIT000000000001")
        assert followed.credential("AKIAUNIT000000000001") is None
        assert followed.credential("ROOTKEY").identity.type == "Account"
    finally:
        store.close()


def test_the_snapshot_carries_identities():
    dev = user()
    compiler = Compiler(identities=Identities(directory()))
    snapshot = compiler.load(StoreView(1, {iam.USER: [dev], iam.ACCESS_KEY: [key(dev)]}))
    assert snapshot.identities.credential("AKIAUNIT000000000001").identity.arn == dev.arn
    assert snapshot.identities.credential("ROOTKEY") is not None
    later = compiler.update(2, {(iam.ACCESS_KEY, "AKIAUNIT000000000001"): None})
    assert later.identities.credential("AKIAUNIT000000000001") is None
    assert not compiler.serves_alike(snapshot, later)  # an IAM change reaches the workers
    assert set(IDENTITY_KINDS) <= set(KINDS)


# -- the accounts file's organizations ---------------------------------------------------------

ORG_FILE = """
[[organizations]]
id = "o-a1b2c3d4e5"
root = "r-ab12"
[[accounts]]
id = "111111111111"
organization = "o-a1b2c3d4e5"
ou_path = ["ou-ab12-11111111", "ou-ab12-22222222"]
[[accounts.credentials]]
access_key_id = "K1"
secret_access_key = "s"
[[accounts]]
id = "222222222222"
[[accounts.credentials]]
access_key_id = "K2"
secret_access_key = "s"
"""


def test_accounts_declare_their_organization(tmp_path: Path):
    path = tmp_path / "accounts.toml"
    path.write_text(ORG_FILE)
    loaded = load_directory(path)
    assert loaded.organization_of("111111111111") == (
        "o-a1b2c3d4e5", "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/")
    assert loaded.organization_of("222222222222") is None
    assert Directory.from_json(loaded.to_json()) == loaded


@pytest.mark.parametrize("broken", [
    ORG_FILE.replace('id = "o-a1b2c3d4e5"', 'id = "o-short"'),
    ORG_FILE.replace('root = "r-ab12"', 'root = "root"'),
    ORG_FILE.replace('organization = "o-a1b2c3d4e5"', 'organization = "o-zzzzzzzzzz"'),
    ORG_FILE.replace('"ou-ab12-22222222"', '"nope"'),
])
def test_broken_organizations_are_refused(tmp_path: Path, broken: str):
    path = tmp_path / "accounts.toml"
    path.write_text(broken)
    with pytest.raises(ConfigError):
        load_directory(path)


# -- trust evaluation ----------------------------------------------------------------------------

def _trust(principal, **extra) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}]})


@pytest.mark.parametrize("principal, caller, account, also, expected", [
    ({"AWS": A}, f"arn:aws:iam::{A}:user/dev", A, (), "Allow"),
    ({"AWS": f"arn:aws:iam::{A}:root"}, f"arn:aws:iam::{A}:user/dev", A, (), "Allow"),
    ({"AWS": f"arn:aws:iam::{A}:root"}, f"arn:aws:iam::{A}:user/dev", "", (), "NotApplicable"),
    ({"AWS": f"arn:aws:iam::{A}:user/dev"}, f"arn:aws:iam::{A}:user/dev", "", (), "Allow"),
    ({"AWS": f"arn:aws:iam::{A}:role/app"}, f"arn:aws:sts::{A}:assumed-role/app/s1", A,
     (f"arn:aws:iam::{A}:role/app",), "Allow"),
    ({"AWS": B}, f"arn:aws:iam::{A}:user/dev", A, (), "NotApplicable"),
    ("*", f"arn:aws:iam::{A}:user/dev", A, (), "Allow"),
    ({"Service": "lambda.amazonaws.com"}, f"arn:aws:iam::{A}:user/dev", A, (), "NotApplicable"),
])
def test_trust_principals(principal, caller, account, also, expected):
    request = access.Request("sts:AssumeRole", f"arn:aws:iam::{A}:role/r", caller, account, also)
    assert access.evaluate(_trust(principal), "trust", request) == expected


def test_trust_conditions_and_explicit_deny():
    keys = {"sts:ExternalId": "abc", "aws:PrincipalOrgID": "o-abcdefghij"}
    request = access.Request("sts:AssumeRole", "arn:aws:iam::1:role/r", "arn:aws:iam::1:user/u", "1", (), keys)
    allow = _trust("*", Condition={"StringEquals": {"sts:ExternalId": "abc"}, "StringLike": {"aws:PrincipalOrgID": "o-*"}})
    assert access.evaluate(allow, "trust", request) == "Allow"
    assert access.evaluate(_trust("*", Condition={"StringEquals": {"sts:ExternalId": "xyz"}}), "trust",
                           request) == "NotApplicable"
    assert access.evaluate(_trust("*", Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "10"}}), "trust",
                           request) == "NotApplicable"
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sts:*"},
        {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
         "Condition": {"Null": {"sts:ExternalId": "false"}}}]})
    assert access.evaluate(deny, "trust", request) == "Deny"


def test_a_session_policy_limits_the_roles_policies():
    allow_all = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    identity = Identity("arn:aws:sts::1:assumed-role/r/s1", "AssumedRole", "AROA:s1", "1", policies=(allow_all,),
                        session_policy=READ)
    assert access.identity_allows(identity, "vpc-lattice:GetService", "*", {}) == "Allow"
    assert access.identity_allows(identity, "sts:AssumeRole", "*", {}) == "NotApplicable"
