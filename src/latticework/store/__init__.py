"""Durable state: records, transactions and revisions.

The control plane keeps every resource as a ``Record``: its kind (``service``,
``targetgroup``...), id, owning account and region, optional parent id (a
listener's service, a rule's listener), optional unique name, ARN, lifecycle
status, a JSON body holding the API-facing fields (the resource in its API
shape, nothing else), and a JSON ``internal`` dict holding what the family
keeps for itself (a VPC's fabric block, a subnet's allocated addresses...),
which no API answer shows. Every API call runs in
one ``Transaction``; a transaction that wrote anything commits as exactly one
new revision, a monotonically increasing integer that later code (snapshot
compilation, the data plane) can watch with ``Store.wait_revision``.

``Store`` is the interface; ``store.sql.SqlStore`` implements it over
SQLAlchemy Core (SQLite by default; PostgreSQL by URL uses the same code).
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass
class Record:
    kind: str
    id: str
    account: str
    region: str
    body: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    name: str | None = None
    arn: str | None = None
    status: str | None = None
    created_rev: int = 0
    revision: int = 0
    internal: dict[str, Any] = field(default_factory=dict)


def check_body(record: Record) -> None:
    """Refuse a body carrying internal fields: they belong in ``record.internal``.

    No API shape has a member starting with ``_``, so such a top-level key is internal data in the
    wrong place: a programming error (ValueError), never a client's."""
    hidden = [k for k in record.body if k.startswith("_")]
    if hidden:
        raise ValueError(f"{record.kind} {record.id}: body keys {hidden} look internal; "
                         "keep them in Record.internal")


LINKS: dict[str, Callable[[dict], Iterable[str]]] = {}
"""Per kind, what a record's body points at (``register_links``), for ``Transaction.linked``."""


def register_links(kind: str, extract: Callable[[dict], Iterable[str]]) -> None:
    """Let ``Transaction.linked(kind, value)`` find the records of ``kind`` whose body links to ``value``
    (say, the rules that forward to a target group) without looking through every record of the kind."""
    LINKS[kind] = extract


class NameTaken(Exception):
    """A record with the same kind, scope and name already exists."""


class Transaction(ABC):
    """One API call's view of the store, scoped to an account and region."""

    account: str
    region: str

    @abstractmethod
    def get(self, kind: str, id: str, *, account: str | None = None, region: str | None = None) -> Record | None: ...

    @abstractmethod
    def by_arn(self, arn: str) -> Record | None: ...

    @abstractmethod
    def by_name(self, kind: str, name: str, parent: str | None = None) -> Record | None: ...

    @abstractmethod
    def list(self, kind: str, *, parent: str | None = None, after: tuple[int, str] | None = None,
             limit: int | None = None, account: str | None = None, all_accounts: bool = False) -> list[Record]: ...

    @abstractmethod
    def linked(self, kind: str, value: str) -> builtins.list[Record]:  # ``list`` here is the method above
        """The caller's records of ``kind`` whose registered links include ``value`` (shared: read-only)."""

    @abstractmethod
    def count(self, kind: str, *, parent: str | None = None, all_accounts: bool = False) -> int: ...

    @abstractmethod
    def put(self, record: Record) -> Record:
        """Write ``record`` (body and internal); a body with internal-looking keys raises (``check_body``)."""

    @abstractmethod
    def delete(self, kind: str, id: str, *, account: str | None = None, region: str | None = None) -> None: ...

    @abstractmethod
    def idempotent_result(self, operation: str, token: str) -> tuple[str, dict] | None: ...

    @abstractmethod
    def remember_result(self, operation: str, token: str, fingerprint: str, result: dict) -> None: ...

    @property
    @abstractmethod
    def written(self) -> builtins.list[Record]:
        """Records put in this transaction (for post-commit work such as settling statuses)."""

    @property
    @abstractmethod
    def revision_written(self) -> int | None:
        """The revision this transaction writes, or None while it has written nothing."""


@dataclass(frozen=True)
class StoreView:
    """Committed records of some kinds, across every account and region, at one revision."""

    revision: int
    records: dict[str, list[Record]]  # kind -> records in creation order

    def of(self, kind: str) -> list[Record]:
        return self.records.get(kind, [])


class Store(ABC):
    @abstractmethod
    def transaction(self, account: str, region: str, operation: str) -> AbstractContextManager[Transaction]: ...

    @abstractmethod
    def reader(self, account: str, region: str, operation: str) -> Transaction:
        """A read-only transaction over committed state (writes raise)."""

    @abstractmethod
    def revision(self) -> int: ...

    @abstractmethod
    def view(self, kinds: Iterable[str]) -> StoreView:
        """Every committed record of ``kinds`` at the current revision (records are shared: do not mutate)."""

    @abstractmethod
    def changes(self, since: int, kinds: Iterable[str]) -> tuple[int, dict[tuple[str, str], Record | None]] | None:
        """Records of ``kinds`` written after revision ``since``: (newest revision, {(kind, id): record or
        None if deleted}); None when ``since`` is older than the store remembers (then take a ``view``)."""

    @abstractmethod
    def subscribe(self, callback) -> None:
        """Call ``callback(revision, operation)`` after each commit, on the committing thread."""

    @abstractmethod
    def wait_revision(self, after: int, timeout: float) -> int: ...

    @abstractmethod
    def unsettled(self) -> Iterable[Record]:
        """Records whose status is transitional (``*_IN_PROGRESS``), e.g. after a restart."""

    @abstractmethod
    def close(self) -> None: ...
