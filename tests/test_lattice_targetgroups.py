"""Target groups and targets, driven through boto3 against a real server."""

from __future__ import annotations

import itertools

import pytest
from botocore.exceptions import ClientError

from conftest import LOW_QUOTAS, account_id, client_for, error_code, make_network, status_of

# Stands for the test's own VPC in the parameter tables below (see ``with_vpc``).
VPC = "vpc-of-the-test"
INSTANCE = "i-0123456789abcdef0"
DEFAULT_HEALTH_CHECK = {
    "enabled": True, "protocol": "HTTP", "protocolVersion": "HTTP1", "path": "/",
    "healthCheckIntervalSeconds": 30, "healthCheckTimeoutSeconds": 5, "healthyThresholdCount": 5,
    "unhealthyThresholdCount": 2, "matcher": {"httpCode": "200"},
}
_names = itertools.count()


def name(prefix: str = "group") -> str:
    return f"{prefix}-{next(_names)}"


def lambda_arn(account: str, function: str = "fn") -> str:
    return f"arn:aws:lambda:us-east-1:{account}:function:{function}"


def alb_arn(account: str, lb: str = "my-alb") -> str:
    return f"arn:aws:elasticloadbalancing:us-east-1:{account}:loadbalancer/app/{lb}/0123456789abcdef"


def with_vpc(config: dict, network) -> dict:
    """``config`` with the ``VPC`` placeholder replaced by the id of ``network``'s VPC."""
    return {k: network.vpc_id if v == VPC else v for k, v in config.items()}


def create(lattice, network, tg_type: str = "IP", **config) -> dict:
    """A target group; ``network`` (a ``conftest.Network``, ``None`` for LAMBDA) gives its VPC."""
    if tg_type != "LAMBDA":
        config = {"port": 80, "protocol": "HTTP", "vpcIdentifier": network.vpc_id, **config}
    kwargs = {"config": config} if config else {}
    return lattice.create_target_group(name=name(), type=tg_type, **kwargs)


