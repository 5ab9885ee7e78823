"""Black-box tests of service-network associations (VPC, service, resource configuration) and endpoint associations."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import client_for, error_code, make_network, status_of


@pytest.fixture
def raw(clients):
    """A client that skips botocore's own parameter checks, to see the server's answer."""
    return clients.client("vpc-lattice", parameter_validation=False)


def _vpc(clients) -> str:
    """Another VPC of the test's account (no subnets or groups)."""
    return clients.client("ec2").create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]


def _network(lattice, name="net", shareable=False):
    return lattice.create_service_network(name=name, sharingConfig={"enabled": shareable})


def _service(lattice, name="svc", **kwargs):
    return lattice.create_service(name=name, **kwargs)


def _gateway(lattice, network, name="gateway", **kwargs):
    return lattice.create_resource_gateway(name=name, vpcIdentifier=network.vpc_id, subnetIds=network.subnet_ids[:1],
                                           **kwargs)


def _config(lattice, gateway, name="database", rc_type="SINGLE", **kwargs):
    args = {"name": name, "type": rc_type, "resourceGatewayIdentifier": gateway["id"], "portRanges": ["5432"],
            "resourceConfigurationDefinition": {"ipResource": {"ipAddress": "10.0.0.5"}}}
    args.update(kwargs)
    return lattice.create_resource_configuration(**{k: v for k, v in args.items() if v is not None})


def _raises(call, status, code, **kwargs):
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert (status_of(exc), error_code(exc)) == (status, code), exc.value.response["Error"]
    return exc.value.response


# -- service network <-> VPC --------------------------------------------------------

def test_vpc_association_lifecycle(lattice, clients, network):
    sn = _network(lattice)
    created = lattice.create_service_network_vpc_association(
        serviceNetworkIdentifier=sn["id"], vpcIdentifier=network.vpc_id, securityGroupIds=network.sg_ids[:1],
        tags={"team": "a"})
    assert created["status"] == "CREATE_IN_PROGRESS"
    assert created["id"].startswith("snva-") and len(created["id"]) == 22
    assert created["arn"] == (f"arn:aws:vpc-lattice:us-east-1:{clients.account}:"
                              f"servicenetworkvpcassociation/{created['id']}")
    assert created["createdBy"] == clients.account
    assert created["securityGroupIds"] == network.sg_ids[:1]
    assert created["privateDnsEnabled"] is False

    got = lattice.get_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=created["arn"])
    assert got["status"] == "ACTIVE"
    assert (got["vpcId"], got["serviceNetworkId"], got["serviceNetworkName"], got["serviceNetworkArn"]) == (
        network.vpc_id, sn["id"], "net", sn["arn"])
    assert "createdAt" in got and "lastUpdatedAt" in got
    assert lattice.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"team": "a"}

    deleted = lattice.delete_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=created["id"])
    assert deleted == {k: deleted[k] for k in ("id", "status", "arn", "ResponseMetadata")}
    assert deleted["status"] == "DELETE_IN_PROGRESS"
    _raises(lattice.get_service_network_vpc_association, 404, "ResourceNotFoundException",
            serviceNetworkVpcAssociationIdentifier=created["id"])


def test_vpc_association_counts_and_blocks_network_delete(lattice, network):
    sn = _network(lattice)
    assoc = lattice.create_service_network_vpc_association(serviceNetworkIdentifier=sn["arn"],
                                                           vpcIdentifier=network.vpc_id)
    assert lattice.get_service_network(serviceNetworkIdentifier=sn["id"])["numberOfAssociatedVPCs"] == 1
    _raises(lattice.delete_service_network, 409, "ConflictException", serviceNetworkIdentifier=sn["id"])
    lattice.delete_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=assoc["id"])
    lattice.delete_service_network(serviceNetworkIdentifier=sn["id"])


