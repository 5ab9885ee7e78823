"""VPC Lattice's stored kinds and the views other layers read.

Bodies are Lattice's API shapes (``camelCase``) as the Get operations answer
them, plus the links the family keeps for its own queries: listeners and
rules record their service (``serviceId``), rules keep their action with
every forward target group normalised to its id, associations record what
they join (``serviceId``, ``vpcId``; the network is the record's parent), a
target group its VPC in ``config.vpcIdentifier``.
"""

from __future__ import annotations

from typing import Any, Iterator

from latticework.records import RecordView
from latticework.store import Record, Transaction

SERVICE_NETWORK = "servicenetwork"
SERVICE = "service"
LISTENER = "listener"
RULE = "rule"
TARGET_GROUP = "targetgroup"
TARGET = "target"
SN_VPC_ASSOCIATION = "snva"
SN_SERVICE_ASSOCIATION = "snsa"
SN_RESOURCE_ASSOCIATION = "snra"
SN_VPC_ENDPOINT_ASSOCIATION = "snvea"
RESOURCE_GATEWAY = "resourcegateway"
RESOURCE_CONFIGURATION = "resourceconfiguration"
RESOURCE_ENDPOINT_ASSOCIATION = "rea"
ACCESS_LOG_SUBSCRIPTION = "accesslogsubscription"
DOMAIN_VERIFICATION = "domainverification"
AUTH_POLICY = "authpolicy"
RESOURCE_POLICY = "resourcepolicy"
KINDS = frozenset({
    SERVICE_NETWORK, SERVICE, LISTENER, RULE, TARGET_GROUP, TARGET, SN_VPC_ASSOCIATION, SN_SERVICE_ASSOCIATION,
    SN_RESOURCE_ASSOCIATION, SN_VPC_ENDPOINT_ASSOCIATION, RESOURCE_GATEWAY, RESOURCE_CONFIGURATION,
    RESOURCE_ENDPOINT_ASSOCIATION, ACCESS_LOG_SUBSCRIPTION, DOMAIN_VERIFICATION, AUTH_POLICY, RESOURCE_POLICY,
})

DEFAULT_IDLE_TIMEOUT = 60  # seconds: https://docs.aws.amazon.com/vpc-lattice/latest/ug/services.html
DRAINING = "DRAINING"


def forwarded_target_groups(action: dict | None) -> list[str]:
    """Target group ids a rule action (API shape, ids normalised) forwards to."""
    forward = (action or {}).get("forward") or {}
    return [tg["targetGroupIdentifier"] for tg in forward.get("targetGroups", [])]


class NamedRecord(RecordView):
    """A resource with a ``name``."""

    @property
    def name(self) -> str:
        return self.body["name"]


class GuardedRecord(NamedRecord):
    """A service network or a service: what an auth policy guards (``authType`` NONE or AWS_IAM)."""

    @property
    def auth_type(self) -> str:
        return self.body.get("authType", "NONE")


class ServiceNetworkRecord(GuardedRecord):
    pass


class AuthPolicyRecord(RecordView):
    """An auth policy: its id is the id of the network, service or resource configuration it guards."""

    @property
    def policy(self) -> str:
        return self.body["policy"]


class ServiceRecord(GuardedRecord):
    @property
    def dns_name(self) -> str:
        return self.body["dnsEntry"]["domainName"]

    @property
    def custom_domain(self) -> str | None:
        return self.body.get("customDomainName")

    @property
    def certificate_arn(self) -> str | None:
        return self.body.get("certificateArn") or None

    @property
    def idle_timeout(self) -> float:
        return float(self.body.get("idleTimeoutSeconds", DEFAULT_IDLE_TIMEOUT))

    @property
    def tags(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.body.get("tags", {}).items()))


class ServicePartRecord(NamedRecord):
    """A listener or a rule: it records the service it belongs to."""

    @property
    def service_id(self) -> str:
        return self.body["serviceId"]


class ListenerRecord(ServicePartRecord):
    @property
    def protocol(self) -> str:
        return self.body["protocol"]

    @property
    def port(self) -> int:
        return self.body["port"]


class PathMatchView:
    """``httpMatch.pathMatch``: exactly one of ``exact``/``prefix``."""

    def __init__(self, body: dict) -> None:
        ((self.kind, self.value),) = body["match"].items()
        self.case_sensitive: bool = body.get("caseSensitive", True)


class HeaderMatchView:
    """One of ``httpMatch.headerMatches``: exactly one of ``exact``/``prefix``/``contains``."""

    def __init__(self, body: dict) -> None:
        ((self.kind, self.value),) = body["match"].items()
        self.name: str = body["name"]
        self.case_sensitive = bool(body.get("caseSensitive", False))


