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

Declaring accounts replaces the default one unless ``include_default = true``
is set at the top level. State defaults to ``$XDG_DATA_HOME/latticework/state.db``
(``~/.local/share/latticework/state.db``); ``--state`` or ``$LATTICEWORK_STATE``
change it.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

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

    Credentials of the accounts file carry none (``Credential.identity`` is ``None``): they act
    for the account itself, like its root user, and pass every identity-based check. IAM users'
    access keys and STS sessions carry one, built from the IAM records of their account.
    """

    arn: str  # as policies name the caller: ...:user/u, arn:aws:sts::A:assumed-role/R/session, ...:root
    type: str  # aws:PrincipalType: "Account" | "User" | "AssumedRole"
    user_id: str  # aws:userid: "AIDA..." for a user, "AROA...:session" for a session, the account id for root
    account: str
    session_name: str | None = None
    role_arn: str | None = None  # an assumed-role session's role: a Principal naming the role matches its sessions
    tags: tuple[tuple[str, str], ...] = ()  # principal tags (a session's tags win over its role's)
    policies: tuple[str, ...] = ()  # identity-based policy documents (JSON): inline, attached managed, session
    org_id: str | None = None  # aws:PrincipalOrgID, from the accounts file
    org_path: str | None = None  # aws:PrincipalOrgPaths entry, e.g. "o-a1b2c3/r-ab12/ou-ab12-11111111/"


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


@dataclass
class Directory:
    """Accounts and the credentials that sign for them."""

    accounts: dict[str, str] = field(default_factory=dict)  # id -> name
    credentials: dict[str, Credential] = field(default_factory=dict)
    quotas: dict[str, dict[str, int]] = field(default_factory=dict)  # id -> quota code -> value

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


def load_directory(path: Path | None) -> Directory:
    """Accounts from ``path`` (TOML), or the default account when there is no file."""
    if path is None:
        return default_directory()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    directory = default_directory() if data.get("include_default") else Directory()
    for account in data.get("accounts", []):
        account_id = str(account.get("id", ""))
        creds = [_credential(account_id, c) for c in account.get("credentials", [])]
        quotas = _quotas(account_id, account.get("quotas", {}))
        directory.add(account_id, str(account.get("name", account_id)), creds, quotas)
    if not directory.credentials:
        raise ConfigError(f"{path}: no credentials declared")
    return directory


def default_state_path() -> Path:
    if env := os.environ.get("LATTICEWORK_STATE"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "latticework" / "state.db"
