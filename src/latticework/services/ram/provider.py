"""The RAM provider: resource shares, their associations, invitations, permissions and tags.

Lifecycle (https://docs.aws.amazon.com/ram/latest/userguide/working-with-sharing.html):

- ``CreateResourceShare`` makes an ``ACTIVE`` share and associates what it names, as
  ``AssociateResourceShare`` does. ``DeleteResourceShare`` leaves it ``DELETED`` (still listed by its
  owner, as AWS shows deleted shares for a while) with every association ``DISASSOCIATED``.
- A resource association is ``ASSOCIATED`` at once. A principal association is ``ASSOCIATED`` at once
  for an organization or OU (sharing with the organization must be enabled) and for an account inside
  the owner's organization when sharing with it is enabled; any other account gets an invitation
  (``PENDING``) and its association stays ``ASSOCIATING`` until it accepts (``ASSOCIATED``) or rejects
  (``DISASSOCIATED``).
- A receiver leaves a share by disassociating its own account id (what Terraform's
  ``aws_ram_resource_share_accepter`` does on destroy).
- A Lattice resource deleted while shared keeps its association (as stored) but is no longer listed by
  ``ListResources``; ``records.ram.shared_with`` leaves existence to the caller.

Organizations come from the accounts file (``[[organizations]]``). Sharing with one is off until
``EnableSharingWithAwsOrganization`` is called by its management account (or, when the file names none,
by any member), as for a new organization in AWS; the state is kept per organization.
"""

from __future__ import annotations

from typing import Any, Iterable

from latticework.api.context import RequestContext
from latticework.records import ram as stored
from latticework.services import tagging
from latticework.services.ram import api_types as shapes
from latticework.services.ram import common, permissions
from latticework.services.ram.api_types import (
    InvalidParameterException,
    InvalidResourceTypeException,
    MalformedArnException,
    MissingRequiredParameterException,
    OperationNotPermittedException,
    ResourceShareInvitationAlreadyAcceptedException,
    ResourceShareInvitationAlreadyRejectedException,
    ResourceShareInvitationArnNotFoundException,
    TagLimitExceededException,
    UnknownResourceException,
)
from latticework.store import Record

SELF = "SELF"


def _token(params: Any) -> Any:
    """The request's ``clientToken``, echoed back as AWS does."""
    return params.get("clientToken")


# -- associations ------------------------------------------------------------------

def _association(ctx: RequestContext, share: Record, kind: str, entity: str, status: str, external: bool) -> Record:
    """The association of ``entity`` with ``share`` (reusing a disassociated one), stored with ``status``."""
    id = stored.association_id(share.id, kind, entity)
    record = ctx.tx.get(stored.SHARE_ASSOCIATION, id)
    now = ctx.timestamp()
    body = {"resourceShareArn": share.arn, "resourceShareName": share.body["name"], "associatedEntity": entity,
            "associationType": kind, "status": status, "creationTime": now, "lastUpdatedTime": now,
            "external": external}
    if record is not None and record.body["status"] != "DISASSOCIATED":
        return record
    return ctx.tx.put(Record(stored.SHARE_ASSOCIATION, id, ctx.account, ctx.region, body, parent=share.id,
                             status=status))


def _invite(ctx: RequestContext, share: Record, account: str) -> None:
    """A ``PENDING`` invitation in ``account``'s scope (one per share and account: a pending one is kept)."""
    for found in ctx.tx.list(stored.INVITATION, account=account):
        if found.body["resourceShareArn"] == share.arn and found.body["status"] == "PENDING":
            return
    arn = common.new_arn(ctx, "resource-share-invitation")
    body = {"resourceShareInvitationArn": arn, "resourceShareName": share.body["name"],
            "resourceShareArn": share.arn, "senderAccountId": ctx.account, "receiverAccountId": account,
            "invitationTimestamp": ctx.timestamp(), "status": "PENDING"}
    ctx.tx.put(Record(stored.INVITATION, arn.rsplit("/", 1)[-1], account, ctx.region, body, arn=arn,
                      status="PENDING"))


