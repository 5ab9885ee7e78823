"""``store.sql.SqlStore`` on a temporary SQLite file.

Revisions: each transaction that writes commits exactly one new revision;
read-only ones none; an exception rolls everything back. Names are unique per
account, region, kind and parent. Lists are ordered by creation and page with
``after``. Opening a store twice is harmless (migrations are idempotent), and
``wait_revision`` wakes when another thread commits. A record's ``internal``
dict is stored beside its body; a body may not carry internal-looking
(``_``-prefixed) keys, and a database from before the ``internal`` column
opens with such keys moved there.
"""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from latticework.store import NameTaken, Record, register_links
from latticework.store.schema import MIGRATIONS
from latticework.store.sql import SqlStore, StoreLocked

A, B = "111111111111", "222222222222"
REGION = "us-east-1"


def open_store(path):
    opened = SqlStore.sqlite(path)
    # The server's start-up reads unsettled records before serving; doing the
    # same here keeps the other tests independent of
    # test_fresh_store_accepts_a_transaction_at_once.
    opened.unsettled()
    return opened


@pytest.fixture
def store(tmp_path):
    opened = open_store(tmp_path / "state.db")
    yield opened
    opened.close()


def test_fresh_store_accepts_a_transaction_at_once(tmp_path):
    fresh = SqlStore.sqlite(tmp_path / "state.db")
    try:
        put(fresh, record("sn-1", name="a"))
        assert fresh.revision() == 1
    finally:
        fresh.close()


def record(id: str, *, name=None, parent=None, account=A, region=REGION, kind="servicenetwork", status=None):
    return Record(kind, id, account, region, {"id": id, "name": name}, parent=parent, name=name,
                  arn=f"arn:aws:vpc-lattice:{region}:{account}:{kind}/{id}", status=status)


def put(store, *records, account=A, region=REGION):
    with store.transaction(account, region, "Test") as tx:
        for r in records:
            tx.put(r)


def test_empty_store_is_at_revision_zero(store):
    assert store.revision() == 0


def test_each_writing_transaction_adds_exactly_one_revision(store):
    put(store, record("sn-1", name="a"), record("sn-2", name="b"))
    assert store.revision() == 1
    with store.transaction(A, REGION, "Test") as tx:
        r = tx.get("servicenetwork", "sn-1")
        r.body["authType"] = "AWS_IAM"
        tx.put(r)
        tx.delete("servicenetwork", "sn-2")
    assert store.revision() == 2


def test_read_only_transactions_add_no_revision(store):
    put(store, record("sn-1", name="a"))
    with store.transaction(A, REGION, "Read") as tx:
        assert tx.get("servicenetwork", "sn-1").name == "a"
        tx.list("servicenetwork")
        tx.count("servicenetwork")
    assert store.revision() == 1


def test_revisions_are_recorded_on_records(store):
    put(store, record("sn-1", name="a"))
    put(store, record("sn-2", name="b"))
    with store.transaction(A, REGION, "Read") as tx:
        first, second = tx.get("servicenetwork", "sn-1"), tx.get("servicenetwork", "sn-2")
    assert (first.created_rev, first.revision, second.created_rev) == (1, 1, 2)


def test_exception_rolls_back_everything(store):
    put(store, record("sn-1", name="a"))
    with pytest.raises(RuntimeError):
        with store.transaction(A, REGION, "Test") as tx:
            tx.put(record("sn-2", name="b"))
            tx.delete("servicenetwork", "sn-1")
            raise RuntimeError("provider failed")
    assert store.revision() == 1
    with store.transaction(A, REGION, "Read") as tx:
        assert tx.get("servicenetwork", "sn-1") is not None
        assert tx.get("servicenetwork", "sn-2") is None
    put(store, record("sn-3", name="c"))
    assert store.revision() == 2  # the rolled-back revision number is not published


