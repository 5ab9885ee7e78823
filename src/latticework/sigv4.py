"""SigV4 request verification (Authorization header and presigned-query forms), for every front door.

Both algorithms are verified: SigV4 (``AWS4-HMAC-SHA256``, an HMAC with a key for one Region) and
SigV4A (``AWS4-ECDSA-P256-SHA256``, an ECDSA signature good for a set of Regions, ``latticework.sigv4a``).
They share the canonical request; they differ in the credential scope (SigV4A's names no Region), the
region set SigV4A signs, the string to sign's first line and the signature check.

The API and the data plane verify with this one module: the API maps its
refusals (``SignatureError``) to the error shape of the API called (``api.sigv4``), the
data plane to a 403 answer.

The server rebuilds the canonical request exactly as the client's signer did
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)
from the raw path, raw query, the headers the client listed in
``SignedHeaders`` and the body hash, derives the signing key from the secret
configured for the access key, and compares signatures in constant time.

Outcomes follow AWS's front door (``SignatureError.code``): unknown key ->
``UnrecognizedClientException``, wrong signature -> ``InvalidSignatureException``,
a request dated more than five minutes from the server clock (or a presigned URL
past ``X-Amz-Expires``) -> ``InvalidSignatureException`` "Signature expired", a
session token that does not belong to the key -> ``UnrecognizedClientException``,
temporary credentials past their expiry -> ``ExpiredTokenException``, no
signature at all -> ``MissingAuthenticationTokenException``, a malformed one ->
``IncompleteSignatureException``.

Signing keys are derived once per (secret, day, Region, service) and kept in a
small cache: the data plane verifies a signature on every request, and the
derivation is four HMACs of the five a verification costs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from latticework import sigv4a
from latticework.config import Credential, Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=5)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_KEYS_KEPT = 4096  # signing keys cached (one per credential, day, Region and service)

MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")


class SignatureError(Exception):
    """Why a request's signature is refused: AWS's error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 403):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _incomplete(detail: str) -> SignatureError:
    return SignatureError("IncompleteSignatureException", detail, 400)


def _mismatch() -> SignatureError:
    return SignatureError("InvalidSignatureException", MISMATCH)


def _unrecognized() -> SignatureError:
    return SignatureError("UnrecognizedClientException", "The security token included in the request is invalid.")


def _expired_token() -> SignatureError:
    return SignatureError("ExpiredTokenException", "The security token included in the request is expired")


@dataclass(slots=True)  # made on every signed request: a frozen dataclass's __init__ costs twice as much
class SignedRequest:
    """What the client claimed in its signature (never changed once parsed)."""

    access_key: str
    date: str  # yyyymmdd of the scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    expires: int | None  # presigned URLs only
    token: str | None
    algorithm: str = ALGORITHM
    region_set: tuple[str, ...] | None = None  # SigV4A only (its scope names no Region: ``region`` is '')


@dataclass(frozen=True, slots=True)
class Verified:
    credential: Credential
    region: str  # '' for SigV4A: see ``region_set``
    service: str
    region_set: tuple[str, ...] | None = None  # the Regions a SigV4A signature is good for

    def signed_for(self, region: str) -> bool:
        """Whether the signature is good in ``region``: SigV4's scope names it, or SigV4A's region set covers it."""
        if self.region_set is None:
            return self.region == region
        return sigv4a.region_set_covers(self.region_set, region)


def _scope_parts(credential: str, algorithm: str = ALGORITHM) -> list[str]:
    parts = credential.split("/")
    if algorithm == sigv4a.ALGORITHM:  # key/date/service/aws4_request: the Regions are signed apart
        parts = parts[:2] + [""] + parts[2:] if len(parts) == 4 else []
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise _incomplete(
            f"Credential should be scoped to a valid region and service, not '{credential}'. "
        )
    return parts


