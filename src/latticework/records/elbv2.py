"""Elastic Load Balancing's stored kinds and the views other layers read.

What the data plane needs of a load balancer: whether it is a network load
balancer (those carry PrivateLink traffic), its VPC and its ``DNSName``; its
nodes are its network interfaces (``records.ec2.InterfaceRecord`` whose
``fabric_owner`` is the load balancer's record id). Of a listener (a child of
its load balancer): its protocol, port and the target groups its default
action forwards to. Of a target group: its type, protocol, port, VPC,
health-check settings, attributes and registered targets (kept in the
record's ``internal`` data).

Target health (what ``DescribeTargetHealth`` answers) is written back by the
data plane's health checkers (``record_target_health``) into the record's
``internal["health"]``, by target (``"<id>:<port>"``): ``State``, ``Reason``,
``Description``. A deregistered target of a group in use stays in
``internal["targets"]`` with ``draining`` (the time its deregistration began,
seconds since the epoch) until the data plane ends its deregistration delay
(``remove_drained_target``).
"""

from __future__ import annotations

from latticework.records import RecordView
from latticework.store import Record, Transaction

LOAD_BALANCER = "loadbalancer"
TARGET_GROUP = "elbv2-targetgroup"
LISTENER = "elbv2-listener"
ZONE = "zone"  # a registered target's Availability Zone as RegisterTargets found it (its subnet's, its instance's)


class LoadBalancerRecord(RecordView):
    @property
    def is_network(self) -> bool:
        return self.body.get("Type") == "network"

    @property
    def dns_name(self) -> str:
        return self.body["DNSName"]

    @property
    def vpc_id(self) -> str | None:
        return self.body.get("VpcId")

    @property
    def cross_zone(self) -> bool:
        """``load_balancing.cross_zone.enabled`` (a network load balancer's default: false)."""
        return (self.internal.get("attributes") or {}).get("load_balancing.cross_zone.enabled") == "true"


class ListenerRecord(RecordView):
    @property
    def protocol(self) -> str:
        return self.body.get("Protocol") or ""

    @property
    def port(self) -> int:
        return int(self.body["Port"])

    @property
    def certificate_arn(self) -> str | None:
        """A TLS listener's default certificate (the first of ``Certificates``)."""
        certificates = self.body.get("Certificates") or []
        return certificates[0].get("CertificateArn") if certificates else None

    @property
    def other_certificates(self) -> list[str]:
        """Certificate ARNs AddListenerCertificates added besides the default one (chosen by SNI)."""
        return list(self.internal.get("certificates") or [])

    @property
    def ssl_policy(self) -> str:
        return self.body.get("SslPolicy") or ""

    @property
    def alpn_policy(self) -> str:
        """The listener's ALPN policy (the API's one-item ``AlpnPolicy`` list), ``None`` without one."""
        return next(iter(self.body.get("AlpnPolicy") or []), "None")

    def forwards(self) -> list[str]:
        """Target group ARNs the default actions forward to, in order."""
        out: list[str] = []
        for action in self.body.get("DefaultActions") or []:
            tuples = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            out += [t["TargetGroupArn"] for t in tuples] or ([action["TargetGroupArn"]]
                                                             if action.get("TargetGroupArn") else [])
        return out


class TargetGroupRecord(RecordView):
    @property
    def type(self) -> str:
        """IP | INSTANCE | ALB | LAMBDA (the API's lower-case ``TargetType``, in the Lattice spelling)."""
        return (self.body.get("TargetType") or "instance").upper()

    @property
    def protocol(self) -> str | None:
        return self.body.get("Protocol")

    @property
    def port(self) -> int:
        return int(self.body.get("Port") or 0)

    @property
    def vpc_id(self) -> str | None:
        return self.body.get("VpcId")

    def targets(self) -> list[tuple[str, int]]:
        """Registered targets as (id, port), in registration order (draining ones too)."""
        return [(t["Id"], int(t.get("Port") or self.port)) for t in self.internal.get("targets") or []]

    def draining(self) -> dict[tuple[str, int], float]:
        """Draining targets, (id, port) -> when their deregistration began (seconds since the epoch)."""
        return {(t["Id"], int(t.get("Port") or self.port)): float(t["draining"])
                for t in self.internal.get("targets") or [] if t.get("draining") is not None}

    @property
    def attributes(self) -> dict[str, str]:
        return self.internal.get("attributes") or {}

    def flag(self, name: str) -> bool:
        return self.attributes.get(name) == "true"

    @property
    def cross_zone(self) -> bool | None:
        """The group's ``load_balancing.cross_zone.enabled``: None for ``use_load_balancer_configuration``."""
        value = self.attributes.get("load_balancing.cross_zone.enabled")
        return None if value in (None, "use_load_balancer_configuration") else value == "true"

    def zones(self) -> dict[tuple[str, int], str | None]:
        """Each registered target's Availability Zone, (id, port) -> zone name, None for every zone: the one
        RegisterTargets found for it (``ZONE``: its subnet's, its instance's), else its ``AvailabilityZone``
        (``all``: every zone)."""
        out: dict[tuple[str, int], str | None] = {}
        for t in self.internal.get("targets") or []:
            zone = t.get(ZONE) or t.get("AvailabilityZone")
            out[(t["Id"], int(t.get("Port") or self.port))] = None if zone in (None, "", "all") else zone
        return out

    @property
    def deregistration_delay(self) -> float:
        return float(self.attributes.get("deregistration_delay.timeout_seconds") or 300)


def target_name(target_id: str, port: int) -> str:
    """A registered target's name in ``internal["health"]``."""
    return f"{target_id}:{port}"


def _entry(record: Record, target_id: str, port: int) -> dict | None:
    group = TargetGroupRecord(record)
    for t in record.internal.get("targets") or []:
        if t["Id"] == target_id and int(t.get("Port") or group.port) == port:
            return t
    return None


# -- what the data plane writes back: target health and finished deregistrations ---------

def record_target_health(tx: Transaction, group_id: str, target_id: str, port: int, health: dict) -> None:
    """Put a health verdict (``State``, ``Reason``, ``Description``) for a registered target in its group's
    record, unless the group or the registration is gone, the target is draining, or it already says so."""
    record = tx.get(TARGET_GROUP, group_id)
    if record is None:
        return
    entry = _entry(record, target_id, port)
    if entry is None or entry.get("draining") is not None:
        return
    healths = record.internal.setdefault("health", {})
    name = target_name(target_id, port)
    if healths.get(name) == health:
        return
    healths[name] = dict(health)
    tx.put(record)


def remove_drained_target(tx: Transaction, group_id: str, target_id: str, port: int, since: float) -> None:
    """A draining target's deregistration delay is over: it leaves the group, unless it was registered again
    (or deregistered again later) meanwhile."""
    record = tx.get(TARGET_GROUP, group_id)
    if record is None:
        return
    entry = _entry(record, target_id, port)
    if entry is None or entry.get("draining") != since:
        return
    record.internal["targets"] = [t for t in record.internal["targets"] if t is not entry]
    record.internal.get("health", {}).pop(target_name(target_id, port), None)
    tx.put(record)
