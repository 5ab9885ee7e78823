"""Access-log subscriptions: where a service network, service or resource configuration sends its logs.

A subscription (``als-``) is a record whose parent is the id of the resource
it logs; it has no lifecycle status (AWS answers it complete at once) and is
taggable.

Destinations
    The destination ARN must be a CloudWatch Logs log group
    (``arn:aws:logs:<region>:<account>:log-group:<name>``, answered with a
    trailing ``:*``, added when absent, as AWS does: Terraform's acceptance
    test ``TestAccVPCLatticeAccessLogSubscription_cloudwatchNoWildcard`` sends
    a log group ARN without it and reads it back with it), an S3 bucket (``arn:aws:s3:::<bucket>``,
    optionally ``/<prefix>``) or a Firehose delivery stream
    (``arn:aws:firehose:<region>:<account>:deliverystream/<name>``); anything
    else is a ``ValidationException``
    (https://docs.aws.amazon.com/vpc-lattice/latest/ug/monitoring-access-logs.html).
    Whether the destination exists is not checked (there is no logs, S3 or
    Firehose API here).

One subscription per destination type
    A resource has at most one subscription per destination type (and, for a
    service network, per log type); a second is a ``ConflictException``.
    Update only changes ``destinationArn``, within the same destination type:
    moving to another type is a ``ConflictException`` too. AWS's own
    Kubernetes controller relies on both conflicts (it replaces the
    subscription when Update answers one):
    https://github.com/aws/aws-application-networking-k8s/pull/442

Log types
    ``serviceNetworkLogType`` (``SERVICE`` for service traffic,
    ``RESOURCE`` for resource-configuration traffic) applies to service
    networks only; it defaults to ``SERVICE`` and is echoed for them. Given
    for a service or a resource configuration it is refused
    (``ValidationException``) and their subscriptions never carry one.

Listing
    ``ListAccessLogSubscriptions`` declares no ``ResourceNotFoundException``
    in the model, so an unknown ``resourceIdentifier`` lists nothing.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from latticework.api.context import RequestContext
from latticework.services.lattice import api_types as shapes
from latticework.services.lattice import common
from latticework.services.lattice.api_types import ResourceNotFoundException
from latticework.services.lattice.common import (
    ACCESS_LOG_SUBSCRIPTION, RESOURCE_CONFIGURATION, SERVICE, SERVICE_NETWORK, Kind,
)
from latticework.store import Record

_TARGETS = {k.prefix: k for k in (SERVICE_NETWORK, SERVICE, RESOURCE_CONFIGURATION)}
_PARTITION = r"arn:aws(-[a-z]+)*"
_REGION_ACCOUNT = r"[a-z]{2}(-[a-z]+)+-\d:\d{12}"
DESTINATION_TYPES = (
    ("CloudWatch Logs log group",
     re.compile(rf"{_PARTITION}:logs:{_REGION_ACCOUNT}:log-group:[\w./#-]{{1,512}}(:\*)?")),
    ("S3 bucket", re.compile(rf"{_PARTITION}:s3:::[a-z0-9][a-z0-9.-]{{1,61}}[a-z0-9](/.*)?")),
    ("Firehose delivery stream",
     re.compile(rf"{_PARTITION}:firehose:{_REGION_ACCOUNT}:deliverystream/[\w.-]{{1,64}}")),
)
_FIELDS = ("id", "arn", "resourceId", "resourceArn", "serviceNetworkLogType", "destinationArn")
_SUMMARY_FIELDS = _FIELDS + ("createdAt", "lastUpdatedAt")


# -- the resource a policy or subscription attaches to --------------------------

def target_kind(identifier: str) -> Kind:
    """The kind an sn/svc/rcfg id or ARN names (the model's pattern guarantees one of them)."""
    id = identifier.rsplit("/", 1)[-1]
    return next(kind for prefix, kind in _TARGETS.items() if id.startswith(prefix))


def resolve_target(ctx: RequestContext, identifier: str) -> Record:
    """The service network, service or resource configuration ``identifier`` names, or its 404."""
    return common.resolve(ctx, target_kind(identifier), identifier)


# -- rules -------------------------------------------------------------------

def destination_type(arn: str) -> str:
    """The destination type of ``arn``, or a ``ValidationException``."""
    for name, pattern in DESTINATION_TYPES:
        if pattern.fullmatch(arn):
            return name
    raise common.validation(
        f"Destination {arn} is not supported: use a CloudWatch Logs log group, an S3 bucket or a "
        "Firehose delivery stream ARN.", ("destinationArn", "Unsupported destination type"))


def stored_destination(arn: str, dest_type: str) -> str:
    """The destination as AWS answers it: a log group ARN always ends in ``:*``."""
    if dest_type == DESTINATION_TYPES[0][0] and not arn.endswith(":*"):
        return arn + ":*"
    return arn


def _log_type(target: Record, requested: str | None) -> str | None:
    if target.kind == SERVICE_NETWORK.kind:
        return requested or "SERVICE"
    if requested is not None:
        raise common.validation("serviceNetworkLogType can only be specified for a service network.",
                                ("serviceNetworkLogType", "Only valid for service networks"))
    return None


def _check_unique(ctx: RequestContext, parent: str, dest_type: str, log_type: str | None) -> None:
    for other in ctx.tx.list(ACCESS_LOG_SUBSCRIPTION.kind, parent=parent):
        if (destination_type(other.body["destinationArn"]) == dest_type
                and other.body.get("serviceNetworkLogType") == log_type):
            raise common.conflict(ACCESS_LOG_SUBSCRIPTION, other.id,
                                  f"Resource {parent} already has an access log subscription to a {dest_type} "
                                  f"({other.id}); only one per destination type is allowed.")


def _check_same_type(record: Record, dest_type: str) -> None:
    current = destination_type(record.body["destinationArn"])
    if current != dest_type:
        raise common.conflict(ACCESS_LOG_SUBSCRIPTION, record.id,
                              f"Access log subscription {record.id} sends to a {current}; its destination can only "
                              f"be changed to another {current}.")


def delete_subscriptions(ctx: RequestContext, parent: str) -> None:
    """Remove every access-log subscription of a resource being deleted."""
    for record in ctx.tx.list(ACCESS_LOG_SUBSCRIPTION.kind, parent=parent):
        ctx.tx.delete(ACCESS_LOG_SUBSCRIPTION.kind, record.id)


def _resolve(ctx: RequestContext, params: Mapping[str, Any]) -> Record:
    return common.resolve(ctx, ACCESS_LOG_SUBSCRIPTION, params["accessLogSubscriptionIdentifier"])


class AccessLogOps:
    def create_access_log_subscription(
            self, ctx: RequestContext, params: shapes.CreateAccessLogSubscriptionRequest
    ) -> shapes.CreateAccessLogSubscriptionResponse:
        target = resolve_target(ctx, params["resourceIdentifier"])
        dest_type = destination_type(params["destinationArn"])
        log_type = _log_type(target, params.get("serviceNetworkLogType"))
        _check_unique(ctx, target.id, dest_type, log_type)
        destination = stored_destination(params["destinationArn"], dest_type)
        body = {"resourceId": target.id, "resourceArn": target.arn, "destinationArn": destination,
                "serviceNetworkLogType": log_type, "tags": common.check_tags(params.get("tags"))}
        record = common.new_record(ctx, ACCESS_LOG_SUBSCRIPTION, {k: v for k, v in body.items() if v is not None},
                                   parent=target.id)
        common.insert(ctx, record, ACCESS_LOG_SUBSCRIPTION)
        return common.project(record.body, _FIELDS)

    def get_access_log_subscription(
            self, ctx: RequestContext, params: shapes.GetAccessLogSubscriptionRequest
    ) -> shapes.GetAccessLogSubscriptionResponse:
        return common.project(_resolve(ctx, params).body, _SUMMARY_FIELDS)

    def update_access_log_subscription(
            self, ctx: RequestContext, params: shapes.UpdateAccessLogSubscriptionRequest
    ) -> shapes.UpdateAccessLogSubscriptionResponse:
        record = _resolve(ctx, params)
        dest_type = destination_type(params["destinationArn"])
        _check_same_type(record, dest_type)
        common.touch(ctx, record, destinationArn=stored_destination(params["destinationArn"], dest_type))
        return common.project(record.body, ("id", "arn", "resourceId", "resourceArn", "destinationArn"))

    def delete_access_log_subscription(
            self, ctx: RequestContext, params: shapes.DeleteAccessLogSubscriptionRequest
    ) -> shapes.DeleteAccessLogSubscriptionResponse:
        ctx.tx.delete(ACCESS_LOG_SUBSCRIPTION.kind, _resolve(ctx, params).id)
        return {}

    def list_access_log_subscriptions(
            self, ctx: RequestContext, params: shapes.ListAccessLogSubscriptionsRequest
    ) -> shapes.ListAccessLogSubscriptionsResponse:
        try:
            target = resolve_target(ctx, params["resourceIdentifier"])
        except ResourceNotFoundException:
            return {"items": []}
        return common.list_kind(ctx, params, ACCESS_LOG_SUBSCRIPTION,
                                lambda r: common.project(r.body, _SUMMARY_FIELDS), parent=target.id)