class RuleRecord(ServicePartRecord):
    @property
    def is_default(self) -> bool:
        return bool(self.body.get("isDefault"))

    @property
    def priority(self) -> int | None:
        return None if self.is_default else self.body["priority"]

    @property
    def method(self) -> str | None:
        return self._http_match().get("method")

    @property
    def path_match(self) -> PathMatchView | None:
        found = self._http_match().get("pathMatch")
        return PathMatchView(found) if found else None

    def header_matches(self) -> Iterator[HeaderMatchView]:
        return (HeaderMatchView(h) for h in self._http_match().get("headerMatches") or ())

    @property
    def fixed_response_status(self) -> int | None:
        fixed = self.body["action"].get("fixedResponse")
        return fixed["statusCode"] if fixed else None

    def forwards(self) -> Iterator[tuple[str, int]]:
        """(target group id, weight) of a forward action; weight 100 when left out, as AWS."""
        return ((g["targetGroupIdentifier"], g.get("weight", 100))
                for g in self.body["action"]["forward"]["targetGroups"])

    def _http_match(self) -> dict[str, Any]:
        return {} if self.is_default else self.body["match"]["httpMatch"]


class HealthCheckView:
    """``config.healthCheck`` as stored: the effective settings (the provider fills in AWS's defaults;
    the same defaults stand here for bodies written before it did)."""

    def __init__(self, body: dict) -> None:
        self.body = body

    @property
    def configured(self) -> bool:
        return bool(self.body)

    @property
    def enabled(self) -> bool:
        return bool(self.body.get("enabled"))

    @property
    def protocol(self) -> str:
        return self.body.get("protocol") or "HTTP"

    @property
    def protocol_version(self) -> str:
        return self.body.get("protocolVersion") or "HTTP1"

    @property
    def port(self) -> int | None:
        """None: the target's own port."""
        return self.body.get("port") or None

    @property
    def path(self) -> str:
        return self.body.get("path") or "/"

    @property
    def interval(self) -> float:
        return float(self.body.get("healthCheckIntervalSeconds") or 30)

    @property
    def timeout(self) -> float:
        return float(self.body.get("healthCheckTimeoutSeconds") or 5)

    @property
    def healthy_threshold(self) -> int:
        return int(self.body.get("healthyThresholdCount") or 5)

    @property
    def unhealthy_threshold(self) -> int:
        return int(self.body.get("unhealthyThresholdCount") or 2)

    @property
    def matcher(self) -> str:
        return (self.body.get("matcher") or {}).get("httpCode") or "200"


class TargetGroupRecord(NamedRecord):
    @property
    def type(self) -> str:
        return self.body["type"]

    @property
    def config(self) -> dict:
        return self.body.get("config") or {}

    @property
    def protocol(self) -> str | None:
        return self.config.get("protocol")

    @property
    def protocol_version(self) -> str | None:
        return self.config.get("protocolVersion")

    @property
    def port(self) -> int:
        return self.config.get("port", 0)

    @property
    def vpc_id(self) -> str | None:
        return self.config.get("vpcIdentifier")

    @property
    def health_check(self) -> HealthCheckView:
        return HealthCheckView(self.config.get("healthCheck") or {})


class TargetRecord(RecordView):
    """A registered target; its record id is stable, ``target_id`` is what was registered."""

    @property
    def target_id(self) -> str:
        return self.body["id"]

    @property
    def port(self) -> int | None:
        return self.body.get("port") or None

    @property
    def draining(self) -> bool:
        return self.body.get("status") == DRAINING

    @property
    def status(self) -> str | None:
        return self.body.get("status")

    @property
    def reason_code(self) -> str | None:
        return self.body.get("reasonCode")


class ServiceAssociationRecord(RecordView):
    """A service-network service association; the network is the record's parent."""

    @property
    def service_id(self) -> str:
        return self.body["serviceId"]

    @property
    def service_arn(self) -> str | None:
        return self.body.get("serviceArn")

    @property
    def dns_name(self) -> str | None:
        return (self.body.get("dnsEntry") or {}).get("domainName") or None

    @property
    def hosted_zone_id(self) -> str | None:
        return (self.body.get("dnsEntry") or {}).get("hostedZoneId")


RESOURCE_HOSTS = "ResourceHosts"
"""Internal field of a service-network VPC association or VPC endpoint association: resource configuration id ->
the host number of its address in the VPC's fabric block (``fabric`` explains the allocation)."""


class ResourceHolder(RecordView):
    """What joins a VPC to a service network's resources: a VPC association or a service-network endpoint's
    association (``snvea``); the network is the record's parent."""

    @property
    def vpc_id(self) -> str:
        return self.body["vpcId"]

    @property
    def resource_hosts(self) -> dict[str, int]:
        return self.internal.get(RESOURCE_HOSTS) or {}


class NetworkEndpointRecord(ResourceHolder):
    """A service-network VPC endpoint's association (``snvea``), written with the EC2 endpoint."""

    @property
    def endpoint_id(self) -> str:
        return self.body["vpcEndpointId"]


class VpcAssociationRecord(ResourceHolder):
    """A service-network VPC association; the network is the record's parent."""

    @property
    def private_dns(self) -> bool:
        return bool(self.body.get("privateDnsEnabled"))

    @property
    def dns_preference(self) -> str:
        return (self.body.get("dnsOptions") or {}).get("privateDnsPreference") or "VERIFIED_DOMAINS_ONLY"

    @property
    def specified_domains(self) -> tuple[str, ...]:
        return tuple((self.body.get("dnsOptions") or {}).get("privateDnsSpecifiedDomains") or ())


