"""Typed stubs for the AWS Security Token Service operations Latticework implements.

Generated from botocore's sts 2011-06-15 model by
``python -m latticework.tools.genstubs``; do not edit by hand.
"""

from __future__ import annotations

from typing import TypedDict

OPERATIONS = ('GetCallerIdentity',)


class GetCallerIdentityRequest(TypedDict, total=False):
    pass


class GetCallerIdentityResponse(TypedDict, total=False):
    UserId: str
    Account: str
    Arn: str