def test_one_network_per_vpc(lattice, clients, network):
    first, second = _network(lattice, "one"), _network(lattice, "two")
    lattice.create_service_network_vpc_association(serviceNetworkIdentifier=first["id"],
                                                   vpcIdentifier=network.vpc_id)
    for sn in (first, second):
        _raises(lattice.create_service_network_vpc_association, 409, "ConflictException",
                serviceNetworkIdentifier=sn["id"], vpcIdentifier=network.vpc_id)
    lattice.create_service_network_vpc_association(serviceNetworkIdentifier=second["id"], vpcIdentifier=_vpc(clients))


def test_vpc_association_errors(lattice, raw, network):
    sn = _network(lattice)
    _raises(lattice.create_service_network_vpc_association, 404, "ResourceNotFoundException",
            serviceNetworkIdentifier="sn-0123456789abcdef0", vpcIdentifier=network.vpc_id)
    _raises(lattice.create_service_network_vpc_association, 404, "ResourceNotFoundException",
            serviceNetworkIdentifier="not-a-network", vpcIdentifier=network.vpc_id)
    _raises(lattice.create_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkIdentifier=sn["id"], vpcIdentifier="vpc-xyz")
    _raises(raw.create_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkIdentifier=sn["id"], vpcIdentifier=network.vpc_id, securityGroupIds=network.sg_ids[:1] * 6)
    _raises(lattice.create_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkIdentifier=sn["id"], vpcIdentifier=network.vpc_id, securityGroupIds=["sg-nothex"])
    for ident in ("snva-0123456789abcdef0", "arn:aws:vpc-lattice:us-east-1:999999999999:"
                                            "servicenetworkvpcassociation/snva-0123456789abcdef0"):
        for call in (lattice.get_service_network_vpc_association, lattice.delete_service_network_vpc_association,
                     lattice.update_service_network_vpc_association):
            _raises(call, 404, "ResourceNotFoundException", serviceNetworkVpcAssociationIdentifier=ident)


def test_vpc_association_update_security_groups(lattice, raw, network):
    sn = _network(lattice)
    assoc = lattice.create_service_network_vpc_association(serviceNetworkIdentifier=sn["id"],
                                                           vpcIdentifier=network.vpc_id)
    assert assoc["securityGroupIds"] == []
    updated = lattice.update_service_network_vpc_association(
        serviceNetworkVpcAssociationIdentifier=assoc["id"], securityGroupIds=network.sg_ids)
    assert updated["status"] == "UPDATE_IN_PROGRESS"
    assert updated["securityGroupIds"] == network.sg_ids
    got = lattice.get_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=assoc["id"])
    assert (got["status"], got["securityGroupIds"]) == ("ACTIVE", network.sg_ids)
    # Once it has security groups it keeps at least one: an empty list is refused.
    _raises(raw.update_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkVpcAssociationIdentifier=assoc["id"], securityGroupIds=[])
    _raises(raw.update_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkVpcAssociationIdentifier=assoc["id"], securityGroupIds=network.sg_ids[:1] * 6)
    lattice.update_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=assoc["id"])
    got = lattice.get_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=assoc["id"])
    assert got["securityGroupIds"] == network.sg_ids


