"""The aws CLI (v1) against Latticework: every EC2 and ELBv2 operation, in a PrivateLink deployment.

``test_privatelink_through_the_cli`` builds what a team does to publish a service over AWS PrivateLink and
consume it from a second VPC, all through the CLI, in the order a user would build, inspect, change and tear it
down: two VPCs with subnets in two Availability Zones, security groups whose rules are authorized, modified and
revoked, route tables, an instance and network interfaces, an internal network load balancer with a TCP target
group and a listener, an endpoint service (acceptance required, allowed principals, a private DNS name verified
through the local "public DNS" file, a connection notification), Interface endpoints from the consumer VPC (one
accepted, one rejected), a ServiceNetwork endpoint and a Gateway endpoint to S3. The deliberate refusals along
the way (dependency violations, deleting a service with a live connection, deletion protection...) are checked
for AWS's error code.

The CLI runs in-process (``awscli.clidriver``, see ``test_awscli.py``); a botocore ``before-call`` hook records
every operation sent, and the test ends by comparing those with the operations the EC2 and ELBv2 providers
implement, so an operation added to a provider without a CLI walk here fails the test.
"""

from __future__ import annotations

import json

import pytest
from awscli.customizations import toplevelbool

from awscli_inproc import Cli, isolate
from latticework.services import build_apis

REGION = "us-east-1"
AMI = "ami-0123456789abcdef0"
S3 = f"com.amazonaws.{REGION}.s3"
PROVIDER_CIDR, CONSUMER_CIDR = "10.10.0.0/16", "10.20.0.0/16"
BUCKET_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
    "Resource": "arn:aws:s3:::payments-artifacts/*"}]})


def tags(resource_type: str, **pairs) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in pairs.items()]}]


def flt(**filters) -> list[dict]:
    """``--filters`` from keyword arguments; ``tag_Name`` stands for ``tag:Name``, ``_`` for ``-`` and ``.``."""
    out = []
    for name, values in filters.items():
        name = name.replace("tag_", "tag:", 1) if name.startswith("tag_") else name
        name = name.replace("__", ".").replace("_", "-")
        out.append({"Name": name, "Values": values if isinstance(values, list) else [str(values)]})
    return out


def _validate_boolean_pairs(boolean_pairs, parsed_args, **kwargs):
    """awscli's ``--flag``/``--no-flag`` check, tolerant of the other commands of a long-lived driver.

    The CLI registers this check on ``operation-args-parsed.ec2.*`` each time it builds an EC2 command whose
    arguments have a ``{Value: bool}`` shape (``modify-vpc-attribute``...). A one-shot ``aws`` process builds one
    command; a driver reused in-process keeps every registration, and the stale ones look up flags the current
    command does not have. Skipping missing flags keeps the check for the command that has them.
    """
    missing = toplevelbool._NOT_SPECIFIED
    for positive, negative in boolean_pairs:
        if getattr(parsed_args, positive.py_name, missing) is not missing \
                and getattr(parsed_args, negative.py_name, missing) is not missing:
            raise ValueError(f'Cannot specify both the "{positive.cli_name}" option and the '
                             f'"{negative.cli_name}" option.')


@pytest.fixture
def cli(clients, monkeypatch, tmp_path) -> Cli:
    """A CLI authenticated as the test's own account, blind to any user-level aws config."""
    monkeypatch.setattr(toplevelbool, "validate_boolean_mutex_groups", _validate_boolean_pairs)
    isolate(monkeypatch, tmp_path, clients.n, REGION)
    return Cli(clients.server.url)


