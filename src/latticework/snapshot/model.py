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
A service-network endpoint's interfaces are Lattice addresses of their VPC:
``Snapshot.endpoint_views`` gives each a ``VpcView`` routing to the services
of the endpoint's network only (``vpc_at`` finds it by address).

Network load balancers: a ``NetworkLoadBalancer`` (by record id, the
``owner`` of its nodes' interfaces) holds its TCP listeners, each the target
group its default action forwards to; those groups are in
``Snapshot.nlb_groups`` (kept apart from Lattice's, which the health monitor
checks), their targets mapped to host sockets by the same rule.

AWS services through VPC endpoints: ``VpcView.aws_endpoints`` (``AwsEndpoint``:
service, policy, route tables), the VPC's main route table and its AWS-services
address, where the public names of services its gateway endpoints reach
resolve (``dataplane.awsservices``).

Interface endpoints to endpoint services: an ``InterfaceEndpoint`` (by
``vpce-`` id, the ``owner`` of its interfaces) names the network load
balancers of its service and whether its connection is ``available``; its
interfaces relay to those balancers' listeners only then.

Resources (resource gateways and configurations): a ``Resource`` (by
configuration id) is where a SINGLE or CHILD configuration's connections go:
its port ranges, the resource's host address (an IP resource, mapped by the
same rule as targets) or domain name, and the fabric addresses of its
gateway's interfaces, which the connection to the resource comes from. A
consumer reaches it at fabric addresses of its own VPC
(``Snapshot.resource_at``: address -> configuration id), and resolves its
names (``Snapshot.resource_names``, per VPC) to them.

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
    zone: str | None = None  # an NLB target's Availability Zone (None: every zone's nodes may use it)


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
    cross_zone: bool | None = None  # load_balancing.cross_zone.enabled (None: the load balancer's setting)

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
RESOURCE_GATEWAY = "resourcegateway"  # ... or a resource gateway (its connections to resources come from it)

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
    owner: str  # the load balancer's record id, the VPC endpoint's or the resource gateway's id
    owner_kind: str  # LOAD_BALANCER | VPC_ENDPOINT | RESOURCE_GATEWAY


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
class TlsListener:
    """What a network load balancer's TLS listener negotiates besides its default certificate."""

    certificates: tuple[str, ...] = ()  # ARNs added by AddListenerCertificates, chosen by SNI
    ssl_policy: str = ""  # ELBSecurityPolicy-...: TLS versions and ciphers
    alpn_policy: str = "None"  # HTTP1Only | HTTP2Only | HTTP2Optional | HTTP2Preferred | None


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
    cross_zone: bool = False  # load_balancing.cross_zone.enabled: a node may use targets in other zones
    tls: Mapping[int, TlsListener] = field(default_factory=dict)  # TLS listener port -> its other settings


# The public names of the AWS services a gateway endpoint reaches, as their SDKs address them: S3 by Region,
# its buckets as sub-domains (virtual-hosted style), and in us-east-1 also by its global name, which the SDKs
# use there by default (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html);
# DynamoDB by Region and by account-based name
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.SDKs.html).
GATEWAY_SERVICE_NAMES: Mapping[str, tuple[str, ...]] = {
    "s3": ("s3.{region}.amazonaws.com", "*.s3.{region}.amazonaws.com"),
    "dynamodb": ("dynamodb.{region}.amazonaws.com", "*.ddb.{region}.amazonaws.com"),
}
GLOBAL_S3_NAMES = ("s3.amazonaws.com", "*.s3.amazonaws.com")  # us-east-1's legacy global endpoint


def gateway_service_names(service: str, region: str) -> tuple[str, ...]:
    """The names a gateway endpoint to ``service`` answers to inside its VPC (lower-case, ``*.`` wildcards)."""
    names = tuple(n.format(region=region) for n in GATEWAY_SERVICE_NAMES.get(service, ()))
    return names + GLOBAL_S3_NAMES if service == "s3" and region == "us-east-1" else names


@dataclass(frozen=True)
class AwsEndpoint:
    """A VPC endpoint to an AWS service (``com.amazonaws.<region>.<service>``): what its data path enforces.

    A ``Gateway`` endpoint carries the traffic of the route tables it is associated with; an ``Interface``
    endpoint the traffic sent to its interfaces' addresses (``FabricInterface.owner`` is its id)."""

    id: str  # vpce-...
    service: str  # the catalogue's short name: "s3", "dynamodb"
    type: str  # Gateway | Interface
    policy: str | None  # the endpoint policy's JSON text (None: the service supports none: full access)
    route_tables: tuple[str, ...] = ()  # Gateway: the route tables it is associated with
    owner: str = ""  # the endpoint's account (aws:SourceVpce's owner)