def test_vpc_association_private_dns(lattice, clients, network):
    sn = _network(lattice)
    assoc = lattice.create_service_network_vpc_association(
        serviceNetworkIdentifier=sn["id"], vpcIdentifier=network.vpc_id, privateDnsEnabled=True)
    assert assoc["dnsOptions"] == {"privateDnsPreference": "VERIFIED_DOMAINS_ONLY"}
    updated = lattice.update_service_network_vpc_association(
        serviceNetworkVpcAssociationIdentifier=assoc["id"],
        dnsOptions={"privateDnsPreference": "SPECIFIED_DOMAINS_ONLY", "privateDnsSpecifiedDomains": ["*.example.com"]})
    assert updated["dnsOptions"]["privateDnsSpecifiedDomains"] == ["*.example.com"]
    got = lattice.get_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=assoc["id"])
    assert got["privateDnsEnabled"] is True and got["dnsOptions"]["privateDnsPreference"] == "SPECIFIED_DOMAINS_ONLY"
    off = lattice.update_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=assoc["id"],
                                                         privateDnsEnabled=False)
    assert off["privateDnsEnabled"] is False and "dnsOptions" not in off
    _raises(lattice.update_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkVpcAssociationIdentifier=assoc["id"],
            dnsOptions={"privateDnsPreference": "ALL_DOMAINS"})
    _raises(lattice.create_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkIdentifier=sn["id"], vpcIdentifier=_vpc(clients), privateDnsEnabled=True,
            dnsOptions={"privateDnsPreference": "SPECIFIED_DOMAINS_ONLY"})
    _raises(lattice.create_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkIdentifier=sn["id"], vpcIdentifier=_vpc(clients), privateDnsEnabled=True,
            dnsOptions={"privateDnsPreference": "ALL_DOMAINS", "privateDnsSpecifiedDomains": ["a.example.com"]})


def test_list_vpc_associations_filters_and_pages(lattice, clients):
    one, two = _network(lattice, "one"), _network(lattice, "two")
    vpcs = [_vpc(clients) for _ in range(5)]
    ids = [lattice.create_service_network_vpc_association(serviceNetworkIdentifier=one["id"], vpcIdentifier=v)["id"]
           for v in vpcs[:3]]
    other = lattice.create_service_network_vpc_association(serviceNetworkIdentifier=two["id"], vpcIdentifier=vpcs[3])
    items = lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=one["arn"])["items"]
    assert [i["id"] for i in items] == ids
    assert set(items[0]) >= {"id", "arn", "status", "createdBy", "createdAt", "serviceNetworkId",
                             "serviceNetworkName", "serviceNetworkArn", "vpcId", "lastUpdatedAt"}
    by_vpc = lattice.list_service_network_vpc_associations(vpcIdentifier=vpcs[3])["items"]
    assert [i["id"] for i in by_vpc] == [other["id"]]
    assert lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=one["id"],
                                                         vpcIdentifier=vpcs[3])["items"] == []
    page = lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=one["id"], maxResults=2)
    rest = lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=one["id"], maxResults=2,
                                                         nextToken=page["nextToken"])
    assert [i["id"] for i in page["items"] + rest["items"]] == ids and "nextToken" not in rest
    _raises(lattice.list_service_network_vpc_associations, 400, "ValidationException")


def _other_account(server):
    """Lattice and EC2 clients of a fresh account."""
    import conftest
    n = next(conftest._accounts)
    return client_for(server, "vpc-lattice", n), client_for(server, "ec2", n)


def test_vpc_associations_are_per_account(lattice, server, network):
    sn = _network(lattice)
    assoc = lattice.create_service_network_vpc_association(serviceNetworkIdentifier=sn["id"],
                                                           vpcIdentifier=network.vpc_id)
    other, other_ec2 = _other_account(server)
    _raises(other.get_service_network_vpc_association, 404, "ResourceNotFoundException",
            serviceNetworkVpcAssociationIdentifier=assoc["arn"])
    assert other.list_service_network_vpc_associations(vpcIdentifier=network.vpc_id)["items"] == []
    # Another account's VPC is not the caller's to associate; its own VPC is.
    other_sn = other.create_service_network(name="net")
    response = _raises(other.create_service_network_vpc_association, 404, "ResourceNotFoundException",
                       serviceNetworkIdentifier=other_sn["id"], vpcIdentifier=network.vpc_id)
    assert (response["resourceType"], response["resourceId"]) == ("VPC", network.vpc_id)
    theirs = make_network(other_ec2)
    other.create_service_network_vpc_association(serviceNetworkIdentifier=other_sn["id"], vpcIdentifier=theirs.vpc_id)


