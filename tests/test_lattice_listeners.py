"""Black-box tests of Lattice listeners and rules through boto3.

Listeners (Create/Get/Update/Delete/ListListeners), their default rule, rules
(Create/Get/Update/Delete/ListRules, BatchUpdateRule) and the invariants of
their actions (target group ownership, protocol compatibility, quotas).
"""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from conftest import client_for, error_code, make_network, status_of

NOT_FOUND = (404, "ResourceNotFoundException")
INVALID = (400, "ValidationException")
CONFLICT = (409, "ConflictException")
QUOTA = (402, "ServiceQuotaExceededException")
PATH_API = {"httpMatch": {"pathMatch": {"match": {"prefix": "/api"}}}}
NOT_FOUND_ACTION = {"fixedResponse": {"statusCode": 404}}


def failure(exc) -> tuple[int, str]:
    return status_of(exc), error_code(exc)


def make_tg(lattice, vpc_id: str, name: str, protocol: str = "HTTP", version: str | None = None,
            type: str = "IP") -> dict:
    if type == "LAMBDA":
        return lattice.create_target_group(name=name, type="LAMBDA")
    config = {"port": 443 if protocol != "HTTP" else 80, "protocol": protocol, "vpcIdentifier": vpc_id}
    if version:
        config["protocolVersion"] = version
    return lattice.create_target_group(name=name, type=type, config=config)


def forward(*tg_ids: str, weights: list[int] | None = None) -> dict:
    groups = [{"targetGroupIdentifier": t} for t in tg_ids]
    for group, weight in zip(groups, weights or []):
        group["weight"] = weight
    return {"forward": {"targetGroups": groups}}


class Env:
    """A service (with a custom domain), the VPC of its target groups, and helpers to build on it."""

    def __init__(self, lattice, name: str = "shop", vpc_id: str | None = None):
        self.lattice, self.vpc_id = lattice, vpc_id
        self.service = lattice.create_service(name=name, customDomainName=f"{name}.example.com")
        self.sid = self.service["id"]

    def listener(self, name="web", protocol="HTTP", action=None, **kwargs) -> dict:
        return self.lattice.create_listener(serviceIdentifier=self.sid, name=name, protocol=protocol,
                                            defaultAction=action or NOT_FOUND_ACTION, **kwargs)

    def rule(self, listener: dict, name="api", priority=1, match=None, action=None, **kwargs) -> dict:
        return self.lattice.create_rule(serviceIdentifier=self.sid, listenerIdentifier=listener["id"], name=name,
                                        priority=priority, match=match or PATH_API,
                                        action=action or NOT_FOUND_ACTION, **kwargs)

    def rules(self, listener: dict) -> list[dict]:
        return self.lattice.list_rules(serviceIdentifier=self.sid, listenerIdentifier=listener["id"])["items"]

    def get_rule(self, listener: dict, rule_id: str) -> dict:
        return self.lattice.get_rule(serviceIdentifier=self.sid, listenerIdentifier=listener["id"],
                                     ruleIdentifier=rule_id)

    def default_rule(self, listener: dict) -> dict:
        return next(r for r in self.rules(listener) if r["isDefault"])


@pytest.fixture
def env(lattice, network) -> Env:
    return Env(lattice, vpc_id=network.vpc_id)


# -- CreateListener / GetListener ------------------------------------------------------

def test_http_listener_defaults_to_port_80(env, clients):
    tg = make_tg(env.lattice, env.vpc_id, "app")
    created = env.listener(action=forward(tg["arn"]))
    assert re.fullmatch(r"listener-[0-9a-f]{17}", created["id"])
    assert created["arn"] == f"{env.service['arn']}/listener/{created['id']}"
    assert created["port"] == 80 and created["protocol"] == "HTTP" and created["name"] == "web"
    assert (created["serviceId"], created["serviceArn"]) == (env.sid, env.service["arn"])
    # Target groups are answered by id, a single one with weight 100.
    assert created["defaultAction"] == forward(tg["id"], weights=[100])
    got = env.lattice.get_listener(serviceIdentifier=env.service["arn"], listenerIdentifier=created["arn"])
    assert {k: got[k] for k in created if k != "ResponseMetadata"} == \
        {k: v for k, v in created.items() if k != "ResponseMetadata"}
    assert got["createdAt"] and got["lastUpdatedAt"]


