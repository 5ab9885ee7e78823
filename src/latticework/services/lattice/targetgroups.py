"""Target groups and their targets.

Target groups
    A target group has an immutable ``type`` (IP, INSTANCE, ALB, LAMBDA) that
    decides which ``config`` members it takes:

    ========  ====================================================  ===========
    type      config                                                healthCheck
    ========  ====================================================  ===========
    IP        port, protocol, protocolVersion, ipAddressType, vpc   yes
    INSTANCE  port, protocol, protocolVersion, vpc                  yes
    ALB       port, protocol, protocolVersion, vpc                  refused
    LAMBDA    lambdaEventStructureVersion only                      refused
    ========  ====================================================  ===========

    ``protocol`` and ``vpcIdentifier`` are required for the first three;
    ``port`` defaults to 80 for HTTP and 443 for HTTPS and is required for
    TCP (API reference, TargetGroupConfig). A LAMBDA group always answers a
    config holding its event structure version (V1 by default), also when it
    was created without one: Terraform's acceptance test for such a group
    reads back one config block.

Health checks
    The record keeps two things: ``config.healthCheck`` in the body, the
    effective settings (AWS fills every default into the answer, so Terraform
    reads back what it sent and a group created without a health check reads
    back the same defaults every time), and the internal ``healthCheck``, only
    what callers set. Updates merge into the internal ``healthCheck``; a 0 (or
    an empty path or matcher) resets a
    setting to its default. The health check ``port`` is not filled in when
    unset: AWS then checks the traffic port and does not echo one (AWS CLI
    examples of CreateTargetGroup). Defaults: enabled for HTTP1 groups, off
    for HTTP2, GRPC and TCP groups; protocol and protocol version mirror the
    group (a GRPC group has no HTTP version to mirror, so none is filled in and
    enabling checks on it requires one, as the user guide says).
    No "timeout < interval" rule is enforced: the Lattice guide says each check
    is independent and "the time that it takes for the target to respond does
    not affect the interval to the next health check request".
    https://docs.aws.amazon.com/vpc-lattice/latest/ug/target-group-health-checks.html

Targets
    Records of kind ``target`` under the group (parent = group id), named
    ``"<target id>:<port>"``: the store keeps names unique per parent, so a
    target is unique per group and port while the same address may be
    registered with several groups. Record ids (group id, position in the
    call, digest of the name) keep ListTargets in registration order and stay
    short whatever the length of an ARN. The port is the given one or the
    group's; LAMBDA targets have no port (AWS ignores it), ALB targets default
    to the group's port like other types. Invalid targets are reported in
    ``unsuccessful`` with these failure codes (AWS's codes are undocumented):

    - ``InvalidTarget``: not an id of the group's type (IP address of the
      group's family, ``i-`` + 8/17 hex, a Lambda function ARN, an
      application load balancer ARN of the caller's account);
    - ``TargetLimitExceeded``: a second Lambda function or load balancer;
    - ``TargetNotFound``: deregistering a target that is not registered.

    IP targets are only checked for family until the EC2 API exists; the
    check that the address lies in the group's VPC belongs in ``vpcs``.

Target status (ListTargets)
    Computed when read: ``UNUSED`` while no listener or rule of a service
    forwards to the group, ``UNAVAILABLE`` when health checks are disabled
    (always for LAMBDA and ALB groups, which Lattice does not health check),
    otherwise the stored health status, which starts ``INITIAL`` and is
    written by the data plane's health checker.
    DeregisterTargets makes a target ``DRAINING``; draining lasts until its
    in-flight requests finish, and without traffic there are none, so the
    settle step right after the call removes it (Terraform waits for the
    target to disappear from ListTargets).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any, Mapping

from latticework.api.context import RequestContext
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import common, vpcs
from latticework.services.lattice.common import TARGET, TARGET_GROUP
from latticework.services.lattice.quotas import check_quota
from latticework.store import Record, Transaction

_SUMMARY = ("id", "arn", "name", "type", "createdAt", "lastUpdatedAt", "status", "serviceArns")
_SUMMARY_CONFIG = ("port", "protocol", "ipAddressType", "vpcIdentifier", "lambdaEventStructureVersion")
_DEFAULT_PORTS = {"HTTP": 80, "HTTPS": 443}

_HEALTH_DEFAULTS = {"path": "/", "healthCheckIntervalSeconds": 30, "healthCheckTimeoutSeconds": 5,
                    "healthyThresholdCount": 5, "unhealthyThresholdCount": 2, "matcher": {"httpCode": "200"}}
# Documented ranges of settings whose model minimum is 0 (0 meaning "default").
_HEALTH_MINIMUMS = {"healthCheckIntervalSeconds": 5, "healthyThresholdCount": 2, "unhealthyThresholdCount": 2}

_INSTANCE_ID = re.compile(r"i-([0-9a-f]{8}|[0-9a-f]{17})")
_LAMBDA_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?")
_ALB_ARN = re.compile(
    r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:(\d{12}):loadbalancer/app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}")
_EXPECTED_IDS = {"IP": "an {family} address", "INSTANCE": "an EC2 instance id",
                 "LAMBDA": "a Lambda function ARN", "ALB": "an Application Load Balancer ARN of this account"}
_SINGLE_TARGET_TYPES = ("LAMBDA", "ALB")  # at most one target per group
_UNCHECKED_TYPES = ("LAMBDA", "ALB")  # Lattice does not health check these


# -- config ------------------------------------------------------------------

def _fields(prefix: str, message: str, *members: str):
    return common.validation(message, *((f"{prefix}.{m}" if prefix else m, message) for m in members))


def _lambda_config(config: Mapping[str, Any]) -> dict:
    extra = [m for m in config if m != "lambdaEventStructureVersion"]
    if extra:
        raise _fields("config", f"{extra[0]} is not supported for target groups of type LAMBDA.", *extra)
    return {"lambdaEventStructureVersion": config.get("lambdaEventStructureVersion", "V1")}


def _require_network_members(tg_type: str, config: Mapping[str, Any]) -> None:
    missing = [m for m in ("protocol", "vpcIdentifier") if m not in config]
    if missing:
        raise _fields("config", f"{missing[0]} is required for target groups of type {tg_type}.", *missing)
    if "port" not in config and config["protocol"] not in _DEFAULT_PORTS:
        raise _fields("config", f"port is required for target groups with protocol {config['protocol']}.", "port")


def _refuse_members(tg_type: str, config: Mapping[str, Any]) -> None:
    refused = ["lambdaEventStructureVersion"]
    refused += [] if tg_type == "IP" else ["ipAddressType"]
    refused += ["healthCheck"] if tg_type == "ALB" else []
    present = [m for m in refused if m in config]
    if present:
        raise _fields("config", f"{present[0]} is not supported for target groups of type {tg_type}.", *present)


def _network_config(ctx: RequestContext, tg_type: str, config: Mapping[str, Any] | None) -> dict:
    if config is None:
        raise common.validation(f"config is required for target groups of type {tg_type}.",
                                ("config", "config is required"))
    _refuse_members(tg_type, config)
    _require_network_members(tg_type, config)
    out = {"port": config.get("port") or _DEFAULT_PORTS[config["protocol"]], "protocol": config["protocol"],
           "protocolVersion": config.get("protocolVersion", "HTTP1"),
           "vpcIdentifier": vpcs.check_vpc(ctx, config["vpcIdentifier"], "config.vpcIdentifier")}
    if tg_type == "IP":
        out["ipAddressType"] = config.get("ipAddressType", "IPV4")
    return out


# -- health checks -------------------------------------------------------------

def _is_reset(key: str, value) -> bool:
    """0, an empty path or an empty matcher set a health check setting back to its default."""
    if key == "matcher":
        return not value.get("httpCode")
    return key != "enabled" and value in (0, "")


def _check_matcher(code: str, field: str) -> None:
    """Codes 200-499, as a list ("200,202") or ranges ("200-299")."""
    for part in code.split(","):
        bounds = part.split("-")
        valid = len(bounds) <= 2 and all(b.isdigit() and 200 <= int(b) <= 499 for b in bounds)
        if not valid or int(bounds[0]) > int(bounds[-1]):
            raise common.validation(f"Invalid health check matcher {code}: HTTP codes must be 200-499.",
                                    (field, "HTTP codes must be between 200 and 499"))


def _check_health_settings(settings: dict, prefix: str) -> None:
    for key, minimum in _HEALTH_MINIMUMS.items():
        if settings.get(key, minimum) < minimum:
            raise _fields(prefix, f"{key} must be at least {minimum}.", key)
    if "matcher" in settings:
        _check_matcher(settings["matcher"]["httpCode"], f"{prefix}.matcher.httpCode")


def _merge_health_check(explicit: dict, given: Mapping[str, Any], prefix: str) -> dict:
    merged = dict(explicit)
    for key, value in given.items():
        if _is_reset(key, value):
            merged.pop(key, None)
        else:
            merged[key] = value
    _check_health_settings(merged, prefix)
    return merged


def _effective_health_check(config: dict, explicit: dict, prefix: str) -> dict:
    version = config["protocolVersion"]
    defaults = {"enabled": version == "HTTP1" and config["protocol"] != "TCP", "protocol": config["protocol"],
                **_HEALTH_DEFAULTS}
    if version != "GRPC":
        defaults["protocolVersion"] = version
    effective = {**defaults, **explicit}
    if effective["enabled"] and "protocolVersion" not in effective:
        raise _fields(prefix, "Health checks of GRPC target groups must use protocol version HTTP1 or HTTP2.",
                      "protocolVersion")
    return effective


# -- target groups -------------------------------------------------------------

def _used_by(ctx: RequestContext, tg: Record) -> list[str]:
    return common.services_using_target_group(ctx, tg.id)


def _require_settled(tg: Record) -> None:
    if tg.status != "ACTIVE":
        raise common.conflict(TARGET_GROUP, tg.id, "Invalid resource status for this operation, resource id "
                                                   f"{tg.id}, status: {tg.status}.")


def _summary(ctx: RequestContext, tg: Record) -> dict:
    config = tg.body["config"]
    return {**common.project({**tg.body, "serviceArns": _used_by(ctx, tg)}, _SUMMARY),
            **common.project(config, _SUMMARY_CONFIG)}


def _tg_response(tg: Record) -> Any:
    return common.project(tg.body, ("id", "arn", "name", "type", "config", "status"))


def _new_config(ctx: RequestContext, tg_type: str, config: shapes.TargetGroupConfig | None) -> tuple[dict, dict]:
    """(effective config, explicitly set health check settings) of a new group."""
    if tg_type == "LAMBDA":
        return _lambda_config(config or {}), {}
    out = _network_config(ctx, tg_type, config)
    if tg_type == "ALB":
        return out, {}
    assert config is not None  # _network_config refused a missing config
    explicit = _merge_health_check({}, config.get("healthCheck", {}), "config.healthCheck")
    out["healthCheck"] = _effective_health_check(out, explicit, "config.healthCheck")
    return out, explicit


class TargetGroupOps:
    def create_target_group(self, ctx: RequestContext,
                            params: shapes.CreateTargetGroupRequest) -> shapes.CreateTargetGroupResponse:
        check_quota(ctx, "target-groups", ctx.tx.count(TARGET_GROUP.kind), TARGET_GROUP)
        config, explicit = _new_config(ctx, params["type"], params.get("config"))
        body = {"name": params["name"], "type": params["type"], "config": config, "status": "CREATE_IN_PROGRESS",
                "tags": common.check_tags(params.get("tags"))}
        record = common.new_record(ctx, TARGET_GROUP, body, name=params["name"], status="CREATE_IN_PROGRESS",
                                   internal={"healthCheck": explicit})
        common.insert(ctx, record, TARGET_GROUP)
        return _tg_response(record)

    def get_target_group(self, ctx: RequestContext,
                         params: shapes.GetTargetGroupRequest) -> shapes.GetTargetGroupResponse:
        tg = common.resolve(ctx, TARGET_GROUP, params["targetGroupIdentifier"])
        members = ("id", "arn", "name", "type", "config", "createdAt", "lastUpdatedAt", "status", "serviceArns",
                   "failureMessage", "failureCode")
        return common.project({**tg.body, "serviceArns": _used_by(ctx, tg)}, members)

    def update_target_group(self, ctx: RequestContext,
                            params: shapes.UpdateTargetGroupRequest) -> shapes.UpdateTargetGroupResponse:
        tg = common.resolve(ctx, TARGET_GROUP, params["targetGroupIdentifier"])
        if tg.body["type"] in _UNCHECKED_TYPES:
            raise _fields("", f"Health checks are not supported for target groups of type {tg.body['type']}.",
                          "healthCheck")
        _require_settled(tg)
        explicit = _merge_health_check(tg.internal.get("healthCheck", {}), params["healthCheck"], "healthCheck")
        config = {**tg.body["config"],
                  "healthCheck": _effective_health_check(tg.body["config"], explicit, "healthCheck")}
        tg.internal["healthCheck"] = explicit
        common.touch(ctx, tg, config=config)
        return _tg_response(tg)

    def delete_target_group(self, ctx: RequestContext,
                            params: shapes.DeleteTargetGroupRequest) -> shapes.DeleteTargetGroupResponse:
        tg = common.resolve(ctx, TARGET_GROUP, params["targetGroupIdentifier"])
        if tg.status == "CREATE_IN_PROGRESS":
            _require_settled(tg)
        if common.rules_forwarding_to(ctx, tg.id):
            raise common.conflict(TARGET_GROUP, tg.id, f"Target group {tg.id} cannot be deleted while it is used "
                                                       "by a listener or rule. Remove it from their actions first.")
        for target in ctx.tx.list(TARGET.kind, parent=tg.id):
            ctx.tx.delete(TARGET.kind, target.id)
        common.touch(ctx, tg, status="DELETE_IN_PROGRESS")
        return common.project(tg.body, ("id", "arn", "status"))

    def list_target_groups(self, ctx: RequestContext,
                           params: shapes.ListTargetGroupsRequest) -> shapes.ListTargetGroupsResponse:
        vpc, tg_type = params.get("vpcIdentifier"), params.get("targetGroupType")

        def keep(tg: Record) -> bool:
            return (vpc is None or tg.body["config"].get("vpcIdentifier") == vpc) and \
                (tg_type is None or tg.body["type"] == tg_type)

        return common.list_kind(ctx, params, TARGET_GROUP, lambda tg: _summary(ctx, tg), keep=keep,
                                filters={"vpc": vpc, "type": tg_type})

    # -- targets ---------------------------------------------------------------

    def register_targets(self, ctx: RequestContext,
                         params: shapes.RegisterTargetsRequest) -> shapes.RegisterTargetsResponse:
        tg = common.resolve(ctx, TARGET_GROUP, params["targetGroupIdentifier"])
        _require_settled(tg)
        wanted = _dedupe([_keyed(tg, t) for t in params["targets"]])
        live = _live_targets(ctx, tg)
        _check_target_quota(ctx, tg, live, wanted)
        registered = {t.body["id"] for t in live}
        result: shapes.RegisterTargetsResponse = {"successful": [], "unsuccessful": []}
        for position, (target_id, port) in enumerate(wanted):
            failure = _target_failure(ctx, tg, target_id, registered)
            if failure is None:
                _store_target(ctx, tg, target_id, port, position)
                registered.add(target_id)
                result["successful"].append(_wire_target(target_id, port))
            else:
                result["unsuccessful"].append({**_wire_target(target_id, port), **failure})
        return result

    def deregister_targets(self, ctx: RequestContext,
                           params: shapes.DeregisterTargetsRequest) -> shapes.DeregisterTargetsResponse:
        tg = common.resolve(ctx, TARGET_GROUP, params["targetGroupIdentifier"])
        _require_settled(tg)
        result: shapes.DeregisterTargetsResponse = {"successful": [], "unsuccessful": []}
        for target_id, port in _dedupe([_keyed(tg, t) for t in params["targets"]]):
            record = _find_target(ctx, tg, target_id, port)
            if record is None:
                result["unsuccessful"].append({**_wire_target(target_id, port), **_failure(
                    "TargetNotFound", f"Target {target_id} is not registered with target group {tg.id}.")})
                continue
            _start_draining(ctx, record)
            result["successful"].append(_wire_target(target_id, port))
        return result

    def list_targets(self, ctx: RequestContext, params: shapes.ListTargetsRequest) -> shapes.ListTargetsResponse:
        tg = common.resolve(ctx, TARGET_GROUP, params["targetGroupIdentifier"])
        used = bool(_used_by(ctx, tg))
        lambda_group = tg.body["type"] == "LAMBDA"  # ports do not apply to Lambda functions
        wanted = [(t["id"], None if lambda_group else t.get("port")) for t in params.get("targets") or []]

        def keep(target: Record) -> bool:
            return not wanted or any(_matches(target, i, p) for i, p in wanted)

        return common.list_kind(ctx, params, TARGET, lambda t: _target_summary(tg, t, used), parent=tg.id,
                                keep=keep, filters={"targets": wanted})

    def settle_target(self, tx: Transaction, record: Record) -> None:
        """A draining target has no in-flight requests until the data plane exists: remove it."""
        if record.body.get("status") == "DRAINING":
            tx.delete(record.kind, record.id, account=record.account, region=record.region)


# -- target helpers ------------------------------------------------------------

def _keyed(tg: Record, target: shapes.Target) -> tuple[str, int | None]:
    """(target id, port) as stored: the group's port by default, no port for Lambda functions."""
    if tg.body["type"] == "LAMBDA":
        return target["id"], None
    return target["id"], target.get("port") or tg.body["config"]["port"]