class ResourceAssociationRecord(RecordView):
    """A service-network resource association; the network is the record's parent."""

    @property
    def resource_configuration_id(self) -> str:
        return self.body["resourceConfigurationId"]

    @property
    def resource_configuration_arn(self) -> str | None:
        return self.body.get("resourceConfigurationArn")

    @property
    def private_dns_name(self) -> str | None:
        return (self.body.get("privateDnsEntry") or {}).get("domainName")

    @property
    def private_dns(self) -> bool:
        return bool(self.body.get("privateDnsEnabled"))

    @property
    def dns_name(self) -> str | None:
        return (self.body.get("dnsEntry") or {}).get("domainName")


class ResourceConfigurationRecord(NamedRecord):
    @property
    def type(self) -> str | None:
        return self.body.get("type")

    @property
    def custom_domain(self) -> str | None:
        return self.body.get("customDomainName")

    @property
    def group_id(self) -> str | None:
        """The GROUP configuration a CHILD belongs to."""
        return self.body.get("resourceConfigurationGroupId")

    @property
    def gateway_id(self) -> str | None:
        return self.body.get("resourceGatewayId")

    @property
    def port_ranges(self) -> tuple[tuple[int, int], ...]:
        """``portRanges`` (``"80"``, ``"1-65535"``) as inclusive (low, high) pairs."""
        found = []
        for item in self.body.get("portRanges") or ():
            low, _, high = item.partition("-")
            found.append((int(low), int(high or low)))
        return tuple(found)

    @property
    def ip_address(self) -> str | None:
        return ((self.body.get("resourceConfigurationDefinition") or {}).get("ipResource") or {}).get("ipAddress")

    @property
    def domain_name(self) -> str | None:
        """A DNS resource's domain name."""
        return ((self.body.get("resourceConfigurationDefinition") or {}).get("dnsResource") or {}).get("domainName")

    @property
    def verification_id(self) -> str | None:
        return self.body.get("domainVerificationId")


class ResourceGatewayRecord(NamedRecord):
    @property
    def vpc_id(self) -> str:
        return self.body["vpcId"]

    @property
    def resolution(self) -> str:
        return self.body.get("resourceConfigDnsResolution") or "PUBLIC"


class DomainVerificationRecord(RecordView):
    @property
    def verified(self) -> bool:
        return self.body.get("status") == "VERIFIED"


# -- names through service-network endpoints ---------------------------------------------

def endpoint_service_name(endpoint_id: str, association_id: str, service_dns_name: str) -> str:
    """The name a service has through a service-network endpoint: ``<vpce-id>-<snsa-id>`` in place of the
    first label of the service's generated name (``<vpce-id>-<snsa-id>.<hash>.vpc-lattice-svcs.<region>.on.aws``).

    AWS documents the resource form (``<vpce-id>-<snra-id>.<rcfg-id>.<hash>.vpc-lattice-rsc.<region>.on.aws``,
    reference §8.3) but not the service form; this one is inferred from it and from the blog posts that show
    endpoint-specific service names, and may differ from AWS's in detail."""
    return f"{endpoint_id}-{association_id}.{service_dns_name.split('.', 1)[1]}".lower()


def endpoint_resource_name(endpoint_id: str, association_dns_name: str) -> str:
    """The name a resource configuration has through a service-network endpoint: the endpoint's id before its
    network association's (``snra``) name: ``<vpce-id>-snra-<id>.rcfg-<id>.<hash>.vpc-lattice-rsc.<region>.on.aws``
    (reference §8.3)."""
    return f"{endpoint_id}-{association_dns_name}".lower()


# -- what the data plane writes back: target health and finished drains -----------------

def record_target_health(tx: Transaction, key: str, status: str, reason: str | None,
                         only_over: tuple[str, ...] | None = None) -> None:
    """Put a health verdict in target ``key``'s record (``ListTargets`` reads it), unless the record is
    gone, draining, already says so, or (with ``only_over``) holds another status."""
    record = tx.get(TARGET, key)
    if record is None:
        return
    target = TargetRecord(record)
    if target.draining or (only_over is not None and target.status not in only_over):
        return
    if target.status == status and target.reason_code == reason:
        return
    record.body["status"] = status
    if reason is None:
        record.body.pop("reasonCode", None)
    else:
        record.body["reasonCode"] = reason
    tx.put(record)


def draining_since(record: Record | None, generation: int | None = None) -> bool:
    """The target record is draining (and, with ``generation``, still the registration that began it)."""
    if record is None or not TargetRecord(record).draining:
        return False
    return generation is None or record.created_rev == generation


def remove_drained_target(tx: Transaction, key: str, generation: int) -> None:
    """A drained target's registration ends: its record goes, unless it was registered again meanwhile."""
    if draining_since(tx.get(TARGET, key), generation):
        tx.delete(TARGET, key)
