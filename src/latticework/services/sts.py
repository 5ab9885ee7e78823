"""STS: ``GetCallerIdentity``, so clients and Terraform can ask who they are."""

from __future__ import annotations

from latticework.api.context import RequestContext
from latticework.api.awsapi import QueryApi
from latticework.services import sts_api_types as shapes


class StsProvider:
    def get_caller_identity(self, ctx: RequestContext,
                            params: shapes.GetCallerIdentityRequest) -> shapes.GetCallerIdentityResponse:
        cred = ctx.credential
        return {"UserId": cred.user_id, "Account": cred.account_id, "Arn": cred.principal_arn}


class StsApi(QueryApi):
    def __init__(self) -> None:
        super().__init__("sts", StsProvider())
