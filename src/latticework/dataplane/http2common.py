"""What the HTTP/2 front end and the HTTP/2 upstream share: the h2 connection and its header fields.

Both sides speak through one ``h2`` connection with this data plane's
settings (``h2_connection``): ``MAX_CONCURRENT_STREAMS`` streams, a
``STREAM_WINDOW`` per stream and a connection window large enough for every
stream's window at once (``start_connection``), no server push. A stream
sends DATA as the peer's windows allow (``send_windowed``).

``h2`` closes its state machine on any GOAWAY, sent or received
(https://github.com/python-hyper/h2/issues/1181), although RFC 9113 §6.8
lets the streams already open complete: ``GracefulConnection`` keeps them
going after a NO_ERROR GOAWAY, in both directions.

Header fields travel as latin-1 text inside the data plane
(``decode_headers``) and leave without hop-by-hop fields (``encode_headers``).
``encode_headers`` also does what h2's outbound normalization and validation
would redo on every block, so those are off (inbound validation stays on);
HPACK literals go out without Huffman coding (``LiteralEncoder``), and the
request id, new in every message, is never indexed.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Iterable

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.events import ConnectionTerminated
from h2.settings import SettingCodes, Settings
from hpack import Encoder, NeverIndexedHeaderTuple

from latticework.dataplane.exchange import HOP_BY_HOP, Headers
from latticework.dataplane.proxy import REQUEST_ID

MAX_CONCURRENT_STREAMS = 128
STREAM_WINDOW = 256 * 1024
CONNECTION_WINDOW = MAX_CONCURRENT_STREAMS * STREAM_WINDOW
DEFAULT_WINDOW = 65_535  # every HTTP/2 window starts here (RFC 9113 §6.9.2)



# -- h2 with graceful GOAWAY ---------------------------------------------------------------

class GracefulConnection(H2Connection):
    """``H2Connection`` whose open streams survive a NO_ERROR GOAWAY in either direction."""

    def announce_goaway(self, last_stream_id: int | None = None) -> None:
        """Send GOAWAY(NO_ERROR): the peer opens no new stream; the open ones carry on."""
        state = self.state_machine.state
        self.close_connection(ErrorCodes.NO_ERROR, last_stream_id=last_stream_id)
        self.state_machine.state = state

    def _receive_goaway_frame(self, frame):
        if frame.error_code != ErrorCodes.NO_ERROR:
            return super()._receive_goaway_frame(frame)
        event = ConnectionTerminated()
        event.error_code = ErrorCodes.NO_ERROR
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


async def send_windowed(h2: H2Connection, stream_id: int, chunk: bytes, writable: asyncio.Event,
                        ready: Callable[[], bool], flush: Callable[[], None]) -> None:
    """Send ``chunk`` as DATA on ``stream_id`` as flow control allows (server and upstream alike).

    ``ready()`` raises once the stream is gone and says whether the transport takes writes (not
    paused); ``writable`` is set whenever either answer may have changed (WINDOW_UPDATE, SETTINGS,
    ``resume_writing``); ``flush()`` writes out what h2 queued.
    """
    if not chunk:
        return
    if ready() and len(chunk) <= min(h2.local_flow_control_window(stream_id), h2.max_outbound_frame_size):
        h2.send_data(stream_id, chunk)  # the rule for small chunks: one frame, nothing to wait for
        flush()
        return
    view = memoryview(chunk)
    while view:
        size = await _send_window(h2, stream_id, len(view), writable, ready)
        h2.send_data(stream_id, view[:size].tobytes())
        flush()
        view = view[size:]


async def _send_window(h2: H2Connection, stream_id: int, wanted: int, writable: asyncio.Event,
                       ready: Callable[[], bool]) -> int:
    """Wait until ``stream_id`` may send DATA; how many bytes it may send now."""
    while True:
        may_write = ready()
        window = h2.local_flow_control_window(stream_id)
        if window > 0 and may_write:
            return min(window, wanted, h2.max_outbound_frame_size)
        writable.clear()
        await writable.wait()


def h2_connection(client_side: bool, max_header_list_size: int) -> GracefulConnection:
    """A connection with this data plane's settings; ``initiate_connection`` not yet called."""
    # h2's outbound normalization and validation, and its inbound cookie joining, are off: this data plane
    # does that work itself, once, while converting. Outbound fields come only from ``encode_headers``
    # (lower-case, trimmed, without connection-specific fields, credentials never indexed) after
    # pseudo-headers this code writes; split cookie fields are joined where a request is built
    # (``http2.request_from_headers``). Inbound validation stays on: peers' header blocks are h2's to check.
    config = H2Configuration(client_side=client_side, header_encoding=None, validate_inbound_headers=True,
                             normalize_inbound_headers=False, normalize_outbound_headers=False,
                             validate_outbound_headers=False)
    h2 = GracefulConnection(config)
    h2.encoder = LiteralEncoder()
    h2.local_settings = Settings(client=client_side, initial_values={
        SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
        SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
        SettingCodes.MAX_HEADER_LIST_SIZE: max_header_list_size,
        SettingCodes.ENABLE_PUSH: 0,
    })
    h2.decoder.max_header_list_size = max_header_list_size
    return h2


def start_connection(h2: H2Connection) -> None:
    """Queue the preface, and open the connection window to ``CONNECTION_WINDOW``."""
    h2.initiate_connection()
    h2.increment_flow_control_window(CONNECTION_WINDOW - DEFAULT_WINDOW)


# -- header conversion ----------------------------------------------------------------------

def decode_headers(raw: Iterable[tuple[bytes, bytes]]) -> Headers:
    return [(bytes(n).decode("latin-1"), bytes(v).decode("latin-1")) for n, v in raw]


def encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Header fields as HTTP/2 carries them: lower-case names, no hop-by-hop fields, no ``host``, no
    pseudo-header, no surrounding whitespace; credentials never indexed by HPACK (as h2's own outbound
    normalization, which this replaces, does: ``h2_connection``).

    A field HTTP/2 cannot carry (CR, LF or NUL inside) is dropped rather than
    failing the whole message.
    """
    fields: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        name, value = name.strip().lower(), value.strip()
        if not name or name in HOP_BY_HOP or name == "host" or name[0] == ":" or not _carriable(name + value):
            continue
        field = (name.encode("latin-1"), value.encode("latin-1"))
        fields.append(NeverIndexedHeaderTuple(*field) if _unindexed(name, value) else field)
    return fields


def _carriable(text: str) -> bool:
    return "\r" not in text and "\n" not in text and "\0" not in text


def _unindexed(name: str, value: str) -> bool:
    """Fields kept out of the HPACK tables: credentials and cookies short enough to guess, so compression
    cannot reveal them (the rule of h2, nghttp2 and Firefox); and the request id, new in every message,
    which would only push reusable entries out of the table and lengthen every search of it."""
    return name == REQUEST_ID or name == "authorization" or (name == "cookie" and len(value) < 20)


class LiteralEncoder(Encoder):
    """HPACK with literals sent as they are, not Huffman-coded: hpack's Huffman coder is pure Python, a
    few microseconds per field sent as a literal (about 10 µs for a request id), to save a fifth of those
    bytes. Every decoder takes both forms (RFC 7541 §5.2)."""

    def encode(self, headers, huffman: bool = True) -> bytes:
        return super().encode(headers, huffman=False)
