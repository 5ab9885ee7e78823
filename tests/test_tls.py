"""TLS for HTTPS listeners: the local CA, per-service certificates, SNI, security policy, ALPN.

Every check is a real handshake over a loopback socket (server in a thread,
``ssl`` client in the test), so what is asserted is what a client sees.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from latticework.dataplane.tls import (
    ALPN, CertificateAuthority, Certificates, ca_pem, client_context, load_chain, server_context, server_name,
)
from latticework.snapshot.model import HTTPS, Listener, Service

ONE = "billing-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
TWO = "orders-0fedcba98765432100.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
CUSTOM = "billing.example.com"


def service(sid: str, dns_name: str, custom: str | None = None, certificate_arn: str | None = None) -> Service:
    listener = Listener(id=f"listener-{sid}", arn="arn", name="https", protocol=HTTPS, port=443, rules=())
    return Service(id=sid, arn=f"arn:aws:vpc-lattice:us-east-1:111122223333:service/{sid}", name=sid,
                   account="111122223333", region="us-east-1", dns_name=dns_name, custom_domain=custom,
                   certificate_arn=certificate_arn, auth_type="NONE", idle_timeout=60.0, listeners={443: listener})


class TlsServer:
    """Accepts connections on an ephemeral port and completes handshakes with ``context`` in a thread."""

    def __init__(self, context: ssl.SSLContext):
        self.context = context
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen_sni: list[str | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            raw.settimeout(5)
            try:
                with self.context.wrap_socket(raw, server_side=True) as tls:
                    self.seen_sni.append(server_name(tls))
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                raw.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def serve():
    servers: list[TlsServer] = []

    def start(context: ssl.SSLContext) -> TlsServer:
        servers.append(TlsServer(context))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def handshake(port: int, name: str | None, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        tls = context.wrap_socket(raw, server_hostname=name)
    except BaseException:
        raw.close()
        raise
    assert tls.recv(2) == b"ok"
    return tls


def names_of(tls: ssl.SSLSocket) -> set[str]:
    cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName))


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path / "ca")


def lookup_of(*services: Service):
    by_name = {n: s for s in services for n in s.names()}
    return lambda name: by_name.get((name or "").lower())


# -- the CA ------------------------------------------------------------------------------

def test_ca_is_created_once_and_reused(tmp_path: Path):
    first = CertificateAuthority.load_or_create(tmp_path / "ca")
    key_mode = stat.S_IMODE((tmp_path / "ca" / "ca.key").stat().st_mode)
    again = CertificateAuthority.load_or_create(tmp_path / "ca")
    assert key_mode == 0o600
    assert again.pem == first.pem == ca_pem(tmp_path / "ca")
    assert sorted(p.name for p in (tmp_path / "ca").iterdir()) == ["ca.key", "ca.pem", "leaf.key"]
    assert stat.S_IMODE((tmp_path / "ca" / "leaf.key").stat().st_mode) == 0o600
    constraints = first.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    lifetime = first.cert.not_valid_after_utc - first.cert.not_valid_before_utc
    assert constraints.ca and lifetime > datetime.timedelta(days=3600)
    assert first.key.key_size == 2048


def test_every_process_loading_the_ca_issues_leaves_with_the_same_key(tmp_path: Path):
    """Data-plane workers load the CA the server created: their certificates share the server's leaf key."""
    created = CertificateAuthority.load_or_create(tmp_path / "ca")
    loaded = CertificateAuthority.load_from(tmp_path / "ca")
    mine, theirs = (x509.load_pem_x509_certificate(ca.issue(["a.example"])[0].encode()) for ca in (created, loaded))
    assert mine.public_key().public_numbers() == theirs.public_key().public_numbers()
    assert CertificateAuthority.load_or_create(tmp_path / "ca").issue(["b.example"])[1] == loaded.issue(["c.example"])[1]