def test_vpc_association_needs_real_vpc_and_groups(lattice, clients, network):
    sn = _network(lattice)
    response = _raises(lattice.create_service_network_vpc_association, 404, "ResourceNotFoundException",
                       serviceNetworkIdentifier=sn["id"], vpcIdentifier="vpc-0123456789abcdef0")
    assert (response["resourceType"], response["resourceId"]) == ("VPC", "vpc-0123456789abcdef0")
    response = _raises(lattice.create_service_network_vpc_association, 404, "ResourceNotFoundException",
                       serviceNetworkIdentifier=sn["id"], vpcIdentifier=network.vpc_id,
                       securityGroupIds=["sg-0123456789abcdef0"])
    assert (response["resourceType"], response["resourceId"]) == ("SECURITY_GROUP", "sg-0123456789abcdef0")
    elsewhere = make_network(clients.client("ec2"), "10.9.0.0/16")
    _raises(lattice.create_service_network_vpc_association, 400, "ValidationException",
            serviceNetworkIdentifier=sn["id"], vpcIdentifier=network.vpc_id, securityGroupIds=elsewhere.sg_ids[:1])
    assert lattice.list_service_network_vpc_associations(serviceNetworkIdentifier=sn["id"])["items"] == []
    assoc = lattice.create_service_network_vpc_association(serviceNetworkIdentifier=sn["id"],
                                                           vpcIdentifier=network.vpc_id)
    for groups, status, code in ((elsewhere.sg_ids[1:], 400, "ValidationException"),
                                 (["sg-0fedcba9876543210"], 404, "ResourceNotFoundException")):
        _raises(lattice.update_service_network_vpc_association, status, code,
                serviceNetworkVpcAssociationIdentifier=assoc["id"], securityGroupIds=groups)
    got = lattice.get_service_network_vpc_association(serviceNetworkVpcAssociationIdentifier=assoc["id"])
    assert got["securityGroupIds"] == []


# -- service network <-> service -------------------------------------------------------

def test_service_association_lifecycle(lattice, clients):
    sn = _network(lattice)
    svc = _service(lattice, customDomainName="api.example.com")
    created = lattice.create_service_network_service_association(
        serviceNetworkIdentifier=sn["id"], serviceIdentifier=svc["arn"], tags={"k": "v"})
    assert created["status"] == "CREATE_IN_PROGRESS" and created["id"].startswith("snsa-")
    assert created["createdBy"] == clients.account
    assert created["customDomainName"] == "api.example.com"
    assert created["dnsEntry"] == svc["dnsEntry"]
    got = lattice.get_service_network_service_association(serviceNetworkServiceAssociationIdentifier=created["arn"])
    assert got["status"] == "ACTIVE"
    assert (got["serviceId"], got["serviceName"], got["serviceArn"]) == (svc["id"], "svc", svc["arn"])
    assert (got["serviceNetworkId"], got["serviceNetworkName"], got["serviceNetworkArn"]) == (
        sn["id"], "net", sn["arn"])
    assert lattice.get_service_network(serviceNetworkIdentifier=sn["id"])["numberOfAssociatedServices"] == 1
    assert lattice.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"k": "v"}
    _raises(lattice.delete_service, 409, "ConflictException", serviceIdentifier=svc["id"])
    _raises(lattice.delete_service_network, 409, "ConflictException", serviceNetworkIdentifier=sn["id"])

    deleted = lattice.delete_service_network_service_association(
        serviceNetworkServiceAssociationIdentifier=created["id"])
    assert (deleted["id"], deleted["status"], deleted["arn"]) == (created["id"], "DELETE_IN_PROGRESS", created["arn"])
    _raises(lattice.get_service_network_service_association, 404, "ResourceNotFoundException",
            serviceNetworkServiceAssociationIdentifier=created["id"])
    lattice.delete_service(serviceIdentifier=svc["id"])


