"""The proxy engine: one request from any front end, routed, rewritten and forwarded.

``handle(plane, conn, request, responder)`` is the whole path of a request,
whatever protocol the client and the target speak (the front end and the
upstream deal with that). ``serve`` is the same path for front ends whose
responder also takes plain calls (HTTP/1.1): it needs no task for answers
given here nor for upstreams that run an exchange on callbacks (``start``),
and reports the end through a callback. Both share ``decide``:

1. **Route** (``resolve``): the VPC's view in the current snapshot (it may be
   newer than the connection's), then the service: by TLS server name on
   HTTPS listeners (SNI picks the service, as in Lattice; a Host naming
   another service the VPC reaches is a misdirected request), by Host on
   HTTP ones; then that service's listener on the connection's port.
2. **Path**: the request target is brought to its one canonical form
   (``httppath.normalize``; a path no reading of which is safe is a 400),
   which auth policies, rules and the target all see.
3. **Auth** (``auth.authorize``): where the network or the service has
   ``authType`` ``AWS_IAM``, the caller (SigV4-signed or anonymous) must be
   let in by the auth policies in force, else 403 with AWS's text. A signed
   payload hash needs the whole body: the request then waits for it
   (``NEEDS_BODY``), which only ``handle`` can do (``serve`` hands over to it).
4. **Rule** (``router.match_rule``): a fixed response is answered at once.
5. **Forward**: the balancer picks a target group by weight, the
   protocol-version matrix is checked, the balancer picks a target (round
   robin) and counts the request in flight while the upstream of the group's
   protocol version streams the target's answer back.

Status codes of the answers given here (Lattice documents none; Elastic
Load Balancing's where it has one), each with a short text/plain body:

=====  ======================================================================
400    a request path no reading of which is safe (``httppath``)
403    denied by an auth policy, or a signature that does not verify (auth)
404    no service by that name reachable from the VPC, or no listener on the port
421    the Host names another service than the TLS server name
413    a body whose hash is signed is over ``auth.MAX_SIGNED_BODY``
405    a non-POST HTTP/2 request for a GRPC target group (gRPC is POST only)
415    a gRPC request for an HTTP1 target group
502    the target refused, reset or garbled the exchange; a target without address
503    every target group of the rule has weight 0; no target to pick
504    connecting timed out, or no response head within the service's idle timeout
505    an HTTP/1.x request for an HTTP2 or GRPC target group
=====  ======================================================================

The protocol-version matrix (reference §4.5,
https://docs.aws.amazon.com/vpc-lattice/latest/ug/target-groups.html#target-group-protocol-version)
reads "gRPC" as gRPC over HTTP/2: an HTTP/1.x request goes to HTTP1 target
groups whatever its content type.

Headers toward targets (``outbound_headers``, reference §6.3): every
client-supplied ``x-amzn-lattice-*``, ``x-amzn-source-vpc``,
``x-amzn-requestid``, ``x-forwarded-port`` and ``x-forwarded-proto`` header
is dropped; ``x-forwarded-for`` keeps the client's value and gets the
client's address appended (", " separated, as Elastic Load Balancing does);
Lattice's own headers follow the client's. Host passes unchanged.

The port and protocol headers are where AWS's sources disagree: the user
guide's HTTP-targets page names them ``x-forwarded-for-port`` and
``x-forwarded-for-proto``
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/http-targets.html), newer
material ``x-forwarded-port`` / ``x-forwarded-proto``, and a header dump
published from a real HTTP listener shows neither (only ``x-forwarded-for``
and the three ``x-amzn-*`` headers). We send the conventional
``x-forwarded-port`` and ``x-forwarded-proto``, the names every framework
reads; code that must run unchanged on AWS should not depend on them.

``x-amzn-requestid`` is a fresh id per request, in the shape of a UUID:
sent to the target, and added to the response the client gets (errors given
here included) unless the target's response carries its own, so a client
can quote it. The ids are a random prefix per process and a counter
(``RequestIds``): unique across processes, and cheap to make.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass

from latticework import httppath
from latticework.dataplane import auth, router
from latticework.dataplane.exchange import (
    Body, Cancellable, Connection, Finished, Headers, Request, Responder, Sink, Upstream, UpstreamError, WholeBody,
    field_lines,
)
from latticework.dataplane.plane import Plane
from latticework.snapshot.model import FixedResponse, Forward, Listener, Route, Snapshot, Target, TargetGroup, VpcView

REQUEST_ID = "x-amzn-requestid"
REPLACED = frozenset({"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-source-vpc", REQUEST_ID})


@dataclass(slots=True)
class Routed:
    vpc: VpcView
    route: Route
    listener: Listener


@dataclass(frozen=True)
class Refusal:
    """An answer given here instead of a target's."""

    status: int
    message: str


