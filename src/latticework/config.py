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

Declaring accounts replaces the default one unless ``include_default = true``
is set at the top level. State defaults to ``$XDG_DATA_HOME/latticework/state.db``
(``~/.local/share/latticework/state.db``); ``--state`` or ``$LATTICEWORK_STATE``
change it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_KEY = "test"
DEFAULT_SECRET = "test"
DEFAULT_REGION = "us-east-1"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599


class ConfigError(ValueError):
    """The configuration file is unusable; the message says why."""


@dataclass(frozen=True)
class Credential:
    access_key: str
    secret_key: str
    account_id: str
    session_token: str | None = None
    user: str | None = None

    @property
    def principal_arn(self) -> str:
        if self.user:
            return f"arn:aws:iam::{self.account_id}:user/{self.user}"
        return f"arn:aws:iam::{self.account_id}:root"

    @property
    def user_id(self) -> str:
        return self.access_key if self.user else self.account_id


@dataclass
class Directory:
    """Accounts and the credentials that sign for them."""

    accounts: dict[str, str] = field(default_factory=dict)  # id -> name
    credentials: dict[str, Credential] = field(default_factory=dict)

    def credential(self, access_key: str) -> Credential | None:
        return self.credentials.get(access_key)

    def add(self, account_id: str, name: str, creds: list[Credential]) -> None:
        if len(account_id) != 12 or not account_id.isdigit():
            raise ConfigError(f"account id must be 12 digits, got {account_id!r}")
        self.accounts[account_id] = name
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
        directory.add(account_id, str(account.get("name", account_id)), creds)
    if not directory.credentials:
        raise ConfigError(f"{path}: no credentials declared")
    return directory


def default_state_path() -> Path:
    if env := os.environ.get("LATTICEWORK_STATE"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "latticework" / "state.db"
