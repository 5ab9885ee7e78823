"""Load balancers: create, describe, delete, attributes, security groups, subnets.

Network load balancers are the point (PrivateLink endpoint services front
them); application load balancers exist so that a Lattice ALB target has an
ARN to point at. Gateway load balancers are not served.

Placement
    Subnets come from EC2 (records of kind ``subnet``); one per Availability
    Zone, all in one VPC, which becomes the load balancer's ``VpcId``.
    ``AvailabilityZones`` lists ``{ZoneName, SubnetId, LoadBalancerAddresses}``;
    an address appears only where a subnet mapping asked for one (a private
    IPv4 address, an Elastic IP allocation or an IPv6 address), as in AWS.

Lifecycle
    ``CreateLoadBalancer`` answers ``provisioning``, as AWS does; there is no
    provisioning to wait for, so every later read answers ``active``.
    Creating with a name already used by a load balancer of the same type
    returns that load balancer when the settings match (AWS documents the
    call as idempotent) and ``DuplicateLoadBalancerName`` otherwise.
    ``DeleteLoadBalancer`` deletes the listeners too, succeeds for an ARN that
    no longer exists, and refuses while deletion protection is on.
"""

from __future__ import annotations

from typing import Any, Mapping, cast

from latticework.api.context import RequestContext
from latticework.api.errors import ServiceError
from latticework.services.ec2.interfaces import create_interface, delete_interface
from latticework.services.ec2.kinds import SECURITY_GROUP
from latticework.services.elbv2 import api_types as shapes
from latticework.services.elbv2 import common as c
from latticework.store import NameTaken, Record

# https://docs.aws.amazon.com/general/latest/gr/elb.html (Route 53 hosted zone ids per Region).
NLB_ZONES = {
    "af-south-1": "Z203XCE67M25HM", "ap-east-1": "Z12Y7K3UBGUAD1", "ap-northeast-1": "Z31USIVHYNEOWT",
    "ap-northeast-2": "ZIBE1TIR4HY56", "ap-northeast-3": "Z1GWIQ4HH19I5X", "ap-south-1": "ZVDDRBQ08TROA",
    "ap-south-2": "Z0711778386UTO08407HT", "ap-southeast-1": "ZKVM4W9LS7TM", "ap-southeast-2": "ZCT6FZBF4DROD",
    "ap-southeast-3": "Z01971771FYVNCOVWJU1G", "ca-central-1": "Z2EPGBW3API2WT", "cn-north-1": "Z3QFB96KMJ7ED6",
    "cn-northwest-1": "ZQEIKTCZ8352D", "eu-central-1": "Z3F0SRJ5LGBH90", "eu-central-2": "Z02239872DOALSIDCX66S",
    "eu-north-1": "Z1UDT6IFJ4EJM", "eu-south-1": "Z23146JA1KNAFP", "eu-south-2": "Z1011216NVTVYADP1SSV",
    "eu-west-1": "Z2IFOLAFXWLO4F", "eu-west-2": "ZD4D7Y8KGAS4G", "eu-west-3": "Z1CMS0P5QUZ6D5",
    "me-central-1": "Z00282643NTTLPANJJG2P", "me-south-1": "Z3QSRYVP46NYYV", "sa-east-1": "ZTK26PT1VY4CU",
    "us-east-1": "Z26RNL4JYFTOTI", "us-east-2": "ZLMOA37VPKANP", "us-gov-east-1": "Z1ZSMQQ6Q24QQ8",
    "us-gov-west-1": "ZMG1MZ2THAWF1", "us-west-1": "Z24FKFUX50B4VW", "us-west-2": "Z18D5FSROUN65G",
}
ALB_ZONES = {
    "af-south-1": "Z268VQBMOI5EKX", "ap-east-1": "Z3DQVH9N71FHZ0", "ap-northeast-1": "Z14GRHDCWA56QT",
    "ap-northeast-2": "ZWKZPGTI48KDX", "ap-northeast-3": "Z5LXEXXYW11ES", "ap-south-1": "ZP97RAFLXTNZK",
    "ap-south-2": "Z0173938T07WNTVAEPZN", "ap-southeast-1": "Z1LMS91P8CMLE5", "ap-southeast-2": "Z1GM3OXH4ZPM65",
    "ap-southeast-3": "Z08888821HLRG5A9ZRTER", "ca-central-1": "ZQSVJUPU6J1EY", "cn-north-1": "Z1GDH35T77C1KE",
    "cn-northwest-1": "ZM7IZAIOVVDZF", "eu-central-1": "Z215JYRZR1TBD5", "eu-central-2": "Z06391101F2ZOEP8P5EB3",
    "eu-north-1": "Z23TAZ6LKFMNIO", "eu-south-1": "Z3ULH7SSC9OV64", "eu-south-2": "Z0956581394HF5D5LXGAP",
    "eu-west-1": "Z32O12XQLNTSW2", "eu-west-2": "ZHURV8PSTC4K8", "eu-west-3": "Z3Q77PNBQS71R4",
    "me-central-1": "Z08230872XQRWHG2XF6I", "me-south-1": "ZS929ML54UICD", "sa-east-1": "Z2P70J7HTTTPLU",
    "us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-gov-east-1": "Z166TLBEWOO7G0",
    "us-gov-west-1": "Z33AYJ8TM3BH4J", "us-west-1": "Z368ELLRRE2KJ0", "us-west-2": "Z1H1FL5HABSF5",
}

