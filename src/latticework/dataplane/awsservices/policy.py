"""Endpoint policies on the data path: may this request pass through this endpoint?

An endpoint policy is a resource policy (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html):
the request passes when, for every resource the operation acts on, a statement allows the caller the
action and no statement denies it. It only limits: the service still checks the caller's own policies
and its resource policies (here, the upstream does whatever it does). No endpoint (the public path) or an
endpoint whose service takes no policy: nothing to check.

The caller is the principal of the access key in the SigV4 ``Authorization`` header (or a presigned
URL's ``X-Amz-Credential``; S3's older signature version 2, ``AWS <key>:...`` or ``AWSAccessKeyId``),
as the snapshot's identities know it (``Snapshot.identities``); the endpoint does not verify the
signature (the service does, as S3 behind a real endpoint does). An unsigned request, or one signed with
a key nobody here holds, is anonymous: only ``"Principal": "*"`` statements apply to it.

Condition keys: the caller's global keys (``aws:PrincipalArn``, ``aws:PrincipalAccount``, tags...,
as for Lattice's auth policies), ``aws:SourceVpce``, ``aws:SourceVpc``, ``aws:SourceVpcArn``,
``aws:VpceAccount``, ``aws:SecureTransport``, ``aws:RequestedRegion``, ``aws:CurrentTime``,
``aws:EpochTime``. Service-specific keys (``s3:prefix``, ``dynamodb:LeadingKeys``...) are not set, so a
condition on them is not met.

A denial says why in IAM's words (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html):
``User: <arn> is not authorized to perform: <action> on resource: <resource> because no VPC endpoint
policy allows the <action> action`` (``... with an explicit deny in a VPC endpoint policy``); S3 quotes
the resource ARN.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping
from urllib.parse import parse_qsl

from latticework import sigv4
from latticework.config import Credential
from latticework.dataplane.auth import caller_keys, caller_of
from latticework.dataplane.awsservices.operations import Operation
from latticework.policy import Query, compile_text
from latticework.snapshot.model import AwsEndpoint, Snapshot, VpcView


def credential_of(snapshot: Snapshot, headers: Mapping[str, str], raw_query: str) -> Credential | None:
    """Who signed the request, by its access key; None when unsigned or signed by a key unknown here."""
    key = _legacy_access_key(headers, raw_query)
    if key is None:
        try:
            key = sigv4.parse(dict(headers), raw_query).access_key
        except sigv4.SignatureError:
            return None
    return snapshot.identities.credential(key)


def _legacy_access_key(headers: Mapping[str, str], raw_query: str) -> str | None:
    """The access key of an S3 signature version 2 request (``Authorization: AWS <key>:<signature>``, or a
    presigned URL's ``AWSAccessKeyId``), which S3 still takes and the SDKs still make for presigned URLs
    in some Regions
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingAWSSDK.html#UsingAWSSDK-sig2-deprecation)."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("AWS ") and ":" in authorization:
        return authorization[4:].partition(":")[0].strip()
    if "AWSAccessKeyId=" in raw_query:
        return dict(parse_qsl(raw_query, keep_blank_values=True)).get("AWSAccessKeyId")
    return None


def condition_keys(view: VpcView, endpoint: AwsEndpoint, credential: Credential | None,
                   now: dt.datetime) -> dict[str, str | tuple[str, ...]]:
    keys: dict[str, str | tuple[str, ...]] = {
        "aws:SourceVpce": endpoint.id, "aws:SourceVpc": view.vpc_id, "aws:SourceVpcArn": view.arn,
        "aws:VpceAccount": endpoint.owner or view.account, "aws:SecureTransport": "true",
        "aws:RequestedRegion": view.region, "aws:PrincipalIsAWSService": "false", "aws:ViaAWSService": "false",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "aws:EpochTime": str(int(now.timestamp())),
    }
    keys.update(caller_keys(credential))
    return keys


def denial(view: VpcView, endpoint: AwsEndpoint | None, operation: Operation, credential: Credential | None,
           now: dt.datetime | None = None) -> str | None:
    """Why ``endpoint``'s policy refuses the request (AWS's message), None when it lets it through."""
    if endpoint is None or endpoint.policy is None:
        return None
    policy = compile_text(endpoint.policy, "resource", f"endpoint policy of {endpoint.id}")
    if policy is None:
        return None
    keys = condition_keys(view, endpoint, credential, now or dt.datetime.now(dt.timezone.utc))
    caller = caller_of(credential)
    for resource in operation.resources:
        decision = policy.evaluate(Query(operation.action, resource, caller, keys))
        if not decision.allowed:
            return message(operation, resource, credential, explicit=decision.denied)
    return None


def message(operation: Operation, resource: str, credential: Credential | None, explicit: bool) -> str:
    user = credential.principal_arn if credential is not None else "anonymous"
    shown = f'"{resource}"' if operation.service == "s3" else resource
    head = f"User: {user} is not authorized to perform: {operation.action} on resource: {shown}"
    if explicit:
        return f"{head} with an explicit deny in a VPC endpoint policy"
    return f"{head} because no VPC endpoint policy allows the {operation.action} action"
