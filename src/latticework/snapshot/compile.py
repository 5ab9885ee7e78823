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

PrivateLink names: each network interface holding a fabric host number
becomes a ``FabricInterface`` (its address from its VPC's block). Its owner's
names are rebuilt when the owner or one of its interfaces changes: a network
load balancer's ``DNSName`` -> its nodes' addresses; an available
``Interface`` endpoint's ``DnsEntries`` names -> its interfaces' addresses (a
zonal name: that zone's only). Both go into ``Snapshot.names``, which every
VPC's resolver answers from (AWS publishes them in public DNS; whether a
client can connect is the data path's business), and are kept per owner, so
a change rebuilds that owner's names and no VPC view. The private DNS names
of an endpoint (``PrivateDnsEnabled`` with a verified service name, or an
AWS service's name) go into its own VPC's view, rebuilt as any endpoint
change rebuilds it. Other endpoint types get fabric addresses (Resource and
ServiceNetwork endpoints have interfaces) but no names here, except:

Service-network endpoints: an available ``ServiceNetwork`` endpoint joins its
VPC to its network (``_joined``), and each of its interface addresses is a
Lattice address of its own (``Snapshot.endpoint_views``, rebuilt with the
VPC's view): a view of the VPC whose routes are the services of that network
only, under their names and under their endpoint-specific names
(``records.lattice.endpoint_service_name``), which the VPC's resolver answers with the
endpoint's interface addresses (private names of the VPC).

AWS services: a VPC's available Gateway and Interface endpoints to AWS
services become ``VpcView.aws_endpoints`` (service, policy, route tables),
and while it has a gateway endpoint to S3 or DynamoDB the service's public
names (``model.gateway_service_names``) answer at the VPC's AWS-services
address (``VpcView.aws_services``, ``.11``) in its view, below any interface
endpoint's private names; ``VpcView.main_route_table`` is the route table its
clients use. Rebuilt with the VPC view, as any endpoint change rebuilds it.

Network load balancers: a load balancer, or one of its listeners, changing
rebuilds that ``NetworkLoadBalancer`` (its TCP listeners: port -> the target
group of the default action); an NLB target group changing rebuilds that
group into ``Snapshot.nlb_groups``, its targets mapped to host sockets by
``_HostMap`` as Lattice targets are (a VPC's addresses or an instance
changing rebuilds the NLB groups they may move, as for Lattice groups).

Interface endpoints to endpoint services: each becomes an ``InterfaceEndpoint``
(``Snapshot.endpoints``): its service's network load balancers (by record id,
from the service's ``NetworkLoadBalancerArns``), which of them each zone uses
(the first, in the service's order, with a node in that zone) and whether its
connection is ``available``. An endpoint changing rebuilds it; its service
changing rebuilds the service's endpoints; a load balancer or its nodes
changing rebuilds every endpoint to a service (there are few of them).

Resources: a resource gateway, configuration, resource association or domain
verification changing, or anything that moves consumers' addresses (a VPC
association, an endpoint, an interface, a VPC or instance), rebuilds every
``Resource`` with the addresses and names consumers reach it at
(``_Resources``); ``check_resources`` verifies them.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Callable, Iterable, Iterator, Mapping

from latticework import formats, httppath
from latticework.fabric import Fabric
from latticework.records import ec2, elbv2, lattice
from latticework.snapshot.identities import IDENTITY_KINDS, Identities
from latticework.snapshot.model import (
    HTTP, LOAD_BALANCER, RESOURCE_GATEWAY, TCP, VPC_ENDPOINT, FabricInterface, FixedResponse, Forward, HeaderMatch,
    HealthCheck, InterfaceEndpoint, Listener, Match, Names, NetworkLoadBalancer, PathMatch, Resource, Route, Rule,
    Service, ServiceNetwork, Snapshot, Target, TargetGroup, VpcView,
    WeightedTargetGroup,
)
from latticework.snapshot.model import AwsEndpoint, gateway_service_names  # AWS services through VPC endpoints
from latticework.snapshot.model import TlsListener  # network load balancers' TLS listeners
from latticework.store import Record, StoreView

RESOURCE_KINDS = (lattice.RESOURCE_GATEWAY, lattice.RESOURCE_CONFIGURATION, lattice.SN_RESOURCE_ASSOCIATION,
                  lattice.DOMAIN_VERIFICATION, lattice.SN_VPC_ENDPOINT_ASSOCIATION)
KINDS = (ec2.VPC, ec2.INSTANCE, ec2.NETWORK_INTERFACE, lattice.SERVICE_NETWORK, lattice.SERVICE, lattice.LISTENER,
         lattice.RULE, lattice.TARGET_GROUP, lattice.TARGET, lattice.SN_VPC_ASSOCIATION,
         lattice.SN_SERVICE_ASSOCIATION, ec2.VPC_ENDPOINT, lattice.AUTH_POLICY, elbv2.LOAD_BALANCER, elbv2.LISTENER, elbv2.TARGET_GROUP, *IDENTITY_KINDS,
         ec2.VPC_ENDPOINT_SERVICE, *RESOURCE_KINDS)
HOSTS = (ec2.VPC, ec2.INSTANCE, ec2.NETWORK_INTERFACE)  # kinds that decide where a target's processes listen
# Kinds whose change may rebuild every route of the VPCs it reaches (who reaches what, names, addresses); a
# change of any other kind rebuilds what it touched only, in well under a millisecond at 1,000 services.
WIDE = frozenset({lattice.SERVICE, lattice.SERVICE_NETWORK, lattice.SN_SERVICE_ASSOCIATION,
                  lattice.SN_VPC_ASSOCIATION, ec2.VPC_ENDPOINT, *HOSTS})

DEFAULT_HOST = "127.0.0.1"
# Kinds whose change rebuilds the resources (``_Resources``): what they are, where consumers reach them, their names.
RESOURCE_TRIGGERS = frozenset({*RESOURCE_KINDS, lattice.SN_VPC_ASSOCIATION, ec2.VPC_ENDPOINT, *HOSTS})


def wide(changed: Iterable[Key]) -> bool:
    """Whether compiling these changes may take long (a kind in ``WIDE``): worth a thread beside a busy loop."""
    return any(kind in WIDE for kind, _ in changed)


class Inconsistent(ValueError):
    """A compiled snapshot breaks an invariant the data plane relies on."""


Key = tuple[str, str]  # (kind, record id): ids are unique across accounts and regions

# Secondary indexes the rebuilds look records up by: (kind, name) -> the value a record is filed under.
LOOKUPS: dict[tuple[str, str], Callable[[Record], str | None]] = {
    (lattice.SN_SERVICE_ASSOCIATION, "service"): lambda r: lattice.ServiceAssociationRecord(r).service_id,
    (lattice.SN_VPC_ASSOCIATION, "vpc"): lambda r: lattice.VpcAssociationRecord(r).vpc_id,
    (ec2.VPC_ENDPOINT, "vpc"): lambda r: ec2.VpcEndpointRecord(r).vpc_id,
    (ec2.VPC_ENDPOINT, "network"): lambda r: ec2.VpcEndpointRecord(r).service_network_arn,
    (lattice.TARGET_GROUP, "vpc"): lambda r: lattice.TargetGroupRecord(r).vpc_id,
    (lattice.TARGET_GROUP, "type"): lambda r: lattice.TargetGroupRecord(r).type,
    (elbv2.TARGET_GROUP, "vpc"): lambda r: elbv2.TargetGroupRecord(r).vpc_id,
    (elbv2.TARGET_GROUP, "type"): lambda r: elbv2.TargetGroupRecord(r).type,
    (elbv2.TARGET_GROUP, "arn"): lambda r: r.arn,
    (elbv2.LOAD_BALANCER, "arn"): lambda r: r.arn,
    (ec2.VPC_ENDPOINT, "service"): lambda r: ec2.VpcEndpointRecord(r).endpoint_service_id,
    (ec2.NETWORK_INTERFACE, "owner"): lambda r: ec2.InterfaceRecord(r).fabric_owner,
    (ec2.NETWORK_INTERFACE, "vpc"): lambda r: ec2.InterfaceRecord(r).vpc_id if ec2.InterfaceRecord(r).fabric_owner
    else None,
}


class Compiler:
    """Keeps a snapshot up to date from changed records."""

    def __init__(self, fabric: Fabric = Fabric(), identities: Identities | None = None):
        self.fabric = fabric
        # Who signs with which key (IAM users, STS sessions, the accounts file): see ``identities``.
        self.identities = identities or Identities()
        self.revision = 0
        self.records: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}
        self.children: dict[str, dict[str, set[str]]] = {kind: {} for kind in KINDS}  # kind -> parent -> ids
        self.lookups: dict[tuple[str, str], dict[str, set[str]]] = {key: {} for key in LOOKUPS}
        self.services: dict[str, Service] = {}
        self.groups: dict[str, TargetGroup] = {}
        self.vpcs: dict[str, VpcView] = {}
        self.networks: dict[str, ServiceNetwork] = {}
        self.by_address: dict[str, str] = {}
        self.endpoint_views: dict[str, VpcView] = {}  # service-network endpoint interface address -> its view
        self.endpoint_addresses: dict[str, set[str]] = {}  # VPC id -> its keys in ``endpoint_views``
        self.references: dict[str, dict[str, int]] = {}  # target group id -> {service id: rules forwarding}
        self.hosts = _HostMap()
        self.interfaces: dict[str, FabricInterface] = {}  # by interface id
        self.published: dict[str, dict[str, tuple[str, ...]]] = {}  # owner id -> its public names
        self.names: dict[str, tuple[str, ...]] = {}  # every owner's public names
        self.balancers: dict[str, NetworkLoadBalancer] = {}  # network load balancers, by record id
        self.nlb_groups: dict[str, TargetGroup] = {}
        self.rebuilt_balancers: set[str] = set()
        self.endpoints: dict[str, InterfaceEndpoint] = {}  # interface endpoints to endpoint services, by id
        self.rebuilt_endpoints: set[str] = set()
        self.rebuilt_nlb_groups: set[str] = set()
        self.rebuilt_fabric = False
        self.served_interfaces: Mapping[str, FabricInterface] = {}  # the snapshots' (by address), never mutated
        self.served_names: Names = {}
        self.rebuilt_services: set[str] = set()  # what the last update rebuilt (services that changed)
        self.rebuilt_groups: set[str] = set()
        self.rebuilt_vpcs: set[str] = set()
        self.resources = _Resources.EMPTY
        self.rebuilt_resources = False

    # -- entry points ------------------------------------------------------------------------
    def update(self, revision: int, changed: Mapping[Key, Record | None]) -> Snapshot:
        """Apply changed records (None: deleted) and return the snapshot of ``revision``."""
        dirty = _Dirty()
        for (kind, id), record in changed.items():
            if kind in self.records:
                self._store(kind, id, record, dirty)
        self._rebuild(dirty)
        self.identities = self.identities.updated(changed)
        self.rebuilt_services = dirty.services
        self.rebuilt_groups, self.rebuilt_vpcs = dirty.groups, dirty.vpcs | dirty.patched_vpcs
        self.rebuilt_fabric = bool(dirty.owners or dirty.interfaces)
        self.rebuilt_balancers, self.rebuilt_nlb_groups = dirty.balancers, dirty.nlb_groups
        self.rebuilt_endpoints = dirty.endpoints
        self.rebuilt_resources = dirty.resources
        self.revision = revision
        if self.rebuilt_fabric:  # else the last snapshot's mappings serve as they are
            self.served_interfaces = {i.address: i for i in self.interfaces.values()}
            self.served_names = dict(self.names)
            if len(self.served_interfaces) != len(self.interfaces):
                raise Inconsistent("two network interfaces hold one fabric address")
        snapshot = Snapshot(revision=revision, vpcs=dict(self.vpcs), services=dict(self.services),
                            target_groups=dict(self.groups), by_address=dict(self.by_address),
                            interfaces=self.served_interfaces, names=self.served_names,
                            identities=self.identities, balancers=dict(self.balancers),
                            nlb_groups=dict(self.nlb_groups), endpoint_views=dict(self.endpoint_views),
                            endpoints=dict(self.endpoints), resources=self.resources[0],
                            resource_at=self.resources[1], resource_names=self.resources[2])
        # Patched views only swapped routes to services checked above for ones of the same names.
        check(snapshot, dirty.services, dirty.vpcs, names=self.rebuilt_fabric, balancers=dirty.balancers)
        if dirty.resources or self.rebuilt_fabric:
            check_resources(snapshot)
        return snapshot

    def serves_alike(self, old: Snapshot, new: Snapshot) -> bool:
        """Whether ``new``, the last update's snapshot, serves every request, name and address exactly as ``old``.

        Only what the update rebuilt can differ, so only that is compared: a write the data plane cannot
        see (a service network nothing is associated with yet, a tag) compares equal."""
        return (all(old.services.get(i) == new.services.get(i) for i in self.rebuilt_services)
                and all(old.target_groups.get(i) == new.target_groups.get(i) for i in self.rebuilt_groups)
                and all(old.vpcs.get(i) == new.vpcs.get(i) for i in self.rebuilt_vpcs)
                and (not self.rebuilt_vpcs or old.by_address == new.by_address)
                and (not self.rebuilt_vpcs or old.endpoint_views == new.endpoint_views)
                and all(old.balancers.get(i) == new.balancers.get(i) for i in self.rebuilt_balancers)
                and all(old.nlb_groups.get(i) == new.nlb_groups.get(i) for i in self.rebuilt_nlb_groups)
                and all(old.endpoints.get(i) == new.endpoints.get(i) for i in self.rebuilt_endpoints)
                and (not self.rebuilt_fabric or (old.interfaces == new.interfaces and old.names == new.names))
                and (not self.rebuilt_resources or (old.resources, old.resource_at, old.resource_names)
                     == (new.resources, new.resource_at, new.resource_names))
                and old.identities is new.identities)

    def load(self, view: StoreView) -> Snapshot:
        """Start from every record of ``view``."""
        changed = {(kind, r.id): r for kind in KINDS for r in view.of(kind)}
        return self.update(view.revision, changed)

    # -- records -----------------------------------------------------------------------------
    def _store(self, kind: str, id: str, record: Record | None, dirty: "_Dirty") -> None:
        # Records being deleted are gone for the data plane, except draining targets.
        if record is not None and record.status == "DELETE_IN_PROGRESS" and kind != lattice.TARGET:
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
        if kind in HOSTS:
            self.hosts.store(kind, id, record)

    def _file(self, kind: str, r: Record, present: bool) -> None:
        """Add ``r`` to (or remove it from) the children and lookup indexes."""
        places = [(self.children[kind], r.parent)]
        places += [(self.lookups[key], LOOKUPS[key](r)) for key in LOOKUPS if key[0] == kind]
        for index, value in places:
            if value is None:
                continue
            if present:
                index.setdefault(value, set()).add(r.id)
            elif value in index:
                index[value].discard(r.id)

    def _find(self, kind: str, name: str, value) -> list[Record]:
        return [self.records[kind][i] for i in self.lookups[(kind, name)].get(value, ())]

    def _touch(self, kind: str, r: Record, dirty: "_Dirty") -> None:
        """Mark what a change of ``r`` affects."""
        if kind in RESOURCE_TRIGGERS:
            dirty.resources = True
        if kind == lattice.SERVICE:
            dirty.services.add(r.id)
        elif kind == lattice.LISTENER:
            dirty.services.add(lattice.ListenerRecord(r).service_id)
        elif kind == lattice.RULE:
            dirty.services.add(lattice.RuleRecord(r).service_id)
        elif kind == lattice.TARGET_GROUP:
            dirty.groups.add(r.id)
        elif kind == lattice.TARGET:
            dirty.groups.add(lattice.TargetRecord(r).parent)
        elif kind == lattice.SERVICE_NETWORK:
            dirty.networks.add(r.id)
        elif kind == lattice.AUTH_POLICY:  # its id is the guarded resource's (resource configurations: none here)
            if r.id in self.records[lattice.SERVICE]:
                dirty.services.add(r.id)
            elif r.id in self.records[lattice.SERVICE_NETWORK]:
                dirty.networks.add(r.id)
        elif kind == lattice.SN_SERVICE_ASSOCIATION:
            dirty.networks.add(lattice.ServiceAssociationRecord(r).parent)
        elif kind == lattice.SN_VPC_ASSOCIATION:
            dirty.vpcs.add(lattice.VpcAssociationRecord(r).vpc_id)
        elif kind == ec2.VPC_ENDPOINT:
            dirty.vpcs.add(ec2.VpcEndpointRecord(r).vpc_id)
            dirty.owners.add(r.id)
            dirty.endpoints.add(r.id)
        elif kind == ec2.VPC_ENDPOINT_SERVICE:
            dirty.endpoints.update(self.lookups[(ec2.VPC_ENDPOINT, "service")].get(r.id, ()))
        elif kind == elbv2.LOAD_BALANCER:
            dirty.owners.add(r.id)
            dirty.balancers.add(r.id)
        elif kind == elbv2.LISTENER:
            if r.parent is not None:
                dirty.balancers.add(r.parent)
        elif kind == elbv2.TARGET_GROUP:
            dirty.nlb_groups.add(r.id)
        elif kind in HOSTS:
            vpc_id = r.id if kind == ec2.VPC else ec2.HostRecord(r).vpc_id
            if vpc_id is not None:  # a terminated instance has left its VPC: no view of it to rebuild
                dirty.vpcs.add(vpc_id)
                dirty.host_vpcs.add(vpc_id)
            if kind == ec2.INSTANCE:
                dirty.instances.add(r.id)
            if kind == ec2.VPC:  # its block may have moved: so do its interfaces' addresses
                dirty.interfaces.update(self.lookups[(ec2.NETWORK_INTERFACE, "vpc")].get(r.id, ()))
            owner = ec2.InterfaceRecord(r).fabric_owner if kind == ec2.NETWORK_INTERFACE else None
            if owner is not None:
                dirty.interfaces.add(r.id)

    # -- rebuilding ------------------------------------------------------------------------------
    def _rebuild(self, dirty: "_Dirty") -> None:
        for id in dirty.interfaces:
            self._rebuild_interface(id, dirty)
        for id in dirty.owners:
            self._rebuild_names(id)
            endpoint = self.records[ec2.VPC_ENDPOINT].get(id)
            if endpoint is not None:  # its interfaces' addresses are in its VPC's view (private names, endpoint views)
                dirty.vpcs.add(ec2.VpcEndpointRecord(endpoint).vpc_id)
        for id in dirty.services:
            self._rebuild_service(id, dirty)
        for id in dirty.networks:
            self._rebuild_network(id, dirty)
        for vpc_id in dirty.host_vpcs:  # groups whose targets' addresses may have moved
            dirty.groups.update(g.id for g in self._find(lattice.TARGET_GROUP, "vpc", vpc_id))
            dirty.nlb_groups.update(g.id for g in self._find(elbv2.TARGET_GROUP, "vpc", vpc_id))
        if dirty.instances:
            dirty.groups.update(g.id for g in self._find(lattice.TARGET_GROUP, "type", "INSTANCE"))
            dirty.nlb_groups.update(g.id for g in self._find(elbv2.TARGET_GROUP, "type", "INSTANCE"))
        for id in dirty.groups:
            self._rebuild_group(id)
        for id in dirty.nlb_groups:
            self._rebuild_nlb_group(id)
            if id not in self.nlb_groups:  # gone: a listener still naming it drops it (see ``_rebuild_balancer``)
                dirty.balancers.update(b.id for b in self.balancers.values() if id in b.listeners.values())
        for id in dirty.balancers:
            self._rebuild_balancer(id)
        if any(not owner.startswith("vpce-") for owner in dirty.owners):  # a load balancer or its nodes
            dirty.endpoints.update(i for ids in self.lookups[(ec2.VPC_ENDPOINT, "service")].values() for i in ids)
        for id in dirty.endpoints:
            self._rebuild_endpoint(id)
        for id in dirty.vpcs:
            self._rebuild_vpc(id)
        for network_id, services in dirty.members.items():
            for vpc_id in self._vpcs_of(network_id) - dirty.vpcs:
                self._patch_vpc(vpc_id, services)
                dirty.patched_vpcs.add(vpc_id)
        if dirty.resources:
            self.resources = _Resources(self).build()

    def _rebuild_service(self, id: str, dirty: "_Dirty") -> None:
        old = self.services.pop(id, None)
        record = self.records[lattice.SERVICE].get(id)
        if record is not None:
            listeners = [self._listener(l) for l in self._kids(lattice.LISTENER, id)]
            self.services[id] = _service(lattice.ServiceRecord(record), listeners, self._auth_policy(id))
        new = self.services.get(id)
        self._count_references(old, new, dirty)
        networks = {lattice.ServiceAssociationRecord(a).parent
                    for a in self._find(lattice.SN_SERVICE_ASSOCIATION, "service", id)}
        if old is not None and new is not None and old.names() == new.names():
            # Same names: each VPC reaching it keeps its routes but for the service object they hold.
            for network_id in networks:
                dirty.members.setdefault(network_id, set()).add(id)
        else:
            dirty.networks.update(networks)

    def _listener(self, record: Record) -> Listener:
        rules = [_rule(lattice.RuleRecord(r)) for r in self._kids(lattice.RULE, record.id)]
        return _listener(lattice.ListenerRecord(record), rules)

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
        record = self.records[lattice.SERVICE_NETWORK].get(id)
        self.networks.pop(id, None)
        if record is not None:
            self.networks[id] = _network(lattice.ServiceNetworkRecord(record), self._auth_policy(id))
        dirty.vpcs.update(self._vpcs_of(id))

    def _auth_policy(self, guarded_id: str) -> str | None:
        record = self.records[lattice.AUTH_POLICY].get(guarded_id)
        return lattice.AuthPolicyRecord(record).policy if record is not None else None

    def _vpcs_of(self, network_id: str) -> set[str]:
        """VPCs joined to a network: by association, or through a service-network endpoint."""
        found = {lattice.VpcAssociationRecord(a).vpc_id for a in self._kids(lattice.SN_VPC_ASSOCIATION, network_id)}
        record = self.records[lattice.SERVICE_NETWORK].get(network_id)
        if record is not None:
            found.update(ec2.VpcEndpointRecord(e).vpc_id for e in self._find(ec2.VPC_ENDPOINT, "network", record.arn))
        return found

    def _rebuild_group(self, id: str) -> None:
        record = self.records[lattice.TARGET_GROUP].get(id)
        if record is None:
            self.groups.pop(id, None)
            return
        group = lattice.TargetGroupRecord(record)
        targets = tuple(self._target(group, lattice.TargetRecord(t)) for t in self._kids(lattice.TARGET, id))
        self.groups[id] = _target_group(group, targets, bool(self.references.get(id)))

    def _rebuild_nlb_group(self, id: str) -> None:
        record = self.records[elbv2.TARGET_GROUP].get(id)
        self.nlb_groups.pop(id, None)
        if record is not None:
            self.nlb_groups[id] = _nlb_group(elbv2.TargetGroupRecord(record), self.hosts)

    def _rebuild_balancer(self, id: str) -> None:
        """A network load balancer's TCP and TLS listeners, each to the target group its default action forwards
        to (a TLS listener with its default certificate)."""
        self.balancers.pop(id, None)
        record = self.records[elbv2.LOAD_BALANCER].get(id)
        if record is None or not elbv2.LoadBalancerRecord(record).is_network:
            return
        listeners: dict[int, str] = {}
        certificates: dict[int, str] = {}  # TLS listeners: terminated with this certificate, then relayed as TCP
        udp: dict[int, str] = {}  # UDP and TCP_UDP listeners' datagrams
        tls: dict[int, TlsListener] = {}
        for child in self._kids(elbv2.LISTENER, id):
            listener = elbv2.ListenerRecord(child)
            found = [g for arn in listener.forwards()[:1] for g in self._find(elbv2.TARGET_GROUP, "arn", arn)]
            groups = [g.id for g in found]
            if listener.protocol == TCP and groups:
                listeners[listener.port] = groups[0]
            # TLS to a TCP group (plaintext to the targets) or to a TLS group (re-encrypted toward them).
            if listener.protocol == "TLS" and found and elbv2.TargetGroupRecord(found[0]).protocol in (TCP, "TLS"):
                listeners[listener.port] = groups[0]
                certificates[listener.port] = listener.certificate_arn or ""
                tls[listener.port] = TlsListener(certificates=tuple(listener.other_certificates),
                                                 ssl_policy=listener.ssl_policy, alpn_policy=listener.alpn_policy)
            if listener.protocol in ("UDP", "TCP_UDP") and groups:
                udp[listener.port] = groups[0]
            if listener.protocol == "TCP_UDP" and groups:
                listeners[listener.port] = groups[0]
        balancer = elbv2.LoadBalancerRecord(record)
        self.balancers[id] = NetworkLoadBalancer(id=id, arn=balancer.arn, vpc_id=balancer.vpc_id, listeners=listeners,
                                                 certificates=certificates, dns_name=balancer.dns_name, udp=udp,
                                                 cross_zone=balancer.cross_zone, tls=tls)

    def _rebuild_endpoint(self, id: str) -> None:
        """An interface endpoint to an endpoint service: its service's load balancers, and the one per zone."""
        self.endpoints.pop(id, None)
        record = self.records[ec2.VPC_ENDPOINT].get(id)
        endpoint = ec2.VpcEndpointRecord(record) if record is not None else None
        service_id = endpoint.endpoint_service_id if endpoint is not None else None
        service = self.records[ec2.VPC_ENDPOINT_SERVICE].get(service_id or "")
        if endpoint is None or service_id is None or endpoint.type != "Interface":
            return
        arns = ec2.VpcEndpointServiceRecord(service).network_load_balancer_arns() if service is not None else []
        balancers = tuple(b.id for arn in arns for b in self._find(elbv2.LOAD_BALANCER, "arn", arn))
        zonal: dict[str, str] = {}
        for balancer_id in balancers:
            for node in self._find(ec2.NETWORK_INTERFACE, "owner", balancer_id):
                zonal.setdefault(ec2.InterfaceRecord(node).zone, balancer_id)
        self.endpoints[id] = InterfaceEndpoint(id=id, vpc_id=endpoint.vpc_id, service_id=service_id,
                                               available=endpoint.available, balancers=balancers, zonal=zonal)

    def _target(self, group: lattice.TargetGroupRecord, target: lattice.TargetRecord) -> Target:
        port = target.port or group.port
        return Target(key=target.id, id=target.target_id, port=port, draining=target.draining,
                      address=self.hosts.address(group.type, group.vpc_id, target.target_id, port))

    def _rebuild_interface(self, id: str, dirty: "_Dirty") -> None:
        old = self.interfaces.pop(id, None)
        record = self.records[ec2.NETWORK_INTERFACE].get(id)
        new = self._fabric_interface(ec2.InterfaceRecord(record)) if record is not None else None
        if new is not None:
            self.interfaces[id] = new
        dirty.owners.update(i.owner for i in (old, new) if i is not None)

    def _fabric_interface(self, eni: ec2.InterfaceRecord) -> FabricInterface | None:
        vpc = self.records[ec2.VPC].get(eni.vpc_id or "")
        block = self.fabric.block_of(ec2.VpcRecord(vpc).fabric_index) if vpc is not None else None
        number, owner = eni.fabric_host, eni.fabric_owner
        if block is None or number is None or owner is None or eni.vpc_id is None:
            return None
        owner_kind = VPC_ENDPOINT if owner.startswith("vpce-") else \
            RESOURCE_GATEWAY if owner.startswith("rgw-") else LOAD_BALANCER
        return FabricInterface(id=eni.id, vpc_id=eni.vpc_id, zone=eni.zone, private_ip=eni.private_ip or "",
                               address=block.interface(number), owner=owner, owner_kind=owner_kind)

    def _addresses(self, owner: str, zone: str | None = None) -> tuple[str, ...]:
        """The fabric addresses of ``owner``'s interfaces (in ``zone`` only, when given), by zone."""
        found = [self.interfaces[i] for i in self.lookups[(ec2.NETWORK_INTERFACE, "owner")].get(owner, ())
                 if i in self.interfaces]
        return tuple(i.address for i in sorted(found, key=lambda i: (i.zone, i.address))
                     if zone is None or i.zone == zone)

    def _rebuild_names(self, owner: str) -> None:
        """An owner's public names: a network load balancer's DNS name, an interface endpoint's DNS entries."""
        for name in self.published.pop(owner, {}):
            self.names.pop(name, None)
        names: dict[str, tuple[str, ...]] = {}
        balancer = self.records[elbv2.LOAD_BALANCER].get(owner)
        endpoint = self.records[ec2.VPC_ENDPOINT].get(owner)
        if balancer is not None and elbv2.LoadBalancerRecord(balancer).is_network:
            names[elbv2.LoadBalancerRecord(balancer).dns_name.lower()] = self._addresses(owner)
        elif endpoint is not None and _resolvable(ec2.VpcEndpointRecord(endpoint)):
            for name, zone in ec2.VpcEndpointRecord(endpoint).dns_names():
                names[name.lower()] = self._addresses(owner, zone)
        names = {name: found for name, found in names.items() if found}
        if names:
            self.published[owner] = names
            self.names.update(names)

    def _private_names(self, vpc_id: str) -> Names:
        """The private DNS names of a VPC's interface endpoints."""
        names: dict[str, tuple[str, ...]] = {}
        for record in self._find(ec2.VPC_ENDPOINT, "vpc", vpc_id):
            endpoint = ec2.VpcEndpointRecord(record)
            addresses = self._addresses(endpoint.id) if _resolvable(endpoint) else ()
            for name in endpoint.private_names() if addresses else ():
                names.setdefault(name.lower(), addresses)
        for endpoint, network in self._network_endpoints(vpc_id):
            addresses = self._addresses(endpoint.id)
            for name, route in self._endpoint_routes(endpoint, network).items() if addresses else ():
                if name.startswith(endpoint.id + "-"):  # endpoint-specific names; the services' own stay Lattice's
                    names.setdefault(name, addresses)
        return names

    def _with_aws_services(self, view: VpcView, vpc: ec2.VpcRecord, block) -> VpcView:
        """``view`` with the VPC's available endpoints to AWS services and the public names of the services its
        gateway endpoints reach, answering at the VPC's AWS-services address (an interface endpoint's private
        names win over them)."""
        endpoints = {}
        for record in self._find(ec2.VPC_ENDPOINT, "vpc", view.vpc_id):
            endpoint = ec2.VpcEndpointRecord(record)
            service = endpoint.aws_service()
            if service and endpoint.available and endpoint.type in ("Gateway", "Interface"):
                endpoints[endpoint.id] = AwsEndpoint(endpoint.id, service, endpoint.type, endpoint.policy,
                                                     endpoint.route_table_ids, record.account)
        gateways = sorted({e.service for e in endpoints.values() if e.type == "Gateway"})
        names: dict[str, tuple[str, ...]] = {
            name: (block.aws_services,) for s in gateways for name in gateway_service_names(s, view.region)}
        names.update(view.names)
        return dataclasses.replace(view, names=names, aws_services=block.aws_services,
                                   main_route_table=vpc.main_route_table, aws_endpoints=endpoints)

    def _rebuild_vpc(self, id: str) -> None:
        record = self.records[ec2.VPC].get(id)
        block = self.fabric.block_of(ec2.VpcRecord(record).fabric_index) if record is not None else None
        old = self.vpcs.pop(id, None)
        if old is not None:
            self.by_address.pop(old.resolver, None)
            self.by_address.pop(old.lattice, None)
        if record is not None and block is not None:
            view = _vpc_view(record, block, self._joined(id), self._members, self._private_names(id))
            self.vpcs[id] = view = self._with_aws_services(view, ec2.VpcRecord(record), block)
            self.by_address.update({view.resolver: id, view.lattice: id})
        self._rebuild_endpoint_views(id)

    def _patch_vpc(self, id: str, services: set[str]) -> None:
        """Point a VPC's routes to rebuilt services whose names did not change (the routes stay where they
        were: which network offers a name, and which service wins a shared one, did not change)."""
        view = self.vpcs.get(id)
        if view is None:
            return
        routes = dict(view.routes)
        for service_id in services:
            service = self.services[service_id]
            for name in service.names():
                route = routes.get(name)
                if route is not None and route.service.id == service_id:
                    routes[name] = Route(service, route.network)
        self.vpcs[id] = dataclasses.replace(view, routes=routes)
        self._rebuild_endpoint_views(id)

    # -- service-network endpoints ---------------------------------------------------------------
    def _network_endpoints(self, vpc_id: str) -> list[tuple[ec2.VpcEndpointRecord, ServiceNetwork]]:
        """A VPC's available service-network endpoints, each with its network."""
        endpoints = [ec2.VpcEndpointRecord(e) for e in self._find(ec2.VPC_ENDPOINT, "vpc", vpc_id)]
        arns = {n.arn: n for n in self.networks.values()} if endpoints else {}
        return [(e, arns[e.service_network_arn]) for e in endpoints
                if e.joins_service_network and e.service_network_arn in arns]

    def _endpoint_routes(self, endpoint: ec2.VpcEndpointRecord, network: ServiceNetwork) -> dict[str, Route]:
        """The names a service-network endpoint answers: each service of its network under its own names
        and its endpoint-specific name."""
        routes: dict[str, Route] = {}
        for association in self._kids(lattice.SN_SERVICE_ASSOCIATION, network.id):
            service = self.services.get(lattice.ServiceAssociationRecord(association).service_id)
            if service is None:
                continue
            own = lattice.endpoint_service_name(endpoint.id, association.id, service.dns_name)
            for name in (own, *service.names()):
                routes.setdefault(name.lower(), Route(service, network))
        return routes

    def _rebuild_endpoint_views(self, vpc_id: str) -> None:
        for address in self.endpoint_addresses.pop(vpc_id, ()):
            self.endpoint_views.pop(address, None)
        view = self.vpcs.get(vpc_id)
        if view is None:
            return
        for endpoint, network in self._network_endpoints(vpc_id):
            routes = self._endpoint_routes(endpoint, network)
            for address in self._addresses(endpoint.id):
                self.endpoint_views[address] = dataclasses.replace(view, lattice=address, routes=routes)
                self.endpoint_addresses.setdefault(vpc_id, set()).add(address)

    def _joined(self, vpc_id: str) -> tuple[ServiceNetwork, ...]:
        """Networks a VPC reaches, oldest association first."""
        found = [(a.created_rev, self.networks[a.parent]) for a in self._find(lattice.SN_VPC_ASSOCIATION, "vpc", vpc_id)
                 if a.parent in self.networks]
        endpoints = [ec2.VpcEndpointRecord(e) for e in self._find(ec2.VPC_ENDPOINT, "vpc", vpc_id)]
        arns = {n.arn: n for n in self.networks.values()} if endpoints else {}
        found += [(e.record.created_rev, arns[e.service_network_arn]) for e in endpoints
                  if e.joins_service_network and e.service_network_arn in arns]
        return tuple(n for _, n in sorted(found, key=lambda x: x[0]))

    def _members(self, network_id: str) -> list[Service]:
        associations = self._kids(lattice.SN_SERVICE_ASSOCIATION, network_id)
        ids = (lattice.ServiceAssociationRecord(a).service_id for a in associations)
        return [self.services[i] for i in ids if i in self.services]

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
        # network -> member services rebuilt under the same names: the VPCs joined to it are patched
        # (``_patch_vpc``) rather than rebuilt, unless something else rebuilds them anyway.
        self.members: dict[str, set[str]] = {}
        self.patched_vpcs: set[str] = set()
        self.interfaces: set[str] = set()  # network interfaces with a fabric host number (or that had one)
        self.owners: set[str] = set()  # load balancers and endpoints whose public names to rebuild
        self.balancers: set[str] = set()  # network load balancers whose listeners to rebuild
        self.nlb_groups: set[str] = set()  # ELB target groups to rebuild
        self.endpoints: set[str] = set()  # interface endpoints (to endpoint services) to rebuild
        self.resources = False  # rebuild every resource, its consumers' addresses and names (``_Resources``)


def _forwarded(service: Service | None) -> set[str]:
    if service is None:
        return set()
    return {g.target_group_id for l in service.listeners.values() for r in l.rules
            if isinstance(r.action, Forward) for g in r.action.groups}


def compile_snapshot(view: StoreView, fabric: Fabric = Fabric()) -> Snapshot:
    """A fresh compile of every record in ``view``."""
    return Compiler(fabric).load(view)


# -- services, listeners, rules ------------------------------------------------------

def _service(s: lattice.ServiceRecord, listeners: Iterable[Listener], auth_policy: str | None) -> Service:
    r = s.record
    return Service(id=r.id, arn=s.arn, name=s.name, account=r.account, region=r.region, dns_name=s.dns_name,
                   custom_domain=s.custom_domain, certificate_arn=s.certificate_arn, auth_type=s.auth_type,
                   idle_timeout=s.idle_timeout, listeners={l.port: l for l in listeners}, auth_policy=auth_policy,
                   tags=s.tags)


def _listener(listener: lattice.ListenerRecord, rules: Iterable[Rule]) -> Listener:
    compiled = sorted(rules, key=lambda x: (x.is_default, x.priority or 0))
    r = listener.record
    return Listener(id=r.id, arn=listener.arn, name=listener.name, protocol=listener.protocol, port=listener.port,
                    rules=tuple(compiled))


def _rule(rule: lattice.RuleRecord) -> Rule:
    r = rule.record
    return Rule(id=r.id, arn=rule.arn, name=rule.name, priority=rule.priority,
                match=None if rule.is_default else _match(rule), action=_action(rule), is_default=rule.is_default)


def _match(rule: lattice.RuleRecord) -> Match:
    found = rule.path_match
    # Requests are matched in normalized form (httppath): so are the values they are matched against.
    path = PathMatch(found.kind, httppath.rule_value(found.kind, found.value), found.case_sensitive) if found else None
    headers = tuple(HeaderMatch(h.name.lower(), h.kind, h.value, h.case_sensitive) for h in rule.header_matches())
    return Match(method=rule.method, path=path, headers=headers)


def _action(rule: lattice.RuleRecord) -> Forward | FixedResponse:
    status = rule.fixed_response_status
    if status is not None:
        return FixedResponse(status)
    return Forward(tuple(WeightedTargetGroup(id, weight) for id, weight in rule.forwards()))


# -- target groups and targets ---------------------------------------------------------

def _health_check(h: lattice.HealthCheckView) -> HealthCheck:
    if not h.configured:
        return HealthCheck(enabled=False)
    return HealthCheck(enabled=h.enabled, protocol=h.protocol, protocol_version=h.protocol_version, port=h.port,
                       path=h.path, interval=h.interval, timeout=h.timeout, healthy_threshold=h.healthy_threshold,
                       unhealthy_threshold=h.unhealthy_threshold, matcher=h.matcher)


def _target_group(group: lattice.TargetGroupRecord, targets: tuple[Target, ...], used: bool) -> TargetGroup:
    r = group.record
    return TargetGroup(id=r.id, arn=group.arn, name=group.name, account=r.account, region=r.region, type=group.type,
                       protocol=group.protocol or HTTP, protocol_version=group.protocol_version or "HTTP1",
                       port=group.port, vpc_id=group.vpc_id, health_check=_health_check(group.health_check),
                       targets=targets, used=used)


def _nlb_group(group: elbv2.TargetGroupRecord, hosts: "_HostMap") -> TargetGroup:
    """An ELB target group: its registered targets (deregistered ones draining), each where the host map puts
    it, its health check and the attributes the data plane honours."""
    r = group.record
    draining, zones = group.draining(), group.zones()
    targets = tuple(Target(key=f"{r.id}/{id}:{port}", id=id, port=port, draining=(id, port) in draining,
                           zone=zones.get((id, port)),
                           address=hosts.address(group.type, group.vpc_id, id, port)) for id, port in group.targets())
    return TargetGroup(id=r.id, arn=group.arn, name=r.name or "", account=r.account, region=r.region,
                       type=group.type, protocol=group.protocol or TCP, protocol_version="", port=group.port,
                       vpc_id=group.vpc_id, health_check=_elb_health_check(group.body), targets=targets, used=True,
                       proxy_protocol_v2=group.flag("proxy_protocol_v2.enabled"),
                       deregistration_delay=group.deregistration_delay,
                       terminate_on_deregistration=group.flag("deregistration_delay.connection_termination.enabled"),
                       terminate_unhealthy=group.flag("target_health_state.unhealthy.connection_termination.enabled"),
                       cross_zone=group.cross_zone)


def _elb_health_check(body: Mapping) -> HealthCheck:
    """An ELB target group's health check (its API members, defaults filled in at creation)."""
    port = body.get("HealthCheckPort") or "traffic-port"
    return HealthCheck(enabled=body.get("HealthCheckEnabled", True), protocol=body.get("HealthCheckProtocol") or TCP,
                       port=None if port == "traffic-port" else int(port), path=body.get("HealthCheckPath") or "/",
                       interval=float(body.get("HealthCheckIntervalSeconds") or 30),
                       timeout=float(body.get("HealthCheckTimeoutSeconds") or 10),
                       healthy_threshold=int(body.get("HealthyThresholdCount") or 5),
                       unhealthy_threshold=int(body.get("UnhealthyThresholdCount") or 2),
                       matcher=(body.get("Matcher") or {}).get("HttpCode") or "200-399")


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
        self.cidrs: dict[str, ipaddress.IPv4Network] = {}
        self.instances: dict[str, ec2.InstanceRecord] = {}
        self.tagged: dict[tuple[str, str], str] = {}
        self._tag_of: dict[str, tuple[str, str]] = {}  # record id -> its key in ``tagged``

    def store(self, kind: str, id: str, record: Record | None) -> None:
        if kind == ec2.VPC:
            self.cidrs.pop(id, None)
            cidr = ec2.VpcRecord(record).cidr_block if record is not None else None
            if cidr is not None:
                self.cidrs[id] = ipaddress.IPv4Network(cidr)
            return
        view = ec2.InstanceRecord if kind == ec2.INSTANCE else ec2.HostRecord
        host = view(record) if record is not None else None
        if kind == ec2.INSTANCE:
            self.instances.pop(id, None)
            if isinstance(host, ec2.InstanceRecord):
                self.instances[id] = host
        self.tagged.pop(self._tag_of.pop(id, ("", "")), None)
        if host is not None and host.host_address and host.private_ip and host.vpc_id:
            self._tag_of[id] = (host.vpc_id, host.private_ip)
            self.tagged[self._tag_of[id]] = host.host_address

    def address(self, tg_type: str, vpc_id: str | None, target_id: str, port: int) -> tuple[str, int] | None:
        if tg_type == "IP":
            return self._for_ip(vpc_id, target_id), port
        if tg_type == "INSTANCE":
            instance = self.instances.get(target_id)
            if instance is None or not instance.running:
                return None
            return (instance.host_address or self._for_ip(instance.vpc_id, instance.private_ip or "")), port
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


# -- reachability ----------------------------------------------------------------------

def _resolvable(endpoint: ec2.VpcEndpointRecord) -> bool:
    """An endpoint whose names resolve: an ``Interface`` endpoint from its creation (AWS creates its DNS
    names then, before the provider accepts) until it is rejected or deleted. Whether a connection gets
    through is the data path's business: only while ``available``."""
    return endpoint.type == "Interface" and endpoint.connected


def _vpc_view(vpc: Record, block, networks: tuple[ServiceNetwork, ...], members, names: Names) -> VpcView:
    """``members(network id)``: the services of a network; ``names``: the VPC's private endpoint names."""
    routes: dict[str, Route] = {}
    for network in networks:
        for service in members(network.id):
            for name in service.names():
                routes.setdefault(name, Route(service, network))
    arn = formats.arn(formats.partition_of(vpc.region), "ec2", vpc.region, vpc.account, f"vpc/{vpc.id}")
    return VpcView(vpc_id=vpc.id, arn=arn, account=vpc.account,
                   region=vpc.region, resolver=block.resolver, lattice=block.lattice, routes=routes, names=names)


def _network(network: lattice.ServiceNetworkRecord, auth_policy: str | None) -> ServiceNetwork:
    r = network.record
    return ServiceNetwork(id=r.id, arn=network.arn, name=network.name, account=r.account, auth_type=network.auth_type,
                          auth_policy=auth_policy)


# -- resources ------------------------------------------------------------------------

ResourceMaps = tuple[Mapping[str, Resource], Mapping[str, str], Mapping[str, Names]]
_SERVED = ("SINGLE", "CHILD")  # configurations a connection can reach (a GROUP is reached through its children)


class _Resources:
    """Every resource configuration a connection can reach, where each consumer VPC reaches it, and the names
    that VPC resolves to those addresses: ``(resources, resource_at, resource_names)`` for the snapshot.

    Rebuilt whole on any change of what it reads (``RESOURCE_TRIGGERS``): it costs the number of
    configurations, VPC associations and endpoints, and such changes are rare beside services'.

    - A VPC associated with a service network reaches each configuration associated with that network
      (``snra``) at the host number its association holds (``VpcAssociationRecord.resource_hosts``); the
      association's ``dnsEntry`` resolves there, inside that VPC only.
    - An available ``Resource`` endpoint reaches its configuration at its interfaces' addresses; its
      ``DnsEntries`` names resolve to them in the endpoint's VPC.
    - An available ``ServiceNetwork`` endpoint reaches each configuration of its network at the host number
      its Lattice association (``snvea``) holds, named ``<vpce-id>-<snra name>``.
    - A custom domain name resolves the same way where private DNS puts it (``_private_domain``).
    When two paths give a VPC one name, the older association or endpoint keeps it.
    """

    EMPTY: ResourceMaps = ({}, {}, {})

    def __init__(self, compiler: "Compiler") -> None:
        self.c = compiler
        self.records = compiler.records
        self.at: dict[str, str] = {}
        self.names: dict[str, dict[str, tuple[str, ...]]] = {}

    def build(self) -> ResourceMaps:
        resources = {}
        for record in self.records[lattice.RESOURCE_CONFIGURATION].values():
            found = self._resource(lattice.ResourceConfigurationRecord(record))
            if found is not None:
                resources[record.id] = found
        if not resources:  # the common case of a topology without resources: no association to look through
            return _Resources.EMPTY
        offering = {r.parent for r in self.records[lattice.SN_RESOURCE_ASSOCIATION].values()}  # networks with some
        paths = [(r.created_rev, r.id, r) for kind in (lattice.SN_VPC_ASSOCIATION, lattice.SN_VPC_ENDPOINT_ASSOCIATION)
                 for r in self.records[kind].values() if r.parent in offering]
        paths += [(r.created_rev, r.id, r) for r in self.records[ec2.VPC_ENDPOINT].values()
                  if ec2.VpcEndpointRecord(r).type == "Resource"]
        for _, _, record in sorted(paths, key=lambda p: p[:2]):
            if record.kind == ec2.VPC_ENDPOINT:
                self._endpoint(ec2.VpcEndpointRecord(record), resources)
            elif record.kind == lattice.SN_VPC_ENDPOINT_ASSOCIATION:
                self._network_endpoint(lattice.NetworkEndpointRecord(record), resources)
            else:
                self._association(lattice.VpcAssociationRecord(record), resources)
        return resources, self.at, self.names

    def _resource(self, rc: lattice.ResourceConfigurationRecord) -> Resource | None:
        gateway_record = self.records[lattice.RESOURCE_GATEWAY].get(rc.gateway_id or "")
        if rc.type not in _SERVED or gateway_record is None:
            return None
        gateway = lattice.ResourceGatewayRecord(gateway_record)
        mapped = self.c.hosts.address("IP", gateway.vpc_id, rc.ip_address, 0) if rc.ip_address else None
        return Resource(id=rc.id, arn=rc.arn, gateway_id=gateway.id, vpc_id=gateway.vpc_id,
                        sources=self.c._addresses(gateway.id), ports=rc.port_ranges,
                        host=mapped[0] if mapped else None, domain=rc.domain_name, resolution=gateway.resolution)

    def _association(self, snva: lattice.VpcAssociationRecord, resources: Mapping[str, Resource]) -> None:
        for snra, address in self._offered(snva, resources):
            self._reach(snva.vpc_id, address, snra.resource_configuration_id, [snra.dns_name])
            if snra.private_dns and snva.private_dns:
                domain = self._private_domain(resources[snra.resource_configuration_id], snva.vpc_id,
                                              snva.dns_preference, snva.specified_domains)
                self._name(snva.vpc_id, domain, address)

    def _network_endpoint(self, snvea: lattice.NetworkEndpointRecord, resources: Mapping[str, Resource]) -> None:
        """A ``ServiceNetwork`` endpoint: each configuration of its network at an address of its own, named
        ``<vpce-id>-<snra name>`` (``<vpce-id>-snra-<id>.rcfg-<id>.4232ccc.vpc-lattice-rsc...``)."""
        found = self.records[ec2.VPC_ENDPOINT].get(snvea.endpoint_id)
        endpoint = ec2.VpcEndpointRecord(found) if found is not None else None
        if endpoint is None or not endpoint.available:
            return
        for snra, address in self._offered(snvea, resources):
            rc_id = snra.resource_configuration_id
            self._reach(snvea.vpc_id, address, rc_id, [lattice.endpoint_resource_name(endpoint.id, snra.dns_name) if snra.dns_name else None])
            if snra.private_dns and endpoint.private_dns_enabled:
                domain = self._private_domain(resources[rc_id], snvea.vpc_id, endpoint.private_dns_preference,
                                              endpoint.private_dns_specified_domains)
                self._name(snvea.vpc_id, domain, address)

    def _offered(self, holder: lattice.ResourceHolder, resources: Mapping[str, Resource]
                 ) -> Iterator[tuple[lattice.ResourceAssociationRecord, tuple[str, ...]]]:
        """(resource association, (address,)) for each configuration of the holder's network it has a host
        number for, in association order."""
        vpc = self.records[ec2.VPC].get(holder.vpc_id)
        block = self.c.fabric.block_of(ec2.VpcRecord(vpc).fabric_index) if vpc is not None else None
        if block is None:
            return
        for record in self.c._kids(lattice.SN_RESOURCE_ASSOCIATION, holder.parent):
            snra = lattice.ResourceAssociationRecord(record)
            number = holder.resource_hosts.get(snra.resource_configuration_id)
            if number is not None and snra.resource_configuration_id in resources:
                yield snra, (block.interface(number),)

    def _endpoint(self, endpoint: ec2.VpcEndpointRecord, resources: Mapping[str, Resource]) -> None:
        rc_id = endpoint.resource_configuration_id
        addresses = self.c._addresses(endpoint.id)
        if not endpoint.available or rc_id is None or rc_id not in resources or not addresses:
            return
        self._reach(endpoint.vpc_id, addresses, rc_id, endpoint.generated_names())
        if endpoint.private_dns_enabled:
            domain = self._private_domain(resources[rc_id], endpoint.vpc_id, endpoint.private_dns_preference,
                                          endpoint.private_dns_specified_domains)
            self._name(endpoint.vpc_id, domain, addresses)

    def _reach(self, vpc_id: str, addresses: tuple[str, ...], rc_id: str, names: Iterable[str | None]) -> None:
        for address in addresses:
            self.at.setdefault(address, rc_id)
        for name in names:
            self._name(vpc_id, name, addresses)

    def _name(self, vpc_id: str, name: str | None, addresses: tuple[str, ...]) -> None:
        if name:
            self.names.setdefault(vpc_id, {}).setdefault(name.lower().rstrip("."), addresses)

    def _private_domain(self, resource: Resource, vpc_id: str, preference: str,
                        specified: tuple[str, ...]) -> str | None:
        """The configuration's custom domain name when consumer VPC ``vpc_id``'s private DNS preference takes it
        (https://aws.amazon.com/blogs/networking-and-content-delivery/custom-domain-names-for-vpc-lattice-resources):
        ``VERIFIED_DOMAINS_ONLY`` (the default) takes verified domains, ``ALL_DOMAINS`` any, the
        ``SPECIFIED`` preferences the domains listed (exact names or ``*.`` wildcards), with verified
        ones too for ``VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS``. None either when the gateway is in the
        consumer's VPC, resolves ``IN_VPC`` and the custom domain is the DNS resource's name or a parent of it:
        the VPC already resolves that name, and AWS makes no private hosted zone then."""
        rc = lattice.ResourceConfigurationRecord(self.records[lattice.RESOURCE_CONFIGURATION][resource.id])
        domain = (rc.custom_domain or "").lower().rstrip(".")
        target = (resource.domain or "").lower().rstrip(".")
        if not domain or (resource.vpc_id == vpc_id and resource.resolution == "IN_VPC" and target
                          and (target == domain or target.endswith("." + domain))):
            return None
        dv = self.records[lattice.DOMAIN_VERIFICATION].get(rc.verification_id or "")
        verified = dv is not None and lattice.DomainVerificationRecord(dv).verified
        listed = any(_domain_matches(domain, pattern) for pattern in specified)
        taken = {"VERIFIED_DOMAINS_ONLY": verified, "ALL_DOMAINS": True, "SPECIFIED_DOMAINS_ONLY": listed,
                 "VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS": verified or listed}.get(preference, False)
        return domain if taken else None


def _domain_matches(domain: str, pattern: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return domain.endswith(pattern[1:])
    return domain == pattern


# -- consistency -----------------------------------------------------------------------

def check(snapshot: Snapshot, services: Iterable[str] | None = None, vpcs: Iterable[str] | None = None,
          names: bool = True, balancers: Iterable[str] | None = None) -> None:
    """Raise ``Inconsistent`` unless every reference the data plane follows resolves.

    ``services`` and ``vpcs`` limit the check to what a revision rebuilt (None: everything); forwards of
    the others were checked when they were built and their target groups cannot go while referenced.
    ``names``: check the fabric interfaces and the public names (each address an interface's, each
    interface in a VPC of the snapshot, no two interfaces at one address); private names are checked
    with their VPC. ``balancers``: the network load balancers to check (None: all): each listener's target
    group is in ``nlb_groups`` (ELB refuses to delete a target group a listener forwards to).
    """
    for id in snapshot.balancers if balancers is None else balancers:
        balancer = snapshot.balancers.get(id)
        for port, group_id in ([*balancer.listeners.items(), *balancer.udp.items()] if balancer else ()):
            if group_id not in snapshot.nlb_groups:
                raise Inconsistent(f"load balancer {id} listener on port {port} forwards to unknown target group "
                                   f"{group_id}")
    if names:
        _check_interfaces(snapshot)
        _check_names(snapshot.interfaces, snapshot.names, "public")
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
        if id in snapshot.vpcs:
            view = snapshot.vpcs[id]
            _check_names(snapshot.interfaces, view.names, f"VPC {id}", id, view.aws_services)
    _check_endpoint_views(snapshot, vpcs)


def _check_endpoint_views(snapshot: Snapshot, vpcs: Iterable[str] | None) -> None:
    """Each service-network endpoint view sits at an endpoint interface of its VPC, routing to known services."""
    wanted = None if vpcs is None else set(vpcs)
    for address, view in snapshot.endpoint_views.items():
        if wanted is not None and view.vpc_id not in wanted:
            continue
        interface = snapshot.interfaces.get(address)
        if interface is None or interface.vpc_id != view.vpc_id or interface.owner_kind != VPC_ENDPOINT:
            raise Inconsistent(f"service-network endpoint view of {view.vpc_id} at {address}, no endpoint interface")
        for route in view.routes.values():
            if route.service.id not in snapshot.services:
                raise Inconsistent(f"endpoint at {address} routes to unknown service {route.service.id}")


def check_resources(snapshot: Snapshot) -> None:
    """Each address where a consumer reaches a resource is its own (a VPC's resolver and Lattice addresses, a
    load balancer's node, another endpoint's interface never), and each resource name points at such addresses."""
    for address, rc_id in snapshot.resource_at.items():
        interface = snapshot.interfaces.get(address)
        if rc_id not in snapshot.resources or snapshot.by_address.get(address) is not None or (
                interface is not None and interface.owner_kind != VPC_ENDPOINT):
            raise Inconsistent(f"resource address {address} of {rc_id} is not the resource's own")
    for vpc_id, names in snapshot.resource_names.items():
        for name, addresses in names.items():
            if not all(a in snapshot.resource_at for a in addresses):
                raise Inconsistent(f"VPC {vpc_id} resource name {name} points at an address of no resource")


def _check_interfaces(snapshot: Snapshot) -> None:
    for address, interface in snapshot.interfaces.items():
        if interface.address != address or interface.vpc_id not in snapshot.vpcs:
            raise Inconsistent(f"interface {interface.id} at {address} is outside the VPCs served")
        if snapshot.by_address.get(address) is not None:
            raise Inconsistent(f"interface {interface.id} shares {address} with a VPC's resolver or Lattice address")


def _check_names(interfaces, names: Names, where: str, vpc_id: str | None = None, own: str = "") -> None:
    """``own``: the VPC's AWS-services address, which its gateway endpoints' names point at."""
    for name, addresses in names.items():
        for address in addresses:
            if own and address == own:
                continue
            interface = interfaces.get(address)
            if interface is None or (vpc_id is not None and interface.vpc_id != vpc_id):
                raise Inconsistent(f"{where} name {name} points at {address}, no interface of its own")


def _forwarded_from(listener: Listener) -> set[str]:
    return {g.target_group_id for r in listener.rules if isinstance(r.action, Forward) for g in r.action.groups}