class PrivateLink:
    """Builds, inspects, changes and tears down a PrivateLink deployment through the CLI."""

    def __init__(self, cli: Cli, clients):
        self.cli, self.account = cli, clients.account
        self.state_dir = clients.server.state.parent  # home of the local public DNS and notification files
        self.ids: dict[str, str] = {}
        self.domain = f"payments-{self.account}.example.com"
        self.topic = f"arn:aws:sns:{REGION}:{self.account}:privatelink-events"

    # -- the Region ---------------------------------------------------------------------------

    def region(self):
        attributes = self.cli.ec2("describe-account-attributes", "--attribute-names", "default-vpc")
        assert attributes["AccountAttributes"] == [
            {"AttributeName": "default-vpc", "AttributeValues": [{"AttributeValue": "none"}]}]
        zones = self.cli.ec2("describe-availability-zones")["AvailabilityZones"]
        assert [z["ZoneName"] for z in zones] == [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        picked = self.cli.ec2("describe-availability-zones", "--filters", flt(zone_id="use1-az2"))
        assert [z["ZoneName"] for z in picked["AvailabilityZones"]] == [f"{REGION}b"]

    # -- VPCs and subnets ---------------------------------------------------------------------

    def vpcs(self):
        for key, cidr in (("provider", PROVIDER_CIDR), ("consumer", CONSUMER_CIDR)):
            vpc = self.cli.ec2("create-vpc", "--cidr-block", cidr,
                               "--tag-specifications", tags("vpc", Name=key))["Vpc"]
            assert (vpc["CidrBlock"], vpc["State"], vpc["IsDefault"]) == (cidr, "available", False)
            self.ids[key] = vpc["VpcId"]
        listed = self.cli.ec2("describe-vpcs", "--filters", flt(tag_Name=["provider", "consumer"]))["Vpcs"]
        assert {v["VpcId"] for v in listed} == {self.ids["provider"], self.ids["consumer"]}
        self.dns_attributes()

    def dns_attributes(self):
        """Interface endpoints with private DNS need DNS support and hostnames in the consumer VPC."""
        consumer = self.ids["consumer"]
        hostnames = lambda: self.cli.ec2("describe-vpc-attribute", "--vpc-id", consumer,
                                         "--attribute", "enableDnsHostnames")["EnableDnsHostnames"]["Value"]
        assert hostnames() is False
        assert self.cli.ec2("modify-vpc-attribute", "--vpc-id", consumer, "--enable-dns-hostnames") == {}
        assert hostnames() is True
        support = self.cli.ec2("describe-vpc-attribute", "--vpc-id", consumer, "--attribute", "enableDnsSupport")
        assert (support["VpcId"], support["EnableDnsSupport"]["Value"]) == (consumer, True)

    def subnets(self):
        for vpc, second in (("provider", 10), ("consumer", 20)):
            for zone, third in (("a", 1), ("b", 2)):
                cidr = f"10.{second}.{third}.0/24"
                subnet = self.cli.ec2("create-subnet", "--vpc-id", self.ids[vpc], "--cidr-block", cidr,
                                      "--availability-zone", f"{REGION}{zone}",
                                      "--tag-specifications", tags("subnet", Name=f"{vpc}-{zone}"))["Subnet"]
                assert (subnet["AvailabilityZone"], subnet["AvailableIpAddressCount"]) == (f"{REGION}{zone}", 251)
                self.ids[f"{vpc}-{zone}"] = subnet["SubnetId"]
        self.cli.fails("InvalidSubnet.Conflict", "ec2", "create-subnet", "--vpc-id", self.ids["provider"],
                       "--cidr-block", "10.10.1.128/25")
        assert self.cli.ec2("modify-subnet-attribute", "--subnet-id", self.ids["consumer-a"],
                            "--private-dns-hostname-type-on-launch", "resource-name") == {}
        listed = self.cli.ec2("describe-subnets", "--filters", flt(vpc_id=self.ids["consumer"]))["Subnets"]
        assert {s["SubnetId"]: s["PrivateDnsNameOptionsOnLaunch"]["HostnameType"] for s in listed} == {
            self.ids["consumer-a"]: "resource-name", self.ids["consumer-b"]: "ip-name"}
        acls = self.cli.ec2("describe-network-acls", "--filters",
                            flt(vpc_id=self.ids["provider"], default="true"))["NetworkAcls"]
        assert len(acls) == 1 and {a["SubnetId"] for a in acls[0]["Associations"]} == {
            self.ids["provider-a"], self.ids["provider-b"]}

    # -- security groups ----------------------------------------------------------------------

    def security_groups(self):
        for key, vpc, description in (("nlb-sg", "provider", "payments NLB"),
                                      ("app-sg", "provider", "payments instances"),
                                      ("endpoint-sg", "consumer", "payments endpoint")):
            created = self.cli.ec2("create-security-group", "--group-name", key, "--description", description,
                                   "--vpc-id", self.ids[vpc], "--tag-specifications",
                                   tags("security-group", Name=key))
            assert created["GroupId"].startswith("sg-") and created["Tags"] == [{"Key": "Name", "Value": key}]
            self.ids[key] = created["GroupId"]
        self.cli.fails("InvalidGroup.Duplicate", "ec2", "create-security-group", "--group-name", "app-sg",
                       "--description", "again", "--vpc-id", self.ids["provider"])
        self.rules()

    def rules(self):
        # Terraform-style: drop the default allow-all egress of the NLB's group, then allow what it needs.
        revoked = self.cli.ec2("revoke-security-group-egress", "--group-id", self.ids["nlb-sg"], "--ip-permissions",
                               [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        assert [r["IsEgress"] for r in revoked["RevokedSecurityGroupRules"]] == [True]
        self.authorize("ingress", "nlb-sg", 443, IpRanges=[{"CidrIp": CONSUMER_CIDR, "Description": "consumers"}])
        self.authorize("egress", "nlb-sg", 8443, UserIdGroupPairs=[{"GroupId": self.ids["app-sg"]}])
        self.authorize("ingress", "app-sg", 8443, UserIdGroupPairs=[{"GroupId": self.ids["nlb-sg"]}])
        self.ids["endpoint-443"] = self.authorize("ingress", "endpoint-sg", 443, IpRanges=[{"CidrIp": "10.20.1.0/24"}])
        ssh = self.authorize("ingress", "endpoint-sg", 22, IpRanges=[{"CidrIp": CONSUMER_CIDR}])
        self.cli.fails("InvalidPermission.Duplicate", "ec2", "authorize-security-group-ingress", "--group-id",
                       self.ids["endpoint-sg"], "--ip-permissions", [_tcp(22, IpRanges=[{"CidrIp": CONSUMER_CIDR}])])
        revoked = self.cli.ec2("revoke-security-group-ingress", "--group-id", self.ids["endpoint-sg"],
                               "--security-group-rule-ids", ssh)
        assert [r["SecurityGroupRuleId"] for r in revoked["RevokedSecurityGroupRules"]] == [ssh]
        self.cli.fails("InvalidPermission.NotFound", "ec2", "revoke-security-group-ingress", "--group-id",
                       self.ids["endpoint-sg"], "--ip-permissions", [_tcp(22, IpRanges=[{"CidrIp": CONSUMER_CIDR}])])
        self.modify_rule()
        self.describe_groups()

    def authorize(self, direction: str, group: str, port: int, **peers) -> str:
        added = self.cli.ec2(f"authorize-security-group-{direction}", "--group-id", self.ids[group],
                             "--ip-permissions", [_tcp(port, **peers)])
        assert added["Return"] is True
        (rule,) = added["SecurityGroupRules"]
        assert (rule["IsEgress"], rule["FromPort"], rule["ToPort"]) == (direction == "egress", port, port)
        return rule["SecurityGroupRuleId"]

    def modify_rule(self):
        """Open the endpoint's port 443 from the first consumer subnet to the whole VPC (the rule id stays)."""
        rule_id = self.ids["endpoint-443"]
        change = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv4": CONSUMER_CIDR,
                  "Description": "consumer VPC"}
        assert self.cli.ec2("modify-security-group-rules", "--group-id", self.ids["endpoint-sg"],
                            "--security-group-rules", [{"SecurityGroupRuleId": rule_id,
                                                        "SecurityGroupRule": change}])["Return"] is True
        (rule,) = self.cli.ec2("describe-security-group-rules", "--security-group-rule-ids",
                               rule_id)["SecurityGroupRules"]
        assert (rule["CidrIpv4"], rule["Description"], rule["GroupId"]) == (
            CONSUMER_CIDR, "consumer VPC", self.ids["endpoint-sg"])

    def describe_groups(self):
        rules = self.cli.ec2("describe-security-group-rules", "--filters",
                             flt(group_id=self.ids["nlb-sg"]))["SecurityGroupRules"]
        assert sorted((r["IsEgress"], r["FromPort"]) for r in rules) == [(False, 443), (True, 8443)]
        groups = self.cli.ec2("describe-security-groups", "--filters",
                              flt(vpc_id=self.ids["provider"]))["SecurityGroups"]
        assert sorted(g["GroupName"] for g in groups) == ["app-sg", "default", "nlb-sg"]
        (nlb,) = self.cli.ec2("describe-security-groups", "--group-ids", self.ids["nlb-sg"])["SecurityGroups"]
        assert nlb["IpPermissions"][0]["IpRanges"] == [{"CidrIp": CONSUMER_CIDR, "Description": "consumers"}]
        assert [p["GroupId"] for p in nlb["IpPermissionsEgress"][0]["UserIdGroupPairs"]] == [self.ids["app-sg"]]
        by_peer = self.cli.ec2("describe-security-groups", "--filters",
                               flt(ip_permission__group_id=self.ids["nlb-sg"]))["SecurityGroups"]
        assert [g["GroupId"] for g in by_peer] == [self.ids["app-sg"]]

    # -- compute --------------------------------------------------------------------------------

    def compute(self):
        run = self.cli.ec2("run-instances", "--image-id", AMI, "--instance-type", "t3.micro", "--count", 1,
                           "--subnet-id", self.ids["provider-a"], "--security-group-ids", self.ids["app-sg"],
                           "--tag-specifications", tags("instance", Name="payments-1"))
        (instance,) = run["Instances"]
        assert (instance["State"]["Name"], instance["PrivateIpAddress"]) == ("running", "10.10.1.4")
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [self.ids["app-sg"]]
        self.ids["instance"] = instance["InstanceId"]
        self.ids["instance-eni"] = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
        found = self.cli.ec2("describe-instances", "--filters",
                             flt(instance_state_name="running", vpc_id=self.ids["provider"]))["Reservations"]
        assert [i["InstanceId"] for r in found for i in r["Instances"]] == [self.ids["instance"]]
        # An appliance interface in the consumer VPC, the next hop of an on-premises route below.
        eni = self.cli.ec2("create-network-interface", "--subnet-id", self.ids["consumer-a"], "--description",
                           "on-premises proxy", "--groups", self.ids["endpoint-sg"], "--tag-specifications",
                           tags("network-interface", Name="proxy"))["NetworkInterface"]
        assert (eni["PrivateIpAddress"], eni["Status"], eni["VpcId"]) == ("10.20.1.4", "available",
                                                                          self.ids["consumer"])
        assert eni["TagSet"] == [{"Key": "Name", "Value": "proxy"}]
        self.ids["proxy-eni"] = eni["NetworkInterfaceId"]
        attached = self.cli.ec2("describe-network-interfaces", "--filters",
                                flt(attachment__instance_id=self.ids["instance"]))["NetworkInterfaces"]
        assert [(e["NetworkInterfaceId"], e["Status"]) for e in attached] == [(self.ids["instance-eni"], "in-use")]
        self.cli.fails("InvalidNetworkInterface.InUse", "ec2", "delete-network-interface",
                       "--network-interface-id", self.ids["instance-eni"])

    # -- route tables ---------------------------------------------------------------------------

    def route_tables(self):
        consumer = self.ids["consumer"]
        (main,) = self.cli.ec2("describe-route-tables", "--filters",
                               flt(vpc_id=consumer, association__main="true"))["RouteTables"]
        assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in main["Routes"]] == [(CONSUMER_CIDR, "local")]
        for key in ("private-rt", "isolated-rt"):
            table = self.cli.ec2("create-route-table", "--vpc-id", consumer,
                                 "--tag-specifications", tags("route-table", Name=key))["RouteTable"]
            assert table["VpcId"] == consumer and table["Associations"] == []
            self.ids[key] = table["RouteTableId"]
        for zone in ("a", "b"):
            assoc = self.cli.ec2("associate-route-table", "--route-table-id", self.ids["private-rt"],
                                 "--subnet-id", self.ids[f"consumer-{zone}"])
            assert assoc["AssociationState"]["State"] == "associated"
            self.ids[f"assoc-{zone}"] = assoc["AssociationId"]
        self.cli.fails("Resource.AlreadyAssociated", "ec2", "associate-route-table", "--route-table-id",
                       self.ids["isolated-rt"], "--subnet-id", self.ids["consumer-a"])
        moved = self.cli.ec2("replace-route-table-association", "--association-id", self.ids["assoc-b"],
                             "--route-table-id", self.ids["isolated-rt"])
        self.ids["assoc-b"] = moved["NewAssociationId"]
        assert moved["AssociationState"]["State"] == "associated"
        self.routes()

    def routes(self):
        table = self.ids["private-rt"]
        assert self.cli.ec2("create-route", "--route-table-id", table, "--destination-cidr-block",
                            "192.168.0.0/16", "--network-interface-id", self.ids["proxy-eni"])["Return"] is True
        self.cli.fails("RouteAlreadyExists", "ec2", "create-route", "--route-table-id", table,
                       "--destination-cidr-block", "192.168.0.0/16", "--network-interface-id", self.ids["proxy-eni"])
        assert self.cli.ec2("create-route", "--route-table-id", table, "--destination-cidr-block",
                            "172.16.0.0/12", "--network-interface-id", self.ids["proxy-eni"])["Return"] is True
        assert self.cli.ec2("delete-route", "--route-table-id", table,
                            "--destination-cidr-block", "172.16.0.0/12") == {}
        (got,) = self.cli.ec2("describe-route-tables", "--route-table-ids", table)["RouteTables"]
        assert [(r.get("DestinationCidrBlock"), r.get("NetworkInterfaceId")) for r in got["Routes"]] == [
            (CONSUMER_CIDR, None), ("192.168.0.0/16", self.ids["proxy-eni"])]
        assert [a["SubnetId"] for a in got["Associations"]] == [self.ids["consumer-a"]]
        self.cli.fails("DependencyViolation", "ec2", "delete-route-table", "--route-table-id", table)

    # -- the network load balancer ----------------------------------------------------------------

    def load_balancer(self):
        lb = self.cli.elbv2("create-load-balancer", "--name", "payments-nlb", "--type", "network", "--scheme",
                            "internal", "--subnets", self.ids["provider-a"], "--security-groups", self.ids["nlb-sg"],
                            "--tags", [{"Key": "team", "Value": "payments"}])["LoadBalancers"][0]
        assert ":loadbalancer/net/payments-nlb/" in lb["LoadBalancerArn"]
        assert (lb["State"]["Code"], lb["Scheme"], lb["VpcId"]) == ("provisioning", "internal", self.ids["provider"])
        self.ids["lb"] = lb["LoadBalancerArn"]
        placed = self.cli.elbv2("set-subnets", "--load-balancer-arn", lb["LoadBalancerArn"], "--subnets",
                                self.ids["provider-a"], self.ids["provider-b"])
        assert sorted(z["ZoneName"] for z in placed["AvailabilityZones"]) == [f"{REGION}a", f"{REGION}b"]
        groups = self.cli.elbv2("set-security-groups", "--load-balancer-arn", self.ids["lb"], "--security-groups",
                                self.ids["nlb-sg"], "--enforce-security-group-inbound-rules-on-private-link-traffic",
                                "off")
        assert groups == {"SecurityGroupIds": [self.ids["nlb-sg"]],
                          "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic": "off"}
        assert self.cli.elbv2("set-ip-address-type", "--load-balancer-arn", self.ids["lb"],
                              "--ip-address-type", "ipv4") == {"IpAddressType": "ipv4"}
        (shown,) = self.cli.elbv2("describe-load-balancers", "--names", "payments-nlb")["LoadBalancers"]
        assert (shown["State"]["Code"], shown["Type"], shown["DNSName"]) == ("active", "network", lb["DNSName"])
        self.lb_attributes()

    def lb_attributes(self):
        arn = ("--load-balancer-arn", self.ids["lb"])
        before = _attrs(self.cli.elbv2("describe-load-balancer-attributes", *arn))
        assert (before["deletion_protection.enabled"], before["load_balancing.cross_zone.enabled"]) == (
            "false", "false")
        after = _attrs(self.cli.elbv2("modify-load-balancer-attributes", *arn, "--attributes", [
            {"Key": "load_balancing.cross_zone.enabled", "Value": "true"},
            {"Key": "deletion_protection.enabled", "Value": "true"}]))
        assert (after["deletion_protection.enabled"], after["load_balancing.cross_zone.enabled"]) == ("true", "true")
        assert self.cli.elbv2("describe-capacity-reservation", *arn)["CapacityReservationState"] == []
        limits = {l["Name"]: l["Max"] for l in self.cli.elbv2("describe-account-limits")["Limits"]}
        assert limits["network-load-balancers"] == "50"

    def target_group(self):
        tg = self.cli.elbv2("create-target-group", "--name", "payments-tg", "--protocol", "TCP", "--port", 8443,
                            "--vpc-id", self.ids["provider"], "--target-type", "instance",
                            "--health-check-protocol", "HTTP", "--health-check-path", "/healthz")["TargetGroups"][0]
        assert (tg["Protocol"], tg["Port"], tg["HealthCheckPath"], tg["Matcher"]) == (
            "TCP", 8443, "/healthz", {"HttpCode": "200-399"})
        self.ids["tg"] = arn = tg["TargetGroupArn"]
        changed = self.cli.elbv2("modify-target-group", "--target-group-arn", arn,
                                 "--health-check-interval-seconds", 10, "--healthy-threshold-count", 3)
        assert (changed["TargetGroups"][0]["HealthCheckIntervalSeconds"],
                changed["TargetGroups"][0]["HealthyThresholdCount"]) == (10, 3)
        attributes = _attrs(self.cli.elbv2("describe-target-group-attributes", "--target-group-arn", arn))
        assert (attributes["deregistration_delay.timeout_seconds"], attributes["preserve_client_ip.enabled"]) == (
            "300", "true")
        attributes = _attrs(self.cli.elbv2("modify-target-group-attributes", "--target-group-arn", arn,
                                           "--attributes", [{"Key": "deregistration_delay.timeout_seconds",
                                                             "Value": "30"}]))
        assert attributes["deregistration_delay.timeout_seconds"] == "30"
        assert self.cli.elbv2("register-targets", "--target-group-arn", arn, "--targets",
                              [{"Id": self.ids["instance"]}, {"Id": "i-0123456789abcdef0"}]) == {}
        assert self.cli.elbv2("deregister-targets", "--target-group-arn", arn, "--targets",
                              [{"Id": "i-0123456789abcdef0"}]) == {}
        assert self.health() == [(self.ids["instance"], "unused", "Target.NotInUse")]

    def health(self) -> list[tuple]:
        found = self.cli.elbv2("describe-target-health", "--target-group-arn", self.ids["tg"])
        return [(h["Target"]["Id"], h["TargetHealth"]["State"], h["TargetHealth"].get("Reason"))
                for h in found["TargetHealthDescriptions"]]

    def listener(self):
        created = self.cli.elbv2("create-listener", "--load-balancer-arn", self.ids["lb"], "--protocol", "TCP",
                                 "--port", 80, "--default-actions",
                                 [{"Type": "forward", "TargetGroupArn": self.ids["tg"]}])["Listeners"][0]
        self.ids["listener"] = arn = created["ListenerArn"]
        assert created["DefaultActions"][0]["TargetGroupArn"] == self.ids["tg"]
        moved = self.cli.elbv2("modify-listener", "--listener-arn", arn, "--port", 443)["Listeners"][0]
        assert (moved["Port"], moved["Protocol"]) == (443, "TCP")
        (listed,) = self.cli.elbv2("describe-listeners", "--load-balancer-arn", self.ids["lb"])["Listeners"]
        assert (listed["ListenerArn"], listed["Port"]) == (arn, 443)
        assert _attrs(self.cli.elbv2("describe-listener-attributes", "--listener-arn", arn)) == {
            "tcp.idle_timeout.seconds": "350"}
        assert _attrs(self.cli.elbv2("modify-listener-attributes", "--listener-arn", arn, "--attributes",
                                     [{"Key": "tcp.idle_timeout.seconds", "Value": "120"}])) == {
            "tcp.idle_timeout.seconds": "120"}
        # In use: health checks start at once, so the reason may already be the checking one.
        ((target, state, reason),) = self.health()
        assert (target, state) == (self.ids["instance"], "initial")
        assert reason in ("Elb.RegistrationInProgress", "Elb.InitialHealthChecking")
        (tg,) = self.cli.elbv2("describe-target-groups", "--load-balancer-arn", self.ids["lb"])["TargetGroups"]
        assert (tg["TargetGroupArn"], tg["LoadBalancerArns"]) == (self.ids["tg"], [self.ids["lb"]])
        self.cli.fails("ResourceInUse", "elbv2", "delete-target-group", "--target-group-arn", self.ids["tg"])

    def listener_certificates(self):
        """A TLS listener's extra certificates (chosen by SNI): added, listed beside the default, removed."""
        base = f"arn:aws:acm:{REGION}:{self.account}:certificate/0a1b2c3d-0000-4000-8000-0000000000"
        default, extra = base + "01", base + "02"
        tls = self.cli.elbv2("create-listener", "--load-balancer-arn", self.ids["lb"], "--protocol", "TLS",
                             "--port", 8443, "--certificates", [{"CertificateArn": default}], "--default-actions",
                             [{"Type": "forward", "TargetGroupArn": self.ids["tg"]}])["Listeners"][0]["ListenerArn"]
        added = self.cli.elbv2("add-listener-certificates", "--listener-arn", tls, "--certificates",
                               [{"CertificateArn": extra}])["Certificates"]
        assert [c["CertificateArn"] for c in added] == [extra]
        listed = self.cli.elbv2("describe-listener-certificates", "--listener-arn", tls)["Certificates"]
        assert {(c["CertificateArn"], c["IsDefault"]) for c in listed} == {(default, True), (extra, False)}
        self.cli.fails("OperationNotPermitted", "elbv2", "remove-listener-certificates", "--listener-arn", tls,
                       "--certificates", [{"CertificateArn": default}])
        assert self.cli.elbv2("remove-listener-certificates", "--listener-arn", tls, "--certificates",
                              [{"CertificateArn": extra}]) == {}
        assert self.cli.elbv2("delete-listener", "--listener-arn", tls) == {}

    def elb_tags(self):
        arns = [self.ids["lb"], self.ids["tg"], self.ids["listener"]]
        assert self.cli.elbv2("add-tags", "--resource-arns", *arns, "--tags",
                              [{"Key": "env", "Value": "prod"}, {"Key": "temp", "Value": "1"}]) == {}
        assert self.cli.elbv2("remove-tags", "--resource-arns", *arns, "--tag-keys", "temp") == {}
        described = self.cli.elbv2("describe-tags", "--resource-arns", *arns)["TagDescriptions"]
        assert {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]} for d in described} == {
            self.ids["lb"]: {"team": "payments", "env": "prod"}, self.ids["tg"]: {"env": "prod"},
            self.ids["listener"]: {"env": "prod"}}

    # -- the endpoint service (provider side) --------------------------------------------------------

    def endpoint_service(self):
        created = self.cli.ec2("create-vpc-endpoint-service-configuration", "--network-load-balancer-arns",
                               self.ids["lb"], "--no-acceptance-required", "--private-dns-name", self.domain,
                               "--tag-specifications", tags("vpc-endpoint-service", Name="payments"))
        service = created["ServiceConfiguration"]
        self.ids["service"], self.ids["service-name"] = service["ServiceId"], service["ServiceName"]
        assert service["ServiceName"] == f"com.amazonaws.vpce.{REGION}.{service['ServiceId']}"
        assert (service["ServiceState"], service["AcceptanceRequired"], service["SupportedIpAddressTypes"]) == (
            "Available", False, ["ipv4"])
        assert service["AvailabilityZones"] == [f"{REGION}a", f"{REGION}b"]
        assert service["PrivateDnsNameConfiguration"]["State"] == "pendingVerification"
        # The provider decides to review every connection.
        assert self.cli.ec2("modify-vpc-endpoint-service-configuration", "--service-id", self.ids["service"],
                            "--acceptance-required")["Return"] is True
        assert self.cli.ec2("modify-vpc-endpoint-service-payer-responsibility", "--service-id", self.ids["service"],
                            "--payer-responsibility", "ServiceOwner")["ReturnValue"] is True
        self.permissions()
        self.verify_private_dns()
        self.notification()
        (config,) = self.cli.ec2("describe-vpc-endpoint-service-configurations", "--filters",
                                 flt(service_name=self.ids["service-name"]))["ServiceConfigurations"]
        assert (config["AcceptanceRequired"], config["PayerResponsibility"], config["PrivateDnsName"]) == (
            True, "ServiceOwner", self.domain)
        assert config["PrivateDnsNameConfiguration"]["State"] == "verified"

    def permissions(self):
        service = ("--service-id", self.ids["service"])
        partner = "arn:aws:iam::111122223333:root"
        added = self.cli.ec2("modify-vpc-endpoint-service-permissions", *service, "--add-allowed-principals",
                             f"arn:aws:iam::{self.account}:root", partner)["AddedPrincipals"]
        assert {(p["Principal"], p["PrincipalType"]) for p in added} == {
            (f"arn:aws:iam::{self.account}:root", "Account"), (partner, "Account")}
        assert self.cli.ec2("modify-vpc-endpoint-service-permissions", *service, "--remove-allowed-principals",
                            partner)["ReturnValue"] is True
        allowed = self.cli.ec2("describe-vpc-endpoint-service-permissions", *service)["AllowedPrincipals"]
        assert [(p["Principal"], p["ServiceId"]) for p in allowed] == [
            (f"arn:aws:iam::{self.account}:root", self.ids["service"])]

    def verify_private_dns(self):
        """The TXT record answered at creation must be published before verification succeeds."""
        service = ("--service-id", self.ids["service"])
        verification = lambda: self.cli.ec2("describe-vpc-endpoint-service-configurations", "--service-ids",
                                            self.ids["service"])["ServiceConfigurations"][0][
            "PrivateDnsNameConfiguration"]
        record = verification()
        assert (record["Type"], record["Name"][0], record["Value"][:5]) == ("TXT", "_", "vpce:")
        assert self.cli.ec2("start-vpc-endpoint-service-private-dns-verification", *service)["ReturnValue"] is True
        assert verification()["State"] == "failed"
        with (self.state_dir / "public-dns.txt").open("a") as zone:
            zone.write(f'{record["Name"]}.{self.domain} IN TXT "{record["Value"]}"\n')
        assert self.cli.ec2("start-vpc-endpoint-service-private-dns-verification", *service)["ReturnValue"] is True
        assert verification()["State"] == "verified"

    def notification(self):
        created = self.cli.ec2("create-vpc-endpoint-connection-notification", "--service-id", self.ids["service"],
                               "--connection-notification-arn", self.topic, "--connection-events", "Connect",
                               "Accept", "Reject")["ConnectionNotification"]
        assert (created["ConnectionNotificationState"], created["ServiceId"], created["ConnectionEvents"]) == (
            "Enabled", self.ids["service"], ["Connect", "Accept", "Reject"])
        self.ids["notification"] = created["ConnectionNotificationId"]

    # -- endpoints (consumer side) ---------------------------------------------------------------------

    def catalogue(self):
        (detail,) = self.cli.ec2("describe-vpc-endpoint-services", "--service-names",
                                 self.ids["service-name"])["ServiceDetails"]
        assert (detail["Owner"], detail["AcceptanceRequired"], detail["PrivateDnsNameVerificationState"]) == (
            self.account, True, "verified")
        s3 = self.cli.ec2("describe-vpc-endpoint-services", "--filters", flt(service_name=S3,
                                                                            service_type="Gateway"))
        assert [d["ServiceType"] for d in s3["ServiceDetails"]] == [[{"ServiceType": "Gateway"}]]
        self.cli.fails("InvalidServiceName", "ec2", "create-vpc-endpoint", "--vpc-endpoint-type", "Interface",
                       "--vpc-id", self.ids["consumer"], "--service-name",
                       f"com.amazonaws.vpce.{REGION}.vpce-svc-0123456789abcdef0",
                       "--subnet-ids", self.ids["consumer-a"])

    def interface_endpoints(self):
        consumer = ("--vpc-endpoint-type", "Interface", "--vpc-id", self.ids["consumer"],
                    "--service-name", self.ids["service-name"], "--security-group-ids", self.ids["endpoint-sg"])
        payments = self.cli.ec2("create-vpc-endpoint", *consumer, "--subnet-ids", self.ids["consumer-a"],
                                "--private-dns-enabled", "--tag-specifications",
                                tags("vpc-endpoint", Name="payments"))["VpcEndpoint"]
        assert (payments["State"], payments["PrivateDnsEnabled"]) == ("pendingAcceptance", True)
        assert payments["DnsEntries"][0]["DnsName"].endswith(f".{self.ids['service']}.{REGION}.vpce.amazonaws.com")
        assert payments["DnsEntries"][-1]["DnsName"] == self.domain
        self.ids["vpce"] = payments["VpcEndpointId"]
        assert self.cli.ec2("modify-vpc-endpoint", "--vpc-endpoint-id", self.ids["vpce"], "--add-subnet-ids",
                            self.ids["consumer-b"])["Return"] is True
        # A second consumer (a staging stack) that the provider will turn down.
        staging = self.cli.ec2("create-vpc-endpoint", *consumer, "--subnet-ids", self.ids["consumer-b"],
                               "--no-private-dns-enabled")["VpcEndpoint"]
        assert (staging["State"], staging["PrivateDnsEnabled"]) == ("pendingAcceptance", False)
        self.ids["staging"] = staging["VpcEndpointId"]
        self.connections()

    def connections(self):
        service = ("--service-id", self.ids["service"])
        pending = self.cli.ec2("describe-vpc-endpoint-connections", "--filters",
                               flt(service_id=self.ids["service"]))["VpcEndpointConnections"]
        assert {(c["VpcEndpointId"], c["VpcEndpointState"], c["VpcEndpointOwner"]) for c in pending} == {
            (self.ids["vpce"], "pendingAcceptance", self.account),
            (self.ids["staging"], "pendingAcceptance", self.account)}
        assert all(c["NetworkLoadBalancerArns"] == [self.ids["lb"]] for c in pending)
        assert self.cli.ec2("accept-vpc-endpoint-connections", *service, "--vpc-endpoint-ids",
                            self.ids["vpce"])["Unsuccessful"] == []
        assert self.cli.ec2("reject-vpc-endpoint-connections", *service, "--vpc-endpoint-ids",
                            self.ids["staging"])["Unsuccessful"] == []
        accepted = self.cli.ec2("describe-vpc-endpoint-connections", "--filters",
                                flt(vpc_endpoint_state="available"))["VpcEndpointConnections"]
        assert [c["VpcEndpointId"] for c in accepted] == [self.ids["vpce"]]
        states = self.cli.ec2("describe-vpc-endpoints", "--vpc-endpoint-ids", self.ids["vpce"], self.ids["staging"])
        assert {e["VpcEndpointId"]: e["State"] for e in states["VpcEndpoints"]} == {
            self.ids["vpce"]: "available", self.ids["staging"]: "rejected"}

    def service_network_endpoint(self):
        """A VPC Lattice service network reached from the consumer VPC through an endpoint."""
        network = self.cli.call("vpc-lattice", "create-service-network", "--name", "payments-net")
        endpoint = self.cli.ec2("create-vpc-endpoint", "--vpc-endpoint-type", "ServiceNetwork", "--vpc-id",
                                self.ids["consumer"], "--service-network-arn", network["arn"], "--subnet-ids",
                                self.ids["consumer-a"], "--security-group-ids", self.ids["endpoint-sg"])["VpcEndpoint"]
        assert (endpoint["State"], endpoint["ServiceNetworkArn"]) == ("available", network["arn"])
        self.ids["sn-vpce"], self.ids["sn"] = endpoint["VpcEndpointId"], network["id"]
        (association,) = self.cli.ec2("describe-vpc-endpoint-associations", "--vpc-endpoint-ids",
                                      endpoint["VpcEndpointId"])["VpcEndpointAssociations"]
        assert (association["ServiceNetworkArn"], association["ServiceNetworkName"]) == (network["arn"],
                                                                                       "payments-net")
        payer = self.cli.ec2("modify-vpc-endpoint-payer-responsibility", "--vpc-endpoint-id",
                             endpoint["VpcEndpointId"], "--scope", "vpc-endpoint-charges",
                             "--payer-responsibility", "vpc-endpoint-account")
        assert payer["PayerResponsibilities"] == [{"Scope": "vpc-endpoint-charges",
                                                   "PayerResponsibilityType": "vpc-endpoint-account"}]

    def gateway_endpoint(self):
        (pl,) = self.cli.ec2("describe-prefix-lists", "--filters", flt(prefix_list_name=S3))["PrefixLists"]
        (managed,) = self.cli.ec2("describe-managed-prefix-lists", "--prefix-list-ids",
                                  pl["PrefixListId"])["PrefixLists"]
        assert (managed["PrefixListName"], managed["OwnerId"]) == (S3, "AWS")
        entries = self.cli.ec2("get-managed-prefix-list-entries", "--prefix-list-id", pl["PrefixListId"])["Entries"]
        assert [e["Cidr"] for e in entries] == pl["Cidrs"]
        gateway = self.cli.ec2("create-vpc-endpoint", "--vpc-id", self.ids["consumer"], "--service-name", S3,
                               "--route-table-ids", self.ids["private-rt"], "--policy-document",
                               BUCKET_POLICY)["VpcEndpoint"]
        assert (gateway["VpcEndpointType"], gateway["State"], gateway["RouteTableIds"]) == (
            "Gateway", "available", [self.ids["private-rt"]])
        assert json.loads(gateway["PolicyDocument"]) == json.loads(BUCKET_POLICY)
        self.ids["s3-vpce"], self.ids["s3-pl"] = gateway["VpcEndpointId"], pl["PrefixListId"]
        assert self.cli.ec2("modify-vpc-endpoint", "--vpc-endpoint-id", gateway["VpcEndpointId"], "--reset-policy",
                            "--add-route-table-ids", self.ids["isolated-rt"])["Return"] is True
        routed = self.cli.ec2("describe-route-tables", "--filters",
                              flt(route__destination_prefix_list_id=pl["PrefixListId"]))["RouteTables"]
        assert {t["RouteTableId"] for t in routed} == {self.ids["private-rt"], self.ids["isolated-rt"]}
        assert all(_gateway_of(t, pl["PrefixListId"]) == gateway["VpcEndpointId"] for t in routed)
        (shown,) = self.cli.ec2("describe-vpc-endpoints", "--filters",
                                flt(vpc_endpoint_type="Gateway", vpc_id=self.ids["consumer"]))["VpcEndpoints"]
        assert json.loads(shown["PolicyDocument"])["Statement"][0]["Action"] == "*"

    def endpoint_interfaces(self):
        managed = self.cli.ec2("describe-network-interfaces", "--filters",
                               flt(vpc_id=self.ids["consumer"], requester_managed="true"))["NetworkInterfaces"]
        assert sorted((e["SubnetId"], e["InterfaceType"]) for e in managed) == sorted([
            (self.ids["consumer-a"], "vpc_endpoint"), (self.ids["consumer-b"], "vpc_endpoint"),
            (self.ids["consumer-b"], "vpc_endpoint"), (self.ids["consumer-a"], "vpc_endpoint")])
        (payments,) = self.cli.ec2("describe-vpc-endpoints", "--filters",
                                   flt(tag_Name="payments"))["VpcEndpoints"]
        assert set(payments["NetworkInterfaceIds"]) <= {e["NetworkInterfaceId"] for e in managed}
        assert len(payments["NetworkInterfaceIds"]) == 2

    # -- refusals while everything is in use ------------------------------------------------------------

    def refusals(self):
        failed = self.cli.ec2("delete-vpc-endpoint-service-configurations", "--service-ids",
                              self.ids["service"])["Unsuccessful"]
        assert [(f["ResourceId"], f["Error"]["Code"]) for f in failed] == [
            (self.ids["service"], "ExistingVpcEndpointConnections")]
        self.cli.fails("DependencyViolation", "ec2", "delete-security-group", "--group-id", self.ids["endpoint-sg"])
        self.cli.fails("DependencyViolation", "ec2", "delete-subnet", "--subnet-id", self.ids["consumer-b"])
        self.cli.fails("DependencyViolation", "ec2", "delete-vpc", "--vpc-id", self.ids["consumer"])
        self.cli.fails("OperationNotPermitted", "elbv2", "delete-load-balancer", "--load-balancer-arn",
                       self.ids["lb"])

    # -- EC2 tags ---------------------------------------------------------------------------------------

    def ec2_tags(self):
        resources = [self.ids["consumer"], self.ids["vpce"], self.ids["service"], self.ids["private-rt"]]
        assert self.cli.ec2("create-tags", "--resources", *resources, "--tags", "Key=team,Value=payments",
                            "Key=temp,Value=1") == {}
        assert self.cli.ec2("delete-tags", "--resources", *resources, "--tags", "Key=temp") == {}
        described = self.cli.ec2("describe-tags", "--filters", flt(key="team", value="payments"))["Tags"]
        assert {(t["ResourceId"], t["ResourceType"]) for t in described} == {
            (self.ids["consumer"], "vpc"), (self.ids["vpce"], "vpc-endpoint"),
            (self.ids["service"], "vpc-endpoint-service"), (self.ids["private-rt"], "route-table")}
        assert self.cli.ec2("describe-tags", "--filters", flt(key="temp"))["Tags"] == []
        tagged = self.cli.ec2("describe-vpc-endpoint-service-configurations", "--filters",
                              flt(tag_team="payments"))["ServiceConfigurations"]
        assert [s["ServiceId"] for s in tagged] == [self.ids["service"]]

    # -- tear down, dependents first ----------------------------------------------------------------------

    def delete_endpoints(self):
        self.cli.ec2("modify-vpc-endpoint-connection-notification", "--connection-notification-id",
                     self.ids["notification"], "--connection-events", "Connect", "Accept", "Reject", "Delete")
        (watched,) = self.cli.ec2("describe-vpc-endpoint-connection-notifications", "--filters",
                                  flt(service_id=self.ids["service"]))["ConnectionNotificationSet"]
        assert watched["ConnectionEvents"] == ["Connect", "Accept", "Reject", "Delete"]
        endpoints = [self.ids[k] for k in ("vpce", "staging", "sn-vpce", "s3-vpce")]
        assert self.cli.ec2("delete-vpc-endpoints", "--vpc-endpoint-ids", *endpoints)["Unsuccessful"] == []
        self.cli.fails("InvalidVpcEndpointId.NotFound", "ec2", "describe-vpc-endpoints", "--vpc-endpoint-ids",
                       self.ids["vpce"])
        assert self.cli.ec2("describe-vpc-endpoint-connections")["VpcEndpointConnections"] == []
        routed = self.cli.ec2("describe-route-tables", "--filters",
                              flt(route__destination_prefix_list_id=self.ids["s3-pl"]))["RouteTables"]
        assert routed == []
        assert self.delivered() == [
            ("Connect", self.ids["vpce"], "pendingAcceptance"), ("Connect", self.ids["staging"], "pendingAcceptance"),
            ("Accept", self.ids["vpce"], "available"), ("Reject", self.ids["staging"], "rejected"),
            ("Delete", self.ids["vpce"], "deleted"), ("Delete", self.ids["staging"], "deleted")]
        self.cli.call("vpc-lattice", "delete-service-network", "--service-network-identifier", self.ids["sn"])

    def delivered(self) -> list[tuple]:
        path = self.state_dir / "notifications" / self.account / REGION / "privatelink-events.jsonl"
        messages = [json.loads(json.loads(line)["Message"]) for line in path.read_text().splitlines()]
        return [(m["eventType"], m["vpcEndpointId"], m["vpcEndpointState"]) for m in messages]

    def delete_service(self):
        gone = self.cli.ec2("delete-vpc-endpoint-connection-notifications", "--connection-notification-ids",
                            self.ids["notification"])
        assert gone["Unsuccessful"] == []
        assert self.cli.ec2("describe-vpc-endpoint-connection-notifications")["ConnectionNotificationSet"] == []
        assert self.cli.ec2("delete-vpc-endpoint-service-configurations", "--service-ids",
                            self.ids["service"])["Unsuccessful"] == []
        self.cli.fails("InvalidVpcEndpointServiceId.NotFound", "ec2", "describe-vpc-endpoint-service-configurations",
                       "--service-ids", self.ids["service"])

    def delete_load_balancer(self):
        self.cli.elbv2("modify-load-balancer-attributes", "--load-balancer-arn", self.ids["lb"], "--attributes",
                       [{"Key": "deletion_protection.enabled", "Value": "false"}])
        assert self.cli.elbv2("delete-listener", "--listener-arn", self.ids["listener"]) == {}
        assert self.cli.elbv2("delete-target-group", "--target-group-arn", self.ids["tg"]) == {}
        assert self.cli.elbv2("delete-load-balancer", "--load-balancer-arn", self.ids["lb"]) == {}
        self.cli.fails("LoadBalancerNotFound", "elbv2", "describe-load-balancers", "--names", "payments-nlb")
        self.cli.fails("TargetGroupNotFound", "elbv2", "describe-target-groups", "--names", "payments-tg")

    def delete_compute(self):
        (ending,) = self.cli.ec2("terminate-instances", "--instance-ids", self.ids["instance"])["TerminatingInstances"]
        assert (ending["PreviousState"]["Name"], ending["CurrentState"]["Name"]) == ("running", "shutting-down")
        (reservation,) = self.cli.ec2("describe-instances", "--instance-ids", self.ids["instance"])["Reservations"]
        assert reservation["Instances"][0]["State"]["Name"] == "terminated"
        self.cli.fails("InvalidNetworkInterfaceID.NotFound", "ec2", "describe-network-interfaces",
                       "--network-interface-ids", self.ids["instance-eni"])

    def delete_routing(self):
        table = self.ids["private-rt"]
        assert self.cli.ec2("delete-route", "--route-table-id", table,
                            "--destination-cidr-block", "192.168.0.0/16") == {}
        assert self.cli.ec2("delete-network-interface", "--network-interface-id", self.ids["proxy-eni"]) == {}
        for zone, key in (("a", "private-rt"), ("b", "isolated-rt")):
            assert self.cli.ec2("disassociate-route-table", "--association-id", self.ids[f"assoc-{zone}"]) == {}
            assert self.cli.ec2("delete-route-table", "--route-table-id", self.ids[key]) == {}
        self.cli.fails("InvalidRouteTableID.NotFound", "ec2", "describe-route-tables", "--route-table-ids", table)

    def delete_groups(self):
        # The instances' group still admits the NLB's group: AWS refuses to delete a referenced group.
        self.cli.fails("DependencyViolation", "ec2", "delete-security-group", "--group-id", self.ids["nlb-sg"])
        revoked = self.cli.ec2("revoke-security-group-ingress", "--group-id", self.ids["app-sg"], "--ip-permissions",
                               [_tcp(8443, UserIdGroupPairs=[{"GroupId": self.ids["nlb-sg"]}])])
        assert [r["ReferencedGroupId"] for r in revoked["RevokedSecurityGroupRules"]] == [self.ids["nlb-sg"]]
        for key in ("nlb-sg", "app-sg", "endpoint-sg"):
            answer = self.cli.ec2("delete-security-group", "--group-id", self.ids[key])
            assert (answer["Return"], answer["GroupId"]) == (True, self.ids[key])

    def delete_network(self):
        for key in ("provider-a", "provider-b", "consumer-a", "consumer-b"):
            assert self.cli.ec2("delete-subnet", "--subnet-id", self.ids[key]) == {}
        for key in ("provider", "consumer"):
            assert self.cli.ec2("delete-vpc", "--vpc-id", self.ids[key]) == {}
        self.cli.fails("InvalidVpcID.NotFound", "ec2", "describe-vpcs", "--vpc-ids", self.ids["provider"])
        assert self.cli.ec2("describe-security-groups")["SecurityGroups"] == []
        # A terminated instance lingers (for about an hour in AWS), tags and all; nothing else is left.
        assert [(t["ResourceId"], t["Key"]) for t in self.cli.ec2("describe-tags")["Tags"]] == [
            (self.ids["instance"], "Name")]