def test_leaf_verifies_against_the_ca_for_its_names_only(ca: CertificateAuthority, serve):
    cert_pem, key_pem = ca.issue(["Api.Example.com", "other.example.com"])
    assert ca.issue(["api.example.com", "other.example.com."]) == (cert_pem, key_pem)  # cached per name set
    leaf = x509.load_pem_x509_certificate(cert_pem.encode())
    leaf.verify_directly_issued_by(ca.cert)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "api.example.com"
    assert datetime.timedelta(days=300) < leaf.not_valid_after_utc - leaf.not_valid_before_utc < datetime.timedelta(
        days=398)
    context = server_context()
    load_chain(context, cert_pem, key_pem)
    server = serve(context)
    for name in ("api.example.com", "other.example.com"):
        handshake(server.port, name, client_context(ca.pem)).close()
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server.port, "third.example.com", client_context(ca.pem))


def test_a_different_ca_is_not_trusted(tmp_path: Path, ca: CertificateAuthority, serve):
    other = CertificateAuthority.load_or_create(tmp_path / "other")
    context = server_context()
    load_chain(context, *ca.issue([ONE]))
    server = serve(context)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(server.port, ONE, client_context(other.pem))


# -- SNI -------------------------------------------------------------------------------------

def test_sni_picks_the_certificate_of_the_right_service(ca: CertificateAuthority, tmp_path: Path, serve):
    one, two = service("svc-one", ONE), service("svc-two", TWO)
    certificates = Certificates(ca, tmp_path / "user")
    server = serve(certificates.listener_context(lookup_of(one, two)))
    with handshake(server.port, ONE, client_context(ca.pem)) as tls:
        assert names_of(tls) == {ONE}  # longer than a CN may be: the SAN alone names it
    with handshake(server.port, TWO.upper(), client_context(ca.pem)) as tls:
        assert names_of(tls) == {TWO}
    assert server.seen_sni == [ONE, TWO.upper()]


@pytest.mark.parametrize("name", ["unknown.example.com", None])
def test_unknown_or_missing_sni_fails_the_handshake(ca: CertificateAuthority, tmp_path: Path, serve, name):
    certificates = Certificates(ca, tmp_path / "user")
    server = serve(certificates.listener_context(lookup_of(service("svc-one", ONE))))
    context = client_context(ca.pem)
    context.check_hostname = name is not None
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
        handshake(server.port, name, context)


# -- security policy and ALPN --------------------------------------------------------------

def _listener(ca: CertificateAuthority, tmp_path: Path, serve) -> TlsServer:
    return serve(Certificates(ca, tmp_path / "user").listener_context(lookup_of(service("svc-one", ONE))))


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls_1_1_is_refused(ca: CertificateAuthority, tmp_path: Path, serve):
    server = _listener(ca, tmp_path, serve)
    context = client_context(ca.pem)
    context.set_ciphers("ALL:@SECLEVEL=0")  # let the client offer TLS 1.1 at all
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
        handshake(server.port, ONE, context)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_accepted(ca: CertificateAuthority, tmp_path: Path, serve, version):
    server = _listener(ca, tmp_path, serve)
    context = client_context(ca.pem)
    context.minimum_version = context.maximum_version = version
    with handshake(server.port, ONE, context) as tls:
        assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]


