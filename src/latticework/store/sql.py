"""The SQL store: durable in SQL (SQLite by default), served from memory.

Every committed record is also held in an in-memory index (by key, by
account/kind order, by parent, by ARN and by unique name), loaded once when the
store opens. Reads never touch SQL; a transaction buffers its writes in an
overlay that its own reads see, and commit writes the overlay to SQL in one
database transaction (one revision row, the changed records, idempotency
results) before applying it to the index. A transaction that raises leaves
neither SQL nor the index changed.

One process owns a state file at a time (an exclusive lock beside it), so the
index is always the whole truth. Durability: SQLite in WAL mode with
``synchronous=FULL``; a commit is on disk before the API answers, so an
acknowledged write survives ``kill -9`` and power loss.
"""

from __future__ import annotations

import bisect
import collections
import fcntl
import json
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event

from latticework.store import LINKS, NameTaken, Record, Store, StoreView, Transaction, check_body
from latticework.store.schema import idempotency, migrate, records, revisions

_TRANSITIONAL = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
JOURNAL = 10_000  # commits remembered for ``changes``

Key = tuple[str, str, str, str]  # account, region, kind, id


class StoreLocked(RuntimeError):
    """Another process serves this state file."""


def _key(r: Record) -> Key:
    return (r.account, r.region, r.kind, r.id)


def _name_key(r: Record) -> tuple | None:
    return (r.account, r.region, r.kind, r.parent or "", r.name) if r.name is not None else None


def _copy(r: Record) -> Record:
    """A private copy: callers mutate what they read before putting it back."""
    return Record(r.kind, r.id, r.account, r.region, json.loads(json.dumps(r.body)), r.parent, r.name, r.arn,
                  r.status, r.created_rev, r.revision, json.loads(json.dumps(r.internal)) if r.internal else {})


class Index:
    """Committed records in memory, with the lookups transactions need."""

    def __init__(self) -> None:
        self.records: dict[Key, Record] = {}
        # Creation order, per (account, region, kind) and across accounts per ("", region, kind).
        self.order: dict[tuple[str, str, str], list[tuple[int, str, str]]] = {}
        self.children: dict[tuple[str, str, str], set[Key]] = {}  # (region, kind, parent)
        self.arns: dict[str, Key] = {}
        self.names: dict[tuple, Key] = {}
        self.tokens: dict[tuple[str, str, str, str], tuple[str, str]] = {}
        # (kind, linked value) -> keys, for kinds with registered links, built on first use.
        self.links: dict[tuple[str, str], set[Key]] = {}
        self.linked_kinds: set[str] = set()
        self.lock = threading.RLock()

    def add(self, r: Record) -> None:
        key = _key(r)
        if key in self.records:
            self.remove(key)
        self.records[key] = r
        for scope in ((r.account, r.region, r.kind), ("", r.region, r.kind)):
            bisect.insort(self.order.setdefault(scope, []), (r.created_rev, r.id, r.account))
        if r.parent is not None:
            self.children.setdefault((r.region, r.kind, r.parent), set()).add(key)
        if r.arn:
            self.arns[r.arn] = key
        if (name := _name_key(r)) is not None:
            self.names[name] = key
        if r.kind in self.linked_kinds:
            for value in LINKS[r.kind](r.body):
                self.links.setdefault((r.kind, value), set()).add(key)

    def remove(self, key: Key) -> None:
        r = self.records.pop(key, None)
        if r is None:
            return
        for scope in ((r.account, r.region, r.kind), ("", r.region, r.kind)):
            order = self.order[scope]
            del order[bisect.bisect_left(order, (r.created_rev, r.id, r.account))]
        if r.parent is not None:
            self.children[(r.region, r.kind, r.parent)].discard(key)
        if r.arn and self.arns.get(r.arn) == key:
            del self.arns[r.arn]
        if (name := _name_key(r)) is not None and self.names.get(name) == key:
            del self.names[name]
        if r.kind in self.linked_kinds:
            for value in LINKS[r.kind](r.body):
                self.links.get((r.kind, value), set()).discard(key)

    def linked(self, kind: str, value: str) -> set[Key]:
        if kind not in self.linked_kinds:  # first use: index what is there, then keep it up to date
            self.linked_kinds.add(kind)
            for key, r in self.records.items():
                if r.kind == kind:
                    for found in LINKS[kind](r.body):
                        self.links.setdefault((kind, found), set()).add(key)
        return set(self.links.get((kind, value), ()))

    def count(self, account: str, region: str, kind: str, parent: str | None) -> int:
        if parent is None:
            return len(self.order.get((account, region, kind), ()))
        children = self.children.get((region, kind, parent), ())
        return len(children) if not account else sum(1 for k in children if k[0] == account)

    def keys(self, account: str, region: str, kind: str, parent: str | None) -> list[Key]:
        """Keys of a kind in creation order: one account's (or every account's when ``account`` is
        empty), optionally only a parent's children."""
        if parent is not None:
            found = [self.records[k] for k in self.children.get((region, kind, parent), ())
                     if not account or k[0] == account]
            return [_key(r) for r in sorted(found, key=lambda r: (r.created_rev, r.id, r.account))]
        return [(owner, region, kind, id) for _, id, owner in self.order.get((account, region, kind), ())]


