"""Target groups, their attributes, targets and target health.

Defaults
    Health-check settings a create leaves out take the defaults the API
    reference gives per protocol: TCP checks for NLB protocols (TCP, TLS, UDP,
    TCP_UDP), HTTP checks for HTTP/HTTPS, interval 30 s, timeout 6 s for HTTP
    checks and 10 s otherwise, 5 healthy / 2 unhealthy checks, path ``/`` and
    matcher ``200-399`` (NLB) or ``200`` (ALB) for HTTP(S) checks only.
    Attributes start from the documented defaults of the group's load
    balancer family (``deregistration_delay.timeout_seconds`` 300,
    ``proxy_protocol_v2.enabled`` false, ``preserve_client_ip.enabled`` false
    only for IP targets over TCP/TLS...).

Load balancers
    ``LoadBalancerArns`` is derived, never stored: the load balancers whose
    listeners forward to the group. A group in use cannot be deleted
    (``ResourceInUse``).

Target health
    The data plane's health checkers write each checked target's state in
    ELB's words into the group's record (``records.elbv2``); until the first
    one is there ``DescribeTargetHealth`` answers what AWS answers before any
    check has run: ``initial`` / ``Elb.RegistrationInProgress``. Whatever was
    written, a group no listener forwards to answers ``unused`` /
    ``Target.NotInUse``, a target asked for but not registered ``unused`` /
    ``Target.NotRegistered``, a deregistered one still draining ``draining``
    / ``Target.DeregistrationInProgress``, a stopped or terminated instance
    ``unused`` / ``Target.InvalidState``.

Deregistration
    A target deregistered from a group in use drains: it stays registered,
    marked with the time its deregistration began, gets no new connections,
    and the data plane removes it once the group's
    ``deregistration_delay.timeout_seconds`` are over (``dataplane.nlb``).
    A group in no use, or a delay of 0, removes it at once. Registering a
    draining target again makes it a new registration (health starts over);
    registering a registered one changes nothing.

Loopback targets
    An ``ip`` target in 127.0.0.0/8 is accepted besides the private ranges:
    it names a process on this host, used as given by the data plane (the
    same rule as Lattice's targets; AWS would refuse it, as it is in no VPC).
"""

from __future__ import annotations

import ipaddress
import re
import time
from typing import Any, Final, Mapping, Sequence, cast

from latticework.api.context import RequestContext
from latticework.records import elbv2 as stored
from latticework.services.elbv2 import api_types as shapes
from latticework.store import NameTaken, Record
from latticework.services.elbv2 import common as c

