"""Who signs with an access key: the accounts file's credentials, IAM users' keys and STS sessions.

``Identities`` answers ``config.Credentials``: ``credential(access_key)`` gives the ``Credential``
(secret, session token, expiry) and the ``Identity`` it signs for, or None for a key nobody holds.
It is built from two sources:

- the accounts file (``config.Directory``): each credential acts for its account
  (``Identity.type`` ``"Account"``), with the account's organization;
- the IAM and STS records (``records.iam``): an IAM user's *active* access keys (an inactive key
  is refused like an unknown one, as AWS refuses it), and the sessions ``AssumeRole`` issued,
  until they expire (``Credential.expires``; ``sigv4.verify`` refuses them after that with
  ``ExpiredToken``).

An identity carries its identity-based policies as JSON text: a user's or a role's inline policies,
then the default versions of its attached managed policies (customer managed ones from their records,
AWS managed ones from ``records.iam_managed``); a session carries its role's, and the policy passed to
``AssumeRole`` apart, as ``session_policy`` (it only limits: see ``config.Identity``). A session whose
role was deleted, or deleted and created again under the same name (a new role id), keeps signing but
carries no policies: nothing allows it anything any more, as in AWS.

An ``Identities`` is immutable: ``updated(changed)`` gives a new one from changed records (the
snapshot compiler's ``Compiler.update`` feeds it the store's change journal), sharing what did not
change. Credentials are built on first use and remembered by that object; IAM writes are rare next to
signed requests, and any IAM change starts a new object, so nothing stale is ever answered.

``FollowedIdentities`` is the API's: it follows the store by itself (one integer compare per call
while nothing changed, the journal's new entries when something did), so the control plane
authenticates IAM users and sessions with or without a data plane.
"""

from __future__ import annotations

from typing import Mapping

from latticework.config import Credential, Directory, Identity
from latticework.records import iam
from latticework.records.iam_managed import aws_policy
from latticework.store import Record, Store

IDENTITY_KINDS = iam.KINDS
Key = tuple[str, str]  # (kind, record id)


