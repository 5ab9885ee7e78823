"""The feed between the server and its data-plane workers: records, framing, the channel, health views."""

from __future__ import annotations

import asyncio
import json
import socket
import struct

import pytest
from hypothesis import given, strategies as st

from latticework.dataplane import feed
from latticework.dataplane.health import HEALTHY, INITIAL, UNHEALTHY
from latticework.dataplane.plane import Limits
from latticework.dataplane.worker import HealthView
from latticework.store import Record

json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                          max_size=3), max_leaves=8)
records = st.builds(Record, kind=st.sampled_from(["service", "target", "vpc"]), id=st.text(min_size=1, max_size=12),
                    account=st.just("111122223333"), region=st.just("us-east-1"),
                    body=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
                    parent=st.none() | st.text(max_size=6), name=st.none() | st.text(max_size=6),
                    arn=st.none() | st.text(max_size=20), status=st.none() | st.sampled_from(["ACTIVE", "DRAINING"]),
                    created_rev=st.integers(0, 10**6), revision=st.integers(0, 10**6),
                    internal=st.dictionaries(st.text(max_size=6), json_values, max_size=2))


def through_json(message: feed.Message) -> feed.Message:
    """What the other side decodes from the frame of ``message``."""
    framed = feed.frame(message)
    (length,) = struct.unpack(">I", framed[:4])
    assert length == len(framed) - 4
    return json.loads(framed[4:])


@given(st.lists(records, max_size=5))
def test_a_load_carries_every_record_unchanged(found):
    by_kind: dict[str, list[Record]] = {}
    for r in found:
        by_kind.setdefault(r.kind, []).append(r)
    message = through_json(feed.load(7, by_kind))
    assert message["revision"] == 7 and feed.loaded_records(message) == by_kind


@given(st.dictionaries(st.tuples(st.sampled_from(["service", "target"]), st.text(min_size=1, max_size=6)),
                       st.none() | records, max_size=5))
def test_changes_carry_records_and_deletions(changed):
    message = through_json(feed.changes(9, changed))
    assert message["revision"] == 9 and feed.changed_records(message) == changed


def test_hello_carries_the_limits():
    limits = Limits(max_header_count=10, drain_seconds=1.5)
    message = through_json(feed.hello("/state", "127.64.0.0/10", limits))
    assert feed.limits_of(message) == limits and message["fabric"] == "127.64.0.0/10"


def test_a_channel_delivers_whole_messages_in_order_and_reports_the_peer_gone():
    async def scenario():
        left, right = socket.socketpair()
        a, b = await feed.Channel.over(left), await feed.Channel.over(right)
        big = {"t": "load", "blob": "x" * 3_000_000}  # larger than any socket buffer
        for message in ({"t": "one"}, big, {"t": "two"}):
            a.send(message)
        assert [await b.receive() for _ in range(3)] == [{"t": "one"}, big, {"t": "two"}]
        a.close()
        with pytest.raises(feed.ChannelClosed):
            await b.receive()
        b.close()
    asyncio.run(scenario())


def test_a_frame_longer_than_any_message_closes_the_channel():
    async def scenario():
        left, right = socket.socketpair()
        b = await feed.Channel.over(right)
        left.sendall(struct.pack(">I", feed.MAX_MESSAGE + 1))
        with pytest.raises(feed.ChannelClosed):
            await b.receive()
        left.close()
        b.close()
    asyncio.run(scenario())


def test_health_view_follows_set_and_clear_and_moves_its_generation():
    view = HealthView()
    assert view.state("tg-1", "t1") == INITIAL
    view.update({"t": "health", "set": [["tg-1", "t1", HEALTHY], ["tg-1", "t2", UNHEALTHY]], "clear": []})
    assert (view.state("tg-1", "t1"), view.state("tg-1", "t2"), view.generation) == (HEALTHY, UNHEALTHY, 1)
    view.update({"t": "health", "set": [], "clear": [["tg-1", "t1"]]})
    assert (view.state("tg-1", "t1"), view.state("tg-1", "t2"), view.generation) == (INITIAL, UNHEALTHY, 2)
