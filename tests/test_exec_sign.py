"""``latticework exec --sign``: the signing proxy signs a command's requests to Lattice services.

Most tests run the proxy (``latticework.fabric.signing``) in this process with
real curl as its client (through ``http_proxy``/``https_proxy``), a stand-in
VPC resolver (dnslib, on an ephemeral port) and a plain local HTTP server
standing in for the Lattice address: what that server received is checked
byte for byte, and its signature with the data plane's own verifier
(``latticework.sigv4.verify``). ``--role``'s STS calls, and assuming the
role again before its expiry, are checked with botocore's Stubber at the
client's edge. The last tests run ``latticework exec --sign`` against a real
server and an ``AWS_IAM`` service, as the account, and as a role assumed
through the server's STS (root: ports 53 and 80/443, mount namespaces).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.session import Session
from botocore.stub import Stubber
from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from conftest import _accounts, access_key, account_id, client_for, secret_key
from dataplane_env import EchoTarget, Topology, forward, wait_for
from latticework import sigv4
from latticework.config import Credential
from latticework.dataplane.tls import CertificateAuthority, load_chain
from latticework.fabric import credentials as callercreds
from latticework.fabric import signing
from latticework.fabric.signing import Refusal

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

ACCOUNT = "111122223333"
KEY, SECRET = "AKIDEXECSIGN0001", "exec-sign-secret"
LATTICE = "127.0.0.1"  # the stand-in Lattice address: the service below listens there
ELSEWHERE = "127.0.0.2"  # an address outside Lattice (another server listens there)
NAME = "orders-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws"
CUSTOM = "orders.example.internal"
PUBLIC = "www.example.test"
DEFAULT_REGION = "eu-central-1"


class Keys:
    """The verifier's view of who signs: the proxy's credential, a temporary one."""

    known = {KEY: Credential(KEY, SECRET, ACCOUNT),
             "ASIATEMPORARY0001": Credential("ASIATEMPORARY0001", "temp-secret", ACCOUNT, session_token="tok/en+=")}

    def credential(self, access_key: str) -> Credential | None:
        return self.known.get(access_key)


# -- stand-ins: the VPC's resolver and services ------------------------------------------------

class _VpcResolver(BaseResolver):
    names = {NAME: LATTICE, CUSTOM: LATTICE, PUBLIC: ELSEWHERE}

    def resolve(self, request, handler):
        reply = request.reply()
        address = self.names.get(str(request.q.qname).rstrip(".").lower())
        if address is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=5))
        return reply


class _Service(BaseHTTPRequestHandler):
    """Records each request as received (head fields in order, body de-chunked) and answers JSON of it.

    ``?stream=N`` answers N bytes in chunked encoding instead, ``?status=N`` with status N."""

    protocol_version = "HTTP/1.1"
    seen: list[dict]

    def _handle(self) -> None:
        body, chunked = self._body()
        self.seen.append({"method": self.command, "target": self.path, "fields": list(self.headers.items()),
                          "body": body, "chunked": chunked})
        query = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
        if "stream" in query:
            return self._stream(int(query["stream"]))
        answer = json.dumps({"target": self.path, "body_sha256": hashlib.sha256(body).hexdigest()}).encode()
        self.send_response(int(query.get("status", 200)))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

    def _body(self) -> tuple[bytes, bool]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0] or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            return b"".join(parts), True
        return self.rfile.read(int(self.headers.get("Content-Length") or 0)), False

    def _stream(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = b"x" * 65536
        while size > 0:
            chunk = piece[:size]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            size -= len(chunk)
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args):
        pass


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # connections the tests break on purpose


def _serve(address: str, context: ssl.SSLContext | None = None) -> tuple[ThreadingHTTPServer, list[dict]]:
    seen: list[dict] = []
    handler = type("Service", (_Service,), {"seen": seen})
    server = _Quiet((address, 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """The VPC's resolver, a plain service at the Lattice address and one elsewhere, and their TLS twins."""
    resolver = DNSServer(_VpcResolver(), port=0, address="127.0.0.1", logger=DNSLogger(logf=lambda *_: None))
    resolver.start_thread()
    lattice_ca = CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"))  # as the server makes its own
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    load_chain(tls, *lattice_ca.issue([NAME, CUSTOM, PUBLIC]))
    servers = {"lattice": _serve(LATTICE), "elsewhere": _serve(ELSEWHERE),
               "lattice_tls": _serve(LATTICE, tls), "elsewhere_tls": _serve(ELSEWHERE, tls)}
    yield {"resolver": resolver.server.server_address, "ca": lattice_ca.pem, **servers}
    for server, _ in servers.values():
        server.shutdown()
        server.server_close()
    resolver.stop()


