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


def _v3_fabric_hosts(conn: sa.Connection) -> None:
    """Network interfaces carrying PrivateLink traffic, made before they had fabric addresses, get one:
    the nodes of network load balancers and the interfaces of VPC endpoints (but Gateway Load Balancer
    endpoints'), per VPC the lowest free host numbers from 16 in creation order (``fabric`` describes them).
    The kinds and fields are spelled here as they were stored when this step was written."""
    kinds = ("networkinterface", "loadbalancer", "vpcendpoint")
    key = (records.c.account, records.c.region, records.c.kind, records.c.id)
    rows = conn.execute(sa.select(*key, records.c.body, records.c.internal).where(records.c.kind.in_(kinds))
                        .order_by(records.c.created_rev, records.c.id)).all()
    owners = _interface_owners(rows)
    interfaces = [(row, json.loads(row.internal or "{}")) for row in rows if row.kind == "networkinterface"]
    used: dict[str, set[int]] = {}
    for row, internal in interfaces:
        if "FabricHost" in internal:
            used.setdefault(json.loads(row.body).get("VpcId"), set()).add(internal["FabricHost"])
    for row, internal in interfaces:
        vpc_id = json.loads(row.body).get("VpcId")
        if row.id not in owners or "FabricHost" in internal or vpc_id is None:
            continue
        taken = used.setdefault(vpc_id, set())
        number = next((n for n in range(16, 255) if n not in taken), None)
        if number is None:
            continue  # a full block: the interface stays without an address, as a new one would be refused
        taken.add(number)
        internal.update(FabricHost=number, FabricOwner=owners[row.id])
        conn.execute(records.update().where(*(c == v for c, v in zip(key, row[:4]))).values(internal=_json(internal)))


def _interface_owners(rows) -> dict[str, str]:
    """Interface id -> the network load balancer or VPC endpoint it serves."""
    owners: dict[str, str] = {}
    for row in rows:
        body, internal = json.loads(row.body), json.loads(row.internal or "{}")
        if row.kind == "loadbalancer" and body.get("Type") == "network":
            owners.update({eni: row.id for eni in internal.get("interfaces", [])})
        elif row.kind == "vpcendpoint" and body.get("VpcEndpointType") != "GatewayLoadBalancer":
            owners.update({eni: row.id for eni in (internal.get("Interfaces") or {}).values()})
    return owners


def _json(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


MIGRATIONS: list[Callable[[sa.Connection], None]] = [_v1_initial, _v2_internal, _v3_fabric_hosts]


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
