"""SigV4 for the API: ``latticework.sigv4`` verifies, and its refusals become AWS errors of the API called.

AWS's query-protocol services (STS, IAM, EC2) name an expired session token
``ExpiredToken``; the JSON ones ``ExpiredTokenException`` (both 403), e.g.
https://github.com/aws/aws-sdk-java-v2/issues/1649.

The API takes the Region it acts in from the SigV4 credential scope, so it answers a SigV4A
signature (whose scope names no Region) as it answers any algorithm it does not take.
"""

from __future__ import annotations

import datetime as dt

from latticework import sigv4, sigv4a
from latticework.api import errors
from latticework.config import Credentials
from latticework.sigv4 import UNSIGNED_PAYLOAD, Verified, canonical_request, parse, payload_hash

__all__ = ["UNSIGNED_PAYLOAD", "Verified", "canonical_request", "parse", "payload_hash", "verify"]


def verify(credentials: Credentials, method: str, raw_path: str, raw_query: str, headers: dict[str, str],
           body: bytes, now: dt.datetime | None = None, *, query_protocol: bool = False) -> Verified:
    """Verify a request's SigV4 signature; refusals raise the ``ServiceError`` AWS answers."""
    try:
        verified = sigv4.verify(credentials, method, raw_path, raw_query, headers, body, now)
    except sigv4.SignatureError as refused:
        code = refused.code
        if code == "ExpiredTokenException" and query_protocol:
            code = "ExpiredToken"
        raise errors.CommonError(refused.message, status=refused.status, code=code) from None
    if verified.region_set is not None:
        raise errors.CommonError(f"Unsupported authorization algorithm '{sigv4a.ALGORITHM}'", status=400,
                                 code="IncompleteSignatureException")
    return verified