def _associate_principal(ctx: RequestContext, share: Record, principal: str) -> Record:
    scope = common.principal_scope(ctx, principal)
    inside = common.inside_organization(ctx, principal, scope)
    if not inside and not share.body["allowExternalPrincipals"]:
        raise OperationNotPermittedException(
            f"Principal {principal} is not in your AWS organization. The resource share "
            f"{share.arn} allows only principals in your organization (allowExternalPrincipals is false).")
    automatic = scope != "account" or (inside and common.org_sharing_enabled(ctx, common.org_id(ctx, ctx.account)))
    record = _association(ctx, share, stored.PRINCIPAL, principal, "ASSOCIATED" if automatic else "ASSOCIATING",
                          external=not inside)
    if record.body["status"] == "ASSOCIATING":
        _invite(ctx, share, principal)
    return record


def _associate(ctx: RequestContext, share: Record, resources: Iterable[str], principals: Iterable[str]) -> Any:
    found = [_association(ctx, share, stored.RESOURCE, arn, "ASSOCIATED", external=False)
             for arn in resources if common.check_resource(ctx, arn)]
    found += [_associate_principal(ctx, share, p) for p in principals]
    return [common.association_view(r) for r in found]


def _disassociate(ctx: RequestContext, share: Record, kind: str, entity: str) -> dict:
    record = ctx.tx.get(stored.SHARE_ASSOCIATION, stored.association_id(share.id, kind, entity),
                        account=share.account)
    if record is None or record.body["status"] == "DISASSOCIATED":
        raise UnknownResourceException(f"{entity} is not associated with ResourceShare {share.arn}.")
    common.touch(ctx, record, status="DISASSOCIATED")
    if kind == stored.PRINCIPAL:
        _drop_pending_invitations(ctx, share, entity)
    return common.association_view(record)


def _drop_pending_invitations(ctx: RequestContext, share: Record, account: str) -> None:
    if not common.ACCOUNT.fullmatch(account):
        return
    for found in ctx.tx.list(stored.INVITATION, account=account):
        if found.body["resourceShareArn"] == share.arn and found.body["status"] == "PENDING":
            ctx.tx.delete(stored.INVITATION, found.id, account=account)


def _associations(ctx: RequestContext, share: Record) -> list[Record]:
    return ctx.tx.list(stored.SHARE_ASSOCIATION, parent=share.id, account=share.account)


# -- reading shares -------------------------------------------------------------------

def _visible_shares(ctx: RequestContext, owner: str) -> list[Record]:
    """``SELF``: the caller's shares; ``OTHER-ACCOUNTS``: others' shares that reach the caller."""
    if owner == SELF:
        return ctx.tx.list(stored.SHARE)
    return stored.shares_reaching(ctx.tx, ctx.account, common.org_path(ctx, ctx.account))


def _tags_match(record: Record, filters: list[dict]) -> bool:
    tags = {t["key"]: t.get("value", "") for t in record.body.get("tags") or []}
    return all(f.get("tagKey") in tags and (not f.get("tagValues") or tags[f["tagKey"]] in f["tagValues"])
               for f in filters)


def _share_permissions(ctx: RequestContext, share: Record) -> list[permissions.ManagedPermission]:
    """The permission of each resource type in the share: the one named at creation, else the type's default."""
    named = [p for p in map(permissions.by_arn, stored.ShareRecord(share).permission_arns) if p is not None]
    types = {stored.resource_type(a.body["associatedEntity"]) for a in _associations(ctx, share)
             if a.body["associationType"] == stored.RESOURCE and a.body["status"] == "ASSOCIATED"}
    chosen = {p.resource_type: p for p in named}
    for kind in sorted(t for t in types if t):
        chosen.setdefault(kind, permissions.default_for(kind))
    return list(chosen.values())


def _share_matches(ctx: RequestContext, share: Record, params: Any) -> bool:
    body = share.body
    if params.get("resourceShareArns") and share.arn not in params["resourceShareArns"]:
        return False
    if params.get("resourceShareStatus") and body["status"] != params["resourceShareStatus"]:
        return False
    if params.get("name") and body["name"] != params["name"]:
        return False
    if params.get("permissionArn") and params["permissionArn"] not in {
            p.arn(ctx.partition) for p in _share_permissions(ctx, share)}:
        return False
    return _tags_match(share, params.get("tagFilters") or [])