def test_service_association_refuses_duplicates(lattice):
    sn, sn2 = _network(lattice, "one"), _network(lattice, "two")
    svc = _service(lattice)
    lattice.create_service_network_service_association(serviceNetworkIdentifier=sn["id"], serviceIdentifier=svc["id"])
    _raises(lattice.create_service_network_service_association, 409, "ConflictException",
            serviceNetworkIdentifier=sn["arn"], serviceIdentifier=svc["id"])
    # A service may join several networks.
    lattice.create_service_network_service_association(serviceNetworkIdentifier=sn2["id"], serviceIdentifier=svc["id"])


def test_custom_domain_unique_within_network(lattice):
    sn, sn2 = _network(lattice, "one"), _network(lattice, "two")
    a = _service(lattice, "api-a", customDomainName="shop.example.com")
    b = _service(lattice, "api-b", customDomainName="shop.example.com")
    c = _service(lattice, "api-c", customDomainName="cart.example.com")
    d, e = _service(lattice, "api-d"), _service(lattice, "api-e")
    lattice.create_service_network_service_association(serviceNetworkIdentifier=sn["id"], serviceIdentifier=a["id"])
    _raises(lattice.create_service_network_service_association, 409, "ConflictException",
            serviceNetworkIdentifier=sn["id"], serviceIdentifier=b["id"])
    for svc in (c, d, e):  # other names, and services without one, are fine
        lattice.create_service_network_service_association(serviceNetworkIdentifier=sn["id"],
                                                           serviceIdentifier=svc["id"])
    lattice.create_service_network_service_association(serviceNetworkIdentifier=sn2["id"], serviceIdentifier=b["id"])


def test_service_association_errors(lattice, raw):
    sn, svc = _network(lattice), _service(lattice)
    _raises(lattice.create_service_network_service_association, 404, "ResourceNotFoundException",
            serviceNetworkIdentifier=sn["id"], serviceIdentifier="svc-0123456789abcdef0")
    _raises(lattice.create_service_network_service_association, 404, "ResourceNotFoundException",
            serviceNetworkIdentifier="sn-0123456789abcdef0", serviceIdentifier=svc["id"])
    _raises(raw.create_service_network_service_association, 400, "ValidationException",
            serviceNetworkIdentifier=sn["id"], serviceIdentifier="svc-bad")
    for call in (lattice.get_service_network_service_association,
                 lattice.delete_service_network_service_association):
        _raises(call, 404, "ResourceNotFoundException",
                serviceNetworkServiceAssociationIdentifier="snsa-0123456789abcdef0")
    _raises(lattice.list_service_network_service_associations, 400, "ValidationException")


def test_list_service_associations(lattice):
    sn, sn2 = _network(lattice, "one"), _network(lattice, "two")
    services = [_service(lattice, f"api-{n}") for n in range(3)]
    ids = [lattice.create_service_network_service_association(serviceNetworkIdentifier=sn["id"],
                                                              serviceIdentifier=s["id"])["id"] for s in services]
    extra = lattice.create_service_network_service_association(serviceNetworkIdentifier=sn2["id"],
                                                               serviceIdentifier=services[0]["id"])
    items = lattice.list_service_network_service_associations(serviceNetworkIdentifier=sn["id"])["items"]
    assert [i["id"] for i in items] == ids
    assert items[0]["serviceName"] == "api-0" and items[0]["dnsEntry"] == services[0]["dnsEntry"]
    by_service = lattice.list_service_network_service_associations(serviceIdentifier=services[0]["arn"])["items"]
    assert [i["id"] for i in by_service] == [ids[0], extra["id"]]
    both = lattice.list_service_network_service_associations(serviceNetworkIdentifier=sn2["id"],
                                                             serviceIdentifier=services[1]["id"])
    assert both["items"] == []
    page = lattice.list_service_network_service_associations(serviceNetworkIdentifier=sn["id"], maxResults=1)
    assert len(page["items"]) == 1 and page["nextToken"]


