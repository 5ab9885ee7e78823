"""Security groups and rules through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, status_of


@pytest.fixture
def ec2(clients):
    return clients.client("ec2")


@pytest.fixture
def vpc_id(ec2):
    return ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]


def _err(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as exc:
        call(*args, **kwargs)
    assert status_of(exc) == 400
    return error_code(exc)


def _group(ec2, vpc_id, name="web", **kwargs) -> str:
    return ec2.create_security_group(VpcId=vpc_id, GroupName=name, Description=f"{name} group", **kwargs)["GroupId"]


def _show(ec2, group_id) -> dict:
    return ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]


HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}


def test_create_describe_delete_group(ec2, vpc_id, clients):
    created = ec2.create_security_group(VpcId=vpc_id, GroupName="web", Description="web servers",
                                        TagSpecifications=[{"ResourceType": "security-group",
                                                            "Tags": [{"Key": "Name", "Value": "web"}]}])
    group_id = created["GroupId"]
    assert group_id.startswith("sg-") and created["Tags"] == [{"Key": "Name", "Value": "web"}]
    assert created["SecurityGroupArn"] == f"arn:aws:ec2:us-east-1:{clients.account}:security-group/{group_id}"
    group = _show(ec2, group_id)
    assert group["GroupName"] == "web" and group["Description"] == "web servers" and group["VpcId"] == vpc_id
    assert group["OwnerId"] == clients.account and group["IpPermissions"] == []
    assert group["IpPermissionsEgress"] == [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                             "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    assert ec2.delete_security_group(GroupId=group_id)["Return"] is True
    assert _err(ec2.describe_security_groups, GroupIds=[group_id]) == "InvalidGroup.NotFound"
    assert _err(ec2.delete_security_group, GroupId=group_id) == "InvalidGroup.NotFound"


def test_group_errors(ec2, vpc_id):
    _group(ec2, vpc_id, "web")
    assert _err(ec2.create_security_group, VpcId=vpc_id, GroupName="web", Description="x") == "InvalidGroup.Duplicate"
    assert _err(ec2.create_security_group, VpcId=vpc_id, GroupName="default",
                Description="x") == "InvalidGroup.Duplicate"
    assert _err(ec2.create_security_group, VpcId=vpc_id, GroupName="sg-web", Description="x") == \
        "InvalidParameterValue"
    assert _err(ec2.create_security_group, GroupName="x", Description="x") == "VPCIdNotSpecified"
    assert _err(ec2.create_security_group, VpcId="vpc-0123456789abcdef0", GroupName="x",
                Description="x") == "InvalidVpcID.NotFound"
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    assert _group(ec2, other_vpc, "web").startswith("sg-")  # names are unique per VPC
    assert _err(ec2.describe_security_groups, GroupNames=["web"]) == "InvalidGroup.NotFound"


def test_default_group_cannot_be_deleted(ec2, vpc_id):
    [default] = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                      {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"]
    assert _err(ec2.delete_security_group, GroupId=default["GroupId"]) == "CannotDelete"


def test_authorize_and_revoke_ingress(ec2, vpc_id):
    group_id = _group(ec2, vpc_id)
    added = ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {**HTTPS, "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "vpc"}, {"CidrIp": "192.168.0.0/24"}],
         "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]}])
    assert added["Return"] is True and len(added["SecurityGroupRules"]) == 3
    rule = added["SecurityGroupRules"][0]
    assert rule["SecurityGroupRuleId"].startswith("sgr-") and rule["IsEgress"] is False
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule["CidrIpv4"]) == ("tcp", 443, 443,
                                                                                        "10.0.0.0/16")
    assert rule["Description"] == "vpc"
    [perm] = _show(ec2, group_id)["IpPermissions"]
    assert perm["IpRanges"] == [{"CidrIp": "10.0.0.0/16", "Description": "vpc"}, {"CidrIp": "192.168.0.0/24"}]
    assert perm["Ipv6Ranges"] == [{"CidrIpv6": "2001:db8::/32"}] and perm["FromPort"] == 443
    assert _err(ec2.authorize_security_group_ingress, GroupId=group_id,
                IpPermissions=[HTTPS]) == "InvalidPermission.Duplicate"
    revoked = ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[HTTPS])
    assert [r["CidrIpv4"] for r in revoked["RevokedSecurityGroupRules"]] == ["10.0.0.0/16"]
    assert _err(ec2.revoke_security_group_ingress, GroupId=group_id,
                IpPermissions=[HTTPS]) == "InvalidPermission.NotFound"
    rule_ids = [r["SecurityGroupRuleId"] for r in added["SecurityGroupRules"][1:]]
    ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=rule_ids)
    assert _show(ec2, group_id)["IpPermissions"] == []
    assert _err(ec2.revoke_security_group_ingress, GroupId=group_id,
                SecurityGroupRuleIds=rule_ids) == "InvalidSecurityGroupRuleId.NotFound"


def test_protocols_and_ports(ec2, vpc_id):
    group_id = _group(ec2, vpc_id)
    added = ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"IpProtocol": "6", "FromPort": 80, "ToPort": 81, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ])["SecurityGroupRules"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in added] == [
        ("tcp", 80, 81), ("icmp", -1, -1), ("-1", -1, -1)]
    all_traffic = next(p for p in _show(ec2, group_id)["IpPermissions"] if p["IpProtocol"] == "-1")
    assert "FromPort" not in all_traffic
    for bad in ({"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                {"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.1/8"}]},
                {"IpProtocol": "bogus", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}):
        assert _err(ec2.authorize_security_group_ingress, GroupId=group_id, IpPermissions=[bad]) == \
            "InvalidParameterValue"


def test_group_and_prefix_list_peers(ec2, vpc_id, clients):
    web, app = _group(ec2, vpc_id, "web"), _group(ec2, vpc_id, "app")
    s3 = ec2.describe_prefix_lists()["PrefixLists"][0]["PrefixListId"]
    ec2.authorize_security_group_ingress(GroupId=app, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": web}]}])
    ec2.authorize_security_group_egress(GroupId=app, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": s3}]}])
    group = _show(ec2, app)
    assert group["IpPermissions"][0]["UserIdGroupPairs"] == [{"GroupId": web, "UserId": clients.account}]
    assert group["IpPermissionsEgress"][1]["PrefixListIds"] == [{"PrefixListId": s3}]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [app]}])["SecurityGroupRules"]
    ref = next(r for r in rules if "ReferencedGroupInfo" in r)
    assert ref["ReferencedGroupInfo"] == {"GroupId": web, "UserId": clients.account}
    assert _err(ec2.delete_security_group, GroupId=web) == "DependencyViolation"
    assert _err(ec2.authorize_security_group_ingress, GroupId=app, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]}
    ]) == "InvalidGroup.NotFound"
    assert _err(ec2.authorize_security_group_egress, GroupId=app, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "PrefixListIds": [{"PrefixListId": "pl-00000000"}]}
    ]) == "InvalidPrefixListID.NotFound"
    ec2.delete_security_group(GroupId=app)
    ec2.delete_security_group(GroupId=web)


def test_egress_default_rule_revoke_like_terraform(ec2, vpc_id):
    group_id = _group(ec2, vpc_id)
    everything = {"IpProtocol": "-1", "FromPort": 0, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[everything])
    assert _show(ec2, group_id)["IpPermissionsEgress"] == []
    v6 = {"IpProtocol": "-1", "FromPort": 0, "ToPort": 0, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}
    assert _err(ec2.revoke_security_group_egress, GroupId=group_id,
                IpPermissions=[v6]) == "InvalidPermission.NotFound"


def test_security_group_rules_api(ec2, vpc_id):
    group_id = _group(ec2, vpc_id)
    [rule] = ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[HTTPS], TagSpecifications=[
        {"ResourceType": "security-group-rule", "Tags": [{"Key": "k", "Value": "v"}]}])["SecurityGroupRules"]
    rule_id = rule["SecurityGroupRuleId"]
    assert rule["Tags"] == [{"Key": "k", "Value": "v"}]
    [shown] = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    assert shown == rule
    ec2.modify_security_group_rules(GroupId=group_id, SecurityGroupRules=[{
        "SecurityGroupRuleId": rule_id, "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443,
                                                              "CidrIpv4": "10.1.0.0/16", "Description": "alt"}}])
    [shown] = ec2.describe_security_group_rules(
        Filters=[{"Name": "security-group-rule-id", "Values": [rule_id]}])["SecurityGroupRules"]
    assert (shown["FromPort"], shown["CidrIpv4"], shown["Description"]) == (8443, "10.1.0.0/16", "alt")
    ec2.create_tags(Resources=[rule_id], Tags=[{"Key": "more", "Value": "1"}])
    tagged = ec2.describe_security_group_rules(Filters=[{"Name": "tag:more", "Values": ["1"]}])
    assert [r["SecurityGroupRuleId"] for r in tagged["SecurityGroupRules"]] == [rule_id]
    assert _err(ec2.describe_security_group_rules,
                SecurityGroupRuleIds=["sgr-0123456789abcdef0"]) == "InvalidSecurityGroupRuleId.NotFound"
    ec2.delete_security_group(GroupId=group_id)
    assert ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])[
        "SecurityGroupRules"] == []


def test_describe_security_group_filters(ec2, vpc_id):
    web = _group(ec2, vpc_id, "web")
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[HTTPS])

    def ids(*filters):
        return {g["GroupId"] for g in ec2.describe_security_groups(Filters=list(filters))["SecurityGroups"]}

    assert ids({"Name": "group-name", "Values": ["web"]}) == {web}
    assert ids({"Name": "ip-permission.from-port", "Values": ["443"]}) == {web}
    assert ids({"Name": "ip-permission.cidr", "Values": ["10.0.0.0/16"]}) == {web}
    assert ids({"Name": "description", "Values": ["web*"]}) == {web}
    assert len(ids({"Name": "vpc-id", "Values": [vpc_id]})) == 2


def test_legacy_flat_parameters(ec2, vpc_id):
    group_id = _group(ec2, vpc_id)
    ec2.authorize_security_group_ingress(GroupId=group_id, IpProtocol="tcp", FromPort=22, ToPort=22,
                                         CidrIp="10.0.0.0/16")
    [perm] = _show(ec2, group_id)["IpPermissions"]
    assert (perm["FromPort"], perm["IpRanges"]) == (22, [{"CidrIp": "10.0.0.0/16"}])
    assert _err(ec2.authorize_security_group_ingress, GroupName="web", IpProtocol="tcp", FromPort=22, ToPort=22,
                CidrIp="10.0.0.0/16") == "InvalidGroup.NotFound"
