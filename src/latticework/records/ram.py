"""AWS RAM's stored kinds, and the one question other families ask: is this resource shared with that account?

A resource share is kept in its owner's account and Region (``SHARE``); each thing associated with it is a
``SHARE_ASSOCIATION`` record of the same scope whose parent is the share: a resource (``associationType``
``RESOURCE``, the entity is the resource's ARN) or a principal (``PRINCIPAL``: an account id, an
organization or OU ARN). Bodies are RAM's API shapes (``ResourceShare``, ``ResourceShareAssociation``).
An invitation (``INVITATION``, RAM's ``ResourceShareInvitation``) lives in the receiver's account, so the
receiver lists its own; its ARN names the owner, as AWS's do.

Access: an account reaches a resource through a share when the share is ``ACTIVE``, the resource's
association is ``ASSOCIATED``, and a principal association that covers the account is ``ASSOCIATED``: its
own account id (an invitation accepted, or sharing inside the organization), its organization's ARN, or the
ARN of an OU on its path. ``shared_with`` and ``resources_shared_with`` answer that from a transaction; the
caller passes the account's organization path (``config.Directory.organization_of``), since this layer
reads no configuration.
"""

from __future__ import annotations

from latticework.records import RecordView
from latticework.store import Record, Transaction

SHARE = "ramshare"
SHARE_ASSOCIATION = "ramassociation"
INVITATION = "raminvitation"
ORG_SHARING = "ramorgsharing"  # one per organization that enabled sharing (id and account: the organization id)
# The scope of ``ORG_SHARING`` records in place of a Region: sharing with an organization holds in every Region.
ORG_SCOPE = "organization"
KINDS = (SHARE, SHARE_ASSOCIATION, INVITATION, ORG_SHARING)

RESOURCE = "RESOURCE"
PRINCIPAL = "PRINCIPAL"
ASSOCIATED = "ASSOCIATED"
ACTIVE = "ACTIVE"

# Lattice ARNs' resource part -> RAM's resource type (``ListResourceTypes``).
LATTICE_TYPES = {
    "servicenetwork": "vpc-lattice:ServiceNetwork",
    "service": "vpc-lattice:Service",
    "resourceconfiguration": "vpc-lattice:ResourceConfiguration",
}


def resource_type(arn: str) -> str | None:
    """RAM's type of a shareable resource ARN (``vpc-lattice:ServiceNetwork``...), None for any other."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "vpc-lattice":
        return None
    return LATTICE_TYPES.get(parts[5].split("/", 1)[0])


class ShareRecord(RecordView):
    @property
    def name(self) -> str:
        return self.body["name"]

    @property
    def active(self) -> bool:
        return self.body["status"] == ACTIVE

    @property
    def permission_arns(self) -> list[str]:
        """Permissions named at creation (resource types without one use their default)."""
        return list(self.internal.get("permissionArns", []))


class AssociationRecord(RecordView):
    @property
    def entity(self) -> str:
        return self.body["associatedEntity"]

    @property
    def type(self) -> str:
        return self.body["associationType"]

    @property
    def associated(self) -> bool:
        return self.body["status"] == ASSOCIATED


def association_id(share_id: str, association_type: str, entity: str) -> str:
    """One association record per share, type and entity: associating again reuses it."""
    return f"{share_id}|{association_type}|{entity}"


def covers(entity: str, account: str, org_path: str | None) -> bool:
    """Whether a principal association's entity includes ``account`` (in the organization ``org_path``,
    ``o-.../r-.../ou-.../``, or None outside any)."""
    if entity == account:
        return True
    if org_path is None or not entity.startswith("arn:") or ":organizations:" not in entity:
        return False
    path = org_path.strip("/").split("/")
    tail = entity.split(":", 5)[5]
    if tail.startswith("organization/"):
        return tail.removeprefix("organization/") == path[0]
    if tail.startswith("ou/"):
        org, _, unit = tail.removeprefix("ou/").partition("/")
        return org == path[0] and unit in path[2:]
    return False


def _associations(tx: Transaction, share: Record) -> list[AssociationRecord]:
    return [AssociationRecord(r) for r in tx.list(SHARE_ASSOCIATION, parent=share.id, account=share.account)]


def share_reaches(tx: Transaction, share: Record, account: str, org_path: str | None) -> bool:
    """Whether ``share`` is active and one of its associated principals covers ``account``."""
    if not ShareRecord(share).active:
        return False
    return any(a.type == PRINCIPAL and a.associated and covers(a.entity, account, org_path)
               for a in _associations(tx, share))


def shares_reaching(tx: Transaction, account: str, org_path: str | None) -> list[Record]:
    """Other accounts' shares in the transaction's Region that reach ``account``."""
    return [s for s in tx.list(SHARE, all_accounts=True)
            if s.account != account and share_reaches(tx, s, account, org_path)]


def shared_resources(tx: Transaction, share: Record) -> list[str]:
    """ARNs of the resources associated with ``share``."""
    return [a.entity for a in _associations(tx, share) if a.type == RESOURCE and a.associated]


def shared_with(tx: Transaction, account: str, resource_arn: str, org_path: str | None = None) -> bool:
    """Whether the owner of ``resource_arn`` shares it with ``account`` (an account's own resources are not
    "shared": the caller checks ownership first)."""
    owner = resource_arn.split(":", 5)[4] if resource_arn.count(":") >= 5 else ""
    for share in tx.list(SHARE, account=owner):
        if resource_arn in shared_resources(tx, share) and share_reaches(tx, share, account, org_path):
            return True
    return False


def resources_shared_with(tx: Transaction, account: str, type: str, org_path: str | None = None) -> list[str]:
    """ARNs of resources of RAM type ``type`` (``vpc-lattice:Service``...) other accounts share with ``account``."""
    found: dict[str, None] = {}
    for share in shares_reaching(tx, account, org_path):
        found.update((arn, None) for arn in shared_resources(tx, share) if resource_type(arn) == type)
    return list(found)


def principals_sharing(tx: Transaction, resource_arn: str) -> list[tuple[ShareRecord, list[str]]]:
    """Each active share of its owner that holds ``resource_arn``, with the entities of its associated
    principals (account ids, organization and OU ARNs); shares without any are left out."""
    owner = resource_arn.split(":", 5)[4] if resource_arn.count(":") >= 5 else ""
    found = []
    for share in tx.list(SHARE, account=owner):
        if not ShareRecord(share).active or resource_arn not in shared_resources(tx, share):
            continue
        principals = [a.entity for a in _associations(tx, share) if a.type == PRINCIPAL and a.associated]
        if principals:
            found.append((ShareRecord(share), principals))
    return found