def _dedupe(targets: list[tuple[str, int | None]]) -> list[tuple[str, int | None]]:
    return list(dict.fromkeys(targets))


def _target_name(target_id: str, port: int | None) -> str:
    return f"{target_id}:{port or ''}"


def _find_target(ctx: RequestContext, tg: Record, target_id: str, port: int | None) -> Record | None:
    return ctx.tx.by_name(TARGET.kind, _target_name(target_id, port), parent=tg.id)


def _target_record_id(tg_id: str, position: int, name: str) -> str:
    """Ordered like the registrations: the store lists a call's records by id."""
    return f"{tg_id}/{position:03d}-{hashlib.sha256(name.encode()).hexdigest()[:20]}"


def _wire_target(target_id: str, port: int | None) -> shapes.Target:
    return {"id": target_id, "port": port} if port else {"id": target_id}


def _failure(code: str, message: str) -> dict:
    return {"failureCode": code, "failureMessage": message}


def _matches(target: Record, target_id: str, port: int | None) -> bool:
    return target.body["id"] == target_id and (port is None or target.body.get("port") == port)


def _live_targets(ctx: RequestContext, tg: Record) -> list[Record]:
    return [t for t in ctx.tx.list(TARGET.kind, parent=tg.id) if t.body["status"] != "DRAINING"]


