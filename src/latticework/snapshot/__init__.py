"""Snapshots: the control plane's records compiled for the data plane (see ``model``)."""

from latticework.snapshot.compile import KINDS, Inconsistent, compile_snapshot
from latticework.snapshot.model import EMPTY, Snapshot

__all__ = ["EMPTY", "KINDS", "Inconsistent", "Snapshot", "compile_snapshot"]