def test_duplicate_name_in_scope_is_taken(store):
    put(store, record("sn-1", name="payments"))
    with pytest.raises(NameTaken):
        put(store, record("sn-2", name="payments"))
    assert store.revision() == 1


def test_same_name_in_other_scopes(store):
    put(store, record("sn-1", name="payments"))
    put(store, record("sn-2", name="payments", account=B), account=B)
    put(store, record("sn-3", name="payments", region="eu-west-1"), region="eu-west-1")
    put(store, record("svc-1", name="payments", kind="service"))
    put(store, record("l-1", name="http", kind="listener", parent="svc-1"),
        record("l-2", name="http", kind="listener", parent="svc-2"))
    with pytest.raises(NameTaken):
        put(store, record("l-3", name="http", kind="listener", parent="svc-1"))


def test_unnamed_records_never_collide(store):
    put(store, record("t-1", kind="target", parent="tg-1"), record("t-2", kind="target", parent="tg-1"))
    with store.transaction(A, REGION, "Read") as tx:
        assert tx.count("target", parent="tg-1") == 2


def test_lookups_are_scoped(store):
    put(store, record("sn-1", name="a"))
    with store.transaction(B, REGION, "Read") as tx:
        assert tx.get("servicenetwork", "sn-1") is None
        assert tx.by_name("servicenetwork", "a") is None
        assert tx.get("servicenetwork", "sn-1", account=A).id == "sn-1"
    with store.transaction(A, "eu-west-1", "Read") as tx:
        assert tx.get("servicenetwork", "sn-1") is None
        assert tx.list("servicenetwork") == []
    with store.transaction(A, REGION, "Read") as tx:
        assert tx.by_arn(record("sn-1").arn).id == "sn-1"
        assert tx.by_name("servicenetwork", "a").id == "sn-1"


def test_list_order_and_paging(store):
    ids = [f"sn-{n}" for n in (5, 3, 9, 1, 7)]
    for id in ids:
        put(store, record(id, name=id))
    put(store, record("sn-x1", name="x1"), record("sn-x0", name="x0"))  # one revision: ordered by id
    expected = ids + ["sn-x0", "sn-x1"]
    with store.transaction(A, REGION, "Read") as tx:
        everything = tx.list("servicenetwork")
        assert [r.id for r in everything] == expected
        pages, after = [], None
        while True:
            page = tx.list("servicenetwork", after=after, limit=2)
            if not page:
                break
            pages.append([r.id for r in page])
            after = (page[-1].created_rev, page[-1].id)
    assert pages == [expected[i:i + 2] for i in range(0, len(expected), 2)]


def test_list_by_parent_and_across_accounts(store):
    put(store, record("snva-1", kind="snva", parent="sn-1"), record("snva-2", kind="snva", parent="sn-2"))
    put(store, record("snva-3", kind="snva", parent="sn-1", account=B), account=B)
    with store.transaction(A, REGION, "Read") as tx:
        assert [r.id for r in tx.list("snva", parent="sn-1")] == ["snva-1"]
        assert [r.id for r in tx.list("snva", parent="sn-1", all_accounts=True)] == ["snva-1", "snva-3"]
        assert [r.id for r in tx.list("snva", account=B)] == ["snva-3"]


def test_idempotency_results_are_kept(store):
    with store.transaction(A, REGION, "CreateServiceNetwork") as tx:
        assert tx.idempotent_result("CreateServiceNetwork", "tok") is None
        tx.remember_result("CreateServiceNetwork", "tok", "f" * 64, {"id": "sn-1"})
    assert store.revision() == 1
    with store.transaction(A, REGION, "CreateServiceNetwork") as tx:
        assert tx.idempotent_result("CreateServiceNetwork", "tok") == ("f" * 64, {"id": "sn-1"})
    with store.transaction(B, REGION, "CreateServiceNetwork") as tx:
        assert tx.idempotent_result("CreateServiceNetwork", "tok") is None


