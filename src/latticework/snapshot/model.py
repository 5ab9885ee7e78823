"""The data plane's view of the world: an immutable snapshot of one revision.

``snapshot.compile`` turns the control plane's records into these frozen
objects. The data plane only ever reads a ``Snapshot``; a request keeps the
snapshot it started with even when a newer one is swapped in meanwhile.

The shape follows what a request needs, in the order it needs it:

1. the destination address of a connection names a ``VpcView`` (the loopback
   fabric gives each VPC its own addresses, ``fabric.VpcBlock``);
2. the VPC view maps each host name it can reach (generated and custom
   domain names) to a ``Route``: the ``Service`` and the service network
   through which the VPC reaches it;
3. the service's ``Listener`` on the connection's port holds ``Rule``s in
   evaluation order (ascending priority, the default rule last);
4. a rule's action is a ``Forward`` over weighted target groups or a
   ``FixedResponse``; a ``TargetGroup`` holds its ``Target``s, each with the
   host socket address (``Target.address``) the fabric maps it to.

PrivateLink addressing: every network interface that carries PrivateLink
traffic (a network load balancer's node, an endpoint's interface) is a
``FabricInterface`` at its own fabric address (``Snapshot.interfaces``, by
address: which VPC, which load balancer or endpoint, which zone). Names that
resolve to such addresses are ``Names`` (lower-case name, possibly a
``*.`` wildcard -> addresses): ``Snapshot.names`` are published to every VPC
(AWS publishes load balancer and endpoint names in public DNS),
``VpcView.names`` only inside one VPC (private DNS of its endpoints).

Network load balancers: a ``NetworkLoadBalancer`` (by record id, the
``owner`` of its nodes' interfaces) holds its TCP listeners, each the target
group its default action forwards to; those groups are in
``Snapshot.nlb_groups`` (kept apart from Lattice's, which the health monitor
checks), their targets mapped to host sockets by the same rule.

Health is not in the snapshot: it changes without a revision, so the data
plane's health monitor keeps it beside the snapshot, keyed by ``Target.key``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

from latticework.snapshot.identities import Identities

HTTP, HTTPS, TLS_PASSTHROUGH, TCP = "HTTP", "HTTPS", "TLS_PASSTHROUGH", "TCP"


@dataclass(frozen=True)
class HealthCheck:
    """Effective health-check settings of a target group (defaults filled in)."""

    enabled: bool
    protocol: str = HTTP  # HTTP | HTTPS | TCP (ELB: a connection that opens passes)
    protocol_version: str = "HTTP1"  # HTTP1 | HTTP2
    port: int | None = None  # None: the target's traffic port
    path: str = "/"
    interval: float = 30.0
    timeout: float = 5.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200"  # "200", "200,202", "200-299"


@dataclass(frozen=True)
class Target:
    key: str  # the target record's id: stable for the target's life in its group
    id: str  # as registered: an IP address, an instance id, an ALB ARN
    port: int
    address: tuple[str, int] | None  # the host socket the fabric maps it to (None: nowhere, e.g. Lambda)
    draining: bool = False  # deregistered: no new requests, in-flight ones finish


@dataclass(frozen=True)
class TargetGroup:
    id: str
    arn: str
    name: str
    account: str
    region: str
    type: str  # IP | INSTANCE | ALB | LAMBDA
    protocol: str  # HTTP | HTTPS | TCP
    protocol_version: str  # HTTP1 | HTTP2 | GRPC
    port: int
    vpc_id: str | None
    health_check: HealthCheck
    targets: tuple[Target, ...] = ()
    used: bool = False  # referenced by a rule of some service (else targets are UNUSED)
    # ELB target group attributes a network load balancer honours (Lattice groups keep the defaults):
    proxy_protocol_v2: bool = False  # a PROXY protocol v2 header goes first to the target
    deregistration_delay: float = 300.0  # seconds a deregistered target stays draining
    terminate_on_deregistration: bool = False  # its connections are closed when the delay ends
    terminate_unhealthy: bool = False  # connections to a target that turns unhealthy are reset (unless failing open)

    def serving(self) -> tuple[Target, ...]:
        """Targets that may take new requests (not draining)."""
        return tuple(t for t in self.targets if not t.draining)


@dataclass(frozen=True)
class WeightedTargetGroup:
    target_group_id: str
    weight: int


@dataclass(frozen=True)
class Forward:
    groups: tuple[WeightedTargetGroup, ...]

    @cached_property
    def total_weight(self) -> int:
        """Computed once per snapshot object, not per request (the data plane's hot path reads it)."""
        return sum(g.weight for g in self.groups)


@dataclass(frozen=True)
class FixedResponse:
    status: int


Action = Forward | FixedResponse


@dataclass(frozen=True)
class HeaderMatch:
    name: str  # lower-case: header names never match case-sensitively
    kind: str  # exact | prefix | contains
    value: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class PathMatch:
    kind: str  # exact | prefix
    value: str
    case_sensitive: bool = True


@dataclass(frozen=True)
class Match:
    method: str | None = None
    path: PathMatch | None = None
    headers: tuple[HeaderMatch, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    arn: str
    name: str
    priority: int | None  # None for the default rule
    match: Match | None  # None for the default rule: matches everything
    action: Action
    is_default: bool = False


@dataclass(frozen=True)
class Listener:
    id: str
    arn: str
    name: str
    protocol: str  # HTTP | HTTPS | TLS_PASSTHROUGH
    port: int
    rules: tuple[Rule, ...]  # evaluation order: ascending priority, default rule last


@dataclass(frozen=True)
class Service:
    id: str
    arn: str
    name: str
    account: str
    region: str
    dns_name: str
    custom_domain: str | None
    certificate_arn: str | None
    auth_type: str  # NONE | AWS_IAM
    idle_timeout: float  # seconds
    listeners: Mapping[int, Listener] = field(default_factory=dict)  # by port
    auth_policy: str | None = None  # the auth policy's JSON text (in force while auth_type is AWS_IAM)
    tags: tuple[tuple[str, str], ...] = ()  # for aws:ResourceTag/<key> in auth policies

    def names(self) -> tuple[str, ...]:
        """Host names the service answers to, lower-case."""
        return tuple(n.lower() for n in (self.dns_name, self.custom_domain) if n)


@dataclass(frozen=True)
class ServiceNetwork:
    id: str
    arn: str
    name: str
    account: str
    auth_type: str
    auth_policy: str | None = None  # the auth policy's JSON text (in force while auth_type is AWS_IAM)


@dataclass(frozen=True)
class Route:
    """How one VPC reaches one service: through which service network."""

    service: Service
    network: ServiceNetwork

    @cached_property
    def lattice_target_prefix(self) -> str:
        """``x-amzn-lattice-target`` up to the target group's ARN, made once per route object."""
        return f"ServiceArn={self.service.arn}; ServiceNetworkArn={self.network.arn}; TargetGroupArn="

    @cached_property
    def lattice_fields(self) -> dict[tuple, tuple[tuple[tuple[str, str], ...], str]]:
        """Lattice's headers toward targets that do not vary per request, filled by the data plane per
        (VPC, target group, port, scheme): as pairs and as HTTP/1.1 field lines, made once per route object."""
        return {}

    @cached_property
    def auth_keys(self) -> dict[tuple, dict]:
        """Auth policy condition keys that do not vary per request, filled by the data plane per (VPC, port,
        client address, scheme), made once per route object."""
        return {}


LOAD_BALANCER, VPC_ENDPOINT = "loadbalancer", "vpcendpoint"  # what a fabric interface serves

Names = Mapping[str, tuple[str, ...]]  # lower-case name ("*." wildcards allowed) -> fabric addresses


@dataclass(frozen=True)
class FabricInterface:
    """A network interface carrying PrivateLink traffic, at its own fabric address.

    A later data path binds its listeners here: a network load balancer's on its nodes' addresses, an
    interface endpoint's relay on its interfaces' addresses."""

    id: str  # eni-...
    vpc_id: str
    zone: str  # Availability Zone name
    private_ip: str  # its address in the VPC, as the EC2 API shows it
    address: str  # its fabric address: where ``private_ip`` is reached on this host
    owner: str  # the load balancer's record id or the VPC endpoint's id
    owner_kind: str  # LOAD_BALANCER | VPC_ENDPOINT


def lookup(names: Names, name: str) -> tuple[str, ...] | None:
    """The addresses of ``name`` (lower-case): an exact entry, else the closest ``*.`` wildcard above it."""
    found = names.get(name)
    if found is not None:
        return found
    labels = name.split(".")
    for i in range(1, len(labels)):
        found = names.get("*." + ".".join(labels[i:]))
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class NetworkLoadBalancer:
    """A network load balancer's TCP and TLS listeners; its nodes are the ``FabricInterface``s it owns."""

    id: str  # the load balancer's record id
    arn: str
    vpc_id: str | None
    listeners: Mapping[int, str] = field(default_factory=dict)  # TCP port -> target group id (``nlb_groups``)
    certificates: Mapping[int, str] = field(default_factory=dict)  # TLS listener port -> its default certificate ARN
    dns_name: str = ""  # what a CA-issued certificate of its TLS listeners names
    udp: Mapping[int, str] = field(default_factory=dict)  # UDP (and TCP_UDP) listener port -> target group id


@dataclass(frozen=True)
class VpcView:
    """What a client inside one VPC sees."""

    vpc_id: str
    arn: str
    account: str
    region: str
    resolver: str  # address of the VPC's DNS resolver
    lattice: str  # address every Lattice service reachable from the VPC answers on
    routes: Mapping[str, Route] = field(default_factory=dict)  # lower-case host name -> route
    names: Names = field(default_factory=dict)  # private DNS names of the VPC's interface endpoints

    def ports(self) -> frozenset[int]:
        """Listener ports that need a socket at this VPC's Lattice address."""
        return frozenset(p for r in self.routes.values() for p in r.service.listeners)


@dataclass(frozen=True)
class Snapshot:
    revision: int
    vpcs: Mapping[str, VpcView] = field(default_factory=dict)  # by VPC id
    by_address: Mapping[str, str] = field(default_factory=dict)  # fabric address -> VPC id
    services: Mapping[str, Service] = field(default_factory=dict)  # by id
    target_groups: Mapping[str, TargetGroup] = field(default_factory=dict)  # by id
    interfaces: Mapping[str, FabricInterface] = field(default_factory=dict)  # by fabric address
    names: Names = field(default_factory=dict)  # load balancer and endpoint names every VPC resolves
    balancers: Mapping[str, NetworkLoadBalancer] = field(default_factory=dict)  # by record id
    nlb_groups: Mapping[str, TargetGroup] = field(default_factory=dict)  # NLB target groups, by id
    # Who signs with an access key (``identities.credential(key)``): the data plane's SigV4 credentials.
    identities: Identities = field(default_factory=Identities)

    def vpc_at(self, address: str) -> VpcView | None:
        vpc_id = self.by_address.get(address)
        return self.vpcs.get(vpc_id) if vpc_id else None


EMPTY = Snapshot(revision=0)
