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

Compiling is incremental (Envoy's incremental xDS, in miniature): a
``Compiler`` keeps the live records and what it built from them, and each
revision feeds it only the records that changed (``Compiler.update``). It
marks what those changes touch (a rule -> its service; a service -> the
networks holding it -> the VPCs joined to them; a target -> its group; a
VPC's addresses or tags -> the groups in that VPC) and rebuilds just that,
so a write costs the size of what it touched, not of the whole store.
``compile_snapshot`` is the same code fed every record at once; the tests
check that both give the same snapshot.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Mapping

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


Key = tuple[str, str]  # (kind, record id): ids are unique across accounts and regions

# Secondary indexes the rebuilds look records up by: (kind, name) -> the value a record is filed under.
LOOKUPS = {
    ("snsa", "service"): lambda b: b.get("serviceId"),
    ("snva", "vpc"): lambda b: b.get("vpcId"),
    ("vpcendpoint", "vpc"): lambda b: b.get("VpcId"),
    ("vpcendpoint", "network"): lambda b: b.get("ServiceNetworkArn"),
    ("targetgroup", "vpc"): lambda b: (b.get("config") or {}).get("vpcIdentifier"),
    ("targetgroup", "type"): lambda b: b.get("type"),
}


class Compiler:
    """Keeps a snapshot up to date from changed records."""

    def __init__(self, fabric: Fabric = Fabric()):
        self.fabric = fabric
        self.revision = 0
        self.records: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}
        self.children: dict[str, dict[str, set[str]]] = {kind: {} for kind in KINDS}  # kind -> parent -> ids
        self.lookups: dict[tuple[str, str], dict[str, set[str]]] = {key: {} for key in LOOKUPS}
        self.services: dict[str, Service] = {}
        self.groups: dict[str, TargetGroup] = {}
        self.vpcs: dict[str, VpcView] = {}
        self.networks: dict[str, ServiceNetwork] = {}
        self.by_address: dict[str, str] = {}
        self.references: dict[str, dict[str, int]] = {}  # target group id -> {service id: rules forwarding}
        self.hosts = _HostMap()
        self.rebuilt_services: set[str] = set()  # what the last update rebuilt (services that changed)

    # -- entry points ------------------------------------------------------------------------
    def update(self, revision: int, changed: Mapping[Key, Record | None]) -> Snapshot:
        """Apply changed records (None: deleted) and return the snapshot of ``revision``."""
        dirty = _Dirty()
        for (kind, id), record in changed.items():
            if kind in self.records:
                self._store(kind, id, record, dirty)
        self._rebuild(dirty)
        self.rebuilt_services = dirty.services
        self.revision = revision
        snapshot = Snapshot(revision=revision, vpcs=dict(self.vpcs), services=dict(self.services),
                            target_groups=dict(self.groups), by_address=dict(self.by_address))
        check(snapshot, dirty.services, dirty.vpcs)
        return snapshot

    def load(self, view: StoreView) -> Snapshot:
        """Start from every record of ``view``."""
        changed = {(kind, r.id): r for kind in KINDS for r in view.of(kind)}
        return self.update(view.revision, changed)

    # -- records -----------------------------------------------------------------------------
    def _store(self, kind: str, id: str, record: Record | None, dirty: "_Dirty") -> None:
        # Records being deleted are gone for the data plane, except draining targets.
        if record is not None and record.status == "DELETE_IN_PROGRESS" and kind != "target":
            record = None
        old = self.records[kind].pop(id, None)
        for r in (old, record):
            if r is not None:
                self._touch(kind, r, dirty)
        if old is not None:
            self._file(kind, old, False)
        if record is not None:
            self.records[kind][id] = record
            self._file(kind, record, True)
        if kind in ("vpc", "instance", "networkinterface"):
            self.hosts.store(kind, id, record)

    def _file(self, kind: str, r: Record, present: bool) -> None:
        """Add ``r`` to (or remove it from) the children and lookup indexes."""
        places = [(self.children[kind], r.parent)] if r.parent is not None else []
        places += [(self.lookups[key], LOOKUPS[key](r.body)) for key in LOOKUPS if key[0] == kind]
        for index, value in places:
            if present:
                index.setdefault(value, set()).add(r.id)
            elif value in index:
                index[value].discard(r.id)

    def _find(self, kind: str, name: str, value) -> list[Record]:
        return [self.records[kind][i] for i in self.lookups[(kind, name)].get(value, ())]

    def _touch(self, kind: str, r: Record, dirty: "_Dirty") -> None:
        """Mark what a change of ``r`` affects."""
        b = r.body
        if kind == "service":
            dirty.services.add(r.id)
        elif kind in ("listener", "rule"):  # both record their service (listeners.py, ``_links``)
            dirty.services.add(b["serviceId"])
        elif kind == "targetgroup":
            dirty.groups.add(r.id)
        elif kind == "target":
            assert r.parent is not None  # a target's parent is its group
            dirty.groups.add(r.parent)
        elif kind in ("servicenetwork", "snsa"):
            network_id = r.id if kind == "servicenetwork" else r.parent
            assert network_id is not None  # an association's parent is its network
            dirty.networks.add(network_id)
        elif kind == "snva":
            dirty.vpcs.add(b["vpcId"])
        elif kind == "vpcendpoint":
            dirty.vpcs.add(b["VpcId"])
        elif kind in ("vpc", "instance", "networkinterface"):
            vpc_id = r.id if kind == "vpc" else b.get("VpcId")
            if vpc_id is not None:  # a terminated instance has left its VPC: no VPC view to rebuild
                dirty.vpcs.add(vpc_id)
            dirty.host_vpcs.add(vpc_id)
            if kind == "instance":
                dirty.instances.add(r.id)

    # -- rebuilding ------------------------------------------------------------------------------
    def _rebuild(self, dirty: "_Dirty") -> None:
        for id in dirty.services:
            self._rebuild_service(id, dirty)
        for id in dirty.networks:
            self._rebuild_network(id, dirty)
        for vpc_id in dirty.host_vpcs:  # groups whose targets' addresses may have moved
            dirty.groups.update(g.id for g in self._find("targetgroup", "vpc", vpc_id))
        if dirty.instances:
            dirty.groups.update(g.id for g in self._find("targetgroup", "type", "INSTANCE"))
        for id in dirty.groups:
            self._rebuild_group(id)
        for id in dirty.vpcs:
            self._rebuild_vpc(id)

    def _rebuild_service(self, id: str, dirty: "_Dirty") -> None:
        old = self.services.pop(id, None)
        record = self.records["service"].get(id)
        if record is not None:
            listeners = [self._listener(l) for l in self._kids("listener", id)]
            self.services[id] = _service(record, listeners)
        self._count_references(old, self.services.get(id), dirty)
        dirty.networks.update(a.parent for a in self._find("snsa", "service", id) if a.parent is not None)

    def _listener(self, record: Record) -> Listener:
        return _listener(record, [_rule(r) for r in self._kids("rule", record.id)])

    def _count_references(self, old: Service | None, new: Service | None, dirty: "_Dirty") -> None:
        """Keep ``references`` (which services forward to a group) and mark groups whose use changed."""
        for service, step in ((old, -1), (new, 1)):
            if service is None:
                continue
            for group_id in _forwarded(service):
                users = self.references.setdefault(group_id, {})
                users[service.id] = users.get(service.id, 0) + step
                if users[service.id] == 0:
                    del users[service.id]
                dirty.groups.add(group_id)

    def _rebuild_network(self, id: str, dirty: "_Dirty") -> None:
        record = self.records["servicenetwork"].get(id)
        self.networks.pop(id, None)
        if record is not None:
            self.networks[id] = _network(record)
        dirty.vpcs.update(a.body["vpcId"] for a in self._kids("snva", id))
        if record is not None:
            dirty.vpcs.update(e.body["VpcId"] for e in self._find("vpcendpoint", "network", record.arn))

    def _rebuild_group(self, id: str) -> None:
        record = self.records["targetgroup"].get(id)
        if record is None:
            self.groups.pop(id, None)
            return
        config = record.body.get("config") or {}
        port, vpc_id, tg_type = config.get("port", 0), config.get("vpcIdentifier"), record.body["type"]
        targets = tuple(Target(key=t.id, id=t.body["id"], port=t.body.get("port") or port,
                               address=self.hosts.address(tg_type, vpc_id, t.body["id"], t.body.get("port") or port),
                               draining=t.body.get("status") == "DRAINING")
                        for t in self._kids("target", id))
        self.groups[id] = _target_group(record, targets, bool(self.references.get(id)))

    def _rebuild_vpc(self, id: str) -> None:
        record = self.records["vpc"].get(id)
        block = self.fabric.block_of(record.body) if record is not None else None
        old = self.vpcs.pop(id, None)
        if old is not None:
            self.by_address.pop(old.resolver, None)
            self.by_address.pop(old.lattice, None)
        if record is not None and block is not None:
            self.vpcs[id] = view = _vpc_view(record, block, self._joined(id), self._members)
            self.by_address.update({view.resolver: id, view.lattice: id})

    def _joined(self, vpc_id: str) -> tuple[ServiceNetwork, ...]:
        """Networks a VPC reaches, oldest association first."""
        found = [(a.created_rev, self.networks[a.parent]) for a in self._find("snva", "vpc", vpc_id)
                 if a.parent in self.networks]
        arns = {n.arn: n for n in self.networks.values()} if self.lookups[("vpcendpoint", "vpc")].get(vpc_id) else {}
        found += [(e.created_rev, arns[e.body["ServiceNetworkArn"]]) for e in self._find("vpcendpoint", "vpc", vpc_id)
                  if e.body.get("VpcEndpointType") == "ServiceNetwork" and e.body.get("State") == "available"
                  and e.body.get("ServiceNetworkArn") in arns]
        return tuple(n for _, n in sorted(found, key=lambda x: x[0]))

    def _members(self, network_id: str) -> list[Service]:
        return [self.services[a.body["serviceId"]] for a in self._kids("snsa", network_id)
                if a.body.get("serviceId") in self.services]

    def _kids(self, kind: str, parent: str) -> list[Record]:
        """Children in creation order."""
        found = [self.records[kind][i] for i in self.children[kind].get(parent, ())]
        return sorted(found, key=lambda r: (r.created_rev, r.id))


class _Dirty:
    def __init__(self) -> None:
        self.services: set[str] = set()
        self.networks: set[str] = set()
        self.groups: set[str] = set()
        self.vpcs: set[str] = set()
        self.host_vpcs: set[str | None] = set()  # None: an instance or interface outside any VPC
        self.instances: set[str] = set()


def _forwarded(service: Service | None) -> set[str]:
    if service is None:
        return set()
    return {g.target_group_id for l in service.listeners.values() for r in l.rules
            if isinstance(r.action, Forward) for g in r.action.groups}


def compile_snapshot(view: StoreView, fabric: Fabric = Fabric()) -> Snapshot:
    """A fresh compile of every record in ``view``."""
    return Compiler(fabric).load(view)


# -- services, listeners, rules ------------------------------------------------------

def _arn(r: Record) -> str:
    assert r.arn is not None  # every Lattice record is stored with its ARN
    return r.arn


def _service(r: Record, listeners: Iterable[Listener]) -> Service:
    b = r.body
    compiled = {l.port: l for l in listeners}
    return Service(id=r.id, arn=_arn(r), name=b["name"], account=r.account, region=r.region,
                   dns_name=b["dnsEntry"]["domainName"], custom_domain=b.get("customDomainName"),
                   certificate_arn=b.get("certificateArn") or None, auth_type=b.get("authType", "NONE"),
                   idle_timeout=float(b.get("idleTimeoutSeconds", 60)), listeners=compiled)


def _listener(r: Record, rules: Iterable[Rule]) -> Listener:
    compiled = sorted(rules, key=lambda x: (x.is_default, x.priority or 0))
    return Listener(id=r.id, arn=_arn(r), name=r.body["name"], protocol=r.body["protocol"], port=r.body["port"],
                    rules=tuple(compiled))


def _rule(r: Record) -> Rule:
    b = r.body
    default = bool(b.get("isDefault"))
    return Rule(id=r.id, arn=_arn(r), name=b["name"], priority=None if default else b["priority"],
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


def _target_group(r: Record, targets: tuple[Target, ...], used: bool) -> TargetGroup:
    b, config = r.body, r.body.get("config") or {}
    return TargetGroup(id=r.id, arn=_arn(r), name=b["name"], account=r.account, region=r.region, type=b["type"],
                       protocol=config.get("protocol", HTTP), protocol_version=config.get("protocolVersion", "HTTP1"),
                       port=config.get("port", 0), vpc_id=config.get("vpcIdentifier"),
                       health_check=_health_check(config), targets=targets, used=used)


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

    def __init__(self) -> None:
        self.cidrs: dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network] = {}
        self.instances: dict[str, Record] = {}
        self.tagged: dict[tuple[str, str], str] = {}
        self._tag_of: dict[str, tuple[str, str]] = {}  # record id -> its key in ``tagged``

    def store(self, kind: str, id: str, record: Record | None) -> None:
        if kind == "vpc":
            self.cidrs.pop(id, None)
            if record is not None and "CidrBlock" in record.body:
                self.cidrs[id] = ipaddress.ip_network(record.body["CidrBlock"])
            return
        if kind == "instance":
            self.instances.pop(id, None)
            if record is not None:
                self.instances[id] = record
        tag_key = self._tag_of.pop(id, None)
        if tag_key is not None:
            self.tagged.pop(tag_key, None)
        tag = _tag(record.body, HOST_ADDRESS_TAG) if record is not None else None
        if tag and record is not None and record.body.get("PrivateIpAddress") and record.body.get("VpcId"):
            self._tag_of[id] = (record.body["VpcId"], record.body["PrivateIpAddress"])
            self.tagged[self._tag_of[id]] = tag

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
        if vpc_id is not None and cidr is not None and ip in cidr:
            return self.tagged.get((vpc_id, address), DEFAULT_HOST)
        return address


def _tag(body: dict, key: str) -> str | None:
    for tag in body.get("Tags") or body.get("TagSet") or ():
        if tag.get("Key") == key:
            return tag.get("Value")
    return None


# -- reachability ----------------------------------------------------------------------

def _vpc_view(vpc: Record, block, networks: tuple[ServiceNetwork, ...], members) -> VpcView:
    """``members(network id)``: the services of a network."""
    routes: dict[str, Route] = {}
    for network in networks:
        for service in members(network.id):
            for name in service.names():
                routes.setdefault(name, Route(service, network))
    return VpcView(vpc_id=vpc.id, arn=f"arn:aws:ec2:{vpc.region}:{vpc.account}:vpc/{vpc.id}", account=vpc.account,
                   region=vpc.region, resolver=block.resolver, lattice=block.lattice, routes=routes)


def _network(r: Record) -> ServiceNetwork:
    return ServiceNetwork(id=r.id, arn=_arn(r), name=r.body["name"], account=r.account,
                          auth_type=r.body.get("authType", "NONE"))


# -- consistency -----------------------------------------------------------------------

def check(snapshot: Snapshot, services: Iterable[str] | None = None, vpcs: Iterable[str] | None = None) -> None:
    """Raise ``Inconsistent`` unless every reference the data plane follows resolves.

    ``services`` and ``vpcs`` limit the check to what a revision rebuilt (None: everything); forwards of
    the others were checked when they were built and their target groups cannot go while referenced.
    """
    for id in snapshot.services if services is None else services:
        service = snapshot.services.get(id)
        for port, listener in (service.listeners.items() if service else ()):
            if listener.port != port or not listener.rules or not listener.rules[-1].is_default:
                raise Inconsistent(f"listener {listener.id} has no default rule last")
            missing = _forwarded_from(listener) - snapshot.target_groups.keys()
            if missing:
                raise Inconsistent(f"listener {listener.id} forwards to unknown target groups {sorted(missing)}")
    for id in snapshot.vpcs if vpcs is None else vpcs:
        for route in (snapshot.vpcs[id].routes.values() if id in snapshot.vpcs else ()):
            if route.service.id not in snapshot.services:
                raise Inconsistent(f"VPC {id} routes to unknown service {route.service.id}")


def _forwarded_from(listener: Listener) -> set[str]:
    return {g.target_group_id for r in listener.rules if isinstance(r.action, Forward) for g in r.action.groups}