# -- service network <-> resource configuration ------------------------------------------

def test_resource_association_lifecycle(lattice, clients, network):
    sn, gw = _network(lattice), _gateway(lattice, network)
    rc = _config(lattice, gw, customDomainName="db.example.com")
    created = lattice.create_service_network_resource_association(
        serviceNetworkIdentifier=sn["id"], resourceConfigurationIdentifier=rc["arn"], privateDnsEnabled=True,
        tags={"k": "v"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["status"] == "CREATE_IN_PROGRESS" and created["id"].startswith("snra-")
    assert (created["createdBy"], created["privateDnsEnabled"]) == (clients.account, True)
    got = lattice.get_service_network_resource_association(serviceNetworkResourceAssociationIdentifier=created["id"])
    assert got["status"] == "ACTIVE"
    assert got["dnsEntry"]["domainName"] == (
        f"{created['id']}.{rc['id']}.4232ccc.vpc-lattice-rsc.us-east-1.on.aws")
    assert got["dnsEntry"]["hostedZoneId"].startswith("Z")
    assert got["privateDnsEntry"] == {"domainName": "db.example.com"}
    assert (got["resourceConfigurationId"], got["resourceConfigurationArn"], got["resourceConfigurationName"]) == (
        rc["id"], rc["arn"], "database")
    assert (got["serviceNetworkId"], got["serviceNetworkArn"], got["serviceNetworkName"]) == (
        sn["id"], sn["arn"], "net")
    assert got["isManagedAssociation"] is False
    assert lattice.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"k": "v"}
    _raises(lattice.delete_service_network, 409, "ConflictException", serviceNetworkIdentifier=sn["id"])
    _raises(lattice.delete_resource_configuration, 409, "ConflictException",
            resourceConfigurationIdentifier=rc["id"])

    deleted = lattice.delete_service_network_resource_association(
        serviceNetworkResourceAssociationIdentifier=created["arn"])
    assert deleted["status"] == "DELETE_IN_PROGRESS"
    _raises(lattice.get_service_network_resource_association, 404, "ResourceNotFoundException",
            serviceNetworkResourceAssociationIdentifier=created["id"])
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=rc["id"])
    lattice.delete_service_network(serviceNetworkIdentifier=sn["id"])


def test_resource_association_defaults(lattice, network):
    sn, gw = _network(lattice), _gateway(lattice, network)
    rc = _config(lattice, gw)
    created = lattice.create_service_network_resource_association(serviceNetworkIdentifier=sn["id"],
                                                                  resourceConfigurationIdentifier=rc["id"])
    assert created["privateDnsEnabled"] is False
    got = lattice.get_service_network_resource_association(serviceNetworkResourceAssociationIdentifier=created["id"])
    assert "privateDnsEntry" not in got
    _raises(lattice.create_service_network_resource_association, 409, "ConflictException",
            serviceNetworkIdentifier=sn["arn"], resourceConfigurationIdentifier=rc["id"])


