"""Explain an auth decision: what the data plane would answer a described request, and why.

``explain(snapshot, description)`` runs the data plane's own steps (``proxy``'s
routing, ``httppath``, ``auth``'s request context and the Lattice algorithm)
on a request that is described rather than sent, against the snapshot being
served, and returns the decision with the statements that made it, layer by
layer. It backs ``POST /_latticework/explain`` and ``latticework explain``.

The description (JSON; only ``vpc`` and ``host`` are required)::

    {"vpc": "vpc-...", "host": "name the client uses", "port": 80,
     "method": "GET", "path": "/rates?x=1", "headers": {"name": "value"},
     "principal": "anonymous" | access key id | principal ARN,
     "sourceIp": "10.0.0.5", "https": false}

``port`` defaults to the service's only listener (a service with several
needs it). A principal ARN names a caller the server has credentials for:
an IAM user's ARN, a role's ARN or an assumed-role session's ARN (any
session of the role stands for it), or an account's root ARN. No signature
is checked: the described caller is taken as having signed correctly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from latticework import httppath
from latticework.config import Credential
from latticework.dataplane import auth, router
from latticework.dataplane.exchange import Connection, Request
from latticework.policy.context import Query
from latticework.policy.evaluate import Decision
from latticework.policy.lattice import Verdict
from latticework.snapshot.model import Route, Snapshot, VpcView


class ExplainError(ValueError):
    """The description names nothing the data plane serves (answered 400 with the message)."""


def explain(snapshot: Snapshot, description: dict[str, Any]) -> dict[str, Any]:
    vpc, route = _route(snapshot, description)
    port = _port(route, description.get("port"))
    try:
        target = httppath.normalize(str(description.get("path") or "/"))
    except httppath.BadPath as bad:
        return {"decision": "Refused", "status": 400, "message": f"invalid request path: {bad}"}
    credential = _credential(snapshot, description.get("principal") or "anonymous")
    request = Request(str(description.get("method") or "GET"), target, description["host"],
                      [(str(k).lower(), str(v)) for k, v in (description.get("headers") or {}).items()], "1.1")
    conn = Connection(vpc, (str(description.get("sourceIp") or vpc.lattice), 0), (vpc.lattice, port),
                      "https" if description.get("https") else "http")
    path, _, raw_query = target.partition("?")
    now = dt.datetime.now(dt.timezone.utc)
    keys = auth.context_keys(conn, request, route, path, raw_query, credential, now)
    query = Query(auth.INVOKE, route.service.arn + path, auth.caller_of(credential), keys)
    if not auth.guarded(route):
        return _answer(route, query, None, "both the service network and the service have authType NONE")
    return _answer(route, query, auth.decide(route, credential, query), None)


def _route(snapshot: Snapshot, description: dict[str, Any]) -> tuple[VpcView, Route]:
    if not description.get("host"):
        raise ExplainError("the description needs 'host': the name the client calls the service by")
    vpc = snapshot.vpcs.get(str(description.get("vpc") or ""))
    if vpc is None:
        raise ExplainError(f"VPC {description.get('vpc')!r} does not exist or reaches no service")
    route = router.route_for(vpc, description.get("host"))
    if route is None:
        raise ExplainError(f"no service named {description.get('host')!r} is reachable from {vpc.vpc_id}")
    return vpc, route


def _port(route: Route, port: Any) -> int:
    ports = sorted(route.service.listeners)
    if port is None:
        if len(ports) != 1:
            raise ExplainError(f"service {route.service.name} listens on {ports or 'no port'}: say which port")
        return ports[0]
    if int(port) not in ports:
        raise ExplainError(f"service {route.service.name} has no listener on port {port} (it has {ports})")
    return int(port)


def _credential(snapshot: Snapshot, principal: str) -> Credential | None:
    if principal == "anonymous":
        return None
    identities = snapshot.identities
    found = identities.principal(principal) if principal.startswith("arn:") else identities.credential(principal)
    if found is None:
        raise ExplainError(f"no credentials known for {principal!r} (an access key id or a principal ARN)")
    return found


def _answer(route: Route, query: Query, verdict: Verdict | None, skipped: str | None) -> dict[str, Any]:
    allowed = verdict is None or verdict.allowed
    return {
        "decision": "Allow" if allowed else "Deny",
        "status": None if allowed else 403,
        "message": skipped or (verdict.message if verdict is not None else ""),
        "principal": query.principal.arn if query.principal is not None else "anonymous",
        "action": query.action,
        "resource": query.resource,
        "service": {"arn": route.service.arn, "authType": route.service.auth_type},
        "serviceNetwork": {"arn": route.network.arn, "authType": route.network.auth_type},
        "deniedBy": verdict.layer if verdict is not None else None,
        "layers": {name: _layer(getattr(verdict, name) if verdict is not None else None)
                   for name in ("identity", "network", "service")},
        "context": {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(query.keys.items())},
    }


def _layer(decision: Decision | None) -> dict[str, Any]:
    if decision is None:
        return {"evaluated": False}
    return {"evaluated": True, "effect": decision.effect,
            "statements": [{"policy": r.policy, "number": r.number, "sid": r.statement.sid,
                            "effect": r.statement.effect, "statement": r.statement.to_json()}
                           for r in decision.reasons]}