def fails(call, status: int, code: str, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    assert (status_of(excinfo), error_code(excinfo)) == (status, code)
    return excinfo.value.response


def field_names(response) -> list[str]:
    return [f["name"] for f in response.get("fieldList", [])]


def targets(lattice, tg_id: str, **kwargs) -> list[dict]:
    return lattice.list_targets(targetGroupIdentifier=tg_id, **kwargs)["items"]


def use_in_service(lattice, tg_id: str) -> str:
    """Make a new service's HTTP listener forward to the group; return the service's ARN."""
    svc = lattice.create_service(name=name("service"))
    lattice.create_listener(serviceIdentifier=svc["id"], name="http", protocol="HTTP", port=80,
                            defaultAction={"forward": {"targetGroups": [{"targetGroupIdentifier": tg_id}]}})
    return svc["arn"]


# -- CreateTargetGroup / GetTargetGroup ------------------------------------------

def test_create_ip_target_group_fills_defaults(lattice, clients, network):
    created = lattice.create_target_group(name="web", type="IP",
                                          config={"port": 8080, "protocol": "HTTP",
                                                  "vpcIdentifier": network.vpc_id})
    assert created["status"] == "CREATE_IN_PROGRESS"
    assert created["id"].startswith("tg-") and len(created["id"]) == 20
    assert created["arn"] == f"arn:aws:vpc-lattice:us-east-1:{clients.account}:targetgroup/{created['id']}"
    assert created["config"] == {"port": 8080, "protocol": "HTTP", "protocolVersion": "HTTP1",
                                 "ipAddressType": "IPV4", "vpcIdentifier": network.vpc_id,
                                 "healthCheck": DEFAULT_HEALTH_CHECK}
    got = lattice.get_target_group(targetGroupIdentifier=created["id"])
    assert got["status"] == "ACTIVE"
    assert got["config"] == created["config"]
    assert (got["name"], got["type"], got["serviceArns"]) == ("web", "IP", [])
    assert got["createdAt"] and got["lastUpdatedAt"]


def test_defaults_read_back_identically(lattice, network):
    tg = create(lattice, network, "INSTANCE")
    reads = [lattice.get_target_group(targetGroupIdentifier=tg["id"])["config"] for _ in range(3)]
    assert reads[0] == reads[1] == reads[2] == tg["config"]


def test_get_by_arn(lattice, network):
    tg = create(lattice, network)
    assert lattice.get_target_group(targetGroupIdentifier=tg["arn"])["id"] == tg["id"]


def test_instance_group_has_no_ip_address_type_and_https_defaults_to_443(lattice, network):
    tg = lattice.create_target_group(name=name(), type="INSTANCE",
                                     config={"protocol": "HTTPS", "vpcIdentifier": network.vpc_id})
    config = tg["config"]
    assert config["port"] == 443 and "ipAddressType" not in config
    assert config["healthCheck"]["protocol"] == "HTTPS"
    assert "port" not in config["healthCheck"]  # the traffic port is checked and not echoed


def test_http_defaults_to_port_80(lattice, network):
    tg = lattice.create_target_group(name=name(), type="IP",
                                     config={"protocol": "HTTP", "vpcIdentifier": network.vpc_id})
    assert tg["config"]["port"] == 80


def test_tcp_needs_a_port_and_has_checks_off(lattice, network):
    response = fails(lattice.create_target_group, 400, "ValidationException", name=name(), type="IP",
                     config={"protocol": "TCP", "vpcIdentifier": network.vpc_id})
    assert field_names(response) == ["config.port"]
    tg = create(lattice, network, port=5432, protocol="TCP")
    assert tg["config"]["healthCheck"]["enabled"] is False
    assert tg["config"]["healthCheck"]["protocol"] == "TCP"


def test_http2_group_has_checks_off_by_default(lattice, network):
    tg = create(lattice, network, protocol="HTTPS", port=443, protocolVersion="HTTP2")
    check = tg["config"]["healthCheck"]
    assert (check["enabled"], check["protocolVersion"], check["protocol"]) == (False, "HTTP2", "HTTPS")


def test_grpc_health_checks_need_an_http_version(lattice, network):
    tg = create(lattice, network, protocol="HTTPS", port=443, protocolVersion="GRPC")
    check = tg["config"]["healthCheck"]
    assert check["enabled"] is False and "protocolVersion" not in check
    response = fails(lattice.create_target_group, 400, "ValidationException", name=name(), type="IP",
                     config={"protocol": "HTTPS", "port": 443, "vpcIdentifier": network.vpc_id,
                             "protocolVersion": "GRPC", "healthCheck": {"enabled": True}})
    assert field_names(response) == ["config.healthCheck.protocolVersion"]
    ok = create(lattice, network, protocol="HTTPS", port=443, protocolVersion="GRPC",
                healthCheck={"enabled": True, "protocolVersion": "HTTP2"})
    assert ok["config"]["healthCheck"]["protocolVersion"] == "HTTP2"
    fails(lattice.update_target_group, 400, "ValidationException", targetGroupIdentifier=tg["id"],
          healthCheck={"enabled": True})


def test_ipv6_group(lattice, network):
    tg = create(lattice, network, ipAddressType="IPV6")
    assert tg["config"]["ipAddressType"] == "IPV6"


def test_explicit_health_check_reads_back_exactly(lattice, network):
    check = {"enabled": True, "protocol": "HTTPS", "protocolVersion": "HTTP1", "port": 8443, "path": "/health",
             "healthCheckIntervalSeconds": 60, "healthCheckTimeoutSeconds": 10, "healthyThresholdCount": 6,
             "unhealthyThresholdCount": 4, "matcher": {"httpCode": "200-299"}}
    tg = create(lattice, network, protocol="HTTPS", port=443, protocolVersion="HTTP2", ipAddressType="IPV6",
                healthCheck=check)
    assert tg["config"]["healthCheck"] == check
    assert lattice.get_target_group(targetGroupIdentifier=tg["id"])["config"]["healthCheck"] == check


def test_partial_health_check_is_completed_with_defaults(lattice, network):
    tg = create(lattice, network, healthCheck={"path": "/ping", "enabled": False})
    assert tg["config"]["healthCheck"] == {**DEFAULT_HEALTH_CHECK, "path": "/ping", "enabled": False}


def test_zero_health_check_values_mean_default(lattice, network):
    tg = create(lattice, network, healthCheck={"healthCheckIntervalSeconds": 0, "healthCheckTimeoutSeconds": 0,
                                      "healthyThresholdCount": 0, "unhealthyThresholdCount": 0, "port": 0})
    assert tg["config"]["healthCheck"] == DEFAULT_HEALTH_CHECK


def test_timeout_may_exceed_interval(lattice, network):
    tg = create(lattice, network, healthCheck={"healthCheckIntervalSeconds": 5, "healthCheckTimeoutSeconds": 60})
    assert tg["config"]["healthCheck"]["healthCheckTimeoutSeconds"] == 60


@pytest.mark.parametrize("check, field", [
    ({"healthCheckIntervalSeconds": 4}, "config.healthCheck.healthCheckIntervalSeconds"),
    ({"healthyThresholdCount": 1}, "config.healthCheck.healthyThresholdCount"),
    ({"unhealthyThresholdCount": 1}, "config.healthCheck.unhealthyThresholdCount"),
    ({"matcher": {"httpCode": "600"}}, "config.healthCheck.matcher.httpCode"),
    ({"matcher": {"httpCode": "299-200"}}, "config.healthCheck.matcher.httpCode"),
    ({"matcher": {"httpCode": "200--300"}}, "config.healthCheck.matcher.httpCode"),
])
def test_health_check_ranges(lattice, check, field, network):
    response = fails(lattice.create_target_group, 400, "ValidationException", name=name(), type="IP",
                     config={"protocol": "HTTP", "vpcIdentifier": network.vpc_id, "healthCheck": check})
    assert field_names(response) == [field]


def test_matcher_lists_and_ranges(lattice, network):
    tg = create(lattice, network, healthCheck={"matcher": {"httpCode": "200,202,300-399"}})
    assert tg["config"]["healthCheck"]["matcher"] == {"httpCode": "200,202,300-399"}


@pytest.mark.parametrize("config, field", [
    ({"port": 80, "vpcIdentifier": VPC}, "config.protocol"),
    ({"port": 80, "protocol": "HTTP"}, "config.vpcIdentifier"),
    ({"protocol": "HTTP", "vpcIdentifier": VPC, "lambdaEventStructureVersion": "V2"},
     "config.lambdaEventStructureVersion"),
])
def test_network_group_config_rules(lattice, config, field, network):
    for tg_type in ("IP", "INSTANCE", "ALB"):
        response = fails(lattice.create_target_group, 400, "ValidationException", name=name(), type=tg_type,
                         config=with_vpc(config, network))
        assert field_names(response) == [field]


def test_network_groups_need_a_config(lattice):
    for tg_type in ("IP", "INSTANCE", "ALB"):
        response = fails(lattice.create_target_group, 400, "ValidationException", name=name(), type=tg_type)
        assert field_names(response) == ["config"]


def test_ip_address_type_only_for_ip_groups(lattice, network):
    for tg_type in ("INSTANCE", "ALB"):
        response = fails(lattice.create_target_group, 400, "ValidationException", name=name(), type=tg_type,
                         config={"protocol": "HTTP", "vpcIdentifier": network.vpc_id, "ipAddressType": "IPV4"})
        assert field_names(response) == ["config.ipAddressType"]


def test_malformed_vpc_is_refused(lattice):
    fails(lattice.create_target_group, 400, "ValidationException", name=name(), type="IP",
          config={"protocol": "HTTP", "vpcIdentifier": "vpc-123"})


def test_unknown_vpc_is_not_found(lattice):
    for tg_type in ("IP", "INSTANCE", "ALB"):
        response = fails(lattice.create_target_group, 404, "ResourceNotFoundException", name=name(), type=tg_type,
                         config={"protocol": "HTTP", "vpcIdentifier": "vpc-0123456789abcdef0"})
        assert (response["resourceType"], response["resourceId"]) == ("VPC", "vpc-0123456789abcdef0")
    assert lattice.list_target_groups()["items"] == []


def test_another_accounts_vpc_is_not_found(clients, network):
    import conftest
    n = next(conftest._accounts)
    other = client_for(clients.server, "vpc-lattice", n)
    response = fails(other.create_target_group, 404, "ResourceNotFoundException", name=name(), type="IP",
                     config={"protocol": "HTTP", "vpcIdentifier": network.vpc_id})
    assert (response["resourceType"], response["resourceId"]) == ("VPC", network.vpc_id)
    theirs = make_network(client_for(clients.server, "ec2", n))
    assert create(other, theirs)["config"]["vpcIdentifier"] == theirs.vpc_id


def test_alb_group_has_no_health_check(lattice, network):
    tg = create(lattice, network, "ALB")
    assert tg["config"] == {"port": 80, "protocol": "HTTP", "protocolVersion": "HTTP1", "vpcIdentifier": network.vpc_id}
    response = fails(lattice.create_target_group, 400, "ValidationException", name=name(), type="ALB",
                     config={"protocol": "HTTP", "vpcIdentifier": network.vpc_id, "healthCheck": {"enabled": False}})
    assert field_names(response) == ["config.healthCheck"]


def test_lambda_group(lattice):
    tg = lattice.create_target_group(name=name(), type="LAMBDA")
    assert tg["config"] == {"lambdaEventStructureVersion": "V1"}
    assert lattice.get_target_group(targetGroupIdentifier=tg["id"])["config"] == tg["config"]
    v2 = create(lattice, None, "LAMBDA", lambdaEventStructureVersion="V2")
    assert v2["config"] == {"lambdaEventStructureVersion": "V2"}


@pytest.mark.parametrize("config, field", [
    ({"port": 80}, "config.port"),
    ({"protocol": "HTTP"}, "config.protocol"),
    ({"vpcIdentifier": VPC}, "config.vpcIdentifier"),
    ({"healthCheck": {"enabled": False}}, "config.healthCheck"),
    ({"ipAddressType": "IPV4"}, "config.ipAddressType"),
    ({"protocolVersion": "HTTP1"}, "config.protocolVersion"),
])
def test_lambda_group_refuses_network_config(lattice, config, field, network):
    response = fails(lattice.create_target_group, 400, "ValidationException", name=name(), type="LAMBDA",
                     config=with_vpc(config, network))
    assert field_names(response) == [field]


def test_names_are_unique(lattice, network):
    lattice.create_target_group(name="taken", type="IP", config={"protocol": "HTTP", "vpcIdentifier": network.vpc_id})
    response = fails(lattice.create_target_group, 409, "ConflictException", name="taken", type="LAMBDA")
    assert response["resourceType"] == "TARGET_GROUP"


def test_name_is_free_again_after_delete(lattice):
    tg = lattice.create_target_group(name="reused", type="LAMBDA")
    lattice.delete_target_group(targetGroupIdentifier=tg["id"])
    assert lattice.create_target_group(name="reused", type="LAMBDA")["id"] != tg["id"]


def test_same_name_in_another_region(lattice, clients, server):
    lattice.create_target_group(name="shared-name", type="LAMBDA")
    west = client_for(server, "vpc-lattice", clients.n, region="us-west-2")
    tg = west.create_target_group(name="shared-name", type="LAMBDA")
    assert ":us-west-2:" in tg["arn"]
    assert [i["id"] for i in west.list_target_groups()["items"]] == [tg["id"]]


def test_other_account_arn_is_not_found(lattice, clients, network):
    tg = create(lattice, network)
    foreign = tg["arn"].replace(clients.account, account_id(399))
    fails(lattice.get_target_group, 404, "ResourceNotFoundException", targetGroupIdentifier=foreign)


def test_unknown_group_is_not_found(lattice):
    response = fails(lattice.get_target_group, 404, "ResourceNotFoundException",
                     targetGroupIdentifier="tg-0123456789abcdef0")
    assert response["resourceType"] == "TARGET_GROUP"
    assert response["resourceId"] == "tg-0123456789abcdef0"


def test_client_token_is_idempotent(lattice):
    kwargs = {"name": name(), "type": "LAMBDA", "clientToken": "token-1"}
    first = lattice.create_target_group(**kwargs)
    assert lattice.create_target_group(**kwargs)["id"] == first["id"]


def test_tags(lattice):
    tg = lattice.create_target_group(name=name(), type="LAMBDA", tags={"team": "blue"})
    assert lattice.list_tags_for_resource(resourceArn=tg["arn"])["tags"] == {"team": "blue"}
    fails(lattice.create_target_group, 400, "ValidationException", name=name(), type="LAMBDA",
          tags={"aws:owner": "x"})


def test_target_group_quota(clients_with_quotas):
    lattice = clients_with_quotas.lattice  # 3 target groups per Region (conftest.LOW_QUOTAS)
    for _ in range(LOW_QUOTAS["L-BB11C6B9"]):
        lattice.create_target_group(name=name(), type="LAMBDA")
    response = fails(lattice.create_target_group, 402, "ServiceQuotaExceededException", name=name(), type="LAMBDA")
    assert (response["serviceCode"], response["quotaCode"]) == ("vpc-lattice", "L-BB11C6B9")


# -- UpdateTargetGroup -------------------------------------------------------------

def test_update_merges_into_the_health_check(lattice, network):
    tg = create(lattice, network, healthCheck={"path": "/ping", "healthyThresholdCount": 3})
    updated = lattice.update_target_group(targetGroupIdentifier=tg["id"],
                                          healthCheck={"healthCheckIntervalSeconds": 10})
    expected = {**DEFAULT_HEALTH_CHECK, "path": "/ping", "healthyThresholdCount": 3,
                "healthCheckIntervalSeconds": 10}
    assert updated["config"]["healthCheck"] == expected
    assert updated["status"] == "ACTIVE"
    got = lattice.get_target_group(targetGroupIdentifier=tg["id"])
    assert got["config"]["healthCheck"] == expected
    assert {k: v for k, v in got["config"].items() if k != "healthCheck"} == \
        {k: v for k, v in tg["config"].items() if k != "healthCheck"}


def test_update_zero_resets_a_setting(lattice, network):
    tg = create(lattice, network, healthCheck={"healthyThresholdCount": 3, "port": 9000})
    updated = lattice.update_target_group(targetGroupIdentifier=tg["id"],
                                          healthCheck={"healthyThresholdCount": 0, "port": 0})
    assert updated["config"]["healthCheck"] == DEFAULT_HEALTH_CHECK


def test_update_can_disable_and_enable(lattice, network):
    tg = create(lattice, network)
    off = lattice.update_target_group(targetGroupIdentifier=tg["id"], healthCheck={"enabled": False})
    assert off["config"]["healthCheck"]["enabled"] is False
    on = lattice.update_target_group(targetGroupIdentifier=tg["id"], healthCheck={"enabled": True})
    assert on["config"]["healthCheck"]["enabled"] is True


def test_update_validates(lattice, network):
    tg = create(lattice, network)
    response = fails(lattice.update_target_group, 400, "ValidationException", targetGroupIdentifier=tg["id"],
                     healthCheck={"healthCheckIntervalSeconds": 2})
    assert field_names(response) == ["healthCheck.healthCheckIntervalSeconds"]


def test_update_refused_for_lambda_and_alb(lattice, network):
    for tg in (create(lattice, None, "LAMBDA"), create(lattice, network, "ALB")):
        response = fails(lattice.update_target_group, 400, "ValidationException", targetGroupIdentifier=tg["id"],
                         healthCheck={"enabled": True})
        assert field_names(response) == ["healthCheck"]


def test_update_unknown_group(lattice):
    fails(lattice.update_target_group, 404, "ResourceNotFoundException",
          targetGroupIdentifier="tg-0123456789abcdef0", healthCheck={"enabled": True})


# -- DeleteTargetGroup -------------------------------------------------------------

def test_delete(lattice, network):
    tg = create(lattice, network)
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1"}])
    deleted = lattice.delete_target_group(targetGroupIdentifier=tg["arn"])
    assert deleted == {"id": tg["id"], "arn": tg["arn"], "status": "DELETE_IN_PROGRESS",
                       "ResponseMetadata": deleted["ResponseMetadata"]}
    fails(lattice.get_target_group, 404, "ResourceNotFoundException", targetGroupIdentifier=tg["id"])
    fails(lattice.list_targets, 404, "ResourceNotFoundException", targetGroupIdentifier=tg["id"])
    fails(lattice.delete_target_group, 404, "ResourceNotFoundException", targetGroupIdentifier=tg["id"])


def test_delete_refused_while_a_listener_forwards(lattice, network):
    tg = create(lattice, network)
    use_in_service(lattice, tg["id"])
    fails(lattice.delete_target_group, 409, "ConflictException", targetGroupIdentifier=tg["id"])


# -- ListTargetGroups --------------------------------------------------------------

def test_list_summaries(lattice, network):
    ip = create(lattice, network, ipAddressType="IPV6")
    fn = create(lattice, None, "LAMBDA")
    items = {i["id"]: i for i in lattice.list_target_groups()["items"]}
    assert set(items) == {ip["id"], fn["id"]}
    assert "config" not in items[ip["id"]]
    assert {k: items[ip["id"]][k] for k in ("port", "protocol", "ipAddressType", "vpcIdentifier", "status",
                                            "type", "serviceArns")} == \
        {"port": 80, "protocol": "HTTP", "ipAddressType": "IPV6", "vpcIdentifier": network.vpc_id,
         "status": "ACTIVE", "type": "IP", "serviceArns": []}
    assert items[fn["id"]]["lambdaEventStructureVersion"] == "V1"
    assert "port" not in items[fn["id"]]


def test_list_filters(lattice, clients, network):
    other = make_network(clients.client("ec2"), "10.1.0.0/16")
    a = create(lattice, network)
    b = create(lattice, other, "INSTANCE")
    create(lattice, None, "LAMBDA")
    assert [i["id"] for i in lattice.list_target_groups(vpcIdentifier=other.vpc_id)["items"]] == [b["id"]]
    assert [i["id"] for i in lattice.list_target_groups(targetGroupType="IP")["items"]] == [a["id"]]
    assert lattice.list_target_groups(vpcIdentifier=network.vpc_id, targetGroupType="INSTANCE")["items"] == []


def test_list_paginates(lattice, network):
    ids = [create(lattice, None, "LAMBDA")["id"] for _ in range(5)]
    create(lattice, network)
    seen, token = [], None
    while True:
        page = lattice.list_target_groups(targetGroupType="LAMBDA", maxResults=2,
                                          **({"nextToken": token} if token else {}))
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == ids
    fails(lattice.list_target_groups, 400, "ValidationException", nextToken="bogus")


# -- RegisterTargets / ListTargets ---------------------------------------------------

def test_register_ip_targets(lattice, network):
    tg = create(lattice, network, port=8080)
    result = lattice.register_targets(targetGroupIdentifier=tg["id"],
                                      targets=[{"id": "10.0.0.1"}, {"id": "10.0.0.2", "port": 9090}])
    assert result["successful"] == [{"id": "10.0.0.1", "port": 8080}, {"id": "10.0.0.2", "port": 9090}]
    assert result["unsuccessful"] == []
    assert targets(lattice, tg["id"]) == [
        {"id": "10.0.0.1", "port": 8080, "status": "UNUSED", "reasonCode": "TargetGroupNotInUse"},
        {"id": "10.0.0.2", "port": 9090, "status": "UNUSED", "reasonCode": "TargetGroupNotInUse"},
    ]


def test_register_is_idempotent(lattice, network):
    tg = create(lattice, network)
    for _ in range(2):
        result = lattice.register_targets(targetGroupIdentifier=tg["arn"],
                                          targets=[{"id": "10.0.0.1"}, {"id": "10.0.0.1", "port": 80}])
        assert result["successful"] == [{"id": "10.0.0.1", "port": 80}]
    assert len(targets(lattice, tg["id"])) == 1


def test_same_address_on_two_ports_and_in_two_groups(lattice, network):
    first, second = create(lattice, network), create(lattice, network)
    lattice.register_targets(targetGroupIdentifier=first["id"], targets=[{"id": "10.0.0.1"},
                                                                          {"id": "10.0.0.1", "port": 81}])
    lattice.register_targets(targetGroupIdentifier=second["id"], targets=[{"id": "10.0.0.1"}])
    assert [(t["id"], t["port"]) for t in targets(lattice, first["id"])] == [("10.0.0.1", 80), ("10.0.0.1", 81)]
    assert [(t["id"], t["port"]) for t in targets(lattice, second["id"])] == [("10.0.0.1", 80)]


@pytest.mark.parametrize("address_type, good, bad", [
    ("IPV4", "192.168.1.10", ["2001:db8::1", "10.0.0.256", "not-an-ip", "i-0123456789abcdef0"]),
    ("IPV6", "2001:db8::1", ["10.0.0.1", "2001:db8::g"]),
])
def test_ip_targets_must_match_the_address_family(lattice, address_type, good, bad, network):
    tg = create(lattice, network, ipAddressType=address_type)
    result = lattice.register_targets(targetGroupIdentifier=tg["id"],
                                      targets=[{"id": good}] + [{"id": b} for b in bad])
    assert result["successful"] == [{"id": good, "port": 80}]
    assert [(u["id"], u["port"], u["failureCode"]) for u in result["unsuccessful"]] == \
        [(b, 80, "InvalidTarget") for b in bad]
    assert all(u["failureMessage"] for u in result["unsuccessful"])
    assert [t["id"] for t in targets(lattice, tg["id"])] == [good]


def test_instance_targets(lattice, network):
    tg = create(lattice, network, "INSTANCE")
    result = lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[
        {"id": INSTANCE}, {"id": "i-0123abcd"}, {"id": "i-xyz"}, {"id": "10.0.0.1"}])
    assert [t["id"] for t in result["successful"]] == [INSTANCE, "i-0123abcd"]
    assert [u["id"] for u in result["unsuccessful"]] == ["i-xyz", "10.0.0.1"]