def test_https_listener_defaults_to_port_443_and_keeps_a_given_port(env):
    assert env.listener("secure", "HTTPS")["port"] == 443
    assert env.listener("alt", "HTTP", port=8080)["port"] == 8080


def test_listener_name_is_unique_within_its_service(env, lattice):
    env.listener("web")
    with pytest.raises(ClientError) as exc:
        env.listener("web", port=8080)
    assert failure(exc) == CONFLICT
    assert Env(lattice, "other").listener("web")["name"] == "web"


def test_two_listeners_cannot_share_a_port(env):
    env.listener("one", "HTTP", port=8443)
    with pytest.raises(ClientError) as exc:
        env.listener("two", "HTTPS", port=8443)
    assert failure(exc) == CONFLICT


def test_quota_of_two_listeners_per_service(env):
    env.listener("one", port=80)
    env.listener("two", port=81)
    with pytest.raises(ClientError) as exc:
        env.listener("three", port=82)
    assert failure(exc) == QUOTA
    assert exc.value.response["serviceCode"] == "vpc-lattice" and exc.value.response["quotaCode"]


def test_listener_on_unknown_service_is_404(lattice):
    with pytest.raises(ClientError) as exc:
        lattice.create_listener(serviceIdentifier="svc-0123456789abcdef0", name="web", protocol="HTTP",
                                defaultAction=NOT_FOUND_ACTION)
    assert failure(exc) == NOT_FOUND


def test_get_listener_unknown_or_of_another_service_is_404(env, lattice):
    listener = env.listener()
    other = Env(lattice, "other")
    for service, ident in ((env.sid, "listener-0123456789abcdef0"), (other.sid, listener["id"])):
        with pytest.raises(ClientError) as exc:
            lattice.get_listener(serviceIdentifier=service, listenerIdentifier=ident)
        assert failure(exc) == NOT_FOUND
        assert exc.value.response["resourceType"] == "LISTENER"


def test_listener_tags(env):
    listener = env.listener(tags={"tier": "edge"})
    assert env.lattice.list_tags_for_resource(resourceArn=listener["arn"])["tags"] == {"tier": "edge"}


# -- actions ---------------------------------------------------------------------------

def test_forward_to_unknown_target_group_is_404(env):
    with pytest.raises(ClientError) as exc:
        env.listener(action=forward("tg-0123456789abcdef0"))
    assert failure(exc) == NOT_FOUND
    assert exc.value.response["resourceType"] == "TARGET_GROUP"


def test_forward_to_a_target_group_of_another_account_is_404(env, server):
    import conftest
    n = next(conftest._accounts)
    vpc_id = make_network(client_for(server, "ec2", n)).vpc_id
    theirs = make_tg(client_for(server, "vpc-lattice", n), vpc_id, "theirs")
    with pytest.raises(ClientError) as exc:
        env.listener(action=forward(theirs["arn"]))
    assert failure(exc) == NOT_FOUND


def test_weighted_forward_needs_every_weight(env):
    a, b = make_tg(env.lattice, env.vpc_id, "blue"), make_tg(env.lattice, env.vpc_id, "green")
    with pytest.raises(ClientError) as exc:
        env.listener(action=forward(a["id"], b["id"]))
    assert failure(exc) == INVALID
    created = env.listener(action=forward(a["id"], b["id"], weights=[90, 10]))
    assert created["defaultAction"] == forward(a["id"], b["id"], weights=[90, 10])


def test_a_target_group_cannot_appear_twice_in_one_action(env):
    tg = make_tg(env.lattice, env.vpc_id, "app")
    with pytest.raises(ClientError) as exc:
        env.listener(action=forward(tg["id"], tg["arn"], weights=[1, 1]))
    assert failure(exc) == INVALID


def test_fixed_response_supports_only_404_and_500(env):
    assert env.listener("first", action={"fixedResponse": {"statusCode": 500}})["defaultAction"] == \
        {"fixedResponse": {"statusCode": 500}}
    with pytest.raises(ClientError) as exc:
        env.listener("second", port=81, action={"fixedResponse": {"statusCode": 200}})
    assert failure(exc) == INVALID