def test_unsettled_records(store):
    put(store, record("svc-1", name="a", kind="service", status="CREATE_IN_PROGRESS"),
        record("svc-2", name="b", kind="service", status="ACTIVE"))
    assert [r.id for r in store.unsettled()] == ["svc-1"]


def test_reopening_keeps_data_and_migrations_are_idempotent(tmp_path):
    path = tmp_path / "state.db"
    first = open_store(path)
    put(first, record("sn-1", name="a"))
    first.close()
    for _ in range(2):
        again = open_store(path)
        assert again.revision() == 1
        with again.transaction(A, REGION, "Read") as tx:
            assert tx.get("servicenetwork", "sn-1").name == "a"
        again.close()


def test_one_process_owns_a_state_file(tmp_path):
    one = open_store(tmp_path / "s.db")
    with pytest.raises(StoreLocked, match="in use"):
        SqlStore.sqlite(tmp_path / "s.db")
    put(one, record("sn-1", name="a"))
    one.close()
    two = open_store(tmp_path / "s.db")
    try:
        with two.transaction(A, REGION, "Read") as tx:
            assert tx.get("servicenetwork", "sn-1") is not None
    finally:
        two.close()


def test_reads_see_the_transactions_own_writes_and_only_committed_state_outside(store):
    put(store, record("sn-1", name="a"))
    with store.transaction(A, REGION, "Write") as tx:
        tx.put(record("sn-2", name="b"))
        tx.delete("servicenetwork", "sn-1")
        assert [r.id for r in tx.list("servicenetwork")] == ["sn-2"]
        outside = store.reader(A, REGION, "Read")
        assert [r.id for r in outside.list("servicenetwork")] == ["sn-1"]
        with pytest.raises(NameTaken):
            tx.put(record("sn-3", name="b"))
        tx.put(record("sn-4", name="a"))  # the deleted record's name is free again
    assert [r.id for r in store.reader(A, REGION, "Read").list("servicenetwork")] == ["sn-2", "sn-4"]


def test_readers_cannot_write(store):
    with pytest.raises(RuntimeError, match="read-only"):
        store.reader(A, REGION, "GetThing").put(record("sn-1", name="a"))


def test_wait_revision_wakes_on_commit_from_another_thread(store):
    started = threading.Event()
    woke = []

    def waiter():
        started.set()
        woke.append(store.wait_revision(0, timeout=30))

    thread = threading.Thread(target=waiter)
    thread.start()
    started.wait(10)
    put(store, record("sn-1", name="a"))
    thread.join(30)
    assert woke == [1]


def test_wait_revision_returns_at_once_when_already_past(store):
    put(store, record("sn-1", name="a"))
    assert store.wait_revision(0, timeout=30) == 1
    assert store.wait_revision(1, timeout=0) == 1


# -- links ------------------------------------------------------------------------------------------

register_links("linktest", lambda body: body.get("to", ()))


def linking(id: str, *to: str, account=A) -> Record:
    return Record("linktest", id, account, REGION, {"to": list(to)}, arn=f"arn:linktest/{id}")


def test_linked_finds_committed_and_pending_records_of_the_callers_account(store):
    put(store, linking("r-1", "tg-a"), linking("r-2", "tg-a", "tg-b"))
    put(store, linking("r-9", "tg-a", account=B), account=B)
    with store.transaction(A, REGION, "Test") as tx:
        assert [r.id for r in tx.linked("linktest", "tg-a")] == ["r-1", "r-2"]  # B's record stays B's
        tx.put(linking("r-3", "tg-a"))
        tx.put(linking("r-2", "tg-b"))  # no longer links to tg-a
        tx.delete("linktest", "r-1")
        assert [r.id for r in tx.linked("linktest", "tg-a")] == ["r-3"]
    reader = store.reader(A, REGION, "Test")
    assert [r.id for r in reader.linked("linktest", "tg-a")] == ["r-3"]
    assert [r.id for r in reader.linked("linktest", "tg-b")] == ["r-2"]
    assert reader.linked("linktest", "tg-none") == []


