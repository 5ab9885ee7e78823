"""Elastic Load Balancing's stored kinds and the views other layers read.

What the data plane needs of a load balancer: whether it is a network load
balancer (those carry PrivateLink traffic), its VPC and its ``DNSName``; its
nodes are its network interfaces (``records.ec2.InterfaceRecord`` whose
``fabric_owner`` is the load balancer's record id).
"""

from __future__ import annotations

from latticework.records import RecordView

LOAD_BALANCER = "loadbalancer"


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