def _tcp(port: int, **peers) -> dict:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peers}


def _attrs(answer: dict) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in answer["Attributes"]}


def _gateway_of(table: dict, prefix_list_id: str) -> str | None:
    return next((r.get("GatewayId") for r in table["Routes"] if r.get("DestinationPrefixListId") == prefix_list_id),
                None)


PHASES = ("region", "vpcs", "subnets", "security_groups", "compute", "route_tables", "load_balancer",
          "target_group", "listener", "listener_certificates", "elb_tags", "endpoint_service", "catalogue", "interface_endpoints",
          "service_network_endpoint", "gateway_endpoint", "endpoint_interfaces", "refusals", "ec2_tags",
          "delete_endpoints", "delete_service", "delete_load_balancer", "delete_compute", "delete_routing",
          "delete_groups", "delete_network")


def test_privatelink_through_the_cli(cli, clients):
    deployment = PrivateLink(cli, clients)
    for phase in PHASES:
        getattr(deployment, phase)()
    services = build_apis()
    for prefix, name in (("ec2", "ec2"), ("elasticloadbalancing", "elasticloadbalancing")):
        implemented = set(services[name].implemented())
        driven = cli.driven.get(prefix, set())
        assert not implemented - driven, f"{name} operations no CLI call drove: {sorted(implemented - driven)}"
        assert not driven - implemented, f"{name} operations driven but not implemented: {sorted(driven - implemented)}"


