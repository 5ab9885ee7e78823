"""Elastic Load Balancing's stored kinds and the views other layers read.

What the data plane needs of a load balancer: whether it is a network load
balancer (those carry PrivateLink traffic), its VPC and its ``DNSName``; its
nodes are its network interfaces (``records.ec2.InterfaceRecord`` whose
``fabric_owner`` is the load balancer's record id). Of a listener (a child of
its load balancer): its protocol, port and the target groups its default
action forwards to. Of a target group: its type, protocol, port, VPC and
registered targets (kept in the record's ``internal`` data).
"""

from __future__ import annotations

from latticework.records import RecordView

LOAD_BALANCER = "loadbalancer"
TARGET_GROUP = "elbv2-targetgroup"
LISTENER = "elbv2-listener"


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


class ListenerRecord(RecordView):
    @property
    def protocol(self) -> str:
        return self.body.get("Protocol") or ""

    @property
    def port(self) -> int:
        return int(self.body["Port"])

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
        """Registered targets as (id, port), in registration order."""
        return [(t["Id"], int(t.get("Port") or self.port)) for t in self.internal.get("targets") or []]