class SqlTransaction(Transaction):
    def __init__(self, store: "SqlStore", account: str, region: str, operation: str, writable: bool):
        self._store = store
        self._index = store._index
        self.account = account
        self.region = region
        self.operation = operation
        self._writable = writable
        self._puts: dict[Key, Record] = {}
        self._deleted: set[Key] = set()
        self._tokens: dict[tuple, tuple[str, str]] = {}
        self._written: list[Record] = []
        self._revision: int | None = None

    # -- reads ---------------------------------------------------------------
    def _lookup(self, key: Key) -> Record | None:
        if key in self._deleted:
            return None
        if key in self._puts:
            return self._puts[key]
        with self._index.lock:
            return self._index.records.get(key)

    def get(self, kind, id, *, account=None, region=None):
        found = self._lookup((account or self.account, region or self.region, kind, id))
        return _copy(found) if found else None

    def by_arn(self, arn):
        for r in self._puts.values():
            if r.arn == arn:
                return _copy(r)
        with self._index.lock:
            key = self._index.arns.get(arn)
        found = self._lookup(key) if key else None
        return _copy(found) if found and found.arn == arn else None

    def by_name(self, kind, name, parent=None):
        wanted = (self.account, self.region, kind, parent or "", name)
        for r in self._puts.values():
            if _name_key(r) == wanted:
                return _copy(r)
        with self._index.lock:
            key = self._index.names.get(wanted)
        found = self._lookup(key) if key else None
        return _copy(found) if found and _name_key(found) == wanted else None

    def _matching(self, kind, parent, account, all_accounts) -> list[Record]:
        owner = account or self.account
        with self._index.lock:
            keys = self._index.keys("" if all_accounts else owner, self.region, kind, parent)
        found = [r for k in keys if (r := self._lookup(k)) is not None]
        fresh = [r for k, r in self._puts.items() if r.kind == kind and r.region == self.region
                 and (all_accounts or r.account == owner) and (parent is None or r.parent == parent)
                 and not any(_key(f) == k for f in found)]
        return found + sorted(fresh, key=lambda r: (r.created_rev, r.id, r.account))

    def list(self, kind, *, parent=None, after=None, limit=None, account=None, all_accounts=False):
        found = self._matching(kind, parent, account, all_accounts)
        if after is not None:
            found = [r for r in found if (r.created_rev, r.id) > tuple(after)]
        return [_copy(r) for r in (found[:limit] if limit is not None else found)]

    def linked(self, kind, value):
        with self._index.lock:
            keys = self._index.linked(kind, value)
        extract = LINKS[kind]
        found = [r for k in keys if k[0] == self.account and k[1] == self.region
                 and (r := self._lookup(k)) is not None and value in extract(r.body)]
        fresh = [r for k, r in self._puts.items() if r.kind == kind and k not in keys and r.account == self.account
                 and r.region == self.region and value in extract(r.body)]
        return sorted(found + fresh, key=lambda r: (r.created_rev, r.id))

    def count(self, kind, *, parent=None, all_accounts=False):
        if self._puts or self._deleted:
            return len(self._matching(kind, parent, None, all_accounts))
        with self._index.lock:  # nothing buffered: the index answers without copying records
            return self._index.count("" if all_accounts else self.account, self.region, kind, parent)

    def idempotent_result(self, operation, token):
        key = (self.account, self.region, operation, token)
        seen: tuple[str, str] | None
        if key in self._tokens:
            seen = self._tokens[key]
        else:
            with self._index.lock:
                seen = self._index.tokens.get(key)
        return (seen[0], json.loads(seen[1])) if seen else None

    # -- writes --------------------------------------------------------------
    def _next_revision(self) -> int:
        if not self._writable:
            raise RuntimeError(f"{self.operation} runs read-only and cannot write")
        if self._revision is None:
            self._revision = self._store.revision() + 1
        return self._revision

    def _check_name(self, record: Record) -> None:
        """Names are unique per account, region, kind and parent, counting this transaction's writes."""
        name, key = _name_key(record), _key(record)
        if name is None:
            return
        if any(_name_key(r) == name and k != key for k, r in self._puts.items()):
            raise NameTaken(record.name)
        with self._index.lock:
            held = self._index.names.get(name)
        if held is not None and held != key and (holder := self._lookup(held)) is not None \
                and _name_key(holder) == name:
            raise NameTaken(record.name)

    def put(self, record):
        check_body(record)
        revision = self._next_revision()
        self._check_name(record)
        if not record.created_rev:
            record.created_rev = revision
        record.revision = revision
        key = _key(record)
        self._deleted.discard(key)
        self._puts[key] = _copy(record)
        self._written.append(record)
        return record

    def delete(self, kind, id, *, account=None, region=None):
        self._next_revision()
        key = (account or self.account, region or self.region, kind, id)
        self._puts.pop(key, None)
        self._deleted.add(key)

    def remember_result(self, operation, token, fingerprint, result):
        self._next_revision()
        self._tokens[(self.account, self.region, operation, token)] = (fingerprint, json.dumps(result, default=str))

    @property
    def written(self):
        return self._written

    @property
    def revision_written(self) -> int | None:
        return self._revision


