"""Elastic Load Balancing v2 (network load balancers for PrivateLink): the ``query`` protocol over the store.

The API is signed as ``elasticloadbalancing`` (the registry's key) and
described by botocore's ``elbv2`` model. Errors: ``ValidationError`` for input
the model rejects, ``InvalidAction`` for an unknown or unserved action, and
the model's own codes (``LoadBalancerNotFound``...) from the providers. ELBv2
has no DryRun.
"""

from __future__ import annotations

from latticework.api.errors import ServiceError
from latticework.api.models import service_model
from latticework.api.awsapi import QueryApi
from latticework.services.elbv2.provider import ElbV2Provider


class ElbV2Api(QueryApi):
    def __init__(self) -> None:
        super().__init__("elasticloadbalancing", ElbV2Provider(), model=service_model("elbv2"))

    def parse_error(self, exc):
        return ServiceError(str(exc), status=400, code="ValidationError")

    def not_implemented(self, op):
        return ServiceError(f"The action {op.name} is not supported by Latticework yet.", status=400,
                            code="InvalidAction")