class RequestIds:
    """UUID-shaped request ids: 80 random bits fixed per process, then a 48-bit counter."""

    def __init__(self) -> None:
        prefix = uuid.uuid4().hex
        self._prefix = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-{prefix[16:20]}-"
        self._count = itertools.count(int(prefix[20:], 16))

    def __next__(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


request_ids = RequestIds()


async def handle(plane: Plane, conn: Connection, request: Request, responder: Responder) -> None:
    request_id = next(request_ids)
    responder = RequestIdResponder(responder, request_id)
    decided = decide(plane, conn, request, request_id)
    if decided is auth.NEEDS_BODY:
        decided = await _with_body(plane, conn, request, request_id)
    await _answer(plane, request, responder, decided)


async def _answer(plane: Plane, request: Request, responder: Responder, decided: Decided) -> None:
    if isinstance(decided, Refusal):
        return await send_text(responder, decided.status, decided.message)
    if isinstance(decided, FixedResponse):
        return await send_fixed(responder, decided.status)
    group, target, timeout = decided
    upstream = plane.upstream_for(group.protocol_version)
    with plane.balancer.track(group.id, target):
        try:
            await upstream.forward(target, group, request, responder, timeout)
        except UpstreamError as error:
            await fail(responder, error.status, error.message)


def serve(plane: Plane, conn: Connection, request: Request, responder: Sink, finished: Finished) -> Cancellable | None:
    """``handle`` for a front end whose responder takes plain calls (HTTP/1.1), without a task where none
    is needed: answers given here are written at once, and an upstream that can run the exchange on
    its connection's callbacks (``start``) does; otherwise the forwarding runs as a task. ``finished``
    is called once the exchange is over (maybe before this returns); what is returned cancels it."""
    request_id = responder.request_id = next(request_ids)
    decided = decide(plane, conn, request, request_id)
    if decided is auth.NEEDS_BODY:
        return _handle_later(plane, conn, request, responder, finished)
    if isinstance(decided, Refusal):
        send_text_now(responder, decided.status, decided.message)
        finished(None)
        return None
    if isinstance(decided, FixedResponse):
        responder.send_head(decided.status, [("content-length", "0")])
        responder.send_end()
        finished(None)
        return None
    group, target, timeout = decided
    upstream = plane.upstream_for(group.protocol_version)
    tracked = plane.balancer.track(group.id, target)
    tracked.__enter__()
    forwarding = _Forwarding(responder, tracked, finished)
    start = getattr(upstream, "start", None)  # only some upstreams can run an exchange on callbacks
    started = start(target, group, request, responder, timeout, forwarding.done) if start is not None else None
    if started is not None:
        return started
    task = asyncio.get_running_loop().create_task(
        _forward(upstream, target, group, request, responder, timeout, tracked))
    task.add_done_callback(forwarding.task_done)
    return task


Decided = Refusal | FixedResponse | tuple[TargetGroup, Target, float]


def decide(plane: Plane, conn: Connection, request: Request, request_id: str) -> Decided | auth.NeedsBody:
    """What answers the request: a refusal, a rule's fixed response, or a target (the request's headers
    then rewritten in place, as the target will see them) and the response timeout; or ``auth.NEEDS_BODY``
    when the request's signature cannot be checked before its whole body is here."""
    snapshot = plane.snapshot  # once: the request keeps this snapshot to the end
    routed = resolve(snapshot, conn, request)
    if isinstance(routed, Refusal):
        return routed
    try:
        target = httppath.normalize(request.target)
    except httppath.BadPath as bad:
        return Refusal(400, f"invalid request path: {bad}")
    identity: auth.IdentityHeaders = ()
    if auth.guarded(routed.route):
        checked = auth.authorize(snapshot, conn, request, routed.route, target)
        if isinstance(checked, auth.Denied):
            return Refusal(checked.status, checked.message)
        if checked is auth.NEEDS_BODY:
            return auth.NEEDS_BODY
        identity = checked
    request.target = target
    rule = router.match_rule(routed.listener, request.method, target, request.header_map())
    if isinstance(rule.action, FixedResponse):
        return rule.action
    choice = choose(plane, snapshot, request, rule.action)
    if isinstance(choice, Refusal):
        return choice
    group, chosen = choice
    request.headers, request.prewritten = outbound(request.headers, conn, routed.vpc, routed.route, group, request_id,
                                                   identity)
    return group, chosen, routed.route.service.idle_timeout


async def _with_body(plane: Plane, conn: Connection, request: Request, request_id: str) -> Decided:
    """``decide`` again once the whole body is here (bounded: ``auth.MAX_SIGNED_BODY``)."""
    data = await _read_whole(request.body, auth.MAX_SIGNED_BODY)
    if data is None:
        return Refusal(413, f"a request whose body is signed may carry at most {auth.MAX_SIGNED_BODY} bytes")
    request.body = WholeBody(data, request.body.trailers)
    decided = decide(plane, conn, request, request_id)
    assert decided is not auth.NEEDS_BODY  # the body is at hand now
    return decided


async def _read_whole(body: Body, limit: int) -> bytes | None:
    chunks, size = [], 0
    while chunk := await body.read():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _handle_later(plane: Plane, conn: Connection, request: Request, responder: Sink, finished: Finished) \
        -> Cancellable:
    """``serve`` for a request that must wait for its body: the rest of ``handle`` in a task."""
    async def later() -> None:
        decided = await _with_body(plane, conn, request, responder.request_id or "")
        await _answer(plane, request, responder, decided)

    task = asyncio.get_running_loop().create_task(later())
    task.add_done_callback(lambda t: finished(None if t.cancelled() else t.exception()))
    return task


async def _forward(upstream: Upstream, target: Target, group: TargetGroup, request: Request, responder: Responder,
                   timeout: float, tracked: AbstractContextManager) -> None:
    try:
        await upstream.forward(target, group, request, responder, timeout)
    except UpstreamError as error:
        await fail(responder, error.status, error.message)
    finally:
        tracked.__exit__(None, None, None)  # entered by serve


class _Forwarding:
    """A request forwarded by ``serve``: counted in flight until its exchange is over, then finished."""

    __slots__ = ("responder", "tracked", "finished")

    def __init__(self, responder: Sink, tracked: AbstractContextManager, finished: Finished):
        self.responder = responder
        self.tracked = tracked
        self.finished = finished

    def done(self, error: BaseException | None) -> None:
        """The upstream's exchange is over; an ``UpstreamError`` is answered here."""
        try:
            if isinstance(error, UpstreamError):
                fail_now(self.responder, error.status, error.message)
                error = None  # answered
        finally:
            self.tracked.__exit__(None, None, None)
        self.finished(error)

    def task_done(self, task: asyncio.Task) -> None:
        """The forwarding task ended (and its ``with tracked`` with it)."""
        self.finished(None if task.cancelled() else task.exception())


# -- routing --------------------------------------------------------------------------------------

def resolve(snapshot: Snapshot, conn: Connection, request: Request) -> Routed | Refusal:
    vpc = snapshot.view_for(conn.vpc.vpc_id, conn.local[0])  # by address: a service-network endpoint's own view
    by_sni = conn.scheme == "https" and bool(conn.sni)
    name = conn.sni if by_sni else request.authority
    route = router.route_for(vpc, name) if vpc is not None else None
    if route is None or vpc is None:
        return Refusal(404, _unknown(name, conn))
    if by_sni and _misdirected(vpc, route, request.authority):
        return Refusal(421, f"Host {router.host_name(request.authority)} names another service than the TLS "
                            f"server name {router.host_name(conn.sni)}")
    listener = router.listener_for(route, conn.port)
    if listener is None:
        return Refusal(404, f"service {route.service.name} has no listener on port {conn.port}")
    return Routed(vpc, route, listener)


def _unknown(name: str | None, conn: Connection) -> str:
    host = router.host_name(name)
    if host is None:
        return "the request names no service (no Host header)"
    return f"no service named {host} is reachable from {conn.vpc.vpc_id}"


def _misdirected(vpc: VpcView, route: Route, authority: str | None) -> bool:
    """Only a Host naming another reachable service is refused; an address or unknown name is not."""
    other = router.route_for(vpc, authority)
    return other is not None and other.service.id != route.service.id


def idle_timeout_for(plane: Plane, conn: Connection, authority: str | None) -> float | None:
    """The idle timeout of the service a request with this authority reaches, for front ends."""
    vpc = plane.snapshot.view_for(conn.vpc.vpc_id, conn.local[0])
    name = conn.sni if conn.scheme == "https" and conn.sni else authority
    route = router.route_for(vpc, name) if vpc is not None else None
    return route.service.idle_timeout if route is not None else None


# -- forwarding -----------------------------------------------------------------------------------

def choose(plane: Plane, snapshot: Snapshot, request: Request, action: Forward) -> tuple[TargetGroup, Target] | Refusal:
    group_id = plane.balancer.choose_group(action)
    if group_id is None:
        return Refusal(503, "every target group of the matching rule has weight 0")
    group = snapshot.target_groups[group_id]
    refusal = version_refusal(request, group)
    if refusal is not None:
        return refusal
    target = plane.balancer.pick(group)
    if target is None:
        return Refusal(503, f"target group {group.id} has no target to take the request")
    if target.address is None:
        return Refusal(502, f"target {target.id} of target group {group.id} has no address to connect to")
    return group, target


def version_refusal(request: Request, group: TargetGroup) -> Refusal | None:
    """The protocol-version matrix: which requests a target group of each version takes."""
    version = group.protocol_version
    if request.version != "2":
        if version == "HTTP1":
            return None
        return Refusal(505, f"target group {group.id} speaks {version}: HTTP/1.1 requests cannot reach it")
    if version == "HTTP1" and request.is_grpc:
        return Refusal(415, f"target group {group.id} speaks HTTP/1.1: gRPC requests cannot reach it")
    if version == "GRPC" and request.method != "POST":
        return Refusal(405, f"target group {group.id} speaks gRPC: only POST requests reach it")
    return None


def outbound_headers(headers: Headers, conn: Connection, vpc: VpcView, route: Route, group: TargetGroup,
                     request_id: str) -> Headers:
    """The request's headers as the target sees them (reference §6.3)."""
    return outbound(headers, conn, vpc, route, group, request_id)[0]


def outbound(headers: Headers, conn: Connection, vpc: VpcView, route: Route, group: TargetGroup,
             request_id: str, identity: auth.IdentityHeaders = ()) -> tuple[Headers, tuple[int, str] | None]:
    """``outbound_headers``, and Lattice's part of them as HTTP/1.1 field lines (``Request.prewritten``;
    None when a client's ``x-forwarded-for`` value would break the framing: the upstream then checks
    every field). What does not vary per request is made once per route, target group, port and scheme."""
    kept = [(n, v) for n, v in headers if n not in REPLACED and not n.startswith("x-amzn-lattice-")]
    if len(kept) == len(headers):  # the rule: nothing to replace, so no x-forwarded-for from the client
        forwarded = conn.client[0]
        safe = True
    else:
        forwarded = ", ".join([*[v for n, v in headers if n == "x-forwarded-for" and v], conn.client[0]])
        safe = "\r" not in forwarded and "\n" not in forwarded and "\0" not in forwarded
    pairs, lines = lattice_fields(conn, vpc, route, group)
    full = [*kept, ("x-forwarded-for", forwarded), *pairs, *identity, (REQUEST_ID, request_id)]
    if not safe:
        return full, None
    if identity:
        lines += field_lines(list(identity), frozenset())
    return full, (len(kept), f"x-forwarded-for: {forwarded}\r\n{lines}{REQUEST_ID}: {request_id}\r\n")


def lattice_fields(conn: Connection, vpc: VpcView, route: Route, group: TargetGroup) \
        -> tuple[tuple[tuple[str, str], ...], str]:
    """Lattice's headers between ``x-forwarded-for`` and the request id, as pairs and field lines."""
    port, scheme = conn.port, conn.scheme
    cache = route.lattice_fields
    key = (vpc.vpc_id, vpc.arn, group.arn, port, scheme)
    found = cache.get(key)
    if found is None:
        pairs = (
            ("x-forwarded-port", str(port)),
            ("x-forwarded-proto", scheme),
            ("x-amzn-source-vpc", vpc.vpc_id),
            ("x-amzn-lattice-network", f"SourceVpcArn={vpc.arn}"),
            ("x-amzn-lattice-target", route.lattice_target_prefix + group.arn),
        )
        found = cache[key] = (pairs, field_lines(list(pairs), frozenset()))
    return found


# -- answers given here ---------------------------------------------------------------------------

async def send_text(responder: Responder, status: int, message: str) -> None:
    body = (message + "\n").encode("utf-8")
    await responder.start(status, [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body)))])
    await responder.data(body)
    await responder.end()


