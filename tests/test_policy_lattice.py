"""VPC Lattice's authorization: identity, service network and service layers, and the 403 text AWS sends."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latticework.policy import ADMIN, SKIP, Caller, Query, authorize, compile_policy, layer_policy, parse_policy
from latticework.policy.lattice import ADMIN_ALLOW, OPEN, denial_message

ACCOUNT, OTHER = "111122223333", "444455556666"
SERVICE = f"arn:aws:vpc-lattice:us-east-1:{ACCOUNT}:service/svc-0123456789abcdef0"
RESOURCE = f"{SERVICE}/rates"
INVOKE, CONNECT = "vpc-lattice-svcs:Invoke", "vpc-lattice-svcs:Connect"
USER = Caller(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT)
SESSION = Caller.from_arn(f"arn:aws:sts::{ACCOUNT}:assumed-role/rates-client/s1")
ROOT = Caller(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
PARTNER_ROOT = Caller(f"arn:aws:iam::{OTHER}:root", OTHER)
STRANGER = Caller.from_arn(f"arn:aws:sts::{OTHER}:assumed-role/caller/s9")


def auth(*statements: dict):
    return compile_policy(parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)})))


def identity(*statements: dict):
    document = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
                            require_principal=False)
    return compile_policy(document, "identity")


ALLOW = {"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:*", "Resource": "*"}
DENY = {**ALLOW, "Effect": "Deny", "Resource": "*/rates"}
ALLOW_ALL = auth(ALLOW)
ALLOW_AUTHENTICATED = auth({**ALLOW, "Condition": {"StringNotEqualsIgnoreCase": {"aws:PrincipalType": "Anonymous"}}})
ALLOW_OTHERS = auth({**ALLOW, "Resource": "*/other"})
DENY_RATES = auth(ALLOW, DENY)
ALLOW_OWNER = auth({**ALLOW, "Principal": {"AWS": ACCOUNT}})
ALLOW_PARTNER_ACCOUNT = auth({**ALLOW, "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}})
ALLOW_PARTNER = auth({**ALLOW, "Principal": {"AWS": f"arn:aws:iam::{OTHER}:role/caller"}})
ID_ALLOW = identity({"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"})
ID_OTHER = identity({"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*/other"})
ID_DENY = identity({"Effect": "Deny", "Action": "vpc-lattice-svcs:*", "Resource": "*/rates"})

NO_NETWORK = "because no network-based policy allows the vpc-lattice-svcs:Invoke action"
NO_SERVICE = "because no service-based policy allows the vpc-lattice-svcs:Invoke action"
NO_IDENTITY = "because no identity-based policy allows the vpc-lattice-svcs:Invoke action"
DENY_NETWORK = "with an explicit deny in a network-based policy"
DENY_SERVICE = "with an explicit deny in a service-based policy"
DENY_IDENTITY = "with an explicit deny in an identity-based policy"


def query(principal: Caller | None, action: str = INVOKE, **keys: str) -> Query:
    principal_type = "Anonymous" if principal is None else "AssumedRole"
    return Query(action, RESOURCE, principal, {"aws:PrincipalType": principal_type, **keys})


# caller, identity policies, network layer, service layer -> denying layer (None: allowed), message's reason
TABLE = [
    # anonymous callers: only the resource layers apply
    ("anonymous, no auth anywhere", None, (), SKIP, SKIP, None, ""),
    ("anonymous, network without policy", None, (), None, SKIP, "network", NO_NETWORK),
    ("anonymous, network allows", None, (), ALLOW_ALL, SKIP, None, ""),
    ("anonymous, service allows", None, (), SKIP, ALLOW_ALL, None, ""),
    ("anonymous, both allow", None, (), ALLOW_ALL, ALLOW_ALL, None, ""),
    ("anonymous, service without policy", None, (), ALLOW_ALL, None, "service", NO_SERVICE),
    ("anonymous, service allows other paths", None, (), SKIP, ALLOW_OTHERS, "service", NO_SERVICE),
    ("anonymous, service denies", None, (), ALLOW_ALL, DENY_RATES, "service", DENY_SERVICE),
    ("anonymous, network denies", None, (), DENY_RATES, ALLOW_ALL, "network", DENY_NETWORK),
    ("anonymous, both deny: network named", None, (), DENY_RATES, DENY_RATES, "network", DENY_NETWORK),
    ("anonymous, deny beats an earlier missing allow", None, (), ALLOW_OTHERS, DENY_RATES, "service", DENY_SERVICE),
    ("anonymous, authenticated only", None, (), ALLOW_AUTHENTICATED, SKIP, "network", NO_NETWORK),
    ("anonymous, account principal", None, (), ALLOW_OWNER, SKIP, "network", NO_NETWORK),
    ("anonymous, identity policies ignored", None, (ID_DENY,), ALLOW_ALL, SKIP, None, ""),
    # signed callers of the service owner's account: identity policies must allow too
    ("signed, all allow", SESSION, (ID_ALLOW,), ALLOW_AUTHENTICATED, ALLOW_ALL, None, ""),
    ("signed, no identity policy", SESSION, (), ALLOW_ALL, ALLOW_ALL, "identity", NO_IDENTITY),
    ("signed, identity allows other paths", SESSION, (ID_OTHER,), ALLOW_ALL, SKIP, "identity", NO_IDENTITY),
    ("signed, identity denies", SESSION, (ID_ALLOW, ID_DENY), ALLOW_ALL, ALLOW_ALL, "identity", DENY_IDENTITY),
    ("signed, identity deny before network deny", SESSION, (ID_DENY,), DENY_RATES, SKIP, "identity", DENY_IDENTITY),
    ("signed, network deny beats missing identity allow", SESSION, (ID_OTHER,), DENY_RATES, SKIP, "network",
     DENY_NETWORK),
    ("signed, network without policy", SESSION, (ID_ALLOW,), None, ALLOW_ALL, "network", NO_NETWORK),
    ("signed, network allows other paths", SESSION, (ID_ALLOW,), ALLOW_OTHERS, ALLOW_ALL, "network", NO_NETWORK),
    ("signed, service denies", SESSION, (ID_ALLOW,), ALLOW_ALL, DENY_RATES, "service", DENY_SERVICE),
    ("signed, service without policy", SESSION, (ID_ALLOW,), SKIP, None, "service", NO_SERVICE),
    ("signed, account principal", SESSION, (ID_ALLOW,), ALLOW_OWNER, ALLOW_OWNER, None, ""),
    ("signed, no auth anywhere: nothing checked", SESSION, (ID_DENY,), SKIP, SKIP, None, ""),
    ("signed user", USER, (ID_ALLOW,), ALLOW_OWNER, SKIP, None, ""),
    # credentials whose identity check always passes still meet the resource layers
    ("admin, network allows", ROOT, ADMIN, ALLOW_OWNER, SKIP, None, ""),
    ("admin, network without policy", ROOT, ADMIN, None, SKIP, "network", NO_NETWORK),
    ("admin, service denies", ROOT, ADMIN, ALLOW_ALL, DENY_RATES, "service", DENY_SERVICE),
    ("admin, other account's principal", ROOT, ADMIN, ALLOW_PARTNER, SKIP, "network", NO_NETWORK),
    # callers from another account: their identity policy and the resource layers must both allow
    ("cross-account, all allow", STRANGER, (ID_ALLOW,), ALLOW_PARTNER, ALLOW_ALL, None, ""),
    ("cross-account, policy names the owner only", STRANGER, (ID_ALLOW,), ALLOW_OWNER, SKIP, "network", NO_NETWORK),
    ("cross-account, service names the owner only", STRANGER, (ID_ALLOW,), ALLOW_ALL, ALLOW_OWNER, "service",
     NO_SERVICE),
    ("cross-account, no identity policy", STRANGER, (), ALLOW_PARTNER, ALLOW_ALL, "identity", NO_IDENTITY),
    ("cross-account, identity denies", STRANGER, (ID_DENY, ID_ALLOW), ALLOW_PARTNER, SKIP, "identity",
     DENY_IDENTITY),
    ("cross-account, service denies", STRANGER, (ID_ALLOW,), ALLOW_PARTNER, DENY_RATES, "service", DENY_SERVICE),
    ("cross-account, policy names the caller's account", STRANGER, (ID_ALLOW,), ALLOW_PARTNER_ACCOUNT, SKIP, None,
     ""),
    ("cross-account, account named but no identity policy", STRANGER, (), ALLOW_PARTNER_ACCOUNT, SKIP, "identity",
     NO_IDENTITY),
    ("cross-account root, its account named", PARTNER_ROOT, ADMIN, ALLOW_PARTNER_ACCOUNT, SKIP, None, ""),
    ("cross-account root, owner named only", PARTNER_ROOT, ADMIN, ALLOW_OWNER, SKIP, "network", NO_NETWORK),
    ("cross-account root, everyone allowed", PARTNER_ROOT, ADMIN, ALLOW_AUTHENTICATED, ALLOW_ALL, None, ""),
]


@pytest.mark.parametrize("caller,policies,network,service,layer,reason",
                         [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_authorization_table(caller, policies, network, service, layer, reason):
    verdict = authorize(query(caller), policies, network, service)
    assert verdict.allowed is (layer is None)
    assert verdict.layer == layer
    if layer is None:
        assert verdict.message == ""
        return
    user = caller.arn if caller is not None else "anonymous"
    assert verdict.message == (f"AccessDeniedException: User: {user} is not authorized to perform: "
                               f"vpc-lattice-svcs:Invoke on resource: {RESOURCE} {reason}")


def test_the_messages_word_for_word():
    anonymous = authorize(query(None), (), None, SKIP)
    assert anonymous.message == (
        "AccessDeniedException: User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: "
        "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/rates because no network-based "
        "policy allows the vpc-lattice-svcs:Invoke action")
    denied = authorize(query(SESSION), (ID_ALLOW,), ALLOW_ALL, DENY_RATES)
    assert denied.message == (
        "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/rates-client/s1 is not authorized to "
        "perform: vpc-lattice-svcs:Invoke on resource: "
        "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/rates with an explicit deny in a "
        "service-based policy")


def test_tls_passthrough_asks_for_connect_and_says_so():
    connect = Query(CONNECT, SERVICE, None, {})
    verdict = authorize(connect, (), auth({**ALLOW, "Action": INVOKE}), SKIP)
    assert verdict.message == (f"AccessDeniedException: User: anonymous is not authorized to perform: {CONNECT} "
                               f"on resource: {SERVICE} because no network-based policy allows the {CONNECT} action")
    assert authorize(connect, (), ALLOW_ALL, SKIP).allowed
    assert denial_message(connect, "service", explicit=True).endswith(
        f"perform: {CONNECT} on resource: {SERVICE} with an explicit deny in a service-based policy")


def test_verdicts_carry_each_layers_decision():
    verdict = authorize(query(SESSION), (ID_ALLOW,), ALLOW_ALL, DENY_RATES)
    assert verdict.identity is not None and verdict.identity.allowed
    assert verdict.network is not None and verdict.network.allowed
    assert verdict.service is not None and verdict.service.denied
    assert verdict.decision is verdict.service
    assert [r.number for r in verdict.service.reasons] == [2]
    skipped = authorize(query(None), (), SKIP, ALLOW_ALL)
    assert skipped.identity is None and skipped.network is None and skipped.decision is None
    missing = authorize(query(None), (), None, SKIP)
    assert missing.network is not None and missing.network.effect == "NotApplicable" and not missing.network.reasons
    assert authorize(query(ROOT), ADMIN, ALLOW_ALL, SKIP).identity is ADMIN_ALLOW
    assert authorize(query(SESSION), (ID_DENY,), SKIP, SKIP) is OPEN


def test_layer_policy_follows_the_auth_type():
    assert layer_policy("NONE", ALLOW_ALL) is SKIP
    assert layer_policy("AWS_IAM", ALLOW_ALL) is ALLOW_ALL
    assert layer_policy("AWS_IAM", None) is None


def test_condition_keys_reach_every_layer():
    from_vpc = auth({**ALLOW, "Condition": {"StringEquals": {"vpc-lattice-svcs:SourceVpc": "vpc-1"}}})
    only_gets = identity({"Effect": "Allow", "Action": INVOKE, "Resource": "*",
                          "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET"}}})
    ok = query(SESSION, **{"vpc-lattice-svcs:SourceVpc": "vpc-1", "vpc-lattice-svcs:RequestMethod": "GET"})
    assert authorize(ok, (only_gets,), from_vpc, SKIP).allowed
    post = query(SESSION, **{"vpc-lattice-svcs:SourceVpc": "vpc-1", "vpc-lattice-svcs:RequestMethod": "POST"})
    assert authorize(post, (only_gets,), from_vpc, SKIP).layer == "identity"
    elsewhere = query(SESSION, **{"vpc-lattice-svcs:SourceVpc": "vpc-2", "vpc-lattice-svcs:RequestMethod": "GET"})
    assert authorize(elsewhere, (only_gets,), from_vpc, SKIP).layer == "network"


_LAYERS = st.sampled_from([SKIP, None, ALLOW_ALL, ALLOW_AUTHENTICATED, ALLOW_OTHERS, DENY_RATES, ALLOW_OWNER])
_IDENTITIES = st.sampled_from([(), (ID_ALLOW,), (ID_OTHER,), (ID_DENY,), (ID_ALLOW, ID_DENY), ADMIN])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([None, USER, SESSION, ROOT, STRANGER]), _IDENTITIES, _LAYERS, _LAYERS)
def test_allowed_exactly_when_every_evaluated_layer_allows(caller, policies, network, service):
    verdict = authorize(query(caller), policies, network, service)
    layers = [verdict.identity, verdict.network, verdict.service]
    assert verdict.allowed is all(d is None or d.allowed for d in layers)
    if any(d is not None and d.denied for d in layers):  # an explicit deny anywhere is the answer
        assert verdict.decision is not None and verdict.decision.denied
    if not verdict.allowed:
        assert verdict.message.startswith("AccessDeniedException: User: ")
        assert (caller is None) is ("User: anonymous " in verdict.message)


# -- session policies: they only limit what the role's policies allow ----------------------------

@pytest.mark.parametrize("role,session,allowed,reason", [
    ((ID_ALLOW,), ID_ALLOW, True, None),
    ((ID_ALLOW,), ID_OTHER, False, NO_IDENTITY),  # the role allows, the session policy does not
    ((ID_OTHER,), ID_ALLOW, False, NO_IDENTITY),  # a session policy grants nothing by itself
    ((ID_ALLOW,), ID_DENY, False, DENY_IDENTITY),
    ((ID_DENY,), ID_ALLOW, False, DENY_IDENTITY),
])
def test_a_session_policy_limits_the_role(role, session, allowed, reason):
    verdict = authorize(query(SESSION), role, SKIP, ALLOW_ALL, session=session)
    assert verdict.allowed is allowed
    if reason:
        assert verdict.layer == "identity" and verdict.message.endswith(reason)
