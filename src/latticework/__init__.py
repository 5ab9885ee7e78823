"""Latticework: Amazon VPC Lattice and AWS PrivateLink on your own machines."""

__version__ = "0.1.0"
