"""Reading a TLS ClientHello without terminating TLS: where it ends, and the server name it asks for.

A TLS passthrough listener routes on the ClientHello's server name (SNI) and
then relays every byte, the ClientHello included, to a target that does the
handshake itself. So the data plane only looks: ``parse`` is a sans-IO
function over the bytes received so far (peeked, not consumed) that answers

- ``Hello(server_name, length)`` once the whole ClientHello message is there
  (``length``: the bytes of the TLS records that carry it), ``server_name``
  being the ``host_name`` of the ``server_name`` extension (RFC 6066 §3),
  lower-case, or None when the client sent none;
- an ``int``: how many bytes, at least, must be at hand before it can say more
  (the end of the next record header or record);
- or raises ``NotClientHello`` for anything else: another record type, a
  handshake message other than ClientHello, lengths that do not add up, a
  second ``server_name`` extension (RFC 8446 §4.2 forbids repeats), a name that
  is not ASCII, or a ClientHello larger than ``MAX_HELLO``.

Record layer (RFC 8446 §5.1): ``type(1)=22 version(2) length(2) fragment``;
a handshake message may span several records (TLS allows fragmenting it), so
the fragments are joined until the message's own 3-byte length is covered.
ClientHello body (RFC 8446 §4.1.2, the same layout as TLS 1.2's): version(2)
random(32) session_id<0..32> cipher_suites<2..2^16-2>
compression_methods<1..2^8-1> extensions<0..2^16-1>, each extension
``type(2) length(2) data``.
"""

from __future__ import annotations

from dataclasses import dataclass

RECORD_HEADER = 5
HANDSHAKE = 0x16  # the record type of handshake messages
CLIENT_HELLO = 1  # the handshake message type
SERVER_NAME = 0  # the extension type (RFC 6066 §3)
HOST_NAME = 0  # the only NameType RFC 6066 defines
MAX_RECORD = 1 << 14  # a plaintext record's largest fragment (RFC 8446 §5.1)
MAX_HELLO = 1 << 15  # larger ClientHellos are refused: real ones are a few KiB even with post-quantum key shares
MAX_BYTES = MAX_HELLO + 64 * RECORD_HEADER  # the most ``parse`` ever asks for: more records is malformed


class NotClientHello(ValueError):
    """The bytes are not (the start of) a TLS ClientHello this parser accepts."""


@dataclass(frozen=True)
class Hello:
    server_name: str | None  # lower-case; None: no server_name extension
    length: int  # bytes of the records carrying the ClientHello


def parse(data: bytes) -> Hello | int:
    """The ClientHello at the start of ``data``, or how many bytes are needed first."""
    message = bytearray()
    offset = 0
    while True:
        if len(data) < offset + RECORD_HEADER:
            return offset + RECORD_HEADER
        length = _record_length(data, offset)
        end = offset + RECORD_HEADER + length
        if end > MAX_BYTES:
            raise NotClientHello("ClientHello too large")
        if len(data) < end:
            return end
        message += data[offset + RECORD_HEADER:end]
        offset = end
        size = _message_size(message)
        if size is not None and len(message) >= 4 + size:
            return Hello(_server_name(bytes(message[4:4 + size])), offset)


def _record_length(data: bytes, offset: int) -> int:
    kind, major = data[offset], data[offset + 1]
    length = int.from_bytes(data[offset + 3:offset + 5], "big")
    if kind != HANDSHAKE or major != 3:
        raise NotClientHello(f"not a TLS handshake record (type {kind}, version {major}.{data[offset + 2]})")
    if not 0 < length <= MAX_RECORD:
        raise NotClientHello(f"record length {length}")
    return length


def _message_size(message: bytearray) -> int | None:
    """The ClientHello body's length once its 4-byte header is here."""
    if len(message) < 4:
        return None
    if message[0] != CLIENT_HELLO:
        raise NotClientHello(f"handshake message type {message[0]}, not ClientHello")
    size = int.from_bytes(message[1:4], "big")
    if size > MAX_HELLO:
        raise NotClientHello(f"ClientHello of {size} bytes")
    return size


class _Reader:
    """Reads the fields of one structure; running past its end is a malformed ClientHello."""

    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise NotClientHello("field runs past its structure")
        found = self.data[self.at:self.at + n]
        self.at += n
        return found

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, size: int) -> bytes:
        """A vector with a ``size``-byte length prefix."""
        return self.take(self.number(size))

    @property
    def left(self) -> int:
        return len(self.data) - self.at


def _server_name(body: bytes) -> str | None:
    hello = _Reader(body)
    hello.take(2 + 32)  # legacy_version, random
    hello.vector(1)  # legacy_session_id
    hello.vector(2)  # cipher_suites
    hello.vector(1)  # legacy_compression_methods
    if not hello.left:  # a TLS 1.2 ClientHello may omit the extensions block
        return None
    extensions = _Reader(hello.vector(2))
    if hello.left:
        raise NotClientHello("bytes after the extensions")
    found: str | None = None
    seen = False
    while extensions.left:
        kind, data = extensions.number(2), extensions.vector(2)
        if kind != SERVER_NAME:
            continue
        if seen:
            raise NotClientHello("two server_name extensions")
        seen, found = True, _host_name(data)
    return found


def _host_name(data: bytes) -> str | None:
    """The ``host_name`` entry of a ``server_name`` extension's ServerNameList (others are skipped)."""
    outer = _Reader(data)
    names = _Reader(outer.vector(2))
    if outer.left:
        raise NotClientHello("bytes after the server name list")
    found: str | None = None
    while names.left:
        kind, name = names.number(1), names.vector(2)
        if kind == HOST_NAME and found is None:
            try:
                found = name.decode("ascii").lower()
            except UnicodeDecodeError:
                raise NotClientHello("server name is not ASCII") from None
    return found or None
