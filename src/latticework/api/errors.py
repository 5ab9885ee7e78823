"""Service errors raised by providers and the wire layer.

A ``ServiceError`` carries an AWS error code, a message and the error shape's
extra members (``resourceId``, ``fieldList``...). The HTTP status is taken from
the model's error shape when the service declares one (``httpStatusCode``);
errors outside any model (SigV4 failures, for instance) carry their own
status, as AWS's front door does.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error answered to the client in the service's protocol."""

    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True

    def __init__(self, message: str = "", status: int | None = None, code: str | None = None, **fields: Any):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.fields = {k: v for k, v in fields.items() if v is not None}

    def __repr__(self) -> str:
        return f"{self.code}({self.status}): {self.message}"


class CommonError(ServiceError):
    """Errors every AWS endpoint answers the same way, whatever the service."""


def signature_mismatch() -> ServiceError:
    return CommonError(
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        status=403,
        code="InvalidSignatureException",
    )


def unrecognized_client() -> ServiceError:
    return CommonError(
        "The security token included in the request is invalid.", status=403, code="UnrecognizedClientException"
    )


def missing_authentication() -> ServiceError:
    return CommonError("Missing Authentication Token", status=403, code="MissingAuthenticationTokenException")


def incomplete_signature(detail: str) -> ServiceError:
    return CommonError(detail, status=400, code="IncompleteSignatureException")