def _check_target_quota(ctx: RequestContext, tg: Record, live: list[Record],
                        wanted: list[tuple[str, int | None]]) -> None:
    existing = {(t.body["id"], t.body.get("port")) for t in live}
    check_quota(ctx, "targets-per-target-group", len(existing), TARGET, tg.id, adding=len(set(wanted) - existing))


def _valid_id(ctx: RequestContext, tg: Record, target_id: str) -> bool:
    tg_type = tg.body["type"]
    if tg_type == "IP":
        try:
            address = ipaddress.ip_address(target_id)
        except ValueError:
            return False
        return address.version == (6 if tg.body["config"]["ipAddressType"] == "IPV6" else 4)
    if tg_type == "INSTANCE":
        return bool(_INSTANCE_ID.fullmatch(target_id))
    if tg_type == "LAMBDA":
        return bool(_LAMBDA_ARN.fullmatch(target_id))
    alb = _ALB_ARN.fullmatch(target_id)  # the load balancer must be the caller's
    return alb is not None and alb.group(1) == ctx.account


def _target_failure(ctx: RequestContext, tg: Record, target_id: str, registered: set[str]) -> dict | None:
    """Why ``target_id`` cannot join the group (``registered``: ids already in it), or None."""
    tg_type = tg.body["type"]
    if not _valid_id(ctx, tg, target_id):
        expected = _EXPECTED_IDS[tg_type].format(family=tg.body["config"].get("ipAddressType"))
        return _failure("InvalidTarget", f"Target {target_id} is not valid for target group {tg.id}: "
                                         f"targets of type {tg_type} must be {expected}.")
    if tg_type in _SINGLE_TARGET_TYPES and registered - {target_id}:
        return _failure("TargetLimitExceeded", f"Target group {tg.id} of type {tg_type} can have only one target.")
    return None


