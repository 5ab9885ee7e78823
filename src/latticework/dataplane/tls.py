"""TLS for HTTPS listeners: a local certificate authority, per-service certificates, SNI.

Lattice terminates TLS for HTTPS listeners with a certificate it manages for
the generated DNS name, or with the ACM certificate the owner attached for a
custom domain name (https://docs.aws.amazon.com/vpc-lattice/latest/ug/service-byoc.html).
Locally, three things stand in for that:

- ``CertificateAuthority``: a CA created once in a directory (``ca.pem``,
  ``ca.key`` readable by the owner only) and reused on every restart. Clients
  trust it (``latticework ca export``) the way they trust Amazon's public CAs.
  It issues RSA leaves: Lattice's TLS 1.2 suites are all ``*-RSA-*``.
- ``Certificates``: the TLS context of each service.

  * A service with a ``certificateArn`` uses the certificate of that ARN when
    the user has provided one: ``<user_dir>/<last path component of the ARN>/``
    holding ``certificate.pem`` and ``private_key.pem`` (and optionally
    ``certificate_chain.pem``), the three parts ACM's ``ImportCertificate``
    takes. This directory stands in for ACM. When it is absent the CA issues a
    certificate for the generated name and the custom domain name, standing in
    for the ACM certificate the owner attached.
  * A service without one gets a CA certificate for its generated name only.
    AWS has no fallback certificate for a custom domain name, so HTTPS to the
    custom name then fails hostname verification, exactly as in AWS.

- ``Certificates.listener_context``: the context of one listening socket. Many
  services share an address and port (the VPC's Lattice address), so the
  ``sni_callback`` picks the service from the ClientHello's server name and
  switches to its context. No server name, or one no service answers to, fails
  the handshake with ``unrecognized_name``: SNI is required on Lattice's
  multi-tenant endpoints.

Security policy (https://docs.aws.amazon.com/vpc-lattice/latest/ug/https-listeners.html):
TLS 1.2 and 1.3 only, the TLS 1.2 suites below in Lattice's order with the
server's preference winning, and ALPN ``HTTP2Preferred`` (``h2`` then
``http/1.1``; no ALPN means HTTP/1.1). Python's ``ssl`` cannot reorder TLS 1.3
suites: the three Lattice offers are OpenSSL's defaults, in OpenSSL's order.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from latticework.snapshot.model import HTTPS, Service

TLS12_CIPHERS = (
    "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256", "AES128-SHA", "AES256-GCM-SHA384", "AES256-SHA",
)
ALPN = ("h2", "http/1.1")

log = logging.getLogger("latticework.dataplane.tls")

CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)  # a long-running server re-issues leaves before they expire
CLOCK_SKEW = datetime.timedelta(hours=1)  # not_before in the past: clients with a slightly slow clock still accept
KEY_SIZE = 2048
MAX_COMMON_NAME = 64  # ub-common-name (RFC 5280 appendix A)

CA_CERT, CA_KEY = "ca.pem", "ca.key"
LEAF_KEY = "leaf.key"  # the key every leaf shares, kept beside the CA so that every worker uses the same one
USER_CERT, USER_KEY, USER_CHAIN = "certificate.pem", "private_key.pem", "certificate_chain.pem"
CERTIFICATE_ID = re.compile(r"^[0-9A-Za-z-]+$")  # ACM certificate ids; anything else is never a path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _read_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)  # what this module wrote
    return key


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with ``mode`` from the start (a key is never readable by others, not even for a moment)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(temporary, mode)  # the umask may have narrowed or the file pre-existed
    os.replace(temporary, path)


def _normalise(names: Iterable[str]) -> tuple[str, ...]:
    """Lower-case DNS names without trailing dots, first occurrence kept."""
    return tuple(dict.fromkeys(n.rstrip(".").lower() for n in names if n))


# -- the certificate authority ---------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    cert_pem: str
    key_pem: str
    not_after: datetime.datetime


class CertificateAuthority:
    """A local CA persisted in a directory; issues server certificates for DNS names."""

    def __init__(self, cert: x509.Certificate, key: rsa.RSAPrivateKey, leaf_key: rsa.RSAPrivateKey | None = None):
        self.cert = cert
        self.key = key
        self._leaves: dict[tuple[str, ...], Leaf] = {}
        # Every leaf shares one key: issuing is then one signature (about a millisecond) rather than an
        # RSA key generation (50-100 ms, inside a handshake or a snapshot apply). The keys would all sit in
        # the same state directory anyway, so separate keys would protect nothing. Kept on disk
        # (``LEAF_KEY``) so that the data plane's worker processes present the same key.
        self._leaf_key = leaf_key

    @classmethod
    def load_or_create(cls, directory: Path) -> CertificateAuthority:
        """The CA of ``directory`` (created on first use), with its leaf key (created too when missing)."""
        directory = Path(directory)
        cert_path, key_path = directory / CA_CERT, directory / CA_KEY
        ca = cls.load(cert_path, key_path) if cert_path.exists() and key_path.exists() else cls.create(directory)
        leaf_path = directory / LEAF_KEY
        if leaf_path.exists():
            ca._leaf_key = _read_key(leaf_path)
        else:
            ca._leaf_key = _new_key()
            _write_private(leaf_path, _key_pem(ca._leaf_key), 0o600)
        return ca

    @classmethod
    def load_from(cls, directory: Path) -> CertificateAuthority:
        """The CA ``load_or_create`` made in ``directory``, read only (``FileNotFoundError`` if there is none)."""
        directory = Path(directory)
        ca = cls.load(directory / CA_CERT, directory / CA_KEY)
        ca._leaf_key = _read_key(directory / LEAF_KEY)
        return ca

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return cls(cert, _read_key(key_path))

    @classmethod
    def create(cls, directory: Path) -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        key = _new_key()
        cert = _ca_certificate(key)
        # The key lands first: a ca.pem on disk always has its key beside it.
        _write_private(directory / CA_KEY, _key_pem(key), 0o600)
        _write_private(directory / CA_CERT, _cert_pem(cert), 0o644)
        return cls(cert, key)

    @property
    def pem(self) -> str:
        return _cert_pem(self.cert).decode()

    def issue(self, names: Sequence[str]) -> tuple[str, str]:
        """``(cert_pem, key_pem)`` of a leaf for ``names`` (DNS SANs; CN = the first), cached per name set."""
        wanted = _normalise(names)
        if not wanted:
            raise ValueError("a certificate needs at least one DNS name")
        leaf = self._leaves.get(wanted)
        if leaf is None or leaf.not_after - RENEW_BEFORE < _now():
            leaf = self._leaves[wanted] = self._issue(wanted)
        return leaf.cert_pem, leaf.key_pem

    def _issue(self, names: tuple[str, ...]) -> Leaf:
        if self._leaf_key is None:
            self._leaf_key = _new_key()
        key = self._leaf_key
        cert = _leaf_certificate(names, key, self.cert, self.key)
        return Leaf(_cert_pem(cert).decode(), _key_pem(key).decode(), cert.not_valid_after_utc)


def _ca_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Latticework"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Latticework local CA")])
    now = _now()
    public = key.public_key()
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))


def _leaf_certificate(names: tuple[str, ...], key: rsa.RSAPrivateKey, ca_cert: x509.Certificate,
                      ca_key: rsa.RSAPrivateKey) -> x509.Certificate:
    now = _now()
    public = key.public_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    subject = _leaf_subject(names[0])
    return (x509.CertificateBuilder().subject_name(subject)
            .issuer_name(ca_cert.subject).public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(now + LEAF_VALIDITY)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                           critical=not subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))


def _leaf_subject(name: str) -> x509.Name:
    """CN = the first name; a name longer than X.509's 64-character CN limit (most generated Lattice
    names are) leaves the subject empty, the SANs then being the identity (RFC 5280 §4.2.1.6)."""
    if len(name) > MAX_COMMON_NAME:
        return x509.Name([])
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_encipherment=not cert_sign, content_commitment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def ca_pem(directory: Path) -> str:
    """The CA certificate clients should trust (``latticework ca export``); creates the CA on first use."""
    return CertificateAuthority.load_or_create(Path(directory)).pem


# -- TLS contexts ----------------------------------------------------------------------

def server_context() -> ssl.SSLContext:
    """A server context with Lattice's security policy and ALPN, and no certificate yet."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_ciphers(":".join(TLS12_CIPHERS))
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(list(ALPN))
    return context