def send_text_now(responder: Sink, status: int, message: str) -> None:
    body = (message + "\n").encode("utf-8")
    responder.send_head(status, [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body)))])
    responder.send_data(body)
    responder.send_end()


def fail_now(responder: Sink, status: int, message: str) -> None:
    """``fail`` by plain calls."""
    if responder.started:
        responder.abort()
    else:
        send_text_now(responder, status, message)


async def send_fixed(responder: Responder, status: int) -> None:
    """A rule's fixed response: the status and an empty body."""
    await responder.start(status, [("content-length", "0")])
    await responder.end()


async def fail(responder: Responder, status: int, message: str) -> None:
    """An upstream failure: answered while nothing was sent, else the response is cut."""
    if responder.started:
        responder.abort()
    else:
        await send_text(responder, status, message)


def with_request_id(headers: Headers, request_id: str | None) -> Headers:
    """The response's headers with ``x-amzn-requestid``, unless the target's answer has its own."""
    if request_id is None:
        return headers
    for name, _ in headers:
        if name == REQUEST_ID:
            return headers
    return [*headers, (REQUEST_ID, request_id)]


class RequestIdResponder:
    """Adds ``x-amzn-requestid`` to the response, unless the target's answer has its own.

    Only ``start`` is wrapped; the body and the end go straight to the front end's responder
    (bound once here), so the wrapper costs one call per response, not one per chunk.
    """

    def __init__(self, inner: Responder, request_id: str):
        self._inner = inner
        self.request_id = request_id
        self.data = inner.data
        self.end = inner.end
        self.abort = inner.abort

    @property
    def started(self) -> bool:
        return self._inner.started

    async def start(self, status: int, headers: Headers) -> None:
        await self._inner.start(status, with_request_id(headers, self.request_id))
