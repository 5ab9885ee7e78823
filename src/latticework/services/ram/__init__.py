"""AWS Resource Access Manager (RAM): sharing VPC Lattice service networks, services and resource configurations
with other accounts, organizations and OUs (``rest-json``, from botocore's ``ram`` model).

The provider (``provider``) keeps shares, associations and invitations as ``records.ram`` kinds; other
families ask ``records.ram.shared_with`` whether an account may use another's resource. Errors are the
model's: input the model rejects is ``InvalidParameterException`` (``MissingRequiredParameterException``
for a missing member). A ``clientToken`` makes a write idempotent as in AWS: the same token and parameters
answer the first result, other parameters ``IdempotentParameterMismatchException``.
"""

from __future__ import annotations

from latticework.api.awsapi import RestJsonApi
from latticework.api.validate import Violation, summary
from latticework.services.ram.api_types import (
    IdempotentParameterMismatchException,
    InvalidParameterException,
    MissingRequiredParameterException,
)
from latticework.services.ram.provider import RamProvider


class RamApi(RestJsonApi):
    def __init__(self) -> None:
        super().__init__("ram", RamProvider())

    def token_member(self, op):
        # RAM's writes take a ``clientToken`` that AWS honours for idempotency, but the model does not mark it
        # ``idempotencyToken``: https://docs.aws.amazon.com/ram/latest/APIReference/API_CreateResourceShare.html
        shape = op.input_shape
        return "clientToken" if shape is not None and "clientToken" in shape.members else None

    def validation_error(self, violations: list[Violation]):
        if all(v.constraint == "Member must not be null" for v in violations):
            return MissingRequiredParameterException(summary(violations))
        return InvalidParameterException(summary(violations))

    def parse_error(self, exc):
        return InvalidParameterException(str(exc))

    def idempotency_mismatch(self, op, token):
        return IdempotentParameterMismatchException(
            f"The client token {token} was already used with different parameters.")