def test_a_target_group_serves_only_one_service(env, lattice):
    tg = make_tg(lattice, env.vpc_id, "app")
    env.listener(action=forward(tg["id"]))
    other = Env(lattice, "other")
    with pytest.raises(ClientError) as exc:
        other.listener(action=forward(tg["id"]))
    assert failure(exc) == CONFLICT
    # Several listeners and rules of the same service may share it.
    second = env.listener("second", "HTTPS", action=forward(tg["id"]))
    env.rule(second, action=forward(tg["id"]))


@pytest.mark.parametrize("protocol,version,tg_type,listener,ok", [
    ("HTTP", "HTTP1", "IP", "HTTP", True),
    ("HTTPS", "HTTP1", "INSTANCE", "HTTPS", True),
    ("HTTP", "HTTP2", "IP", "HTTPS", True),
    ("HTTP", "HTTP2", "IP", "HTTP", False),
    ("HTTPS", "GRPC", "IP", "HTTPS", True),
    ("HTTPS", "GRPC", "IP", "HTTP", False),
    ("TCP", None, "IP", "HTTP", False),
    ("TCP", None, "IP", "HTTPS", False),
    ("TCP", None, "IP", "TLS_PASSTHROUGH", True),
    ("HTTPS", "HTTP1", "IP", "TLS_PASSTHROUGH", False),
    (None, None, "LAMBDA", "HTTP", True),
    (None, None, "LAMBDA", "TLS_PASSTHROUGH", False),
])
def test_protocol_compatibility(env, protocol, version, tg_type, listener, ok):
    tg = make_tg(env.lattice, env.vpc_id, "backend", protocol, version, tg_type)
    create = lambda: env.listener("web", listener, action=forward(tg["id"]), port=8443)  # noqa: E731
    if ok:
        assert create()["defaultAction"] == forward(tg["id"], weights=[100])
        return
    with pytest.raises(ClientError) as exc:
        create()
    assert failure(exc) == INVALID


def test_quota_of_ten_target_groups_per_service(env):
    groups = [make_tg(env.lattice, env.vpc_id, f"group{n}")["id"] for n in range(11)]
    listener = env.listener(action=forward(*groups[:10], weights=[1] * 10))
    env.rule(listener, action=forward(groups[0]))
    with pytest.raises(ClientError) as exc:
        env.rule(listener, "more", priority=2, action=forward(groups[10]))
    assert failure(exc) == QUOTA
    # Replacing the default action frees its target groups.
    env.lattice.update_listener(serviceIdentifier=env.sid, listenerIdentifier=listener["id"],
                                defaultAction=forward(groups[10]))


# -- TLS_PASSTHROUGH -------------------------------------------------------------------

def test_tls_passthrough_listener(env):
    tcp = make_tg(env.lattice, env.vpc_id, "tcp", "TCP")
    created = env.listener("tls", "TLS_PASSTHROUGH", action=forward(tcp["id"]), port=443)
    assert (created["protocol"], created["port"]) == ("TLS_PASSTHROUGH", 443)
    with pytest.raises(ClientError) as exc:
        env.rule(created, action=forward(tcp["id"]))
    assert failure(exc) == INVALID


def test_tls_passthrough_needs_a_port(env):
    tcp = make_tg(env.lattice, env.vpc_id, "tcp", "TCP")
    with pytest.raises(ClientError) as exc:
        env.listener("tls", "TLS_PASSTHROUGH", action=forward(tcp["id"]))
    assert failure(exc) == INVALID


def test_tls_passthrough_needs_a_custom_domain_name(lattice, network):
    service = lattice.create_service(name="plain")
    tcp = make_tg(lattice, network.vpc_id, "tcp", "TCP")
    with pytest.raises(ClientError) as exc:
        lattice.create_listener(serviceIdentifier=service["id"], name="tls", protocol="TLS_PASSTHROUGH", port=443,
                                defaultAction=forward(tcp["id"]))
    assert failure(exc) == INVALID