NLB_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP", "QUIC", "TCP_QUIC")
ALB_PROTOCOLS = ("HTTP", "HTTPS")
HEALTH_PROTOCOLS = ("HTTP", "HTTPS", "TCP")
# Targets of type ip must be private: RFC 1918 and RFC 6598 (CreateTargetGroup TargetType).
PRIVATE_RANGES = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                      "100.64.0.0/10")]
_INSTANCE = re.compile(r"^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
HEALTH_MEMBERS: Final = ("HealthCheckProtocol", "HealthCheckPort", "HealthCheckEnabled", "HealthCheckPath",
                         "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount",
                         "UnhealthyThresholdCount", "Matcher")


# -- health checks -------------------------------------------------------------

def health_defaults(protocol: str | None, target_type: str, check_protocol: str) -> dict:
    if target_type == "lambda":
        return {"HealthCheckEnabled": False, "HealthCheckPath": "/", "HealthCheckIntervalSeconds": 35,
                "HealthCheckTimeoutSeconds": 30, "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 5,
                "Matcher": {"HttpCode": "200"}}
    out = {"HealthCheckProtocol": check_protocol, "HealthCheckPort": "traffic-port", "HealthCheckEnabled": True,
           "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 6 if check_protocol == "HTTP" else 10,
           "HealthyThresholdCount": 5, "UnhealthyThresholdCount": 2}
    if check_protocol in ("HTTP", "HTTPS"):
        out["HealthCheckPath"] = "/"
        out["Matcher"] = {"HttpCode": "200-399" if protocol in NLB_PROTOCOLS else "200"}
    return out


def _check_health(body: dict) -> None:
    protocol, check = body.get("Protocol"), body.get("HealthCheckProtocol")
    if check is not None and check not in HEALTH_PROTOCOLS:
        raise c.validation(f"Health check protocol '{check}' is not supported")
    if protocol in ALB_PROTOCOLS and check == "TCP":
        raise c.validation(f"Health check protocol 'TCP' is not supported for target groups with the protocol "
                           f"'{protocol}'")
    if check == "TCP" and (body.get("HealthCheckPath") or body.get("Matcher")):
        raise c.validation("Health check path and matcher cannot be specified with the TCP health check protocol")
    if body.get("HealthCheckTimeoutSeconds", 0) > body.get("HealthCheckIntervalSeconds", 301):
        raise c.validation("Health check timeout must not be greater than the interval")
    port = body.get("HealthCheckPort")
    if port not in (None, "traffic-port") and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise c.validation(f"Health check port '{port}' must be 'traffic-port' or a port number")


def _health(protocol: str | None, target_type: str, given: dict) -> dict:
    """Requested health-check members over the protocol's defaults."""
    default_check = "HTTP" if protocol in ALB_PROTOCOLS else "TCP"
    check = given.get("HealthCheckProtocol") or default_check
    out = health_defaults(protocol, target_type, check)
    if check == "TCP":  # switching to TCP drops what only HTTP checks have
        out.pop("HealthCheckPath", None), out.pop("Matcher", None)
    out.update({k: v for k, v in given.items() if v is not None})
    if given.get("HealthCheckTimeoutSeconds") is None and "HealthCheckIntervalSeconds" in out:
        # A default timeout never exceeds a shorter interval the caller chose.
        out["HealthCheckTimeoutSeconds"] = min(out["HealthCheckTimeoutSeconds"], out["HealthCheckIntervalSeconds"])
    return out


# -- attributes ------------------------------------------------------------------

def default_attributes(protocol: str | None, target_type: str) -> dict[str, str]:
    if target_type == "lambda":
        return {"lambda.multi_value_headers.enabled": "false"}
    health = {
        "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
        "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
        "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
    }
    if protocol in ALB_PROTOCOLS:
        return {"deregistration_delay.timeout_seconds": "300", "stickiness.enabled": "false",
                "stickiness.type": "lb_cookie", "stickiness.lb_cookie.duration_seconds": "86400",
                "stickiness.app_cookie.cookie_name": "", "stickiness.app_cookie.duration_seconds": "86400",
                "slow_start.duration_seconds": "0", "load_balancing.algorithm.type": "round_robin",
                "load_balancing.algorithm.anomaly_mitigation": "off", **health}
    udp = protocol in ("UDP", "TCP_UDP")
    return {"deregistration_delay.timeout_seconds": "300",
            "deregistration_delay.connection_termination.enabled": "true" if udp else "false",
            "stickiness.enabled": "false", "stickiness.type": "source_ip", "proxy_protocol_v2.enabled": "false",
            "preserve_client_ip.enabled": "false" if target_type == "ip" and protocol in ("TCP", "TLS") else "true",
            "target_health_state.unhealthy.connection_termination.enabled": "true",
            "target_health_state.unhealthy.draining_interval_seconds": "0", **health}


def _check_attribute(record: Record, key: str, value: str) -> None:
    body = record.body
    if key not in record.internal["attributes"]:
        raise c.validation(f"Target group attribute key '{key}' is not recognized")
    if key.endswith(".enabled"):
        c.check_bool(key, value)
    elif key == "deregistration_delay.timeout_seconds":
        c.check_int(key, value, 0, 3600)
    elif key == "target_health_state.unhealthy.draining_interval_seconds":
        c.check_int(key, value, 0, 360000)
    elif key == "stickiness.type":
        allowed = ("lb_cookie", "app_cookie") if body.get("Protocol") in ALB_PROTOCOLS else ("source_ip",)
        c.check_choice(key, value, allowed)
    elif key == "load_balancing.cross_zone.enabled":
        c.check_choice(key, value, ("true", "false", "use_load_balancer_configuration"))
    _check_udp_attribute(body, key, value)


def _check_udp_attribute(body: dict, key: str, value: str) -> None:
    """UDP groups always preserve the client IP and never cut connections to unhealthy targets."""
    if body.get("Protocol") not in ("UDP", "TCP_UDP"):
        return
    if key == "preserve_client_ip.enabled" and value == "false":
        raise c.error("InvalidConfigurationRequest", "Client IP preservation cannot be disabled for UDP and "
                      "TCP_UDP target groups")
    if key == "target_health_state.unhealthy.connection_termination.enabled" and value == "false":
        raise c.error("InvalidConfigurationRequest", "Connection termination cannot be disabled for UDP and "
                      "TCP_UDP target groups")


# -- the record ------------------------------------------------------------------

def _check_shape(params: Mapping[str, Any], target_type: str) -> None:
    protocol = params.get("Protocol")
    if target_type == "lambda":
        if protocol or params.get("Port") or params.get("VpcId"):
            raise c.validation("Protocol, port and VPC ID cannot be specified for target groups with target type "
                               "'lambda'")
        return
    for member, noun in (("Protocol", "protocol"), ("Port", "port"), ("VpcId", "VPC ID")):
        if not params.get(member):
            raise c.validation(f"A {noun} must be specified")
    if protocol not in NLB_PROTOCOLS + ALB_PROTOCOLS:
        raise c.validation(f"Protocol '{protocol}' is not supported")  # GENEVE: gateway load balancers
    if target_type == "alb" and protocol != "TCP":
        raise c.validation("Target groups with target type 'alb' must use the TCP protocol")
    if params.get("ProtocolVersion") and protocol not in ALB_PROTOCOLS:
        raise c.validation("A protocol version can only be specified for HTTP and HTTPS target groups")


def _new_body(ctx: RequestContext, params: Mapping[str, Any], tg_id: str) -> dict:
    target_type = params.get("TargetType") or "instance"
    _check_shape(params, target_type)
    protocol = params.get("Protocol")
    if target_type != "lambda" and ctx.tx.get("vpc", params["VpcId"]) is None:
        raise c.validation(f"The VPC ID '{params['VpcId']}' is not found")
    body = {"TargetGroupArn": ctx.arn(c.SIGNING_NAME, f"targetgroup/{params['Name']}/{tg_id}"),
            "TargetGroupName": params["Name"], "TargetType": target_type,
            **_health(protocol, target_type, {k: params.get(k) for k in HEALTH_MEMBERS}),
            "Tags": c.clean_tags(params.get("Tags"))}
    if target_type != "lambda":
        body.update(Protocol=protocol, Port=params["Port"], VpcId=params["VpcId"])
    if target_type in ("instance", "ip"):
        body["IpAddressType"] = params.get("IpAddressType") or "ipv4"
    if target_type != "lambda" and params.get("HealthCheckEnabled") is False:
        raise c.validation(f"Health checks cannot be disabled for target groups with target type '{target_type}'")
    if protocol in ALB_PROTOCOLS:
        body["ProtocolVersion"] = (params.get("ProtocolVersion") or "HTTP1").upper()
    _check_health(body)
    return body


def _settings(body: dict) -> dict:
    """What must match for a repeated CreateTargetGroup to return the existing group."""
    return {k: v for k, v in body.items() if k not in ("TargetGroupArn", "Tags")}


def load_balancer_arns(ctx: RequestContext, tg_arn: str | None) -> list[str]:
    """Load balancers with a listener forwarding to the group, in creation order."""
    arns = [l.body["LoadBalancerArn"] for l in ctx.tx.list(c.LISTENER)
            if tg_arn in stored.ListenerRecord(l).forwards()]
    return list(dict.fromkeys(arns))


def show(ctx: RequestContext, record: Record) -> Any:
    out = c.present(record, "TargetGroup")
    out["LoadBalancerArns"] = load_balancer_arns(ctx, record.arn)
    return out


# -- targets -------------------------------------------------------------------

def _check_target(ctx: RequestContext, record: Record, target: Mapping[str, Any]) -> None:
    body = record.body
    kind, target_id = body["TargetType"], target["Id"]
    if kind == "instance" and not _INSTANCE.match(target_id):
        raise c.error("InvalidTarget", f"The following targets are not valid instances: '{target_id}'")
    if kind == "ip":
        _check_ip(ctx, body, target_id)
    if kind == "alb":
        _check_alb(ctx, record, target)


def _check_ip(ctx: RequestContext, body: dict, target_id: str) -> None:
    try:
        address = ipaddress.ip_address(target_id)
    except ValueError:
        raise c.error("InvalidTarget", f"The IP address '{target_id}' is not a valid IP address") from None
    if address.version != (6 if body.get("IpAddressType") == "ipv6" else 4):
        raise c.error("InvalidTarget", f"The IP address '{target_id}' does not match the target group's IP "
                      "address type")
    if address.version == 4 and not address.is_loopback and not any(address in net for net in PRIVATE_RANGES):
        raise c.error("InvalidTarget", f"The IP address '{target_id}' is not in a private range (RFC 1918 or "
                      "RFC 6598) or in the target group's VPC")


def _check_alb(ctx: RequestContext, record: Record, target: Mapping[str, Any]) -> None:
    body, registered = record.body, record.internal["targets"]
    lb = c.find(ctx, c.LOAD_BALANCER, target["Id"])
    if lb is None or lb.body["Type"] != "application":
        raise c.error("InvalidTarget", f"The target '{target['Id']}' is not a valid Application Load Balancer")
    if registered and all(t["Id"] != target["Id"] for t in registered):
        raise c.error("TooManyRegistrationsForTargetId", "A target group of type 'alb' can have only one target")
    if target.get("Port", body["Port"]) != body["Port"]:
        raise c.error("InvalidTarget", "The port of an Application Load Balancer target must match the target "
                      "group's port")


def _zone_of(ctx: RequestContext, body: dict, target: Mapping[str, Any]) -> str | None:
    """The Availability Zone ELB detects for a target: an instance's, or for an IP address in a subnet of the
    group's VPC that subnet's (``AvailabilityZone`` is then optional). None: the target's own
    ``AvailabilityZone`` decides (``all``, or absent, for every zone)."""
    if body.get("TargetType") == "instance":
        instance = ctx.tx.get("instance", target["Id"])
        return instance.body.get("Placement", {}).get("AvailabilityZone") if instance is not None else None
    if body.get("TargetType") != "ip":
        return None
    address = ipaddress.ip_address(target["Id"])  # checked already
    for subnet in ctx.tx.list("subnet"):
        cidr = subnet.body.get("CidrBlock")
        if subnet.body.get("VpcId") == body.get("VpcId") and cidr and address in ipaddress.ip_network(cidr):
            return subnet.body.get("AvailabilityZone")
    return None


def _target_key(body: dict, target: Mapping[str, Any]) -> tuple:
    return target["Id"], target.get("Port") or body.get("Port")


def _stopped_instance(ctx: RequestContext, body: dict, target: Mapping[str, Any]) -> str | None:
    """An ``instance`` target's state when it is stopped or terminated (else None)."""
    if body.get("TargetType") != "instance":
        return None
    instance = ctx.tx.get("instance", target["Id"])
    state = ((instance.body.get("State") or {}).get("Name") if instance is not None else None) or "running"
    return state if state in ("stopping", "stopped", "shutting-down", "terminated") else None


def _health_of(ctx: RequestContext, record: Record, target: Mapping[str, Any], in_use: bool,
               registered: bool) -> shapes.TargetHealthDescription:
    body = record.body
    check_port = body.get("HealthCheckPort", "traffic-port")
    port = target.get("Port") or body.get("Port")
    shown = {k: v for k, v in target.items() if v is not None and k in ("Id", "Port", "AvailabilityZone")}
    out: shapes.TargetHealthDescription = {
        "Target": cast(shapes.TargetDescription, shown),
        "HealthCheckPort": str(port) if check_port == "traffic-port" else check_port}
    checked = (record.internal.get("health") or {}).get(stored.target_name(target["Id"], int(port or 0)))
    state: shapes.TargetHealth
    stopped = _stopped_instance(ctx, body, target) if registered else None
    if registered and target.get("draining") is not None:
        state = {"State": "draining", "Reason": "Target.DeregistrationInProgress",
                 "Description": "Target deregistration is in progress"}
    elif not registered:
        state = {"State": "unused", "Reason": "Target.NotRegistered",
                 "Description": "Target is not registered to the target group"}
    elif not in_use:
        state = {"State": "unused", "Reason": "Target.NotInUse",
                 "Description": "Target group is not configured to receive traffic from the load balancer"}
    elif stopped is not None:
        state = {"State": "unused", "Reason": "Target.InvalidState", "Description": f"Target is in the {stopped} state"}
    elif checked is not None:
        state = cast(shapes.TargetHealth, dict(checked))
    else:
        state = {"State": "initial", "Reason": "Elb.RegistrationInProgress",
                 "Description": "Target registration is in progress"}
    return {**out, "TargetHealth": state}


# -- operations ------------------------------------------------------------------

class TargetGroupOps:
    def create_target_group(self, ctx: RequestContext,
                            params: shapes.CreateTargetGroupInput) -> shapes.CreateTargetGroupOutput:
        c.check_name(params["Name"], "Target group")
        tg_id = c.new_id()
        body = _new_body(ctx, params, tg_id)
        existing = ctx.tx.by_name(c.TARGET_GROUP, params["Name"])
        if existing is not None:
            if _settings(existing.body) != _settings(body):
                raise c.error("DuplicateTargetGroupName", f"A target group with the same name '{params['Name']}' "
                              "exists, but with different settings")
            return {"TargetGroups": [show(ctx, existing)]}
        internal = {"attributes": default_attributes(params.get("Protocol"), body["TargetType"]), "targets": []}
        record = Record(c.TARGET_GROUP, tg_id, ctx.account, ctx.region, body, name=params["Name"],
                        arn=body["TargetGroupArn"], internal=internal)
        try:
            ctx.tx.put(record)
        except NameTaken:
            raise c.error("DuplicateTargetGroupName", f"A target group with the name '{params['Name']}' already "
                          "exists") from None
        return {"TargetGroups": [show(ctx, record)]}

    def describe_target_groups(self, ctx: RequestContext,
                               params: shapes.DescribeTargetGroupsInput) -> shapes.DescribeTargetGroupsOutput:
        arns, names, lb_arn = params.get("TargetGroupArns"), params.get("Names"), params.get("LoadBalancerArn")
        if sum(bool(x) for x in (arns, names, lb_arn)) > 1:
            raise c.validation("Target group ARNs, names and a load balancer ARN cannot be specified together")
        records: Sequence[Record | None]
        if arns:
            for value in arns:
                c.check_arn(c.TARGET_GROUP, value)
            records = [c.find(ctx, c.TARGET_GROUP, a) for a in dict.fromkeys(arns)]
        elif names:
            records = [ctx.tx.by_name(c.TARGET_GROUP, n) for n in dict.fromkeys(names)]
        elif lb_arn:
            lb = c.require(ctx, c.LOAD_BALANCER, lb_arn)
            records = [r for r in ctx.tx.list(c.TARGET_GROUP) if lb.arn in load_balancer_arns(ctx, r.arn)]
        else:
            records = ctx.tx.list(c.TARGET_GROUP)
        if any(r is None for r in records):
            raise c.error("TargetGroupNotFound", "One or more target groups not found")
        return c.page([show(ctx, r) for r in records if r is not None], params, "TargetGroups")

    def modify_target_group(self, ctx: RequestContext,
                            params: shapes.ModifyTargetGroupInput) -> shapes.ModifyTargetGroupOutput:
        record = c.require(ctx, c.TARGET_GROUP, params["TargetGroupArn"])
        body = record.body
        given: dict[str, Any] = {k: params[k] for k in HEALTH_MEMBERS if params.get(k) is not None}
        if given.get("HealthCheckProtocol") == "TCP":
            body.pop("HealthCheckPath", None), body.pop("Matcher", None)
        elif given.get("HealthCheckProtocol") and body.get("HealthCheckProtocol") == "TCP":
            # Moving from TCP to an HTTP check: the HTTP-only members take their defaults.
            body.update({k: v for k, v in health_defaults(body.get("Protocol"), body["TargetType"],
                                                          given["HealthCheckProtocol"]).items()
                         if k in ("HealthCheckPath", "Matcher")})
        if body["TargetType"] in ("instance", "ip", "alb") and given.get("HealthCheckEnabled") is False:
            raise c.validation("Health checks cannot be disabled for target groups with target type "
                               f"'{body['TargetType']}'")
        body.update(given)
        _check_health(body)
        ctx.tx.put(record)
        return {"TargetGroups": [show(ctx, record)]}

    def delete_target_group(self, ctx: RequestContext,
                            params: shapes.DeleteTargetGroupInput) -> shapes.DeleteTargetGroupOutput:
        value = params["TargetGroupArn"]
        c.check_arn(c.TARGET_GROUP, value)
        record = c.find(ctx, c.TARGET_GROUP, value)
        if record is None:
            return {}  # the model declares no not-found error: deleting twice succeeds
        if load_balancer_arns(ctx, value):
            raise c.error("ResourceInUse", f"Target group '{value}' is currently in use by a listener or a rule")
        ctx.tx.delete(c.TARGET_GROUP, record.id)
        return {}

    def describe_target_group_attributes(
            self, ctx: RequestContext, params: shapes.DescribeTargetGroupAttributesInput
    ) -> shapes.DescribeTargetGroupAttributesOutput:
        record = c.require(ctx, c.TARGET_GROUP, params["TargetGroupArn"])
        return {"Attributes": c.as_list(record.internal["attributes"])}

    def modify_target_group_attributes(
            self, ctx: RequestContext, params: shapes.ModifyTargetGroupAttributesInput
    ) -> shapes.ModifyTargetGroupAttributesOutput:
        record = c.require(ctx, c.TARGET_GROUP, params["TargetGroupArn"])
        merged = c.merge_attributes(record.internal["attributes"], params["Attributes"],
                                    lambda k, v: _check_attribute(record, k, v))
        record.internal["attributes"] = merged
        ctx.tx.put(record)
        return {"Attributes": c.as_list(merged)}

    def register_targets(self, ctx: RequestContext,
                         params: shapes.RegisterTargetsInput) -> shapes.RegisterTargetsOutput:
        record = c.require(ctx, c.TARGET_GROUP, params["TargetGroupArn"])
        body = record.body
        targets = {_target_key(body, t): t for t in record.internal["targets"]}
        healths = record.internal.setdefault("health", {})
        for target in params["Targets"]:
            _check_target(ctx, record, target)
            key = _target_key(body, target)
            if key in targets and targets[key].get("draining") is None:
                continue  # registered already: nothing changes
            targets[key] = {k: v for k, v in target.items() if v is not None}
            zone = _zone_of(ctx, body, target)
            if zone is not None:
                targets[key][stored.ZONE] = zone
            healths.pop(stored.target_name(key[0], int(key[1] or 0)), None)
        if len(targets) > 1000:
            raise c.error("TooManyTargets", "You've reached the limit on the number of targets per target group")
        record.internal["targets"] = list(targets.values())
        ctx.tx.put(record)
        return {}

    def deregister_targets(self, ctx: RequestContext,
                           params: shapes.DeregisterTargetsInput) -> shapes.DeregisterTargetsOutput:
        # "If the specified target does not exist, the action returns successfully."
        record = c.require(ctx, c.TARGET_GROUP, params["TargetGroupArn"])
        body = record.body
        doomed = {_target_key(body, t) for t in params["Targets"]}
        drains = bool(load_balancer_arns(ctx, record.arn)) and stored.TargetGroupRecord(record).deregistration_delay > 0
        now, kept = time.time(), []
        for target in record.internal["targets"]:
            key = _target_key(body, target)
            if key not in doomed:
                kept.append(target)
            elif drains:  # the data plane ends the drain (``dataplane.nlb``); one already draining keeps its time
                kept.append({**target, "draining": target.get("draining") or now})
            else:
                record.internal.get("health", {}).pop(stored.target_name(key[0], int(key[1] or 0)), None)
        record.internal["targets"] = kept
        ctx.tx.put(record)
        return {}

    def describe_target_health(self, ctx: RequestContext,
                               params: shapes.DescribeTargetHealthInput) -> shapes.DescribeTargetHealthOutput:
        record = c.require(ctx, c.TARGET_GROUP, params["TargetGroupArn"])
        body = record.body
        in_use = bool(load_balancer_arns(ctx, record.arn))
        registered = {_target_key(body, t): t for t in record.internal["targets"]}
        asked = params.get("Targets")
        if not asked:
            return {"TargetHealthDescriptions": [_health_of(ctx, record, t, in_use, True) for t in registered.values()]}
        out: list[shapes.TargetHealthDescription] = []
        for target in asked:
            found = registered.get(_target_key(body, target))
            out.append(_health_of(ctx, record, found or target, in_use, found is not None))
        return {"TargetHealthDescriptions": out}
