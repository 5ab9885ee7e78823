"""Which AWS API operation a request is, and the IAM action and resources an endpoint policy judges it by.

An endpoint policy is an IAM resource policy: it is asked about the action the request performs and the
resources it names, not about the HTTP request. Both come from botocore's service model, the same one the
SDKs serialise requests with:

- **S3** (REST-XML): each operation has an HTTP method and a URI template (``/{Bucket}/{Key+}?tagging``).
  The bucket is in the host name (virtual-hosted style: ``bucket.s3.<region>.amazonaws.com``) or in the
  path's first segment (path style); it is put back in the path, then every template of the method is
  tried. Several can match (``PUT /{Bucket}/{Key+}`` is ``PutObject``, ``UploadPart`` and ``CopyObject``):
  the one whose literal query keys (``?uploads``), required query members (``partNumber``) and required
  headers (``x-amz-copy-source``) the request carries most of wins. Deprecated operations are the same
  requests as their successors and are not considered; ``ListDirectoryBuckets`` (``GET /`` on S3 Express's
  own endpoint) reads as ``ListBuckets``.
- **DynamoDB** (JSON 1.0): ``X-Amz-Target: DynamoDB_20120810.<Operation>``; the tables are the body's
  ``TableName`` (or, for batch and transaction operations, the tables the items name).

The IAM action is ``<service>:<Operation>`` except where S3's permission differs from its operation's
name (``ListObjectsV2`` needs ``s3:ListBucket``, ``HeadObject`` ``s3:GetObject``, ``UploadPart``
``s3:PutObject``...: ``S3_ACTIONS``, from
https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html, each
operation's "Permissions"), and ``s3:GetObjectVersion``-style actions when a ``versionId`` is given.
Resources: ``arn:aws:s3:::bucket/key`` for object operations, ``arn:aws:s3:::bucket`` for bucket
operations, ``*`` for ``ListBuckets``; a DynamoDB table's ARN
(``arn:aws:dynamodb:<region>:<account>:table/<name>``, the account being the caller's, as a table name
names a table of the caller's account), ``*`` for operations on no table (``ListTables``).

botocore is loaded here, in the process that serves AWS services (the server's, beside the DNS resolvers),
never in the data-plane workers, whose start-up time it would cost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Mapping, cast
from urllib.parse import parse_qsl, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel

from latticework import formats

# S3 operations whose permission is not named after them.
S3_ACTIONS: Mapping[str, str] = {
    "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "HeadBucket": "ListBucket",
    "HeadObject": "GetObject", "SelectObjectContent": "GetObject", "ListBuckets": "ListAllMyBuckets",
    "ListObjectVersions": "ListBucketVersions", "ListMultipartUploads": "ListBucketMultipartUploads",
    "ListParts": "ListMultipartUploadParts", "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject", "CompleteMultipartUpload": "PutObject", "CopyObject": "PutObject",
    "DeleteObjects": "DeleteObject", "GetBucketCors": "GetBucketCORS", "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS", "DeleteBucketTagging": "PutBucketTagging",
    "GetBucketEncryption": "GetEncryptionConfiguration", "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketReplication": "GetReplicationConfiguration", "PutBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketReplication": "PutReplicationConfiguration",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock", "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
}
# With a ``versionId``, these act on one version of the object: IAM names a permission of its own.
S3_VERSIONED: Mapping[str, str] = {
    "GetObject": "GetObjectVersion", "HeadObject": "GetObjectVersion", "DeleteObject": "DeleteObjectVersion",
    "GetObjectTagging": "GetObjectVersionTagging", "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObjectTagging": "DeleteObjectVersionTagging", "GetObjectAcl": "GetObjectVersionAcl",
    "PutObjectAcl": "PutObjectVersionAcl",
}
ANY_RESOURCE = "*"


@dataclass(frozen=True)
class Operation:
    """One request, as an endpoint policy sees it."""

    service: str  # "s3", "dynamodb"
    name: str  # the API operation: "GetObject"
    action: str  # the IAM action: "s3:GetObject"
    resources: tuple[str, ...]  # every resource it acts on (each must be allowed)


def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


# -- S3 ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Template:
    """One S3 operation's route: what a request must carry to be it."""

    name: str
    path: re.Pattern[str]
    literal: tuple[tuple[str, str | None], ...]  # query keys of the URI template (``?uploads``, ``?list-type=2``)
    queries: tuple[str, ...]  # required members sent in the query string
    headers: tuple[str, ...]  # required members sent as headers (lower-case)

    def score(self, path: str, query: Mapping[str, str], headers: Mapping[str, str]) -> int:
        """How much of what it requires the request carries; -1 when it is not this operation."""
        if not self.path.fullmatch(path):
            return -1
        for key, value in self.literal:
            if key not in query or (value is not None and query[key] != value):
                return -1
        carried = sum(q in query for q in self.queries) + sum(h in headers for h in self.headers)
        if carried < len(self.queries) + len(self.headers):
            return -1
        return len(self.literal) + carried


