"""EC2's stored kinds (the VPC and PrivateLink part) and the views other layers read.

Bodies are EC2's API shapes (``PascalCase``), tags kept under ``Tags`` for
every kind; what a family keeps beside the shape is in the record's
``internal`` fields. What the data plane needs of them: a VPC's CIDR and fabric block,
where an instance's or interface's processes listen (its private address and
``latticework:host-address`` tag), and which service network a
``ServiceNetwork`` VPC endpoint joins its VPC to.
"""

from __future__ import annotations

from latticework.records import RecordView, tag_value

VPC = "vpc"
SUBNET = "subnet"
ROUTE_TABLE = "routetable"
NETWORK_ACL = "networkacl"
SECURITY_GROUP = "securitygroup"
SECURITY_GROUP_RULE = "securitygrouprule"
NETWORK_INTERFACE = "networkinterface"
INSTANCE = "instance"
VPC_ENDPOINT = "vpcendpoint"
VPC_ENDPOINT_SERVICE = "vpcendpointservice"
VPC_ENDPOINT_PERMISSION = "vpcendpointpermission"
VPC_ENDPOINT_NOTIFICATION = "vpcendpointnotification"

HOST_ADDRESS_TAG = "latticework:host-address"
"""EC2 tag on an instance or network interface naming the host address its processes listen on."""

FABRIC_INDEX = "FabricIndex"
"""Internal field of a VPC record: the index of the VPC's block in the fabric (``fabric``)."""

RUNNING_STATES = frozenset({"running", "pending"})


class VpcRecord(RecordView):
    @property
    def cidr_block(self) -> str | None:
        return self.body.get("CidrBlock")

    def associated_cidrs(self) -> list[str]:
        """Every IPv4 block associated with the VPC, the primary one first."""
        blocks = self.body.get("CidrBlockAssociationSet") or [{"CidrBlock": self.cidr_block}]
        return [b["CidrBlock"] for b in blocks
                if (b.get("CidrBlockState") or {}).get("State", "associated") == "associated"]

    @property
    def fabric_index(self) -> int | None:
        return self.internal.get(FABRIC_INDEX)


class InVpcRecord(RecordView):
    """A resource that lives in one VPC (subnet, security group, interface, endpoint)."""

    @property
    def vpc_id(self) -> str:
        return self.body["VpcId"]


class HostRecord(RecordView):
    """An instance or a network interface: something holding a private address in a VPC."""

    @property
    def vpc_id(self) -> str | None:
        """None for an instance that has left its VPC (terminated)."""
        return self.body.get("VpcId")

    @property
    def private_ip(self) -> str | None:
        return self.body.get("PrivateIpAddress")

    @property
    def host_address(self) -> str | None:
        """The ``latticework:host-address`` tag: where its processes listen, when not 127.0.0.1."""
        return tag_value(self.body.get("Tags"), HOST_ADDRESS_TAG)


class InstanceRecord(HostRecord):
    @property
    def running(self) -> bool:
        """Pending or running (a body without a state counts as running)."""
        state = (self.body.get("State") or {}).get("Name")
        return state is None or state in RUNNING_STATES


class VpcEndpointRecord(InVpcRecord):
    @property
    def service_network_arn(self) -> str | None:
        return self.body.get("ServiceNetworkArn")

    @property
    def joins_service_network(self) -> bool:
        """An available ``ServiceNetwork`` endpoint: its VPC reaches the network as if associated."""
        return self.body.get("VpcEndpointType") == "ServiceNetwork" and self.body.get("State") == "available"
