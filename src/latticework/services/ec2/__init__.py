"""Amazon EC2 (the VPC and PrivateLink part): the ``ec2`` query dialect over the store."""

from __future__ import annotations

from latticework.api import query
from latticework.api.awsapi import HttpRequest, QueryApi
from latticework.api.validate import Violation
from latticework.services.ec2.common import Ec2Error, dry_run_guard
from latticework.services.ec2.provider import Ec2Provider


class Ec2Api(QueryApi):
    """EC2's error vocabulary: ``MissingParameter``, ``InvalidParameterValue``, ``InvalidAction``."""

    dialect = query.EC2

    def __init__(self) -> None:
        super().__init__("ec2", Ec2Provider())

    def method_for(self, op):
        method = super().method_for(op)
        return dry_run_guard(method) if method is not None else None

    def validation_error(self, violations: list[Violation]):
        missing = next((v for v in violations if v.value is None and "null" in v.constraint), None)
        if missing is not None:
            return Ec2Error("MissingParameter", f"The request must contain the parameter {missing.path}")
        first = violations[0]
        return Ec2Error("InvalidParameterValue", f"Value ({first.value}) for parameter {first.path} is invalid. "
                        f"{first.constraint}")

    def parse_error(self, exc):
        return Ec2Error("InvalidParameterValue", str(exc))

    def unknown_operation(self, request):
        return Ec2Error("InvalidAction", "The action is not valid for this web service.")

    def unknown_action(self, request: HttpRequest, action: str):
        return Ec2Error("InvalidAction", f"The action {action or '(none)'} is not valid for this web service.")

    def not_implemented(self, op):
        return Ec2Error("InvalidAction", f"The action {op.name} is not supported by Latticework yet.")

    def idempotency_mismatch(self, op, token):
        return Ec2Error("IdempotentParameterMismatch",
                        f"The client token {token} was already used with different parameters.")