@dataclass(frozen=True)
class InterfaceEndpoint:
    """An ``Interface`` endpoint to a provider's endpoint service: where its interfaces' connections go.

    Each of its interfaces listens on every TCP listener port of ``balancers`` while ``available``; a
    connection goes to the balancer ``zonal`` names for the interface's zone (AWS: per zone an endpoint
    connects to one load balancer of the service), else to the first of ``balancers`` with that port."""

    id: str  # vpce-...
    vpc_id: str
    service_id: str  # vpce-svc-...
    available: bool  # the connection is ``available``: traffic flows (not pendingAcceptance, rejected...)
    balancers: tuple[str, ...] = ()  # record ids of the service's network load balancers, in the service's order
    zonal: Mapping[str, str] = field(default_factory=dict)  # zone -> the balancer that zone's interfaces use

    def balancer_for(self, zone: str, port: int, balancers: Mapping[str, "NetworkLoadBalancer"]) -> str | None:
        """The balancer a connection on ``port`` at an interface in ``zone`` goes to, if any listens there."""
        for id in (self.zonal.get(zone), *self.balancers):
            balancer = balancers.get(id) if id is not None else None
            if balancer is not None and port in balancer.listeners:
                return id
        return None

    def ports(self, balancers: Mapping[str, "NetworkLoadBalancer"]) -> frozenset[int]:
        """The TCP listener ports of its balancers: the ports its interfaces accept on."""
        return frozenset(p for id in self.balancers if id in balancers for p in balancers[id].listeners)


@dataclass(frozen=True)
class Resource:
    """A SINGLE or CHILD resource configuration, as its connections need it."""

    id: str  # rcfg-...
    arn: str
    gateway_id: str
    vpc_id: str  # the gateway's VPC
    sources: tuple[str, ...]  # fabric addresses of the gateway's interfaces: connections come from these
    ports: tuple[tuple[int, int], ...]  # inclusive port ranges
    host: str | None = None  # an IP resource: where its process listens (the host-address rule)
    domain: str | None = None  # a DNS resource: its name, resolved per ``resolution`` at connect time
    resolution: str = "PUBLIC"  # the gateway's resourceConfigDnsResolution: PUBLIC | IN_VPC

    def allows(self, port: int) -> bool:
        return any(low <= port <= high for low, high in self.ports)


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
    # AWS services (``dataplane.awsservices``): the address their names answer at through a gateway endpoint,
    # the route table a client of the VPC uses (its main one) and the VPC's endpoints to AWS services, by id.
    aws_services: str = ""
    main_route_table: str | None = None
    aws_endpoints: Mapping[str, AwsEndpoint] = field(default_factory=dict)

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
    endpoints: Mapping[str, InterfaceEndpoint] = field(default_factory=dict)  # to endpoint services, by vpce- id
    resources: Mapping[str, Resource] = field(default_factory=dict)  # by configuration id
    resource_at: Mapping[str, str] = field(default_factory=dict)  # consumer fabric address -> configuration id
    resource_names: Mapping[str, Names] = field(default_factory=dict)  # VPC id -> its resource names
    # Who signs with an access key (``identities.credential(key)``): the data plane's SigV4 credentials.
    identities: Identities = field(default_factory=Identities)
    # A service-network endpoint's interface address -> what a client reaches there: a view of the endpoint's
    # VPC whose routes are the endpoint's network's services only, its ``lattice`` that address.
    endpoint_views: Mapping[str, VpcView] = field(default_factory=dict)

    def vpc_at(self, address: str) -> VpcView | None:
        """The VPC view a connection to ``address`` comes from: a VPC's Lattice (or resolver) address, or a
        service-network endpoint's interface address."""
        vpc_id = self.by_address.get(address)
        return self.vpcs.get(vpc_id) if vpc_id else self.endpoint_views.get(address)

    def view_for(self, vpc_id: str, address: str) -> VpcView | None:
        """The view at ``address`` while it is still ``vpc_id``'s (a connection keeps the VPC it came from)."""
        view = self.vpc_at(address)
        return view if view is not None and view.vpc_id == vpc_id else None


EMPTY = Snapshot(revision=0)
