"""The EC2 provider: one method per operation, one mixin per family.

Families: ``vpcs`` (VPCs and attributes, subnets, availability zones, account
attributes), ``security`` (security groups and rules), ``routing`` (route
tables, routes, network ACLs, managed prefix lists), ``interfaces`` (network
interfaces, instances), ``endpoints`` (VPC endpoints, the consumer side),
``endpoint_services`` (endpoint services, permissions, connections,
notifications: the provider side), ``tags`` (CreateTags/DeleteTags/
DescribeTags for every kind). The kinds of every family are in ``kinds``, and
the families import one another only downward: ``security`` uses ``routing``
(prefix lists), ``vpcs`` uses both (a VPC creates its default group, main
table and default ACL), ``interfaces`` uses ``security``, and ``endpoints``
uses them all.
"""

from __future__ import annotations

from latticework.services.ec2.endpoint_services import EndpointServiceOps
from latticework.services.ec2.endpoints import EndpointOps
from latticework.services.ec2.interfaces import InterfaceOps
from latticework.services.ec2.routing import RoutingOps
from latticework.services.ec2.security import SecurityGroupOps
from latticework.services.ec2.tags import TagOps
from latticework.services.ec2.vpcs import VpcOps


class Ec2Provider(TagOps, VpcOps, SecurityGroupOps, RoutingOps, InterfaceOps, EndpointOps, EndpointServiceOps):
    pass