# Attribute defaults per type (LoadBalancerAttribute.Key in the ELBv2 API reference).
COMMON_ATTRIBUTES = {
    "access_logs.s3.enabled": "false", "access_logs.s3.bucket": "", "access_logs.s3.prefix": "",
    "deletion_protection.enabled": "false", "zonal_shift.config.enabled": "false",
}
NLB_ATTRIBUTES = {
    **COMMON_ATTRIBUTES, "load_balancing.cross_zone.enabled": "false",
    "dns_record.client_routing_policy": "any_availability_zone", "secondary_ips.auto_assigned.per_subnet": "0",
}
ALB_ATTRIBUTES = {
    **COMMON_ATTRIBUTES, "load_balancing.cross_zone.enabled": "true", "idle_timeout.timeout_seconds": "60",
    "client_keep_alive.seconds": "3600", "connection_logs.s3.enabled": "false", "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "", "health_check_logs.s3.enabled": "false", "health_check_logs.s3.bucket": "",
    "health_check_logs.s3.prefix": "", "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.x_amzn_tls_kx.enabled": "false", "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append", "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
}
ROUTING_POLICIES = ("availability_zone_affinity", "partial_availability_zone_affinity", "any_availability_zone")


def default_attributes(lb_type: str, scheme: str) -> dict[str, str]:
    base = NLB_ATTRIBUTES if lb_type == "network" else ALB_ATTRIBUTES
    # Internal load balancers block internet-gateway IPv6 traffic by default.
    return {**base, "ipv6.deny_all_igw_traffic": "true" if scheme == "internal" else "false"}


# -- placement ---------------------------------------------------------------

def _mappings(params: Mapping[str, Any]) -> list[dict]:
    """``Subnets`` or ``SubnetMappings`` (exactly one of them) as subnet mappings."""
    subnets, mappings = params.get("Subnets"), params.get("SubnetMappings")
    if subnets and mappings:
        raise c.validation("You can specify subnets or subnet mappings, not both")
    return [{"SubnetId": s} for s in subnets] if subnets else list(mappings or [])


def _address(mapping: dict) -> list[shapes.LoadBalancerAddress]:
    address = {k: mapping[k] for k in ("AllocationId", "PrivateIPv4Address", "IPv6Address") if mapping.get(k)}
    return [cast(shapes.LoadBalancerAddress, address)] if address else []