def _from_header(value: str, headers: dict[str, str]) -> SignedRequest:
    algorithm, _, rest = value.partition(" ")
    if algorithm not in (ALGORITHM, sigv4a.ALGORITHM):
        raise _incomplete(f"Unsupported authorization algorithm '{algorithm}'")
    fields = {}
    for item in rest.split(","):
        key, _, val = item.strip().partition("=")
        fields[key] = val
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    amz_date = headers.get("x-amz-date", "")
    if missing or not amz_date:
        raise _incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders', 'Signature' parameters "
            "and an 'X-Amz-Date' header. Authorization=" + value[:64]
        )
    key, date, region, service, _ = _scope_parts(fields["Credential"], algorithm)
    signed_headers = tuple(fields["SignedHeaders"].split(";"))
    region_set = None
    if algorithm == sigv4a.ALGORITHM:
        if sigv4a.REGION_SET_HEADER not in signed_headers or sigv4a.REGION_SET_HEADER not in headers:
            raise _incomplete(f"{algorithm} requires a signed 'X-Amz-Region-Set' header. "
                              "Authorization=" + value[:64])
        region_set = sigv4a.parse_region_set(headers[sigv4a.REGION_SET_HEADER])
    return SignedRequest(
        key, date, region, service, signed_headers, fields["Signature"],
        amz_date, None, headers.get("x-amz-security-token"), algorithm=algorithm, region_set=region_set,
    )


def _from_query(query: dict[str, str]) -> SignedRequest:
    needed: tuple[str, ...] = ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")
    algorithm = query.get("X-Amz-Algorithm", "")
    if algorithm == sigv4a.ALGORITHM:
        needed += (sigv4a.REGION_SET_PARAM,)
    if algorithm not in (ALGORITHM, sigv4a.ALGORITHM) or any(not query.get(k) for k in needed):
        raise _incomplete("Presigned request is missing a required X-Amz-* parameter")
    key, date, region, service, _ = _scope_parts(query["X-Amz-Credential"], algorithm)
    try:
        expires = int(query.get("X-Amz-Expires", "0"))
    except ValueError:
        raise _incomplete("X-Amz-Expires must be an integer") from None
    region_set = sigv4a.parse_region_set(query[sigv4a.REGION_SET_PARAM]) if algorithm == sigv4a.ALGORITHM else None
    return SignedRequest(
        key, date, region, service, tuple(query["X-Amz-SignedHeaders"].split(";")), query["X-Amz-Signature"],
        query["X-Amz-Date"], expires, query.get("X-Amz-Security-Token"), algorithm=algorithm, region_set=region_set,
    )


def parse(headers: dict[str, str], raw_query: str) -> SignedRequest:
    """The signature claims of a request; raises ``MissingAuthenticationToken`` if unsigned."""
    if "authorization" in headers:
        return _from_header(headers["authorization"], headers)
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
        return _from_query(query)
    raise SignatureError("MissingAuthenticationTokenException", "Missing Authentication Token")


def _canonical_query(raw_query: str, presigned: bool) -> str:
    if not raw_query:
        return ""
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
            raise _mismatch()
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)


_paths: dict[str, str] = {}
_PATHS_KEPT = 4096


def _canonical_path(raw_path: str) -> str:
    """``_encoded_path``, remembered: the data plane signs the same few paths over and over."""
    found = _paths.get(raw_path)
    if found is None:
        if len(_paths) >= _PATHS_KEPT:
            _paths.clear()
        found = _paths[raw_path] = _encoded_path(raw_path)
    return found


def _remove_dot_segments(path: str) -> str:
    """The path as botocore's signer reads it (``botocore.utils.normalize_url_path``): dot segments removed
    (RFC 3986 §5.2.4) and empty segments dropped, a leading and a trailing ``/`` kept. Written here so the
    data plane's workers do not import botocore (a tenth of a second and megabytes each) for ten lines."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and kept else ""
    return first + "/".join(kept) + last


def _encoded_path(raw_path: str) -> str:
    # Non-S3 signers remove dot segments and empty segments, then percent-encode
    # the path once more (botocore SigV4Auth._normalize_url_path + quote(safe='/~')).
    return quote(_remove_dot_segments(raw_path or "/"), safe="/~")


def needs_body(headers: dict[str, str]) -> bool:
    """Whether verifying this request's signature takes its body (its payload hash is signed)."""
    return headers.get("x-amz-content-sha256") != UNSIGNED_PAYLOAD