def test_tls_1_2_server_cipher_preference_wins(ca: CertificateAuthority, tmp_path: Path, serve):
    server = _listener(ca, tmp_path, serve)
    context = client_context(ca.pem)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("AES256-SHA:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
    with handshake(server.port, ONE, context) as tls:
        assert tls.cipher()[0] == "ECDHE-RSA-AES128-GCM-SHA256"
    context.set_ciphers("AES256-SHA")  # outside the policy's ECDHE suites, still in it
    with handshake(server.port, ONE, context) as tls:
        assert tls.cipher()[0] == "AES256-SHA"
    context.set_ciphers("ECDHE-RSA-CHACHA20-POLY1305")  # not in Lattice's TLS 1.2 list
    with pytest.raises(ssl.SSLError):
        handshake(server.port, ONE, context)


@pytest.mark.parametrize("offered, chosen", [(list(ALPN), "h2"), (["http/1.1", "h2"], "h2"),
                                             (["http/1.1"], "http/1.1"), ([], None)])
def test_alpn_prefers_h2(ca: CertificateAuthority, tmp_path: Path, serve, offered, chosen):
    server = _listener(ca, tmp_path, serve)
    context = client_context(ca.pem, alpn=offered)
    with handshake(server.port, ONE, context) as tls:
        assert tls.selected_alpn_protocol() == chosen


# -- which certificate a service presents ----------------------------------------------------

def _user_certificate(folder: Path, names: list[str]) -> str:
    """A self-signed certificate for ``names`` placed where ``Certificates`` looks; returns its PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True)
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (folder / "certificate.pem").write_text(pem)
    (folder / "private_key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return pem


def test_user_provided_certificate_is_used_when_present(ca: CertificateAuthority, tmp_path: Path, serve):
    certificate_id = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    arn = f"arn:aws:acm:us-east-1:111122223333:certificate/{certificate_id}"
    user_pem = _user_certificate(tmp_path / "user" / certificate_id, [CUSTOM])
    billing = service("svc-one", ONE, custom=CUSTOM, certificate_arn=arn)
    server = serve(Certificates(ca, tmp_path / "user").listener_context(lookup_of(billing)))
    with handshake(server.port, CUSTOM, client_context(user_pem)) as tls:
        assert names_of(tls) == {CUSTOM}
    with pytest.raises(ssl.SSLCertVerificationError):  # not the CA's certificate
        handshake(server.port, CUSTOM, client_context(ca.pem))


def test_certificate_arn_without_user_certificate_gets_a_ca_certificate_for_both_names(
        ca: CertificateAuthority, tmp_path: Path, serve):
    arn = "arn:aws:acm:us-east-1:111122223333:certificate/not-imported"
    billing = service("svc-one", ONE, custom=CUSTOM, certificate_arn=arn)
    server = serve(Certificates(ca, tmp_path / "user").listener_context(lookup_of(billing)))
    for name in (CUSTOM, ONE):
        with handshake(server.port, name, client_context(ca.pem)) as tls:
            assert names_of(tls) == {ONE, CUSTOM}


def test_custom_domain_without_certificate_arn_fails_verification(ca: CertificateAuthority, tmp_path: Path, serve):
    billing = service("svc-one", ONE, custom=CUSTOM)
    server = serve(Certificates(ca, tmp_path / "user").listener_context(lookup_of(billing)))
    with handshake(server.port, ONE, client_context(ca.pem)) as tls:  # the generated name still works
        assert names_of(tls) == {ONE}
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|match"):
        handshake(server.port, CUSTOM, client_context(ca.pem))


def test_contexts_are_cached_per_service_names_and_certificate(ca: CertificateAuthority, tmp_path: Path):
    certificates = Certificates(ca, tmp_path / "user")
    plain = service("svc-one", ONE, custom=CUSTOM)
    with_arn = service("svc-one", ONE, custom=CUSTOM, certificate_arn="arn:aws:acm:us-east-1:1:certificate/x-1")
    assert certificates.context_for(plain) is certificates.context_for(plain)
    assert certificates.context_for(with_arn) is not certificates.context_for(plain)


def test_arn_components_never_escape_the_user_directory(ca: CertificateAuthority, tmp_path: Path):
    _user_certificate(tmp_path / "secret", [CUSTOM])
    sneaky = service("svc-one", ONE, custom=CUSTOM, certificate_arn="arn:aws:acm:us-east-1:1:certificate/..")
    certificates = Certificates(ca, tmp_path / "user" / "inner")
    from latticework.dataplane.tls import UserCertificate
    assert UserCertificate.find(certificates.user_dir, sneaky.certificate_arn) is None


def test_a_broken_user_certificate_fails_only_that_services_handshakes(ca: CertificateAuthority, tmp_path: Path,
                                                                        serve):
    folder = tmp_path / "user" / "broken-1"
    folder.mkdir(parents=True)
    (folder / "certificate.pem").write_text("not a certificate\n")
    (folder / "private_key.pem").write_text("not a key\n")
    broken = service("svc-one", ONE, custom=CUSTOM, certificate_arn="arn:aws:acm:us-east-1:1:certificate/broken-1")
    server = serve(Certificates(ca, tmp_path / "user").listener_context(lookup_of(broken, service("svc-two", TWO))))
    with pytest.raises(ssl.SSLError, match="INTERNAL_ERROR"):
        handshake(server.port, CUSTOM, client_context(ca.pem))
    with handshake(server.port, TWO, client_context(ca.pem)) as tls:
        assert names_of(tls) == {TWO}