def _check_permissions(ctx: RequestContext, arns: list[str]) -> None:
    for arn in arns:
        if not arn.startswith("arn:"):
            raise MalformedArnException(f"The permission ARN {arn} is not valid.")
        if permissions.by_arn(arn) is None:
            raise UnknownResourceException(f"Permission {arn} could not be found.")


def _tags(tags: Any) -> list[dict]:
    tags = tags or []
    if any(tagging.reserved(t.get("key", "")) for t in tags):
        raise InvalidParameterException("Tag keys starting with 'aws:' are reserved for AWS use.")
    if len({t["key"] for t in tags}) > common.MAX_TAGS:
        raise TagLimitExceededException(f"A resource share can have at most {common.MAX_TAGS} tags.")
    return tags


def _resource_view(share: Record, association: Record) -> dict:
    """A shared resource in RAM's ``Resource`` shape."""
    body = association.body
    arn = body["associatedEntity"]
    return {"arn": arn, "type": stored.resource_type(arn), "resourceShareArn": share.arn, "status": "AVAILABLE",
            "creationTime": body["creationTime"], "lastUpdatedTime": body["lastUpdatedTime"],
            "resourceRegionScope": "REGIONAL"}


# -- invitations ----------------------------------------------------------------------

def _invitation(ctx: RequestContext, arn: str) -> Record:
    record = ctx.tx.by_arn(arn)
    if record is None or record.kind != stored.INVITATION or record.account != ctx.account:
        raise ResourceShareInvitationArnNotFoundException(f"ResourceShareInvitationArn {arn} could not be found.")
    status = record.body["status"]
    if status == "ACCEPTED":
        raise ResourceShareInvitationAlreadyAcceptedException(f"Invitation {arn} was already accepted.")
    if status == "REJECTED":
        raise ResourceShareInvitationAlreadyRejectedException(f"Invitation {arn} was already rejected.")
    return record


def _answer(ctx: RequestContext, arn: str, accept: bool) -> Any:
    """Accept or reject an invitation: it and the receiver's principal association change together."""
    invitation = _invitation(ctx, arn)
    share = ctx.tx.by_arn(invitation.body["resourceShareArn"])
    invitation.body["status"] = "ACCEPTED" if accept else "REJECTED"
    invitation.status = invitation.body["status"]
    ctx.tx.put(invitation)
    if share is not None:
        association = ctx.tx.get(stored.SHARE_ASSOCIATION,
                                 stored.association_id(share.id, stored.PRINCIPAL, ctx.account), account=share.account,
                                 region=share.region)
        if association is not None:
            common.touch(ctx, association, status="ASSOCIATED" if accept else "DISASSOCIATED")
    return {"resourceShareInvitation": dict(invitation.body)}


