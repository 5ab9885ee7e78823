"""A Python client inside a VPC, without ``latticework exec``.

``VpcClient`` does in-process what ``exec`` arranges for an unmodified
program: names resolve through the VPC's resolver (a DNS query to its
address), and connections go to the address it answers, so the data plane
attributes them to the VPC. HTTPS verifies the service's certificate
against the local CA for the requested name, as a client trusting the
exported CA does. Used by ``latticework demo``, tests and benchmarks, which
get the VPC's addresses and the CA from ``latticework.ownpaths_client``.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import dnslib

from latticework.fabric.exec import VpcInfo


class NameNotFound(LookupError):
    """The VPC's resolver does not know the name (NXDOMAIN or no address)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class VpcClient:
    def __init__(self, info: VpcInfo | None, ca: str | None = None, timeout: float = 10.0):
        self.info = info
        self.timeout = timeout
        self.tls = ssl.create_default_context(cadata=ca) if ca else None
        self._connections: dict[tuple, http.client.HTTPConnection] = {}

    def resolve(self, name: str) -> str:
        """The IPv4 address the VPC's resolver gives for ``name`` (an address as such without a VPC)."""
        if self.info is None:
            return name
        query = dnslib.DNSRecord.question(name, "A")
        reply = dnslib.DNSRecord.parse(query.send(self.info.resolver, self.info.resolver_port, timeout=self.timeout))
        addresses = [str(r.rdata) for r in reply.rr if r.rtype == dnslib.QTYPE.A]
        if reply.header.rcode != dnslib.RCODE.NOERROR or not addresses:
            raise NameNotFound(f"{name}: {dnslib.RCODE.get(reply.header.rcode)} from the VPC resolver")
        return addresses[0]

    def request(self, method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None,
                keep_alive: bool = True) -> Response:
        parts = urlsplit(url)
        if parts.hostname is None:
            raise ValueError(f"{url} names no host")
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        connection = self._connection(parts.hostname, port, https, keep_alive)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            response = Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        except (OSError, http.client.HTTPException):
            self._drop(parts.hostname, port, https)
            raise
        if not keep_alive or answer.will_close:
            self._drop(parts.hostname, port, https)
        return response

    def get(self, url: str, **kwargs) -> Response:
        return self.request("GET", url, **kwargs)

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def _connection(self, host: str, port: int, https: bool, keep_alive: bool) -> http.client.HTTPConnection:
        key = (host, port, https)
        if key not in self._connections or not keep_alive:
            address = self.resolve(host)
            if https:
                if self.tls is None:
                    raise ValueError("HTTPS needs the local CA (pass ca=...)")
                self._connections[key] = _PinnedHTTPS(address, host, port, self.tls, self.timeout)
            else:
                self._connections[key] = _PinnedHTTP(address, host, port, self.timeout)
        return self._connections[key]

    def _drop(self, host: str, port: int, https: bool) -> None:
        connection = self._connections.pop((host, port, https), None)
        if connection is not None:
            connection.close()


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to ``address`` while speaking to ``host`` (Host header)."""

    def __init__(self, address: str, host: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_PinnedHTTP):
    default_port = 443  # no ":443" in the Host header, as browsers and curl send it

    def __init__(self, address: str, host: str, port: int, context: ssl.SSLContext, timeout: float):
        super().__init__(address, host, port, timeout)
        self.context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)