class Identities:
    """The ``Credentials`` of one revision: the accounts file's and those made by IAM and STS."""

    def __init__(self, directory: Directory | None = None,
                 records: dict[str, dict[str, Record]] | None = None,
                 policy_ids: dict[str, str] | None = None):
        self.directory = directory or Directory()
        self._records = records or {kind: {} for kind in IDENTITY_KINDS}
        self._policy_ids = policy_ids or {}  # customer managed policy ARN -> record id
        self._built: dict[str, Credential | None] = {}
        self._accounts = {key: self._account_credential(c) for key, c in self.directory.credentials.items()}

    @classmethod
    def from_accounts(cls, accounts: dict | None) -> "Identities":
        """From a directory sent as data (``Directory.to_json``), as data-plane workers get it."""
        return cls(Directory.from_json(accounts) if accounts else None)

    def __eq__(self, other: object) -> bool:
        """The same credentials: the same directory and the same records (snapshots compare by value)."""
        if not isinstance(other, Identities):
            return NotImplemented
        return self is other or (self.directory == other.directory and self._records == other._records)

    # -- Credentials --------------------------------------------------------------------
    def credential(self, access_key: str) -> Credential | None:
        found = self._accounts.get(access_key)
        if found is not None:
            return found
        if access_key in self._built:
            return self._built[access_key]
        built = self._build(access_key)
        if built is not None:  # unknown keys are not remembered: anyone may send any number of them
            self._built[access_key] = built
        return built

    def principal(self, arn: str) -> Credential | None:
        """Credentials standing for the principal ``arn`` names, for questions asked about it rather than
        by it (``latticework explain``): an account's root, an IAM user, a role (a session of it named
        ``explain``) or an assumed-role session. Their keys are not for signing: they hold no secret."""
        for credential in self._accounts.values():
            if credential.principal_arn == arn:
                return credential
        for record in self._records[iam.USER].values():
            if record.arn == arn:
                return Credential("", "", record.account, identity=self._user_identity(iam.UserRecord(record)))
        for record in self._records[iam.SESSION].values():
            if iam.SessionRecord(record).assumed_role_arn == arn:
                return self._session(iam.SessionRecord(record))
        for record in self._records[iam.ROLE].values():
            if record.arn == arn:
                return Credential("", "", record.account, identity=self._role_identity(record, "explain"))
        return None

    # -- updates ------------------------------------------------------------------------
    def updated(self, changed: Mapping[Key, Record | None]) -> "Identities":
        """The identities after ``changed`` (records by (kind, id); None: deleted); ``self`` if none is IAM's."""
        mine = [(kind, id, r) for (kind, id), r in changed.items() if kind in self._records]
        if not mine:
            return self
        records = dict(self._records)
        for kind in {kind for kind, _, _ in mine}:
            records[kind] = dict(records[kind])  # copy on write: the old object stays as it was
        policy_ids = dict(self._policy_ids)
        for kind, id, record in mine:
            self._apply(records[kind], policy_ids, kind, id, record)
        return Identities(self.directory, records, policy_ids)

    @staticmethod
    def _apply(found: dict[str, Record], policy_ids: dict[str, str], kind: str, id: str,
               record: Record | None) -> None:
        old = found.pop(id, None)
        if kind == iam.POLICY and old is not None and old.arn:
            policy_ids.pop(old.arn, None)
        if record is not None:
            found[id] = record
            if kind == iam.POLICY and record.arn:
                policy_ids[record.arn] = id

    # -- building -----------------------------------------------------------------------
    def _organization(self, account: str) -> tuple[str | None, str | None]:
        org = self.directory.organization_of(account)
        return org if org is not None else (None, None)

    def _account_credential(self, cred: Credential) -> Credential:
        org_id, org_path = self._organization(cred.account_id)
        identity = Identity(arn=cred.principal_arn, type="Account", user_id=cred.user_id, account=cred.account_id,
                            org_id=org_id, org_path=org_path)
        return Credential(cred.access_key, cred.secret_key, cred.account_id, cred.session_token, cred.user, identity)

    def _build(self, access_key: str) -> Credential | None:
        key = self._records[iam.ACCESS_KEY].get(access_key)
        if key is not None:
            return self._user_key(iam.AccessKeyRecord(key))
        session = self._records[iam.SESSION].get(access_key)
        if session is not None:
            return self._session(iam.SessionRecord(session))
        return None

    def _user_key(self, key: iam.AccessKeyRecord) -> Credential | None:
        user = self._records[iam.USER].get(key.user_id)
        if not key.active or user is None:
            return None
        return Credential(key.key_id, key.secret, user.account, identity=self._user_identity(iam.UserRecord(user)))

    def _user_identity(self, view: iam.UserRecord) -> Identity:
        org_id, org_path = self._organization(view.record.account)
        return Identity(arn=view.arn, type="User", user_id=view.unique_id, account=view.record.account,
                        tags=view.tags, policies=self.policies_of(view), org_id=org_id, org_path=org_path)

    def _role_identity(self, role: Record, session_name: str) -> Identity:
        """A session of ``role`` with no session policy or tags of its own."""
        view = iam.RoleRecord(role)
        org_id, org_path = self._organization(role.account)
        partition = (role.arn or "arn:aws").split(":")[1]
        return Identity(arn=f"arn:{partition}:sts::{role.account}:assumed-role/{view.name}/{session_name}",
                        type="AssumedRole", user_id=f"{view.unique_id}:{session_name}", account=role.account,
                        session_name=session_name, role_arn=role.arn, tags=view.tags, policies=self.policies_of(view),
                        org_id=org_id, org_path=org_path)

    def _session(self, session: iam.SessionRecord) -> Credential:
        account = session.record.account
        role = self._records[iam.ROLE].get(session.role_id)
        view = iam.RoleRecord(role) if role is not None else None
        org_id, org_path = self._organization(account)
        identity = Identity(
            arn=session.assumed_role_arn, type="AssumedRole", user_id=session.assumed_role_id, account=account,
            session_name=session.session_name, role_arn=session.role_arn,
            tags=_merge_tags(view.tags if view else (), session.tags),
            policies=self.policies_of(view) if view else (), org_id=org_id, org_path=org_path,
            session_policy=session.session_policy)
        return Credential(session.key_id, session.secret, account, session.token, identity=identity,
                          expires=session.expires)

    def policies_of(self, principal: iam.PrincipalRecord) -> tuple[str, ...]:
        """A user's or role's identity-based policies: inline ones, then attached managed ones' default
        versions (a managed policy deleted meanwhile counts for nothing)."""
        attached = (self.managed_document(arn) for arn in principal.attached)
        return (*principal.inline_policies.values(), *(d for d in attached if d is not None))

    def managed_document(self, arn: str) -> str | None:
        """The default version's document of a managed policy (customer or AWS managed)."""
        builtin = aws_policy(arn)
        if builtin is not None:
            return builtin.document
        record = self._records[iam.POLICY].get(self._policy_ids.get(arn, ""))
        return iam.PolicyRecord(record).document() if record is not None else None


def _merge_tags(role: tuple[tuple[str, str], ...], session: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Principal tags of a session: the role's, with session tags of the same key winning
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_operations)."""
    merged = {k.lower(): (k, v) for k, v in role}
    merged.update({k.lower(): (k, v) for k, v in session})
    return tuple(merged.values())


class FollowedIdentities:
    """``Identities`` kept current with the store, for the API's signature checks."""

    def __init__(self, store: Store, directory: Directory):
        self._store = store
        self._directory = directory
        self._identities = Identities(directory)
        self._revision = -1

    def credential(self, access_key: str) -> Credential | None:
        if self._store.revision() != self._revision:
            self._catch_up()
        return self._identities.credential(access_key)

    @property
    def current(self) -> Identities:
        if self._store.revision() != self._revision:
            self._catch_up()
        return self._identities

    def _catch_up(self) -> None:
        found = self._store.changes(self._revision, IDENTITY_KINDS) if self._revision >= 0 else None
        if found is None:  # first use, or older than the journal reaches: read everything
            view = self._store.view(IDENTITY_KINDS)
            changed: dict[Key, Record | None] = {(kind, r.id): r for kind in IDENTITY_KINDS for r in view.of(kind)}
            self._identities, self._revision = Identities(self._directory).updated(changed), view.revision
            return
        revision, changed = found
        self._identities, self._revision = self._identities.updated(changed), revision