def _proxy(stand_ins, credentials: Credentials, uid: int | None = None) -> signing.SigningProxy:
    vpc = signing.Vpc("vpc-0123456789abcdef0", stand_ins["resolver"], LATTICE, stand_ins["ca"])
    return signing.SigningProxy(vpc, signing.Signer(credentials, DEFAULT_REGION), uid=uid, hosts={})


@pytest.fixture(scope="module")
def proxy(stand_ins):
    with signing.serving(_proxy(stand_ins, Credentials(KEY, SECRET))) as running:
        yield running


class Curl:
    def __init__(self, proxy: signing.SigningProxy, tmp_path: Path):
        bundle = tmp_path / "bundle.pem"
        bundle.write_text(proxy.ca.pem)  # what exec's CA variables give the command
        self.env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CURL_CA_BUNDLE": str(bundle),
                    **{name: proxy.url for name in signing.PROXY_VARIABLES}}

    def __call__(self, *args: str, stdin: bytes | None = None) -> tuple[int, bytes]:
        """curl's HTTP status and the body it got."""
        done = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args], env=self.env,
                              input=stdin, capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
        body, _, status = done.stdout.rpartition(b"\n")
        return int(status), body


@pytest.fixture
def curl(proxy, tmp_path) -> Curl:
    return Curl(proxy, tmp_path)


def _url(stand_ins, which: str, host: str, path: str, scheme: str = "http") -> str:
    return f"{scheme}://{host}:{stand_ins[which][0].server_address[1]}{path}"


def _last(stand_ins, which: str) -> dict:
    return stand_ins[which][1][-1]


def _fields(seen: dict) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in seen["fields"]:
        found[name.lower()] = f"{found[name.lower()]},{value}" if name.lower() in found else value
    return found


def _verify(seen: dict) -> sigv4.Verified:
    """The data plane's verification of what the service received (``UNSIGNED-PAYLOAD``: no body needed)."""
    raw_path, _, raw_query = seen["target"].partition("?")
    return sigv4.verify(Keys(), seen["method"], raw_path, raw_query, _fields(seen), None)


# -- plain HTTP ---------------------------------------------------------------------------------------

def test_a_get_is_signed_for_the_region_its_name_says(stand_ins, curl):
    path = "/orders/a%20b/./c?b=2&a=1&slash=x%2Fy&plus=a+b&empty&tilde=%7E"
    status, body = curl("--path-as-is", "-H", "X-Custom: one", "-H", "X-Custom: two", "-H", "Accept: text/plain",
                        _url(stand_ins, "lattice", NAME, path))
    seen = _last(stand_ins, "lattice")
    assert status == 200 and json.loads(body)["target"] == path
    assert seen["method"] == "GET" and seen["target"] == path  # as the command sent it, in origin form
    fields = _fields(seen)
    assert fields["host"] == f"{NAME}:{stand_ins['lattice'][0].server_address[1]}"
    assert fields["x-custom"] == "one,two" and fields["accept"] == "text/plain" and "curl" in fields["user-agent"]
    assert fields["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD" and "proxy-connection" not in fields
    verified = _verify(seen)
    assert (verified.credential.access_key, verified.region, verified.service) == (KEY, "us-west-2",
                                                                                    "vpc-lattice-svcs")
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date," in fields["authorization"]


def test_a_custom_domain_name_is_signed_for_the_default_region(stand_ins, curl):
    status, _ = curl("-X", "DELETE", _url(stand_ins, "lattice", CUSTOM, "/items/7"))
    seen = _last(stand_ins, "lattice")
    assert status == 200 and seen["method"] == "DELETE"
    assert _verify(seen).region == DEFAULT_REGION


def test_a_body_passes_unchanged_and_unbuffered_outside_the_signature(stand_ins, curl, tmp_path):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "payload").write_bytes(payload)
    status, body = curl("--data-binary", f"@{tmp_path / 'payload'}", "-H", "Content-Type: application/x-thing",
                        _url(stand_ins, "lattice", NAME, "/upload"))
    seen = _last(stand_ins, "lattice")
    assert status == 200 and seen["body"] == payload and not seen["chunked"]
    fields = _fields(seen)
    assert fields["content-length"] == str(len(payload)) and fields["content-type"] == "application/x-thing"
    assert _verify(seen).credential.access_key == KEY