# -- internal fields --------------------------------------------------------------------------------

def test_internal_fields_are_stored_beside_the_body(tmp_path):
    path = tmp_path / "state.db"
    first = open_store(path)
    vpc = Record("vpc", "vpc-1", A, REGION, {"VpcId": "vpc-1"}, internal={"FabricIndex": 3, "Attributes": {"x": 1}})
    put(first, vpc)
    with first.transaction(A, REGION, "Write") as tx:
        got = tx.get("vpc", "vpc-1")
        assert got.body == {"VpcId": "vpc-1"} and got.internal == {"FabricIndex": 3, "Attributes": {"x": 1}}
        got.internal["Attributes"]["x"] = 2  # a copy: the committed record is untouched until put
        assert tx.get("vpc", "vpc-1").internal["Attributes"] == {"x": 1}
        tx.put(got)
    assert store_view_internal(first) == {"FabricIndex": 3, "Attributes": {"x": 2}}
    first.close()
    again = open_store(path)
    try:
        assert store_view_internal(again) == {"FabricIndex": 3, "Attributes": {"x": 2}}
        assert again.reader(A, REGION, "Read").get("vpc", "vpc-1").body == {"VpcId": "vpc-1"}
    finally:
        again.close()


def store_view_internal(store) -> dict:
    [vpc] = store.view(["vpc"]).of("vpc")
    return vpc.internal


def test_put_refuses_a_body_with_internal_looking_keys(store):
    with pytest.raises(ValueError, match="_FabricIndex"):
        put(store, Record("vpc", "vpc-1", A, REGION, {"VpcId": "vpc-1", "_FabricIndex": 0}))
    assert store.revision() == 0
    with store.transaction(A, REGION, "Write") as tx:
        tx.put(Record("vpc", "vpc-2", A, REGION, {"VpcId": "vpc-2", "Nested": {"_Allowed": True}}))
    assert store.reader(A, REGION, "Read").get("vpc", "vpc-2").body["Nested"] == {"_Allowed": True}


# The records table and its companions as schema version 1 created them, before the ``internal`` column.
V1_TABLES = """
CREATE TABLE records (
    account VARCHAR(12) NOT NULL, region VARCHAR(32) NOT NULL, kind VARCHAR(48) NOT NULL, id VARCHAR(128) NOT NULL,
    parent VARCHAR(128), scope VARCHAR(128) NOT NULL, name VARCHAR(255), arn VARCHAR(2048), status VARCHAR(32),
    body TEXT NOT NULL, created_rev INTEGER NOT NULL, revision INTEGER NOT NULL,
    PRIMARY KEY (account, region, kind, id),
    CONSTRAINT records_unique_name UNIQUE (account, region, kind, scope, name));
CREATE TABLE revisions (id INTEGER PRIMARY KEY AUTOINCREMENT, at VARCHAR(40) NOT NULL, account VARCHAR(12) NOT NULL,
    region VARCHAR(32) NOT NULL, operation VARCHAR(128) NOT NULL);
CREATE TABLE idempotency (account VARCHAR(12) NOT NULL, region VARCHAR(32) NOT NULL, operation VARCHAR(128) NOT NULL,
    token VARCHAR(128) NOT NULL, fingerprint VARCHAR(64) NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (account, region, operation, token));
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
INSERT INTO revisions (id, at, account, region, operation) VALUES (1, '2026-01-01T00:00:00+00:00', '', '', 'Test');
"""


def _v1_database(path, bodies: dict[tuple[str, str], dict]) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(V1_TABLES)
        for (kind, id), body in bodies.items():
            db.execute("INSERT INTO records (account, region, kind, id, scope, body, created_rev, revision) "
                       "VALUES (?, ?, ?, ?, '', ?, 1, 1)", (A, REGION, kind, id, json.dumps(body)))
    db.close()


