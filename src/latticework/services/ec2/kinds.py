"""Every EC2 kind Latticework stores, in one table.

Each kind is a store record kind (named in ``records.ec2``) with its id prefix, the ``ResourceType`` of
tag specifications, and the ``...NotFound`` error for a missing id. The
families look each other's records up through these constants, so they live
below every family module: ``vpcs`` creates default groups, main route tables
and ACLs through ``security`` and ``routing``, which in turn check that the
VPCs and subnets they are given exist.
"""

from __future__ import annotations

from latticework.records import ec2 as stored
from latticework.services.ec2.common import Ec2Kind

VPC = Ec2Kind(stored.VPC, "vpc-", "vpc", "InvalidVpcID.NotFound", "vpc ID")
SUBNET = Ec2Kind(stored.SUBNET, "subnet-", "subnet", "InvalidSubnetID.NotFound", "subnet ID")
SECURITY_GROUP = Ec2Kind(stored.SECURITY_GROUP, "sg-", "security-group", "InvalidGroup.NotFound", "security group")
SECURITY_GROUP_RULE = Ec2Kind(stored.SECURITY_GROUP_RULE, "sgr-", "security-group-rule",
                              "InvalidSecurityGroupRuleId.NotFound", "security group rule ID")
ROUTE_TABLE = Ec2Kind(stored.ROUTE_TABLE, "rtb-", "route-table", "InvalidRouteTableID.NotFound", "routeTable ID")
NETWORK_ACL = Ec2Kind(stored.NETWORK_ACL, "acl-", "network-acl", "InvalidNetworkAclID.NotFound", "networkAcl ID")
NETWORK_INTERFACE = Ec2Kind(stored.NETWORK_INTERFACE, "eni-", "network-interface", "InvalidNetworkInterfaceID.NotFound",
                            "networkInterface ID")
INSTANCE = Ec2Kind(stored.INSTANCE, "i-", "instance", "InvalidInstanceID.NotFound", "instance ID")
# A provider sees the endpoints connected to its endpoint service as connections.
ENDPOINT = Ec2Kind(stored.VPC_ENDPOINT, "vpce-", "vpc-endpoint", "InvalidVpcEndpointId.NotFound", "Vpc Endpoint Id")
ENDPOINT_SERVICE = Ec2Kind(stored.VPC_ENDPOINT_SERVICE, "vpce-svc-", "vpc-endpoint-service",
                  "InvalidVpcEndpointServiceId.NotFound", "VPC endpoint service ID")
PERMISSION = Ec2Kind(stored.VPC_ENDPOINT_PERMISSION, "vpce-svc-perm-", "vpc-endpoint-service-permission",
                     "InvalidVpcEndpointServicePermissionId.NotFound", "service permission ID")
NOTIFICATION = Ec2Kind(stored.VPC_ENDPOINT_NOTIFICATION, "vpce-nfn-", "vpc-endpoint-connection",
                       "InvalidConnectionNotification", "connection notification ID")

# Record kind -> kind, in the order DescribeTags lists resources.
KINDS: dict[str, Ec2Kind] = {k.kind: k for k in (
    ENDPOINT_SERVICE, PERMISSION, NOTIFICATION, ROUTE_TABLE, NETWORK_ACL, SECURITY_GROUP, SECURITY_GROUP_RULE, VPC,
    SUBNET, ENDPOINT, NETWORK_INTERFACE, INSTANCE,
)}


def kind_of_id(resource_id: str) -> Ec2Kind | None:
    """The kind an id belongs to, by its longest matching prefix (``vpce-svc-`` before ``vpce-``)."""
    matches = [k for k in KINDS.values() if resource_id.startswith(k.prefix)]
    return max(matches, key=lambda k: len(k.prefix)) if matches else None
