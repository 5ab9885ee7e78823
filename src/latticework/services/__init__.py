"""Providers, one package per construct family, and the registry of served APIs."""

from __future__ import annotations

from latticework.api.awsapi import AwsApi
from latticework.api.settle import Settle
from latticework.records import lattice as lattice_records
from latticework.services.ec2 import Ec2Api
from latticework.services.ec2.vpcs import assign_fabric_blocks
from latticework.services.elbv2 import ElbV2Api
from latticework.services.iam import IamApi
from latticework.services.lattice import LatticeApi
from latticework.services.ram import RamApi
from latticework.services.sts import StsApi
from latticework.store import Store


def build_apis() -> dict[str, AwsApi]:
    """Every API the endpoint serves, keyed by SigV4 signing name."""
    apis: list[AwsApi] = [LatticeApi(), StsApi(), Ec2Api(), ElbV2Api(), IamApi(), RamApi()]
    return {a.name: a for a in apis}


def settlers(apis: dict[str, AwsApi]) -> dict[str, Settle]:
    """Per stored kind, the function that finishes its transitional statuses (only Lattice has them)."""
    lattice = apis["vpc-lattice"].provider
    return {kind: lattice.settle for kind in lattice_records.KINDS}


def repair(store: Store) -> None:
    """Bring records a state file holds from older versions up to what the providers write today (at start)."""
    assign_fabric_blocks(store)