# -- refusals AWS makes and Latticework does not make yet ------------------------------------------------

NLB_DEPENDENCIES = {
    # AWS answers "Load balancer '<arn>' cannot be deleted because it is currently associated with another
    # service": an NLB behind an endpoint service (or an API Gateway VPC link) cannot be deleted.
    "load balancer behind an endpoint service": ("ResourceInUse", "elbv2", "delete-load-balancer",
                                                 "--load-balancer-arn", "{lb}"),
    # An NLB has a requester-managed network interface in each of its subnets, carrying its security groups.
    "subnet of a load balancer": ("DependencyViolation", "ec2", "delete-subnet", "--subnet-id", "{subnet}"),
    "security group of a load balancer": ("DependencyViolation", "ec2", "delete-security-group", "--group-id",
                                          "{group}"),
    "VPC of a load balancer": ("DependencyViolation", "ec2", "delete-vpc", "--vpc-id", "{vpc}"),
}


@pytest.mark.parametrize("case", sorted(NLB_DEPENDENCIES))
def test_nlb_dependencies_are_refused(cli, case):
    vpc = cli.ec2("create-vpc", "--cidr-block", PROVIDER_CIDR)["Vpc"]["VpcId"]
    subnet = cli.ec2("create-subnet", "--vpc-id", vpc, "--cidr-block", "10.10.1.0/24")["Subnet"]["SubnetId"]
    group = cli.ec2("create-security-group", "--group-name", "nlb", "--description", "nlb", "--vpc-id",
                    vpc)["GroupId"]
    lb = cli.elbv2("create-load-balancer", "--name", "payments-nlb", "--type", "network", "--scheme", "internal",
                   "--subnets", subnet, "--security-groups", group)["LoadBalancers"][0]["LoadBalancerArn"]
    cli.ec2("create-vpc-endpoint-service-configuration", "--network-load-balancer-arns", lb)
    code, service, command, *args = NLB_DEPENDENCIES[case]
    cli.fails(code, service, command, *(a.format(lb=lb, subnet=subnet, group=group, vpc=vpc) for a in args))
