"""Black-box tests of resource gateways, resource configurations and domain verifications."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import LOW_QUOTAS, error_code, make_network, status_of

MISSING_RGW = "rgw-0123456789abcdef0"
MISSING_RCFG = "rcfg-0123456789abcdef0"
MISSING_DV = "dv-0123456789abcdef0"


@pytest.fixture
def raw(clients):
    """A client that skips botocore's own parameter checks, to see the server's answer."""
    return clients.client("vpc-lattice", parameter_validation=False)


def _raises(call, status, code, **kwargs):
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert (status_of(exc), error_code(exc)) == (status, code), exc.value.response["Error"]
    return exc.value.response


def _gateway(lattice, network, name="gateway", **kwargs):
    args = {"vpcIdentifier": network.vpc_id, "subnetIds": network.subnet_ids, **kwargs}
    return lattice.create_resource_gateway(name=name, **args)


def _config(lattice, gateway, name="database", rc_type="SINGLE", **kwargs):
    args = {"name": name, "type": rc_type, "resourceGatewayIdentifier": gateway["id"] if gateway else None,
            "portRanges": ["5432"], "resourceConfigurationDefinition": {"ipResource": {"ipAddress": "10.0.0.5"}}}
    args.update(kwargs)
    return lattice.create_resource_configuration(**{k: v for k, v in args.items() if v is not None})


def _child(lattice, group, name="child", **kwargs):
    return _config(lattice, None, name, "CHILD", resourceConfigurationGroupIdentifier=group["id"], **kwargs)


def _group(lattice, gateway, name="group", **kwargs):
    return _config(lattice, gateway, name, "GROUP", resourceConfigurationDefinition=None, **kwargs)


# -- resource gateways ----------------------------------------------------------

def test_gateway_lifecycle(lattice, clients, network):
    created = _gateway(lattice, network, securityGroupIds=[network.sg_ids[0]], tags={"env": "dev"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["status"] == "CREATE_IN_PROGRESS"
    assert created["id"].startswith("rgw-") and len(created["id"]) == 21
    assert created["arn"] == f"arn:aws:vpc-lattice:us-east-1:{clients.account}:resourcegateway/{created['id']}"
    assert (created["vpcIdentifier"], created["subnetIds"], created["securityGroupIds"]) == (
        network.vpc_id, network.subnet_ids, [network.sg_ids[0]])
    assert (created["ipAddressType"], created["ipv4AddressesPerEni"], created["resourceConfigDnsResolution"]) == (
        "IPV4", 16, "PUBLIC")

    got = lattice.get_resource_gateway(resourceGatewayIdentifier=created["arn"])
    assert got["status"] == "ACTIVE" and got["vpcId"] == network.vpc_id and got["name"] == "gateway"
    assert "createdAt" in got and "lastUpdatedAt" in got
    assert lattice.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"env": "dev"}

    updated = lattice.update_resource_gateway(resourceGatewayIdentifier=created["id"], securityGroupIds=[],
                                              resourceConfigDnsResolution="IN_VPC")
    assert updated["status"] == "UPDATE_IN_PROGRESS"
    assert (updated["securityGroupIds"], updated["resourceConfigDnsResolution"]) == ([], "IN_VPC")
    got = lattice.get_resource_gateway(resourceGatewayIdentifier=created["id"])
    assert (got["status"], got["resourceConfigDnsResolution"], got["ipv4AddressesPerEni"]) == ("ACTIVE", "IN_VPC", 16)

    deleted = lattice.delete_resource_gateway(resourceGatewayIdentifier=created["id"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert (deleted["id"], deleted["arn"], deleted["name"], deleted["status"]) == (
        created["id"], created["arn"], "gateway", "DELETE_IN_PROGRESS")
    _raises(lattice.get_resource_gateway, 404, "ResourceNotFoundException", resourceGatewayIdentifier=created["id"])


def test_gateway_options(lattice, network):
    dual = _gateway(lattice, network, "dual", ipAddressType="DUALSTACK", ipv4AddressesPerEni=4,
                    resourceConfigDnsResolution="IN_VPC")
    assert (dual["ipAddressType"], dual["ipv4AddressesPerEni"], dual["resourceConfigDnsResolution"]) == (
        "DUALSTACK", 4, "IN_VPC")
    v6 = _gateway(lattice, network, "only-v6", ipAddressType="IPV6")
    assert v6["ipAddressType"] == "IPV6" and "ipv4AddressesPerEni" not in v6
    _raises(_gateway, 400, "ValidationException", lattice=lattice, network=network, name="v6-counted",
            ipAddressType="IPV6", ipv4AddressesPerEni=4)


def test_gateway_errors(lattice, raw, network):
    _gateway(lattice, network)
    _raises(_gateway, 409, "ConflictException", lattice=lattice, network=network)
    _raises(lattice.create_resource_gateway, 400, "ValidationException", name="no-vpc", subnetIds=network.subnet_ids)
    _raises(lattice.create_resource_gateway, 400, "ValidationException", name="no-subnets",
            vpcIdentifier=network.vpc_id)
    _raises(raw.create_resource_gateway, 400, "ValidationException", name="bad-subnet", vpcIdentifier=network.vpc_id,
            subnetIds=["subnet-nothex"])
    _raises(raw.create_resource_gateway, 400, "ValidationException", name="many-sgs", vpcIdentifier=network.vpc_id,
            subnetIds=network.subnet_ids, securityGroupIds=[network.sg_ids[0]] * 6)
    _raises(raw.create_resource_gateway, 400, "ValidationException", name="rgw-prefixed", vpcIdentifier=network.vpc_id,
            subnetIds=network.subnet_ids)
    _raises(raw.create_resource_gateway, 400, "ValidationException", name="per-eni", vpcIdentifier=network.vpc_id,
            subnetIds=network.subnet_ids, ipv4AddressesPerEni=63)
    for call in (lattice.get_resource_gateway, lattice.update_resource_gateway, lattice.delete_resource_gateway):
        _raises(call, 404, "ResourceNotFoundException", resourceGatewayIdentifier=MISSING_RGW)


def test_gateway_needs_real_vpc_subnets_and_groups(lattice, clients, network):
    elsewhere = make_network(clients.client("ec2"), "10.1.0.0/16")
    for field, value, resource_type in (("vpcIdentifier", "vpc-0123456789abcdef0", "VPC"),
                                        ("subnetIds", "subnet-0123456789abcdef0", "SUBNET"),
                                        ("securityGroupIds", "sg-0123456789abcdef0", "SECURITY_GROUP")):
        wrong = {field: value if field == "vpcIdentifier" else [value]}
        response = _raises(_gateway, 404, "ResourceNotFoundException", lattice=lattice, network=network, **wrong)
        assert (response["resourceType"], response["resourceId"]) == (resource_type, value)
    for wrong in ({"subnetIds": [network.subnet_ids[0], elsewhere.subnet_ids[1]]},
                  {"securityGroupIds": elsewhere.sg_ids[:1]}):
        _raises(_gateway, 400, "ValidationException", lattice=lattice, network=network, **wrong)
    assert lattice.list_resource_gateways()["items"] == []
    gateway = _gateway(lattice, network, securityGroupIds=network.sg_ids[:1])
    _raises(lattice.update_resource_gateway, 400, "ValidationException", resourceGatewayIdentifier=gateway["id"],
            securityGroupIds=elsewhere.sg_ids)
    _raises(lattice.update_resource_gateway, 404, "ResourceNotFoundException",
            resourceGatewayIdentifier=gateway["id"], securityGroupIds=["sg-0123456789abcdef0"])
    updated = lattice.update_resource_gateway(resourceGatewayIdentifier=gateway["id"], securityGroupIds=network.sg_ids)
    assert updated["securityGroupIds"] == network.sg_ids


def test_gateway_cannot_use_another_accounts_vpc(clients, network):
    import conftest
    n = next(conftest._accounts)
    other = conftest.client_for(clients.server, "vpc-lattice", n)
    response = _raises(_gateway, 404, "ResourceNotFoundException", lattice=other, network=network)
    assert (response["resourceType"], response["resourceId"]) == ("VPC", network.vpc_id)
    _gateway(other, make_network(conftest.client_for(clients.server, "ec2", n)))


def test_gateway_in_use_cannot_be_deleted(lattice, network):
    gateway = _gateway(lattice, network)
    rc = _config(lattice, gateway)
    _raises(lattice.delete_resource_gateway, 409, "ConflictException", resourceGatewayIdentifier=gateway["id"])
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=rc["id"])
    lattice.delete_resource_gateway(resourceGatewayIdentifier=gateway["id"])


def test_gateway_resolution_must_suit_its_configurations(lattice, network):
    in_vpc = _gateway(lattice, network, "in-vpc", resourceConfigDnsResolution="IN_VPC")
    _config(lattice, in_vpc, "cidr", "CIDR", portRanges=["1-65535"],
            resourceConfigurationDefinition={"cidrResource": {"cidrRanges": ["10.0.0.0/16"]}})
    _raises(lattice.update_resource_gateway, 409, "ConflictException", resourceGatewayIdentifier=in_vpc["id"],
            resourceConfigDnsResolution="PUBLIC")
    public = _gateway(lattice, network, "public")
    _config(lattice, public, "rds", "ARN", portRanges=None,
            resourceConfigurationDefinition={"arnResource": {"arn": "arn:aws:rds:us-east-1:123456789012:db:x"}})
    _raises(lattice.update_resource_gateway, 409, "ConflictException", resourceGatewayIdentifier=public["id"],
            resourceConfigDnsResolution="IN_VPC")


def test_list_gateways(lattice, network):
    ids = [_gateway(lattice, network, f"gateway-{n}")["id"] for n in range(3)]
    page = lattice.list_resource_gateways(maxResults=2)
    rest = lattice.list_resource_gateways(maxResults=2, nextToken=page["nextToken"])
    assert [g["id"] for g in page["items"] + rest["items"]] == ids
    item = page["items"][0]
    assert (item["name"], item["vpcIdentifier"], item["subnetIds"], item["ipAddressType"]) == (
        "gateway-0", network.vpc_id, network.subnet_ids, "IPV4")
    assert "createdAt" in item and item["status"] == "ACTIVE"


def test_gateways_per_vpc_quota(clients_with_quotas):
    lattice = clients_with_quotas.lattice  # 2 resource gateways per VPC (conftest.LOW_QUOTAS)
    ec2 = clients_with_quotas.client("ec2")
    network, elsewhere = make_network(ec2), make_network(ec2, "10.1.0.0/16")
    for n in range(LOW_QUOTAS["L-0DCA4434"]):
        _gateway(lattice, network, f"gateway-{n}")
    response = _raises(_gateway, 402, "ServiceQuotaExceededException", lattice=lattice, network=network,
                       name="one-too-many")
    assert (response["serviceCode"], response["resourceType"]) == ("vpc-lattice", "RESOURCE_GATEWAY")
    assert response["quotaCode"] == "L-0DCA4434" and network.vpc_id in response["Error"]["Message"]
    _gateway(lattice, elsewhere, "elsewhere")


# -- resource configurations ------------------------------------------------------

def test_single_configuration_lifecycle(lattice, clients, network):
    gateway = _gateway(lattice, network)
    created = _config(lattice, gateway, portRanges=["5432", "8000-8080"], tags={"k": "v"},
                      allowAssociationToShareableServiceNetwork=True)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["status"] == "CREATE_IN_PROGRESS"
    assert created["id"].startswith("rcfg-") and len(created["id"]) == 22
    assert created["arn"] == (f"arn:aws:vpc-lattice:us-east-1:{clients.account}:"
                              f"resourceconfiguration/{created['id']}")
    assert (created["type"], created["resourceGatewayId"], created["protocol"]) == ("SINGLE", gateway["id"], "TCP")
    assert created["portRanges"] == ["5432", "8000-8080"]
    assert created["resourceConfigurationDefinition"] == {"ipResource": {"ipAddress": "10.0.0.5"}}
    assert created["allowAssociationToShareableServiceNetwork"] is True
    assert "createdAt" in created

    got = lattice.get_resource_configuration(resourceConfigurationIdentifier=created["arn"])
    assert (got["status"], got["amazonManaged"], got["name"]) == ("ACTIVE", False, "database")
    assert lattice.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"k": "v"}

    updated = lattice.update_resource_configuration(
        resourceConfigurationIdentifier=created["id"], portRanges=["3306"],
        resourceConfigurationDefinition={"dnsResource": {"domainName": "db.internal", "ipAddressType": "IPV4"}},
        allowAssociationToShareableServiceNetwork=False)
    assert updated["status"] == "UPDATE_IN_PROGRESS"
    assert (updated["portRanges"], updated["allowAssociationToShareableServiceNetwork"]) == (["3306"], False)
    got = lattice.get_resource_configuration(resourceConfigurationIdentifier=created["id"])
    assert got["status"] == "ACTIVE"
    assert got["resourceConfigurationDefinition"] == {"dnsResource": {"domainName": "db.internal",
                                                                      "ipAddressType": "IPV4"}}

    deleted = lattice.delete_resource_configuration(resourceConfigurationIdentifier=created["id"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    _raises(lattice.get_resource_configuration, 404, "ResourceNotFoundException",
            resourceConfigurationIdentifier=created["id"])


def test_configuration_errors(lattice, raw, network):
    gateway = _gateway(lattice, network)
    _config(lattice, gateway)
    _raises(_config, 409, "ConflictException", lattice=lattice, gateway=gateway)
    _raises(_config, 404, "ResourceNotFoundException", lattice=lattice, gateway={"id": MISSING_RGW}, name="other")
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=None, name="no-gateway")
    _raises(raw.create_resource_configuration, 400, "ValidationException", name="rcfg-prefixed", type="SINGLE",
            resourceGatewayIdentifier=gateway["id"], portRanges=["80"],
            resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.0.0.5"}})
    _raises(raw.create_resource_configuration, 400, "ValidationException", name="bad-type", type="MANY",
            resourceGatewayIdentifier=gateway["id"], portRanges=["80"])
    for call in (lattice.get_resource_configuration, lattice.update_resource_configuration,
                 lattice.delete_resource_configuration):
        _raises(call, 404, "ResourceNotFoundException", resourceConfigurationIdentifier=MISSING_RCFG)


@pytest.mark.parametrize("ports", [[], ["0"], ["65536"], ["90-80"], ["1-70000"]])
def test_port_ranges_checked(lattice, raw, ports, network):
    gateway = _gateway(lattice, network)
    _raises(_config, 400, "ValidationException", lattice=raw, gateway=gateway, portRanges=ports or None)


@pytest.mark.parametrize("address", ["8.8.8.8", "169.254.1.1", "127.0.0.1", "not-an-ip", "fe80::1"])
def test_ip_resource_must_be_private(lattice, address, network):
    gateway = _gateway(lattice, network, ipAddressType="DUALSTACK")
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=gateway,
            resourceConfigurationDefinition={"ipResource": {"ipAddress": address}})


@pytest.mark.parametrize("address", ["10.1.2.3", "172.16.0.9", "192.168.1.1", "100.64.0.1"])
def test_private_ipv4_accepted(lattice, address, network):
    _config(lattice, _gateway(lattice, network), resourceConfigurationDefinition={"ipResource": {"ipAddress": address}})


def test_ip_family_must_suit_gateway(lattice, network):
    v4, v6 = _gateway(lattice, network, "gw-four"), _gateway(lattice, network, "gw-six", ipAddressType="IPV6")
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=v4,
            resourceConfigurationDefinition={"ipResource": {"ipAddress": "fd00::5"}})
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=v6)
    _config(lattice, v6, resourceConfigurationDefinition={"ipResource": {"ipAddress": "fd00::5"}})


def test_definition_kind_must_match_type(lattice, network):
    public = _gateway(lattice, network, "public")
    in_vpc = _gateway(lattice, network, "in-vpc", resourceConfigDnsResolution="IN_VPC")
    arn = {"arnResource": {"arn": "arn:aws:rds:us-east-1:123456789012:db:x"}}
    cidr = {"cidrResource": {"cidrRanges": ["10.0.0.0/16"]}}
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=public, resourceConfigurationDefinition=arn)
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=in_vpc, resourceConfigurationDefinition=cidr)
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=public, name="arn-ip", rc_type="ARN",
            portRanges=None)
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=in_vpc, name="cidr-ip", rc_type="CIDR")
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=public, resourceConfigurationDefinition=None)
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=public,
            resourceConfigurationDefinition={"dnsResource": {"domainName": "x.internal",
                                                             "ipAddressType": "DUALSTACK"}})
    rc = _config(lattice, public)
    _raises(lattice.update_resource_configuration, 400, "ValidationException",
            resourceConfigurationIdentifier=rc["id"], resourceConfigurationDefinition=arn)


def test_arn_configuration_rules(lattice, network):
    public = _gateway(lattice, network, "public")
    in_vpc = _gateway(lattice, network, "in-vpc", resourceConfigDnsResolution="IN_VPC")
    arn = {"arnResource": {"arn": "arn:aws:rds:us-east-1:123456789012:db:x"}}
    created = _config(lattice, public, "rds", "ARN", portRanges=None, resourceConfigurationDefinition=arn)
    assert created["type"] == "ARN" and "portRanges" not in created
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=in_vpc, name="rds-in-vpc", rc_type="ARN",
            portRanges=None, resourceConfigurationDefinition=arn)
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=public, name="rds-ports", rc_type="ARN",
            resourceConfigurationDefinition=arn)
    _raises(lattice.update_resource_configuration, 400, "ValidationException",
            resourceConfigurationIdentifier=created["id"], portRanges=["80"])


def test_cidr_configuration_rules(lattice, network):
    public = _gateway(lattice, network, "public")
    in_vpc = _gateway(lattice, network, "in-vpc", resourceConfigDnsResolution="IN_VPC")

    def cidr(name, ranges, gateway=in_vpc, **kwargs):
        return _config(lattice, gateway, name, "CIDR", portRanges=["53", "1-1024"],
                       resourceConfigurationDefinition={"cidrResource": {"cidrRanges": ranges}}, **kwargs)

    created = cidr("net", ["10.0.0.0/16", "fd00::/64"], protocol="TCP_UDP")
    assert created["protocol"] == "TCP_UDP"
    cidr("everything", ["0.0.0.0/0"])
    for name, ranges in [("reserved-a", ["169.254.0.0/16"]), ("reserved-b", ["100.64.0.0/12"]),
                         ("reserved-c", ["224.0.0.0/8"]), ("reserved-d", ["fe80::/64"]),
                         ("reserved-e", ["ff00::/8"]), ("not-alone", ["0.0.0.0/0", "10.0.0.0/8"]),
                         ("no-prefix", ["10.0.0.1"]), ("host-bits", ["10.0.0.1/16"]), ("garbage", ["ten/8"])]:
        _raises(cidr, 400, "ValidationException", name=name, ranges=ranges)
    _raises(cidr, 400, "ValidationException", name="public-gw", ranges=["10.0.0.0/16"], gateway=public)
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=public, name="udp-single",
            protocol="TCP_UDP")


def test_group_and_children(lattice, network):
    gateway = _gateway(lattice, network)
    group = _group(lattice, gateway, portRanges=["1-65535"], groupDomain="corp.example.com",
                   allowAssociationToShareableServiceNetwork=True)
    assert group["type"] == "GROUP" and group["groupDomain"] == "corp.example.com"
    child = _child(lattice, group, customDomainName="db.corp.example.com",
                   resourceConfigurationDefinition={"dnsResource": {"domainName": "db.internal"}})
    assert (child["type"], child["resourceConfigurationGroupId"], child["resourceGatewayId"]) == (
        "CHILD", group["id"], gateway["id"])
    assert child["allowAssociationToShareableServiceNetwork"] is True
    listed = lattice.list_resource_configurations(resourceConfigurationGroupIdentifier=group["arn"])["items"]
    assert [i["id"] for i in listed] == [child["id"]]
    _raises(lattice.delete_resource_configuration, 409, "ConflictException",
            resourceConfigurationIdentifier=group["id"])
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=child["id"])
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=group["id"])


def test_child_rules(lattice, network):
    gateway = _gateway(lattice, network)
    group = _group(lattice, gateway, groupDomain="corp.example.com")
    single = _config(lattice, gateway, "single")
    _raises(_child, 400, "ValidationException", lattice=lattice, group=single)
    _raises(_child, 404, "ResourceNotFoundException", lattice=lattice, group={"id": MISSING_RCFG})
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=None, name="orphan", rc_type="CHILD")
    _raises(_child, 400, "ValidationException", lattice=lattice, group=group, name="own-gateway",
            resourceGatewayIdentifier=gateway["id"])
    _raises(_child, 400, "ValidationException", lattice=lattice, group=group, name="outside",
            customDomainName="db.other.com")
    _raises(_child, 400, "ValidationException", lattice=lattice, group=group, name="no-ports", portRanges=None)
    _raises(_child, 400, "ValidationException", lattice=lattice, group=group, name="udp", protocol="TCP_UDP")
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=gateway, name="grouped-single",
            resourceConfigurationGroupIdentifier=group["id"])
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=gateway, name="single-group-domain",
            groupDomain="x.example.com")
    _raises(_group, 400, "ValidationException", lattice=lattice, gateway=gateway, name="group-custom",
            customDomainName="x.example.com")


def test_children_per_group_quota(clients_with_quotas):
    lattice = clients_with_quotas.lattice  # 2 children per group (conftest.LOW_QUOTAS)
    group = _group(lattice, _gateway(lattice, make_network(clients_with_quotas.client("ec2"))))
    for n in range(LOW_QUOTAS["L-9BC96FEF"]):
        _child(lattice, group, f"child-{n}")
    response = _raises(_child, 402, "ServiceQuotaExceededException", lattice=lattice, group=group, name="one-more")
    assert (response["serviceCode"], response["quotaCode"], response["resourceId"]) == (
        "vpc-lattice", "L-9BC96FEF", group["id"])


def test_list_configurations_filters(lattice, network):
    one, two = _gateway(lattice, network, "gateway-one"), _gateway(lattice, network, "gateway-two")
    a, b = _config(lattice, one, "cfg-a"), _config(lattice, two, "cfg-b")
    dv = lattice.start_domain_verification(domainName="example.com")
    c = _config(lattice, one, "cfg-c", customDomainName="c.example.com", domainVerificationIdentifier=dv["id"])
    ids = lambda **kw: [i["id"] for i in lattice.list_resource_configurations(**kw)["items"]]
    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids(resourceGatewayIdentifier=one["arn"]) == [a["id"], c["id"]]
    assert ids(resourceGatewayIdentifier=two["id"]) == [b["id"]]
    assert ids(domainVerificationIdentifier=dv["arn"]) == [c["id"]]
    page = lattice.list_resource_configurations(maxResults=2)
    rest = lattice.list_resource_configurations(maxResults=2, nextToken=page["nextToken"])
    assert [i["id"] for i in page["items"] + rest["items"]] == [a["id"], b["id"], c["id"]]
    item = rest["items"][0]
    assert (item["name"], item["type"], item["resourceGatewayId"], item["customDomainName"],
            item["domainVerificationId"], item["amazonManaged"]) == (
        "cfg-c", "SINGLE", one["id"], "c.example.com", dv["id"], False)


def test_custom_domain_and_verification(lattice, network):
    gateway = _gateway(lattice, network)
    dv = lattice.start_domain_verification(domainName="example.com")
    rc = _config(lattice, gateway, customDomainName="db.example.com", domainVerificationIdentifier=dv["arn"])
    assert (rc["customDomainName"], rc["domainVerificationId"], rc["domainVerificationArn"]) == (
        "db.example.com", dv["id"], dv["arn"])
    got = lattice.get_resource_configuration(resourceConfigurationIdentifier=rc["id"])
    assert got["domainVerificationStatus"] == "PENDING"
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=gateway, name="elsewhere",
            customDomainName="db.other.com", domainVerificationIdentifier=dv["id"])
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=gateway, name="no-domain",
            domainVerificationIdentifier=dv["id"])
    _raises(_config, 404, "ResourceNotFoundException", lattice=lattice, gateway=gateway, name="unknown-dv",
            customDomainName="db.example.com", domainVerificationIdentifier=MISSING_DV)
    # Children inherit their group's verification.
    group = _group(lattice, gateway, groupDomain="example.com", domainVerificationIdentifier=dv["id"])
    child = _child(lattice, group, customDomainName="cache.example.com")
    assert child["domainVerificationId"] == dv["id"]


def test_sharing_flag_rules(lattice, network):
    gateway = _gateway(lattice, network)
    shared = lattice.create_service_network(name="shared", sharingConfig={"enabled": True})
    rc = _config(lattice, gateway, allowAssociationToShareableServiceNetwork=True)
    closed = _config(lattice, gateway, "closed", allowAssociationToShareableServiceNetwork=False)
    assert closed["allowAssociationToShareableServiceNetwork"] is False
    _raises(lattice.create_service_network_resource_association, 400, "ValidationException",
            serviceNetworkIdentifier=shared["id"], resourceConfigurationIdentifier=closed["id"])
    lattice.create_service_network_resource_association(serviceNetworkIdentifier=shared["id"],
                                                        resourceConfigurationIdentifier=rc["id"])
    _raises(lattice.update_resource_configuration, 400, "ValidationException",
            resourceConfigurationIdentifier=rc["id"], allowAssociationToShareableServiceNetwork=False)
    in_vpc = _gateway(lattice, network, "in-vpc", resourceConfigDnsResolution="IN_VPC")
    _raises(_config, 400, "ValidationException", lattice=lattice, gateway=in_vpc, name="cidr-flag", rc_type="CIDR",
            allowAssociationToShareableServiceNetwork=True,
            resourceConfigurationDefinition={"cidrResource": {"cidrRanges": ["10.0.0.0/16"]}})


def test_sharing_flag_defaults_to_true(lattice, network):
    # AWS answers true when the flag is left out (the model's prose says false): Terraform's
    # TestAccVPCLatticeResourceConfiguration_ipAddress reads back true after creating without it.
    gateway = _gateway(lattice, network)
    arn = {"arnResource": {"arn": "arn:aws:rds:us-east-1:123456789012:db:x"}}
    single = _config(lattice, gateway)
    group = _group(lattice, gateway)
    rds = _config(lattice, gateway, "rds", "ARN", portRanges=None, resourceConfigurationDefinition=arn)
    child = _child(lattice, group)
    for rc in (single, group, rds, child):
        assert rc["allowAssociationToShareableServiceNetwork"] is True, rc["type"]
        got = lattice.get_resource_configuration(resourceConfigurationIdentifier=rc["id"])
        assert got["allowAssociationToShareableServiceNetwork"] is True, rc["type"]


def test_default_configuration_joins_default_network(lattice, network):
    # TestAccVPCLatticeServiceNetworkResourceAssociation_basic: both created with defaults, then associated.
    sn = lattice.create_service_network(name="plain")
    assert lattice.get_service_network(serviceNetworkIdentifier=sn["id"])["sharingConfig"] == {"enabled": True}
    gateway = _gateway(lattice, network)
    for rc in (_config(lattice, gateway), _group(lattice, gateway)):
        created = lattice.create_service_network_resource_association(serviceNetworkIdentifier=sn["id"],
                                                                      resourceConfigurationIdentifier=rc["id"])
        got = lattice.get_service_network_resource_association(
            serviceNetworkResourceAssociationIdentifier=created["id"])
        assert (got["status"], got["privateDnsEnabled"]) == ("ACTIVE", False)


def test_group_needs_no_port_ranges(lattice, network):
    # TestAccVPCLatticeResourceConfiguration_parentChild: a GROUP with only a protocol and a gateway, and a
    # CHILD with its own port ranges and IP resource that takes the group's gateway and protocol.
    gateway = _gateway(lattice, network)
    group = lattice.create_resource_configuration(name="parent", type="GROUP", protocol="TCP",
                                                  resourceGatewayIdentifier=gateway["id"])
    assert (group["type"], group["protocol"], group["resourceGatewayId"]) == ("GROUP", "TCP", gateway["id"])
    assert "portRanges" not in group and "resourceConfigurationDefinition" not in group
    got = lattice.get_resource_configuration(resourceConfigurationIdentifier=group["id"])
    assert got["status"] == "ACTIVE" and "portRanges" not in got
    child = lattice.create_resource_configuration(name="child", type="CHILD", portRanges=["80"],
                                                  resourceConfigurationGroupIdentifier=group["id"],
                                                  resourceConfigurationDefinition={"ipResource": {
                                                      "ipAddress": "10.0.0.1"}})
    got = lattice.get_resource_configuration(resourceConfigurationIdentifier=child["id"])
    assert (got["type"], got["resourceConfigurationGroupId"], got["resourceGatewayId"], got["protocol"],
            got["portRanges"]) == ("CHILD", group["id"], gateway["id"], "TCP", ["80"])
    _raises(_child, 400, "ValidationException", lattice=lattice, group=group, name="no-ports", portRanges=None)
    updated = lattice.update_resource_configuration(resourceConfigurationIdentifier=group["id"],
                                                    portRanges=["1-1024"])
    assert updated["portRanges"] == ["1-1024"]


# -- domain verifications ------------------------------------------------------------

def test_domain_verification_lifecycle(lattice, clients):
    started = lattice.start_domain_verification(domainName="example.com", tags={"k": "v"})
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert started["id"].startswith("dv-") and len(started["id"]) == 20
    int(started["id"][3:], 16)
    assert started["arn"] == f"arn:aws:vpc-lattice:us-east-1:{clients.account}:domainverification/{started['id']}"
    assert (started["domainName"], started["status"]) == ("example.com", "PENDING")
    txt = started["txtMethodConfig"]
    assert txt["name"].startswith("_lattice-") and txt["name"].endswith(".example.com")
    assert txt["value"].startswith("vpc-lattice:")

    got = lattice.get_domain_verification(domainVerificationIdentifier=started["arn"])
    assert got["status"] == "PENDING"  # never VERIFIED without a real DNS check
    assert got["txtMethodConfig"] == txt and got["tags"] == {"k": "v"} and "createdAt" in got
    assert "lastVerifiedTime" not in got
    assert lattice.list_tags_for_resource(resourceArn=started["arn"])["tags"] == {"k": "v"}

    items = lattice.list_domain_verifications()["items"]
    assert [i["id"] for i in items] == [started["id"]] and items[0]["txtMethodConfig"] == txt

    deleted = lattice.delete_domain_verification(domainVerificationIdentifier=started["id"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200
    _raises(lattice.get_domain_verification, 404, "ResourceNotFoundException",
            domainVerificationIdentifier=started["id"])
    _raises(lattice.delete_domain_verification, 404, "ResourceNotFoundException",
            domainVerificationIdentifier=started["id"])


def test_domain_verification_conflict_and_quota(lattice):
    lattice.start_domain_verification(domainName="example.com")
    _raises(lattice.start_domain_verification, 409, "ConflictException", domainName="EXAMPLE.com")
    for n in range(4):
        lattice.start_domain_verification(domainName=f"d{n}.example.org")
    response = _raises(lattice.start_domain_verification, 402, "ServiceQuotaExceededException",
                       domainName="one-more.example.net")
    assert (response["serviceCode"], response["resourceType"]) == ("vpc-lattice", "DOMAIN_VERIFICATION")
    page = lattice.list_domain_verifications(maxResults=3)
    rest = lattice.list_domain_verifications(maxResults=3, nextToken=page["nextToken"])
    assert len(page["items"]) == 3 and len(rest["items"]) == 2 and "nextToken" not in rest


def test_domain_verification_errors(lattice, raw):
    _raises(lattice.get_domain_verification, 404, "ResourceNotFoundException", domainVerificationIdentifier=MISSING_DV)
    _raises(raw.get_domain_verification, 400, "ValidationException", domainVerificationIdentifier="dv-123")
    _raises(raw.start_domain_verification, 400, "ValidationException", domainName="ab")


def test_domain_verification_idempotent_start(lattice):
    first = lattice.start_domain_verification(domainName="example.com", clientToken="token-1")
    again = lattice.start_domain_verification(domainName="example.com", clientToken="token-1")
    assert again["id"] == first["id"] and again["txtMethodConfig"] == first["txtMethodConfig"]
    _raises(lattice.start_domain_verification, 409, "ConflictException", domainName="other.com",
            clientToken="token-1")
