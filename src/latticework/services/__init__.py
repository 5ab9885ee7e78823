"""Providers, one package per construct family, and the registry of served APIs."""

from __future__ import annotations

from latticework.api.service import Service
from latticework.api.settle import Settle
from latticework.records import lattice as lattice_records
from latticework.services.ec2 import Ec2Service
from latticework.services.ec2.vpcs import assign_fabric_blocks
from latticework.services.elbv2 import ElbV2Service
from latticework.services.lattice import LatticeService
from latticework.services.sts import StsService
from latticework.store import Store


def build_services() -> dict[str, Service]:
    """Every API the endpoint serves, keyed by SigV4 signing name."""
    services: list[Service] = [LatticeService(), StsService(), Ec2Service(), ElbV2Service()]
    return {s.name: s for s in services}


def settlers(services: dict[str, Service]) -> dict[str, Settle]:
    """Per stored kind, the function that finishes its transitional statuses (only Lattice has them)."""
    lattice = services["vpc-lattice"].provider
    return {kind: lattice.settle for kind in lattice_records.KINDS}


def repair(store: Store) -> None:
    """Bring records a state file holds from older versions up to what the providers write today (at start)."""
    assign_fabric_blocks(store)