def placement(ctx: RequestContext, mappings: list[dict], lb_type: str) -> tuple[str, list[shapes.AvailabilityZone]]:
    """(VpcId, AvailabilityZones) for the subnet mappings, checked against EC2's subnets."""
    if not mappings:
        raise c.validation("At least one subnet must be specified")
    zones: list[shapes.AvailabilityZone] = []
    vpcs: set[str] = set()
    for mapping in mappings:
        subnet = ctx.tx.get("subnet", mapping.get("SubnetId", ""))
        if subnet is None:
            raise c.error("SubnetNotFound", f"The subnet ID '{mapping.get('SubnetId')}' is not valid")
        vpcs.add(subnet.body["VpcId"])
        zones.append({"ZoneName": subnet.body["AvailabilityZone"], "SubnetId": subnet.id,
                      "LoadBalancerAddresses": _address(mapping)})
    if len(vpcs) > 1:
        raise c.error("InvalidConfigurationRequest", "The subnets must all belong to the same VPC")
    names = [z["ZoneName"] for z in zones]
    if len(set(names)) != len(names):
        raise c.error("InvalidConfigurationRequest",
                      "A load balancer cannot be attached to multiple subnets in the same Availability Zone")
    if lb_type == "application" and len(names) < 2:
        raise c.error("InvalidConfigurationRequest",
                      "At least two subnets in two different Availability Zones must be specified")
    return vpcs.pop(), zones


def check_security_groups(ctx: RequestContext, groups: list[str], vpc_id: str) -> None:
    """Each group must exist in the load balancer's VPC."""
    for group_id in groups:
        if not group_id.startswith("sg-"):
            raise c.error("InvalidSecurityGroup", f"Security group '{group_id}' does not exist")
        record = ctx.tx.get(SECURITY_GROUP.kind, group_id)
        if record is None or record.body.get("VpcId", vpc_id) != vpc_id:
            raise c.error("InvalidSecurityGroup", f"Security group '{group_id}' does not exist")


# -- the record ----------------------------------------------------------------

def _check_lb_name(name: str) -> None:
    c.check_name(name, "Load balancer")
    if name.lower().startswith("internal-"):
        raise c.validation(f"Load balancer name '{name}' cannot begin with 'internal-'")


def _dns_name(ctx: RequestContext, lb_type: str, scheme: str, name: str, lb_id: str) -> str:
    if lb_type == "network":
        return f"{name}-{lb_id}.elb.{ctx.region}.amazonaws.com"
    # ALB names carry a decimal token and the ``internal-`` prefix when internal.
    prefix = "internal-" if scheme == "internal" else ""
    return f"{prefix}{name}-{int(lb_id[:8], 16)}.{ctx.region}.elb.amazonaws.com"


def _settings(body: dict) -> tuple:
    """What must match for a repeated CreateLoadBalancer to return the existing one."""
    return (body["Type"], body["Scheme"], body["IpAddressType"],
            sorted(z["SubnetId"] for z in body["AvailabilityZones"]), sorted(body.get("SecurityGroups") or []))


def _new_body(ctx: RequestContext, params: Mapping[str, Any], lb_type: str, lb_id: str) -> dict:
    scheme = params.get("Scheme") or "internet-facing"
    vpc_id, zones = placement(ctx, _mappings(params), lb_type)
    ip_type = params.get("IpAddressType") or "ipv4"
    if lb_type == "network" and ip_type == "dualstack-without-public-ipv4":
        raise c.validation("IP address type 'dualstack-without-public-ipv4' is not supported by Network Load "
                           "Balancers")
    name = params["Name"]
    body = {
        "LoadBalancerArn": ctx.arn(c.SIGNING_NAME, f"loadbalancer/{c.TYPE_PATHS[lb_type]}/{name}/{lb_id}"),
        "DNSName": _dns_name(ctx, lb_type, scheme, name, lb_id),
        "CanonicalHostedZoneId": (NLB_ZONES if lb_type == "network" else ALB_ZONES).get(ctx.region, ""),
        "CreatedTime": ctx.timestamp(), "LoadBalancerName": name, "Scheme": scheme, "VpcId": vpc_id,
        "State": {"Code": "provisioning"}, "Type": lb_type, "AvailabilityZones": zones, "IpAddressType": ip_type,
        "Tags": c.clean_tags(params.get("Tags")),
    }
    _apply_security_groups(ctx, body, params.get("SecurityGroups"), None)
    return body