def test_tls_passthrough_cannot_answer_fixed_responses(env):
    with pytest.raises(ClientError) as exc:
        env.listener("tls", "TLS_PASSTHROUGH", port=443, action=NOT_FOUND_ACTION)
    assert failure(exc) == INVALID


# -- the default rule --------------------------------------------------------------------

def test_a_listener_has_a_default_rule(env):
    tg = make_tg(env.lattice, env.vpc_id, "app")
    listener = env.listener(action=forward(tg["id"]))
    [summary] = env.rules(listener)
    assert summary["isDefault"] is True and summary["name"] == "default"
    assert "priority" not in summary
    assert summary["arn"] == f"{listener['arn']}/rule/{summary['id']}"
    rule = env.get_rule(listener, summary["arn"])
    assert rule["action"] == forward(tg["id"], weights=[100])
    assert "match" not in rule and "priority" not in rule


def test_update_listener_changes_the_default_action(env):
    tg = make_tg(env.lattice, env.vpc_id, "app")
    listener = env.listener()
    updated = env.lattice.update_listener(serviceIdentifier=env.sid, listenerIdentifier=listener["id"],
                                          defaultAction=forward(tg["arn"]))
    assert updated["defaultAction"] == forward(tg["id"], weights=[100])
    assert (updated["port"], updated["protocol"], updated["name"]) == (80, "HTTP", "web")
    got = env.lattice.get_listener(serviceIdentifier=env.sid, listenerIdentifier=listener["id"])
    assert got["defaultAction"] == updated["defaultAction"]
    assert env.get_rule(listener, env.default_rule(listener)["id"])["action"] == updated["defaultAction"]


def test_update_listener_checks_the_action(env):
    listener = env.listener()
    tcp = make_tg(env.lattice, env.vpc_id, "tcp", "TCP")
    with pytest.raises(ClientError) as exc:
        env.lattice.update_listener(serviceIdentifier=env.sid, listenerIdentifier=listener["id"],
                                    defaultAction=forward(tcp["id"]))
    assert failure(exc) == INVALID
    with pytest.raises(ClientError) as exc:
        env.lattice.update_listener(serviceIdentifier=env.sid, listenerIdentifier="listener-0123456789abcdef0",
                                    defaultAction=NOT_FOUND_ACTION)
    assert failure(exc) == NOT_FOUND


def test_the_default_rule_cannot_be_changed_with_the_rule_apis(env):
    listener = env.listener()
    default = env.default_rule(listener)
    ids = dict(serviceIdentifier=env.sid, listenerIdentifier=listener["id"], ruleIdentifier=default["id"])
    with pytest.raises(ClientError) as exc:
        env.lattice.update_rule(**ids, priority=5)
    assert failure(exc) == INVALID
    with pytest.raises(ClientError) as exc:
        env.lattice.delete_rule(**ids)
    assert failure(exc) == INVALID
    batch = env.lattice.batch_update_rule(serviceIdentifier=env.sid, listenerIdentifier=listener["id"],
                                          rules=[{"ruleIdentifier": default["id"], "priority": 5}])
    assert batch["successful"] == []
    assert batch["unsuccessful"][0]["failureCode"] == "ValidationException"
    assert env.get_rule(listener, default["id"])["isDefault"] is True


# -- DeleteListener / ListListeners ------------------------------------------------------------

