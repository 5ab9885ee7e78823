"""IAM's and STS's stored kinds, and the views the identity index (``snapshot.identities``) reads.

IAM is global: its records live in no Region. They are stored with the region
``GLOBAL`` (``""``), and their ARNs name none (``arn:aws:iam::111122223333:role/app``).
STS sessions are global too (temporary credentials work in every Region).

Kinds and what their records hold:

``iam-user``
    body: the ``User`` shape (``UserName``, ``UserId``, ``Arn``, ``Path``, ``CreateDate``, ``Tags``);
    internal: ``Policies`` (inline policy name -> document) and ``Attached`` (managed policy ARNs).
``iam-role``
    body: the ``Role`` shape, ``AssumeRolePolicyDocument`` as the JSON text sent (the API answers it
    URL-encoded, as IAM does); internal: ``Policies`` and ``Attached`` as for users.
``iam-policy``
    a customer managed policy. body: the ``Policy`` shape; internal: ``Versions``, a list of
    ``{"VersionId", "Document", "CreateDate"}``, and ``NextVersion``.
``iam-accesskey``
    an IAM user's access key; parent: the user's record id. body: ``AccessKeyMetadata``; internal:
    ``Secret``.
``sts-session``
    temporary credentials from ``AssumeRole``, stored in the role's account; parent: the role's record
    id. body: ``AssumedRoleUser`` and ``Expiration``; internal: ``Secret``, ``Token``, ``SessionName``,
    ``RoleArn``, ``Policy`` (the session policy or None) and ``Tags`` (session tags, ``[[key, value]]``).

Record ids are the AWS ids (``AIDA...``, ``AROA...``, ``ANPA...``, the access key id ``AKIA...``/``ASIA...``),
unique across accounts; names are unique per account and compared without case, as IAM compares them, so
a record's ``name`` is the lower-cased name (the body keeps it as given).
"""

from __future__ import annotations

import datetime as dt

from latticework.records import RecordView

GLOBAL = ""  # the region of every IAM and STS record

USER = "iam-user"
ROLE = "iam-role"
POLICY = "iam-policy"
ACCESS_KEY = "iam-accesskey"
SESSION = "sts-session"
KINDS = (USER, ROLE, POLICY, ACCESS_KEY, SESSION)

ACTIVE = "Active"


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class PrincipalRecord(RecordView):
    """A user or a role: what its identity-based policies are."""

    @property
    def name(self) -> str:
        return self.body.get("UserName") or self.body["RoleName"]

    @property
    def unique_id(self) -> str:
        return self.body.get("UserId") or self.body["RoleId"]

    @property
    def path(self) -> str:
        return self.body.get("Path", "/")

    @property
    def tags(self) -> tuple[tuple[str, str], ...]:
        return tuple((t["Key"], t.get("Value", "")) for t in self.body.get("Tags") or ())

    @property
    def inline_policies(self) -> dict[str, str]:
        """Inline policy name -> document (JSON text), in the order they were first put."""
        return self.internal.get("Policies") or {}

    @property
    def attached(self) -> list[str]:
        """ARNs of the managed policies attached."""
        return self.internal.get("Attached") or []


class UserRecord(PrincipalRecord):
    pass


class RoleRecord(PrincipalRecord):
    @property
    def trust_policy(self) -> str:
        return self.body["AssumeRolePolicyDocument"]

    @property
    def max_session_duration(self) -> int:
        return int(self.body.get("MaxSessionDuration", 3600))


class PolicyRecord(RecordView):
    @property
    def default_version(self) -> str:
        return self.body["DefaultVersionId"]

    def versions(self) -> list[dict]:
        return self.internal.get("Versions") or []

    def document(self, version_id: str | None = None) -> str | None:
        """A version's document (JSON text); the default version's without ``version_id``."""
        wanted = version_id or self.default_version
        return next((v["Document"] for v in self.versions() if v["VersionId"] == wanted), None)


class SigningKeyRecord(RecordView):
    """What signs: an access key id (the record's id) and its secret (kept internal)."""

    @property
    def key_id(self) -> str:
        return self.record.id

    @property
    def secret(self) -> str:
        return self.internal["Secret"]


class AccessKeyRecord(SigningKeyRecord):
    @property
    def active(self) -> bool:
        return self.body.get("Status") == ACTIVE

    @property
    def user_id(self) -> str:
        return self.parent


class SessionRecord(SigningKeyRecord):
    @property
    def token(self) -> str:
        return self.internal["Token"]

    @property
    def expires(self) -> dt.datetime:
        return _parse_time(self.body["Expiration"])

    @property
    def role_id(self) -> str:
        return self.parent

    @property
    def role_arn(self) -> str:
        return self.internal["RoleArn"]

    @property
    def session_name(self) -> str:
        return self.internal["SessionName"]

    @property
    def assumed_role_arn(self) -> str:
        return self.body["AssumedRoleUser"]["Arn"]

    @property
    def assumed_role_id(self) -> str:
        return self.body["AssumedRoleUser"]["AssumedRoleId"]

    @property
    def session_policy(self) -> str | None:
        return self.internal.get("Policy")

    @property
    def tags(self) -> tuple[tuple[str, str], ...]:
        return tuple((k, v) for k, v in self.internal.get("Tags") or ())
