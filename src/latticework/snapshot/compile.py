"""``compile_snapshot(view)``: records of one revision -> an immutable ``Snapshot``.

A pure function of a ``StoreView``: it reads the kinds in ``KINDS`` and
nothing else, so the same view always compiles to the same snapshot. Records
being deleted (``DELETE_IN_PROGRESS``) are already gone for the data plane;
records being created are already there, which is what lets the control
plane turn them ``ACTIVE`` once the snapshot holding them is serving.

Reachability (who can call what) is decided here, once per revision: a VPC
reaches the services of every service network it is associated with, either
directly (``snva``) or through an available service-network VPC endpoint.
When two networks give a VPC the same name, the older association wins.

``check`` verifies what the data plane relies on before the snapshot is
swapped in; a violation raises ``Inconsistent`` and the old snapshot stays.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

from latticework.fabric import Fabric
from latticework.snapshot.model import (
    HTTP, FixedResponse, Forward, HeaderMatch, HealthCheck, Listener, Match, PathMatch, Route, Rule, Service,
    ServiceNetwork, Snapshot, Target, TargetGroup, VpcView, WeightedTargetGroup,
)
from latticework.store import Record, StoreView

KINDS = ("vpc", "instance", "networkinterface", "servicenetwork", "service", "listener", "rule", "targetgroup",
         "target", "snva", "snsa", "vpcendpoint")

HOST_ADDRESS_TAG = "latticework:host-address"
"""EC2 tag on an instance or network interface naming the host address its processes listen on."""

DEFAULT_HOST = "127.0.0.1"


class Inconsistent(ValueError):
    """A compiled snapshot breaks an invariant the data plane relies on."""


def compile_snapshot(view: StoreView, fabric: Fabric = Fabric()) -> Snapshot:
    live = {kind: [r for r in view.of(kind) if r.status != "DELETE_IN_PROGRESS"] for kind in KINDS}
    hosts = _HostMap(live)
    listeners = _children(live["listener"])
    rules = _children(live["rule"])
    services = {r.id: _service(r, listeners.get(r.id, []), rules) for r in live["service"]}
    used = {g.target_group_id for s in services.values() for l in s.listeners.values() for rule in l.rules
            if isinstance(rule.action, Forward) for g in rule.action.groups}
    targets = _children(view.of("target"))  # draining targets stay until the data plane lets them go
    groups = {r.id: _target_group(r, targets.get(r.id, []), r.id in used, hosts) for r in live["targetgroup"]}
    vpcs = _vpc_views(live, services, fabric)
    snapshot = Snapshot(revision=view.revision, vpcs=vpcs, services=services, target_groups=groups,
                        by_address={a: v.vpc_id for v in vpcs.values() for a in (v.resolver, v.lattice)})
    check(snapshot)
    return snapshot


def _children(records: Iterable[Record]) -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {}
    for r in records:
        found.setdefault(r.parent or "", []).append(r)
    return found


# -- services, listeners, rules ------------------------------------------------------

def _service(r: Record, listeners: list[Record], rules: dict[str, list[Record]]) -> Service:
    b = r.body
    compiled = {l.body["port"]: _listener(l, rules.get(l.id, [])) for l in listeners}
    return Service(id=r.id, arn=r.arn, name=b["name"], account=r.account, region=r.region,
                   dns_name=b["dnsEntry"]["domainName"], custom_domain=b.get("customDomainName"),
                   certificate_arn=b.get("certificateArn") or None, auth_type=b.get("authType", "NONE"),
                   idle_timeout=float(b.get("idleTimeoutSeconds", 60)), listeners=compiled)


def _listener(r: Record, rules: list[Record]) -> Listener:
    compiled = sorted((_rule(x) for x in rules), key=lambda x: (x.is_default, x.priority or 0))
    return Listener(id=r.id, arn=r.arn, name=r.body["name"], protocol=r.body["protocol"], port=r.body["port"],
                    rules=tuple(compiled))


def _rule(r: Record) -> Rule:
    b = r.body
    default = bool(b.get("isDefault"))
    return Rule(id=r.id, arn=r.arn, name=b["name"], priority=None if default else b["priority"],
                match=None if default else _match(b["match"]["httpMatch"]), action=_action(b["action"]),
                is_default=default)


def _match(http: dict) -> Match:
    path = None
    if "pathMatch" in http:
        ((kind, value),) = http["pathMatch"]["match"].items()
        path = PathMatch(kind, value, http["pathMatch"].get("caseSensitive", True))
    headers = tuple(_header_match(h) for h in http.get("headerMatches") or ())
    return Match(method=http.get("method"), path=path, headers=headers)


def _header_match(h: dict) -> HeaderMatch:
    ((kind, value),) = h["match"].items()
    return HeaderMatch(h["name"].lower(), kind, value, bool(h.get("caseSensitive", False)))


def _action(action: dict) -> Forward | FixedResponse:
    if "fixedResponse" in action:
        return FixedResponse(action["fixedResponse"]["statusCode"])
    return Forward(tuple(WeightedTargetGroup(g["targetGroupIdentifier"], g.get("weight", 100))
                         for g in action["forward"]["targetGroups"]))


# -- target groups and targets ---------------------------------------------------------

def _health_check(config: dict) -> HealthCheck:
    h = config.get("healthCheck") or {}
    if not h:
        return HealthCheck(enabled=False)
    return HealthCheck(enabled=bool(h.get("enabled")), protocol=h.get("protocol", HTTP),
                       protocol_version=h.get("protocolVersion", "HTTP1"), port=h.get("port") or None,
                       path=h.get("path") or "/", interval=float(h.get("healthCheckIntervalSeconds", 30)),
                       timeout=float(h.get("healthCheckTimeoutSeconds", 5)),
                       healthy_threshold=int(h.get("healthyThresholdCount", 5)),
                       unhealthy_threshold=int(h.get("unhealthyThresholdCount", 2)),
                       matcher=(h.get("matcher") or {}).get("httpCode", "200"))


def _target_group(r: Record, targets: list[Record], used: bool, hosts: "_HostMap") -> TargetGroup:
    b, config = r.body, r.body.get("config") or {}
    vpc_id = config.get("vpcIdentifier")
    port = config.get("port", 0)
    compiled = tuple(
        Target(key=t.id, id=t.body["id"], port=t.body.get("port") or port,
               address=hosts.address(b["type"], vpc_id, t.body["id"], t.body.get("port") or port),
               draining=t.body.get("status") == "DRAINING")
        for t in targets)
    return TargetGroup(id=r.id, arn=r.arn, name=b["name"], account=r.account, region=r.region, type=b["type"],
                       protocol=config.get("protocol", HTTP), protocol_version=config.get("protocolVersion", "HTTP1"),
                       port=port, vpc_id=vpc_id, health_check=_health_check(config), targets=compiled, used=used)


class _HostMap:
    """Where a target's processes listen, in the loopback fabric.

    - An address in 127.0.0.0/8 is used as given (any VPC accepts one).
    - An address inside the target group's VPC CIDR, or an instance's primary
      private address, maps to the ``latticework:host-address`` tag of the
      instance or network interface holding that address in the VPC, and to
      127.0.0.1 without one: processes listen on the loopback address at the
      target's port.
    - Any other address is a host address and is used as given.
    - An ALB target forwards to 127.0.0.1 at the target's port.
    """

    def __init__(self, live: dict[str, list[Record]]):
        self.cidrs = {r.id: ipaddress.ip_network(r.body["CidrBlock"]) for r in live["vpc"] if "CidrBlock" in r.body}
        self.instances = {r.id: r for r in live["instance"]}
        self.tagged: dict[tuple[str, str], str] = {}
        for r in (*live["instance"], *live["networkinterface"]):
            tag = _tag(r.body, HOST_ADDRESS_TAG)
            if tag and r.body.get("PrivateIpAddress") and r.body.get("VpcId"):
                self.tagged[(r.body["VpcId"], r.body["PrivateIpAddress"])] = tag

    def address(self, tg_type: str, vpc_id: str | None, target_id: str, port: int) -> tuple[str, int] | None:
        if tg_type == "IP":
            return self._for_ip(vpc_id, target_id), port
        if tg_type == "INSTANCE":
            instance = self.instances.get(target_id)
            if instance is None or instance.body.get("State", {}).get("Name") not in ("running", "pending", None):
                return None
            tag = _tag(instance.body, HOST_ADDRESS_TAG)
            return (tag or self._for_ip(instance.body.get("VpcId"), instance.body.get("PrivateIpAddress", ""))), port
        if tg_type == "ALB":
            return DEFAULT_HOST, port
        return None  # Lambda functions are invoked, not connected to

    def _for_ip(self, vpc_id: str | None, address: str) -> str:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return DEFAULT_HOST
        if ip.is_loopback:
            return address
        cidr = self.cidrs.get(vpc_id or "")
        if cidr is not None and ip in cidr:
            return self.tagged.get((vpc_id, address), DEFAULT_HOST)
        return address


def _tag(body: dict, key: str) -> str | None:
    for tag in body.get("Tags") or body.get("TagSet") or ():
        if tag.get("Key") == key:
            return tag.get("Value")
    return None


# -- reachability ----------------------------------------------------------------------

def _vpc_views(live: dict[str, list[Record]], services: dict[str, Service], fabric: Fabric) -> dict[str, VpcView]:
    networks = {r.id: _network(r) for r in live["servicenetwork"]}
    arns = {n.arn: n for n in networks.values()}
    members: dict[str, list[Service]] = {}
    for a in live["snsa"]:
        if a.parent in networks and a.body["serviceId"] in services:
            members.setdefault(a.parent, []).append(services[a.body["serviceId"]])
    joined: dict[str, list[tuple[int, ServiceNetwork]]] = {}
    for a in live["snva"]:
        if a.parent in networks:
            joined.setdefault(a.body["vpcId"], []).append((a.created_rev, networks[a.parent]))
    for e in live["vpcendpoint"]:
        b = e.body
        if b.get("VpcEndpointType") == "ServiceNetwork" and b.get("State") == "available" \
                and b.get("ServiceNetworkArn") in arns:
            joined.setdefault(b["VpcId"], []).append((e.created_rev, arns[b["ServiceNetworkArn"]]))
    views = {}
    for vpc in live["vpc"]:
        block = fabric.block_of(vpc.body)
        if block is None:
            continue
        routes: dict[str, Route] = {}
        for _, network in sorted(joined.get(vpc.id, []), key=lambda x: x[0]):
            for service in members.get(network.id, []):
                for name in service.names():
                    routes.setdefault(name, Route(service, network))
        views[vpc.id] = VpcView(vpc_id=vpc.id, arn=f"arn:aws:ec2:{vpc.region}:{vpc.account}:vpc/{vpc.id}",
                                account=vpc.account, region=vpc.region, resolver=block.resolver,
                                lattice=block.lattice, routes=routes)
    return views


def _network(r: Record) -> ServiceNetwork:
    return ServiceNetwork(id=r.id, arn=r.arn, name=r.body["name"], account=r.account,
                          auth_type=r.body.get("authType", "NONE"))


# -- consistency -----------------------------------------------------------------------

def check(snapshot: Snapshot) -> None:
    """Raise ``Inconsistent`` unless every reference the data plane follows resolves."""
    for service in snapshot.services.values():
        for port, listener in service.listeners.items():
            if listener.port != port or not listener.rules or not listener.rules[-1].is_default:
                raise Inconsistent(f"listener {listener.id} has no default rule last")
            for rule in listener.rules:
                if isinstance(rule.action, Forward):
                    missing = [g.target_group_id for g in rule.action.groups
                               if g.target_group_id not in snapshot.target_groups]
                    if missing:
                        raise Inconsistent(f"rule {rule.id} forwards to unknown target groups {missing}")
    for vpc in snapshot.vpcs.values():
        for route in vpc.routes.values():
            if route.service.id not in snapshot.services:
                raise Inconsistent(f"VPC {vpc.vpc_id} routes to unknown service {route.service.id}")
