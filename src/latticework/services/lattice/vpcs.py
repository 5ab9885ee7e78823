"""The one place Lattice checks references to EC2 objects (VPCs, subnets, security groups).

Until the EC2 API is served, a reference is checked by its format only
(``vpc-`` + 8 or 17 hex, ...), which the model's patterns already enforce at
the edge; these functions are where existence and ownership checks plug in.
"""

from __future__ import annotations

import re

from latticework.api.context import RequestContext
from latticework.services.lattice.common import validation

_FORMATS = {
    "vpc": re.compile(r"vpc-([0-9a-f]{8}|[0-9a-f]{17})"),
    "subnet": re.compile(r"subnet-([0-9a-f]{8}|[0-9a-f]{17})"),
    "sg": re.compile(r"sg-([0-9a-f]{8}|[0-9a-f]{17})"),
}


def _check(kind: str, value: str, field: str) -> str:
    if not _FORMATS[kind].fullmatch(value):
        raise validation(f"Invalid {kind} id {value}", (field, f"{value} is not a valid {kind} id"))
    return value


def check_vpc(ctx: RequestContext, vpc_id: str, field: str = "vpcIdentifier") -> str:
    """The VPC id a Lattice resource will reference (raises if it cannot exist)."""
    return _check("vpc", vpc_id, field)


def check_subnets(ctx: RequestContext, vpc_id: str | None, subnet_ids: list[str], field: str = "subnetIds") -> list[str]:
    return [_check("subnet", s, field) for s in subnet_ids]


def check_security_groups(ctx: RequestContext, vpc_id: str | None, group_ids: list[str],
                          field: str = "securityGroupIds") -> list[str]:
    return [_check("sg", g, field) for g in group_ids]


def vpc_arn(ctx: RequestContext, vpc_id: str, account: str | None = None) -> str:
    return f"arn:{ctx.partition}:ec2:{ctx.region}:{account or ctx.account}:vpc/{vpc_id}"