def _template(operation: OperationModel) -> _Template:
    uri = operation.http["requestUri"]
    path, _, query = uri.partition("?")
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            pattern += "(.+)" if part.endswith("+}") else "([^/]+)"
        else:
            pattern += re.escape(part)
    if path.endswith("}") and not path.endswith("+}"):
        pattern += "/?"  # a bucket named with or without a trailing slash
    literal = tuple((k, v if "=" in item else None)
                    for item in query.split("&") if item for k, _, v in [item.partition("=")])
    shape = operation.input_shape
    required = set(shape.required_members) if shape is not None else set()
    members = shape.members.items() if shape is not None else ()
    queries = tuple(m.serialization.get("name", n) for n, m in members
                    if n in required and m.serialization.get("location") == "querystring")
    headers = tuple(m.serialization.get("name", n).lower() for n, m in members
                    if n in required and m.serialization.get("location") == "header")
    return _Template(operation.name, re.compile(pattern), literal, queries, headers)


class S3Operations:
    """S3's operations by method, from botocore's model."""

    def __init__(self, model: ServiceModel | None = None):
        model = model or service_model("s3")
        self.templates: dict[str, list[_Template]] = {}
        for name in model.operation_names:
            operation = model.operation_model(name)
            if "hostPrefix" in cast(dict, operation.endpoint or {}):  # the stubs type it as a str
                continue  # S3 Object Lambda and the like: another host
            if operation.deprecated:
                continue  # the same request as its successor (GetBucketLifecycle: GetBucketLifecycleConfiguration)
            self.templates.setdefault(operation.http["method"], []).append(_template(operation))

    def identify(self, method: str, host: str, target: str, headers: Mapping[str, str],
                 region: str) -> Operation | None:
        """The operation of a request: ``host`` without its port, ``target`` as sent (path and query)."""
        raw_path, _, raw_query = target.partition("?")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        bucket = bucket_of_host(host)
        path = ("/" + bucket + ("" if raw_path == "/" else raw_path)) if bucket else raw_path
        best: tuple[int, _Template] | None = None
        for template in self.templates.get(method, ()):
            score = template.score(path, query, headers)
            if score >= 0 and (best is None or score > best[0]):
                best = (score, template)
        if best is None:
            return None
        name = best[1].name
        return Operation("s3", name, "s3:" + _s3_action(name, query), (_s3_resource(path, region),))


def _s3_resource(path: str, region: str) -> str:
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket:
        return ANY_RESOURCE
    arn = f"arn:{formats.partition_of(region)}:s3:::{unquote(bucket)}"
    return f"{arn}/{unquote(key)}" if key else arn


def _s3_action(name: str, query: Mapping[str, str]) -> str:
    if "versionId" in query and name in S3_VERSIONED:
        return S3_VERSIONED[name]
    return S3_ACTIONS.get(name, name)


def bucket_of_host(host: str) -> str | None:
    """The bucket a virtual-hosted-style name addresses (``my-bucket.s3.<region>.amazonaws.com``), None for the
    service's own name. An interface endpoint's own names hold its id before ``s3``, after the kind of name
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html):
    ``bucket.vpce-1a2b3c4d-5e6f.s3.<region>.vpce.amazonaws.com`` is the endpoint URL of path-style requests,
    ``my-bucket.bucket.vpce-...`` a virtual-hosted one; ``accesspoint.`` and ``control.`` name no bucket."""
    labels = host.lower().rstrip(".").split(".")
    if "s3" not in labels:
        return None
    at = labels.index("s3")
    if at > 0 and labels[at - 1].startswith("vpce-"):
        at -= 1
        if at > 0 and labels[at - 1] in ("bucket", "accesspoint", "control"):
            at -= 1
    return ".".join(labels[:at]) or None


# -- DynamoDB ---------------------------------------------------------------------------------

class DynamoDbOperations:
    """DynamoDB's operations by ``X-Amz-Target``, from botocore's model."""

    def __init__(self, model: ServiceModel | None = None):
        model = model or service_model("dynamodb")
        self.prefix = model.metadata["targetPrefix"] + "."
        self.names = frozenset(model.operation_names)

    def identify(self, target_header: str | None, body: bytes, region: str, account: str) -> Operation | None:
        """The operation and the tables it acts on; ``account``: the caller's (its tables' owner)."""
        if not target_header or not target_header.startswith(self.prefix):
            return None
        name = target_header[len(self.prefix):]
        if name not in self.names:
            return None
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            document = {}
        tables = _tables(document) if isinstance(document, dict) else []
        partition = formats.partition_of(region)
        resources = tuple(t if t.startswith("arn:") else f"arn:{partition}:dynamodb:{region}:{account}:table/{t}"
                          for t in tables) or (ANY_RESOURCE,)
        return Operation("dynamodb", name, "dynamodb:" + name, resources)


def _tables(document: dict) -> list[str]:
    """The tables a request names: ``TableName``, the keys of ``RequestItems`` (batch operations), the
    tables of ``TransactItems``."""
    found = [document["TableName"]] if isinstance(document.get("TableName"), str) else []
    items = document.get("RequestItems")
    if isinstance(items, dict):
        found += [t for t in items if isinstance(t, str)]
    for item in document.get("TransactItems") or []:
        for part in item.values() if isinstance(item, dict) else ():
            if isinstance(part, dict) and isinstance(part.get("TableName"), str):
                found.append(part["TableName"])
    return list(dict.fromkeys(found))
