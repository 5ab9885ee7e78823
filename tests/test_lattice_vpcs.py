"""``lattice.vpcs`` helpers over a stand-in transaction (the API-level checks are tested with each family)."""

from __future__ import annotations

import ipaddress
from types import SimpleNamespace

from latticework.services.lattice.vpcs import vpc_cidrs
from latticework.store import Record

ACCOUNT = "111111111111"


class Tx:
    """The one ``Transaction.get`` the helpers use, over a dict of VPC records of ``ACCOUNT``."""

    def __init__(self, *records: Record):
        self.records = {(r.kind, r.id, r.account): r for r in records}

    def get(self, kind, id, *, account=None, region=None):
        return self.records.get((kind, id, account or ACCOUNT))


def _vpc(vpc_id: str, *blocks: tuple[str, str]) -> Record:
    body = {"VpcId": vpc_id, "CidrBlock": blocks[0][0],
            "CidrBlockAssociationSet": [{"CidrBlock": b, "CidrBlockState": {"State": s}} for b, s in blocks]}
    return Record("vpc", vpc_id, ACCOUNT, "us-east-1", body)


def test_vpc_cidrs_lists_the_associated_blocks():
    vpc = _vpc("vpc-0123456789abcdef0", ("10.0.0.0/16", "associated"), ("10.1.0.0/16", "disassociated"))
    ctx = SimpleNamespace(tx=Tx(vpc), account=ACCOUNT)
    assert vpc_cidrs(ctx, vpc.id) == [ipaddress.IPv4Network("10.0.0.0/16")]


def test_vpc_cidrs_of_an_unknown_vpc_or_another_account_is_empty():
    vpc = _vpc("vpc-0123456789abcdef0", ("10.0.0.0/16", "associated"))
    ctx = SimpleNamespace(tx=Tx(vpc), account=ACCOUNT)
    assert vpc_cidrs(ctx, "vpc-0fedcba9876543210") == []
    assert vpc_cidrs(ctx, vpc.id, account="222222222222") == []