def test_a_version_1_database_opens_with_internal_fields_moved_out_of_bodies(tmp_path):
    path = tmp_path / "state.db"
    _v1_database(path, {
        ("vpc", "vpc-1"): {"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "_FabricIndex": 0,
                           "_Attributes": {"EnableDnsSupport": True}, "_MainRouteTableId": "rtb-1"},
        ("subnet", "subnet-1"): {"SubnetId": "subnet-1", "_Allocated": ["10.0.1.4"],
                                 "Nested": {"_Kept": 1}},
        ("service", "svc-1"): {"id": "svc-1", "name": "plain"},
    })
    opened = open_store(path)
    try:
        reader = opened.reader(A, REGION, "Read")
        vpc, subnet, service = (reader.get("vpc", "vpc-1"), reader.get("subnet", "subnet-1"),
                                reader.get("service", "svc-1"))
        assert vpc.body == {"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}
        assert vpc.internal == {"FabricIndex": 0, "Attributes": {"EnableDnsSupport": True},
                                "MainRouteTableId": "rtb-1"}
        assert subnet.body == {"SubnetId": "subnet-1", "Nested": {"_Kept": 1}}  # only top-level keys move
        assert subnet.internal == {"Allocated": ["10.0.1.4"]}
        assert service.body == {"id": "svc-1", "name": "plain"} and service.internal == {}
        assert opened.revision() == 1
        with opened.transaction(A, REGION, "Write") as tx:  # and it keeps working
            subnet.internal["Allocated"].append("10.0.1.5")
            tx.put(subnet)
    finally:
        opened.close()
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT id, internal FROM records").fetchall())
        assert db.execute("SELECT max(version) FROM schema_version").fetchone() == (len(MIGRATIONS),)
    db.close()
    assert json.loads(rows["subnet-1"]) == {"Allocated": ["10.0.1.4", "10.0.1.5"]}
    assert json.loads(rows["svc-1"]) == {}
    again = open_store(path)  # the migration ran once: opening again changes nothing
    try:
        assert again.reader(A, REGION, "Read").get("vpc", "vpc-1").internal["FabricIndex"] == 0
    finally:
        again.close()


def test_privatelink_interfaces_of_an_older_database_get_fabric_host_numbers(tmp_path):
    path = tmp_path / "state.db"
    eni = lambda id, vpc: {"NetworkInterfaceId": id, "VpcId": vpc}  # noqa: E731
    _v1_database(path, {
        ("loadbalancer", "lb1"): {"Type": "network", "_interfaces": ["eni-1", "eni-2"]},
        ("loadbalancer", "alb1"): {"Type": "application", "_interfaces": ["eni-3"]},
        ("vpcendpoint", "vpce-1"): {"VpcEndpointType": "Interface", "_Interfaces": {"subnet-1": "eni-4"}},
        ("vpcendpoint", "vpce-2"): {"VpcEndpointType": "GatewayLoadBalancer", "_Interfaces": {"subnet-1": "eni-5"}},
        **{("networkinterface", f"eni-{n}"): eni(f"eni-{n}", "vpc-1") for n in (1, 2, 3, 5)},
        ("networkinterface", "eni-4"): eni("eni-4", "vpc-2"),
    })
    opened = open_store(path)
    try:
        reader = opened.reader(A, REGION, "Read")
        internal = {n: reader.get("networkinterface", f"eni-{n}").internal for n in range(1, 6)}
    finally:
        opened.close()
    assert internal[1] == {"FabricHost": 16, "FabricOwner": "lb1"} and internal[2]["FabricHost"] == 17
    assert internal[4] == {"FabricHost": 16, "FabricOwner": "vpce-1"}  # another VPC: its own numbers
    assert internal[3] == {} and internal[5] == {}  # an ALB's, a Gateway Load Balancer endpoint's
