"""The feed: what the control process tells the processes that serve traffic, and what they answer.

The data plane serves from worker processes (``workers.WorkerPool`` starts
them, ``worker`` is their entry point). Each worker compiles its own
snapshot from the store's change journal, relayed by the control process
over a stream socket, and answers once it serves it. The same messages can
later feed a data-plane agent on another host over TCP: nothing in them is
local to one machine but the fabric range.

Framing: a 4-byte big-endian length, then that many bytes of JSON (one
object with a ``"t"`` naming the message). Records travel as lists of their
fields (``encode_record``/``decode_record``).

Control -> worker:

- ``hello``: the settings (state directory, fabric range, limits) and the accounts file's accounts and
  credentials (``config.Directory.to_json``: workers never read the file); first, once.
- ``load``: every record the snapshot reads, at ``revision`` (at start, after
  a journal gap, or to a restarted worker).
- ``changes``: records written since the previous ``load``/``changes``
  (``null`` for deleted ones), newest content, up to ``revision``.
- ``health``: target states that changed (``set``) or are back to the
  default INITIAL (``clear``), as the control process's checkers decided.
- ``idle?``: ask to be told (``idle`` with the same ``id``) once no request
  is in flight to one target: what draining waits on (asked only of workers
  that said the target is ``busy``).
- ``stop``: stop accepting, let open connections finish within ``drain``
  seconds, then exit.

Worker -> control:

- ``serving``: the revision now served, the draining targets that still have
  requests in flight (``busy``; the others stay idle, as a draining target
  gets no new request), the sockets that could not be bound and the loop-lag
  figures; after every ``load``/``changes``.
- ``idle``: the answer to ``idle?``.
- ``lag``: loop-lag figures and connections accepted, every ``LAG_EVERY`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import asdict
from typing import Any, Iterable, Mapping

from latticework.dataplane.plane import Limits
from latticework.store import Record

LAG_EVERY = 1.0  # seconds between a worker's loop-lag reports
MAX_MESSAGE = 1 << 30  # a load of every record of a large store stays far below
DECODE_ASIDE = 1 << 20  # messages this large are decoded on a thread, beside the loop that serves traffic
_LENGTH = struct.Struct(">I")

Message = dict[str, Any]


class ChannelClosed(ConnectionError):
    """The other side went away (or sent a frame no peer of ours sends)."""


# -- records -------------------------------------------------------------------------

def encode_record(r: Record) -> list:
    return [r.kind, r.id, r.account, r.region, r.body, r.parent, r.name, r.arn, r.status, r.created_rev,
            r.revision, r.internal]


def decode_record(fields: list) -> Record:
    return Record(*fields)


def load(revision: int, records: Mapping[str, Iterable[Record]]) -> Message:
    return {"t": "load", "revision": revision,
            "records": {kind: [encode_record(r) for r in found] for kind, found in records.items()}}


def changes(revision: int, changed: Mapping[tuple[str, str], Record | None]) -> Message:
    return {"t": "changes", "revision": revision,
            "records": [[kind, id, encode_record(r) if r is not None else None] for (kind, id), r in changed.items()]}


def loaded_records(message: Message) -> dict[str, list[Record]]:
    return {kind: [decode_record(f) for f in found] for kind, found in message["records"].items()}


def changed_records(message: Message) -> dict[tuple[str, str], Record | None]:
    return {(kind, id): decode_record(f) if f is not None else None for kind, id, f in message["records"]}


def hello(state_dir: str, fabric: str, limits: Limits, accounts: dict | None = None) -> Message:
    return {"t": "hello", "stateDir": state_dir, "fabric": fabric, "limits": asdict(limits), "accounts": accounts}


def limits_of(message: Message) -> Limits:
    return Limits(**message["limits"])


# -- framing -------------------------------------------------------------------------

def frame(message: Message) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return _LENGTH.pack(len(body)) + body


class Channel:
    """One end of a feed connection: whole messages out and in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader, self._writer = reader, writer

    @classmethod
    async def over(cls, sock) -> "Channel":
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=1 << 20)
        return cls(reader, writer)

    def send(self, message: Message | bytes) -> None:
        """Queue ``message`` (or a ``frame`` of one, for a message sent to many); a closed channel drops it
        (its peer is gone and is dealt with by whoever waits)."""
        if not self._writer.is_closing():
            self._writer.write(message if isinstance(message, bytes) else frame(message))

    async def receive(self) -> Message:
        try:
            (length,) = _LENGTH.unpack(await self._reader.readexactly(_LENGTH.size))
            if length > MAX_MESSAGE:
                raise ChannelClosed(f"feed message of {length} bytes")
            body = await self._reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ChannelClosed(str(exc)) from None
        try:
            return json.loads(body) if length < DECODE_ASIDE else await asyncio.to_thread(json.loads, body)
        except ValueError as exc:  # not JSON: not a peer of ours
            raise ChannelClosed(f"undecodable feed message: {exc}") from None

    async def drain(self) -> None:
        try:
            await self._writer.drain()
        except ConnectionError:
            pass

    def close(self) -> None:
        self._writer.close()
