"""Security groups and their rules.

Model
    A ``securitygroup`` record (name = ``GroupName``, parent = ``VpcId``, so a
    name is unique per VPC) holds the ``SecurityGroup`` shape without its
    permissions. Each rule is a ``securitygrouprule`` record (``sgr-`` id,
    parent = group id) in the ``SecurityGroupRule`` shape: one protocol and port
    range toward exactly one peer (an IPv4 CIDR, an IPv6 CIDR, a prefix list or
    a group). That is how AWS stores them since security group rule ids exist;
    ``IpPermissions`` / ``IpPermissionsEgress`` are assembled from the rules
    when a group is described, rules with the same protocol and ports sharing
    one permission.

    A new group has AWS's default egress rule (all traffic to 0.0.0.0/0);
    Terraform revokes it right after creating a group. A VPC's default group
    (name ``default``) also allows all traffic from members of itself, and can
    be neither created nor deleted by the user.

Protocols
    ``tcp``/``udp``/``icmp``/``icmpv6`` (names or numbers 6/17/1/58, stored as
    names), ``-1`` for all (ports -1), or any other protocol number (ports
    ignored, -1).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from latticework.api.context import RequestContext
from latticework.services.ec2 import api_types as shapes
from latticework.services.ec2.common import Ec2Error, get, matches, page, tags_for
from latticework.services.ec2.kinds import NETWORK_INTERFACE, SECURITY_GROUP, SECURITY_GROUP_RULE, VPC
from latticework.services.ec2.routing import prefix_list_by_id
from latticework.store import NameTaken, Record

PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
PORTED = {"tcp", "udp"}
TYPED = {"icmp", "icmpv6"}
PEER_FIELDS = ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupInfo")


# -- rule normalisation (pure) --------------------------------------------------------

def normalise_protocol(protocol: str | None) -> str:
    text = str(protocol if protocol is not None else "").lower()
    text = PROTOCOL_NAMES.get(text, text)
    if text in PORTED | TYPED | {"-1"}:
        return text
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise Ec2Error("InvalidParameterValue", f"Invalid value '{protocol}' for IP protocol. Unknown protocol.")


def port_range(protocol: str, from_port: int | None, to_port: int | None) -> tuple[int, int]:
    """The stored (FromPort, ToPort): checked for TCP/UDP and ICMP, -1/-1 for everything else."""
    if protocol in PORTED:
        if from_port is None or to_port is None:
            raise Ec2Error("InvalidParameterValue",
                           "Invalid value 'null' for fromPort. Must specify both from and to ports with TCP/UDP.")
        if not (0 <= from_port <= to_port <= 65535):
            raise Ec2Error("InvalidParameterValue", f"Invalid TCP/UDP port range: {from_port}-{to_port}")
        return from_port, to_port
    if protocol in TYPED:
        from_port, to_port = (-1 if from_port is None else from_port), (-1 if to_port is None else to_port)
        if not (-1 <= from_port <= 255 and -1 <= to_port <= 255):
            raise Ec2Error("InvalidParameterValue", f"Invalid ICMP type/code: {from_port}/{to_port}")
        return from_port, to_port
    return -1, -1


def _cidr(text: str, version: int) -> str:
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise Ec2Error("InvalidParameterValue", f"CIDR block {text} is malformed") from None
    if network.version != version or "/" not in text:
        raise Ec2Error("InvalidParameterValue", f"CIDR block {text} is malformed")
    return str(network)


def peers_of(permission: dict) -> list[tuple[dict, str | None]]:
    """Each peer of an ``IpPermission`` as (rule peer fields, description)."""
    found: list[tuple[dict, str | None]] = [({"CidrIpv4": _cidr(r["CidrIp"], 4)}, r.get("Description"))
                                            for r in permission.get("IpRanges") or []]
    found += [({"CidrIpv6": _cidr(r["CidrIpv6"], 6)}, r.get("Description"))
              for r in permission.get("Ipv6Ranges") or []]
    found += [({"PrefixListId": p["PrefixListId"]}, p.get("Description"))
              for p in permission.get("PrefixListIds") or []]
    found += [({"ReferencedGroupInfo": {k: v for k, v in pair.items() if k in ("GroupId", "UserId", "GroupName")}},
               pair.get("Description")) for pair in permission.get("UserIdGroupPairs") or []]
    return found


def rule_key(rule: dict) -> tuple:
    """What makes two rules the same rule (descriptions and tags do not)."""
    peer = rule.get("ReferencedGroupInfo")
    peer_key = peer["GroupId"] if peer else next(rule.get(f) for f in PEER_FIELDS[:3] if rule.get(f))
    return rule["IsEgress"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"], peer_key


def permissions_of(rules: list[dict]) -> list[dict]:
    """Rules back into ``IpPermission``s, one per (protocol, ports), in first-seen order."""
    grouped: dict[tuple, dict] = {}
    for rule in rules:
        protocol = rule["IpProtocol"]
        key = (protocol, rule["FromPort"], rule["ToPort"])
        perm = grouped.setdefault(key, _empty_permission(rule))
        _add_peer(perm, rule)
    return list(grouped.values())


def _empty_permission(rule: dict) -> dict:
    perm = {"IpProtocol": rule["IpProtocol"], "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
            "UserIdGroupPairs": []}
    if rule["IpProtocol"] in PORTED | TYPED:
        perm.update(FromPort=rule["FromPort"], ToPort=rule["ToPort"])
    return perm


def _add_peer(perm: dict, rule: dict) -> None:
    extra = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIpv4"):
        perm["IpRanges"].append({"CidrIp": rule["CidrIpv4"], **extra})
    elif rule.get("CidrIpv6"):
        perm["Ipv6Ranges"].append({"CidrIpv6": rule["CidrIpv6"], **extra})
    elif rule.get("PrefixListId"):
        perm["PrefixListIds"].append({"PrefixListId": rule["PrefixListId"], **extra})
    else:
        ref = rule["ReferencedGroupInfo"]
        perm["UserIdGroupPairs"].append({"GroupId": ref["GroupId"], "UserId": ref.get("UserId"), **extra})


def describe_rule(rule: dict) -> str:
    """How AWS names a rule in InvalidPermission messages."""
    peer = rule.get("CidrIpv4") or rule.get("CidrIpv6") or rule.get("PrefixListId") \
        or (rule.get("ReferencedGroupInfo") or {}).get("GroupId")
    return (f'peer: {peer}, {rule["IpProtocol"].upper() if rule["IpProtocol"] != "-1" else "ALL"}, '
            f'from port: {rule["FromPort"]}, to port: {rule["ToPort"]}, ALLOW')


# -- records ---------------------------------------------------------------------------

def _new_group(ctx: RequestContext, vpc_id: str, name: str, description: str, tags: list[dict]) -> Record:
    group_id = SECURITY_GROUP.new_id()
    body = {"GroupId": group_id, "GroupName": name, "Description": description, "VpcId": vpc_id,
            "OwnerId": ctx.account, "SecurityGroupArn": ctx.arn("ec2", f"security-group/{group_id}"), "Tags": tags}
    record = Record(SECURITY_GROUP.kind, group_id, ctx.account, ctx.region, body, parent=vpc_id, name=name)
    try:
        return ctx.tx.put(record)
    except NameTaken:
        raise Ec2Error("InvalidGroup.Duplicate",
                       f"The security group '{name}' already exists for VPC '{vpc_id}'") from None


def _put_rule(ctx: RequestContext, group: Record, egress: bool, protocol: str, ports: tuple[int, int],
              peer: dict, description: str | None, tags: list[dict], index: int = 0) -> dict:
    rule_id = SECURITY_GROUP_RULE.new_id()
    body = {"SecurityGroupRuleId": rule_id, "GroupId": group.id, "GroupOwnerId": ctx.account, "IsEgress": egress,
            "IpProtocol": protocol, "FromPort": ports[0], "ToPort": ports[1], **peer, "Tags": tags,
            "SecurityGroupRuleArn": ctx.arn("ec2", f"security-group-rule/{rule_id}")}
    if description:
        body["Description"] = description
    ctx.tx.put(Record(SECURITY_GROUP_RULE.kind, rule_id, ctx.account, ctx.region, body, parent=group.id,
                      internal={"Index": index}))
    return body


def _in_order(records: list[Record]) -> list[Record]:
    # Rules added by one call share a revision; the internal ``Index`` keeps the order the call gave them.
    return sorted(records, key=lambda r: (r.created_rev, r.internal.get("Index", 0)))


def rules_of(ctx: RequestContext, group_id: str) -> list[dict]:
    return [r.body for r in _in_order(ctx.tx.list(SECURITY_GROUP_RULE.kind, parent=group_id))]


def create_default_group(ctx: RequestContext, vpc_id: str) -> str:
    """A new VPC's ``default`` group: all egress, and all ingress from its own members."""
    group = _new_group(ctx, vpc_id, "default", "default VPC security group", [])
    _put_rule(ctx, group, True, "-1", (-1, -1), {"CidrIpv4": "0.0.0.0/0"}, None, [])
    _put_rule(ctx, group, False, "-1", (-1, -1), {"ReferencedGroupInfo": {"GroupId": group.id,
                                                                          "UserId": ctx.account}}, None, [], 1)
    return group.id