@pytest.mark.parametrize("how", ["upload from stdin (-T -)", "--data-binary with Transfer-Encoding: chunked"])
def test_a_chunked_upload_streams_through(stand_ins, curl, tmp_path, how):
    payload = os.urandom(1024 * 1024 + 3)
    if how.startswith("upload"):
        args, stdin = ["-T", "-"], payload
    else:
        (tmp_path / "payload").write_bytes(payload)
        args, stdin = ["--data-binary", f"@{tmp_path / 'payload'}", "-H", "Transfer-Encoding: chunked"], None
    status, body = curl(*args, _url(stand_ins, "lattice", NAME, "/stream"), stdin=stdin)
    seen = _last(stand_ins, "lattice")
    assert status == 200 and json.loads(body)["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert seen["chunked"] and seen["body"] == payload and "content-length" not in _fields(seen)
    assert _verify(seen).region == "us-west-2"


def test_responses_pass_unchanged(stand_ins, curl):
    status, body = curl(_url(stand_ins, "lattice", NAME, "/big?stream=2500000"))
    assert status == 200 and body == b"x" * 2_500_000
    status, body = curl(_url(stand_ins, "lattice", NAME, "/gone?status=404"))
    assert status == 404 and json.loads(body)["target"] == "/gone?status=404"
    status, body = curl("-I", _url(stand_ins, "lattice", NAME, "/head"))
    assert status == 200 and b"Connection: close" in body and b"Content-Length:" in body


def test_temporary_credentials_send_their_session_token(stand_ins, tmp_path):
    temporary = Credentials("ASIATEMPORARY0001", "temp-secret", "tok/en+=")
    with signing.serving(_proxy(stand_ins, temporary)) as running:
        status, _ = Curl(running, tmp_path)(_url(stand_ins, "lattice", NAME, "/t"))
    seen = _last(stand_ins, "lattice")
    assert status == 200 and _fields(seen)["x-amz-security-token"] == "tok/en+="
    assert _verify(seen).credential.session_token == "tok/en+="


def test_requests_outside_lattice_go_unsigned_and_signed_ones_stay_as_they_are(stand_ins, curl):
    status, _ = curl("-H", "Authorization: Bearer mine", _url(stand_ins, "elsewhere", PUBLIC, "/x"))
    fields = _fields(_last(stand_ins, "elsewhere"))
    assert status == 200 and fields["authorization"] == "Bearer mine" and "x-amz-date" not in fields
    own = "AWS4-HMAC-SHA256 Credential=AKIDOWN/20240101/us-east-1/vpc-lattice-svcs/aws4_request, " \
          "SignedHeaders=host;x-amz-date, Signature=00"
    status, _ = curl("-H", f"Authorization: {own}", "-H", "X-Amz-Date: 20240101T000000Z",
                     _url(stand_ins, "lattice", NAME, "/own"))
    fields = _fields(_last(stand_ins, "lattice"))
    assert status == 200 and fields["authorization"] == own and fields["x-amz-date"] == "20240101T000000Z"


def test_a_name_the_vpc_does_not_resolve_is_a_502(stand_ins, curl):
    status, body = curl(_url(stand_ins, "lattice", "payments-0fedcba9876543210.7d67968.vpc-lattice-svcs."
                                                   "us-west-2.on.aws", "/"))
    assert status == 502 and b"does not resolve in vpc-0123456789abcdef0 (NXDOMAIN)" in body
    status, body = curl("--data-binary", "x" * 100_000, _url(stand_ins, "lattice", "nowhere.example.test", "/"))
    assert status == 502 and b"nowhere.example.test does not resolve" in body


def test_a_service_that_refuses_the_connection_is_a_502(stand_ins, curl):
    status, body = curl(f"http://{NAME}:1/")
    assert status == 502 and b"cannot connect to" in body


# -- HTTPS ---------------------------------------------------------------------------------------------

def test_https_to_a_lattice_service_is_signed_and_sent_on_over_tls(stand_ins, curl):
    status, body = curl("-X", "PUT", "--data-binary", "hello", _url(stand_ins, "lattice_tls", NAME, "/secure?q=1",
                                                                     "https"))
    seen = _last(stand_ins, "lattice_tls")
    assert status == 200 and json.loads(body)["target"] == "/secure?q=1"
    assert seen["method"] == "PUT" and seen["body"] == b"hello"
    assert _verify(seen).region == "us-west-2"


def test_https_to_a_lattice_service_whose_certificate_does_not_verify_is_a_502(stand_ins, tmp_path):
    untrusted = signing.Vpc("vpc-0123456789abcdef0", stand_ins["resolver"], LATTICE, None)
    proxy = signing.SigningProxy(untrusted, signing.Signer(Credentials(KEY, SECRET), DEFAULT_REGION), hosts={})
    with signing.serving(proxy) as running:
        status, body = Curl(running, tmp_path)(_url(stand_ins, "lattice_tls", NAME, "/", "https"))
    assert status == 502 and b"TLS to " in body and b"unable to get local issuer certificate" in body


def test_https_elsewhere_is_a_plain_tunnel(stand_ins, curl, tmp_path):
    (tmp_path / "real.pem").write_text(stand_ins["ca"])  # the server's own CA, not the proxy's: end-to-end TLS
    status, _ = curl("--cacert", str(tmp_path / "real.pem"), "-H", "Authorization: Bearer mine",
                     _url(stand_ins, "elsewhere_tls", PUBLIC, "/tunnelled", "https"))
    fields = _fields(_last(stand_ins, "elsewhere_tls"))
    assert status == 200 and fields["authorization"] == "Bearer mine" and "x-amz-date" not in fields


# -- the proxy's own answers ---------------------------------------------------------------------------

def test_other_users_are_refused(stand_ins, tmp_path):
    with signing.serving(_proxy(stand_ins, Credentials(KEY, SECRET), uid=os.geteuid() + 1)) as running:
        status, body = Curl(running, tmp_path)(_url(stand_ins, "lattice", NAME, "/"))
    assert status == 403 and b"serves only that user's processes" in body


def test_a_request_sent_to_the_proxy_as_a_server_is_a_400(proxy, tmp_path):
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", proxy.url + "/"], capture_output=True, timeout=30)
    assert done.stdout.endswith(b"\n400") and b"not an absolute URL" in done.stdout


def _raw(proxy: signing.SigningProxy, data: bytes) -> bytes:
    """What the proxy answers to ``data`` sent as is (then a half-close)."""
    with socket.create_connection(proxy.address, timeout=10) as client:
        client.sendall(data)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while piece := client.recv(65536):
            answer += piece
    return answer


def test_broken_requests_are_answered_by_the_proxy(stand_ins, proxy):
    port = stand_ins["lattice"][0].server_address[1]
    answer = _raw(proxy, b"GET http://%s:%d/ HTTP/1.1\r\nX-Big: %s\r\n\r\n" % (NAME.encode(), port, b"x" * 70000))
    assert answer.startswith(b"HTTP/1.1 431 ") and answer.endswith(b"bytes\n")
    answer = _raw(proxy, b"POST http://%s:%d/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
                  % (NAME.encode(), port))
    assert answer.startswith(b"HTTP/1.1 400 ") and b"malformed chunk size line" in answer
    answer = _raw(proxy, b"GET http://%s:%d/ HTTP/1.1\r\nX-Bad: a\x00b\r\n\r\n" % (NAME.encode(), port))
    assert answer.startswith(b"HTTP/1.1 400 ") and b"malformed header field" in answer
    answer = _raw(proxy, b"GET http://%s:%d/ HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n" % (NAME.encode(), port))
    assert answer.startswith(b"HTTP/1.1 400 ") and b"invalid Content-Length" in answer


def test_the_peer_uid_is_the_connecting_socket_owner(proxy):
    with socket.create_connection(proxy.address) as client:
        assert signing.peer_uid(client.getsockname(), proxy.address) == os.geteuid()
    assert signing.peer_uid(("127.0.0.1", 9), proxy.address) is None


# -- pure parts ----------------------------------------------------------------------------------------

def test_region_from_generated_names_only():
    assert signing.lattice_region(NAME) == "us-west-2"
    assert signing.lattice_region(NAME.upper() + ".") == "us-west-2"
    assert signing.lattice_region("x.vpc-lattice-rsc.us-east-1.on.aws") is None
    assert signing.lattice_region(CUSTOM) is None


def test_absolute_targets():
    found = signing.absolute_destination("http://Orders.Example.Internal.:8080?a=1")
    assert found == signing.Destination("orders.example.internal", 8080, "Orders.Example.Internal.:8080", "/?a=1")
    assert signing.absolute_destination("http://[::1]/x").host == "::1"
    for bad, status in (("/relative", 400), ("https://h/", 501), ("http://user@h/", 400), ("http://h:99999/", 400)):
        with pytest.raises(Refusal) as refused:
            signing.absolute_destination(bad)
        assert refused.value.status == status


def test_framing_is_strict():
    def length(*fields):
        return signing.request_body_length(signing.RequestHead("POST", "/", "HTTP/1.1", fields))
    assert length(("Content-Length", "5")) == 5 and length() == 0
    assert length(("Transfer-Encoding", "Chunked")) == signing.CHUNKED
    for fields, status in ((( "Transfer-Encoding", "gzip, chunked"),), 501), \
                          ((("Content-Length", "1"), ("Content-Length", "2")), 400), \
                          ((("Content-Length", "5"), ("Transfer-Encoding", "chunked")), 400):
        with pytest.raises(Refusal) as refused:
            length(*fields)
        assert refused.value.status == status


def test_hop_by_hop_fields_do_not_pass():
    head = signing.RequestHead("GET", "http://h/", "HTTP/1.1", (
        ("Host", "wrong"), ("Connection", "keep-alive, X-Private"), ("X-Private", "1"), ("Proxy-Authorization", "p"),
        ("Upgrade", "websocket"), ("X-Kept", "k"), ("Authorization", "Bearer b")))
    out = signing.outbound_head(head, signing.absolute_destination("http://h/"), (("Authorization", "AWS4 s"),))
    assert out == b"GET / HTTP/1.1\r\nHost: h\r\nX-Kept: k\r\nAuthorization: AWS4 s\r\nConnection: close\r\n\r\n"


def test_proxy_variables_replace_the_users():
    env = signing.proxy_environment({"http_proxy": "http://corp:3128", "no_proxy": "internal"}, "http://127.0.0.1:9")
    assert env == {"no_proxy": "internal", **{name: "http://127.0.0.1:9" for name in signing.PROXY_VARIABLES}}


def test_signatures_verify_with_the_data_planes_verifier():
    destination = signing.absolute_destination(f"http://{NAME}/a/../b%2Fc?z=%7e&y=a+b&x")
    fields = dict((k.lower(), v) for k, v in signing.sign(ReadOnlyCredentials(KEY, SECRET, None), "us-west-2", "POST",
                                                          destination))
    fields["host"] = destination.authority
    verified = sigv4.verify(Keys(), "POST", "/a/../b%2Fc", "z=%7e&y=a+b&x", fields, None)
    assert verified.region == "us-west-2" and verified.service == "vpc-lattice-svcs"


# -- credentials ---------------------------------------------------------------------------------------

@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """No AWS configuration but what a test sets: base credentials in the environment."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDBASE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "base-secret")
    return tmp_path


ROLE = "arn:aws:iam::111122223333:role/caller"


def _assumed(key: str, expires_in: dt.timedelta) -> dict:
    return {"Credentials": {"AccessKeyId": key, "SecretAccessKey": f"{key}-secret", "SessionToken": f"{key}-token",
                            "Expiration": dt.datetime.now(dt.timezone.utc) + expires_in},
            "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLE:latticework-exec", "Arn": f"{ROLE}/x"}}


def test_a_role_is_assumed_at_the_endpoint_with_the_base_credentials_and_assumed_again_before_expiry(aws_env):
    sts = Session().create_client("sts", region_name="us-west-2", endpoint_url="http://127.0.0.1:9",
                                  aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(sts)
    expected = {"RoleArn": ROLE, "RoleSessionName": f"latticework-exec-{os.getpid()}"}
    stubber.add_response("assume_role", _assumed("ASIAFIRST0000001", dt.timedelta(minutes=5)), expected)  # due at once
    stubber.add_response("assume_role", _assumed("ASIASECOND000001", dt.timedelta(hours=1)), expected)
    made = []

    def creator(service_name, **keys):
        made.append((service_name, keys))
        return sts

    with stubber:
        found = callercreds.caller_credentials(None, ROLE, "http://127.0.0.1:9", "us-west-2", client_creator=creator)
        first = callercreds.frozen(found)
        second = callercreds.frozen(found)  # five minutes left: inside botocore's mandatory refresh window
        stubber.assert_no_pending_responses()
    assert (first.access_key, first.token) == ("ASIAFIRST0000001", "ASIAFIRST0000001-token")
    assert second.access_key == "ASIASECOND000001" and callercreds.frozen(found).access_key == "ASIASECOND000001"
    assert made[0] == ("sts", {"aws_access_key_id": "AKIDBASE", "aws_secret_access_key": "base-secret",
                               "aws_session_token": None})


def test_sts_clients_go_to_the_latticework_endpoint(aws_env):
    client = callercreds.sts_client_creator(Session(), "http://127.0.0.1:4599", "ap-south-1")(
        "sts", aws_access_key_id="a", aws_secret_access_key="b", aws_session_token=None)
    assert client.meta.endpoint_url == "http://127.0.0.1:4599" and client.meta.region_name == "ap-south-1"


def test_a_refused_assume_role_is_a_credentials_error(aws_env):
    sts = Session().create_client("sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(sts)
    stubber.add_client_error("assume_role", "AccessDenied", "not allowed to assume", 403)
    with stubber, pytest.raises(callercreds.CredentialsError, match="AccessDenied: not allowed to assume"):
        callercreds.frozen(callercreds.caller_credentials(None, ROLE, "http://x", "us-east-1",
                                                          client_creator=lambda *_, **__: sts))


def test_profiles_and_the_default_chain(aws_env, monkeypatch):
    (aws_env / "credentials").write_text("[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = dev-secret\n")
    assert callercreds.frozen(callercreds.caller_credentials("dev", None, "http://x", "us-east-1")).access_key \
        == "AKIDDEV"
    assert callercreds.frozen(callercreds.caller_credentials(None, None, "http://x", "us-east-1")).access_key \
        == "AKIDBASE"
    with pytest.raises(callercreds.CredentialsError, match="nope"):
        callercreds.caller_credentials("nope", None, "http://x", "us-east-1")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(callercreds.CredentialsError, match="no AWS credentials to sign with"):
        callercreds.caller_credentials(None, None, "http://x", "us-east-1")


def test_the_cli_wants_sign_for_the_signing_options():
    done = subprocess.run([sys.executable, "-m", "latticework", "exec", "--vpc", "vpc-1", "--profile", "p", "--",
                           "true"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "go with --sign" in done.stderr


# -- end to end: latticework exec --sign against a server and an AWS_IAM service ------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="listeners on 80/443 and resolvers on 53 need root")


@dataclass
class IamWorld:
    topo: Topology
    account: str
    root: dict[str, str]  # the account's own keys, as AWS_* variables
    user: dict[str, str]  # an IAM user allowed sts:AssumeRole only
    role_arn: str  # a role with VPCLatticeServicesInvokeAccess the user may assume


@pytest.fixture(scope="module")
def iam_world(server):
    """Service ``signed`` (``authType`` AWS_IAM) whose auth policy lets in the account and role ``exec-caller``,
    reached from a client VPC, with one echo target; an IAM user who may only assume that role."""
    n = next(_accounts)
    account, iam = account_id(n), client_for(server, "iam", n)
    iam.create_user(UserName="exec-user")
    iam.put_user_policy(UserName="exec-user", PolicyName="assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="exec-user")["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": account},
                                                     "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName="exec-caller", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="exec-caller",
                           PolicyArn="arn:aws:iam::aws:policy/VPCLatticeServicesInvokeAccess")
    topo = Topology.for_account(server, n)
    target = _iam_service(topo, [f"arn:aws:iam::{account}:root", role_arn])
    yield IamWorld(topo, account, {"AWS_ACCESS_KEY_ID": access_key(n), "AWS_SECRET_ACCESS_KEY": secret_key(n)},
                   {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]},
                   role_arn)
    target.stop()


def _iam_service(topo: Topology, principals: list[str]) -> EchoTarget:
    topo.client_vpc = topo.vpc("10.0.0.0/16")
    topo.network = topo.lattice.create_service_network(name="signed-net")
    topo.service = topo.lattice.create_service(name="signed", authType="AWS_IAM")
    target = EchoTarget("signed-1")
    group = topo.group("signed", [target], topo.client_vpc)
    topo.listener("http", "HTTP", 80, forward((group, 100)))
    topo.listener("https", "HTTPS", 443, forward((group, 100)))
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principals},
                                                     "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}
    topo.lattice.put_auth_policy(resourceIdentifier=topo.service["id"], policy=json.dumps(allow))
    topo.join()
    wait_for(lambda: set(topo.states("signed").values()) == {"HEALTHY"}, what="the target to turn healthy")
    return target


def _environment(tmp_path: Path, keys: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without AWS settings, plus ``keys``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
            **(keys or {}), **extra}


def _exec(topo: Topology, env: dict, *command: str, options: tuple[str, ...] = ("--sign",)) \
        -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "latticework", "exec", "--endpoint", topo.endpoint, "--vpc",
                           topo.client_vpc, *options, "--", *command],
                          capture_output=True, text=True, timeout=60, env=env)


def _curl_in_vpc(topo: Topology, env: dict, *args: str, options: tuple[str, ...] = ("--sign",)) \
        -> tuple[int, str]:
    done = _exec(topo, env, "curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args, options=options)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def _identity(body: str) -> str:
    return {name.lower(): value for name, value in json.loads(body)["headers"]}.get("x-amzn-lattice-identity", "")


@needs_root
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_exec_sign_lets_curl_call_an_aws_iam_service(iam_world, tmp_path, scheme):
    topo, env = iam_world.topo, _environment(tmp_path, iam_world.root)
    url = f"{scheme}://{topo.name}/orders?id=7"
    status, body = _curl_in_vpc(topo, env, "--data-binary", "hello", url)
    assert status == 200, body
    seen = json.loads(body)
    assert seen["method"] == "POST" and seen["path"] == "/orders?id=7" and seen["body_length"] == 5
    assert _identity(body).startswith(f"Principal=arn:aws:iam::{iam_world.account}:root;")
    status, body = _curl_in_vpc(topo, env, url, options=())
    assert status == 403, body  # unsigned: anonymous, and the policy names the account and the role only


@needs_root
def test_exec_sign_with_a_role_signs_as_a_session_of_it(iam_world, tmp_path):
    topo, env = iam_world.topo, _environment(tmp_path, iam_world.user)
    url = f"http://{topo.name}/as-role"
    status, body = _curl_in_vpc(topo, env, url, options=("--sign", "--role", iam_world.role_arn))
    assert status == 200, body
    session = iam_world.role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
    assert _identity(body).startswith(f"Principal={session}/latticework-exec-")
    assert "SessionName=latticework-exec-" in _identity(body)
    status, body = _curl_in_vpc(topo, env, url)  # the user itself may not invoke
    assert status == 403, body


@needs_root
def test_exec_sign_without_credentials_fails_before_the_command_runs(iam_world, tmp_path):
    done = _exec(iam_world.topo, _environment(tmp_path), "touch", str(tmp_path / "ran"))
    assert done.returncode == 125 and "no AWS credentials to sign with" in done.stderr
    assert not (tmp_path / "ran").exists()
    refused = _exec(iam_world.topo, _environment(tmp_path, iam_world.user), "touch", str(tmp_path / "ran"),
                    options=("--sign", "--role", iam_world.role_arn.replace("exec-caller", "nobody")))
    assert refused.returncode == 125 and "cannot assume the role" in refused.stderr
    assert not (tmp_path / "ran").exists()


@needs_root
def test_exec_sign_names_the_proxy_and_returns_the_commands_status(iam_world, tmp_path):
    script = ('test "$http_proxy" = "$HTTPS_PROXY" && test "$no_proxy" = example.internal && '
              'case "$http_proxy" in http://127.0.0.1:*) exit 7;; esac; exit 1')
    done = _exec(iam_world.topo, _environment(tmp_path, iam_world.root, no_proxy="example.internal"), "sh", "-c",
                 script)
    assert done.returncode == 7, done.stderr