# -- the load balancer's network interfaces -------------------------------------
# Each enabled subnet holds one requester-managed interface of the load balancer
# ("ELB net/<name>/<id>"), as in AWS: it takes an address from the subnet and
# keeps the subnet, its security groups and the VPC from being deleted under it.

def _interface_description(body: dict) -> str:
    return "ELB " + body["LoadBalancerArn"].split(":loadbalancer/", 1)[1]


def _attach_interfaces(ctx: RequestContext, record: Record) -> None:
    """One interface per subnet; a network load balancer's are its nodes, with fabric addresses."""
    body = record.body
    network = body["Type"] == "network"
    record.internal["interfaces"] = [_node(ctx, record, zone["SubnetId"], network) for zone in body["AvailabilityZones"]]


def _node(ctx: RequestContext, record: Record, subnet_id: str, network: bool) -> str:
    body = record.body
    try:
        return create_interface(ctx, subnet_id, description=_interface_description(body),
                                group_ids=body.get("SecurityGroups") or None,
                                interface_type="network_load_balancer" if network else "interface",
                                requester_id="amazon-elb", fabric_owner=record.id if network else None,
                                )["NetworkInterfaceId"]
    except ServiceError as exc:
        if exc.code != "InsufficientFreeAddressesInSubnet":
            raise
        # ELB's own answer for a subnet without room for its nodes.
        raise c.error("InvalidSubnet", f"Not enough IP space available in {subnet_id}. ELB requires at least 8 "
                      "free IP addresses in each subnet.") from exc


def _detach_interfaces(ctx: RequestContext, record: Record) -> None:
    for eni_id in record.internal.pop("interfaces", []):
        delete_interface(ctx, eni_id)


def _regroup_interfaces(ctx: RequestContext, record: Record) -> None:
    """Security groups set on the load balancer apply to its interfaces."""
    _detach_interfaces(ctx, record)
    _attach_interfaces(ctx, record)


def _refuse_if_serving_endpoints(ctx: RequestContext, record: Record) -> None:
    arn = record.body["LoadBalancerArn"]
    for service in ctx.tx.list("vpcendpointservice"):
        if arn in (service.body.get("NetworkLoadBalancerArns") or []):
            raise c.error("ResourceInUse", f"Load balancer '{arn}' cannot be deleted because it is currently "
                          f"associated with another service ({service.id})")


