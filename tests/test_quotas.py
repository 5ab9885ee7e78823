"""VPC Lattice quotas: the table, the check the families call, accounts-file overrides, and each quota end to end.

The end-to-end tests use an account of ``clients_with_quotas`` (conftest's
``LOW_QUOTAS``), so every quota is reached with a handful of creates.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import LOW_QUOTAS, error_code, make_network, status_of
from latticework.api.context import RequestContext
from latticework.config import ConfigError, Credential, load_directory
from latticework.quotas import BY_CODE, QUOTAS
from latticework.services.lattice.api_types import ServiceQuotaExceededException
from latticework.services.lattice.common import LISTENER, RESOURCE_GATEWAY, SERVICE_NETWORK, TARGET, TARGET_GROUP
from latticework.services.lattice.quotas import check_quota, limit

ACCOUNT, OTHER = "111111111111", "222222222222"
VPC = "vpc-0123456789abcdef0"  # a scope id for check_quota

# From the Service Quotas console links of the VPC Lattice quota pages
# (docs.aws.amazon.com/vpc-lattice/latest/ug/quotas.html, general/latest/gr/vpc-lattice-service.html).
PUBLISHED = {
    "service-networks": ("L-9CAD07FB", 50), "services": ("L-620C821E", 2000),
    "target-groups": ("L-BB11C6B9", 500), "resource-configurations": ("L-5FF8F9B9", 2000),
    "domain-verifications": ("L-73D0F278", 5), "listeners-per-service": ("L-D64E952E", 2),
    "rules-per-listener": ("L-CF78395E", 10), "target-groups-per-service": ("L-3DEC3B9F", 10),
    "targets-per-target-group": ("L-D71303F3", 1000), "service-associations-per-network": ("L-75D4A19E", 500),
    "vpc-associations-per-network": ("L-EF6E2D62", 500), "resource-associations-per-network": ("L-6095700C", 500),
    "endpoints-per-network": ("L-89DEA27F", 200), "children-per-group": ("L-9BC96FEF", 60),
}


def context(quotas: dict | None = None, account: str = ACCOUNT) -> RequestContext:
    return RequestContext("vpc-lattice", "CreateService", account, "us-east-1", "request-1",
                          Credential("AKID", "secret", account), quotas=quotas or {})


# -- the table ----------------------------------------------------------------------

def test_published_codes_and_defaults():
    assert {key: (QUOTAS[key].code, QUOTAS[key].default) for key in PUBLISHED} == PUBLISHED


def test_codes_are_service_quotas_codes_and_unique():
    codes = [q.code for q in QUOTAS.values() if q.code]
    assert all(re.fullmatch(r"L-[0-9A-F]{8}", c) for c in codes)
    assert len(codes) == len(set(codes)) == len(BY_CODE)


def test_only_auth_policy_size_and_security_groups_are_fixed():
    assert {k for k, q in QUOTAS.items() if not q.adjustable} == {"auth-policy-size", "security-groups-per-association"}
    assert all(q.code for q in QUOTAS.values() if q.adjustable)
    assert (QUOTAS["auth-policy-size"].code, QUOTAS["auth-policy-size"].default) == (None, 10 * 1024)


def test_resource_gateways_per_vpc_keeps_the_lower_documented_value():
    assert (QUOTAS["resource-gateways-per-vpc"].code, QUOTAS["resource-gateways-per-vpc"].default) == (
        "L-0DCA4434", 100)


def test_conftest_low_quotas_name_adjustable_quotas():
    assert all(BY_CODE[code].adjustable and value < BY_CODE[code].default for code, value in LOW_QUOTAS.items())


# -- limit / check_quota ---------------------------------------------------------------

def test_limit_is_the_default_without_override():
    assert limit(context(), "services") == 2000


def test_limit_takes_the_account_override():
    ctx = context({ACCOUNT: {"L-620C821E": 7}, OTHER: {"L-620C821E": 9}})
    assert (limit(ctx, "services"), limit(ctx, "services", OTHER), limit(ctx, "target-groups")) == (7, 9, 500)


def test_limit_of_a_fixed_quota_ignores_overrides():
    ctx = context({ACCOUNT: {"L-CA6A1CC5": 50}})
    assert limit(ctx, "security-groups-per-association") == 5


def test_check_quota_passes_below_the_limit():
    check_quota(context(), "listeners-per-service", 1, LISTENER, "svc-1")
    check_quota(context(), "targets-per-target-group", 990, TARGET, "tg-1", adding=10)


def test_check_quota_raises_aws_402_at_the_limit():
    with pytest.raises(ServiceQuotaExceededException) as exc:
        check_quota(context(), "listeners-per-service", 2, LISTENER, "svc-0123456789abcdef0")
    err = exc.value
    assert (err.status, err.code) == (402, "ServiceQuotaExceededException")
    assert err.fields == {"serviceCode": "vpc-lattice", "quotaCode": "L-D64E952E", "resourceType": "LISTENER",
                          "resourceId": "svc-0123456789abcdef0"}
    assert err.message == "You have reached the limit of 2 listeners for service svc-0123456789abcdef0."


def test_check_quota_counts_what_is_being_added():
    with pytest.raises(ServiceQuotaExceededException):
        check_quota(context(), "targets-per-target-group", 990, TARGET, "tg-1", adding=11)
    check_quota(context(), "target-groups-per-service", 10, TARGET_GROUP, "svc-1", adding=0)


def test_check_quota_uses_override_and_scope_id():
    ctx = context({ACCOUNT: {"L-0DCA4434": 1}})
    with pytest.raises(ServiceQuotaExceededException) as exc:
        check_quota(ctx, "resource-gateways-per-vpc", 1, RESOURCE_GATEWAY, scope_id=VPC)
    assert exc.value.message == f"You have reached the limit of 1 resource gateways in VPC {VPC}."
    assert "resourceId" not in exc.value.fields


def test_check_quota_charges_the_named_account():
    ctx = context({OTHER: {"L-75D4A19E": 1}})
    check_quota(ctx, "service-associations-per-network", 1, SERVICE_NETWORK, "sn-1")
    with pytest.raises(ServiceQuotaExceededException):
        check_quota(ctx, "service-associations-per-network", 1, SERVICE_NETWORK, "sn-1", account=OTHER)


# -- accounts file --------------------------------------------------------------------

def accounts_file(tmp_path: Path, quotas: str | None) -> Path:
    lines = ["[[accounts]]", f'id = "{ACCOUNT}"'] + ([f"quotas = {quotas}"] if quotas else [])
    lines += ["[[accounts.credentials]]", 'access_key_id = "AKIDQUOTAS"', 'secret_access_key = "s"',
              "[[accounts]]", f'id = "{OTHER}"', "[[accounts.credentials]]", 'access_key_id = "AKIDOTHER"',
              'secret_access_key = "s"']
    path = tmp_path / "accounts.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_config_reads_per_account_quotas(tmp_path):
    directory = load_directory(accounts_file(tmp_path, '{ "L-9CAD07FB" = 100, "L-620C821E" = 0 }'))
    assert directory.quotas == {ACCOUNT: {"L-9CAD07FB": 100, "L-620C821E": 0}}


def test_config_without_quotas_has_no_overrides(tmp_path):
    assert load_directory(accounts_file(tmp_path, None)).quotas == {}
    assert load_directory(None).quotas == {}


@pytest.mark.parametrize("quotas, words", [
    ('{ "L-CA6A1CC5" = 10 }', "'Security groups per association' cannot be adjusted"),
    ('{ "Auth policy size" = 20480 }', "'Auth policy size' cannot be adjusted"),
    ('{ "Services per Region" = 10 }', "by its code 'L-620C821E'"),
    ('{ "L-00000000" = 10 }', "unknown VPC Lattice quota code 'L-00000000'"),
    ('{ "L-9CAD07FB" = -1 }', "must be a non-negative integer"),
    ('{ "L-9CAD07FB" = "100" }', "must be a non-negative integer"),
    ('{ "L-9CAD07FB" = true }', "must be a non-negative integer"),
    ('{ "L-9CAD07FB" = 1.5 }', "must be a non-negative integer"),
    ('"L-9CAD07FB"', "quotas must be a table"),
])
def test_config_refuses_bad_quotas(tmp_path, quotas, words):
    with pytest.raises(ConfigError) as exc:
        load_directory(accounts_file(tmp_path, quotas))
    assert ACCOUNT in str(exc.value) and words in str(exc.value)


def test_unknown_code_error_lists_the_adjustable_codes(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_directory(accounts_file(tmp_path, '{ "L-XYZ" = 1 }'))
    assert "L-9CAD07FB" in str(exc.value) and "L-CA6A1CC5" not in str(exc.value)


# -- end to end, with a low-quota account -----------------------------------------------

def quota_error(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert (status_of(exc), error_code(exc)) == (402, "ServiceQuotaExceededException"), exc.value.response["Error"]
    assert exc.value.response["serviceCode"] == "vpc-lattice"
    return exc.value.response


@pytest.fixture
def low(clients_with_quotas):
    return clients_with_quotas.lattice


@pytest.fixture
def low_ec2(clients_with_quotas):
    """EC2 of the ``low`` account, for the VPCs its Lattice resources reference."""
    return clients_with_quotas.client("ec2")


def _vpc(ec2) -> str:
    return ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


def _tg(lattice, vpc_id: str, name: str) -> dict:
    return lattice.create_target_group(name=name, type="IP", config={"port": 80, "protocol": "HTTP",
                                                                      "vpcIdentifier": vpc_id})


def _config(lattice, gateway: dict, name: str) -> dict:
    return lattice.create_resource_configuration(
        name=name, type="SINGLE", resourceGatewayIdentifier=gateway["id"], portRanges=["5432"],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.0.0.5"}})


def test_service_networks_per_region(low):
    for n in range(LOW_QUOTAS["L-9CAD07FB"]):
        low.create_service_network(name=f"net{n}")
    response = quota_error(low.create_service_network, name="one-more")
    assert (response["quotaCode"], response["resourceType"]) == ("L-9CAD07FB", "SERVICE_NETWORK")
    assert response["Error"]["Message"] == "You have reached the limit of 2 service networks."


def test_listeners_per_service(low):
    svc = low.create_service(name="shop")
    low.create_listener(serviceIdentifier=svc["id"], name="web", protocol="HTTP",
                        defaultAction={"fixedResponse": {"statusCode": 404}})
    response = quota_error(low.create_listener, serviceIdentifier=svc["id"], name="more", protocol="HTTPS",
                           defaultAction={"fixedResponse": {"statusCode": 404}})
    assert (response["quotaCode"], response["resourceType"], response["resourceId"]) == (
        "L-D64E952E", "LISTENER", svc["id"])


def test_rules_per_listener_and_target_groups_per_service(low, low_ec2):
    svc, vpc_id = low.create_service(name="shop"), _vpc(low_ec2)
    groups = [_tg(low, vpc_id, f"group{n}")["id"] for n in range(3)]
    forward = [{"targetGroupIdentifier": g, "weight": 1} for g in groups[:2]]
    listener = low.create_listener(serviceIdentifier=svc["id"], name="web", protocol="HTTP",
                                   defaultAction={"forward": {"targetGroups": forward}})

    def rule(name, priority, group):
        return dict(serviceIdentifier=svc["id"], listenerIdentifier=listener["id"], name=name, priority=priority,
                    match={"httpMatch": {"pathMatch": {"match": {"prefix": f"/{name}"}}}},
                    action={"forward": {"targetGroups": [{"targetGroupIdentifier": group}]}})

    response = quota_error(low.create_rule, **rule("third", 1, groups[2]))
    assert (response["quotaCode"], response["resourceId"]) == ("L-3DEC3B9F", svc["id"])
    for n in range(LOW_QUOTAS["L-CF78395E"]):
        low.create_rule(**rule(f"route{n}", n + 1, groups[0]))
    response = quota_error(low.create_rule, **rule("one-more", 9, groups[0]))
    assert (response["quotaCode"], response["resourceType"], response["resourceId"]) == (
        "L-CF78395E", "RULE", listener["id"])


def test_service_associations_per_network(low):
    sn = low.create_service_network(name="net")
    services = [low.create_service(name=f"svc{n}")["id"] for n in range(3)]
    for svc in services[:2]:
        low.create_service_network_service_association(serviceNetworkIdentifier=sn["id"], serviceIdentifier=svc)
    response = quota_error(low.create_service_network_service_association, serviceNetworkIdentifier=sn["id"],
                           serviceIdentifier=services[2])
    assert (response["quotaCode"], response["resourceId"]) == ("L-75D4A19E", sn["id"])


def test_vpc_associations_per_network(low, low_ec2):
    sn = low.create_service_network(name="net")
    for _ in range(LOW_QUOTAS["L-EF6E2D62"]):
        low.create_service_network_vpc_association(serviceNetworkIdentifier=sn["id"], vpcIdentifier=_vpc(low_ec2))
    response = quota_error(low.create_service_network_vpc_association, serviceNetworkIdentifier=sn["id"],
                           vpcIdentifier=_vpc(low_ec2))
    assert (response["quotaCode"], response["resourceType"]) == ("L-EF6E2D62", "SERVICE_NETWORK_VPC_ASSOCIATION")


def test_resource_configurations_per_network_and_per_region(low, low_ec2):
    sn = low.create_service_network(name="net", sharingConfig={"enabled": False})
    network = make_network(low_ec2)
    gateway = low.create_resource_gateway(name="gateway", vpcIdentifier=network.vpc_id, subnetIds=network.subnet_ids)
    configs = [_config(low, gateway, f"db{n}")["id"] for n in range(LOW_QUOTAS["L-5FF8F9B9"])]
    response = quota_error(_config, lattice=low, gateway=gateway, name="one-more")
    assert (response["quotaCode"], response["resourceType"]) == ("L-5FF8F9B9", "RESOURCE_CONFIGURATION")
    for rc in configs[:2]:
        low.create_service_network_resource_association(serviceNetworkIdentifier=sn["id"],
                                                        resourceConfigurationIdentifier=rc)
    response = quota_error(low.create_service_network_resource_association, serviceNetworkIdentifier=sn["id"],
                           resourceConfigurationIdentifier=configs[2])
    assert (response["quotaCode"], response["resourceId"]) == ("L-6095700C", sn["id"])


def test_domain_verifications_per_region(low):
    for n in range(LOW_QUOTAS["L-73D0F278"]):
        low.start_domain_verification(domainName=f"d{n}.example.com")
    response = quota_error(low.start_domain_verification, domainName="one-more.example.com")
    assert (response["quotaCode"], response["resourceType"]) == ("L-73D0F278", "DOMAIN_VERIFICATION")


def test_other_accounts_keep_aws_defaults(lattice):
    for n in range(LOW_QUOTAS["L-9CAD07FB"] + 1):
        lattice.create_service_network(name=f"net{n}")
    assert len(lattice.list_service_networks()["items"]) == LOW_QUOTAS["L-9CAD07FB"] + 1
