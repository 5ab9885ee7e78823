"""Auth on the data plane: who calls, and whether the auth policies in force let them.

Every request to a service reached through a network or of a service whose
``authType`` is ``AWS_IAM`` is checked here, between routing and rules
(reference §6.2); requests where neither is ``AWS_IAM`` skip it at the cost
of two comparisons.

Who calls (``_caller``)
    A request signed with SigV4 or SigV4A (``Authorization: AWS4-HMAC-SHA256
    ...`` / ``AWS4-ECDSA-P256-SHA256 ...``, or a presigned ``X-Amz-Signature``)
    is verified by the same verifier as the API (``latticework.sigv4``),
    against the credentials the snapshot holds (the accounts file's, IAM
    users' access keys, STS sessions). Its scope must name the signing name
    ``vpc-lattice-svcs``, and the service's Region (SigV4A: a region set
    covering it)
    (https://docs.aws.amazon.com/vpc-lattice/latest/ug/sigv4-authenticated-requests.html).
    A signature that does not verify is refused (the refusal's code and
    message, as the API gives them), even where an anonymous caller would be
    let in. An unsigned request is anonymous.

    The payload: a client signs ``UNSIGNED-PAYLOAD`` (Lattice's documented
    way) or the hash of its body. In the second case the body must be at
    hand to verify: ``check`` answers ``NEEDS_BODY`` and the proxy reads the
    body whole (at most ``MAX_SIGNED_BODY`` bytes, else 413) before asking
    again. A body changed after signing then fails like any other mismatch.

What is asked (``_query``)
    Action ``vpc-lattice-svcs:Invoke``, resource the service's ARN followed by
    the request path (normalized, without the query: ``httppath``), and the
    request context: every ``vpc-lattice-svcs:`` condition key of the
    reference (§5.3) and the global keys that describe the caller and the
    request (``aws:PrincipalType`` ``Anonymous`` for unsigned callers).

The decision (``policy.lattice``): the caller's identity policies when
signed, then the network's auth policy, then the service's; a denial is a
403 whose body is AWS's ``AccessDeniedException: User: ... is not
authorized ...`` text. After an allow, a signed caller's identity goes to
the target in ``x-amzn-lattice-identity`` and
``x-amzn-lattice-identity-tags`` (client-sent copies never pass:
``proxy.outbound`` drops every ``x-amzn-lattice-*`` header); an anonymous
caller gets neither, as the user guide says the fields are present only
after AWS authentication
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/http-targets.html).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from typing import Literal, Mapping
from urllib.parse import parse_qsl

from latticework import sigv4
from latticework.config import Credential, Identity
from latticework.policy.context import Caller, Query
from latticework.policy.evaluate import CompiledPolicy, compile_text
from latticework.policy.lattice import ADMIN, Identity as IdentityLayer, Verdict, authorize as lattice_authorize, layer_policy
from latticework.dataplane.exchange import Connection, EmptyBody, Request, WholeBody
from latticework.snapshot.model import Route, Snapshot, VpcView

AWS_IAM = "AWS_IAM"
SIGNING_NAME = "vpc-lattice-svcs"
INVOKE = "vpc-lattice-svcs:Invoke"
CONNECT = "vpc-lattice-svcs:Connect"
MAX_SIGNED_BODY = 10 * 1024 * 1024  # a body whose hash is signed is held whole to verify: bounded


class _Wait(enum.Enum):
    NEEDS_BODY = "needs-body"


NEEDS_BODY = _Wait.NEEDS_BODY  # the signature covers the body's hash: ask again once the body is here
NeedsBody = Literal[_Wait.NEEDS_BODY]


@dataclass(frozen=True, slots=True)
class Denied:
    status: int
    message: str


IdentityHeaders = tuple[tuple[str, str], ...]


def guarded(route: Route) -> bool:
    return route.network.auth_type == AWS_IAM or route.service.auth_type == AWS_IAM


def body_at_hand(request: Request) -> bytes | None:
    """The request body when it is already here (or there is none), else None."""
    body = request.body
    if isinstance(body, WholeBody):
        return body.data
    if isinstance(body, EmptyBody) or request.content_length == 0:
        return b""
    return None


def signed(request: Request, raw_query: str) -> bool:
    return any(n == "authorization" for n, _ in request.headers) or "X-Amz-Signature=" in raw_query


def authorize(snapshot: Snapshot, conn: Connection, request: Request, route: Route, target: str,
              now: dt.datetime | None = None) -> IdentityHeaders | Denied | NeedsBody:
    """Check a request to a guarded route: the identity headers for the target when allowed, a refusal,
    or ``NEEDS_BODY``. ``request.target`` is still as the client sent (and signed) it; ``target`` is its
    normalized form, what the policies read."""
    now = now or dt.datetime.now(dt.timezone.utc)
    credential: Credential | None = None
    if signed(request, request.target.partition("?")[2]):
        found = verify(snapshot, request, route, now)
        if not isinstance(found, Credential):
            return found
        credential = found
    path, _, raw_query = target.partition("?")
    keys = context_keys(conn, request, route, path, raw_query, credential, now)
    query = Query(INVOKE, route.service.arn + path, caller_of(credential), keys)
    verdict = decide(route, credential, query)
    if not verdict.allowed:
        return Denied(403, verdict.message)
    return identity_headers(credential) if credential is not None else ()


def authorize_connect(route: Route, vpc: VpcView, client: str, port: int,
                      now: dt.datetime | None = None) -> Verdict:
    """May a client at ``client`` in ``vpc`` open a TLS passthrough connection to ``route`` on ``port``?

    Nothing can be signed there (Lattice never sees inside the TLS stream), so the caller is anonymous and
    the action is ``vpc-lattice-svcs:Connect`` on the bare service ARN, with the keys known when the
    connection opens: the network-level ``vpc-lattice-svcs:`` keys (Port, ServiceArn, ServiceNetworkArn,
    SourceVpc, SourceVpcOwnerAccount; reference §5.2), ``aws:SourceIp``, ``aws:ResourceTag/*``, the time
    keys and ``aws:PrincipalType`` ``Anonymous``
    (https://docs.aws.amazon.com/vpc-lattice/latest/ug/tls-listeners.html: "Auth policies are limited to
    anonymous principals")."""
    now = now or dt.datetime.now(dt.timezone.utc)
    keys = dict(_fixed_keys(route, vpc.account, vpc.vpc_id, port, client, "https"))
    keys.update(_time_keys(int(now.timestamp())))
    keys.update(_ANONYMOUS)
    return decide(route, None, Query(CONNECT, route.service.arn, None, keys))


def caller_of(credential: Credential | None) -> Caller | None:
    return None if credential is None else _caller(credential)


@functools.lru_cache(maxsize=1024)
def _caller(credential: Credential) -> Caller:
    identity = credential.identity
    role = (identity.role_arn,) if identity is not None and identity.role_arn else ()
    return Caller(credential.principal_arn, credential.account_id, role)


def decide(route: Route, credential: Credential | None, query: Query) -> Verdict:
    """The Lattice algorithm (``policy.lattice``) over the policies in force for ``route``."""
    service, network = route.service, route.network
    identity = credential.identity if credential is not None else None
    session = compiled(identity.session_policy, "session policy", "identity") if identity is not None else None
    return lattice_authorize(query, _identity_policies(credential),
                             layer_policy(network.auth_type, compiled(network.auth_policy, f"auth policy of {network.id}")),
                             layer_policy(service.auth_type, compiled(service.auth_policy, f"auth policy of {service.id}")),
                             session)


def _identity_policies(credential: Credential | None) -> IdentityLayer:
    """A signed caller's identity-based policies; the accounts file's credentials act for the account
    itself (``config.Identity``) and pass the identity layer."""
    if credential is None or credential.identity is None or credential.identity.type == "Account":
        return ADMIN
    texts = credential.identity.policies
    found = (compiled(text, f"identity-based policy {i}", "identity") for i, text in enumerate(texts, 1))
    return tuple(p for p in found if p is not None)


def compiled(text: str | None, name: str, kind: Literal["resource", "identity"] = "resource") \
        -> CompiledPolicy | None:
    return compile_text(text, kind, name) if text is not None else None


# -- who calls ----------------------------------------------------------------------------------------

def verify(snapshot: Snapshot, request: Request, route: Route, now: dt.datetime) \
        -> Credential | Denied | NeedsBody:
    """The credential a signed request was signed with, a refusal, or ``NEEDS_BODY``."""
    raw_path, _, raw_query = request.target.partition("?")
    headers = _signed_headers(request)
    body = body_at_hand(request)
    if body is None and sigv4.needs_body(headers):
        return NEEDS_BODY
    try:
        verified = sigv4.verify(snapshot.identities, request.method, raw_path, raw_query, headers, body, now)
    except sigv4.SignatureError as refused:
        return Denied(refused.status, f"{refused.code}: {refused.message}")
    service = route.service
    if verified.service != SIGNING_NAME:
        return Denied(403, f"InvalidSignatureException: Credential should be scoped to correct service: "
                           f"'{SIGNING_NAME}'. ")
    if not verified.signed_for(service.region):
        return Denied(403, f"InvalidSignatureException: Credential should be scoped to a valid region. ")
    return verified.credential


def _signed_headers(request: Request) -> dict[str, str]:
    """The request's headers as a signer saw them: Host included, repeated fields joined."""
    found: dict[str, str] = {"host": request.authority or ""}
    for name, value in request.headers:
        found[name] = f"{found[name]},{value}" if name in found else value
    return found


# -- identity headers toward the target -----------------------------------------------------------------

@functools.lru_cache(maxsize=1024)
def identity_headers(credential: Credential) -> IdentityHeaders:
    """``x-amzn-lattice-identity`` and ``x-amzn-lattice-identity-tags`` for a signed, allowed caller
    (reference §6.3: ``key=value`` pairs, ``"; "`` between them; in the tags header ``;`` between them and
    ``;`` inside a value escaped as ``\\;``)."""
    identity = credential.identity
    org_id = identity.org_id if identity else None
    org_path = identity.org_path if identity else None
    session = identity.session_name if identity else None
    fields = [("Principal", credential.principal_arn), ("PrincipalOrgID", org_id), ("PrincipalOrgPath", org_path),
              ("SessionName", session), ("Type", AWS_IAM)]
    shown = "; ".join(f"{k}={v}" for k, v in fields if v)
    tags = [("principal", credential.principal_arn), ("principalorgid", org_id), ("principalorgpath", org_path),
            *(identity.tags if identity else ())]
    tagged = ";".join(f"{k}={_escape(v)}" for k, v in tags if v is not None)
    return (("x-amzn-lattice-identity", shown), ("x-amzn-lattice-identity-tags", tagged))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;")


# -- the request context ------------------------------------------------------------------------------------

def context_keys(conn: Connection, request: Request, route: Route, path: str, raw_query: str,
                 credential: Credential | None, now: dt.datetime) -> Mapping[str, str | tuple[str, ...]]:
    """Condition keys of the request (reference §5.3) and of the caller (IAM's global keys).

    What does not vary per request is made once: per route, VPC, port, client address and scheme
    (``_route_keys``), per credential (``caller_keys``) and per second (``_time_keys``)."""
    keys = dict(_route_keys(route, conn))
    keys["vpc-lattice-svcs:RequestMethod"] = request.method
    keys["vpc-lattice-svcs:RequestPath"] = path
    keys.update(_time_keys(int(now.timestamp())))
    for name, value in request.headers:
        key = "vpc-lattice-svcs:RequestHeader/" + name
        found = keys.get(key)
        keys[key] = f"{found}, {value}" if isinstance(found, str) else value
    if raw_query and not request.is_grpc:  # gRPC requests carry no query string keys (reference §5.3)
        keys.update(_query_keys(raw_query))
    keys.update(caller_keys(credential))
    return keys


def _route_keys(route: Route, conn: Connection) -> dict[str, str | tuple[str, ...]]:
    cache = route.auth_keys
    at = (conn.vpc.vpc_id, conn.port, conn.client[0], conn.scheme)
    found = cache.get(at)
    if found is None:
        if len(cache) >= _ROUTE_KEYS_KEPT:
            cache.clear()
        found = cache[at] = _fixed_keys(route, conn.vpc.account, *at)
    return found


_ROUTE_KEYS_KEPT = 1024  # (VPC, port, client address, scheme) per route object


def _fixed_keys(route: Route, vpc_account: str, vpc_id: str, port: int, client: str,
                scheme: str) -> dict[str, str | tuple[str, ...]]:
    service, network = route.service, route.network
    keys: dict[str, str | tuple[str, ...]] = {
        "vpc-lattice-svcs:Port": str(port),
        "vpc-lattice-svcs:ServiceArn": service.arn,
        "vpc-lattice-svcs:ServiceNetworkArn": network.arn,
        "vpc-lattice-svcs:SourceVpc": vpc_id,
        "vpc-lattice-svcs:SourceVpcOwnerAccount": vpc_account,
        "aws:SourceIp": client,
        "aws:SecureTransport": "true" if scheme == "https" else "false",
        "aws:PrincipalIsAWSService": "false",
        "aws:ViaAWSService": "false",
    }
    keys.update((f"aws:ResourceTag/{k}", v) for k, v in service.tags)
    return keys


@functools.lru_cache(maxsize=4)
def _time_keys(epoch: int) -> dict[str, str]:
    when = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return {"aws:CurrentTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "aws:EpochTime": str(epoch)}


def _query_keys(raw_query: str) -> dict[str, tuple[str, ...]]:
    from_query: dict[str, list[str]] = {}
    if raw_query:
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            from_query.setdefault(f"vpc-lattice-svcs:RequestQueryString/{key}", []).append(value)
    return {k: tuple(v) for k, v in from_query.items()}


def caller_keys(credential: Credential | None) -> Mapping[str, str | tuple[str, ...]]:
    if credential is None:
        return _ANONYMOUS
    if credential.identity is not None:
        return credential.identity.condition_keys
    return _keys_of(credential)


_ANONYMOUS = {"aws:PrincipalType": "Anonymous"}


@functools.lru_cache(maxsize=1024)
def _keys_of(credential: Credential) -> dict[str, str | tuple[str, ...]]:
    """A credential made without an identity (not by ``Identities``): it acts for its account or named user."""
    kind = "User" if credential.user else "Account"
    return Identity(credential.principal_arn, kind, credential.user_id, credential.account_id).condition_keys
