"""Tables and schema migrations.

``migrate`` brings any database to the current schema by applying, in order,
the steps after the version recorded in ``schema_version``. A step is a plain
function of a connection; add new ones at the end, never edit old ones.
``_v1_initial`` creates the tables from the current definitions, so a fresh
database already has every later column: a step that adds a column checks
first.
"""

from __future__ import annotations

import json
from typing import Callable

import sqlalchemy as sa

metadata = sa.MetaData()

records = sa.Table(
    "records", metadata,
    sa.Column("account", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(48), primary_key=True),
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("parent", sa.String(128)),
    sa.Column("scope", sa.String(128), nullable=False, default=""),
    sa.Column("name", sa.String(255)),
    sa.Column("arn", sa.String(2048)),
    sa.Column("status", sa.String(32)),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("internal", sa.Text, nullable=False, default="{}", server_default="{}"),
    sa.Column("created_rev", sa.Integer, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Index("records_parent", "account", "region", "kind", "parent"),
    sa.Index("records_arn", "arn"),
    sa.Index("records_status", "status"),
    sa.Index("records_order", "account", "region", "kind", "created_rev", "id"),
    # Names are unique per account, region, kind and scope (the parent, or ''
    # for top-level resources). NULL names (unnamed kinds) never collide.
    sa.UniqueConstraint("account", "region", "kind", "scope", "name", name="records_unique_name"),
)

revisions = sa.Table(
    "revisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("account", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("operation", sa.String(128), nullable=False),
    sqlite_autoincrement=True,
)

idempotency = sa.Table(
    "idempotency", metadata,
    sa.Column("account", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("operation", sa.String(128), primary_key=True),
    sa.Column("token", sa.String(128), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("result", sa.Text, nullable=False),
)

schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))


def _v1_initial(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[records, revisions, idempotency])


def _v2_internal(conn: sa.Connection) -> None:
    """Records get an ``internal`` column, and every top-level body key starting with ``_`` moves
    there, without its underscore (``_Cidrs`` -> ``internal["Cidrs"]``): bodies keep the API shape only."""
    if "internal" not in {c["name"] for c in sa.inspect(conn).get_columns("records")}:
        conn.execute(sa.text("ALTER TABLE records ADD COLUMN internal TEXT NOT NULL DEFAULT '{}'"))
    key = (records.c.account, records.c.region, records.c.kind, records.c.id)
    for row in conn.execute(sa.select(*key, records.c.body, records.c.internal)).all():
        body = json.loads(row.body)
        hidden = [k for k in body if k.startswith("_")]
        if not hidden:
            continue
        internal = {**json.loads(row.internal or "{}"), **{k[1:]: body.pop(k) for k in hidden}}
        conn.execute(records.update().where(*(c == v for c, v in zip(key, row[:4])))
                     .values(body=_json(body), internal=_json(internal)))


def _json(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


MIGRATIONS: list[Callable[[sa.Connection], None]] = [_v1_initial, _v2_internal]


def current_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar_one() or 0


def migrate(conn: sa.Connection) -> int:
    """Apply pending migrations in one transaction; return the resulting version."""
    with conn.begin():
        schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
        for step, apply in enumerate(MIGRATIONS[version:], start=version + 1):
            apply(conn)
            conn.execute(schema_version.insert().values(version=step))
            version = step
    return version