def _apply_security_groups(ctx: RequestContext, body: dict, groups: list[str] | None, enforce: str | None) -> None:
    if groups is None:
        return
    check_security_groups(ctx, groups, body["VpcId"])
    body["SecurityGroups"] = list(dict.fromkeys(groups))
    if body["Type"] == "network" and groups:
        body["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] = (
            enforce or body.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic") or "on")


def show(record: Record) -> Any:
    """The LoadBalancer shape as Describe* answers it: provisioning is over by then."""
    out = c.present(record, "LoadBalancer")
    out["State"] = {"Code": "active"}
    return out


def attributes(record: Record) -> dict[str, str]:
    return record.internal["attributes"]


# -- attribute checks --------------------------------------------------------

def _check_attribute(record: Record, key: str, value: str) -> None:
    lb_type = record.body["Type"]
    supported = default_attributes(lb_type, record.body["Scheme"])
    if key not in supported:
        known = set(NLB_ATTRIBUTES) | set(ALB_ATTRIBUTES) | {"ipv6.deny_all_igw_traffic"}
        if key in known:
            raise c.error("InvalidConfigurationRequest", f"Load balancer attribute key '{key}' is not supported "
                          f"on load balancers with type '{lb_type}'")
        raise c.validation(f"Load balancer attribute key '{key}' is not recognized")
    _check_value(record, key, value)


def _check_value(record: Record, key: str, value: str) -> None:
    if key.endswith(".enabled") or key == "ipv6.deny_all_igw_traffic":
        c.check_bool(key, value)
    elif key == "dns_record.client_routing_policy":
        c.check_choice(key, value, ROUTING_POLICIES)
    elif key == "secondary_ips.auto_assigned.per_subnet":
        c.check_int(key, value, 0, 7)
        if int(value) < int(attributes(record)[key]):
            raise c.error("InvalidConfigurationRequest", "The number of secondary IP addresses per subnet cannot "
                          "be decreased")
    elif key == "idle_timeout.timeout_seconds":
        c.check_int(key, value, 1, 4000)
    elif key == "client_keep_alive.seconds":
        c.check_int(key, value, 60, 604800)
    elif key == "routing.http.desync_mitigation_mode":
        c.check_choice(key, value, ("monitor", "defensive", "strictest"))
    elif key == "routing.http.xff_header_processing.mode":
        c.check_choice(key, value, ("append", "preserve", "remove"))
    if record.body["Type"] == "application" and key == "load_balancing.cross_zone.enabled" and value != "true":
        raise c.error("InvalidConfigurationRequest", "Cross-zone load balancing cannot be disabled for Application "
                      "Load Balancers")


def _check_logs(merged: dict[str, str]) -> None:
    for kind in ("access_logs", "connection_logs", "health_check_logs"):
        if merged.get(f"{kind}.s3.enabled") == "true" and not merged.get(f"{kind}.s3.bucket"):
            raise c.validation(f"The value of '{kind}.s3.bucket' cannot be empty when {kind} are enabled")


# -- operations ----------------------------------------------------------------

class LoadBalancerOps:
    def create_load_balancer(self, ctx: RequestContext,
                             params: shapes.CreateLoadBalancerInput) -> shapes.CreateLoadBalancerOutput:
        lb_type = params.get("Type") or "application"
        if lb_type == "gateway":
            raise c.error("InvalidConfigurationRequest", "Gateway Load Balancers are not supported by Latticework")
        _check_lb_name(params["Name"])
        lb_id = c.new_id()
        body = _new_body(ctx, params, lb_type, lb_id)
        existing = ctx.tx.by_name(c.LOAD_BALANCER, f"{lb_type}/{params['Name']}")
        if existing is not None:
            return self._repeat(existing, body)
        record = Record(c.LOAD_BALANCER, lb_id, ctx.account, ctx.region, body, name=f"{lb_type}/{params['Name']}",
                        arn=body["LoadBalancerArn"],
                        internal={"attributes": default_attributes(lb_type, body["Scheme"])})
        _attach_interfaces(ctx, record)
        try:
            ctx.tx.put(record)
        except NameTaken:
            raise c.error("DuplicateLoadBalancerName", f"A load balancer with the name '{params['Name']}' "
                          "already exists") from None
        return {"LoadBalancers": [c.present(record, "LoadBalancer")]}

    @staticmethod
    def _repeat(existing: Record, body: dict) -> shapes.CreateLoadBalancerOutput:
        if _settings(existing.body) != _settings(body):
            raise c.error("DuplicateLoadBalancerName", f"A load balancer with the same name "
                          f"'{body['LoadBalancerName']}' exists, but with different settings")
        return {"LoadBalancers": [show(existing)]}

    def describe_load_balancers(self, ctx: RequestContext,
                                params: shapes.DescribeLoadBalancersInput) -> shapes.DescribeLoadBalancersOutput:
        arns, names = params.get("LoadBalancerArns"), params.get("Names")
        if arns and names:
            raise c.validation("Load balancer names and load balancer ARNs cannot be specified at the same time")
        if arns:
            records = [self._by_arn(ctx, a) for a in dict.fromkeys(arns)]
        elif names:
            records = [r for n in dict.fromkeys(names) for r in self._by_name(ctx, n)]
        else:
            records = ctx.tx.list(c.LOAD_BALANCER)
        return c.page([show(r) for r in records], params, "LoadBalancers")

    @staticmethod
    def _by_arn(ctx: RequestContext, value: str) -> Record:
        c.check_arn(c.LOAD_BALANCER, value)
        record = c.find(ctx, c.LOAD_BALANCER, value)
        if record is None:
            raise c.error("LoadBalancerNotFound", "One or more load balancers not found")
        return record

    @staticmethod
    def _by_name(ctx: RequestContext, name: str) -> list[Record]:
        found = [r for t in c.TYPE_PATHS if (r := ctx.tx.by_name(c.LOAD_BALANCER, f"{t}/{name}")) is not None]
        if not found:
            raise c.error("LoadBalancerNotFound", f"Load balancers '[{name}]' not found")
        return found

    def delete_load_balancer(self, ctx: RequestContext,
                             params: shapes.DeleteLoadBalancerInput) -> shapes.DeleteLoadBalancerOutput:
        value = params["LoadBalancerArn"]
        c.check_arn(c.LOAD_BALANCER, value)
        record = c.find(ctx, c.LOAD_BALANCER, value)
        if record is None:
            return {}  # "If the load balancer does not exist or has already been deleted, the call succeeds."
        if attributes(record).get("deletion_protection.enabled") == "true":
            raise c.error("OperationNotPermitted", f"Load balancer '{value}' cannot be deleted because deletion "
                          "protection is enabled")
        _refuse_if_serving_endpoints(ctx, record)
        for listener in ctx.tx.list(c.LISTENER, parent=record.id):
            ctx.tx.delete(c.LISTENER, listener.id)
        _detach_interfaces(ctx, record)
        ctx.tx.delete(c.LOAD_BALANCER, record.id)
        return {}

    def describe_load_balancer_attributes(
            self, ctx: RequestContext, params: shapes.DescribeLoadBalancerAttributesInput
    ) -> shapes.DescribeLoadBalancerAttributesOutput:
        record = c.require(ctx, c.LOAD_BALANCER, params["LoadBalancerArn"])
        return {"Attributes": c.as_list(attributes(record))}

    def modify_load_balancer_attributes(
            self, ctx: RequestContext, params: shapes.ModifyLoadBalancerAttributesInput
    ) -> shapes.ModifyLoadBalancerAttributesOutput:
        record = c.require(ctx, c.LOAD_BALANCER, params["LoadBalancerArn"])
        merged = c.merge_attributes(attributes(record), params["Attributes"],
                                    lambda k, v: _check_attribute(record, k, v))
        _check_logs(merged)
        record.internal["attributes"] = merged
        ctx.tx.put(record)
        return {"Attributes": c.as_list(merged)}

    def describe_capacity_reservation(
            self, ctx: RequestContext, params: shapes.DescribeCapacityReservationInput
    ) -> shapes.DescribeCapacityReservationOutput:
        # No minimum capacity is ever reserved: nothing is provisioned per zone.
        c.require(ctx, c.LOAD_BALANCER, params["LoadBalancerArn"])
        return {"CapacityReservationState": []}

    def set_security_groups(self, ctx: RequestContext,
                            params: shapes.SetSecurityGroupsInput) -> shapes.SetSecurityGroupsOutput:
        record = c.require(ctx, c.LOAD_BALANCER, params["LoadBalancerArn"])
        body, groups = record.body, params["SecurityGroups"]
        enforce = params.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic")
        if body["Type"] == "network":
            _check_nlb_groups(body, groups)
        elif enforce:
            raise c.validation("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic is only valid for Network "
                               "Load Balancers")
        _apply_security_groups(ctx, body, groups, enforce)
        _regroup_interfaces(ctx, record)
        ctx.tx.put(record)
        out: shapes.SetSecurityGroupsOutput = {"SecurityGroupIds": body["SecurityGroups"]}
        enforced = body.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic")
        if body["Type"] == "network" and enforced is not None:  # None is left out of the answer anyway
            out["EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"] = enforced
        return out

    def set_subnets(self, ctx: RequestContext, params: shapes.SetSubnetsInput) -> shapes.SetSubnetsOutput:
        record = c.require(ctx, c.LOAD_BALANCER, params["LoadBalancerArn"])
        body = record.body
        vpc_id, zones = placement(ctx, _mappings(params), body["Type"])
        if vpc_id != body["VpcId"]:
            raise c.error("InvalidConfigurationRequest", f"The subnets must belong to the load balancer's VPC "
                          f"'{body['VpcId']}'")
        body["AvailabilityZones"] = zones
        if params.get("IpAddressType"):
            body["IpAddressType"] = params["IpAddressType"]
        _detach_interfaces(ctx, record)
        _attach_interfaces(ctx, record)
        ctx.tx.put(record)
        return {"AvailabilityZones": zones, "IpAddressType": body["IpAddressType"]}

    def set_ip_address_type(self, ctx: RequestContext,
                            params: shapes.SetIpAddressTypeInput) -> shapes.SetIpAddressTypeOutput:
        record = c.require(ctx, c.LOAD_BALANCER, params["LoadBalancerArn"])
        wanted = params["IpAddressType"]
        if record.body["Type"] == "network" and wanted == "dualstack-without-public-ipv4":
            raise c.validation("IP address type 'dualstack-without-public-ipv4' is not supported by Network Load "
                               "Balancers")
        if wanted != "ipv4" and _has_udp_listener(ctx, record):
            raise c.error("InvalidConfigurationRequest", "You can't specify 'dualstack' for a load balancer with "
                          "a UDP or TCP_UDP listener")
        record.body["IpAddressType"] = wanted
        ctx.tx.put(record)
        return {"IpAddressType": wanted}

    def describe_account_limits(self, ctx: RequestContext,
                                params: shapes.DescribeAccountLimitsInput) -> shapes.DescribeAccountLimitsOutput:
        return c.page([{"Name": n, "Max": str(m)} for n, m in ACCOUNT_LIMITS.items()], params, "Limits")


# https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-limits.html
ACCOUNT_LIMITS = {
    "application-load-balancers": 50, "network-load-balancers": 50, "gateway-load-balancers": 100,
    "target-groups": 3000, "listeners-per-application-load-balancer": 50,
    "listeners-per-network-load-balancer": 50, "targets-per-network-load-balancer": 3000,
    "targets-per-application-load-balancer": 1000, "targets-per-target-group": 1000,
    "target-groups-per-action-on-network-load-balancer": 1, "target-groups-per-application-load-balancer": 100,
    "certificates-per-network-load-balancer": 25, "rules-per-application-load-balancer": 100,
}


def _check_nlb_groups(body: dict, groups: list[str]) -> None:
    """An NLB keeps security groups for life once it has some, and can never gain them later."""
    had = bool(body.get("SecurityGroups"))
    if not had and groups:
        raise c.error("InvalidConfigurationRequest", "You cannot set security groups on a Network Load Balancer "
                      "which was created without any security groups")
    if had and not groups:
        raise c.error("InvalidConfigurationRequest", "You cannot remove all security groups from a Network Load "
                      "Balancer which was created with security groups")


def _has_udp_listener(ctx: RequestContext, record: Record) -> bool:
    return any(l.body.get("Protocol") in ("UDP", "TCP_UDP") for l in ctx.tx.list(c.LISTENER, parent=record.id))