def load_chain(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """Load an in-memory certificate chain and key (``ssl`` reads them from files only)."""
    fd, path = tempfile.mkstemp(suffix=".pem")  # created 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key_pem if key_pem.endswith("\n") else key_pem + "\n")
            f.write(cert_pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


@dataclass(frozen=True)
class UserCertificate:
    """A certificate the user imported for a ``certificateArn`` (the local stand-in for ACM)."""

    cert_pem: str
    key_pem: str
    stamp: tuple[float, ...]  # modification times: a replaced file yields a new context

    @classmethod
    def find(cls, user_dir: Path | None, certificate_arn: str) -> UserCertificate | None:
        folder = _user_folder(user_dir, certificate_arn)
        if folder is None or not (folder / USER_CERT).is_file() or not (folder / USER_KEY).is_file():
            return None
        parts = [folder / USER_CERT, folder / USER_CHAIN, folder / USER_KEY]
        present = [p for p in parts if p.is_file()]
        chain = "".join(_pem_text(p) for p in present if p.name != USER_KEY)
        return cls(chain, _pem_text(folder / USER_KEY), tuple(p.stat().st_mtime for p in present))


def _user_folder(user_dir: Path | None, certificate_arn: str) -> Path | None:
    certificate_id = certificate_arn.rsplit("/", 1)[-1]
    if user_dir is None or not CERTIFICATE_ID.match(certificate_id):
        return None
    return Path(user_dir) / certificate_id


def _pem_text(path: Path) -> str:
    text = path.read_text()
    return text if text.endswith("\n") else text + "\n"


class Certificates:
    """The TLS context of every service with an HTTPS listener, built on first use and cached."""

    def __init__(self, ca: CertificateAuthority, user_dir: Path | None = None):
        self.ca = ca
        self.user_dir = Path(user_dir) if user_dir is not None else None
        self._contexts: dict[str, tuple[tuple, ssl.SSLContext]] = {}  # service id -> (what it was built from, it)

    def names_for(self, service: Service) -> tuple[str, ...]:
        """The names a CA-issued certificate of ``service`` carries (see the module docstring)."""
        if service.certificate_arn:
            return _normalise(service.names())
        return _normalise([service.dns_name])

    def context_for(self, service: Service) -> ssl.SSLContext:
        user = UserCertificate.find(self.user_dir, service.certificate_arn) if service.certificate_arn else None
        names = self.names_for(service)
        basis = (names, service.certificate_arn, user.stamp if user else None)
        cached = self._contexts.get(service.id)
        if cached is None or cached[0] != basis:
            cached = self._contexts[service.id] = (basis, self._build(names, user))
        return cached[1]

    def _build(self, names: tuple[str, ...], user: UserCertificate | None) -> ssl.SSLContext:
        context = server_context()
        cert_pem, key_pem = (user.cert_pem, user.key_pem) if user else self.ca.issue(names)
        load_chain(context, cert_pem, key_pem)
        return context

    def warm(self, services: Iterable[Service]) -> None:
        """Build contexts ahead of the first handshake (issuing a leaf takes a key generation)."""
        for service in services:
            if any(l.protocol == HTTPS for l in service.listeners.values()):
                self.context_for(service)

    def listener_context(self, lookup: Callable[[str | None], Service | None]) -> ssl.SSLContext:
        """The context of one listening socket: SNI picks the service (``lookup``), else the handshake fails."""
        context = server_context()
        context.sni_callback = self._sni_callback(lookup)
        return context

    def _sni_callback(self, lookup: Callable[[str | None], Service | None]):
        def choose(ssl_object, server_name: str | None, _context: ssl.SSLContext) -> int | None:
            service = lookup(server_name) if server_name else None
            if service is None:
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            try:
                ssl_object.context = self.context_for(service)
            except (OSError, ValueError) as exc:  # e.g. an unreadable or mismatched user certificate
                log.warning("no TLS certificate for %s (%s): %s", service.id, server_name, exc)
                return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
            ssl_object.lattice_sni = server_name  # the server side has no other record of it
            return None
        return choose


def server_name(ssl_object) -> str | None:
    """The SNI a client sent on a connection accepted with ``listener_context``."""
    return getattr(ssl_object, "lattice_sni", None)


def client_context(cafile_pem: str | None = None, alpn: Sequence[str] = ALPN) -> ssl.SSLContext:
    """A client context trusting ``cafile_pem`` (or nothing, without verification: for targets)."""
    if cafile_pem is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cadata=cafile_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(list(alpn))
    return context
