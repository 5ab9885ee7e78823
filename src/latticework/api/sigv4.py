"""SigV4 request verification (Authorization header and presigned-query forms).

The server rebuilds the canonical request exactly as the client's signer did
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)
from the raw path, raw query, the headers the client listed in
``SignedHeaders`` and the body hash, derives the signing key from the secret
configured for the access key, and compares signatures in constant time.

Outcomes follow AWS's front door: unknown key -> ``UnrecognizedClientException``,
wrong signature -> ``InvalidSignatureException``, a request dated more than
five minutes from the server clock (or a presigned URL past ``X-Amz-Expires``)
-> ``InvalidSignatureException`` "Signature expired", a session token that does
not belong to the key -> ``UnrecognizedClientException``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from botocore.utils import normalize_url_path

from latticework.api import errors
from latticework.config import Credential, Directory

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=5)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True)
class SignedRequest:
    """What the client claimed in its signature."""

    access_key: str
    date: str  # yyyymmdd of the scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires: int | None  # presigned URLs only
    token: str | None


@dataclass(frozen=True)
class Verified:
    credential: Credential
    region: str
    service: str


def _scope_parts(credential: str) -> list[str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise errors.incomplete_signature(
            f"Credential should be scoped to a valid region and service, not '{credential}'. "
        )
    return parts


def _from_header(value: str, headers: dict[str, str]) -> SignedRequest:
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise errors.incomplete_signature(f"Unsupported authorization algorithm '{algorithm}'")
    fields = {}
    for item in rest.split(","):
        key, _, val = item.strip().partition("=")
        fields[key] = val
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    amz_date = headers.get("x-amz-date", "")
    if missing or not amz_date:
        raise errors.incomplete_signature(
            "Authorization header requires 'Credential', 'SignedHeaders', 'Signature' parameters "
            "and an 'X-Amz-Date' header. Authorization=" + value[:64]
        )
    key, date, region, service, _ = _scope_parts(fields["Credential"])
    return SignedRequest(
        key, date, region, service, tuple(fields["SignedHeaders"].split(";")), fields["Signature"],
        amz_date, None, headers.get("x-amz-security-token"),
    )


def _from_query(query: dict[str, str]) -> SignedRequest:
    needed = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")
    if query.get("X-Amz-Algorithm") != ALGORITHM or any(not query.get(k) for k in needed):
        raise errors.incomplete_signature("Presigned request is missing a required X-Amz-* parameter")
    key, date, region, service, _ = _scope_parts(query["X-Amz-Credential"])
    try:
        expires = int(query.get("X-Amz-Expires", "0"))
    except ValueError:
        raise errors.incomplete_signature("X-Amz-Expires must be an integer") from None
    return SignedRequest(
        key, date, region, service, tuple(query["X-Amz-SignedHeaders"].split(";")), query["X-Amz-Signature"],
        query["X-Amz-Date"], expires, query.get("X-Amz-Security-Token"),
    )


def parse(headers: dict[str, str], raw_query: str) -> SignedRequest:
    """The signature claims of a request; raises ``MissingAuthenticationToken`` if unsigned."""
    if "authorization" in headers:
        return _from_header(headers["authorization"], headers)
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
        return _from_query(query)
    raise errors.missing_authentication()


def _canonical_query(raw_query: str, presigned: bool) -> str:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    encoded = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, v in pairs
        if not (presigned and k == "X-Amz-Signature")
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def _canonical_headers(signed: SignedRequest, headers: dict[str, str]) -> str:
    lines = []
    for name in signed.signed_headers:
        value = headers.get(name)
        if value is None:
            raise errors.signature_mismatch()
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)


def _canonical_path(raw_path: str) -> str:
    # Non-S3 signers remove dot segments and empty segments, then percent-encode
    # the path once more (botocore SigV4Auth._normalize_url_path + quote(safe='/~')).
    return quote(normalize_url_path(raw_path or "/"), safe="/~")


def payload_hash(headers: dict[str, str], body: bytes) -> str:
    """The payload line of the canonical request: the hash of the body as received.

    A client may say what it hashed in ``x-amz-content-sha256``, and signers put that value in the
    canonical request; trusting it would let a body changed on the way verify. So the hash is always
    computed here: a claim that does not match the body makes the signature not match (AWS answers such a
    request ``InvalidSignatureException``). The one claim taken as is is ``UNSIGNED-PAYLOAD`` (the body is
    then outside the signature, as the client asked). Streaming values (``STREAMING-...``, aws-chunked
    bodies) are S3's: the APIs served here do not take them, and they fail as any other mismatch.
    """
    if headers.get("x-amz-content-sha256") == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


def canonical_request(method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes,
                      signed: SignedRequest) -> str:
    payload = payload_hash(headers, body)
    return "\n".join([
        method,
        _canonical_path(raw_path),
        _canonical_query(raw_query, signed.expires is not None),
        _canonical_headers(signed, headers),
        ";".join(signed.signed_headers),
        payload,
    ])


def _signing_key(secret: str, signed: SignedRequest) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (signed.date, signed.region, signed.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _parse_amz_date(value: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise errors.incomplete_signature(f"Date must be in ISO-8601 'basic format'. Got '{value}'.") from None


def _check_time(signed: SignedRequest, now: dt.datetime) -> None:
    when = _parse_amz_date(signed.amz_date)
    fmt = "%Y%m%dT%H%M%SZ"
    if signed.expires is not None:
        if now > when + dt.timedelta(seconds=signed.expires):
            raise errors.CommonError(
                f"Signature expired: {signed.amz_date} is now earlier than {(now - dt.timedelta(seconds=signed.expires)).strftime(fmt)}",
                status=403, code="InvalidSignatureException")
        return
    if abs(now - when) > MAX_SKEW:
        earlier = (now - MAX_SKEW).strftime(fmt)
        raise errors.CommonError(
            f"Signature expired: {signed.amz_date} is now earlier than {earlier} "
            f"({now.strftime(fmt)} - 5 min.)", status=403, code="InvalidSignatureException")


def _check_token(credential: Credential, token: str | None) -> None:
    expected = credential.session_token
    if (expected is None) != (token is None):
        raise errors.unrecognized_client()
    if expected is not None and token is not None and not hmac.compare_digest(expected.encode(), token.encode()):
        raise errors.unrecognized_client()


def verify(directory: Directory, method: str, raw_path: str, raw_query: str, headers: dict[str, str],
           body: bytes, now: dt.datetime | None = None) -> Verified:
    """Verify a request's SigV4 signature; return the credential it was signed with."""
    signed = parse(headers, raw_query)
    credential = directory.credential(signed.access_key)
    if credential is None:
        raise errors.unrecognized_client()
    _check_token(credential, signed.token)
    canonical = canonical_request(method, raw_path, raw_query, headers, body, signed)
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, signed.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    expected = hmac.new(_signing_key(credential.secret_key, signed), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signed.signature):
        raise errors.signature_mismatch()
    _check_time(signed, now or dt.datetime.now(dt.timezone.utc))
    return Verified(credential, signed.region, signed.service)
