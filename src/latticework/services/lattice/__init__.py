"""VPC Lattice control plane: the ``vpc-lattice`` rest-json API over the store."""

from __future__ import annotations

from latticework.api.awsapi import HttpRequest, RestJsonApi
from latticework.api.validate import Violation, summary
from latticework.services.lattice.api_types import ConflictException, ValidationException
from latticework.services.lattice.provider import LatticeProvider


class LatticeApi(RestJsonApi):
    """Lattice's errors: ``ValidationException`` with ``reason`` and ``fieldList``."""

    def __init__(self) -> None:
        super().__init__("vpc-lattice", LatticeProvider())

    def validation_error(self, violations: list[Violation]):
        reason = "cannotParse" if any(v.type_error for v in violations) else "fieldValidationFailed"
        return ValidationException(summary(violations), reason=reason,
                                   fieldList=[{"name": v.path, "message": v.constraint} for v in violations])

    def parse_error(self, exc):
        fields = [{"name": exc.field, "message": str(exc)}] if exc.field else None
        return ValidationException(str(exc), reason="cannotParse", fieldList=fields)

    def unknown_operation(self, request: HttpRequest):
        # Lattice's ValidationExceptionReason carries this case explicitly.
        return ValidationException(f"No operation matches {request.method} {request.raw_path}",
                                   reason="unknownOperation")

    def not_implemented(self, op):
        return ValidationException(f"{op.name} is not supported", reason="unknownOperation")

    def idempotency_mismatch(self, op, token):
        return ConflictException(
            f"The client token {token} was already used for a {op.name} request with different parameters.",
            resourceId=token, resourceType="CLIENT_TOKEN")