def delete_group_records(ctx: RequestContext, group_id: str) -> None:
    for rule in ctx.tx.list(SECURITY_GROUP_RULE.kind, parent=group_id):
        ctx.tx.delete(SECURITY_GROUP_RULE.kind, rule.id)
    ctx.tx.delete(SECURITY_GROUP.kind, group_id)


def present_group(ctx: RequestContext, record: Record) -> dict:
    rules = rules_of(ctx, record.id)
    body = dict(record.body)
    body["IpPermissions"] = permissions_of([r for r in rules if not r["IsEgress"]])
    body["IpPermissionsEgress"] = permissions_of([r for r in rules if r["IsEgress"]])
    return body


def groups_in_vpc(ctx: RequestContext, group_ids: list[str], vpc_id: str) -> list[dict]:
    """``GroupIdentifier``s for ``group_ids``, each of which must exist and be in ``vpc_id``."""
    found = []
    for group_id in dict.fromkeys(group_ids):
        group = get(ctx, SECURITY_GROUP, group_id)
        if group.body["VpcId"] != vpc_id:
            raise Ec2Error("InvalidParameter", "You have specified two resources that belong to different networks.")
        found.append({"GroupId": group.id, "GroupName": group.body["GroupName"]})
    return found


def group_named(ctx: RequestContext, vpc_id: str, name: str) -> Record:
    found = ctx.tx.by_name(SECURITY_GROUP.kind, name, parent=vpc_id)
    if found is None:
        raise Ec2Error("InvalidGroup.NotFound", f"The security group '{name}' does not exist in VPC '{vpc_id}'")
    return found