def test_resource_association_type_and_sharing_rules(lattice, network):
    shareable, private = _network(lattice, "shared", shareable=True), _network(lattice, "private")
    gw = _gateway(lattice, network)
    closed = _config(lattice, gw, "closed", allowAssociationToShareableServiceNetwork=False)
    open_ = _config(lattice, gw, "open")
    _raises(lattice.create_service_network_resource_association, 400, "ValidationException",
            serviceNetworkIdentifier=shareable["id"], resourceConfigurationIdentifier=closed["id"])
    lattice.create_service_network_resource_association(serviceNetworkIdentifier=private["id"],
                                                        resourceConfigurationIdentifier=closed["id"])
    lattice.create_service_network_resource_association(serviceNetworkIdentifier=shareable["id"],
                                                        resourceConfigurationIdentifier=open_["id"])

    in_vpc = _gateway(lattice, network, "gw-in-vpc", resourceConfigDnsResolution="IN_VPC")
    cidr = _config(lattice, in_vpc, "cidr", rc_type="CIDR", portRanges=["1-65535"],
                   resourceConfigurationDefinition={"cidrResource": {"cidrRanges": ["10.1.0.0/16"]}})
    group = _config(lattice, gw, "group", rc_type="GROUP", resourceConfigurationDefinition=None)
    child = _config(lattice, gw, "child", rc_type="CHILD", resourceGatewayIdentifier=None,
                    resourceConfigurationGroupIdentifier=group["id"])
    for rc in (cidr, child):
        _raises(lattice.create_service_network_resource_association, 400, "ValidationException",
                serviceNetworkIdentifier=private["id"], resourceConfigurationIdentifier=rc["id"])
    _raises(lattice.create_service_network_resource_association, 404, "ResourceNotFoundException",
            serviceNetworkIdentifier=private["id"], resourceConfigurationIdentifier="rcfg-0123456789abcdef0")
    _raises(lattice.create_service_network_resource_association, 404, "ResourceNotFoundException",
            serviceNetworkIdentifier="sn-0123456789abcdef0", resourceConfigurationIdentifier=closed["id"])
    for call in (lattice.get_service_network_resource_association,
                 lattice.delete_service_network_resource_association):
        _raises(call, 404, "ResourceNotFoundException",
                serviceNetworkResourceAssociationIdentifier="snra-0123456789abcdef0")


def test_arn_configuration_forces_private_dns(lattice, network):
    sn, gw = _network(lattice), _gateway(lattice, network)
    rc = _config(lattice, gw, "rds", rc_type="ARN", portRanges=None, resourceConfigurationDefinition={
        "arnResource": {"arn": "arn:aws:rds:us-east-1:123456789012:db:mydb"}})
    created = lattice.create_service_network_resource_association(
        serviceNetworkIdentifier=sn["id"], resourceConfigurationIdentifier=rc["id"], privateDnsEnabled=False)
    assert created["privateDnsEnabled"] is True


def test_group_association_manages_children(lattice, network):
    sn, gw = _network(lattice), _gateway(lattice, network)
    group = _config(lattice, gw, "group", rc_type="GROUP", resourceConfigurationDefinition=None)
    early = _config(lattice, gw, "early", rc_type="CHILD", resourceGatewayIdentifier=None,
                    resourceConfigurationGroupIdentifier=group["id"])
    assoc = lattice.create_service_network_resource_association(serviceNetworkIdentifier=sn["id"],
                                                                resourceConfigurationIdentifier=group["id"])
    late = _config(lattice, gw, "late", rc_type="CHILD", resourceGatewayIdentifier=None,
                   resourceConfigurationGroupIdentifier=group["id"],
                   resourceConfigurationDefinition={"dnsResource": {"domainName": "late.internal"}})

    plain = lattice.list_service_network_resource_associations(serviceNetworkIdentifier=sn["id"])["items"]
    assert [i["id"] for i in plain] == [assoc["id"]]
    everything = lattice.list_service_network_resource_associations(serviceNetworkIdentifier=sn["id"],
                                                                     includeChildren=True)["items"]
    managed = {i["resourceConfigurationId"]: i for i in everything if i["isManagedAssociation"]}
    assert set(managed) == {early["id"], late["id"]}
    _raises(lattice.delete_service_network_resource_association, 409, "ConflictException",
            serviceNetworkResourceAssociationIdentifier=managed[early["id"]]["id"])
    by_child = lattice.list_service_network_resource_associations(resourceConfigurationIdentifier=late["id"],
                                                                   includeChildren=True)["items"]
    assert [i["id"] for i in by_child] == [managed[late["id"]]["id"]]

    # A child leaves with its managed association; the group association takes the rest with it.
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=late["id"])
    lattice.delete_service_network_resource_association(serviceNetworkResourceAssociationIdentifier=assoc["id"])
    assert lattice.list_service_network_resource_associations(serviceNetworkIdentifier=sn["id"],
                                                              includeChildren=True)["items"] == []
    lattice.delete_service_network(serviceNetworkIdentifier=sn["id"])