def _store_target(ctx: RequestContext, tg: Record, target_id: str, port: int | None, position: int) -> None:
    """Register a target; registering one that is already there changes nothing."""
    current = _find_target(ctx, tg, target_id, port)
    if current is not None and current.body["status"] != "DRAINING":
        return
    if current is not None:  # re-registered while draining: it serves again, checks start over
        ctx.tx.delete(TARGET.kind, current.id)
    name = _target_name(target_id, port)
    body = {"id": target_id, "status": "INITIAL", "reasonCode": "HealthCheckInProgress",
            "createdAt": ctx.timestamp(), **({"port": port} if port else {})}
    ctx.tx.put(Record(kind=TARGET.kind, id=_target_record_id(tg.id, position, name), account=ctx.account,
                      region=ctx.region, body=body, parent=tg.id, name=name))


def _start_draining(ctx: RequestContext, record: Record) -> None:
    # The record status is transitional so that settling picks the target up.
    record.body.update(status="DRAINING", reasonCode="TargetDeregistrationInProgress")
    record.status = "DELETE_IN_PROGRESS"
    ctx.tx.put(record)


def _health_checked(tg: Record) -> bool:
    return tg.body["type"] not in _UNCHECKED_TYPES and tg.body["config"]["healthCheck"]["enabled"]


def _target_summary(tg: Record, target: Record, used: bool) -> dict:
    body = target.body
    if body["status"] == "DRAINING":
        status, reason = "DRAINING", body.get("reasonCode")
    elif not used:
        status, reason = "UNUSED", "TargetGroupNotInUse"
    elif not _health_checked(tg):
        status, reason = "UNAVAILABLE", "HealthCheckNotEnabled"
    else:
        status, reason = body["status"], body.get("reasonCode")
    return {**_wire_target(body["id"], body.get("port")), "status": status,
            **({"reasonCode": reason} if reason else {})}
