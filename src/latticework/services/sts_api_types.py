"""Typed stubs for the AWS Security Token Service operations Latticework implements.

Generated from botocore's sts 2011-06-15 model by
``python -m latticework.tools.genstubs``; do not edit by hand.
"""

from __future__ import annotations

from typing import Required, TypedDict

OPERATIONS = ('AssumeRole', 'GetCallerIdentity')


class AssumeRoleRequest(TypedDict, total=False):
    RoleArn: Required[str]
    RoleSessionName: Required[str]
    PolicyArns: list[PolicyDescriptorType]
    Policy: str
    DurationSeconds: int
    Tags: list[Tag]
    TransitiveTagKeys: list[str]
    ExternalId: str
    SerialNumber: str
    TokenCode: str
    SourceIdentity: str
    ProvidedContexts: list[ProvidedContext]
    MinimumSessionTokenSize: int


class AssumeRoleResponse(TypedDict, total=False):
    Credentials: Credentials
    AssumedRoleUser: AssumedRoleUser
    PackedPolicySize: int
    SourceIdentity: str
    SessionTokenUtilization: int
    SessionTokenSize: int


class AssumedRoleUser(TypedDict, total=False):
    AssumedRoleId: Required[str]
    Arn: Required[str]


class Credentials(TypedDict, total=False):
    AccessKeyId: Required[str]
    SecretAccessKey: Required[str]
    SessionToken: Required[str]
    Expiration: Required[str]


class GetCallerIdentityRequest(TypedDict, total=False):
    pass


class GetCallerIdentityResponse(TypedDict, total=False):
    UserId: str
    Account: str
    Arn: str


class PolicyDescriptorType(TypedDict, total=False):
    arn: str


class ProvidedContext(TypedDict, total=False):
    ProviderArn: str
    ContextAssertion: str


class Tag(TypedDict, total=False):
    Key: Required[str]
    Value: Required[str]