def test_list_resource_associations_filters(lattice, network):
    one, two, gw = _network(lattice, "one"), _network(lattice, "two"), _gateway(lattice, network)
    a, b = _config(lattice, gw, "cfg-a"), _config(lattice, gw, "cfg-b")
    a1 = lattice.create_service_network_resource_association(serviceNetworkIdentifier=one["id"],
                                                             resourceConfigurationIdentifier=a["id"])
    b1 = lattice.create_service_network_resource_association(serviceNetworkIdentifier=one["id"],
                                                             resourceConfigurationIdentifier=b["id"])
    a2 = lattice.create_service_network_resource_association(serviceNetworkIdentifier=two["id"],
                                                             resourceConfigurationIdentifier=a["id"])
    ids = lambda **kw: [i["id"] for i in lattice.list_service_network_resource_associations(**kw)["items"]]
    assert ids(serviceNetworkIdentifier=one["id"]) == [a1["id"], b1["id"]]
    assert ids(resourceConfigurationIdentifier=a["arn"]) == [a1["id"], a2["id"]]
    assert ids(serviceNetworkIdentifier=two["id"], resourceConfigurationIdentifier=a["id"]) == [a2["id"]]
    assert ids() == [a1["id"], b1["id"], a2["id"]]
    page = lattice.list_service_network_resource_associations(maxResults=2)
    rest = lattice.list_service_network_resource_associations(maxResults=2, nextToken=page["nextToken"])
    assert [i["id"] for i in page["items"] + rest["items"]] == [a1["id"], b1["id"], a2["id"]]
    # A token is bound to the filters it was issued for.
    _raises(lattice.list_service_network_resource_associations, 400, "ValidationException",
            maxResults=2, nextToken=page["nextToken"], serviceNetworkIdentifier=one["id"])
    item = lattice.list_service_network_resource_associations(resourceConfigurationIdentifier=b["id"])["items"][0]
    assert item["resourceConfigurationName"] == "cfg-b" and item["serviceNetworkName"] == "one"
    assert item["dnsEntry"]["domainName"].startswith(f"{b1['id']}.{b['id']}.")


# -- endpoint associations (written by the EC2 VPC-endpoint API) --------------------------------

def test_service_network_endpoint_associations_start_empty(lattice):
    sn = _network(lattice)
    assert lattice.list_service_network_vpc_endpoint_associations(serviceNetworkIdentifier=sn["id"])["items"] == []
    assert lattice.list_service_network_vpc_endpoint_associations(
        serviceNetworkIdentifier="sn-0123456789abcdef0", maxResults=5)["items"] == []
    _raises(lattice.list_service_network_vpc_endpoint_associations, 400, "ValidationException",
            serviceNetworkIdentifier="bad")


def test_resource_endpoint_associations_start_empty(lattice, raw, network):
    rc = _config(lattice, _gateway(lattice, network))
    assert lattice.list_resource_endpoint_associations(resourceConfigurationIdentifier=rc["id"])["items"] == []
    assert lattice.list_resource_endpoint_associations(
        resourceConfigurationIdentifier=rc["arn"], vpcEndpointId="vpce-0123456789abcdef0",
        vpcEndpointOwner="123456789012")["items"] == []
    _raises(lattice.delete_resource_endpoint_association, 404, "ResourceNotFoundException",
            resourceEndpointAssociationIdentifier="rea-0123456789abcdef0")
    _raises(raw.delete_resource_endpoint_association, 400, "ValidationException",
            resourceEndpointAssociationIdentifier="rea-xyz")
