"""Configuration: accounts, their credentials, and where state lives.

Latticework answers API calls only for credentials it knows. Without a config
file there is one account, ``000000000000`` ("default"), with access key
``test`` and secret ``test`` — what local AWS tooling conventionally uses.
A TOML file declares more (``latticework up --config FILE`` or
``$LATTICEWORK_CONFIG``)::

    [[accounts]]
    id = "111111111111"
    name = "payments"

    [[accounts.credentials]]
    access_key_id = "AKIAPAYMENTS"
    secret_access_key = "payments-secret"
    # session_token = "..."   # then requests must carry it (x-amz-security-token)
    # user = "alice"          # principal ARN becomes arn:aws:iam::<id>:user/alice

An account may carry quota overrides, the local stand-in for a granted
Service Quotas increase: ``quotas`` maps a VPC Lattice quota code to the
account's value (any non-negative integer, lower than AWS's default too)::

    [[accounts]]
    id = "111111111111"
    quotas = { "L-9CAD07FB" = 100, "L-620C821E" = 5000 }

The codes are those of the Service Quotas console
(``latticework.quotas`` lists them); an unknown code, or a
quota AWS does not let you adjust (auth policy size, security groups per
association), is a ``ConfigError``.

Accounts may belong to an AWS Organization, which fills the organization
condition keys of their callers (``aws:PrincipalOrgID``,
``aws:PrincipalOrgPaths``). An ``[[organizations]]`` table declares one (its
id ``o-`` and 10 to 32 lowercase letters or digits, its root ``r-`` and 4 to
32), and an account joins it with ``organization``, optionally inside
organizational units (``ou_path``, from the root down)::

    [[organizations]]
    id = "o-a1b2c3d4e5"
    root = "r-ab12"
    management_account = "111111111111"   # optional

    [[accounts]]
    id = "222222222222"
    organization = "o-a1b2c3d4e5"
    ou_path = ["ou-ab12-11111111", "ou-ab12-22222222"]
    # its callers' aws:PrincipalOrgPaths: o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/

Membership is kept per account (``Directory.memberships``), so other features
(sharing with an organization or an OU) can read it the same way.

Credentials of this file act for their account itself, like its root user
(``Identity.type`` is ``"Account"``): identity-based policies do not limit
them. IAM users' access keys and STS sessions, made through the IAM and STS
APIs, are the principals whose policies count (``snapshot.identities``).

AWS services reached through VPC endpoints (S3, DynamoDB...) are forwarded to
an upstream per service: ``latticework up --aws-upstream s3=http://127.0.0.1:5000``
(repeatable), or an ``[aws_upstreams]`` table in this file (the command line
wins for a service named in both); a service without one goes to its real
public endpoint (docs/aws-services.md)::

    [aws_upstreams]
    s3 = "http://127.0.0.1:5000"        # e.g. moto_server
    dynamodb = "http://127.0.0.1:8000"  # e.g. DynamoDB Local

Declaring accounts replaces the default one unless ``include_default = true``
is set at the top level. State defaults to ``$XDG_DATA_HOME/latticework/state.db``
(``~/.local/share/latticework/state.db``); ``--state`` or ``$LATTICEWORK_STATE``
change it.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol
from urllib.parse import urlsplit

from latticework import formats
from latticework.quotas import BY_CODE, QUOTAS, Quota

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_KEY = "test"
DEFAULT_SECRET = "test"
DEFAULT_REGION = "us-east-1"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599


class ConfigError(ValueError):
    """The configuration file is unusable; the message says why."""


@dataclass(frozen=True)
class Identity:
    """Who signs with a credential, as IAM policies and Lattice's identity headers see the caller.

    ``snapshot.identities.Identities`` builds one for every credential it answers:

    - the accounts file's credentials: ``type`` ``"Account"``; they act for the account itself, like
      its root user, and pass every identity-based check (``policies`` stays empty and means nothing).
      A ``Credential`` built elsewhere may carry no identity at all (``None``): it means the same.
    - an IAM user's access key: ``type`` ``"User"``; ``policies`` are the user's inline policies and the
      default versions of its attached managed policies.
    - an STS session (``AssumeRole``): ``type`` ``"AssumedRole"``; ``policies`` are the role's (inline
      and attached), and ``session_policy`` the policy passed to ``AssumeRole``, if any. A session policy
      only limits (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session):
      a request is allowed by identity when ``policies`` allow it AND, if there is a ``session_policy``,
      that allows it too; an explicit deny in either denies.
    """

    arn: str  # as policies name the caller: ...:user/u, arn:aws:sts::A:assumed-role/R/session, ...:root
    type: str  # aws:PrincipalType: "Account" | "User" | "AssumedRole"
    user_id: str  # aws:userid: "AIDA..." for a user, "AROA...:session" for a session, the account id for root
    account: str
    session_name: str | None = None
    role_arn: str | None = None  # an assumed-role session's role: a Principal naming the role matches its sessions
    tags: tuple[tuple[str, str], ...] = ()  # principal tags (a session's tags win over its role's)
    policies: tuple[str, ...] = ()  # identity-based policy documents (JSON): inline and attached managed
    org_id: str | None = None  # aws:PrincipalOrgID, from the accounts file
    org_path: str | None = None  # aws:PrincipalOrgPaths entry, e.g. "o-a1b2c3/r-ab12/ou-ab12-11111111/"
    session_policy: str | None = None  # an STS session's own policy (JSON): intersected with ``policies``

    @property
    def acts_as_account(self) -> bool:
        """Whether identity-based policies do not apply (the accounts file's credentials)."""
        return self.type == "Account"

    @functools.cached_property
    def condition_keys(self) -> dict[str, str | tuple[str, ...]]:
        """IAM's global condition keys describing this caller, made once (treat as read-only)
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
        An assumed role's sessions are named by the role's ARN in ``aws:PrincipalArn``, as IAM does."""
        keys: dict[str, str | tuple[str, ...]] = {
            "aws:PrincipalArn": self.role_arn or self.arn, "aws:PrincipalAccount": self.account,
            "aws:PrincipalType": self.type, "aws:userid": self.user_id}
        if self.type == "User":
            keys["aws:username"] = self.arn.rpartition("/")[2]
        if self.org_id:
            keys["aws:PrincipalOrgID"] = self.org_id
        if self.org_path:
            keys["aws:PrincipalOrgPaths"] = (self.org_path,)  # multivalued: an account sits on one path here
        keys.update((f"aws:PrincipalTag/{k}", v) for k, v in self.tags)
        return keys


@dataclass(frozen=True)
class Credential:
    access_key: str
    secret_key: str
    account_id: str
    session_token: str | None = None
    user: str | None = None
    identity: Identity | None = None  # None: the account's own credential (see ``Identity``)
    expires: dt.datetime | None = None  # temporary (STS) credentials: not valid after this instant (UTC)

    @property
    def principal_arn(self) -> str:
        if self.identity is not None:
            return self.identity.arn
        # IAM is global: its ARNs name no Region. Accounts live in the aws partition.
        return formats.arn("aws", "iam", "", self.account_id, f"user/{self.user}" if self.user else "root")

    @property
    def user_id(self) -> str:
        if self.identity is not None:
            return self.identity.user_id
        return self.access_key if self.user else self.account_id


class Credentials(Protocol):
    """Where a verifier finds the secret (and the caller) of an access key."""

    def credential(self, access_key: str) -> Credential | None: ...


ORG_ID = re.compile(r"o-[a-z0-9]{10,32}")
ORG_ROOT = re.compile(r"r-[0-9a-z]{4,32}")
ORG_UNIT = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")


@dataclass(frozen=True)
class Organization:
    id: str  # o-...
    root: str  # r-...
    management_account: str | None = None


@dataclass(frozen=True)
class Membership:
    """An account's place in its organization: the organizational units from the root down."""

    organization: str
    ou_path: tuple[str, ...] = ()


@dataclass
class Directory:
    """Accounts, the credentials that sign for them, and the organizations they belong to."""

    accounts: dict[str, str] = field(default_factory=dict)  # id -> name
    credentials: dict[str, Credential] = field(default_factory=dict)
    quotas: dict[str, dict[str, int]] = field(default_factory=dict)  # id -> quota code -> value
    organizations: dict[str, Organization] = field(default_factory=dict)  # by id
    memberships: dict[str, Membership] = field(default_factory=dict)  # account id -> membership

    def credential(self, access_key: str) -> Credential | None:
        return self.credentials.get(access_key)

    def add(self, account_id: str, name: str, creds: list[Credential], quotas: dict[str, int] | None = None) -> None:
        if len(account_id) != 12 or not account_id.isdigit():
            raise ConfigError(f"account id must be 12 digits, got {account_id!r}")
        self.accounts[account_id] = name
        if quotas:
            self.quotas[account_id] = quotas
        for cred in creds:
            if cred.access_key in self.credentials:
                raise ConfigError(f"access key {cred.access_key!r} is declared twice")
            self.credentials[cred.access_key] = cred

    def organization_of(self, account_id: str) -> tuple[str, str] | None:
        """(``aws:PrincipalOrgID``, ``aws:PrincipalOrgPaths`` entry) of an account, None outside any."""
        member = self.memberships.get(account_id)
        if member is None:
            return None
        org = self.organizations[member.organization]
        return org.id, "/".join((org.id, org.root, *member.ou_path)) + "/"

    # -- as data, for processes that never read the file (data-plane workers) --------------
    def to_json(self) -> dict:
        return {
            "accounts": self.accounts,
            "credentials": [[c.access_key, c.secret_key, c.account_id, c.session_token, c.user]
                            for c in self.credentials.values()],
            "quotas": self.quotas,
            "organizations": [[o.id, o.root, o.management_account] for o in self.organizations.values()],
            "memberships": {a: [m.organization, list(m.ou_path)] for a, m in self.memberships.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> "Directory":
        return cls(
            accounts=dict(data["accounts"]),
            credentials={c[0]: Credential(*c) for c in data["credentials"]},
            quotas={a: dict(q) for a, q in data["quotas"].items()},
            organizations={o[0]: Organization(*o) for o in data["organizations"]},
            memberships={a: Membership(m[0], tuple(m[1])) for a, m in data["memberships"].items()},
        )


def default_directory() -> Directory:
    directory = Directory()
    directory.add(DEFAULT_ACCOUNT, "default", [Credential(DEFAULT_KEY, DEFAULT_SECRET, DEFAULT_ACCOUNT)])
    return directory


def _credential(account_id: str, raw: dict) -> Credential:
    try:
        return Credential(
            access_key=str(raw["access_key_id"]),
            secret_key=str(raw["secret_access_key"]),
            account_id=account_id,
            session_token=raw.get("session_token"),
            user=raw.get("user"),
        )
    except KeyError as missing:
        raise ConfigError(f"account {account_id}: credential needs {missing.args[0]}") from None


def _lattice_quota(account_id: str, code: str) -> Quota:
    """The quota a key of ``quotas`` names (by code, or by name to say why that is refused)."""
    quota = BY_CODE.get(code) or next((q for q in QUOTAS.values() if q.name.lower() == code.lower()), None)
    if quota is None:
        adjustable = ", ".join(sorted(q.code for q in QUOTAS.values() if q.adjustable and q.code))
        raise ConfigError(f"account {account_id}: unknown VPC Lattice quota code {code!r} "
                          f"(adjustable quotas: {adjustable})")
    return quota


def _quota_override(account_id: str, code: str, value: object) -> int:
    quota = _lattice_quota(account_id, code)
    if not quota.adjustable:
        raise ConfigError(f"account {account_id}: quota {quota.name!r} cannot be adjusted (AWS does not allow it)")
    if code != quota.code:
        raise ConfigError(f"account {account_id}: name quota {quota.name!r} by its code {quota.code!r}")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"account {account_id}: quota {code} must be a non-negative integer, got {value!r}")
    return value


def _quotas(account_id: str, raw: object) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise ConfigError(f"account {account_id}: quotas must be a table of quota code = value")
    return {code: _quota_override(account_id, code, value) for code, value in raw.items()}


def _organization(raw: dict) -> Organization:
    org_id, root = str(raw.get("id", "")), str(raw.get("root", ""))
    if not ORG_ID.fullmatch(org_id):
        raise ConfigError(f"organization id must be o- and 10 to 32 lowercase letters or digits, got {org_id!r}")
    if not ORG_ROOT.fullmatch(root):
        raise ConfigError(f"organization {org_id}: root must be r- and 4 to 32 lowercase letters or digits, "
                          f"got {root!r}")
    manager = raw.get("management_account")
    return Organization(org_id, root, str(manager) if manager is not None else None)


def _membership(account_id: str, raw: dict, organizations: dict[str, Organization]) -> Membership | None:
    org_id = raw.get("organization")
    if org_id is None:
        if "ou_path" in raw:
            raise ConfigError(f"account {account_id}: ou_path needs an organization")
        return None
    if org_id not in organizations:
        raise ConfigError(f"account {account_id}: unknown organization {org_id!r} (declare it in [[organizations]])")
    path = raw.get("ou_path", [])
    if not isinstance(path, list) or not all(isinstance(u, str) and ORG_UNIT.fullmatch(u) for u in path):
        raise ConfigError(f"account {account_id}: ou_path must be a list of OU ids (ou-xxxx-xxxxxxxx)")
    return Membership(org_id, tuple(path))


def _organizations(data: dict) -> dict[str, Organization]:
    found: dict[str, Organization] = {}
    for raw in data.get("organizations", []):
        org = _organization(raw)
        if org.id in found:
            raise ConfigError(f"organization {org.id} is declared twice")
        found[org.id] = org
    return found


def load_directory(path: Path | None) -> Directory:
    """Accounts from ``path`` (TOML), or the default account when there is no file."""
    if path is None:
        return default_directory()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    directory = default_directory() if data.get("include_default") else Directory()
    directory.organizations = _organizations(data)
    for account in data.get("accounts", []):
        account_id = str(account.get("id", ""))
        creds = [_credential(account_id, c) for c in account.get("credentials", [])]
        quotas = _quotas(account_id, account.get("quotas", {}))
        directory.add(account_id, str(account.get("name", account_id)), creds, quotas)
        member = _membership(account_id, account, directory.organizations)
        if member is not None:
            directory.memberships[account_id] = member
    if not directory.credentials:
        raise ConfigError(f"{path}: no credentials declared")
    return directory


def default_state_path() -> Path:
    if env := os.environ.get("LATTICEWORK_STATE"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "latticework" / "state.db"


AWS_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")


def aws_upstream(service: str, url: str) -> tuple[str, str]:
    """A checked (service, URL) pair: a catalogue-style short name and an http(s) URL with a host."""
    parts = urlsplit(url)
    if not AWS_SERVICE_NAME.fullmatch(service):
        raise ConfigError(f"AWS upstream: {service!r} is not a service name such as s3 or dynamodb")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"AWS upstream for {service}: {url!r} must be http(s)://host[:port]")
    return service, url


def load_aws_upstreams(path: Path | None, given: Iterable[str] = ()) -> dict[str, str]:
    """AWS service -> upstream URL: the ``[aws_upstreams]`` table of the file at ``path``, then ``given``
    (``SERVICE=URL`` each, from the command line, winning)."""
    found: dict[str, str] = {}
    if path is not None:
        try:
            table = tomllib.loads(path.read_text()).get("aws_upstreams", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: aws_upstreams must be a table of service = URL")
        found.update(aws_upstream(str(k), str(v)) for k, v in table.items())
    for item in given:
        service, sep, url = item.partition("=")
        if not sep:
            raise ConfigError(f"--aws-upstream {item!r}: expected SERVICE=URL")
        found.update([aws_upstream(service.strip(), url.strip())])
    return found