class RamProvider:
    # -- shares ---------------------------------------------------------------------
    def create_resource_share(self, ctx: RequestContext,
                              params: shapes.CreateResourceShareRequest) -> shapes.CreateResourceShareResponse:
        _check_permissions(ctx, params.get("permissionArns") or [])
        share = ctx.tx.put(common.new_share(ctx, params, _tags(params.get("tags"))))
        _associate(ctx, share, params.get("resourceArns") or [], params.get("principals") or [])
        return {"resourceShare": common.share_view(share), "clientToken": _token(params)}

    def update_resource_share(self, ctx: RequestContext,
                              params: shapes.UpdateResourceShareRequest) -> shapes.UpdateResourceShareResponse:
        share = common.live_share(ctx, params["resourceShareArn"])
        changes = {k: params[k] for k in ("name", "allowExternalPrincipals") if params.get(k) is not None}
        common.touch(ctx, share, **changes)
        return {"resourceShare": common.share_view(share), "clientToken": _token(params)}

    def delete_resource_share(self, ctx: RequestContext,
                              params: shapes.DeleteResourceShareRequest) -> shapes.DeleteResourceShareResponse:
        share = common.live_share(ctx, params["resourceShareArn"])
        for association in _associations(ctx, share):
            if association.body["status"] != "DISASSOCIATED":
                _disassociate(ctx, share, association.body["associationType"], association.body["associatedEntity"])
        common.touch(ctx, share, status="DELETED")
        return {"returnValue": True, "clientToken": _token(params)}

    def get_resource_shares(self, ctx: RequestContext,
                            params: shapes.GetResourceSharesRequest) -> shapes.GetResourceSharesResponse:
        for arn in params.get("resourceShareArns") or []:
            if not common.SHARE_ARN.fullmatch(arn):
                raise common.malformed(arn)
        found = [common.share_view(s) for s in _visible_shares(ctx, params["resourceOwner"])
                 if _share_matches(ctx, s, params)]
        return common.page(found, params, "resourceShares")

    # -- associations -----------------------------------------------------------------
    def associate_resource_share(self, ctx: RequestContext, params: shapes.AssociateResourceShareRequest
                                 ) -> shapes.AssociateResourceShareResponse:
        share = common.live_share(ctx, params["resourceShareArn"])
        found = _associate(ctx, share, params.get("resourceArns") or [], params.get("principals") or [])
        return {"resourceShareAssociations": found, "clientToken": _token(params)}

    def disassociate_resource_share(self, ctx: RequestContext, params: shapes.DisassociateResourceShareRequest
                                    ) -> shapes.DisassociateResourceShareResponse:
        arn = params["resourceShareArn"]
        record = ctx.tx.by_arn(arn) if common.SHARE_ARN.fullmatch(arn) else None
        if record is not None and record.kind == stored.SHARE and record.account != ctx.account:
            return self._leave(ctx, record, params)
        share = common.live_share(ctx, arn)
        found: Any = [_disassociate(ctx, share, stored.RESOURCE, a) for a in params.get("resourceArns") or []]
        found += [_disassociate(ctx, share, stored.PRINCIPAL, p) for p in params.get("principals") or []]
        return {"resourceShareAssociations": found, "clientToken": _token(params)}

    def _leave(self, ctx: RequestContext, share: Record, params: Any) -> Any:
        """A receiver removing its own account from someone else's share."""
        if params.get("resourceArns") or params.get("principals") != [ctx.account]:
            raise OperationNotPermittedException(
                f"Only the owner of ResourceShare {share.arn} can change its associations; "
                f"a principal can only remove its own account.")
        found = _disassociate(ctx, share, stored.PRINCIPAL, ctx.account)
        return {"resourceShareAssociations": [found], "clientToken": _token(params)}

    def get_resource_share_associations(self, ctx: RequestContext, params: shapes.GetResourceShareAssociationsRequest
                                        ) -> shapes.GetResourceShareAssociationsResponse:
        kind = params["associationType"]
        if kind == stored.PRINCIPAL and params.get("resourceArn"):
            raise InvalidParameterException("resourceArn can only be given with associationType RESOURCE.")
        if kind == stored.RESOURCE and params.get("principal"):
            raise InvalidParameterException("principal can only be given with associationType PRINCIPAL.")
        entity = params.get("resourceArn") or params.get("principal")
        shares = [s for s in ctx.tx.list(stored.SHARE)
                  if not params.get("resourceShareArns") or s.arn in params["resourceShareArns"]]
        found = [common.association_view(a) for s in shares for a in _associations(ctx, s)
                 if a.body["associationType"] == kind and (entity is None or a.body["associatedEntity"] == entity)
                 and (not params.get("associationStatus") or a.body["status"] == params["associationStatus"])]
        return common.page(found, params, "resourceShareAssociations")

    # -- invitations ------------------------------------------------------------------
    def get_resource_share_invitations(self, ctx: RequestContext, params: shapes.GetResourceShareInvitationsRequest
                                       ) -> shapes.GetResourceShareInvitationsResponse:
        wanted = params.get("resourceShareInvitationArns") or []
        mine = ctx.tx.list(stored.INVITATION)
        missing = set(wanted) - {r.arn for r in mine}
        if missing:
            raise ResourceShareInvitationArnNotFoundException(
                f"ResourceShareInvitationArn {sorted(missing)[0]} could not be found.")
        found = [dict(r.body) for r in mine if (not wanted or r.arn in wanted)
                 and (not params.get("resourceShareArns") or r.body["resourceShareArn"] in params["resourceShareArns"])]
        return common.page(found, params, "resourceShareInvitations")

    def accept_resource_share_invitation(self, ctx: RequestContext,
                                         params: shapes.AcceptResourceShareInvitationRequest
                                         ) -> shapes.AcceptResourceShareInvitationResponse:
        return {**_answer(ctx, params["resourceShareInvitationArn"], True), "clientToken": _token(params)}

    def reject_resource_share_invitation(self, ctx: RequestContext,
                                         params: shapes.RejectResourceShareInvitationRequest
                                         ) -> shapes.RejectResourceShareInvitationResponse:
        return {**_answer(ctx, params["resourceShareInvitationArn"], False), "clientToken": _token(params)}

    def list_pending_invitation_resources(self, ctx: RequestContext,
                                          params: shapes.ListPendingInvitationResourcesRequest
                                          ) -> shapes.ListPendingInvitationResourcesResponse:
        """What an invitation offers, for its receiver to look at before accepting."""
        arn = params["resourceShareInvitationArn"]
        invitation = ctx.tx.by_arn(arn)
        if invitation is None or invitation.kind != stored.INVITATION or invitation.account != ctx.account:
            raise ResourceShareInvitationArnNotFoundException(f"ResourceShareInvitationArn {arn} could not be found.")
        if invitation.body["status"] == "REJECTED":
            raise ResourceShareInvitationAlreadyRejectedException(f"Invitation {arn} was already rejected.")
        share = ctx.tx.by_arn(invitation.body["resourceShareArn"])
        found = [] if share is None else [_resource_view(share, a) for a in _associations(ctx, share)
                                          if a.body["associationType"] == stored.RESOURCE
                                          and a.body["status"] == "ASSOCIATED"]
        return common.page(found, params, "resources")

    def enable_sharing_with_aws_organization(self, ctx: RequestContext, params: shapes.EnableSharingWithAwsOrganizationRequest
                                             ) -> shapes.EnableSharingWithAwsOrganizationResponse:
        directory = ctx.directory
        organization = common.org_id(ctx, ctx.account)
        if directory is None or organization is None:
            raise OperationNotPermittedException("The account is not a member of an AWS organization.")
        manager = directory.organizations[organization].management_account
        if manager not in (None, ctx.account):
            raise OperationNotPermittedException(
                "Only the management account of the organization can enable sharing with AWS Organizations.")
        if not common.org_sharing_enabled(ctx, organization):
            ctx.tx.put(Record(stored.ORG_SHARING, organization, organization, stored.ORG_SCOPE, {"enabledBy": ctx.account}))
        return {"returnValue": True}

    # -- resources and principals -------------------------------------------------------
    def list_resources(self, ctx: RequestContext, params: shapes.ListResourcesRequest) -> shapes.ListResourcesResponse:
        kind = params.get("resourceType")
        if kind is not None and kind not in stored.LATTICE_TYPES.values():
            raise InvalidResourceTypeException(f"The specified resource type {kind} is not valid.")
        wanted = params.get("resourceArns")
        found = [_resource_view(share, a) for share in self._shares_for(ctx, params) for a in _associations(ctx, share)
                 if a.body["associationType"] == stored.RESOURCE and a.body["status"] == "ASSOCIATED"
                 and (not kind or stored.resource_type(a.body["associatedEntity"]) == kind)
                 and (not wanted or a.body["associatedEntity"] in wanted)
                 and ctx.tx.by_arn(a.body["associatedEntity"]) is not None]  # a deleted resource is no longer shared
        return common.page(found, params, "resources")

    def list_principals(self, ctx: RequestContext,
                        params: shapes.ListPrincipalsRequest) -> shapes.ListPrincipalsResponse:
        """``SELF``: who the caller's shares reach; ``OTHER-ACCOUNTS``: through which principal (its account, its
        organization or OU) others' shares reach the caller, never the other principals of those shares."""
        found = []
        for share in self._shares_for(ctx, params):
            associations = _associations(ctx, share)
            resources = {a.body["associatedEntity"] for a in associations
                         if a.body["associationType"] == stored.RESOURCE and a.body["status"] == "ASSOCIATED"}
            if params.get("resourceArn") and params["resourceArn"] not in resources:
                continue
            if params.get("resourceType") and params["resourceType"] not in {stored.resource_type(r) for r in resources}:
                continue
            found += [{"id": a.body["associatedEntity"], "resourceShareArn": share.arn,
                       "creationTime": a.body["creationTime"], "lastUpdatedTime": a.body["lastUpdatedTime"],
                       "external": a.body["external"]}
                      for a in associations if a.body["associationType"] == stored.PRINCIPAL
                      and a.body["status"] in ("ASSOCIATED", "ASSOCIATING")
                      and (not params.get("principals") or a.body["associatedEntity"] in params["principals"])
                      and (params["resourceOwner"] == SELF or stored.covers(a.body["associatedEntity"], ctx.account,
                                                                            common.org_path(ctx, ctx.account)))]
        return common.page(found, params, "principals")

    def _shares_for(self, ctx: RequestContext, params: Any) -> list[Record]:
        shares = [s for s in _visible_shares(ctx, params["resourceOwner"]) if s.body["status"] == stored.ACTIVE]
        if params.get("principal"):
            path = common.org_path(ctx, params["principal"]) if common.ACCOUNT.fullmatch(params["principal"]) else None
            shares = [s for s in shares if stored.share_reaches(ctx.tx, s, params["principal"], path)]
        wanted = params.get("resourceShareArns")
        return [s for s in shares if not wanted or s.arn in wanted]

    # -- permissions --------------------------------------------------------------------
    def list_permissions(self, ctx: RequestContext,
                         params: shapes.ListPermissionsRequest) -> shapes.ListPermissionsResponse:
        kind = (params.get("resourceType") or "").lower()
        if params.get("permissionType") == "CUSTOMER_MANAGED":
            return {"permissions": []}
        found = [p.summary(ctx.partition) for p in permissions.MANAGED if not kind or p.resource_type.lower() == kind]
        return common.page(found, params, "permissions")

    def get_permission(self, ctx: RequestContext, params: shapes.GetPermissionRequest) -> shapes.GetPermissionResponse:
        arn = params["permissionArn"]
        _check_permissions(ctx, [arn])
        found = permissions.by_arn(arn)
        assert found is not None  # checked above
        if params.get("permissionVersion") not in (None, 1):
            raise UnknownResourceException(f"Version {params['permissionVersion']} of permission {arn} does not exist.")
        return {"permission": found.detail(ctx.partition)}

    def list_resource_share_permissions(self, ctx: RequestContext, params: shapes.ListResourceSharePermissionsRequest
                                        ) -> shapes.ListResourceSharePermissionsResponse:
        share = common.own_share(ctx, params["resourceShareArn"])
        found = [p.summary(ctx.partition) for p in _share_permissions(ctx, share)]
        return common.page(found, params, "permissions")

    def list_resource_types(self, ctx: RequestContext,
                            params: shapes.ListResourceTypesRequest) -> shapes.ListResourceTypesResponse:
        if params.get("resourceRegionScope") == "GLOBAL":
            return {"resourceTypes": []}
        found = [{"resourceType": t, "serviceName": "vpc-lattice", "resourceRegionScope": "REGIONAL"}
                 for t in stored.LATTICE_TYPES.values()]
        return common.page(found, params, "resourceTypes")

    # -- tags ------------------------------------------------------------------------------
    def tag_resource(self, ctx: RequestContext, params: shapes.TagResourceRequest) -> shapes.TagResourceResponse:
        share = self._tagged(ctx, params)
        merged = {t["key"]: t for t in share.body.get("tags") or []}
        merged.update({t["key"]: t for t in _tags(params["tags"])})
        if len(merged) > common.MAX_TAGS:
            raise TagLimitExceededException(f"A resource share can have at most {common.MAX_TAGS} tags.")
        common.touch(ctx, share, tags=list(merged.values()))
        return {}

    def untag_resource(self, ctx: RequestContext, params: shapes.UntagResourceRequest) -> shapes.UntagResourceResponse:
        share = self._tagged(ctx, params)
        gone = set(params["tagKeys"])
        common.touch(ctx, share, tags=[t for t in share.body.get("tags") or [] if t["key"] not in gone])
        return {}

    def _tagged(self, ctx: RequestContext, params: Any) -> Record:
        arn = params.get("resourceShareArn") or params.get("resourceArn")
        if not arn:
            raise MissingRequiredParameterException("resourceShareArn is required.")
        return common.live_share(ctx, arn)
