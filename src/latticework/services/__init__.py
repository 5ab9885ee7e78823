"""Providers, one package per construct family, and the registry of served APIs."""

from __future__ import annotations

from latticework.api.service import Service
from latticework.services.ec2 import Ec2Service
from latticework.services.elbv2 import ElbV2Service
from latticework.services.lattice import LatticeService
from latticework.services.sts import StsService


def build_services() -> dict[str, Service]:
    """Every API the endpoint serves, keyed by SigV4 signing name."""
    services: list[Service] = [LatticeService(), StsService(), Ec2Service(), ElbV2Service()]
    return {s.name: s for s in services}
