"""The one place Lattice checks references to EC2 objects (VPCs, subnets, security groups).

Model
    Service-network VPC associations, target groups and resource gateways name
    a VPC (and, for gateways and associations, subnets and security groups).
    Each reference must be a VPC, subnet or security group that the EC2 API
    of this server holds in the caller's account and Region: the lookup is
    ``ctx.tx.get(kind, id)``, which only sees the caller's own records, so
    another account's VPC is as unknown as one that never existed (AWS
    associates a VPC with a service network only from the VPC owner's
    account, and a target group or gateway lives in its VPC's account).

Errors
    - A malformed id (``vpc-`` + 8 or 17 hex, ``subnet-``..., ``sg-``...) is
      a ``ValidationException`` naming the field, as before.
    - An id that does not exist: AWS's documentation does not say what
      Lattice answers for an unknown VPC, subnet or security group (no
      answer in the API reference or in public issues), so it is Lattice's
      own 404 for a missing referenced resource: ``ResourceNotFoundException``
      with ``resourceId`` the id and ``resourceType`` ``VPC``, ``SUBNET`` or
      ``SECURITY_GROUP``.
    - A subnet or security group that exists but belongs to another VPC than
      the one given: ``ValidationException`` on the field (the request is
      inconsistent, nothing is missing).

``vpc_cidrs`` answers the address ranges of a VPC, for checks of IP targets.
"""

from __future__ import annotations

import ipaddress
import re

from latticework.api.context import RequestContext
from latticework.records import ec2 as ec2_records
from latticework.services.lattice.api_types import ResourceNotFoundException
from latticework.services.lattice.common import validation
from latticework.store import Record

_FORMATS = {
    "vpc": re.compile(r"vpc-([0-9a-f]{8}|[0-9a-f]{17})"),
    "subnet": re.compile(r"subnet-([0-9a-f]{8}|[0-9a-f]{17})"),
    "sg": re.compile(r"sg-([0-9a-f]{8}|[0-9a-f]{17})"),
}
# Our format name -> (EC2 record kind, resourceType of the 404, noun for messages).
_KINDS = {
    "vpc": (ec2_records.VPC, "VPC", "VPC"),
    "subnet": (ec2_records.SUBNET, "SUBNET", "subnet"),
    "sg": (ec2_records.SECURITY_GROUP, "SECURITY_GROUP", "security group"),
}


def _check(kind: str, value: str, field: str) -> str:
    if not _FORMATS[kind].fullmatch(value):
        raise validation(f"Invalid {kind} id {value}", (field, f"{value} is not a valid {kind} id"))
    return value


def _lookup(ctx: RequestContext, kind: str, value: str, field: str) -> Record:
    """The caller's EC2 record ``value`` (format-checked first), or Lattice's 404."""
    record_kind, resource_type, noun = _KINDS[kind]
    record = ctx.tx.get(record_kind, _check(kind, value, field))
    if record is None:
        raise ResourceNotFoundException(f"The {noun} {value} was not found.",
                                        resourceId=value, resourceType=resource_type)
    return record


def _in_vpc(record: Record, vpc_id: str | None, kind: str, field: str) -> str:
    """The record's id, if it lies in ``vpc_id`` (``None``: any VPC)."""
    if vpc_id is not None and ec2_records.InVpcRecord(record).vpc_id != vpc_id:
        noun = _KINDS[kind][2]
        raise validation(f"The {noun} {record.id} does not belong to VPC {vpc_id}.",
                         (field, f"{record.id} is not in {vpc_id}"))
    return record.id


def check_vpc(ctx: RequestContext, vpc_id: str, field: str = "vpcIdentifier") -> str:
    """The id of the caller's VPC ``vpc_id`` that a Lattice resource will reference."""
    return _lookup(ctx, "vpc", vpc_id, field).id


def check_subnets(ctx: RequestContext, vpc_id: str | None, subnet_ids: list[str],
                  field: str = "subnetIds") -> list[str]:
    """The caller's subnets ``subnet_ids``, each in ``vpc_id``."""
    return [_in_vpc(_lookup(ctx, "subnet", s, field), vpc_id, "subnet", field) for s in subnet_ids]


def check_security_groups(ctx: RequestContext, vpc_id: str | None, group_ids: list[str],
                          field: str = "securityGroupIds") -> list[str]:
    """The caller's security groups ``group_ids``, each in ``vpc_id``."""
    return [_in_vpc(_lookup(ctx, "sg", g, field), vpc_id, "sg", field) for g in group_ids]


def vpc_cidrs(ctx: RequestContext, vpc_id: str, account: str | None = None) -> list[ipaddress.IPv4Network]:
    """The IPv4 blocks associated with VPC ``vpc_id`` (empty if the account has no such VPC)."""
    record = ctx.tx.get(ec2_records.VPC, vpc_id, account=account)
    if record is None:
        return []
    return [ipaddress.IPv4Network(cidr) for cidr in ec2_records.VpcRecord(record).associated_cidrs()]