def _group_for_call(ctx: RequestContext, params: Mapping[str, Any]) -> Record:
    if params.get("GroupId"):
        return get(ctx, SECURITY_GROUP, params["GroupId"])
    name = params.get("GroupName")
    if not name:
        raise Ec2Error("MissingParameter", "The request must contain the parameter groupName or groupId")
    # Names alone address groups of the default VPC, and accounts here have none.
    raise Ec2Error("InvalidGroup.NotFound", f"The security group '{name}' does not exist in default VPC 'none'")


def _permissions_of_call(params: Mapping[str, Any]) -> list[dict]:
    """``IpPermissions``, or the legacy flat form (``IpProtocol``, ``CidrIp``, ports)."""
    perms = list(params.get("IpPermissions") or [])
    if params.get("IpProtocol") or params.get("CidrIp"):
        flat = {"IpProtocol": params.get("IpProtocol") or "-1", "FromPort": params.get("FromPort"),
                "ToPort": params.get("ToPort")}
        if params.get("CidrIp"):
            flat["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
        perms.append(flat)
    if not perms:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ipPermissions")
    return perms


def _candidate_rules(ctx: RequestContext, group: Record, egress: bool, perms: list[dict]) -> list[dict]:
    """The rules a call's permissions spell out (peers checked), not yet stored."""
    rules = []
    for perm in perms:
        protocol = normalise_protocol(perm.get("IpProtocol"))
        ports = port_range(protocol, perm.get("FromPort"), perm.get("ToPort"))
        peers = peers_of(perm)
        if not peers:
            raise Ec2Error("InvalidParameterValue", "The request must specify at least one source or destination "
                           "(IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs)")
        for peer, description in peers:
            _check_peer(ctx, group, peer)
            rules.append({"IsEgress": egress, "IpProtocol": protocol, "FromPort": ports[0], "ToPort": ports[1],
                          **peer, "Description": description})
    return rules


def _check_peer(ctx: RequestContext, group: Record, peer: dict) -> None:
    if "PrefixListId" in peer:
        if prefix_list_by_id(ctx, peer["PrefixListId"]) is None:
            raise Ec2Error("InvalidPrefixListID.NotFound",
                           f"The prefix list ID '{peer['PrefixListId']}' does not exist")
    ref = peer.get("ReferencedGroupInfo")
    if ref is None:
        return
    if not ref.get("GroupId") and ref.get("GroupName"):
        ref["GroupId"] = group_named(ctx, group.body["VpcId"], ref["GroupName"]).id
    ref.pop("GroupName", None)
    owner = ref.get("UserId") or ctx.account
    if owner == ctx.account:
        get(ctx, SECURITY_GROUP, ref.get("GroupId") or "")
    ref["UserId"] = owner


def _authorize(ctx: RequestContext, params: Mapping[str, Any],
               egress: bool) -> shapes.AuthorizeSecurityGroupIngressResult:  # egress's has the same members
    group = _group_for_call(ctx, params)
    wanted = _candidate_rules(ctx, group, egress, _permissions_of_call(params))
    held = {rule_key(r) for r in rules_of(ctx, group.id)}
    tags = tags_for(params, "security-group-rule")
    added: list[Any] = []  # stored rule bodies, in the SecurityGroupRule shape
    for rule in wanted:
        if rule_key(rule) in held:
            raise Ec2Error("InvalidPermission.Duplicate",
                           f'the specified rule "{describe_rule(rule)}" already exists')
        held.add(rule_key(rule))
        peer = {f: rule[f] for f in PEER_FIELDS if f in rule}
        added.append(_put_rule(ctx, group, egress, rule["IpProtocol"], (rule["FromPort"], rule["ToPort"]), peer,
                               rule.get("Description"), tags, index=len(added)))
    return {"Return": True, "SecurityGroupRules": added}


def _revoked(rule: dict) -> Any:
    out = {k: rule[k] for k in ("SecurityGroupRuleId", "GroupId", "IsEgress", "IpProtocol", "FromPort", "ToPort",
                                "CidrIpv4", "CidrIpv6", "PrefixListId", "Description") if rule.get(k) is not None}
    if rule.get("ReferencedGroupInfo"):
        out["ReferencedGroupId"] = rule["ReferencedGroupInfo"]["GroupId"]
    return out


def _rules_to_revoke(ctx: RequestContext, group: Record, params: Mapping[str, Any], egress: bool) -> list[dict]:
    held = [r for r in rules_of(ctx, group.id) if r["IsEgress"] == egress]
    if params.get("SecurityGroupRuleIds"):
        by_id = {r["SecurityGroupRuleId"]: r for r in held}
        for rule_id in params["SecurityGroupRuleIds"]:
            if rule_id not in by_id:
                raise Ec2Error("InvalidSecurityGroupRuleId.NotFound",
                               f"The security group rule ID '{rule_id}' does not exist")
        return [by_id[i] for i in dict.fromkeys(params["SecurityGroupRuleIds"])]
    by_key = {rule_key(r): r for r in held}
    found = []
    for rule in _candidate_rules(ctx, group, egress, _permissions_of_call(params)):
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RevokeSecurityGroupIngress.html
        # Outside a default VPC, a rule that does not match is InvalidPermission.NotFound and nothing is revoked.
        if rule_key(rule) not in by_key:
            raise Ec2Error("InvalidPermission.NotFound",
                           "The specified rule does not exist in this security group.")
        found.append(by_key[rule_key(rule)])
    return found


def _revoke(ctx: RequestContext, params: Mapping[str, Any],
            egress: bool) -> shapes.RevokeSecurityGroupIngressResult:  # egress's has the same members
    group = _group_for_call(ctx, params)
    doomed = _rules_to_revoke(ctx, group, params, egress)
    for rule in doomed:
        ctx.tx.delete(SECURITY_GROUP_RULE.kind, rule["SecurityGroupRuleId"])
    return {"Return": True, "RevokedSecurityGroupRules": [_revoked(r) for r in doomed]}


def _referenced_by_others(ctx: RequestContext, group_id: str) -> bool:
    return any((r.body.get("ReferencedGroupInfo") or {}).get("GroupId") == group_id and r.parent != group_id
               for r in ctx.tx.list(SECURITY_GROUP_RULE.kind))


def _used_by_interfaces(ctx: RequestContext, group_id: str) -> bool:
    return any(group_id in {g["GroupId"] for g in r.body.get("Groups") or []}
               for r in ctx.tx.list(NETWORK_INTERFACE.kind))


def _ip_values(field: str, egress: bool):
    def extract(body: dict) -> list:
        perms = body["IpPermissionsEgress" if egress else "IpPermissions"]
        values = []
        for perm in perms:
            if field == "cidr":
                values += [r["CidrIp"] for r in perm["IpRanges"]]
            elif field == "ipv6-cidr":
                values += [r["CidrIpv6"] for r in perm["Ipv6Ranges"]]
            elif field == "prefix-list-id":
                values += [p["PrefixListId"] for p in perm["PrefixListIds"]]
            elif field == "group-id":
                values += [p["GroupId"] for p in perm["UserIdGroupPairs"]]
            elif field == "protocol":
                values.append(perm["IpProtocol"])
            elif field in ("from-port", "to-port"):
                values.append(perm.get("FromPort" if field == "from-port" else "ToPort"))
        return values
    return extract


GROUP_FILTERS = {
    "group-id": lambda b: b["GroupId"], "group-name": lambda b: b["GroupName"], "vpc-id": lambda b: b["VpcId"],
    "description": lambda b: b["Description"], "owner-id": lambda b: b["OwnerId"],
}
for _field in ("cidr", "ipv6-cidr", "prefix-list-id", "group-id", "protocol", "from-port", "to-port"):
    GROUP_FILTERS[f"ip-permission.{_field}"] = _ip_values(_field, False)
    GROUP_FILTERS[f"egress.ip-permission.{_field}"] = _ip_values(_field, True)

RULE_FILTERS = {
    "group-id": lambda b: b["GroupId"], "security-group-rule-id": lambda b: b["SecurityGroupRuleId"],
}


class SecurityGroupOps:
    def create_security_group(self, ctx: RequestContext,
                              params: shapes.CreateSecurityGroupRequest) -> shapes.CreateSecurityGroupResult:
        name = params["GroupName"]
        if name.lower().startswith("sg-"):
            raise Ec2Error("InvalidParameterValue", "Group names may not be in the format sg-*.")
        if not params.get("VpcId"):
            raise Ec2Error("VPCIdNotSpecified", "No default VPC for this user")
        vpc = get(ctx, VPC, params["VpcId"])
        group = _new_group(ctx, vpc.id, name, params["Description"], tags_for(params, "security-group"))
        _put_rule(ctx, group, True, "-1", (-1, -1), {"CidrIpv4": "0.0.0.0/0"}, None, [])
        out: shapes.CreateSecurityGroupResult = {"GroupId": group.id,
                                                 "SecurityGroupArn": group.body["SecurityGroupArn"]}
        return {**out, "Tags": group.body["Tags"]} if group.body["Tags"] else out

    def describe_security_groups(self, ctx: RequestContext,
                                 params: shapes.DescribeSecurityGroupsRequest) -> shapes.DescribeSecurityGroupsResult:
        for name in params.get("GroupNames") or []:
            raise Ec2Error("InvalidGroup.NotFound",
                           f"The security group '{name}' does not exist in default VPC 'none'")
        ids = params.get("GroupIds") or []
        records = [get(ctx, SECURITY_GROUP, i) for i in dict.fromkeys(ids)] if ids \
            else ctx.tx.list(SECURITY_GROUP.kind)
        shown = [present_group(ctx, r) for r in records]
        return page([g for g in shown if matches(g, params.get("Filters"), GROUP_FILTERS)], params, "SecurityGroups")

    def delete_security_group(self, ctx: RequestContext,
                              params: shapes.DeleteSecurityGroupRequest) -> shapes.DeleteSecurityGroupResult:
        group = _group_for_call(ctx, params)
        if group.body["GroupName"] == "default":
            raise Ec2Error("CannotDelete", f'the specified group: "{group.id}" name: "default" cannot be deleted '
                           "by a user")
        if _used_by_interfaces(ctx, group.id) or _referenced_by_others(ctx, group.id):
            raise Ec2Error("DependencyViolation", f"resource {group.id} has a dependent object")
        delete_group_records(ctx, group.id)
        return {"Return": True, "GroupId": group.id}

    def authorize_security_group_ingress(
            self, ctx: RequestContext, params: shapes.AuthorizeSecurityGroupIngressRequest
    ) -> shapes.AuthorizeSecurityGroupIngressResult:
        return _authorize(ctx, params, egress=False)

    def authorize_security_group_egress(
            self, ctx: RequestContext, params: shapes.AuthorizeSecurityGroupEgressRequest
    ) -> shapes.AuthorizeSecurityGroupEgressResult:
        return _authorize(ctx, params, egress=True)

    def revoke_security_group_ingress(
            self, ctx: RequestContext, params: shapes.RevokeSecurityGroupIngressRequest
    ) -> shapes.RevokeSecurityGroupIngressResult:
        return _revoke(ctx, params, egress=False)

    def revoke_security_group_egress(
            self, ctx: RequestContext, params: shapes.RevokeSecurityGroupEgressRequest
    ) -> shapes.RevokeSecurityGroupEgressResult:
        return _revoke(ctx, params, egress=True)

    def describe_security_group_rules(
            self, ctx: RequestContext, params: shapes.DescribeSecurityGroupRulesRequest
    ) -> shapes.DescribeSecurityGroupRulesResult:
        ids = params.get("SecurityGroupRuleIds") or []
        records = [get(ctx, SECURITY_GROUP_RULE, i) for i in dict.fromkeys(ids)] if ids \
            else _in_order(ctx.tx.list(SECURITY_GROUP_RULE.kind))
        shown = [r.body for r in records if matches(r.body, params.get("Filters"), RULE_FILTERS)]
        return page(shown, params, "SecurityGroupRules")

    def modify_security_group_rules(
            self, ctx: RequestContext, params: shapes.ModifySecurityGroupRulesRequest
    ) -> shapes.ModifySecurityGroupRulesResult:
        group = get(ctx, SECURITY_GROUP, params["GroupId"])
        for update in params["SecurityGroupRules"]:
            record = ctx.tx.get(SECURITY_GROUP_RULE.kind, update["SecurityGroupRuleId"])
            if record is None or record.parent != group.id:
                raise SECURITY_GROUP_RULE.missing(update["SecurityGroupRuleId"])
            _apply_update(ctx, group, record, update.get("SecurityGroupRule") or {})
        return {"Return": True}


def _apply_update(ctx: RequestContext, group: Record, record: Record, change: Mapping[str, Any]) -> None:
    """Replace a rule's protocol, ports, peer and description in place (its id stays)."""
    peer_perm = {"IpProtocol": change.get("IpProtocol"), "FromPort": change.get("FromPort"),
                 "ToPort": change.get("ToPort")}
    if change.get("CidrIpv4"):
        peer_perm["IpRanges"] = [{"CidrIp": change["CidrIpv4"]}]
    if change.get("CidrIpv6"):
        peer_perm["Ipv6Ranges"] = [{"CidrIpv6": change["CidrIpv6"]}]
    if change.get("PrefixListId"):
        peer_perm["PrefixListIds"] = [{"PrefixListId": change["PrefixListId"]}]
    if change.get("ReferencedGroupId"):
        peer_perm["UserIdGroupPairs"] = [{"GroupId": change["ReferencedGroupId"]}]
    candidates = _candidate_rules(ctx, group, record.body["IsEgress"], [peer_perm])
    if len(candidates) != 1:
        raise Ec2Error("InvalidParameterValue", "The rule must specify exactly one peer")
    rule = candidates[0]
    others = {rule_key(r) for r in rules_of(ctx, group.id) if r["SecurityGroupRuleId"] != record.id}
    if rule_key(rule) in others:
        raise Ec2Error("InvalidPermission.Duplicate", f'the specified rule "{describe_rule(rule)}" already exists')
    for field in PEER_FIELDS + ("Description",):
        record.body.pop(field, None)
    record.body.update({k: v for k, v in rule.items() if v is not None and k != "IsEgress"})
    if change.get("Description"):
        record.body["Description"] = change["Description"]
    ctx.tx.put(record)
