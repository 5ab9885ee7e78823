"""How AWS writes the values every API shares: ARNs, resource ids and timestamps.

ARNs
    ``arn:<partition>:<service>:<region>:<account>:<resource>``; the partition
    follows from the Region (``cn-*`` is ``aws-cn``, ``us-gov-*`` is
    ``aws-us-gov``, the rest ``aws``). Providers call ``RequestContext.arn``,
    which fills in the call's partition, Region and account; ``arn`` here is
    for code that has no call context (the snapshot compiler, configuration).

Resource ids
    A prefix and 17 lowercase hex characters (``vpc-0a1b...``, ``svc-...``),
    as EC2 and VPC Lattice issue them.

Timestamps
    Stored bodies hold times as the wire writes ISO-8601: UTC, milliseconds,
    ``Z`` (``2024-05-01T12:00:00.000Z``), so serializers can pass them through.
"""

from __future__ import annotations

import datetime as dt
import secrets


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def arn(partition: str, service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def new_id(prefix: str) -> str:
    """``prefix`` and 17 random lowercase hex characters."""
    return prefix + secrets.token_hex(9)[:17]


def iso8601(value: dt.datetime) -> str:
    """``value`` in UTC with milliseconds and a ``Z``, as AWS writes ISO-8601 timestamps."""
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