def test_lambda_group_takes_one_function(lattice, clients):
    tg = create(lattice, None, "LAMBDA")
    fn = lambda_arn(clients.account)
    result = lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": fn, "port": 80}])
    assert result["successful"] == [{"id": fn}]
    again = lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": fn}])
    assert again["successful"] == [{"id": fn}]
    second = lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[
        {"id": lambda_arn(clients.account, "other")}, {"id": "10.0.0.1"}])
    assert [u["failureCode"] for u in second["unsuccessful"]] == ["TargetLimitExceeded", "InvalidTarget"]
    assert targets(lattice, tg["id"]) == [{"id": fn, "status": "UNUSED", "reasonCode": "TargetGroupNotInUse"}]


def test_lambda_alias_arn(lattice, clients):
    tg = create(lattice, None, "LAMBDA")
    alias = lambda_arn(clients.account) + ":live"
    assert lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": alias}])["successful"]


def test_two_functions_in_one_call(lattice, clients):
    tg = create(lattice, None, "LAMBDA")
    result = lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[
        {"id": lambda_arn(clients.account, "a")}, {"id": lambda_arn(clients.account, "b")}])
    assert len(result["successful"]) == 1
    assert [u["failureCode"] for u in result["unsuccessful"]] == ["TargetLimitExceeded"]


