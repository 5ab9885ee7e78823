"""What RAM's operations share: ARNs, the caller's organization, principals and resources checked as AWS
checks them, records in their API shapes, paging.

Errors are the model's (``api_types``): ``MalformedArnException`` for text that is not an ARN of the kind
asked, ``UnknownResourceException`` for a share, resource or organization that does not exist (or is not the
caller's), ``InvalidParameterException`` for a resource type RAM cannot share here (only VPC Lattice's) or a
principal type Lattice's types do not take (IAM roles and users) or the owner itself,
``OperationNotPermittedException`` for sharing outside the organization when ``allowExternalPrincipals`` is
false, with an organization before sharing with it is enabled, or a service network whose
``sharingConfig.enabled`` is false (AWS's answer there is not documented: decided here).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Mapping

from latticework.api.context import RequestContext
from latticework.api.paging import Pager
from latticework.records import ram as stored
from latticework.services.ram.api_types import (
    InvalidNextTokenException,
    InvalidParameterException,
    MalformedArnException,
    OperationNotPermittedException,
    UnknownResourceException,
)
from latticework.store import Record

ACCOUNT = re.compile(r"\d{12}")
ORG_ARN = re.compile(r"arn:aws[\w-]*:organizations::\d{12}:organization/(o-[a-z0-9]{10,32})")
OU_ARN = re.compile(r"arn:aws[\w-]*:organizations::\d{12}:ou/(o-[a-z0-9]{10,32})/(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})")
IAM_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:(role|user)/.+")
SHARE_ARN = re.compile(r"arn:aws[\w-]*:ram:[a-z0-9-]+:\d{12}:resource-share/[0-9a-f-]{36}")
MAX_TAGS = 50  # https://docs.aws.amazon.com/ram/latest/userguide/ram-limits.html

PAGER = Pager("nextToken", "nextToken", "maxResults", 500,
              lambda: InvalidNextTokenException("The specified value for nextToken is not valid."))


def page(items: list, params: Mapping[str, Any], key: str) -> Any:
    return PAGER.slice(items, params, key)


def new_arn(ctx: RequestContext, kind: str, account: str | None = None) -> str:
    return ctx.arn("ram", f"{kind}/{uuid.uuid4()}", account)


# -- organizations ---------------------------------------------------------------

def org_path(ctx: RequestContext, account: str) -> str | None:
    """``o-.../r-.../ou-.../`` of ``account``, None outside any organization."""
    found = ctx.directory.organization_of(account) if ctx.directory is not None else None
    return found[1] if found else None


def org_id(ctx: RequestContext, account: str) -> str | None:
    path = org_path(ctx, account)
    return path.split("/", 1)[0] if path else None


def org_sharing_enabled(ctx: RequestContext, organization: str | None) -> bool:
    """Whether ``EnableSharingWithAwsOrganization`` was called for the organization (off until then, as in AWS)."""
    if organization is None:
        return False
    return ctx.tx.get(stored.ORG_SHARING, organization, account=organization, region=stored.ORG_SCOPE) is not None


# -- shares ----------------------------------------------------------------------

def malformed(arn: str) -> MalformedArnException:
    return MalformedArnException(f"The specified resource share ARN {arn} is not valid. Verify the ARN and try again.")


def unknown_share(arn: str) -> UnknownResourceException:
    return UnknownResourceException(f"ResourceShare {arn} could not be found.")


def own_share(ctx: RequestContext, arn: str) -> Record:
    """The caller's resource share ``arn`` (deleted ones too), or RAM's error."""
    if not SHARE_ARN.fullmatch(arn):
        raise malformed(arn)
    record = ctx.tx.by_arn(arn)
    if record is None or record.kind != stored.SHARE or record.account != ctx.account or record.region != ctx.region:
        raise unknown_share(arn)
    return record


def live_share(ctx: RequestContext, arn: str) -> Record:
    """The caller's share ``arn``, refused once deleted."""
    record = own_share(ctx, arn)
    if record.body["status"] != stored.ACTIVE:
        raise OperationNotPermittedException(f"ResourceShare {arn} is in {record.body['status']} state.")
    return record


