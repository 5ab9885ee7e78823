"""Auth on the data plane, black-box: real signed clients, auth policies in force, real targets.

One service (an echo target behind an HTTP listener on port 80) in one network, reached from a client
VPC. Each case puts the network's and the service's auth types and policies through the API, sends one
request signed by botocore's signer (or unsigned), and checks the status, the 403 text, and the identity
headers the target saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtSigV4AsymAuth

from conftest import ORG_ROOT, ORG_UNIT, ORGANIZATION, access_key, account_id, client_for, secret_key
from dataplane_env import EchoTarget, Topology, forward
from latticework.ownpaths_client import vpc_info
from latticework.vpcclient import VpcClient

INVOKE = "vpc-lattice-svcs:Invoke"
ALLOW_ALL = {"Effect": "Allow", "Principal": "*", "Action": INVOKE, "Resource": "*"}


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow_if(operator: str, key: str, value) -> str:
    return policy({**ALLOW_ALL, "Condition": {operator: {key: value}}})


@dataclass
class Caller:
    """Who signs: None for anonymous; (key, secret, token)."""

    key: str | None = None
    secret: str | None = None
    token: str | None = None
    region: str = "us-east-1"
    service: str = "vpc-lattice-svcs"
    payload: str = "unsigned"  # "unsigned": x-amz-content-sha256 UNSIGNED-PAYLOAD; "hashed": the body's hash
    region_set: str | None = None  # sign with SigV4A for this region set


def sign(caller: Caller, method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
    request = AWSRequest(method, url, data=body or b"", headers=dict(headers))
    if caller.payload == "unsigned":
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    credentials = Credentials(caller.key, caller.secret, caller.token)
    if caller.region_set is not None:
        CrtSigV4AsymAuth(credentials, caller.service, caller.region_set).add_auth(request)
    else:
        SigV4Auth(credentials, caller.service, caller.region).add_auth(request)
    return dict(request.headers.items())


@dataclass
class World:
    topo: Topology
    target: EchoTarget
    client: VpcClient
    other_client: VpcClient  # from a VPC joined to the same network, owned by the same account
    n: int  # the owner's test account

    @property
    def url(self) -> str:
        return f"http://{self.topo.name}"

    def guard(self, network: str | None = None, service: str | None = None,
              network_type: str | None = None, service_type: str | None = None) -> None:
        """Auth types (AWS_IAM where a policy is given, unless said) and policies (None: none)."""
        lattice, net, svc = self.topo.lattice, self.topo.network["id"], self.topo.service["id"]
        lattice.update_service_network(serviceNetworkIdentifier=net,
                                       authType=network_type or ("AWS_IAM" if network else "NONE"))
        lattice.update_service(serviceIdentifier=svc, authType=service_type or ("AWS_IAM" if service else "NONE"))
        for resource, text in ((net, network), (svc, service)):
            if text is None:
                lattice.delete_auth_policy(resourceIdentifier=resource)
            else:
                lattice.put_auth_policy(resourceIdentifier=resource, policy=text)

    def call(self, caller: Caller | None = None, method: str = "GET", path: str = "/", body: bytes | None = None,
             headers: dict[str, str] | None = None, client: VpcClient | None = None, tamper: bytes | None = None):
        url = self.url + path
        sent = {"Host": self.topo.name, **(headers or {})}
        if caller is not None:
            sent = sign(caller, method, url, sent, body)
        answer = (client or self.client).request(method, url, headers=sent, body=tamper if tamper is not None
                                                 else body)
        seen = json.loads(answer.body) if answer.status == 200 else None
        return answer, seen


def identity_of(seen: dict) -> dict[str, str]:
    return {n.lower(): v for n, v in seen["headers"] if n.lower().startswith("x-amzn-lattice-identity")}


@pytest.fixture(scope="module")
def world(server) -> World:
    topo = Topology.fresh(server).one_service("guarded")
    target = EchoTarget("guarded")
    group = topo.group("g", [target], topo.client_vpc)
    topo.listener("http", "HTTP", 80, forward((group, 1)))
    topo.lattice.tag_resource(resourceArn=topo.service["arn"], tags={"env": "prod"})
    topo.join()
    other_vpc = topo.vpc("10.1.0.0/16")
    topo.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=topo.network["id"],
                                                        vpcIdentifier=other_vpc)
    account = topo.service["arn"].split(":")[4]
    n = int(account) - 100000000000
    yield World(topo, target, VpcClient(vpc_info(topo.endpoint, topo.client_vpc)),
                VpcClient(vpc_info(topo.endpoint, other_vpc)), n)
    target.stop()


def owner(world: World, **kwargs) -> Caller:
    return Caller(access_key(world.n), secret_key(world.n), **kwargs)


NO_SERVICE = "because no service-based policy allows the vpc-lattice-svcs:Invoke action"
NO_NETWORK = "because no network-based policy allows the vpc-lattice-svcs:Invoke action"


def denied(world: World, path: str = "/", why: str = NO_SERVICE, user: str = "anonymous") -> str:
    return (f"AccessDeniedException: User: {user} is not authorized to perform: vpc-lattice-svcs:Invoke on "
            f"resource: {world.topo.service['arn']}{path} {why}")


# -- no auth, and what never passes -----------------------------------------------------------------------

def test_without_aws_iam_every_request_passes_and_client_identity_headers_are_dropped(world):
    world.guard()
    answer, seen = world.call(headers={"x-amzn-lattice-identity": "Principal=arn:aws:iam::999999999999:root"})
    assert answer.status == 200
    assert identity_of(seen) == {}


def test_aws_iam_without_a_policy_denies_everyone(world):
    world.guard(service_type="AWS_IAM")
    answer, _ = world.call()
    assert answer.status == 403
    assert answer.body.decode().strip() == denied(world)
    answer, _ = world.call(owner(world))
    assert answer.status == 403
    assert f"User: arn:aws:iam::{account_id(world.n)}:root is not authorized" in answer.body.decode()


def test_allowed_anonymous_caller_reaches_the_target_without_identity_headers(world):
    world.guard(service=policy(ALLOW_ALL))
    answer, seen = world.call(headers={"x-amzn-lattice-identity": "Principal=forged"})
    assert answer.status == 200
    assert identity_of(seen) == {}


def test_allowed_signed_caller_is_named_to_the_target(world):
    world.guard(service=policy(ALLOW_ALL))
    outsider = Caller("test", "test")  # the default account: in no organization
    answer, seen = world.call(outsider, headers={"x-amzn-lattice-identity-tags": "principal=forged"})
    assert answer.status == 200
    root = "arn:aws:iam::000000000000:root"
    assert identity_of(seen) == {"x-amzn-lattice-identity": f"Principal={root}; Type=AWS_IAM",
                                 "x-amzn-lattice-identity-tags": f"principal={root}"}


# -- signatures -------------------------------------------------------------------------------------------

def test_a_wrong_signature_is_refused_even_where_anonymous_callers_pass(world):
    world.guard(service=policy(ALLOW_ALL))
    answer, _ = world.call(Caller(access_key(world.n), "not-the-secret"))
    assert answer.status == 403
    assert answer.body.decode().startswith("InvalidSignatureException: The request signature we calculated")
    answer, _ = world.call(Caller("AKIDNOBODY", "x"))
    assert answer.status == 403
    assert answer.body.decode().startswith("UnrecognizedClientException:")


def test_the_signature_must_name_lattices_signing_name_and_the_services_region(world):
    world.guard(service=policy(ALLOW_ALL))
    answer, _ = world.call(owner(world, service="vpc-lattice"))
    assert (answer.status, answer.body.decode().split(":")[0]) == (403, "InvalidSignatureException")
    answer, _ = world.call(owner(world, region="eu-west-1"))
    assert (answer.status, answer.body.decode().split(":")[0]) == (403, "InvalidSignatureException")


def test_sigv4a_signatures_are_good_for_the_regions_of_their_set(world):
    world.guard(service=policy({**ALLOW_ALL, "Principal": {"AWS": account_id(world.n)}}))
    for region_set in ("us-east-1", "*", "us-*"):
        answer, seen = world.call(owner(world, region_set=region_set))
        assert answer.status == 200, (region_set, answer.body)
    answer, _ = world.call(owner(world, region_set="eu-west-1"))
    assert (answer.status, answer.body.decode().split(":")[0]) == (403, "InvalidSignatureException")
    answer, _ = world.call(Caller(access_key(world.n), "wrong", region_set="*"))
    assert (answer.status, answer.body.decode().split(":")[0]) == (403, "InvalidSignatureException")


def test_a_signed_body_hash_is_checked_against_the_body_received(world):
    world.guard(service=policy(ALLOW_ALL))
    body = b'{"amount": 10}'
    answer, seen = world.call(owner(world, payload="hashed"), "POST", "/pay", body=body)
    assert answer.status == 200 and seen["body_length"] == len(body)
    answer, _ = world.call(owner(world, payload="hashed"), "POST", "/pay", body=body, tamper=b'{"amount": 99}')
    assert answer.status == 403
    assert answer.body.decode().startswith("InvalidSignatureException:")
    assert world.call(owner(world), "POST", "/pay", body=body, tamper=b'{"amount": 99}')[0].status == 200


# -- the layers -------------------------------------------------------------------------------------------

LAYERS = [
    # (network policy, service policy, expected status, reason in the 403)
    (None, policy(ALLOW_ALL), 200, None),
    (policy(ALLOW_ALL), None, 200, None),
    (policy(ALLOW_ALL), policy(ALLOW_ALL), 200, None),
    (policy({**ALLOW_ALL, "Resource": "*/other"}), policy(ALLOW_ALL), 403, NO_NETWORK),
    (policy(ALLOW_ALL), policy({**ALLOW_ALL, "Effect": "Deny"}), 403, "with an explicit deny in a service-based policy"),
    (policy({**ALLOW_ALL, "Effect": "Deny"}), policy(ALLOW_ALL), 403, "with an explicit deny in a network-based policy"),
    (policy(ALLOW_ALL, {**ALLOW_ALL, "Effect": "Deny", "Resource": "*/admin*"}), None, 200, None),
]


@pytest.mark.parametrize("network,service,status,reason", LAYERS)
def test_network_then_service(world, network, service, status, reason):
    world.guard(network=network, service=service)
    answer, _ = world.call()
    assert answer.status == status, answer.body
    if reason:
        assert answer.body.decode().strip() == denied(world, why=reason)


def test_explicit_deny_on_a_path_and_normalized_paths_cannot_walk_around_it(world):
    world.guard(service=policy(ALLOW_ALL, {**ALLOW_ALL, "Effect": "Deny", "Resource": "*/admin*"}))
    assert world.call(path="/public/x")[0].status == 200
    for attempt in ("/admin", "/public/../admin", "/%61dmin", "//admin/x", "/public/%2e%2e/admin"):
        answer, _ = world.call(path=attempt)
        assert answer.status == 403, attempt
        assert "with an explicit deny in a service-based policy" in answer.body.decode()
    for attempt in ("/public/..%2fadmin", "/public/..;/admin", "/%252e%252e/admin"):
        assert world.call(path=attempt)[0].status == 400, attempt


# -- condition keys ---------------------------------------------------------------------------------------

@dataclass
class KeyCase:
    operator: str
    key: str
    value: object
    passes: dict = field(default_factory=dict)  # World.call arguments of a request the condition lets in
    fails: dict = field(default_factory=dict)  # ... and of one it keeps out (None: no such request)


def key_cases(world: World) -> list[KeyCase]:
    topo = world.topo
    account = account_id(world.n)
    return [
        KeyCase("NumericEquals", "vpc-lattice-svcs:Port", "80", {}, None),
        KeyCase("NumericNotEquals", "vpc-lattice-svcs:Port", "80", None, {}),
        KeyCase("StringEquals", "vpc-lattice-svcs:RequestMethod", "GET", {}, {"method": "DELETE"}),
        KeyCase("StringLike", "vpc-lattice-svcs:RequestPath", "/public/*", {"path": "/public/a"},
                {"path": "/public/../private"}),
        KeyCase("StringEquals", "vpc-lattice-svcs:RequestHeader/x-team", "blue", {"headers": {"x-team": "blue"}},
                {"headers": {"x-team": "red"}}),
        KeyCase("ForAnyValue:StringEquals", "vpc-lattice-svcs:RequestQueryString/v", "2", {"path": "/?v=1&v=2"},
                {"path": "/?v=1"}),
        KeyCase("ArnEquals", "vpc-lattice-svcs:ServiceNetworkArn", topo.network["arn"], {}, None),
        KeyCase("ArnLike", "vpc-lattice-svcs:ServiceArn", topo.service["arn"][:-4] + "*", {}, None),
        KeyCase("StringEquals", "vpc-lattice-svcs:SourceVpc", topo.client_vpc, {}, {"client": world.other_client}),
        KeyCase("StringEquals", "vpc-lattice-svcs:SourceVpcOwnerAccount", account, {}, None),
        KeyCase("StringNotEquals", "vpc-lattice-svcs:SourceVpcOwnerAccount", account, None, {}),
        KeyCase("StringEquals", "aws:PrincipalType", "Anonymous", {}, {"caller": owner(world)}),
        KeyCase("StringEquals", "aws:PrincipalAccount", account, {"caller": owner(world)}, {}),
        KeyCase("IpAddress", "aws:SourceIp", "127.0.0.0/8", {}, None),
        KeyCase("NotIpAddress", "aws:SourceIp", "127.0.0.0/8", None, {}),
        KeyCase("Bool", "aws:SecureTransport", "false", {}, None),
        KeyCase("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", {}, None),
        KeyCase("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", None, {}),
        KeyCase("StringEquals", "aws:ResourceTag/env", "prod", {}, None),
        KeyCase("StringEquals", "aws:ResourceTag/env", "dev", None, {}),
        KeyCase("Null", "aws:PrincipalAccount", "false", {"caller": owner(world)}, {}),
    ]


def test_every_condition_key(world):
    failures = []
    for case in key_cases(world):
        world.guard(service=allow_if(case.operator, case.key, case.value))
        for arguments, wanted in ((case.passes, 200), (case.fails, 403)):
            if arguments is None:
                continue
            answer, _ = world.call(**arguments)
            if answer.status != wanted:
                failures.append((case.operator, case.key, arguments, answer.status, answer.body[:200]))
    assert failures == []


# -- across accounts --------------------------------------------------------------------------------------

def test_a_principal_of_another_account_is_let_in_only_by_name(world):
    stranger = world.n + 1 if world.n + 1 < 1500 else world.n - 1
    caller = Caller(access_key(stranger), secret_key(stranger))
    world.guard(service=policy({**ALLOW_ALL, "Principal": {"AWS": account_id(stranger)}}))
    assert world.call(caller)[0].status == 200
    assert world.call(owner(world))[0].status == 403
    world.guard(service=policy({**ALLOW_ALL, "Principal": {"AWS": f"arn:aws:iam::{account_id(world.n)}:root"}}))
    answer, _ = world.call(caller)
    assert answer.status == 403
    assert f"User: arn:aws:iam::{account_id(stranger)}:root is not authorized" in answer.body.decode()


# -- IAM users and role sessions --------------------------------------------------------------------------

@dataclass
class Principals:
    alice: Caller  # an IAM user tagged team=blue whose policy allows Invoke (and AssumeRole)
    bob: Caller  # an IAM user with no policy
    session: Caller  # a session of role "client" (VPCLatticeServicesInvokeAccess attached), assumed by alice
    narrowed: Caller  # a session of the same role whose session policy allows only */other
    alice_arn: str
    role_arn: str
    session_arn: str


def user(iam, name: str, tags: dict[str, str], statements: list[dict]) -> tuple[Caller, str]:
    arn = iam.create_user(UserName=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Caller(key["AccessKeyId"], key["SecretAccessKey"]), arn


def assume(server, caller: Caller, role_arn: str, name: str, **extra) -> tuple[Caller, str]:
    sts = client_for(server, "sts", key=caller.key, secret=caller.secret)
    found = sts.assume_role(RoleArn=role_arn, RoleSessionName=name, **extra)
    c = found["Credentials"]
    return Caller(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]), found["AssumedRoleUser"]["Arn"]


@pytest.fixture(scope="module")
def principals(server, world) -> Principals:
    iam = client_for(server, "iam", world.n)
    account = account_id(world.n)
    alice, alice_arn = user(iam, "alice", {"team": "blue"}, [
        {"Effect": "Allow", "Action": ["vpc-lattice-svcs:Invoke", "sts:AssumeRole", "sts:TagSession"],
         "Resource": "*"}])
    bob, _ = user(iam, "bob", {"team": "red"}, [])
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": account},
                                                     "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    role_arn = iam.create_role(RoleName="client", AssumeRolePolicyDocument=json.dumps(trust),
                               Tags=[{"Key": "dept", "Value": "eng"}])["Role"]["Arn"]
    iam.attach_role_policy(RoleName="client", PolicyArn="arn:aws:iam::aws:policy/VPCLatticeServicesInvokeAccess")
    session, session_arn = assume(server, alice, role_arn, "rates-job")
    narrow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke",
                                                      "Resource": "*/other"}]}
    narrowed, _ = assume(server, alice, role_arn, "narrow-job", Policy=json.dumps(narrow))
    return Principals(alice, bob, session, narrowed, alice_arn, role_arn, session_arn)


ORG_PATH = f"{ORGANIZATION}/{ORG_ROOT}/{ORG_UNIT}/"


def test_an_iam_user_is_named_with_its_organization_and_tags(world, principals):
    world.guard(service=policy({**ALLOW_ALL, "Principal": {"AWS": principals.alice_arn},
                                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue",
                                                               "aws:PrincipalType": "User",
                                                               "aws:PrincipalOrgID": ORGANIZATION}}}))
    answer, seen = world.call(principals.alice)
    assert answer.status == 200, answer.body
    arn = principals.alice_arn
    assert identity_of(seen) == {
        "x-amzn-lattice-identity": f"Principal={arn}; PrincipalOrgID={ORGANIZATION}; PrincipalOrgPath={ORG_PATH}; "
                                   f"Type=AWS_IAM",
        "x-amzn-lattice-identity-tags": f"principal={arn};principalorgid={ORGANIZATION};"
                                        f"principalorgpath={ORG_PATH};team=blue"}
    answer, _ = world.call(principals.bob)  # not named, and red
    assert answer.status == 403


def test_a_user_without_an_identity_policy_is_denied_by_that_layer(world, principals):
    world.guard(service=policy(ALLOW_ALL))
    answer, _ = world.call(principals.bob)
    assert answer.status == 403
    bob = principals.alice_arn.replace("user/alice", "user/bob")
    assert answer.body.decode().strip() == denied(
        world, why="because no identity-based policy allows the vpc-lattice-svcs:Invoke action", user=bob)


def test_a_role_session_matches_its_role_and_names_its_session(world, principals):
    world.guard(service=policy({**ALLOW_ALL, "Principal": {"AWS": principals.role_arn},
                                "Condition": {"StringEquals": {"aws:PrincipalType": "AssumedRole",
                                                               "aws:PrincipalTag/dept": "eng"}}}))
    answer, seen = world.call(principals.session)
    assert answer.status == 200, answer.body
    shown = identity_of(seen)["x-amzn-lattice-identity"]
    assert shown == (f"Principal={principals.session_arn}; PrincipalOrgID={ORGANIZATION}; "
                     f"PrincipalOrgPath={ORG_PATH}; SessionName=rates-job; Type=AWS_IAM")
    assert world.call(principals.alice)[0].status == 403  # the user is not the role


def test_a_session_policy_narrows_the_role(world, principals):
    world.guard(service=policy(ALLOW_ALL))
    assert world.call(principals.session)[0].status == 200
    answer, _ = world.call(principals.narrowed)
    assert answer.status == 403
    assert "because no identity-based policy allows" in answer.body.decode()


def test_principal_org_id_lets_in_members_only(world, principals):
    world.guard(service=allow_if("StringEquals", "aws:PrincipalOrgID", ORGANIZATION))
    assert world.call(owner(world))[0].status == 200
    assert world.call(principals.session)[0].status == 200
    outsider = Caller("test", "test")  # the default account belongs to no organization
    assert world.call(outsider)[0].status == 403
    assert world.call()[0].status == 403  # anonymous: no organization either


def test_a_deleted_access_key_stops_signing(server, world):
    iam = client_for(server, "iam", world.n)
    carol, _ = user(iam, "carol", {}, [{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}])
    world.guard(service=policy(ALLOW_ALL))
    assert world.call(carol)[0].status == 200
    iam.delete_access_key(UserName="carol", AccessKeyId=carol.key)
    answer, _ = world.call(carol)
    assert answer.status == 403
    assert answer.body.decode().startswith("UnrecognizedClientException:")


# -- explain --------------------------------------------------------------------------------------------

def test_explain_gives_the_data_planes_decision_and_its_statements(world, principals):
    from latticework.ownpaths_client import explain
    deny_admin = {**ALLOW_ALL, "Effect": "Deny", "Sid": "NoAdmin", "Resource": "*/admin*"}
    world.guard(network=policy(ALLOW_ALL), service=policy(ALLOW_ALL, deny_admin))
    ask = {"vpc": world.topo.client_vpc, "host": world.topo.name, "path": "/public/../admin"}
    answer = explain(world.topo.endpoint, {**ask, "principal": principals.role_arn})
    assert answer["decision"] == "Deny" and answer["deniedBy"] == "service"
    assert answer["resource"] == world.topo.service["arn"] + "/admin"
    (statement,) = answer["layers"]["service"]["statements"]
    assert (statement["number"], statement["sid"], statement["effect"]) == (2, "NoAdmin", "Deny")
    assert answer["layers"]["identity"]["effect"] == "Allow"
    sent, _ = world.call(principals.session, path="/public/../admin")
    assert sent.status == 403 and sent.body.decode().strip() == answer["message"].replace(
        "assumed-role/client/explain", "assumed-role/client/rates-job")
    allowed = explain(world.topo.endpoint, {**ask, "path": "/public/x"})
    assert allowed["decision"] == "Allow" and allowed["layers"]["identity"] == {"evaluated": False}
