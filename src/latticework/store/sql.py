"""The SQL store (SQLAlchemy Core): SQLite on disk by default, PostgreSQL by URL.

Durability: SQLite runs in WAL mode with ``synchronous=FULL``, so a commit is
on disk before the API answers; an acknowledged write survives ``kill -9``
and power loss. One connection serves every transaction, driven by the API's
single worker thread, so SQLite never sees two writers.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event

from latticework.store import NameTaken, Record, Store, Transaction
from latticework.store.schema import migrate, records, idempotency, revisions

_TRANSITIONAL = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")


def _row_to_record(row: sa.Row) -> Record:
    return Record(
        kind=row.kind, id=row.id, account=row.account, region=row.region, body=json.loads(row.body),
        parent=row.parent, name=row.name, arn=row.arn, status=row.status,
        created_rev=row.created_rev, revision=row.revision,
    )


class SqlTransaction(Transaction):
    def __init__(self, store: "SqlStore", conn: sa.Connection, account: str, region: str, operation: str):
        self._store = store
        self._conn = conn
        self.account = account
        self.region = region
        self.operation = operation
        self._revision: int | None = None
        self._written: list[Record] = []

    # -- reads ---------------------------------------------------------------
    def _scope(self, account: str | None, region: str | None):
        return sa.and_(records.c.account == (account or self.account), records.c.region == (region or self.region))

    def get(self, kind, id, *, account=None, region=None):
        row = self._conn.execute(
            sa.select(records).where(self._scope(account, region), records.c.kind == kind, records.c.id == id)
        ).first()
        return _row_to_record(row) if row else None

    def by_arn(self, arn):
        row = self._conn.execute(sa.select(records).where(records.c.arn == arn)).first()
        return _row_to_record(row) if row else None

    def by_name(self, kind, name, parent=None):
        row = self._conn.execute(sa.select(records).where(
            self._scope(None, None), records.c.kind == kind, records.c.name == name,
            records.c.scope == (parent or ""),
        )).first()
        return _row_to_record(row) if row else None

    def _filtered(self, query, kind, parent, account, all_accounts):
        query = query.where(records.c.kind == kind)
        if not all_accounts:
            query = query.where(self._scope(account, None))
        else:
            query = query.where(records.c.region == self.region)
        if parent is not None:
            query = query.where(records.c.parent == parent)
        return query

    def list(self, kind, *, parent=None, after=None, limit=None, account=None, all_accounts=False):
        query = self._filtered(sa.select(records), kind, parent, account, all_accounts)
        if after is not None:
            query = query.where(sa.tuple_(records.c.created_rev, records.c.id) > sa.tuple_(*after))
        query = query.order_by(records.c.created_rev, records.c.id)
        if limit is not None:
            query = query.limit(limit)
        return [_row_to_record(r) for r in self._conn.execute(query)]

    def count(self, kind, *, parent=None):
        query = self._filtered(sa.select(sa.func.count()).select_from(records), kind, parent, None, False)
        return self._conn.execute(query).scalar_one()

    # -- writes --------------------------------------------------------------
    def _next_revision(self) -> int:
        if self._revision is None:
            result = self._conn.execute(revisions.insert().values(
                at=datetime.now(timezone.utc).isoformat(), account=self.account, region=self.region,
                operation=self.operation,
            ))
            self._revision = result.inserted_primary_key[0]
        return self._revision

    def put(self, record):
        revision = self._next_revision()
        values = dict(
            kind=record.kind, id=record.id, account=record.account, region=record.region,
            parent=record.parent, scope=record.parent or "", name=record.name, arn=record.arn,
            status=record.status, body=json.dumps(record.body, separators=(",", ":")), revision=revision,
        )
        key = sa.and_(records.c.account == record.account, records.c.region == record.region,
                      records.c.kind == record.kind, records.c.id == record.id)
        try:
            if record.created_rev:
                self._conn.execute(records.update().where(key).values(**values))
            else:
                record.created_rev = revision
                self._conn.execute(records.insert().values(created_rev=revision, **values))
        except sa.exc.IntegrityError as exc:
            raise NameTaken(record.name) from exc
        record.revision = revision
        self._written.append(record)
        return record

    def delete(self, kind, id, *, account=None):
        self._next_revision()
        self._conn.execute(records.delete().where(
            self._scope(account, None), records.c.kind == kind, records.c.id == id))

    def idempotent_result(self, operation, token):
        row = self._conn.execute(sa.select(idempotency).where(
            idempotency.c.account == self.account, idempotency.c.region == self.region,
            idempotency.c.operation == operation, idempotency.c.token == token,
        )).first()
        return (row.fingerprint, json.loads(row.result)) if row else None

    def remember_result(self, operation, token, fingerprint, result):
        self._next_revision()
        self._conn.execute(idempotency.insert().values(
            account=self.account, region=self.region, operation=operation, token=token,
            fingerprint=fingerprint, result=json.dumps(result, default=str),
        ))

    @property
    def written(self):
        return self._written

    @property
    def revision_written(self) -> int | None:
        return self._revision


class SqlStore(Store):
    def __init__(self, url: str):
        self.url = url
        self._engine = sa.create_engine(url, poolclass=sa.pool.StaticPool if url.startswith("sqlite") else None,
                                        connect_args={"check_same_thread": False} if url.startswith("sqlite") else {})
        if url.startswith("sqlite"):
            event.listen(self._engine, "connect", _sqlite_pragmas)
        self._conn = self._engine.connect()
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        migrate(self._conn)
        self._revision = self._read_revision()

    @classmethod
    def sqlite(cls, path: Path) -> "SqlStore":
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}")

    def _read_revision(self) -> int:
        with self._conn.begin():
            return self._conn.execute(sa.select(sa.func.coalesce(sa.func.max(revisions.c.id), 0))).scalar_one()

    @contextmanager
    def transaction(self, account: str, region: str, operation: str) -> Iterator[SqlTransaction]:
        with self._lock:
            tx = SqlTransaction(self, self._conn, account, region, operation)
            with self._conn.begin():
                yield tx
            if tx.revision_written is not None:
                self._publish(tx.revision_written)

    def _publish(self, revision: int) -> None:
        with self._changed:
            self._revision = revision
            self._changed.notify_all()

    def revision(self) -> int:
        return self._revision

    def wait_revision(self, after: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self._revision > after, timeout=timeout)
            return self._revision

    def unsettled(self):
        with self._lock, self._conn.begin():
            rows = self._conn.execute(sa.select(records).where(records.c.status.in_(_TRANSITIONAL))).all()
        return [_row_to_record(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self._engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