def touch(ctx: RequestContext, record: Record, **changes: Any) -> Record:
    record.body.update(changes, lastUpdatedTime=ctx.timestamp())
    if "status" in changes:
        record.status = changes["status"]
    return ctx.tx.put(record)


# -- resources and principals, checked ---------------------------------------------

def check_resource(ctx: RequestContext, arn: str) -> str:
    """The RAM type of a resource the caller may share, or AWS's error."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[5]:
        raise MalformedArnException(f"The specified resource ARN {arn} is not valid. Verify the ARN and try again.")
    kind = stored.resource_type(arn)
    if kind is None:
        raise InvalidParameterException(f"The resource type of {arn} is not supported by AWS RAM here: "
                                        f"only VPC Lattice service networks, services and resource configurations "
                                        f"can be shared.")
    record = ctx.tx.by_arn(arn)
    if record is None or record.account != ctx.account or record.region != ctx.region:
        raise UnknownResourceException(f"The resource {arn} does not exist or is not owned by account {ctx.account}.")
    if not (record.body.get("sharingConfig") or {}).get("enabled", True):
        # A network created with sharingConfig.enabled false is not shareable
        # (https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_SharingConfig.html).
        raise OperationNotPermittedException(f"The service network {arn} cannot be shared: its sharingConfig is "
                                             f"not enabled.")
    return kind


def principal_scope(ctx: RequestContext, principal: str) -> str:
    """Check a principal; answer ``account``, ``organization`` or ``ou``."""
    if ACCOUNT.fullmatch(principal):
        if principal == ctx.account:
            raise InvalidParameterException("The resource share owner cannot be a principal of the share.")
        return "account"
    found = ORG_ARN.fullmatch(principal) or OU_ARN.fullmatch(principal)
    if found:
        _check_organization(ctx, principal, found.group(1))
        return "organization" if found.re is ORG_ARN else "ou"
    if IAM_ARN.fullmatch(principal):
        raise InvalidParameterException(f"Principal {principal}: VPC Lattice resources can be shared with accounts, "
                                        f"organizations and OUs only, not with IAM roles or users.")
    raise MalformedArnException(f"The specified principal {principal} is not a valid AWS account ID or ARN.")


def _check_organization(ctx: RequestContext, principal: str, organization: str) -> None:
    own = org_id(ctx, ctx.account)
    if own != organization:
        raise UnknownResourceException(f"Principal {principal} is not in your AWS organization.")
    if not org_sharing_enabled(ctx, own):
        raise OperationNotPermittedException(
            "Unable to share with the organization: sharing with AWS Organizations is not enabled. "
            "Call EnableSharingWithAwsOrganization from the organization's management account.")


def inside_organization(ctx: RequestContext, principal: str, scope: str) -> bool:
    """Whether a principal is in the owner's organization (organization and OU ARNs always are, once checked)."""
    if scope != "account":
        return True
    own = org_id(ctx, ctx.account)
    return own is not None and org_id(ctx, principal) == own


# -- API shapes --------------------------------------------------------------------

def share_view(record: Record) -> Any:
    return dict(record.body)


def association_view(record: Record) -> Any:
    return dict(record.body)


def new_share(ctx: RequestContext, params: Mapping[str, Any], tags: list[dict]) -> Record:
    arn = new_arn(ctx, "resource-share")
    now = ctx.timestamp()
    body = {"resourceShareArn": arn, "name": params["name"], "owningAccountId": ctx.account,
            "allowExternalPrincipals": params.get("allowExternalPrincipals", True), "status": stored.ACTIVE,
            "tags": tags, "creationTime": now, "lastUpdatedTime": now, "featureSet": "STANDARD"}
    return Record(stored.SHARE, arn.rsplit("/", 1)[-1], ctx.account, ctx.region, body, arn=arn,
                  status=stored.ACTIVE, internal={"permissionArns": list(params.get("permissionArns") or [])})