def test_delete_listener_removes_its_rules(env, lattice):
    tg = make_tg(lattice, env.vpc_id, "app")
    listener = env.listener(action=forward(tg["id"]))
    rule = env.rule(listener, action=forward(tg["id"]))
    response = lattice.delete_listener(serviceIdentifier=env.sid, listenerIdentifier=listener["arn"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        lattice.get_listener(serviceIdentifier=env.sid, listenerIdentifier=listener["id"])
    assert failure(exc) == NOT_FOUND
    with pytest.raises(ClientError) as exc:
        lattice.list_tags_for_resource(resourceArn=rule["arn"])
    assert error_code(exc) == "ResourceNotFoundException"
    # No rule forwards to the target group any more: another service may take it.
    Env(lattice, "other").listener(action=forward(tg["id"]))


def test_delete_unknown_listener_is_404(env):
    with pytest.raises(ClientError) as exc:
        env.lattice.delete_listener(serviceIdentifier=env.sid, listenerIdentifier="listener-0123456789abcdef0")
    assert failure(exc) == NOT_FOUND


def test_list_listeners_paginates(env):
    made = [env.listener("one", port=80), env.listener("two", "HTTPS")]
    first = env.lattice.list_listeners(serviceIdentifier=env.sid, maxResults=1)
    rest = env.lattice.list_listeners(serviceIdentifier=env.service["arn"], maxResults=1,
                                      nextToken=first["nextToken"])
    assert "nextToken" not in rest
    items = first["items"] + rest["items"]
    assert [i["id"] for i in items] == [m["id"] for m in made]
    assert set(items[0]) == {"arn", "id", "name", "protocol", "port", "createdAt", "lastUpdatedAt"}


def test_list_listeners_of_unknown_service_is_404(lattice):
    with pytest.raises(ClientError) as exc:
        lattice.list_listeners(serviceIdentifier="svc-0123456789abcdef0")
    assert failure(exc) == NOT_FOUND


# -- CreateRule / GetRule ----------------------------------------------------------------

def test_create_and_get_rule(env):
    tg = make_tg(env.lattice, env.vpc_id, "app")
    listener = env.listener()
    match = {"httpMatch": {"method": "POST", "pathMatch": {"match": {"exact": "/orders"}},
                           "headerMatches": [{"name": "x-tenant", "match": {"prefix": "acme"}}]}}
    created = env.rule(listener, "orders", 10, match, forward(tg["id"]), tags={"k": "v"})
    assert re.fullmatch(r"rule-[0-9a-f]{17}", created["id"])
    assert created["arn"] == f"{listener['arn']}/rule/{created['id']}"
    assert (created["name"], created["priority"]) == ("orders", 10)
    assert created["action"] == forward(tg["id"], weights=[100])
    # pathMatch.caseSensitive defaults to true; header matches are answered as sent.
    expected = {"httpMatch": {**match["httpMatch"], "pathMatch": {"match": {"exact": "/orders"},
                                                                  "caseSensitive": True}}}
    assert created["match"] == expected
    got = env.get_rule(listener, created["arn"])
    assert got["isDefault"] is False and got["match"] == expected and got["priority"] == 10
    assert got["createdAt"] and got["lastUpdatedAt"]
    assert env.lattice.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"k": "v"}


def test_an_empty_method_reads_back_as_sent(env):
    """Terraform sends ``"method": ""`` for a rule without a method and expects it back."""
    listener = env.listener()
    match = {"httpMatch": {"method": "", "pathMatch": {"match": {"prefix": "/"}, "caseSensitive": False}}}
    created = env.rule(listener, match=match)
    assert env.get_rule(listener, created["id"])["match"] == match


@pytest.mark.parametrize("match", [{"httpMatch": {}}, {"httpMatch": {"method": ""}}])
def test_a_rule_needs_a_condition(env, match):
    listener = env.listener()
    with pytest.raises(ClientError) as exc:
        env.rule(listener, match=match)
    assert failure(exc) == INVALID


def test_rule_priority_and_name_are_unique_per_listener(env):
    listener = env.listener()
    env.rule(listener, "first", 1)
    with pytest.raises(ClientError) as exc:
        env.rule(listener, "second", 1)
    assert failure(exc) == CONFLICT
    with pytest.raises(ClientError) as exc:
        env.rule(listener, "first", 2)
    assert failure(exc) == CONFLICT
    other = env.listener("other", port=81)
    env.rule(other, "first", 1)


def test_rule_priority_range_is_checked(env):
    listener = env.listener()
    with pytest.raises(ClientError) as exc:
        env.rule(listener, priority=2001)
    assert failure(exc) == INVALID


def test_quota_of_ten_rules_per_listener(env):
    listener = env.listener()
    for n in range(10):
        env.rule(listener, f"route{n}", n + 1)
    with pytest.raises(ClientError) as exc:
        env.rule(listener, "route10", 11)
    assert failure(exc) == QUOTA


def test_rule_actions_are_checked(env):
    listener = env.listener()
    tcp = make_tg(env.lattice, env.vpc_id, "tcp", "TCP")
    with pytest.raises(ClientError) as exc:
        env.rule(listener, action=forward(tcp["id"]))
    assert failure(exc) == INVALID
    with pytest.raises(ClientError) as exc:
        env.rule(listener, action=forward("tg-0123456789abcdef0"))
    assert failure(exc) == NOT_FOUND


def test_rule_on_unknown_listener_or_rule_is_404(env):
    listener = env.listener()
    with pytest.raises(ClientError) as exc:
        env.lattice.create_rule(serviceIdentifier=env.sid, listenerIdentifier="listener-0123456789abcdef0",
                                name="api", priority=1, match=PATH_API, action=NOT_FOUND_ACTION)
    assert failure(exc) == NOT_FOUND
    with pytest.raises(ClientError) as exc:
        env.get_rule(listener, "rule-0123456789abcdef0")
    assert failure(exc) == NOT_FOUND
    assert exc.value.response["resourceType"] == "RULE"


# -- UpdateRule / DeleteRule / ListRules ------------------------------------------------------

def test_update_rule(env):
    tg = make_tg(env.lattice, env.vpc_id, "app")
    listener = env.listener()
    rule = env.rule(listener, priority=1)
    new_match = {"httpMatch": {"headerMatches": [{"name": "x-v", "match": {"exact": "2"}, "caseSensitive": True}]}}
    updated = env.lattice.update_rule(serviceIdentifier=env.sid, listenerIdentifier=listener["id"],
                                      ruleIdentifier=rule["id"], priority=7, match=new_match,
                                      action=forward(tg["id"]))
    assert (updated["priority"], updated["match"], updated["isDefault"]) == (7, new_match, False)
    assert updated["action"] == forward(tg["id"], weights=[100])
    got = env.get_rule(listener, rule["id"])
    assert (got["name"], got["priority"], got["match"]) == ("api", 7, new_match)


def test_update_rule_keeps_what_is_not_sent(env):
    listener = env.listener()
    rule = env.rule(listener, priority=3)
    env.lattice.update_rule(serviceIdentifier=env.sid, listenerIdentifier=listener["id"],
                            ruleIdentifier=rule["id"], action={"fixedResponse": {"statusCode": 500}})
    got = env.get_rule(listener, rule["id"])
    assert (got["priority"], got["match"]["httpMatch"]["pathMatch"]["match"]) == (3, {"prefix": "/api"})


def test_update_rule_errors(env):
    listener = env.listener()
    first, second = env.rule(listener, "first", 1), env.rule(listener, "second", 2)
    ids = dict(serviceIdentifier=env.sid, listenerIdentifier=listener["id"])
    with pytest.raises(ClientError) as exc:
        env.lattice.update_rule(**ids, ruleIdentifier=second["id"], priority=1)
    assert failure(exc) == CONFLICT
    with pytest.raises(ClientError) as exc:
        env.lattice.update_rule(**ids, ruleIdentifier=first["id"], match={"httpMatch": {}})
    assert failure(exc) == INVALID
    with pytest.raises(ClientError) as exc:
        env.lattice.update_rule(**ids, ruleIdentifier="rule-0123456789abcdef0", priority=9)
    assert failure(exc) == NOT_FOUND
    # Keeping its own priority is no conflict.
    assert env.lattice.update_rule(**ids, ruleIdentifier=first["id"], priority=1)["priority"] == 1


def test_delete_rule(env):
    listener = env.listener()
    rule = env.rule(listener)
    ids = dict(serviceIdentifier=env.sid, listenerIdentifier=listener["id"], ruleIdentifier=rule["arn"])
    assert env.lattice.delete_rule(**ids)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        env.get_rule(listener, rule["id"])
    assert failure(exc) == NOT_FOUND
    with pytest.raises(ClientError) as exc:
        env.lattice.delete_rule(**ids)
    assert failure(exc) == NOT_FOUND
    # Its priority and name are free again.
    env.rule(listener)


def test_list_rules_paginates_and_includes_the_default_rule(env):
    listener = env.listener()
    made = [env.rule(listener, f"route{n}", n + 1) for n in range(3)]
    first = env.lattice.list_rules(serviceIdentifier=env.sid, listenerIdentifier=listener["id"], maxResults=2)
    rest = env.lattice.list_rules(serviceIdentifier=env.sid, listenerIdentifier=listener["id"], maxResults=2,
                                  nextToken=first["nextToken"])
    items = first["items"] + rest["items"]
    assert [i["isDefault"] for i in items] == [True, False, False, False]
    assert [i["id"] for i in items[1:]] == [m["id"] for m in made]
    assert [i.get("priority") for i in items] == [None, 1, 2, 3]
    assert set(items[1]) == {"arn", "id", "name", "isDefault", "priority", "createdAt", "lastUpdatedAt"}


def test_list_rules_of_unknown_listener_is_404(env):
    with pytest.raises(ClientError) as exc:
        env.lattice.list_rules(serviceIdentifier=env.sid, listenerIdentifier="listener-0123456789abcdef0")
    assert failure(exc) == NOT_FOUND


# -- BatchUpdateRule -------------------------------------------------------------------------

def test_batch_update_swaps_priorities(env):
    listener = env.listener()
    a, b = env.rule(listener, "alpha", 1), env.rule(listener, "bravo", 2)
    result = env.lattice.batch_update_rule(serviceIdentifier=env.sid, listenerIdentifier=listener["id"], rules=[
        {"ruleIdentifier": a["id"], "priority": 2}, {"ruleIdentifier": b["arn"], "priority": 1}])
    assert result["unsuccessful"] == []
    assert {(r["id"], r["priority"]) for r in result["successful"]} == {(a["id"], 2), (b["id"], 1)}
    assert set(result["successful"][0]) == {"arn", "id", "name", "isDefault", "match", "priority", "action"}
    assert env.get_rule(listener, a["id"])["priority"] == 2
    assert env.get_rule(listener, b["id"])["priority"] == 1


def test_batch_update_reports_each_failure(env):
    listener = env.listener()
    a, b, c = env.rule(listener, "alpha", 1), env.rule(listener, "bravo", 2), env.rule(listener, "charlie", 3)
    unknown = "rule-0123456789abcdef0"
    result = env.lattice.batch_update_rule(serviceIdentifier=env.sid, listenerIdentifier=listener["id"], rules=[
        {"ruleIdentifier": a["id"], "priority": 3},  # c keeps 3: conflict
        {"ruleIdentifier": b["id"], "action": {"fixedResponse": {"statusCode": 500}}},
        {"ruleIdentifier": unknown, "priority": 9},
        {"ruleIdentifier": c["id"], "match": {"httpMatch": {}}},
    ])
    assert [r["id"] for r in result["successful"]] == [b["id"]]
    assert result["successful"][0]["action"] == {"fixedResponse": {"statusCode": 500}}
    codes = {f["ruleIdentifier"]: f["failureCode"] for f in result["unsuccessful"]}
    assert codes == {a["id"]: "ConflictException", unknown: "ResourceNotFoundException",
                     c["id"]: "ValidationException"}
    assert all(f["failureMessage"] for f in result["unsuccessful"])
    assert env.get_rule(listener, a["id"])["priority"] == 1


def test_batch_update_on_unknown_listener_is_404(env):
    with pytest.raises(ClientError) as exc:
        env.lattice.batch_update_rule(serviceIdentifier=env.sid, listenerIdentifier="listener-0123456789abcdef0",
                                      rules=[{"ruleIdentifier": "rule-0123456789abcdef0", "priority": 1}])
    assert failure(exc) == NOT_FOUND


def test_target_group_reports_the_service_using_it(env):
    tg = make_tg(env.lattice, env.vpc_id, "app")
    listener = env.listener()
    env.rule(listener, action=forward(tg["id"]))
    assert env.lattice.get_target_group(targetGroupIdentifier=tg["id"])["serviceArns"] == [env.service["arn"]]
    with pytest.raises(ClientError) as exc:
        env.lattice.delete_target_group(targetGroupIdentifier=tg["id"])
    assert failure(exc) == CONFLICT