def payload_hash(headers: dict[str, str], body: bytes | None) -> str:
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
    if body is None:
        raise _mismatch()  # the caller could not give the body whose hash is signed
    return hashlib.sha256(body).hexdigest()


def canonical_request(method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes | None,
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


_signing_keys: dict[tuple[str, str, str, str], bytes] = {}


def _signing_key(secret: str, signed: SignedRequest) -> bytes:
    cached = (secret, signed.date, signed.region, signed.service)
    key = _signing_keys.get(cached)
    if key is None:
        key = ("AWS4" + secret).encode()
        for part in (signed.date, signed.region, signed.service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        if len(_signing_keys) >= _KEYS_KEPT:
            _signing_keys.clear()  # rare (thousands of credentials or days): start over rather than track age
        _signing_keys[cached] = key
    return key


_AMZ_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")


def _parse_amz_date(value: str) -> dt.datetime:
    # strptime costs a fifth of a verification: the basic format is read by hand.
    found = _AMZ_DATE.fullmatch(value)
    try:
        if found is None:
            raise ValueError(value)
        year, month, day, hour, minute, second = map(int, found.groups())
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except ValueError:
        raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{value}'.") from None


def _check_time(signed: SignedRequest, now: dt.datetime) -> None:
    when = _parse_amz_date(signed.amz_date)
    fmt = "%Y%m%dT%H%M%SZ"
    if signed.expires is not None:
        if now > when + dt.timedelta(seconds=signed.expires):
            raise SignatureError(
                "InvalidSignatureException",
                f"Signature expired: {signed.amz_date} is now earlier than "
                f"{(now - dt.timedelta(seconds=signed.expires)).strftime(fmt)}")
        return
    if abs(now - when) > MAX_SKEW:
        earlier = (now - MAX_SKEW).strftime(fmt)
        raise SignatureError("InvalidSignatureException",
                             f"Signature expired: {signed.amz_date} is now earlier than {earlier} "
                             f"({now.strftime(fmt)} - 5 min.)")


def _check_token(credential: Credential, token: str | None) -> None:
    expected = credential.session_token
    if (expected is None) != (token is None):
        raise _unrecognized()
    if expected is not None and token is not None and not hmac.compare_digest(expected.encode(), token.encode()):
        raise _unrecognized()


def verify(credentials: Credentials, method: str, raw_path: str, raw_query: str, headers: dict[str, str],
           body: bytes | None, now: dt.datetime | None = None) -> Verified:
    """Verify a request's SigV4 or SigV4A signature; return the credential it was signed with.

    A SigV4A signature verifies whatever Regions it names: the caller checks its own with ``Verified.signed_for``.

    ``body`` is ``None`` when the caller does not hold it: only an ``UNSIGNED-PAYLOAD`` request
    verifies then.
    """
    signed = parse(headers, raw_query)
    credential = credentials.credential(signed.access_key)
    if credential is None:
        raise _unrecognized()
    _check_token(credential, signed.token)
    now = now or dt.datetime.now(dt.timezone.utc)
    if credential.expires is not None and now >= credential.expires:
        raise _expired_token()
    canonical = canonical_request(method, raw_path, raw_query, headers, body, signed)
    if signed.algorithm == sigv4a.ALGORITHM:
        to_sign = sigv4a.string_to_sign(signed.amz_date, signed.date, signed.service, canonical)
        if not sigv4a.signature_matches(credential.access_key, credential.secret_key, to_sign, signed.signature):
            raise _mismatch()
    else:
        scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
        to_sign = "\n".join([ALGORITHM, signed.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        expected = hmac.new(_signing_key(credential.secret_key, signed), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signed.signature):
            raise _mismatch()
    _check_time(signed, now)
    return Verified(credential, signed.region, signed.service, signed.region_set)
