"""Choosing what serves a request: service by Host/SNI, then the first matching rule.

Pure functions over a ``Snapshot``; no I/O. Lattice semantics
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/listener-rules.html):

- rules are evaluated in ascending priority; the first whose every condition
  holds wins; the default rule (no conditions) comes last;
- ``method`` is an exact, case-sensitive comparison;
- a path match compares the path of the request target, without the query
  string (as Elastic Load Balancing does; Lattice does not say), exactly or
  as a string prefix, case-sensitively unless ``caseSensitive`` is false;
- a header match compares the header's value(s) (any of them, when the header
  repeats) exactly, as a prefix or as a substring; header names never match
  case-sensitively and values only when ``caseSensitive`` is true.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from latticework.snapshot.model import TLS_PASSTHROUGH, HeaderMatch, Listener, Match, PathMatch, Route, Rule, VpcView


def host_name(authority: str | None) -> str | None:
    """The host of a Host header or :authority, lower-case, without port or trailing dot."""
    if not authority:
        return None
    host = authority.strip()
    if host.startswith("["):  # an IPv6 literal
        host = host[: host.find("]") + 1]
    elif ":" in host:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".").lower() or None


def route_for(vpc: VpcView, name: str | None) -> Route | None:
    """The service a client in ``vpc`` reaches by ``name`` (a Host or SNI value)."""
    host = host_name(name)
    return vpc.routes.get(host) if host else None


def listener_for(route: Route, port: int) -> Listener | None:
    return route.service.listeners.get(port)


def passthrough_for(vpc: VpcView, server_name: str | None, port: int) -> tuple[Route, Listener] | None:
    """The service and TLS_PASSTHROUGH listener a ClientHello's server name picks on ``port``.

    Only the service's custom domain name matches, exactly (the generated name does not): "The service
    custom domain name is used as a Server Name Indication (SNI) match"
    (https://docs.aws.amazon.com/vpc-lattice/latest/ug/tls-listeners.html)."""
    route = route_for(vpc, server_name)
    listener = route.service.listeners.get(port) if route is not None else None
    if route is None or listener is None or listener.protocol != TLS_PASSTHROUGH:
        return None
    custom = route.service.custom_domain
    return (route, listener) if custom and custom.lower() == host_name(server_name) else None


def match_rule(listener: Listener, method: str, target: str, headers: Mapping[str, Sequence[str]]) -> Rule:
    """The rule that serves a request. ``headers`` maps lower-case names to their values."""
    path = target.split("?", 1)[0]
    for rule in listener.rules:
        if rule.match is None or matches(rule.match, method, path, headers):
            return rule
    raise LookupError(f"listener {listener.id} has no default rule")


def matches(match: Match, method: str, path: str, headers: Mapping[str, Sequence[str]]) -> bool:
    if match.method is not None and match.method != method:
        return False
    if match.path is not None and not path_matches(match.path, path):
        return False
    for header in match.headers:  # every one must hold
        if not header_matches(header, headers.get(header.name, ())):
            return False
    return True


def path_matches(match: PathMatch, path: str) -> bool:
    wanted, seen = (match.value, path) if match.case_sensitive else (match.value.lower(), path.lower())
    return seen == wanted if match.kind == "exact" else seen.startswith(wanted)


def header_matches(match: HeaderMatch, values: Sequence[str]) -> bool:
    wanted = match.value if match.case_sensitive else match.value.lower()
    for value in values:
        seen = value if match.case_sensitive else value.lower()
        if match.kind == "exact" and seen == wanted:
            return True
        if match.kind == "prefix" and seen.startswith(wanted):
            return True
        if match.kind == "contains" and wanted in seen:
            return True
    return False