def test_alb_group_takes_one_load_balancer_of_the_account(lattice, clients, network):
    tg = create(lattice, network, "ALB", port=8080)
    result = lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[
        {"id": alb_arn(account_id(399))}, {"id": alb_arn(clients.account)}, {"id": alb_arn(clients.account, "b")},
        {"id": "arn:aws:elasticloadbalancing:us-east-1:%s:loadbalancer/net/n/0123456789abcdef" % clients.account}])
    assert result["successful"] == [{"id": alb_arn(clients.account), "port": 8080}]
    assert [u["failureCode"] for u in result["unsuccessful"]] == \
        ["InvalidTarget", "TargetLimitExceeded", "InvalidTarget"]


def test_register_on_unknown_group(lattice):
    fails(lattice.register_targets, 404, "ResourceNotFoundException",
          targetGroupIdentifier="tg-0123456789abcdef0", targets=[{"id": "10.0.0.1"}])


def test_target_quota(clients_with_quotas):
    lattice = clients_with_quotas.lattice  # 3 targets per target group (conftest.LOW_QUOTAS)
    tg = create(lattice, make_network(clients_with_quotas.client("ec2")))
    batch = [{"id": f"10.0.0.{i}"} for i in range(LOW_QUOTAS["L-D71303F3"])]
    assert len(lattice.register_targets(targetGroupIdentifier=tg["id"], targets=batch)["successful"]) == len(batch)
    # Re-registering existing targets does not count against the quota.
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.0"}])
    response = fails(lattice.register_targets, 402, "ServiceQuotaExceededException",
                     targetGroupIdentifier=tg["id"], targets=[{"id": "10.1.0.0"}])
    assert (response["serviceCode"], response["quotaCode"], response["resourceId"]) == (
        "vpc-lattice", "L-D71303F3", tg["id"])