def _row_to_record(row: sa.Row) -> Record:
    return Record(kind=row.kind, id=row.id, account=row.account, region=row.region, body=json.loads(row.body),
                  parent=row.parent, name=row.name, arn=row.arn, status=row.status,
                  created_rev=row.created_rev, revision=row.revision, internal=json.loads(row.internal))


def _json(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


def _record_values(r: Record) -> dict:
    return dict(account=r.account, region=r.region, kind=r.kind, id=r.id, parent=r.parent, scope=r.parent or "",
                name=r.name, arn=r.arn, status=r.status, body=_json(r.body), internal=_json(r.internal),
                created_rev=r.created_rev, revision=r.revision)


_KEY_MATCH = sa.and_(records.c.account == sa.bindparam("k_account"), records.c.region == sa.bindparam("k_region"),
                     records.c.kind == sa.bindparam("k_kind"), records.c.id == sa.bindparam("k_id"))


def _key_params(key: Key) -> dict:
    return dict(zip(("k_account", "k_region", "k_kind", "k_id"), key))


class _Statement:
    """A Core statement compiled once for the engine's dialect and run as driver SQL.

    Commits run the same four statements every time; compiling them per call
    (SQLAlchemy's cache-key step included) cost more than SQLite's work.
    """

    def __init__(self, stmt, dialect):
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None

    def params(self, values: dict):
        return tuple(values[name] for name in self.order) if self.order is not None else values

    def run(self, conn: sa.Connection, rows: list[dict]) -> None:
        if rows:
            conn.exec_driver_sql(self.sql, [self.params(r) for r in rows])


class SqlStore(Store):
    def __init__(self, url: str, lock_path: Path | None = None):
        self.url = url
        self._lock_file = _exclusive(lock_path) if lock_path else None
        sqlite = url.startswith("sqlite")
        self._engine = sa.create_engine(url, poolclass=sa.pool.StaticPool if sqlite else None,
                                        connect_args={"check_same_thread": False} if sqlite else {})
        if sqlite:
            event.listen(self._engine, "connect", _sqlite_pragmas)
        self._conn = self._engine.connect()
        self._write_lock = threading.RLock()
        self._changed = threading.Condition()
        migrate(self._conn)
        dialect = self._engine.dialect
        self._sql = {
            "revision": _Statement(revisions.insert(), dialect),
            "delete": _Statement(records.delete().where(_KEY_MATCH), dialect),
            "insert": _Statement(records.insert(), dialect),
            "token": _Statement(idempotency.insert(), dialect),
        }
        self._index = Index()
        self._subscribers: list = []
        # (revision, keys written) of recent commits, for followers that apply changes incrementally.
        self._journal: collections.deque[tuple[int, list[Key]]] = collections.deque(maxlen=JOURNAL)
        self._revision = self._load()

    @classmethod
    def sqlite(cls, path: Path) -> "SqlStore":
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}", lock_path=path.with_name(path.name + ".lock"))

    def _load(self) -> int:
        with self._conn.begin():
            for row in self._conn.execute(sa.select(records).order_by(records.c.created_rev, records.c.id)):
                self._index.add(_row_to_record(row))
            for row in self._conn.execute(sa.select(idempotency)):
                self._index.tokens[(row.account, row.region, row.operation, row.token)] = (row.fingerprint, row.result)
            return self._conn.execute(sa.select(sa.func.coalesce(sa.func.max(revisions.c.id), 0))).scalar_one()

    @contextmanager
    def transaction(self, account: str, region: str, operation: str) -> Iterator[SqlTransaction]:
        with self._write_lock:
            tx = SqlTransaction(self, account, region, operation, writable=True)
            yield tx
            if tx.revision_written is not None:
                self._commit(tx)

    def reader(self, account: str, region: str, operation: str) -> SqlTransaction:
        """A read-only view of committed state; safe beside a writing transaction on another thread."""
        return SqlTransaction(self, account, region, operation, writable=False)

    def _commit(self, tx: SqlTransaction) -> None:
        revision = tx.revision_written
        assert revision is not None  # only a transaction that wrote is committed
        sql = self._sql
        with self._conn.begin():
            sql["revision"].run(self._conn, [dict(id=revision, at=datetime.now(timezone.utc).isoformat(),
                                                  account=tx.account, region=tx.region, operation=tx.operation)])
            sql["delete"].run(self._conn, [_key_params(k) for k in [*tx._deleted, *tx._puts]])
            sql["insert"].run(self._conn, [_record_values(r) for r in tx._puts.values()])
            sql["token"].run(self._conn, [
                dict(account=k[0], region=k[1], operation=k[2], token=k[3], fingerprint=f, result=res)
                for k, (f, res) in tx._tokens.items()])
        self._apply(tx, revision)
        self._publish(revision, tx.operation)

    def _apply(self, tx: SqlTransaction, revision: int) -> None:
        with self._index.lock:
            for key in tx._deleted:
                self._index.remove(key)
            for record in tx._puts.values():
                self._index.add(record)
            self._index.tokens.update(tx._tokens)
            self._journal.append((revision, [*tx._deleted, *tx._puts]))

    def _publish(self, revision: int, operation: str) -> None:
        with self._changed:
            self._revision = revision
            self._changed.notify_all()
        for callback in self._subscribers:
            callback(revision, operation)

    def subscribe(self, callback) -> None:
        self._subscribers.append(callback)

    def changes(self, since: int, kinds):
        with self._index.lock:
            revision = self._journal[-1][0] if self._journal else self._revision
            if since >= revision:
                return revision, {}
            if not self._journal or self._journal[0][0] > since + 1:
                return None  # older than the journal reaches
            wanted = set(kinds)
            recent = []
            for rev, keys in reversed(self._journal):  # newest first: stop at what the caller has
                if rev <= since:
                    break
                recent.append(keys)
            found = {}
            for keys in reversed(recent):
                for key in keys:
                    if key[2] in wanted:
                        found[(key[2], key[3])] = self._index.records.get(key)
            return revision, found

    def view(self, kinds) -> StoreView:
        wanted = set(kinds)
        with self._index.lock:
            found: dict[str, list[Record]] = {kind: [] for kind in wanted}
            for (account, region, kind), order in self._index.order.items():
                if account == "" and kind in wanted:
                    found[kind].extend(self._index.records[(owner, region, kind, id)] for _, id, owner in order)
            return StoreView(self._revision, found)

    def revision(self) -> int:
        return self._revision

    def wait_revision(self, after: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self._revision > after, timeout=timeout)
            return self._revision

    def unsettled(self):
        with self._index.lock:
            return [_copy(r) for r in self._index.records.values() if r.status in _TRANSITIONAL]

    def close(self) -> None:
        with self._write_lock:
            self._conn.close()
            self._engine.dispose()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None


def _exclusive(path: Path):
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreLocked(f"{path.with_suffix('')} is in use by another Latticework process") from None
    return handle


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
