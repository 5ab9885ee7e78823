"""The data plane's shared state, as front ends and the proxy see it.

``Plane`` is a plain holder: the current snapshot (swapped atomically by the
runtime; a request reads ``plane.snapshot`` once and keeps that object), the
balancer (weights, round robin, health, in-flight counts), the upstreams by
target-group protocol version, the certificates for HTTPS listeners and the
limits every connection honours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from latticework.snapshot.model import EMPTY, Snapshot


@dataclass(frozen=True)
class Limits:
    """Edge limits. Lattice documents only the timeouts; the sizes are Elastic Load Balancing's
    (request line 16 KiB, one header 16 KiB, all headers 64 KiB), Lattice's siblings."""

    max_request_line: int = 16 * 1024
    max_header: int = 16 * 1024
    max_headers: int = 64 * 1024
    max_header_count: int = 200
    max_connection_duration: float = 600.0  # 10 minutes for HTTP/HTTPS listeners
    header_read_timeout: float = 60.0  # a client must finish sending a request head within this
    connect_timeout: float = 10.0  # to a target
    drain_seconds: float = 60.0  # a deregistered target's in-flight requests may take this long


@dataclass
class Plane:
    snapshot: Snapshot = EMPTY
    balancer: Any = None  # dataplane.balancer.Balancer
    upstreams: Mapping[str, Any] = field(default_factory=dict)  # "HTTP1" | "HTTP2" -> exchange.Upstream
    certificates: Any = None  # dataplane.tls.Certificates
    limits: Limits = field(default_factory=Limits)

    def upstream_for(self, protocol_version: str):
        """gRPC target groups speak HTTP/2 to their targets."""
        return self.upstreams["HTTP1" if protocol_version == "HTTP1" else "HTTP2"]