def test_list_targets_filter(lattice, network):
    tg = create(lattice, network)
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[
        {"id": "10.0.0.1"}, {"id": "10.0.0.1", "port": 81}, {"id": "10.0.0.2"}])
    by_id = targets(lattice, tg["id"], targets=[{"id": "10.0.0.1"}])
    assert [(t["id"], t["port"]) for t in by_id] == [("10.0.0.1", 80), ("10.0.0.1", 81)]
    by_port = targets(lattice, tg["id"], targets=[{"id": "10.0.0.1", "port": 81}, {"id": "10.0.0.2"}])
    assert [(t["id"], t["port"]) for t in by_port] == [("10.0.0.1", 81), ("10.0.0.2", 80)]
    assert targets(lattice, tg["id"], targets=[{"id": "10.9.9.9"}]) == []


def test_list_targets_paginates(lattice, network):
    tg = create(lattice, network)
    addresses = [f"10.0.0.{i}" for i in range(7)]
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": a} for a in addresses])
    seen, token = [], None
    while True:
        page = lattice.list_targets(targetGroupIdentifier=tg["id"], maxResults=3,
                                    **({"nextToken": token} if token else {}))
        seen += [t["id"] for t in page["items"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == addresses


def test_list_targets_unknown_group(lattice):
    fails(lattice.list_targets, 404, "ResourceNotFoundException", targetGroupIdentifier="tg-0123456789abcdef0")


# -- DeregisterTargets ---------------------------------------------------------------

def test_deregister_drains_then_removes(lattice, network):
    tg = create(lattice, network)
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1"}, {"id": "10.0.0.2"}])
    result = lattice.deregister_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1"}])
    assert result["successful"] == [{"id": "10.0.0.1", "port": 80}] and result["unsuccessful"] == []
    assert [t["id"] for t in targets(lattice, tg["id"])] == ["10.0.0.2"]
    assert targets(lattice, tg["id"], targets=[{"id": "10.0.0.1", "port": 80}]) == []


def test_deregister_matches_the_port(lattice, network):
    tg = create(lattice, network)
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1", "port": 81}])
    result = lattice.deregister_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1"}])
    assert [(u["id"], u["port"], u["failureCode"]) for u in result["unsuccessful"]] == \
        [("10.0.0.1", 80, "TargetNotFound")]
    result = lattice.deregister_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1", "port": 81}])
    assert result["successful"] == [{"id": "10.0.0.1", "port": 81}]
    assert targets(lattice, tg["id"]) == []


def test_register_again_after_deregister(lattice, network):
    tg = create(lattice, network)
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1"}])
    lattice.deregister_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1"}])
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1"}])
    assert [t["id"] for t in targets(lattice, tg["id"])] == ["10.0.0.1"]


def test_deregister_lambda_frees_the_slot(lattice, clients):
    tg = create(lattice, None, "LAMBDA")
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": lambda_arn(clients.account, "a")}])
    result = lattice.deregister_targets(targetGroupIdentifier=tg["id"],
                                        targets=[{"id": lambda_arn(clients.account, "a")}])
    assert result["successful"] == [{"id": lambda_arn(clients.account, "a")}]
    second = lattice.register_targets(targetGroupIdentifier=tg["id"],
                                      targets=[{"id": lambda_arn(clients.account, "b")}])
    assert second["unsuccessful"] == []


def test_deregister_on_unknown_group(lattice):
    fails(lattice.deregister_targets, 404, "ResourceNotFoundException",
          targetGroupIdentifier="tg-0123456789abcdef0", targets=[{"id": "10.0.0.1"}])


# -- with a service forwarding to the group -----------------------------------------------

def test_used_group_reports_its_service_and_health(lattice, network):
    tg = create(lattice, network)
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": "10.0.0.1"}])
    service_arn = use_in_service(lattice, tg["id"])
    assert lattice.get_target_group(targetGroupIdentifier=tg["id"])["serviceArns"] == [service_arn]
    assert lattice.list_target_groups()["items"][0]["serviceArns"] == [service_arn]
    assert targets(lattice, tg["id"]) == [
        {"id": "10.0.0.1", "port": 80, "status": "INITIAL", "reasonCode": "HealthCheckInProgress"}]
    lattice.update_target_group(targetGroupIdentifier=tg["id"], healthCheck={"enabled": False})
    assert targets(lattice, tg["id"])[0]["status"] == "UNAVAILABLE"


def test_used_lambda_group_is_unavailable(lattice, clients):
    tg = create(lattice, None, "LAMBDA")
    lattice.register_targets(targetGroupIdentifier=tg["id"], targets=[{"id": lambda_arn(clients.account)}])
    use_in_service(lattice, tg["id"])
    assert targets(lattice, tg["id"])[0]["status"] == "UNAVAILABLE"
